//! # Many inputs, nothing lost: texts in, JSON lines out, as they go
//!
//! `nanobert embed --input texts.txt` (or `-` for stdin) reads one text per line — or JSON
//! lines with a `"text"` field, recognized when the first non-blank line is a JSON object — and
//! writes one JSON object per input line *as each batch finishes*, in input order. Memory stays
//! bounded by one batch ([`crate::pipeline::BATCH_SIZE`] texts) whatever the input size.
//!
//! A bad line (invalid UTF-8, invalid JSON, no `"text"`, an empty text) stops the run with an
//! error naming its line number — after the results of every line before it have been written
//! and flushed, so nothing already computed is lost.

use std::io::{BufRead, Write};

use crate::pipeline::{BATCH_SIZE, Embedder, FillMask, FillMaskResult, Truncation};
use crate::{Error, Result};

/// One text of an input stream with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the input.
    pub number: usize,
    /// The text (the line itself, or its JSON `"text"` field).
    pub text: String,
}

/// Lines of a reader as texts: plain lines, or JSON lines with a `"text"` field when the first
/// non-blank line starts with `{`. Blank lines are skipped in JSONL; in plain text a blank line
/// is an (empty) text, which the pipelines reject with its line number.
pub struct Texts<R> {
    reader: R,
    number: usize,
    jsonl: Option<bool>,
    done: bool,
}

impl<R: BufRead> Texts<R> {
    /// Reads from `reader` (a file, or locked stdin).
    pub fn new(reader: R) -> Texts<R> {
        Texts { reader, number: 0, jsonl: None, done: false }
    }
}

impl<R: BufRead> Iterator for Texts<R> {
    type Item = Result<Line>;

    fn next(&mut self) -> Option<Result<Line>> {
        while !self.done {
            let mut buf = Vec::new();
            match self.reader.read_until(b'\n', &mut buf) {
                Ok(0) => {
                    self.done = true;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.done = true;
                    return Some(Err(Error::Input(format!("line {}: cannot read input: {e}", self.number + 1))));
                }
            }
            self.number += 1;
            let n = self.number;
            if buf.last() == Some(&b'\n') {
                buf.pop();
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
            }
            let line = match String::from_utf8(buf) {
                Ok(s) => s,
                Err(e) => {
                    self.done = true;
                    let at = e.utf8_error().valid_up_to();
                    return Some(Err(Error::Input(format!("line {n}: not valid UTF-8 (at byte {at} of the line)"))));
                }
            };
            let jsonl = *self.jsonl.get_or_insert_with(|| line.trim_start().starts_with('{'));
            if !jsonl {
                return Some(Ok(Line { number: n, text: line }));
            }
            if line.trim().is_empty() {
                continue;
            }
            let text = serde_json::from_str::<serde_json::Value>(&line)
                .map_err(|e| format!("invalid JSON ({e})"))
                .and_then(|v| match v.get("text") {
                    Some(serde_json::Value::String(t)) => Ok(t.clone()),
                    Some(_) => Err("the \"text\" field is not a string".into()),
                    None => Err("a JSON line needs a \"text\" field".into()),
                });
            return Some(match text {
                Ok(text) => Ok(Line { number: n, text }),
                Err(msg) => {
                    self.done = true;
                    Err(Error::Input(format!("line {n}: {msg}")))
                }
            });
        }
        None
    }
}

/// Writes one JSON line and flushes, ending quietly (`Ok(false)`) if the reader went away.
fn write_line(out: &mut dyn Write, value: &serde_json::Value) -> Result<bool> {
    match writeln!(out, "{value}").and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Error::Input(format!("writing output: {e}"))),
    }
}

/// Feeds `texts` to `run` in batches of [`BATCH_SIZE`]; a bad line first lets the batch before it
/// finish (and be written), then is reported. `run` gets the batch and returns `false` to stop.
fn batched(
    texts: impl Iterator<Item = Result<Line>>,
    mut run: impl FnMut(&[Line]) -> Result<bool>,
    check: impl Fn(&Line) -> Result<()>,
) -> Result<()> {
    let mut pending: Vec<Line> = Vec::with_capacity(BATCH_SIZE);
    for item in texts {
        let line = match item.and_then(|l| check(&l).map(|()| l)) {
            Ok(l) => l,
            Err(e) => {
                if !pending.is_empty() {
                    run(&pending)?;
                }
                return Err(e);
            }
        };
        pending.push(line);
        if pending.len() == BATCH_SIZE {
            if !run(&pending)? {
                return Ok(());
            }
            pending.clear();
        }
    }
    if !pending.is_empty() {
        run(&pending)?;
    }
    Ok(())
}

/// The empty-text rule of [`crate::pipeline::check_texts_numbered`], with the line number.
fn check_line(tokenizer: &crate::text::Tokenizer, line: &Line, truncation: &mut Truncation) -> Result<()> {
    let t = crate::pipeline::check_texts_numbered(tokenizer, &[&line.text], 1)
        .map_err(|e| Error::Input(format!("line {}: {}", line.number, e.to_string().replace("text #1 ", "text "))))?;
    truncation.add(t);
    Ok(())
}

/// Embeds every text of `texts`, writing `{"line", "text", "embedding"}` JSON lines to `out` as
/// each batch finishes. `check_finite` refuses NaN/inf results (naming the module). Returns what
/// truncation dropped.
pub fn embed_jsonl(
    embedder: &Embedder,
    prompt: Option<&str>,
    texts: impl Iterator<Item = Result<Line>>,
    out: &mut dyn Write,
    check_finite: bool,
) -> Result<Truncation> {
    jsonl(&embedder.tokenizer, texts, out, "embedding", |lines, strs| {
        let vectors = line_error(lines, embed_checked(embedder, strs, prompt, check_finite))?;
        Ok(vectors.iter().map(|v| serde_json::json!(v)).collect())
    })
}

/// Fill-mask on every text of `texts`, writing `{"line", "text", "masks"}` JSON lines to `out`
/// as each batch finishes (see [`embed_jsonl`]).
pub fn fill_mask_jsonl(
    fill_mask: &FillMask,
    texts: impl Iterator<Item = Result<Line>>,
    top_k: usize,
    out: &mut dyn Write,
    check_finite: bool,
) -> Result<Truncation> {
    jsonl(&fill_mask.tokenizer, texts, out, "masks", |lines, strs| {
        let results = line_error(lines, fill_mask_checked(fill_mask, strs, top_k, check_finite))?;
        Ok(results.iter().map(|r| serde_json::json!(r.masks)).collect())
    })
}

/// The embeddings of `texts`; with `check_finite`, an error naming the text and the first module
/// that produced a NaN/inf instead of a non-finite vector. One batch, streamed or not.
pub fn embed_checked(
    embedder: &Embedder,
    texts: &[&str],
    prompt: Option<&str>,
    check_finite: bool,
) -> Result<Vec<Vec<f32>>> {
    let vectors = embedder.embed_with_prompt(texts, prompt)?;
    if check_finite {
        let rows = vectors.iter().map(Vec::as_slice);
        crate::finite::check_rows(&embedder.model, &embedder.tokenizer, texts, rows, "embedding", 1)?;
    }
    Ok(vectors)
}

/// Fill-mask on `texts`; with `check_finite`, non-finite scores are an error (see
/// [`embed_checked`]).
pub fn fill_mask_checked(
    fill_mask: &FillMask,
    texts: &[&str],
    top_k: usize,
    check_finite: bool,
) -> Result<Vec<FillMaskResult>> {
    let results = fill_mask.predict(texts, top_k)?;
    if check_finite {
        let scores: Vec<Vec<f32>> =
            results.iter().map(|r| r.masks.iter().flat_map(|m| m.top.iter().map(|c| c.score)).collect()).collect();
        let rows = scores.iter().map(Vec::as_slice);
        crate::finite::check_rows(&fill_mask.model.bert, &fill_mask.tokenizer, texts, rows, "fill-mask scores", 1)?;
    }
    Ok(results)
}

/// The one JSONL writer: checks each line (empty texts, truncation), runs `compute` on each batch
/// (its texts, one JSON value per text) and writes `{"line", "text", field: value}` per input
/// line, flushing each batch; stops quietly when the reader went away.
fn jsonl(
    tokenizer: &crate::text::Tokenizer,
    texts: impl Iterator<Item = Result<Line>>,
    out: &mut dyn Write,
    field: &str,
    mut compute: impl FnMut(&[Line], &[&str]) -> Result<Vec<serde_json::Value>>,
) -> Result<Truncation> {
    let truncation = std::cell::RefCell::new(Truncation::default());
    batched(
        texts,
        |lines| {
            let strs: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
            for (l, v) in lines.iter().zip(compute(lines, &strs)?) {
                let mut value = serde_json::json!({ "line": l.number, "text": l.text });
                value[field] = v;
                if !write_line(out, &value)? {
                    return Ok(false);
                }
            }
            Ok(true)
        },
        |l| check_line(tokenizer, l, &mut truncation.borrow_mut()),
    )?;
    Ok(truncation.into_inner())
}

/// Rewrites "text #k" in a batch's error as the input line number of its k-th text.
fn line_error<T>(lines: &[Line], r: Result<T>) -> Result<T> {
    r.map_err(|e| {
        let msg = e.to_string();
        for (k, l) in lines.iter().enumerate().rev() {
            let tag = format!("text #{}", k + 1);
            if msg.contains(&tag) {
                return Error::Input(msg.replacen(&tag, &format!("line {}", l.number), 1));
            }
        }
        Error::Input(msg)
    })
}
