//! # A model directory
//!
//! A Hugging Face checkpoint is a directory of small JSON files beside one big weight file:
//!
//! ```text
//! config.json             sizes: hidden_size, num_hidden_layers, vocab_size, ...
//! model.safetensors       the weights (memory-mapped, see safetensors.rs)
//! tokenizer.json          the whole tokenizer pipeline, or else
//! vocab.txt               the WordPiece vocabulary of older BERT checkpoints
//! modules.json            sentence-transformers only: Transformer -> Pooling -> Normalize
//! 1_Pooling/config.json   how to pool token vectors into one sentence vector
//! sentence_bert_config.json  max_seq_length, do_lower_case
//! ```
//!
//! [`Checkpoint::open`] finds these files, parses what is small, maps the weights, and says
//! precisely what is missing when a directory is not usable. Interpreting `config.json` is
//! left to `bert/`; this module only knows files.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::names::WeightMap;
use crate::{Error, Result};

/// An opened model directory.
#[derive(Debug)]
pub struct Checkpoint {
    /// The directory.
    pub dir: PathBuf,
    /// `config.json`, parsed but not interpreted.
    pub config_json: serde_json::Value,
    /// `model.safetensors`, memory-mapped, looked up by canonical names.
    pub weights: WeightMap,
    /// `tokenizer.json`, if present.
    pub tokenizer_json: Option<PathBuf>,
    /// `vocab.txt`, if present.
    pub vocab_txt: Option<PathBuf>,
    /// Pooling / normalization settings when this is a sentence-transformers model.
    pub sentence_transformers: Option<SentenceTransformersConfig>,
}

/// What a sentence-transformers model does after the transformer.
#[derive(Clone, Debug, PartialEq)]
pub struct SentenceTransformersConfig {
    /// How token vectors become one sentence vector (`1_Pooling/config.json`).
    pub pooling: Pooling,
    /// True when `modules.json` ends with a `Normalize` module (unit-length embeddings).
    pub normalize: bool,
    /// From `sentence_bert_config.json`: inputs are truncated to this many tokens.
    pub max_seq_length: Option<usize>,
    /// From `sentence_bert_config.json`.
    pub do_lower_case: Option<bool>,
    /// The `type` of every module in `modules.json`, in order (e.g.
    /// `sentence_transformers.models.Dense`), so callers can refuse modules they lack.
    pub modules: Vec<String>,
}

/// The pooling modes of sentence-transformers' `Pooling` module. Several may be on at once;
/// the results are then concatenated in the order of these fields.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Pooling {
    /// Vector size of each token (equals `hidden_size`).
    #[serde(default)]
    pub word_embedding_dimension: Option<usize>,
    /// Use the `[CLS]` token's vector.
    #[serde(default, rename = "pooling_mode_cls_token")]
    pub mode_cls_token: bool,
    /// Average the vectors of the real (unpadded) tokens.
    #[serde(default, rename = "pooling_mode_mean_tokens")]
    pub mode_mean_tokens: bool,
    /// Elementwise max over real tokens.
    #[serde(default, rename = "pooling_mode_max_tokens")]
    pub mode_max_tokens: bool,
    /// Sum divided by sqrt(number of tokens).
    #[serde(default, rename = "pooling_mode_mean_sqrt_len_tokens")]
    pub mode_mean_sqrt_len_tokens: bool,
    /// Position-weighted mean.
    #[serde(default, rename = "pooling_mode_weightedmean_tokens")]
    pub mode_weightedmean_tokens: bool,
    /// The last real token's vector.
    #[serde(default, rename = "pooling_mode_lasttoken")]
    pub mode_lasttoken: bool,
}

impl Pooling {
    /// Mean pooling only: sentence-transformers' default.
    pub fn mean() -> Pooling {
        Pooling {
            word_embedding_dimension: None,
            mode_cls_token: false,
            mode_mean_tokens: true,
            mode_max_tokens: false,
            mode_mean_sqrt_len_tokens: false,
            mode_weightedmean_tokens: false,
            mode_lasttoken: false,
        }
    }

    /// Names of the modes that are on, e.g. `["mean"]`.
    pub fn modes(&self) -> Vec<&'static str> {
        let all = [
            (self.mode_cls_token, "cls"),
            (self.mode_mean_tokens, "mean"),
            (self.mode_max_tokens, "max"),
            (self.mode_mean_sqrt_len_tokens, "mean_sqrt_len"),
            (self.mode_weightedmean_tokens, "weightedmean"),
            (self.mode_lasttoken, "lasttoken"),
        ];
        all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect()
    }
}

/// One entry of `modules.json`.
#[derive(Deserialize)]
struct Module {
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Refuses a config that says it is not BERT (`model_type` other than `bert`, or an
/// architecture not named `Bert...`): RoBERTa, for one, offsets its position ids by
/// `padding_idx + 1` and would run "fine" as BERT while giving wrong outputs.
fn check_is_bert(config_path: &Path, config: &serde_json::Value) -> Result<()> {
    let model_type = config.get("model_type").and_then(|v| v.as_str());
    let archs: Vec<&str> = config
        .get("architectures")
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
        .unwrap_or_default();
    let foreign_arch = archs.iter().find(|a| !a.starts_with("Bert"));
    if model_type.is_some_and(|t| t != "bert") || foreign_arch.is_some() {
        let what = match (model_type, foreign_arch) {
            (Some(t), _) if t != "bert" => format!("model_type \"{t}\" (architectures {archs:?})"),
            (_, Some(a)) => format!("architecture \"{a}\""),
            _ => unreachable!("one of the two is not BERT"),
        };
        return Err(Error::file(
            config_path,
            format!(
                "this checkpoint is {what}, not BERT: nanobert runs BERT checkpoints only (model_type \"bert\", \
                 architectures Bert*). Models such as RoBERTa differ in position ids and tokenizer and would give \
                 wrong outputs if run as BERT"
            ),
        ));
    }
    Ok(())
}

/// `sentence_bert_config.json`.
#[derive(Deserialize)]
struct SentenceBertConfig {
    max_seq_length: Option<usize>,
    do_lower_case: Option<bool>,
}

impl Checkpoint {
    /// Open a model directory: parse `config.json`, map `model.safetensors`, note the
    /// tokenizer files and sentence-transformers settings.
    ///
    /// Refuses a `config.json` whose `model_type` / `architectures` are not BERT, and weights
    /// holding NaN or infinity ([`crate::finite::check_weights`]; see [`Checkpoint::open_with`]).
    pub fn open(dir: &Path) -> Result<Checkpoint> {
        Self::open_with(dir, true)
    }

    /// [`Checkpoint::open`], with the scan for non-finite weights on or off (off only to debug a
    /// corrupt file: `nanobert --allow-non-finite`).
    pub fn open_with(dir: &Path, check_finite: bool) -> Result<Checkpoint> {
        if !dir.is_dir() {
            let why = if dir.exists() { "is not a directory" } else { "does not exist" };
            return Err(Error::file(
                dir,
                format!("model directory {why} (expected a folder with config.json and model.safetensors)"),
            ));
        }
        let config_path = dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::file(dir, format!("no config.json in this model directory; {}", listing(dir))));
        }
        let weights_path = dir.join("model.safetensors");
        if !weights_path.is_file() {
            let mut msg = format!("no model.safetensors in this model directory; {}", listing(dir));
            if dir.join("pytorch_model.bin").exists() {
                msg.push_str(
                    ". pytorch_model.bin (pickle) is not supported: convert it with \
                     `python -c \"from transformers import AutoModel; \
                     AutoModel.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"`",
                );
            }
            if dir.join("model.safetensors.index.json").exists() {
                msg.push_str(". Sharded checkpoints (model.safetensors.index.json) are not supported");
            }
            return Err(Error::file(dir, msg));
        }
        let config_json = read_json(&config_path)?;
        if !config_json.is_object() {
            return Err(Error::file(&config_path, "expected a JSON object"));
        }
        check_is_bert(&config_path, &config_json)?;
        let weights = WeightMap::open(&weights_path)?;
        if check_finite {
            crate::finite::check_weights(weights.weights())?;
        }
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config_json,
            weights,
            tokenizer_json: file("tokenizer.json"),
            vocab_txt: file("vocab.txt"),
            sentence_transformers: SentenceTransformersConfig::read(dir)?,
        })
    }

    /// `tokenizer_config.json`'s `do_lower_case`, if the file says.
    pub fn tokenizer_lowercase(&self) -> Option<bool> {
        let path = self.dir.join("tokenizer_config.json");
        let value = read_json(&path).ok()?;
        value.get("do_lower_case")?.as_bool()
    }
}

impl SentenceTransformersConfig {
    /// Read the sentence-transformers files of `dir`; `Ok(None)` when there is no
    /// `modules.json` (a plain Hugging Face model).
    pub fn read(dir: &Path) -> Result<Option<SentenceTransformersConfig>> {
        let modules_path = dir.join("modules.json");
        if !modules_path.is_file() {
            return Ok(None);
        }
        let modules: Vec<Module> = serde_json::from_value(read_json(&modules_path)?)
            .map_err(|e| Error::file(&modules_path, format!("expected a list of {{path, type}} modules: {e}")))?;
        let pooling = match modules.iter().find(|m| m.kind.ends_with(".Pooling")) {
            // No Pooling module listed: sentence-transformers itself falls back to mean pooling.
            None => Pooling::mean(),
            Some(m) => {
                let path = dir.join(&m.path).join("config.json");
                if path.is_file() {
                    serde_json::from_value(read_json(&path)?)
                        .map_err(|e| Error::file(&path, format!("bad pooling config: {e}")))?
                } else {
                    Pooling::mean()
                }
            }
        };
        let normalize = modules.iter().any(|m| m.kind.ends_with(".Normalize"));
        let sb_path = dir.join("sentence_bert_config.json");
        let (max_seq_length, do_lower_case) = if sb_path.is_file() {
            let c: SentenceBertConfig = serde_json::from_value(read_json(&sb_path)?)
                .map_err(|e| Error::file(&sb_path, format!("bad sentence_bert_config.json: {e}")))?;
            (c.max_seq_length, c.do_lower_case)
        } else {
            (None, None)
        };
        Ok(Some(SentenceTransformersConfig {
            pooling,
            normalize,
            max_seq_length,
            do_lower_case,
            modules: modules.into_iter().map(|m| m.kind).collect(),
        }))
    }
}

/// Parse a JSON file; errors name the file.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, format!("invalid JSON: {e}")))
}

/// "found: a, b, c" (sorted) or "the directory is empty", for error messages.
fn listing(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    if names.is_empty() { "the directory is empty".to_string() } else { format!("found: {}", names.join(", ")) }
}
