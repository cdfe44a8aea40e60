//! # One weight, many names
//!
//! The same BERT weight is spelled differently depending on who saved the checkpoint:
//!
//! | saved as                  | example key                                        |
//! |---------------------------|----------------------------------------------------|
//! | `BertForMaskedLM`         | `bert.embeddings.word_embeddings.weight`           |
//! | `BertModel` (e.g. MiniLM) | `embeddings.word_embeddings.weight`                |
//! | old TensorFlow ports      | `bert.embeddings.LayerNorm.gamma` (not `.weight`)  |
//!
//! The model code always asks for the *canonical* name, the one a modern
//! `BertForMaskedLM` uses, and [`WeightMap`] tries the spellings above until one is in the
//! file. That keeps the renaming in one place instead of sprinkled over `bert/`.
//!
//! When nothing matches, the error lists the closest names present (by edit distance), which
//! is usually enough to see what convention a strange checkpoint follows.

use std::collections::BTreeSet;
use std::path::Path;

use super::safetensors::Weights;
use crate::{Error, Result, Tensor};

/// Name prefixes of optional parts: not warned about when none of their tensors was loaded.
const HEADS: [&str; 6] = ["cls.", "classifier.", "qa_outputs.", "bert.pooler.", "pooler.", "sentence_transformers."];

/// A [`Weights`] file looked up by canonical Hugging Face BERT names.
#[derive(Debug)]
pub struct WeightMap {
    weights: Weights,
    /// Stored names handed out by [`WeightMap::get`], for [`WeightMap::unused_weights`].
    used: std::sync::Mutex<BTreeSet<String>>,
}

impl WeightMap {
    /// Wrap an opened file.
    pub fn new(weights: Weights) -> WeightMap {
        WeightMap { weights, used: Default::default() }
    }

    /// Open and wrap a `.safetensors` file.
    pub fn open(path: &Path) -> Result<WeightMap> {
        Ok(WeightMap::new(Weights::open(path)?))
    }

    /// The underlying file, for raw access by stored names.
    pub fn weights(&self) -> &Weights {
        &self.weights
    }

    /// The spellings tried for a canonical name, in order: as given, without / with the
    /// `bert.` prefix, then each of those with LayerNorm `weight`<->`gamma`, `bias`<->`beta`.
    pub fn candidates(name: &str) -> Vec<String> {
        let mut out = vec![name.to_string()];
        match name.strip_prefix("bert.") {
            Some(rest) => out.push(rest.to_string()),
            None => out.push(format!("bert.{name}")),
        }
        for i in 0..out.len() {
            if let Some(alt) = layer_norm_alias(&out[i]) {
                out.push(alt);
            }
        }
        out
    }

    /// The name under which `name` is stored in the file, if any spelling matches.
    pub fn resolve(&self, name: &str) -> Option<String> {
        Self::candidates(name).into_iter().find(|c| self.weights.contains(c))
    }

    /// True when some spelling of `name` is in the file.
    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// Load a tensor by canonical name (see [`Weights::get`] for dtypes and copying).
    pub fn get(&self, name: &str) -> Result<Tensor> {
        match self.resolve(name) {
            Some(stored) => {
                let t = self.weights.get(&stored).map_err(|e| rename_error(e, name, &stored))?;
                self.used.lock().unwrap_or_else(|p| p.into_inner()).insert(stored);
                Ok(t)
            }
            None => Err(self.missing(name)),
        }
    }

    /// Load a tensor and check its shape: `expected shape [384, 384], found [384, 1536]`.
    pub fn get_shaped(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let stored = self.resolve(name).ok_or_else(|| self.missing(name))?;
        let found = self.weights.shape(&stored).unwrap_or(&[]);
        if found != shape {
            let alias = if stored == name { String::new() } else { format!(" (stored as `{stored}`)") };
            return Err(Error::Tensor {
                name: name.to_string(),
                msg: format!(
                    "expected shape {shape:?}, found {found:?}{alias} in {} (does config.json match the weights?)",
                    self.weights.path().display()
                ),
            });
        }
        self.get(name)
    }

    /// Stored names that none of the canonical names in `used` resolve to (e.g. pooler or
    /// `position_ids` buffers a model does not need): useful to warn about ignored weights.
    pub fn unused(&self, used: &[String]) -> Vec<String> {
        let taken: BTreeSet<String> = used.iter().filter_map(|n| self.resolve(n)).collect();
        self.weights.names().into_iter().filter(|n| !taken.contains(n)).collect()
    }

    /// Stored tensors no model has loaded from this map so far (call after building the model),
    /// like transformers' "Some weights of the model checkpoint were not used" warning. Not
    /// listed: `position_ids` buffers, and the tensors of a head or pooler (`cls.`, `classifier.`,
    /// `qa_outputs.`, `pooler.`) none of which was loaded — a part the command does not use is
    /// expected (transformers' `_keys_to_ignore_on_load_unexpected` does the same for the pooler).
    pub fn unused_weights(&self) -> Vec<String> {
        let used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        let head_used = |prefix: &str| used.iter().any(|u| u.starts_with(prefix));
        self.weights
            .names()
            .into_iter()
            .filter(|n| !used.contains(n) && !n.ends_with("position_ids"))
            .filter(|n| !HEADS.iter().any(|h| n.starts_with(h) && !head_used(h)))
            .collect()
    }

    /// Up to `k` stored names closest to `name` (by edit distance).
    pub fn closest(&self, name: &str, k: usize) -> Vec<String> {
        let bare = name.strip_prefix("bert.").unwrap_or(name);
        let mut scored: Vec<(usize, String)> = self
            .weights
            .names()
            .into_iter()
            .map(|n| (edit_distance(bare, n.strip_prefix("bert.").unwrap_or(&n)), n))
            .collect();
        scored.sort();
        scored.into_iter().take(k).map(|(_, n)| n).collect()
    }

    /// The "not found" error: what was tried and what is there instead.
    fn missing(&self, name: &str) -> Error {
        let tried = Self::candidates(name).iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
        let close = self.closest(name, 5);
        let hint = if close.is_empty() {
            "the file holds no tensors".to_string()
        } else {
            format!("closest names present: {}", close.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", "))
        };
        Error::Tensor {
            name: name.to_string(),
            msg: format!(
                "not found in {} ({} tensors; tried {tried}); {hint}",
                self.weights.path().display(),
                self.weights.len()
            ),
        }
    }
}

/// `...LayerNorm.weight` <-> `...LayerNorm.gamma`, `...LayerNorm.bias` <-> `...LayerNorm.beta`.
fn layer_norm_alias(name: &str) -> Option<String> {
    let (head, last) = name.rsplit_once('.')?;
    let parent = head.rsplit('.').next().unwrap_or(head);
    if !parent.to_ascii_lowercase().contains("layernorm") && !parent.to_ascii_lowercase().contains("layer_norm") {
        return None;
    }
    let alt = match last {
        "weight" => "gamma",
        "gamma" => "weight",
        "bias" => "beta",
        "beta" => "bias",
        _ => return None,
    };
    Some(format!("{head}.{alt}"))
}

/// Errors from [`Weights::get`] talk about the stored name; report the canonical one too.
fn rename_error(e: Error, canonical: &str, stored: &str) -> Error {
    match e {
        Error::Tensor { msg, .. } if canonical != stored => {
            Error::Tensor { name: canonical.to_string(), msg: format!("(stored as `{stored}`) {msg}") }
        }
        other => other,
    }
}

/// Levenshtein distance between two strings (by bytes; names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let sub = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_cover_prefix_and_layer_norm_spellings() {
        let c = WeightMap::candidates("bert.encoder.layer.0.output.LayerNorm.weight");
        assert_eq!(
            c,
            vec![
                "bert.encoder.layer.0.output.LayerNorm.weight",
                "encoder.layer.0.output.LayerNorm.weight",
                "bert.encoder.layer.0.output.LayerNorm.gamma",
                "encoder.layer.0.output.LayerNorm.gamma",
            ]
        );
        let c = WeightMap::candidates("cls.predictions.transform.dense.weight");
        assert_eq!(c, vec!["cls.predictions.transform.dense.weight", "bert.cls.predictions.transform.dense.weight"]);
    }

    #[test]
    fn layer_norm_alias_only_touches_layer_norms() {
        assert_eq!(layer_norm_alias("a.LayerNorm.bias").as_deref(), Some("a.LayerNorm.beta"));
        assert_eq!(layer_norm_alias("a.LayerNorm.beta").as_deref(), Some("a.LayerNorm.bias"));
        assert_eq!(layer_norm_alias("a.dense.weight"), None);
        assert_eq!(layer_norm_alias("weight"), None);
    }

    #[test]
    fn edit_distance_small_cases() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
