//! Runs one GEMM configuration in a loop, for `perf record` (docs/matmul.md, "Where the
//! percent goes"): `gemm_loop IMPL THREADS M K N SECONDS [LAYOUT]`, IMPL one of `public`,
//! `prepacked`, `matrixmultiply`; B is a Linear weight stored `[n, k]` (A·Bᵀ, LAYOUT `out-in`,
//! the default) or `[k, n]` (A·B, LAYOUT `in-out`). Prints the GFLOP/s of the fastest
//! repetition.

use std::time::Instant;

use nanobert::ops::matmul::{Epilogue, Gemm, MatMut, MatRef, PackedB};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: gemm_loop public|prepacked|matrixmultiply THREADS M K N SECONDS [out-in|in-out]";
    let mut args = args;
    let layout = if args.len() == 7 { args.pop().unwrap_or_default() } else { "out-in".into() };
    let [imp, threads, m, k, n, seconds] = <[String; 6]>::try_from(args).map_err(|_| usage)?;
    let (threads, m, k, n): (usize, usize, usize, usize) = (threads.parse()?, m.parse()?, k.parse()?, n.parse()?);
    let seconds: f64 = seconds.parse()?;
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7 % 13) as f32 - 6.0) / 8.0).collect();
    let w: Vec<f32> = (0..n * k).map(|i| ((i * 5 % 11) as f32 - 5.0) / 8.0).collect();
    let mut c = vec![0.0f32; m * n];
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let b = match layout.as_str() {
        "out-in" => MatRef::new(&w, n, k).t(),
        "in-out" => MatRef::new(&w, k, n),
        _ => return Err(usage.into()),
    };
    let packed = PackedB::new(b)?;
    let (mut best, start) = (f64::INFINITY, Instant::now());
    let mut reps = 0usize;
    while start.elapsed().as_secs_f64() < seconds {
        let t = Instant::now();
        pool.install(|| match imp.as_str() {
            "public" => Gemm::default().sgemm(MatRef::new(&a, m, k), b, MatMut::new(&mut c, m, n), Epilogue::None),
            "prepacked" => Gemm::default().sgemm_prepacked(
                MatRef::new(&a, m, k),
                &packed,
                MatMut::new(&mut c, m, n),
                Epilogue::None,
            ),
            "matrixmultiply" => {
                Gemm::matrixmultiply().sgemm(MatRef::new(&a, m, k), b, MatMut::new(&mut c, m, n), Epilogue::None)
            }
            _ => Err(nanobert::Error::invalid("gemm_loop", usage)),
        })?;
        best = best.min(t.elapsed().as_secs_f64());
        reps += 1;
    }
    println!(
        "{imp} x{threads} {m}x{k}x{n} {layout}: {:.1} GFLOP/s ({reps} reps)",
        2.0 * (m * k * n) as f64 / best / 1e9
    );
    Ok(())
}
