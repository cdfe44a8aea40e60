//! Embeddings are lookup tables: the vector for a token is one row of a matrix.
//!
//! We look a word up in BERT's word-embedding table two ways — by indexing the row, and by
//! multiplying a one-hot vector with the whole table — and get the same numbers. Then we
//! show that BERT's input is just three such rows added up.
//!
//! ```sh
//! cargo run --release --example embeddings_are_lookup_tables
//! ```

use nanobert::io::{Checkpoint, fetch};
use nanobert::text::Tokenizer;
use nanobert::{Tensor, ops};

fn main() -> nanobert::Result<()> {
    let dir = match std::env::args().nth(1) {
        Some(d) => d.into(),
        None => fetch::ensure_minilm(true)?,
    };
    let ckpt = Checkpoint::open(&dir)?;
    let table = ckpt.weights.get("bert.embeddings.word_embeddings.weight")?; // [vocab, hidden]
    let (vocab, hidden) = (table.shape()[0], table.shape()[1]);
    println!("word_embeddings: a table of {vocab} rows (one per token) x {hidden} numbers");

    let tok = Tokenizer::from_checkpoint(&ckpt, 512)?;
    let id = tok.token_to_id("coffee").unwrap_or(100);
    println!("token \"coffee\" has id {id}");

    // 1. Look it up: row `id` of the table.
    let row = ops::embedding(&table, &[id], &[1])?;
    // 2. Multiply: a one-hot row vector [1, vocab] times the table [vocab, hidden].
    let mut one_hot = vec![0.0f32; vocab];
    one_hot[id as usize] = 1.0;
    let product = ops::matmul::matmul(&Tensor::from_vec(one_hot, &[1, vocab])?, &table)?;
    let diff = row.max_abs_diff(&product)?; // an error, not 0, if either holds NaN/inf
    println!("lookup      : {}", row.narrow(1, 0, 6)?);
    println!("one-hot x W : {}", product.narrow(1, 0, 6)?);
    println!("max difference: {diff} (a lookup is a matmul with a one-hot vector, minus the wasted work)");

    // BERT's input for a token = word row + position row + token-type row, then LayerNorm.
    let pos = ckpt.weights.get("bert.embeddings.position_embeddings.weight")?;
    let typ = ckpt.weights.get("bert.embeddings.token_type_embeddings.weight")?;
    println!(
        "\nthe other two tables: position_embeddings {:?} (one row per position), token_type_embeddings {:?}",
        pos.shape(),
        typ.shape()
    );
    Ok(())
}
