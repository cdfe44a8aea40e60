//! # The settings of sentence-transformers' Pooling and Dense modules
//!
//! `1_Pooling/config.json` says how token vectors become one vector per text
//! ([`PoolingConfig`]: which [`PoolingMode`]s, whether the prompt's tokens count);
//! `2_Dense/config.json` describes a linear layer and its activation on the sentence vector
//! ([`DenseConfig`]). `sentence_transformers.rs` reads `modules.json` and calls these readers;
//! `bert/sentence.rs` runs the modules.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::checkpoint::read_json;
use crate::{Error, Result};

/// One pooling strategy of sentence-transformers' `Pooling` module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolingMode {
    /// The first real token's vector (`[CLS]`, or the first token after an excluded prompt).
    Cls,
    /// Elementwise maximum over real tokens.
    Max,
    /// Mean over real tokens.
    Mean,
    /// Sum over real tokens divided by √(number of real tokens).
    MeanSqrtLenTokens,
    /// Mean weighted by position (1, 2, 3, ...), so later tokens count more.
    WeightedMean,
    /// The last real token's vector.
    LastToken,
}

impl PoolingMode {
    /// All modes, in the order of the legacy `pooling_mode_*` booleans (which is also the
    /// order sentence-transformers concatenates them in when several are on).
    pub const LEGACY_ORDER: [(&'static str, PoolingMode); 6] = [
        ("pooling_mode_cls_token", PoolingMode::Cls),
        ("pooling_mode_max_tokens", PoolingMode::Max),
        ("pooling_mode_mean_tokens", PoolingMode::Mean),
        ("pooling_mode_mean_sqrt_len_tokens", PoolingMode::MeanSqrtLenTokens),
        ("pooling_mode_weightedmean_tokens", PoolingMode::WeightedMean),
        ("pooling_mode_lasttoken", PoolingMode::LastToken),
    ];

    /// sentence-transformers' name of the mode (`"mean_sqrt_len_tokens"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            PoolingMode::Cls => "cls",
            PoolingMode::Max => "max",
            PoolingMode::Mean => "mean",
            PoolingMode::MeanSqrtLenTokens => "mean_sqrt_len_tokens",
            PoolingMode::WeightedMean => "weightedmean",
            PoolingMode::LastToken => "lasttoken",
        }
    }

    /// The mode called `name`; an error lists the valid names.
    pub fn from_name(name: &str) -> Result<PoolingMode> {
        Self::LEGACY_ORDER.iter().map(|&(_, m)| m).find(|m| m.name() == name).ok_or_else(|| {
            Error::Input(format!(
                "unknown pooling mode `{name}` (cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken)"
            ))
        })
    }
}

/// `Pooling/config.json`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolingConfig {
    /// Width of each token vector (`embedding_dimension` / `word_embedding_dimension`).
    pub embedding_dimension: Option<usize>,
    /// The modes, in concatenation order (at least one).
    pub modes: Vec<PoolingMode>,
    /// When false, the prompt's tokens (and `[CLS]`) are left out of the pooling.
    pub include_prompt: bool,
}

impl PoolingConfig {
    /// Mean pooling, prompt included: sentence-transformers' default.
    pub fn mean() -> PoolingConfig {
        PoolingConfig { embedding_dimension: None, modes: vec![PoolingMode::Mean], include_prompt: true }
    }

    /// Parses either format: `"pooling_mode": "mean" | ["max", "cls"]` (sentence-transformers
    /// 6) or the `pooling_mode_*` booleans (older), as sentence-transformers converts them.
    pub fn from_json(v: &Value) -> Result<PoolingConfig> {
        let obj = v.as_object().ok_or_else(|| Error::Input("expected a JSON object".into()))?;
        let dim = obj.get("embedding_dimension").or_else(|| obj.get("word_embedding_dimension"));
        let embedding_dimension = match dim {
            None | Some(Value::Null) => None,
            Some(d) => Some(
                d.as_u64().ok_or_else(|| Error::Input(format!("embedding_dimension must be an integer, got {d}")))?
                    as usize,
            ),
        };
        // A mode switched on under a name nanobert does not know would otherwise be dropped.
        if let Some((key, _)) = obj.iter().find(|(k, v)| {
            k.starts_with("pooling_mode_")
                && v.as_bool() == Some(true)
                && !PoolingMode::LEGACY_ORDER.iter().any(|(known, _)| known == k)
        }) {
            return Err(Error::Input(format!(
                "`{key}` is not a pooling mode nanobert knows ({})",
                PoolingMode::LEGACY_ORDER.map(|(known, _)| known).join(", ")
            )));
        }
        let modes = match obj.get("pooling_mode") {
            Some(Value::String(s)) => vec![PoolingMode::from_name(s)?],
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|m| {
                    m.as_str()
                        .ok_or_else(|| Error::Input(format!("pooling_mode entries must be strings, got {m}")))
                        .and_then(PoolingMode::from_name)
                })
                .collect::<Result<Vec<_>>>()?,
            Some(other) => return Err(Error::Input(format!("pooling_mode must be a string or a list, got {other}"))),
            None => {
                let on: Vec<PoolingMode> = PoolingMode::LEGACY_ORDER
                    .iter()
                    .filter(|(key, _)| obj.get(*key).and_then(Value::as_bool).unwrap_or(false))
                    .map(|&(_, m)| m)
                    .collect();
                if on.is_empty() { vec![PoolingMode::Mean] } else { on }
            }
        };
        let include_prompt = match obj.get("include_prompt") {
            None | Some(Value::Null) => true,
            Some(Value::Bool(b)) => *b,
            Some(other) => return Err(Error::Input(format!("include_prompt must be true or false, got {other}"))),
        };
        Ok(PoolingConfig { embedding_dimension, modes, include_prompt })
    }

    /// Names of the modes, e.g. `["max", "cls"]`.
    pub fn mode_names(&self) -> Vec<&'static str> {
        self.modes.iter().map(|m| m.name()).collect()
    }
}

/// The activation of a `Dense` module, named like its torch class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DenseActivation {
    /// `torch.nn.modules.linear.Identity`
    Identity,
    /// `torch.nn.modules.activation.Tanh` (sentence-transformers' default)
    Tanh,
    /// `torch.nn.modules.activation.ReLU`
    Relu,
    /// `torch.nn.modules.activation.Sigmoid`
    Sigmoid,
    /// `torch.nn.modules.activation.GELU` (exact, erf)
    Gelu,
}

impl DenseActivation {
    /// From the `activation_function` string of a Dense config; an error names anything else.
    pub fn from_torch_name(name: &str) -> Result<DenseActivation> {
        let class = name.rsplit('.').next().unwrap_or(name);
        let known_prefix = name.starts_with("torch.nn.");
        match (known_prefix, class) {
            (true, "Identity") => Ok(DenseActivation::Identity),
            (true, "Tanh") => Ok(DenseActivation::Tanh),
            (true, "ReLU") => Ok(DenseActivation::Relu),
            (true, "Sigmoid") => Ok(DenseActivation::Sigmoid),
            (true, "GELU") => Ok(DenseActivation::Gelu),
            _ => Err(Error::Input(format!(
                "activation_function `{name}` is not supported (torch.nn Identity, Tanh, ReLU, Sigmoid, GELU); \
                 sentence-transformers itself would fall back to Tanh for a non-torch name without \
                 trust_remote_code, which nanobert will not do silently"
            ))),
        }
    }

    /// The torch class name, e.g. `Tanh`.
    pub fn class_name(self) -> &'static str {
        match self {
            DenseActivation::Identity => "Identity",
            DenseActivation::Tanh => "Tanh",
            DenseActivation::Relu => "ReLU",
            DenseActivation::Sigmoid => "Sigmoid",
            DenseActivation::Gelu => "GELU",
        }
    }
}

/// `Dense/config.json` plus where its weights are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DenseConfig {
    /// Input width.
    pub in_features: usize,
    /// Output width.
    pub out_features: usize,
    /// Whether `linear.bias` exists.
    pub bias: bool,
    /// Applied after the linear map.
    pub activation: DenseActivation,
    /// Adds the input back (through `residual.weight` when the widths differ).
    pub use_residual: bool,
    /// `model.safetensors` of the module (keys `linear.weight`, `linear.bias`, `residual.weight`).
    pub weights: PathBuf,
}

/// Dense and Normalize read and write the `sentence_embedding` feature; other names mean a
/// token-level or multi-output model, which is refused.
pub(super) fn check_io_names(path: &Path) -> Result<()> {
    if !path.is_file() {
        return Ok(());
    }
    let v = read_json(path)?;
    for key in ["module_input_name", "module_output_name"] {
        if let Some(name) = v.get(key).and_then(Value::as_str)
            && name != "sentence_embedding"
        {
            return Err(Error::file(path, format!("{key} `{name}` is not supported (sentence_embedding only)")));
        }
    }
    Ok(())
}

/// `Dense/config.json` of the module folder `dir`, checked, with its weights file.
pub(super) fn read_dense(dir: &Path) -> Result<DenseConfig> {
    let path = dir.join("config.json");
    let v = read_json(&path)?;
    check_io_names(&path)?;
    let size = |key: &str| -> Result<usize> {
        v.get(key)
            .and_then(Value::as_u64)
            .map(|n| n as usize)
            .ok_or_else(|| Error::file(&path, format!("missing or non-integer `{key}`")))
    };
    let activation = match v.get("activation_function") {
        None | Some(Value::Null) => DenseActivation::Tanh,
        Some(Value::String(s)) => DenseActivation::from_torch_name(s).map_err(|e| Error::file(&path, e))?,
        Some(other) => return Err(Error::file(&path, format!("activation_function must be a string, got {other}"))),
    };
    let weights = dir.join("model.safetensors");
    if !weights.is_file() {
        let mut msg = format!("no model.safetensors for this Dense module in {}", dir.display());
        if dir.join("pytorch_model.bin").is_file() {
            msg.push_str(
                ": pytorch_model.bin (pickle) is not supported; re-save the model with a current \
                 sentence-transformers (`SentenceTransformer(DIR).save(DIR)` writes safetensors)",
            );
        }
        return Err(Error::file(dir, msg));
    }
    Ok(DenseConfig {
        in_features: size("in_features")?,
        out_features: size("out_features")?,
        bias: v.get("bias").and_then(Value::as_bool).unwrap_or(true),
        activation,
        use_residual: v.get("use_residual").and_then(Value::as_bool).unwrap_or(false),
        weights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pooling_formats() {
        let p = PoolingConfig::from_json(&json!({"embedding_dimension": 8, "pooling_mode": ["max", "cls"]})).unwrap();
        assert_eq!(p.modes, vec![PoolingMode::Max, PoolingMode::Cls]);
        // Legacy booleans: sentence-transformers' fixed order, whatever the key order in the file.
        let p = PoolingConfig::from_json(&json!({"word_embedding_dimension": 8, "pooling_mode_mean_tokens": true,
            "pooling_mode_cls_token": true, "pooling_mode_max_tokens": true}))
        .unwrap();
        assert_eq!(p.modes, vec![PoolingMode::Cls, PoolingMode::Max, PoolingMode::Mean]);
        let p = PoolingConfig::from_json(&json!({"word_embedding_dimension": 8})).unwrap();
        assert_eq!(p.modes, vec![PoolingMode::Mean]);
        let e = PoolingConfig::from_json(&json!({"pooling_mode": "median"})).unwrap_err();
        assert!(e.to_string().contains("median"));
        let e = PoolingConfig::from_json(&json!({"pooling_mode_median_tokens": true})).unwrap_err();
        assert!(e.to_string().contains("pooling_mode_median_tokens"), "{e}");
        // Switched off, an unknown key changes nothing.
        assert!(PoolingConfig::from_json(&json!({"pooling_mode_median_tokens": false})).is_ok());
    }

    #[test]
    fn activations_by_torch_name() {
        assert_eq!(
            DenseActivation::from_torch_name("torch.nn.modules.activation.Tanh").unwrap(),
            DenseActivation::Tanh
        );
        assert_eq!(
            DenseActivation::from_torch_name("torch.nn.modules.linear.Identity").unwrap(),
            DenseActivation::Identity
        );
        let e = DenseActivation::from_torch_name("my_pkg.Swish").unwrap_err();
        assert!(e.to_string().contains("my_pkg.Swish"));
    }
}
