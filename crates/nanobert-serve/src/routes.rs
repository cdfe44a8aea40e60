//! # The HTTP endpoints
//!
//! | endpoint | body | answer |
//! |---|---|---|
//! | `POST /embed` | TEI `{"inputs", "normalize", "truncate"}` | `[[f32]]` |
//! | `POST /v1/embeddings` | OpenAI `{"input", "model", "encoding_format"}` | `{"data": [...], "usage": {...}}` |
//! | `POST /fill-mask` | `{"inputs", "top_k", "truncate"}` (MLM checkpoints) | `[[{"position", "top": [...]}]]` |
//! | `POST /rerank` | TEI `{"query", "texts", "raw_scores", "return_text"}` (one-label classifiers) | `[{"index", "score", "text"?}]` best first |
//! | `POST /predict` | TEI `{"inputs", "raw_scores"}` (sequence classifiers) | `[{"score", "label"}]` best first (a list per input for a batch) |
//! | `GET /health` | | 200 `ok`, 503 when the compute thread stopped (answered by [`front`](super::front)) |
//! | `GET /ready` | | 200 `ok`; 503 while loading, draining, or when the compute thread stopped |
//! | `GET /info` | | model, dimensions, max length, precision, threads, limits |
//! | `GET /metrics` | | Prometheus text |
//!
//! Embedding checkpoints serve `/embed` and `/v1/embeddings` (and `/fill-mask` with an MLM
//! head); a `BertForSequenceClassification` serves `/predict` (and `/rerank` with one label,
//! see [`classify`]). Asking a model for what it cannot do is a 400 naming
//! the model's architecture and the endpoints it has.
//!
//! A handler parses and checks the body, tokenizes on the tokenizer pool, queues a job
//! (429 at once when the queue is full, 503 while shutting down) and awaits its answer. When
//! the client disconnects, axum drops the handler's future, which closes the job's answer
//! channel, and the batcher skips the job.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::oneshot;

use super::AppState;
use super::api::{self, ApiError, Dialect, EmbedRequest, FillMaskRequest, OpenAiRequest, TextInput};
use super::batcher::{Job, Output, Refused, Seq, Task};
use super::classify;

/// The handlers' state extractor.
pub(super) type St = State<Arc<AppState>>;
/// A request body, or why axum could not read it.
pub(super) type Body = Result<Bytes, BytesRejection>;

/// All routes, with the body limit applied.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/embed", post(embed))
        .route("/v1/embeddings", post(openai_embeddings))
        .route("/fill-mask", post(fill_mask))
        .route("/embed_all", post(super::tokens::embed_all))
        .route("/tokenize", post(super::tokens::tokenize_endpoint))
        .route("/decode", post(super::tokens::decode))
        .route("/openapi.json", get(super::openapi::openapi))
        .route("/rerank", post(classify::rerank))
        .route("/predict", post(classify::predict))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}

/// Reads the body or explains why not (413 naming the limit).
pub(super) fn body_bytes(s: &AppState, body: Body) -> Result<Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "request body is larger than the limit of {} bytes (--max-body-bytes)",
                s.info.max_body_bytes
            ))
        } else {
            ApiError::bad_request(format!("cannot read the request body: {e}"))
        }
    })
}

/// Counts the answer under `endpoint` and returns it.
pub(super) fn counted(s: &AppState, endpoint: &str, r: Result<Response, ApiError>, d: Dialect) -> Response {
    let r = match r {
        Ok(r) => r,
        Err(e) => e.in_dialect(d).into_response(),
    };
    s.metrics.count(endpoint, r.status().as_u16());
    r
}

async fn embed(State(s): St, body: Body) -> Response {
    let r = embed_inner(&s, body).await;
    counted(&s, "/embed", r, Dialect::Tei)
}

async fn embed_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    s.embeds("/embed")?;
    let body = body_bytes(s, body)?;
    let req: EmbedRequest = api::parse(&body, r#"{"inputs": "text" | ["a", "b"], "normalize": true}"#)?;
    if let Some(d) = &req.truncation_direction
        && !d.eq_ignore_ascii_case("right")
    {
        return Err(ApiError::bad_request(format!("`truncation_direction` {d:?}: only \"Right\" is supported")));
    }
    let texts = req.inputs.texts(&s.info_limits(), "inputs")?;
    let (texts, prompt_tokens) = s.with_prompt(texts, req.prompt_name.as_deref())?;
    let (normalize, dims) = s.embed_flags(req.normalize, req.truncate_dim, "truncate_dim")?;
    let seqs = tokenize(s, singles(texts), req.truncate, "inputs").await?;
    match submit(s, seqs, Task::Embed { normalize, dims, prompt_tokens }).await? {
        (Output::Embeddings(v), _) => Ok(axum::Json(v).into_response()),
        _ => Err(internal("wrong output kind")),
    }
}

async fn openai_embeddings(State(s): St, body: Body) -> Response {
    let r = openai_inner(&s, body).await;
    counted(&s, "/v1/embeddings", r, Dialect::OpenAi)
}

async fn openai_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    s.embeds("/v1/embeddings")?;
    let body = body_bytes(s, body)?;
    let req: OpenAiRequest = api::parse(&body, r#"{"input": "text" | ["a", "b"], "model": "..."}"#)?;
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("`encoding_format` {other:?}: use \"float\" or \"base64\"")));
        }
    };
    let (normalize, dims) = s.embed_flags(true, req.dimensions, "dimensions")?;
    let texts = api::openai_texts(req.input, &s.info_limits())?;
    let (texts, prompt_tokens) = s.with_prompt(texts, None)?;
    let seqs = tokenize(s, singles(texts), false, "input").await?;
    let (out, tokens) = submit(s, seqs, Task::Embed { normalize, dims, prompt_tokens }).await?;
    let Output::Embeddings(v) = out else { return Err(internal("wrong output kind")) };
    let data: Vec<serde_json::Value> = v
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let embedding = if base64 { serde_json::json!(api::base64_f32(e)) } else { serde_json::json!(e) };
            serde_json::json!({ "object": "embedding", "embedding": embedding, "index": i })
        })
        .collect();
    let model = req.model.unwrap_or_else(|| s.info.model_id.clone());
    Ok(axum::Json(serde_json::json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": { "prompt_tokens": tokens, "total_tokens": tokens },
    }))
    .into_response())
}

async fn fill_mask(State(s): St, body: Body) -> Response {
    let r = fill_mask_inner(&s, body).await;
    counted(&s, "/fill-mask", r, Dialect::Tei)
}

async fn fill_mask_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    let Some(mask_id) = s.mask_id else {
        return Err(s.unavailable("/fill-mask", "a checkpoint with a masked-language-model head (BertForMaskedLM)"));
    };
    let body = body_bytes(s, body)?;
    let req: FillMaskRequest = api::parse(&body, r#"{"inputs": "Paris is the [MASK] of France.", "top_k": 5}"#)?;
    if req.top_k == 0 || req.top_k > 100 {
        return Err(ApiError::bad_request(format!("`top_k` {}: must be 1 to 100", req.top_k)));
    }
    let texts = req.inputs.texts(&s.info_limits(), "inputs")?;
    let seqs = tokenize(s, singles(texts), req.truncate, "inputs").await?;
    if let Some(i) = seqs.iter().position(|q| !q.ids.contains(&mask_id)) {
        return Err(ApiError::bad_request(format!("`inputs`[{i}] has no [MASK] token")));
    }
    match submit(s, seqs, Task::FillMask { top_k: req.top_k, mask_id }).await? {
        (Output::FillMask(v), _) => Ok(axum::Json(v).into_response()),
        _ => Err(internal("wrong output kind")),
    }
}

async fn info(State(s): St) -> Response {
    s.metrics.count("/info", 200);
    axum::Json(&s.info).into_response()
}

async fn metrics(State(s): St) -> Response {
    s.metrics.count("/metrics", 200);
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], s.metrics.render()).into_response()
}

async fn not_found(State(s): St, uri: axum::http::Uri) -> Response {
    ApiError {
        status: StatusCode::NOT_FOUND,
        kind: "NotFound",
        message: format!("no endpoint {}: this server answers {}", uri.path(), s.endpoint_list()),
        dialect: Dialect::Tei,
    }
    .into_response()
}

/// A 500 with `msg`.
pub(super) fn internal(msg: &str) -> ApiError {
    ApiError { status: StatusCode::INTERNAL_SERVER_ERROR, kind: "Backend", message: msg.into(), dialect: Dialect::Tei }
}

impl AppState {
    /// The endpoints, with their methods, for messages.
    fn endpoint_list(&self) -> String {
        let e: Vec<String> = self
            .info
            .endpoints
            .iter()
            .map(|p| {
                format!(
                    "{} {p}",
                    if ["/health", "/ready", "/info", "/metrics", "/openapi.json"].contains(p) {
                        "GET"
                    } else {
                        "POST"
                    }
                )
            })
            .collect();
        e.join(", ")
    }

    /// The 400 for an endpoint this checkpoint cannot serve: names the model, its
    /// architecture, what the endpoint needs and what the server does answer.
    pub(super) fn unavailable(&self, endpoint: &str, needs: &str) -> ApiError {
        let i = &self.info;
        ApiError::bad_request(format!(
            "{} is a {} ({} model): {endpoint} needs {needs}; this server answers {}",
            i.model_id,
            i.architecture,
            i.model_type,
            self.endpoint_list()
        ))
    }

    /// Refuses embedding endpoints on a classifier (its encoder was fine-tuned for its labels,
    /// not for similarity; text-embeddings-inference refuses too).
    pub(super) fn embeds(&self, endpoint: &str) -> Result<(), ApiError> {
        match self.classifier {
            Some(_) => Err(self.unavailable(endpoint, "an embedding checkpoint (BertModel, sentence-transformers)")),
            None => Ok(()),
        }
    }

    /// The texts prefixed with the prompt called `name` (`None`: the model's default prompt,
    /// if any), as sentence-transformers' `encode(prompt_name=...)`, and the prompt's token
    /// count when the pooling leaves it out. An unknown name, or any name on a model without
    /// prompts, is a 400.
    pub(super) fn with_prompt(
        &self,
        texts: Vec<String>,
        name: Option<&str>,
    ) -> Result<(Vec<String>, Option<usize>), ApiError> {
        let prompt = match (&self.sentence_transformers, name) {
            (Some(st), _) => st.prompt(name).map_err(|e| ApiError::bad_request(format!("`prompt_name`: {e}")))?,
            (None, Some(n)) => {
                return Err(ApiError::bad_request(format!(
                    "`prompt_name` {n:?}: {} has no prompts (no config_sentence_transformers.json)",
                    self.info.model_id
                )));
            }
            (None, None) => None,
        };
        let Some(prompt) = prompt else { return Ok((texts, None)) };
        let tokens = if self.excludes_prompt {
            // `[CLS]` and the prompt's tokens, without the final `[SEP]` (sentence-transformers' count).
            let b = self.tokenizer.encode_batch(&[prompt]).map_err(|e| internal(&format!("prompt: {e}")))?;
            Some(b.lengths()[0].saturating_sub(1))
        } else {
            None
        };
        Ok((texts.into_iter().map(|t| format!("{prompt}{t}")).collect(), tokens))
    }

    /// The `normalize` flag and the Matryoshka cut a request asks for, checked: `dims`
    /// (`field` names it) within 1..=the model's full width, the checkpoint's `truncate_dim`
    /// when absent; `normalize: false` refused when a Normalize module is followed by another
    /// module (the model's own computation would change), never silently ignored.
    pub(super) fn embed_flags(
        &self,
        normalize: bool,
        dims: Option<usize>,
        field: &str,
    ) -> Result<(bool, Option<usize>), ApiError> {
        let full = self.info.full_dimensions;
        if let Some(d) = dims
            && (d == 0 || d > full)
        {
            return Err(ApiError::bad_request(format!(
                "`{field}` {d}: this model gives {full} dimensions; ask for 1 to {full}"
            )));
        }
        if !normalize && self.embedding.inner_normalize {
            return Err(ApiError::bad_request(format!(
                "`normalize: false`: {}'s Normalize module is followed by another module, so its vectors \
                 cannot be given unnormalized",
                self.info.model_id
            )));
        }
        Ok((normalize, dims.or(self.embedding.default_dims).filter(|&d| d < full)))
    }

    /// The per-request limits.
    pub(super) fn info_limits(&self) -> api::Limits {
        api::Limits {
            max_body_bytes: self.info.max_body_bytes,
            max_texts: self.info.max_client_batch_size,
            max_text_chars: self.info.max_text_chars,
        }
    }
}

/// Single texts as [`TextInput`]s.
pub(super) fn singles(texts: Vec<String>) -> Vec<TextInput> {
    texts.into_iter().map(|t| (t, None)).collect()
}

/// Tokenizes texts and pairs on the tokenizer pool (not on the compute pool, not blocking the
/// I/O threads). Inputs longer than the model's maximum are cut when `truncate` (longest
/// first for pairs, as transformers), else refused (413 naming `` `field`[i] ``).
pub(super) async fn tokenize(
    s: &Arc<AppState>,
    inputs: Vec<TextInput>,
    truncate: bool,
    field: &str,
) -> Result<Vec<Seq>, ApiError> {
    let (tx, rx) = oneshot::channel();
    let st = s.clone();
    let pairs: Vec<bool> = inputs.iter().map(|(_, b)| b.is_some()).collect();
    s.tokenizer_pool.spawn(move || {
        let refs: Vec<(&str, Option<&str>)> = inputs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
        let out = match st.tokenizer.encode_mixed(&refs) {
            Ok(b) if truncate && b.lengths().iter().any(|&n| n > st.max_len) => {
                st.truncating_tokenizer.encode_mixed(&refs)
            }
            other => other,
        };
        let _ = tx.send(out);
    });
    let batch = rx
        .await
        .map_err(|_| internal("the tokenizer thread stopped"))?
        .map_err(|e| ApiError::bad_request(format!("cannot tokenize: {e}")))?;
    let max = s.max_len;
    let mut seqs = Vec::with_capacity(batch.batch);
    for (i, n) in batch.lengths().into_iter().enumerate() {
        if n > max {
            let what = if pairs[i] { " (the pair together)" } else { "" };
            return Err(ApiError::too_large(format!(
                "`{field}`[{i}]{what} has {n} tokens; the model takes at most {max} (send \"truncate\": true to cut it)"
            )));
        }
        let row = i * batch.seq_len;
        seqs.push(Seq {
            ids: batch.input_ids[row..row + n].to_vec(),
            type_ids: batch.token_type_ids[row..row + n].to_vec(),
        });
    }
    Ok(seqs)
}

/// Queues the job and waits for its answer; also returns the job's real token count.
/// A full queue is a 429 at once, a closed one a 503.
pub(super) async fn submit(s: &AppState, seqs: Vec<Seq>, task: Task) -> Result<(Output, usize), ApiError> {
    let (tx, rx) = oneshot::channel();
    let job = Job { seqs, task, reply: tx, enqueued: Instant::now(), id: 0 };
    let tokens = job.tokens();
    let id = match s.queue.push(job) {
        Ok(id) => id,
        Err((why, _job)) => {
            let (status, message) = match why {
                Refused::Full { capacity } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("the queue is full ({capacity} texts waiting, --max-queue): retry later"),
                ),
                Refused::Closed => (StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down".to_string()),
            };
            return Err(ApiError { status, kind: "Overloaded", message, dialect: Dialect::Tei });
        }
    };
    // If this future is dropped (the client went away), the guard takes the job off the queue.
    let mut guard = Dequeue { queue: &s.queue, id: Some(id) };
    let reply = rx.await;
    guard.id = None;
    match reply {
        Ok(Ok(out)) => Ok((out, tokens)),
        Ok(Err(msg)) => Err(internal(&msg)),
        Err(_) => Err(internal("the compute thread stopped before answering")),
    }
}

/// Takes a job off the queue when the waiting handler is dropped (client disconnected).
struct Dequeue<'a> {
    queue: &'a super::batcher::Queue,
    id: Option<u64>,
}

impl Drop for Dequeue<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            self.queue.cancel(id);
        }
    }
}
