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

/// The CPUs this process's cgroup may use, as a whole number of threads: the CPU quota
/// (`cpu.max` of cgroup v2, else `cpu.cfs_quota_us` / `cpu.cfs_period_us` of cgroup v1) rounded
/// up, `None` without a quota (or outside Linux). A container limited to `cpu: 2` sees 2 here
/// however many cores the host has; running more threads than that only gets them throttled.
pub fn cgroup_cpu_limit() -> Option<usize> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    if let Some(max) = read("/sys/fs/cgroup/cpu.max") {
        return parse_cpu_max(&max);
    }
    for dir in ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct"] {
        if let (Some(q), Some(p)) =
            (read(&format!("{dir}/cpu.cfs_quota_us")), read(&format!("{dir}/cpu.cfs_period_us")))
        {
            return parse_cfs(&q, &p);
        }
    }
    None
}

/// Threads from cgroup v2's `cpu.max` (`"$MAX $PERIOD"`, `MAX` being `max` without a quota).
pub fn parse_cpu_max(contents: &str) -> Option<usize> {
    let mut it = contents.split_whitespace();
    let (quota, period) = (it.next()?, it.next().unwrap_or("100000"));
    quota_threads(quota.parse().ok()?, period.parse().ok()?)
}

/// Threads from cgroup v1's `cpu.cfs_quota_us` (-1 without a quota) and `cpu.cfs_period_us`.
pub fn parse_cfs(quota: &str, period: &str) -> Option<usize> {
    quota_threads(quota.trim().parse().ok()?, period.trim().parse().ok()?)
}

fn quota_threads(quota: i64, period: i64) -> Option<usize> {
    if quota <= 0 || period <= 0 {
        return None;
    }
    Some(((quota + period - 1) / period).max(1) as usize)
}

/// The default pool size: [`physical_cores`], capped by the cgroup's CPU quota
/// ([`cgroup_cpu_limit`]) when there is one.
pub fn default_threads() -> usize {
    let cores = physical_cores();
    cgroup_cpu_limit().map_or(cores, |q| q.min(cores)).max(1)
}

/// Sizes rayon's global pool: `threads`, else `RAYON_NUM_THREADS` when set, else
/// [`default_threads`] (physical cores, capped by a container's CPU quota). Call once, before
/// any parallel work (errors if the pool was already built).
pub fn init_pool(threads: Option<usize>) -> Result<usize> {
    let env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    let n = threads.or(env).unwrap_or_else(default_threads).max(1);
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
        let d = super::default_threads();
        println!("default threads: {d} (cgroup CPU limit: {:?})", super::cgroup_cpu_limit());
        assert!(d >= 1 && d <= n);
    }

    #[test]
    fn cgroup_quotas_round_up_to_whole_threads() {
        use super::{parse_cfs, parse_cpu_max};
        // cgroup v2 cpu.max as Kubernetes writes it for `cpu: 2`, `cpu: 1500m`, `cpu: 250m`.
        assert_eq!(parse_cpu_max("200000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(parse_cpu_max("25000 100000\n"), Some(1));
        assert_eq!(parse_cpu_max("max 100000\n"), None, "no limit");
        assert_eq!(parse_cpu_max(""), None);
        assert_eq!(parse_cpu_max("garbage"), None);
        // cgroup v1: quota -1 means no limit.
        assert_eq!(parse_cfs("400000\n", "100000\n"), Some(4));
        assert_eq!(parse_cfs("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs("50000", "0"), None);
    }
}
