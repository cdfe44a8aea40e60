//! # Modules and how PyTorch prints them
//!
//! A *module* is a named bundle of parameters (tensors) and sub-modules. nanobert does not
//! need PyTorch's machinery (hooks, autograd, `state_dict`), only two things from it:
//!
//! 1. a tree of names, so `print(model)` shows the same structure a PyTorch user knows;
//! 2. the list of parameters, so we can count them.
//!
//! The printing rules copied in spirit from `torch.nn.Module.__repr__`: a module prints as
//! `Name(extra)` when it has no children, otherwise as `Name(` + one `(child): repr` line per
//! child, indented by two spaces + `)`. A `ModuleList` folds runs of identical children:
//! twelve identical layers print once as `(0-11): 12 x BertLayer(...)`.

use crate::Tensor;

/// What every module can tell about itself.
pub trait Module {
    /// The class name PyTorch prints, e.g. `"Linear"` or `"BertLayer"`.
    fn name(&self) -> String;

    /// The text inside the parentheses of a leaf, e.g. `in_features=768, out_features=768, bias=True`.
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// Named sub-modules, in registration order (the order PyTorch prints them).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// This module's own parameters (not its children's).
    fn own_parameters(&self) -> Vec<&Tensor> {
        Vec::new()
    }

    /// [`Module::children`], mutable, in the same order: what converting a model's Linears
    /// walks ([`crate::nn::to_precision`]). A module with a Linear below it lists the same
    /// children here (the conversion errors if the two lists differ); the default, none, is
    /// right for a module without Linears.
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        Vec::new()
    }

    /// `Some` if this module is a [`crate::nn::Linear`]: lets [`crate::nn::linears`] find every
    /// Linear of a model by walking [`Module::children`].
    fn as_linear(&self) -> Option<&crate::nn::Linear> {
        None
    }

    /// [`Module::as_linear`], mutable.
    fn as_linear_mut(&mut self) -> Option<&mut crate::nn::Linear> {
        None
    }

    /// The repr PyTorch would print for this module.
    fn repr(&self) -> String {
        default_repr(&self.name(), &self.extra_repr(), &self.children())
    }
}

/// Indents every line but the first by `n` spaces (PyTorch's `_addindent`).
fn add_indent(s: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    let mut lines = s.split('\n');
    let mut out = lines.next().unwrap_or("").to_string();
    for line in lines {
        out.push('\n');
        out.push_str(&pad);
        out.push_str(line);
    }
    out
}

fn default_repr(name: &str, extra: &str, children: &[(String, &dyn Module)]) -> String {
    let extra_lines: Vec<&str> = if extra.is_empty() { vec![] } else { extra.split('\n').collect() };
    let child_lines: Vec<String> =
        children.iter().map(|(key, m)| format!("({key}): {}", add_indent(&m.repr(), 2))).collect();
    let mut s = format!("{name}(");
    if extra_lines.len() == 1 && child_lines.is_empty() {
        s.push_str(extra_lines[0]);
    } else if !extra_lines.is_empty() || !child_lines.is_empty() {
        let lines: Vec<String> = extra_lines.iter().map(|l| l.to_string()).chain(child_lines).collect();
        s.push_str("\n  ");
        s.push_str(&lines.join("\n  "));
        s.push('\n');
    }
    s.push(')');
    s
}

/// Counts parameters of a module tree, each distinct tensor once (tied weights, such as
/// BERT's decoder sharing the word embeddings, count once, as in PyTorch).
pub fn count_parameters(m: &dyn Module) -> usize {
    let mut seen: Vec<(*const (), usize)> = Vec::new();
    let mut total = 0;
    fn walk(m: &dyn Module, seen: &mut Vec<(*const (), usize)>, total: &mut usize) {
        for p in m.own_parameters() {
            let key = (std::sync::Arc::as_ptr(p.storage()) as *const (), p.offset());
            if !seen.contains(&key) {
                seen.push(key);
                *total += p.numel();
            }
        }
        for (_, c) in m.children() {
            walk(c, seen, total);
        }
    }
    walk(m, &mut seen, &mut total);
    total
}

/// A list of modules of the same type, printed like `torch.nn.ModuleList`.
pub struct ModuleList<T: Module>(pub Vec<T>);

impl<T: Module> Module for ModuleList<T> {
    fn name(&self) -> String {
        "ModuleList".into()
    }

    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.0.iter().enumerate().map(|(i, m)| (i.to_string(), m as &dyn Module)).collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        self.0.iter_mut().enumerate().map(|(i, m)| (i.to_string(), m as &mut dyn Module)).collect()
    }

    fn repr(&self) -> String {
        if self.0.is_empty() {
            return "ModuleList()".into();
        }
        // Group consecutive children whose reprs are identical.
        let reprs: Vec<String> = self.0.iter().map(|m| m.repr()).collect();
        let mut groups: Vec<(usize, usize, &str)> = Vec::new();
        for (i, r) in reprs.iter().enumerate() {
            match groups.last_mut() {
                Some((_, end, last)) if *last == r.as_str() => *end = i,
                _ => groups.push((i, i, r)),
            }
        }
        let lines: Vec<String> = groups
            .iter()
            .map(|&(start, end, r)| {
                let line = if start == end {
                    format!("({start}): {r}")
                } else {
                    format!("({start}-{end}): {} x {r}", end - start + 1)
                };
                add_indent(&line, 2)
            })
            .collect();
        format!("ModuleList(\n  {}\n)", lines.join("\n  "))
    }
}

/// Python's `repr` of a float as PyTorch shows it in module reprs (`0.1`, `1e-12`, `0.0`).
pub fn py_float(x: f64) -> String {
    if x == 0.0 {
        return "0.0".into();
    }
    let abs = x.abs();
    if !(1e-4..1e16).contains(&abs) {
        // Python switches to exponent notation: shortest round-trip digits, two-digit exponent.
        let s = format!("{x:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let s = format!("{x}");
    if s.contains('.') { s } else { format!("{s}.0") }
}
