//! # What "peak" means: this machine's FP32 FMA throughput, measured
//!
//! A core's floating-point peak is `FMA units x vector lanes x 2 flops x clock`: for example
//! 2 AVX-512 FMA units x 16 floats x 2 x 2.1 GHz = 134 GFLOP/s. Rather than trust a data
//! sheet (clocks vary, virtual machines hide things), we measure it: each thread runs many
//! independent chains `acc = acc * x + y` on registers only, so nothing but the FMA units
//! limits the speed. Enough chains (16 for AVX-512) are in flight to cover the FMA latency
//! (about 4 cycles x 2 units = 8 at least). No real GEMM can beat this number; how close it
//! gets (% of peak) is the measure of a kernel.

use std::time::Instant;

use rayon::ThreadPool;

use nanobert::ops::matmul::kernels::Kernel;

/// Measured FMA throughput in GFLOP/s of `kernel`'s instruction set on every thread of `pool`
/// (all threads at once), best of a few trials of about `seconds` each; `None` if the CPU
/// lacks the instructions.
pub fn fma_peak(kernel: Kernel, pool: &ThreadPool, seconds: f64) -> Option<f64> {
    let chains = FmaChains::new(kernel, seconds)?;
    Some((0..5).map(|_| chains.run(pool)).fold(0.0, f64::max))
}

/// A calibrated run of the FMA chains (about a given duration per thread).
#[derive(Clone, Copy)]
pub struct FmaChains {
    flops_per_iter: usize,
    iters: usize,
    chains: fn(usize) -> f32,
}

/// Peak of a lower-precision dot-product loop ([`crate::dot_peaks`]) on every thread of
/// `pool`, in G ops/s, best of a few trials of about `seconds` each.
pub fn dot_peak(c: crate::dot_peaks::DotChains, pool: &ThreadPool, seconds: f64) -> f64 {
    let chains = FmaChains::calibrate(c.ops_per_iter, c.run, seconds);
    (0..5).map(|_| chains.run(pool)).fold(0.0, f64::max)
}

impl FmaChains {
    /// Calibrates the iteration count for `seconds` on one thread.
    pub fn new(kernel: Kernel, seconds: f64) -> Option<FmaChains> {
        let (flops_per_iter, chains) = chains(kernel)?;
        Some(Self::calibrate(flops_per_iter, chains, seconds))
    }

    /// Calibrates any register-only loop doing `flops_per_iter` ops per iteration.
    fn calibrate(flops_per_iter: usize, chains: fn(usize) -> f32, seconds: f64) -> FmaChains {
        let mut iters = 10_000usize;
        loop {
            let t = Instant::now();
            std::hint::black_box(chains(iters));
            let dt = t.elapsed().as_secs_f64();
            if dt > 0.002 {
                iters = ((iters as f64) * seconds / dt).max(1.0) as usize;
                return FmaChains { flops_per_iter, iters, chains };
            }
            iters *= 4;
        }
    }

    /// GFLOP/s of one run on all threads of `pool` at once.
    pub fn run(&self, pool: &ThreadPool) -> f64 {
        let (chains, iters) = (self.chains, self.iters);
        let t = Instant::now();
        std::hint::black_box(pool.broadcast(|_| chains(iters)));
        let dt = t.elapsed().as_secs_f64();
        (pool.current_num_threads() * iters * self.flops_per_iter) as f64 / dt / 1e9
    }
}

/// (flops per iteration, the chain loop) for a kernel's instruction set.
type Chains = (usize, fn(usize) -> f32);

fn chains(kernel: Kernel) -> Option<Chains> {
    match kernel {
        Kernel::Portable => Some((PORTABLE_CHAINS * 8 * 2, portable_chains)),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => {
            use nanobert::ops::matmul::kernels::avx2::{Avx2, PEAK_CHAINS};
            Avx2::new()?;
            Some((PEAK_CHAINS * 8 * 2, |iters| Avx2::new().map_or(0.0, |k| k.fma_chains(iters))))
        }
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => {
            use nanobert::ops::matmul::kernels::avx512::{Avx512, PEAK_CHAINS};
            Avx512::new()?;
            Some((PEAK_CHAINS * 16 * 2, |iters| Avx512::new().map_or(0.0, |k| k.fma_chains(iters))))
        }
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

const PORTABLE_CHAINS: usize = 8;

/// The same chains in plain Rust (8-float arrays the compiler vectorizes; a multiply and an
/// add, since FMA is not in the default x86-64 target).
fn portable_chains(iters: usize) -> f32 {
    let x = std::hint::black_box(0.999_9f32);
    let y = std::hint::black_box(1e-4f32);
    let mut acc = [[0.0f32; 8]; PORTABLE_CHAINS];
    for _ in 0..iters {
        for chain in acc.iter_mut() {
            for v in chain.iter_mut() {
                *v = *v * x + y;
            }
        }
    }
    acc.iter().flatten().sum()
}
