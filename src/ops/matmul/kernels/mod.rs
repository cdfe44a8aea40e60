//! # Rung 3: microkernels, a tile of C held in registers
//!
//! After packing (see `pack.rs` and `blocked.rs`), all that is left is the innermost
//! computation: an `mr x NR` tile of C, accumulated over `kc` steps of k.
//!
//! ```text
//!            B~ panel: kc rows of NR values (one k per row, contiguous)
//!            ┌──────────────┐
//!            │ b[p][0..NR]  │
//!            └──────────────┘
//! A~ panel   C tile (mr x NR accumulators, in registers for the whole k loop)
//! ┌──┐       ┌──────────────┐
//! │a │  ==>  │ c[i][j] += a[p][i] * b[p][j]     (one rank-1 update per p)
//! └──┘       └──────────────┘
//! ```
//!
//! Why registers: a CPU core can start two fused multiply-adds (FMA) per cycle, each on a
//! whole vector (16 f32 with AVX-512, 8 with AVX2), but it can only *load* two or three
//! values from memory per cycle. A naive loop loads a and b for every FMA and is limited by
//! loads. The microkernel keeps the whole C tile in vector registers and, per step p, loads
//! one row of the B~ panel (NR values = NR/16 vectors) and broadcasts mr scalars of A~: it
//! then does `mr * NR/16` FMAs for only `NR/16 + mr` loads. With the AVX-512 tile of
//! 14 x 32 that is 28 FMAs per 16 loads: the FMA units, not memory, set the pace.
//!
//! Why that many accumulators: an FMA's result is ready only ~4 cycles after it starts,
//! and two start every cycle, so at least 8 independent accumulators must be in flight
//! to keep both units busy. 28 accumulators + 2 B vectors + 1 broadcast = 31 of the 32
//! AVX-512 registers. AVX2 has 16 registers: a 6 x 16 tile uses 12 + 2 + 1 = 15.
//!
//! Three kernels implement the same [`MicroKernel`] contract:
//! - `portable.rs`: plain Rust, vectorized by the compiler for whatever the target has;
//!   builds and runs everywhere. Used by rung 2 (blocked) and as the fallback.
//! - `avx2.rs`: 6 x 16 with AVX2 + FMA intrinsics (`std::arch`).
//! - `avx512.rs`: 14 x 32 with AVX-512F intrinsics.
//!
//! The SIMD kernels are picked at run time with `is_x86_feature_detected!`: a kernel value
//! can only be created by `new()` after the check succeeded, so holding one *proves* the CPU
//! supports its instructions. That proof is what makes calling them sound.
//!
//! Gained over rung 2 (Zen 4, where AVX2 and AVX-512 have the same FMA peak): AVX2 93-102
//! GFLOP/s, AVX-512 91-106 GFLOP/s on BERT's Linear shapes, 78-91% of the measured FMA peak;
//! the AVX-512 kernel alone, on panels in L1, runs at 93-96% of it (docs/matmul.md).

pub mod portable;

#[cfg(target_arch = "x86_64")]
pub mod avx2;
#[cfg(target_arch = "x86_64")]
pub mod avx512;

use super::epilogue::Epilogue;
use super::pack;

/// The contract of a microkernel (see the module docs for the picture).
pub trait MicroKernel: Copy + Send + Sync {
    /// Most rows of C a tile can have (the A~ panel height).
    const MR: usize;
    /// Columns of C per tile (the B~ panel width), a multiple of the vector width.
    const NR: usize;
    /// A short name for tables.
    const NAME: &'static str;

    /// `C[i][j] = epilogue((C[i][j] +) Σ_p a[p * mr + i] * b[p * NR + j])` for `i < mr`,
    /// `j < nr`, where `C[i][j]` is `c[i * ldc + j]`.
    ///
    /// - `a`: A~ panel, `kc` steps of `mr` values (k-major);
    /// - `b`: B~ panel, `kc` steps of `NR` values (zero-padded beyond `nr`);
    /// - `c`: the tile's top-left element onwards; only the `mr x nr` tile is written;
    /// - `accumulate`: add to C (later k blocks) instead of overwriting it (first k block);
    /// - `epilogue`, `col`: applied to the finished tile as it is stored (last k block only;
    ///   `Epilogue::None` otherwise), with the tile's first column at `col` of the bias.
    ///
    /// # Panics
    /// If `mr` is not in `1..=MR`, `nr > NR`, a slice is too short, or `ldc < nr` with
    /// `mr > 1`.
    #[allow(clippy::too_many_arguments)]
    fn tile(
        &self,
        kc: usize,
        mr: usize,
        nr: usize,
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        ldc: usize,
        accumulate: bool,
        epilogue: Epilogue,
        col: usize,
    );

    /// Packs rows of a row-major matrix into a k-major panel of height `h` (an A~ panel, or a
    /// B~ panel of a transposed B): see [`pack::pack_rows`]. Kernels may override it with a
    /// faster (SIMD) version; the result must be identical.
    #[allow(clippy::too_many_arguments)]
    fn pack_rows(
        &self,
        data: &[f32],
        ld: usize,
        r0: usize,
        valid: usize,
        h: usize,
        p0: usize,
        kc: usize,
        dst: &mut [f32],
    ) {
        pack::pack_rows(data, ld, r0, valid, h, p0, kc, dst);
    }

    /// A hint that `data` will be read soon: fetch its cache lines towards the core (into L2)
    /// without waiting for them. Used for pre-packed B~ panels, which come from memory rather
    /// than from a packing buffer the core just wrote. The default does nothing.
    fn prefetch(&self, data: &[f32]) {
        let _ = data;
    }
}

/// [`MicroKernel::prefetch`] for the x86 kernels: one prefetch instruction per cache line.
#[cfg(target_arch = "x86_64")]
#[inline]
pub(crate) fn prefetch_l2(data: &[f32]) {
    use std::arch::x86_64::{_MM_HINT_T1, _mm_prefetch};
    for line in data.chunks(16) {
        // SAFETY: SSE is part of the x86-64 baseline; a prefetch never faults, whatever the
        // address (and this one is inside `data`).
        unsafe { _mm_prefetch::<_MM_HINT_T1>(line.as_ptr() as *const i8) };
    }
}

/// k steps before the end of a tile's k loop at which the x86 kernels prefetch their C tile
/// into L1 (it was prefetched into L2 at the start; fetched into L1 that early, it would be
/// evicted by the A and B panels streaming through).
#[cfg(target_arch = "x86_64")]
pub(crate) const C_PREFETCH_DISTANCE: usize = 24;

/// Prefetches the first and last float of `nr` columns in each of the first `h` rows of a C
/// tile starting at `c`, rows `ldc` apart: into L1 (`into_l1`) or into L2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) fn prefetch_c_tile(c: *const f32, ldc: usize, h: usize, nr: usize, into_l1: bool) {
    use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
    for i in 0..h {
        let row = c.wrapping_add(i * ldc);
        for p in [row, row.wrapping_add(nr - 1)] {
            // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults, whatever
            // the address.
            unsafe {
                if into_l1 {
                    _mm_prefetch::<_MM_HINT_T0>(p as *const i8);
                } else {
                    _mm_prefetch::<_MM_HINT_T1>(p as *const i8);
                }
            }
        }
    }
}

/// Checks the arguments shared by every kernel's `tile`, so the SIMD kernels may then use
/// raw pointers without bounds checks: after it, `a[..kc * mr]`, `b[..kc * NR]`,
/// `c[i * ldc..i * ldc + nr]` for `i < mr` and the bias values `col..col + nr` all exist.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn check_tile<const MR: usize, const NR: usize>(
    kc: usize,
    mr: usize,
    nr: usize,
    a: &[f32],
    b: &[f32],
    c: &[f32],
    ldc: usize,
    epilogue: &Epilogue,
    col: usize,
) {
    assert!((1..=MR).contains(&mr) && nr <= NR, "tile: {mr} x {nr} does not fit in {MR} x {NR}");
    assert!(a.len() >= kc * mr && b.len() >= kc * NR, "tile: packed panels shorter than kc = {kc}");
    assert!(mr == 1 || ldc >= nr, "tile: rows of C {ldc} apart overlap a tile {nr} wide");
    let need = (mr - 1) * ldc + nr;
    assert!(c.len() >= need, "tile: C has {} values, a {mr} x {nr} tile with ldc {ldc} needs {need}", c.len());
    if let Some(bias) = epilogue.bias() {
        assert!(bias.len() >= col + nr, "tile: bias too short for columns {col}..{}", col + nr);
    }
}

/// Calls `$f::<H>(args)` for the run-time height `$h` (1..=16): one monomorphized copy of
/// the kernel per height, so each tile's accumulators are a fixed-size array the compiler
/// keeps in registers (no wasted work on edge tiles).
macro_rules! dispatch_height {
    ($h:expr, $f:ident $args:tt, [$($n:literal)*]) => {
        match $h {
            $($n => $f::<$n> $args,)*
            h => unreachable!("no kernel for height {h}"),
        }
    };
}
pub(crate) use dispatch_height;

/// Which microkernel to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// Plain Rust, auto-vectorized (any target).
    Portable,
    /// AVX2 + FMA intrinsics (x86-64, Haswell and later).
    Avx2,
    /// AVX-512F intrinsics (x86-64, Skylake-X / Zen 4 and later).
    Avx512,
}

impl Kernel {
    /// True if this CPU can run the kernel.
    pub fn is_supported(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => avx2::Avx2::new().is_some(),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => avx512::Avx512::new().is_some(),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The fastest kernel this CPU supports.
    pub fn best() -> Kernel {
        [Kernel::Avx512, Kernel::Avx2].into_iter().find(|k| k.is_supported()).unwrap_or(Kernel::Portable)
    }

    /// Short name for tables ("portable", "avx2", "avx512").
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => portable::Portable::NAME,
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512",
        }
    }

    /// (MR, NR): the tile of C one call computes.
    pub fn tile_shape(self) -> (usize, usize) {
        match self {
            Kernel::Portable => (portable::Portable::MR, portable::Portable::NR),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => (avx2::Avx2::MR, avx2::Avx2::NR),
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx512 => (avx512::Avx512::MR, avx512::Avx512::NR),
            #[cfg(not(target_arch = "x86_64"))]
            _ => (0, 0),
        }
    }
}

/// Runs `f` with the kernel value for `kernel` (if the CPU supports it).
///
/// `f` is generic over the kernel type, so the whole loop nest gets compiled once per kernel
/// with the tile calls inlined: this is how one `blocked.rs` serves every kernel.
pub fn with_kernel<R>(kernel: Kernel, f: impl KernelFn<R>) -> Option<R> {
    match kernel {
        Kernel::Portable => Some(f.call(portable::Portable)),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2 => avx2::Avx2::new().map(|k| f.call(k)),
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => avx512::Avx512::new().map(|k| f.call(k)),
        #[cfg(not(target_arch = "x86_64"))]
        _ => None,
    }
}

/// A computation generic over the microkernel (a closure cannot be generic, a trait can).
pub trait KernelFn<R> {
    /// Runs the computation with `kernel`, monomorphized for its type.
    fn call<K: MicroKernel>(self, kernel: K) -> R;
}
