//! The `nanobert` command line: parses arguments and calls the library. No model logic here.

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;
use embed_commands::{demo, similarity_table};
use nanobert::io::Checkpoint;
use nanobert::pipeline::{self, Embedder, FillMask};
use nanobert::quant::Precision;
use nanobert::{Error, Result};
use session::*;

/// `println!` that ends the program quietly when stdout is closed early (`nanobert print | head`)
/// instead of panicking, and reports other write errors.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout(), $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            return Err(Error::Input(format!("writing to stdout: {e}")));
        }
    }};
}

mod args;
mod bench_command;
mod embed_commands;
mod graph_command;
mod session;
mod task_commands;

fn main() -> ExitCode {
    let start = std::time::Instant::now(); // for `bench cold-start-child`
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's multi-line report, as one line: `error: <what>` plus where to look.
            let text = e.render().to_string();
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("error: {first} (see nanobert --help)");
            return ExitCode::from(2);
        }
    };
    match run(cli, start) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli, start: std::time::Instant) -> Result<()> {
    if let Some(n) = cli.threads {
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        if n == 0 || n > 64 * cores {
            return Err(Error::Input(format!(
                "--threads {n}: give 1 to {} (this machine has {cores} cores)",
                64 * cores
            )));
        }
    }
    nanobert::threads::init_pool(cli.threads)?;
    fusion(&cli)?; // a bad --no-fuse fails before any work
    check_precision(&cli)?;
    if cli.profile || cli.profile_out.is_some() {
        return profiled(&cli, start);
    }
    dispatch(&cli, start)
}

/// Runs the command with this thread's profiler on, then prints the profile on stderr.
fn profiled(cli: &Cli, start: std::time::Instant) -> Result<()> {
    if !runs_model(&cli.command) {
        return Err(Error::Input(
            "--profile and --profile-out apply to the commands that run the model \
             (embed, similarity, fill-mask, forward, demo, classify, rerank, ner, qa)"
                .into(),
        ));
    }
    let (result, prof) = nanobert::profile::record(|| dispatch(cli, start));
    result?;
    let report = nanobert_bench::profiling::report(&prof, rayon::current_num_threads(), cli.profile_out.as_deref())?;
    eprint!("{report}");
    Ok(())
}

fn dispatch(cli: &Cli, start: std::time::Instant) -> Result<()> {
    match &cli.command {
        Command::Fetch => {
            // --model: that checkpoint (a Hub id is downloaded into the Hugging Face cache).
            let dir = model_dir(cli)?;
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
            let name = cli.model.as_ref().map_or("all-MiniLM-L6-v2".into(), |m| m.display().to_string());
            outln!("{name} is in {} (verified: config, weights and tokenizer load)", dir.display());
        }
        Command::Graph(args) => {
            let ckpt = open(cli)?;
            let model = graph_command::load(&ckpt)?;
            if cli.precision != Precision::F32 {
                let tok = nanobert::text::Tokenizer::from_checkpoint(&ckpt, 512)?;
                let plan = pipeline::precision_plan(&model, &model, &tok, cli.precision)?;
                nanobert::quant::to_precision(&model, &plan)?;
            }
            let passes = graph_command::passes(args, &fusion(cli)?)?;
            outln!("{}", graph_command::report(&model, args, &passes)?.trim_end());
        }
        Command::Print => {
            let ckpt = open(cli)?;
            let (tree, params) = pipeline::describe(&ckpt)?;
            outln!("{tree}");
            outln!("parameters: {params}");
            outln!("{}", pipeline::weight_bytes_line(&ckpt)?);
        }
        Command::FillMask { top_k, json, input, texts } => {
            let top_k = *top_k as usize;
            let ckpt = open(cli)?;
            let fm: FillMask = load(cli, &ckpt)?;
            warn_unused(&ckpt);
            if let Some(path) = input {
                let lines = nanobert::stream::Texts::new(input_reader(path)?);
                let mut stdout = std::io::stdout().lock();
                let t = nanobert::stream::fill_mask_jsonl(&fm, lines, top_k, &mut stdout, !cli.allow_non_finite);
                return t.map(warn_truncation);
            }
            let texts = strs(texts);
            check_and_warn(&fm.tokenizer, &texts)?;
            let results = fm.predict(&texts, top_k)?;
            if !cli.allow_non_finite {
                let scores: Vec<Vec<f32>> = results
                    .iter()
                    .map(|r| r.masks.iter().flat_map(|m| m.top.iter().map(|c| c.score)).collect())
                    .collect();
                let rows = scores.iter().map(Vec::as_slice);
                nanobert::finite::check_rows(&fm.model.bert, &fm.tokenizer, &texts, rows, "fill-mask scores", 1)?;
            }
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
        Command::Classify { pairs, json, texts } => {
            task_commands::classify(&load(cli, &open(cli)?)?, texts, *pairs, *json)?
        }
        Command::Rerank { json, query, docs } => task_commands::rerank(&load(cli, &open(cli)?)?, query, docs, *json)?,
        Command::Ner { tokens, json, texts } => task_commands::ner(&load(cli, &open(cli)?)?, texts, *tokens, *json)?,
        Command::Qa { json, question, context } => {
            task_commands::qa(&load(cli, &open(cli)?)?, question, context, *json)?
        }
        Command::Embed { json, prompt, input, texts } => {
            let ckpt = open(cli)?;
            let e: Embedder = load(cli, &ckpt)?;
            warn_unused(&ckpt);
            if let Some(path) = input {
                let lines = nanobert::stream::Texts::new(input_reader(path)?);
                let mut stdout = std::io::stdout().lock();
                return nanobert::stream::embed_jsonl(&e, prompt.as_deref(), lines, &mut stdout, !cli.allow_non_finite)
                    .map(warn_truncation);
            }
            let texts = strs(texts);
            check_and_warn(&e.tokenizer, &texts)?;
            let vectors = e.embed_with_prompt(&texts, prompt.as_deref())?;
            if !cli.allow_non_finite {
                let rows = vectors.iter().map(Vec::as_slice);
                nanobert::finite::check_rows(&e.model, &e.tokenizer, &texts, rows, "embedding", 1)?;
            }
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
            let ckpt = open(cli)?;
            let e: Embedder = load(cli, &ckpt)?;
            warn_unused(&ckpt);
            similarity_table(&e, query, &strs(docs), !cli.allow_non_finite)?;
        }
        Command::Forward { out, texts } => {
            check_out_path(out)?;
            let ckpt = open(cli)?;
            let texts = strs(texts);
            let f = pipeline::forward_at(&ckpt, &texts, cli.precision, fusion(cli)?)?;
            warn_unused(&ckpt);
            if !cli.allow_non_finite {
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
        Command::Bench { .. } => bench_command::run(cli, start)?,
        Command::Serve(args) => {
            let mut opts = args.options(serve_model_dir(cli, args)?)?;
            opts.fusion = fusion(cli)?;
            opts.precision = args.precision(cli.precision)?;
            nanobert_serve::run(&opts)?
        }
        Command::Demo { mlm } => demo(cli, mlm.as_deref())?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every argument of every (sub)command has help text.
    #[test]
    fn every_argument_has_help_text() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id != "help" && id != "version" && arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_name() != "help" {
                    missing.push(format!("{path} {} (the subcommand)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "nanobert", &mut missing);
        assert!(missing.is_empty(), "arguments without help text: {missing:?}");
    }
}
