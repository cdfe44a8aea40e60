//! Memory planning: every intermediate gets an offset in one arena, from liveness.
//!
//! llm.c allocates all of GPT-2's activations once, in one block, with the offsets written by
//! hand. A graph lets us derive them instead:
//!
//! 1. **Views and in-place ops** (shape-independent, at compile time). `slice_cols` is a view
//!    of its argument's buffer. An elementwise op (`add_bias`, `gelu`, `add`, `layer_norm`,
//!    softmax, ...) may write over its first argument when that argument is read by nobody
//!    later: the two values then share one buffer (a *group*).
//! 2. **Lifetimes.** A group is live from the node that defines it to the last node that reads
//!    any of its values (outputs live to the end).
//! 3. **Offsets** (per batch and sequence length, when the graph first runs at that shape):
//!    walk the nodes in order, free the groups whose last reader has run, and put each new
//!    group at the lowest offset where it fits among the live ones (first fit). The arena is
//!    as large as the highest end ever used; it is allocated once and reused by every call.
//!
//! Without the `memory` pass every value gets a buffer of its own, never reused: what an eager
//! forward that allocates per op holds if it never frees.

use super::{Graph, Op, numel};

/// Floats each buffer is rounded up to (64 bytes: a cache line, a full AVX-512 vector).
const ALIGN: usize = 16;

/// Where each value lives, decided at compile time; offsets come per shape from [`Layout::offsets`].
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// The node whose buffer holds node `i`'s value (itself, or the group it joined).
    pub root: Vec<usize>,
    /// Column offset of a view into its root's rows (0 unless a `slice_cols`).
    pub col: Vec<usize>,
    /// Row stride of node `i`'s value in its buffer (its root's last dimension).
    pub ld: Vec<usize>,
    /// Node `i` writes over its first argument (same buffer).
    pub in_place: Vec<bool>,
    /// For a root: the last node that reads its group (`usize::MAX` for an output).
    pub last: Vec<usize>,
    /// Whether freed buffers are reused (the `memory` pass ran).
    pub reuse: bool,
}

/// Whether `op` can write its result over its first argument.
pub fn elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::AddBias(_)
            | Op::Act(_)
            | Op::Add
            | Op::LayerNorm(_)
            | Op::AddLayerNorm(_)
            | Op::Scale(_)
            | Op::AddMask
            | Op::Softmax
            | Op::ScaledMaskedSoftmax(_)
    )
}

/// Plans `g`: views, in-place groups (only with `reuse`) and lifetimes.
pub fn plan(g: &Graph, reuse: bool) -> Layout {
    let n = g.nodes.len();
    let users = g.users();
    let last_user: Vec<usize> =
        (0..n).map(|i| if g.is_output(i) { usize::MAX } else { users[i].iter().copied().max().unwrap_or(i) }).collect();
    let width = |i: usize| match g.nodes[i].shape.last() {
        Some(super::Dim::N(w)) => *w,
        _ => 1,
    };
    let mut l = Layout {
        root: (0..n).collect(),
        col: vec![0; n],
        ld: (0..n).map(width).collect(),
        in_place: vec![false; n],
        last: last_user.clone(),
        reuse,
    };
    for (i, node) in g.nodes.iter().enumerate() {
        let a = node.args.first().copied();
        match (&node.op, a) {
            (Op::Slice(part, _), Some(a)) => {
                let r = l.root[a];
                l.root[i] = r;
                l.col[i] = l.col[a] + part * width(i);
                l.ld[i] = l.ld[a];
                l.last[r] = l.last[r].max(last_user[i]);
            }
            (op, Some(a)) if reuse && elementwise(op) => {
                let r = l.root[a];
                let own_buffer = !matches!(g.nodes[a].op, Op::Placeholder(_) | Op::Slice(..));
                let others_elsewhere = node.args[1..].iter().all(|&o| l.root[o] != r);
                if own_buffer && others_elsewhere && l.last[r] == i {
                    l.root[i] = r;
                    l.in_place[i] = true;
                    l.last[r] = l.last[r].max(last_user[i]);
                }
            }
            _ => {}
        }
    }
    l
}

impl Layout {
    /// The offset of every node's value for batch `b`, sequence `s`, into `off` (reused, so
    /// no allocation once it has held a graph this large), using `live` as scratch. Returns
    /// the arena's size in floats.
    pub fn offsets(
        &self,
        g: &Graph,
        b: usize,
        s: usize,
        off: &mut Vec<usize>,
        live: &mut Vec<(usize, usize, usize)>,
    ) -> usize {
        off.clear();
        off.resize(g.nodes.len(), 0);
        live.clear();
        let mut total = 0;
        for (i, node) in g.nodes.iter().enumerate() {
            if self.root[i] != i || matches!(node.op, Op::Placeholder(_)) {
                continue;
            }
            let size = numel(&node.shape, b, s).div_ceil(ALIGN) * ALIGN;
            let at = if self.reuse {
                live.retain(|&(_, _, last)| last >= i);
                live.sort_unstable_by_key(|&(o, _, _)| o);
                let mut at = 0;
                for &(o, len, _) in live.iter() {
                    if o >= at + size {
                        break;
                    }
                    at = at.max(o + len);
                }
                live.push((at, size, self.last[i]));
                at
            } else {
                total
            };
            off[i] = at;
            total = total.max(at + size);
        }
        for i in 0..g.nodes.len() {
            if self.root[i] != i {
                off[i] = off[self.root[i]] + self.col[i];
            }
        }
        total
    }

    /// The arena's size in bytes for batch `b`, sequence `s`.
    pub fn arena_bytes(&self, g: &Graph, b: usize, s: usize) -> usize {
        4 * self.offsets(g, b, s, &mut Vec::new(), &mut Vec::new())
    }

    /// `(first, last)` node of every buffer for batch `b`, sequence `s`, with its offset and
    /// size in floats: the picture of buffer lifetimes (`nanobert graph --lifetimes`).
    pub fn lifetimes(&self, g: &Graph, b: usize, s: usize) -> Vec<(usize, usize, usize, usize)> {
        let mut off = Vec::new();
        self.offsets(g, b, s, &mut off, &mut Vec::new());
        (0..g.nodes.len())
            .filter(|&i| self.root[i] == i && !matches!(g.nodes[i].op, Op::Placeholder(_)))
            .map(|i| (i, self.last[i].min(g.nodes.len()), off[i], numel(&g.nodes[i].shape, b, s)))
            .collect()
    }
}

impl Layout {
    /// The lifetimes as a picture, one row a buffer: its offset and size in the arena, then a
    /// bar over the nodes (scaled to `width` columns) from the node that writes it to the last
    /// that reads it. Rows sharing an offset are one piece of memory used again.
    pub fn picture(&self, g: &Graph, b: usize, s: usize, width: usize) -> String {
        let n = g.nodes.len().max(1);
        let width = width.max(8);
        let col = |i: usize| i.min(n - 1) * width / n;
        let mut out = format!("{:<22} {:>9} {:>8}  nodes 0..{} ->\n", "buffer", "offset MB", "MB", n - 1);
        for (first, last, at, floats) in self.lifetimes(g, b, s) {
            let (a, z) = (col(first), col(last).max(col(first)));
            let bar: String = (0..width).map(|c| if c < a || c > z { ' ' } else { '#' }).collect();
            let name = &g.nodes[first].name;
            out += &format!("{name:<22} {:>9.2} {:>8.2}  |{bar}|\n", 4.0 * at as f64 / 1e6, 4.0 * floats as f64 / 1e6);
        }
        out
    }
}
