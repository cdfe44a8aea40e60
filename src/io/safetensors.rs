//! # Reading weights without copying them: safetensors + mmap
//!
//! A `.safetensors` file is the simplest possible tensor container:
//!
//! ```text
//! [ 8 bytes: N, little-endian u64 ][ N bytes: JSON header ][ raw tensor bytes ... ]
//! ```
//!
//! The JSON header maps each tensor name to `{dtype, shape, data_offsets: [begin, end]}`,
//! with offsets counted from the first byte after the header. The data is little-endian and
//! row-major, exactly the layout of our [`Tensor`] buffers.
//!
//! So instead of reading the file, we *map* it (`mmap`): the operating system makes the file
//! appear as one long `&[u8]` and loads pages lazily on first touch. An f32 tensor whose
//! bytes start on a 4-byte boundary is then handed out as a [`Tensor`] whose storage *is*
//! that slice of the mapping ([`Storage::from_mmap`]): opening a 90 MB model costs one system
//! call and zero copies. Anything else (misaligned f32, f16, bf16, f64) is converted into
//! an owned `Vec<f32>`.
//!
//! The `safetensors` crate parses and validates the header; we do the rest.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::safetensors::tensor::{Dtype, TensorInfo, View};
use memmap2::Mmap;

use crate::tensor::{Storage, numel};
use crate::{Error, Result, Tensor};

/// A memory-mapped `.safetensors` file.
///
/// Cheap to clone conceptually (the mapping is behind an `Arc`); tensors returned by
/// [`Weights::get`] keep the mapping alive on their own, so `Weights` may be dropped first.
pub struct Weights {
    path: PathBuf,
    map: Arc<Mmap>,
    /// Byte offset of the data section inside the mapping (8 + header length).
    data_start: usize,
    /// Tensor name -> dtype, shape, offsets (sorted by name for stable listings).
    infos: BTreeMap<String, TensorInfo>,
    /// The optional `__metadata__` string map of the header (e.g. `{"format": "pt"}`).
    metadata: BTreeMap<String, String>,
}

impl Weights {
    /// Map `path` and parse its header. Errors ([`Error::File`]) name the path.
    pub fn open(path: &Path) -> Result<Weights> {
        let file = File::open(path).map_err(|e| Error::file(path, format!("cannot open safetensors file: {e}")))?;
        // SAFETY: `Mmap::map` is unsafe because Rust cannot stop another process from
        // changing the file while it is mapped: a truncated file makes a read of the lost pages
        // fault (SIGBUS), a rewritten one changes bytes behind a `&[f32]`. The mapping is
        // read-only and this program never writes the file; like every mmap-based loader we
        // rely on checkpoints not being truncated or rewritten while a model is loaded (model
        // files are written once, then read), an assumption, not something checked here.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::file(path, format!("cannot mmap: {e}")))?;
        let (header_len, metadata) = ::safetensors::SafeTensors::read_metadata(&map)
            .map_err(|e| Error::file(path, format!("not a valid safetensors file: {}", explain(&e))))?;
        let infos = metadata.tensors().into_iter().map(|(name, info)| (name, info.clone())).collect();
        let extra = metadata.metadata().clone().unwrap_or_default().into_iter().collect();
        Ok(Weights { path: path.to_path_buf(), map: Arc::new(map), data_start: 8 + header_len, infos, metadata: extra })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All tensor names in the file, sorted.
    pub fn names(&self) -> Vec<String> {
        self.infos.keys().cloned().collect()
    }

    /// Number of tensors in the file.
    pub fn len(&self) -> usize {
        self.infos.len()
    }

    /// True when the file holds no tensors.
    pub fn is_empty(&self) -> bool {
        self.infos.is_empty()
    }

    /// True when the file has a tensor with exactly this name.
    pub fn contains(&self, name: &str) -> bool {
        self.infos.contains_key(name)
    }

    /// The header's `__metadata__` entries (often just `format: pt`).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The stored shape of a tensor, without loading it.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.infos.get(name).map(|i| i.shape.as_slice())
    }

    /// The stored dtype of a tensor as the header spells it (`"F32"`, `"BF16"`, `"I64"`...).
    pub fn dtype(&self, name: &str) -> Option<String> {
        self.infos.get(name).map(|i| format!("{:?}", i.dtype))
    }

    /// The raw bytes and header entry of a tensor.
    fn raw(&self, name: &str) -> Result<(&TensorInfo, usize, &[u8])> {
        let info = self.infos.get(name).ok_or_else(|| Error::Tensor {
            name: name.to_string(),
            msg: format!("not found in {}", self.path.display()),
        })?;
        // `read_metadata` validated that offsets are contiguous, match dtype x shape and end
        // exactly at the end of the file, so this slice is in bounds.
        let start = self.data_start + info.data_offsets.0;
        let end = self.data_start + info.data_offsets.1;
        Ok((info, start, &self.map[start..end]))
    }

    /// Load a tensor as f32.
    ///
    /// - F32 starting on a 4-byte boundary: borrows the mapping (no copy, [`Storage::from_mmap`]).
    /// - F32 misaligned, F16, BF16, F64: converted into an owned buffer.
    /// - Anything else (I64, U8, BOOL...): an error naming the tensor and its dtype.
    pub fn get(&self, name: &str) -> Result<Tensor> {
        let (info, start, bytes) = self.raw(name)?;
        let shape = &info.shape;
        let data: Vec<f32> = match info.dtype {
            Dtype::F32 => {
                if let Some(storage) = Storage::from_mmap(self.map.clone(), start, numel(shape)) {
                    return Tensor::from_storage(Arc::new(storage), shape);
                }
                bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
            }
            Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::BF16 => bytes.chunks_exact(2).map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
            Dtype::F64 => bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32)
                .collect(),
            other => {
                return Err(Error::Tensor {
                    name: name.to_string(),
                    msg: format!(
                        "dtype {other:?} in {} cannot be loaded as floats (expected F32, F16, BF16 or F64)",
                        self.path.display()
                    ),
                });
            }
        };
        Tensor::from_vec(data, shape)
    }

    /// Load an integer tensor (I64, or I32/U8 widened) as `(values, shape)`, e.g. the
    /// `input_ids` of a test fixture.
    pub fn get_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let (info, _, bytes) = self.raw(name)?;
        let values: Vec<i64> = match info.dtype {
            Dtype::I64 => bytes
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
                .collect(),
            Dtype::I32 => bytes.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64).collect(),
            Dtype::U8 | Dtype::BOOL => bytes.iter().map(|&b| b as i64).collect(),
            other => {
                return Err(Error::Tensor {
                    name: name.to_string(),
                    msg: format!("dtype {other:?} in {} is not an integer type (expected I64)", self.path.display()),
                });
            }
        };
        Ok((values, info.shape.clone()))
    }
}

impl std::fmt::Debug for Weights {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Weights({}, {} tensors)", self.path.display(), self.infos.len())
    }
}

/// A sentence for each way a safetensors header can be broken.
fn explain(e: &::safetensors::SafeTensorError) -> String {
    use ::safetensors::SafeTensorError as E;
    match e {
        E::HeaderTooSmall => "file is shorter than the 8-byte header length".into(),
        E::HeaderTooLarge => "header length is absurdly large (corrupt or not safetensors)".into(),
        E::InvalidHeaderLength => "header length points past the end of the file (truncated?)".into(),
        E::InvalidHeader | E::InvalidHeaderStart => "header is not UTF-8 JSON".into(),
        E::InvalidHeaderDeserialization => "header is not valid safetensors JSON".into(),
        E::MetadataIncompleteBuffer => "file size does not match the header (truncated or padded?)".into(),
        E::InvalidOffset(name) => format!("tensor `{name}` has invalid data offsets"),
        E::TensorInvalidInfo => "a tensor's byte size does not match its dtype and shape".into(),
        other => format!("{other:?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Writing
// ------------------------------------------------------------------------------------------

/// One tensor to write with [`save`].
#[derive(Clone, Debug)]
pub enum SaveTensor {
    /// Written as F32 (any layout; non-contiguous views are copied row-major).
    F32(Tensor),
    /// Written as I64, e.g. `input_ids` and `attention_mask`.
    I64 {
        /// The values, row-major.
        data: Vec<i64>,
        /// Their shape.
        shape: Vec<usize>,
    },
}

impl SaveTensor {
    /// An I64 tensor from any integers (u32 token ids, for instance).
    pub fn i64_from<T: Copy + Into<i64>>(data: &[T], shape: &[usize]) -> SaveTensor {
        SaveTensor::I64 { data: data.iter().map(|&v| v.into()).collect(), shape: shape.to_vec() }
    }
}

/// A tensor serialized to little-endian bytes, in the form the `safetensors` crate writes.
struct Encoded {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Encoded {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Write tensors to a `.safetensors` file (via a temporary file renamed into place, so a
/// crash never leaves a half-written file at `path`).
pub fn save(path: &Path, tensors: &[(&str, SaveTensor)]) -> Result<()> {
    let mut encoded = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        if encoded.iter().any(|(n, _): &(&str, Encoded)| n == name) {
            return Err(Error::Tensor { name: name.to_string(), msg: "appears twice in save()".into() });
        }
        let e = match t {
            SaveTensor::F32(t) => Encoded {
                dtype: Dtype::F32,
                shape: t.shape().to_vec(),
                bytes: t.to_vec().iter().flat_map(|v| v.to_le_bytes()).collect(),
            },
            SaveTensor::I64 { data, shape } => {
                if data.len() != numel(shape) {
                    return Err(Error::Tensor {
                        name: name.to_string(),
                        msg: format!("{} values cannot fill shape {shape:?}", data.len()),
                    });
                }
                Encoded {
                    dtype: Dtype::I64,
                    shape: shape.clone(),
                    bytes: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                }
            }
        };
        encoded.push((*name, e));
    }
    let tmp = tmp_sibling(path);
    ::safetensors::serialize_to_file(encoded.iter().map(|(n, e)| (*n, e)), &None, &tmp)
        .map_err(|e| Error::file(path, format!("cannot write safetensors: {e:?}")))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::file(path, format!("cannot move {} into place: {e}", tmp.display()))
    })
}

/// `dir/.name.tmp-<pid>` next to `path`.
fn tmp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// How many values of each floating-point tensor are NaN or infinite: `(name, count, first
/// index, first value)` for the tensors that have any, in name order. Integer tensors are
/// skipped.
///
/// # Errors
/// If a tensor cannot be read (the error names it and the file).
pub fn non_finite_tensors(weights: &Weights) -> Result<Vec<(String, usize, usize, f32)>> {
    use rayon::prelude::*;
    let found: Vec<Option<(String, usize, usize, f32)>> = weights
        .names()
        .into_par_iter()
        .filter(|name| matches!(weights.dtype(name).unwrap_or_default().as_str(), "F32" | "F16" | "BF16" | "F64"))
        .map(|name| -> Result<Option<(String, usize, usize, f32)>> {
            let t = weights.get(&name)?;
            let owned;
            let v = match t.as_slice() {
                Some(s) => s,
                None => {
                    owned = t.to_vec();
                    &owned
                }
            };
            // Branch-free count first (vectorizes); the position only when something is wrong.
            let count = v.iter().map(|x| !x.is_finite() as usize).sum::<usize>();
            Ok((count > 0).then(|| {
                let (i, x) = crate::tensor::compare::first_non_finite(v).unwrap_or((0, f32::NAN));
                (name, count, i, x)
            }))
        })
        .collect::<Result<_>>()?;
    Ok(found.into_iter().flatten().collect())
}

/// The loader check: an error naming every tensor (up to 5, then a count) that holds NaN or
/// infinity, with the file.
///
/// # Errors
/// [`Error::File`] naming the safetensors file and the bad tensors.
pub fn check_weights(weights: &Weights) -> Result<()> {
    let bad = non_finite_tensors(weights)?;
    if bad.is_empty() {
        return Ok(());
    }
    let shown: Vec<String> =
        bad.iter().take(5).map(|(n, c, i, v)| format!("`{n}` ({c} values, first {v} at flat index {i})")).collect();
    let more = if bad.len() > 5 { format!(" and {} more tensors", bad.len() - 5) } else { String::new() };
    Err(Error::file(
        weights.path(),
        format!(
            "non-finite weights (NaN or infinity) in {}{more}: the file is corrupt — fetch or convert it again \
             (--allow-non-finite loads it anyway, for debugging)",
            shown.join(", ")
        ),
    ))
}
