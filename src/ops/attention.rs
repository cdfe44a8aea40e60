//! # Multi-head attention as a kernel: blocks of queries, two small GEMMs, a softmax between
//!
//! `softmax(Q·Kᵀ/√d + mask)·V` for every head of a whole batch, written into
//! `[batch·seq, heads·head_dim]` without ever storing a `[batch, heads, seq, seq]` score tensor:
//! one parallel task per (sequence, block of [`QUERY_BLOCK`] queries), each running every head
//! on a one-thread GEMM in its own scratch buffer. A head is a column block of Q, K, V with row
//! stride `ld`, so Q, K and V may sit side by side in one `[tokens, 3 hidden]` buffer.
//!
//! The kernel knows heads and sequences, not models: `bert::attention::BertSelfAttention`
//! calls it after its three projections, and the compiled graph's `attention` node calls it
//! too ([`AttentionKernel`] says which of its variants to take).

use std::sync::Mutex;

use rayon::prelude::*;

use crate::Result;
use crate::ops::matmul::{Epilogue, Gemm, MatMut, MatRef};
use crate::ops::simd::Isa;
use crate::ops::softmax::{online_softmax_block, softmax_rows_fused};

/// Sequence length from which the online-softmax attention is used by default. Measured
/// slower than the plain blocked path at every BERT length (batch 1, 12 heads of 64, one
/// interleaved run on a shared 2-core Xeon: 1.21x at 128, 1.35x at 384, 1.37x at 512 tokens):
/// a block of 32 query rows x 512 keys (64 KB) still fits in L2, so holding it costs nothing,
/// while the online path pays a rescale pass and twice the GEMM calls. So BERT (512 positions
/// at most) never picks it by default; it stays for longer models and as the tested reference.
pub const FLASH_MIN_SEQ: usize = 1024;

/// Which variant of [`attention_into`] runs (each one a fusion that can be switched off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionKernel {
    /// Scale + mask + softmax in one pass over each row of scores (off: three passes).
    pub fused_softmax: bool,
    /// Each head's `P·V` written straight to its columns of the output (off: into a
    /// per-head buffer, then copied).
    pub heads_in_place: bool,
    /// `Some(n)`: the online softmax over key blocks for sequences of at least `n` tokens.
    pub flash_min_seq: Option<usize>,
}

impl AttentionKernel {
    /// Every fusion on, the online softmax from [`FLASH_MIN_SEQ`] tokens.
    pub fn fused() -> AttentionKernel {
        AttentionKernel { fused_softmax: true, heads_in_place: true, flash_min_seq: Some(FLASH_MIN_SEQ) }
    }

    /// Whether sequences of `seq` tokens take the online-softmax path.
    pub fn use_flash(&self, seq: usize) -> bool {
        self.flash_min_seq.is_some_and(|m| seq >= m)
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
pub fn gemm1(
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
/// - online softmax (`kernel.use_flash(seq)`): over key blocks of [`KEY_BLOCK`], keeping per
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
    kernel: AttentionKernel,
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
    let flash = kernel.use_flash(s);
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
        if flash { io.flash(isa, row0, rows, blk, buf) } else { io.plain(isa, row0, rows, blk, buf, kernel) }
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
        kernel: AttentionKernel,
    ) -> Result<()> {
        let (s, d, ld) = (self.seq, self.head_dim, self.ld);
        let h = self.heads * d;
        let kv0 = row0 / s * s; // first row of this sequence
        let scale = 1.0 / (d as f32).sqrt();
        let (scores, tmp) = take(scratch, rows * s + rows * d).split_at_mut(rows * s);
        for hi in 0..self.heads {
            let c = hi * d;
            gemm1(rows, d, s, &self.q[row0 * ld + c..], ld, &self.k[kv0 * ld + c..], ld, scores, s, true)?;
            if kernel.fused_softmax {
                softmax_rows_fused(isa, scores, s, scale, self.mask);
            } else {
                scores.iter_mut().for_each(|x| *x *= scale);
                scores.chunks_exact_mut(s).for_each(|row| row.iter_mut().zip(self.mask).for_each(|(x, m)| *x += m));
                softmax_rows_fused(isa, scores, s, 1.0, &[]);
            }
            let v = &self.v[kv0 * ld + c..];
            if kernel.heads_in_place {
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
