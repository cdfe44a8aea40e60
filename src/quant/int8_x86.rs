//! # The x86 int8 microkernels: an `H x NR` i32 tile, four k per instruction lane
//!
//! All three implement the contract of [`I8Tile`] (see `int8.rs`) with the same packed
//! layout (per group of 4 k: 4 weights for each of NR columns, adjacent). Per group:
//!
//! ```text
//! b_v = panel[g][v*lanes .. (v+1)*lanes]        NR/lanes vector loads (each lane: 4 i8)
//! for i in 0..H:  a = broadcast(A[i][4g..4g+4])  one 32-bit broadcast (4 u8), from the
//!                                                packed tile: bytes (g MR + i) 4 ..+4
//!                 acc[i][v] += dot4(a, b_v)      VNNI: one vpdpbusd per vector
//!                                                AVX2: vpsignb, vpmaddubsw,
//!                                                      vpmaddwd(·, 1), vpaddd
//! ```
//!
//! | kernel      | registers  | tile   | acc regs | MACs per instruction            |
//! |-------------|------------|--------|----------|---------------------------------|
//! | avx512-vnni | 32 x zmm   | 14x32  | 28       | 64 (`vpdpbusd zmm`)             |
//! | avx-vnni    | 16 x ymm   | 6x16   | 12       | 32 (`vpdpbusd ymm`)             |
//! | avx2        | 16 x ymm   | 4x16   | 8        | 32 per 4 instructions (+ vpabsb) |
//!
//! A value of each kernel type exists only once `new()` has checked the CPU flags, which is
//! what makes the `unsafe` calls below sound.

use std::arch::x86_64::*;

use super::driver::LowpTile;
use super::int8::{GROUP, I8Tile, MAX_MR, TileOut, check_tile, out_rows};

/// A finished tile's epilogue parameters and its rows of C (see [`I8Tile`]).
type Fin<'a> = Option<(&'a TileOut, &'a [*mut f32; MAX_MR])>;

/// Calls `$f::<H>(args)` for the run-time height `$h`, one monomorphized copy per height.
macro_rules! by_height {
    ($h:expr, $f:ident $args:tt, [$($n:literal)*]) => {
        match $h {
            $($n => $f::<$n> $args,)*
            h => unreachable!("no int8 kernel for height {h}"),
        }
    };
}

/// Proof that the CPU has AVX512F + AVX512_VNNI.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512Vnni(());

impl Avx512Vnni {
    pub(crate) fn new() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512vnni")).then_some(Avx512Vnni(()))
    }
}

impl LowpTile for Avx512Vnni {
    type A = u8;
    type B = i8;
    type Acc = i32;
    const MR: usize = 14;
    const NR: usize = 32;
    const PACKED_A: bool = true;
    fn tile(&self, kp: usize, h: usize, a: &[u8], _lda: usize, b: &[i8], acc: &mut [i32], load: bool) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX512F + AVX512_VNNI; `check_tile` verified that the packed A
        // holds `groups` groups of 14 rows (the last one `h` rows) of 4 bytes, the panel
        // `groups * 4 * 32` bytes and `acc` `h * 32` values.
        unsafe { by_height!(h, vnni512(groups, a, b, acc, load, None), [1 2 3 4 5 6 7 8 9 10 11 12 13 14]) }
    }
}

impl I8Tile for Avx512Vnni {
    fn tile_dequant(
        &self,
        kp: usize,
        h: usize,
        a: &[u8],
        b: &[i8],
        acc: &mut [i32],
        load: bool,
        ep: &TileOut,
        out: &mut [&mut [f32]],
        jc: usize,
    ) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let rows = out_rows(out, h, jc, Self::NR);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX512F + AVX512_VNNI; `check_tile` checked A, the panel and `acc` as in
        // `tile`, and `out_rows` that each of the `h` rows has 32 values from column `jc`.
        unsafe {
            by_height!(h, vnni512(groups, a, b, acc, load, Some((ep, &rows))), [1 2 3 4 5 6 7 8 9 10 11 12 13 14])
        }
    }
}

/// # Safety
/// AVX512F + AVX512_VNNI; `a`: a packed tile of 14 rows, `groups` groups (the last `H` rows)
/// of 4 bytes per row; `b`: `128 groups`
/// bytes; `acc`: `32 H` values; with `fin`, `out[i]` (i < H) points at 32 writable f32.
#[target_feature(enable = "avx512f,avx512vnni")]
unsafe fn vnni512<const H: usize>(groups: usize, a: *const u8, b: *const i8, acc: *mut i32, load: bool, fin: Fin) {
    let mut lo = [_mm512_setzero_si512(); H];
    let mut hi = [_mm512_setzero_si512(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 32 H values (the function's contract).
            unsafe {
                lo[i] = _mm512_loadu_si512(acc.add(i * 32) as *const _);
                hi[i] = _mm512_loadu_si512(acc.add(i * 32 + 16) as *const _);
            }
        }
    }
    for g in 0..groups {
        // SAFETY: g < groups, so the panel bytes 128g..128g+128 and the A bytes
        // (14g + i) * 4..+4 (i < H) are in bounds (see the function's contract).
        unsafe {
            let b0 = _mm512_loadu_si512(b.add(g * 128) as *const _);
            let b1 = _mm512_loadu_si512(b.add(g * 128 + 64) as *const _);
            for i in 0..H {
                let av = _mm512_set1_epi32(
                    (a.add((g * <Avx512Vnni as LowpTile>::MR + i) * GROUP) as *const i32).read_unaligned(),
                );
                lo[i] = _mm512_dpbusd_epi32(lo[i], av, b0);
                hi[i] = _mm512_dpbusd_epi32(hi[i], av, b1);
            }
        }
    }
    let Some((ep, out)) = fin else {
        for i in 0..H {
            // SAFETY: acc holds 32 H values.
            unsafe {
                _mm512_storeu_si512(acc.add(i * 32) as *mut _, lo[i]);
                _mm512_storeu_si512(acc.add(i * 32 + 16) as *mut _, hi[i]);
            }
        }
        return;
    };
    // The epilogue in registers: `dequantize`'s operations, in its order (see `I8Tile`).
    // SAFETY: the parameter arrays hold 32 values each (`TileOut`); `out[i]` (i < H) points
    // at 32 writable f32 (the function's contract).
    unsafe {
        let cs = [
            _mm512_loadu_si512(ep.colsum.as_ptr() as *const _),
            _mm512_loadu_si512(ep.colsum.as_ptr().add(16) as *const _),
        ];
        let sw = [_mm512_loadu_ps(ep.w_scale.as_ptr()), _mm512_loadu_ps(ep.w_scale.as_ptr().add(16))];
        let bias = [_mm512_loadu_ps(ep.bias.as_ptr()), _mm512_loadu_ps(ep.bias.as_ptr().add(16))];
        for i in 0..H {
            let (zp, sa) = (_mm512_set1_epi32(ep.zero_point[i]), _mm512_set1_ps(ep.scale[i]));
            for (v, acc) in [lo[i], hi[i]].into_iter().enumerate() {
                let d = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc, _mm512_mullo_epi32(zp, cs[v])));
                let y = _mm512_add_ps(_mm512_mul_ps(d, _mm512_mul_ps(sa, sw[v])), bias[v]);
                _mm512_storeu_ps(out[i].add(16 * v), y);
            }
        }
    }
}

/// Proof that the CPU has AVX2 + AVX-VNNI (the VEX-encoded 256-bit `vpdpbusd`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AvxVnni(());

impl AvxVnni {
    pub(crate) fn new() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("avxvnni")).then_some(AvxVnni(()))
    }
}

impl LowpTile for AvxVnni {
    type A = u8;
    type B = i8;
    type Acc = i32;
    const MR: usize = 6;
    const NR: usize = 16;
    const PACKED_A: bool = true;
    fn tile(&self, kp: usize, h: usize, a: &[u8], _lda: usize, b: &[i8], acc: &mut [i32], load: bool) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX2 + AVX-VNNI; bounds as checked by `check_tile` (A: a packed
        // tile of `groups` groups of 6 rows, the last `h`; panel: 64 groups bytes; acc: 16 h).
        unsafe { by_height!(h, vnni256(groups, a, b, acc, load, None), [1 2 3 4 5 6]) }
    }
}

impl I8Tile for AvxVnni {
    fn tile_dequant(
        &self,
        kp: usize,
        h: usize,
        a: &[u8],
        b: &[i8],
        acc: &mut [i32],
        load: bool,
        ep: &TileOut,
        out: &mut [&mut [f32]],
        jc: usize,
    ) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let rows = out_rows(out, h, jc, Self::NR);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX2 + AVX-VNNI; `check_tile` checked A, the panel and `acc` as in
        // `tile`, and `out_rows` that each of the `h` rows has 16 values from column `jc`.
        unsafe { by_height!(h, vnni256(groups, a, b, acc, load, Some((ep, &rows))), [1 2 3 4 5 6]) }
    }
}

/// # Safety
/// AVX2 + AVX-VNNI; `a`: a packed tile of 6 rows, `groups` groups (the last `H` rows) of 4
/// bytes per row; `b`: `64 groups` bytes;
/// `acc`: `16 H` values.
#[target_feature(enable = "avx2,avxvnni")]
unsafe fn vnni256<const H: usize>(groups: usize, a: *const u8, b: *const i8, acc: *mut i32, load: bool, fin: Fin) {
    let mut lo = [_mm256_setzero_si256(); H];
    let mut hi = [_mm256_setzero_si256(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 16 H values (the function's contract).
            unsafe {
                lo[i] = _mm256_loadu_si256(acc.add(i * 16) as *const __m256i);
                hi[i] = _mm256_loadu_si256(acc.add(i * 16 + 8) as *const __m256i);
            }
        }
    }
    for g in 0..groups {
        // SAFETY: g < groups: panel bytes 64g..64g+64 and A bytes (MR g + i) * 4..+4 are in bounds.
        unsafe {
            let b0 = _mm256_loadu_si256(b.add(g * 64) as *const __m256i);
            let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const __m256i);
            for i in 0..H {
                let av = _mm256_set1_epi32(
                    (a.add((g * <AvxVnni as LowpTile>::MR + i) * GROUP) as *const i32).read_unaligned(),
                );
                lo[i] = _mm256_dpbusd_avx_epi32(lo[i], av, b0);
                hi[i] = _mm256_dpbusd_avx_epi32(hi[i], av, b1);
            }
        }
    }
    // SAFETY: as in `finish256`'s contract: acc holds 16 H values, `out` as `fin` promises.
    unsafe { finish256::<H>(&lo, &hi, acc, fin) }
}

/// The end of a 256-bit kernel: the tile stored into `acc` (`fin` is None) or finished in
/// registers and written to C (`dequantize`'s operations, in its order: see `I8Tile`).
///
/// # Safety
/// AVX2; `acc`: `16 H` values; with `fin`, `out[i]` (i < H) points at 16 writable f32.
#[target_feature(enable = "avx2")]
unsafe fn finish256<const H: usize>(lo: &[__m256i; H], hi: &[__m256i; H], acc: *mut i32, fin: Fin) {
    let Some((ep, out)) = fin else {
        for i in 0..H {
            // SAFETY: acc holds 16 H values.
            unsafe {
                _mm256_storeu_si256(acc.add(i * 16) as *mut __m256i, lo[i]);
                _mm256_storeu_si256(acc.add(i * 16 + 8) as *mut __m256i, hi[i]);
            }
        }
        return;
    };
    // SAFETY: the parameter arrays hold 32 values each (`TileOut`), 16 are read; `out[i]`
    // points at 16 writable f32 (the function's contract).
    unsafe {
        let cs = [
            _mm256_loadu_si256(ep.colsum.as_ptr() as *const _),
            _mm256_loadu_si256(ep.colsum.as_ptr().add(8) as *const _),
        ];
        let sw = [_mm256_loadu_ps(ep.w_scale.as_ptr()), _mm256_loadu_ps(ep.w_scale.as_ptr().add(8))];
        let bias = [_mm256_loadu_ps(ep.bias.as_ptr()), _mm256_loadu_ps(ep.bias.as_ptr().add(8))];
        for i in 0..H {
            let (zp, sa) = (_mm256_set1_epi32(ep.zero_point[i]), _mm256_set1_ps(ep.scale[i]));
            for (v, acc) in [lo[i], hi[i]].into_iter().enumerate() {
                let d = _mm256_cvtepi32_ps(_mm256_sub_epi32(acc, _mm256_mullo_epi32(zp, cs[v])));
                let y = _mm256_add_ps(_mm256_mul_ps(d, _mm256_mul_ps(sa, sw[v])), bias[v]);
                _mm256_storeu_ps(out[i].add(8 * v), y);
            }
        }
    }
}

/// Proof that the CPU has AVX2.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn new() -> Option<Self> {
        is_x86_feature_detected!("avx2").then_some(Avx2(()))
    }
}

impl LowpTile for Avx2 {
    type A = u8;
    type B = i8;
    type Acc = i32;
    const MR: usize = 4;
    const NR: usize = 16;
    const PACKED_A: bool = true;
    fn tile(&self, kp: usize, h: usize, a: &[u8], _lda: usize, b: &[i8], acc: &mut [i32], load: bool) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX2; `check_tile` verified that the packed A holds `groups`
        // groups of 4 rows (the last one `h` rows) of 4 bytes, the panel `groups * 4 * 16`
        // bytes and `acc` `h * 16` values.
        unsafe { by_height!(h, madd256(groups, a, b, acc, load, None), [1 2 3 4]) }
    }
}

impl I8Tile for Avx2 {
    fn tile_dequant(
        &self,
        kp: usize,
        h: usize,
        a: &[u8],
        b: &[i8],
        acc: &mut [i32],
        load: bool,
        ep: &TileOut,
        out: &mut [&mut [f32]],
        jc: usize,
    ) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        let rows = out_rows(out, h, jc, Self::NR);
        let (a, b, acc) = (a.as_ptr(), b.as_ptr(), acc.as_mut_ptr());
        // SAFETY: `self` proves AVX2; `check_tile` checked A, the panel and `acc` as in
        // `tile`, and `out_rows` that each of the `h` rows has 16 values from column `jc`.
        unsafe { by_height!(h, madd256(groups, a, b, acc, load, Some((ep, &rows))), [1 2 3 4]) }
    }
}

/// The AVX2 kernel on centred activations `a` (i8, `-127..=127`) and 8-bit weights `w`
/// (`-127..=127`): `vpmaddubsw(|w|, sign(a, w))` multiplies the unsigned `|w|` by `a` with
/// the sign of `w` — the same product `a w` — and adds adjacent pairs into i16, at most
/// `2 x 127 x 127 = 32258` in size, so the i16 never saturates; `vpmaddwd` by ones then adds
/// pairs of those into i32: the 4-product lane sums of `vpdpbusd`, exactly.
///
/// # Safety
/// AVX2; `a`: a packed tile of 4 rows, `groups` groups (the last `H` rows) of 4 bytes per
/// row; `b`: `64 groups` bytes; `acc`: `16 H`.
#[target_feature(enable = "avx2")]
unsafe fn madd256<const H: usize>(groups: usize, a: *const u8, b: *const i8, acc: *mut i32, load: bool, fin: Fin) {
    let ones = _mm256_set1_epi16(1);
    let mut lo = [_mm256_setzero_si256(); H];
    let mut hi = [_mm256_setzero_si256(); H];
    if load {
        for i in 0..H {
            // SAFETY: acc holds 16 H values (the function's contract).
            unsafe {
                lo[i] = _mm256_loadu_si256(acc.add(i * 16) as *const __m256i);
                hi[i] = _mm256_loadu_si256(acc.add(i * 16 + 8) as *const __m256i);
            }
        }
    }
    for g in 0..groups {
        // SAFETY: g < groups: panel bytes 64g..64g+64 and A bytes (MR g + i) * 4..+4 are in bounds.
        unsafe {
            let b0 = _mm256_loadu_si256(b.add(g * 64) as *const __m256i);
            let b1 = _mm256_loadu_si256(b.add(g * 64 + 32) as *const __m256i);
            let (u0, u1) = (_mm256_abs_epi8(b0), _mm256_abs_epi8(b1));
            for i in 0..H {
                let av =
                    _mm256_set1_epi32((a.add((g * <Avx2 as LowpTile>::MR + i) * GROUP) as *const i32).read_unaligned());
                let p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(av, b0)), ones);
                lo[i] = _mm256_add_epi32(lo[i], p0);
                let p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(av, b1)), ones);
                hi[i] = _mm256_add_epi32(hi[i], p1);
            }
        }
    }
    // SAFETY: as in `finish256`'s contract: acc holds 16 H values, `out` as `fin` promises.
    unsafe { finish256::<H>(&lo, &hi, acc, fin) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The i16 saturation trap of `vpmaddubsw`, shown, and the way around it: u8 255 times
    /// i8 127 in pairs clips to 32767; the centred, sign-moved operands of `madd256` sum the
    /// extreme products exactly, with either sign.
    #[test]
    fn avx2_no_saturation() {
        let Some(k) = Avx2::new() else {
            let _ = std::io::Write::write_all(&mut std::io::stderr(), b"avx2_no_saturation: no AVX2, not run\n");
            return;
        };
        // SAFETY: AVX2 is present (`Avx2::new` checked it).
        let clipped = unsafe {
            let a = _mm256_set1_epi8(-1); // u8 255
            let w = _mm256_set1_epi8(127);
            _mm256_extract_epi16::<0>(_mm256_maddubs_epi16(a, w))
        };
        assert_eq!(clipped as i16, i16::MAX, "255 x 127 x 2 = 64770 clips to 32767");
        let mut acc = [0i32; 16];
        for (a, w) in [(127i8, 127i8), (-127, 127), (127, -127), (-127, -127), (-1, -127), (0, -127)] {
            let codes = [a as u8; 4];
            k.tile(4, 1, &codes, 0, &[w; 64], &mut acc, false);
            assert_eq!(acc, [4 * a as i32 * w as i32; 16], "a = {a}, w = {w}");
        }
    }
}

/// The activation quantizer's two passes on AVX-512 (`int8/quantizer.rs` has the plain copy
/// and the contract): the range in 16 lanes, `_mm512_min_ps(v, lo)` being exactly the plain
/// copy's `if v < lo { v } else { lo }` (NaN skipped), then 16 codes per step — multiply,
/// round to nearest even, add the zero point, clamp, convert, subtract the offset, narrow to
/// bytes — each group of 4 stored at its place in the packed tile.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Quantize512(());

impl Quantize512 {
    pub(crate) fn new() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")).then_some(Quantize512(()))
    }

    /// The 16 lanes of the running minimum, maximum and NaN poison over `x[..16 w]` (times
    /// `mul` when given), `w = x.len() / 16`, as the plain copy keeps them.
    pub(crate) fn lanes(self, x: &[f32], mul: Option<&[f32]>) -> [[f32; 16]; 3] {
        assert!(
            mul.is_none_or(|m| m.len() >= x.len()),
            "quantizer: {} factors for {} values",
            mul.map_or(0, |m| m.len()),
            x.len()
        );
        // SAFETY: `self` proves AVX512F; every load is at k + 16 <= x.len() (and mul as long).
        unsafe { lanes512(x, mul) }
    }

    /// Codes of `x[..16 w]` (`w = x.len() / 16`) into row `row` of a packed tile of `mr` rows.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn codes(
        self,
        x: &[f32],
        mul: Option<&[f32]>,
        inv: f32,
        zero_point: f32,
        levels: f32,
        offset: u8,
        tile: &mut [u8],
        mr: usize,
        row: usize,
    ) {
        let whole = x.len() / 16 * 16;
        assert!(mul.is_none_or(|m| m.len() >= x.len()), "quantizer: too few factors");
        assert!(
            row < mr && (whole == 0 || tile.len() >= ((whole / 4 - 1) * mr + row + 1) * 4),
            "quantizer: tile too short"
        );
        // SAFETY: `self` proves AVX512F + BW; loads at k + 16 <= x.len(), stores at
        // ((k/4 + t) mr + row) * 4 + 4 <= tile.len() for k + 16 <= whole (checked above).
        unsafe { codes512(x, mul, inv, zero_point, levels, offset, tile.as_mut_ptr(), mr, row) }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn lanes512(x: &[f32], mul: Option<&[f32]>) -> [[f32; 16]; 3] {
    let (mut lo, mut hi, mut poison) = (_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps());
    let zero = _mm512_setzero_ps();
    for k in (0..x.len() / 16 * 16).step_by(16) {
        // SAFETY: k + 16 <= x.len() (and mul is at least as long: the caller checked).
        let v = unsafe {
            let v = _mm512_loadu_ps(x.as_ptr().add(k));
            match mul {
                Some(m) => _mm512_mul_ps(v, _mm512_loadu_ps(m.as_ptr().add(k))),
                None => v,
            }
        };
        lo = _mm512_min_ps(v, lo);
        hi = _mm512_max_ps(v, hi);
        poison = _mm512_add_ps(poison, _mm512_mul_ps(v, zero));
    }
    let mut out = [[0.0f32; 16]; 3];
    // SAFETY: each array holds 16 f32.
    unsafe {
        _mm512_storeu_ps(out[0].as_mut_ptr(), lo);
        _mm512_storeu_ps(out[1].as_mut_ptr(), hi);
        _mm512_storeu_ps(out[2].as_mut_ptr(), poison);
    }
    out
}

/// # Safety
/// AVX512F + BW; `mul` (when given) as long as `x`; `tile` writable up to
/// `((w 4 - 1) mr + row + 1) * 4` bytes for `w = x.len() / 16` whole steps.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn codes512(
    x: &[f32],
    mul: Option<&[f32]>,
    inv: f32,
    zp: f32,
    levels: f32,
    offset: u8,
    tile: *mut u8,
    mr: usize,
    row: usize,
) {
    let (inv, zp, top, zero) = (_mm512_set1_ps(inv), _mm512_set1_ps(zp), _mm512_set1_ps(levels), _mm512_setzero_ps());
    let off = _mm512_set1_epi32(offset as i32);
    for k in (0..x.len() / 16 * 16).step_by(16) {
        // SAFETY: k + 16 <= x.len() (mul as long); the four stores are inside the tile (the
        // function's contract).
        unsafe {
            let mut v = _mm512_loadu_ps(x.as_ptr().add(k));
            if let Some(m) = mul {
                v = _mm512_mul_ps(v, _mm512_loadu_ps(m.as_ptr().add(k)));
            }
            let r = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm512_mul_ps(v, inv));
            let q = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(r, zp), zero), top);
            let bytes = _mm512_cvtepi32_epi8(_mm512_sub_epi32(_mm512_cvtps_epi32(q), off));
            let g = k / 4;
            for t in 0..4 {
                let lane = match t {
                    0 => _mm_extract_epi32::<0>(bytes),
                    1 => _mm_extract_epi32::<1>(bytes),
                    2 => _mm_extract_epi32::<2>(bytes),
                    _ => _mm_extract_epi32::<3>(bytes),
                };
                (tile.add(((g + t) * mr + row) * 4) as *mut i32).write_unaligned(lane);
            }
        }
    }
}
