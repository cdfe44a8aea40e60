//! # Finite or an error: NaN is never printed as a result
//!
//! A NaN or infinity in a model's output means something upstream is broken — a corrupt
//! weight, an overflow — and a number printed from it looks as plausible as any other. Two
//! checks stop that, both on by default in the command line (`--allow-non-finite` turns them
//! off for debugging):
//!
//! - when loading, [`check_weights`] scans every floating-point tensor of the checkpoint and
//!   names the tensors holding NaN or infinity. Cost: the scan touches every page of the
//!   weights file once, which the first forward pass does anyway; `nanobert print` (which
//!   otherwise never reads the weights) went from ~20 ms to ~150 ms on all-MiniLM-L6-v2
//!   (`time nanobert print` vs `time nanobert print --allow-non-finite`, five interleaved runs
//!   each, Intel Xeon Sapphire Rapids, 2 cores shared with other builds — noisy);
//! - after running, a non-finite result is re-traced module by module
//!   ([`first_non_finite_module`]) and the error names the first module whose output is not
//!   finite.
//!
//! Where this sits: above [`crate::pipeline`] (it re-traces a model on a text). The loader's
//! scan lives in [`crate::io`] and the slice test in [`crate::tensor`], re-exported here, so
//! that nothing below the pipeline depends on this module.

use crate::bert::{BertInput, BertModel};
use crate::{Error, Result, Tensor};

pub use crate::io::{check_weights, non_finite_tensors};
pub use crate::tensor::compare::first_non_finite;

/// Runs `model` on `input` one module at a time and returns the name of the first module whose
/// output holds NaN or infinity (e.g. `bert.encoder.layer.0.attention (BertAttention)`), or
/// `None` when the encoder's outputs are all finite.
pub fn first_non_finite_module(model: &BertModel, input: &BertInput) -> Result<Option<String>> {
    let bad = |t: &Tensor| t.to_vec().iter().any(|v| !v.is_finite());
    let mask = input.additive_mask();
    let mut x = model.embeddings.forward(input)?;
    if bad(&x) {
        return Ok(Some("bert.embeddings (BertEmbeddings)".into()));
    }
    for (i, layer) in model.encoder.layer.0.iter().enumerate() {
        let a = layer.attention.forward(&x, &mask)?;
        if bad(&a) {
            return Ok(Some(format!("bert.encoder.layer.{i}.attention (BertAttention)")));
        }
        let h = layer.intermediate.forward(&a)?;
        if bad(&h) {
            return Ok(Some(format!("bert.encoder.layer.{i}.intermediate (BertIntermediate)")));
        }
        x = layer.output.forward(&h, &a)?;
        if bad(&x) {
            return Ok(Some(format!("bert.encoder.layer.{i}.output (BertOutput)")));
        }
    }
    if let Some(p) = &model.pooler
        && bad(&p.forward(&x)?)
    {
        return Ok(Some("bert.pooler (BertPooler)".into()));
    }
    Ok(None)
}

/// The error for a non-finite result: names `what` (e.g. `embedding of text #2`), and the first
/// module whose output is not finite when `module` is known.
pub fn non_finite_error(what: &str, module: Option<String>) -> Error {
    let place = match module {
        Some(m) => format!("the first module whose output is not finite is {m}"),
        None => "the encoder's outputs are finite, so it appears after them (pooling or the head)".into(),
    };
    Error::Input(format!(
        "{what} is not finite (NaN or infinity): {place}; refusing to print it (--allow-non-finite prints it anyway)"
    ))
}

/// The check the command line runs on results: `Ok` when every value of every row is finite;
/// otherwise re-runs the encoder on the first bad row's text to name the module where the
/// NaN/inf first appears, and returns that error (`what` names the row, e.g. `"embedding"`;
/// rows are numbered from `first`).
pub fn check_rows<'a>(
    model: &BertModel,
    tokenizer: &crate::text::Tokenizer,
    texts: &[&str],
    rows: impl IntoIterator<Item = &'a [f32]>,
    what: &str,
    first: usize,
) -> Result<()> {
    let Some(i) = rows.into_iter().position(|r| first_non_finite(r).is_some()) else {
        return Ok(());
    };
    let module = match texts.get(i) {
        Some(text) => {
            let batch = tokenizer.encode_batch(&[text])?;
            let input = crate::pipeline::input(&batch)?;
            first_non_finite_module(model, &input)?
        }
        None => None,
    };
    Err(non_finite_error(&format!("the {what} of text #{}", first + i), module))
}
