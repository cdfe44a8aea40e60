//! # Sentence embeddings
//!
//! [`Embedder`]: BERT, then the modules of a sentence-transformers model (Pooling, Dense,
//! Normalize), with its prompts, `truncate_dim` and similarity function; and the batching
//! plan that groups many texts of different lengths into padded batches (docs/batching.md).

use super::{BATCH_SIZE, check_texts, input, max_len};
use crate::bert::sentence::SentenceHead;
use crate::bert::{BertConfig, BertModel};
use crate::io::sentence_transformers::SimilarityFn;
use crate::io::{Checkpoint, SentenceTransformersConfig};
use crate::text::{Batch, Tokenizer};
use crate::{Error, Result};

/// How [`Embedder::embed`] groups many texts into batches (docs/batching.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Batching {
    /// Sort by token count, batch neighbours, restore the input order (the default): each
    /// batch is padded only to its own longest text, which is close to all of them.
    #[default]
    Bucketed,
    /// Batches of [`BATCH_SIZE`] in input order, each padded to its longest text.
    InputOrder,
    /// One text per forward pass (no padding at all, but no batching either).
    OneByOne,
}

/// Sentence embeddings: BERT, then the modules of the sentence-transformers model
/// (Pooling, Dense, Normalize, in `modules.json` order), with its prompts and settings.
pub struct Embedder {
    /// The transformer.
    pub model: BertModel,
    /// The checkpoint's tokenizer (lowercasing first when `sentence_bert_config.json` says so).
    pub tokenizer: Tokenizer,
    /// What runs after the transformer.
    pub head: SentenceHead,
    /// The sentence-transformers settings (prompts), when the checkpoint is such a model.
    pub sentence_transformers: Option<SentenceTransformersConfig>,
    /// How texts are grouped into batches (length bucketing by default).
    pub batching: Batching,
}

impl Embedder {
    /// Builds an embedder from a checkpoint. A sentence-transformers directory runs its
    /// modules; a plain BERT checkpoint gets mean pooling without normalization. Errors name
    /// any module or setting that cannot be honoured.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Embedder> {
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        let mut tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
        let head = match &ckpt.sentence_transformers {
            Some(st) if st.model_type == crate::io::StModelType::CrossEncoder => {
                return Err(Error::file(
                    ckpt.dir.join("config_sentence_transformers.json"),
                    "this is a sentence-transformers CrossEncoder (model_type), which scores pairs and has no \
                     sentence embedding: use `rerank` (pipeline::Reranker) or `classify --pairs`",
                ));
            }
            Some(st) => {
                if st.do_lower_case {
                    tokenizer.prepend_lowercase();
                }
                SentenceHead::from_config(st)?
            }
            None => SentenceHead::mean(),
        };
        Ok(Embedder {
            model,
            tokenizer,
            head,
            sentence_transformers: ckpt.sentence_transformers.clone(),
            batching: Batching::default(),
        })
    }

    /// One vector per text, in the order of `texts`, with the default prompt if the model has one.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed_with_prompt(texts, None)
    }

    /// The prompt text for `prompt_name` (`None`: the model's default prompt, if any); an
    /// unknown name is an error listing the known ones.
    pub fn prompt(&self, prompt_name: Option<&str>) -> Result<Option<&str>> {
        match &self.sentence_transformers {
            Some(st) => st.prompt(prompt_name),
            None => match prompt_name {
                Some(n) => Err(Error::Input(format!(
                    "prompt `{n}` asked for, but this is not a sentence-transformers model (no prompts)"
                ))),
                None => Ok(None),
            },
        }
    }

    /// One vector per text, each text prefixed by the prompt called `prompt_name` from
    /// `config_sentence_transformers.json` (`None`: the default prompt). With
    /// `include_prompt: false` the prompt's tokens are left out of the pooling.
    ///
    /// With [`Batching::Bucketed`] (the default) the texts are tokenized once, sorted by
    /// token count, cut into batches of [`BATCH_SIZE`] neighbours (each padded to its own
    /// longest), and the vectors put back in input order: a batch of similar lengths wastes
    /// almost nothing on padding.
    pub fn embed_with_prompt(&self, texts: &[&str], prompt_name: Option<&str>) -> Result<Vec<Vec<f32>>> {
        let prompt = self.prompt(prompt_name)?;
        self.embed_prompt_text(texts, prompt, BATCH_SIZE)
    }

    /// [`Embedder::embed_with_prompt`] with the prompt given as text (`None` or `""`: no prompt,
    /// not even the default one) and batches of at most `batch_size` texts (0 counts as 1), as
    /// sentence-transformers' `encode(prompt=..., batch_size=...)`. The Python bindings call this.
    pub fn embed_prompt_text(&self, texts: &[&str], prompt: Option<&str>, batch_size: usize) -> Result<Vec<Vec<f32>>> {
        check_texts(&self.tokenizer, texts)?;
        let prompt = prompt.filter(|p| !p.is_empty());
        let prompted: Vec<String> = texts.iter().map(|t| format!("{}{t}", prompt.unwrap_or(""))).collect();
        let prompted: Vec<&str> = prompted.iter().map(String::as_str).collect();
        let prompt_length = match prompt {
            Some(p) if self.head.excludes_prompt() => Some(self.prompt_length(p)?),
            _ => None,
        };
        let all = self.tokenizer.encode_batch(&prompted)?;
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
        for group in batch_plan(&all.lengths(), self.batching, batch_size) {
            let batch = sub_batch(&all, &group);
            for (&i, v) in group.iter().zip(self.embed_batch(&batch, prompt_length)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// Tokens of the prompt alone, `[CLS]` included and the final `[SEP]` not (what
    /// sentence-transformers masks out with `include_prompt: false`).
    fn prompt_length(&self, prompt: &str) -> Result<usize> {
        let b = self.tokenizer.encode_batch(&[prompt])?;
        Ok(b.lengths()[0].saturating_sub(1))
    }

    /// Width of the vectors [`Embedder::embed`] returns.
    pub fn dimension(&self) -> Result<usize> {
        Ok(self.embed(&["a"])?.first().map_or(0, Vec::len))
    }

    /// The sentence vectors (after every sentence-transformers module) of one padded batch.
    pub fn embed_batch(&self, batch: &Batch, prompt_length: Option<usize>) -> Result<Vec<Vec<f32>>> {
        let hidden = self.model.forward(&input(batch)?, false)?.last_hidden_state;
        let mut out = self.head.forward(&hidden, &batch.attention_mask, prompt_length)?;
        // `truncate_dim` (Matryoshka models): after every module, as sentence-transformers'
        // `encode` cuts them, so a Normalize module's unit length is not kept.
        if let Some(d) = self.sentence_transformers.as_ref().and_then(|s| s.truncate_dim) {
            out.iter_mut().for_each(|v| v.truncate(d));
        }
        Ok(out)
    }
}

/// Which texts go through the model together: groups of indices into `lengths` (token counts
/// per text, `[CLS]` and `[SEP]` included), each group one padded batch of at most `size`
/// texts (`size` 0 counts as 1). [`Batching::Bucketed`]: neighbours in [`bucket_order`];
/// [`Batching::InputOrder`]: consecutive texts; [`Batching::OneByOne`]: one text per group.
/// Every index appears exactly once. [`Embedder::embed`] runs this plan; `nanobert bench
/// batching` counts its padding.
pub fn batch_plan(lengths: &[usize], batching: Batching, size: usize) -> Vec<Vec<usize>> {
    let size = if batching == Batching::OneByOne { 1 } else { size.max(1) };
    let order: Vec<usize> =
        if batching == Batching::Bucketed { bucket_order(lengths) } else { (0..lengths.len()).collect() };
    order.chunks(size).map(<[usize]>::to_vec).collect()
}

/// What one more model call costs beside its padded tokens, in padded tokens: the fixed part
/// of a forward pass (one pass per layer over the weights, the threads' fork and join), which
/// [`token_budget_plan`] weighs against the padding a split saves. Roughly the bare forward of
/// one short text over the per-token cost of a large batch (all-MiniLM-L6-v2 on a Zen 4: about
/// 4.5 ms against 0.12 ms per token at 270 texts/s of ~30 tokens).
pub const CALL_COST_TOKENS: usize = 32;

/// Length bucketing by a token budget instead of a text count (the server's batches): the
/// texts in [`bucket_order`], cut into consecutive groups of at most `max_tokens` *padded*
/// tokens each (rows x the longest row of the group; a text longer than the budget gets a
/// group of its own), choosing the cuts that compute the fewest padded tokens plus
/// [`CALL_COST_TOKENS`] per group (dynamic programming over the sorted lengths). Many short
/// texts and a few long ones thus become two calls instead of one padded to the longest.
/// Every index appears exactly once.
pub fn token_budget_plan(lengths: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let order = bucket_order(lengths);
    let n = order.len();
    let len = |k: usize| lengths[order[k]].max(1);
    // best[j]: cheapest plan of the first j sorted texts; cut[j]: where its last group starts.
    let (mut best, mut cut) = (vec![usize::MAX; n + 1], vec![0; n + 1]);
    best[0] = 0;
    for j in 1..=n {
        let longest = len(j - 1); // sorted: the last text of a group is its longest
        for i in (0..j).rev() {
            let rows = j - i;
            if rows > 1 && rows * longest > max_tokens {
                break;
            }
            let cost = best[i].saturating_add(rows * longest + CALL_COST_TOKENS);
            if cost < best[j] {
                (best[j], cut[j]) = (cost, i);
            }
        }
    }
    let mut groups = Vec::new();
    let mut j = n;
    while j > 0 {
        groups.push(order[cut[j]..j].to_vec());
        j = cut[j];
    }
    groups.reverse();
    groups
}

/// Indices of the texts sorted by length (stable: equal lengths keep input order).
pub fn bucket_order(lengths: &[usize]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    order
}

/// Rows `rows` of a padded batch, as a batch padded only to the longest of them.
pub fn sub_batch(all: &Batch, rows: &[usize]) -> Batch {
    let lengths = all.lengths();
    let s = rows.iter().map(|&i| lengths[i]).max().unwrap_or(0).max(1).min(all.seq_len);
    let take = |v: &[u32]| -> Vec<u32> {
        rows.iter().flat_map(|&i| v[i * all.seq_len..i * all.seq_len + s].iter().copied()).collect()
    };
    Batch {
        input_ids: take(&all.input_ids),
        attention_mask: take(&all.attention_mask),
        token_type_ids: take(&all.token_type_ids),
        batch: rows.len(),
        seq_len: s,
        tokens: rows.iter().map(|&i| all.tokens[i].iter().take(s).cloned().collect()).collect(),
    }
}

impl Embedder {
    /// How this model compares embeddings: `similarity_fn_name` of a sentence-transformers
    /// model, cosine otherwise.
    pub fn similarity_fn(&self) -> SimilarityFn {
        self.sentence_transformers.as_ref().map_or(SimilarityFn::Cosine, |s| s.similarity_fn)
    }

    /// Ranks `docs` by similarity to `query` (the model's [`Embedder::similarity_fn`], as
    /// sentence-transformers' `model.similarity`), most similar first: `(score, index in docs)`.
    pub fn rank(&self, query: &str, docs: &[&str]) -> Result<Vec<(f32, usize)>> {
        let mut texts = vec![query];
        texts.extend_from_slice(docs);
        let v = self.embed(&texts)?;
        let f = self.similarity_fn();
        let mut ranked: Vec<(f32, usize)> = (0..docs.len()).map(|i| (f.score(&v[0], &v[i + 1]), i)).collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        Ok(ranked)
    }
}
