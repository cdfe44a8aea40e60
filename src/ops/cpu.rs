//! # What the CPU reports about its caches
//!
//! A blocked GEMM sizes its blocks for the caches (see `matmul/blocked.rs`): a panel of B
//! must stay in L1, a block of B in L2. Those sizes differ from one CPU to the next (Zen 4:
//! L1d 32 KiB and L2 1 MiB per core; Sapphire Rapids: 48 KiB and 2 MiB), so rather than
//! constants tuned on one machine the GEMMs derive their blocks from [`CacheSizes`], read
//! once from the CPU itself with the `cpuid` instruction:
//!
//! - Intel: leaf 4 ("deterministic cache parameters"), one sub-leaf per cache;
//! - AMD: leaf `0x8000_001D`, the same layout (with topology extensions, Zen and later).
//!
//! Each sub-leaf gives a cache's level and type, and its geometry: ways x partitions x line
//! size x sets = bytes. The answer is detected once per process ([`CacheSizes::detect`]) and
//! passed down as a plain value; kernels never ask the CPU (nor read a file) themselves.
//! A CPU that reports nothing (another architecture, a hypervisor hiding the leaves) gets
//! [`CacheSizes::FALLBACK`].
//!
//! ```
//! use nanobert::ops::cpu::CacheSizes;
//! let c = CacheSizes::detect();
//! assert!(c.l1d >= 8 * 1024 && c.l2 >= c.l1d);
//! println!("L1d {} KiB, L2 {} KiB, L3 {} KiB", c.l1d / 1024, c.l2 / 1024, c.l3 / 1024);
//! ```

use std::sync::OnceLock;

/// Data cache sizes of one core, in bytes (L3: the whole cache the core shares).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheSizes {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core.
    pub l2: usize,
    /// Level-3 cache (shared by several cores); 0 if there is none.
    pub l3: usize,
}

impl CacheSizes {
    /// The sizes used when the CPU reports none: 32 KiB / 1 MiB / 8 MiB, common to recent
    /// x86 cores (Zen 3-4, Skylake-SP's L1 and Ice Lake's L2 are close).
    pub const FALLBACK: CacheSizes = CacheSizes { l1d: 32 * 1024, l2: 1024 * 1024, l3: 8 * 1024 * 1024 };

    /// This CPU's caches, read with `cpuid` on the first call and remembered.
    pub fn detect() -> CacheSizes {
        static DETECTED: OnceLock<CacheSizes> = OnceLock::new();
        *DETECTED.get_or_init(|| read_cpuid().unwrap_or(CacheSizes::FALLBACK))
    }

    /// Sizes from the cache descriptors a CPU reports: `(level, kind, bytes)` with kind 1 =
    /// data, 2 = instruction, 3 = unified (the `cpuid` encoding). `None` without an L1 data
    /// and an L2 cache.
    pub fn from_descriptors(descriptors: &[(u32, u32, usize)]) -> Option<CacheSizes> {
        let find = |level: u32| {
            descriptors.iter().filter(|&&(l, kind, _)| l == level && (kind == 1 || kind == 3)).map(|d| d.2).max()
        };
        let (l1d, l2) = (find(1)?, find(2)?);
        (l1d > 0 && l2 >= l1d).then_some(CacheSizes { l1d, l2, l3: find(3).unwrap_or(0) })
    }
}

/// The cache descriptors of `cpuid` leaf 4 (Intel) or `0x8000_001D` (AMD).
#[cfg(target_arch = "x86_64")]
fn read_cpuid() -> Option<CacheSizes> {
    use std::arch::x86_64::__cpuid_count;
    let vendor = __cpuid_count(0, 0);
    let max_basic = vendor.eax;
    // "AuthenticAMD" (and Hygon's "HygonGenuine") keep the leaf among the extended ones.
    let amd = vendor.ebx == u32::from_le_bytes(*b"Auth") || vendor.ebx == u32::from_le_bytes(*b"Hygo");
    let leaf = if amd {
        let max_extended = __cpuid_count(0x8000_0000, 0).eax;
        if max_extended < 0x8000_001D {
            return None;
        }
        0x8000_001D
    } else {
        if max_basic < 4 {
            return None;
        }
        4
    };
    let mut descriptors = Vec::new();
    for sub in 0..16 {
        let r = __cpuid_count(leaf, sub);
        let kind = r.eax & 0x1F;
        if kind == 0 {
            break; // no more caches
        }
        let level = (r.eax >> 5) & 0x7;
        let ways = ((r.ebx >> 22) & 0x3FF) as usize + 1;
        let partitions = ((r.ebx >> 12) & 0x3FF) as usize + 1;
        let line = (r.ebx & 0xFFF) as usize + 1;
        let sets = r.ecx as usize + 1;
        descriptors.push((level, kind, ways * partitions * line * sets));
    }
    CacheSizes::from_descriptors(&descriptors)
}

#[cfg(not(target_arch = "x86_64"))]
fn read_cpuid() -> Option<CacheSizes> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_pick_data_and_unified_caches() {
        // Zen 4 as `cpuid` 0x8000_001D describes it: L1d, L1i, L2, L3.
        let zen4 = [(1, 1, 32 << 10), (1, 2, 32 << 10), (2, 3, 1 << 20), (3, 3, 32 << 20)];
        assert_eq!(CacheSizes::from_descriptors(&zen4), Some(CacheSizes { l1d: 32 << 10, l2: 1 << 20, l3: 32 << 20 }));
        // No L2: not enough to size blocks.
        assert_eq!(CacheSizes::from_descriptors(&[(1, 1, 32 << 10)]), None);
        // An instruction cache is never taken for the data cache.
        assert_eq!(CacheSizes::from_descriptors(&[(1, 2, 64 << 10), (2, 3, 1 << 20)]), None);
    }

    #[test]
    fn detected_sizes_are_plausible() {
        let c = CacheSizes::detect();
        assert!((8 << 10..=1 << 20).contains(&c.l1d), "{c:?}");
        assert!(c.l2 >= c.l1d && c.l2 <= 64 << 20, "{c:?}");
        assert_eq!(c, CacheSizes::detect(), "detected once, the same every call");
    }
}
