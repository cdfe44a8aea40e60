//! Where a tensor's numbers live.
//!
//! A tensor is a *view* (shape, strides, offset) onto a flat buffer of `f32`. The buffer is
//! either a `Vec<f32>` we own, or a slice of a memory-mapped checkpoint file that we borrow
//! without copying: loading a 90 MB model then costs one `mmap` call, and the operating
//! system pages weights in as the first forward pass touches them.
//!
//! Storage is shared behind an `Arc`, so views (transpose, narrow, reshape...) are free.

use std::sync::Arc;

/// A flat buffer of f32 values.
pub enum Storage {
    /// Numbers we computed or copied: a plain vector.
    Owned(Vec<f32>),
    /// Numbers borrowed from a memory-mapped file (little-endian f32, 4-byte aligned).
    Mapped {
        /// The whole file's mapping, shared by every tensor borrowed from it (unmapped when the
        /// last one is dropped).
        map: Arc<memmap2::Mmap>,
        /// Byte offset of the first value inside the mapping.
        start: usize,
        /// Number of f32 values.
        len: usize,
    },
}

impl Storage {
    /// Borrow `len` f32 values starting at byte `start` of a mapping.
    ///
    /// Returns `None` when the range is out of bounds or not 4-byte aligned (the caller then
    /// falls back to a copy), or on a big-endian machine where the bytes are not our f32s.
    pub fn from_mmap(map: Arc<memmap2::Mmap>, start: usize, len: usize) -> Option<Storage> {
        let end = start.checked_add(len.checked_mul(4)?)?;
        if end > map.len() || cfg!(target_endian = "big") {
            return None;
        }
        let ptr = map.as_ptr().wrapping_add(start);
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<f32>()) {
            return None;
        }
        Some(Storage::Mapped { map, start, len })
    }

    /// All the values in the buffer, in memory order.
    pub fn as_slice(&self) -> &[f32] {
        match self {
            Storage::Owned(v) => v,
            Storage::Mapped { map, start, len } => {
                // SAFETY: `from_mmap` checked that `start..start + 4 * len` lies inside the
                // mapping and that the first byte is 4-byte aligned; every bit pattern is a
                // valid f32; the mapping is read-only and lives as long as `map`.
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*start) as *const f32, *len) }
            }
        }
    }

    /// Number of f32 values in the buffer.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when the buffer holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the values are borrowed from a file mapping rather than owned.
    pub fn is_mapped(&self) -> bool {
        matches!(self, Storage::Mapped { .. })
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Storage::Owned(v) => write!(f, "Owned({} values)", v.len()),
            Storage::Mapped { start, len, .. } => write!(f, "Mapped({len} values at byte {start})"),
        }
    }
}
