//! `print(model)`, in Rust: load a checkpoint and print its module tree exactly as PyTorch
//! prints the same transformers model, then count its parameters.
//!
//! ```sh
//! cargo run --release --example print_model                 # all-MiniLM-L6-v2 (fetched when absent)
//! cargo run --release --example print_model -- tests/fixtures/tiny-bert
//! ```

use nanobert::io::{Checkpoint, fetch};

fn main() -> nanobert::Result<()> {
    let dir = match std::env::args().nth(1) {
        Some(d) => d.into(),
        None => fetch::ensure_minilm(true)?,
    };
    let (tree, params) = nanobert::pipeline::describe(&Checkpoint::open(&dir)?)?;
    println!("{tree}");
    println!("parameters: {params}");
    Ok(())
}
