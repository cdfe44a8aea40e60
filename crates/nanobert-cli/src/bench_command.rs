//! `nanobert bench ...`: the benchmarks, each in the bench crate; here only their options.

use std::path::Path;

use nanobert::io::Checkpoint;
use nanobert::{Error, Result};

use crate::args::{BenchCommand, Command};
use crate::session::*;

/// Runs the `bench` command in the session `s` (`start`: the process start, for the
/// cold-start child).
pub(crate) fn run(s: &Session, command: &Command, start: std::time::Instant) -> Result<()> {
    match command {
        Command::Bench { compare: true, quick, torch_compile, out, what: None, cases, runtimes, rounds } => {
            let threads = s.threads();
            let choice = nanobert_bench::commands::CompareChoice {
                cases: cases.iter().map(|c| nanobert_bench::commands::parse_case(c)).collect::<Result<_>>()?,
                runtimes: runtimes.clone(),
                rounds: *rounds,
            };
            nanobert_bench::commands::compare(
                s.model_arg()?.as_deref(),
                out,
                *quick,
                *torch_compile,
                threads,
                s.precision(),
                s.fusion,
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
            nanobert_bench::commands::forward(s.model_arg()?.as_deref(), out, *quick, s.fusion)?;
        }
        Command::Bench { what: Some(BenchCommand::Fusion(i)), .. } => {
            nanobert_bench::commands::fusion(s.model_arg()?.as_deref(), &i.out, i.quick, i.rounds.map(|r| r as usize))?;
        }
        Command::Bench { what: Some(BenchCommand::Graph(i)), .. } => {
            nanobert_bench::commands::graph(s.model_arg()?.as_deref(), &i.out, i.quick, i.rounds.map(|r| r as usize))?;
        }
        Command::Bench { what: Some(BenchCommand::Batching { quick, bert_base, out }), .. } => {
            nanobert_bench::commands::batching(s.model_arg()?.as_deref(), out, *quick, *bert_base, s.fusion)?;
        }
        Command::Bench { what: Some(BenchCommand::Threads { quick, out }), .. } => {
            nanobert_bench::commands::threads(s.model_arg()?.as_deref(), out, *quick, s.fusion)?;
        }
        Command::Bench { what: Some(BenchCommand::ColdStartChild), .. } => {
            let dir = s.model_dir()?;
            outln!("{}", nanobert_bench::forward::cold_start_child(&dir, start, s.fusion)?);
        }
        Command::Bench { what: Some(BenchCommand::ThroughputChild { batch, seq, seconds }), .. } => {
            let dir = s.model_dir()?;
            outln!("{}", nanobert_bench::threads::throughput_child(&dir, *batch, *seq, *seconds, s.fusion)?);
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
            let load = LoadTestOptions {
                serve: s.serve_options(serve)?,
                fractions: fractions.clone(),
                step_seconds: *step_seconds,
                max_requests_per_step: 20_000,
                timeout: std::time::Duration::from_secs(15),
                python: (!no_baseline).then(|| python.clone()),
                baseline_script: baseline_script.clone(),
                out_dir: out.clone(),
                threads: s.threads(),
            };
            if *soak {
                nanobert_serve::soak::run(&load, *soak_seconds, 0.5)?;
            } else {
                run(&load)?;
            }
        }
        Command::Bench { what: Some(BenchCommand::Precision { texts, mlm, no_per_layer }), .. } => {
            bench_precision(s, texts.as_deref(), mlm, !no_per_layer)?
        }
        _ => return Err(Error::Input("not a bench command".into())),
    }
    Ok(())
}

/// `nanobert bench precision`: the accuracy report of docs/lower-precision.md.
pub(crate) fn bench_precision(s: &Session, texts: Option<&Path>, mlm: &Path, per_layer: bool) -> Result<()> {
    use nanobert_bench::precision::{self as report, Options};
    let texts = match texts {
        Some(p) => std::fs::read_to_string(p).map_err(|e| Error::Input(format!("reading {}: {e}", p.display())))?,
        None => report::SENTENCES.to_string(),
    };
    let texts: Vec<String> = texts.lines().filter(|l| !l.trim().is_empty()).map(String::from).collect();
    let ckpt = s.open()?;
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
