//! Runs one forward configuration in a loop, for `perf record` (docs/profiling.md, "Batch 1:
//! what is not a GEMM"): `forward_loop THREADS BATCH SEQ SECONDS [CHECKPOINT_DIR]`, the
//! all-MiniLM-L6-v2 checkpoint by default. The forward is the one `nanobert bench --compare`
//! times (`BertModel::forward` on the same seeded token ids, weights pre-packed by a warm-up
//! call). Prints the fastest and the median repetition, then the profiler's tables (per module
//! and per op, wall time on the calling thread: `nanobert::profile`) of ten more forwards.

use std::path::PathBuf;
use std::time::Instant;

use nanobert::bert::{BertConfig, BertInput, BertModel};
use nanobert::io::{Checkpoint, fetch};
use nanobert::profile;
use nanobert_bench::models::random_ids;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: forward_loop THREADS BATCH SEQ SECONDS [CHECKPOINT_DIR]";
    if !(4..=5).contains(&args.len()) {
        return Err(usage.into());
    }
    let (threads, batch, seq): (usize, usize, usize) = (args[0].parse()?, args[1].parse()?, args[2].parse()?);
    let seconds: f64 = args[3].parse()?;
    let dir = match args.get(4) {
        Some(d) => PathBuf::from(d),
        None => fetch::ensure_minilm(false)?,
    };
    let ckpt = Checkpoint::open(&dir)?;
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
    let ids = random_ids(cfg.vocab_size, batch, seq, (batch * 7919 + seq) as u64);
    let input = BertInput::new(&ids, None, None, batch, seq)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    pool.install(|| model.forward(&input, false))?; // warm-up: packs the weights
    let (mut times, start) = (Vec::new(), Instant::now());
    while start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        pool.install(|| model.forward(&input, false))?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let (best, median) = (times[0], times[times.len() / 2]);
    println!("forward x{threads} {batch}x{seq}: best {best:.3} ms, median {median:.3} ms ({} reps)", times.len());
    let (result, prof) =
        pool.install(|| profile::record(|| (0..10).try_for_each(|_| model.forward(&input, false).map(|_| ()))));
    result?;
    println!("{}", prof.scoped("BertModel").tables(None));
    Ok(())
}
