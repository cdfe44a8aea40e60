//! # Self-attention: every token looks at every other token, with two matmuls
//!
//! For each head `h` (a slice of `head_dim` columns of the hidden size):
//!
//! ```text
//! Q = x·Wqᵀ + bq,  K = x·Wkᵀ + bk,  V = x·Wvᵀ + bv          [batch, seq, hidden]
//! scores[b, h] = Q[b, :, h] · K[b, :, h]ᵀ / √head_dim        [seq, seq]   (matmul #1)
//! probs = softmax(scores + mask)                             each row sums to 1
//! context[b, :, h] = probs · V[b, :, h]                      [seq, head_dim] (matmul #2)
//! ```
//!
//! The mask adds a huge negative number to the scores of padding tokens, so after the
//! softmax no real token attends to padding.
//!
//! The fast path never copies heads into `[batch, heads, seq, head_dim]` tensors: a head
//! is a column block of Q, K, V with row stride `hidden`, and `sgemm` takes that stride
//! directly. `forward_ref` is the same computation written with tensor views and ops,
//! the way you would write it in PyTorch.
//!
//! Hugging Face: `BertSelfAttention`, `BertSelfOutput`, `BertAttention` in
//! <https://github.com/huggingface/transformers/blob/main/src/transformers/models/bert/modeling_bert.py>.

use std::sync::{Mutex, OnceLock};

use rayon::prelude::*;

use super::ParamSource;
use super::config::BertConfig;
use super::fusion::Fusion;
use super::{load_layer_norm, load_linear};
use crate::nn::{Dropout, LayerNorm, Linear, Module};
use crate::ops::matmul::{Epilogue, Gemm, MatMut, MatRef};
use crate::ops::simd::Isa;
use crate::ops::softmax::{online_softmax_block, softmax_rows_fused};
use crate::{Result, Tensor, ops};

/// `(batch, seq, hidden)` of `x`, checked: `[batch, seq, hidden]` with the module's `hidden`
/// size, and an additive `mask` of `batch · seq` values (none checked when `mask` is `None`).
pub(crate) fn check_hidden(module: &'static str, x: &Tensor, hidden: usize, mask: &[f32]) -> Result<[usize; 3]> {
    let bad = |what: String| Err(crate::Error::invalid(module, what));
    match *x.shape() {
        [b, s, h] if h == hidden && mask.len() == b * s => Ok([b, s, h]),
        [b, s, h] if h == hidden => bad(format!("mask of {} values for batch {b} x seq {s}", mask.len())),
        _ => bad(format!("input of shape {:?}, expected [batch, seq, {hidden}]", x.shape())),
    }
}

/// `BertSelfAttention`: `softmax(Q·Kᵀ/√d + mask)·V` for every head, with Q, K, V three Linears of
/// `[hidden] → [hidden]`; `[batch, seq, hidden]` in and out. Field names are the checkpoint's
/// (`...attention.self.query.weight`, ...).
pub struct BertSelfAttention {
    /// Queries: `hidden → hidden`, `num_heads` column blocks of `head_dim`.
    pub query: Linear,
    /// Keys: `hidden → hidden`.
    pub key: Linear,
    /// Values: `hidden → hidden`.
    pub value: Linear,
    /// On the attention probabilities while training; identity here (printed like PyTorch).
    pub dropout: Dropout,
    /// Heads; each sees `hidden / num_heads` columns of Q, K and V.
    pub num_heads: usize,
    /// `query`, `key` and `value` stacked into one `[3 hidden, hidden]` Linear (built and
    /// packed by the first forward with the `qkv` fusion; not a parameter of its own).
    qkv: OnceLock<Linear>,
}

impl BertSelfAttention {
    /// Loads `{prefix}query`, `{prefix}key`, `{prefix}value` (weights `[hidden, hidden]`, biases
    /// `[hidden]`), checking the shapes against `cfg`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(BertSelfAttention {
            query: load_linear(w, &format!("{prefix}query"), h, h)?,
            key: load_linear(w, &format!("{prefix}key"), h, h)?,
            value: load_linear(w, &format!("{prefix}value"), h, h)?,
            dropout: Dropout { p: cfg.attention_probs_dropout_prob },
            num_heads: cfg.num_attention_heads,
            qkv: OnceLock::new(),
        })
    }

    /// `query`, `key` and `value` stacked into one `[3 hidden, hidden]` Linear, built on first
    /// use and kept: the parameter-only expression the graph's `qkv` pass multiplies by (its
    /// `fold` pass builds and packs it at compile time).
    pub(crate) fn stacked_qkv(&self) -> Result<&Linear> {
        match self.qkv.get() {
            Some(l) => Ok(l),
            None => {
                let l = Linear::concat(&[&self.query, &self.key, &self.value])?;
                Ok(self.qkv.get_or_init(|| l))
            }
        }
    }

    /// `x: [batch, seq, hidden]`, `mask: [batch, seq]` additive (0 or a large negative)
    /// `-> context [batch, seq, hidden]`, with every fusion on ([`attention_into`]).
    ///
    /// Errors: `x` not `[batch, seq, hidden]` with this layer's hidden size, or a mask of
    /// another length, named.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        self.forward_with(x, mask, &Fusion::default())
    }

    /// [`BertSelfAttention::forward`] with the given attention kernel settings (`softmax`,
    /// `heads`, `flash` of `fusion`): the three projections, then [`attention_into`].
    pub fn forward_with(&self, x: &Tensor, mask: &[f32], fusion: &Fusion) -> Result<Tensor> {
        let _s = crate::profile::span("BertSelfAttention");
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let project = |l: &Linear| l.forward(x).map(|t| t.contiguous());
        let (q, k, v) = (project(&self.query)?, project(&self.key)?, project(&self.value)?);
        let (q, k, v) = (q.as_slice().unwrap_or(&[]), k.as_slice().unwrap_or(&[]), v.as_slice().unwrap_or(&[]));
        let mut out = vec![0.0f32; b * s * hidden];
        let shape = AttentionShape { batch: b, seq: s, heads: self.num_heads, head_dim: hidden / self.num_heads };
        attention_into(shape, q, k, v, hidden, mask, &mut out, &AttentionScratch::default(), fusion)?;
        Tensor::from_vec(out, &[b, s, hidden])
    }

    /// The attention probabilities `[batch, heads, seq, seq]`, computed with tensor ops the
    /// obvious way (reshape into heads, permute, matmul, softmax). Used as the reference.
    pub fn probs_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let (nh, d) = (self.num_heads, hidden / self.num_heads);
        let heads = |t: Tensor| t.reshape(&[b, s, nh, d])?.permute(&[0, 2, 1, 3]); // [b, nh, s, d]
        let q = heads(self.query.forward_ref(x)?)?;
        let k = heads(self.key.forward_ref(x)?)?;
        let scores = ops::mul_scalar(&ops::matmul::matmul(&q, &k.transpose(-1, -2)?)?, 1.0 / (d as f32).sqrt());
        let mask = Tensor::from_vec(mask.to_vec(), &[b, 1, 1, s])?;
        ops::softmax(&scores, Some(&mask))
    }

    /// Reference context `[batch, seq, hidden]` from `probs_ref`.
    pub fn forward_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let [b, s, hidden] = check_hidden("BertSelfAttention", x, self.query.in_features(), mask)?;
        let (nh, d) = (self.num_heads, hidden / self.num_heads);
        let probs = self.probs_ref(x, mask)?;
        let v = self.value.forward_ref(x)?.reshape(&[b, s, nh, d])?.permute(&[0, 2, 1, 3])?;
        let ctx = ops::matmul::matmul(&probs, &v)?; // [b, nh, s, d]
        ctx.permute(&[0, 2, 1, 3])?.contiguous().reshape(&[b, s, hidden])
    }
}

impl Module for BertSelfAttention {
    fn name(&self) -> String {
        "BertSelfAttention".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("query".into(), &self.query),
            ("key".into(), &self.key),
            ("value".into(), &self.value),
            ("dropout".into(), &self.dropout),
        ]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("query".into(), &mut self.query),
            ("key".into(), &mut self.key),
            ("value".into(), &mut self.value),
            ("dropout".into(), &mut self.dropout),
        ]
    }
}

/// Rows of queries one attention task handles, for all heads: the unit of parallel work
/// (32 rows of a 128-token sequence make 4 tasks per sequence, enough for 2-4 cores at batch 1).
pub const QUERY_BLOCK: usize = 32;
/// Keys per step of the online-softmax path.
pub const KEY_BLOCK: usize = 128;

/// The sizes of one attention call.
#[derive(Clone, Copy, Debug)]
pub struct AttentionShape {
    /// Sequences in the batch.
    pub batch: usize,
    /// Tokens per sequence (padding included).
    pub seq: usize,
    /// Attention heads.
    pub heads: usize,
    /// Columns per head (`hidden / heads`).
    pub head_dim: usize,
}

/// Floats of scratch one attention task needs (scores of a query block, partial context).
pub fn scratch_floats(seq: usize, head_dim: usize, flash: bool) -> usize {
    let qb = QUERY_BLOCK;
    if flash { qb * KEY_BLOCK.min(seq) + 2 * qb * head_dim + 3 * qb } else { qb * seq + qb * head_dim }
}

/// Per-thread scratch for [`attention_into`]: one buffer per thread of the pool, each locked
/// only by its own thread (so never contended), sized once by `prepare`.
#[derive(Default)]
pub struct AttentionScratch(Vec<Mutex<Vec<f32>>>);

impl AttentionScratch {
    /// One buffer of at least `floats` per thread of the current rayon pool (allocates only
    /// when the pool or the size grew).
    pub fn prepare(&mut self, floats: usize) {
        let threads = rayon::current_num_threads().max(1);
        while self.0.len() < threads {
            self.0.push(Mutex::new(Vec::new()));
        }
        for slot in &mut self.0 {
            let buf = slot.get_mut().unwrap_or_else(|e| e.into_inner());
            if buf.len() < floats {
                buf.resize(floats, 0.0);
            }
        }
    }
}

/// One-thread GEMM for attention's small products (the tasks are already spread over the
/// pool): `C (m x n, row stride ldc) = A (m x k, lda) · B`, B `k x n` (ldb) or, with `tb`,
/// stored `n x k` and read transposed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm1(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    lda: usize,
    b: &[f32],
    ldb: usize,
    c: &mut [f32],
    ldc: usize,
    tb: bool,
) -> Result<()> {
    let a = MatRef::strided(a, m, k, lda);
    let b = if tb { MatRef::strided(b, n, k, ldb).t() } else { MatRef::strided(b, k, n, ldb) };
    Gemm::default().parallel(false).sgemm(a, b, MatMut::strided(c, m, n, ldc), Epilogue::None)
}

/// Multi-head attention for a whole batch, all heads, into `ctx: [batch·seq, heads·head_dim]`.
///
/// `q`, `k`, `v`: row `r` (token `r` of the flattened batch) of each starts at `r * ld`, head
/// `h` at column `h * head_dim` (Q, K, V side by side in one `[tokens, 3 hidden]` buffer, or
/// three separate ones). `mask: [batch·seq]` additive.
///
/// One parallel loop over (sequence, block of [`QUERY_BLOCK`] query rows); each task runs
/// every head of its block one after the other on a one-thread GEMM, in its thread's scratch
/// buffer (`scratch`, see [`AttentionScratch`]; an empty one works, allocating per task),
/// and writes rows of `ctx` no other task touches. Two kernels:
///
/// - plain: `S = Q_blk·Kᵀ` (`[32, seq]`), softmax, `ctx_blk = S·V`;
/// - online softmax (`fusion.use_flash(seq)`): over key blocks of [`KEY_BLOCK`], keeping per
///   row the running max `m` and sum `l`, and rescaling the partial context when `m` grows,
///   so no buffer ever holds a row of `seq` scores.
///
/// A row whose scores are all `-inf` gives NaN (as PyTorch); BERT's finite mask gives a
/// fully masked row uniform weights (as PyTorch).
#[allow(clippy::too_many_arguments)]
pub fn attention_into(
    shape: AttentionShape,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    ld: usize,
    mask: &[f32],
    ctx: &mut [f32],
    scratch: &AttentionScratch,
    fusion: &Fusion,
) -> Result<()> {
    let AttentionShape { batch: b, seq: s, heads: nh, head_dim: d } = shape;
    let h = nh * d;
    if b * s == 0 || h == 0 {
        return Ok(());
    }
    if mask.len() < b * s || ctx.len() < b * s * h {
        return Err(crate::Error::invalid(
            "attention",
            format!("mask of {} / context of {} values for batch {b} x seq {s} x hidden {h}", mask.len(), ctx.len()),
        ));
    }
    // For the profile, one op: both products of every head (QKᵀ, PV), the mask, the softmax.
    let (flops, bytes) = (4 * b * nh * s * s * d, 4 * (4 * b * s * h + b * s));
    let _op = crate::profile::op("attention heads", flops as u64, bytes as u64);
    let flash = fusion.use_flash(s);
    let isa = Isa::best();
    let run = |bi: usize, qi: usize, blk: &mut [f32]| -> Result<()> {
        let io = BlockIo { q, k, v, ld, mask: &mask[bi * s..(bi + 1) * s], seq: s, heads: nh, head_dim: d };
        let (row0, rows) = (bi * s + qi * QUERY_BLOCK, blk.len() / h);
        let slots = &scratch.0;
        let mut local = Vec::new(); // only when the caller gave no scratch
        let mut guard = match slots.len() {
            0 => None,
            n => Some(slots[rayon::current_thread_index().unwrap_or(0) % n].lock().unwrap_or_else(|e| e.into_inner())),
        };
        let buf = match guard.as_deref_mut() {
            Some(b) => b,
            None => &mut local,
        };
        if flash { io.flash(isa, row0, rows, blk, buf) } else { io.plain(isa, row0, rows, blk, buf, fusion) }
    };
    ctx[..b * s * h].par_chunks_mut(s * h).enumerate().try_for_each(|(bi, seq_ctx)| {
        seq_ctx.par_chunks_mut(QUERY_BLOCK * h).enumerate().try_for_each(|(qi, blk)| run(bi, qi, blk))
    })
}

/// What one task reads: Q, K, V of the whole batch and the mask row of its sequence.
struct BlockIo<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    ld: usize,
    mask: &'a [f32],
    seq: usize,
    heads: usize,
    head_dim: usize,
}

/// `buf[..n]`, growing `buf` first if needed (allocates only the first time a size is seen).
fn take(buf: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
    &mut buf[..n]
}

impl BlockIo<'_> {
    /// Rows `row0..row0 + rows` (flattened batch index) of every head, scores held for the
    /// whole sequence: `[rows, seq]`.
    fn plain(
        &self,
        isa: Isa,
        row0: usize,
        rows: usize,
        blk: &mut [f32],
        scratch: &mut Vec<f32>,
        fusion: &Fusion,
    ) -> Result<()> {
        let (s, d, ld) = (self.seq, self.head_dim, self.ld);
        let h = self.heads * d;
        let kv0 = row0 / s * s; // first row of this sequence
        let scale = 1.0 / (d as f32).sqrt();
        let (scores, tmp) = take(scratch, rows * s + rows * d).split_at_mut(rows * s);
        for hi in 0..self.heads {
            let c = hi * d;
            gemm1(rows, d, s, &self.q[row0 * ld + c..], ld, &self.k[kv0 * ld + c..], ld, scores, s, true)?;
            if fusion.softmax {
                softmax_rows_fused(isa, scores, s, scale, self.mask);
            } else {
                scores.iter_mut().for_each(|x| *x *= scale);
                scores.chunks_exact_mut(s).for_each(|row| row.iter_mut().zip(self.mask).for_each(|(x, m)| *x += m));
                softmax_rows_fused(isa, scores, s, 1.0, &[]);
            }
            let v = &self.v[kv0 * ld + c..];
            if fusion.heads {
                gemm1(rows, s, d, scores, s, v, ld, &mut blk[c..], h, false)?;
            } else {
                gemm1(rows, s, d, scores, s, v, ld, tmp, d, false)?;
                for (r, t) in tmp.chunks_exact(d).enumerate() {
                    blk[r * h + c..r * h + c + d].copy_from_slice(t);
                }
            }
        }
        Ok(())
    }

    /// The same rows with the online softmax: key blocks of [`KEY_BLOCK`], never a full row
    /// of scores. Per row: running max `m`, running sum `l`; per block, `alpha = exp(m_old -
    /// m_new)` rescales what was summed so far.
    fn flash(&self, isa: Isa, row0: usize, rows: usize, blk: &mut [f32], scratch: &mut Vec<f32>) -> Result<()> {
        let (s, d, ld) = (self.seq, self.head_dim, self.ld);
        let h = self.heads * d;
        let kv0 = row0 / s * s;
        let scale = 1.0 / (d as f32).sqrt();
        let kb_max = KEY_BLOCK.min(s);
        let buf = take(scratch, rows * kb_max + 2 * rows * d + 3 * rows);
        let (scores, rest) = buf.split_at_mut(rows * kb_max);
        let (acc, rest) = rest.split_at_mut(rows * d);
        let (pv, rest) = rest.split_at_mut(rows * d);
        let (m, rest) = rest.split_at_mut(rows);
        let (l, alpha) = rest.split_at_mut(rows);
        for hi in 0..self.heads {
            let c = hi * d;
            m.fill(f32::NEG_INFINITY);
            l.fill(0.0);
            acc.fill(0.0);
            for k0 in (0..s).step_by(KEY_BLOCK) {
                let kb = KEY_BLOCK.min(s - k0);
                let sc = &mut scores[..rows * kb];
                let krow = (kv0 + k0) * ld + c;
                gemm1(rows, d, kb, &self.q[row0 * ld + c..], ld, &self.k[krow..], ld, sc, kb, true)?;
                online_softmax_block(isa, sc, kb, scale, &self.mask[k0..k0 + kb], m, l, alpha);
                gemm1(rows, kb, d, sc, kb, &self.v[krow..], ld, pv, d, false)?;
                for ((a, p), &al) in acc.chunks_exact_mut(d).zip(pv.chunks_exact(d)).zip(alpha.iter()) {
                    a.iter_mut().zip(p).for_each(|(a, &p)| *a = *a * al + p);
                }
            }
            for (r, a) in acc.chunks_exact(d).enumerate() {
                let inv = 1.0 / l[r];
                blk[r * h + c..r * h + c + d].iter_mut().zip(a).for_each(|(o, &a)| *o = a * inv);
            }
        }
        Ok(())
    }
}

/// Projects the attention context back and adds the residual: `LayerNorm(dense(ctx) + x)`.
#[allow(non_snake_case)] // field names match the checkpoint keys
pub struct BertSelfOutput {
    /// `hidden → hidden` projection of the heads' context.
    pub dense: Linear,
    /// Applied to `dense(ctx) + residual`.
    pub LayerNorm: LayerNorm,
    /// After `dense` while training; identity here.
    pub dropout: Dropout,
}

impl BertSelfOutput {
    /// Loads `{prefix}dense` and `{prefix}LayerNorm`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        let h = cfg.hidden_size;
        Ok(BertSelfOutput {
            dense: load_linear(w, &format!("{prefix}dense"), h, h)?,
            LayerNorm: load_layer_norm(w, &format!("{prefix}LayerNorm"), h, cfg.layer_norm_eps)?,
            dropout: Dropout { p: cfg.hidden_dropout_prob },
        })
    }

    /// `ctx, residual: [batch, seq, hidden] -> [batch, seq, hidden]`.
    pub fn forward(&self, ctx: &Tensor, residual: &Tensor) -> Result<Tensor> {
        let _s = crate::profile::span("BertSelfOutput");
        self.LayerNorm.forward(&ops::add(&self.dense.forward(ctx)?, residual)?)
    }

    /// [`BertSelfOutput::forward`] with the naive matmul ([`Linear::forward_ref`]).
    pub fn forward_ref(&self, ctx: &Tensor, residual: &Tensor) -> Result<Tensor> {
        self.LayerNorm.forward(&ops::add(&self.dense.forward_ref(ctx)?, residual)?)
    }
}

impl Module for BertSelfOutput {
    fn name(&self) -> String {
        "BertSelfOutput".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("dense".into(), &self.dense), ("LayerNorm".into(), &self.LayerNorm), ("dropout".into(), &self.dropout)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![
            ("dense".into(), &mut self.dense),
            ("LayerNorm".into(), &mut self.LayerNorm),
            ("dropout".into(), &mut self.dropout),
        ]
    }
}

/// Self-attention followed by its output projection.
pub struct BertAttention {
    /// The heads (`self` in the checkpoint; `self` is a Rust keyword).
    pub self_: BertSelfAttention,
    /// Output projection, residual and LayerNorm.
    pub output: BertSelfOutput,
}

impl BertAttention {
    /// Loads `{prefix}self.*` and `{prefix}output.*`.
    ///
    /// Errors: a missing tensor or a wrong shape, named.
    pub fn load(w: &dyn ParamSource, prefix: &str, cfg: &BertConfig) -> Result<Self> {
        Ok(BertAttention {
            self_: BertSelfAttention::load(w, &format!("{prefix}self."), cfg)?,
            output: BertSelfOutput::load(w, &format!("{prefix}output."), cfg)?,
        })
    }

    /// `x: [batch, seq, hidden]`, `mask`: the additive mask (`[batch * seq]`, 0 or `f32::MIN`)
    /// → `LayerNorm(x + dense(attention(x)))`, `[batch, seq, hidden]`.
    ///
    /// Errors: when `x` does not have the layer's hidden size.
    pub fn forward(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        let _s = crate::profile::span("BertAttention");
        self.output.forward(&self.self_.forward(x, mask)?, x)
    }

    /// The same from the reference parts ([`BertSelfAttention::forward_ref`],
    /// [`BertSelfOutput::forward_ref`]).
    pub fn forward_ref(&self, x: &Tensor, mask: &[f32]) -> Result<Tensor> {
        self.output.forward_ref(&self.self_.forward_ref(x, mask)?, x)
    }
}

impl Module for BertAttention {
    fn name(&self) -> String {
        "BertAttention".into()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![("self".into(), &self.self_), ("output".into(), &self.output)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module)> {
        vec![("self".into(), &mut self.self_), ("output".into(), &mut self.output)]
    }
}
