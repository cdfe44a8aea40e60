//! # Workspace: the forward pass's activation memory, allocated once
//!
//! A forward pass through BERT produces, per layer, Q/K/V, the attention context, the
//! attention output, the MLP's wide hidden layer and the layer output. Allocating a fresh
//! tensor for each costs more than it looks: the allocator hands out large buffers as new
//! pages, and the first touch of every page is a page fault and a zeroing by the kernel (the
//! profile of the old forward put ~3% of the time there).
//!
//! llm.c's answer is the one used here: one set of flat buffers, sized for the largest batch
//! seen, reused by every layer and every later call. A layer reads its input from `hidden`
//! and writes its output back into it; the other buffers are scratch that each layer
//! overwrites. Once warm (a first call with the same or a larger batch × sequence), a forward
//! pass allocates nothing (tests/no_alloc.rs checks it with a counting allocator).
//!
//! | buffer   | shape                         | holds                                   |
//! |----------|-------------------------------|-----------------------------------------|
//! | `hidden` | `[batch·seq, hidden]`         | the layer input, then its output         |
//! | `qkv`    | `[batch·seq, 3 hidden]`       | Q, K, V                                  |
//! | `ctx`    | `[batch·seq, hidden]`         | attention context (all heads)            |
//! | `attn`   | `[batch·seq, hidden]`         | attention output after add + LayerNorm   |
//! | `inter`  | `[batch·seq, intermediate]`   | GELU(x·W1ᵀ + b1)                          |
//! | `mask`   | `[batch·seq]`                 | the additive attention mask              |
//!
//! For bert-base at batch 32 × 128 tokens that is 4096 × (768 · 6 + 3072) floats = 113 MB,
//! against about 12 × 113 MB allocated (and faulted in) by a forward that allocates per op.
//! Attention's score buffers are here too, one per thread of the pool (`AttentionScratch`),
//! each sized for a block of 32 queries; the GEMM keeps its packing buffers per thread.

use std::sync::Mutex;

/// Reusable activation memory for [`crate::bert::BertModel::forward_with`].
#[derive(Default)]
pub struct Workspace {
    pub(crate) hidden: Vec<f32>,
    pub(crate) qkv: Vec<f32>,
    pub(crate) ctx: Vec<f32>,
    pub(crate) attn: Vec<f32>,
    pub(crate) inter: Vec<f32>,
    pub(crate) mask: Vec<f32>,
    /// Attention's per-thread score buffers.
    pub(crate) scratch: super::attention::AttentionScratch,
    /// `[batch, seq, hidden]` of the last forward.
    shape: [usize; 3],
}

/// Grows `v` to at least `n` values (allocating only when it is too small).
fn grow(v: &mut Vec<f32>, n: usize) {
    if v.len() < n {
        v.resize(n, 0.0);
    }
}

impl Workspace {
    /// An empty workspace; the first forward sizes it.
    pub fn new() -> Workspace {
        Workspace::default()
    }

    /// Makes every buffer large enough for `batch × seq` tokens of a model with `hidden` and
    /// `intermediate` sizes, and records the shape.
    pub(crate) fn prepare(&mut self, batch: usize, seq: usize, hidden: usize, intermediate: usize, scratch: usize) {
        let rows = batch * seq;
        grow(&mut self.hidden, rows * hidden);
        grow(&mut self.qkv, 3 * rows * hidden);
        grow(&mut self.ctx, rows * hidden);
        grow(&mut self.attn, rows * hidden);
        grow(&mut self.inter, rows * intermediate);
        grow(&mut self.mask, rows);
        self.scratch.prepare(scratch);
        self.shape = [batch, seq, hidden];
    }

    /// `[batch, seq, hidden]` of the last forward.
    pub fn shape(&self) -> [usize; 3] {
        self.shape
    }

    /// The last forward's last hidden state, `[batch, seq, hidden]` row-major.
    pub fn last_hidden_state(&self) -> &[f32] {
        let [b, s, h] = self.shape;
        &self.hidden[..b * s * h]
    }

    /// Bytes held by the buffers.
    pub fn bytes(&self) -> usize {
        let floats: usize = [&self.hidden, &self.qkv, &self.ctx, &self.attn, &self.inter, &self.mask]
            .iter()
            .map(|v| v.capacity())
            .sum();
        floats * std::mem::size_of::<f32>()
    }
}

/// Workspaces kept for reuse by callers that do not manage their own (`BertModel::forward`):
/// a call takes one (or makes one), and puts it back when done, so concurrent calls each get
/// their own and sequential calls reuse the same memory.
#[derive(Default)]
pub struct WorkspacePool(Mutex<Vec<Workspace>>);

impl WorkspacePool {
    /// Runs `f` with a workspace from the pool (a new one if the pool is empty).
    pub fn with<T>(&self, f: impl FnOnce(&mut Workspace) -> T) -> T {
        let taken = self.0.lock().map(|mut p| p.pop()).unwrap_or(None);
        let mut ws = taken.unwrap_or_default();
        let out = f(&mut ws);
        if let Ok(mut p) = self.0.lock() {
            p.push(ws);
        }
        out
    }
}
