//! An RNN is one big matmul over all time steps plus one small matmul per step.
//!
//! ```text
//! cargo run --release --example rnn_as_matmul
//! ```
//!
//! Builds a tiny LSTM, shows that the hoisted input projection (one GEMM for every step) holds,
//! row for row, the per-step products, counts the matmuls of each version, and checks that both
//! give the same outputs.

use nanobert::Tensor;
use nanobert::nn::rnn::LSTM;
use nanobert::ops::matmul::matmul;
use nanobert::ops::rnn::lstm_forward_per_step;

fn main() -> nanobert::Result<()> {
    let (steps, batch, isz, hsz) = (4, 2, 3, 2);
    let lstm = LSTM::with_random_weights(isz, hsz, false, 0)?;
    println!("{lstm}");
    println!("  weight_ih_l0 {:?}, weight_hh_l0 {:?}", lstm.weight_ih_l0.shape(), lstm.weight_hh_l0.shape());
    println!(
        "  gates stacked in PyTorch's order: rows 0..{hsz} i, {hsz}..{} f, ..{} g, ..{} o\n",
        2 * hsz,
        3 * hsz,
        4 * hsz
    );

    let x = Tensor::randn(&[steps, batch, isz], 1); // [T, B, I]
    // The whole input as one matrix: [T·B, I]. Row t·B + b is time t, sequence b.
    let x2 = x.reshape(&[steps * batch, isz])?;
    let w_ih_t = lstm.weight_ih_l0.t()?; // [I, 4H]
    let all = matmul(&x2, &w_ih_t)?; // [T·B, I] · [I, 4H] = [T·B, 4H]: ONE matmul for all steps
    println!("hoisted: x [T·B, I] = {:?} · W_ihᵀ {:?} = {:?}, one matmul", x2.shape(), w_ih_t.shape(), all.shape());
    for t in 0..steps {
        let step = matmul(&x.select(0, t)?, &w_ih_t)?; // [B, I] · [I, 4H]
        let rows = all.narrow(0, t * batch, batch)?;
        let same = rows.to_vec().iter().zip(step.to_vec()).all(|(a, b)| (a - b).abs() < 1e-6);
        println!(
            "  step {t}: x_t {:?} · W_ihᵀ equals rows {}..{} of it: {same}",
            [batch, isz],
            t * batch,
            (t + 1) * batch
        );
        assert!(same);
    }
    println!(
        "\nper step, both versions still do h_(t-1) {:?} · W_hhᵀ {:?}: it needs the last step's output.",
        [batch, hsz],
        [hsz, 4 * hsz]
    );
    println!("matmuls: per-step version {} ([B, I]·[I, 4H] and [B, H]·[H, 4H] each step),", 2 * steps);
    println!("         hoisted version   {} (one [T·B, I]·[I, 4H], then [B, H]·[H, 4H] each step)\n", 1 + steps);

    let (out, (h, c)) = lstm.forward(&x, None)?;
    let (out2, (h2, c2)) = lstm_forward_per_step(&x, None, &lstm.weights(), false)?;
    println!("output {:?}, h_n {:?}, c_n {:?}", out.shape(), h.shape(), c.shape());
    println!(
        "hoisted vs per-step max abs diff: output {:.1e}, h_n {:.1e}, c_n {:.1e}",
        out.max_abs_diff(&out2)?, // an error, not 0, if either side holds NaN/inf
        h.max_abs_diff(&h2)?,
        c.max_abs_diff(&c2)?
    );
    // The output is every step's h; its last time step is h_n.
    assert_eq!(out.select(0, steps - 1)?.to_vec(), h.select(0, 0)?.to_vec());
    println!("output[T-1] == h_n[0] = {:?}", h.select(0, 0)?.to_vec());
    Ok(())
}
