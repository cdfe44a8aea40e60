//! `nn::Linear` as a plain module: its forward against the reference of every weight type it
//! can hold (`quant::Storage`, every kernel this CPU runs), conversion that cannot reach
//! another handle's numbers, and calibration recorded from outside the layers.

mod common;

use std::io::Write;

use nanobert::Tensor;
use nanobert::bert::{BertConfig, BertInput, BertModel};
use nanobert::io::Checkpoint;
use nanobert::nn::{Linear, ModuleList, ToPrecision, calibrate, linears, to_precision};
use nanobert::quant::half::{HalfKernel, linear_half_ref};
use nanobert::quant::int8::{I8Kernel, linear_i8_ref};
use nanobert::quant::{Precision, PrecisionPlan, Storage};

fn layer(n: usize, k: usize, seed: u64) -> Linear {
    Linear::new(Tensor::randn(&[n, k], seed), Some(Tensor::randn(&[n], seed + 1))).unwrap()
}

/// Every storage this CPU can build for an `[n, k]` weight, with a name; the kernels it cannot
/// run are said on stderr (outside the harness's capture).
fn storages(w: &[f32], n: usize, k: usize) -> Vec<(String, Storage)> {
    let mut out = vec![("f32".to_string(), Storage::new(Precision::F32, w, n, k, None).unwrap())];
    let mut lacking = Vec::new();
    for p in [Precision::F16, Precision::Bf16] {
        for h in HalfKernel::ALL.into_iter().filter(|h| h.handles(p)) {
            if !h.is_supported() {
                lacking.push(h.name());
                continue;
            }
            let s = Storage::with_kernels(p, w, n, k, None, None, Some(h)).unwrap();
            out.push((format!("{p} {}", h.name()), s));
        }
    }
    for q in I8Kernel::ALL {
        if !q.is_supported() {
            lacking.push(q.name());
            continue;
        }
        out.push((
            format!("int8 {}", q.name()),
            Storage::with_kernels(Precision::Int8, w, n, k, None, Some(q), None).unwrap(),
        ));
    }
    if !lacking.is_empty() {
        let _ = writeln!(std::io::stderr(), "weight types NOT tested (this CPU lacks their kernels): {lacking:?}");
    }
    out
}

/// The plain forward (`x: [2, 5, k]`, one GEMM, bias in the epilogue) equals the reference of
/// the weight type it holds: `forward_ref` (tensor ops) for f32, the format's own reference
/// (weights rounded to f16/bf16, or quantized to int8 per channel) for the others.
#[test]
fn forward_equals_the_reference_of_every_weight_type() {
    let (n, k) = (37, 29);
    let mut l = layer(n, k, 1);
    let x = Tensor::randn(&[2, 5, k], 3);
    let (w, b, xs) = (l.weight.to_vec(), l.bias.as_ref().unwrap().to_vec(), x.to_vec());
    for (name, storage) in storages(&w, n, k) {
        let p = storage.precision();
        let kernel_rounds_x = matches!(&storage, Storage::Half(h) if h.kernel() == HalfKernel::Avx512Bf16);
        let int8_kernel = match &storage {
            Storage::Int8(q) => Some(q.kernel()),
            _ => None,
        };
        l.set_storage(storage).unwrap();
        assert_eq!(l.precision(), p, "{name}");
        let y = l.forward(&x).unwrap();
        assert_eq!(y.shape(), &[2, 5, n], "{name}");
        let y = y.to_vec();
        match (p, int8_kernel) {
            (Precision::F32, _) => {
                let want = l.forward_ref(&x).unwrap().to_vec();
                let diff = common::max_abs_diff(&y, &want);
                assert!(diff < 1e-4, "{name}: max diff {diff} vs forward_ref");
            }
            (Precision::Int8, Some(q)) => {
                let want = linear_i8_ref(&xs, 10, k, &w, n, Some(&b), None, q.levels(), q.weight_max());
                assert_eq!(y, want, "{name}: int8 forward vs linear_i8_ref");
            }
            _ => {
                let want = linear_half_ref(&xs, 10, k, &w, n, Some(&b), p, kernel_rounds_x);
                let diff = common::max_abs_diff(&y, &want);
                assert!(diff < 1e-5 * (k as f32).sqrt() * 4.0, "{name}: max diff {diff} vs linear_half_ref");
            }
        }
        // The f32 original stays as loaded, whatever the GEMM reads.
        assert_eq!(l.weight.to_vec(), w, "{name}");
    }
    // A storage for another shape is refused, naming both.
    let wrong = Storage::new(Precision::Int8, &w[..(n - 1) * k], n - 1, k, None).unwrap();
    let e = l.set_storage(wrong).unwrap_err().to_string();
    assert!(e.contains(&format!("[{}, {k}]", n - 1)) && e.contains(&format!("[{n}, {k}]")), "{e}");
}

/// Two Linears sharing one weight tensor (as a tied weight, or two models loaded from one
/// mapped file, share it): converting one changes its own numbers and never the other's.
#[test]
fn converting_one_handle_leaves_another_handle_to_the_same_weights_as_it_was() {
    let a0 = layer(24, 16, 7);
    let mut a = Linear::new(a0.weight.clone(), a0.bias.clone()).unwrap();
    let b = Linear::new(a0.weight.clone(), a0.bias.clone()).unwrap();
    assert!(std::sync::Arc::ptr_eq(a.weight.storage(), b.weight.storage()), "one weight, two layers");
    let x = Tensor::randn(&[6, 16], 8);
    let before = b.forward(&x).unwrap().to_vec();
    for p in [Precision::Int8, Precision::Bf16, Precision::F16] {
        a.to_precision(p).unwrap();
        let (ya, yb) = (a.forward(&x).unwrap().to_vec(), b.forward(&x).unwrap().to_vec());
        assert_ne!(ya, before, "{p}: the converted layer must compute in {p}");
        assert_eq!(yb, before, "{p}: the other layer's numbers changed");
        assert_eq!(b.precision(), Precision::F32);
    }

    // Whole models: two BertModels from one checkpoint share every weight tensor (the mapping).
    let ckpt = Checkpoint::open(&common::fixture("tiny-bert")).unwrap();
    let cfg = BertConfig::from_json(&ckpt.config_json).unwrap();
    let mut converted = BertModel::load(&ckpt.weights, "bert.", &cfg, true).unwrap();
    let kept = BertModel::load(&ckpt.weights, "bert.", &cfg, true).unwrap();
    let ids: Vec<u32> = (0..2 * 6).map(|i| (1 + i * 5 % (cfg.vocab_size - 1)) as u32).collect();
    let input = BertInput::new(&ids, None, None, 2, 6).unwrap();
    let want = kept.forward(&input, false).unwrap().last_hidden_state.to_vec();
    assert_eq!(converted.forward(&input, false).unwrap().last_hidden_state.to_vec(), want);
    to_precision(&mut converted, &PrecisionPlan::uniform(Precision::Int8)).unwrap();
    assert!(linears(&converted).iter().all(|(_, l)| l.precision() == Precision::Int8));
    assert!(linears(&kept).iter().all(|(_, l)| l.precision() == Precision::F32));
    assert_ne!(converted.forward(&input, false).unwrap().last_hidden_state.to_vec(), want, "int8 must differ");
    assert_eq!(kept.forward(&input, false).unwrap().last_hidden_state.to_vec(), want, "f32 model changed");
}

/// `nn::calibrate` records, per Linear of the model, the largest |input| per feature of what
/// its forwards saw on this thread; a Linear outside the model, and the same layers run outside
/// the calibration or on another thread, record nothing.
#[test]
fn calibration_is_recorded_from_outside_the_layers() {
    let model = ModuleList(vec![layer(5, 4, 11), layer(3, 5, 12)]);
    let outsider = layer(5, 4, 13);
    let x = Tensor::from_vec(vec![1.0, -2.0, 0.5, 0.0, -3.0, 1.0, 0.25, 0.0], &[2, 4]).unwrap();
    let h = model.0[0].forward(&x).unwrap(); // the second layer's input
    let maxima = calibrate(&model, || {
        let big = Tensor::from_vec(vec![100.0; 4], &[1, 4]).unwrap();
        outsider.forward(&big)?; // not a layer of `model`
        std::thread::scope(|s| s.spawn(|| model.0[0].forward(&big).map(|_| ())).join().unwrap())?; // another thread
        let h = model.0[0].forward(&x)?;
        model.0[1].forward(&h)?;
        Ok(())
    })
    .unwrap();
    assert_eq!(maxima.len(), 2);
    assert_eq!(maxima["0"], vec![3.0, 2.0, 0.5, 0.0]);
    let h = h.to_vec();
    let want: Vec<f32> = (0..5).map(|j| h[j].abs().max(h[5 + j].abs())).collect();
    assert_eq!(maxima["1"], want);
    // Nothing ran: every Linear is listed, with maxima of zeros. Errors from `run` come back.
    let none = calibrate(&model, || Ok(())).unwrap();
    assert_eq!(none["1"], vec![0.0; 5]);
    assert!(calibrate(&model, || Err(nanobert::Error::Input("stop".into()))).is_err());
}
