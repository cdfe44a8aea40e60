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
//!
//! Lower precision (`crate::quant`): [`Linear::set_precision`] replaces the fast copy by f16,
//! bf16 or int8 panels ([`Storage`]); `weight` stays the f32 original (for printing and the
//! references) and every storage runs the same `y = x·Wᵀ + b` with the same [`Epilogue`]
//! (bias, or bias then GELU) applied by its GEMM, so fusion works at every precision.

use super::module::Module;
use crate::ops::matmul::{Backend, Epilogue, Gemm, MatMut, MatRef, PackedB};
use crate::quant::{PackedI8, Precision, Storage, half::PackedHalf};
use crate::{Error, Result, Tensor};

/// `torch.nn.Linear`: weight `[out, in]`, optional bias `[out]`.
pub struct Linear {
    /// `[out_features, in_features]` f32, as PyTorch stores it (often borrowed from the mmapped
    /// checkpoint); kept for printing, parameter counts and `forward_ref`.
    pub weight: Tensor,
    /// `[out_features]`, added to every row of the output.
    pub bias: Option<Tensor>,
    /// The fast copy of `weight` the GEMM reads: f32 panels (packed by the first `forward`),
    /// or f16/bf16/int8 panels after [`Linear::set_precision`].
    storage: std::sync::RwLock<Storage>,
    /// While calibrating (`quant::calibrate`): the largest |input| seen per input feature.
    observer: std::sync::Mutex<Option<Vec<f32>>>,
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
        Ok(Linear {
            weight: weight.contiguous(),
            bias: bias.map(|b| b.contiguous()),
            storage: Default::default(),
            observer: Default::default(),
        })
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
        self.run(gemm, x, false)
    }

    /// `GELU(x·Wᵀ + b)`, the GELU applied in the GEMM's epilogue (at every precision):
    /// BERT's FFN up-projection without a second pass over its output.
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        self.run(&Gemm::default(), x, true)
    }

    fn run(&self, gemm: &Gemm, x: &Tensor, gelu: bool) -> Result<Tensor> {
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
        self.forward_into(gemm, x.as_slice().unwrap_or(&[]), rows, &mut y, gelu, true)?;
        let mut shape = x.shape().to_vec();
        *shape.last_mut().unwrap_or(&mut 0) = out_f;
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
        use crate::ops::simd::{Isa, add_bias_rows};
        let out_f = self.out_features();
        let bias = self.bias.as_ref().and_then(|b| b.as_slice()).unwrap_or(&[]);
        // With the fusion on, the bias (and GELU) ride in the GEMM; a Linear without a bias
        // has nothing to fuse GELU with, and runs it as a pass.
        let in_gemm = fuse && self.bias.is_some();
        let epilogue = match (in_gemm, gelu) {
            (true, false) => Epilogue::Bias(bias),
            (true, true) => Epilogue::BiasGelu(bias),
            (false, _) => Epilogue::None,
        };
        self.gemm_into(gemm, x, rows, y, epilogue)?;
        let y = &mut y[..rows * out_f];
        let isa = Isa::best();
        use crate::ops::par_rows as par;
        if !in_gemm && !bias.is_empty() {
            let _o = crate::profile::op("bias", 0, (8 * y.len()) as u64);
            par(y, out_f, |_, y| add_bias_rows(isa, y, bias));
        }
        if gelu && !in_gemm {
            let _o = crate::profile::op("gelu", 0, (8 * y.len()) as u64);
            crate::ops::gelu_in_place(y);
        }
        Ok(())
    }

    /// `y = epilogue(x·Wᵀ)` on row-major slices (`x: [rows, in]`, `y: [rows, out]`), the
    /// GEMM alone at the layer's precision: what [`Linear::forward_into`] runs before its bias
    /// and GELU passes, and what the graph's `matmul` node runs (`crate::graph`). `epilogue`
    /// carries the bias when it is fused. Errors if a slice is too short for its matrix.
    pub fn gemm_into(&self, gemm: &Gemm, x: &[f32], rows: usize, y: &mut [f32], epilogue: Epilogue<'_>) -> Result<()> {
        let (out_f, in_f) = (self.out_features(), self.in_features());
        if x.len() < rows * in_f || y.len() < rows * out_f {
            return Err(Error::invalid(
                "Linear",
                format!("buffers of {} and {} values for {rows} rows of {in_f} -> {out_f}", x.len(), y.len()),
            ));
        }
        let (x, y) = (&x[..rows * in_f], &mut y[..rows * out_f]);
        self.observe(x, in_f);
        let x_view = MatRef::new(x, rows, in_f);
        let w_t = MatRef::new(self.weight.as_slice().unwrap_or(&[]), out_f, in_f).t();
        let flops = 2 * rows * in_f * out_f;
        let io_bytes = 4 * (rows * in_f + rows * out_f);
        let storage = self.storage.read().map_err(|_| Error::invalid("Linear", "weight storage poisoned"))?;
        match &*storage {
            Storage::F32(packed) => {
                let bytes = (io_bytes + 4 * in_f * out_f) as u64;
                let y_view = MatMut::new(&mut *y, rows, out_f);
                if gemm.backend() == Backend::MatrixMultiply {
                    // The comparison backend cannot read our panels: give it the weight as stored.
                    let _o = crate::profile::op("gemm", flops as u64, bytes);
                    gemm.sgemm(x_view, w_t, y_view, epilogue)?;
                } else {
                    let packed = match packed.get() {
                        Some(p) => p,
                        None => {
                            let _o = crate::profile::op("pack weights (once)", 0, 8 * (in_f * out_f) as u64);
                            let p = PackedB::new(w_t)?;
                            packed.get_or_init(|| p)
                        }
                    };
                    let _o = crate::profile::op("gemm", flops as u64, bytes);
                    gemm.sgemm_prepacked(x_view, packed, y_view, epilogue)?;
                }
            }
            Storage::Half(h) => {
                let _o = crate::profile::op("gemm", flops as u64, (io_bytes + h.bytes()) as u64);
                crate::quant::half::gemm_half(rows, x, in_f, h, y, out_f, epilogue)?
            }
            Storage::Int8(q) => {
                let _o = crate::profile::op("gemm", flops as u64, (io_bytes + q.bytes()) as u64);
                crate::quant::int8::gemm_i8(rows, x, in_f, q, y, out_f, epilogue)?
            }
        }
        Ok(())
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

    /// How the fast copy of the weight is stored.
    pub fn precision(&self) -> Precision {
        self.storage.read().map(|s| s.precision()).unwrap_or_default()
    }

    /// Converts the fast copy of the weight to `p` (`weight` itself is kept, in f32).
    /// `smooth` (int8 only, `[in_features]`, > 0): SmoothQuant factors folded into the weight
    /// (see `quant::int8::PackedI8::with_kernel`). Errors on a non-finite weight or bad factors.
    pub fn set_precision(&self, p: Precision, smooth: Option<&[f32]>) -> Result<()> {
        let w = self.weight.as_slice().unwrap_or(&[]);
        let (n, k) = (self.out_features(), self.in_features());
        self.set_storage(match p {
            Precision::F32 => Storage::default(),
            Precision::F16 | Precision::Bf16 => Storage::Half(PackedHalf::new(p, w, n, k)?),
            Precision::Int8 => Storage::Int8(PackedI8::with_kernel(crate::quant::I8Kernel::best(), w, n, k, smooth)?),
        })
    }

    /// Replaces the fast copy of the weight (built by `quant::PrecisionPlan::storage_for`).
    /// Errors if the storage was built for another shape.
    pub fn set_storage(&self, storage: Storage) -> Result<()> {
        let shape = match &storage {
            Storage::F32(_) => None,
            Storage::Half(h) => Some((h.n(), h.k())),
            Storage::Int8(q) => Some((q.n(), q.k())),
        };
        if let Some((n, k)) = shape
            && (n, k) != (self.out_features(), self.in_features())
        {
            return Err(Error::invalid(
                "Linear",
                format!("storage for a [{n}, {k}] weight given to a layer with weight {:?}", self.weight.shape()),
            ));
        }
        *self.storage.write().map_err(|_| Error::invalid("Linear", "weight storage poisoned"))? = storage;
        Ok(())
    }

    /// Bytes of the weight's fast copy (packed panels, scales) plus the f32 bias: what this
    /// layer keeps in memory for `forward` (the f32 `weight` usually stays in the mmapped file).
    pub fn weight_bytes(&self) -> usize {
        let bias = self.bias.as_ref().map_or(0, |b| b.numel() * 4);
        self.storage.read().map(|s| s.bytes(self.out_features(), self.in_features())).unwrap_or(0) + bias
    }

    /// Starts (`true`) or stops recording the largest |input| per input feature; stopping
    /// returns what was recorded (`[in_features]`, `None` if nothing ran).
    pub fn observe_inputs(&self, on: bool) -> Option<Vec<f32>> {
        let mut obs = self.observer.lock().ok()?;
        if on {
            *obs = Some(vec![0.0; self.in_features()]);
            None
        } else {
            obs.take()
        }
    }

    fn observe(&self, x: &[f32], in_f: usize) {
        if let Ok(mut obs) = self.observer.lock()
            && let Some(max) = obs.as_mut()
        {
            for row in x.chunks_exact(in_f.max(1)) {
                max.iter_mut().zip(row).for_each(|(m, v)| *m = m.max(v.abs()));
            }
        }
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
    fn as_linear(&self) -> Option<&Linear> {
        Some(self)
    }
}
