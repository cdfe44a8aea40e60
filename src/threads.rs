//! # Threads: how many, and where
//!
//! nanobert splits work over one rayon pool. Its default size is the number of *physical*
//! cores, not logical CPUs: two hyper-threads of one core share its FMA units, and a GEMM
//! that already keeps those units busy gains nothing from a second thread on the same core,
//! while paying for the split (and the two threads evict each other's cache blocks).
//!
//! The rules the forward pass follows (docs/threads.md measures them):
//! - one level of parallelism at a time: a Linear's GEMM spreads over the pool; attention
//!   spreads (sequence, query block) tasks over the pool and runs each task's small GEMMs on
//!   one thread, so no parallel region starts another pool's worth of threads inside itself;
//! - a loop only goes parallel when each task has enough work to pay for waking a thread
//!   (`ops::PARALLEL_THRESHOLD` values for elementwise loops, `ops::matmul::PAR_MIN_MACS`
//!   multiply-adds for a GEMM).

use crate::{Error, Result};

/// Physical cores available to this process: distinct (package, core) pairs among the CPUs
/// Linux lists, capped by the CPUs this process may run on. Falls back to the logical count
/// where the topology is not readable (non-Linux).
pub fn physical_cores() -> usize {
    let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut cores = std::collections::HashSet::new();
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu") else {
        return logical;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.strip_prefix("cpu").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            continue;
        }
        let read = |f: &str| std::fs::read_to_string(entry.path().join("topology").join(f)).ok();
        if let (Some(pkg), Some(core)) = (read("physical_package_id"), read("core_id")) {
            cores.insert((pkg.trim().to_string(), core.trim().to_string()));
        }
    }
    if cores.is_empty() { logical } else { cores.len().min(logical) }
}

/// Sizes rayon's global pool: `threads`, else `RAYON_NUM_THREADS` when set, else
/// [`physical_cores`]. Call once, before any parallel work (errors if the pool was already
/// built).
pub fn init_pool(threads: Option<usize>) -> Result<usize> {
    let env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    let n = threads.or(env).unwrap_or_else(physical_cores).max(1);
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build_global()
        .map_err(|e| Error::Input(format!("--threads {n}: {e}")))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    #[test]
    fn physical_cores_is_between_one_and_the_logical_count() {
        let n = super::physical_cores();
        let logical = std::thread::available_parallelism().map_or(1, |n| n.get());
        println!("physical cores: {n}, logical CPUs: {logical}");
        assert!(n >= 1 && n <= logical);
    }
}
