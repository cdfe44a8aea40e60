//! # Packing: copying blocks of A and B into the order the microkernel reads them
//!
//! The microkernel (see `kernels/`) walks k from 0 to kc and, at each step, needs `mr`
//! values of A (one per row of its C tile) and `NR` values of B (one per column). In the
//! original matrices those values are scattered: the `mr` values of A sit in `mr` different
//! rows, `lda` floats apart; a column of B in A·Bᵀ is a row of the stored matrix. Packing
//! copies a block once into exactly that order, so the kernel then reads one contiguous,
//! aligned stream:
//!
//! ```text
//! A (row-major, mr rows)          A~ panel (k-major)
//! a00 a01 a02 ...                 a00 a10 a20 | a01 a11 a21 | a02 a12 a22 | ...
//! a10 a11 a12 ...        ==>        step p=0       step p=1      step p=2
//! a20 a21 a22 ...
//! ```
//!
//! The copy costs O(mc·kc + kc·nc) and is reused O(nc/NR) and O(mc/mr) times by the kernel
//! calls; it also removes TLB misses and cache-set conflicts of large strides, and makes
//! `A·Bᵀ` cost the same as `A·B`: only the packing routine knows which one it is reading.
//! Edge panels narrower than `NR` are padded with zeros, so the kernel never needs to know.

use super::view::MatRef;

/// Row panels of a block of `mc` rows for a kernel of height `mr_max`: `(first row, height)`.
///
/// As few panels as fit (`⌈mc / mr_max⌉`), their heights as even as possible: 128 rows with
/// 14-row panels become 8 x 13 + 2 x 12 rather than 9 x 14 + 2. A short last panel would
/// run slowly (too few accumulators in flight to hide the FMA latency, and a whole B~
/// panel read for a sliver of work); heights one apart cost the same per flop.
pub fn row_panels(mc: usize, mr_max: usize) -> impl Iterator<Item = (usize, usize)> + Clone {
    let panels = mc.div_ceil(mr_max.max(1));
    let (base, taller) = (mc.checked_div(panels).unwrap_or(0), mc.checked_rem(panels).unwrap_or(0));
    (0..panels).map(move |p| (p * base + p.min(taller), base + usize::from(p < taller)))
}

/// Packs rows of a row-major matrix into one k-major panel of height `h`:
/// `dst[p * h + i] = data[(r0 + i) * ld + p0 + p]` for `i < valid`, `0` for `valid <= i < h`.
///
/// This is both the A~ panel (rows of A, `valid == h`) and the B~ panel of a transposed B
/// (rows of the stored Bᵀ are columns of B; `valid < h` at the right edge of C). Row by row,
/// so reads are sequential; the writes stride by `h`. SIMD kernels override it with an
/// in-register transpose (`kernels/avx2.rs`).
#[allow(clippy::too_many_arguments)]
pub fn pack_rows(data: &[f32], ld: usize, r0: usize, valid: usize, h: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    let dst = &mut dst[..kc * h];
    if valid < h {
        dst.fill(0.0);
    }
    for i in 0..valid {
        let row = &data[(r0 + i) * ld + p0..][..kc];
        for (p, &x) in row.iter().enumerate() {
            dst[p * h + i] = x;
        }
    }
}

/// Packs a `kc x nc` block of a non-transposed B (rows `p0..`, columns `j0..`) into panels of
/// width `nr`, `stride` floats apart, each `kc` steps of `nr` values, zero-padded at the edge.
///
/// Row by row of B, so the reads are one sequential stream the hardware prefetcher follows
/// (a panel-by-panel loop would read 128 bytes every `ldb` floats); each row is scattered
/// into the panels, which sit in cache.
#[allow(clippy::too_many_arguments)]
pub fn pack_b_block(b: MatRef, p0: usize, kc: usize, j0: usize, nc: usize, nr: usize, stride: usize, dst: &mut [f32]) {
    // With the width a compile-time constant, each copy is a few vector moves.
    match nr {
        8 => pack_b_block_nr::<8>(b, p0, kc, j0, nc, stride, dst),
        16 => pack_b_block_nr::<16>(b, p0, kc, j0, nc, stride, dst),
        32 => pack_b_block_nr::<32>(b, p0, kc, j0, nc, stride, dst),
        _ => unreachable!("no kernel has NR = {nr}"),
    }
}

fn pack_b_block_nr<const NR: usize>(
    b: MatRef,
    p0: usize,
    kc: usize,
    j0: usize,
    nc: usize,
    stride: usize,
    dst: &mut [f32],
) {
    let panels = nc.div_ceil(NR);
    let dst = &mut dst[..panels * stride];
    for p in 0..kc {
        let row = &b.data[(p0 + p) * b.ld + j0..][..nc];
        let chunks = row.chunks_exact(NR);
        let tail = chunks.remainder();
        for (jp, chunk) in chunks.enumerate() {
            dst[jp * stride + p * NR..][..NR].copy_from_slice(chunk);
        }
        if !tail.is_empty() {
            let d = &mut dst[(panels - 1) * stride + p * NR..][..NR];
            d[..tail.len()].copy_from_slice(tail);
            d[tail.len()..].fill(0.0);
        }
    }
}
