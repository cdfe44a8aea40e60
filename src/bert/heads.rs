//! # Task heads: one small Linear on top of BERT
//!
//! The checkpoints people fine-tune are BERT plus one matrix:
//!
//! | class | on top of | output | used for |
//! |---|---|---|---|
//! | `BertForSequenceClassification` | the pooler (`tanh(dense(h[CLS]))`) | `[batch, num_labels]` | sentiment, topics, NLI, cross-encoder rerankers (`num_labels = 1`) |
//! | `BertForTokenClassification` | every token's vector | `[batch, seq, num_labels]` | named entities (NER), part of speech |
//! | `BertForQuestionAnswering` | every token's vector | start and end logits `[batch, seq]` each | extractive QA: the answer is a span of the context |
//!
//! Dropout sits before the classifier in PyTorch (identity at inference; kept so that
//! `print(model)` matches). Each struct is named after its class in transformers'
//! `modeling_bert.py`
//! (<https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>)
//! and its fields after the checkpoint keys (`classifier.weight`, `qa_outputs.bias`). The
//! encoder runs through [`BertModel::forward`], so every optimization of the encoder applies.

use super::ParamSource;
use super::config::BertConfig;
use super::model::BertModel;
use super::{BertInput, load_linear};
use crate::nn::{Dropout, Linear, Module};
use crate::{Error, Result, Tensor};

/// The label names and the settings of `config.json` a head needs.
#[derive(Clone, Debug, PartialEq)]
pub struct HeadConfig {
    /// `id2label` in id order (`LABEL_0`, `LABEL_1`, ... when the config has none).
    pub id2label: Vec<String>,
    /// `problem_type`: `regression`, `single_label_classification`,
    /// `multi_label_classification`, or `None`.
    pub problem_type: Option<String>,
    /// `classifier_dropout`, or `hidden_dropout_prob` when null (printed only).
    pub classifier_dropout: f64,
}

impl HeadConfig {
    /// Reads `id2label` / `num_labels` / `problem_type` / `classifier_dropout` from
    /// `config.json`; errors name the malformed setting.
    pub fn from_json(v: &serde_json::Value, cfg: &BertConfig) -> Result<HeadConfig> {
        let bad = |msg: String| Error::invalid("config.json", msg);
        let mut id2label: Vec<String> = Vec::new();
        if let Some(map) = v.get("id2label").and_then(|m| m.as_object()) {
            let mut pairs: Vec<(usize, String)> = map
                .iter()
                .map(|(k, name)| {
                    let id = k.parse::<usize>().map_err(|_| bad(format!("id2label key `{k}` is not an integer")))?;
                    let name = name.as_str().ok_or_else(|| bad(format!("id2label[{k}] is not a string")))?;
                    Ok((id, name.to_string()))
                })
                .collect::<Result<_>>()?;
            pairs.sort();
            if pairs.iter().enumerate().any(|(i, (id, _))| *id != i) {
                return Err(bad("id2label ids must be 0, 1, 2, ... without gaps".into()));
            }
            id2label = pairs.into_iter().map(|(_, n)| n).collect();
        }
        if let Some(n) = v.get("num_labels").and_then(|n| n.as_u64()) {
            let n = n as usize;
            if id2label.is_empty() {
                id2label = (0..n).map(|i| format!("LABEL_{i}")).collect();
            } else if id2label.len() != n {
                return Err(bad(format!("num_labels {n} but id2label has {} entries", id2label.len())));
            }
        }
        if id2label.is_empty() {
            id2label = (0..2).map(|i| format!("LABEL_{i}")).collect(); // PretrainedConfig's default
        }
        let problem_type = v.get("problem_type").and_then(|p| p.as_str()).map(String::from);
        if let Some(p) = &problem_type
            && !["regression", "single_label_classification", "multi_label_classification"].contains(&p.as_str())
        {
            return Err(bad(format!("problem_type `{p}` is not one transformers knows")));
        }
        let classifier_dropout =
            v.get("classifier_dropout").and_then(|d| d.as_f64()).unwrap_or(cfg.hidden_dropout_prob);
        Ok(HeadConfig { id2label, problem_type, classifier_dropout })
    }

    /// Number of labels (rows of the classifier).
    pub fn num_labels(&self) -> usize {
        self.id2label.len()
    }
}

/// Checks that the checkpoint has the head's weight, naming the architecture when not.
fn require(w: &dyn ParamSource, name: &str, class: &str) -> Result<()> {
    if w.contains(name) {
        Ok(())
    } else {
        Err(Error::Tensor {
            name: name.into(),
            msg: format!("missing: a {class} checkpoint has this head weight (is this the right architecture?)"),
        })
    }
}

/// `BertForSequenceClassification`: pooler output -> dropout -> classifier.
pub struct BertForSequenceClassification {
    /// The encoder, with its pooler.
    pub bert: BertModel,
    /// Identity at inference.
    pub dropout: Dropout,
    /// `[num_labels, hidden]`.
    pub classifier: Linear,
    /// Labels and settings.
    pub head: HeadConfig,
}

impl BertForSequenceClassification {
    /// Loads `bert.*` (pooler required) and `classifier.*`.
    pub fn load(w: &dyn ParamSource, cfg: &BertConfig, head: HeadConfig) -> Result<Self> {
        let class = "BertForSequenceClassification";
        require(w, "bert.pooler.dense.weight", class)?;
        require(w, "classifier.weight", class)?;
        let bert = BertModel::load(w, "bert.", cfg, true)?;
        let classifier = load_linear(w, "classifier", cfg.hidden_size, head.num_labels())?;
        Ok(Self { bert, dropout: Dropout { p: head.classifier_dropout }, classifier, head })
    }

    /// Logits `[batch, num_labels]`.
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let out = self.bert.forward(input, false)?;
        let pooled = out
            .pooler_output
            .ok_or_else(|| Error::invalid("BertForSequenceClassification", "the encoder returned no pooler output"))?;
        self.classifier.forward(&pooled)
    }
}

impl Module for BertForSequenceClassification {
    fn name(&self) -> String {
        "BertForSequenceClassification".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("bert".into(), &self.bert), ("dropout".into(), &self.dropout), ("classifier".into(), &self.classifier)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("bert".into(), &mut self.bert),
            ("dropout".into(), &mut self.dropout),
            ("classifier".into(), &mut self.classifier),
        ]
    }
}

/// `BertForTokenClassification`: every token's vector -> dropout -> classifier (no pooler).
pub struct BertForTokenClassification {
    /// The encoder, without pooler.
    pub bert: BertModel,
    /// Identity at inference.
    pub dropout: Dropout,
    /// `[num_labels, hidden]`.
    pub classifier: Linear,
    /// Labels and settings.
    pub head: HeadConfig,
}

impl BertForTokenClassification {
    /// Loads `bert.*` (without pooler) and `classifier.*`.
    pub fn load(w: &dyn ParamSource, cfg: &BertConfig, head: HeadConfig) -> Result<Self> {
        require(w, "classifier.weight", "BertForTokenClassification")?;
        let bert = BertModel::load(w, "bert.", cfg, false)?;
        let classifier = load_linear(w, "classifier", cfg.hidden_size, head.num_labels())?;
        Ok(Self { bert, dropout: Dropout { p: head.classifier_dropout }, classifier, head })
    }

    /// Logits `[batch, seq, num_labels]`.
    pub fn forward(&self, input: &BertInput) -> Result<Tensor> {
        let h = self.bert.forward(input, false)?.last_hidden_state;
        self.classifier.forward(&h)
    }
}

impl Module for BertForTokenClassification {
    fn name(&self) -> String {
        "BertForTokenClassification".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("bert".into(), &self.bert), ("dropout".into(), &self.dropout), ("classifier".into(), &self.classifier)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("bert".into(), &mut self.bert),
            ("dropout".into(), &mut self.dropout),
            ("classifier".into(), &mut self.classifier),
        ]
    }
}

/// `BertForQuestionAnswering`: every token's vector -> `qa_outputs` (2 numbers: start, end).
pub struct BertForQuestionAnswering {
    /// The encoder, without pooler.
    pub bert: BertModel,
    /// `[2, hidden]`: row 0 scores "the answer starts here", row 1 "ends here".
    pub qa_outputs: Linear,
}

/// Start and end logits of a [`BertForQuestionAnswering`] forward, `[batch, seq]` each.
pub struct SpanLogits {
    /// Score of each token being the first of the answer.
    pub start_logits: Tensor,
    /// Score of each token being the last of the answer.
    pub end_logits: Tensor,
}

impl BertForQuestionAnswering {
    /// Loads `bert.*` (without pooler) and `qa_outputs.*` (`num_labels` must be 2).
    pub fn load(w: &dyn ParamSource, cfg: &BertConfig, head: &HeadConfig) -> Result<Self> {
        require(w, "qa_outputs.weight", "BertForQuestionAnswering")?;
        if head.num_labels() != 2 {
            return Err(Error::invalid(
                "config.json",
                format!("BertForQuestionAnswering needs num_labels 2 (start, end), got {}", head.num_labels()),
            ));
        }
        let bert = BertModel::load(w, "bert.", cfg, false)?;
        Ok(Self { bert, qa_outputs: load_linear(w, "qa_outputs", cfg.hidden_size, 2)? })
    }

    /// Start and end logits, `[batch, seq]` each.
    pub fn forward(&self, input: &BertInput) -> Result<SpanLogits> {
        let h = self.bert.forward(input, false)?.last_hidden_state;
        let logits = self.qa_outputs.forward(&h)?; // [batch, seq, 2]
        Ok(SpanLogits {
            start_logits: logits.select(2, 0)?.contiguous(),
            end_logits: logits.select(2, 1)?.contiguous(),
        })
    }
}

impl Module for BertForQuestionAnswering {
    fn name(&self) -> String {
        "BertForQuestionAnswering".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("bert".into(), &self.bert), ("qa_outputs".into(), &self.qa_outputs)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("bert".into(), &mut self.bert), ("qa_outputs".into(), &mut self.qa_outputs)]
    }
}
