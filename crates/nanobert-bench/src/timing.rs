//! Timing helpers shared by the benchmarks: warm-up, then repetitions until a time budget
//! is spent, summarized as median, min and max (see docs/honest-benchmarks.md for why).

use std::time::Instant;

use nanobert::Result;

/// Summary of repeated timings, in seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stats {
    /// Timed repetitions (warm-up runs excluded).
    pub reps: usize,
    /// Median repetition.
    pub median_s: f64,
    /// Fastest repetition.
    pub min_s: f64,
    /// Slowest repetition.
    pub max_s: f64,
}

impl Stats {
    /// From raw times (seconds); `None` if empty.
    pub fn from_times(times: &[f64]) -> Option<Stats> {
        if times.is_empty() {
            return None;
        }
        let mut t = times.to_vec();
        t.sort_by(f64::total_cmp);
        let n = t.len();
        let median_s = if n % 2 == 1 { t[n / 2] } else { 0.5 * (t[n / 2 - 1] + t[n / 2]) };
        Some(Stats { reps: n, median_s, min_s: t[0], max_s: t[n - 1] })
    }
}

/// How many times to run a case.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Untimed runs first (page faults, weight packing, thread wake-up, caches).
    pub warmup: usize,
    /// At least this many timed runs...
    pub min_reps: usize,
    /// ...and more while the timed runs total less than `seconds`...
    pub seconds: f64,
    /// ...up to this many.
    pub max_reps: usize,
}

/// Runs `f` `budget.warmup` times untimed, then times it as the budget says.
pub fn measure(budget: Budget, mut f: impl FnMut() -> Result<()>) -> Result<Stats> {
    for _ in 0..budget.warmup {
        f()?;
    }
    let mut times = Vec::new();
    let mut spent = 0.0;
    while times.len() < budget.min_reps.max(1) || (spent < budget.seconds && times.len() < budget.max_reps) {
        let t = Instant::now();
        f()?;
        let dt = t.elapsed().as_secs_f64();
        spent += dt;
        times.push(dt);
    }
    Ok(Stats::from_times(&times).expect("at least one repetition"))
}

/// Peak resident set size of this process so far (`VmHWM` in /proc/self/status), bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_known_times() {
        let s = Stats::from_times(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!(s, Stats { reps: 4, median_s: 2.5, min_s: 1.0, max_s: 10.0 });
        assert_eq!(Stats::from_times(&[]), None);
        let mut calls = 0;
        let s = measure(Budget { warmup: 2, min_reps: 3, seconds: 0.0, max_reps: 10 }, || {
            calls += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((s.reps, calls), (3, 5));
    }
}
