//! # Pipelines: text in, answers out
//!
//! The top of the stack: a checkpoint directory ([`crate::io`]), a tokenizer
//! ([`crate::text`]) and a model ([`crate::bert`]) put together for the two jobs people
//! run BERT for on a CPU — sentence embeddings and fill-mask.

use crate::bert::sentence::SentenceHead;
use crate::bert::{BertConfig, BertForMaskedLM, BertInput, BertModel};
use crate::io::sentence_transformers::SimilarityFn;
use crate::io::{Checkpoint, SentenceTransformersConfig};
use crate::nn::Module;
use crate::text::{Batch, Tokenizer};
use crate::{Error, Result, Tensor};

mod builder;
mod qa;
mod tasks;
pub use builder::{Builder, Pipeline};
pub use qa::{Answer, QaOptions, QuestionAnswerer};
pub use tasks::{
    Classification, Classifier, Entity, LabelScore, Ranked, Reranker, ScoreFunction, TokenClassifier, TokenPrediction,
    cross_encoder_activation,
};

/// How many texts go through the model at once (bounds memory on long inputs).
pub const BATCH_SIZE: usize = 32;

/// The longest input the checkpoint accepts, in tokens: sentence-transformers'
/// `max_seq_length` when present (it overrides the tokenizer's limit, as in
/// sentence-transformers), else `tokenizer_config.json`'s `model_max_length`; never more than
/// `max_position_embeddings`.
pub fn max_len(ckpt: &Checkpoint, cfg: &BertConfig) -> usize {
    let st = ckpt.sentence_transformers.as_ref().and_then(|s| s.max_seq_length);
    st.or(ckpt.tokenizer_config.model_max_length)
        .unwrap_or(cfg.max_position_embeddings)
        .min(cfg.max_position_embeddings)
}

/// The model input of a tokenized batch (ids, attention mask, token type ids).
pub fn input(batch: &Batch) -> Result<BertInput<'_>> {
    BertInput::new(
        &batch.input_ids,
        Some(&batch.attention_mask),
        Some(&batch.token_type_ids),
        batch.batch,
        batch.seq_len,
    )
}

/// At most this many characters of a text are quoted in an error message.
pub const QUOTE_CHARS: usize = 40;

/// A text as quoted in messages: on one line, at most [`QUOTE_CHARS`] characters, with the
/// full length when cut (`"The capital of France is the ci…" (1234 chars)`).
pub fn quote(text: &str) -> String {
    let n = text.chars().count();
    let head: String = one_line(&text.chars().take(QUOTE_CHARS).collect::<String>());
    if n > QUOTE_CHARS { format!("\"{head}…\" ({n} chars)") } else { format!("\"{head}\"") }
}

/// A text on one line for text output: newlines, carriage returns and tabs shown as `\n`, `\r`,
/// `\t`, so every result stays one line.
pub fn one_line(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

/// What truncation did to a list of texts: how many were longer than the model's limit and how
/// many tokens were dropped in total.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Truncation {
    /// Texts longer than the limit.
    pub texts: usize,
    /// Tokens dropped, summed over those texts.
    pub tokens: usize,
    /// The limit in tokens, `[CLS]` and `[SEP]` included.
    pub max_len: usize,
}

impl Truncation {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: Truncation) {
        self.texts += other.texts;
        self.tokens += other.tokens;
        self.max_len = other.max_len;
    }

    /// The one warning line, or `None` when nothing was truncated.
    pub fn warning(&self) -> Option<String> {
        (self.texts > 0).then(|| {
            format!(
                "warning: {} text{} longer than the model's limit of {} tokens: truncated, {} token{} dropped",
                self.texts,
                if self.texts == 1 { " was" } else { "s were" },
                self.max_len,
                self.tokens,
                if self.tokens == 1 { "" } else { "s" }
            )
        })
    }
}

/// The one rule for input texts, used by every pipeline: at least one text, and no text *empty*
/// — a text is empty when it yields no tokens after normalization (`""`, spaces, control or
/// zero-width characters). Errors number texts from 1 (`first` is the number of `texts[0]`)
/// and quote at most a short prefix. Returns what truncation will drop.
pub fn check_texts_numbered(tokenizer: &Tokenizer, texts: &[&str], first: usize) -> Result<Truncation> {
    if texts.is_empty() {
        return Err(Error::Input("no text given".into()));
    }
    let room = tokenizer.max_len().saturating_sub(2); // [CLS] ... [SEP]
    let mut t = Truncation { max_len: tokenizer.max_len(), ..Truncation::default() };
    for (i, text) in texts.iter().enumerate() {
        let n = tokenizer.count_tokens(text)?;
        if n == 0 {
            return Err(Error::Input(format!(
                "text #{} is empty (no tokens after normalization): {}",
                first + i,
                quote(text)
            )));
        }
        if n > room {
            t.texts += 1;
            t.tokens += n - room;
        }
    }
    Ok(t)
}

fn check_texts(tokenizer: &Tokenizer, texts: &[&str]) -> Result<Truncation> {
    check_texts_numbered(tokenizer, texts, 1)
}

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

/// One candidate for a masked position.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Candidate {
    /// The word piece, as the vocabulary spells it (`##` marks a continuation).
    pub token: String,
    /// Its vocabulary id.
    pub id: u32,
    /// Softmax probability over the vocabulary.
    pub score: f32,
}

/// The candidates for one `[MASK]`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MaskPrediction {
    /// Index of the `[MASK]` token in the encoded sequence (`[CLS]` is 0).
    pub position: usize,
    /// The `top_k` candidates, most probable first.
    pub top: Vec<Candidate>,
}

/// Fill-mask results for one text.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FillMaskResult {
    /// The input text.
    pub text: String,
    /// One entry per `[MASK]`, in order.
    pub masks: Vec<MaskPrediction>,
}

/// Fill-mask: which words fit where `[MASK]` stands.
pub struct FillMask {
    /// Encoder and masked-language-model head.
    pub model: BertForMaskedLM,
    /// Text → ids; must know `[MASK]`.
    pub tokenizer: Tokenizer,
}

impl FillMask {
    /// Needs a checkpoint with a masked-language-model head (`cls.predictions.*`).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<FillMask> {
        if !ckpt.weights.contains("cls.predictions.transform.dense.weight") {
            return Err(Error::Input(format!(
                "{} has no masked-language-model head (cls.predictions.*): fill-mask needs a BertForMaskedLM \
                 checkpoint such as bert-base-uncased",
                ckpt.dir.display()
            )));
        }
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let model = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        let tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
        Ok(FillMask { model, tokenizer })
    }

    /// Top-`k` candidates for every `[MASK]` of every text.
    pub fn predict(&self, texts: &[&str], top_k: usize) -> Result<Vec<FillMaskResult>> {
        self.predict_numbered(texts, top_k, 1)
    }

    /// [`FillMask::predict`], numbering texts from `first` in error messages (for callers that
    /// stream many texts in slices).
    pub fn predict_numbered(&self, texts: &[&str], top_k: usize, first: usize) -> Result<Vec<FillMaskResult>> {
        if top_k == 0 {
            return Err(Error::Input("top_k must be at least 1".into()));
        }
        check_texts_numbered(&self.tokenizer, texts, first)?;
        let mask_id =
            self.tokenizer.mask_token_id().ok_or_else(|| Error::Input("this tokenizer has no [MASK] token".into()))?;
        let mut results = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH_SIZE) {
            let batch = self.tokenizer.encode_batch(chunk)?;
            let s = batch.seq_len;
            let positions: Vec<(usize, usize)> =
                (0..batch.batch * s).filter(|&i| batch.input_ids[i] == mask_id).map(|i| (i / s, i % s)).collect();
            for (bi, text) in chunk.iter().enumerate() {
                if !positions.iter().any(|&(b, _)| b == bi) {
                    let number = first + results.len() + bi;
                    let n = self.tokenizer.count_tokens(text)? + 2;
                    return Err(Error::Input(if n > self.tokenizer.max_len() && text.contains("[MASK]") {
                        format!(
                            "text #{number}: its [MASK] was lost to truncation (the text is {n} tokens, the model \
                             keeps the first {}): {}",
                            self.tokenizer.max_len(),
                            quote(text)
                        )
                    } else {
                        format!("no [MASK] token in text #{number}: {}", quote(text))
                    }));
                }
            }
            let hidden = self.model.bert.forward(&input(&batch)?, false)?.last_hidden_state;
            let logits = self.model.logits_at(&hidden, &positions)?;
            let probs = crate::ops::softmax(&logits, None)?;
            let probs = probs.as_slice().unwrap_or(&[]);
            let vocab = logits.shape()[1];
            let mut per_text: Vec<Vec<MaskPrediction>> = (0..chunk.len()).map(|_| Vec::new()).collect();
            for (row, &(b, pos)) in positions.iter().enumerate() {
                let top = top_candidates(&self.tokenizer, &probs[row * vocab..(row + 1) * vocab], top_k);
                per_text[b].push(MaskPrediction { position: pos, top });
            }
            for (text, masks) in chunk.iter().zip(per_text) {
                results.push(FillMaskResult { text: text.to_string(), masks });
            }
        }
        Ok(results)
    }
}

/// The `top_k` most probable tokens of one `[MASK]`'s probabilities over the vocabulary
/// (`probs[id]`), most probable first, each with its word piece (`[id]` if the vocabulary has
/// none). Shared by [`FillMask`] and the server's `/fill-mask`.
pub fn top_candidates(tokenizer: &Tokenizer, probs: &[f32], top_k: usize) -> Vec<Candidate> {
    top_k_indices(probs, top_k)
        .into_iter()
        .map(|id| Candidate {
            token: tokenizer.id_to_token(id as u32).unwrap_or_else(|| format!("[{id}]")),
            id: id as u32,
            score: probs[id],
        })
        .collect()
}

/// Indices of the `k` largest values, largest first (ties: lower index first).
pub fn top_k_indices(values: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..values.len()).collect();
    let k = k.min(values.len());
    if k == 0 {
        return Vec::new();
    }
    let cmp = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    idx.select_nth_unstable_by(k - 1, cmp);
    idx.truncate(k);
    idx.sort_by(cmp);
    idx
}

/// The module tree and parameter count of whatever model a checkpoint holds: the MLM
/// model when it has a head, the bare encoder otherwise.
pub fn describe(ckpt: &Checkpoint) -> Result<(String, usize)> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    if let Some(d) = tasks::describe_head(ckpt, &cfg)? {
        return Ok(d);
    }
    if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        let m = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        Ok((m.repr(), crate::nn::count_parameters(&m)))
    } else {
        let m = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        Ok((m.repr(), crate::nn::count_parameters(&m)))
    }
}

/// The Linear precisions `--precision p` gives a model: every Linear in `p`; for int8 also
/// SmoothQuant factors (α = [`crate::quant::SMOOTH_ALPHA`]) calibrated on the built-in
/// calibration text ([`crate::quant::CALIBRATION`], run through `bert` with `tokenizer`), and
/// the value projections in bf16 ([`crate::quant::INT8_KEEP_BF16`]).
/// `root` is the module that will be converted (`bert` itself, or a model holding it).
pub fn precision_plan(
    root: &dyn Module,
    bert: &BertModel,
    tokenizer: &Tokenizer,
    p: crate::quant::Precision,
) -> Result<crate::quant::PrecisionPlan> {
    use crate::nn::{calibrate, linears};
    use crate::quant::{PrecisionPlan, SMOOTH_ALPHA, smooth_factors};
    let mut plan = PrecisionPlan::uniform(p);
    if p == crate::quant::Precision::Int8 {
        plan.overrides =
            crate::quant::INT8_KEEP_BF16.iter().map(|pat| (pat.to_string(), crate::quant::Precision::Bf16)).collect();
        let texts = calibration_texts(bert, tokenizer)?;
        let maxima = calibrate(root, || {
            for chunk in texts.chunks(BATCH_SIZE) {
                bert.forward(&input(&tokenizer.encode_batch(chunk)?)?, false)?;
            }
            Ok(())
        })?;
        for (path, l) in linears(root) {
            if let (Some(m), Some(w)) = (maxima.get(&path), l.weight.as_slice()) {
                plan.smooth.insert(path, smooth_factors(w, l.in_features(), m, SMOOTH_ALPHA));
            }
        }
    }
    Ok(plan)
}

/// The lines of [`crate::quant::CALIBRATION`] the model can read: a line holding a token id
/// past the embedding table (a tokenizer larger than the model's `vocab_size`, as in some
/// small test checkpoints) is left out rather than failing the whole conversion; none left is
/// an error.
fn calibration_texts(bert: &BertModel, tokenizer: &Tokenizer) -> Result<Vec<&'static str>> {
    let vocab = bert.config.vocab_size;
    let mut texts = Vec::new();
    for line in crate::quant::CALIBRATION.lines().filter(|l| !l.trim().is_empty()) {
        if tokenizer.encode_batch(&[line])?.input_ids.iter().all(|&id| (id as usize) < vocab) {
            texts.push(line);
        }
    }
    if texts.is_empty() {
        return Err(Error::Input(format!(
            "int8 calibration: every line of the built-in calibration text has a token id past the model's \
             vocab_size {vocab}: the tokenizer does not match the model"
        )));
    }
    Ok(texts)
}

/// The memory the Linear layers' weights take in each precision, one line for `nanobert
/// print` (e.g. `Linear weights in memory: f32 90.3 MB, f16 45.2 MB, bf16 45.2 MB, int8 22.7 MB`).
pub fn weight_bytes_line(ckpt: &Checkpoint) -> Result<String> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let sizes = if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        crate::nn::bytes_by_precision(&BertForMaskedLM::load(&ckpt.weights, &cfg)?)
    } else {
        crate::nn::bytes_by_precision(&BertModel::load(&ckpt.weights, "bert.", &cfg, true)?)
    };
    let parts: Vec<String> = sizes.iter().map(|(p, b)| format!("{p} {:.1} MB", *b as f64 / 1e6)).collect();
    Ok(format!("Linear weights in memory (--precision): {}", parts.join(", ")))
}

/// Everything `nanobert forward` writes: ids, mask, last hidden state and (for MLM
/// checkpoints) logits.
pub struct ForwardOutputs {
    /// The tokenized batch (ids, mask, token types), `[batch, seq]`.
    pub batch: Batch,
    /// `[batch, seq, hidden]`.
    pub last_hidden_state: Tensor,
    /// `[batch, seq, vocab]` when the checkpoint has an MLM head.
    pub logits: Option<Tensor>,
}

/// Runs the whole model on `texts` as one padded batch.
pub fn forward(ckpt: &Checkpoint, texts: &[&str]) -> Result<ForwardOutputs> {
    forward_at(ckpt, texts, crate::quant::Precision::F32, crate::bert::Fusion::all())
}

/// [`forward`] with the Linear weights in `precision` and the given fusions
/// (`nanobert forward --precision P --no-fuse NAME`).
pub fn forward_at(
    ckpt: &Checkpoint,
    texts: &[&str],
    precision: crate::quant::Precision,
    fusion: crate::bert::Fusion,
) -> Result<ForwardOutputs> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
    check_texts(&tokenizer, texts)?;
    let batch = tokenizer.encode_batch(texts)?;
    let (last_hidden_state, logits) = if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        let mut m = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        m.bert.fusion = fusion;
        let plan = precision_plan(&m, &m.bert, &tokenizer, precision)?;
        crate::nn::to_precision(&mut m, &plan)?;
        let h = m.bert.forward(&input(&batch)?, false)?.last_hidden_state;
        let logits = m.cls.predictions.forward(&h)?;
        (h, Some(logits))
    } else {
        let mut m = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        m.fusion = fusion;
        let plan = precision_plan(&m, &m, &tokenizer, precision)?;
        crate::nn::to_precision(&mut m, &plan)?;
        (m.forward(&input(&batch)?, false)?.last_hidden_state, None)
    };
    Ok(ForwardOutputs { batch, last_hidden_state, logits })
}

impl ForwardOutputs {
    /// Writes `input_ids`, `attention_mask` (i64 `[batch, seq]`), `last_hidden_state` and,
    /// when present, `logits` (f32) to a safetensors file, for comparing with PyTorch.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        use crate::io::{SaveTensor, save};
        let shape = [self.batch.batch, self.batch.seq_len];
        let mut tensors = vec![
            ("input_ids", SaveTensor::i64_from(&self.batch.input_ids, &shape)),
            ("attention_mask", SaveTensor::i64_from(&self.batch.attention_mask, &shape)),
            ("last_hidden_state", SaveTensor::F32(self.last_hidden_state.clone())),
        ];
        if let Some(l) = &self.logits {
            tensors.push(("logits", SaveTensor::F32(l.clone())));
        }
        save(path, &tensors)
    }
}
