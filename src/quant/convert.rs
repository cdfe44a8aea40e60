//! # Converting a weight: which precision each Linear gets, and SmoothQuant's factors
//!
//! A model is converted Linear by Linear (`nn::to_precision` walks the module tree and finds
//! every Linear with its path, e.g. `encoder.layer.3.output.dense`). This file holds what that
//! conversion needs from the formats' side, and nothing of modules: a [`PrecisionPlan`] (one
//! default precision, per-path overrides to keep a sensitive layer in bf16, optional SmoothQuant
//! factors, forced kernels) that turns one f32 weight into its [`Storage`], and
//! [`smooth_factors`].
//!
//! SmoothQuant (Xiao et al., 2023): int8 with per-token scales loses most where a few input
//! channels carry values 10-100x larger than the rest (an outlier channel sets the row's
//! scale, every other channel is left with a few codes). Since `x·Wᵀ = (x / s)·(W s)ᵀ` for any
//! per-input-channel `s > 0`, dividing the activations by `s` (folded into the quantizer) and
//! multiplying the weight's columns by it moves the outliers into the weights, which have a
//! scale per output channel to absorb them. `s_k = max|x_k|^α / max|W_k|^(1-α)`, with the
//! activation maxima measured on calibration text (`nn::calibrate`).

use std::collections::HashMap;

use super::half::HalfKernel;
use super::{I8Kernel, Precision, Storage};
use crate::Result;

/// Which precision each Linear of a model gets.
#[derive(Clone, Debug, Default)]
pub struct PrecisionPlan {
    /// For every Linear not matched by an override.
    pub default: Precision,
    /// `(pattern, precision)`: a Linear whose path contains `pattern` gets `precision` (the
    /// first match wins).
    pub overrides: Vec<(String, Precision)>,
    /// SmoothQuant factors `[in_features]` by Linear path (int8 layers only).
    pub smooth: HashMap<String, Vec<f32>>,
    /// Force an int8 kernel (default: the best this CPU has), e.g. to measure the AVX2
    /// kernel (centred 8-bit codes) on a VNNI machine.
    pub int8_kernel: Option<I8Kernel>,
    /// Force an f16/bf16 kernel (default: the best this CPU has for the precision).
    pub half_kernel: Option<HalfKernel>,
}

impl PrecisionPlan {
    /// Every Linear in `p`, no smoothing.
    pub fn uniform(p: Precision) -> PrecisionPlan {
        PrecisionPlan { default: p, ..Default::default() }
    }

    /// The precision for the Linear at `path`: the first override whose pattern
    /// [`matches_path`], else the default.
    pub fn precision_for(&self, path: &str) -> Precision {
        self.overrides.iter().find(|(pat, _)| matches_path(pat, path)).map_or(self.default, |(_, p)| *p)
    }

    /// The storage this plan gives a Linear at `path` with weight `w: [n, k]`.
    pub fn storage_for(&self, path: &str, w: &[f32], n: usize, k: usize) -> Result<Storage> {
        let smooth = self.smooth.get(path).map(|v| v.as_slice());
        Storage::with_kernels(self.precision_for(path), w, n, k, smooth, self.int8_kernel, self.half_kernel)
    }
}

/// Whether `pattern` names the Linear at `path`: its dot-separated segments equal a run of
/// consecutive segments of the path, `*` standing for any one segment. So `query` matches
/// every query projection, `layer.3` everything in layer 3, `layer.*.output.dense` the FFN
/// down projections but not `attention.output.dense`.
pub fn matches_path(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('.').collect();
    let segs: Vec<&str> = path.split('.').collect();
    segs.windows(pat.len()).any(|w| w.iter().zip(&pat).all(|(s, p)| *p == "*" || s == p))
}

/// SmoothQuant factors for one Linear: `s_k = max|x_k|^α / max_j |W[j,k]|^(1-α)` (1 where
/// either maximum is 0), clamped to `[1e-4, 1e4]`. `w: [out, in]`, `act_max: [in]`.
pub fn smooth_factors(w: &[f32], in_features: usize, act_max: &[f32], alpha: f32) -> Vec<f32> {
    let mut w_max = vec![0.0f32; in_features];
    for row in w.chunks_exact(in_features.max(1)) {
        w_max.iter_mut().zip(row).for_each(|(m, v)| *m = m.max(v.abs()));
    }
    act_max
        .iter()
        .zip(&w_max)
        .map(|(&a, &w)| {
            if a > 0.0 && w > 0.0 && a.is_finite() {
                (a.powf(alpha) / w.powf(1.0 - alpha)).clamp(1e-4, 1e4)
            } else {
                1.0
            }
        })
        .collect()
}
