//! Helpers shared by the exercise tests: PyTorch fixtures and a comparison that fails on NaN.
#![allow(dead_code)]

use std::path::PathBuf;

/// A file under the repository's `tests/fixtures/` (written by PyTorch, see its README).
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

/// One tensor of `tests/fixtures/ops/cases.json` (values stored as f32 bit patterns).
pub struct Case {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn tensor(v: &serde_json::Value) -> Case {
    let shape = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = v["bits"].as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect();
    Case { shape, data }
}

/// Input `input` and the expected output of the PyTorch op case named `name`.
pub fn op_case(name: &str, input: &str) -> (Case, Case) {
    let text = std::fs::read_to_string(fixture("ops/cases.json")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = cases.as_array().unwrap().iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no case {name}"));
    (tensor(&case["inputs"][input]), tensor(&case["expected"]))
}

/// Optional input of a PyTorch op case.
pub fn op_input(name: &str, input: &str) -> Option<Case> {
    let text = std::fs::read_to_string(fixture("ops/cases.json")).unwrap();
    let cases: serde_json::Value = serde_json::from_str(&text).unwrap();
    let case = cases.as_array().unwrap().iter().find(|c| c["name"] == name)?;
    case["inputs"].get(input).map(tensor)
}

/// Panics unless `got` and `want` have the same length and every pair is within `tol`
/// (absolute). NaN or infinity anywhere in `got` where `want` is finite fails.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: {} values, expected {}", got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= tol || (g == w); // g == w covers equal infinities
        assert!(ok, "{what}: element {i} is {g}, expected {w} (tolerance {tol})");
    }
}

/// `tests/fixtures/exercises/cases.json` (written by `scripts/make_exercise_fixtures.py` with
/// PyTorch and NumPy).
pub fn exercise_cases() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("exercises/cases.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The f32 values of a `{"shape", "bits"}` tensor of the fixtures.
pub fn f32s(v: &serde_json::Value) -> Vec<f32> {
    tensor(v).data
}

/// A JSON array of numbers as f64.
pub fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}
