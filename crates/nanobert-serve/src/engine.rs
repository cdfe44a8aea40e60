//! # The model side of the server: one encoder, the heads, and what runs on the compute thread
//!
//! The [`batcher`](super::batcher) hands the compute thread a batch of jobs; [`Engine::run`]
//! sorts all their texts by length and cuts them into model calls of at most
//! `max_batch_tokens` padded tokens (the library's length bucketing,
//! [`token_budget_plan`]), runs the encoder once per call and then, per row, what the row's
//! job asked for — with the library's pipelines, loaded by their builder
//! ([`Pipeline::builder`](nanobert::pipeline::Pipeline::builder), see `load.rs`):
//!
//! | [`Task`] | after the encoder | needs |
//! |---|---|---|
//! | `Embed` | the checkpoint's sentence-transformers modules (or mean pooling) | any encoder |
//! | `FillMask` | [`FillMask::predictions_at`]: the MLM head at each `[MASK]`, softmax, top k | [`Encoder::Mlm`] |
//! | `Classify` | the pooler, then the classifier: logits `[num_labels]` | [`Encoder::Classifier`] |
//!
//! Logits leave the compute thread raw; the handlers turn them into scores (softmax, sigmoid)
//! on the I/O threads.

use std::time::{Duration, Instant};

use super::batcher::{Job, Output, Queue, Task};
use super::metrics::Metrics;
use nanobert::bert::pooling::normalize;
use nanobert::bert::sentence::SentenceHead;
use nanobert::bert::{BertInput, BertModel};
use nanobert::pipeline::{Classifier, FillMask, token_budget_plan};
use nanobert::{Error, Result, Tensor};

/// The encoder the server runs (one instance).
pub enum Encoder {
    /// A bare encoder (e.g. a sentence-transformers model).
    Bare(Box<BertModel>),
    /// The fill-mask pipeline: an encoder with its masked-language-model head (embeddings
    /// work too, from its encoder).
    Mlm(Box<FillMask>),
    /// The classification pipeline's `BertForSequenceClassification` (a classifier, or a
    /// cross-encoder reranker with one label): `/predict` and `/rerank`.
    Classifier(Box<Classifier>),
}

impl Encoder {
    fn bert(&self) -> &BertModel {
        match self {
            Encoder::Bare(m) => m,
            Encoder::Mlm(m) => &m.model.bert,
            Encoder::Classifier(m) => &m.model.bert,
        }
    }
}

/// Everything the compute thread needs: the model, how to pool, the pad id.
pub struct Engine {
    /// The model.
    pub encoder: Encoder,
    /// What runs after BERT for sentence embeddings: the checkpoint's sentence-transformers
    /// modules (Pooling, Dense, Normalize), or mean pooling for a plain BERT — without a final
    /// Normalize, which the job's `normalize` flag applies instead (see [`Task::Embed`]).
    pub head: SentenceHead,
    /// Pad id used to fill short rows.
    pub pad_id: u32,
}

/// Where one text of one job sits: `(job, text index in the job)`.
type Slot = (usize, usize);

impl Engine {
    /// Whether fill-mask can run (the checkpoint has an MLM head).
    pub fn has_mlm_head(&self) -> bool {
        matches!(self.encoder, Encoder::Mlm(_))
    }

    /// Runs a batch of jobs and answers each one. Errors (and panics) of the model become a
    /// 500 for the jobs of this batch; the compute thread keeps serving.
    pub fn run(&self, jobs: Vec<Job>, max_tokens: usize, metrics: &Metrics) {
        let started = Instant::now();
        for j in &jobs {
            metrics.queue_seconds.observe(started.duration_since(j.enqueued).as_secs_f64());
        }
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.compute(&jobs, max_tokens, metrics)));
        let outputs = match result {
            Ok(Ok(o)) => o.into_iter().map(Ok).collect(),
            Ok(Err(e)) => vec![Err(format!("model error: {e}")); jobs.len()],
            Err(_) => vec![Err("internal error: the model panicked on this batch".to_string()); jobs.len()],
        };
        metrics.add_compute(started.elapsed());
        for (job, out) in jobs.into_iter().zip(outputs) {
            metrics.request_seconds.observe(job.enqueued.elapsed().as_secs_f64());
            let _ = job.reply.send(out); // the client may have gone; nothing to do then
        }
    }

    fn compute(&self, jobs: &[Job], max_tokens: usize, metrics: &Metrics) -> Result<Vec<Output>> {
        let mut outputs: Vec<Output> = jobs
            .iter()
            .map(|j| match j.task {
                Task::Embed { .. } => Output::Embeddings(vec![Vec::new(); j.seqs.len()]),
                Task::FillMask { .. } => Output::FillMask(vec![Vec::new(); j.seqs.len()]),
                Task::Classify => Output::Logits(vec![Vec::new(); j.seqs.len()]),
                Task::EmbedAll => Output::Tokens(vec![Vec::new(); j.seqs.len()]),
            })
            .collect();
        // Length bucketing: all texts of the batch, shortest first, cut into model calls.
        let slots: Vec<Slot> =
            jobs.iter().enumerate().flat_map(|(j, job)| (0..job.seqs.len()).map(move |i| (j, i))).collect();
        let lengths: Vec<usize> = slots.iter().map(|&(j, i)| jobs[j].seqs[i].ids.len()).collect();
        for call in token_budget_plan(&lengths, max_tokens) {
            let call: Vec<Slot> = call.into_iter().map(|k| slots[k]).collect();
            self.run_call(jobs, &call, &mut outputs, metrics)?;
        }
        Ok(outputs)
    }

    /// One model call on `slots` (sorted by length).
    fn run_call(&self, jobs: &[Job], slots: &[Slot], outputs: &mut [Output], metrics: &Metrics) -> Result<()> {
        let seq = slots.iter().map(|&(j, i)| jobs[j].seqs[i].ids.len()).max().unwrap_or(0);
        let b = slots.len();
        let mut ids = vec![self.pad_id; b * seq];
        let mut mask = vec![0u32; b * seq];
        let mut types = vec![0u32; b * seq];
        let mut real = 0;
        for (r, &(j, i)) in slots.iter().enumerate() {
            let s = &jobs[j].seqs[i];
            ids[r * seq..r * seq + s.ids.len()].copy_from_slice(&s.ids);
            types[r * seq..r * seq + s.type_ids.len()].copy_from_slice(&s.type_ids);
            mask[r * seq..r * seq + s.ids.len()].fill(1);
            real += s.ids.len();
        }
        metrics.batch_texts.observe(b as f64);
        metrics.batch_tokens.observe((b * seq) as f64);
        metrics.tokens.fetch_add(real as u64, std::sync::atomic::Ordering::Relaxed);
        metrics.padded_tokens.fetch_add((b * seq) as u64, std::sync::atomic::Ordering::Relaxed);

        let input = BertInput::new(&ids, Some(&mask), Some(&types), b, seq)?;
        let out = self.encoder.bert().forward(&input, false)?;
        let hidden = out.last_hidden_state;
        let rows =
            |want: fn(&Task) -> bool| -> Vec<usize> { (0..b).filter(|&r| want(&jobs[slots[r].0].task)).collect() };
        // Pooling once per distinct prompt length among the embedding rows (usually one).
        let mut prompts: Vec<Option<usize>> = slots
            .iter()
            .filter_map(|&(j, _)| match jobs[j].task {
                Task::Embed { prompt_tokens, .. } => Some(prompt_tokens),
                _ => None,
            })
            .collect();
        prompts.sort();
        prompts.dedup();
        for prompt in prompts {
            let pooled = self.head.forward(&hidden, &mask, prompt)?;
            for (mut v, &(j, i)) in pooled.into_iter().zip(slots) {
                if let (Task::Embed { normalize: n, dims, prompt_tokens }, Output::Embeddings(out)) =
                    (jobs[j].task, &mut outputs[j])
                    && prompt_tokens == prompt
                {
                    // Matryoshka: cut after the modules, then normalize, as sentence-transformers'
                    // `encode(truncate_dim=..., normalize_embeddings=True)`.
                    if let Some(d) = dims {
                        v.truncate(d);
                    }
                    if n {
                        normalize(&mut v);
                    }
                    out[i] = v;
                }
            }
        }
        let all = rows(|t| matches!(t, Task::EmbedAll));
        if !all.is_empty() {
            let h = hidden.shape()[2];
            let hc = hidden.contiguous();
            let data = hc.as_slice().unwrap_or(&[]);
            for &r in &all {
                let (j, i) = slots[r];
                let n = jobs[j].seqs[i].ids.len();
                if let Output::Tokens(out) = &mut outputs[j] {
                    out[i] = (0..n).map(|p| data[(r * seq + p) * h..(r * seq + p + 1) * h].to_vec()).collect();
                }
            }
        }
        let fill = rows(|t| matches!(t, Task::FillMask { .. }));
        if !fill.is_empty() {
            self.fill_mask(jobs, slots, &fill, &hidden, outputs)?;
        }
        let classify = rows(|t| matches!(t, Task::Classify));
        if !classify.is_empty() {
            self.classify(slots, &classify, out.pooler_output.as_ref(), outputs)?;
        }
        Ok(())
    }

    /// Logits of the rows `rows` of a call: the classifier on their pooled `[CLS]` vectors
    /// (`pooled`: `[call rows, hidden]`), exactly `BertForSequenceClassification::forward`.
    fn classify(&self, slots: &[Slot], rows: &[usize], pooled: Option<&Tensor>, outputs: &mut [Output]) -> Result<()> {
        let Encoder::Classifier(classifier) = &self.encoder else {
            return Err(Error::Input("this model has no sequence-classification head".into()));
        };
        let pooled = pooled
            .ok_or_else(|| Error::invalid("BertForSequenceClassification", "the encoder returned no pooler output"))?
            .contiguous();
        let h = pooled.shape()[1];
        let data = pooled.as_slice().unwrap_or(&[]);
        let mut gathered = Vec::with_capacity(rows.len() * h);
        for &r in rows {
            gathered.extend_from_slice(&data[r * h..(r + 1) * h]);
        }
        // Dropout is the identity at inference.
        let model = &classifier.model;
        let logits = model.classifier.forward(&Tensor::from_vec(gathered, &[rows.len(), h])?)?.contiguous();
        let n = model.head.num_labels();
        let logits = logits.as_slice().unwrap_or(&[]);
        for (k, &r) in rows.iter().enumerate() {
            let (j, i) = slots[r];
            if let Output::Logits(out) = &mut outputs[j] {
                out[i] = logits[k * n..(k + 1) * n].to_vec();
            }
        }
        Ok(())
    }

    fn fill_mask(
        &self,
        jobs: &[Job],
        slots: &[Slot],
        rows: &[usize],
        hidden: &Tensor,
        outputs: &mut [Output],
    ) -> Result<()> {
        let Encoder::Mlm(fill) = &self.encoder else {
            return Err(Error::Input("this model has no MLM head".into()));
        };
        let mut positions = Vec::new(); // (row, position)
        let mut top_ks = Vec::new();
        for &r in rows {
            let (j, i) = slots[r];
            let Task::FillMask { mask_id, top_k } = jobs[j].task else { continue };
            for (p, &id) in jobs[j].seqs[i].ids.iter().enumerate() {
                if id == mask_id {
                    positions.push((r, p));
                    top_ks.push(top_k);
                }
            }
        }
        for (&(r, _), prediction) in positions.iter().zip(fill.predictions_at(hidden, &positions, |k| top_ks[k])?) {
            let (j, i) = slots[r];
            if let Output::FillMask(out) = &mut outputs[j] {
                out[i].push(prediction);
            }
        }
        Ok(())
    }
}

/// The compute thread's loop: batches until the queue is closed and drained.
pub fn compute_loop(engine: &Engine, queue: &Queue, max_tokens: usize, max_wait: Duration, metrics: &Metrics) {
    while let Some(jobs) = queue.next_batch(max_tokens, max_wait) {
        engine.run(jobs, max_tokens, metrics);
    }
}
