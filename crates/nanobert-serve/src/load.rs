//! # Loading a checkpoint for serving: the engine for the compute thread, the handlers' parts

use std::time::Instant;

use super::engine::{Encoder, Engine};
use super::{ClassifierHead, EmbeddingShape, Info, ServeOptions};
use nanobert::bert::BertModel;
use nanobert::bert::heads::{BertForSequenceClassification, HeadConfig};
use nanobert::bert::sentence::{SentenceHead, SentenceModule};
use nanobert::bert::{BertConfig, BertForMaskedLM};
use nanobert::io::{Checkpoint, SentenceTransformersConfig};
use nanobert::nn::Module;
use nanobert::pipeline::{Embedder, ScoreFunction, cross_encoder_activation, max_len, precision_plan};
use nanobert::quant::Precision;
use nanobert::text::Tokenizer;
use nanobert::{Error, Result};

/// What [`load`] gives: the engine for the compute thread, the parts of [`AppState`].
pub(crate) struct Loaded {
    pub engine: Engine,
    pub tokenizer: Tokenizer,
    pub truncating_tokenizer: Tokenizer,
    pub max_len: usize,
    pub mask_id: Option<u32>,
    pub classifier: Option<ClassifierHead>,
    pub sentence_transformers: Option<SentenceTransformersConfig>,
    pub excludes_prompt: bool,
    pub info: Info,
    pub embedding: EmbeddingShape,
}

/// Loads the engine and the handler state's parts from a checkpoint: a
/// `BertForSequenceClassification` serves `/predict` (and `/rerank` with one label); any other
/// BERT checkpoint serves embeddings (and fill-mask with an MLM head). Token classification and
/// question answering are refused with a message naming the CLI command that runs them.
pub(crate) fn load(opts: &ServeOptions) -> Result<Loaded> {
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
    let (encoder, head, dimensions, pooling, classifier, decoder, model_type) = if architecture
        == "BertForSequenceClassification"
    {
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
    let mut encoder = encoder;
    set_precision(&mut encoder, &tokenizer, opts.precision)?;
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
        embedding: EmbeddingShape { default_dims, ends_normalized, inner_normalize },
    })
}

/// Converts the encoder's Linears to `p`, as every other command does (int8: SmoothQuant
/// factors calibrated through the encoder on the library's calibration texts).
fn set_precision(encoder: &mut Encoder, tokenizer: &Tokenizer, p: Precision) -> Result<()> {
    if p == Precision::F32 {
        return Ok(());
    }
    let (root, bert): (&dyn Module, &BertModel) = match &*encoder {
        Encoder::Bare(m) => (&**m, &**m),
        Encoder::Mlm(m) => (&**m, &m.bert),
        Encoder::Classifier(m) => (&**m, &m.bert),
    };
    let plan = precision_plan(root, bert, tokenizer, p)?;
    let root: &mut dyn Module = match encoder {
        Encoder::Bare(m) => &mut **m,
        Encoder::Mlm(m) => &mut **m,
        Encoder::Classifier(m) => &mut **m,
    };
    nanobert::nn::to_precision(root, &plan)
}
