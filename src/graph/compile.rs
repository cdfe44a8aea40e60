//! `compile`: lint a traced graph, run the chosen passes (reporting each), plan memory.

use super::memory::{Layout, plan};
use super::params::Params;
use super::{Graph, Op, Weight, attention, passes};
use crate::ops::matmul::{Epilogue, Gemm};
use crate::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// A pass: rewrites the graph, returns how many rewrites it made.
type PassFn = fn(&mut Graph, &dyn Params) -> usize;

/// `fold` and `memory` act on the compiled graph (constants, buffers), not on its nodes.
fn no_rewrite(_: &mut Graph, _: &dyn Params) -> usize {
    0
}

/// Every pass, in the order `all` runs them: name, what it does, the function.
pub const PASSES: [(&str, &str, PassFn); 10] = [
    ("dce", "remove nodes no output needs (the pooler when only hidden states are wanted)", passes::dce),
    ("qkv", "Q, K, V as one GEMM over the concatenated weight", passes::qkv),
    ("epilogue", "bias and bias+GELU in the GEMM epilogue", passes::epilogue),
    ("add-norm", "residual add + LayerNorm in one pass", passes::add_norm),
    ("softmax", "scale + mask + softmax in one pass", passes::softmax),
    ("heads", "heads written straight to their place in the output", passes::heads),
    ("attention", "attention per block of queries, no [S, S] scores in memory", attention::attention),
    ("flash", "online-softmax attention for long sequences", attention::flash),
    ("fold", "parameter-only expressions (stacked QKV weight, packed panels) computed at compile time", no_rewrite),
    ("memory", "one arena, buffers reused from liveness, ops in place", no_rewrite),
];

/// A list of passes to run, in order (names from [`PASSES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passes(pub Vec<&'static str>);

impl Passes {
    /// Every pass, in the canonical order: the graph that computes what the fused eager
    /// forward computed, bit for bit.
    pub fn all() -> Passes {
        Passes(PASSES.iter().map(|p| p.0).collect())
    }

    /// No pass: the traced, unfused graph, every value in a buffer of its own.
    pub fn none() -> Passes {
        Passes(Vec::new())
    }

    /// `all`, `none`, or a comma list of names (run in the order given). Errors on an
    /// unknown name, listing the known ones.
    pub fn parse(list: &str) -> Result<Passes> {
        match list.trim() {
            "all" => return Ok(Passes::all()),
            "none" | "" => return Ok(Passes::none()),
            _ => {}
        }
        list.split(',').map(|n| Passes::name(n.trim())).collect::<Result<Vec<_>>>().map(Passes)
    }

    fn name(n: &str) -> Result<&'static str> {
        PASSES.iter().map(|p| p.0).find(|p| *p == n).ok_or_else(|| {
            let names: Vec<&str> = PASSES.iter().map(|p| p.0).collect();
            Error::Input(format!("unknown pass `{n}`: expected one of {}, or all, none", names.join(", ")))
        })
    }

    /// These passes without `name` (what `--no-fuse NAME` means). Errors on an unknown name.
    pub fn without(mut self, name: &str) -> Result<Passes> {
        let n = Passes::name(name)?;
        self.0.retain(|p| *p != n);
        Ok(self)
    }

    /// Whether `name` is in the list.
    pub fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

/// What one pass did.
#[derive(Clone, Debug, PartialEq)]
pub struct PassReport {
    /// The pass.
    pub name: &'static str,
    /// Rewrites it made (nodes removed for `dce`, weights prepared for `fold`, values written
    /// in place of their argument for `memory`).
    pub rewrites: usize,
    /// Nodes before and after.
    pub nodes: (usize, usize),
    /// Time the pass took, in seconds.
    pub seconds: f64,
}

/// A graph ready to run: the rewritten nodes, where each value lives, the folded constants.
pub struct Compiled {
    /// The graph after the passes.
    pub graph: Graph,
    /// Views, in-place groups, lifetimes.
    pub layout: Layout,
    /// The passes that ran, in order.
    pub passes: Passes,
    /// One line per pass.
    pub reports: Vec<PassReport>,
    /// Seconds spent tracing (set by the tracer; 0 when the graph was built by hand).
    pub trace_seconds: f64,
    /// The largest head size of the graph's attention (for the profile's FLOPs and
    /// attention's scratch), 0 when it has none.
    pub(crate) head_dim: usize,
    /// Unique among the graphs of this process: a [`super::RunState`] planned for one graph
    /// is re-planned before it serves another.
    pub(crate) id: usize,
}

/// The next [`Compiled::id`].
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Lints the traced `graph`, runs `passes` in order on it (reading `model`'s parameters where
/// a pass needs them), lints after each, plans memory. The tracer of a model calls this
/// (`bert::compile` traces a `BertModel`, then compiles).
///
/// Errors: an ill-formed graph, or a pass that leaves one (a bug, named by the lint).
pub fn compile(mut graph: Graph, model: &dyn Params, passes: &Passes) -> Result<Compiled> {
    graph.lint()?;
    let mut reports = Vec::new();
    let mut compiled = Compiled {
        graph: Graph { nodes: vec![], outputs: vec![] },
        layout: plan(&graph, false),
        passes: passes.clone(),
        reports: vec![],
        trace_seconds: 0.0,
        head_dim: 0,
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
    };
    for &name in &passes.0 {
        let t = Instant::now();
        let before = graph.nodes.len();
        let f = PASSES.iter().find(|p| p.0 == name).map(|p| p.2).ok_or_else(|| Passes::name(name).unwrap_err())?;
        let rewrites = match name {
            "fold" => {
                compiled.graph = graph.clone();
                compiled.fold(model)?
            }
            "memory" => plan(&graph, true).in_place.iter().filter(|x| **x).count(),
            _ => f(&mut graph, model),
        };
        graph.lint().map_err(|e| Error::invalid("graph", format!("after pass {name}: {e}")))?;
        reports.push(PassReport {
            name,
            rewrites,
            nodes: (before, graph.nodes.len()),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    compiled.layout = plan(&graph, passes.has("memory"));
    compiled.head_dim = graph.nodes.iter().map(|n| head_dim(&graph, n)).max().unwrap_or(0);
    compiled.graph = graph;
    compiled.reports = reports;
    Ok(compiled)
}

/// The head size of an attention node (scores, context, fused attention), else 0.
fn head_dim(g: &Graph, n: &super::Node) -> usize {
    let (heads, x) = match n.op {
        Op::Scores(h) => (h, n.args[0]),
        Op::Context(h) | Op::ContextMerged(h) => (h, n.args[1]),
        Op::Attention(a) => (a.heads, n.args[0]),
        _ => return 0,
    };
    g.nodes[x].shape.last().map_or(0, |d| d.eval(1, 1)) / heads.max(1)
}

impl Compiled {
    /// Every fused attention node that may take the online softmax takes it from `seq`
    /// tokens on (the `flash` pass sets [`crate::ops::attention::FLASH_MIN_SEQ`]; a caller
    /// may ask for another threshold).
    pub fn set_flash_min_seq(&mut self, seq: usize) {
        for n in &mut self.graph.nodes {
            if let Op::Attention(a) = &mut n.op
                && a.flash_min_seq.is_some()
            {
                a.flash_min_seq = Some(seq);
            }
        }
    }

    /// `fold`: builds every stacked QKV weight the graph reads and packs every f32 weight into
    /// GEMM panels now, instead of on the first call. Returns how many weights it prepared.
    fn fold(&self, model: &dyn Params) -> Result<usize> {
        let mut seen: Vec<Weight> = Vec::new();
        for n in &self.graph.nodes {
            if let Op::MatMul(w) | Op::Linear(w, _) = n.op
                && !seen.contains(&w)
            {
                seen.push(w);
                // A zero-row GEMM packs the panels (Linear packs on first use) and multiplies nothing.
                model.linear(w)?.gemm_into(&Gemm::default(), &[], 0, &mut [], Epilogue::None)?;
            }
        }
        Ok(seen.len())
    }

    /// `dce: 5 rewrites, 412 → 407 nodes` for every pass, then the arena for `batch × seq`.
    pub fn summary(&self, batch: usize, seq: usize) -> String {
        let mut s = format!(
            "trace: {} nodes in {:.2} ms\n",
            self.reports.first().map_or(self.graph.nodes.len(), |r| r.nodes.0),
            1e3 * self.trace_seconds
        );
        for r in &self.reports {
            s += &format!(
                "{:>9}: {:>3} rewrites, {} -> {} nodes ({:.2} ms)\n",
                r.name,
                r.rewrites,
                r.nodes.0,
                r.nodes.1,
                1e3 * r.seconds
            );
        }
        let mb = self.layout.arena_bytes(&self.graph, batch, seq) as f64 / 1e6;
        s += &format!(
            "{} nodes ({} computing), arena {mb:.1} MB at batch {batch} x seq {seq}\n",
            self.graph.nodes.len(),
            self.graph.compute_nodes()
        );
        s
    }
}
