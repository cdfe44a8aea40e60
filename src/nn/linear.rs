//! # Linear: a generalization of a line, and nothing but a matmul
//!
//! `y = x·Wᵀ + b`. In one dimension that is the line `y = w·x + b`; with vectors it mixes
//! every input feature into every output feature. PyTorch (and every Hugging Face
//! checkpoint) stores `W` as `[out_features, in_features]`, so the product is `x · Wᵀ`:
//! we hand `sgemm` the weight as it is and ask for the transpose (`transpose_b = true`)
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
use crate::ops::matmul::{Backend, PackedB, backend, sgemm, sgemm_prepacked};
use crate::{Error, Result, Tensor};

/// `torch.nn.Linear`: weight `[out, in]`, optional bias `[out]`.
pub struct Linear {
    pub weight: Tensor,
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

    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// `x: [..., in] -> [..., out]`, one GEMM over all leading dimensions at once.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
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
        self.forward_into(x.as_slice().unwrap_or(&[]), rows, &mut y, false, true)?;
        let mut shape = x.shape().to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = out_f;
        Tensor::from_vec(y, &shape)
    }

    /// `y = x·Wᵀ + b`, then GELU when `gelu`, on row-major slices: `x: [rows, in]`,
    /// `y: [rows, out]` (overwritten). What the BERT forward calls on its workspace buffers.
    ///
    /// With `fuse` the bias (and GELU) are applied in one pass right after the GEMM; without,
    /// a bias pass and then a GELU pass (the unfused reference of [`crate::bert::Fusion`]).
    /// Errors if a slice is too short for its matrix.
    pub fn forward_into(&self, x: &[f32], rows: usize, y: &mut [f32], gelu: bool, fuse: bool) -> Result<()> {
        use crate::ops::simd::{Isa, add_bias_rows};
        let (out_f, in_f) = (self.out_features(), self.in_features());
        if x.len() < rows * in_f || y.len() < rows * out_f {
            return Err(Error::invalid(
                "Linear",
                format!("buffers of {} and {} values for {rows} rows of {in_f} -> {out_f}", x.len(), y.len()),
            ));
        }
        let (x, y) = (&x[..rows * in_f], &mut y[..rows * out_f]);
        if backend() == Backend::MatrixMultiply {
            // The comparison backend cannot read our panels: give it the weight as stored.
            let w = self.weight.as_slice().unwrap_or(&[]);
            sgemm(rows, in_f, out_f, x, in_f, w, in_f, y, out_f, true);
        } else {
            sgemm_prepacked(rows, x, in_f, self.packed()?, y, out_f)?;
        }
        let bias = self.bias.as_ref().and_then(|b| b.as_slice()).unwrap_or(&[]);
        let isa = Isa::best();
        use crate::ops::par_rows as par;
        match (gelu, fuse) {
            (false, _) => par(y, out_f, |_, y| add_bias_rows(isa, y, bias)),
            (true, true) => par(y, out_f, |_, y| crate::ops::activation::bias_gelu_rows(isa, y, bias)),
            (true, false) => {
                par(y, out_f, |_, y| add_bias_rows(isa, y, bias));
                crate::ops::gelu_in_place(y);
            }
        }
        Ok(())
    }

    /// The weight packed for the GEMM (packed by the first call).
    fn packed(&self) -> Result<&PackedB> {
        Ok(match self.packed.get() {
            Some(p) => p,
            None => {
                let (out_f, in_f) = (self.out_features(), self.in_features());
                let p = PackedB::new(in_f, out_f, self.weight.as_slice().unwrap_or(&[]), in_f, true)?;
                self.packed.get_or_init(|| p)
            }
        })
    }

    /// One Linear computing all of `parts` at once: their weights stacked along `out`
    /// (`[Σ out, in]`) and their biases concatenated, so `y[:, o_i..o_i + out_i]` is part `i`'s
    /// output. BERT's fused Q, K, V projection. Errors if the parts differ in `in_features`.
    pub fn concat(parts: &[&Linear]) -> Result<Linear> {
        let in_f = parts.first().map(|l| l.in_features()).unwrap_or(0);
        if let Some(bad) = parts.iter().find(|l| l.in_features() != in_f) {
            return Err(Error::invalid(
                "Linear::concat",
                format!("in_features differ: {} and {}", in_f, bad.in_features()),
            ));
        }
        let out_f: usize = parts.iter().map(|l| l.out_features()).sum();
        let mut w = Vec::with_capacity(out_f * in_f);
        let mut b = Vec::with_capacity(out_f);
        for l in parts {
            w.extend_from_slice(&l.weight.to_vec());
            match &l.bias {
                Some(t) => b.extend_from_slice(&t.to_vec()),
                None => b.extend(std::iter::repeat_n(0.0, l.out_features())),
            }
        }
        Linear::new(Tensor::from_vec(w, &[out_f, in_f])?, Some(Tensor::from_vec(b, &[out_f])?))
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
