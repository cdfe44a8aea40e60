//! The weight side of the int8 GEMM: each output channel quantized symmetrically to
//! `-127..=127` with its own scale (`quantize_weight_row`), the codes packed into the
//! microkernel's panels (per group of 4 k, the 4 codes of each of NR columns adjacent: one
//! 32-bit lane of `vpdpbusd`), the column sums kept for the zero-point correction.

use super::{GROUP, I8Kernel};
use crate::{Error, Result};

/// Quantizes one weight row (an output channel) symmetrically to `-qmax..=qmax` (127). Returns the scale `max|w| / qmax` (1.0 for an all-zero row).
/// `out.len() == w.len()`.
pub fn quantize_weight_row(w: &[f32], qmax: i8, out: &mut [i8]) -> f32 {
    let qmax = qmax as f32;
    let absmax = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let scale = if absmax > 0.0 { absmax / qmax } else { 1.0 };
    let inv = 1.0 / scale;
    for (q, v) in out.iter_mut().zip(w) {
        *q = (v * inv).round_ties_even().clamp(-qmax, qmax) as i8;
    }
    scale
}

/// A weight `[n, k]` (a Linear's `[out, in]`) quantized per output channel and packed into
/// the panels of one int8 microkernel.
#[derive(Clone, Debug)]
pub struct PackedI8 {
    pub(super) k: usize,
    pub(super) n: usize,
    pub(super) kernel: I8Kernel,
    /// Panel width NR of `kernel`; groups of 4 k per panel row.
    pub(super) nr: usize,
    pub(super) groups: usize,
    /// `n.div_ceil(nr)` panels of `groups x nr x 4` codes: for group g, column j, the 4
    /// weights `k = 4g..4g+4` are adjacent (one 32-bit lane of the kernel).
    pub(super) panels: Vec<i8>,
    /// Per output channel: the weight scale `s_w` and `colsum = Σ_k q_w`.
    pub(super) scales: Vec<f32>,
    pub(super) colsum: Vec<i32>,
    /// Per input channel: multiply activations by this before quantizing (SmoothQuant).
    pub(super) act_mul: Option<Vec<f32>>,
}

impl PackedI8 {
    /// Quantizes and packs `w: [n, k]` (row-major, f32) for the best kernel of this CPU.
    pub fn new(w: &[f32], n: usize, k: usize) -> Result<PackedI8> {
        PackedI8::with_kernel(I8Kernel::best(), w, n, k, None)
    }

    /// [`PackedI8::new`] for a given kernel, optionally with SmoothQuant factors `smooth[k]`
    /// (> 0): the weight's input column `k` is multiplied by `smooth[k]` before quantizing and
    /// the activations are divided by it at run time, which leaves `x·Wᵀ` unchanged.
    ///
    /// Errors if the kernel is not supported here, `w` is not `n * k` values, a weight is not
    /// finite, or `smooth` has the wrong length or a non-positive entry.
    pub fn with_kernel(kernel: I8Kernel, w: &[f32], n: usize, k: usize, smooth: Option<&[f32]>) -> Result<PackedI8> {
        if !kernel.is_supported() {
            return Err(Error::invalid("PackedI8", format!("this CPU does not support the {} kernel", kernel.name())));
        }
        if w.len() != n * k {
            return Err(Error::invalid("PackedI8", format!("weight has {} values, expected {n} x {k}", w.len())));
        }
        if let Some(i) = w.iter().position(|v| !v.is_finite()) {
            return Err(Error::invalid("PackedI8", format!("weight value #{i} is {} (not finite)", w[i])));
        }
        if let Some(s) = smooth
            && (s.len() != k || s.iter().any(|v| !(*v > 0.0 && v.is_finite())))
        {
            return Err(Error::invalid("PackedI8", format!("smoothing needs {k} positive factors, got {}", s.len())));
        }
        let (_, nr) = kernel.tile_shape();
        let groups = k.div_ceil(GROUP);
        let panel_len = groups * GROUP * nr;
        let mut panels = vec![0i8; n.div_ceil(nr) * panel_len];
        let mut scales = vec![0.0f32; n];
        let mut colsum = vec![0i32; n];
        let mut row = vec![0i8; k];
        let mut smoothed = vec![0.0f32; k];
        for j in 0..n {
            let wj = &w[j * k..(j + 1) * k];
            let wj = match smooth {
                Some(s) => {
                    smoothed.iter_mut().zip(wj.iter().zip(s)).for_each(|(o, (w, s))| *o = w * s);
                    &smoothed[..]
                }
                None => wj,
            };
            scales[j] = quantize_weight_row(wj, kernel.weight_max(), &mut row);
            colsum[j] = row.iter().map(|&q| q as i32).sum();
            let (p, c) = (j / nr, j % nr);
            for (kk, &q) in row.iter().enumerate() {
                panels[p * panel_len + (kk / GROUP) * GROUP * nr + c * GROUP + kk % GROUP] = q;
            }
        }
        let act_mul = smooth.map(|s| s.iter().map(|v| 1.0 / v).collect());
        Ok(PackedI8 { k, n, kernel, nr, groups, panels, scales, colsum, act_mul })
    }

    /// Input features (k).
    pub fn k(&self) -> usize {
        self.k
    }

    /// Output features (n).
    pub fn n(&self) -> usize {
        self.n
    }

    /// The microkernel the panels were packed for.
    pub fn kernel(&self) -> I8Kernel {
        self.kernel
    }

    /// Whether SmoothQuant factors were folded in.
    pub fn is_smoothed(&self) -> bool {
        self.act_mul.is_some()
    }

    /// Bytes owned: codes (with padding), scales, column sums, smoothing factors.
    pub fn bytes(&self) -> usize {
        self.panels.capacity() + 8 * self.n + 4 * self.act_mul.as_ref().map_or(0, |v| v.len())
    }

    /// The weight the int8 codes stand for, `[n, k]` f32 (smoothing undone): for measuring
    /// the quantization error of the weights alone.
    pub fn dequantized_weight(&self) -> Vec<f32> {
        let panel_len = self.groups * GROUP * self.nr;
        let mut w = vec![0.0f32; self.n * self.k];
        for j in 0..self.n {
            let (p, c) = (j / self.nr, j % self.nr);
            for kk in 0..self.k {
                let q = self.panels[p * panel_len + (kk / GROUP) * GROUP * self.nr + c * GROUP + kk % GROUP];
                let m = self.act_mul.as_ref().map_or(1.0, |m| m[kk]);
                w[j * self.k + kk] = q as f32 * self.scales[j] * m;
            }
        }
        w
    }
}
