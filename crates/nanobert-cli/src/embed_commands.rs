//! `nanobert similarity` and `nanobert demo`: ranking documents by embedding similarity.

use std::path::Path;

use nanobert::pipeline::{self, Embedder, FillMask};
use nanobert::{Error, Result};

use crate::session::*;

pub(crate) fn similarity_table(e: &Embedder, query: &str, docs: &[&str], check_finite: bool) -> Result<()> {
    let mut texts = vec![query];
    texts.extend_from_slice(docs);
    check_and_warn(&e.tokenizer, &texts)?;
    let ranked = e.rank(query, docs)?;
    if check_finite && ranked.iter().any(|(s, _)| !s.is_finite()) {
        let v = e.embed(&texts)?;
        nanobert::finite::check_rows(&e.model, &e.tokenizer, &texts, v.iter().map(Vec::as_slice), "embedding", 1)?;
        let first = ranked.iter().find(|(s, _)| !s.is_finite()).map_or(0, |r| r.1);
        let what = format!("the {} similarity of document #{}", e.similarity_fn().name(), first + 1);
        return Err(nanobert::finite::non_finite_error(&what, None));
    }
    outln!("query: {}", pipeline::one_line(query));
    outln!("{:>4}  {:>7}  document", "rank", e.similarity_fn().name());
    for (i, (score, d)) in ranked.iter().enumerate() {
        outln!("{:>4}  {:>7.4}  {}", i + 1, score, pipeline::one_line(docs[*d]));
    }
    Ok(())
}

pub(crate) fn demo(s: &Session, mlm: Option<&Path>) -> Result<()> {
    // --mlm is checked before any work: a wrong path fails at once, not after the search demo.
    let fm = match mlm {
        Some(dir) => {
            let b = s.builder::<FillMask>();
            Some(b.open(dir).map_err(|e| Error::Input(format!("--mlm: {e}")))?)
        }
        None => None,
    };
    let t0 = std::time::Instant::now();
    let ckpt = s.open()?;
    let e: Embedder = s.load(&ckpt)?;
    outln!("model: {} (loaded in {:.2?})\n", ckpt.dir.display(), t0.elapsed());
    let docs = [
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "A cheetah chases its prey across the savanna.",
        "The stock market fell sharply on Monday.",
        "Someone is having breakfast.",
        "A dog runs through the park.",
    ];
    let t1 = std::time::Instant::now();
    similarity_table(&e, "A person is eating food.", &docs, s.check_finite())?;
    outln!("\n(embedded {} texts in {:.2?})", docs.len() + 1, t1.elapsed());
    match fm {
        Some(fm) => {
            outln!();
            for r in fm.predict(&["The capital of France is [MASK].", "I drank a cup of [MASK] this morning."], 5)? {
                let top: Vec<String> = r.masks[0].top.iter().map(|c| format!("{} ({:.3})", c.token, c.score)).collect();
                outln!("{}\n  -> {}", r.text, top.join(", "));
            }
        }
        None => outln!(
            "\nfill-mask needs a masked-language-model checkpoint: nanobert demo --mlm path/to/bert-base-uncased"
        ),
    }
    Ok(())
}
