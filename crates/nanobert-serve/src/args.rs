//! # `nanobert serve`'s options, each also read from an environment variable
//!
//! A pod is configured through its environment, so every option has a variable. Where Hugging
//! Face's text-embeddings-inference (TEI) has the option, the variable is TEI's name (`PORT`,
//! `HOSTNAME`, `MODEL_ID`, `DTYPE`, `API_KEY`, `MAX_BATCH_TOKENS`, `MAX_CONCURRENT_REQUESTS`,
//! `MAX_CLIENT_BATCH_SIZE`, `PAYLOAD_LIMIT`, `JSON_OUTPUT`), so a TEI manifest carries over;
//! nanobert's own options use the `NANOBERT_` prefix. A flag on the command line wins over the
//! variable. The compute threads are the global `--threads` (or `RAYON_NUM_THREADS`), by default
//! the physical cores capped by the container's CPU quota ([`nanobert::threads::default_threads`]).

use std::path::PathBuf;
use std::time::Duration;

use nanobert::quant::Precision;
use nanobert::{Error, Result};

use super::{Limits, ServeOptions};

/// `nanobert serve` options (`--help` shows each one's variable).
#[derive(clap::Args, Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on: 127.0.0.1 (this machine only), 0.0.0.0 (every interface, as in
    /// a container) or any address or name that resolves. In a Kubernetes pod HOSTNAME is the
    /// pod's name (which resolves to the pod's IP): set it explicitly.
    #[arg(long, alias = "hostname", env = "HOSTNAME", default_value = "127.0.0.1")]
    pub host: String,
    /// Port (0 picks a free one).
    #[arg(long, short = 'p', env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// The checkpoint, as TEI's --model-id (the global --model does the same and wins).
    #[arg(long, env = "MODEL_ID", value_name = "MODEL")]
    pub model_id: Option<PathBuf>,
    /// Weight precision (f32, f16, bf16, int8), as TEI's --dtype (the global --precision does
    /// the same and wins when it is not f32).
    #[arg(long, env = "DTYPE")]
    pub dtype: Option<Precision>,
    /// Require `Authorization: Bearer KEY` on every endpoint but /health and /ready (401
    /// without it).
    #[arg(long, env = "API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Access logs (and the startup lines) as JSON lines on stdout: request id, method,
    /// path, status, latency.
    #[arg(long, env = "JSON_OUTPUT")]
    pub json_output: bool,
    /// Most tokens per batch (and padded tokens per model call).
    #[arg(long, env = "MAX_BATCH_TOKENS", default_value_t = 4096)]
    pub max_batch_tokens: usize,
    /// Most requests admitted at once (waiting or computing); beyond, 429 at once.
    #[arg(long, env = "MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// Most texts waiting in the queue; beyond, 429 at once.
    #[arg(long, env = "NANOBERT_MAX_QUEUE", default_value_t = 256)]
    pub max_queue: usize,
    /// How long the oldest queued request may wait for a batch to fill, in milliseconds.
    #[arg(long, env = "NANOBERT_MAX_WAIT_MS", default_value_t = 0.0)]
    pub max_wait_ms: f64,
    /// Most texts per request (413 above).
    #[arg(long, alias = "max-client-batch-size", env = "MAX_CLIENT_BATCH_SIZE", default_value_t = 64)]
    pub max_client_batch: usize,
    /// Longest text, in characters (413 above).
    #[arg(long, env = "NANOBERT_MAX_TEXT_CHARS", default_value_t = 20_000)]
    pub max_text_chars: usize,
    /// Largest request body, in bytes (413 above).
    #[arg(long, alias = "payload-limit", env = "PAYLOAD_LIMIT", default_value_t = 2 << 20)]
    pub max_body_bytes: usize,
    /// Threads for HTTP I/O and (separately) for tokenization; --threads sets the compute pool.
    #[arg(long, env = "NANOBERT_IO_THREADS", default_value_t = 1)]
    pub io_threads: usize,
    /// On SIGTERM: seconds to keep serving with /ready answering 503 (so the load balancer
    /// stops sending), before no longer accepting connections and finishing those in flight.
    #[arg(long, env = "NANOBERT_SHUTDOWN_DELAY", default_value_t = 0.0)]
    pub shutdown_delay: f64,
    /// Seconds a client may take to send its request (headers and body); slower ones get 408.
    #[arg(long, env = "NANOBERT_READ_TIMEOUT", default_value_t = 30.0)]
    pub read_timeout: f64,
    /// TCP_NODELAY on accepted connections (Nagle's algorithm off). `false` is for measuring
    /// what it changes: `bench serve --tcp-nodelay false` runs each load step against a server
    /// with it off and one with it on, interleaved.
    #[arg(long, env = "NANOBERT_TCP_NODELAY", default_value_t = true, action = clap::ArgAction::Set)]
    pub tcp_nodelay: bool,
}

fn seconds(name: &str, v: f64) -> Result<Duration> {
    if (0.0..1e9).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(Error::Input(format!("{name} {v}: must be a number of seconds >= 0")))
    }
}

impl ServeArgs {
    /// The checkpoint: the global `--model` when given, else `--model-id` / `MODEL_ID`;
    /// `None` for the default model. Both given and different is an error.
    pub fn model(&self, global: Option<&PathBuf>) -> Result<Option<PathBuf>> {
        match (global, &self.model_id) {
            (Some(g), Some(m)) if g != m => Err(Error::Input(format!(
                "serve: --model {} and --model-id/MODEL_ID {} disagree: give one",
                g.display(),
                m.display()
            ))),
            (Some(g), _) => Ok(Some(g.clone())),
            (None, m) => Ok(m.clone()),
        }
    }

    /// The server's options for `model_dir` (precision and fusions left at their defaults).
    pub fn options(&self, model_dir: PathBuf) -> Result<ServeOptions> {
        let mut o = ServeOptions::new(model_dir, self.port);
        o.host = self.host.clone();
        o.max_batch_tokens = self.max_batch_tokens;
        o.max_wait = Duration::from_secs_f64(seconds("--max-wait-ms", self.max_wait_ms)?.as_secs_f64() / 1e3);
        o.max_queue_texts = self.max_queue;
        o.max_concurrent_requests = self.max_concurrent_requests;
        o.limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_texts: self.max_client_batch,
            max_text_chars: self.max_text_chars,
        };
        o.io_threads = self.io_threads;
        o.api_key = self.api_key.clone().filter(|k| !k.is_empty());
        o.json_output = self.json_output;
        o.shutdown_delay = seconds("--shutdown-delay", self.shutdown_delay)?;
        o.read_timeout = seconds("--read-timeout", self.read_timeout)?;
        o.tcp_nodelay = self.tcp_nodelay;
        if o.read_timeout.is_zero() {
            return Err(Error::Input("--read-timeout 0: give a positive number of seconds".into()));
        }
        Ok(o)
    }
}
