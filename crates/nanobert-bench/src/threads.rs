//! # `nanobert bench threads`: where more threads stop helping
//!
//! One model, 128 tokens, batch 1 and batch 32, and batch 1 at 8 and 32 tokens (the small
//! shapes where a parallel loop may cost more than it gains): the forward on 1, 2, … N threads
//! (N = the logical CPUs), the thread counts interleaved round-robin so all see the same load. Then the
//! deployment question behind PyTorch's famous `set_num_threads(1)`: with two requests served
//! by two *processes*, is it better that each uses all cores (and they fight over them) or
//! one thread each? Two `nanobert bench throughput-child` processes run at once, each timing
//! batch-32 forwards for a few seconds; their sequences/s add up to the machine's throughput.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::machine::{Cpu, Watch};
use super::models::random_ids;
use super::timing::Stats;
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion};
use nanobert::io::Checkpoint;
use nanobert::{Error, Result};

/// What to measure.
#[derive(Clone, Debug)]
pub struct ThreadsOptions {
    /// Checkpoint directory.
    pub model_dir: PathBuf,
    /// Name for the tables.
    pub model_name: String,
    /// Thread counts (default 1..=logical CPUs).
    pub threads: Vec<usize>,
    /// Batch sizes (default 1 and 32).
    pub batches: Vec<usize>,
    /// Tokens per sequence.
    pub seq: usize,
    /// Shorter sequences also timed at batch 1 (default 8 and 32 tokens).
    pub short_seqs: Vec<usize>,
    /// Round-robin rounds (each configuration timed once per round).
    pub rounds: usize,
    /// The `nanobert` executable for the two-process runs (`None`: skip them).
    pub exe: Option<PathBuf>,
    /// Seconds each child process times.
    pub child_seconds: f64,
    /// Where threads.md and threads.csv go.
    pub out_dir: PathBuf,
    /// Print the tables.
    pub print: bool,
    /// The fusions every forward runs with (`--no-fuse`; all on by default).
    pub fusion: Fusion,
}

impl ThreadsOptions {
    /// Defaults: 1..=N threads, batch 1 and 32, 128 tokens; `quick` shortens everything.
    pub fn new(model_dir: PathBuf, model_name: String, out_dir: PathBuf, exe: Option<PathBuf>, quick: bool) -> Self {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        ThreadsOptions {
            model_dir,
            model_name,
            threads: (1..=n).collect(),
            batches: if quick { vec![1, 8] } else { vec![1, 32] },
            seq: 128,
            short_seqs: vec![8, 32],
            rounds: if quick { 3 } else { 7 },
            exe,
            child_seconds: if quick { 1.5 } else { 6.0 },
            out_dir,
            print: true,
            fusion: Fusion::all(),
        }
    }
}

/// Runs the sweep and the two-process runs; returns the Markdown written to threads.md.
pub fn run(opts: &ThreadsOptions) -> Result<String> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let ckpt = Checkpoint::open(&opts.model_dir)?;
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let mut model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
    model.fusion = opts.fusion;
    let pools: Vec<(usize, rayon::ThreadPool)> = opts
        .threads
        .iter()
        .map(|&t| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(t.max(1))
                .build()
                .map(|p| (t, p))
                .map_err(|e| Error::invalid("bench threads", format!("thread pool of {t}: {e}")))
        })
        .collect::<Result<_>>()?;
    let cpu = Cpu::detect();
    let mut md = format!(
        "# nanobert bench threads\n\n{}, {}. CPU: {}.\n\n",
        opts.model_name,
        opts.fusion.describe(),
        cpu.line()
    );
    let mut csv = String::from("model,batch,seq,threads,reps,median_s,min_s,max_s,sequences_per_s\n");
    let cases = opts.short_seqs.iter().map(|&s| (1, s)).chain(opts.batches.iter().map(|&b| (b, opts.seq)));
    for (batch, seq) in cases {
        let ids = random_ids(cfg.vocab_size, batch, seq, 31 + batch as u64);
        let input = BertInput::new(&ids, None, None, batch, seq)?;
        let watch = Watch::start();
        for (_, pool) in &pools {
            pool.install(|| model.forward(&input, false))?; // warm-up (packing, page faults)
        }
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); pools.len()];
        for _ in 0..opts.rounds.max(1) {
            for ((_, pool), ts) in pools.iter().zip(&mut times) {
                let t = Instant::now();
                pool.install(|| model.forward(&input, false))?;
                ts.push(t.elapsed().as_secs_f64());
            }
        }
        let cond = watch.finish(*opts.threads.iter().max().unwrap_or(&1));
        let _ = writeln!(
            md,
            "Batch {batch}, {seq} tokens ({} interleaved rounds):\n\n| threads | median ms | min ms | max ms | sequences/s | speed-up vs 1 thread |\n|---:|---:|---:|---:|---:|---:|",
            opts.rounds
        );
        let base = Stats::from_times(&times[0]).map_or(f64::NAN, |s| s.median_s);
        for ((t, _), ts) in pools.iter().zip(&times) {
            let s = Stats::from_times(ts).expect("rounds >= 1");
            let _ = writeln!(
                md,
                "| {t} | {:.2} | {:.2} | {:.2} | {:.1} | {:.2}x |",
                s.median_s * 1e3,
                s.min_s * 1e3,
                s.max_s * 1e3,
                batch as f64 / s.median_s,
                base / s.median_s
            );
            let _ = writeln!(
                csv,
                "\"{}\",{batch},{seq},{t},{},{:.6e},{:.6e},{:.6e},{:.3}",
                opts.model_name,
                s.reps,
                s.median_s,
                s.min_s,
                s.max_s,
                batch as f64 / s.median_s
            );
        }
        let _ = writeln!(md, "\n_{}._\n", cond.line());
    }
    if opts.print {
        println!("{md}");
    }
    drop(model);
    let mut two = String::new();
    if let Some(exe) = &opts.exe {
        let n = *opts.threads.iter().max().unwrap_or(&1);
        let batch = *opts.batches.iter().max().unwrap_or(&1);
        let watch = Watch::start();
        let run = |threads: &[usize]| {
            children(exe, &opts.model_dir, threads, batch, opts.seq, opts.child_seconds, &opts.fusion)
        };
        let (one_all, two_all, two_one) = (run(&[n])?, run(&[n, n])?, run(&[1, 1])?);
        let cond = watch.finish(n);
        let _ = writeln!(
            two,
            "Processes at once (batch {batch}, {} tokens, each timing forwards for {:.1} s; the machine's throughput is \
             the sum):\n\n| configuration | sequences/s per process | total sequences/s |\n|---|---|---:|",
            opts.seq, opts.child_seconds
        );
        for (label, r) in [
            (format!("1 process x {n} threads"), &one_all),
            (format!("2 processes x {n} threads each"), &two_all),
            ("2 processes x 1 thread each (`set_num_threads(1)`)".to_string(), &two_one),
        ] {
            let per: Vec<String> = r.iter().map(|x| format!("{x:.1}")).collect();
            let _ = writeln!(two, "| {label} | {} | {:.1} |", per.join(", "), r.iter().sum::<f64>());
        }
        let _ = writeln!(two, "\n_{}._\n", cond.line());
        if opts.print {
            println!("{two}");
        }
    }
    let md_path = opts.out_dir.join("threads.md");
    let csv_path = opts.out_dir.join("threads.csv");
    let text = format!("{md}{two}");
    std::fs::write(&md_path, &text).map_err(|e| Error::file(&md_path, e))?;
    std::fs::write(&csv_path, csv).map_err(|e| Error::file(&csv_path, e))?;
    if opts.print {
        println!("wrote {} and {}", md_path.display(), csv_path.display());
    }
    Ok(text)
}

/// Starts one `throughput-child` per entry of `threads` at once; their sequences/s.
fn children(
    exe: &Path,
    dir: &Path,
    threads: &[usize],
    batch: usize,
    seq: usize,
    seconds: f64,
    fusion: &Fusion,
) -> Result<Vec<f64>> {
    let spawned: Vec<std::process::Child> = threads
        .iter()
        .map(|t| {
            std::process::Command::new(exe)
                .args(["--model", &dir.to_string_lossy(), "--threads", &t.to_string(), "bench", "throughput-child"])
                .args(["--batch", &batch.to_string(), "--seq", &seq.to_string(), "--seconds", &seconds.to_string()])
                .args(super::forward::no_fuse_args(fusion))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| Error::file(exe, format!("cannot start a throughput child: {e}")))
        })
        .collect::<Result<_>>()?;
    spawned
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().map_err(|e| Error::file(exe, e))?;
            if !out.status.success() {
                return Err(Error::file(
                    exe,
                    format!("throughput child failed: {}", String::from_utf8_lossy(&out.stderr)),
                ));
            }
            let v: serde_json::Value = serde_json::from_slice(&out.stdout)
                .map_err(|e| Error::file(exe, format!("throughput child printed no JSON: {e}")))?;
            Ok(v["sequences_per_s"].as_f64().unwrap_or(f64::NAN))
        })
        .collect()
}

/// The child side (`nanobert bench throughput-child`): load, warm up, then run batch x seq
/// forwards on the current rayon pool for `seconds` (after the start line, so the two
/// children overlap); print `{"sequences_per_s": ..}`.
pub fn throughput_child(dir: &Path, batch: usize, seq: usize, seconds: f64, fusion: Fusion) -> Result<String> {
    let ckpt = Checkpoint::open(dir)?;
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let mut model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
    model.fusion = fusion;
    let ids = random_ids(cfg.vocab_size, batch, seq, 99);
    let input = BertInput::new(&ids, None, None, batch, seq)?;
    model.forward(&input, false)?;
    let (start, mut n) = (Instant::now(), 0usize);
    while n == 0 || start.elapsed().as_secs_f64() < seconds {
        model.forward(&input, false)?;
        n += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(serde_json::json!({ "sequences_per_s": (n * batch) as f64 / secs, "forwards": n, "seconds": secs }).to_string())
}
