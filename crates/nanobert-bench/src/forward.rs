//! # `nanobert bench forward`: the forward pass, the way users run it
//!
//! For each model (by default a bert-base-sized checkpoint with seeded random weights, and
//! the real all-MiniLM-L6-v2):
//!
//! - **latency** at batch 1 for 8, 32, 128 and 384 tokens;
//! - **throughput** at 128 tokens for batch 1, 2, 4 … 256 — the batch-size sweep, plotted
//!   (sequences/s and ms per batch against batch size);
//! - a **corpus** of 1,000 sentences of mixed lengths (5-128 tokens, generated from a seed and
//!   written to `corpus.txt`), end to end through the embedding pipeline, tokenization
//!   included: sentences/s;
//! - **cold start**: a fresh `nanobert` process that loads the model and embeds one sentence,
//!   timed from outside (spawn to exit) and inside (load, first output), with its peak RSS
//!   beside the size of the weights file;
//! - what profiling costs when off (one thread-local check per span) and when on.
//!
//! Every case is warmed up, then repeated; tables give median, min and max, and under each
//! one the CPU, thread count, load average and host steal while it ran. Results go to
//! `forward.csv`, `forward.md` and `forward_batch_sweep.svg` in the output directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::machine::{Conditions, Cpu, Watch};
use super::models::{CORPUS_SEED, corpus, random_ids};
use super::timing::{Budget, Stats, measure, peak_rss_bytes};
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion};
use nanobert::io::Checkpoint;
use nanobert::pipeline::Embedder;
use nanobert::{Error, Result, profile};

/// A model to benchmark: a name for the tables and its checkpoint directory.
#[derive(Clone, Debug)]
pub struct BenchModel {
    /// E.g. "bert-base (random weights)".
    pub name: String,
    /// Checkpoint directory.
    pub dir: PathBuf,
}

/// What to measure.
#[derive(Clone, Debug)]
pub struct ForwardOptions {
    /// The models, in order.
    pub models: Vec<BenchModel>,
    /// Where forward.csv, forward.md, forward_batch_sweep.svg and corpus.txt go.
    pub out_dir: PathBuf,
    /// Sequence lengths for the batch-1 latency table.
    pub latency_seqs: Vec<usize>,
    /// Batch sizes of the sweep.
    pub batches: Vec<usize>,
    /// Sequence length of the sweep.
    pub sweep_seq: usize,
    /// Sentences in the corpus (0: skip the corpus).
    pub corpus_sentences: usize,
    /// Skip the corpus for models with more parameters than this (quick runs).
    pub corpus_max_params: usize,
    /// Timed corpus passes.
    pub corpus_reps: usize,
    /// The `nanobert` executable for the cold-start runs (`None`: skip cold start).
    pub exe: Option<PathBuf>,
    /// Cold-start runs per model.
    pub cold_runs: usize,
    /// Seconds to spend on each latency or throughput point (after the minimum reps).
    pub point_seconds: f64,
    /// Minimum timed repetitions per point.
    pub min_reps: usize,
    /// Print progress and tables.
    pub print: bool,
    /// The fusions every forward runs with (`--no-fuse`; all on by default).
    pub fusion: Fusion,
}

impl ForwardOptions {
    /// The full benchmark (about 15-25 minutes on 2 cores with bert-base).
    pub fn full(models: Vec<BenchModel>, out_dir: PathBuf, exe: Option<PathBuf>) -> Self {
        ForwardOptions {
            models,
            out_dir,
            latency_seqs: vec![8, 32, 128, 384],
            batches: (0..=8).map(|p| 1 << p).collect(),
            sweep_seq: 128,
            corpus_sentences: 1000,
            corpus_max_params: usize::MAX,
            corpus_reps: 2,
            exe,
            cold_runs: 3,
            point_seconds: 2.0,
            min_reps: 3,
            print: true,
            fusion: Fusion::all(),
        }
    }

    /// The smoke run (under a minute): fewer points, short budgets, the corpus (100
    /// sentences) only for models up to MiniLM's size, one cold start.
    pub fn quick(models: Vec<BenchModel>, out_dir: PathBuf, exe: Option<PathBuf>) -> Self {
        ForwardOptions {
            latency_seqs: vec![8, 32, 128],
            batches: vec![1, 2, 4],
            corpus_sentences: 100,
            corpus_max_params: 50_000_000,
            corpus_reps: 1,
            cold_runs: 1,
            point_seconds: 0.2,
            min_reps: 2,
            ..Self::full(models, out_dir, exe)
        }
    }
}

/// One measured case.
#[derive(Clone, Debug)]
pub struct Row {
    /// Model name.
    pub model: String,
    /// "latency", "throughput" or "corpus".
    pub case: &'static str,
    /// Sequences per forward (corpus: sentences per pass).
    pub batch: usize,
    /// Tokens per sequence (corpus: the longest after tokenization).
    pub seq: usize,
    /// Timings of one forward (corpus: one pass over all sentences).
    pub stats: Stats,
    /// Machine conditions while it ran.
    pub conditions: Conditions,
}

impl Row {
    /// Sequences (or sentences) per second, from the median.
    pub fn per_second(&self) -> f64 {
        self.batch as f64 / self.stats.median_s
    }
}

/// A cold start: a fresh process loading the model and embedding one sentence.
#[derive(Clone, Debug)]
pub struct ColdStart {
    /// Model name.
    pub model: String,
    /// Spawn to exit, seen from this process (median of the runs), seconds.
    pub wall_s: f64,
    /// Inside the child: opening the checkpoint and building the model, seconds (median).
    pub load_s: f64,
    /// Inside the child: loading plus the first embedding, seconds (median).
    pub first_output_s: f64,
    /// The child's peak RSS, bytes (largest of the runs).
    pub peak_rss: u64,
    /// Runs.
    pub runs: usize,
}

/// What a model is, for the headings.
#[derive(Clone, Debug)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Checkpoint directory.
    pub dir: PathBuf,
    /// Parameters.
    pub params: usize,
    /// Size of model.safetensors, bytes.
    pub weights_bytes: u64,
    /// Layers, hidden size.
    pub layers: usize,
    /// Hidden size.
    pub hidden: usize,
}

/// Everything one run measured, and where it was written.
#[derive(Clone, Debug)]
pub struct ForwardReport {
    /// CPU model and features.
    pub cpu: Cpu,
    /// Threads every case ran on.
    pub threads: usize,
    /// The models.
    pub models: Vec<ModelInfo>,
    /// Latency, throughput and corpus rows.
    pub rows: Vec<Row>,
    /// Cold starts.
    pub cold: Vec<ColdStart>,
    /// Peak RSS of this (warm) benchmark process at the end, bytes.
    pub warm_peak_rss: Option<u64>,
    /// What profiling costs (a sentence).
    pub profiling_cost: String,
    /// Files written.
    pub csv: PathBuf,
    /// See `csv`.
    pub markdown: PathBuf,
    /// See `csv`.
    pub svg: PathBuf,
}

/// Runs the benchmark (module docs), prints the tables, writes CSV, Markdown and SVG.
pub fn run(opts: &ForwardOptions) -> Result<ForwardReport> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let cpu = Cpu::detect();
    let threads = rayon::current_num_threads();
    let say = |s: &str| {
        if opts.print {
            println!("{s}");
        }
    };
    say(&format!("CPU: {}; {threads} threads; {}", cpu.line(), opts.fusion.describe()));
    let (mut rows, mut infos, mut cold) = (Vec::new(), Vec::new(), Vec::new());
    let mut profiling_cost = String::new();
    for m in &opts.models {
        let ckpt = Checkpoint::open(&m.dir)?;
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let mut model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        model.fusion = opts.fusion;
        let info = ModelInfo {
            name: m.name.clone(),
            dir: m.dir.clone(),
            params: nanobert::nn::module::count_parameters(&model),
            weights_bytes: std::fs::metadata(m.dir.join("model.safetensors")).map_or(0, |md| md.len()),
            layers: cfg.num_hidden_layers,
            hidden: cfg.hidden_size,
        };
        say(&format!("\n== {} ({} parameters, {}) ==", m.name, info.params, mb(info.weights_bytes)));
        // Latency at batch 1.
        for &seq in opts.latency_seqs.iter().filter(|&&s| s <= cfg.max_position_embeddings) {
            let budget = Budget { warmup: 2, min_reps: opts.min_reps, seconds: opts.point_seconds, max_reps: 200 };
            let row = time_forward(&model, &cfg, &m.name, "latency", 1, seq, budget)?;
            say(&format!("latency   batch 1 seq {seq:>4}: {}", fmt_stats(&row.stats)));
            rows.push(row);
        }
        // The batch-size sweep. Earlier points warm everything up (packed weights, threads),
        // so large batches, which take seconds each, get no untimed run of their own.
        for &batch in &opts.batches {
            let warmup = if batch <= 16 { 1 } else { 0 };
            let budget = Budget { warmup, min_reps: opts.min_reps, seconds: opts.point_seconds, max_reps: 100 };
            let row = time_forward(&model, &cfg, &m.name, "throughput", batch, opts.sweep_seq, budget)?;
            say(&format!(
                "throughput batch {batch:>3} seq {}: {} -> {:.1} sequences/s",
                opts.sweep_seq,
                fmt_stats(&row.stats),
                row.per_second()
            ));
            rows.push(row);
        }
        // The corpus, end to end through the embedding pipeline.
        if opts.corpus_sentences > 0 && info.params <= opts.corpus_max_params {
            let row = time_corpus(&ckpt, &m.name, opts)?;
            say(&format!(
                "corpus    {} sentences: {} -> {:.1} sentences/s",
                row.batch,
                fmt_stats(&row.stats),
                row.per_second()
            ));
            rows.push(row);
        } else if opts.corpus_sentences > 0 {
            say("corpus    skipped for this model in --quick mode");
        }
        if profiling_cost.is_empty() {
            profiling_cost = measure_profiling_cost(&model, &cfg, opts)?;
            say(&profiling_cost);
        }
        drop(model);
        if let Some(exe) = &opts.exe {
            let c = cold_start(exe, &m.name, &m.dir, opts.cold_runs, &opts.fusion)?;
            say(&format!(
                "cold start: {:.0} ms spawn to exit (inside: loaded {:.0} ms, first output {:.0} ms); peak RSS {}",
                c.wall_s * 1e3,
                c.load_s * 1e3,
                c.first_output_s * 1e3,
                mb(c.peak_rss)
            ));
            cold.push(c);
        }
        infos.push(info);
    }
    let report = ForwardReport {
        cpu,
        threads,
        models: infos,
        rows,
        cold,
        warm_peak_rss: peak_rss_bytes(),
        profiling_cost,
        csv: opts.out_dir.join("forward.csv"),
        markdown: opts.out_dir.join("forward.md"),
        svg: opts.out_dir.join("forward_batch_sweep.svg"),
    };
    let md = markdown(&report);
    say(&format!("\n{md}"));
    std::fs::write(&report.markdown, &md).map_err(|e| Error::file(&report.markdown, e))?;
    std::fs::write(&report.csv, csv(&report)).map_err(|e| Error::file(&report.csv, e))?;
    super::forward_plot::plot(&report)?;
    say(&format!("wrote {}, {} and {}", report.csv.display(), report.markdown.display(), report.svg.display()));
    Ok(report)
}

/// Times the bare forward (no tokenization) on random ids, all tokens real (no padding).
fn time_forward(
    model: &BertModel,
    cfg: &BertConfig,
    name: &str,
    case: &'static str,
    batch: usize,
    seq: usize,
    budget: Budget,
) -> Result<Row> {
    let ids = random_ids(cfg.vocab_size, batch, seq, (batch * 1000 + seq) as u64);
    let input = BertInput::new(&ids, None, None, batch, seq)?;
    let watch = Watch::start();
    let stats = measure(budget, || model.forward(&input, false).map(|_| ()))?;
    Ok(Row { model: name.into(), case, batch, seq, stats, conditions: watch.finish(rayon::current_num_threads()) })
}

fn time_corpus(ckpt: &Checkpoint, name: &str, opts: &ForwardOptions) -> Result<Row> {
    let vocab = ckpt
        .vocab_txt
        .clone()
        .ok_or_else(|| Error::file(&ckpt.dir, "the corpus benchmark needs a vocab.txt to draw its words from"))?;
    let texts = corpus(&vocab, opts.corpus_sentences, CORPUS_SEED)?;
    let path = opts.out_dir.join("corpus.txt");
    std::fs::write(&path, texts.join("\n") + "\n").map_err(|e| Error::file(&path, e))?;
    let mut embedder = Embedder::from_checkpoint(ckpt)?;
    embedder.model.fusion = opts.fusion;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let longest = embedder.tokenizer.encode_batch(&refs)?.seq_len;
    let watch = Watch::start();
    let budget = Budget { warmup: 0, min_reps: opts.corpus_reps, seconds: 0.0, max_reps: opts.corpus_reps };
    let stats = measure(budget, || embedder.embed(&refs).map(|_| ()))?;
    Ok(Row {
        model: name.into(),
        case: "corpus",
        batch: texts.len(),
        seq: longest,
        stats,
        conditions: watch.finish(rayon::current_num_threads()),
    })
}

/// What a span costs with profiling off (per check, and per forward), and with it on
/// (forward with and without recording, interleaved).
fn measure_profiling_cost(model: &BertModel, cfg: &BertConfig, opts: &ForwardOptions) -> Result<String> {
    let n = 2_000_000u32;
    let t = Instant::now();
    for i in 0..n {
        let _s = profile::op("off", std::hint::black_box(i as u64), 0);
    }
    let per_check = t.elapsed().as_secs_f64() / n as f64;
    let seq = opts.sweep_seq.min(cfg.max_position_embeddings);
    let ids = random_ids(cfg.vocab_size, 1, seq, 77);
    let input = BertInput::new(&ids, None, None, 1, seq)?;
    model.forward(&input, false)?;
    let ((), prof) = profile::record(|| {
        let _ = model.forward(&input, false);
    });
    let spans = prof.events.len() + prof.ignored_spans as usize;
    let (mut off, mut on) = (Vec::new(), Vec::new());
    let rounds = if opts.point_seconds < 1.0 { 5 } else { 15 };
    for _ in 0..rounds {
        let t = Instant::now();
        model.forward(&input, false)?;
        off.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (r, _) = profile::record(|| model.forward(&input, false));
        r?;
        on.push(t.elapsed().as_secs_f64());
    }
    let (off, on) = (Stats::from_times(&off).expect("rounds > 0"), Stats::from_times(&on).expect("rounds > 0"));
    Ok(format!(
        "profiling off: {:.2} ns per span check x {spans} spans on the calling thread per forward (batch 1, seq {seq}) \
         = {:.2} us, {:.4}% of the {:.2} ms forward; profiling on: median {:.2} ms vs {:.2} ms off \
         ({:+.1}%, {rounds} interleaved pairs)",
        per_check * 1e9,
        per_check * spans as f64 * 1e6,
        100.0 * per_check * spans as f64 / off.median_s,
        off.median_s * 1e3,
        on.median_s * 1e3,
        off.median_s * 1e3,
        100.0 * (on.median_s / off.median_s - 1.0)
    ))
}

/// Runs `exe bench cold-start-child --model dir` `runs` times; the child prints one JSON line.
fn cold_start(exe: &Path, name: &str, dir: &Path, runs: usize, fusion: &Fusion) -> Result<ColdStart> {
    let (mut wall, mut load, mut first, mut rss) = (Vec::new(), Vec::new(), Vec::new(), 0u64);
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let out = std::process::Command::new(exe)
            .args(["--model", &dir.to_string_lossy(), "bench", "cold-start-child"])
            .args(no_fuse_args(fusion))
            .output()
            .map_err(|e| Error::file(exe, format!("cannot start the cold-start run: {e}")))?;
        wall.push(t.elapsed().as_secs_f64());
        if !out.status.success() {
            return Err(Error::file(
                exe,
                format!("cold-start run failed: {}", String::from_utf8_lossy(&out.stderr).trim()),
            ));
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::file(exe, format!("cold-start run printed no JSON: {e}")))?;
        load.push(v["load_s"].as_f64().unwrap_or(f64::NAN));
        first.push(v["first_output_s"].as_f64().unwrap_or(f64::NAN));
        rss = rss.max(v["peak_rss"].as_u64().unwrap_or(0));
    }
    let med = |v: &[f64]| Stats::from_times(v).map_or(f64::NAN, |s| s.median_s);
    Ok(ColdStart {
        model: name.into(),
        wall_s: med(&wall),
        load_s: med(&load),
        first_output_s: med(&first),
        peak_rss: rss,
        runs: wall.len(),
    })
}

/// The child side of a cold start (`nanobert bench cold-start-child`): load the checkpoint,
/// embed one sentence, report the times since `start` and the peak RSS as one JSON line.
pub fn cold_start_child(dir: &Path, start: Instant, fusion: Fusion) -> Result<String> {
    let ckpt = Checkpoint::open(dir)?;
    let mut embedder = Embedder::from_checkpoint(&ckpt)?;
    embedder.model.fusion = fusion;
    let load_s = start.elapsed().as_secs_f64();
    let v = embedder.embed(&["A cold start measures loading as much as computing."])?;
    let first_output_s = start.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "load_s": load_s,
        "first_output_s": first_output_s,
        "peak_rss": peak_rss_bytes().unwrap_or(0),
        "dims": v.first().map_or(0, Vec::len),
    })
    .to_string())
}

/// The `--no-fuse` arguments that give a child process `fusion` (none when all are on).
pub(crate) fn no_fuse_args(fusion: &Fusion) -> Vec<String> {
    let off = fusion.off();
    if off.is_empty() { Vec::new() } else { vec!["--no-fuse".into(), off.join(",")] }
}

fn fmt_stats(s: &Stats) -> String {
    format!("median {:.2} ms (min {:.2}, max {:.2}, {} reps)", s.median_s * 1e3, s.min_s * 1e3, s.max_s * 1e3, s.reps)
}

/// Bytes as "123.4 MB".
pub fn mb(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// The Markdown report: per model, the latency, throughput, corpus and cold-start tables,
/// each followed by the conditions it ran in.
pub fn markdown(r: &ForwardReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# nanobert bench forward\n");
    let _ = writeln!(s, "CPU: {}; {} threads.\n", r.cpu.line(), r.threads);
    let conditions = |rows: &[&Row]| -> String {
        let first = rows.first().map(|r| r.conditions.load_before.clone()).unwrap_or_default();
        let last = rows.last().map(|r| r.conditions.load_after.clone()).unwrap_or_default();
        let steal = rows.iter().map(|r| r.conditions.steal_pct).fold(0.0, f64::max);
        format!("\n_{} threads; load average {first} -> {last}; host steal up to {steal:.1}%._\n", r.threads)
    };
    for m in &r.models {
        let _ = writeln!(
            s,
            "## {}\n\n{} parameters, {} layers, hidden {}; weights file {} (`{}`).\n",
            m.name,
            m.params,
            m.layers,
            m.hidden,
            mb(m.weights_bytes),
            m.dir.join("model.safetensors").display()
        );
        let of = |case: &str| -> Vec<&Row> { r.rows.iter().filter(|x| x.model == m.name && x.case == case).collect() };
        let lat = of("latency");
        if !lat.is_empty() {
            let _ = writeln!(s, "Latency at batch 1 (forward only, random ids, no padding):\n");
            let _ = writeln!(s, "| tokens | median ms | min ms | max ms | reps |\n|---:|---:|---:|---:|---:|");
            for x in &lat {
                let st = &x.stats;
                let _ = writeln!(
                    s,
                    "| {} | {:.2} | {:.2} | {:.2} | {} |",
                    x.seq,
                    st.median_s * 1e3,
                    st.min_s * 1e3,
                    st.max_s * 1e3,
                    st.reps
                );
            }
            s.push_str(&conditions(&lat));
            s.push('\n');
        }
        let thr = of("throughput");
        if !thr.is_empty() {
            let _ = writeln!(s, "Throughput at {} tokens: the batch-size sweep:\n", thr[0].seq);
            let _ = writeln!(
                s,
                "| batch | median ms per batch | min ms | max ms | sequences/s (median) | tokens/s | reps |\n\
                 |---:|---:|---:|---:|---:|---:|---:|"
            );
            for x in &thr {
                let st = &x.stats;
                let _ = writeln!(
                    s,
                    "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
                    x.batch,
                    st.median_s * 1e3,
                    st.min_s * 1e3,
                    st.max_s * 1e3,
                    x.per_second(),
                    x.per_second() * x.seq as f64,
                    st.reps
                );
            }
            s.push_str(&conditions(&thr));
            s.push('\n');
        }
        let corp = of("corpus");
        for x in &corp {
            let _ = writeln!(
                s,
                "Corpus: {} sentences of 5-128 tokens (seed {CORPUS_SEED}, `corpus.txt`), end to end through \
                 `Embedder::embed` (tokenization, batches of {}, pooling): median {:.2} s per pass (min {:.2}, max \
                 {:.2}, {} passes) = **{:.1} sentences/s**; longest sentence {} tokens.",
                x.batch,
                nanobert::pipeline::BATCH_SIZE,
                x.stats.median_s,
                x.stats.min_s,
                x.stats.max_s,
                x.stats.reps,
                x.per_second(),
                x.seq
            );
            s.push_str(&conditions(&corp));
            s.push('\n');
        }
        for c in r.cold.iter().filter(|c| c.model == m.name) {
            let _ = writeln!(
                s,
                "Cold start (a fresh `nanobert` process: open the checkpoint, build the model, embed one sentence; \
                 median of {} runs): {:.0} ms from spawn to exit; inside the process, loaded after {:.0} ms, first \
                 output after {:.0} ms. Peak RSS {} for a weights file of {}.\n",
                c.runs,
                c.wall_s * 1e3,
                c.load_s * 1e3,
                c.first_output_s * 1e3,
                mb(c.peak_rss),
                mb(m.weights_bytes)
            );
        }
    }
    if let Some(rss) = r.warm_peak_rss {
        let _ = writeln!(s, "Peak RSS of this benchmark process (all models, largest batch): {}.\n", mb(rss));
    }
    if !r.profiling_cost.is_empty() {
        let _ = writeln!(s, "Profiler: {}.\n", r.profiling_cost);
    }
    s
}

/// `forward.csv`: one line per measured case.
pub fn csv(r: &ForwardReport) -> String {
    let mut s = String::from(
        "cpu,threads,model,case,batch,seq,reps,median_s,min_s,max_s,per_second,load_before,load_after,steal_pct\n",
    );
    for x in &r.rows {
        let _ = writeln!(
            s,
            "\"{}\",{},\"{}\",{},{},{},{},{:.6e},{:.6e},{:.6e},{:.3},\"{}\",\"{}\",{:.2}",
            r.cpu.model,
            r.threads,
            x.model,
            x.case,
            x.batch,
            x.seq,
            x.stats.reps,
            x.stats.median_s,
            x.stats.min_s,
            x.stats.max_s,
            x.per_second(),
            x.conditions.load_before,
            x.conditions.load_after,
            x.conditions.steal_pct
        );
    }
    for c in &r.cold {
        for (case, secs) in [
            ("cold_start_spawn_to_exit", c.wall_s),
            ("cold_start_loaded", c.load_s),
            ("cold_start_first_output", c.first_output_s),
        ] {
            let _ =
                writeln!(s, "\"{}\",{},\"{}\",{case},1,,{},{secs:.6e},,,,,,", r.cpu.model, r.threads, c.model, c.runs);
        }
    }
    s
}
