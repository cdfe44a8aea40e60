//! The `nanobert` command line: parses arguments and calls the library. No model logic here.

use std::path::Path;
use std::process::ExitCode;

use args::{BenchCommand, Cli, Command};
use clap::Parser;
use nanobert::io::Checkpoint;
use nanobert::pipeline::{self, Embedder, FillMask, Pipeline};
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
        Command::Bench { compare: true, quick, torch_compile, out, what: None, cases, runtimes, rounds } => {
            let threads = cli.threads.unwrap_or_else(rayon::current_num_threads);
            let choice = nanobert_bench::commands::CompareChoice {
                cases: cases.iter().map(|c| nanobert_bench::commands::parse_case(c)).collect::<Result<_>>()?,
                runtimes: runtimes.clone(),
                rounds: *rounds,
            };
            nanobert_bench::commands::compare(
                model_arg(cli)?.as_deref(),
                out,
                *quick,
                *torch_compile,
                threads,
                cli.precision,
                fusion(cli)?,
                &choice,
            )?;
        }
        Command::Bench { what: None, .. } => {
            return Err(Error::Input(
                "bench: say what to measure: --compare, or a subcommand (matmul, forward, fusion, batching, threads); \
                 see --help"
                    .into(),
            ));
        }
        Command::Bench { compare: true, .. } => {
            return Err(Error::Input("bench --compare takes no subcommand".into()));
        }
        Command::Bench { what: Some(BenchCommand::Forward { quick, out }), .. } => {
            nanobert_bench::commands::forward(model_arg(cli)?.as_deref(), out, *quick, fusion(cli)?)?;
        }
        Command::Bench { what: Some(BenchCommand::Fusion { quick, rounds, out }), .. } => {
            let rounds = rounds.map(|r| r as usize);
            nanobert_bench::commands::fusion(model_arg(cli)?.as_deref(), out, *quick, rounds)?;
        }
        Command::Bench { what: Some(BenchCommand::Graph { quick, rounds, out }), .. } => {
            let rounds = rounds.map(|r| r as usize);
            nanobert_bench::commands::graph(model_arg(cli)?.as_deref(), out, *quick, rounds)?;
        }
        Command::Bench { what: Some(BenchCommand::Batching { quick, bert_base, out }), .. } => {
            nanobert_bench::commands::batching(model_arg(cli)?.as_deref(), out, *quick, *bert_base, fusion(cli)?)?;
        }
        Command::Bench { what: Some(BenchCommand::Threads { quick, out }), .. } => {
            nanobert_bench::commands::threads(model_arg(cli)?.as_deref(), out, *quick, fusion(cli)?)?;
        }
        Command::Bench { what: Some(BenchCommand::ColdStartChild), .. } => {
            let dir = model_dir(cli)?;
            outln!("{}", nanobert_bench::forward::cold_start_child(&dir, start, fusion(cli)?)?);
        }
        Command::Bench { what: Some(BenchCommand::ThroughputChild { batch, seq, seconds }), .. } => {
            let dir = model_dir(cli)?;
            outln!("{}", nanobert_bench::threads::throughput_child(&dir, *batch, *seq, *seconds, fusion(cli)?)?);
        }
        Command::Bench { what: Some(BenchCommand::Matmul { quick, thread_counts, out, passes }), .. } => {
            use nanobert_bench::matmul::{BenchOptions, run};
            let base = if *quick { BenchOptions::quick() } else { BenchOptions::default() };
            let passes = passes.unwrap_or(base.passes);
            run(&BenchOptions { threads: thread_counts.clone(), out_dir: out.clone(), passes, ..base })?;
        }
        Command::Bench {
            what:
                Some(BenchCommand::Serve {
                    serve,
                    fractions,
                    step_seconds,
                    python,
                    no_baseline,
                    baseline_script,
                    out,
                    soak,
                    soak_seconds,
                }),
            ..
        } => {
            use nanobert_serve::loadtest::{LoadTestOptions, run};
            if fractions.iter().any(|f| !(f.is_finite() && *f > 0.0))
                || !(step_seconds.is_finite() && *step_seconds > 0.0)
            {
                return Err(Error::Input(
                    "bench serve: --fractions and --step-seconds must be positive numbers".into(),
                ));
            }
            if *soak && !(soak_seconds.is_finite() && *soak_seconds >= 2.0) {
                return Err(Error::Input("bench serve: --soak-seconds must be at least 2".into()));
            }
            let mut serve_opts = serve.options(serve_model_dir(cli, serve)?)?;
            serve_opts.fusion = fusion(cli)?;
            serve_opts.precision = serve.precision(cli.precision)?;
            let load = LoadTestOptions {
                serve: serve_opts,
                fractions: fractions.clone(),
                step_seconds: *step_seconds,
                max_requests_per_step: 20_000,
                timeout: std::time::Duration::from_secs(15),
                python: (!no_baseline).then(|| python.clone()),
                baseline_script: baseline_script.clone(),
                out_dir: out.clone(),
                threads: rayon::current_num_threads(),
            };
            if *soak {
                nanobert_serve::soak::run(&load, *soak_seconds, 0.5)?;
            } else {
                run(&load)?;
            }
        }
        Command::Serve(args) => {
            let mut opts = args.options(serve_model_dir(cli, args)?)?;
            opts.fusion = fusion(cli)?;
            opts.precision = args.precision(cli.precision)?;
            nanobert_serve::run(&opts)?
        }
        Command::Bench { what: Some(BenchCommand::Precision { texts, mlm, no_per_layer }), .. } => {
            bench_precision(cli, texts.as_deref(), mlm, !no_per_layer)?
        }
        Command::Demo { mlm } => demo(cli, mlm.as_deref())?,
    }
    Ok(())
}

fn similarity_table(e: &Embedder, query: &str, docs: &[&str], check_finite: bool) -> Result<()> {
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

fn demo(cli: &Cli, mlm: Option<&Path>) -> Result<()> {
    // --mlm is checked before any work: a wrong path fails at once, not after the search demo.
    let fm = match mlm {
        Some(dir) => {
            let b = FillMask::builder().precision(cli.precision).fusion(fusion(cli)?);
            Some(b.allow_non_finite(cli.allow_non_finite).open(dir).map_err(|e| Error::Input(format!("--mlm: {e}")))?)
        }
        None => None,
    };
    let t0 = std::time::Instant::now();
    let ckpt = open(cli)?;
    let e: Embedder = load(cli, &ckpt)?;
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
    similarity_table(&e, "A person is eating food.", &docs, !cli.allow_non_finite)?;
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

/// `nanobert bench precision`: the accuracy report of docs/lower-precision.md.
fn bench_precision(cli: &Cli, texts: Option<&Path>, mlm: &Path, per_layer: bool) -> Result<()> {
    use nanobert_bench::precision::{self as report, Options};
    let texts = match texts {
        Some(p) => std::fs::read_to_string(p).map_err(|e| Error::Input(format!("reading {}: {e}", p.display())))?,
        None => report::SENTENCES.to_string(),
    };
    let texts: Vec<String> = texts.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
    let ckpt = open(cli)?;
    let mlm_ckpt = if mlm.join("config.json").exists() {
        Some(Checkpoint::open(mlm)?)
    } else {
        eprintln!("note: no MLM checkpoint at {} (--mlm DIR): fill-mask columns skipped", mlm.display());
        None
    };
    let opts =
        Options { embedder: &ckpt, mlm: mlm_ckpt.as_ref(), texts, configs: report::default_configs(), per_layer };
    let md = report::run(&opts, &mut |what| eprintln!("measuring {what} ..."))?;
    outln!("{md}");
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
