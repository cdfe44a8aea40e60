//! # RNN and LSTM: recurrent layers that hold their weights
//!
//! What this file teaches: PyTorch's recurrent layers are four named tensors (`weight_ih_l0`,
//! `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`) plus a `forward` that runs the loop in
//! [`crate::ops::rnn`], where the "one big matmul + a small one per step" story is told.
//! `Display` prints the layer like PyTorch's `repr`, e.g. `LSTM(10, 20, batch_first=True)`.
//!
//! Single layer, unidirectional only (`num_layers=1`, `bidirectional=False`).

use std::fmt;

use crate::ops::rnn::{Nonlinearity, RnnWeights, lstm_forward, rnn_forward};
use crate::tensor::{Rng, Tensor};
use crate::{Error, Result};

/// An Elman RNN layer, like `torch.nn.RNN` with one layer.
#[allow(clippy::upper_case_acronyms)] // named like torch.nn.RNN
#[derive(Clone, Debug)]
pub struct RNN {
    /// `[H, I]`.
    pub weight_ih_l0: Tensor,
    /// `[H, H]`.
    pub weight_hh_l0: Tensor,
    /// `[H]`, or none (`bias=False`).
    pub bias_ih_l0: Option<Tensor>,
    /// `[H]`, or none (`bias=False`).
    pub bias_hh_l0: Option<Tensor>,
    /// `tanh` (default) or `relu`.
    pub nonlinearity: Nonlinearity,
    /// Input and output are `[B, T, ·]` instead of `[T, B, ·]`.
    pub batch_first: bool,
}

/// An LSTM layer, like `torch.nn.LSTM` with one layer (gates stacked i, f, g, o).
#[allow(clippy::upper_case_acronyms)] // named like torch.nn.LSTM
#[derive(Clone, Debug)]
pub struct LSTM {
    /// `[4H, I]`.
    pub weight_ih_l0: Tensor,
    /// `[4H, H]`.
    pub weight_hh_l0: Tensor,
    /// `[4H]`, or none (`bias=False`).
    pub bias_ih_l0: Option<Tensor>,
    /// `[4H]`, or none (`bias=False`).
    pub bias_hh_l0: Option<Tensor>,
    /// Input and output are `[B, T, ·]` instead of `[T, B, ·]`.
    pub batch_first: bool,
}

impl RNN {
    /// A layer over existing weights; `bias` is `(bias_ih_l0, bias_hh_l0)`. Checks the shapes.
    pub fn new(
        weight_ih_l0: Tensor,
        weight_hh_l0: Tensor,
        bias: Option<(Tensor, Tensor)>,
        nonlinearity: Nonlinearity,
        batch_first: bool,
    ) -> Result<Self> {
        check_layer("RNN", 1, &weight_ih_l0, &weight_hh_l0, bias.as_ref())?;
        let (bias_ih_l0, bias_hh_l0) = bias.unzip();
        Ok(RNN { weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, nonlinearity, batch_first })
    }

    /// A layer with every weight and bias uniform in ±1/√H (PyTorch's distribution, not its
    /// numbers), reproducible from `seed`.
    pub fn with_random_weights(
        input_size: usize,
        hidden_size: usize,
        nonlinearity: Nonlinearity,
        batch_first: bool,
        seed: u64,
    ) -> Result<Self> {
        let [wi, wh, bi, bh] = random_weights(1, input_size, hidden_size, seed)?;
        Self::new(wi, wh, Some((bi, bh)), nonlinearity, batch_first)
    }

    /// `I`, the features per time step.
    pub fn input_size(&self) -> usize {
        self.weight_ih_l0.shape()[1]
    }

    /// `H`, the size of the hidden state.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh_l0.shape()[1]
    }

    /// The weights as the op takes them.
    pub fn weights(&self) -> RnnWeights<'_> {
        RnnWeights {
            weight_ih: &self.weight_ih_l0,
            weight_hh: &self.weight_hh_l0,
            bias_ih: self.bias_ih_l0.as_ref(),
            bias_hh: self.bias_hh_l0.as_ref(),
        }
    }

    /// input `[T, B, I]` (`[B, T, I]` if batch_first), h0 `[1, B, H]` or zeros
    /// -> (output `[T, B, H]` (`[B, T, H]`), h_n `[1, B, H]`).
    pub fn forward(&self, input: &Tensor, h0: Option<&Tensor>) -> Result<(Tensor, Tensor)> {
        rnn_forward(input, h0, &self.weights(), self.nonlinearity, self.batch_first)
    }
}

impl LSTM {
    /// A layer over existing weights; `bias` is `(bias_ih_l0, bias_hh_l0)`. Checks the shapes.
    pub fn new(
        weight_ih_l0: Tensor,
        weight_hh_l0: Tensor,
        bias: Option<(Tensor, Tensor)>,
        batch_first: bool,
    ) -> Result<Self> {
        check_layer("LSTM", 4, &weight_ih_l0, &weight_hh_l0, bias.as_ref())?;
        let (bias_ih_l0, bias_hh_l0) = bias.unzip();
        Ok(LSTM { weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, batch_first })
    }

    /// A layer with every weight and bias uniform in ±1/√H (PyTorch's distribution, not its
    /// numbers), reproducible from `seed`.
    pub fn with_random_weights(input_size: usize, hidden_size: usize, batch_first: bool, seed: u64) -> Result<Self> {
        let [wi, wh, bi, bh] = random_weights(4, input_size, hidden_size, seed)?;
        Self::new(wi, wh, Some((bi, bh)), batch_first)
    }

    /// `I`, the features per time step.
    pub fn input_size(&self) -> usize {
        self.weight_ih_l0.shape()[1]
    }

    /// `H`, the size of the hidden and cell states.
    pub fn hidden_size(&self) -> usize {
        self.weight_hh_l0.shape()[1]
    }

    /// The weights as the op takes them.
    pub fn weights(&self) -> RnnWeights<'_> {
        RnnWeights {
            weight_ih: &self.weight_ih_l0,
            weight_hh: &self.weight_hh_l0,
            bias_ih: self.bias_ih_l0.as_ref(),
            bias_hh: self.bias_hh_l0.as_ref(),
        }
    }

    /// input `[T, B, I]` (`[B, T, I]` if batch_first), state `(h0, c0)` each `[1, B, H]` or zeros
    /// -> (output `[T, B, H]` (`[B, T, H]`), (h_n, c_n) each `[1, B, H]`).
    pub fn forward(&self, input: &Tensor, state: Option<(&Tensor, &Tensor)>) -> Result<(Tensor, (Tensor, Tensor))> {
        lstm_forward(input, state, &self.weights(), self.batch_first)
    }
}

fn check_layer(
    op: &str,
    gates: usize,
    weight_ih: &Tensor,
    weight_hh: &Tensor,
    bias: Option<&(Tensor, Tensor)>,
) -> Result<()> {
    let (wi, wh) = (weight_ih.shape(), weight_hh.shape());
    if wh.len() != 2 || wh[0] != gates * wh[1] {
        let msg = format!("{op}: must be [{gates}·H, H], got shape {wh:?}");
        return Err(Error::Tensor { name: "weight_hh_l0".into(), msg });
    }
    if wi.len() != 2 || wi[0] != wh[0] {
        let msg = format!("{op}: must be [{gates}·H, I] = [{}, I], got shape {wi:?}", wh[0]);
        return Err(Error::Tensor { name: "weight_ih_l0".into(), msg });
    }
    if let Some((bi, bh)) = bias {
        for (name, b) in [("bias_ih_l0", bi), ("bias_hh_l0", bh)] {
            if b.shape() != [wh[0]] {
                let msg = format!("{op}: must be [{gates}·H] = [{}], got shape {:?}", wh[0], b.shape());
                return Err(Error::Tensor { name: name.into(), msg });
            }
        }
    }
    Ok(())
}

/// `[weight_ih, weight_hh, bias_ih, bias_hh]`, uniform in ±1/√H like PyTorch's init.
fn random_weights(gates: usize, input_size: usize, hidden: usize, seed: u64) -> Result<[Tensor; 4]> {
    let bound = 1.0 / (hidden.max(1) as f32).sqrt();
    let mut rng = Rng::new(seed);
    let mut draw = |shape: &[usize]| {
        let data = (0..shape.iter().product()).map(|_| (2.0 * rng.uniform() - 1.0) * bound).collect();
        Tensor::from_vec(data, shape)
    };
    let g = gates * hidden;
    Ok([draw(&[g, input_size])?, draw(&[g, hidden])?, draw(&[g])?, draw(&[g])?])
}

/// PyTorch's `RNNBase.extra_repr` for one unidirectional layer: bias and batch_first when not default.
/// (PyTorch does not print the nonlinearity, so neither do we.)
fn fmt_rnn(f: &mut fmt::Formatter<'_>, name: &str, i: usize, h: usize, bias: bool, batch_first: bool) -> fmt::Result {
    write!(f, "{name}({i}, {h}")?;
    if !bias {
        write!(f, ", bias=False")?;
    }
    if batch_first {
        write!(f, ", batch_first=True")?;
    }
    write!(f, ")")
}

impl fmt::Display for RNN {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bias = self.bias_ih_l0.is_some() || self.bias_hh_l0.is_some();
        fmt_rnn(f, "RNN", self.input_size(), self.hidden_size(), bias, self.batch_first)
    }
}

impl fmt::Display for LSTM {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bias = self.bias_ih_l0.is_some() || self.bias_hh_l0.is_some();
        fmt_rnn(f, "LSTM", self.input_size(), self.hidden_size(), bias, self.batch_first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_like_pytorch() {
        let l = LSTM::with_random_weights(10, 20, true, 0).unwrap();
        assert_eq!(l.to_string(), "LSTM(10, 20, batch_first=True)");
        let r = RNN::with_random_weights(10, 20, Nonlinearity::Relu, false, 0).unwrap();
        assert_eq!(r.to_string(), "RNN(10, 20)");
        let r = RNN::new(Tensor::zeros(&[20, 10]), Tensor::zeros(&[20, 20]), None, Nonlinearity::Tanh, false).unwrap();
        assert_eq!(r.to_string(), "RNN(10, 20, bias=False)");
    }

    #[test]
    fn bad_weights_are_errors() {
        let e = LSTM::new(Tensor::zeros(&[20, 10]), Tensor::zeros(&[20, 20]), None, false).unwrap_err().to_string();
        assert!(e.contains("weight_hh_l0"), "{e}");
        let e = LSTM::new(
            Tensor::zeros(&[80, 10]),
            Tensor::zeros(&[80, 20]),
            Some((Tensor::zeros(&[80]), Tensor::zeros(&[20]))),
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bias_hh_l0"), "{e}");
    }
}
