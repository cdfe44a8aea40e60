//! # Converting a whole model: which Linear gets which precision
//!
//! A model is a tree of modules; [`linears`] walks it (the same `children()` that printing
//! uses) and finds every Linear with its path, e.g. `encoder.layer.3.output.dense`.
//! [`to_precision`] then gives each one the [`crate::quant::Storage`] a [`PrecisionPlan`] says
//! (one default precision, per-path overrides, optional SmoothQuant factors from
//! [`crate::nn::calibrate()`]). The formats themselves are `quant`'s; this file only walks
//! modules.
//!
//! Conversion takes the model by `&mut`: while anyone else holds a reference to it (another
//! thread serving requests, an `Arc` clone), it cannot be converted, so a model's numbers
//! never change under a shared reference. A model that must stay as it is next to a converted
//! one is loaded twice (the f32 weights are shared, borrowed from the same mapped file; each
//! Linear owns its converted copy):
//!
//! ```compile_fail,E0596
//! use nanobert::nn::{Linear, ToPrecision};
//! use nanobert::quant::Precision;
//! let l = Linear::new(nanobert::Tensor::randn(&[4, 3], 1), None).unwrap();
//! let shared = &l;
//! let other = &l;
//! shared.to_precision(Precision::Int8).unwrap(); // error: `*shared` is behind a `&` reference
//! other.forward(&nanobert::Tensor::randn(&[2, 3], 2)).unwrap();
//! ```

use super::{Linear, Module};
use crate::quant::{Precision, PrecisionPlan, Storage};
use crate::{Error, Result};

/// Every Linear in a module tree, with its dotted path (`encoder.layer.0.attention.self.query`).
pub fn linears(m: &dyn Module) -> Vec<(String, &Linear)> {
    fn walk<'a>(m: &'a dyn Module, path: &str, out: &mut Vec<(String, &'a Linear)>) {
        if let Some(l) = m.as_linear() {
            out.push((path.to_string(), l));
            return;
        }
        for (name, c) in m.children() {
            walk(c, &join(path, name), out);
        }
    }
    let mut out = Vec::new();
    walk(m, "", &mut out);
    out
}

/// [`linears`], mutable (through [`Module::children_mut`]).
pub fn linears_mut(m: &mut dyn Module) -> Vec<(String, &mut Linear)> {
    fn walk<'a>(m: &'a mut dyn Module, path: &str, out: &mut Vec<(String, &'a mut Linear)>) {
        if m.as_linear().is_some() {
            if let Some(l) = m.as_linear_mut() {
                out.push((path.to_string(), l));
            }
            return;
        }
        for (name, c) in m.children_mut() {
            walk(c, &join(path, name), out);
        }
    }
    let mut out = Vec::new();
    walk(m, "", &mut out);
    out
}

fn join(path: &str, name: String) -> String {
    if path.is_empty() { name } else { format!("{path}.{name}") }
}

/// Converts every Linear of `model` as `plan` says. The f32 weights stay (for printing and
/// references); only the copies the GEMMs read change. Errors name the Linear that failed, and
/// a module whose `children_mut` does not list the Linears its `children` does (which would
/// leave them unconverted).
pub fn to_precision(model: &mut dyn Module, plan: &PrecisionPlan) -> Result<()> {
    use rayon::prelude::*;
    let want: Vec<String> = linears(model).into_iter().map(|(path, _)| path).collect();
    let mut all = linears_mut(model);
    if all.len() != want.len() || all.iter().zip(&want).any(|((p, _), w)| p != w) {
        let got: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        let missing: Vec<&String> = want.iter().filter(|w| !got.contains(&w.as_str())).collect();
        return Err(Error::invalid(
            "to_precision",
            format!("Module::children_mut does not reach the Linears {missing:?} that children() lists"),
        ));
    }
    all.par_iter_mut().try_for_each(|(path, l)| {
        let (n, k) = (l.out_features(), l.in_features());
        let storage = plan
            .storage_for(path, l.weight.as_slice().unwrap_or(&[]), n, k)
            .map_err(|e| Error::invalid("to_precision", format!("{path}: {e}")))?;
        l.set_storage(storage)
    })
}

/// `model.to_precision(Precision::Int8)`: the one-call form of [`to_precision`] with
/// [`PrecisionPlan::uniform`], for any module (a `BertModel`, a `BertForMaskedLM`, a `Linear`).
pub trait ToPrecision {
    /// Converts every Linear to `p`.
    fn to_precision(&mut self, p: Precision) -> Result<()>;
}

impl<T: Module> ToPrecision for T {
    fn to_precision(&mut self, p: Precision) -> Result<()> {
        to_precision(self, &PrecisionPlan::uniform(p))
    }
}

/// Bytes the Linears of `model` keep for their fast path (packed weights, scales, biases),
/// and how many weights they hold.
pub fn weight_bytes(model: &dyn Module) -> (usize, usize) {
    linears(model).iter().fold((0, 0), |(b, n), (_, l)| (b + l.weight_bytes(), n + l.weight.numel()))
}

/// Bytes the Linears of `model` would keep for their fast path in each precision (packed
/// weights with padding, int8 scales and column sums, biases), computed from the packing
/// formulas of this CPU's best kernels without converting anything ([`Storage::bytes_for`]).
pub fn bytes_by_precision(model: &dyn Module) -> Vec<(Precision, usize)> {
    let all = linears(model);
    let bytes = |p, l: &Linear| {
        l.bias.as_ref().map_or(0, |b| b.numel() * 4) + Storage::bytes_for(p, l.out_features(), l.in_features())
    };
    Precision::ALL.iter().map(|&p| (p, all.iter().map(|(_, l)| bytes(p, l)).sum())).collect()
}
