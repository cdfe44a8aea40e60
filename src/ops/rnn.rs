//! # An RNN is one big matmul plus a small one per time step
//!
//! What this file teaches: where the matrix multiplications of a recurrent network are, and
//! which of them can be batched.
//!
//! An Elman RNN reads a sequence `x_0 .. x_{T-1}` and keeps a hidden state `h`:
//!
//! ```text
//! h_t = tanh(x_t · W_ihᵀ + b_ih  +  h_{t-1} · W_hhᵀ + b_hh)        (or relu instead of tanh)
//! ```
//!
//! An LSTM does the same with four gates stacked in one matrix (PyTorch's order: input `i`,
//! forget `f`, cell candidate `g`, output `o`), and a second state `c`:
//!
//! ```text
//! [i f g o] = x_t · W_ihᵀ + b_ih  +  h_{t-1} · W_hhᵀ + b_hh          (each H wide, 4H in all)
//! c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g)
//! h_t = σ(o) ⊙ tanh(c_t)
//! ```
//!
//! Each step has two matmuls, and they are not alike:
//!
//! - `x_t · W_ihᵀ` needs only the input, which is all known before the loop starts. Stack all
//!   `T·B` input rows into one `[T·B, I]` matrix and do **one** big GEMM `[T·B, I] · [I, G·H]` before
//!   the loop (the *hoisted input projection*). Big GEMMs are where a fast matmul shines.
//! - `h_{t-1} · W_hhᵀ` needs the previous step's output, so it cannot leave the loop: it stays a
//!   small `[B, H] · [H, G·H]` GEMM per step. This sequential dependency is what makes RNNs slow
//!   and what attention (a later chapter) removes.
//!
//! [`rnn_forward`] / [`lstm_forward`] hoist the projection; [`rnn_forward_per_step`] /
//! [`lstm_forward_per_step`] are the "before" version that does both matmuls inside the loop. Both
//! do exactly the same arithmetic; a test ties them and `cargo bench --bench conv_rnn` times them.
//!
//! Scope: one layer, one direction (PyTorch's `num_layers=1, bidirectional=False`), no dropout, no
//! `proj_size`. Layouts follow PyTorch: input `[T, B, I]` (`[B, T, I]` with `batch_first`), initial
//! state `[1, B, H]`, weights `weight_ih_l0: [G·H, I]`, `weight_hh_l0: [G·H, H]`, biases `[G·H]`, with
//! `G = 1` for the RNN and `G = 4` for the LSTM. Batched inputs only (no unbatched `[T, I]`).

use crate::ops::matmul::{MatMut, MatRef, sgemm};
use crate::tensor::Tensor;
use crate::{Error, Result};

/// The activation of an Elman RNN (PyTorch's `nonlinearity='tanh'` or `'relu'`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Nonlinearity {
    /// `tanh`, the default.
    #[default]
    Tanh,
    /// `max(0, x)`.
    Relu,
}

/// The tensors of one recurrent layer, under PyTorch's names (`weight_ih_l0` ...).
///
/// `G·H` rows: `G = 1` for an RNN, `G = 4` (gates i, f, g, o) for an LSTM.
#[derive(Clone, Copy, Debug)]
pub struct RnnWeights<'a> {
    /// `[G·H, I]`, applied to the input.
    pub weight_ih: &'a Tensor,
    /// `[G·H, H]`, applied to the previous hidden state.
    pub weight_hh: &'a Tensor,
    /// `[G·H]` or none.
    pub bias_ih: Option<&'a Tensor>,
    /// `[G·H]` or none.
    pub bias_hh: Option<&'a Tensor>,
}

/// Elman RNN over a whole sequence, input projection hoisted out of the loop.
///
/// Shapes: input `[T, B, I]` (`[B, T, I]` if `batch_first`), `h0` `[1, B, H]` (zeros if `None`)
/// -> (output `[T, B, H]` (`[B, T, H]`), h_n `[1, B, H]`), like `torch.nn.RNN`.
pub fn rnn_forward(
    input: &Tensor,
    h0: Option<&Tensor>,
    weights: &RnnWeights,
    nonlinearity: Nonlinearity,
    batch_first: bool,
) -> Result<(Tensor, Tensor)> {
    let (out, h, _) = recurrent(Cell::Rnn(nonlinearity), Projection::Hoisted, input, h0, None, weights, batch_first)?;
    Ok((out, h))
}

/// [`rnn_forward`] with the input projection computed inside the loop, one step at a time.
pub fn rnn_forward_per_step(
    input: &Tensor,
    h0: Option<&Tensor>,
    weights: &RnnWeights,
    nonlinearity: Nonlinearity,
    batch_first: bool,
) -> Result<(Tensor, Tensor)> {
    let (out, h, _) = recurrent(Cell::Rnn(nonlinearity), Projection::PerStep, input, h0, None, weights, batch_first)?;
    Ok((out, h))
}

/// LSTM over a whole sequence, input projection hoisted out of the loop.
///
/// Shapes: input `[T, B, I]` (`[B, T, I]` if `batch_first`), state `(h0, c0)` each `[1, B, H]`
/// (zeros if `None`) -> (output `[T, B, H]` (`[B, T, H]`), (h_n, c_n) each `[1, B, H]`), like
/// `torch.nn.LSTM`.
pub fn lstm_forward(
    input: &Tensor,
    state: Option<(&Tensor, &Tensor)>,
    weights: &RnnWeights,
    batch_first: bool,
) -> Result<(Tensor, (Tensor, Tensor))> {
    let (h0, c0) = state.unzip();
    let (out, h, c) = recurrent(Cell::Lstm, Projection::Hoisted, input, h0, c0, weights, batch_first)?;
    Ok((out, (h, c)))
}

/// [`lstm_forward`] with the input projection computed inside the loop, one step at a time.
pub fn lstm_forward_per_step(
    input: &Tensor,
    state: Option<(&Tensor, &Tensor)>,
    weights: &RnnWeights,
    batch_first: bool,
) -> Result<(Tensor, (Tensor, Tensor))> {
    let (h0, c0) = state.unzip();
    let (out, h, c) = recurrent(Cell::Lstm, Projection::PerStep, input, h0, c0, weights, batch_first)?;
    Ok((out, (h, c)))
}

// ------------------------------------------------------------------------------------------
// The one loop behind all four functions
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cell {
    Rnn(Nonlinearity),
    Lstm,
}

impl Cell {
    /// How many H-wide blocks the weight matrices stack.
    fn gates(self) -> usize {
        match self {
            Cell::Rnn(_) => 1,
            Cell::Lstm => 4,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Cell::Rnn(_) => "rnn",
            Cell::Lstm => "lstm",
        }
    }
}

/// Where `x_t · W_ihᵀ` is computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Projection {
    /// All time steps at once, before the loop: one `[T·B, I] · [I, G·H]` GEMM.
    Hoisted,
    /// Inside the loop: `T` GEMMs of `[B, I] · [I, G·H]`.
    PerStep,
}

/// Sizes of a checked call: sequence length, batch, input and hidden sizes.
struct Sizes {
    t: usize,
    b: usize,
    i: usize,
    h: usize,
}

#[allow(clippy::too_many_arguments)]
fn recurrent(
    cell: Cell,
    projection: Projection,
    input: &Tensor,
    h0: Option<&Tensor>,
    c0: Option<&Tensor>,
    w: &RnnWeights,
    batch_first: bool,
) -> Result<(Tensor, Tensor, Tensor)> {
    let Sizes { t: steps, b: batch, i: isz, h: hsz } = check(cell, input, h0, c0, w, batch_first)?;
    let gh = cell.gates() * hsz; // width of the stacked gates
    let (x, w_ih, w_hh) = (input.contiguous(), w.weight_ih.contiguous(), w.weight_hh.contiguous());
    let (x, w_ih, w_hh) = (slice(&x), slice(&w_ih), slice(&w_hh));
    // Both biases are added to the same pre-activation: fold them into one vector.
    let mut bias = vec![0.0f32; gh];
    for b in [w.bias_ih, w.bias_hh].into_iter().flatten() {
        add_assign(&mut bias, slice(&b.contiguous()));
    }
    // The input is a [T·B, I] matrix either way; this says which row holds (time t, batch b).
    let row = |t: usize, b: usize| if batch_first { b * steps + t } else { t * batch + b };

    // Hoisted: x · W_ihᵀ + bias for every time step, as one [T·B, I] · [I, G·H] GEMM.
    let mut xw = Vec::new();
    if projection == Projection::Hoisted {
        xw = vec![0.0f32; steps * batch * gh];
        let w_ih_t = MatRef::new(w_ih, gh, isz).t(); // W_ih stored [G·H, I], used as Wᵀ in place
        sgemm(MatRef::new(x, steps * batch, isz), w_ih_t, MatMut::new(&mut xw, steps * batch, gh))?;
        xw.chunks_mut(gh.max(1)).for_each(|r| add_assign(r, &bias));
    }

    let mut h = h0.map_or_else(|| vec![0.0; batch * hsz], Tensor::to_vec); // [B, H]
    let mut c = c0.map_or_else(|| vec![0.0; batch * hsz], Tensor::to_vec); // [B, H] (LSTM only)
    let mut gates = vec![0.0f32; batch * gh]; // [B, G·H]
    let mut xw_t = vec![0.0f32; batch * gh]; // [B, G·H], per-step projection only
    let mut out = vec![0.0f32; steps * batch * hsz];
    let steps_to_run = if batch == 0 { 0 } else { steps }; // an empty batch has nothing to step
    for t in 0..steps_to_run {
        // The recurrent matmul: h_{t-1} [B, H] · W_hhᵀ [H, G·H]. It needs last step's h, so it stays here.
        sgemm(MatRef::new(&h, batch, hsz), MatRef::new(w_hh, gh, hsz).t(), MatMut::new(&mut gates, batch, gh))?;
        // Plus the input part, x_t · W_ihᵀ + bias.
        match projection {
            Projection::Hoisted => {
                for b in 0..batch {
                    add_assign(&mut gates[b * gh..(b + 1) * gh], &xw[row(t, b) * gh..(row(t, b) + 1) * gh]);
                }
            }
            Projection::PerStep => {
                // x_t is B rows of the input matrix, `lda` floats apart: [B, I] · [I, G·H].
                let lda = if batch_first { steps * isz } else { isz };
                let x_t = MatRef::strided(&x[row(t, 0) * isz..], batch, isz, lda);
                sgemm(x_t, MatRef::new(w_ih, gh, isz).t(), MatMut::new(&mut xw_t, batch, gh))?;
                for (g, xr) in gates.chunks_mut(gh.max(1)).zip(xw_t.chunks(gh.max(1))) {
                    for ((gv, &xv), &bv) in g.iter_mut().zip(xr).zip(&bias) {
                        *gv += xv + bv;
                    }
                }
            }
        }
        // The cell: elementwise, no matmul.
        match cell {
            Cell::Rnn(nl) => {
                for (hv, &g) in h.iter_mut().zip(&gates) {
                    *hv = match nl {
                        Nonlinearity::Tanh => g.tanh(),
                        Nonlinearity::Relu => g.max(0.0),
                    };
                }
            }
            Cell::Lstm => {
                for b in 0..batch {
                    let r = b * hsz..(b + 1) * hsz;
                    lstm_cell(&gates[b * gh..(b + 1) * gh], &mut h[r.clone()], &mut c[r]);
                }
            }
        }
        for b in 0..batch {
            out[row(t, b) * hsz..(row(t, b) + 1) * hsz].copy_from_slice(&h[b * hsz..(b + 1) * hsz]);
        }
    }
    let out_shape = if batch_first { [batch, steps, hsz] } else { [steps, batch, hsz] };
    Ok((
        Tensor::from_vec(out, &out_shape)?,
        Tensor::from_vec(h, &[1, batch, hsz])?,
        Tensor::from_vec(c, &[1, batch, hsz])?,
    ))
}

/// One LSTM step for one batch row: `gates` = [i f g o] pre-activations (4H), updates `h`, `c` (H).
fn lstm_cell(gates: &[f32], h: &mut [f32], c: &mut [f32]) {
    let n = h.len();
    for j in 0..n {
        let i = sigmoid(gates[j]);
        let f = sigmoid(gates[n + j]);
        let g = gates[2 * n + j].tanh();
        let o = sigmoid(gates[3 * n + j]);
        c[j] = f * c[j] + i * g;
        h[j] = o * c[j].tanh();
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// `dst += src`, elementwise.
fn add_assign(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, s)| *d += s);
}

/// The elements of a tensor that went through `contiguous()`.
fn slice(t: &Tensor) -> &[f32] {
    // An empty tensor has no elements to lay out (and `is_contiguous` may say no to some).
    if t.numel() == 0 {
        return &[];
    }
    t.as_slice().expect("contiguous() returns a contiguous tensor")
}

fn check(
    cell: Cell,
    input: &Tensor,
    h0: Option<&Tensor>,
    c0: Option<&Tensor>,
    w: &RnnWeights,
    batch_first: bool,
) -> Result<Sizes> {
    let op = cell.name();
    let (xs, wi, wh) = (input.shape(), w.weight_ih.shape(), w.weight_hh.shape());
    if xs.len() != 3 {
        let layout = if batch_first { "[B, T, I] (batch_first)" } else { "[T, B, I]" };
        return Err(Error::invalid(op, format!("input must be {layout}, got shape {xs:?}")));
    }
    let (t, b, i) = if batch_first { (xs[1], xs[0], xs[2]) } else { (xs[0], xs[1], xs[2]) };
    let g = cell.gates();
    if wh.len() != 2 || wh[0] != g * wh[1] {
        return Err(Error::Tensor {
            name: "weight_hh_l0".into(),
            msg: format!("{op}: must be [{g}·H, H], got shape {wh:?}"),
        });
    }
    let h = wh[1];
    if wi != [g * h, i] {
        return Err(Error::Tensor {
            name: "weight_ih_l0".into(),
            msg: format!(
                "{op}: must be [{g}·H, I] = [{}, {i}] (H = {h} from weight_hh_l0, I = {i} from input {xs:?}), got shape {wi:?}",
                g * h
            ),
        });
    }
    for (name, bias) in [("bias_ih_l0", w.bias_ih), ("bias_hh_l0", w.bias_hh)] {
        if let Some(bias) = bias
            && bias.shape() != [g * h]
        {
            let msg = format!("{op}: must be [{g}·H] = [{}], got shape {:?}", g * h, bias.shape());
            return Err(Error::Tensor { name: name.into(), msg });
        }
    }
    for (name, state) in [("h0", h0), ("c0", c0)] {
        if let Some(s) = state
            && s.shape() != [1, b, h]
        {
            let msg = format!("{op}: initial state must be [1, B, H] = [1, {b}, {h}], got shape {:?}", s.shape());
            return Err(Error::Tensor { name: name.into(), msg });
        }
    }
    Ok(Sizes { t, b, i, h })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_rnn_by_hand() {
        // I = 1, H = 1: h1 = tanh(x·w_ih + b_ih + h0·w_hh + b_hh)
        let (wi, wh) = (Tensor::full(&[1, 1], 0.5), Tensor::full(&[1, 1], -2.0));
        let (bi, bh) = (Tensor::full(&[1], 0.1), Tensor::full(&[1], 0.2));
        let w = RnnWeights { weight_ih: &wi, weight_hh: &wh, bias_ih: Some(&bi), bias_hh: Some(&bh) };
        let x = Tensor::full(&[1, 1, 1], 3.0);
        let h0 = Tensor::full(&[1, 1, 1], 0.25);
        let (out, hn) = rnn_forward(&x, Some(&h0), &w, Nonlinearity::Tanh, false).unwrap();
        let expected = (3.0f32 * 0.5 + 0.1 + 0.25 * -2.0 + 0.2).tanh();
        assert!((out.item().unwrap() - expected).abs() < 1e-6);
        assert_eq!(hn.shape(), &[1, 1, 1]);
        let (out, _) = rnn_forward(&x, Some(&h0), &w, Nonlinearity::Relu, false).unwrap();
        assert!((out.item().unwrap() - 1.3).abs() < 1e-6);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_tensor() {
        let (wi, wh) = (Tensor::zeros(&[8, 3]), Tensor::zeros(&[8, 2]));
        let w = RnnWeights { weight_ih: &wi, weight_hh: &wh, bias_ih: None, bias_hh: None };
        let x = Tensor::zeros(&[5, 2, 3]);
        assert!(lstm_forward(&x, None, &w, false).is_ok());
        let e = rnn_forward(&x, None, &w, Nonlinearity::Tanh, false).unwrap_err().to_string();
        assert!(e.contains("weight_hh_l0"), "{e}");
        let e = lstm_forward(&Tensor::zeros(&[5, 2, 4]), None, &w, false).unwrap_err().to_string();
        assert!(e.contains("weight_ih_l0"), "{e}");
        let h0 = Tensor::zeros(&[1, 5, 2]);
        let e = lstm_forward(&x, Some((&h0, &h0)), &w, false).unwrap_err().to_string();
        assert!(e.contains("h0") && e.contains("[1, 2, 2]"), "{e}");
        let e = lstm_forward(&Tensor::zeros(&[5, 3]), None, &w, true).unwrap_err().to_string();
        assert!(e.contains("batch_first"), "{e}");
    }
}
