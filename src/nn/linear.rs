//! # Linear: a generalization of a line, and nothing but a matmul
//!
//! `y = x·Wᵀ + b`. In one dimension that is the line `y = w·x + b`; with vectors it mixes
//! every input feature into every output feature. PyTorch (and every Hugging Face
//! checkpoint) stores `W` as `[out_features, in_features]`, so the product is `x · Wᵀ`:
//! we hand `sgemm` the weight as it is, viewed as its transpose (`MatRef::new(w, out, in).t()`),
//! instead of copying it.
//!
//! The weight never changes, so the first `forward` packs it once into the GEMM microkernel's
//! panel layout ([`PackedB`], see `ops/matmul/prepacked.rs`) and every call multiplies by the
//! packed copy: each call then only packs its input. (Packing on first use rather than at
//! construction means a model that is only printed, or a layer that never runs, costs nothing.)
//! The trade-off is memory: the packed copy is owned (as many bytes as the weight, plus a
//! fraction of a percent of padding), while the original weight stays where it was loaded (usually borrowed from the mmapped checkpoint,
//! costing no heap) for printing, parameter counting and the reference `forward_ref`. For
//! BERT-base that is about 340 MB of packed weights next to the 440 MB file (94 MB more for
//! the fill-mask head, whose decoder is a 30522 x 768 Linear).

use super::module::Module;
use crate::ops::matmul::{Backend, Epilogue, Gemm, MatMut, MatRef, PackedB};
use crate::{Error, Result, Tensor};

/// `torch.nn.Linear`: weight `[out, in]`, optional bias `[out]`.
pub struct Linear {
    /// `[out_features, in_features]` f32, as PyTorch stores it (often borrowed from the mmapped
    /// checkpoint); kept for printing, parameter counts and `forward_ref`.
    pub weight: Tensor,
    /// `[out_features]`, added to every row of the output.
    pub bias: Option<Tensor>,
    /// `weight` packed for the GEMM (as `Bᵀ`, k = in, n = out), once, by the first `forward`.
    packed: std::sync::OnceLock<PackedB>,
}

impl Linear {
    /// Builds a layer, checking that the bias matches the weight.
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        if weight.ndim() != 2 {
            return Err(Error::invalid("Linear", format!("weight must be 2-D [out, in], got {:?}", weight.shape())));
        }
        if let Some(b) = &bias
            && b.shape() != [weight.shape()[0]]
        {
            return Err(Error::ShapeMismatch {
                op: "Linear",
                lhs: weight.shape().to_vec(),
                rhs: b.shape().to_vec(),
                detail: ": bias must have shape [out_features]".into(),
            });
        }
        Ok(Linear { weight: weight.contiguous(), bias: bias.map(|b| b.contiguous()), packed: Default::default() })
    }

    /// Width of the input rows (`weight.shape()[1]`).
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Width of the output rows (`weight.shape()[0]`).
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// `x: [..., in] -> [..., out]`, one GEMM over all leading dimensions at once, the bias
    /// added in the GEMM's epilogue. Runs nanobert's best GEMM ([`Gemm::default`]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(&Gemm::default(), x)
    }

    /// [`Linear::forward`] with an explicit GEMM choice (e.g. `Gemm::matrixmultiply()` to
    /// compare, which reads the weight as stored instead of the packed copy).
    pub fn forward_with(&self, gemm: &Gemm, x: &Tensor) -> Result<Tensor> {
        let (out_f, in_f) = (self.out_features(), self.in_features());
        if x.ndim() == 0 || x.shape()[x.ndim() - 1] != in_f {
            return Err(Error::ShapeMismatch {
                op: "Linear",
                lhs: x.shape().to_vec(),
                rhs: self.weight.shape().to_vec(),
                detail: format!(": input's last dimension must be in_features = {in_f}"),
            });
        }
        let x = x.contiguous();
        let rows = x.numel() / in_f.max(1);
        let mut y = vec![0.0f32; rows * out_f];
        let x_view = MatRef::new(x.as_slice().unwrap_or(&[]), rows, in_f);
        let w_t = MatRef::new(self.weight.as_slice().unwrap_or(&[]), out_f, in_f).t();
        let epilogue = match &self.bias {
            Some(b) => Epilogue::Bias(b.as_slice().unwrap_or(&[])),
            None => Epilogue::None,
        };
        let y_view = MatMut::new(&mut y, rows, out_f);
        // The bias is added in the GEMM's epilogue: one op for the profile.
        let (flops, bytes) = (2 * rows * in_f * out_f, 4 * (rows * in_f + in_f * out_f + rows * out_f));
        if gemm.backend() == Backend::MatrixMultiply {
            // The comparison backend cannot read our panels: give it the weight as stored.
            let _o = crate::profile::op("gemm", flops as u64, bytes as u64);
            gemm.sgemm(x_view, w_t, y_view, epilogue)?;
        } else {
            let packed = match self.packed.get() {
                Some(p) => p,
                None => {
                    let _o = crate::profile::op("pack weights (once)", 0, 8 * (in_f * out_f) as u64);
                    let p = PackedB::new(w_t)?;
                    self.packed.get_or_init(|| p)
                }
            };
            let _o = crate::profile::op("gemm", flops as u64, bytes as u64);
            gemm.sgemm_prepacked(x_view, packed, y_view, epilogue)?;
        }
        let mut shape = x.shape().to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = out_f;
        Tensor::from_vec(y, &shape)
    }

    /// The same layer written with tensor ops: `matmul(x, Wᵀ) + b`. The slow obvious reference.
    pub fn forward_ref(&self, x: &Tensor) -> Result<Tensor> {
        let y = crate::ops::matmul::matmul(x, &self.weight.t()?)?;
        match &self.bias {
            Some(b) => crate::ops::add(&y, b),
            None => Ok(y),
        }
    }
}

impl Module for Linear {
    fn name(&self) -> String {
        "Linear".into()
    }
    fn extra_repr(&self) -> String {
        let bias = if self.bias.is_some() { "True" } else { "False" };
        format!("in_features={}, out_features={}, bias={bias}", self.in_features(), self.out_features())
    }
    fn own_parameters(&self) -> Vec<&Tensor> {
        std::iter::once(&self.weight).chain(self.bias.as_ref()).collect()
    }
}
