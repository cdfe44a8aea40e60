//! Checks of the reordered GEMM exercise (`src/matmul.rs`).

use crate::common::assert_close;
use nanobert::Tensor;
use nanobert_exercises::Rows;

/// The learner's `sgemm_reordered`.
pub type Sgemm = fn(usize, usize, usize, &[f32], &Rows, &mut [f32]);

/// The definition, in f64: `C[i][j] = Σ_p A[i][p]·B[p][j]`.
fn reference(m: usize, k: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum::<f64>() as f32;
        }
    }
    c
}

pub fn two_by_two(f: Sgemm) {
    let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
    let mut c = [f32::NAN; 4];
    f(2, 2, 2, &a, &Rows::new(&b, 2, 2), &mut c);
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
}

pub fn rectangular_shapes_match_the_definition(f: Sgemm) {
    for (seed, &(m, k, n)) in [(1, 1, 1), (3, 5, 7), (17, 1, 9), (8, 33, 2), (64, 48, 40)].iter().enumerate() {
        let a = Tensor::randn(&[m, k], seed as u64).to_vec();
        let b = Tensor::randn(&[k, n], 100 + seed as u64).to_vec();
        let mut c = vec![f32::NAN; m * n]; // stale contents must be overwritten
        f(m, k, n, &a, &Rows::new(&b, k, n), &mut c);
        assert_close(&format!("{m}x{k} · {k}x{n}"), &c, &reference(m, k, n, &a, &b), 1e-4);
    }
}

/// The access pattern: rows of B fetched at most once per (row of C, p). The naive order i, j, p
/// fetches `m·n·k` rows (a column of B is one element of every row).
pub fn b_is_read_row_by_row(f: Sgemm) {
    let (m, k, n) = (16, 24, 32);
    let a = Tensor::randn(&[m, k], 7).to_vec();
    let b_data = Tensor::randn(&[k, n], 8).to_vec();
    let b = Rows::new(&b_data, k, n);
    let mut c = vec![f32::NAN; m * n];
    f(m, k, n, &a, &b, &mut c);
    assert_close("16x24 · 24x32", &c, &reference(m, k, n, &a, &b_data), 1e-4);
    assert!(
        b.fetches() <= m * k,
        "{} rows of B fetched for a {m}x{k}·{k}x{n} product: the loop order i, p, j fetches at most {} \
         (one per row of C and p); the naive order i, j, p fetches {}",
        b.fetches(),
        m * k,
        m * n * k
    );
}

pub fn empty_dimensions(f: Sgemm) {
    let mut c = vec![f32::NAN; 6];
    f(2, 0, 3, &[], &Rows::new(&[], 0, 3), &mut c); // k = 0: C = 0
    assert_eq!(c, vec![0.0; 6]);
    f(0, 4, 3, &[], &Rows::new(&[0.0; 12], 4, 3), &mut []);
    f(2, 4, 0, &[0.0; 8], &Rows::new(&[], 4, 0), &mut []);
}

pub fn all(f: Sgemm) {
    two_by_two(f);
    rectangular_shapes_match_the_definition(f);
    b_is_read_row_by_row(f);
    empty_dimensions(f);
}
