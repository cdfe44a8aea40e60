//! # The fine-tuned heads as pipelines: classify, rerank, tag entities, answer questions
//!
//! Each pipeline opens a checkpoint whose `config.json` names the architecture
//! (`"architectures": ["BertForSequenceClassification"]`, ...), tokenizes, runs the head and
//! turns logits into what transformers' / sentence-transformers' pipelines return:
//!
//! | type | checkpoint | call | like |
//! |---|---|---|---|
//! | [`Classifier`] | `BertForSequenceClassification` | `predict(&["text"])`, `predict_pairs(&[(a, b)])` | transformers `text-classification` (softmax, or sigmoid for one label / multi-label, none for regression) |
//! | [`Reranker`] | `BertForSequenceClassification` with one label (a cross-encoder) | `rerank(query, &docs)` | sentence-transformers `CrossEncoder.rank` (sigmoid by default) |
//! | [`TokenClassifier`] | `BertForTokenClassification` | `predict(text)` / `predict_tokens(text)` | transformers `token-classification`, aggregation `simple` / `none` |
//! | [`QuestionAnswerer`](super::QuestionAnswerer) | `BertForQuestionAnswering` | `answers(question, context, &options)` | transformers 4's `question-answering` (strided windows, whole words, merged duplicates; `super::qa`) |
//!
//! Pairs are encoded `[CLS] A [SEP] B [SEP]` with token type ids 0 then 1. Classification,
//! reranking and token classification truncate inputs longer than the model's limit (longest
//! first); a classification or a ranked document says how many tokens were cut
//! (`truncated_tokens`), and the commands warn on stderr. Question answering reads long contexts
//! in strided windows instead.

use serde::Serialize;

use super::{BATCH_SIZE, check_texts, input, max_len};
use crate::bert::BertConfig;
use crate::bert::heads::{
    BertForQuestionAnswering, BertForSequenceClassification, BertForTokenClassification, HeadConfig,
};
use crate::io::Checkpoint;
use crate::text::Tokenizer;
use crate::{Error, Result};

/// Checks `architectures` (when present) names `class`, and returns the BERT and head configs.
pub(super) fn open_head(ckpt: &Checkpoint, class: &str, command: &str) -> Result<(BertConfig, HeadConfig, Tokenizer)> {
    if let Some(arch) = ckpt.architecture()
        && arch != class
    {
        return Err(Error::Input(format!(
            "{command} needs a {class} checkpoint, but {} is a {arch} (config.json `architectures`)",
            ckpt.dir.display()
        )));
    }
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let head = HeadConfig::from_json(&ckpt.config_json, &cfg)?;
    let tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
    Ok((cfg, head, tokenizer))
}

fn softmax(v: &[f32]) -> Vec<f32> {
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = v.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|x| x / s).collect()
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// How logits become scores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScoreFunction {
    /// Probabilities over labels that sum to 1.
    Softmax,
    /// An independent probability per label.
    Sigmoid,
    /// The raw logits (regression).
    None,
}

impl ScoreFunction {
    /// The function transformers' text-classification pipeline applies for `head`: none for
    /// `regression`, sigmoid for `multi_label_classification` or one label, else softmax.
    pub fn for_head(head: &HeadConfig) -> ScoreFunction {
        match head.problem_type.as_deref() {
            Some("regression") => ScoreFunction::None,
            Some("multi_label_classification") => ScoreFunction::Sigmoid,
            _ if head.num_labels() == 1 => ScoreFunction::Sigmoid,
            _ => ScoreFunction::Softmax,
        }
    }

    /// Scores from one input's logits (`[num_labels]`).
    pub fn apply(self, logits: &[f32]) -> Vec<f32> {
        match self {
            ScoreFunction::Softmax => softmax(logits),
            ScoreFunction::Sigmoid => logits.iter().map(|&x| sigmoid(x)).collect(),
            ScoreFunction::None => logits.to_vec(),
        }
    }
}

/// One label with its score.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelScore {
    /// `id2label` name.
    pub label: String,
    /// Probability (softmax / sigmoid) or raw value (regression).
    pub score: f32,
}

/// The classification of one text or pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Classification {
    /// The text (the first text of a pair).
    pub text: String,
    /// The second text of a pair.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair: Option<String>,
    /// Every label, best first.
    pub labels: Vec<LabelScore>,
    /// The raw logits, in label id order.
    pub logits: Vec<f32>,
    /// Tokens cut because the text (or pair, longest first) was longer than the model's
    /// limit; omitted from JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub truncated_tokens: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Text classification with a `BertForSequenceClassification` checkpoint.
pub struct Classifier {
    /// The model.
    pub model: BertForSequenceClassification,
    /// The checkpoint's tokenizer.
    pub tokenizer: Tokenizer,
}

impl Classifier {
    /// Opens a `BertForSequenceClassification` checkpoint (errors name another architecture).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Classifier> {
        let (cfg, head, tokenizer) = open_head(ckpt, "BertForSequenceClassification", "classify")?;
        Ok(Classifier { model: BertForSequenceClassification::load(&ckpt.weights, &cfg, head)?, tokenizer })
    }

    /// The function transformers' text-classification pipeline applies: none for
    /// `regression`, sigmoid for `multi_label_classification` or one label, else softmax.
    pub fn score_function(&self) -> ScoreFunction {
        ScoreFunction::for_head(&self.model.head)
    }

    /// Raw logits `[n][num_labels]` for single texts (`pair = None`) or pairs.
    pub fn logits(&self, inputs: &[(&str, Option<&str>)]) -> Result<Vec<Vec<f32>>> {
        if inputs.is_empty() {
            return Err(Error::Input("no text given".into()));
        }
        let firsts: Vec<&str> = inputs.iter().map(|(a, _)| *a).collect();
        check_texts(&self.tokenizer, &firsts)?;
        let n = self.model.head.num_labels();
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in inputs.chunks(BATCH_SIZE) {
            let batch = self.tokenizer.encode_mixed(chunk)?;
            let logits = self.model.forward(&input(&batch)?)?.contiguous();
            out.extend(logits.as_slice().unwrap_or(&[]).chunks(n).map(<[f32]>::to_vec));
        }
        Ok(out)
    }

    fn classify(&self, inputs: &[(&str, Option<&str>)]) -> Result<Vec<Classification>> {
        let f = self.score_function();
        let logits = self.logits(inputs)?;
        let cut = inputs.iter().map(|&(a, b)| self.tokenizer.dropped_tokens(a, b)).collect::<Result<Vec<_>>>()?;
        Ok(inputs
            .iter()
            .zip(logits)
            .zip(cut)
            .map(|(((a, b), l), truncated_tokens)| {
                let scores = f.apply(&l);
                let mut labels: Vec<LabelScore> = scores
                    .iter()
                    .zip(&self.model.head.id2label)
                    .map(|(&score, label)| LabelScore { label: label.clone(), score })
                    .collect();
                labels.sort_by(|x, y| y.score.total_cmp(&x.score));
                Classification { text: a.to_string(), pair: b.map(String::from), labels, logits: l, truncated_tokens }
            })
            .collect())
    }

    /// Classifies each text; labels best first.
    pub fn predict(&self, texts: &[&str]) -> Result<Vec<Classification>> {
        let inputs: Vec<(&str, Option<&str>)> = texts.iter().map(|&t| (t, None)).collect();
        self.classify(&inputs)
    }

    /// Classifies each pair (`[CLS] a [SEP] b [SEP]`), e.g. for entailment.
    pub fn predict_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<Classification>> {
        let inputs: Vec<(&str, Option<&str>)> = pairs.iter().map(|&(a, b)| (a, Some(b))).collect();
        self.classify(&inputs)
    }
}

/// A document's place in a reranking.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Ranked {
    /// Position of the document in the input list.
    pub index: usize,
    /// The document.
    pub document: String,
    /// The relevance score (sigmoid of the logit by default).
    pub score: f32,
    /// The raw logit.
    pub logit: f32,
    /// Tokens cut because the (query, document) pair was longer than the model's limit
    /// (longest first); omitted from JSON when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub truncated_tokens: usize,
}

/// The activation sentence-transformers' `CrossEncoder` applies to a one-label checkpoint's
/// logit, from where each version saved it: `config_sentence_transformers.json`
/// `activation_fn` (sentence-transformers 5 and 6), `config.json`
/// `sentence_transformers.activation_fn` (4), or `sbert_ce_default_activation_function`
/// (older); Sigmoid when none is given. Errors name an activation other than Sigmoid or
/// Identity.
pub fn cross_encoder_activation(ckpt: &Checkpoint) -> Result<ScoreFunction> {
    let cj = &ckpt.config_json;
    let newest = ckpt.sentence_transformers.as_ref().and_then(|s| s.activation_fn.as_deref());
    let act = newest.or_else(|| {
        cj.get("sentence_transformers")
            .and_then(|s| s.get("activation_fn"))
            .or_else(|| cj.get("sbert_ce_default_activation_function"))
            .and_then(|a| a.as_str())
    });
    match act {
        None => Ok(ScoreFunction::Sigmoid),
        Some(a) if a.ends_with(".Sigmoid") => Ok(ScoreFunction::Sigmoid),
        Some(a) if a.ends_with(".Identity") => Ok(ScoreFunction::None),
        Some(other) => Err(Error::file(
            ckpt.dir.join("config.json"),
            format!("cross-encoder activation_fn `{other}` is not supported (Sigmoid, Identity)"),
        )),
    }
}

/// A cross-encoder reranker: scores (query, document) pairs with a one-label
/// `BertForSequenceClassification`, as sentence-transformers' `CrossEncoder`.
pub struct Reranker {
    /// The model (`num_labels` = 1).
    pub model: BertForSequenceClassification,
    /// The checkpoint's tokenizer.
    pub tokenizer: Tokenizer,
    /// Applied to the logit: `CrossEncoder`'s activation (`config.json`
    /// `sentence_transformers.activation_fn`, default Sigmoid).
    pub activation: ScoreFunction,
}

impl Reranker {
    /// Opens a cross-encoder checkpoint (a `BertForSequenceClassification` with one label).
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<Reranker> {
        let (cfg, head, tokenizer) = open_head(ckpt, "BertForSequenceClassification", "rerank")?;
        if head.num_labels() != 1 {
            return Err(Error::Input(format!(
                "rerank needs a cross-encoder with one output (num_labels 1); {} has {} labels {:?}: use `classify` \
                 with pairs instead",
                ckpt.dir.display(),
                head.num_labels(),
                head.id2label
            )));
        }
        let activation = cross_encoder_activation(ckpt)?;
        Ok(Reranker { model: BertForSequenceClassification::load(&ckpt.weights, &cfg, head)?, tokenizer, activation })
    }

    /// `(logit, score)` for each (query, document) pair.
    pub fn score_pairs(&self, pairs: &[(&str, &str)]) -> Result<Vec<(f32, f32)>> {
        if pairs.is_empty() {
            return Err(Error::Input("no documents given".into()));
        }
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(BATCH_SIZE) {
            let batch = self.tokenizer.encode_pairs(chunk)?;
            let logits = self.model.forward(&input(&batch)?)?.contiguous();
            for &l in logits.as_slice().unwrap_or(&[]) {
                out.push((l, if self.activation == ScoreFunction::Sigmoid { sigmoid(l) } else { l }));
            }
        }
        Ok(out)
    }

    /// Documents sorted by relevance to `query`, most relevant first (ties keep input order).
    pub fn rerank(&self, query: &str, docs: &[&str]) -> Result<Vec<Ranked>> {
        check_texts(&self.tokenizer, &[query])?;
        check_texts(&self.tokenizer, docs)?;
        let pairs: Vec<(&str, &str)> = docs.iter().map(|&d| (query, d)).collect();
        let mut ranked: Vec<Ranked> = self
            .score_pairs(&pairs)?
            .into_iter()
            .enumerate()
            .map(|(index, (logit, score))| {
                let truncated_tokens = self.tokenizer.dropped_tokens(query, Some(docs[index]))?;
                Ok(Ranked { index, document: docs[index].to_string(), score, logit, truncated_tokens })
            })
            .collect::<Result<_>>()?;
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
        Ok(ranked)
    }
}

/// One token's label (aggregation `none`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TokenPrediction {
    /// The `id2label` name of the best label (e.g. `B-PER`).
    pub entity: String,
    /// Its softmax probability.
    pub score: f32,
    /// Position in the encoded sequence (`[CLS]` is 0).
    pub index: usize,
    /// The token (`[UNK]` replaced by the text it stands for).
    pub word: String,
    /// Character offset of the token's start in the text.
    pub start: usize,
    /// Character offset just past the token's end.
    pub end: usize,
}

/// A group of adjacent tokens with the same entity type (aggregation `simple`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Entity {
    /// The type without its `B-`/`I-` prefix (e.g. `PER`).
    pub entity_group: String,
    /// Mean of the tokens' scores.
    pub score: f32,
    /// The tokens joined back into text.
    pub word: String,
    /// Character offset of the first token's start.
    pub start: usize,
    /// Character offset past the last token's end.
    pub end: usize,
}

/// Named-entity recognition with a `BertForTokenClassification` checkpoint.
pub struct TokenClassifier {
    /// The model.
    pub model: BertForTokenClassification,
    /// The checkpoint's tokenizer.
    pub tokenizer: Tokenizer,
    /// Labels dropped from [`TokenClassifier::predict`] (transformers' default: `["O"]`).
    pub ignore_labels: Vec<String>,
    /// The unknown-word token's id (such tokens are shown as the text they stand for).
    pub unk_id: Option<u32>,
}

impl TokenClassifier {
    /// Opens a `BertForTokenClassification` checkpoint.
    pub fn from_checkpoint(ckpt: &Checkpoint) -> Result<TokenClassifier> {
        let (cfg, head, tokenizer) = open_head(ckpt, "BertForTokenClassification", "ner")?;
        Ok(TokenClassifier {
            model: BertForTokenClassification::load(&ckpt.weights, &cfg, head)?,
            unk_id: tokenizer.token_to_id(&ckpt.tokenizer_config.unk_token),
            tokenizer,
            ignore_labels: vec!["O".into()],
        })
    }

    /// Raw logits `[seq][num_labels]` of one text, with its encoding.
    pub fn logits(&self, text: &str) -> Result<(crate::text::Encoded, Vec<Vec<f32>>)> {
        check_texts(&self.tokenizer, &[text])?;
        let enc = self.tokenizer.encode_with_offsets(text, None)?;
        let batch = self.tokenizer.encode_batch(&[text])?;
        if batch.input_ids != enc.ids {
            return Err(Error::Tokenizer("offsets and batch encodings disagree".into()));
        }
        let logits = self.model.forward(&input(&batch)?)?.contiguous();
        let n = self.model.head.num_labels();
        Ok((enc, logits.as_slice().unwrap_or(&[]).chunks(n).map(<[f32]>::to_vec).collect()))
    }

    /// Every non-special token with its best label (transformers' aggregation `none`,
    /// `O` tokens included).
    pub fn predict_tokens(&self, text: &str) -> Result<Vec<TokenPrediction>> {
        let (enc, logits) = self.logits(text)?;
        let unk = self.unk_id;
        let chars: Vec<char> = text.chars().collect();
        let mut out = Vec::new();
        for (i, l) in logits.iter().enumerate() {
            if enc.special[i] {
                continue;
            }
            let p = softmax(l);
            let best = (0..p.len()).fold(0, |b, j| if p[j] > p[b] { j } else { b });
            let (start, end) = enc.offsets[i];
            let word = if Some(enc.ids[i]) == unk {
                chars[start.min(chars.len())..end.min(chars.len())].iter().collect()
            } else {
                enc.tokens[i].clone()
            };
            out.push(TokenPrediction {
                entity: self.model.head.id2label[best].clone(),
                score: p[best],
                index: i,
                word,
                start,
                end,
            });
        }
        Ok(out)
    }

    /// Entities: adjacent tokens of the same type grouped (a `B-` starts a new group), the
    /// score averaged, `O` groups dropped — transformers' aggregation `simple`.
    pub fn predict(&self, text: &str) -> Result<Vec<Entity>> {
        let tokens = self.predict_tokens(text)?;
        let tag = |e: &str| -> (bool, String) {
            match e.strip_prefix("B-") {
                Some(t) => (true, t.to_string()),
                None => (false, e.strip_prefix("I-").unwrap_or(e).to_string()),
            }
        };
        let mut groups: Vec<Vec<&TokenPrediction>> = Vec::new();
        for t in &tokens {
            let (b, ty) = tag(&t.entity);
            match groups.last_mut() {
                Some(g) if !b && tag(&g[g.len() - 1].entity).1 == ty => g.push(t),
                _ => groups.push(vec![t]),
            }
        }
        let mut out = Vec::new();
        for g in groups {
            let group = tag(&g[0].entity).1;
            if self.ignore_labels.contains(&group) {
                continue;
            }
            let words: Vec<String> = g.iter().map(|t| t.word.clone()).collect();
            out.push(Entity {
                entity_group: group,
                score: g.iter().map(|t| t.score).sum::<f32>() / g.len() as f32,
                word: self.tokenizer.decode_tokens(&words)?,
                start: g[0].start,
                end: g[g.len() - 1].end,
            });
        }
        Ok(out)
    }
}

/// `print(model)` and the parameter count of a head checkpoint (by `architectures`), `None`
/// for other architectures.
pub(super) fn describe_head(ckpt: &Checkpoint, cfg: &BertConfig) -> Result<Option<(String, usize)>> {
    use crate::nn::{Module, count_parameters};
    let d = |m: &dyn Module| Some((m.repr(), count_parameters(m)));
    Ok(match ckpt.architecture() {
        Some("BertForSequenceClassification") => {
            let head = HeadConfig::from_json(&ckpt.config_json, cfg)?;
            d(&BertForSequenceClassification::load(&ckpt.weights, cfg, head)?)
        }
        Some("BertForTokenClassification") => {
            let head = HeadConfig::from_json(&ckpt.config_json, cfg)?;
            d(&BertForTokenClassification::load(&ckpt.weights, cfg, head)?)
        }
        Some("BertForQuestionAnswering") => {
            let head = HeadConfig::from_json(&ckpt.config_json, cfg)?;
            d(&BertForQuestionAnswering::load(&ckpt.weights, cfg, &head)?)
        }
        _ => None,
    })
}
