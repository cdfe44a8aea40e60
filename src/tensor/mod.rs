//! # Tensors: a flat buffer, a shape, and strides
//!
//! What this module teaches: a tensor is not a nested array. It is one flat buffer of numbers
//! plus three small pieces of bookkeeping that say how to walk it:
//!
//! - `shape`: how many entries along each dimension, e.g. `[2, 3]`;
//! - `strides`: how many buffer *elements* to skip to move one step along each dimension
//!   (`[3, 1]` for a row-major 2x3 matrix);
//! - `offset`: where in the buffer element `[0, 0, ...]` lives.
//!
//! Element `[i, j, k]` is at `offset + i*strides[0] + j*strides[1] + k*strides[2]`.
//!
//! Because of that one formula, many operations are *views* that only change the
//! bookkeeping and copy nothing: `transpose` swaps two strides, `narrow` moves the offset,
//! `broadcast_to` sets a stride to 0 so one value is read many times. A view shares its
//! buffer with the tensor it came from (the buffer sits behind an `Arc`). `contiguous()`
//! is the one explicit copy: it lays the elements out in row-major order.
//!
//! Read in this order: `storage.rs` (where numbers live), this file (views), `display.rs`
//! (printing like PyTorch), `rng.rs` (seeded randomness).

pub mod compare;
mod display;
pub mod rng;
pub mod storage;

use std::sync::Arc;

use crate::{Error, Result};
pub use compare::max_abs_diff;
pub use rng::Rng;
pub use storage::Storage;

/// An n-dimensional view onto shared f32 storage.
#[derive(Clone)]
pub struct Tensor {
    storage: Arc<Storage>,
    shape: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
}

/// Row-major ("C order") strides for a shape: the last dimension moves fastest.
///
/// `[2, 3, 4]` gives `[12, 4, 1]`.
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![0; shape.len()];
    let mut step = 1;
    for d in (0..shape.len()).rev() {
        strides[d] = step;
        step *= shape[d].max(1);
    }
    strides
}

/// Number of elements of a shape (1 for the empty shape of a scalar).
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

// ------------------------------------------------------------------------------------------
// Constructors
// ------------------------------------------------------------------------------------------
impl Tensor {
    /// A tensor that owns `data`, laid out row-major with the given shape.
    pub fn from_vec(data: Vec<f32>, shape: &[usize]) -> Result<Tensor> {
        if data.len() != numel(shape) {
            return Err(Error::invalid(
                "from_vec",
                format!("{} values cannot fill shape {:?} ({} elements)", data.len(), shape, numel(shape)),
            ));
        }
        Ok(Self::owned(data, shape))
    }

    /// A contiguous tensor over existing storage (used by checkpoint loading).
    ///
    /// An error when the storage holds fewer than `numel(shape)` values.
    pub fn from_storage(storage: Arc<Storage>, shape: &[usize]) -> Result<Tensor> {
        if storage.len() < numel(shape) {
            return Err(Error::invalid(
                "from_storage",
                format!("{} values cannot fill shape {:?} ({} elements)", storage.len(), shape, numel(shape)),
            ));
        }
        Ok(Tensor { storage, shape: shape.to_vec(), strides: contiguous_strides(shape), offset: 0 })
    }

    /// A contiguous tensor owning `data`, whose length the caller made `numel(shape)`.
    fn owned(data: Vec<f32>, shape: &[usize]) -> Tensor {
        debug_assert_eq!(data.len(), numel(shape));
        Tensor {
            storage: Arc::new(Storage::owned(data)),
            shape: shape.to_vec(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    /// A tensor filled with `value`.
    pub fn full(shape: &[usize], value: f32) -> Tensor {
        Self::owned(vec![value; numel(shape)], shape)
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Tensor {
        Self::full(shape, 0.0)
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Tensor {
        Self::full(shape, 1.0)
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: f32) -> Tensor {
        Self::full(&[], value)
    }

    /// `[0, 1, ..., n-1]` as a 1-D tensor, like `torch.arange(n)` (as floats).
    pub fn arange(n: usize) -> Tensor {
        Self::owned((0..n).map(|i| i as f32).collect(), &[n])
    }

    /// Samples from N(0, 1), reproducible from `seed`.
    pub fn randn(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = Rng::new(seed);
        let data = (0..numel(shape)).map(|_| rng.normal()).collect();
        Self::owned(data, shape)
    }

    /// Samples uniform in [0, 1), reproducible from `seed`.
    pub fn rand(shape: &[usize], seed: u64) -> Tensor {
        let mut rng = Rng::new(seed);
        let data = (0..numel(shape)).map(|_| rng.uniform()).collect();
        Self::owned(data, shape)
    }
}

// ------------------------------------------------------------------------------------------
// Looking at a tensor
// ------------------------------------------------------------------------------------------
impl Tensor {
    /// The size of each dimension.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Elements to skip per step along each dimension.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Position of element `[0, 0, ...]` in the storage.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Total number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// The size of dimension `dim`; negative values count from the end like Python.
    pub fn dim(&self, dim: isize) -> Result<usize> {
        Ok(self.shape[self.normalize_dim("dim", dim)?])
    }

    /// The underlying storage (shared with every view of it).
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// True when two tensors share the same buffer (one is a view of the other).
    pub fn shares_storage_with(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }

    /// True when the elements are laid out row-major with no gaps, so the tensor is one
    /// plain slice of its storage. Dimensions of size 1 may have any stride.
    pub fn is_contiguous(&self) -> bool {
        if self.numel() == 0 {
            return true; // nothing to lay out
        }
        let mut expected = 1;
        for d in (0..self.ndim()).rev() {
            if self.shape[d] != 1 && self.strides[d] != expected {
                return false;
            }
            expected *= self.shape[d];
        }
        true
    }

    /// The elements as one slice, when the tensor is contiguous (`None` otherwise).
    pub fn as_slice(&self) -> Option<&[f32]> {
        if self.is_contiguous() {
            Some(&self.storage.as_slice()[self.offset..self.offset + self.numel()])
        } else {
            None
        }
    }

    /// The elements in row-major order, as a new vector.
    pub fn to_vec(&self) -> Vec<f32> {
        if let Some(s) = self.as_slice() {
            return s.to_vec();
        }
        let data = self.storage.as_slice();
        let mut out = Vec::with_capacity(self.numel());
        self.for_each_offset(|o| out.push(data[o]));
        out
    }

    /// The single value of a one-element tensor (any rank).
    pub fn item(&self) -> Result<f32> {
        if self.numel() != 1 {
            return Err(Error::invalid(
                "item",
                format!("only one-element tensors have an item, this one has shape {:?}", self.shape),
            ));
        }
        Ok(self.storage.as_slice()[self.offset])
    }

    /// The element at a full index, e.g. `t.get(&[1, 2])`.
    pub fn get(&self, index: &[usize]) -> Result<f32> {
        if index.len() != self.ndim() {
            return Err(Error::invalid(
                "get",
                format!(
                    "index {:?} has {} entries, tensor of shape {:?} needs {}",
                    index,
                    index.len(),
                    self.shape,
                    self.ndim()
                ),
            ));
        }
        let mut o = self.offset;
        for (d, (&i, &n)) in index.iter().zip(&self.shape).enumerate() {
            if i >= n {
                return Err(Error::invalid(
                    "get",
                    format!("index {i} is out of range for dimension {d} of size {n} (shape {:?})", self.shape),
                ));
            }
            o += i * self.strides[d];
        }
        Ok(self.storage.as_slice()[o])
    }

    /// Calls `f` with the storage offset of every element, in row-major order.
    ///
    /// This is the one place that walks an arbitrary strided layout; `to_vec`,
    /// `contiguous` and printing are built on it.
    pub fn for_each_offset(&self, mut f: impl FnMut(usize)) {
        let n = self.numel();
        if n == 0 {
            return;
        }
        if self.ndim() == 0 {
            f(self.offset);
            return;
        }
        let last = self.ndim() - 1;
        let (inner_len, inner_stride) = (self.shape[last], self.strides[last]);
        let mut index = vec![0usize; last];
        let mut base = self.offset;
        loop {
            // The innermost dimension is a simple strided run.
            for i in 0..inner_len {
                f(base + i * inner_stride);
            }
            // Odometer increment over the outer dimensions.
            let mut d = last;
            loop {
                if d == 0 {
                    return;
                }
                d -= 1;
                index[d] += 1;
                base += self.strides[d];
                if index[d] < self.shape[d] {
                    break;
                }
                base -= self.strides[d] * self.shape[d];
                index[d] = 0;
            }
        }
    }

    /// Turns a Python-style dimension (negative counts from the end) into an index.
    pub(crate) fn normalize_dim(&self, op: &'static str, dim: isize) -> Result<usize> {
        let n = self.ndim() as isize;
        let d = if dim < 0 { dim + n } else { dim };
        if d < 0 || d >= n {
            return Err(Error::invalid(
                op,
                format!("dimension {dim} is out of range for a tensor of shape {:?}", self.shape),
            ));
        }
        Ok(d as usize)
    }
}

// ------------------------------------------------------------------------------------------
// Views: new shape/strides/offset over the same storage, no copy
// ------------------------------------------------------------------------------------------
impl Tensor {
    fn view(&self, shape: Vec<usize>, strides: Vec<usize>, offset: usize) -> Tensor {
        Tensor { storage: Arc::clone(&self.storage), shape, strides, offset }
    }

    /// Same elements, new shape. A view, so the tensor must be contiguous; call
    /// `contiguous()` first otherwise (that is the copy, made explicit).
    pub fn reshape(&self, shape: &[usize]) -> Result<Tensor> {
        if numel(shape) != self.numel() {
            return Err(Error::invalid(
                "reshape",
                format!(
                    "cannot reshape {:?} ({} elements) into {:?} ({} elements)",
                    self.shape,
                    self.numel(),
                    shape,
                    numel(shape)
                ),
            ));
        }
        if !self.is_contiguous() {
            return Err(Error::invalid(
                "reshape",
                format!(
                    "tensor of shape {:?} with strides {:?} is not contiguous; call .contiguous() first",
                    self.shape, self.strides
                ),
            ));
        }
        Ok(self.view(shape.to_vec(), contiguous_strides(shape), self.offset))
    }

    /// Swaps two dimensions (a 2-D transpose is `transpose(0, 1)`).
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Tensor> {
        let (a, b) = (self.normalize_dim("transpose", d0)?, self.normalize_dim("transpose", d1)?);
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        shape.swap(a, b);
        strides.swap(a, b);
        Ok(self.view(shape, strides, self.offset))
    }

    /// Matrix transpose of a 2-D tensor.
    pub fn t(&self) -> Result<Tensor> {
        if self.ndim() != 2 {
            return Err(Error::invalid("t", format!("expects a 2-D tensor, got shape {:?}", self.shape)));
        }
        self.transpose(0, 1)
    }

    /// Reorders dimensions: output dimension `i` is input dimension `dims[i]`.
    pub fn permute(&self, dims: &[usize]) -> Result<Tensor> {
        let mut seen = vec![false; self.ndim()];
        if dims.len() != self.ndim() || dims.iter().any(|&d| d >= self.ndim() || std::mem::replace(&mut seen[d], true))
        {
            return Err(Error::invalid(
                "permute",
                format!("{dims:?} is not a permutation of the dimensions of a tensor of shape {:?}", self.shape),
            ));
        }
        let shape = dims.iter().map(|&d| self.shape[d]).collect();
        let strides = dims.iter().map(|&d| self.strides[d]).collect();
        Ok(self.view(shape, strides, self.offset))
    }

    /// The slice `start..start + len` along `dim`, like `torch.narrow`.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Tensor> {
        let d = self.normalize_dim("narrow", dim)?;
        if start.checked_add(len).is_none_or(|end| end > self.shape[d]) {
            return Err(Error::invalid(
                "narrow",
                format!(
                    "range {start}..{} is out of bounds for dimension {d} of shape {:?}",
                    start.saturating_add(len),
                    self.shape
                ),
            ));
        }
        let mut shape = self.shape.clone();
        shape[d] = len;
        let offset = if len == 0 { self.offset } else { self.offset + start * self.strides[d] };
        Ok(self.view(shape, self.strides.clone(), offset))
    }

    /// Index `index` along `dim`, removing that dimension (`t[i]` is `select(0, i)`).
    pub fn select(&self, dim: isize, index: usize) -> Result<Tensor> {
        let d = self.normalize_dim("select", dim)?;
        if index >= self.shape[d] {
            return Err(Error::invalid(
                "select",
                format!("index {index} is out of range for dimension {d} of shape {:?}", self.shape),
            ));
        }
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        shape.remove(d);
        strides.remove(d);
        Ok(self.view(shape, strides, self.offset + index * self.strides[d]))
    }

    /// Inserts a dimension of size 1 at position `dim` (0..=ndim).
    pub fn unsqueeze(&self, dim: usize) -> Result<Tensor> {
        if dim > self.ndim() {
            return Err(Error::invalid(
                "unsqueeze",
                format!("position {dim} is out of range for a tensor of shape {:?}", self.shape),
            ));
        }
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        let stride = if dim < self.ndim() { self.strides[dim] * self.shape[dim] } else { 1 };
        shape.insert(dim, 1);
        strides.insert(dim, stride);
        Ok(self.view(shape, strides, self.offset))
    }

    /// Removes dimension `dim`, which must have size 1.
    pub fn squeeze(&self, dim: isize) -> Result<Tensor> {
        let d = self.normalize_dim("squeeze", dim)?;
        if self.shape[d] != 1 {
            return Err(Error::invalid(
                "squeeze",
                format!("dimension {d} of shape {:?} has size {}, not 1", self.shape, self.shape[d]),
            ));
        }
        self.select(d as isize, 0)
    }

    /// Repeats size-1 dimensions (and adds leading ones) to reach `shape`, without copying:
    /// a broadcast dimension gets stride 0, so every index along it reads the same value.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Tensor> {
        let err = || Error::ShapeMismatch {
            op: "broadcast_to",
            lhs: self.shape.clone(),
            rhs: shape.to_vec(),
            detail: ": each dimension must match or be 1".into(),
        };
        if shape.len() < self.ndim() {
            return Err(err());
        }
        let lead = shape.len() - self.ndim();
        let mut strides = vec![0; shape.len()];
        for (d, &n) in shape.iter().enumerate().skip(lead) {
            let (own, stride) = (self.shape[d - lead], self.strides[d - lead]);
            strides[d] = match own {
                _ if own == n => stride,
                1 => 0,
                _ => return Err(err()),
            };
        }
        Ok(self.view(shape.to_vec(), strides, self.offset))
    }

    /// A row-major copy of the elements; a cheap clone when already contiguous.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        let _o = crate::profile::op("copy", 0, 8 * self.numel() as u64);
        Self::owned(self.to_vec(), &self.shape)
    }
}

impl PartialEq for Tensor {
    /// Same shape and same values (element by element, whatever the layout).
    fn eq(&self, other: &Tensor) -> bool {
        self.shape == other.shape && self.to_vec() == other.to_vec()
    }
}
