//! Ops against PyTorch: fixtures written by scripts/make_ops_fixtures.py.

mod common;

use common::max_abs_diff;
use nanobert::{Tensor, ops};
use serde_json::Value;

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect();
    let data = v["bits"].as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect();
    Tensor::from_vec(data, &shape).unwrap()
}

/// Tolerances: exact-ish ops must match to a few f32 ulps; transcendental ones to ~1e-6.
fn tolerance(op: &str) -> f32 {
    match op {
        "add" | "sub" | "mul" | "div" | "relu" | "embedding" | "max" => 0.0,
        _ => 2e-6,
    }
}

#[test]
fn ops_match_pytorch() {
    let text = std::fs::read_to_string("tests/fixtures/ops/cases.json").expect("run scripts/make_ops_fixtures.py");
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 25);
    for case in &cases {
        let (name, op, args, inputs) = (&case["name"], case["op"].as_str().unwrap(), &case["args"], &case["inputs"]);
        let input = |k: &str| tensor(&inputs[k]);
        let opt = |k: &str| inputs.get(k).map(tensor);
        let dim = || args["dim"].as_i64().unwrap() as isize;
        let keepdim = || args["keepdim"].as_bool().unwrap();
        let eps = || args["eps"].as_f64().unwrap() as f32;
        let got = match op {
            "gelu" => ops::gelu(&input("x")),
            "gelu_tanh" => ops::gelu_tanh(&input("x")),
            "erf" => ops::map(&input("x"), ops::erf),
            "tanh" => ops::tanh(&input("x")),
            "sigmoid" => ops::sigmoid(&input("x")),
            "relu" => ops::relu(&input("x")),
            "softmax" => ops::softmax(&input("x"), opt("mask").as_ref()).unwrap(),
            "layer_norm" => ops::layer_norm(&input("x"), opt("weight").as_ref(), opt("bias").as_ref(), eps()).unwrap(),
            "sum" => ops::sum(&input("x"), dim(), keepdim()).unwrap(),
            "mean" => ops::mean(&input("x"), dim(), keepdim()).unwrap(),
            "max" => ops::max(&input("x"), dim(), keepdim()).unwrap(),
            "add" => ops::add(&input("a"), &input("b")).unwrap(),
            "sub" => ops::sub(&input("a"), &input("b")).unwrap(),
            "mul" => ops::mul(&input("a"), &input("b")).unwrap(),
            "div" => ops::div(&input("a"), &input("b")).unwrap(),
            "embedding" => {
                let ids: Vec<u32> =
                    args["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
                let shape: Vec<usize> =
                    args["ids_shape"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as usize).collect();
                ops::embedding(&input("weight"), &ids, &shape).unwrap()
            }
            other => panic!("unknown op {other} in fixture {name}"),
        };
        let expected = tensor(&case["expected"]);
        assert_eq!(got.shape(), expected.shape(), "{name}: shape");
        let diff = max_abs_diff(&got.to_vec(), &expected.to_vec());
        // Relative for large values (layer norm of offset rows, gelu of 30).
        let scale = expected.to_vec().iter().filter(|v| v.is_finite()).fold(1.0f32, |m, v| m.max(v.abs()));
        assert!(diff <= tolerance(op) * scale, "{name}: max abs diff {diff} vs PyTorch (scale {scale})");
    }
}
