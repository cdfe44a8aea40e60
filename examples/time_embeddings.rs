//! Time sentence embeddings end to end (tokenize, BERT, pooling) with all-MiniLM-L6-v2:
//! best of 5 runs over the lines of a text file, in this process (no start-up or loading).
//!
//! ```sh
//! cargo run --release --example time_embeddings -- [texts.txt] [threads]
//! python3 scripts/time_sentence_transformers.py examples/data/sentences.txt [threads]   # the same, in PyTorch
//! ```
//!
//! The default text file, `examples/data/sentences.txt`, ships with the repository: 40 sentences
//! of 1 to 30 words (short replies, questions, code, numbers, accents). Times depend on the CPU
//! and on what else runs on it: compare the two commands side by side, on one machine.

use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::Embedder;

fn main() -> nanobert::Result<()> {
    let mut args = std::env::args().skip(1);
    let file =
        args.next().unwrap_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sentences.txt").into());
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(2);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| nanobert::Error::Input(e.to_string()))?;
    let text = std::fs::read_to_string(&file).map_err(|e| nanobert::Error::file(&file, e))?;
    let texts: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let embedder = Embedder::from_checkpoint(&Checkpoint::open(&fetch::ensure_minilm(true)?)?)?;
    embedder.embed(&texts[..texts.len().min(2)])?; // warm-up: page in the weights, pack them
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t = std::time::Instant::now();
        embedder.embed(&texts)?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("nanobert ({threads} threads): best of 5 = {:.0} ms for {} texts", best * 1e3, texts.len());
    Ok(())
}
