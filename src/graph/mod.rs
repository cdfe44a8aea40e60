//! # The forward pass as a graph: trace it, rewrite it with passes, run it
//!
//! An ML compiler in four steps, each a file. The graph knows ops, not models: a model's
//! tracer builds the [`Graph`] and hands over its parameters through [`Params`] (for BERT,
//! `bert/trace.rs`), so this module uses tensors, ops and `nn`'s layers, never `bert`.
//!
//! 1. **Trace** (`bert/trace.rs`): walk the model's *unfused* forward — the eager modules of
//!    `bert`, step by step — and record every step as a [`Node`] instead of running it.
//!    Shapes are symbolic in the batch `B` and sequence `S` ([`Dim`]), so one graph serves every
//!    batch and length. Parameters are named by their checkpoint key.
//! 2. **Print and check** (`print.rs`): one line a node, like `print(gm.graph)` in torch.fx, with
//!    the number of users of each value; [`Graph::lint`] checks that every argument is defined
//!    before it is used and that shapes agree. `to_dot` writes Graphviz.
//! 3. **Rewrite** (`passes.rs`, `attention.rs`): each pass is a short matcher — find a pattern
//!    of nodes, replace it by one fused node — that reports how many rewrites it made
//!    (`qkv`, `epilogue`, `add-norm`, `softmax`, `heads`, `attention`, `flash`, `dce`, `fold`),
//!    and `memory.rs` plans every intermediate into one arena from liveness.
//! 4. **Run** (`interp.rs`): the interpreter executes the nodes in order on the arena, each node
//!    calling the same kernel the eager code calls, so the numbers are the eager numbers bit for
//!    bit (`tests/graph.rs`).
//!
//! [`compile`] does steps 2 to 4 on a traced graph; `bert::compile(&model, &Passes::all(), want)`
//! traces a `BertModel` first and gives a [`Compiled`] graph.

mod attention;
mod compile;
mod interp;
mod memory;
mod params;
mod passes;
mod print;

pub use compile::PASSES;
pub use compile::{Compiled, PassReport, Passes, compile};
pub use interp::RunState;
pub use params::{Feed, Params};

use crate::nn::Activation;

/// One dimension of a symbolic shape: the batch, the sequence length, or a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// The batch size, known only when the graph runs.
    B,
    /// The sequence length (padding included), known only when the graph runs.
    S,
    /// A size fixed by the model (hidden size, heads, ...).
    N(usize),
}

impl Dim {
    /// The size for a batch of `b` sequences of `s` tokens.
    pub fn eval(self, b: usize, s: usize) -> usize {
        match self {
            Dim::B => b,
            Dim::S => s,
            Dim::N(n) => n,
        }
    }
}

/// Number of values of a symbolic shape for batch `b`, sequence `s`.
pub fn numel(shape: &[Dim], b: usize, s: usize) -> usize {
    shape.iter().map(|d| d.eval(b, s)).product()
}

/// Which of the model's Linear layers a node multiplies by. Printed as its checkpoint key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Weight {
    /// `encoder.layer.{l}.…` projection `proj`.
    Layer(usize, Proj),
    /// `encoder.layer.{l}.attention.self.{query,key,value}` stacked into one `[3 hidden,
    /// hidden]` Linear: a parameter-only expression the `qkv` pass introduces.
    Qkv(usize),
    /// `pooler.dense`.
    Pooler,
}

/// The six Linear layers of a BERT layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proj {
    /// `attention.self.query`.
    Query,
    /// `attention.self.key`.
    Key,
    /// `attention.self.value`.
    Value,
    /// `attention.output.dense`.
    AttnOut,
    /// `intermediate.dense`.
    Inter,
    /// `output.dense`.
    Out,
}

/// Which LayerNorm a node applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Norm {
    /// `encoder.layer.{l}.attention.output.LayerNorm`.
    Attn(usize),
    /// `encoder.layer.{l}.output.LayerNorm`.
    Out(usize),
}

/// Where a placeholder's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// `input_ids` `[B, S]`.
    Ids,
    /// `token_type_ids` `[B, S]` (zeros when absent).
    TokenTypes,
    /// `attention_mask` `[B, S]` (ones when absent).
    Mask,
}

/// What a node computes. The traced graph holds the unfused ops; the passes introduce the
/// fused ones (marked "fused" below).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// A graph input (ids stay integers: they are read from the batch, not the arena).
    Placeholder(Input),
    /// Word + token type + position rows, then LayerNorm: `[B, S] -> [B, S, H]`.
    Embeddings,
    /// `0` where the mask is 1, `f32::MIN` where it is 0: `[B, S]`.
    AdditiveMask,
    /// `x·Wᵀ` (no bias).
    MatMul(Weight),
    /// `y + b` on every row, `b` the Linear's bias.
    AddBias(Weight),
    /// fused (`epilogue`): `x·Wᵀ + b`, then GELU when `gelu`, in the GEMM's epilogue.
    Linear(Weight, bool),
    /// An elementwise non-linearity.
    Act(Activation),
    /// `a + b`, same shapes (the residual).
    Add,
    /// LayerNorm over the last dimension.
    LayerNorm(Norm),
    /// fused (`add-norm`): `LayerNorm(a + b)` in one pass over each row.
    AddLayerNorm(Norm),
    /// Columns `[part·w, (part+1)·w)` of a `[.., parts·w]` value, a view (no copy).
    Slice(usize, usize),
    /// `Q·Kᵀ` of every head: `q, k: [B, S, H] -> [B, heads, S, S]`.
    Scores(usize),
    /// `x · c`.
    Scale(f32),
    /// `scores + mask[b, key]`, the additive mask broadcast over heads and queries.
    AddMask,
    /// Softmax over the last dimension.
    Softmax,
    /// fused (`softmax`): `softmax(scores · c + mask)` in one kernel.
    ScaledMaskedSoftmax(f32),
    /// `P·V` of every head: `p: [B, heads, S, S], v: [B, S, H] -> [B, heads, S, H/heads]`.
    Context(usize),
    /// `[B, heads, S, d] -> [B, S, heads·d]`.
    MergeHeads,
    /// fused (`heads`): `P·V` written straight to each head's columns of `[B, S, H]`.
    ContextMerged(usize),
    /// fused (`attention`): the whole of attention, `q, k, v, mask -> [B, S, H]`, per block of
    /// 32 queries so no `[S, S]` score matrix is ever stored. Fields as in [`AttentionOp`].
    Attention(AttentionOp),
    /// The first token of every sequence: `[B, S, H] -> [B, H]`.
    SelectFirst,
}

/// The fused attention node's settings (the kernel is [`crate::ops::attention::attention_into`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionOp {
    /// Heads.
    pub heads: usize,
    /// Scale + mask + softmax in one kernel (the `softmax` pass had run).
    pub softmax: bool,
    /// Each head's context written to its columns (the `heads` pass had run).
    pub heads_in_place: bool,
    /// `Some(n)`: the online-softmax kernel for sequences of at least `n` tokens (`flash`).
    pub flash_min_seq: Option<usize>,
}

/// One step of the forward pass.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The name the printout uses (`%name`), unique in the graph.
    pub name: String,
    /// What it computes.
    pub op: Op,
    /// The nodes whose values it reads, by index.
    pub args: Vec<usize>,
    /// Its value's shape, symbolic in `B` and `S`.
    pub shape: Vec<Dim>,
    /// The module it was traced from (`encoder.layer.0.attention.self`).
    pub module: String,
}

/// A traced forward pass: nodes in execution order (each reads only earlier ones), and the
/// values the caller wants back.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// In order; a node's index is its value's id.
    pub nodes: Vec<Node>,
    /// `(name, node)`: `last_hidden_state`, optionally `pooler_output`, `hidden_states.{i}`.
    pub outputs: Vec<(String, usize)>,
}

impl Graph {
    /// For every node, the nodes that read it (in order, one entry per read).
    pub fn users(&self) -> Vec<Vec<usize>> {
        let mut users = vec![Vec::new(); self.nodes.len()];
        for (i, n) in self.nodes.iter().enumerate() {
            for &a in &n.args {
                users[a].push(i);
            }
        }
        users
    }

    /// Whether node `i` is one of the outputs.
    pub fn is_output(&self, i: usize) -> bool {
        self.outputs.iter().any(|(_, o)| *o == i)
    }

    /// Node `i`'s only user, if it has exactly one and is not an output.
    pub(crate) fn sole_user(&self, users: &[Vec<usize>], i: usize) -> Option<usize> {
        match users[i].as_slice() {
            [u] if !self.is_output(i) => Some(*u),
            _ => None,
        }
    }

    /// Every read of `old` (and the outputs) now reads `new`.
    pub(crate) fn replace_uses(&mut self, old: usize, new: usize) {
        for n in &mut self.nodes {
            n.args.iter_mut().filter(|a| **a == old).for_each(|a| *a = new);
        }
        self.outputs.iter_mut().filter(|(_, o)| *o == old).for_each(|(_, o)| *o = new);
    }

    /// Removes the nodes no output depends on (placeholders stay) and renumbers the rest,
    /// keeping their order. Returns how many were removed.
    pub fn remove_dead(&mut self) -> usize {
        let mut live = vec![false; self.nodes.len()];
        self.outputs.iter().for_each(|(_, o)| live[*o] = true);
        for i in (0..self.nodes.len()).rev() {
            if live[i] || matches!(self.nodes[i].op, Op::Placeholder(_)) {
                live[i] = true;
                for &a in &self.nodes[i].args {
                    live[a] = true;
                }
            }
        }
        let mut new_id = vec![usize::MAX; self.nodes.len()];
        let old = std::mem::take(&mut self.nodes);
        let removed = old.len() - live.iter().filter(|l| **l).count();
        for (i, mut n) in old.into_iter().enumerate() {
            if live[i] {
                n.args.iter_mut().for_each(|a| *a = new_id[*a]);
                new_id[i] = self.nodes.len();
                self.nodes.push(n);
            }
        }
        self.outputs.iter_mut().for_each(|(_, o)| *o = new_id[*o]);
        removed
    }

    /// Inserts `node` at position `at` (before the node now there), shifting later ids.
    /// Returns its id.
    pub(crate) fn insert(&mut self, at: usize, node: Node) -> usize {
        for n in &mut self.nodes {
            n.args.iter_mut().filter(|a| **a >= at).for_each(|a| *a += 1);
        }
        self.outputs.iter_mut().filter(|(_, o)| *o >= at).for_each(|(_, o)| *o += 1);
        self.nodes.insert(at, node);
        at
    }

    /// The index of the node called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// How many nodes compute something (placeholders and views not counted).
    pub fn compute_nodes(&self) -> usize {
        self.nodes.iter().filter(|n| !matches!(n.op, Op::Placeholder(_) | Op::Slice(..))).count()
    }
}
