//! # Linear: a generalization of a line, and nothing but a matmul
//!
//! `y = x·Wᵀ + b`. In one dimension that is the line `y = w·x + b`; with vectors it mixes
//! every input feature into every output feature. PyTorch (and every Hugging Face
//! checkpoint) stores `W` as `[out_features, in_features]`, so the product is `x · Wᵀ`:
//! the GEMM reads the weight as it is, viewed as its transpose (`MatRef::new(w, out, in).t()`),
//! instead of copying it.
//!
//! The layer holds the weight twice: `weight`, the f32 original (usually borrowed from the
//! mmapped checkpoint) that printing, parameter counts and [`Linear::forward_ref`] read, and
//! the copy the GEMM reads, a [`Storage`]: the f32 weight packed into the microkernel's panels
//! on the first product, or f16, bf16 or int8 panels after a conversion
//! ([`crate::nn::to_precision`], which takes the model by `&mut`). How each format is packed
//! and multiplied is `quant`'s business (`src/quant/storage.rs`); this file only wires the
//! weight, the bias and that GEMM together.

use super::module::Module;
use crate::ops::matmul::{Epilogue, Gemm};
use crate::quant::{Precision, Storage};
use crate::{Error, Result, Tensor};

/// `torch.nn.Linear`: weight `[out, in]`, optional bias `[out]`.
pub struct Linear {
    /// `[out_features, in_features]` f32, as PyTorch stores it.
    pub weight: Tensor,
    /// `[out_features]`, added to every row of the output.
    pub bias: Option<Tensor>,
    /// The weight as the GEMM reads it (f32 panels unless converted).
    storage: Storage,
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
        Ok(Linear { weight: weight.contiguous(), bias: bias.map(|b| b.contiguous()), storage: Storage::default() })
    }

    /// Width of the input rows (`weight.shape()[1]`).
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Width of the output rows (`weight.shape()[0]`).
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }

    /// `x: [..., in] -> [..., out]`: one GEMM over all leading dimensions at once, the bias
    /// added in the GEMM's epilogue. Runs nanobert's best GEMM ([`Gemm::default`]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(&Gemm::default(), x)
    }

    /// [`Linear::forward`] with an explicit GEMM choice (e.g. `Gemm::matrixmultiply()` to
    /// compare, which reads the weight as stored instead of the packed copy).
    pub fn forward_with(&self, gemm: &Gemm, x: &Tensor) -> Result<Tensor> {
        self.run(gemm, x, false)
    }

    /// `GELU(x·Wᵀ + b)`, the GELU applied in the GEMM's epilogue (at every precision):
    /// BERT's FFN up-projection without a second pass over its output.
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        self.run(&Gemm::default(), x, true)
    }

    fn run(&self, gemm: &Gemm, x: &Tensor, gelu: bool) -> Result<Tensor> {
        let in_f = self.in_features();
        if x.ndim() == 0 || x.shape()[x.ndim() - 1] != in_f {
            return Err(Error::ShapeMismatch {
                op: "Linear",
                lhs: x.shape().to_vec(),
                rhs: self.weight.shape().to_vec(),
                detail: format!(": input's last dimension must be in_features = {in_f}"),
            });
        }
        let x = x.contiguous(); // [..., in], seen as [rows, in]: every token at once
        let rows = x.numel() / in_f.max(1);
        let mut y = vec![0.0f32; rows * self.out_features()];
        self.forward_into(gemm, x.as_slice().unwrap_or(&[]), rows, &mut y, gelu, true)?;
        let mut shape = x.shape().to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = self.out_features();
        Tensor::from_vec(y, &shape)
    }

    /// `y = x·Wᵀ + b`, then GELU when `gelu`, on row-major slices: `x: [rows, in]`,
    /// `y: [rows, out]` (overwritten). What the BERT forward calls on its workspace buffers.
    ///
    /// With `fuse` the bias (and GELU) are the GEMM's epilogue ([`Epilogue::Bias`],
    /// [`Epilogue::BiasGelu`]), applied to each tile of C as it is finished, at every precision;
    /// without, the GEMM writes `x·Wᵀ`, then a bias pass and a GELU pass follow (the unfused
    /// reference of [`crate::bert::Fusion`]). Errors if a slice is too short for its matrix.
    pub fn forward_into(
        &self,
        gemm: &Gemm,
        x: &[f32],
        rows: usize,
        y: &mut [f32],
        gelu: bool,
        fuse: bool,
    ) -> Result<()> {
        let bias = self.bias.as_ref().and_then(|b| b.as_slice()).unwrap_or(&[]);
        // A Linear without a bias has nothing to fuse GELU with, and runs it as a pass.
        let in_gemm = fuse && self.bias.is_some();
        let epilogue = match (in_gemm, gelu) {
            (true, false) => Epilogue::Bias(bias),
            (true, true) => Epilogue::BiasGelu(bias),
            (false, _) => Epilogue::None,
        };
        self.gemm_into(gemm, x, rows, y, epilogue)?;
        let y = &mut y[..rows * self.out_features()];
        if !in_gemm && !bias.is_empty() {
            let _o = crate::profile::op("bias", 0, (8 * y.len()) as u64);
            let isa = crate::ops::simd::Isa::best();
            crate::ops::par_rows(y, bias.len(), |_, y| crate::ops::simd::add_bias_rows(isa, y, bias));
        }
        if gelu && !in_gemm {
            let _o = crate::profile::op("gelu", 0, (8 * y.len()) as u64);
            crate::ops::gelu_in_place(y);
        }
        Ok(())
    }

    /// `y = epilogue(x·Wᵀ)` on row-major slices (`x: [rows, in]`, `y: [rows, out]`), the GEMM
    /// alone at the layer's precision ([`Storage::gemm`]): what [`Linear::forward_into`] runs
    /// before its bias and GELU passes, and what the graph's `matmul` node runs
    /// (`crate::graph`). Errors if a slice is too short for its matrix.
    pub fn gemm_into(&self, gemm: &Gemm, x: &[f32], rows: usize, y: &mut [f32], epilogue: Epilogue<'_>) -> Result<()> {
        let (n, k) = (self.out_features(), self.in_features());
        super::calibrate::observe(self, x.get(..rows * k).unwrap_or(&[]));
        self.storage.gemm(gemm, self.weight.as_slice().unwrap_or(&[]), x, rows, y, (n, k), epilogue)
    }

    /// The same layer written with tensor ops: `matmul(x, Wᵀ) + b`. The slow obvious reference.
    pub fn forward_ref(&self, x: &Tensor) -> Result<Tensor> {
        let y = crate::ops::matmul::matmul(x, &self.weight.t()?)?;
        match &self.bias {
            Some(b) => crate::ops::add(&y, b),
            None => Ok(y),
        }
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

    /// The precision of the copy the GEMM reads.
    pub fn precision(&self) -> Precision {
        self.storage.precision()
    }

    /// The copy of the weight the GEMM reads.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// Replaces the copy of the weight the GEMM reads (`weight` itself is kept, in f32), e.g.
    /// with `Storage::new(Precision::Int8, ...)` or what `quant::PrecisionPlan::storage_for`
    /// built. Takes `&mut self`: a layer's numbers never change under a shared reference.
    /// Errors if the storage was built for another shape.
    pub fn set_storage(&mut self, storage: Storage) -> Result<()> {
        if let Some((n, k)) = storage.shape()
            && (n, k) != (self.out_features(), self.in_features())
        {
            return Err(Error::invalid(
                "Linear",
                format!("storage for a [{n}, {k}] weight given to a layer with weight {:?}", self.weight.shape()),
            ));
        }
        self.storage = storage;
        Ok(())
    }

    /// Bytes of the weight's fast copy (packed panels, scales) plus the f32 bias: what this
    /// layer keeps in memory for `forward` (the f32 `weight` usually stays in the mmapped file).
    pub fn weight_bytes(&self) -> usize {
        let bias = self.bias.as_ref().map_or(0, |b| b.numel() * 4);
        self.storage.bytes(self.out_features(), self.in_features()) + bias
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
    fn as_linear(&self) -> Option<&Linear> {
        Some(self)
    }
    fn as_linear_mut(&mut self) -> Option<&mut Linear> {
        Some(self)
    }
}
