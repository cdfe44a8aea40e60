//! # Dropout
//!
//! What this file teaches: while training, dropout sets each activation to zero with
//! probability `p`, so the network cannot rely on any single feature. The survivors are
//! scaled by `1 / (1 - p)` ("inverted dropout"), which keeps the expected value of every
//! entry unchanged: `(1 - p) * x / (1 - p) = x`. Thanks to that scaling, inference needs no
//! correction at all: dropout is simply the identity when not training, which is the only
//! way nanobert uses it when running BERT.

use crate::tensor::{Rng, Tensor};
use crate::{Error, Result};

/// Inverted dropout. Shapes: any, output like `x`.
///
/// - `!train` or `p == 0`: returns `x` itself (a cheap clone sharing its storage);
/// - `train`: each entry is zeroed with probability `p` (drawing one `rng.uniform()` per
///   entry, in row-major order) and the rest are multiplied by `1 / (1 - p)`;
///   `p == 1` zeroes everything.
///
/// `p` must be in `[0, 1]`.
pub fn dropout(x: &Tensor, p: f32, train: bool, rng: &mut Rng) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::invalid("dropout", format!("probability p = {p} must be between 0 and 1")));
    }
    if !train || p == 0.0 {
        return Ok(x.clone());
    }
    if p == 1.0 {
        return Ok(Tensor::zeros(x.shape()));
    }
    let scale = 1.0 / (1.0 - p);
    let mut data = x.to_vec();
    for v in data.iter_mut() {
        *v = if rng.uniform() < p { 0.0 } else { *v * scale };
    }
    Tensor::from_vec(data, x.shape())
}
