//! `nanobert fetch`, `print` and `graph`: what the model is, without running it on text.

use nanobert::io::Checkpoint;
use nanobert::pipeline;
use nanobert::quant::Precision;
use nanobert::{Error, Result};

use crate::args::Command;
use crate::graph_command;
use crate::session::*;

/// Runs `command` (one of this file's) in the session `s`.
pub(crate) fn run(s: &Session, command: &Command) -> Result<()> {
    match command {
        Command::Fetch => {
            // --model: that checkpoint (a Hub id is downloaded into the Hugging Face cache).
            let dir = s.model_dir()?;
            // Verify what is there, not just that the files exist.
            let check = Checkpoint::open(&dir).and_then(|c| {
                nanobert::text::Tokenizer::from_checkpoint(&c, 512)?;
                nanobert::bert::BertConfig::from_json(&c.config_json)
            });
            if let Err(e) = check {
                return Err(Error::Input(format!(
                    "the model in {} is broken ({e}): repair it with `rm -r {}` then `nanobert fetch`",
                    dir.display(),
                    dir.display()
                )));
            }
            let name = s.model.as_ref().map_or("all-MiniLM-L6-v2".into(), |m| m.display().to_string());
            outln!("{name} is in {} (verified: config, weights and tokenizer load)", dir.display());
        }
        Command::Graph(args) => {
            let ckpt = s.open()?;
            let mut model = graph_command::load(&ckpt)?;
            if s.precision() != Precision::F32 {
                let tok = nanobert::text::Tokenizer::from_checkpoint(&ckpt, 512)?;
                let plan = pipeline::precision_plan(&model, &model, &tok, s.precision())?;
                nanobert::nn::to_precision(&mut model, &plan)?;
            }
            let passes = graph_command::passes(args, &s.fusion)?;
            outln!("{}", graph_command::report(&model, args, &passes)?.trim_end());
        }
        Command::Print => {
            let ckpt = s.open()?;
            let (tree, params) = pipeline::describe(&ckpt)?;
            outln!("{tree}");
            outln!("parameters: {params}");
            outln!("{}", pipeline::weight_bytes_line(&ckpt)?);
        }
        _ => return Err(Error::Input("not a command of this file".into())),
    }
    Ok(())
}
