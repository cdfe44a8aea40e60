//! `cargo bench --bench matmul`: GFLOP/s of every GEMM rung and of `matrixmultiply` on
//! BERT's shapes, at 1 and 2 threads, against this machine's measured FMA peak.
//!
//! Options (after `--`): `--quick` (M = 128 shapes, short budgets), `--threads 1,2,4`,
//! `--out DIR` (default target/nanobert-bench), `--min-time SECONDS` (per configuration and
//! shape, over all passes), `--passes N` (passes over the shapes, default 3).
//! The same runner is behind `nanobert bench matmul`.

use nanobert_bench::matmul::{BenchOptions, run};

fn main() -> nanobert::Result<()> {
    let mut opts = BenchOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => opts = BenchOptions { out_dir: opts.out_dir, threads: opts.threads, ..BenchOptions::quick() },
            "--threads" => {
                let list = args.next().unwrap_or_default();
                opts.threads = list.split(',').filter_map(|t| t.trim().parse().ok()).collect();
            }
            "--out" => opts.out_dir = args.next().unwrap_or_default().into(),
            "--min-time" => opts.min_time = args.next().and_then(|s| s.parse().ok()).unwrap_or(opts.min_time),
            "--passes" => opts.passes = args.next().and_then(|s| s.parse().ok()).unwrap_or(opts.passes),
            // `cargo bench` passes --bench; ignore it and anything else unknown.
            _ => {}
        }
    }
    run(&opts)?;
    Ok(())
}
