//! Sentence similarity: embed texts with all-MiniLM-L6-v2 (mean pooling, unit length) and
//! rank them by cosine similarity to a query.
//!
//! ```sh
//! cargo run --release --example sentence_similarity
//! ```

use nanobert::bert::pooling::cosine;
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::Embedder;

fn main() -> nanobert::Result<()> {
    let embedder = Embedder::from_checkpoint(&Checkpoint::open(&fetch::ensure_minilm(true)?)?)?;
    let query = "How do I make my code faster?";
    let docs = [
        "Profile first, then optimize the hot loop.",
        "The weather will be sunny tomorrow.",
        "Use a better algorithm and avoid needless allocations.",
        "My cat sleeps all day.",
    ];
    let mut texts = vec![query];
    texts.extend(docs);
    let v = embedder.embed(&texts)?;
    println!("embedding size: {} (pooling {:?}, normalized: {})", v[0].len(), embedder.pooling, embedder.normalize);
    let mut ranked: Vec<(f32, &str)> = docs.iter().enumerate().map(|(i, d)| (cosine(&v[0], &v[i + 1]), *d)).collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("query: {query}");
    for (score, doc) in ranked {
        println!("  {score:.4}  {doc}");
    }
    Ok(())
}
