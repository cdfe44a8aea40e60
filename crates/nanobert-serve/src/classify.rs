//! # `POST /rerank` and `POST /predict`: the sequence-classification endpoints
//!
//! Both run a `BertForSequenceClassification` checkpoint through the same queue and batcher as
//! the embeddings ([`Task::Classify`]: the compute thread returns raw logits), and turn the
//! logits into scores here, on the I/O thread, in the shapes of Hugging Face's
//! text-embeddings-inference (TEI):
//!
//! - `/rerank` (cross-encoders, one label): each `(query, text)` pair is encoded
//!   `[CLS] query [SEP] text [SEP]`; the score is the cross-encoder's activation of the logit
//!   (sigmoid unless `config.json` says Identity), or the logit with `"raw_scores": true`;
//!   the answer is sorted best first, ties in input order — as
//!   [`Reranker::rerank`](nanobert::pipeline::Reranker::rerank).
//! - `/predict` (any number of labels): softmax over the labels (sigmoid for one label or
//!   `multi_label_classification`, none for `regression`), or the logits with
//!   `"raw_scores": true`; every label, best first — as
//!   [`Classifier::predict`](nanobert::pipeline::Classifier::predict). TEI always applies softmax
//!   (sigmoid for one label); the two agree on single-label classifiers, the ones TEI serves.

use std::sync::Arc;

use axum::response::{IntoResponse, Response};

use super::AppState;
use super::api::{self, ApiError, Dialect, PredictRequest, Prediction, Rank, RerankRequest, check_text};
use super::batcher::{Output, Task};
use super::routes::{Body, St, body_bytes, counted, internal, submit, tokenize};

/// `POST /rerank`.
pub(super) async fn rerank(axum::extract::State(s): St, body: Body) -> Response {
    let r = rerank_inner(&s, body).await;
    counted(&s, "/rerank", r, Dialect::Tei)
}

fn only_right(direction: &Option<String>) -> Result<(), ApiError> {
    match direction {
        Some(d) if !d.eq_ignore_ascii_case("right") => {
            Err(ApiError::bad_request(format!("`truncation_direction` {d:?}: only \"Right\" is supported")))
        }
        _ => Ok(()),
    }
}

/// Runs `inputs` through the classifier; one row of logits per input.
async fn logits(
    s: &Arc<AppState>,
    inputs: Vec<api::TextInput>,
    truncate: bool,
    field: &str,
) -> Result<Vec<Vec<f32>>, ApiError> {
    let seqs = tokenize(s, inputs, truncate, field).await?;
    match submit(s, seqs, Task::Classify).await? {
        (Output::Logits(l), _) => Ok(l),
        _ => Err(internal("wrong output kind")),
    }
}

async fn rerank_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    let Some(activation) = s.classifier.as_ref().and_then(|c| c.rerank_scores) else {
        return Err(s.unavailable("/rerank", "a cross-encoder (a BertForSequenceClassification with one label)"));
    };
    let body = body_bytes(s, body)?;
    let req: RerankRequest = api::parse(&body, r#"{"query": "...", "texts": ["a", "b"]}"#)?;
    only_right(&req.truncation_direction)?;
    let limits = s.info_limits();
    check_text(&req.query, &limits, "`query`")?;
    let texts = api::Inputs::Many(req.texts).texts(&limits, "texts")?;
    let inputs = texts.iter().map(|t| (req.query.clone(), Some(t.clone()))).collect();
    let logits = logits(s, inputs, req.truncate, "texts").await?;
    let mut ranks: Vec<Rank> = logits
        .iter()
        .zip(texts)
        .enumerate()
        .map(|(index, (l, text))| {
            let logit = l.first().copied().unwrap_or(f32::NAN);
            let score = if req.raw_scores { logit } else { activation.apply(&[logit])[0] };
            Rank { index, text: req.return_text.then_some(text), score }
        })
        .collect();
    ranks.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.index.cmp(&b.index)));
    Ok(axum::Json(ranks).into_response())
}

/// `POST /predict`.
pub(super) async fn predict(axum::extract::State(s): St, body: Body) -> Response {
    let r = predict_inner(&s, body).await;
    counted(&s, "/predict", r, Dialect::Tei)
}

async fn predict_inner(s: &Arc<AppState>, body: Body) -> Result<Response, ApiError> {
    let Some(c) = &s.classifier else {
        return Err(s.unavailable("/predict", "a sequence classifier (BertForSequenceClassification)"));
    };
    let body = body_bytes(s, body)?;
    let req: PredictRequest = api::parse(&body, r#"{"inputs": "text" | ["text", "pair"] | [["a"], ["b", "c"]]}"#)?;
    only_right(&req.truncation_direction)?;
    let (batch, inputs) = api::predict_inputs(req.inputs, &s.info_limits())?;
    let logits = logits(s, inputs, req.truncate, "inputs").await?;
    let predictions: Vec<Vec<Prediction>> = logits
        .iter()
        .map(|l| {
            let scores = if req.raw_scores { l.clone() } else { c.predict_scores.apply(l) };
            let mut p: Vec<Prediction> = scores
                .into_iter()
                .zip(&c.id2label)
                .map(|(score, label)| Prediction { score, label: label.clone() })
                .collect();
            p.sort_by(|a, b| b.score.total_cmp(&a.score)); // stable: ties keep label order
            p
        })
        .collect();
    if batch {
        Ok(axum::Json(predictions).into_response())
    } else {
        Ok(axum::Json(predictions.into_iter().next().unwrap_or_default()).into_response())
    }
}
