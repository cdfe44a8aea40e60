//! What the server's length bucketing buys: the texts of `bench serve`'s corpus in groups of
//! `N` (what queues up under load), each group cut into model calls by the one-call-per-budget
//! plan the server used before (every text padded to the longest, up to the token budget)
//! and by `pipeline::token_budget_plan` (padding weighed against a call's fixed cost), timed
//! interleaved on the same model.
//!
//! ```text
//! cargo run --release -p nanobert-serve --example padding_plans -- ~/.cache/nanobert/models/all-MiniLM-L6-v2 32
//! ```

use std::time::Instant;

use nanobert::io::Checkpoint;
use nanobert::pipeline::{Embedder, bucket_order, sub_batch, token_budget_plan};

/// The earlier plan: sorted by length, one call until the next text would pass the budget.
fn one_call_per_budget(lengths: &[usize], max_tokens: usize) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut group: Vec<usize> = Vec::new();
    for i in bucket_order(lengths) {
        if !group.is_empty() && (group.len() + 1) * lengths[i] > max_tokens {
            out.push(std::mem::take(&mut group));
        }
        group.push(i);
    }
    if !group.is_empty() {
        out.push(group);
    }
    out
}

fn main() -> nanobert::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or_else(|| nanobert::Error::Input("usage: padding_plans MODEL_DIR [N]".into()))?;
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(32).max(1);
    let emb = Embedder::from_checkpoint(&Checkpoint::open(std::path::Path::new(&dir))?)?;
    let texts = nanobert_serve::loadtest::corpus(256);
    // [plan] -> (seconds, calls, padded tokens); round 0 warms up.
    let mut totals = [(0.0f64, 0usize, 0usize); 2];
    let rounds = 6;
    for round in 0..rounds {
        for chunk in texts.chunks(n) {
            let strs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            let all = emb.tokenizer.encode_batch(&strs)?;
            let lengths = all.lengths();
            let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
            for which in order {
                let plan =
                    if which == 0 { one_call_per_budget(&lengths, 4096) } else { token_budget_plan(&lengths, 4096) };
                let t = Instant::now();
                let mut padded = 0;
                for g in &plan {
                    let b = sub_batch(&all, g);
                    padded += b.batch * b.seq_len;
                    emb.embed_batch(&b, None)?;
                }
                if round > 0 {
                    let s = &mut totals[which];
                    s.0 += t.elapsed().as_secs_f64();
                    s.1 += plan.len();
                    s.2 += padded;
                }
            }
        }
    }
    let done = ((rounds - 1) * texts.len()) as f64;
    let [old, new] = totals;
    println!(
        "groups of {n} texts: one call per budget {:.1} texts/s ({} calls, {} padded tokens); \
         token_budget_plan {:.1} texts/s ({} calls, {} padded tokens); {:.2}x",
        done / old.0,
        old.1,
        old.2,
        done / new.0,
        new.1,
        new.2,
        old.0 / new.0
    );
    Ok(())
}
