//! # `bench matmul`, lower precision: each precision's GEMM against its own peak
//!
//! The f32 ladder measures GFLOP/s against the FP32 FMA peak. An int8 or bf16 GEMM must be
//! measured against the peak of *its* instruction, or it would look faster than it is: on
//! Zen 4 `vpdpbusd` does 4x and `vdpbf16ps` 2x the multiply-adds of an FP32 FMA per
//! instruction. So, for BERT's three Linear shapes (`y = x·Wᵀ`, the weight packed once as a
//! Linear keeps it) at M = 128 and M = 1024, on 1 and 2 threads, this times
//!
//! - `int8`: `quant::int8::gemm_i8` with the best int8 kernel (quantizing A included), in
//!   G ops/s (2 per multiply-add) against the measured int8 dot-product peak (`crate::dot_peaks`);
//! - `int8 avx2`: the AVX2 kernel on the same CPU (when it is not already the best), against
//!   the AVX2 `vpmaddubsw` peak;
//! - `bf16`: `quant::half::gemm_half` with the best bf16 kernel, against the `vdpbf16ps` peak
//!   (or the FP32 peak where bf16 is widened to f32);
//! - `f16`: widened to f32 in registers, against the FP32 peak.
//!
//! As in the f32 ladder, each shape's configurations are timed round-robin and the peaks are
//! measured again beside every shape, so a noisy neighbour slows both sides of a ratio.

use std::fmt::Write as _;
use std::time::Instant;

use rayon::ThreadPool;

use super::peak::{dot_peak, fma_peak};
use crate::dot_peaks::{self, DotChains};
use nanobert::Result;
use nanobert::ops::matmul::{Epilogue, Kernel};
use nanobert::quant::Precision;
use nanobert::quant::half::{HalfKernel, PackedHalf, gemm_half};
use nanobert::quant::int8::{I8Kernel, PackedI8, gemm_i8};

/// One lower-precision configuration: a weight format and the kernel that runs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LowpConfig {
    /// int8 weights and per-token int8 activations.
    Int8(I8Kernel),
    /// f16 or bf16 weights.
    Half(Precision, HalfKernel),
}

impl LowpConfig {
    /// "int8 avx512-vnni", "bf16 avx512-bf16", ...
    pub fn name(self) -> String {
        match self {
            LowpConfig::Int8(k) => format!("int8 {}", k.name()),
            LowpConfig::Half(p, k) => format!("{p} {}", k.name()),
        }
    }

    /// The configurations this CPU runs: the best kernel of each precision, and the AVX2
    /// int8 kernel beside a VNNI one.
    pub fn available() -> Vec<LowpConfig> {
        let mut out = vec![LowpConfig::Int8(I8Kernel::best())];
        if I8Kernel::best() != I8Kernel::Avx2 && I8Kernel::Avx2.is_supported() {
            out.push(LowpConfig::Int8(I8Kernel::Avx2));
        }
        out.push(LowpConfig::Half(Precision::Bf16, HalfKernel::best(Precision::Bf16)));
        out.push(LowpConfig::Half(Precision::F16, HalfKernel::best(Precision::F16)));
        out
    }

    /// The peak loop this configuration is measured against (`None`: the FP32 FMA peak).
    fn peak(self) -> Option<DotChains> {
        match self {
            LowpConfig::Int8(I8Kernel::Avx2) => dot_peaks::avx2_int8_chains(),
            LowpConfig::Int8(I8Kernel::Portable) => None,
            LowpConfig::Int8(_) => dot_peaks::int8_chains(),
            LowpConfig::Half(_, HalfKernel::Avx512Bf16) => dot_peaks::bf16_chains(),
            LowpConfig::Half(..) => None,
        }
    }
}

/// One timed configuration on one shape and thread count.
#[derive(Clone, Debug)]
pub struct LowpMeasurement {
    /// `m x k · n x kᵀ`.
    pub shape: (usize, usize, usize),
    /// What ran.
    pub config: LowpConfig,
    /// Threads.
    pub threads: usize,
    /// Best time of one product, seconds.
    pub seconds: f64,
    /// G ops/s (2 per multiply-add).
    pub gops: f64,
    /// The peak it is measured against, measured beside it.
    pub peak_gops: f64,
    /// Which peak ("int8 GOP/s (avx512-vnni)", "FP32 FMA (avx512)", ...).
    pub peak_name: String,
}

/// Times every [`LowpConfig::available`] on BERT's Linear shapes (`ms` rows) for each pool,
/// `min_time` seconds per configuration and shape (at least 3 repetitions). Returns the
/// measurements and a Markdown table.
pub fn run_lowp(ms: &[usize], pools: &[(usize, ThreadPool)], min_time: f64) -> Result<(Vec<LowpMeasurement>, String)> {
    let configs = LowpConfig::available();
    let fma_kernel = Kernel::best();
    let mut out = Vec::new();
    for &m in ms {
        for &(k, n) in &[(768usize, 768usize), (768, 3072), (3072, 768)] {
            let x = nanobert::Tensor::randn(&[m * k], 1).to_vec();
            let w = nanobert::Tensor::randn(&[n * k], 2).to_vec();
            let bias = vec![0.1f32; n];
            let mut y = vec![0.0f32; m * n];
            enum W {
                I(PackedI8),
                H(PackedHalf),
            }
            let packed: Vec<W> = configs
                .iter()
                .map(|c| match *c {
                    LowpConfig::Int8(kern) => PackedI8::with_kernel(kern, &w, n, k, None).map(W::I),
                    LowpConfig::Half(p, kern) => PackedHalf::with_kernel(kern, p, &w, n, k).map(W::H),
                })
                .collect::<Result<_>>()?;
            for (threads, pool) in pools {
                let mut best = vec![f64::INFINITY; configs.len()];
                let mut peak = vec![0.0f64; configs.len()];
                let mut fma = 0.0f64;
                let start = Instant::now();
                let mut reps = 0;
                // Round-robin: one product of each configuration per turn, a peak per turn.
                while reps < 3 || start.elapsed().as_secs_f64() < min_time * configs.len() as f64 {
                    for (ci, pw) in packed.iter().enumerate() {
                        let t = Instant::now();
                        pool.install(|| match pw {
                            W::I(q) => gemm_i8(m, &x, k, q, &mut y, n, Epilogue::Bias(&bias)),
                            W::H(h) => gemm_half(m, &x, k, h, &mut y, n, Epilogue::Bias(&bias)),
                        })?;
                        best[ci] = best[ci].min(t.elapsed().as_secs_f64());
                    }
                    if reps % 4 == 0 {
                        for (ci, c) in configs.iter().enumerate() {
                            if let Some(chains) = c.peak() {
                                peak[ci] = peak[ci].max(dot_peak(chains, pool, 0.005));
                            }
                        }
                        fma = fma.max(fma_peak(fma_kernel, pool, 0.005).unwrap_or(0.0));
                    }
                    reps += 1;
                }
                for (ci, c) in configs.iter().enumerate() {
                    let (peak_gops, peak_name) = match c.peak() {
                        Some(chains) => (peak[ci], chains.name.to_string()),
                        None => (fma, format!("FP32 FMA GFLOP/s ({})", fma_kernel.name())),
                    };
                    let gops = 2.0 * (m * k * n) as f64 / best[ci] / 1e9;
                    out.push(LowpMeasurement {
                        shape: (m, k, n),
                        config: *c,
                        threads: *threads,
                        seconds: best[ci],
                        gops,
                        peak_gops,
                        peak_name,
                    });
                }
            }
        }
    }
    Ok((out.clone(), table(&out)))
}

/// The Markdown table of [`run_lowp`]'s measurements.
pub fn table(ms: &[LowpMeasurement]) -> String {
    let mut s = String::from(
        "| shape (y = x·Wᵀ) | precision, kernel | threads | G ops/s | peak G ops/s | % of peak | peak of |\n\
         |---|---|---:|---:|---:|---:|---|\n",
    );
    for r in ms {
        let (m, k, n) = r.shape;
        let _ = writeln!(
            s,
            "| {m}x{k} · {n}x{k}ᵀ | {} | {} | {:.1} | {:.1} | {:.0}% | {} |",
            r.config.name(),
            r.threads,
            r.gops,
            r.peak_gops,
            100.0 * r.gops / r.peak_gops,
            r.peak_name
        );
    }
    s
}
