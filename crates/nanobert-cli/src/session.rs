//! The set-up every command shares, in one place: which checkpoint `--model` names (a path,
//! a Hub id, or the default MiniLM), opening it under the finite-value policy, loading a
//! pipeline in `--precision` with `--no-fuse`'s fusions, and which commands each global
//! option applies to (the others refuse it by name).

use std::path::{Path, PathBuf};

use nanobert::bert::Fusion;
use nanobert::io::hub::HubOptions;
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::{self, Pipeline};
use nanobert::quant::Precision;
use nanobert::{Error, Result};
use nanobert_serve::args::ServeArgs;

use crate::args::{BenchCommand, Cli, Command};

/// The checkpoint directory named by --model (a path, or a Hub id resolved in the Hugging Face
/// cache and downloaded when absent); `None` without --model.
pub(crate) fn model_arg(cli: &Cli) -> Result<Option<PathBuf>> {
    match &cli.model {
        Some(m) => Ok(Some(nanobert::io::hub::resolve_model(m, cli.revision.as_deref(), &HubOptions::from_env(true))?)),
        None if cli.revision.is_some() => Err(Error::Input("--revision needs --model with a Hub id".into())),
        None => Ok(None),
    }
}

/// The checkpoint named by --model, or MiniLM (fetched when absent).
pub(crate) fn model_dir(cli: &Cli) -> Result<PathBuf> {
    match model_arg(cli)? {
        Some(dir) => Ok(dir),
        None => fetch::ensure_minilm(true),
    }
}

/// The checkpoint `serve` runs: --model, else --model-id / MODEL_ID (a path or a Hub id, as
/// --model), else MiniLM.
pub(crate) fn serve_model_dir(cli: &Cli, args: &ServeArgs) -> Result<PathBuf> {
    match args.model(cli.model.as_ref())? {
        Some(m) if cli.model.is_none() => {
            nanobert::io::hub::resolve_model(&m, cli.revision.as_deref(), &HubOptions::from_env(true))
        }
        _ => model_dir(cli),
    }
}

/// Opens the checkpoint (checking its weights are finite unless `--allow-non-finite`). A cached
/// default model that fails to load says how to repair the cache.
pub(crate) fn open(cli: &Cli) -> Result<Checkpoint> {
    let dir = model_dir(cli)?;
    Checkpoint::open_with(&dir, !cli.allow_non_finite).map_err(|e| {
        if cli.model.is_some() {
            return e;
        }
        Error::Input(format!(
            "{e} — the cached model in {} is broken: repair it with `rm -r {}` then `nanobert fetch`",
            dir.display(),
            dir.display()
        ))
    })
}

/// The transformers-style warning for weights the model did not use (one line on stderr).
pub(crate) fn warn_unused(ckpt: &Checkpoint) {
    let unused = ckpt.weights.unused_weights();
    if unused.is_empty() {
        return;
    }
    let shown: Vec<&str> = unused.iter().take(8).map(String::as_str).collect();
    let more = if unused.len() > 8 { format!(" and {} more", unused.len() - 8) } else { String::new() };
    eprintln!(
        "warning: {} weight{} of {} {} not used by the model (does config.json match the checkpoint?): {}{more}",
        unused.len(),
        if unused.len() == 1 { "" } else { "s" },
        ckpt.weights.weights().path().display(),
        if unused.len() == 1 { "was" } else { "were" },
        shown.join(", ")
    );
}

/// The one truncation warning of a command.
pub(crate) fn warn_truncation(t: pipeline::Truncation) {
    if let Some(w) = t.warning() {
        eprintln!("{w}");
    }
}

/// Checks the texts by the one rule (no empty text) and warns once about truncation.
pub(crate) fn check_and_warn(tokenizer: &nanobert::text::Tokenizer, texts: &[&str]) -> Result<()> {
    warn_truncation(pipeline::check_texts_numbered(tokenizer, texts, 1)?);
    Ok(())
}

/// `--input FILE` or `-` as a buffered reader.
pub(crate) fn input_reader(path: &Path) -> Result<Box<dyn std::io::BufRead>> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin().lock()));
    }
    let f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot read --input: {e}")))?;
    Ok(Box::new(std::io::BufReader::new(f)))
}

/// `--out` must name a file in an existing directory (checked before any work).
pub(crate) fn check_out_path(out: &Path) -> Result<()> {
    if out.is_dir() {
        return Err(Error::file(out, "--out is a directory: give a file name, e.g. DIR/out.safetensors"));
    }
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(Error::file(out, format!("--out: directory {} does not exist", parent.display())));
    }
    Ok(())
}

pub(crate) fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The fusions the command runs the model with (`--no-fuse`), refused for commands that do
/// not run it.
pub(crate) fn fusion(cli: &Cli) -> Result<Fusion> {
    let f = Fusion::from_no_fuse(&cli.no_fuse).map_err(|e| Error::Input(format!("--no-fuse: {e}")))?;
    let applies = runs_model(&cli.command)
        || matches!(
            &cli.command,
            Command::Serve(_)
                | Command::Graph(_)
                | Command::Bench {
                    what: Some(
                        BenchCommand::Forward { .. } | BenchCommand::Threads { .. } | BenchCommand::Batching { .. }
                    ),
                    ..
                }
                | Command::Bench { compare: true, what: None, .. }
                | Command::Bench {
                    what: Some(BenchCommand::ColdStartChild | BenchCommand::ThroughputChild { .. }),
                    ..
                }
        );
    if !cli.no_fuse.is_empty() && !applies {
        return Err(Error::Input(
            "--no-fuse applies to the commands that run the model (embed, similarity, fill-mask, forward, demo, \
             classify, rerank, ner, qa, serve, graph, bench forward, bench threads, bench batching, bench --compare); \
             `bench fusion` switches each fusion itself"
                .into(),
        ));
    }
    Ok(f)
}

/// Refuses a `--precision` other than f32 for the commands that do not run the model in it
/// (rather than running them in f32 silently).
pub(crate) fn check_precision(cli: &Cli) -> Result<()> {
    let applies = runs_model(&cli.command)
        || matches!(
            &cli.command,
            Command::Serve(_) | Command::Graph(_) | Command::Bench { compare: true, what: None, .. }
        );
    if cli.precision != Precision::F32 && !applies {
        return Err(Error::Input(format!(
            "--precision {} applies to the commands that run the model (embed, similarity, fill-mask, forward, demo, \
             classify, rerank, ner, qa, serve, graph, bench --compare); `bench precision` measures every precision \
             itself, and the other commands run f32 only",
            cli.precision
        )));
    }
    Ok(())
}

/// True for the commands that run the model (the ones `--profile` applies to).
pub(crate) fn runs_model(command: &Command) -> bool {
    match command {
        Command::FillMask { .. }
        | Command::Embed { .. }
        | Command::Classify { .. }
        | Command::Rerank { .. }
        | Command::Ner { .. }
        | Command::Qa { .. }
        | Command::Similarity { .. }
        | Command::Forward { .. }
        | Command::Demo { .. } => true,
        Command::Fetch | Command::Print | Command::Graph(_) | Command::Bench { .. } | Command::Serve(_) => false,
    }
}

/// The pipeline `P` from `ckpt`, in the precision and with the fusions the options say.
pub(crate) fn load<P: Pipeline>(cli: &Cli, ckpt: &Checkpoint) -> Result<P> {
    P::builder().precision(cli.precision).fusion(fusion(cli)?).build(ckpt)
}

/// The pipeline `P` from `--model`, as [`load`] gives it, after warning about any weight the
/// model did not use.
pub(crate) fn load_pipeline<P: Pipeline>(cli: &Cli) -> Result<P> {
    let ckpt = open(cli)?;
    let p = load(cli, &ckpt)?;
    warn_unused(&ckpt);
    Ok(p)
}
