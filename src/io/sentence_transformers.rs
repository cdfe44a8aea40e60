//! # A sentence-transformers model directory
//!
//! sentence-transformers saves a model as a *pipeline of modules*, listed in `modules.json`
//! and run in that order on a dictionary of features:
//!
//! ```text
//! modules.json                       [{"idx": 0, "path": "",           "type": "...Transformer"},
//!                                     {"idx": 1, "path": "1_Pooling",  "type": "...Pooling"},
//!                                     {"idx": 2, "path": "2_Dense",    "type": "...Dense"},
//!                                     {"idx": 3, "path": "3_Normalize","type": "...Normalize"}]
//! sentence_bert_config.json          the Transformer's settings: max_seq_length, do_lower_case,
//!                                    tokenizer_args (overrides of tokenizer_config.json)
//! 1_Pooling/config.json              pooling_mode (new) or pooling_mode_*_tokens booleans (old), include_prompt
//! 2_Dense/config.json + model.safetensors   in/out features, bias, activation_function (a torch class name)
//! config_sentence_transformers.json  prompts {"query": "query: "}, default_prompt_name
//! ```
//!
//! This module only reads and checks those files into [`SentenceTransformersConfig`] (the
//! settings of the Pooling and Dense modules in `st_modules.rs`); the computation is in
//! `bert/sentence.rs`. Module types are matched by their class name under the
//! `sentence_transformers` package, so both the old spelling
//! (`sentence_transformers.models.Pooling`) and the one of sentence-transformers 5+/6
//! (`sentence_transformers.sentence_transformer.modules.pooling.Pooling`) are accepted; any
//! other module is an error naming it — never silently skipped.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::checkpoint::read_json;
use super::sentence_bert_config::{SentenceBertConfig, read_sentence_bert_config};
pub use super::similarity::SimilarityFn;
pub use super::st_modules::{DenseActivation, DenseConfig, PoolingConfig, PoolingMode};
use super::st_modules::{check_io_names, read_dense};
use crate::{Error, Result};

/// What `modules.json` lists, interpreted.
#[derive(Clone, Debug, PartialEq)]
pub enum StModule {
    /// The transformer: token ids -> token vectors (the checkpoint's BertModel).
    Transformer,
    /// Token vectors -> one vector per text.
    Pooling(PoolingConfig),
    /// A linear layer + activation on the sentence vector.
    Dense(DenseConfig),
    /// L2-normalization of the sentence vector.
    Normalize,
}

/// Everything a sentence-transformers directory says beyond the BERT checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct SentenceTransformersConfig {
    /// The modules in the order they run, with their `type` string.
    pub modules: Vec<(String, StModule)>,
    /// `sentence_bert_config.json`: inputs are truncated to this many tokens (`None` when
    /// `tokenizer_args` sets `model_max_length`, which then wins, as in sentence-transformers 6).
    pub max_seq_length: Option<usize>,
    /// `sentence_bert_config.json`: lowercase the text before the tokenizer's own normalizer.
    pub do_lower_case: bool,
    /// `sentence_bert_config.json`: `tokenizer_args` (sentence-transformers 6 spells it
    /// `processor_kwargs`), the keyword arguments sentence-transformers passes to
    /// `AutoTokenizer.from_pretrained`; they override `tokenizer_config.json` key by key.
    pub tokenizer_kwargs: serde_json::Map<String, Value>,
    /// `config_sentence_transformers.json`: named prompts prepended to texts.
    pub prompts: BTreeMap<String, String>,
    /// The prompt used when none is asked for.
    pub default_prompt_name: Option<String>,
    /// `similarity_fn_name`: how embeddings are compared (cosine when not given).
    pub similarity_fn: SimilarityFn,
    /// `model_type`: `SentenceTransformer` (also when absent) or `CrossEncoder`.
    pub model_type: StModelType,
    /// `truncate_dim`: embeddings keep only their first this-many values (Matryoshka models),
    /// after every module, as `SentenceTransformer.encode` truncates.
    pub truncate_dim: Option<usize>,
    /// `activation_fn` of a `CrossEncoder` (a torch class path such as
    /// `torch.nn.modules.linear.Identity`), applied to its logits.
    pub activation_fn: Option<String>,
}

/// What kind of sentence-transformers model a directory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StModelType {
    /// Text in, one vector out (`SentenceTransformer`).
    SentenceTransformer,
    /// A pair in, a relevance score out (`CrossEncoder`): a `BertForSequenceClassification`.
    CrossEncoder,
}

/// The class name of a module type if it belongs to sentence-transformers, e.g. `Pooling`.
fn st_class(kind: &str) -> Option<&str> {
    if kind.starts_with("sentence_transformers.") { kind.rsplit('.').next() } else { None }
}

impl SentenceTransformersConfig {
    /// Reads the sentence-transformers files of `dir`; `Ok(None)` without `modules.json`.
    /// Errors name the file and the module or setting that cannot be honoured.
    pub fn read(dir: &Path) -> Result<Option<SentenceTransformersConfig>> {
        let modules_path = dir.join("modules.json");
        if !modules_path.is_file() {
            return Ok(None);
        }
        let st = read_st_config(dir)?;
        let cross_encoder = st.model_type == StModelType::CrossEncoder;
        let list = read_json(&modules_path)?;
        let list = list.as_array().ok_or_else(|| Error::file(&modules_path, "expected a list of modules"))?;
        let mut modules = Vec::with_capacity(list.len());
        let mut sb = SentenceBertConfig::default();
        for m in list {
            let kind = m
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::file(&modules_path, format!("module without a \"type\": {m}")))?;
            let sub = dir.join(m.get("path").and_then(Value::as_str).unwrap_or(""));
            let module = match st_class(kind) {
                Some("Transformer") => {
                    sb = read_sentence_bert_config(&sub, cross_encoder)?;
                    StModule::Transformer
                }
                Some("Pooling") => {
                    let path = sub.join("config.json");
                    if path.is_file() {
                        StModule::Pooling(
                            PoolingConfig::from_json(&read_json(&path)?).map_err(|e| Error::file(&path, e))?,
                        )
                    } else {
                        StModule::Pooling(PoolingConfig::mean())
                    }
                }
                Some("Dense") => StModule::Dense(read_dense(&sub)?),
                Some("Normalize") => {
                    check_io_names(&sub.join("config.json"))?;
                    StModule::Normalize
                }
                _ => {
                    return Err(Error::file(
                        &modules_path,
                        format!(
                            "module type `{kind}` is not supported (nanobert runs Transformer, Pooling, Dense and \
                             Normalize); refusing rather than computing a different embedding"
                        ),
                    ));
                }
            };
            modules.push((kind.to_string(), module));
        }
        match modules.first() {
            Some((_, StModule::Transformer)) => {}
            _ => {
                return Err(Error::file(&modules_path, "the first module must be a Transformer"));
            }
        }
        if modules.iter().skip(1).any(|(_, m)| *m == StModule::Transformer) {
            return Err(Error::file(&modules_path, "more than one Transformer module"));
        }
        let pool_at = modules.iter().position(|(_, m)| matches!(m, StModule::Pooling(_)));
        if let Some(i) = modules.iter().position(|(_, m)| matches!(m, StModule::Dense(_) | StModule::Normalize))
            && pool_at.is_none_or(|p| p > i)
        {
            return Err(Error::file(
                &modules_path,
                format!(
                    "module `{}` comes before any Pooling: token-level Dense/Normalize is not supported",
                    modules[i].0
                ),
            ));
        }
        if cross_encoder && modules.len() > 1 {
            return Err(Error::file(
                &modules_path,
                format!("a CrossEncoder with modules after its Transformer (`{}`) is not supported", modules[1].0),
            ));
        }
        Ok(Some(SentenceTransformersConfig {
            modules,
            max_seq_length: sb.max_seq_length,
            do_lower_case: sb.do_lower_case,
            tokenizer_kwargs: sb.tokenizer_kwargs,
            prompts: st.prompts,
            default_prompt_name: st.default_prompt_name,
            similarity_fn: st.similarity_fn,
            model_type: st.model_type,
            truncate_dim: st.truncate_dim,
            activation_fn: st.activation_fn,
        }))
    }

    /// The Pooling module's settings, if there is one.
    pub fn pooling(&self) -> Option<&PoolingConfig> {
        self.modules.iter().find_map(|(_, m)| if let StModule::Pooling(p) = m { Some(p) } else { None })
    }

    /// Whether the last module normalizes (embeddings have unit length).
    pub fn normalizes(&self) -> bool {
        matches!(self.modules.last(), Some((_, StModule::Normalize)))
    }

    /// The prompt text for `name`, or the default prompt when `name` is `None`. An unknown
    /// name is an error listing the known ones. An empty prompt counts as no prompt.
    pub fn prompt(&self, name: Option<&str>) -> Result<Option<&str>> {
        let p = match name {
            Some(n) => Some(self.prompts.get(n).ok_or_else(|| {
                let known: Vec<&str> = self.prompts.keys().map(String::as_str).collect();
                Error::Input(format!("prompt `{n}` is not in config_sentence_transformers.json (known: {known:?})"))
            })?),
            None => self.default_prompt_name.as_ref().and_then(|d| self.prompts.get(d)),
        };
        Ok(p.map(String::as_str).filter(|s| !s.is_empty()))
    }
}

/// What `config_sentence_transformers.json` says.
struct StSettings {
    prompts: BTreeMap<String, String>,
    default_prompt_name: Option<String>,
    similarity_fn: SimilarityFn,
    model_type: StModelType,
    truncate_dim: Option<usize>,
    activation_fn: Option<String>,
}

/// Every key sentence-transformers 6 writes to `config_sentence_transformers.json`, and what
/// nanobert does with it. Any other key is refused by name.
///
/// | key | written by | nanobert |
/// |---|---|---|
/// | `prompts`, `default_prompt_name` | all | honoured |
/// | `similarity_fn_name` | SentenceTransformer | honoured |
/// | `truncate_dim` | SentenceTransformer | honoured: embeddings cut to their first N values |
/// | `model_type` | all | `SentenceTransformer` or `CrossEncoder`; any other type refused |
/// | `activation_fn` | CrossEncoder | honoured by the reranker (Sigmoid, Identity); others refused |
/// | `keep_in_fp32_modules` | CrossEncoder | nothing to do: nanobert computes in float32 |
/// | `__version__`, `requirements` | all | not settings: versions of the Python packages that wrote the model |
pub const ST_CONFIG_KEYS: [&str; 9] = [
    "prompts",
    "default_prompt_name",
    "similarity_fn_name",
    "truncate_dim",
    "model_type",
    "activation_fn",
    "keep_in_fp32_modules",
    "__version__",
    "requirements",
];

/// `config_sentence_transformers.json` (see [`ST_CONFIG_KEYS`]).
fn read_st_config(dir: &Path) -> Result<StSettings> {
    let path = dir.join("config_sentence_transformers.json");
    let mut out = StSettings {
        prompts: BTreeMap::new(),
        default_prompt_name: None,
        similarity_fn: SimilarityFn::Cosine,
        model_type: StModelType::SentenceTransformer,
        truncate_dim: None,
        activation_fn: None,
    };
    if !path.is_file() {
        return Ok(out);
    }
    let v = read_json(&path)?;
    let obj = v.as_object().ok_or_else(|| Error::file(&path, "expected a JSON object"))?;
    if let Some(key) = obj.keys().find(|k| !ST_CONFIG_KEYS.contains(&k.as_str())) {
        return Err(Error::file(
            &path,
            format!(
                "`{key}` is not a setting nanobert knows ({}); refusing rather than ignoring it",
                ST_CONFIG_KEYS.join(", ")
            ),
        ));
    }
    if let Some(p) = v.get("prompts").filter(|p| !p.is_null()) {
        let p = p.as_object().ok_or_else(|| Error::file(&path, "`prompts` must be an object {name: text}"))?;
        for (k, text) in p {
            let text = text.as_str().ok_or_else(|| Error::file(&path, format!("prompt `{k}` is not a string")))?;
            out.prompts.insert(k.clone(), text.to_string());
        }
    }
    out.default_prompt_name = v.get("default_prompt_name").and_then(Value::as_str).map(String::from);
    if let Some(d) = &out.default_prompt_name
        && !out.prompts.contains_key(d)
    {
        return Err(Error::file(&path, format!("default_prompt_name `{d}` is not one of the prompts")));
    }
    out.similarity_fn = match v.get("similarity_fn_name") {
        None | Some(Value::Null) => SimilarityFn::Cosine,
        Some(Value::String(name)) => SimilarityFn::from_name(name).map_err(|e| Error::file(&path, e))?,
        Some(other) => return Err(Error::file(&path, format!("similarity_fn_name must be a string, got {other}"))),
    };
    out.model_type = match v.get("model_type") {
        None | Some(Value::Null) => StModelType::SentenceTransformer,
        Some(Value::String(t)) if t == "SentenceTransformer" => StModelType::SentenceTransformer,
        Some(Value::String(t)) if t == "CrossEncoder" => StModelType::CrossEncoder,
        Some(other) => {
            return Err(Error::file(
                &path,
                format!("model_type {other} is not supported (SentenceTransformer, CrossEncoder)"),
            ));
        }
    };
    out.truncate_dim = match v.get("truncate_dim") {
        None | Some(Value::Null) => None,
        Some(n) => Some(
            n.as_u64()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::file(&path, format!("truncate_dim {n} is not a positive integer")))?
                as usize,
        ),
    };
    out.activation_fn = match v.get("activation_fn") {
        None | Some(Value::Null) => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(other) => return Err(Error::file(&path, format!("activation_fn must be a string, got {other}"))),
    };
    if out.activation_fn.is_some() && out.model_type != StModelType::CrossEncoder {
        return Err(Error::file(&path, "activation_fn is a CrossEncoder setting, but model_type is not CrossEncoder"));
    }
    Ok(out)
}
