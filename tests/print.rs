//! `Display` against PyTorch's `repr`: fixtures written by scripts/make_print_fixtures.py.

use nanobert::Tensor;
use serde_json::Value;

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap() as usize).collect()
}

/// Rebuilds the fixture's tensor: base values, then the same view ops PyTorch applied.
fn rebuild(case: &Value) -> Tensor {
    let data = case["bits"].as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect();
    let mut t = Tensor::from_vec(data, &usizes(&case["shape"])).unwrap();
    for view in case["views"].as_array().unwrap() {
        let v = view.as_array().unwrap();
        let arg = |i: usize| v[i].as_u64().unwrap() as usize;
        let rest = || v[1..].iter().map(|d| d.as_u64().unwrap() as usize).collect::<Vec<_>>();
        t = match v[0].as_str().unwrap() {
            "transpose" => t.transpose(arg(1) as isize, arg(2) as isize),
            "permute" => t.permute(&rest()),
            "narrow" => t.narrow(arg(1) as isize, arg(2), arg(3)),
            "select" => t.select(arg(1) as isize, arg(2)),
            "broadcast_to" => t.broadcast_to(&rest()),
            "unsqueeze" => t.unsqueeze(arg(1)),
            other => panic!("unknown view op {other}"),
        }
        .unwrap();
    }
    t
}

#[test]
fn display_matches_pytorch_repr() {
    let text = std::fs::read_to_string("tests/fixtures/print/cases.json").expect("run scripts/make_print_fixtures.py");
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 40);
    let mut failures = Vec::new();
    for case in &cases {
        let t = rebuild(case);
        let expected = case["repr"].as_str().unwrap();
        let got = t.to_string();
        if got != expected {
            failures.push(format!("--- {}\nexpected:\n{expected}\ngot:\n{got}", case["name"]));
        }
        assert_eq!(format!("{t:?}"), got, "Debug and Display must agree");
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn display_examples() {
    let t = Tensor::from_vec(vec![0.1, 0.2, 0.3, 0.4], &[2, 2]).unwrap();
    assert_eq!(t.to_string(), "tensor([[0.1000, 0.2000],\n        [0.3000, 0.4000]])");
    assert_eq!(Tensor::scalar(1.5).to_string(), "tensor(1.5000)");
    assert_eq!(Tensor::arange(3).to_string(), "tensor([0., 1., 2.])");
    assert_eq!(Tensor::zeros(&[2, 0]).to_string(), "tensor([], size=(2, 0))");
    // A huge tensor prints quickly: only the 6x6 corner entries are ever formatted.
    let big = Tensor::zeros(&[30522, 384]);
    assert_eq!(big.to_string().lines().count(), 7);
}
