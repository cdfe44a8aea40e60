//! # Multi-head attention as a kernel: blocks of queries, two small GEMMs, a softmax between
//!
//! `softmax(Q·Kᵀ/√d + mask)·V` for every head of a whole batch, written into
//! `[batch·seq, heads·head_dim]` without ever storing a `[batch, heads, seq, seq]` score tensor:
//! one parallel task per (sequence, block of queries: [`query_block`]), each running every head
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

/// Rows of queries one attention task handles at least, for all heads: the unit of parallel
/// work. [`query_block`] takes a multiple of it when there are enough tasks without.
pub const QUERY_BLOCK: usize = 32;
/// The most rows of queries one task takes ([`query_block`]).
pub const QUERY_BLOCK_MAX: usize = 4 * QUERY_BLOCK;
/// Bytes of scores one task of the plain path may hold (`rows x seq` floats): well inside L2.
const SCORES_MAX_BYTES: usize = 256 << 10;

/// Rows of queries per task for `batch` sequences of `seq` tokens on `threads` threads: the
/// largest of 128, 64, 32 that gives every thread a task (as many tasks per thread, or at
/// least four per thread) and keeps a task's scores within 256 KiB. Each task packs every
/// head's K and V panels once and runs two small GEMMs per head, so fewer, taller tasks pack
/// K and V fewer times and give the microkernel taller products: at batch 1 x 128 tokens on
/// 2 threads, 2 tasks of 64 rows instead of 4 of 32.
pub fn query_block(batch: usize, seq: usize, threads: usize) -> usize {
    let fits = |qb: usize| {
        let (tasks, threads) = (batch * seq.div_ceil(qb), threads.max(1));
        let even = tasks.is_multiple_of(threads) || tasks >= 4 * threads; // no thread idles long
        tasks >= threads && even && qb * seq * 4 <= SCORES_MAX_BYTES
    };
    [QUERY_BLOCK_MAX, 2 * QUERY_BLOCK].into_iter().find(|&qb| fits(qb)).unwrap_or(QUERY_BLOCK)
}

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

/// Floats of scratch one attention task needs (scores of a query block, partial context), for
/// the tallest block [`query_block`] may choose.
pub fn scratch_floats(seq: usize, head_dim: usize, flash: bool) -> usize {
    if flash {
        let qb = QUERY_BLOCK;
        qb * KEY_BLOCK.min(seq) + 2 * qb * head_dim + 3 * qb
    } else {
        let qb = query_block(1, seq, 1);
        qb * seq + qb * head_dim
    }
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
/// One parallel loop over (sequence, block of [`query_block`] query rows); each task runs
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
    let run = |bi: usize, q0: usize, blk: &mut [f32]| -> Result<()> {
        let io = BlockIo { q, k, v, ld, mask: &mask[bi * s..(bi + 1) * s], seq: s, heads: nh, head_dim: d };
        let (row0, rows) = (bi * s + q0, blk.len() / h);
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
    // The online-softmax path keeps blocks of QUERY_BLOCK rows (its scratch is per key block).
    let qb = if flash { QUERY_BLOCK } else { query_block(b, s, rayon::current_num_threads()) };
    ctx[..b * s * h].par_chunks_mut(s * h).enumerate().try_for_each(|(bi, seq_ctx)| {
        seq_ctx.par_chunks_mut(qb * h).enumerate().try_for_each(|(qi, blk)| run(bi, qi * qb, blk))
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

#[cfg(test)]
mod tests {
    use super::*;

    /// softmax(Q Kᵀ / √d + mask) V, head by head, by the definition.
    fn naive(shape: AttentionShape, q: &[f32], k: &[f32], v: &[f32], mask: &[f32]) -> Vec<f32> {
        let AttentionShape { batch, seq, heads, head_dim: d } = shape;
        let h = heads * d;
        let mut out = vec![0.0f32; batch * seq * h];
        for (bi, hi, i) in (0..batch).flat_map(|b| (0..heads).flat_map(move |x| (0..seq).map(move |i| (b, x, i)))) {
            let row = |t: &[f32], j: usize| t[(bi * seq + j) * h + hi * d..][..d].to_vec();
            let qi = row(q, i);
            let scores: Vec<f32> = (0..seq)
                .map(|j| {
                    qi.iter().zip(row(k, j)).map(|(a, b)| a * b).sum::<f32>() / (d as f32).sqrt() + mask[bi * seq + j]
                })
                .collect();
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f32 = e.iter().sum();
            for (j, w) in e.iter().enumerate() {
                for (o, x) in out[(bi * seq + i) * h + hi * d..][..d].iter_mut().zip(row(v, j)) {
                    *o += w / sum * x;
                }
            }
        }
        out
    }

    #[test]
    fn every_query_block_gives_the_definition() {
        // Blocks of 128 (1 and 2 threads), 64 (4 threads) and 32 rows (8 threads); 100 tokens
        // leave a short last block; the second sequence has masked keys.
        for seq in [128, 100] {
            let shape = AttentionShape { batch: 2, seq, heads: 3, head_dim: 16 };
            let n = 2 * seq * 48;
            let val = |i: usize, s: usize| ((i * s % 23) as f32 - 11.0) / 8.0;
            let (q, k, v): (Vec<f32>, Vec<f32>, Vec<f32>) = (
                (0..n).map(|i| val(i, 7)).collect(),
                (0..n).map(|i| val(i, 5)).collect(),
                (0..n).map(|i| val(i, 3)).collect(),
            );
            let mask: Vec<f32> = (0..2 * seq).map(|i| if i > seq + seq / 2 { -10000.0 } else { 0.0 }).collect();
            let want = naive(shape, &q, &k, &v, &mask);
            for threads in [1, 2, 4, 8] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let mut got = vec![f32::NAN; n];
                let qb = query_block(2, seq, threads);
                pool.install(|| {
                    let mut scratch = AttentionScratch::default();
                    scratch.prepare(scratch_floats(seq, 16, false));
                    attention_into(shape, &q, &k, &v, 48, &mask, &mut got, &scratch, AttentionKernel::fused())
                })
                .unwrap();
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    // Written so that a NaN fails too.
                    assert!((a - b).abs() < 1e-4, "seq {seq}, {threads} threads (blocks of {qb}): [{i}] {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn query_blocks_give_every_thread_an_even_share() {
        assert_eq!(query_block(1, 128, 2), 64, "batch 1: one task of 64 rows per thread");
        assert_eq!(query_block(1, 128, 1), 128);
        assert_eq!(query_block(1, 128, 4), 32);
        assert_eq!(query_block(1, 384, 2), 64, "3 tasks of 128 would leave a thread idle half the time");
        assert_eq!(query_block(1, 512, 2), 128, "scores of 128 x 512 floats: 256 KiB");
        assert_eq!(query_block(1, 1024, 1), 64, "128 x 1024 floats would exceed 256 KiB");
        assert_eq!(query_block(32, 128, 2), 128);
        assert_eq!(query_block(1, 20, 2), 32, "one task whatever the block");
    }
}
