//! # `nanobert serve`: a BERT server that batches, and says no when full
//!
//! Embeddings (`/embed`, `/v1/embeddings`), fill-mask for MLM checkpoints, and `/predict` /
//! `/rerank` for sequence-classification checkpoints (classifiers, cross-encoders).
//!
//! ```text
//!   clients ──HTTP──▶ tokio I/O threads ──▶ tokenizer pool ──▶ bounded Queue ──▶ compute thread
//!   (127.0.0.1)      (axum handlers:          (rayon, its own     (429 at once      (batches, runs the
//!                     parse, validate,         threads)            when full)        encoder on the
//!                     answer)                                                        rayon compute pool)
//! ```
//!
//! - [`api`]: request and answer shapes (text-embeddings-inference and OpenAI), limits, errors;
//! - [`batcher`]: the queue and the batching policy;
//! - [`engine`]: the model calls (encoder, sentence head, MLM head, classifier);
//! - [`routes`]: the HTTP endpoints;
//! - [`metrics`]: the Prometheus counters;
//! - [`loadtest`]: `nanobert bench serve`, an open-loop load generator.
//!
//! The server only ever binds 127.0.0.1: put a reverse proxy in front to expose it.

pub mod api;
pub mod batcher;
pub mod classify;
pub mod engine;
pub mod loadtest;
pub mod metrics;
mod notebooks;
pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use api::Limits;
use batcher::Queue;
use engine::{Encoder, Engine};
use metrics::Metrics;
use nanobert::bert::heads::{BertForSequenceClassification, HeadConfig};
use nanobert::bert::sentence::SentenceHead;
use nanobert::bert::{BertConfig, BertForMaskedLM};
use nanobert::io::{Checkpoint, SentenceTransformersConfig};
use nanobert::pipeline::{Embedder, ScoreFunction, cross_encoder_activation, max_len};
use nanobert::text::Tokenizer;
use nanobert::{Error, Result};

/// Everything `nanobert serve` can be told.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The checkpoint directory.
    pub model_dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one (see [`Server::addr`]).
    pub port: u16,
    /// Most tokens the batcher puts into one batch (and padded tokens into one model call).
    pub max_batch_tokens: usize,
    /// How long the oldest queued request may wait for the batch to fill (0: never wait).
    pub max_wait: Duration,
    /// Most texts waiting in the queue; beyond, requests get 429 at once.
    pub max_queue_texts: usize,
    /// Per-request limits.
    pub limits: Limits,
    /// Threads for HTTP I/O (tokio workers) and, separately, for tokenization.
    pub io_threads: usize,
    /// The fusions the model runs with (all on by default; `nanobert serve --no-fuse NAME`).
    pub fusion: nanobert::bert::Fusion,
}

impl ServeOptions {
    /// Defaults for serving `model_dir` on `port`.
    pub fn new(model_dir: PathBuf, port: u16) -> ServeOptions {
        ServeOptions {
            model_dir,
            port,
            max_batch_tokens: 4096,
            max_wait: Duration::ZERO,
            max_queue_texts: 256,
            limits: Limits::default(),
            io_threads: 1,
            fusion: nanobert::bert::Fusion::all(),
        }
    }
}

/// What `GET /info` reports.
#[derive(Clone, Debug, serde::Serialize)]
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
    /// Embedding size (the hidden size for a classifier, which does not embed).
    pub dimensions: usize,
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
    /// sentence-transformers' `CrossEncoder` ([`cross_encoder_activation`]); `None` with more labels.
    pub rerank_scores: Option<ScoreFunction>,
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

/// A running server; [`Server::shutdown`] stops it gracefully.
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<()>>>,
    /// The counters (shared with the server).
    pub metrics: Arc<Metrics>,
    /// What `/info` reports.
    pub info: Info,
}

/// What [`load`] gives: the engine for the compute thread, the parts of [`AppState`].
struct Loaded {
    engine: Engine,
    tokenizer: Tokenizer,
    truncating_tokenizer: Tokenizer,
    max_len: usize,
    mask_id: Option<u32>,
    classifier: Option<ClassifierHead>,
    sentence_transformers: Option<SentenceTransformersConfig>,
    excludes_prompt: bool,
    info: Info,
}

/// Loads the engine and the handler state's parts from a checkpoint: a
/// `BertForSequenceClassification` serves `/predict` (and `/rerank` with one label); any other
/// BERT checkpoint serves embeddings (and fill-mask with an MLM head). Token classification and
/// question answering are refused with a message naming the CLI command that runs them.
fn load(opts: &ServeOptions) -> Result<Loaded> {
    let t0 = Instant::now();
    let ckpt = Checkpoint::open(&opts.model_dir)?;
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let max_len = max_len(&ckpt, &cfg);
    let architecture = ckpt.architecture().unwrap_or("BertModel").to_string();
    if let Some(command) = match architecture.as_str() {
        "BertForTokenClassification" => Some("ner"),
        "BertForQuestionAnswering" => Some("qa"),
        _ => None,
    } {
        return Err(Error::Input(format!(
            "serve: {} is a {architecture} checkpoint, which the server does not run (it serves embedding, \
             fill-mask and sequence-classification checkpoints): use `nanobert {command}`",
            opts.model_dir.display()
        )));
    }
    // No truncation inside the first tokenizer: the handler refuses or cuts over-long texts.
    let mut tokenizer = Tokenizer::from_checkpoint(&ckpt, 1 << 20)?;
    let mut truncating_tokenizer = Tokenizer::from_checkpoint(&ckpt, max_len)?;
    if ckpt.sentence_transformers.as_ref().is_some_and(|st| st.do_lower_case) {
        tokenizer.prepend_lowercase();
        truncating_tokenizer.prepend_lowercase();
    }
    let sentence_transformers = ckpt.sentence_transformers.clone();
    let (encoder, head, dimensions, pooling, classifier, decoder, model_type) =
        if architecture == "BertForSequenceClassification" {
            let head_cfg = HeadConfig::from_json(&ckpt.config_json, &cfg)?;
            let rerank_scores = if head_cfg.num_labels() == 1 { Some(cross_encoder_activation(&ckpt)?) } else { None };
            let classifier = ClassifierHead {
                id2label: head_cfg.id2label.clone(),
                predict_scores: ScoreFunction::for_head(&head_cfg),
                rerank_scores,
            };
            let mut model = BertForSequenceClassification::load(&ckpt.weights, &cfg, head_cfg)?;
            model.bert.fusion = opts.fusion;
            let kind = if rerank_scores.is_some() { "reranker" } else { "classifier" };
            let encoder = Encoder::Classifier(Box::new(model));
            let decoder = Tokenizer::from_checkpoint(&ckpt, max_len)?;
            (encoder, SentenceHead::mean(), cfg.hidden_size, "none".to_string(), Some(classifier), decoder, kind)
        } else {
            let mut emb = Embedder::from_checkpoint(&ckpt)?;
            emb.model.pooler = None; // embeddings never use it: don't compute it per call
            emb.model.fusion = opts.fusion;
            let dimensions = emb.dimension()?;
            let pooling: Vec<String> = emb.head.modules.iter().map(|m| m.describe()).collect();
            let encoder = if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
                drop(emb.model); // the MLM model holds its own copy of the encoder
                let mut mlm = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
                mlm.bert.fusion = opts.fusion;
                Encoder::Mlm(Box::new(mlm))
            } else {
                Encoder::Bare(Box::new(emb.model))
            };
            (encoder, emb.head, dimensions, pooling.join(" -> "), None, emb.tokenizer, "embedding")
        };
    let mask_id = if matches!(encoder, Encoder::Mlm(_)) { tokenizer.mask_token_id() } else { None };
    let pad_id = tokenizer.pad_token_id();
    let mut endpoints = Vec::new();
    match &classifier {
        Some(c) => {
            if c.rerank_scores.is_some() {
                endpoints.push("/rerank");
            }
            endpoints.push("/predict");
        }
        None => endpoints.extend(["/embed", "/v1/embeddings"]),
    }
    if mask_id.is_some() {
        endpoints.push("/fill-mask");
    }
    endpoints.extend(["/health", "/info", "/metrics"]);
    let model_id = opts.model_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let info = Info {
        model_id,
        model_dir: opts.model_dir.display().to_string(),
        architecture,
        model_type,
        labels: classifier.as_ref().map(|c| c.id2label.clone()),
        dimensions,
        max_input_length: max_len,
        precision: "f32".into(),
        threads: rayon::current_num_threads(),
        io_threads: opts.io_threads,
        pooling,
        max_batch_tokens: opts.max_batch_tokens,
        max_wait_ms: opts.max_wait.as_secs_f64() * 1e3,
        max_queue_texts: opts.max_queue_texts,
        max_client_batch_size: opts.limits.max_texts,
        max_text_chars: opts.limits.max_text_chars,
        max_body_bytes: opts.limits.max_body_bytes,
        endpoints,
        load_seconds: t0.elapsed().as_secs_f64(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let excludes_prompt = head.excludes_prompt();
    let engine = Engine { encoder, head, pad_id, tokenizer: decoder };
    Ok(Loaded {
        engine,
        tokenizer,
        truncating_tokenizer,
        max_len,
        mask_id,
        classifier,
        sentence_transformers,
        excludes_prompt,
        info,
    })
}

impl Server {
    /// Loads the model, binds 127.0.0.1:`opts.port` and starts serving on background threads.
    /// Returns once the socket listens. Errors: the checkpoint (file and tensor named), a bad
    /// option, or a port that cannot be bound.
    pub fn start(opts: &ServeOptions) -> Result<Server> {
        Self::start_with(opts, false)
    }

    /// [`Server::start`], also stopping on Ctrl-C / SIGTERM when `signals` (the CLI does).
    fn start_with(opts: &ServeOptions, signals: bool) -> Result<Server> {
        if opts.max_batch_tokens == 0 || opts.max_queue_texts == 0 || opts.io_threads == 0 {
            return Err(Error::Input(
                "serve: --max-batch-tokens, --max-queue and --io-threads must be at least 1".into(),
            ));
        }
        let Loaded {
            engine,
            tokenizer,
            truncating_tokenizer,
            max_len,
            mask_id,
            classifier,
            sentence_transformers,
            excludes_prompt,
            info,
        } = load(opts)?;
        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(Queue::new(opts.max_queue_texts, metrics.clone()));
        let compute_alive = Arc::new(AtomicBool::new(true));

        let listener = std::net::TcpListener::bind(("127.0.0.1", opts.port))
            .map_err(|e| Error::Input(format!("serve: cannot listen on 127.0.0.1:{}: {e}", opts.port)))?;
        listener.set_nonblocking(true).map_err(|e| Error::Input(format!("serve: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Input(format!("serve: {e}")))?;

        let tokenizer_pool = rayon::ThreadPoolBuilder::new()
            .num_threads(opts.io_threads)
            .thread_name(|i| format!("nanobert-tokenize-{i}"))
            .build()
            .map_err(|e| Error::Input(format!("serve: tokenizer threads: {e}")))?;
        let state = Arc::new(AppState {
            queue: queue.clone(),
            tokenizer,
            truncating_tokenizer,
            classifier,
            sentence_transformers,
            excludes_prompt,
            tokenizer_pool,
            max_len,
            mask_id,
            metrics: metrics.clone(),
            info: info.clone(),
            compute_alive: compute_alive.clone(),
        });

        let (max_tokens, max_wait) = (opts.max_batch_tokens, opts.max_wait);
        let (q, m, alive) = (queue.clone(), metrics.clone(), compute_alive);
        let compute = std::thread::Builder::new()
            .name("nanobert-compute".into())
            .spawn(move || {
                engine::compute_loop(&engine, &q, max_tokens, max_wait, &m);
                alive.store(false, Ordering::Relaxed);
            })
            .map_err(|e| Error::Input(format!("serve: cannot start the compute thread: {e}")))?;

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.io_threads)
            .thread_name("nanobert-io")
            .enable_all()
            .build()
            .map_err(|e| Error::Input(format!("serve: cannot start the I/O runtime: {e}")))?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let body_limit = opts.limits.max_body_bytes;
        let drain = queue.clone();
        let thread = std::thread::Builder::new()
            .name("nanobert-serve".into())
            .spawn(move || {
                let served = runtime.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).map_err(|e| Error::Input(format!("serve: {e}")))?;
                    let app = routes::router(state, body_limit);
                    axum::serve(listener, app)
                        .with_graceful_shutdown(async move {
                            tokio::select! {
                                _ = stop_rx => {}
                                _ = shutdown_signal(), if signals => {}
                            }
                            drain.drain(); // in-flight requests: compute now, don't wait for company
                        })
                        .await
                        .map_err(|e| Error::Input(format!("serve: {e}")))
                });
                // No new requests: let the compute thread drain the queue, then stop.
                queue.close();
                let _ = compute.join();
                served
            })
            .map_err(|e| Error::Input(format!("serve: cannot start the server thread: {e}")))?;
        Ok(Server { addr, stop: Some(stop_tx), thread: Some(thread), metrics, info })
    }

    /// The address it listens on (127.0.0.1 and the chosen port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, finishes the requests in flight, then returns.
    pub fn shutdown(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.join()
    }

    /// Blocks until the server stops (Ctrl-C or SIGTERM), after it finished in-flight requests.
    pub fn wait(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Input("serve: the server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.join();
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `nanobert serve`: starts the server, prints where it listens, serves until Ctrl-C/SIGTERM.
pub fn run(opts: &ServeOptions) -> Result<()> {
    eprintln!("loading {} ...", opts.model_dir.display());
    let server = Server::start_with(opts, true)?;
    let i = &server.info;
    let what = match &i.labels {
        Some(l) => format!("{} ({} labels: {})", i.model_type, l.len(), l.join(", ")),
        None => format!("{} dims", i.dimensions),
    };
    eprintln!(
        "{} ({}) loaded in {:.2} s: {what}, max {} tokens, {} compute threads, {} I/O threads",
        i.model_id, i.architecture, i.load_seconds, i.max_input_length, i.threads, i.io_threads
    );
    eprintln!("endpoints: {}", i.endpoints.join(" "));
    println!("listening on http://{}", server.addr());
    eprintln!("Ctrl-C or SIGTERM stops it after the requests in flight");
    server.wait()?;
    eprintln!("stopped");
    Ok(())
}
