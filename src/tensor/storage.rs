//! Where a tensor's numbers live.
//!
//! A tensor is a *view* (shape, strides, offset) onto a flat buffer of `f32`. The buffer is
//! either a `Vec<f32>` we own, or a slice of a memory-mapped checkpoint file that we borrow
//! without copying: loading a 90 MB model then costs one `mmap` call, and the operating
//! system pages weights in as the first forward pass touches them.
//!
//! Storage is shared behind an `Arc`, so views (transpose, narrow, reshape...) are free.
//!
//! `Storage` is opaque: its two representations are private, and the only way to borrow a
//! mapping is [`Storage::from_mmap`], which checks the range and the alignment. That check is
//! what makes the one `unsafe` line below sound, so safe code must not be able to skip it:
//!
//! ```compile_fail
//! // A mapped view claiming a million values of whatever file: does not compile (the
//! // representation is private).
//! use nanobert::tensor::Storage;
//! fn map() -> std::sync::Arc<memmap2::Mmap> { unimplemented!() }
//! let s = Storage::Mapped { map: map(), start: 0, len: 1_000_000 };
//! ```
//!
//! The same set-up through the checked constructor compiles, and says no (so the example
//! above fails for the reason it shows, not for a missing import):
//!
//! ```no_run
//! use nanobert::tensor::Storage;
//! fn map() -> std::sync::Arc<memmap2::Mmap> { unimplemented!() }
//! let s: Option<Storage> = Storage::from_mmap(map(), 0, 1_000_000);
//! assert!(s.is_none());
//! ```

use std::sync::Arc;

/// A flat buffer of f32 values: owned, or borrowed from a memory-mapped file.
///
/// Build one with [`Storage::owned`] (or `From<Vec<f32>>`) or [`Storage::from_mmap`].
pub struct Storage(Repr);

/// The two places numbers can live (private: see the module's documentation).
enum Repr {
    /// Numbers we computed or copied: a plain vector.
    Owned(Vec<f32>),
    /// Numbers borrowed from a memory-mapped file (little-endian f32, 4-byte aligned).
    /// Invariant (checked by `from_mmap`): `start + 4 * len <= map.len()` and
    /// `map.as_ptr() + start` is 4-byte aligned.
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
    /// A buffer that owns `data`.
    pub fn owned(data: Vec<f32>) -> Storage {
        Storage(Repr::Owned(data))
    }

    /// Borrow `len` f32 values starting at byte `start` of a mapping.
    ///
    /// Returns `None` when the range is out of bounds (or its size overflows), not 4-byte
    /// aligned (the caller then falls back to a copy), or on a big-endian machine where the
    /// bytes are not our f32s.
    pub fn from_mmap(map: Arc<memmap2::Mmap>, start: usize, len: usize) -> Option<Storage> {
        let end = start.checked_add(len.checked_mul(4)?)?;
        if end > map.len() || cfg!(target_endian = "big") {
            return None;
        }
        let ptr = map.as_ptr().wrapping_add(start);
        if !(ptr as usize).is_multiple_of(std::mem::align_of::<f32>()) {
            return None;
        }
        Some(Storage(Repr::Mapped { map, start, len }))
    }

    /// All the values in the buffer, in memory order.
    pub fn as_slice(&self) -> &[f32] {
        match &self.0 {
            Repr::Owned(v) => v,
            Repr::Mapped { map, start, len } => {
                // SAFETY: a `Repr::Mapped` is only built by `from_mmap` (the field is private),
                // which checked that `start..start + 4 * len` lies inside the mapping (so the
                // slice is at most the mapping's size, below isize::MAX bytes) and that its
                // first byte is 4-byte aligned; every bit pattern is a valid f32; the mapping
                // is read-only, never remapped, and lives as long as `map`, which outlives the
                // returned borrow of `self`. That its bytes do not change underneath is the
                // contract of the `unsafe` `Mmap::map` that made `map` (see `io/safetensors.rs`).
                unsafe { std::slice::from_raw_parts(map.as_ptr().add(*start) as *const f32, *len) }
            }
        }
    }

    /// Number of f32 values in the buffer.
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Owned(v) => v.len(),
            Repr::Mapped { len, .. } => *len,
        }
    }

    /// True when the buffer holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True when the values are borrowed from a file mapping rather than owned.
    pub fn is_mapped(&self) -> bool {
        matches!(self.0, Repr::Mapped { .. })
    }
}

impl From<Vec<f32>> for Storage {
    fn from(data: Vec<f32>) -> Storage {
        Storage::owned(data)
    }
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Repr::Owned(v) => write!(f, "Owned({} values)", v.len()),
            Repr::Mapped { start, len, .. } => write!(f, "Mapped({len} values at byte {start})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A read-only mapping of `bytes` (a 4096-aligned page, so byte 0 is 4-byte aligned).
    fn map_of(bytes: &[u8]) -> Arc<memmap2::Mmap> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(bytes).unwrap();
        // SAFETY: the temporary file is private to this test and never written again.
        Arc::new(unsafe { memmap2::Mmap::map(&file) }.unwrap())
    }

    fn bytes_of(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn from_mmap_borrows_exactly_the_range_asked_for() {
        let map = map_of(&bytes_of(&[1.0, 2.0, 3.0, 4.0]));
        let all = Storage::from_mmap(map.clone(), 0, 4).expect("whole file");
        assert!(all.is_mapped());
        assert_eq!(all.as_slice(), &[1.0, 2.0, 3.0, 4.0]);
        let tail = Storage::from_mmap(map.clone(), 8, 2).expect("ends exactly at the end");
        assert_eq!(tail.as_slice(), &[3.0, 4.0]);
        assert_eq!(tail.len(), 2);
        let empty = Storage::from_mmap(map, 16, 0).expect("an empty range at the very end");
        assert!(empty.is_empty() && empty.as_slice().is_empty());
    }

    #[test]
    fn from_mmap_refuses_ranges_past_the_end() {
        let map = map_of(&bytes_of(&[1.0, 2.0, 3.0, 4.0]));
        assert!(Storage::from_mmap(map.clone(), 0, 5).is_none(), "one value too many");
        assert!(Storage::from_mmap(map.clone(), 4, 4).is_none(), "starts inside, ends outside");
        assert!(Storage::from_mmap(map.clone(), 20, 0).is_none(), "starts past the end");
        assert!(Storage::from_mmap(map.clone(), 0, 1_000_000).is_none(), "the old unchecked construction");
    }

    #[test]
    fn from_mmap_refuses_overflowing_sizes() {
        let map = map_of(&bytes_of(&[1.0; 4]));
        assert!(Storage::from_mmap(map.clone(), 0, usize::MAX / 2).is_none(), "4 * len overflows");
        assert!(Storage::from_mmap(map.clone(), usize::MAX - 2, 1).is_none(), "start + 4 * len overflows");
        assert!(Storage::from_mmap(map, usize::MAX, 0).is_none());
    }

    #[test]
    fn from_mmap_refuses_misaligned_starts() {
        let map = map_of(&[0u8; 20]);
        for start in [1, 2, 3, 5] {
            assert!(Storage::from_mmap(map.clone(), start, 1).is_none(), "byte {start} is not 4-aligned");
        }
        assert!(Storage::from_mmap(map, 4, 1).is_some());
    }

    #[test]
    fn owned_storage_reports_its_values() {
        let s = Storage::from(vec![1.0, -2.0]);
        assert!(!s.is_mapped());
        assert_eq!((s.len(), s.as_slice()), (2, &[1.0, -2.0][..]));
        assert_eq!(format!("{s:?}"), "Owned(2 values)");
    }
}
