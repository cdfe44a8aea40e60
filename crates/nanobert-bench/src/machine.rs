//! # The machine: what it is, how busy it is, and what it can do at most
//!
//! Every table nanobert's benchmarks print carries the CPU it ran on (model name and SIMD
//! features), the thread count, the load average and the host's *steal* (time the hypervisor
//! gave our virtual CPUs to someone else) during the run: a number without them cannot be
//! compared with anything.
//!
//! [`Limits`] are the two ceilings a roofline needs, measured on this machine in this run:
//!
//! - the FP32 FMA peak of the widest SIMD the CPU has (AVX-512, else AVX2, else portable
//!   code), per thread count ([`super::peak`]);
//! - the memory bandwidth, from a STREAM-like triad `a[i] = b[i] + s * c[i]` on arrays far
//!   larger than the caches (3 x 4 bytes per element moved; 4 with the write-allocate read,
//!   which STREAM does not count and neither do we).
//!
//! Each is measured several times and the *best* is kept: interference from other processes
//! only ever slows a run down, so the best is the closest to what the hardware can do, and a
//! result measured later can read above 100% only if the limit was never reached while we
//! looked — the load printed beside it says how likely that was.
//!
//! Lower precisions have their own peaks, measured the same way with the instructions their
//! kernels use (`vpdpbusd` for int8, `vdpbf16ps` for bf16; see [`crate::dot_peaks`]):
//! [`Limits::extra_peaks`] holds them (name, G ops/s per thread count).

use std::time::Instant;

use rayon::ThreadPool;

use super::peak::{dot_peak, fma_peak};
use nanobert::ops::matmul::Kernel;
use nanobert::{Error, Result};

/// The CPU model and the SIMD features that matter to nanobert's kernels.
#[derive(Clone, Debug)]
pub struct Cpu {
    /// E.g. "Intel(R) Xeon(R) Processor" (from /proc/cpuinfo; "unknown" elsewhere).
    pub model: String,
    /// Logical CPUs available to this process.
    pub logical_cpus: usize,
    /// Physical cores (distinct `physical id`/`core id` pairs; `logical_cpus` if unknown).
    pub physical_cores: usize,
    /// The SIMD features present, e.g. `["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"]`.
    pub features: Vec<String>,
    /// The widest GEMM kernel nanobert can run here ("avx512", "avx2" or "portable").
    pub best_kernel: &'static str,
}

impl Cpu {
    /// Reads /proc/cpuinfo (Linux) and asks the CPU which kernels it supports.
    pub fn detect() -> Cpu {
        let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            info.lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let model = field("model name").unwrap_or_else(|| "unknown".into());
        const WANTED: [&str; 11] = [
            "avx2",
            "fma",
            "avx512f",
            "avx512bw",
            "avx512vl",
            "avx512_vnni",
            "avx512_bf16",
            "avx512_fp16",
            "avx_vnni",
            "amx_bf16",
            "amx_int8",
        ];
        let flags = field("flags").unwrap_or_default();
        let have: Vec<&str> = flags.split_whitespace().collect();
        let features = WANTED.iter().filter(|f| have.contains(f)).map(|f| f.to_string()).collect();
        let logical_cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut cores: Vec<(String, String)> = Vec::new();
        let mut physical = String::new();
        for line in info.lines() {
            if let Some((k, v)) = line.split_once(':') {
                match k.trim() {
                    "physical id" => physical = v.trim().to_string(),
                    "core id" => cores.push((physical.clone(), v.trim().to_string())),
                    _ => {}
                }
            }
        }
        cores.sort();
        cores.dedup();
        let physical_cores = if cores.is_empty() { logical_cpus } else { cores.len().min(logical_cpus) };
        Cpu { model, logical_cpus, physical_cores, features, best_kernel: Kernel::best().name() }
    }

    /// One line: "Intel(R) Xeon(R) Processor, 2 logical CPUs (2 cores), GEMM kernel avx512 (SIMD: ...)".
    pub fn line(&self) -> String {
        format!(
            "{}, {} logical CPUs ({} cores), GEMM kernel {} (SIMD: {})",
            self.model,
            self.logical_cpus,
            self.physical_cores,
            self.best_kernel,
            if self.features.is_empty() { "none detected".into() } else { self.features.join(" ") }
        )
    }
}

/// `/proc/loadavg`'s three averages ("1.02 0.88 0.70"), or "n/a".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

/// Seconds of CPU time the threads of this process have run so far: the sum of the first
/// field (nanoseconds on a CPU) of every `/proc/self/task/*/schedstat`. On a shared machine
/// this counts the work done, not the waiting for a core (wall time counts both); rayon
/// workers spinning while they wait for work count as running. `None` off Linux.
pub fn process_cpu_seconds() -> Option<f64> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    let mut ns = 0u64;
    for task in dir.flatten() {
        let stat = std::fs::read_to_string(task.path().join("schedstat")).unwrap_or_default();
        ns += stat.split_whitespace().next().and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    }
    Some(ns as f64 * 1e-9)
}

/// CPU time counters from the first line of `/proc/stat` (in clock ticks, all CPUs).
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTimes {
    /// Ticks the hypervisor ran someone else while our virtual CPUs wanted to run.
    pub steal: u64,
    /// All ticks (user, nice, system, idle, iowait, irq, softirq, steal).
    pub total: u64,
}

impl CpuTimes {
    /// Now, or zeros where /proc/stat is not readable.
    pub fn now() -> CpuTimes {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let nums: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .take(8)
            .filter_map(|x| x.parse().ok())
            .collect();
        CpuTimes { steal: nums.get(7).copied().unwrap_or(0), total: nums.iter().sum() }
    }

    /// Steal between `earlier` and now, as a percentage of all CPU time (0 if unknown).
    pub fn steal_since(earlier: CpuTimes) -> f64 {
        let now = CpuTimes::now();
        let total = now.total.saturating_sub(earlier.total);
        if total == 0 { 0.0 } else { 100.0 * now.steal.saturating_sub(earlier.steal) as f64 / total as f64 }
    }
}

/// The conditions of one measurement: printed beside every table.
#[derive(Clone, Debug)]
pub struct Conditions {
    /// Load average when the measurement started and when it ended.
    pub load_before: String,
    /// See `load_before`.
    pub load_after: String,
    /// Host steal during the measurement, % of CPU time.
    pub steal_pct: f64,
    /// Threads the measured code ran on.
    pub threads: usize,
}

/// Starts watching the machine: call [`Watch::finish`] when the measurement is done.
pub struct Watch {
    load_before: String,
    times: CpuTimes,
}

impl Watch {
    /// Records the load average and the CPU counters now.
    pub fn start() -> Watch {
        Watch { load_before: load_average(), times: CpuTimes::now() }
    }

    /// The conditions between `start` and now.
    pub fn finish(&self, threads: usize) -> Conditions {
        Conditions {
            load_before: self.load_before.clone(),
            load_after: load_average(),
            steal_pct: CpuTimes::steal_since(self.times),
            threads,
        }
    }
}

impl Conditions {
    /// One line for under a table.
    pub fn line(&self) -> String {
        format!(
            "threads {}; load average {} -> {}; host steal {:.1}%",
            self.threads, self.load_before, self.load_after, self.steal_pct
        )
    }
}

/// The ceilings of this machine, measured in this run (see the module docs).
#[derive(Clone, Debug)]
pub struct Limits {
    /// The CPU they were measured on.
    pub cpu: Cpu,
    /// The kernel family whose FMA instructions the peak uses.
    pub kernel: Kernel,
    /// (threads, FP32 GFLOP/s): FMA peak with all `threads` threads busy, best of the trials.
    pub fp32_gflops: Vec<(usize, f64)>,
    /// (threads, GB/s): triad bandwidth with `threads` threads, best of the trials.
    pub bandwidth_gbs: Vec<(usize, f64)>,
    /// Peaks of the lower-precision instructions this CPU has (e.g. "int8 GOP/s (avx512-vnni)",
    /// "bf16 GFLOP/s (avx512-bf16)"), per thread count.
    pub extra_peaks: Vec<(String, Vec<(usize, f64)>)>,
    /// The machine while the limits were measured.
    pub conditions: Conditions,
}

/// How long to measure the limits.
#[derive(Clone, Copy, Debug)]
pub struct LimitsOptions {
    /// Seconds per FMA-peak trial (5 trials per thread count).
    pub peak_seconds: f64,
    /// Triad trials per thread count (each over [`TRIAD_FLOATS`] floats per array).
    pub triad_trials: usize,
}

impl LimitsOptions {
    /// About 1 s in all on 2 cores.
    pub fn standard() -> Self {
        LimitsOptions { peak_seconds: 0.03, triad_trials: 8 }
    }
    /// About 0.2 s: for `--quick` runs and tests.
    pub fn quick() -> Self {
        LimitsOptions { peak_seconds: 0.005, triad_trials: 3 }
    }
}

/// Floats per triad array: 8 Mi floats = 32 MiB each, 96 MiB in all, beyond any L3 here.
pub const TRIAD_FLOATS: usize = 8 << 20;

impl Limits {
    /// Measures the FP32 peak and the triad bandwidth at 1 thread and at `max_threads`.
    pub fn measure(max_threads: usize, opts: LimitsOptions) -> Result<Limits> {
        let watch = Watch::start();
        let mut counts = vec![1, max_threads.max(1)];
        counts.dedup();
        let kernel = Kernel::best();
        let (mut fp32, mut bw) = (Vec::new(), Vec::new());
        let dots: Vec<_> =
            [crate::dot_peaks::int8_chains(), crate::dot_peaks::bf16_chains()].into_iter().flatten().collect();
        let mut extra: Vec<(String, Vec<(usize, f64)>)> =
            dots.iter().map(|d| (d.name.to_string(), Vec::new())).collect();
        for &t in &counts {
            let pool = pool(t)?;
            let peak = fma_peak(kernel, &pool, opts.peak_seconds)
                .ok_or_else(|| Error::invalid("machine limits", format!("no FMA chains for {}", kernel.name())))?;
            fp32.push((t, peak));
            bw.push((t, triad_bandwidth(&pool, TRIAD_FLOATS, opts.triad_trials)));
            for (d, (_, v)) in dots.iter().zip(extra.iter_mut()) {
                v.push((t, dot_peak(*d, &pool, opts.peak_seconds)));
            }
        }
        Ok(Limits {
            cpu: Cpu::detect(),
            kernel,
            fp32_gflops: fp32,
            bandwidth_gbs: bw,
            extra_peaks: extra,
            conditions: watch.finish(max_threads),
        })
    }

    /// The FP32 peak for `threads` threads: the larger of the value measured on that many
    /// threads and the one-thread peak times the cores they can occupy. On a busy machine
    /// the all-threads measurement gets fewer cores than asked for and reads low; the
    /// one-thread peak times the cores is what the hardware can do (and, with turbo clocks
    /// higher on one core, a little more), so no result reads above 100% because of load.
    pub fn fp32_peak(&self, threads: usize) -> f64 {
        let per_core = lookup(&self.fp32_gflops, 1);
        let cores = threads.clamp(1, self.cpu.physical_cores.max(1));
        let measured = self.fp32_gflops.iter().find(|(t, _)| *t == threads).map_or(0.0, |(_, g)| *g);
        measured.max(per_core * cores as f64)
    }

    /// The triad bandwidth for `threads` threads (same rule as [`Limits::fp32_peak`]).
    pub fn bandwidth(&self, threads: usize) -> f64 {
        lookup(&self.bandwidth_gbs, threads)
    }

    /// Two lines for the top of a report.
    pub fn lines(&self) -> String {
        let list = |v: &[(usize, f64)], unit: &str| {
            v.iter().map(|(t, g)| format!("{g:.1} {unit} on {t} thread(s)")).collect::<Vec<_>>().join(", ")
        };
        let top = self.fp32_gflops.iter().map(|(t, _)| *t).max().unwrap_or(1);
        let mut s = format!(
            "CPU: {}\nmeasured limits: FP32 FMA peak ({}) {} (used for {top} threads: {:.1}, the larger of that \
             and {top} x the one-thread peak); DRAM bandwidth (triad) {}",
            self.cpu.line(),
            self.kernel.name(),
            list(&self.fp32_gflops, "GFLOP/s"),
            self.fp32_peak(top),
            list(&self.bandwidth_gbs, "GB/s"),
        );
        for (name, v) in &self.extra_peaks {
            s.push_str(&format!("; {name} peak {}", list(v, "")));
        }
        s.push_str(&format!(" [while measuring: {}]", self.conditions.line()));
        s
    }
}

fn lookup(v: &[(usize, f64)], threads: usize) -> f64 {
    if let Some((_, g)) = v.iter().find(|(t, _)| *t == threads) {
        return *g;
    }
    let per_thread = v.iter().find(|(t, _)| *t == 1).map_or(f64::NAN, |(_, g)| *g);
    let top = v.iter().map(|(_, g)| *g).fold(f64::NAN, f64::max);
    (per_thread * threads as f64).min(top)
}

fn pool(threads: usize) -> Result<ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| Error::invalid("machine limits", format!("thread pool of {threads}: {e}")))
}

/// GB/s of the triad `a[i] = b[i] + s * c[i]` over arrays of `len` floats, split evenly over
/// the threads of `pool`, best of `trials` (after one untimed pass that faults the pages in).
/// Bytes counted: 12 per element (read b and c, write a).
pub fn triad_bandwidth(pool: &ThreadPool, len: usize, trials: usize) -> f64 {
    use rayon::prelude::*;
    let threads = pool.current_num_threads().max(1);
    let chunk = len.div_ceil(threads).max(1);
    let mut a = vec![0.0f32; len];
    let b = vec![1.0f32; len];
    let c = vec![2.0f32; len];
    let s = std::hint::black_box(3.0f32);
    let mut best = 0.0f64;
    for trial in 0..=trials.max(1) {
        let t = Instant::now();
        pool.install(|| {
            a.par_chunks_mut(chunk).zip(b.par_chunks(chunk)).zip(c.par_chunks(chunk)).for_each(|((a, b), c)| {
                for ((a, b), c) in a.iter_mut().zip(b).zip(c) {
                    *a = b + s * c;
                }
            })
        });
        let dt = t.elapsed().as_secs_f64();
        std::hint::black_box(&a);
        if trial > 0 {
            best = best.max(12.0 * len as f64 / dt / 1e9);
        }
    }
    best
}
