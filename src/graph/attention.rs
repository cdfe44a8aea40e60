//! The attention passes: `attention` recognizes the whole of attention in the graph — scores,
//! (scale, mask, softmax | the fused softmax), (context, merge | the merged context) — and
//! replaces it by one blocked kernel that never stores an `[S, S]` score matrix; `flash` lets
//! that kernel switch to the online softmax on long sequences.

use super::params::Params;
use super::{AttentionOp, Graph, Op};
use crate::ops::attention::FLASH_MIN_SEQ;

/// `attention`: `scores(q, k)` → softmax steps → `P·V` → heads merged becomes
/// `attention(q, k, v, mask)`, run per block of 32 queries ([`crate::ops::attention::attention_into`])
/// so the scores of a block stay in L1/L2 instead of a `[B, heads, S, S]` tensor in memory.
/// The kernel computes the scale itself, so the pattern matches only the scale it uses,
/// `1/√head_dim` (a graph whose scale was folded elsewhere is left alone).
pub fn attention(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        let Op::Scores(heads) = g.nodes[i].op else { continue };
        let (q, k) = (g.nodes[i].args[0], g.nodes[i].args[1]);
        let d = g.nodes[q].shape.last().map_or(0, |d| d.eval(1, 1)) / heads.max(1);
        let scale = 1.0 / (d as f32).sqrt();
        let next = |x: usize| g.sole_user(&users, x);
        // Scale + mask + softmax, in one node or three.
        let Some(p) = next(i) else { continue };
        let (probs, mask, fused_softmax) = match g.nodes[p].op {
            Op::ScaledMaskedSoftmax(c) if c == scale => (p, g.nodes[p].args[1], true),
            Op::Scale(c) if c == scale => {
                let Some(mk) = next(p).filter(|&x| g.nodes[x].op == Op::AddMask) else { continue };
                let Some(sm) = next(mk).filter(|&x| g.nodes[x].op == Op::Softmax) else { continue };
                (sm, g.nodes[mk].args[1], false)
            }
            _ => continue,
        };
        // P·V and the heads merged, in one node or two.
        let Some(c) = next(probs) else { continue };
        let (end, merged) = match g.nodes[c].op {
            Op::ContextMerged(h) if h == heads => (c, true),
            Op::Context(h) if h == heads => match next(c).filter(|&x| g.nodes[x].op == Op::MergeHeads) {
                Some(m) => (m, false),
                None => continue,
            },
            _ => continue,
        };
        let v = g.nodes[c].args[1];
        let op = AttentionOp { heads, softmax: fused_softmax, heads_in_place: merged, flash_min_seq: None };
        g.nodes[end].op = Op::Attention(op);
        g.nodes[end].args = vec![q, k, v, mask];
        rewrites += 1;
    }
    g.remove_dead();
    rewrites
}

/// `flash`: every fused attention takes the online-softmax kernel (key blocks of 128, a
/// running max and sum per row) for sequences of at least [`FLASH_MIN_SEQ`] tokens. Needs
/// `attention` first; changes nothing below that length.
pub fn flash(g: &mut Graph, _: &dyn Params) -> usize {
    let mut rewrites = 0;
    for n in &mut g.nodes {
        if let Op::Attention(a) = &mut n.op
            && a.flash_min_seq.is_none()
        {
            a.flash_min_seq = Some(FLASH_MIN_SEQ);
            rewrites += 1;
        }
    }
    rewrites
}
