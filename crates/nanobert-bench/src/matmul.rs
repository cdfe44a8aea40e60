//! # The matmul benchmark: every rung and `matrixmultiply`, on BERT's shapes
//!
//! `cargo bench --bench matmul` (and `nanobert bench matmul`) call [`run`]. For each shape it
//! times every rung of the ladder and the `matrixmultiply` crate, at 1 and 2 threads for the
//! multi-threaded ones, and reports GFLOP/s and % of this machine's FMA peak, measured in the
//! same run (`peak.rs`). Results go to the terminal (Markdown tables) and to
//! `target/nanobert-bench/` as `matmul.csv`, `matmul.md` and `matmul.svg`.
//!
//! Measuring on a shared machine: other processes steal time slices, so each configuration
//! is timed several times and the *fastest* repetition is kept (interference only ever
//! slows a run down); configurations are interleaved round-robin so that all of them see the
//! same background load; the load average before and after is printed. Compare numbers
//! within one run, as ratios. The clock of a (virtual) machine also drifts with the load of
//! its neighbours, so the FMA peak is measured again inside every shape's round-robin, and
//! each result is a percentage of the peak measured beside it.
//!
//! Linear layers multiply by a weight that never changes, so they pack it once ahead of time
//! (`ops/matmul/prepacked.rs`). The row `prepacked-avx512` times [`sgemm_prepacked`] on the
//! Linear shapes (not attention, whose B is an activation) with B packed *before* timing:
//! its time excludes that one-off packing, which is measured separately (one thread, fastest
//! of the passes) and reported beside the tables.
//!
//! The two slowest rungs (naive, reordered) would take many seconds on the large shapes;
//! they compute every row of C the same way, independently of the others, so they are timed
//! on the first rows of A only (column `rows_timed` in the CSV) and their GFLOP/s is that of
//! the full product.

use std::path::PathBuf;
use std::time::Instant;

use rayon::ThreadPool;

use super::machine::load_average;
use super::matmul_report as report;
use super::peak::FmaChains;
pub use super::peak::fma_peak;
use nanobert::ops::cpu::CacheSizes;
use nanobert::ops::matmul::kernels::{self, Kernel};
use nanobert::ops::matmul::{self as mm, Epilogue, Gemm, MatMut, MatRef, PackedB, Rung, sgemm_prepacked, sgemm_rung};
use nanobert::tensor::Rng;
use nanobert::{Error, Result};

/// What to measure and where to write it.
#[derive(Clone, Debug)]
pub struct BenchOptions {
    /// Fewer shapes and repetitions (a few seconds): for smoke tests and the notebook.
    pub quick: bool,
    /// Thread counts for the multi-threaded configurations (rung 4, matrixmultiply).
    pub threads: Vec<usize>,
    /// Directory for `matmul.csv`, `matmul.md` and `matmul.svg`.
    pub out_dir: PathBuf,
    /// Time budget per configuration and shape, in seconds, over all passes (and at least
    /// 3 repetitions).
    pub min_time: f64,
    /// Print progress and tables to stdout.
    pub print: bool,
    /// Shapes to time instead of [`bert_shapes`] (e.g. a tiny one for a smoke test).
    pub shapes: Option<Vec<Shape>>,
    /// Passes over all the shapes; each configuration keeps its fastest repetition of all
    /// passes. Several passes, minutes apart, make it likely that every configuration gets
    /// measured while the neighbours on a shared machine are quiet.
    pub passes: usize,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            quick: false,
            threads: vec![1, 2],
            out_dir: PathBuf::from("target/nanobert-bench"),
            min_time: 0.3,
            print: true,
            shapes: None,
            passes: 3,
        }
    }
}

impl BenchOptions {
    /// The quick mode: M = 128 shapes only, short budgets.
    pub fn quick() -> Self {
        BenchOptions { quick: true, min_time: 0.05, passes: 1, ..Self::default() }
    }
}

/// One product (or batch of products) to time, with its memory layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    /// E.g. "1024x768 · 768x3072ᵀ" or "attn QKᵀ 12x[128x64 · 64x128]".
    pub name: String,
    /// Number of products (1 for a Linear layer, 12 for the attention heads).
    pub batch: usize,
    /// Rows of A and C.
    pub m: usize,
    /// Columns of A, rows of B (the summed dimension).
    pub k: usize,
    /// Columns of B and C.
    pub n: usize,
    /// B stored `[n, k]` (a Linear weight `[out, in]`), multiplied as `Bᵀ`.
    pub transpose_b: bool,
    /// Floats between the A matrices of consecutive products.
    pub stride_a: usize,
    /// Leading dimension of A (floats between two rows).
    pub lda: usize,
    /// Floats between the B matrices of consecutive products.
    pub stride_b: usize,
    /// Leading dimension of B as stored.
    pub ldb: usize,
    /// Floats between the C matrices of consecutive products.
    pub stride_c: usize,
    /// Leading dimension of C.
    pub ldc: usize,
}

impl Shape {
    /// The view of B (matrix 0 of the batch) in `b`.
    pub fn b_view<'a>(&self, b: &'a [f32]) -> MatRef<'a> {
        if self.transpose_b {
            MatRef::strided(b, self.n, self.k, self.ldb).t()
        } else {
            MatRef::strided(b, self.k, self.n, self.ldb)
        }
    }

    /// A Linear layer: `[m, k] x W`, W stored `[n, k]` (`transpose_b`) or `[k, n]`.
    pub fn linear(m: usize, k: usize, n: usize, transpose_b: bool) -> Shape {
        let t = if transpose_b { "ᵀ" } else { "" };
        let (wr, wc) = if transpose_b { (n, k) } else { (k, n) };
        Shape {
            name: format!("{m}x{k} · {wr}x{wc}{t}"),
            batch: 1,
            m,
            k,
            n,
            transpose_b,
            stride_a: 0,
            lda: k,
            stride_b: 0,
            ldb: wc,
            stride_c: 0,
            ldc: n,
        }
    }

    /// Attention scores per head: `Q_h · K_hᵀ`, Q and K `[seq, heads * d]` with heads
    /// interleaved (head h = columns `d h..d h + d`), scores `[heads, seq, seq]`.
    pub fn attention_scores(heads: usize, seq: usize, d: usize) -> Shape {
        Shape {
            name: format!("attn QKᵀ {heads}x[{seq}x{d} · {d}x{seq}]"),
            batch: heads,
            m: seq,
            k: d,
            n: seq,
            transpose_b: true,
            stride_a: d,
            lda: heads * d,
            stride_b: d,
            ldb: heads * d,
            stride_c: seq * seq,
            ldc: seq,
        }
    }

    /// Attention context per head: `P_h · V_h`, P `[heads, seq, seq]`, V `[seq, heads * d]`,
    /// written straight into the merged-heads layout `[seq, heads * d]`.
    pub fn attention_context(heads: usize, seq: usize, d: usize) -> Shape {
        Shape {
            name: format!("attn PV {heads}x[{seq}x{seq} · {seq}x{d}]"),
            batch: heads,
            m: seq,
            k: seq,
            n: d,
            transpose_b: false,
            stride_a: seq * seq,
            lda: seq,
            stride_b: d,
            ldb: heads * d,
            stride_c: d,
            ldc: heads * d,
        }
    }

    /// Flops of the whole product (2 per multiply-add).
    pub fn flops(&self) -> f64 {
        2.0 * (self.batch * self.m * self.k * self.n) as f64
    }

    fn len(stride: usize, batch: usize, rows: usize, ld: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 { 0 } else { (batch - 1) * stride + (rows - 1) * ld + cols }
    }
    fn a_len(&self) -> usize {
        Self::len(self.stride_a, self.batch, self.m, self.lda, self.k)
    }
    fn b_len(&self) -> usize {
        let (r, c) = if self.transpose_b { (self.n, self.k) } else { (self.k, self.n) };
        Self::len(self.stride_b, self.batch, r, self.ldb, c)
    }
    fn c_len(&self) -> usize {
        Self::len(self.stride_c, self.batch, self.m, self.ldc, self.n)
    }
}

/// BERT-base's matrix products: the Linear layers at 128 and 1024 tokens (Q/K/V/output
/// 768 -> 768, FFN up 768 -> 3072, FFN down 3072 -> 768), with weights stored `[out, in]`
/// (A·Bᵀ, as BERT runs them) and `[in, out]` (A·B), and the attention products of 12 heads
/// of 64 at 128 tokens. Quick mode keeps the A·Bᵀ M = 128 shapes and attention.
pub fn bert_shapes(quick: bool) -> Vec<Shape> {
    let ms: &[usize] = if quick { &[128] } else { &[128, 1024] };
    let tbs: &[bool] = if quick { &[true] } else { &[true, false] };
    let mut shapes = Vec::new();
    for &m in ms {
        for &(k, n) in &[(768, 768), (768, 3072), (3072, 768)] {
            for &t in tbs {
                shapes.push(Shape::linear(m, k, n, t));
            }
        }
    }
    shapes.push(Shape::attention_scores(12, 128, 64));
    shapes.push(Shape::attention_context(12, 128, 64));
    shapes
}

/// An implementation being timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Implementation {
    /// A rung of our ladder.
    Rung(Rung),
    /// The `matrixmultiply` crate.
    MatrixMultiply,
    /// Rung 4 with B packed ahead of time for this kernel ([`sgemm_prepacked`]); only
    /// for the Linear shapes (batch 1), and the packing is not timed.
    Prepacked(Kernel),
}

impl Implementation {
    /// Name for tables and the CSV.
    pub fn name(self) -> String {
        match self {
            Implementation::Rung(r) => r.name(),
            Implementation::MatrixMultiply => "matrixmultiply".into(),
            Implementation::Prepacked(k) => format!("prepacked-{}", k.name()),
        }
    }

    /// True if the implementation is timed on `shape` (prepacked: only a weight-like B).
    fn applies(self, shape: &Shape) -> bool {
        !matches!(self, Implementation::Prepacked(_)) || shape.batch == 1
    }

    /// Rows of A timed for a shape with `m` rows (see module docs).
    pub(super) fn rows_timed(self, m: usize, quick: bool) -> usize {
        let cap = match self {
            Implementation::Rung(Rung::Naive) if quick => 4,
            Implementation::Rung(Rung::Naive) => 16,
            Implementation::Rung(Rung::Reordered) => 64,
            _ => usize::MAX,
        };
        m.min(cap)
    }
}

/// One timed configuration.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// What was multiplied.
    pub shape: Shape,
    /// Which rung (or `matrixmultiply`) computed it.
    pub implementation: Implementation,
    /// Threads of the rayon pool it ran in.
    pub threads: usize,
    /// Rows of A actually computed per repetition (see module docs).
    pub rows_timed: usize,
    /// Repetitions timed (the fastest one is kept).
    pub reps: usize,
    /// Fastest repetition, seconds.
    pub best_s: f64,
    /// Median repetition, seconds.
    pub median_s: f64,
    /// Of the fastest repetition.
    pub gflops: f64,
    /// `gflops` over `peak_gflops`.
    pub pct_of_peak: f64,
    /// The FMA peak for the same number of threads, measured interleaved with this shape.
    pub peak_gflops: f64,
}

/// The measured FMA peak, and the best microkernel alone.
#[derive(Clone, Debug)]
pub struct PeakReport {
    /// GFLOP/s of the best microkernel on L1-resident panels, one thread ([`kernel_only`]).
    pub kernel_only: f64,
    /// The instruction set of the best kernel ("avx512", ...), the one "peak" refers to.
    pub kernel: Kernel,
    /// (threads, GFLOP/s) with the best kernel's instructions: the highest of the run.
    pub best: Vec<(usize, f64)>,
    /// Per-core peak of every supported instruction set, for reference.
    pub per_kernel: Vec<(Kernel, f64)>,
}

impl PeakReport {
    /// The peak for `threads` threads.
    pub fn gflops(&self, threads: usize) -> f64 {
        self.best.iter().find(|(t, _)| *t == threads).map_or(f64::NAN, |(_, g)| *g)
    }
}

/// Everything one run measured, and where it was written.
#[derive(Clone, Debug)]
pub struct BenchReport {
    /// The FMA peak and the kernel alone, measured in the same run.
    pub peak: PeakReport,
    /// One entry per (shape, implementation, threads).
    pub results: Vec<Measurement>,
    /// `/proc/loadavg` before and after (other processes sharing the cores).
    pub load_before: String,
    /// `/proc/loadavg` after the run.
    pub load_after: String,
    /// One-off cost of packing B for the prepacked rows: (shape name, seconds on one thread,
    /// fastest of the passes).
    pub packing: Vec<(String, f64)>,
    /// Where the results were written as CSV (`matmul.csv`).
    pub csv: PathBuf,
    /// ... as Markdown tables (`matmul.md`).
    pub markdown: PathBuf,
    /// ... as an SVG plot of GFLOP/s up the ladder (`matmul.svg`).
    pub svg: PathBuf,
    /// int8, bf16 and f16 GEMMs on the Linear shapes, each against its own peak
    /// (`matmul_lowp.rs`; empty when custom shapes were given).
    pub lower_precision: Vec<super::matmul_lowp::LowpMeasurement>,
}

impl BenchReport {
    /// The measurement for a shape name, implementation and thread count.
    pub fn get(&self, shape: &str, implementation: Implementation, threads: usize) -> Option<&Measurement> {
        self.results
            .iter()
            .find(|r| r.shape.name == shape && r.implementation == implementation && r.threads == threads)
    }
}

/// GFLOP/s of `kernel` alone on one thread: one `MR x NR` tile updated again and again from
/// the same packed panels (`kc` deep), so everything sits in L1. This is the ceiling of the
/// whole GEMM: what is left when packing, cache misses and loop overheads are taken away.
pub fn kernel_only(kernel: Kernel, kc: usize, seconds: f64) -> Option<f64> {
    struct Run {
        kc: usize,
        seconds: f64,
    }
    impl kernels::KernelFn<f64> for Run {
        fn call<K: kernels::MicroKernel>(self, kernel: K) -> f64 {
            let (kc, mr, nr) = (self.kc, K::MR, K::NR);
            let a = vec![0.5f32; kc * mr];
            let b = vec![0.25f32; kc * nr];
            let mut c = vec![0.0f32; mr * nr];
            let flops_per_call = (2 * mr * nr * kc) as f64;
            let (mut calls, mut best) = (1usize, 0.0f64);
            let start = Instant::now();
            while start.elapsed().as_secs_f64() < self.seconds {
                let t = Instant::now();
                for _ in 0..calls {
                    kernel.tile(kc, mr, nr, &a, &b, &mut c, nr, true, mm::Epilogue::None, 0);
                }
                let dt = t.elapsed().as_secs_f64();
                best = best.max(calls as f64 * flops_per_call / dt / 1e9);
                if dt < 1e-3 {
                    calls *= 2;
                }
            }
            std::hint::black_box(&c);
            best
        }
    }
    kernels::with_kernel(kernel, Run { kc, seconds })
}

/// Runs the benchmark (see module docs), prints the tables, writes CSV, Markdown and SVG.
pub fn run(opts: &BenchOptions) -> Result<BenchReport> {
    let load_before = load_average();
    let mut threads = opts.threads.clone();
    threads.sort_unstable();
    threads.dedup();
    if threads.is_empty() || threads[0] == 0 {
        return Err(Error::invalid("bench matmul", format!("thread counts must be >= 1, got {:?}", opts.threads)));
    }
    let pools: Vec<(usize, ThreadPool)> = threads
        .iter()
        .map(|&t| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(t).build();
            pool.map(|p| (t, p)).map_err(|e| Error::invalid("bench matmul", format!("thread pool of {t}: {e}")))
        })
        .collect::<Result<_>>()?;
    let say = |s: String| {
        if opts.print {
            println!("{s}");
        }
    };
    say(format!("load average before: {load_before}"));
    if opts.print {
        println!("(each line: GFLOP/s of every configuration on one shape; the tables follow)");
    }

    // The peak: per core for every instruction set (reference), and with the best kernel's
    // instructions on each thread count, re-measured within every shape below.
    let kernel = Kernel::best();
    let one = &pools[0].1;
    let per_kernel: Vec<(Kernel, f64)> = [Kernel::Portable, Kernel::Avx2, Kernel::Avx512]
        .into_iter()
        .filter_map(|k| fma_peak(k, one, 0.02).map(|g| (k, g)))
        .collect();
    let chains = FmaChains::new(kernel, if opts.quick { 0.002 } else { 0.005 })
        .ok_or_else(|| Error::invalid("bench matmul", "no FMA chains for the best kernel"))?;
    let (mr, nr) = kernel.tile_shape();
    let kc = mm::BlockSizes::for_tile(CacheSizes::detect(), mr, nr, 4).kc;
    let kernel_alone = kernel_only(kernel, kc, 0.1).unwrap_or(f64::NAN);
    let mut peak =
        PeakReport { kernel_only: kernel_alone, kernel, best: threads.iter().map(|&t| (t, 0.0)).collect(), per_kernel };
    let missing: Vec<&str> =
        [Kernel::Avx2, Kernel::Avx512].into_iter().filter(|k| !k.is_supported()).map(Kernel::name).collect();
    if !missing.is_empty() {
        say(format!(
            "not measured: this CPU cannot run the {} kernel(s) (their rungs are left out)",
            missing.join(" and ")
        ));
    }
    say(format!(
        "FMA peak per core: {}; {} microkernel alone: {kernel_alone:.1} GFLOP/s",
        peak.per_kernel.iter().map(|(k, g)| format!("{} {g:.1} GFLOP/s", k.name())).collect::<Vec<_>>().join(", "),
        kernel.name()
    ));

    // Configurations: single-threaded rungs at 1 thread, the others at every thread count.
    let mut configs: Vec<(Implementation, usize)> = Vec::new();
    for rung in Rung::ladder() {
        if matches!(rung, Rung::Parallel(_)) {
            configs.extend(threads.iter().map(|&t| (Implementation::Rung(rung), t)));
        } else {
            configs.push((Implementation::Rung(rung), 1));
        }
    }
    configs.extend(threads.iter().map(|&t| (Implementation::Prepacked(kernel), t)));
    configs.extend(threads.iter().map(|&t| (Implementation::MatrixMultiply, t)));

    let shapes = opts.shapes.clone().unwrap_or_else(|| bert_shapes(opts.quick));
    let pool_of = |t: usize| &pools.iter().find(|(pt, _)| *pt == t).expect("pool").1;
    // times[shape][config], and the FMA peak measured beside each shape, per thread count.
    let mut times: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); configs.len()]; shapes.len()];
    let mut local_peak: Vec<Vec<f64>> = vec![vec![0.0; pools.len()]; shapes.len()];
    let mut packing: Vec<f64> = vec![f64::INFINITY; shapes.len()];
    let passes = opts.passes.max(1);
    for pass in 0..passes {
        for (si, shape) in shapes.iter().enumerate() {
            // Fresh buffers each pass, so no pass depends on one lucky (or unlucky) alignment.
            let mut rng = Rng::new(42 + pass as u64);
            let mut random = |len: usize| (0..len).map(|_| rng.uniform() * 2.0 - 1.0).collect::<Vec<f32>>();
            let (a, b) = (random(shape.a_len()), random(shape.b_len()));
            let mut c = vec![0.0f32; shape.c_len()];
            // B packed ahead of time for the prepacked rows (one thread), its cost noted.
            let packed = if shape.batch == 1 {
                let start = Instant::now();
                let packed = one.install(|| PackedB::new(shape.b_view(&b)))?;
                packing[si] = packing[si].min(start.elapsed().as_secs_f64());
                Some(packed)
            } else {
                None
            };
            let packed = packed.as_ref();
            // Warm up every configuration once (page faults, packing buffers, thread wake-up).
            for &(imp, t) in configs.iter().filter(|(imp, _)| imp.applies(shape)) {
                time_once(shape, imp, pool_of(t), &a, &b, packed, &mut c, imp.rows_timed(shape.m, opts.quick))?;
            }
            // Round-robin until every configuration has this pass's share of repetitions, with
            // a peak measurement per thread count in every round. Each turn is a short burst of
            // back-to-back repetitions (as in a forward pass, where threads stay awake).
            let (min_reps, max_reps) = if opts.quick { (2, 40) } else { (3, 200) };
            let (min_reps, max_reps) = ((pass + 1) * min_reps / passes, (pass + 1) * max_reps / passes);
            let min_time = opts.min_time * (pass + 1) as f64 / passes as f64;
            let burst = if opts.quick { 0.002 } else { 0.01 };
            let done =
                |ts: &Vec<f64>| ts.len() >= max_reps || (ts.len() >= min_reps && ts.iter().sum::<f64>() >= min_time);
            let ts = &mut times[si];
            let live: Vec<bool> = configs.iter().map(|(imp, _)| imp.applies(shape)).collect();
            while !ts.iter().zip(&live).all(|(ts, &live)| !live || done(ts)) {
                for (lp, (_, pool)) in local_peak[si].iter_mut().zip(&pools) {
                    *lp = lp.max(chains.run(pool));
                }
                for (i, &(imp, t)) in configs.iter().enumerate().filter(|&(i, _)| live[i]) {
                    let rows = imp.rows_timed(shape.m, opts.quick);
                    let start = Instant::now();
                    while !done(&ts[i]) {
                        ts[i].push(time_once(shape, imp, pool_of(t), &a, &b, packed, &mut c, rows)?);
                        if start.elapsed().as_secs_f64() >= burst {
                            break;
                        }
                    }
                }
            }
            if pass + 1 == passes {
                say(report::shape_line_times(shape, &configs, &times[si], opts.quick));
            }
        }
    }
    let mut results = Vec::new();
    for (si, shape) in shapes.iter().enumerate() {
        for ((_, best), lp) in peak.best.iter_mut().zip(&local_peak[si]) {
            *best = best.max(*lp);
        }
        for (i, &(imp, t)) in configs.iter().enumerate().filter(|(_, (imp, _))| imp.applies(shape)) {
            let mut ts = times[si][i].clone();
            ts.sort_by(f64::total_cmp);
            let rows = imp.rows_timed(shape.m, opts.quick);
            let flops = shape.flops() * rows as f64 / shape.m.max(1) as f64;
            let gflops = flops / ts[0] / 1e9;
            let peak_gflops =
                pools.iter().zip(&local_peak[si]).find(|((pt, _), _)| *pt == t).map_or(f64::NAN, |(_, p)| *p);
            results.push(Measurement {
                shape: shape.clone(),
                implementation: imp,
                threads: t,
                rows_timed: rows,
                reps: ts.len(),
                best_s: ts[0],
                median_s: ts[ts.len() / 2],
                gflops,
                pct_of_peak: 100.0 * gflops / peak_gflops,
                peak_gflops,
            });
        }
    }
    // Each lower precision against its own peak, on the Linear shapes (the same M values).
    let (lower_precision, lowp_table) = if opts.shapes.is_none() {
        let ms: &[usize] = if opts.quick { &[128] } else { &[128, 1024] };
        say("lower precision: int8 / bf16 / f16 GEMMs, each against its own peak".into());
        super::matmul_lowp::run_lowp(ms, &pools, opts.min_time)?
    } else {
        (Vec::new(), String::new())
    };
    let load_after = load_average();
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let report = BenchReport {
        lower_precision,
        peak,
        results,
        load_before,
        load_after,
        packing: shapes
            .iter()
            .zip(&packing)
            .filter(|(_, p)| p.is_finite())
            .map(|(s, p)| (s.name.clone(), *p))
            .collect(),
        csv: opts.out_dir.join("matmul.csv"),
        markdown: opts.out_dir.join("matmul.md"),
        svg: opts.out_dir.join("matmul.svg"),
    };
    let mut tables = report::tables(&report, &configs);
    if !lowp_table.is_empty() {
        tables.push_str("\n## Lower precision, each against its own peak\n\n");
        tables.push_str(&lowp_table);
    }
    say(tables.clone());
    report::write_csv(&report)?;
    std::fs::write(&report.markdown, &tables).map_err(|e| Error::file(&report.markdown, e))?;
    report::plot(&report, &configs)?;
    say(format!("wrote {}, {} and {}", report.csv.display(), report.markdown.display(), report.svg.display()));
    Ok(report)
}

/// Times one repetition of `imp` on `shape` (first `rows` rows of A) in `pool`.
#[allow(clippy::too_many_arguments)]
fn time_once(
    s: &Shape,
    imp: Implementation,
    pool: &ThreadPool,
    a: &[f32],
    b: &[f32],
    packed: Option<&PackedB>,
    c: &mut [f32],
    rows: usize,
) -> Result<f64> {
    let offsets = |stride: usize| (0..s.batch).map(|t| t * stride).collect::<Vec<_>>();
    let (a_offs, b_offs, c_offs) = (offsets(s.stride_a), offsets(s.stride_b), offsets(s.stride_c));
    let (m, k, n) = (rows, s.k, s.n);
    let a_view = MatRef::strided(a, m, k, s.lda);
    let b_view = s.b_view(b);
    let at = |off: usize| MatRef { data: &a[off..], ..a_view };
    let bt = |off: usize| MatRef { data: &b[off..], ..b_view };
    let start = Instant::now();
    pool.install(|| -> Result<()> {
        match imp {
            // Multi-threaded configurations: the batched driver when there is a batch
            // (threads take whole heads), else the rung / backend itself.
            Implementation::Rung(Rung::Parallel(_)) | Implementation::MatrixMultiply if s.batch > 1 => {
                let gemm = if imp == Implementation::MatrixMultiply { Gemm::matrixmultiply() } else { Gemm::default() };
                let strides = mm::BatchStrides { a: s.stride_a, b: s.stride_b, c: s.stride_c };
                gemm.sgemm_batched(s.batch, strides, a_view, b_view, MatMut::strided(c, m, n, s.ldc))
            }
            Implementation::Prepacked(_) => {
                let packed = packed.ok_or_else(|| Error::invalid("bench matmul", "prepacked B missing"))?;
                sgemm_prepacked(a_view, packed, MatMut::strided(c, m, n, s.ldc), Epilogue::None)
            }
            Implementation::MatrixMultiply => {
                Gemm::matrixmultiply().sgemm(a_view, b_view, MatMut::strided(c, m, n, s.ldc), Epilogue::None)
            }
            Implementation::Rung(rung) => {
                for t in 0..s.batch {
                    let (ao, bo, co) = (a_offs[t], b_offs[t], c_offs[t]);
                    sgemm_rung(rung, at(ao), bt(bo), MatMut::strided(&mut c[co..], m, n, s.ldc))?;
                }
                Ok(())
            }
        }
    })?;
    Ok(start.elapsed().as_secs_f64())
}
