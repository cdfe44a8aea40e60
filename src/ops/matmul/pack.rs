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

/// A read-only strided matrix: element `(r, c)` is `data[r * ld + c]`, or `data[c * ld + r]`
/// when `trans` (then the stored matrix is the transpose of the logical one).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub ld: usize,
    pub trans: bool,
}

impl<'a> MatRef<'a> {
    /// Logical element `(r, c)`.
    #[inline]
    pub fn at(&self, r: usize, c: usize) -> f32 {
        if self.trans { self.data[c * self.ld + r] } else { self.data[r * self.ld + c] }
    }

    /// The submatrix starting at logical `(r, c)` (same `ld`).
    pub fn offset(&self, r: usize, c: usize) -> MatRef<'a> {
        let start = if self.trans { c * self.ld + r } else { r * self.ld + c };
        MatRef { data: self.data.get(start..).unwrap_or(&[]), ..*self }
    }
}

/// Row panels of a block of `mc` rows for a kernel of height `mr_max`: `(first row, height)`.
///
/// Full panels of `mr_max` rows, then the remainder. A tiny remainder (fewer than half a
/// panel) runs slowly, because too few accumulators are in flight to hide FMA latency, so
/// it is merged with the last full panel and the two are split evenly: 128 rows with
/// 14-row panels become 8 x 14 + 8 + 8 rather than 9 x 14 + 2.
pub fn row_panels(mc: usize, mr_max: usize) -> impl Iterator<Item = (usize, usize)> {
    let (full, rem) = (mc / mr_max, mc % mr_max);
    let mut heights = vec![mr_max; full];
    if rem > 0 && rem < mr_max / 2 && full > 0 {
        heights.pop();
        let both = mr_max + rem;
        heights.extend([both.div_ceil(2), both / 2]);
    } else if rem > 0 {
        heights.push(rem);
    }
    heights.into_iter().scan(0, |start, h| {
        let s = *start;
        *start += h;
        Some((s, h))
    })
}

/// One A~ panel: `dst[p * h + i] = A[r0 + i][p0 + p]`.
///
/// Row by row, so that reads are sequential; the writes stride by `h`.
pub fn pack_a_panel(a: MatRef, r0: usize, h: usize, p0: usize, kc: usize, dst: &mut [f32]) {
    if a.trans {
        for (p, d) in dst.chunks_exact_mut(h).take(kc).enumerate() {
            for (i, x) in d.iter_mut().enumerate() {
                *x = a.at(r0 + i, p0 + p);
            }
        }
        return;
    }
    for i in 0..h {
        let row = &a.data[(r0 + i) * a.ld + p0..][..kc];
        for (p, &x) in row.iter().enumerate() {
            dst[p * h + i] = x;
        }
    }
}

/// One B~ panel of width `nr` from logical rows `p0..p0 + kc`, columns `j0..j0 + w` of B:
/// `dst[p * nr + j] = B[p0 + p][j0 + j]`, zero for `w <= j < nr`.
pub fn pack_b_panel_any(b: MatRef, p0: usize, kc: usize, j0: usize, w: usize, nr: usize, dst: &mut [f32]) {
    let dst = &mut dst[..kc * nr];
    if b.trans {
        // Column j of B is row j of the stored matrix: read it sequentially.
        if w < nr {
            dst.fill(0.0);
        }
        for j in 0..w {
            let col = &b.data[(j0 + j) * b.ld + p0..][..kc];
            for (p, &x) in col.iter().enumerate() {
                dst[p * nr + j] = x;
            }
        }
    } else {
        // Row p of the panel is a contiguous piece of row p0 + p of B: a plain copy.
        for (p, d) in dst.chunks_exact_mut(nr).enumerate() {
            let src = &b.data[(p0 + p) * b.ld + j0..][..w];
            d[..w].copy_from_slice(src);
            d[w..].fill(0.0);
        }
    }
}

/// [`pack_b_panel_any`] for a non-transposed B with the panel width known at compile time,
/// so that a full row of the panel is copied with a few vector moves.
pub fn pack_b_panel<const NR: usize>(b: MatRef, p0: usize, kc: usize, j0: usize, w: usize, dst: &mut [f32]) {
    if b.trans || w < NR {
        return pack_b_panel_any(b, p0, kc, j0, w, NR, dst);
    }
    for (p, d) in dst[..kc * NR].chunks_exact_mut(NR).enumerate() {
        let src: &[f32; NR] = b.data[(p0 + p) * b.ld + j0..][..NR].try_into().expect("NR floats");
        d.copy_from_slice(src);
    }
}
