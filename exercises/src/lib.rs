//! # The course's exercises
//!
//! Each module is one exercise, a file of `todo!()` stubs with the task written above each
//! function. Replace the `todo!()` with your code and run the exercise's tests:
//!
//! ```text
//! cargo test --release -p nanobert-exercises --test softmax
//! ```
//!
//! The tests fail until the code is right: they compare with outputs PyTorch computed
//! (`tests/fixtures/`) or with the definition, on edge cases chosen to catch the usual mistakes.
//! Reference solutions live in `src/solutions/`; `--features solutions` builds them in place of
//! the stubs (that is how CI checks the exercises). Read them after you have tried.
//!
//! | exercise | chapter | what you write |
//! |---|---|---|
//! | [`matmul`] | Matrix multiplication | the reordered GEMM rung (loop order i, p, j) |
//! | [`softmax`] | Layers | softmax with and without the max subtraction; see the first overflow |
//! | [`layer_norm`] | Layers | LayerNorm over rows, with a two-pass variance |
//! | [`pooling`] | Fill-mask and sentence similarity | mean pooling that skips the padding |
//! | [`im2col`] | Convolutions and RNNs | the patch-to-column copy behind every convolution |
//! | [`flops`] | Where the time goes: profiling | the FLOPs of one BERT layer, as PyTorch counts them |
//! | [`epilogue`] | Fusion | a GEMM whose epilogue adds the bias and applies GELU to each finished row |
//! | [`bucketing`] | Batching instead of for loops | the length-bucketing plan: batches with the least padding |
//! | [`split`] | Threads and other magic configs | the split of a GEMM's rows between threads |
//! | [`quantize`] | Lower precision | the per-channel symmetric int8 quantizer of the weights |
//! | [`stats`] | Honest benchmarks | median, min and max of repeated timings, and the ratio of two runs |
//! | [`percentile`] | Deploying for latency | the nearest-rank percentile behind p50 and p99 |
//! | [`graph`] | ML compilers: a graph and its passes | dead-code elimination and the bias + GELU fusion pass on a graph |
//! | [`scale_fold`] | ML compilers: a graph and its passes | the pass folding attention's `1/√d` into the query's weight and bias |
//! | [`gelu_pattern`] | ML compilers: a graph and its passes | the epilogue matcher taught GELU written out as its erf formula |
//!
//! [`net`] is given code the last two share: a graph with weights and constants, and its
//! interpreter.
//!
//! Calling the library's own op (`nanobert::ops::...`) inside an exercise makes its tests pass
//! and teaches nothing: write the loops yourself.

#![deny(missing_docs)]

/// The settings of one 2-D convolution, `[rows, columns]` each, as PyTorch's `Conv2d` takes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2d {
    /// Filter size `[KH, KW]`.
    pub kernel: [usize; 2],
    /// Step between two patches.
    pub stride: [usize; 2],
    /// Zeros added on each side of the image.
    pub padding: [usize; 2],
    /// Distance between two taps of a patch (1 = adjacent).
    pub dilation: [usize; 2],
}

impl Conv2d {
    /// Output size along one axis (`axis` 0 = rows, 1 = columns) for an input of `len` pixels:
    /// `(len + 2·padding - dilation·(kernel - 1) - 1) / stride + 1`, or 0 when the filter does
    /// not fit. (Given, not part of the exercise.)
    pub fn out_len(&self, len: usize, axis: usize) -> usize {
        let span = self.dilation[axis] * (self.kernel[axis] - 1) + 1;
        let padded = len + 2 * self.padding[axis];
        if padded < span { 0 } else { (padded - span) / self.stride[axis] + 1 }
    }
}

/// The matmul FLOPs of one BERT layer, split as PyTorch's `FlopCounterMode` splits them (the
/// [`flops`] exercise).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerFlops {
    /// The six Linears (`aten.addmm`).
    pub linears: u64,
    /// The two attention matmuls of every head of every sequence (`aten.bmm`).
    pub attention: u64,
}

/// Median, minimum and maximum of repeated timings (the [`stats`] exercise).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The middle value; for an even count, the mean of the two middle values.
    pub median: f64,
    /// The fastest run: the one least disturbed by the neighbours.
    pub min: f64,
    /// The slowest run.
    pub max: f64,
}

/// A row-major matrix that can be read only one row at a time, and counts how many rows were
/// fetched: the matmul exercise's `B`. The count is the access pattern: a loop order that walks a
/// column of B fetches a row per multiply-add; the reordered one fetches each row once per row
/// of C. (Given, not part of the exercise.)
#[derive(Debug)]
pub struct Rows<'a> {
    data: &'a [f32],
    cols: usize,
    fetched: std::cell::Cell<usize>,
}

impl<'a> Rows<'a> {
    /// `data` as a `[rows, cols]` row-major matrix. Panics unless `data.len() == rows * cols`.
    pub fn new(data: &'a [f32], rows: usize, cols: usize) -> Self {
        assert_eq!(data.len(), rows * cols, "Rows::new: {} values for a [{rows}, {cols}] matrix", data.len());
        Rows { data, cols, fetched: std::cell::Cell::new(0) }
    }

    /// Row `p` (`cols` contiguous values). Each call adds one to [`Rows::fetches`].
    pub fn row(&self, p: usize) -> &'a [f32] {
        self.fetched.set(self.fetched.get() + 1);
        &self.data[p * self.cols..(p + 1) * self.cols]
    }

    /// Number of columns (the length of a row).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// How many times [`Rows::row`] was called.
    pub fn fetches(&self) -> usize {
        self.fetched.get()
    }
}

/// One node of a small graph (the [`graph`] exercise): `name = op(args...)`, the arguments
/// by index of earlier nodes. (Given, not part of the exercise.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// Unique in the graph.
    pub name: String,
    /// `placeholder`, `matmul`, `add_bias`, `gelu`, `add`, ... (any word).
    pub op: String,
    /// The nodes it reads, by index; each smaller than this node's own.
    pub args: Vec<usize>,
}

/// A graph as torch.fx and `nanobert::graph` keep one: nodes in execution order, each reading
/// only earlier ones, and the outputs by index. (Given, not part of the exercise.)
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Graph {
    /// In order; a node's index is its value's id.
    pub nodes: Vec<Node>,
    /// The nodes whose values the caller gets back.
    pub outputs: Vec<usize>,
}

impl Graph {
    /// Reads one node a line, `name = op(arg, arg)`, and a last line `return a, b`. Panics on
    /// text it cannot read (a test's typo).
    pub fn parse(text: &str) -> Graph {
        let mut g = Graph { nodes: Vec::new(), outputs: Vec::new() };
        let id = |g: &Graph, n: &str| {
            g.nodes.iter().position(|x| x.name == n.trim()).unwrap_or_else(|| panic!("no node {n}"))
        };
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(outs) = line.strip_prefix("return ") {
                g.outputs = outs.split(',').map(|o| id(&g, o)).collect();
                continue;
            }
            let (name, rhs) = line.split_once('=').unwrap_or_else(|| panic!("no `=` in {line:?}"));
            let (op, args) = rhs.trim().trim_end_matches(')').split_once('(').unwrap_or_else(|| panic!("{line:?}"));
            let args = args.split(',').filter(|a| !a.trim().is_empty()).map(|a| id(&g, a)).collect();
            g.nodes.push(Node { name: name.trim().into(), op: op.trim().into(), args });
        }
        g
    }

    /// The graph in [`Graph::parse`]'s form.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for n in &self.nodes {
            let args: Vec<&str> = n.args.iter().map(|&a| self.nodes[a].name.as_str()).collect();
            s += &format!("{} = {}({})\n", n.name, n.op, args.join(", "));
        }
        let outs: Vec<&str> = self.outputs.iter().map(|&o| self.nodes[o].name.as_str()).collect();
        s + &format!("return {}\n", outs.join(", "))
    }

    /// How many times each node is read (by later nodes and by the outputs).
    pub fn users(&self) -> Vec<usize> {
        let mut u = vec![0; self.nodes.len()];
        self.nodes.iter().flat_map(|n| &n.args).chain(&self.outputs).for_each(|&a| u[a] += 1);
        u
    }
}

/// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, which Rust's standard library lacks, to
/// within 1.5e-7 (Abramowitz and Stegun's formula 7.1.26, computed in f64). Exact GELU is
/// `0.5·x·(1 + erf(x/√2))`. (Given, not part of the exercise.)
pub fn erf(x: f32) -> f32 {
    let x = x as f64;
    let t = 1.0 / (1.0 + 0.3275911 * x.abs());
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    ((1.0 - poly * (-x * x).exp()).copysign(x)) as f32
}

#[cfg_attr(feature = "solutions", path = "solutions/matmul.rs")]
pub mod matmul;

#[cfg_attr(feature = "solutions", path = "solutions/softmax.rs")]
pub mod softmax;

#[cfg_attr(feature = "solutions", path = "solutions/layer_norm.rs")]
pub mod layer_norm;

#[cfg_attr(feature = "solutions", path = "solutions/pooling.rs")]
pub mod pooling;

#[cfg_attr(feature = "solutions", path = "solutions/im2col.rs")]
pub mod im2col;

#[cfg_attr(feature = "solutions", path = "solutions/flops.rs")]
pub mod flops;

#[cfg_attr(feature = "solutions", path = "solutions/epilogue.rs")]
pub mod epilogue;

#[cfg_attr(feature = "solutions", path = "solutions/bucketing.rs")]
pub mod bucketing;

#[cfg_attr(feature = "solutions", path = "solutions/split.rs")]
pub mod split;

#[cfg_attr(feature = "solutions", path = "solutions/quantize.rs")]
pub mod quantize;

#[cfg_attr(feature = "solutions", path = "solutions/stats.rs")]
pub mod stats;

#[cfg_attr(feature = "solutions", path = "solutions/percentile.rs")]
pub mod percentile;

#[cfg_attr(feature = "solutions", path = "solutions/graph.rs")]
pub mod graph;

pub mod net;

#[cfg_attr(feature = "solutions", path = "solutions/scale_fold.rs")]
pub mod scale_fold;

#[cfg_attr(feature = "solutions", path = "solutions/gelu_pattern.rs")]
pub mod gelu_pattern;

/// The learner's stubs, compiled beside the solutions so that CI checks they still build and still
/// start as `todo!()` (see `tests/stubs.rs`).
#[cfg(feature = "solutions")]
pub mod stubs {
    pub use super::{
        stub_bucketing as bucketing, stub_epilogue as epilogue, stub_flops as flops, stub_gelu_pattern as gelu_pattern,
        stub_graph as graph, stub_im2col as im2col, stub_layer_norm as layer_norm, stub_matmul as matmul,
        stub_percentile as percentile, stub_pooling as pooling, stub_quantize as quantize,
        stub_scale_fold as scale_fold, stub_softmax as softmax, stub_split as split, stub_stats as stats,
    };
}

#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "bucketing.rs"]
pub mod stub_bucketing;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "epilogue.rs"]
pub mod stub_epilogue;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "flops.rs"]
pub mod stub_flops;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "gelu_pattern.rs"]
pub mod stub_gelu_pattern;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "graph.rs"]
pub mod stub_graph;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "im2col.rs"]
pub mod stub_im2col;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "layer_norm.rs"]
pub mod stub_layer_norm;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "matmul.rs"]
pub mod stub_matmul;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "percentile.rs"]
pub mod stub_percentile;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "pooling.rs"]
pub mod stub_pooling;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "quantize.rs"]
pub mod stub_quantize;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "scale_fold.rs"]
pub mod stub_scale_fold;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "softmax.rs"]
pub mod stub_softmax;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "split.rs"]
pub mod stub_split;
#[cfg(feature = "solutions")]
#[doc(hidden)]
#[path = "stats.rs"]
pub mod stub_stats;
