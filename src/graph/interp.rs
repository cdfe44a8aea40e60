//! The interpreter: runs the nodes in order on one arena, each node calling the kernel the
//! eager code calls for the same step (so the numbers are the eager numbers, bit for bit).

use super::compile::Compiled;
use super::params::{Feed, Params};
use super::{AttentionOp, Op, numel};
use crate::nn::Activation;
use crate::ops::attention::{
    AttentionKernel, AttentionScratch, AttentionShape, QUERY_BLOCK, attention_into, gemm1, scratch_floats,
};
use crate::ops::matmul::{Epilogue, Gemm};
use crate::ops::norm::add_layer_norm_rows;
use crate::ops::par_rows;
use crate::ops::simd::{Isa, add_assign, add_bias_rows};
use crate::ops::softmax::softmax_rows_fused;
use crate::{Error, Result};
use rayon::prelude::*;
use std::ops::Range;

/// The memory one caller's runs reuse: the arena, the offsets for the last shape, attention's
/// per-thread scratch. After a first run at a shape at least this large, a run allocates nothing.
#[derive(Default)]
pub struct RunState {
    /// The graph ([`Compiled::id`]) and `[batch, seq]` the offsets were computed for.
    planned: Option<(usize, usize, usize)>,
    offsets: Vec<usize>,
    live: Vec<(usize, usize, usize)>,
    arena: Vec<f32>,
    scratch: AttentionScratch,
}

impl RunState {
    /// An empty state; the first run sizes it.
    pub fn new() -> RunState {
        RunState::default()
    }

    /// Bytes of the arena.
    pub fn arena_bytes(&self) -> usize {
        4 * self.arena.capacity()
    }

    /// `[batch, seq]` of the last run.
    pub fn shape(&self) -> Option<(usize, usize)> {
        self.planned.map(|(_, b, s)| (b, s))
    }
}

/// `arena[out]` writable and `arena[ins[k]]` readable at once; errors if an input overlaps
/// the output (a planning bug).
fn split<'a>(arena: &'a mut [f32], out: Range<usize>, ins: &[Range<usize>]) -> Result<(&'a mut [f32], [&'a [f32]; 4])> {
    let (left, rest) = arena.split_at_mut(out.start);
    let (o, right) = rest.split_at_mut(out.len());
    let (left, right): (&'a [f32], &'a [f32]) = (left, right);
    let mut r: [&'a [f32]; 4] = [&[]; 4];
    for (k, i) in ins.iter().enumerate() {
        r[k] = if i.end <= out.start {
            &left[i.clone()]
        } else if i.start >= out.end {
            &right[i.start - out.end..i.end - out.end]
        } else {
            return Err(Error::invalid("graph", "an input buffer overlaps its output (memory plan)"));
        };
    }
    Ok((o, r))
}

/// The module spans of the profile (for BERT `BertLayer` > `BertAttention` >
/// `BertSelfAttention`, ..., as [`Params::spans`] names them), opened and closed as the nodes'
/// modules change, so a profile of the graph reads like one of the eager modules. A fixed stack
/// of three: no allocation.
#[derive(Default)]
struct ModuleSpans {
    open: [Option<(&'static str, usize, crate::profile::Span)>; 3],
}

impl ModuleSpans {
    fn enter(&mut self, params: &dyn Params, module: &str) {
        let (path, n) = params.spans(module);
        let same = |k: usize| matches!(&self.open[k], Some((name, l, _)) if k < n && (*name, *l) == path[k]);
        let keep = (0..3).take_while(|&k| same(k)).count();
        for k in (keep..3).rev() {
            self.open[k] = None; // closes the innermost first
        }
        for (k, &(name, l)) in path.iter().enumerate().take(n).skip(keep) {
            self.open[k] = Some((name, l, crate::profile::span(name)));
        }
    }
}

impl Drop for ModuleSpans {
    fn drop(&mut self) {
        for k in (0..3).rev() {
            self.open[k] = None;
        }
    }
}

/// The profile op of a node whose kernel does not record one itself (GEMMs, attention and the
/// embeddings do): its name, FLOPs and bytes, for a value of `n` floats.
fn profile_op(op: &Op, n: usize, s: usize, d: usize) -> Option<crate::profile::Span> {
    if !crate::profile::is_recording() {
        return None;
    }
    let bytes = 8 * n as u64;
    let (name, flops) = match op {
        Op::AddBias(_) => ("bias", 0),
        Op::Act(Activation::Gelu | Activation::GeluTanh) => ("gelu", 0),
        Op::Act(Activation::Relu) => ("relu", 0),
        Op::Act(Activation::Tanh) => ("tanh", 0),
        Op::Add => ("add", 0),
        Op::LayerNorm(_) => ("layer_norm", 0),
        Op::AddLayerNorm(_) => ("add + layer_norm", 0),
        Op::Scale(_) | Op::AddMask | Op::AdditiveMask => ("scale / mask", 0),
        Op::Softmax | Op::ScaledMaskedSoftmax(_) => ("softmax", 0),
        // Q·Kᵀ is [B, heads, S, S] from d columns; P·V the same count of multiply-adds.
        Op::Scores(_) => ("attention heads", 2 * n * d),
        Op::Context(_) | Op::ContextMerged(_) => ("attention heads", 2 * n * s),
        Op::MergeHeads | Op::SelectFirst => ("copy", 0),
        Op::Placeholder(_) | Op::Slice(..) | Op::Embeddings | Op::MatMul(_) | Op::Linear(..) | Op::Attention(_) => {
            return None;
        }
    };
    Some(crate::profile::op(name, flops as u64, bytes))
}

impl Compiled {
    /// Runs the graph on `input` with `model`'s parameters (the model it was compiled from),
    /// in `state`; read the results with [`Compiled::output`].
    ///
    /// Errors: a batch the model cannot take (slices of the wrong length, ids out of range, a
    /// sequence longer than the position table), named.
    pub fn run<'a>(&self, model: &dyn Params, input: impl Into<Feed<'a>>, state: &mut RunState) -> Result<()> {
        let input = input.into();
        input.check()?;
        let _s = crate::profile::span(model.root_span());
        let (b, s) = (input.batch, input.seq_len);
        let g = &self.graph;
        if state.planned != Some((self.id, b, s)) {
            let floats = self.layout.offsets(g, b, s, &mut state.offsets, &mut state.live);
            if state.arena.len() < floats {
                state.arena.resize(floats, 0.0);
            }
            state.planned = Some((self.id, b, s));
        }
        let d = self.head_dim;
        let flash = g.nodes.iter().any(|n| matches!(n.op, Op::Attention(a) if a.flash_min_seq.is_some_and(|m| s >= m)));
        state.scratch.prepare(scratch_floats(s, d, flash));
        let mut spans = ModuleSpans::default();
        for i in 0..g.nodes.len() {
            if crate::profile::is_recording() {
                spans.enter(model, &g.nodes[i].module);
            }
            let _o = profile_op(&g.nodes[i].op, numel(&g.nodes[i].shape, b, s), s, d);
            self.step(model, &input, state, i)?;
        }
        Ok(())
    }

    /// The output called `name` (`last_hidden_state`, `pooler_output`, `hidden_states.{i}`) of
    /// the last run in `state`, row-major.
    /// `None` if `state` last ran another graph, or the graph has no such output.
    pub fn output<'s>(&self, state: &'s RunState, name: &str) -> Option<&'s [f32]> {
        let (_, b, s) = state.planned.filter(|p| p.0 == self.id)?;
        let &(_, i) = self.graph.outputs.iter().find(|(k, _)| k == name)?;
        let at = state.offsets[i];
        Some(&state.arena[at..at + numel(&self.graph.nodes[i].shape, b, s)])
    }

    /// Node `i`.
    fn step(&self, m: &dyn Params, input: &Feed, state: &mut RunState, i: usize) -> Result<()> {
        let (g, l) = (&self.graph, &self.layout);
        let node = &g.nodes[i];
        let (b, s) = (input.batch, input.seq_len);
        let RunState { offsets, arena, scratch, .. } = state;
        if matches!(node.op, Op::Placeholder(_) | Op::Slice(..)) {
            return Ok(());
        }
        // An argument reads from its offset to the end of its root's buffer (a view's rows).
        let region = |a: usize| {
            let r = l.root[a];
            if matches!(g.nodes[r].op, Op::Placeholder(_)) {
                return 0..0; // ids are read from the batch
            }
            offsets[a]..offsets[r] + numel(&g.nodes[r].shape, b, s)
        };
        let out = offsets[i]..offsets[i] + numel(&node.shape, b, s);
        // At most four arguments (attention's q, k, v, mask): a fixed array, no allocation.
        let mut ins: [Range<usize>; 4] = [0..0, 0..0, 0..0, 0..0];
        let nargs = node.args.len().min(4);
        node.args.iter().zip(&mut ins).for_each(|(&a, r)| *r = region(a));
        let elementwise = super::memory::elementwise(&node.op);
        if elementwise && !l.in_place[i] {
            let src = ins[0].start..ins[0].start + out.len();
            arena.copy_within(src, out.start);
        }
        if elementwise {
            ins[0] = 0..0; // the first argument is now the output itself
        }
        let (y, x) = split(arena, out, &ins[..nargs])?;
        let width = |a: usize| l.ld[a];
        let isa = Isa::best();
        match node.op {
            Op::Placeholder(_) | Op::Slice(..) => {}
            Op::Embeddings => m.embeddings_into(input, y)?,
            Op::AdditiveMask => match input.attention_mask {
                Some(mask) => y.iter_mut().zip(mask).for_each(|(o, &v)| *o = if v == 0 { f32::MIN } else { 0.0 }),
                None => y.fill(0.0),
            },
            Op::MatMul(w) => {
                let lin = m.linear(w)?;
                lin.gemm_into(&Gemm::default(), x[0], y.len() / lin.out_features(), y, Epilogue::None)?
            }
            Op::AddBias(w) => {
                let lin = m.linear(w)?;
                let bias = lin.bias.as_ref().and_then(|t| t.as_slice()).unwrap_or(&[]);
                par_rows(y, lin.out_features(), |_, y| add_bias_rows(isa, y, bias));
            }
            Op::Linear(w, gelu) => {
                let lin = m.linear(w)?;
                lin.forward_into(&Gemm::default(), x[0], y.len() / lin.out_features(), y, gelu, true)?
            }
            Op::Act(a) => match a {
                Activation::Gelu => crate::ops::gelu_in_place(y),
                Activation::GeluTanh => crate::ops::gelu_tanh_in_place(y),
                Activation::Relu => crate::ops::relu_in_place(y),
                Activation::Tanh => crate::ops::tanh_in_place(y),
            },
            Op::Add => {
                let (h, r) = (width(i), x[1]);
                par_rows(y, h, |r0, y| add_assign(isa, y, &r[r0 * h..r0 * h + y.len()]));
            }
            Op::LayerNorm(n) | Op::AddLayerNorm(n) => {
                let ln = m.layer_norm(n)?;
                let (w, bias) = (ln.weight.as_slice().unwrap_or(&[]), ln.bias.as_slice().unwrap_or(&[]));
                let (h, eps) = (width(i), ln.eps as f32);
                let r = if matches!(node.op, Op::AddLayerNorm(_)) { x[1] } else { &[] };
                let res = |r0: usize, n: usize| if r.is_empty() { r } else { &r[r0 * h..r0 * h + n] };
                par_rows(y, h, |r0, y| add_layer_norm_rows(isa, y, res(r0, y.len()), h, w, bias, eps));
            }
            Op::Scale(c) => y.iter_mut().for_each(|v| *v *= c),
            Op::AddMask => {
                let mask = x[1];
                let rows_per_seq = y.len() / b.max(1) / s.max(1);
                for (r, row) in y.chunks_exact_mut(s).enumerate() {
                    let bi = r / rows_per_seq;
                    row.iter_mut().zip(&mask[bi * s..(bi + 1) * s]).for_each(|(v, m)| *v += m);
                }
            }
            Op::Softmax => y.par_chunks_mut(s * s).for_each(|c| softmax_rows_fused(isa, c, s, 1.0, &[])),
            Op::ScaledMaskedSoftmax(c) => {
                let (mask, heads) = (x[1], y.len() / (b * s * s).max(1));
                y.par_chunks_mut(s * s).enumerate().for_each(|(bh, blk)| {
                    let bi = bh / heads;
                    softmax_rows_fused(isa, blk, s, c, &mask[bi * s..(bi + 1) * s]);
                });
            }
            Op::Scores(heads) => {
                let (q, k, ld) = (x[0], x[1], width(node.args[0]));
                let dh = g.nodes[node.args[0]].shape.last().map_or(0, |d| d.eval(b, s)) / heads;
                y.par_chunks_mut(s * s).enumerate().try_for_each(|(bh, blk)| {
                    let (kv0, c) = (bh / heads * s, bh % heads * dh);
                    for q0 in (0..s).step_by(QUERY_BLOCK) {
                        let rows = QUERY_BLOCK.min(s - q0);
                        let a = &q[(kv0 + q0) * ld + c..];
                        gemm1(rows, dh, s, a, ld, &k[kv0 * ld + c..], ld, &mut blk[q0 * s..(q0 + rows) * s], s, true)?;
                    }
                    Ok::<(), Error>(())
                })?;
            }
            Op::Context(heads) | Op::ContextMerged(heads) => {
                let (p, v, ld) = (x[0], x[1], width(node.args[1]));
                let dh = g.nodes[node.args[1]].shape.last().map_or(0, |d| d.eval(b, s)) / heads;
                if let Op::Context(_) = node.op {
                    y.par_chunks_mut(s * dh).enumerate().try_for_each(|(bh, blk)| {
                        let (kv0, c) = (bh / heads * s, bh % heads * dh);
                        for q0 in (0..s).step_by(QUERY_BLOCK) {
                            let rows = QUERY_BLOCK.min(s - q0);
                            let pb = &p[(bh * s + q0) * s..];
                            gemm1(
                                rows,
                                s,
                                dh,
                                pb,
                                s,
                                &v[kv0 * ld + c..],
                                ld,
                                &mut blk[q0 * dh..(q0 + rows) * dh],
                                dh,
                                false,
                            )?;
                        }
                        Ok::<(), Error>(())
                    })?;
                } else {
                    let h = heads * dh;
                    y.par_chunks_mut(s * h).enumerate().try_for_each(|(bi, seq)| {
                        seq.par_chunks_mut(QUERY_BLOCK * h).enumerate().try_for_each(|(qi, blk)| {
                            let (q0, rows) = (qi * QUERY_BLOCK, blk.len() / h);
                            for hi in 0..heads {
                                let (pb, c) = (&p[((bi * heads + hi) * s + q0) * s..], hi * dh);
                                gemm1(rows, s, dh, pb, s, &v[bi * s * ld + c..], ld, &mut blk[c..], h, false)?;
                            }
                            Ok::<(), Error>(())
                        })
                    })?;
                }
            }
            Op::MergeHeads => {
                let (heads, dh) = match node.shape.last() {
                    Some(_) => {
                        let sh = &g.nodes[node.args[0]].shape;
                        (sh[1].eval(b, s), sh[3].eval(b, s))
                    }
                    None => (1, 1),
                };
                let (src, h) = (x[0], heads * dh);
                for (r, row) in y.chunks_exact_mut(h).enumerate() {
                    let (bi, t) = (r / s, r % s);
                    for hi in 0..heads {
                        let from = ((bi * heads + hi) * s + t) * dh;
                        row[hi * dh..(hi + 1) * dh].copy_from_slice(&src[from..from + dh]);
                    }
                }
            }
            Op::Attention(AttentionOp { heads, softmax, heads_in_place, flash_min_seq }) => {
                let ld = width(node.args[0]);
                let head_dim = g.nodes[node.args[0]].shape.last().map_or(0, |d| d.eval(b, s)) / heads.max(1);
                let kernel = AttentionKernel { fused_softmax: softmax, heads_in_place, flash_min_seq };
                let shape = AttentionShape { batch: b, seq: s, heads, head_dim };
                attention_into(shape, x[0], x[1], x[2], ld, x[3], y, scratch, kernel)?;
            }
            Op::SelectFirst => {
                let h = width(i);
                y.chunks_exact_mut(h).enumerate().for_each(|(bi, row)| row.copy_from_slice(&x[0][bi * s * h..][..h]));
            }
        }
        Ok(())
    }
}
