//! Reference solution: the per-channel int8 quantizer. Read it after you have tried
//! `src/quantize.rs`.

/// Symmetric per-row int8: `scale = max|row| / 127`, `q = round(w / scale)`.
pub fn quantize_per_channel(w: &[f32], rows: usize, cols: usize) -> (Vec<i8>, Vec<f32>) {
    assert_eq!(w.len(), rows * cols, "w is not [rows, cols]");
    let mut codes = Vec::with_capacity(w.len());
    let mut scales = Vec::with_capacity(rows);
    for row in w.chunks(cols.max(1)).take(rows) {
        let absmax = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if absmax > 0.0 { absmax / 127.0 } else { 1.0 };
        codes.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
        scales.push(scale);
    }
    (codes, scales)
}
