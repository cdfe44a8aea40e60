//! Reference solution: the reordered GEMM rung. Read it after you have tried `src/matmul.rs`.

pub use crate::Rows;

/// `C = A·B`, loops in the order i, p, j (see the exercise in `src/matmul.rs`).
pub fn sgemm_reordered(m: usize, k: usize, n: usize, a: &[f32], b: &Rows, c: &mut [f32]) {
    assert!(a.len() >= m * k && b.cols() == n && c.len() >= m * n, "slices do not match the shapes");
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        c_row.fill(0.0);
        for p in 0..k {
            let a_ip = a[i * k + p];
            let b_row = b.row(p);
            // Both rows are contiguous and the iterations independent: this loop vectorizes.
            for (cj, bj) in c_row.iter_mut().zip(b_row) {
                *cj += a_ip * bj;
            }
        }
    }
}
