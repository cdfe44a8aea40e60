//! The rewriting passes: each a short matcher over the node list that replaces a pattern by
//! one fused node and counts its rewrites. A rewrite turns the *last* node of the pattern into
//! the fused op (so every reader of the pattern's result now reads the fused node, which sits
//! where the result was computed), and the nodes nobody reads any more are removed.
//!
//! Each pass keeps the numbers of the kernels it picks: the fused kernels are the ones the
//! eager `Fusion` flags picked, and `tests/graph.rs` ties every pass, alone and in any order,
//! to the unfused graph (within 1e-5) and all of them to the fused eager forward (bit for bit).

use super::params::Params;
use super::{Graph, Node, Op, Proj, Weight};
use crate::nn::Activation;
use crate::quant::Precision;

/// `dce`: removes every node no output depends on — the pooler when only the hidden states
/// are wanted, and what the other passes left behind. Returns how many nodes it removed.
pub fn dce(g: &mut Graph, _: &dyn Params) -> usize {
    g.remove_dead()
}

/// `epilogue`: `matmul(x, W)` → `add_bias` (→ `gelu`) becomes one `linear_bias(_gelu)`: the
/// bias (and GELU) applied by the GEMM to each tile of the output while it is in registers.
pub fn epilogue(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        let Op::MatMul(w) = g.nodes[i].op else { continue };
        let Some(j) = g.sole_user(&users, i).filter(|&j| g.nodes[j].op == Op::AddBias(w)) else { continue };
        let gelu = g.sole_user(&users, j).filter(|&k| g.nodes[k].op == Op::Act(Activation::Gelu));
        let last = gelu.unwrap_or(j);
        g.nodes[last].op = Op::Linear(w, gelu.is_some());
        g.nodes[last].args = g.nodes[i].args.clone();
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}

/// `add-norm`: `add(a, residual)` → `layer_norm` becomes `add_layer_norm(a, residual)`: the
/// residual added while LayerNorm reads each row, instead of a sum written out and read back.
pub fn add_norm(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        if g.nodes[i].op != Op::Add {
            continue;
        }
        let Some(j) = g.sole_user(&users, i) else { continue };
        let Op::LayerNorm(n) = g.nodes[j].op else { continue };
        g.nodes[j].op = Op::AddLayerNorm(n);
        g.nodes[j].args = g.nodes[i].args.clone();
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}

/// `softmax`: `mul(scores, c)` → `add_mask(·, mask)` → `softmax` becomes
/// `scaled_masked_softmax(scores, mask, c)`: one kernel reading each row of scores three times
/// instead of five passes over memory.
pub fn softmax(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        let Op::Scale(c) = g.nodes[i].op else { continue };
        let Some(j) = g.sole_user(&users, i).filter(|&j| g.nodes[j].op == Op::AddMask && g.nodes[j].args[0] == i)
        else {
            continue;
        };
        let Some(k) = g.sole_user(&users, j).filter(|&k| g.nodes[k].op == Op::Softmax) else { continue };
        g.nodes[k].op = Op::ScaledMaskedSoftmax(c);
        g.nodes[k].args = vec![g.nodes[i].args[0], g.nodes[j].args[1]];
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}

/// `heads`: `context` → `merge_heads` becomes `context_merged`: each head's `P·V` written
/// straight into its columns of `[B, S, H]` instead of a per-head buffer copied over.
pub fn heads(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        let Op::Context(h) = g.nodes[i].op else { continue };
        let Some(j) = g.sole_user(&users, i).filter(|&j| g.nodes[j].op == Op::MergeHeads) else { continue };
        g.nodes[j].op = Op::ContextMerged(h);
        g.nodes[j].args = g.nodes[i].args.clone();
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}

/// The projection of layer `l` node `i` computes, if `i` is `matmul(x, W_p)` (or, after
/// `epilogue`, `linear_bias(x, W_p)`), with `p` one of Q, K, V.
fn projection(op: &Op) -> Option<(usize, Proj, bool)> {
    match *op {
        Op::MatMul(Weight::Layer(l, p)) if matches!(p, Proj::Query | Proj::Key | Proj::Value) => Some((l, p, false)),
        Op::Linear(Weight::Layer(l, p), false) if matches!(p, Proj::Query | Proj::Key | Proj::Value) => {
            Some((l, p, true))
        }
        _ => None,
    }
}

/// `qkv`: the three projections of one input, `x·Wqᵀ + bq`, `x·Wkᵀ + bk`, `x·Wvᵀ + bv`, become
/// one GEMM over the stacked `[3 hidden, hidden]` weight (a parameter-only expression, see
/// `fold`) and three column views of its `[B, S, 3 hidden]` result: x is read and packed once.
/// Skipped for a layer whose projections run at a lower precision (each keeps its own).
pub fn qkv(g: &mut Graph, m: &dyn Params) -> usize {
    let mut rewrites = 0;
    let layers = g.nodes.iter().filter_map(|n| projection(&n.op)).map(|(l, ..)| l + 1).max().unwrap_or(0);
    for l in 0..layers {
        let f32_only = [Proj::Query, Proj::Key, Proj::Value]
            .iter()
            .all(|&p| m.linear(Weight::Layer(l, p)).is_ok_and(|x| x.precision() == Precision::F32));
        if !f32_only {
            continue;
        }
        // Each of Q, K, V: (its matmul or linear, the node giving its value, fused?), all
        // reading the same input.
        let users = g.users();
        let find = |want: Proj, x: Option<&Vec<usize>>| {
            g.nodes.iter().enumerate().find_map(|(i, n)| {
                let (nl, p, fused) = projection(&n.op)?;
                if nl != l || p != want || x.is_some_and(|x| *x != n.args) {
                    return None;
                }
                let bias = Op::AddBias(Weight::Layer(l, p));
                let end = if fused { i } else { g.sole_user(&users, i).filter(|&j| g.nodes[j].op == bias)? };
                Some((i, end, fused))
            })
        };
        let Some((iq, eq, fq)) = find(Proj::Query, None) else { continue };
        let x = g.nodes[iq].args.clone();
        let (Some((_, ek, fk)), Some((_, ev, fv))) = (find(Proj::Key, Some(&x)), find(Proj::Value, Some(&x))) else {
            continue;
        };
        if fq != fk || fq != fv {
            continue;
        }
        // The query's nodes become the stacked projection, then three views follow it.
        let h3 = {
            let mut s = g.nodes[eq].shape.clone();
            if let Some(super::Dim::N(h)) = s.last_mut() {
                *h *= 3;
            }
            s
        };
        let w = Weight::Qkv(l);
        g.nodes[iq].op = if fq { Op::Linear(w, false) } else { Op::MatMul(w) };
        g.nodes[iq].shape = h3.clone();
        if !fq {
            g.nodes[eq].op = Op::AddBias(w);
            g.nodes[eq].shape = h3;
        }
        let (module, name) = (g.nodes[iq].module.clone(), |s: &str| format!("l{l}_{s}"));
        let mut ids = [0; 3];
        let view_shape = g.nodes[ek].shape.clone();
        for (p, label) in ["q", "k", "v"].iter().enumerate() {
            let node = Node {
                name: name(label),
                op: Op::Slice(p, 3),
                args: vec![usize::MAX],
                shape: view_shape.clone(),
                module: module.clone(),
            };
            ids[p] = g.insert(eq + 1 + p, node);
        }
        // Readers of Q, K, V now read the views (ids after the insertion: ek, ev moved by 3).
        let (ek, ev) = (ek + 3 * usize::from(ek > eq), ev + 3 * usize::from(ev > eq));
        for (old, new) in [(eq, ids[0]), (ek, ids[1]), (ev, ids[2])] {
            g.replace_uses(old, new);
        }
        ids.iter().for_each(|&v| g.nodes[v].args = vec![eq]);
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}
