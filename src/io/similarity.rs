//! # `similarity_fn_name`: how a sentence-transformers model compares two embeddings
//!
//! `config_sentence_transformers.json` names the function the model was trained with; its
//! `model.similarity(a, b)` uses it, and so does `Embedder::rank` (`nanobert similarity`).
//! Cosine and dot agree on the order only when every embedding has the same length (a model
//! ending in `Normalize`). Source: `sentence_transformers/util/similarity.py`.

use crate::{Error, Result};

/// How two embeddings are compared: `similarity_fn_name` of `config_sentence_transformers.json`
/// (sentence-transformers' `SimilarityFunction`; cosine when absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimilarityFn {
    /// `cosine`: u·v / (|u| |v|).
    Cosine,
    /// `dot`: u·v.
    Dot,
    /// `euclidean`: -|u - v| (higher is more similar).
    Euclidean,
    /// `manhattan`: -Σ|u_i - v_i|.
    Manhattan,
}

impl SimilarityFn {
    /// The function called `name`; an error lists the valid names.
    pub fn from_name(name: &str) -> Result<SimilarityFn> {
        match name {
            "cosine" => Ok(SimilarityFn::Cosine),
            "dot" | "dot_product" => Ok(SimilarityFn::Dot),
            "euclidean" => Ok(SimilarityFn::Euclidean),
            "manhattan" => Ok(SimilarityFn::Manhattan),
            other => Err(Error::Input(format!(
                "similarity_fn_name `{other}` is not one sentence-transformers knows (cosine, dot, euclidean, manhattan)"
            ))),
        }
    }

    /// sentence-transformers' name (`cosine`, `dot`, ...).
    pub fn name(self) -> &'static str {
        match self {
            SimilarityFn::Cosine => "cosine",
            SimilarityFn::Dot => "dot",
            SimilarityFn::Euclidean => "euclidean",
            SimilarityFn::Manhattan => "manhattan",
        }
    }

    /// The similarity of `a` and `b` (equal lengths), higher = more similar.
    pub fn score(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            SimilarityFn::Cosine => {
                let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
                let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
                dot / (norm(a) * norm(b)).max(1e-12)
            }
            SimilarityFn::Dot => a.iter().zip(b).map(|(x, y)| x * y).sum(),
            SimilarityFn::Euclidean => -a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt(),
            SimilarityFn::Manhattan => -a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_by_name() {
        let (a, b) = ([3.0, 4.0], [6.0, 8.0]);
        assert!((SimilarityFn::Cosine.score(&a, &b) - 1.0).abs() < 1e-6);
        assert_eq!(SimilarityFn::Dot.score(&a, &b), 50.0);
        assert_eq!(SimilarityFn::Euclidean.score(&a, &b), -5.0);
        assert_eq!(SimilarityFn::Manhattan.score(&a, &b), -7.0);
        assert_eq!(SimilarityFn::from_name("dot").unwrap().name(), "dot");
        assert!(SimilarityFn::from_name("jaccard").unwrap_err().to_string().contains("jaccard"));
    }
}
