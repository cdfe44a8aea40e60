//! Fill-mask: which words fit where `[MASK]` stands.
//!
//! Needs a BERT checkpoint with its masked-language-model head, such as bert-base-uncased
//! (config.json, model.safetensors, vocab.txt or tokenizer.json in one directory).
//!
//! ```sh
//! cargo run --release --example fill_mask -- path/to/bert-base-uncased "The capital of France is [MASK]."
//! cargo run --release --example fill_mask -- tests/fixtures/tiny-bert   # a tiny random model: random answers
//! ```

use nanobert::io::Checkpoint;
use nanobert::pipeline::FillMask;

fn main() -> nanobert::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "tests/fixtures/tiny-bert".into());
    let texts: Vec<String> = args.collect();
    let texts = if texts.is_empty() { vec!["The capital of France is [MASK].".to_string()] } else { texts };
    let fm = FillMask::from_checkpoint(&Checkpoint::open(dir.as_ref())?)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    for r in fm.predict(&refs, 5)? {
        println!("{}", r.text);
        for m in &r.masks {
            for c in &m.top {
                println!("  {:<12} p = {:.4}", c.token, c.score);
            }
        }
    }
    Ok(())
}
