//! # The small layers: LayerNorm, Embedding, Dropout, activations
//!
//! Each wraps one op from [`crate::ops`] with its parameters and prints like PyTorch.
//!
//! - `Embedding` is a lookup table: row `id` of a `[vocab, hidden]` matrix.
//! - `LayerNorm` keeps every token's activations at mean 0 and variance 1, then lets the
//!   model rescale them (`weight`) and shift them (`bias`).
//! - `Dropout` zeroes random activations while training; at inference it does nothing.
//! - `GELUActivation`, `Tanh`: elementwise non-linearities.

use super::module::{Module, py_float};
use crate::tensor::Rng;
use crate::{Error, Result, Tensor, ops};

/// `torch.nn.Embedding`: weight `[num_embeddings, embedding_dim]`.
pub struct Embedding {
    /// The table, `[num_embeddings, embedding_dim]` f32, row `id` = the vector of key `id`.
    pub weight: Tensor,
    /// PyTorch's `padding_idx`: only printed (in PyTorch it stops that row from training; at
    /// inference the row is looked up like any other).
    pub padding_idx: Option<usize>,
}

impl Embedding {
    /// Wraps a `[num_embeddings, embedding_dim]` table (made contiguous).
    ///
    /// Errors: [`Error::Invalid`] when `weight` is not 2-D.
    pub fn new(weight: Tensor, padding_idx: Option<usize>) -> Result<Embedding> {
        if weight.ndim() != 2 {
            return Err(Error::invalid("Embedding", format!("weight must be 2-D, got {:?}", weight.shape())));
        }
        Ok(Embedding { weight: weight.contiguous(), padding_idx })
    }

    /// `ids: ids_shape -> ids_shape + [embedding_dim]`.
    pub fn forward(&self, ids: &[u32], ids_shape: &[usize]) -> Result<Tensor> {
        ops::embedding(&self.weight, ids, ids_shape)
    }
}

impl Module for Embedding {
    fn name(&self) -> String {
        "Embedding".into()
    }
    fn extra_repr(&self) -> String {
        let mut s = format!("{}, {}", self.weight.shape()[0], self.weight.shape()[1]);
        if let Some(p) = self.padding_idx {
            s.push_str(&format!(", padding_idx={p}"));
        }
        s
    }
    fn own_parameters(&self) -> Vec<&Tensor> {
        vec![&self.weight]
    }
}

/// `torch.nn.LayerNorm` over the last dimension, with affine weight and bias.
pub struct LayerNorm {
    /// Per-feature scale (gamma), `[hidden]`.
    pub weight: Tensor,
    /// Per-feature shift (beta), `[hidden]`.
    pub bias: Tensor,
    /// Added to the variance before the square root (`layer_norm_eps`, 1e-12 in BERT).
    pub eps: f64,
}

impl LayerNorm {
    /// A LayerNorm over the last dimension with these parameters.
    ///
    /// Errors: [`Error::ShapeMismatch`] unless `weight` and `bias` are both `[hidden]`.
    pub fn new(weight: Tensor, bias: Tensor, eps: f64) -> Result<LayerNorm> {
        if weight.ndim() != 1 || weight.shape() != bias.shape() {
            return Err(Error::ShapeMismatch {
                op: "LayerNorm",
                lhs: weight.shape().to_vec(),
                rhs: bias.shape().to_vec(),
                detail: ": weight and bias must both be [hidden]".into(),
            });
        }
        Ok(LayerNorm { weight, bias, eps })
    }

    /// Normalizes every vector along the last dimension of `x` (`[..., hidden]` → same shape).
    ///
    /// Errors: when the last dimension of `x` is not `hidden`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        ops::layer_norm(x, Some(&self.weight), Some(&self.bias), self.eps as f32)
    }
}

impl Module for LayerNorm {
    fn name(&self) -> String {
        "LayerNorm".into()
    }
    fn extra_repr(&self) -> String {
        format!("({},), eps={}, elementwise_affine=True, bias=True", self.weight.shape()[0], py_float(self.eps))
    }
    fn own_parameters(&self) -> Vec<&Tensor> {
        vec![&self.weight, &self.bias]
    }
}

/// `torch.nn.Dropout`: identity at inference; inverted dropout when training.
pub struct Dropout {
    /// Probability of zeroing each element while training (0.1 in BERT).
    pub p: f64,
}

impl Dropout {
    /// `x` itself when `train` is false; otherwise each element is zeroed with probability `p`
    /// and the survivors scaled by `1 / (1 - p)`, drawing from `rng`.
    ///
    /// Errors: when `p` is not between 0 and 1.
    pub fn forward(&self, x: &Tensor, train: bool, rng: &mut Rng) -> Result<Tensor> {
        ops::dropout(x, self.p as f32, train, rng)
    }
}

impl Module for Dropout {
    fn name(&self) -> String {
        "Dropout".into()
    }
    fn extra_repr(&self) -> String {
        format!("p={}, inplace=False", py_float(self.p))
    }
}

/// The non-linearities BERT uses, named like their PyTorch classes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `GELUActivation()`: exact GELU, `0.5·x·(1 + erf(x/√2))` (config `"gelu"`).
    Gelu,
    /// `NewGELUActivation()`: the tanh approximation (config `"gelu_new"`, `"gelu_pytorch_tanh"`).
    GeluTanh,
    /// `ReLU()` (config `"relu"`).
    Relu,
    /// `Tanh()` (the pooler's activation).
    Tanh,
}

impl Activation {
    /// Maps a Hugging Face `hidden_act` string to an activation.
    pub fn from_config(name: &str) -> Result<Activation> {
        match name {
            "gelu" => Ok(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" => Ok(Activation::GeluTanh),
            "relu" => Ok(Activation::Relu),
            "tanh" => Ok(Activation::Tanh),
            other => Err(Error::invalid(
                "Activation",
                format!("hidden_act `{other}` is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, tanh)"),
            )),
        }
    }

    /// Applies the non-linearity to every element (same shape).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Activation::Gelu => ops::gelu(x),
            Activation::GeluTanh => ops::gelu_tanh(x),
            Activation::Relu => ops::relu(x),
            Activation::Tanh => ops::tanh(x),
        }
    }
}

impl Module for Activation {
    fn name(&self) -> String {
        match self {
            Activation::Gelu => "GELUActivation",
            Activation::GeluTanh => "NewGELUActivation",
            Activation::Relu => "ReLU",
            Activation::Tanh => "Tanh",
        }
        .into()
    }
}
