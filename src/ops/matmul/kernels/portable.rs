//! # The portable microkernel: plain Rust the compiler vectorizes
//!
//! Same contract as the SIMD kernels (see `mod.rs`), no `unsafe`, no intrinsics: the tile of
//! C lives in a local `[[f32; NR]; H]` array, and because `H` and `NR` are compile-time
//! constants the compiler unrolls the loops, keeps the array in vector registers and uses
//! whatever SIMD the build target has (SSE2 on a default x86-64 build, NEON on aarch64).
//! Without FMA instructions (SSE2) every multiply-add costs two instructions, and with 16
//! registers the tile must stay small: 4 x 8. This kernel is what rung 2 (blocked) runs,
//! and the fallback on CPUs the SIMD kernels do not cover.

use super::{MicroKernel, check_tile, dispatch_height};
use crate::ops::matmul::epilogue::Epilogue;

/// The portable 4 x 8 kernel.
#[derive(Clone, Copy, Debug, Default)]
pub struct Portable;

const MR: usize = 4;
const NR: usize = 8;

impl MicroKernel for Portable {
    const MR: usize = MR;
    const NR: usize = NR;
    const NAME: &'static str = "portable";

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
    ) {
        check_tile::<MR, NR>(kc, mr, nr, a, b, c, ldc, &epilogue, col);
        dispatch_height!(mr, tile_h(kc, nr, a, b, c, ldc, accumulate, epilogue, col), [1 2 3 4]);
    }
}

/// The `H x NR` tile: `H` rank-1 updates of a register-resident accumulator per step.
#[allow(clippy::too_many_arguments)]
fn tile_h<const H: usize>(
    kc: usize,
    nr: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
    epilogue: Epilogue,
    col: usize,
) {
    let mut acc = [[0.0f32; NR]; H];
    // chunks_exact gives the compiler fixed-size pieces, so it drops the bounds checks.
    for (ap, bp) in a.chunks_exact(H).zip(b.chunks_exact(NR)).take(kc) {
        for i in 0..H {
            for j in 0..NR {
                acc[i][j] += ap[i] * bp[j];
            }
        }
    }
    for (i, acc) in acc.iter_mut().enumerate() {
        let out = &mut c[i * ldc..i * ldc + nr];
        if accumulate {
            acc.iter_mut().zip(out.iter()).for_each(|(x, o)| *x += o);
        }
        // The epilogue on the finished row while it is still in the accumulator.
        epilogue.finish(&mut acc[..nr], col);
        out.copy_from_slice(&acc[..nr]);
    }
}
