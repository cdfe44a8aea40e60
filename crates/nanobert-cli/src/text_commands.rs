//! `nanobert fill-mask`, `embed`, `similarity`, `forward` and `demo`: the model run on texts.

use nanobert::pipeline::{self, Embedder, FillMask, Truncation};
use nanobert::stream::{self, Texts};
use nanobert::{Error, Result};

use crate::args::Command;
use crate::embed_commands::{demo, similarity_table};
use crate::session::*;

/// Runs `command` (one of this file's) in the session `s`.
pub(crate) fn run(s: &Session, command: &Command) -> Result<()> {
    match command {
        Command::FillMask { top_k, json, input, texts } => {
            let top_k = *top_k as usize;
            let fm: FillMask = s.load_pipeline()?;
            if let Some(path) = input {
                return stream_input(path, |lines, out| {
                    stream::fill_mask_jsonl(&fm, lines, top_k, out, s.check_finite())
                });
            }
            let texts = strs(texts);
            check_and_warn(&fm.tokenizer, &texts)?;
            let results = stream::fill_mask_checked(&fm, &texts, top_k, s.check_finite())?;
            for r in results {
                if *json {
                    outln!("{}", serde_json::to_string(&r).map_err(|e| Error::Input(e.to_string()))?);
                } else {
                    outln!("{}", pipeline::one_line(&r.text));
                    for m in &r.masks {
                        outln!("  [MASK] at token {}:", m.position);
                        for c in &m.top {
                            outln!("    {:<16} {:>6}  {:.4}", c.token, c.id, c.score);
                        }
                    }
                }
            }
        }
        Command::Embed { json, prompt, input, texts } => {
            let e: Embedder = s.load_pipeline()?;
            if let Some(path) = input {
                return stream_input(path, |lines, out| {
                    stream::embed_jsonl(&e, prompt.as_deref(), lines, out, s.check_finite())
                });
            }
            let texts = strs(texts);
            check_and_warn(&e.tokenizer, &texts)?;
            let vectors = stream::embed_checked(&e, &texts, prompt.as_deref(), s.check_finite())?;
            for (t, v) in texts.iter().zip(vectors) {
                if *json {
                    let line = serde_json::json!({ "text": t, "embedding": v });
                    outln!("{line}");
                } else {
                    let head: Vec<String> = v.iter().take(6).map(|x| format!("{x:+.4}")).collect();
                    outln!("{}\n  [{}, ...] ({} dims)", pipeline::one_line(t), head.join(", "), v.len());
                }
            }
        }
        Command::Similarity { query, docs } => {
            let e: Embedder = s.load_pipeline()?;
            similarity_table(&e, query, &strs(docs), s.check_finite())?;
        }
        Command::Forward { out, texts } => {
            check_out_path(out)?;
            let ckpt = s.open()?;
            let texts = strs(texts);
            let f = pipeline::forward_at(&ckpt, &texts, s.precision(), s.fusion)?;
            warn_unused(&ckpt);
            if s.check_finite() {
                use nanobert::finite::{check_rows, first_non_finite, non_finite_error};
                let h = f.last_hidden_state.to_vec();
                let logits_bad = f.logits.as_ref().is_some_and(|l| first_non_finite(&l.to_vec()).is_some());
                if logits_bad || first_non_finite(&h).is_some() {
                    let cfg = nanobert::bert::BertConfig::from_json(&ckpt.config_json)?;
                    let model = nanobert::bert::BertModel::load(&ckpt.weights, "bert.", &cfg, false)?;
                    let tok = nanobert::text::Tokenizer::from_checkpoint(&ckpt, pipeline::max_len(&ckpt, &cfg))?;
                    let rows = h.chunks((h.len() / f.batch.batch.max(1)).max(1));
                    check_rows(&model, &tok, &texts, rows, "last hidden state", 1)?;
                    return Err(non_finite_error("the MLM logits", None));
                }
            }
            f.save(out)?;
            outln!("wrote {} (batch {}, seq {})", out.display(), f.batch.batch, f.batch.seq_len);
        }
        Command::Demo { mlm } => demo(s, mlm.as_deref())?,
        _ => return Err(Error::Input("not a command of this file".into())),
    }
    Ok(())
}

/// `--input FILE` (or `-`): its lines streamed through `run` to stdout as JSON lines, then the
/// truncation warning. Shared by fill-mask and embed.
fn stream_input<F>(path: &std::path::Path, run: F) -> Result<()>
where
    F: FnOnce(Texts<Box<dyn std::io::BufRead>>, &mut dyn std::io::Write) -> Result<Truncation>,
{
    let lines = Texts::new(input_reader(path)?);
    let mut stdout = std::io::stdout().lock();
    run(lines, &mut stdout).map(warn_truncation)
}
