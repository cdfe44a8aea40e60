//! # A model directory
//!
//! A Hugging Face checkpoint is a directory of small JSON files beside one big weight file:
//!
//! ```text
//! config.json             sizes: hidden_size, num_hidden_layers, vocab_size, ...
//! model.safetensors       the weights (memory-mapped, see safetensors.rs)
//! tokenizer.json          the whole tokenizer pipeline, or else
//! vocab.txt               the WordPiece vocabulary of older BERT checkpoints
//! tokenizer_config.json   the tokenizer's settings (see tokenizer_config.rs)
//! modules.json            sentence-transformers only: Transformer -> Pooling -> Dense -> Normalize
//!                         (see sentence_transformers.rs for those files)
//! ```
//!
//! [`Checkpoint::open`] finds these files, parses what is small, maps the weights, and says
//! precisely what is missing when a directory is not usable. Interpreting `config.json` is
//! left to `bert/`; this module only knows files.

use std::path::{Path, PathBuf};

use super::names::WeightMap;
use super::sentence_transformers::SentenceTransformersConfig;
use super::tokenizer_config::TokenizerConfig;
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
    /// `tokenizer_config.json` (transformers' defaults when absent), with sentence-transformers'
    /// `tokenizer_args` applied on top.
    pub tokenizer_config: TokenizerConfig,
    /// The module pipeline when this is a sentence-transformers model (`modules.json`).
    pub sentence_transformers: Option<SentenceTransformersConfig>,
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

impl Checkpoint {
    /// Open a model directory: parse `config.json`, map `model.safetensors`, note the
    /// tokenizer files and sentence-transformers settings.
    ///
    /// Refuses a `config.json` whose `model_type` / `architectures` are not BERT, and weights
    /// holding NaN or infinity ([`crate::io::check_weights`]; see [`Checkpoint::open_with`]).
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
        // sentence-transformers < 2 kept the Transformer's files in a subfolder (0_Transformer/).
        let model_dir = transformer_subfolder(dir)?.unwrap_or_else(|| dir.to_path_buf());
        let model_dir = model_dir.as_path();
        let config_path = model_dir.join("config.json");
        if !config_path.is_file() {
            return Err(Error::file(dir, format!("no config.json in this model directory; {}", listing(dir))));
        }
        let weights_path = model_dir.join("model.safetensors");
        if !weights_path.is_file() {
            let mut msg = format!("no model.safetensors in this model directory; {}", listing(model_dir));
            if model_dir.join("pytorch_model.bin").exists() {
                msg.push_str(
                    ". pytorch_model.bin (pickle) is not supported: convert it with \
                     `python -c \"from transformers import AutoModel; \
                     AutoModel.from_pretrained('DIR').save_pretrained('DIR', safe_serialization=True)\"`",
                );
            }
            if model_dir.join("model.safetensors.index.json").exists() {
                msg.push_str(". Sharded checkpoints (model.safetensors.index.json) are not supported");
            }
            return Err(Error::file(model_dir, msg));
        }
        let config_json = read_json(&config_path)?;
        if !config_json.is_object() {
            return Err(Error::file(&config_path, "expected a JSON object"));
        }
        check_is_bert(&config_path, &config_json)?;
        let weights = WeightMap::open(&weights_path)?;
        if check_finite {
            super::check_weights(weights.weights())?;
        }
        let file = |name: &str| Some(model_dir.join(name)).filter(|p| p.is_file());
        let sentence_transformers = SentenceTransformersConfig::read(dir)?;
        let overrides = sentence_transformers.as_ref().map(|s| s.tokenizer_kwargs.clone()).unwrap_or_default();
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config_json,
            weights,
            tokenizer_json: file("tokenizer.json"),
            vocab_txt: file("vocab.txt"),
            tokenizer_config: TokenizerConfig::read_with(model_dir, &overrides)?,
            sentence_transformers,
        })
    }

    /// Whether the tokenizer lowercases (`tokenizer_config.json`'s `do_lower_case`, default true).
    pub fn tokenizer_lowercase(&self) -> bool {
        self.tokenizer_config.do_lower_case
    }

    /// The `architectures` entry of `config.json` (e.g. `BertForSequenceClassification`), if any.
    pub fn architecture(&self) -> Option<&str> {
        self.config_json.get("architectures")?.as_array()?.first()?.as_str()
    }
}

/// Parse a JSON file; errors name the file.
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Error::file(path, format!("invalid JSON: {e}")))
}

/// "found: a, b, c" (sorted) or "the directory is empty", for error messages.
/// The folder holding the Transformer's files when `dir` has no `config.json` but its
/// `modules.json` puts the Transformer module in a subfolder (the layout of
/// sentence-transformers < 2, e.g. `0_Transformer/`); `None` otherwise.
fn transformer_subfolder(dir: &Path) -> Result<Option<PathBuf>> {
    let modules = dir.join("modules.json");
    if dir.join("config.json").is_file() || !modules.is_file() {
        return Ok(None);
    }
    let list = read_json(&modules)?;
    let path = list.as_array().into_iter().flatten().find_map(|m| {
        let kind = m.get("type")?.as_str()?;
        (kind.starts_with("sentence_transformers.") && kind.rsplit('.').next() == Some("Transformer"))
            .then(|| m.get("path").and_then(|p| p.as_str()).unwrap_or(""))
    });
    Ok(path.filter(|p| !p.is_empty()).map(|p| dir.join(p)).filter(|sub| sub.join("config.json").is_file()))
}

fn listing(dir: &Path) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|it| it.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    if names.is_empty() { "the directory is empty".to_string() } else { format!("found: {}", names.join(", ")) }
}
