//! # `sentence_bert_config.json`: the settings of sentence-transformers' Transformer module
//!
//! | key | what sentence-transformers does | nanobert |
//! |---|---|---|
//! | `max_seq_length` | truncation length (the tokenizer's `model_max_length` in version 6) | honoured |
//! | `do_lower_case` | lowercases the text before the tokenizer | honoured |
//! | `tokenizer_args` / `processor_kwargs` | keyword arguments of `AutoTokenizer.from_pretrained`: override `tokenizer_config.json` | honoured (merged into it) |
//! | `model_args` / `model_kwargs` | keyword arguments of `AutoModel.from_pretrained` | refused, except `attn_implementation` and float32 `dtype` |
//! | `config_args` / `config_kwargs` | override `config.json` | refused, except dropout rates |
//! | `transformer_task`, `module_output_name`, `modality_config` | what the module outputs | `feature-extraction` -> `token_embeddings` only |
//! | `query_length`, `document_length`, `query_expansion`, `processing_kwargs` | multi-vector / multimodal models | refused |
//!
//! sentence-transformers 6 source: `sentence_transformers/base/modules/transformer.py`.

use std::path::Path;

use serde_json::Value;

use super::checkpoint::read_json;
use crate::{Error, Result};

/// What `sentence_bert_config.json` says that nanobert honours.
#[derive(Default)]
pub(super) struct SentenceBertConfig {
    /// Truncation length; `None` when unset or when `tokenizer_args` sets `model_max_length`.
    pub max_seq_length: Option<usize>,
    /// Lowercase before the tokenizer's own normalizer.
    pub do_lower_case: bool,
    /// `tokenizer_args` / `processor_kwargs`, minus `trust_remote_code`.
    pub tokenizer_kwargs: serde_json::Map<String, Value>,
}

/// Keys of `model_args` that do not change the numbers: how attention is computed, or loading
/// in the float32 nanobert computes in anyway.
fn harmless_model_arg(key: &str, value: &Value) -> bool {
    match key {
        "attn_implementation" | "low_cpu_mem_usage" | "trust_remote_code" => true,
        "torch_dtype" | "dtype" => matches!(value.as_str(), Some("float32" | "torch.float32")),
        _ => false,
    }
}

/// `sentence_bert_config.json`, refusing settings that would make the Transformer module do
/// something other than BERT's last hidden state, or load the model differently.
///
/// `cross_encoder`: the model is a sentence-transformers `CrossEncoder`
/// (`config_sentence_transformers.json` `model_type`), whose Transformer module outputs the
/// classifier's logits (`transformer_task: sequence-classification`, `text -> logits`,
/// `module_output_name: scores`, as sentence-transformers 6 saves it); those are accepted then.
pub(super) fn read_sentence_bert_config(dir: &Path, cross_encoder: bool) -> Result<SentenceBertConfig> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(SentenceBertConfig::default());
    }
    let v = read_json(&path)?;
    let bad = |msg: String| Error::file(&path, msg);
    let max_seq_length = match v.get("max_seq_length") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64().filter(|&n| n > 0).ok_or_else(|| bad(format!("max_seq_length {n} is not a positive integer")))?
                as usize,
        ),
    };
    let do_lower_case = match v.get("do_lower_case") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(bad(format!("do_lower_case must be true or false, got {other}"))),
    };
    // What the Transformer module outputs: token vectors for an embedding model, the
    // classifier's logits ("scores") for a CrossEncoder.
    let (task_ok, output_ok, method_ok) = if cross_encoder {
        ("sequence-classification", "scores", "logits")
    } else {
        ("feature-extraction", "token_embeddings", "last_hidden_state")
    };
    if let Some(task) = v.get("transformer_task").and_then(Value::as_str)
        && task != task_ok
    {
        return Err(bad(format!("transformer_task `{task}` is not supported here ({task_ok} only)")));
    }
    if let Some(out) = v.get("module_output_name").and_then(Value::as_str)
        && out != output_ok
    {
        return Err(bad(format!("module_output_name `{out}` is not supported here ({output_ok} only)")));
    }
    if let Some(cfg) = v.get("modality_config").and_then(Value::as_object) {
        for (modality, spec) in cfg {
            let out = spec.get("method_output_name").and_then(Value::as_str).unwrap_or(method_ok);
            if modality != "text" || out != method_ok {
                return Err(bad(format!(
                    "modality_config `{modality}` -> `{out}` is not supported here (text -> {method_ok} only)"
                )));
            }
        }
    }
    for key in ["query_length", "document_length", "query_expansion"] {
        if v.get(key).is_some_and(|x| !x.is_null()) {
            return Err(bad(format!("`{key}` (multi-vector models) is not supported")));
        }
    }
    // The keyword arguments of the three from_pretrained calls, under their old (<= 5) and
    // new (6) names. Tokenizer ones are honoured (merged into tokenizer_config.json), the others
    // refused unless harmless.
    let kwargs = |old: &str, new: &str| -> Result<serde_json::Map<String, Value>> {
        let mut out = serde_json::Map::new();
        for key in [old, new] {
            match v.get(key) {
                None | Some(Value::Null) => {}
                Some(Value::Object(m)) => out.extend(m.clone()),
                Some(other) => return Err(bad(format!("`{key}` must be an object, got {other}"))),
            }
        }
        Ok(out)
    };
    let mut tokenizer_kwargs = kwargs("tokenizer_args", "processor_kwargs")?;
    tokenizer_kwargs.remove("trust_remote_code"); // sentence-transformers drops it too
    for (key, value) in kwargs("model_args", "model_kwargs")? {
        if !harmless_model_arg(&key, &value) {
            return Err(bad(format!(
                "model_args `{key}`: {value} is not supported (it changes how the model is loaded)"
            )));
        }
    }
    if let Some((key, value)) =
        kwargs("config_args", "config_kwargs")?.into_iter().find(|(k, _)| !k.contains("dropout"))
    {
        return Err(bad(format!(
            "config_args `{key}`: {value} is not supported (it would override config.json; edit config.json instead)"
        )));
    }
    if let Some(p) = v.get("processing_kwargs").filter(|p| !p.is_null() && p.as_object().is_none_or(|m| !m.is_empty()))
    {
        return Err(bad(format!("processing_kwargs {p} is not supported")));
    }
    // sentence-transformers 6 passes max_seq_length as the tokenizer's model_max_length only
    // when tokenizer_args does not set one: then tokenizer_args wins.
    let max_seq_length = if tokenizer_kwargs.contains_key("model_max_length") { None } else { max_seq_length };
    Ok(SentenceBertConfig { max_seq_length, do_lower_case, tokenizer_kwargs })
}
