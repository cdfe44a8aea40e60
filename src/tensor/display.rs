//! # Printing tensors the way PyTorch does
//!
//! What this file teaches: how `print(tensor)` in PyTorch decides what to show, rewritten
//! from `torch/_tensor_str.py` (default options: 4 digits of precision, summarize above
//! 1000 elements, 3 edge items, 80-column lines), so a nanobert tensor and a PyTorch tensor
//! with the same values print the same text. That makes comparing the two by eye possible.
//!
//! The steps:
//!
//! 1. **Choose a format for the whole tensor** ([`Formatter`]), looking only at the finite
//!    nonzero values (of the summary, for big tensors):
//!    - if they are all integers, print `3.` instead of `3.0000` ("int mode");
//!    - if they span more than 3 orders of magnitude, or any is above 1e8 or below 1e-4,
//!      use scientific notation `1.2346e+05` ("sci mode");
//!    - otherwise fixed point with 4 decimals.
//!
//!    Every entry is then right-aligned to the widest one, so columns line up.
//! 2. **Summarize** when there are more than 1000 elements: along every dimension longer
//!    than 6, keep only the first 3 and last 3 entries and print `...` between them.
//! 3. **Lay out** the nested brackets recursively: a 1-D row wraps at 80 columns; the
//!    slices of a k-D tensor are separated by a comma and k-1 line breaks (so matrices in
//!    a 3-D tensor have one blank line between them), indented under their bracket.
//!
//! Empty tensors print as `tensor([])`, with `size=(...)` added unless they are 1-D.

use std::fmt;

use super::Tensor;

/// Digits after the decimal point.
const PRECISION: usize = 4;
/// Tensors with more elements than this are summarized.
const THRESHOLD: usize = 1000;
/// Entries kept at each end of a summarized dimension.
const EDGE_ITEMS: usize = 3;
/// Target line width for wrapping long rows.
const LINE_WIDTH: usize = 80;

/// How every entry of one tensor is printed (PyTorch's `_Formatter`).
struct Formatter {
    int_mode: bool,
    sci_mode: bool,
    max_width: usize,
}

impl Formatter {
    /// Picks the mode and width from the values that will be shown.
    fn new(values: &[f32]) -> Formatter {
        let mut f = Formatter { int_mode: true, sci_mode: false, max_width: 1 };
        // Decisions are made in f64, on the exact values of the f32 entries, like PyTorch.
        let shown: Vec<f64> = values.iter().filter(|v| v.is_finite() && **v != 0.0).map(|&v| v as f64).collect();
        if shown.is_empty() {
            return f; // only zeros, NaN and infinities: "0.", "nan", "inf"
        }
        let min = shown.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        let max = shown.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        f.int_mode = shown.iter().all(|v| v.ceil() == *v);
        f.sci_mode = max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4;
        f.max_width = shown
            .iter()
            .map(|&v| match (f.sci_mode, f.int_mode) {
                (true, _) => sci(v).len(),
                (false, true) => format!("{v:.0}").len() + 1, // room for the trailing "."
                (false, false) => fixed(v).len(),
            })
            .max()
            .unwrap_or(1);
        f
    }

    /// One entry, right-aligned to the common width.
    fn format(&self, v: f32) -> String {
        let v = v as f64;
        let s = if self.sci_mode {
            sci(v)
        } else if self.int_mode {
            if v.is_finite() { format!("{v:.0}.") } else { python_special(v) }
        } else {
            fixed(v)
        };
        format!("{s:>width$}", width = self.max_width)
    }
}

/// `nan`, `inf`, `-inf` the way Python spells them (Rust says `NaN`).
fn python_special(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v > 0.0 {
        "inf".into()
    } else {
        "-inf".into()
    }
}

/// Fixed point with PRECISION decimals, like Python's `f"{v:.4f}"`.
fn fixed(v: f64) -> String {
    if v.is_finite() { format!("{v:.PRECISION$}") } else { python_special(v) }
}

/// Scientific notation like Python's `f"{v:.4e}"`: a signed exponent of at least two digits
/// (`1.0000e+05`, where Rust alone would write `1.0000e5`).
fn sci(v: f64) -> String {
    if !v.is_finite() {
        return python_special(v);
    }
    let s = format!("{v:.PRECISION$e}");
    let (mantissa, exp) = s.split_once('e').expect("`{:e}` output contains 'e'");
    let exp: i32 = exp.parse().expect("`{:e}` exponent is an integer");
    let sign = if exp < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exp.abs())
}

/// The entries a summarized print will show, in order (PyTorch's `get_summarized_data`),
/// so the format is chosen from what is visible.
fn summarized_values(t: &Tensor, out: &mut Vec<f32>) {
    match t.ndim() {
        0 => out.push(t.item().expect("0-d tensors have one element")),
        _ => {
            for i in shown_indices(t.shape()[0]) {
                let row = t.select(0, i).expect("index from shown_indices is in range");
                summarized_values(&row, out);
            }
        }
    }
}

/// Indices kept along a dimension of size `n` when summarizing: all, or the edges.
fn shown_indices(n: usize) -> Vec<usize> {
    if n > 2 * EDGE_ITEMS { (0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect() } else { (0..n).collect() }
}

/// A 1-D tensor: entries joined by ", ", wrapped to fit LINE_WIDTH after `indent` columns.
fn vector_str(t: &Tensor, indent: usize, summarize: bool, f: &Formatter) -> String {
    let element_len = f.max_width + 2; // the entry plus ", "
    let per_line = ((LINE_WIDTH.saturating_sub(indent)) / element_len).max(1);
    let n = t.shape()[0];
    let value = |i: usize| f.format(t.get(&[i]).expect("index below the size"));
    let items: Vec<String> = if summarize && n > 2 * EDGE_ITEMS {
        let mut items: Vec<String> = (0..EDGE_ITEMS).map(value).collect();
        items.push(" ...".into());
        items.extend((n - EDGE_ITEMS..n).map(value));
        items
    } else {
        (0..n).map(value).collect()
    };
    let lines: Vec<String> = items.chunks(per_line).map(|line| line.join(", ")).collect();
    format!("[{}]", lines.join(&format!(",\n{}", " ".repeat(indent + 1))))
}

/// The bracketed body of a tensor whose opening bracket sits at column `indent`.
fn tensor_str(t: &Tensor, indent: usize, summarize: bool, f: &Formatter) -> String {
    match t.ndim() {
        0 => f.format(t.item().expect("0-d tensors have one element")),
        1 => vector_str(t, indent, summarize, f),
        dim => {
            let n = t.shape()[0];
            let slice = |i: usize| tensor_str(&t.select(0, i).expect("index below the size"), indent + 1, summarize, f);
            let slices: Vec<String> = if summarize && n > 2 * EDGE_ITEMS {
                let mut s: Vec<String> = (0..EDGE_ITEMS).map(slice).collect();
                s.push("...".into());
                s.extend((n - EDGE_ITEMS..n).map(slice));
                s
            } else {
                (0..n).map(slice).collect()
            };
            let separator = format!(",{}{}", "\n".repeat(dim - 1), " ".repeat(indent + 1));
            format!("[{}]", slices.join(&separator))
        }
    }
}

/// Python's `str(tuple(shape))`: `(2, 0)`, `(5,)`, `()`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!("({})", shape.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")),
    }
}

/// Appends `, suffix` (or `,\n` + indent + suffix when the line would pass LINE_WIDTH) and
/// the closing parenthesis, like PyTorch's `_add_suffixes`.
fn add_suffixes(mut s: String, suffixes: &[String], indent: usize) -> String {
    let mut last_line_len = match s.rfind('\n') {
        Some(p) => s.len() - p + 1,
        None => s.len() + 2, // Python: len - (-1) + 1
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINE_WIDTH {
            s += &format!(",\n{}{suffix}", " ".repeat(indent));
            last_line_len = indent + suffix.len();
        } else {
            s += &format!(", {suffix}");
            last_line_len += suffix.len() + 2;
        }
    }
    s + ")"
}

/// The full `repr`, e.g. `tensor([[0.1000, 0.2000],\n        [0.3000, 0.4000]])`.
fn repr(t: &Tensor) -> String {
    const PREFIX: &str = "tensor(";
    let indent = PREFIX.len();
    if t.numel() == 0 {
        let suffixes = if t.ndim() != 1 { vec![format!("size={}", python_tuple(t.shape()))] } else { vec![] };
        return add_suffixes(format!("{PREFIX}[]"), &suffixes, indent);
    }
    let summarize = t.numel() > THRESHOLD;
    let formatter = if summarize {
        let mut shown = Vec::new();
        summarized_values(t, &mut shown);
        Formatter::new(&shown)
    } else {
        Formatter::new(&t.to_vec())
    };
    add_suffixes(format!("{PREFIX}{}", tensor_str(t, indent, summarize, &formatter)), &[], indent)
}

impl fmt::Display for Tensor {
    /// Prints like PyTorch's `repr(tensor)` for float32 with default print options.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self))
    }
}

impl fmt::Debug for Tensor {
    /// Same text as `Display`, so `{:?}` in assertions shows the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&repr(self))
    }
}
