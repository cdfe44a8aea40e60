//! # Converting a whole model: which Linear gets which precision
//!
//! A model is a tree of modules; [`linears`] walks it (the same `children()` that printing
//! uses) and finds every Linear with its path, e.g. `encoder.layer.3.output.dense`.
//! [`to_precision`] then converts each one as a [`PrecisionPlan`] says: one default precision,
//! per-path overrides (keep a sensitive layer in bf16), and optional SmoothQuant factors.
//!
//! SmoothQuant (Xiao et al., 2023): int8 with per-token scales loses most where a few input
//! channels carry values 10-100x larger than the rest (an outlier channel sets the row's
//! scale, every other channel is left with a few codes). Since `x·Wᵀ = (x / s)·(W s)ᵀ` for any
//! per-input-channel `s > 0`, dividing the activations by `s` (folded into the quantizer) and
//! multiplying the weight's columns by it moves the outliers into the weights, which have a
//! scale per output channel to absorb them. `s_k = max|x_k|^α / max|W_k|^(1-α)`, with the
//! activation maxima measured on calibration text by [`calibrate`].

use std::collections::HashMap;

use super::half::{HalfKernel, PackedHalf};
use super::{I8Kernel, PackedI8, Precision, Storage};
use crate::nn::{Linear, Module};
use crate::{Error, Result};

/// Every Linear in a module tree, with its dotted path (`encoder.layer.0.attention.self.query`).
pub fn linears(m: &dyn Module) -> Vec<(String, &Linear)> {
    fn walk<'a>(m: &'a dyn Module, path: &str, out: &mut Vec<(String, &'a Linear)>) {
        if let Some(l) = m.as_linear() {
            out.push((path.to_string(), l));
            return;
        }
        for (name, c) in m.children() {
            let p = if path.is_empty() { name } else { format!("{path}.{name}") };
            walk(c, &p, out);
        }
    }
    let mut out = Vec::new();
    walk(m, "", &mut out);
    out
}

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
        Ok(match self.precision_for(path) {
            Precision::F32 => Storage::default(),
            p @ (Precision::F16 | Precision::Bf16) => {
                let kernel = self.half_kernel.filter(|k| k.handles(p)).unwrap_or_else(|| HalfKernel::best(p));
                Storage::Half(PackedHalf::with_kernel(kernel, p, w, n, k)?)
            }
            Precision::Int8 => {
                let kernel = self.int8_kernel.unwrap_or_else(I8Kernel::best);
                Storage::Int8(PackedI8::with_kernel(kernel, w, n, k, self.smooth.get(path).map(|v| v.as_slice()))?)
            }
        })
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

/// Converts every Linear of `model` as `plan` says. The f32 weights stay (for printing and
/// references); only the fast copies change. Errors name the Linear that failed.
pub fn to_precision(model: &dyn Module, plan: &PrecisionPlan) -> Result<()> {
    use rayon::prelude::*;
    let all = linears(model);
    all.par_iter().try_for_each(|(path, l)| {
        let (n, k) = (l.out_features(), l.in_features());
        let storage = plan
            .storage_for(path, l.weight.as_slice().unwrap_or(&[]), n, k)
            .map_err(|e| Error::invalid("to_precision", format!("{path}: {e}")))?;
        l.set_storage(storage)
    })
}

/// `model.to_precision(Precision::Int8)`: the one-call form of [`to_precision`] with
/// [`PrecisionPlan::uniform`], for any module (a `BertModel`, a `BertForMaskedLM`, ...).
pub trait ToPrecision {
    /// Converts every Linear to `p`.
    fn to_precision(&self, p: Precision) -> Result<()>;
}

impl<T: Module> ToPrecision for T {
    fn to_precision(&self, p: Precision) -> Result<()> {
        to_precision(self, &PrecisionPlan::uniform(p))
    }
}

/// Runs `run` (some forward passes over calibration text) while every Linear of `model`
/// records the largest |input| per input feature; returns those maxima by Linear path.
pub fn calibrate(model: &dyn Module, run: impl FnOnce() -> Result<()>) -> Result<HashMap<String, Vec<f32>>> {
    let all = linears(model);
    for (_, l) in &all {
        l.observe_inputs(true);
    }
    let result = run();
    let maxima: HashMap<String, Vec<f32>> =
        all.iter().filter_map(|(path, l)| l.observe_inputs(false).map(|m| (path.clone(), m))).collect();
    result.map(|_| maxima)
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

/// Bytes the Linears of `model` keep for their fast path (packed weights, scales, biases),
/// and how many weights they hold.
pub fn weight_bytes(model: &dyn Module) -> (usize, usize) {
    linears(model).iter().fold((0, 0), |(b, n), (_, l)| (b + l.weight_bytes(), n + l.weight.numel()))
}

/// Bytes the Linears of `model` would keep for their fast path in each precision (packed
/// weights with padding, int8 scales and column sums, biases), computed from the packing
/// formulas of this CPU's best kernels without converting anything. f32 counts `4 n k`
/// (its panels add well under 1% of padding).
pub fn bytes_by_precision(model: &dyn Module) -> Vec<(Precision, usize)> {
    let all = linears(model);
    Precision::ALL
        .iter()
        .map(|&p| {
            let total = all
                .iter()
                .map(|(_, l)| {
                    let (n, k) = (l.out_features(), l.in_features());
                    let bias = l.bias.as_ref().map_or(0, |b| b.numel() * 4);
                    bias + match p {
                        Precision::F32 => 4 * n * k,
                        Precision::F16 | Precision::Bf16 => {
                            let (_, nr) = HalfKernel::best(p).tile_shape();
                            let kp = k.div_ceil(super::half::pair(p)) * super::half::pair(p);
                            2 * n.div_ceil(nr) * nr * kp
                        }
                        Precision::Int8 => {
                            let (_, nr) = I8Kernel::best().tile_shape();
                            n.div_ceil(nr) * nr * k.div_ceil(4) * 4 + 8 * n
                        }
                    }
                })
                .sum();
            (p, total)
        })
        .collect()
}
