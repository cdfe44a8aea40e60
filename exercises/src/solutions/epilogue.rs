//! Reference solution: a GEMM with a bias + GELU epilogue. Read it after you have tried
//! `src/epilogue.rs`.

pub use crate::erf;

/// `C = GELU(A·B + bias)`, the epilogue applied to each row of C as soon as it is complete.
pub fn gemm_bias_gelu(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], bias: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n && bias.len() == n, "shapes do not match");
    for i in 0..m {
        let row = &mut c[i * n..(i + 1) * n];
        row.fill(0.0);
        for p in 0..k {
            let a_ip = a[i * k + p];
            for (cj, bj) in row.iter_mut().zip(&b[p * n..(p + 1) * n]) {
                *cj += a_ip * bj;
            }
        }
        // The epilogue: the row is complete and still in L1.
        for (v, &bj) in row.iter_mut().zip(bias) {
            let x = *v + bj;
            *v = 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}
