//! The models and inputs the forward benchmarks run: a bert-base-sized checkpoint with seeded
//! random weights (written once, so PyTorch and ONNX Runtime load the very same weights), the
//! real all-MiniLM-L6-v2, random token ids, and a corpus of mixed-length sentences.

use std::path::{Path, PathBuf};

use nanobert::bert::{BertConfig, BertModel, Init, ParamSource};
use nanobert::io::{Checkpoint, SaveTensor, save};
use nanobert::tensor::Rng;
use nanobert::{Error, Result, Tensor};

/// The seed of the random bert-base weights (fixed: every run and every tool sees the same).
pub const WEIGHTS_SEED: u64 = 8;
/// The seed of the benchmark corpus.
pub const CORPUS_SEED: u64 = 2024;

/// A [`ParamSource`] that remembers every tensor it hands out, to save them afterwards.
struct Recording<'a> {
    inner: &'a dyn ParamSource,
    seen: std::cell::RefCell<Vec<(String, Tensor)>>,
}

impl ParamSource for Recording<'_> {
    fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let t = self.inner.get_shaped(name, shape)?;
        self.seen.borrow_mut().push((name.to_string(), t.clone()));
        Ok(t)
    }
    fn contains(&self, name: &str) -> bool {
        self.inner.contains(name)
    }
}

/// Writes a checkpoint directory (`config.json`, `model.safetensors` with Hugging Face
/// `BertModel` names, and the tokenizer files of `tokenizer_from`, or a generated
/// `vocab.txt` if `None`) for `cfg` with N(0, 0.02²) weights from `seed`, LayerNorm weights 1
/// and biases 0 (Hugging Face's initialization). Does nothing if `dir` already holds a
/// checkpoint written with the same config and seed (`nanobert_bench.json` records them).
pub fn write_random_checkpoint(dir: &Path, cfg: &BertConfig, seed: u64, tokenizer_from: Option<&Path>) -> Result<()> {
    let stamp = serde_json::json!({ "seed": seed, "config": config_json(cfg) });
    let stamp_path = dir.join("nanobert_bench.json");
    if dir.join("model.safetensors").is_file()
        && std::fs::read_to_string(&stamp_path).ok().and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            == Some(stamp.clone())
    {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
    let init = Init { std: 0.02, seed };
    let rec = Recording { inner: &init, seen: Default::default() };
    BertModel::load(&rec, "bert.", cfg, true)?;
    let seen = rec.seen.into_inner();
    let tensors: Vec<(String, SaveTensor)> = seen
        .into_iter()
        .map(|(name, t)| (name.strip_prefix("bert.").unwrap_or(&name).to_string(), SaveTensor::F32(t)))
        .collect();
    let refs: Vec<(&str, SaveTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    save(&dir.join("model.safetensors"), &refs)?;
    let write = |name: &str, text: String| {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::file(&p, e))
    };
    write("config.json", serde_json::to_string_pretty(&config_json(cfg)).unwrap_or_default())?;
    match tokenizer_from {
        Some(src) => {
            for f in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"] {
                let from = src.join(f);
                if from.is_file() {
                    std::fs::copy(&from, dir.join(f)).map_err(|e| Error::file(&from, e))?;
                }
            }
        }
        None => write("vocab.txt", synthetic_vocab(cfg.vocab_size))?,
    }
    write("nanobert_bench.json", stamp.to_string())
}

/// `config.json` for `cfg`, loadable by `transformers.BertModel.from_pretrained`.
pub fn config_json(cfg: &BertConfig) -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": cfg.vocab_size,
        "hidden_size": cfg.hidden_size,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "intermediate_size": cfg.intermediate_size,
        "hidden_act": cfg.hidden_act,
        "hidden_dropout_prob": cfg.hidden_dropout_prob,
        "attention_probs_dropout_prob": cfg.attention_probs_dropout_prob,
        "max_position_embeddings": cfg.max_position_embeddings,
        "type_vocab_size": cfg.type_vocab_size,
        "layer_norm_eps": cfg.layer_norm_eps,
        "pad_token_id": cfg.pad_token_id.unwrap_or(0),
        "position_embedding_type": cfg.position_embedding_type,
    })
}

/// A WordPiece vocabulary of `size` entries: the BERT special tokens, then made-up words.
fn synthetic_vocab(size: usize) -> String {
    let mut v: Vec<String> = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].iter().map(|s| s.to_string()).collect();
    let letters = b"abcdefghijklmnopqrstuvwxyz";
    let mut i = 0usize;
    while v.len() < size.max(6) {
        let (a, b, c) = (i % 26, (i / 26) % 26, i / 676);
        v.push(format!("{}{}{}", letters[a] as char, letters[b] as char, "x".repeat(c + 1)));
        i += 1;
    }
    v.join("\n") + "\n"
}

/// A small config for smoke tests: 2 layers, hidden 32, 2 heads, vocabulary 200.
pub fn tiny_config() -> BertConfig {
    BertConfig {
        vocab_size: 200,
        hidden_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 64,
        max_position_embeddings: 512,
        ..BertConfig::bert_base_uncased()
    }
}

/// `batch x seq` token ids drawn from `seed` (ids 1000.. when the vocabulary is large enough,
/// past the special tokens), `[CLS]` = 101 first when the vocabulary has it.
pub fn random_ids(vocab: usize, batch: usize, seq: usize, seed: u64) -> Vec<u32> {
    let mut rng = Rng::new(seed);
    let lo = if vocab > 2000 { 1000 } else { 5.min(vocab.saturating_sub(1)) };
    let span = (vocab - lo).max(1) as u64;
    let mut ids: Vec<u32> = (0..batch * seq).map(|_| (lo as u64 + rng.next_u64() % span) as u32).collect();
    if vocab > 101 && seq > 0 {
        ids.iter_mut().step_by(seq).for_each(|i| *i = 101);
    }
    ids
}

/// `n` sentences for the corpus benchmark, from `seed`: lengths spread over 5-128 tokens
/// (half short, 5-32; a third medium, 32-64; the rest long, 64-128: roughly the mix of
/// search queries, sentences and short paragraphs), made of whole lowercase words taken from
/// the checkpoint's vocabulary (each one token), so the tokenizer gives about the length
/// drawn. Deterministic: the same seed and vocabulary give the same corpus everywhere.
pub fn corpus(vocab_txt: &Path, n: usize, seed: u64) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(vocab_txt).map_err(|e| Error::file(vocab_txt, e))?;
    let words: Vec<&str> = text.lines().filter(|w| w.len() >= 2 && w.chars().all(|c| c.is_ascii_lowercase())).collect();
    if words.len() < 10 {
        return Err(Error::file(vocab_txt, "fewer than 10 plain words: cannot build a benchmark corpus"));
    }
    let mut rng = Rng::new(seed);
    let mut pick = |lo: usize, hi: usize| lo + (rng.next_u64() as usize) % (hi - lo + 1);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let tokens = match i % 6 {
            0..=2 => pick(5, 32),
            3 | 4 => pick(33, 64),
            _ => pick(65, 128),
        };
        // [CLS] words... [SEP]
        let n_words = tokens.saturating_sub(2).max(1);
        let sentence: Vec<&str> = (0..n_words).map(|_| words[pick(0, words.len() - 1)]).collect();
        out.push(sentence.join(" "));
    }
    // Shuffle so lengths are mixed within every batch, as real traffic is.
    for i in (1..out.len()).rev() {
        let j = pick(0, i);
        out.swap(i, j);
    }
    Ok(out)
}

/// Where `nanobert bench` keeps the bert-base checkpoint with random weights.
pub fn bert_base_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("bert-base-random")
}

/// The bert-base-uncased-sized checkpoint with seeded random weights, written under
/// `out_dir` on first use (about 440 MB; tokenizer files from `tokenizer_from`).
pub fn ensure_bert_base(out_dir: &Path, tokenizer_from: Option<&Path>) -> Result<Checkpoint> {
    let dir = bert_base_dir(out_dir);
    write_random_checkpoint(&dir, &BertConfig::bert_base_uncased(), WEIGHTS_SEED, tokenizer_from)?;
    Checkpoint::open(&dir)
}
