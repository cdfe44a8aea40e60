//! Checks of the bias + GELU epilogue exercise (`src/epilogue.rs`), against PyTorch's
//! `F.gelu(a @ b + bias)`.

use crate::common::{assert_close, exercise_cases, f32s};

/// The learner's `gemm_bias_gelu(m, k, n, a, b, bias, c)`.
pub type GemmBiasGelu = fn(usize, usize, usize, &[f32], &[f32], &[f32], &mut [f32]);

fn case(name: &str, f: GemmBiasGelu, tol: f32) {
    let cases = exercise_cases();
    let c = cases["epilogue"].as_array().unwrap().iter().find(|c| c["name"] == name).unwrap();
    let dim = |k: &str| c[k].as_u64().unwrap() as usize;
    let (m, k, n) = (dim("m"), dim("k"), dim("n"));
    let mut out = vec![f32::NAN; m * n]; // stale contents must be overwritten
    f(m, k, n, &f32s(&c["a"]), &f32s(&c["b"]), &f32s(&c["bias"]), &mut out);
    assert_close(&format!("gelu(a @ b + bias), {name} {m}x{k}·{k}x{n}"), &out, &f32s(&c["want"]), tol);
}

/// A random 5x33 · 33x6 product with a bias of 6.
pub fn matches_pytorch_on_a_random_linear(f: GemmBiasGelu) {
    case("random", f, 2e-6);
}

/// A = I: the product is exact, so this compares the epilogue alone, over inputs from -4 to 4.
/// The tanh approximation of GELU is up to 5e-4 away from PyTorch's exact one here.
pub fn exact_gelu_of_every_input_from_minus_four_to_four(f: GemmBiasGelu) {
    case("identity", f, 1e-6);
}
