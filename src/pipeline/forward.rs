//! # The whole model on a batch, and what a checkpoint holds
//!
//! What `nanobert forward` and `nanobert print` need: [`forward_at`] runs the encoder (and the
//! MLM head when the checkpoint has one) on one padded batch in a chosen precision and fusion,
//! [`ForwardOutputs::save`] writes the result for comparison with PyTorch; [`describe`] and
//! [`weight_bytes_line`] report the model; [`precision_plan`] decides each Linear's precision
//! (with int8's SmoothQuant calibration).

use super::{BATCH_SIZE, check_texts, input, max_len, tasks};
use crate::bert::{BertConfig, BertForMaskedLM, BertModel};
use crate::io::Checkpoint;
use crate::nn::Module;
use crate::text::{Batch, Tokenizer};
use crate::{Error, Result, Tensor};

/// The module tree and parameter count of whatever model a checkpoint holds: the MLM
/// model when it has a head, the bare encoder otherwise.
pub fn describe(ckpt: &Checkpoint) -> Result<(String, usize)> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    if let Some(d) = tasks::describe_head(ckpt, &cfg)? {
        return Ok(d);
    }
    if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        let m = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        Ok((m.repr(), crate::nn::count_parameters(&m)))
    } else {
        let m = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        Ok((m.repr(), crate::nn::count_parameters(&m)))
    }
}

/// The Linear precisions `--precision p` gives a model: every Linear in `p`; for int8 also
/// SmoothQuant factors (α = [`crate::quant::SMOOTH_ALPHA`]) calibrated on the built-in
/// calibration text ([`crate::quant::CALIBRATION`], run through `bert` with `tokenizer`), and
/// the value projections in bf16 ([`crate::quant::INT8_KEEP_BF16`]).
/// `root` is the module that will be converted (`bert` itself, or a model holding it).
pub fn precision_plan(
    root: &dyn Module,
    bert: &BertModel,
    tokenizer: &Tokenizer,
    p: crate::quant::Precision,
) -> Result<crate::quant::PrecisionPlan> {
    use crate::nn::{calibrate, linears};
    use crate::quant::{PrecisionPlan, SMOOTH_ALPHA, smooth_factors};
    let mut plan = PrecisionPlan::uniform(p);
    if p == crate::quant::Precision::Int8 {
        plan.overrides =
            crate::quant::INT8_KEEP_BF16.iter().map(|pat| (pat.to_string(), crate::quant::Precision::Bf16)).collect();
        let texts = calibration_texts(bert, tokenizer)?;
        let maxima = calibrate(root, || {
            for chunk in texts.chunks(BATCH_SIZE) {
                bert.forward(&input(&tokenizer.encode_batch(chunk)?)?, false)?;
            }
            Ok(())
        })?;
        for (path, l) in linears(root) {
            if let (Some(m), Some(w)) = (maxima.get(&path), l.weight.as_slice()) {
                plan.smooth.insert(path, smooth_factors(w, l.in_features(), m, SMOOTH_ALPHA));
            }
        }
    }
    Ok(plan)
}

/// The lines of [`crate::quant::CALIBRATION`] the model can read: a line holding a token id
/// past the embedding table (a tokenizer larger than the model's `vocab_size`, as in some
/// small test checkpoints) is left out rather than failing the whole conversion; none left is
/// an error.
fn calibration_texts(bert: &BertModel, tokenizer: &Tokenizer) -> Result<Vec<&'static str>> {
    let vocab = bert.config.vocab_size;
    let mut texts = Vec::new();
    for line in crate::quant::CALIBRATION.lines().filter(|l| !l.trim().is_empty()) {
        if tokenizer.encode_batch(&[line])?.input_ids.iter().all(|&id| (id as usize) < vocab) {
            texts.push(line);
        }
    }
    if texts.is_empty() {
        return Err(Error::Input(format!(
            "int8 calibration: every line of the built-in calibration text has a token id past the model's \
             vocab_size {vocab}: the tokenizer does not match the model"
        )));
    }
    Ok(texts)
}

/// The memory the Linear layers' weights take in each precision, one line for `nanobert
/// print` (e.g. `Linear weights in memory: f32 90.3 MB, f16 45.2 MB, bf16 45.2 MB, int8 22.7 MB`).
pub fn weight_bytes_line(ckpt: &Checkpoint) -> Result<String> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let sizes = if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        crate::nn::bytes_by_precision(&BertForMaskedLM::load(&ckpt.weights, &cfg)?)
    } else {
        crate::nn::bytes_by_precision(&BertModel::load(&ckpt.weights, "bert.", &cfg, true)?)
    };
    let parts: Vec<String> = sizes.iter().map(|(p, b)| format!("{p} {:.1} MB", *b as f64 / 1e6)).collect();
    Ok(format!("Linear weights in memory (--precision): {}", parts.join(", ")))
}

/// Everything `nanobert forward` writes: ids, mask, last hidden state and (for MLM
/// checkpoints) logits.
pub struct ForwardOutputs {
    /// The tokenized batch (ids, mask, token types), `[batch, seq]`.
    pub batch: Batch,
    /// `[batch, seq, hidden]`.
    pub last_hidden_state: Tensor,
    /// `[batch, seq, vocab]` when the checkpoint has an MLM head.
    pub logits: Option<Tensor>,
}

/// Runs the whole model on `texts` as one padded batch.
pub fn forward(ckpt: &Checkpoint, texts: &[&str]) -> Result<ForwardOutputs> {
    forward_at(ckpt, texts, crate::quant::Precision::F32, crate::bert::Fusion::all())
}

/// [`forward`] with the Linear weights in `precision` and the given fusions
/// (`nanobert forward --precision P --no-fuse NAME`).
pub fn forward_at(
    ckpt: &Checkpoint,
    texts: &[&str],
    precision: crate::quant::Precision,
    fusion: crate::bert::Fusion,
) -> Result<ForwardOutputs> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let tokenizer = Tokenizer::from_checkpoint(ckpt, max_len(ckpt, &cfg))?;
    check_texts(&tokenizer, texts)?;
    let batch = tokenizer.encode_batch(texts)?;
    let (last_hidden_state, logits) = if ckpt.weights.contains("cls.predictions.transform.dense.weight") {
        let mut m = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
        m.bert.fusion = fusion;
        let plan = precision_plan(&m, &m.bert, &tokenizer, precision)?;
        crate::nn::to_precision(&mut m, &plan)?;
        let h = m.bert.forward(&input(&batch)?, false)?.last_hidden_state;
        let logits = m.cls.predictions.forward(&h)?;
        (h, Some(logits))
    } else {
        let mut m = BertModel::load(&ckpt.weights, "bert.", &cfg, true)?;
        m.fusion = fusion;
        let plan = precision_plan(&m, &m, &tokenizer, precision)?;
        crate::nn::to_precision(&mut m, &plan)?;
        (m.forward(&input(&batch)?, false)?.last_hidden_state, None)
    };
    Ok(ForwardOutputs { batch, last_hidden_state, logits })
}

impl ForwardOutputs {
    /// Writes `input_ids`, `attention_mask` (i64 `[batch, seq]`), `last_hidden_state` and,
    /// when present, `logits` (f32) to a safetensors file, for comparing with PyTorch.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        use crate::io::{SaveTensor, save};
        let shape = [self.batch.batch, self.batch.seq_len];
        let mut tensors = vec![
            ("input_ids", SaveTensor::i64_from(&self.batch.input_ids, &shape)),
            ("attention_mask", SaveTensor::i64_from(&self.batch.attention_mask, &shape)),
            ("last_hidden_state", SaveTensor::F32(self.last_hidden_state.clone())),
        ];
        if let Some(l) = &self.logits {
            tensors.push(("logits", SaveTensor::F32(l.clone())));
        }
        save(path, &tensors)
    }
}
