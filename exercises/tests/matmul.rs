//! Tests of the reordered GEMM exercise (`src/matmul.rs`).

mod common;
use common::assert_close;
use nanobert::Tensor;
use nanobert_exercises::matmul::sgemm_reordered;

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

#[test]
fn two_by_two() {
    let (a, b) = ([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]);
    let mut c = [f32::NAN; 4];
    sgemm_reordered(2, 2, 2, &a, &b, &mut c);
    assert_eq!(c, [19.0, 22.0, 43.0, 50.0]);
}

#[test]
fn rectangular_shapes_match_the_definition() {
    for (seed, &(m, k, n)) in [(1, 1, 1), (3, 5, 7), (17, 1, 9), (8, 33, 2), (64, 48, 40)].iter().enumerate() {
        let a = Tensor::randn(&[m, k], seed as u64).to_vec();
        let b = Tensor::randn(&[k, n], 100 + seed as u64).to_vec();
        let mut c = vec![f32::NAN; m * n]; // stale contents must be overwritten
        sgemm_reordered(m, k, n, &a, &b, &mut c);
        assert_close(&format!("{m}x{k} · {k}x{n}"), &c, &reference(m, k, n, &a, &b), 1e-4);
    }
}

#[test]
fn empty_dimensions() {
    let mut c = vec![f32::NAN; 6];
    sgemm_reordered(2, 0, 3, &[], &[], &mut c); // k = 0: C = 0
    assert_eq!(c, vec![0.0; 6]);
    sgemm_reordered(0, 4, 3, &[], &[0.0; 12], &mut []);
    sgemm_reordered(2, 4, 0, &[0.0; 8], &[], &mut []);
}
