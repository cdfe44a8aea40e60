//! # Loading a checkpoint for serving: the engine for the compute thread, the handlers' state
//!
//! The model is loaded as every other face loads it: the library's pipelines
//! ([`Embedder`], [`FillMask`], [`Classifier`]) built by [`Pipeline::builder`] with the
//! server's `--precision` and fusions.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use super::batcher::Queue;
use super::engine::{Encoder, Engine};
use super::metrics::Metrics;
use super::{AppState, ClassifierHead, EmbeddingShape, Info, ServeOptions};
use nanobert::bert::sentence::{SentenceHead, SentenceModule};
use nanobert::io::Checkpoint;
use nanobert::pipeline::{Classifier, Embedder, FillMask, Pipeline, cross_encoder_activation, max_len};
use nanobert::text::Tokenizer;
use nanobert::{Error, Result};

/// What the handlers share with the compute thread: the queue, the counters, its liveness.
pub(crate) struct Shared {
    pub queue: Arc<Queue>,
    pub metrics: Arc<Metrics>,
    pub compute_alive: Arc<AtomicBool>,
}

/// Loads the engine for the compute thread and the handlers' state from a checkpoint: a
/// `BertForSequenceClassification` serves `/predict` (and `/rerank` with one label); any other
/// BERT checkpoint serves embeddings (and fill-mask with an MLM head). Token classification and
/// question answering are refused with a message naming the CLI command that runs them.
pub(crate) fn load(opts: &ServeOptions, shared: Shared) -> Result<(Engine, AppState)> {
    let t0 = Instant::now();
    let ckpt = Checkpoint::open(&opts.model_dir)?;
    let cfg = nanobert::bert::BertConfig::from_json(&ckpt.config_json)?;
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
    let fill_mask = ckpt.weights.contains("cls.predictions.transform.dense.weight");
    let (encoder, head, dimensions, pooling, classifier, model_type) = if architecture
        == "BertForSequenceClassification"
    {
        let model: Classifier = Classifier::builder().precision(opts.precision).fusion(opts.fusion).build(&ckpt)?;
        let num_labels = model.model.head.num_labels();
        let rerank_scores = if num_labels == 1 { Some(cross_encoder_activation(&ckpt)?) } else { None };
        let classifier = ClassifierHead {
            id2label: model.model.head.id2label.clone(),
            predict_scores: model.score_function(),
            rerank_scores,
        };
        let kind = if rerank_scores.is_some() { "reranker" } else { "classifier" };
        let encoder = Encoder::Classifier(Box::new(model));
        (encoder, SentenceHead::mean(), cfg.hidden_size, "none".to_string(), Some(classifier), kind)
    } else {
        // The embedding side (sentence-transformers modules, prompts); its own encoder is the
        // one that runs unless the checkpoint has an MLM head, whose pipeline then holds it.
        let embedder = if fill_mask { Embedder::builder() } else { Embedder::builder().precision(opts.precision) };
        let mut emb: Embedder = embedder.fusion(opts.fusion).build(&ckpt)?;
        // The full width (before the checkpoint's `truncate_dim`, which the handlers apply).
        let truncate_dim = emb.sentence_transformers.as_mut().and_then(|st| st.truncate_dim.take());
        let dimensions = emb.dimension()?;
        if let Some(d) = truncate_dim
            && (d == 0 || d > dimensions)
        {
            return Err(Error::Input(format!(
                "serve: {}: truncate_dim {d} in config_sentence_transformers.json: the model gives {dimensions} values",
                opts.model_dir.display()
            )));
        }
        let pooling: Vec<String> = emb.head.modules.iter().map(|m| m.describe()).collect();
        let Embedder { mut model, head, .. } = emb;
        let encoder = if fill_mask {
            drop(model); // the fill-mask pipeline holds its own copy of the encoder
            Encoder::Mlm(Box::new(FillMask::builder().precision(opts.precision).fusion(opts.fusion).build(&ckpt)?))
        } else {
            model.pooler = None; // embeddings never use it: don't compute it per call
            Encoder::Bare(Box::new(model))
        };
        (encoder, head, dimensions, pooling.join(" -> "), None, "embedding")
    };
    let mask_id = if matches!(encoder, Encoder::Mlm(_)) { tokenizer.mask_token_id() } else { None };
    let pad_id = tokenizer.pad_token_id();
    // A final Normalize is left to the request's `normalize` flag (TEI's behaviour, see
    // routes.rs); one followed by another module stays in the head.
    let mut head = head;
    let ends_normalized = matches!(head.modules.last(), Some(SentenceModule::Normalize));
    if ends_normalized {
        head.modules.pop();
    }
    let inner_normalize = head.modules.iter().any(|m| matches!(m, SentenceModule::Normalize));
    let default_dims = sentence_transformers.as_ref().and_then(|st| st.truncate_dim);
    let mut endpoints = Vec::new();
    match &classifier {
        Some(c) => {
            if c.rerank_scores.is_some() {
                endpoints.push("/rerank");
            }
            endpoints.push("/predict");
        }
        None => endpoints.extend(["/embed", "/v1/embeddings", "/embed_all"]),
    }
    if mask_id.is_some() {
        endpoints.push("/fill-mask");
    }
    endpoints.extend(["/tokenize", "/decode", "/health", "/ready", "/info", "/metrics", "/openapi.json"]);
    let model_id = opts.model_dir.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let info = Info {
        model_id,
        model_dir: opts.model_dir.display().to_string(),
        architecture,
        model_type,
        labels: classifier.as_ref().map(|c| c.id2label.clone()),
        dimensions: default_dims.unwrap_or(dimensions),
        full_dimensions: dimensions,
        max_input_length: max_len,
        precision: opts.precision.name().into(),
        threads: rayon::current_num_threads(),
        io_threads: opts.io_threads,
        pooling,
        max_batch_tokens: opts.max_batch_tokens,
        max_wait_ms: opts.max_wait.as_secs_f64() * 1e3,
        max_queue_texts: opts.max_queue_texts,
        max_concurrent_requests: opts.max_concurrent_requests,
        max_client_batch_size: opts.limits.max_texts,
        max_text_chars: opts.limits.max_text_chars,
        max_body_bytes: opts.limits.max_body_bytes,
        endpoints,
        load_seconds: t0.elapsed().as_secs_f64(),
        version: env!("CARGO_PKG_VERSION"),
    };
    let excludes_prompt = head.excludes_prompt();
    let engine = Engine { encoder, head, pad_id };
    let tokenizer_pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.io_threads)
        .thread_name(|i| format!("nanobert-tokenize-{i}"))
        .build()
        .map_err(|e| Error::Input(format!("serve: tokenizer threads: {e}")))?;
    let state = AppState {
        queue: shared.queue,
        tokenizer,
        truncating_tokenizer,
        classifier,
        sentence_transformers,
        excludes_prompt,
        embedding: EmbeddingShape { default_dims, ends_normalized, inner_normalize },
        tokenizer_pool,
        max_len,
        mask_id,
        metrics: shared.metrics,
        info,
        compute_alive: shared.compute_alive,
    };
    Ok((engine, state))
}
