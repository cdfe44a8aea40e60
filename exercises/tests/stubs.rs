//! The stubs a learner starts from must still build and still be stubs: each one panics with
//! `todo!()`'s "not yet implemented". Compiled only with `--features solutions` (the stubs are then
//! built beside the solutions, under `nanobert_exercises::stubs`).
#![cfg(feature = "solutions")]

use nanobert_exercises::{Conv2d, stubs};

fn is_todo(f: impl FnOnce() + std::panic::UnwindSafe) -> bool {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let r = std::panic::catch_unwind(f);
    std::panic::set_hook(hook);
    match r {
        Err(e) => {
            let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            msg.is_some_and(|m| m.contains("not yet implemented"))
        }
        Ok(()) => false,
    }
}

#[test]
fn every_stub_is_still_a_todo() {
    assert!(is_todo(|| stubs::matmul::sgemm_reordered(
        1,
        1,
        1,
        &[1.0],
        &nanobert_exercises::Rows::new(&[1.0], 1, 1),
        &mut [0.0]
    )));
    assert!(is_todo(|| drop(stubs::softmax::softmax_naive(&[1.0]))));
    assert!(is_todo(|| drop(stubs::softmax::softmax(&[1.0]))));
    assert!(is_todo(|| drop(stubs::layer_norm::layer_norm(&[1.0], 1, &[1.0], &[0.0], 1e-5))));
    assert!(is_todo(|| drop(stubs::pooling::mean_pool(&[1.0], &[1], 1, 1, 1))));
    assert!(is_todo(|| {
        let _ = stubs::flops::bert_layer_flops(1, 1, 1, 1, 1);
    }));
    assert!(is_todo(|| stubs::epilogue::gemm_bias_gelu(1, 1, 1, &[1.0], &[1.0], &[0.0], &mut [0.0])));
    assert!(is_todo(|| drop(stubs::bucketing::plan_batches(&[1], 1))));
    assert!(is_todo(|| {
        let _ = stubs::graph::dce(&mut nanobert_exercises::Graph::parse("x = placeholder()\nreturn x"));
    }));
    assert!(is_todo(|| {
        let _ = stubs::graph::fuse_epilogue(&mut nanobert_exercises::Graph::parse("x = placeholder()\nreturn x"));
    }));
    assert!(is_todo(|| {
        let _ = stubs::scale_fold::fold_scale(&mut nanobert_exercises::net::Net::parse("x = placeholder()\nreturn x"));
    }));
    assert!(is_todo(|| {
        let _ = stubs::gelu_pattern::gelu_at(&nanobert_exercises::net::Net::parse("x = placeholder()\nreturn x"), 0);
    }));
    assert!(is_todo(|| drop(stubs::split::split_rows(1, 1, 1))));
    assert!(is_todo(|| drop(stubs::quantize::quantize_per_channel(&[1.0], 1, 1))));
    assert!(is_todo(|| {
        let _ = stubs::stats::summarize(&[1.0]);
    }));
    assert!(is_todo(|| {
        let _ = stubs::stats::paired_speedup(&[1.0], &[1.0]);
    }));
    assert!(is_todo(|| {
        let _ = stubs::percentile::percentile(&[1.0], 0.5);
    }));
    let conv = Conv2d { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    assert!(is_todo(move || drop(stubs::im2col::im2col(&[1.0], 1, 1, 1, &conv))));
}
