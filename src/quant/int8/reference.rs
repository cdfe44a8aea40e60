//! The readable versions: the portable microkernel (the contract as plain loops) and the
//! whole int8 Linear as the formulas of the module docs, the reference every kernel is
//! tested against bit for bit.

use super::{GROUP, I8Tile, RowQuant, TileOut, check_tile, dequantize, quantize_row, quantize_weight_row};
use crate::quant::driver::LowpTile;

/// The portable microkernel: the contract as plain loops.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Portable;

impl LowpTile for Portable {
    type A = u8;
    type B = i8;
    type Acc = i32;
    const MR: usize = 4;
    const NR: usize = 16;
    const PACKED_A: bool = true;
    fn tile(&self, kp: usize, h: usize, a: &[u8], _lda: usize, b: &[i8], acc: &mut [i32], load: bool) {
        let groups = kp / GROUP;
        check_tile(Self::MR, Self::NR, groups, h, a, b, acc);
        for i in 0..h {
            let out = &mut acc[i * Self::NR..(i + 1) * Self::NR];
            if !load {
                out.fill(0);
            }
            for g in 0..groups {
                let av = &a[(g * Self::MR + i) * GROUP..][..GROUP];
                let bg = &b[g * GROUP * Self::NR..(g + 1) * GROUP * Self::NR];
                for (j, o) in out.iter_mut().enumerate() {
                    *o += (0..GROUP).map(|t| av[t] as i32 * bg[j * GROUP + t] as i32).sum::<i32>();
                }
            }
        }
    }
}

impl I8Tile for Portable {
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
        self.tile(kp, h, a, 0, b, acc, load);
        assert_eq!(out.len(), h, "int8 tile: output rows");
        for (i, row) in out.iter_mut().enumerate() {
            let rq = RowQuant { scale: ep.scale[i], zero_point: ep.zero_point[i] };
            for (j, o) in row[jc..jc + Self::NR].iter_mut().enumerate() {
                *o = dequantize(acc[i * Self::NR + j], rq, ep.colsum[j], ep.w_scale[j], ep.bias[j]);
            }
        }
    }
}

/// The reference: [`gemm_i8`](super::gemm_i8) as the formulas of the module docs, one output at a time, from
/// the unpacked weight. `x: [m, k]`, `w: [n, k]` f32 (quantized here per output channel,
/// smoothed by `smooth` when given) to `-qmax..=qmax`, activations to `0..=levels`, as the
/// kernel's; returns `[m, n]`.
#[allow(clippy::too_many_arguments)]
pub fn linear_i8_ref(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[f32],
    n: usize,
    bias: Option<&[f32]>,
    smooth: Option<&[f32]>,
    levels: u8,
    qmax: i8,
) -> Vec<f32> {
    let mut qw = vec![0i8; n * k];
    let mut sw = vec![0.0f32; n];
    for j in 0..n {
        let row: Vec<f32> = (0..k).map(|kk| w[j * k + kk] * smooth.map_or(1.0, |s| s[kk])).collect();
        sw[j] = quantize_weight_row(&row, qmax, &mut qw[j * k..(j + 1) * k]);
    }
    let mul: Option<Vec<f32>> = smooth.map(|s| s.iter().map(|v| 1.0 / v).collect());
    let mut y = vec![0.0f32; m * n];
    let mut qa = vec![0u8; k];
    for i in 0..m {
        let rq = quantize_row(&x[i * k..(i + 1) * k], mul.as_deref(), levels, &mut qa);
        for j in 0..n {
            let acc: i32 = (0..k).map(|kk| qa[kk] as i32 * qw[j * k + kk] as i32).sum();
            let colsum: i32 = qw[j * k..(j + 1) * k].iter().map(|&q| q as i32).sum();
            y[i * n + j] = dequantize(acc, rq, colsum, sw[j], bias.map_or(0.0, |b| b[j]));
        }
    }
    y
}
