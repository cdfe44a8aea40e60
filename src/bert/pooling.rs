//! # From token vectors to one sentence vector
//!
//! BERT gives one vector per token. A sentence embedding model (sentence-transformers)
//! turns them into one vector per text by *pooling* — usually the mean over the real
//! (non-padding) tokens — and often scales it to unit length so that a dot product is a
//! cosine similarity.

use crate::{Error, Result, Tensor};

/// How token vectors become one vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolingMode {
    /// Average of the real tokens' vectors (padding excluded).
    Mean,
    /// The first token's (`[CLS]`) vector.
    Cls,
    /// Elementwise maximum over the real tokens.
    Max,
}

/// `hidden: [batch, seq, h]`, `mask: [batch * seq]` (1 real / 0 pad) `-> [batch][h]`.
pub fn pool(hidden: &Tensor, mask: &[u32], mode: PoolingMode) -> Result<Vec<Vec<f32>>> {
    if hidden.ndim() != 3 || mask.len() != hidden.shape()[0] * hidden.shape()[1] {
        return Err(Error::invalid(
            "pool",
            format!(
                "expects hidden [batch, seq, h] and a mask of batch*seq entries, got {:?} and {}",
                hidden.shape(),
                mask.len()
            ),
        ));
    }
    let (b, s, h) = (hidden.shape()[0], hidden.shape()[1], hidden.shape()[2]);
    let data = hidden.contiguous();
    let data = data.as_slice().unwrap_or(&[]);
    let mut out = Vec::with_capacity(b);
    for bi in 0..b {
        let rows =
            (0..s).filter(|&si| mask[bi * s + si] != 0).map(|si| &data[(bi * s + si) * h..(bi * s + si + 1) * h]);
        let v = match mode {
            PoolingMode::Cls => data[bi * s * h..bi * s * h + h].to_vec(),
            PoolingMode::Mean => {
                let mut acc = vec![0.0f32; h];
                let mut n = 0usize;
                for r in rows {
                    acc.iter_mut().zip(r).for_each(|(a, x)| *a += x);
                    n += 1;
                }
                // sentence-transformers clamps the count at 1e-9; with no real token we return zeros.
                acc.iter_mut().for_each(|a| *a /= n.max(1) as f32);
                acc
            }
            PoolingMode::Max => {
                let mut acc = vec![f32::NEG_INFINITY; h];
                for r in rows {
                    acc.iter_mut().zip(r).for_each(|(a, x)| *a = a.max(*x));
                }
                acc
            }
        };
        out.push(v);
    }
    Ok(out)
}

/// Scales `v` to unit L2 norm (a zero vector stays zero).
pub fn normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}
