//! Sentence similarity: embed texts with all-MiniLM-L6-v2 (mean pooling, unit length) and
//! rank them by cosine similarity to a query.
//!
//! ```sh
//! cargo run --release --example sentence_similarity
//! ```

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
    let dims = embedder.dimension()?;
    let modules: Vec<String> = embedder.head.modules.iter().map(|m| m.describe()).collect();
    println!("embedding size: {dims} (after the transformer: {})", modules.join(" -> "));
    // Embed the query and the documents, then sort the documents by cosine similarity.
    println!("query: {query}");
    for (score, d) in embedder.rank(query, &docs)? {
        println!("  {score:.4}  {}", docs[d]);
    }
    Ok(())
}
