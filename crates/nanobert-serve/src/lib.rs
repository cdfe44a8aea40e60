//! # `nanobert serve`: a BERT server that batches, and says no when full
//!
//! Embeddings (`/embed`, `/v1/embeddings`), fill-mask for MLM checkpoints, and `/predict` /
//! `/rerank` for sequence-classification checkpoints (classifiers, cross-encoders).
//!
//! ```text
//!   clients ──HTTP──▶ tokio I/O threads ──▶ tokenizer pool ──▶ bounded Queue ──▶ compute thread
//!   (--host)         (axum handlers:          (rayon, its own     (429 at once      (batches, runs the
//!                     parse, validate,         threads)            when full)        encoder on the
//!                     answer)                                                        rayon compute pool)
//! ```
//!
//! - [`api`]: request and answer shapes (text-embeddings-inference and OpenAI), limits, errors;
//! - [`batcher`]: the queue and the batching policy;
//! - [`engine`]: the model calls (encoder, sentence head, MLM head, classifier);
//! - [`routes`]: the HTTP endpoints;
//! - [`server`]: binding, the probes (`/health`, `/ready`), the accept loop and the drain on
//!   SIGTERM;
//! - [`args`]: the command-line options and their environment variables;
//! - [`metrics`]: the Prometheus counters;
//! - [`loadtest`]: `nanobert bench serve`, an open-loop load generator.
//!
//! It binds 127.0.0.1 unless told otherwise (`--host 0.0.0.0` in a container).

pub mod api;
pub mod args;
pub mod batcher;
pub mod classify;
pub mod engine;
pub mod front;
mod load;
pub mod loadtest;
pub mod metrics;
mod notebooks;
mod openapi;
pub mod routes;
pub mod server;
pub mod soak;
pub mod tokens;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

pub use api::Limits;
use batcher::Queue;
use metrics::Metrics;
use nanobert::io::SentenceTransformersConfig;
use nanobert::pipeline::ScoreFunction;
use nanobert::quant::Precision;
use nanobert::text::Tokenizer;
pub use server::{Server, run};

/// Everything `nanobert serve` can be told.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The checkpoint directory.
    pub model_dir: PathBuf,
    /// Address to listen on (an IP or a name that resolves; default 127.0.0.1).
    pub host: String,
    /// Port; 0 picks a free one (see [`Server::addr`]).
    pub port: u16,
    /// Most tokens the batcher puts into one batch (and padded tokens into one model call).
    pub max_batch_tokens: usize,
    /// How long the oldest queued request may wait for the batch to fill (0: never wait).
    pub max_wait: Duration,
    /// Most texts waiting in the queue; beyond, requests get 429 at once.
    pub max_queue_texts: usize,
    /// Most requests admitted at once (queued or computing); beyond, 429 at once.
    pub max_concurrent_requests: usize,
    /// Per-request limits.
    pub limits: Limits,
    /// Threads for HTTP I/O (tokio workers) and, separately, for tokenization.
    pub io_threads: usize,
    /// Compute threads: the model runs on a rayon pool of its own of this many threads
    /// (`None`: `RAYON_NUM_THREADS`, else the physical cores capped by the CPU quota, as
    /// [`nanobert::pipeline::thread_pool`]).
    pub threads: Option<usize>,
    /// The fusions the model runs with (all on by default; `nanobert serve --no-fuse NAME`).
    pub fusion: nanobert::bert::Fusion,
    /// How the Linear weights are stored and multiplied (as `--precision` on every command).
    pub precision: Precision,
    /// When set, every endpoint but `/health` and `/ready` wants `Authorization: Bearer KEY`.
    pub api_key: Option<String>,
    /// JSON-lines access logs (and startup lines) on stdout.
    pub json_output: bool,
    /// On SIGTERM, how long to keep serving with `/ready` at 503 before closing the listener.
    pub shutdown_delay: Duration,
    /// How long a client may take to send its request head and body (408 after).
    pub read_timeout: Duration,
    /// `TCP_NODELAY` on every accepted connection (default on: Nagle's algorithm off, so an
    /// answer written in more than one segment does not wait for the client's delayed ACK).
    /// Off only to measure what it changes (`bench serve --tcp-nodelay false`).
    pub tcp_nodelay: bool,
}

impl ServeOptions {
    /// Defaults for serving `model_dir` on `port`.
    pub fn new(model_dir: PathBuf, port: u16) -> ServeOptions {
        ServeOptions {
            model_dir,
            host: "127.0.0.1".into(),
            port,
            max_batch_tokens: 4096,
            max_wait: Duration::ZERO,
            max_queue_texts: 256,
            max_concurrent_requests: 512,
            limits: Limits::default(),
            io_threads: 1,
            threads: None,
            fusion: nanobert::bert::Fusion::all(),
            precision: Precision::F32,
            api_key: None,
            json_output: false,
            shutdown_delay: Duration::ZERO,
            read_timeout: Duration::from_secs(30),
            tcp_nodelay: true,
        }
    }
}

/// What `GET /info` reports.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Info {
    /// The directory's name (e.g. `all-MiniLM-L6-v2`); also the OpenAI `model` echoed back.
    pub model_id: String,
    /// The checkpoint directory.
    pub model_dir: String,
    /// `config.json`'s `architectures` (e.g. `BertForSequenceClassification`), `BertModel` when absent.
    pub architecture: String,
    /// What the checkpoint serves: `embedding` (and `fill-mask` with an MLM head), `classifier`
    /// (`/predict`) or `reranker` (a one-label classifier: `/rerank` and `/predict`).
    pub model_type: &'static str,
    /// Label names in id order, for classifiers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// Embedding size (after the checkpoint's `truncate_dim`; the hidden size for a classifier,
    /// which does not embed).
    pub dimensions: usize,
    /// Embedding size before any Matryoshka cut: the most `dimensions` / `truncate_dim` a
    /// request may ask for.
    pub full_dimensions: usize,
    /// Longest input in tokens (`[CLS]`/`[SEP]` included).
    pub max_input_length: usize,
    /// Weight precision.
    pub precision: String,
    /// Threads of the compute (rayon) pool.
    pub threads: usize,
    /// Threads for HTTP I/O and for tokenization (each).
    pub io_threads: usize,
    /// Pooling of sentence embeddings (`none` for a classifier).
    pub pooling: String,
    /// Batcher token budget.
    pub max_batch_tokens: usize,
    /// Batcher wait, milliseconds.
    pub max_wait_ms: f64,
    /// Queue capacity, texts.
    pub max_queue_texts: usize,
    /// Most requests admitted at once.
    pub max_concurrent_requests: usize,
    /// Most texts per request.
    pub max_client_batch_size: usize,
    /// Longest text, characters.
    pub max_text_chars: usize,
    /// Largest body, bytes.
    pub max_body_bytes: usize,
    /// Endpoints that work with this checkpoint.
    pub endpoints: Vec<&'static str>,
    /// Seconds spent loading the model (cold start).
    pub load_seconds: f64,
    /// nanobert's version.
    pub version: &'static str,
}

/// What a sequence-classification checkpoint's answers need besides the model.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassifierHead {
    /// Label names in id order.
    pub id2label: Vec<String>,
    /// Logits to `/predict` scores, as transformers' text-classification pipeline
    /// ([`ScoreFunction::for_head`]).
    pub predict_scores: ScoreFunction,
    /// Logit to `/rerank` score for a one-label checkpoint (a cross-encoder), as
    /// sentence-transformers' `CrossEncoder` ([`nanobert::pipeline::cross_encoder_activation`]); `None` with more labels.
    pub rerank_scores: Option<ScoreFunction>,
}

/// How the embeddings end, for the `normalize` and Matryoshka flags.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmbeddingShape {
    /// The checkpoint's `truncate_dim` (config_sentence_transformers.json), applied by default.
    pub default_dims: Option<usize>,
    /// The model's last module is Normalize (left to the request's `normalize` flag).
    pub ends_normalized: bool,
    /// A Normalize module sits before another module (so `normalize: false` cannot be honoured).
    pub inner_normalize: bool,
}

/// The state every handler sees.
pub struct AppState {
    /// Where jobs go.
    pub queue: Arc<Queue>,
    /// Tokenizes requests (no truncation: the handler decides, see [`AppState::max_len`]).
    pub tokenizer: Tokenizer,
    /// The same tokenizer truncating at [`AppState::max_len`] (longest first for pairs), for
    /// requests that ask for `"truncate": true`.
    pub truncating_tokenizer: Tokenizer,
    /// Labels and score functions when the checkpoint is a `BertForSequenceClassification`.
    pub classifier: Option<ClassifierHead>,
    /// The sentence-transformers settings (prompts), when the checkpoint is such a model.
    pub sentence_transformers: Option<SentenceTransformersConfig>,
    /// Whether the pooling leaves the prompt's tokens out (`include_prompt: false`).
    pub excludes_prompt: bool,
    /// How the embeddings end.
    pub embedding: EmbeddingShape,
    /// Runs the tokenizer, separate from the compute pool.
    pub tokenizer_pool: rayon::ThreadPool,
    /// Longest sequence the model takes.
    pub max_len: usize,
    /// `[MASK]` id when the checkpoint has an MLM head.
    pub mask_id: Option<u32>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// What `/info` says.
    pub info: Info,
    /// False once the compute thread has stopped.
    pub compute_alive: Arc<AtomicBool>,
}
