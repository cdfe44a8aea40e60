//! Convolutions and RNNs as matmuls: what the rewrite buys, as ratios measured in one run.
//!
//! ```text
//! cargo bench --bench conv_rnn
//! ```
//!
//! 1. A 3×3 convolution, 64 -> 64 channels on a 56×56 image (a ResNet stage-1 layer): the direct
//!    loop nest vs im2col + one GEMM (and how much of the latter is the im2col copy alone).
//! 2. An LSTM: input projection computed per step inside the loop vs hoisted into one big GEMM
//!    before it, at batch 1 (each step is a matrix-vector product) and batch 16.
//!
//! A tiny harness: each variant runs once to warm up, then `REPS` times; the best time is kept
//! (the least disturbed by other work on the machine). Only the ratios are meant to be compared.

use std::hint::black_box;
use std::time::{Duration, Instant};

use nanobert::Tensor;
use nanobert::ops::conv::{Conv2dParams, conv2d, conv2d_direct, im2col};
use nanobert::ops::rnn::{RnnWeights, lstm_forward, lstm_forward_per_step};

const REPS: usize = 5;

fn best_of<T>(mut f: impl FnMut() -> T) -> Duration {
    black_box(f());
    (0..REPS)
        .map(|_| {
            let t = Instant::now();
            black_box(f());
            t.elapsed()
        })
        .min()
        .expect("REPS > 0")
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    a.to_vec().iter().zip(b.to_vec()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

fn conv() {
    let (c, hw, k) = (64, 56, 3);
    let x = Tensor::randn(&[1, c, hw, hw], 1);
    let w = Tensor::randn(&[c, c, k, k], 2);
    let b = Tensor::randn(&[c], 3);
    let p = Conv2dParams::default().with_padding(1);
    let (fast, slow) = (conv2d(&x, &w, Some(&b), &p).unwrap(), conv2d_direct(&x, &w, Some(&b), &p).unwrap());
    assert!(max_abs_diff(&fast, &slow) < 1e-3, "the two convolutions disagree");

    let t_direct = best_of(|| conv2d_direct(&x, &w, Some(&b), &p).unwrap());
    let t_gemm = best_of(|| conv2d(&x, &w, Some(&b), &p).unwrap());
    let image = x.select(0, 0).unwrap();
    let t_im2col = best_of(|| im2col(&image, [k, k], &p).unwrap());
    let gflop = 2.0 * (c * c * k * k * hw * hw) as f64 / 1e9;
    println!("## conv2d 3x3, [1, {c}, {hw}, {hw}] -> [1, {c}, {hw}, {hw}], padding 1 ({gflop:.3} GFLOP)");
    println!();
    println!("| variant | best of {REPS} (ms) | GFLOP/s | speed-up vs direct |");
    println!("|---|---:|---:|---:|");
    for (name, t) in [("direct loop nest", t_direct), ("im2col + GEMM", t_gemm)] {
        println!("| {name} | {:.1} | {:.2} | {:.2}x |", ms(t), gflop / t.as_secs_f64(), ms(t_direct) / ms(t));
    }
    println!(
        "| (im2col copy alone, [{}, {}]) | {:.1} | | {:.1}% of im2col + GEMM |",
        c * k * k,
        hw * hw,
        ms(t_im2col),
        100.0 * ms(t_im2col) / ms(t_gemm)
    );
    println!();
}

fn lstm(batch: usize) {
    let (steps, isz, hsz) = (64, 256, 256);
    let x = Tensor::randn(&[steps, batch, isz], 4);
    let (wi, wh) = (Tensor::randn(&[4 * hsz, isz], 5), Tensor::randn(&[4 * hsz, hsz], 6));
    let (bi, bh) = (Tensor::randn(&[4 * hsz], 7), Tensor::randn(&[4 * hsz], 8));
    let w = RnnWeights { weight_ih: &wi, weight_hh: &wh, bias_ih: Some(&bi), bias_hh: Some(&bh) };
    let (a, _) = lstm_forward(&x, None, &w, false).unwrap();
    let (b, _) = lstm_forward_per_step(&x, None, &w, false).unwrap();
    assert!(max_abs_diff(&a, &b) < 1e-4, "hoisted and per-step LSTMs disagree");

    let t_step = best_of(|| lstm_forward_per_step(&x, None, &w, false).unwrap());
    let t_hoist = best_of(|| lstm_forward(&x, None, &w, false).unwrap());
    let gflop = 2.0 * (steps * batch * 4 * hsz * (isz + hsz)) as f64 / 1e9;
    println!("## LSTM, T = {steps}, B = {batch}, I = {isz}, H = {hsz} ({gflop:.3} GFLOP)");
    println!();
    println!("| variant | best of {REPS} (ms) | GFLOP/s | speed-up vs per-step |");
    println!("|---|---:|---:|---:|");
    for (name, t) in [("input projection per step", t_step), ("input projection hoisted", t_hoist)] {
        println!("| {name} | {:.1} | {:.2} | {:.2}x |", ms(t), gflop / t.as_secs_f64(), ms(t_step) / ms(t));
    }
    println!();
}

fn main() {
    println!("# cargo bench --bench conv_rnn  (best of {REPS}, after one warm-up run)");
    println!();
    conv();
    lstm(1);
    lstm(16);
}
