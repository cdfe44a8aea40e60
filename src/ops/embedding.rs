//! # Embedding: a lookup table
//!
//! What this file teaches: a model cannot multiply the word "cat"; it multiplies vectors.
//! An embedding table is a matrix `W` of shape `[V, H]`, one row of H learned numbers for
//! each of the V tokens in the vocabulary, and "embedding token `id`" just means *reading
//! row `id`*.
//!
//! Mathematically that is a matrix product: write the id as a one-hot row vector
//! (all zeros except a 1 at position `id`), and `one_hot(id) · W` picks out row `id`. The
//! product would cost V·H multiply-adds per token to compute H numbers we can simply copy,
//! so we copy. (A test checks the two agree.)
//!
//! BERT has three such tables, for tokens, positions and segment types, and adds the rows.

use crate::tensor::{Tensor, numel};
use crate::{Error, Result};

/// Rows of `weight` picked by `ids`. Shapes: `weight [V, H]`, `ids` laid out as
/// `ids_shape` (e.g. `[B, S]`), output `ids_shape + [H]` (e.g. `[B, S, H]`).
pub fn embedding(weight: &Tensor, ids: &[u32], ids_shape: &[usize]) -> Result<Tensor> {
    let (_, h) = check(weight, ids, ids_shape)?;
    let _o = crate::profile::op("embedding", 0, (8 * ids.len() * h + 4 * ids.len()) as u64);
    let mut out = Vec::with_capacity(ids.len() * h);
    match weight.as_slice() {
        Some(w) => {
            for &id in ids {
                let row = id as usize * h;
                out.extend_from_slice(&w[row..row + h]);
            }
        }
        None => {
            for &id in ids {
                out.extend(weight.select(0, id as usize)?.to_vec());
            }
        }
    }
    Tensor::from_vec(out, &out_shape(ids_shape, h))
}

/// Reference for [`embedding`]: element by element with `get`.
pub fn embedding_ref(weight: &Tensor, ids: &[u32], ids_shape: &[usize]) -> Result<Tensor> {
    let (_, h) = check(weight, ids, ids_shape)?;
    let mut out = Vec::with_capacity(ids.len() * h);
    for &id in ids {
        for j in 0..h {
            out.push(weight.get(&[id as usize, j])?);
        }
    }
    Tensor::from_vec(out, &out_shape(ids_shape, h))
}

fn out_shape(ids_shape: &[usize], h: usize) -> Vec<usize> {
    let mut shape = ids_shape.to_vec();
    shape.push(h);
    shape
}

/// Checks shapes and ids; returns (V, H).
fn check(weight: &Tensor, ids: &[u32], ids_shape: &[usize]) -> Result<(usize, usize)> {
    let &[v, h] = weight.shape() else {
        return Err(Error::invalid(
            "embedding",
            format!("the table must be 2-D [V, H], got shape {:?}", weight.shape()),
        ));
    };
    if ids.len() != numel(ids_shape) {
        return Err(Error::invalid(
            "embedding",
            format!("{} ids cannot have shape {:?} ({} elements)", ids.len(), ids_shape, numel(ids_shape)),
        ));
    }
    if let Some((pos, &id)) = ids.iter().enumerate().find(|&(_, &id)| id as usize >= v) {
        return Err(Error::invalid(
            "embedding",
            format!("id {id} (at position {pos}) is out of range for a table of {v} rows (V = {v})"),
        ));
    }
    Ok((v, h))
}
