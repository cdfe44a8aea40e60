//! # Calibration: what every Linear of a model sees, recorded from outside
//!
//! SmoothQuant (`quant::convert`) needs, for every Linear, the largest |input| per input
//! feature over some calibration text. [`calibrate`] runs the caller's forward passes with a
//! recorder on *for the calling thread only* (like `crate::profile::record`, no process-global
//! switch and nothing stored in the layers): each [`crate::nn::Linear`] the model holds reports
//! its input rows to the recorder from its GEMM, and the maxima come back keyed by the
//! Linear's path in the module tree (`encoder.layer.0.intermediate.dense`).
//!
//! A Linear is recognized by its address while the model is borrowed by [`calibrate`]; a
//! Linear outside the model (a stacked copy built by the forward, say) records nothing. When
//! no thread is calibrating, a layer's report costs one read of a thread-local flag. Forward
//! passes that `run` hands to other threads are not seen (the library's forwards run their
//! Linears on the calling thread and parallelize inside the GEMM).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use super::{Linear, Module, linears};
use crate::Result;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// While calibrating: (address of a Linear of the model, its running maxima).
    static MAXIMA: RefCell<Vec<(usize, Vec<f32>)>> = const { RefCell::new(Vec::new()) };
}

/// Runs `run` (some forward passes over calibration text, on this thread) while every Linear
/// of `model` records the largest |input| per input feature; returns those maxima
/// (`[in_features]`) by Linear path, for every Linear of `model` (all zeros for one that never
/// ran, which `quant::smooth_factors` turns into factors of 1). Errors: what `run` returns.
pub fn calibrate(model: &dyn Module, run: impl FnOnce() -> Result<()>) -> Result<HashMap<String, Vec<f32>>> {
    let all = linears(model);
    let key = |l: &Linear| l as *const Linear as usize;
    let previous = MAXIMA.with(|m| m.replace(all.iter().map(|(_, l)| (key(l), Vec::new())).collect()));
    let was_active = ACTIVE.with(|a| a.replace(true));
    // Restores the outer state even if `run` panics (a nested calibration stays correct).
    struct Restore(Option<Vec<(usize, Vec<f32>)>>, bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(self.1));
            if let Some(p) = self.0.take() {
                MAXIMA.with(|m| *m.borrow_mut() = p);
            }
        }
    }
    let mut restore = Restore(Some(previous), was_active);
    let result = run();
    let seen = MAXIMA.with(|m| m.replace(restore.0.take().unwrap_or_default()));
    drop(restore);
    result?;
    let maxima = all
        .iter()
        .zip(seen)
        .map(|((path, l), (_, max))| (path.clone(), if max.is_empty() { vec![0.0; l.in_features()] } else { max }));
    Ok(maxima.collect())
}

/// Called by [`Linear::gemm_into`] with its input rows (`x: [rows, in_features]`): folds them
/// into the layer's maxima when this thread is calibrating a model that holds `linear`.
pub(crate) fn observe(linear: &Linear, x: &[f32]) {
    if !ACTIVE.with(|a| a.get()) || x.is_empty() {
        return;
    }
    let (key, in_f) = (linear as *const Linear as usize, linear.in_features());
    MAXIMA.with(|m| {
        let mut m = m.borrow_mut();
        if let Some((_, max)) = m.iter_mut().find(|(k, _)| *k == key) {
            if max.is_empty() {
                max.resize(in_f, 0.0);
            }
            for row in x.chunks_exact(in_f.max(1)) {
                max.iter_mut().zip(row).for_each(|(m, v)| *m = m.max(v.abs()));
            }
        }
    });
}
