//! After a warm-up call, a GEMM allocates nothing: the packing buffers are per thread and
//! reused, C is one strided view, the threads' bands are split by `rayon::join` (no
//! allocation inside the blocking loops). A counting global allocator (this test
//! binary only, and its only test, so no other test allocates meanwhile) proves it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use nanobert::Tensor;
use nanobert::ops::matmul::{Epilogue, Gemm, MatMut, MatRef, PackedB};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts the calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn warm_gemm_calls_allocate_nothing() {
    let (m, k, n) = (128, 384, 640); // crosses KC and splits over 2 threads
    let x = Tensor::randn(&[m, k], 1).to_vec();
    let w = Tensor::randn(&[n, k], 2).to_vec();
    let bias = Tensor::randn(&[n], 3).to_vec();
    let (x, w_t) = (MatRef::new(&x, m, k), MatRef::new(&w, n, k).t());
    let packed = PackedB::new(w_t).unwrap();
    let mut y = vec![0.0f32; m * n];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for parallel in [false, true] {
        let gemm = Gemm::default().parallel(parallel);
        let run = |y: &mut [f32]| {
            gemm.sgemm(x, w_t, MatMut::new(y, m, n), Epilogue::Bias(&bias)).unwrap();
            gemm.sgemm_prepacked(x, &packed, MatMut::new(y, m, n), Epilogue::BiasGelu(&bias)).unwrap();
        };
        pool.install(|| {
            for _ in 0..3 {
                run(&mut y); // warm-up: buffers grow to their size on every thread
            }
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            for _ in 0..5 {
                run(&mut y);
            }
            let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
            assert_eq!(allocations, 0, "parallel = {parallel}: {allocations} allocations in 5 warm calls");
        });
    }
    assert!(y.iter().all(|v| v.is_finite()));
}
