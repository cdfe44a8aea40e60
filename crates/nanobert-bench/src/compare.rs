//! # `nanobert bench --compare`: PyTorch, ONNX Runtime and sentence-transformers beside us
//!
//! nanobert starts `scripts/bench_compare.py` (Python with the packages pinned in
//! `scripts/requirements-bench.txt`) and talks to it over a pipe, one JSON object per line.
//! Both sides load the *same* checkpoint and run the *same* token ids (written by nanobert to a
//! safetensors file). Before any timing, every runtime's output is checked against ours (max
//! abs difference and minimum cosine over real tokens); a runtime that disagrees is left out.
//!
//! Timing interleaves the runtimes — nanobert, torch, onnxruntime, nanobert, torch, … — for
//! every case, so a change in the background load hits all of them alike, with a short pause
//! between turns so that one runtime's spinning worker threads do not eat into the next one's
//! turn. Every runtime gets the same explicit thread count. The table gives medians and the
//! ratio of nanobert's time to each runtime's (below 1: nanobert is faster).

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use super::machine::{Cpu, Watch};
use super::models::{CORPUS_SEED, corpus, random_ids};
use super::timing::Stats;
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion};
use nanobert::io::{Checkpoint, SaveTensor, save};
use nanobert::nn::to_precision;
use nanobert::pipeline::{Embedder, precision_plan};
use nanobert::quant::Precision;
use nanobert::{Error, Result, Tensor};

/// What to compare.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// (name, checkpoint directory) of each model.
    pub models: Vec<(String, PathBuf)>,
    /// Cases `(batch, seq)` for the forward.
    pub cases: Vec<(usize, usize)>,
    /// Sentences of the corpus case (0: no corpus case).
    pub corpus_sentences: usize,
    /// Threads for every runtime.
    pub threads: usize,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Runtimes besides nanobert: torch, torch_compile, onnxruntime, sentence_transformers.
    pub runtimes: Vec<String>,
    /// The Python interpreter.
    pub python: String,
    /// scripts/bench_compare.py.
    pub script: PathBuf,
    /// Output directory (compare.md, compare.csv, inputs, ONNX exports).
    pub out_dir: PathBuf,
    /// How nanobert stores its Linear weights. Below f32 the other runtimes are their own
    /// lowered-precision versions (see [`CompareOptions::for_precision`]), checked loosely.
    pub precision: Precision,
    /// The fusions nanobert's side runs with (`--no-fuse`; all on by default).
    pub fusion: Fusion,
}

impl CompareOptions {
    /// The default cases: `quick` runs two shapes and a 100-sentence corpus, 3 rounds.
    pub fn new(models: Vec<(String, PathBuf)>, out_dir: PathBuf, threads: usize, quick: bool) -> Self {
        CompareOptions {
            models,
            cases: if quick { vec![(1, 128), (8, 128)] } else { vec![(1, 8), (1, 128), (1, 384), (8, 128), (32, 128)] },
            corpus_sentences: if quick { 100 } else { 1000 },
            threads,
            rounds: if quick { 3 } else { 5 },
            runtimes: ["torch", "onnxruntime", "sentence_transformers"].map(String::from).to_vec(),
            python: std::env::var("NANOBERT_PYTHON").unwrap_or_else(|_| "python3".into()),
            script: find_script(),
            out_dir,
            precision: Precision::F32,
            fusion: Fusion::all(),
        }
    }

    /// The same comparison with nanobert at `precision`, against what people use for it:
    /// int8 → ONNX Runtime's dynamic quantization (`quantize_dynamic`, per-channel int8
    /// weights) and PyTorch's `quantize_dynamic` (per-tensor qint8 Linear); bf16 → PyTorch
    /// with bf16 weights and activations; f16 → (no common CPU f16 runtime) the f32 ones. The
    /// f32 ONNX Runtime stays in every table as the yardstick. No corpus case below f32
    /// (sentence-transformers has no lowered-precision path to match).
    pub fn for_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        let rts: &[&str] = match precision {
            Precision::F32 => return self,
            Precision::Int8 => &["onnxruntime_int8", "torch_int8", "onnxruntime"],
            Precision::Bf16 => &["torch_bf16", "onnxruntime"],
            Precision::F16 => &["torch", "onnxruntime"],
        };
        self.runtimes = rts.iter().map(|r| r.to_string()).collect();
        self.corpus_sentences = 0;
        self
    }
}

/// `scripts/bench_compare.py` under the current directory, else in the source tree this
/// binary was built from.
fn find_script() -> PathBuf {
    let local = PathBuf::from("scripts/bench_compare.py");
    if local.is_file() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench_compare.py") }
}

const INSTALL: &str = "python3 -m pip install -r scripts/requirements-bench.txt \
     (or point NANOBERT_PYTHON at a Python that has them)";

/// Checks that the Python side can run, with a message that says how to fix it.
pub fn check_python(python: &str, script: &Path) -> Result<()> {
    if !script.is_file() {
        return Err(Error::file(script, "not found: run `nanobert bench --compare` from the nanobert source tree"));
    }
    let probe = "import torch, transformers, onnxruntime, onnx, onnxscript, sentence_transformers, safetensors, numpy";
    let out = Command::new(python).args(["-c", probe]).output();
    match out {
        Err(e) => {
            Err(Error::Input(format!("bench --compare needs Python ({python}: {e}); install the packages: {INSTALL}")))
        }
        Ok(o) if !o.status.success() => {
            let err = String::from_utf8_lossy(&o.stderr);
            let last = err.lines().last().unwrap_or("").trim().to_string();
            Err(Error::Input(format!("bench --compare: {python} lacks a package ({last}); install them: {INSTALL}")))
        }
        Ok(_) => Ok(()),
    }
}

/// One runtime's timings of one case.
#[derive(Clone, Debug)]
pub struct CompareRow {
    /// Model name.
    pub model: String,
    /// "1x128", ..., or "corpus".
    pub case: String,
    /// "nanobert", "torch", ...
    pub runtime: String,
    /// All timed runs.
    pub stats: Stats,
}

struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn read(&mut self) -> Result<serde_json::Value> {
        let mut line = String::new();
        let n = self.stdout.read_line(&mut line).map_err(|e| Error::Input(format!("bench_compare.py: {e}")))?;
        if n == 0 {
            return Err(Error::Input("bench_compare.py exited early (its messages are above)".into()));
        }
        serde_json::from_str(&line).map_err(|e| Error::Input(format!("bench_compare.py printed {line:?}: {e}")))
    }
    fn ask(&mut self, cmd: serde_json::Value) -> Result<serde_json::Value> {
        writeln!(self.stdin, "{cmd}").map_err(|e| Error::Input(format!("bench_compare.py: {e}")))?;
        self.stdin.flush().map_err(|e| Error::Input(format!("bench_compare.py: {e}")))?;
        self.read()
    }
}

/// Pause between runtimes' turns (idle worker threads of the previous one go to sleep).
const PAUSE: Duration = Duration::from_millis(100);

/// Runs the comparison (module docs); prints and writes compare.md and compare.csv.
pub fn run(opts: &CompareOptions) -> Result<String> {
    check_python(&opts.python, &opts.script)?;
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| Error::invalid("bench --compare", e.to_string()))?;
    let cpu = Cpu::detect();
    let mut md = format!(
        "# nanobert bench --compare\n\nCPU: {}. nanobert's Linear weights: {}. Every runtime on {} thread(s); \
         runtimes interleaved, {} rounds; nanobert with {}.\n\n",
        cpu.line(),
        opts.precision.name(),
        opts.threads,
        opts.rounds,
        opts.fusion.describe()
    );
    let mut rows: Vec<CompareRow> = Vec::new();
    for (name, dir) in &opts.models {
        println!("== {name} ==");
        let ckpt = Checkpoint::open(dir)?;
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let mut model = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        model.fusion = opts.fusion;
        let mut embedder = Embedder::from_checkpoint(&ckpt)?;
        embedder.model.fusion = opts.fusion;
        if opts.precision != Precision::F32 {
            for m in [&mut model, &mut embedder.model] {
                let plan = precision_plan(m, m, &embedder.tokenizer, opts.precision)?;
                to_precision(m, &plan)?;
            }
        }
        let slug: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect();
        let work = opts.out_dir.join(format!("compare-{slug}"));
        std::fs::create_dir_all(&work).map_err(|e| Error::file(&work, e))?;
        // Inputs, and our outputs for the check.
        let mut tensors: Vec<(String, SaveTensor)> = Vec::new();
        let mut inputs: Vec<(String, Vec<u32>, usize, usize)> = Vec::new();
        for &(b, s) in &opts.cases {
            if s > cfg.max_position_embeddings {
                continue;
            }
            let ids = random_ids(cfg.vocab_size, b, s, (b * 7919 + s) as u64);
            tensors.push((format!("ids_{b}x{s}"), SaveTensor::i64_from(&ids, &[b, s])));
            tensors.push((format!("mask_{b}x{s}"), SaveTensor::i64_from(&vec![1u32; b * s], &[b, s])));
            inputs.push((format!("{b}x{s}"), ids, b, s));
        }
        let (cb, cs) = (2, 24);
        let check_ids = random_ids(cfg.vocab_size, cb, cs, 4242);
        let mut check_mask = vec![1u32; cb * cs];
        check_mask[cs + 15..].iter_mut().for_each(|m| *m = 0); // the second sequence is padded
        let input = BertInput::new(&check_ids, Some(&check_mask), None, cb, cs)?;
        let hidden = pool.install(|| model.forward(&input, false))?.last_hidden_state;
        tensors.push(("check_ids".into(), SaveTensor::i64_from(&check_ids, &[cb, cs])));
        tensors.push(("check_mask".into(), SaveTensor::i64_from(&check_mask, &[cb, cs])));
        tensors.push(("check_hidden".into(), SaveTensor::F32(hidden)));
        let texts = match &ckpt.vocab_txt {
            Some(v) if opts.corpus_sentences > 0 => corpus(v, opts.corpus_sentences, CORPUS_SEED)?,
            _ => Vec::new(),
        };
        let corpus_path = work.join("corpus.txt");
        std::fs::write(&corpus_path, texts.join("\n") + "\n").map_err(|e| Error::file(&corpus_path, e))?;
        if !texts.is_empty() {
            let first: Vec<&str> = texts.iter().take(16).map(String::as_str).collect();
            let emb = pool.install(|| embedder.embed(&first))?;
            let flat: Vec<f32> = emb.iter().flatten().copied().collect();
            let dims = emb.first().map_or(0, Vec::len);
            tensors.push(("check_embeddings".into(), SaveTensor::F32(Tensor::from_vec(flat, &[emb.len(), dims])?)));
        }
        let inputs_path = work.join("inputs.safetensors");
        let refs: Vec<(&str, SaveTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        save(&inputs_path, &refs)?;

        let mut child = Command::new(&opts.python)
            .arg(&opts.script)
            .args(["--model", &dir.to_string_lossy(), "--inputs", &inputs_path.to_string_lossy()])
            .args(["--corpus", &corpus_path.to_string_lossy(), "--threads", &opts.threads.to_string()])
            .args(["--runtimes", &opts.runtimes.join(","), "--onnx-dir", &work.join("onnx").to_string_lossy()])
            .args(if opts.precision == Precision::F32 { &[][..] } else { &["--loose"][..] })
            .env("OMP_NUM_THREADS", opts.threads.to_string())
            .env("TOKENIZERS_PARALLELISM", "false")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| Error::Input(format!("cannot start {}: {e}; install: {INSTALL}", opts.python)))?;
        let (stdin, stdout) = (child.stdin.take(), child.stdout.take());
        let mut py = Python {
            child,
            stdin: stdin.ok_or_else(|| Error::Input("no stdin".into()))?,
            stdout: BufReader::new(stdout.ok_or_else(|| Error::Input("no stdout".into()))?),
        };
        let _ = writeln!(md, "## {name}\n\nOutput check against nanobert on the same weights and ids:\n");
        let _ = writeln!(md, "| runtime | version | max abs diff | min cosine | used |\n|---|---|---:|---:|---|");
        let mut live: Vec<String> = Vec::new();
        loop {
            let v = py.read()?;
            if let Some(f) = v.get("fatal") {
                return Err(Error::Input(format!("bench_compare.py: {}", f.as_str().unwrap_or(""))));
            }
            if v.get("ready").is_some() {
                break;
            }
            let rt = v["check"].as_str().unwrap_or("?").to_string();
            let ok = v["ok"].as_bool().unwrap_or(false);
            let line = if let Some(err) = v.get("error") {
                format!("| {rt} | - | - | - | no: {} |", err.as_str().unwrap_or("").replace('|', "/"))
            } else {
                format!(
                    "| {rt} | {} | {:.2e} | {:.6} | {} |",
                    v["version"].as_str().unwrap_or(""),
                    v["max_abs_diff"].as_f64().unwrap_or(f64::NAN),
                    v["min_cosine"].as_f64().unwrap_or(f64::NAN),
                    if ok { "yes" } else { "no: outputs differ" }
                )
            };
            println!("check {line}");
            let _ = writeln!(md, "{line}");
            if ok {
                live.push(rt);
            }
        }
        md.push('\n');
        // Warm nanobert up on every case too.
        for (_, ids, b, s) in &inputs {
            let input = BertInput::new(ids, None, None, *b, *s)?;
            pool.install(|| model.forward(&input, false))?;
        }
        let watch = Watch::start();
        let forward_rts: Vec<String> = live.iter().filter(|r| *r != "sentence_transformers").cloned().collect();
        let mut times: std::collections::BTreeMap<(String, String), Vec<f64>> = Default::default();
        for round in 0..opts.rounds.max(1) {
            for (case, ids, b, s) in &inputs {
                let input = BertInput::new(ids, None, None, *b, *s)?;
                // Enough repetitions per turn for about 0.2 s (at least one).
                let reps = (0.2
                    / times.get(&(case.clone(), "nanobert".into())).and_then(|t| t.first()).copied().unwrap_or(1.0))
                .clamp(1.0, 20.0) as usize;
                for rt in std::iter::once("nanobert".to_string()).chain(forward_rts.iter().cloned()) {
                    std::thread::sleep(PAUSE);
                    let ts = if rt == "nanobert" {
                        (0..reps)
                            .map(|_| {
                                let t = Instant::now();
                                pool.install(|| model.forward(&input, false)).map(|_| t.elapsed().as_secs_f64())
                            })
                            .collect::<Result<Vec<f64>>>()?
                    } else {
                        remote_times(&mut py, &rt, case, reps)?
                    };
                    times.entry((case.clone(), rt)).or_default().extend(ts);
                }
            }
            if !texts.is_empty() && live.iter().any(|r| r == "sentence_transformers") {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                std::thread::sleep(PAUSE);
                let t = Instant::now();
                pool.install(|| embedder.embed(&refs))?;
                times.entry(("corpus".into(), "nanobert".into())).or_default().push(t.elapsed().as_secs_f64());
                std::thread::sleep(PAUSE);
                let ts = remote_times(&mut py, "sentence_transformers", "corpus", 1)?;
                times.entry(("corpus".into(), "sentence_transformers".into())).or_default().extend(ts);
            }
            println!("round {} of {} done", round + 1, opts.rounds);
        }
        let cond = watch.finish(opts.threads);
        let _ = py.ask(serde_json::json!({ "quit": true }));
        let _ = py.child.wait();
        // The table: one line per case, one column group per runtime.
        let mut all_rts = vec!["nanobert".to_string()];
        all_rts.extend(live.iter().cloned());
        let _ = write!(md, "| case | nanobert ms |");
        for rt in &all_rts[1..] {
            let _ = write!(md, " {rt} ms | nanobert / {rt} |");
        }
        let _ = write!(md, "\n|---|---:|");
        for _ in &all_rts[1..] {
            md.push_str("---:|---:|");
        }
        md.push('\n');
        let mut cases: Vec<String> = inputs.iter().map(|(c, ..)| c.clone()).collect();
        if times.contains_key(&("corpus".to_string(), "nanobert".to_string())) {
            cases.push("corpus".into());
        }
        for case in &cases {
            let med = |rt: &str| times.get(&(case.clone(), rt.to_string())).and_then(|t| Stats::from_times(t));
            let Some(ours) = med("nanobert") else { continue };
            let label = if case == "corpus" {
                format!("corpus ({} sentences, end to end)", texts.len())
            } else {
                format!("batch x seq {case}")
            };
            let _ = write!(md, "| {label} | {:.2} |", ours.median_s * 1e3);
            for rt in &all_rts[1..] {
                match med(rt) {
                    Some(t) => {
                        let _ = write!(md, " {:.2} | {:.2} |", t.median_s * 1e3, ours.median_s / t.median_s);
                        rows.push(CompareRow {
                            model: name.clone(),
                            case: case.clone(),
                            runtime: rt.clone(),
                            stats: t,
                        });
                    }
                    None => md.push_str(" - | - |"),
                }
            }
            md.push('\n');
            rows.push(CompareRow { model: name.clone(), case: case.clone(), runtime: "nanobert".into(), stats: ours });
        }
        let corpus_note = if times.keys().any(|(case, _)| case == "corpus") {
            " The corpus row compares `Embedder::embed` with sentence-transformers' `encode` (tokenization, \
             batches of 32, pooling)."
        } else {
            ""
        };
        let _ = writeln!(
            md,
            "\nMedians of all timed runs; ratio = nanobert's time / the runtime's (below 1: nanobert is faster).\
             {corpus_note}\n\n_{}._\n",
            cond.line()
        );
    }
    println!("\n{md}");
    let md_path = opts.out_dir.join("compare.md");
    std::fs::write(&md_path, &md).map_err(|e| Error::file(&md_path, e))?;
    let mut csv = String::from("model,case,runtime,threads,reps,median_s,min_s,max_s\n");
    for r in &rows {
        let _ = writeln!(
            csv,
            "\"{}\",{},{},{},{},{:.6e},{:.6e},{:.6e}",
            r.model, r.case, r.runtime, opts.threads, r.stats.reps, r.stats.median_s, r.stats.min_s, r.stats.max_s
        );
    }
    let csv_path = opts.out_dir.join("compare.csv");
    std::fs::write(&csv_path, csv).map_err(|e| Error::file(&csv_path, e))?;
    println!("wrote {} and {}", md_path.display(), csv_path.display());
    Ok(md)
}

fn remote_times(py: &mut Python, rt: &str, case: &str, reps: usize) -> Result<Vec<f64>> {
    let v = py.ask(serde_json::json!({ "time": rt, "case": case, "reps": reps }))?;
    if let Some(e) = v.get("error") {
        return Err(Error::Input(format!("bench_compare.py: {e}")));
    }
    Ok(v["times"].as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).collect()).unwrap_or_default())
}
