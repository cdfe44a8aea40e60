//! `nanobert classify`, `rerank`, `ner`, `qa`: the fine-tuned heads from the command line.
//! Each prints a table, or one JSON object per line with `--json`.

use nanobert::pipeline::{Classifier, QuestionAnswerer, Reranker, TokenClassifier};
use nanobert::{Error, Result};

/// The one truncation warning on stderr for the tokens each result lost (`limit`: the model's).
fn warn_cut(cut: impl Iterator<Item = usize>, limit: usize) {
    let mut t = nanobert::pipeline::Truncation { max_len: limit, ..Default::default() };
    for n in cut.filter(|&n| n > 0) {
        t.texts += 1;
        t.tokens += n;
    }
    crate::session::warn_truncation(t);
}

fn json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Input(format!("JSON: {e}")))
}

/// `classify [--pairs] [--json] TEXT...`: labels best first (with `--pairs`, texts are read
/// two at a time as `[CLS] A [SEP] B [SEP]`).
pub fn classify(c: &Classifier, texts: &[String], pairs: bool, as_json: bool) -> Result<()> {
    let results = if pairs {
        if !texts.len().is_multiple_of(2) {
            return Err(Error::Input(format!(
                "--pairs takes texts two at a time (A B A B ...), got {} texts",
                texts.len()
            )));
        }
        let ps: Vec<(&str, &str)> = texts.chunks(2).map(|p| (p[0].as_str(), p[1].as_str())).collect();
        c.predict_pairs(&ps)?
    } else {
        c.predict(&texts.iter().map(String::as_str).collect::<Vec<_>>())?
    };
    warn_cut(results.iter().map(|r| r.truncated_tokens), c.tokenizer.max_len());
    for r in &results {
        if as_json {
            outln!("{}", json(r)?);
        } else {
            match &r.pair {
                Some(p) => outln!("{} | {}", r.text, p),
                None => outln!("{}", r.text),
            }
            for l in &r.labels {
                outln!("  {:<24} {:.4}", l.label, l.score);
            }
        }
    }
    Ok(())
}

/// `rerank QUERY DOC... [--json]`: documents by cross-encoder relevance, best first.
pub fn rerank(r: &Reranker, query: &str, docs: &[String], as_json: bool) -> Result<()> {
    let ranked = r.rerank(query, &docs.iter().map(String::as_str).collect::<Vec<_>>())?;
    warn_cut(ranked.iter().map(|x| x.truncated_tokens), r.tokenizer.max_len());
    if !as_json {
        outln!("query: {query}");
        outln!("{:>4}  {:>8}  {:>8}  document", "rank", "score", "logit");
    }
    for (i, x) in ranked.iter().enumerate() {
        if as_json {
            outln!("{}", json(x)?);
        } else {
            outln!("{:>4}  {:>8.4}  {:>8.4}  {}", i + 1, x.score, x.logit, x.document);
        }
    }
    Ok(())
}

/// `ner [--tokens] [--json] TEXT...`: entities (grouped like transformers' aggregation
/// `simple`), or every token's label with `--tokens`.
pub fn ner(t: &TokenClassifier, texts: &[String], tokens: bool, as_json: bool) -> Result<()> {
    let cut = texts.iter().map(|text| t.tokenizer.dropped_tokens(text, None)).collect::<Result<Vec<_>>>()?;
    warn_cut(cut.into_iter(), t.tokenizer.max_len());
    for text in texts {
        if tokens {
            let preds = t.predict_tokens(text)?;
            if as_json {
                outln!("{}", json(&serde_json::json!({ "text": text, "tokens": preds }))?);
            } else {
                outln!("{text}");
                for p in &preds {
                    outln!("  {:<16} {:<10} {:.4}  [{}..{}]", p.word, p.entity, p.score, p.start, p.end);
                }
            }
        } else {
            let ents = t.predict(text)?;
            if as_json {
                outln!("{}", json(&serde_json::json!({ "text": text, "entities": ents }))?);
            } else {
                outln!("{text}");
                if ents.is_empty() {
                    outln!("  (no entities)");
                }
                for e in &ents {
                    outln!("  {:<8} {:.4}  [{}..{}]  {}", e.entity_group, e.score, e.start, e.end, e.word);
                }
            }
        }
    }
    Ok(())
}

/// `qa QUESTION CONTEXT [--json]`: the span of the context that answers the question.
pub fn qa(q: &QuestionAnswerer, question: &str, context: &str, as_json: bool) -> Result<()> {
    let a = q.answer(question, context)?;
    if as_json {
        outln!("{}", json(&serde_json::json!({ "question": question, "answer": a }))?);
    } else {
        outln!("question: {question}");
        outln!("answer:   {} (score {:.4}, characters {}..{})", a.answer, a.score, a.start, a.end);
    }
    Ok(())
}
