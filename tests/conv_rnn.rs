//! Convolutions and recurrent nets against PyTorch, and the fast paths against their references.
//!
//! Fixtures: `scripts/make_conv_rnn_fixtures.py` (F.conv1d / F.conv2d / F.unfold, nn.RNN / nn.LSTM).

mod common;

use std::fs;

use nanobert::Tensor;
use nanobert::nn::conv::{Conv1d, Conv2d};
use nanobert::nn::rnn::{LSTM, RNN};
use nanobert::ops::conv::{
    Conv1dParams, Conv2dParams, ConvParams, conv_output_size, conv1d, conv1d_direct, conv2d, conv2d_direct, im2col,
};
use nanobert::ops::rnn::{
    Nonlinearity, RnnWeights, lstm_forward, lstm_forward_per_step, rnn_forward, rnn_forward_per_step,
};
use proptest::prelude::*;
use safetensors::{Dtype, SafeTensors};
use serde_json::Value;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conv_rnn");
const TOL: f32 = 1e-4;

fn read(file: &str) -> Vec<u8> {
    fs::read(format!("{DIR}/{file}"))
        .unwrap_or_else(|e| panic!("{DIR}/{file}: {e} (run scripts/make_conv_rnn_fixtures.py)"))
}

fn cases() -> Value {
    serde_json::from_slice(&read("cases.json")).expect("cases.json parses")
}

/// The f32 tensor `name` of a safetensors file, or `None` when absent.
fn load(st: &SafeTensors, name: &str) -> Option<Tensor> {
    let view = st.tensor(name).ok()?;
    assert_eq!(view.dtype(), Dtype::F32, "{name}");
    let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Some(Tensor::from_vec(data, view.shape()).unwrap())
}

fn get(st: &SafeTensors, name: &str) -> Tensor {
    load(st, name).unwrap_or_else(|| panic!("fixture tensor {name} missing"))
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    common::max_diff(a, b)
}

/// Same shape, every element within `tol`; prints the max abs difference, fails on NaN/inf.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f32) {
    common::assert_matches(what, got, want, tol);
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

fn params<const D: usize>(case: &Value) -> ConvParams<D> {
    let arr = |key: &str| -> [usize; D] { usizes(&case[key]).try_into().unwrap() };
    ConvParams {
        stride: arr("stride"),
        padding: arr("padding"),
        dilation: arr("dilation"),
        groups: case["groups"].as_u64().unwrap() as usize,
    }
}

// ------------------------------------------------------------------------------------------
// Convolutions vs PyTorch
// ------------------------------------------------------------------------------------------

#[test]
fn conv_matches_pytorch_fixtures() {
    let bytes = read("conv.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let cases = cases();
    let convs = cases["conv"].as_array().unwrap();
    assert!(convs.len() >= 10);
    for case in convs {
        let name = case["name"].as_str().unwrap();
        let x = get(&st, &format!("{name}.input"));
        let w = get(&st, &format!("{name}.weight"));
        let b = load(&st, &format!("{name}.bias"));
        assert_eq!(b.is_some(), case["bias"].as_bool().unwrap(), "{name}");
        let want = get(&st, &format!("{name}.output"));
        let (fast, direct, module) = if case["dims"] == 1 {
            let p: Conv1dParams = params(case);
            let m = Conv1d::new(w.clone(), b.clone(), p).unwrap();
            assert_eq!(m.to_string(), case["repr"].as_str().unwrap(), "{name}");
            (conv1d(&x, &w, b.as_ref(), &p), conv1d_direct(&x, &w, b.as_ref(), &p), m.forward(&x))
        } else {
            let p: Conv2dParams = params(case);
            let m = Conv2d::new(w.clone(), b.clone(), p).unwrap();
            assert_eq!(m.to_string(), case["repr"].as_str().unwrap(), "{name}");
            (conv2d(&x, &w, b.as_ref(), &p), conv2d_direct(&x, &w, b.as_ref(), &p), m.forward(&x))
        };
        let (fast, direct, module) = (fast.unwrap(), direct.unwrap(), module.unwrap());
        println!(
            "{name}: im2col+GEMM max abs diff {:.2e}, direct {:.2e}",
            max_abs_diff(&fast, &want),
            max_abs_diff(&direct, &want)
        );
        assert_close(&format!("{name} im2col+GEMM"), &fast, &want, TOL);
        assert_close(&format!("{name} direct"), &direct, &want, TOL);
        assert_close(&format!("{name} module"), &module, &want, TOL);
    }
}

#[test]
fn im2col_matches_pytorch_unfold() {
    let bytes = read("conv.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    for case in cases()["unfold"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let x = get(&st, &format!("unfold.{name}.input")).select(0, 0).unwrap(); // [C, H, W]
        let want = get(&st, &format!("unfold.{name}.output")).select(0, 0).unwrap();
        let mut case = case.clone();
        case["groups"] = 1.into();
        let p: Conv2dParams = params(&case);
        let k: [usize; 2] = usizes(&case["kernel_size"]).try_into().unwrap();
        let got = im2col(&x, k, &p).unwrap();
        assert_close(&format!("unfold {name}"), &got, &want, 0.0);
    }
}

// ------------------------------------------------------------------------------------------
// Recurrent nets vs PyTorch
// ------------------------------------------------------------------------------------------

#[test]
fn rnn_and_lstm_match_pytorch_fixtures() {
    let bytes = read("rnn.safetensors");
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let cases = cases();
    let rnns = cases["rnn"].as_array().unwrap();
    assert!(rnns.len() >= 6);
    for case in rnns {
        let name = case["name"].as_str().unwrap();
        let t = |k: &str| get(&st, &format!("{name}.{k}"));
        let (wi, wh) = (t("weight_ih_l0"), t("weight_hh_l0"));
        let bias = load(&st, &format!("{name}.bias_ih_l0")).map(|bi| (bi, t("bias_hh_l0")));
        assert_eq!(bias.is_some(), case["bias"].as_bool().unwrap(), "{name}");
        let batch_first = case["batch_first"].as_bool().unwrap();
        let x = t("input");
        let h0 = load(&st, &format!("{name}.h0"));
        assert_eq!(h0.is_some(), case["initial_state"].as_bool().unwrap(), "{name}");
        let (want_out, want_h) = (t("output"), t("h_n"));
        if case["kind"] == "RNN" {
            let nl = if case["nonlinearity"] == "relu" { Nonlinearity::Relu } else { Nonlinearity::Tanh };
            let m = RNN::new(wi, wh, bias, nl, batch_first).unwrap();
            assert_eq!(m.to_string(), case["repr"].as_str().unwrap(), "{name}");
            let (out, h) = m.forward(&x, h0.as_ref()).unwrap();
            println!(
                "{name}: output max abs diff {:.2e}, h_n {:.2e}",
                max_abs_diff(&out, &want_out),
                max_abs_diff(&h, &want_h)
            );
            assert_close(&format!("{name} output"), &out, &want_out, TOL);
            assert_close(&format!("{name} h_n"), &h, &want_h, TOL);
            let (out, h) = rnn_forward_per_step(&x, h0.as_ref(), &m.weights(), nl, batch_first).unwrap();
            assert_close(&format!("{name} per-step output"), &out, &want_out, TOL);
            assert_close(&format!("{name} per-step h_n"), &h, &want_h, TOL);
        } else {
            let c0 = load(&st, &format!("{name}.c0"));
            let state = h0.as_ref().zip(c0.as_ref());
            let want_c = t("c_n");
            let m = LSTM::new(wi, wh, bias, batch_first).unwrap();
            assert_eq!(m.to_string(), case["repr"].as_str().unwrap(), "{name}");
            let (out, (h, c)) = m.forward(&x, state).unwrap();
            println!(
                "{name}: output max abs diff {:.2e}, h_n {:.2e}, c_n {:.2e}",
                max_abs_diff(&out, &want_out),
                max_abs_diff(&h, &want_h),
                max_abs_diff(&c, &want_c)
            );
            assert_close(&format!("{name} output"), &out, &want_out, TOL);
            assert_close(&format!("{name} h_n"), &h, &want_h, TOL);
            assert_close(&format!("{name} c_n"), &c, &want_c, TOL);
            let (out, (h, c)) = lstm_forward_per_step(&x, state, &m.weights(), batch_first).unwrap();
            assert_close(&format!("{name} per-step output"), &out, &want_out, TOL);
            assert_close(&format!("{name} per-step h_n"), &h, &want_h, TOL);
            assert_close(&format!("{name} per-step c_n"), &c, &want_c, TOL);
        }
    }
}

// ------------------------------------------------------------------------------------------
// Fast paths vs references, over random shapes
// ------------------------------------------------------------------------------------------

/// Random convolution shapes that have a valid output: (batch, groups, C_in/G, C_out/G, spatial,
/// kernel, stride, padding, dilation).
#[derive(Debug, Clone)]
struct ConvCase<const D: usize> {
    batch: usize,
    groups: usize,
    cin_g: usize,
    cout_g: usize,
    spatial: [usize; D],
    kernel: [usize; D],
    params: ConvParams<D>,
    bias: bool,
    seed: u64,
}

fn conv_case<const D: usize>() -> impl Strategy<Value = ConvCase<D>> {
    let dims = (1usize..9, 1usize..4, 1usize..3, 0usize..3, 1usize..3);
    ((1usize..3, 1usize..4, 1usize..4, 1usize..4), proptest::array::uniform::<_, D>(dims), any::<bool>(), any::<u64>())
        .prop_filter_map("kernel larger than padded input", |((batch, groups, cin_g, cout_g), dims, bias, seed)| {
            let spatial = dims.map(|d| d.0);
            let kernel = dims.map(|d| d.1);
            let params = ConvParams {
                stride: dims.map(|d| d.2),
                padding: dims.map(|d| d.3),
                dilation: dims.map(|d| d.4),
                groups,
            };
            let ok = (0..D).all(|d| {
                conv_output_size(spatial[d], kernel[d], params.stride[d], params.padding[d], params.dilation[d])
                    .is_some()
            });
            ok.then_some(ConvCase { batch, groups, cin_g, cout_g, spatial, kernel, params, bias, seed })
        })
}

impl<const D: usize> ConvCase<D> {
    fn tensors(&self) -> (Tensor, Tensor, Option<Tensor>) {
        let cout = self.cout_g * self.groups;
        let mut xs = vec![self.batch, self.cin_g * self.groups];
        xs.extend(self.spatial);
        let mut ws = vec![cout, self.cin_g];
        ws.extend(self.kernel);
        let bias = self.bias.then(|| Tensor::randn(&[cout], self.seed ^ 2));
        (Tensor::randn(&xs, self.seed), Tensor::randn(&ws, self.seed ^ 1), bias)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv2d_im2col_gemm_equals_direct(case in conv_case::<2>()) {
        let (x, w, b) = case.tensors();
        let fast = conv2d(&x, &w, b.as_ref(), &case.params).unwrap();
        let slow = conv2d_direct(&x, &w, b.as_ref(), &case.params).unwrap();
        prop_assert_eq!(fast.shape(), slow.shape());
        let d = max_abs_diff(&fast, &slow);
        prop_assert!(d <= 1e-4, "max abs diff {}", d);
    }

    #[test]
    fn conv1d_im2col_gemm_equals_direct(case in conv_case::<1>()) {
        let (x, w, b) = case.tensors();
        let fast = conv1d(&x, &w, b.as_ref(), &case.params).unwrap();
        let slow = conv1d_direct(&x, &w, b.as_ref(), &case.params).unwrap();
        prop_assert_eq!(fast.shape(), slow.shape());
        let d = max_abs_diff(&fast, &slow);
        prop_assert!(d <= 1e-4, "max abs diff {}", d);
    }

    #[test]
    fn hoisted_projection_equals_per_step(
        (steps, batch, isz, hsz) in (0usize..6, 1usize..4, 1usize..6, 1usize..6),
        batch_first in any::<bool>(),
        with_state in any::<bool>(),
        bias in any::<bool>(),
        relu in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let xs = if batch_first { [batch, steps, isz] } else { [steps, batch, isz] };
        let x = Tensor::randn(&xs, seed);
        let (h0, c0) = (Tensor::randn(&[1, batch, hsz], seed ^ 1), Tensor::randn(&[1, batch, hsz], seed ^ 2));
        for gates in [1, 4] {
            let g = gates * hsz;
            let (wi, wh) = (Tensor::randn(&[g, isz], seed ^ 3), Tensor::randn(&[g, hsz], seed ^ 4));
            let (bi, bh) = (Tensor::randn(&[g], seed ^ 5), Tensor::randn(&[g], seed ^ 6));
            let w = RnnWeights { weight_ih: &wi, weight_hh: &wh, bias_ih: bias.then_some(&bi), bias_hh: bias.then_some(&bh) };
            let (a, b) = if gates == 1 {
                let nl = if relu { Nonlinearity::Relu } else { Nonlinearity::Tanh };
                let h = with_state.then_some(&h0);
                let (o1, h1) = rnn_forward(&x, h, &w, nl, batch_first).unwrap();
                let (o2, h2) = rnn_forward_per_step(&x, h, &w, nl, batch_first).unwrap();
                (vec![o1, h1], vec![o2, h2])
            } else {
                let s = with_state.then_some((&h0, &c0));
                let (o1, (h1, c1)) = lstm_forward(&x, s, &w, batch_first).unwrap();
                let (o2, (h2, c2)) = lstm_forward_per_step(&x, s, &w, batch_first).unwrap();
                (vec![o1, h1, c1], vec![o2, h2, c2])
            };
            for (p, q) in a.iter().zip(&b) {
                prop_assert_eq!(p.shape(), q.shape());
                let d = max_abs_diff(p, q);
                prop_assert!(d <= 1e-4, "gates {}: max abs diff {}", gates, d);
            }
        }
    }
}

#[test]
fn batch_first_is_only_a_layout() {
    // The same sequences, time-major and batch-major, give transposed outputs.
    let lstm = LSTM::with_random_weights(3, 4, false, 7).unwrap();
    let x = Tensor::randn(&[5, 2, 3], 8); // [T, B, I]
    let (out, (h, c)) = lstm.forward(&x, None).unwrap();
    let lstm_bf = LSTM { batch_first: true, ..lstm };
    let (out_bf, (h_bf, c_bf)) = lstm_bf.forward(&x.transpose(0, 1).unwrap(), None).unwrap();
    assert_close("output", &out_bf.transpose(0, 1).unwrap(), &out, 0.0);
    assert_close("h_n", &h_bf, &h, 0.0);
    assert_close("c_n", &c_bf, &c, 0.0);
}
