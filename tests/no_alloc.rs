//! A warm forward pass allocates nothing.
//!
//! "Forward" here is [`BertModel::forward_with`]: token ids and mask in, the compiled graph run
//! on the caller's [`Workspace`] (its planned arena), the last hidden state read from it —
//! embeddings, every layer (QKV, attention, output projection, add + LayerNorm, MLP with
//! GELU), on the rayon pool, with every pass on and with every fusion off. Not covered: tokenization, the pooler, and copying the result out
//! into a `Tensor` (which `BertModel::forward` does, allocating its outputs).
//!
//! A counting global allocator (this file's own: it counts every thread's allocations)
//! wraps the system allocator. The first calls warm the workspace, each thread's attention
//! scratch and GEMM packing buffers, the packed weights and the thread pool; then at least one
//! of three counted calls must make zero allocations (see the comment in the test: rayon's
//! work queues resize themselves on their own schedule, nothing of ours does).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion, Init, Workspace};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        BYTES.fetch_add(new_size, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn a_warm_forward_allocates_nothing() {
    let cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 100, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 256, "max_position_embeddings": 512
    }))
    .unwrap();
    let model = BertModel::load(&Init { std: 0.2, seed: 1 }, "bert.", &cfg, false).unwrap();
    // Two shapes: 3 x 70 tokens (plain attention) and 1 x 400 (online softmax).
    for (batch, seq) in [(3usize, 70usize), (1, 400)] {
        let ids: Vec<u32> = (0..batch * seq).map(|i| (i * 7 % 100) as u32).collect();
        let mask: Vec<u32> = (0..batch * seq).map(|i| u32::from(i % seq < seq - 5 * (i / seq))).collect();
        let input = BertInput::new(&ids, Some(&mask), None, batch, seq).unwrap();
        for fusion in [Fusion::all(), Fusion::none()] {
            let mut ws = Workspace::new();
            // Warm-up: sizes the workspace, packs the weights, fills every pool thread's scratch.
            for _ in 0..3 {
                model.forward_with(&input, &mut ws, &fusion).unwrap();
            }
            // Counted: three more calls, each on its own. Our code allocating per call would
            // show in every one; the thread pool's work queues may still resize themselves now
            // and then (rayon's deques grow and shrink with the number of queued tasks), so the
            // fewest allocations of the three is what must be zero.
            let mut counts = Vec::with_capacity(3);
            let arena = ws.last_hidden_state().as_ptr();
            for _ in 0..3 {
                let (n0, b0) = (ALLOCATIONS.load(Ordering::SeqCst), BYTES.load(Ordering::SeqCst));
                model.forward_with(&input, &mut ws, &fusion).unwrap();
                counts.push((ALLOCATIONS.load(Ordering::SeqCst) - n0, BYTES.load(Ordering::SeqCst) - b0));
                // The output is read from the same arena every time: it was reused, not replaced.
                assert_eq!(ws.last_hidden_state().as_ptr(), arena, "the arena moved");
            }
            println!(
                "batch {batch} x seq {seq}, {fusion:?}: allocations (count, bytes) in 3 warm forwards: {counts:?}"
            );
            let fewest = counts.iter().map(|c| c.0).min().unwrap_or(0);
            assert_eq!(fewest, 0, "every warm forward allocated: {counts:?}");
            assert!(ws.last_hidden_state().iter().all(|v| v.is_finite()));
        }
    }
}
