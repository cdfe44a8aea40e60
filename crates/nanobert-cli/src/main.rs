//! The `nanobert` command line: parses arguments and calls the library. No model logic here.

use std::process::ExitCode;

use args::{Cli, Command};
use clap::Parser;
use nanobert::{Error, Result};
use session::{Session, runs_model};

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
mod info_commands;
mod session;
mod task_commands;
mod text_commands;

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
    let session = Session::new(&cli)?; // every global option checked against the command first
    let profile = cli.profile || cli.profile_out.is_some();
    if profile && !runs_model(&cli.command) {
        return Err(Error::Input(
            "--profile and --profile-out apply to the commands that run the model \
             (embed, similarity, fill-mask, forward, demo, classify, rerank, ner, qa)"
                .into(),
        ));
    }
    session.run(&cli.command, || {
        if !profile {
            return dispatch(&session, &cli.command, start);
        }
        // This thread's profiler on, then the profile on stderr.
        let (result, prof) = nanobert::profile::record(|| dispatch(&session, &cli.command, start));
        result?;
        let report = nanobert_bench::profiling::report(&prof, session.threads(), cli.profile_out.as_deref())?;
        eprint!("{report}");
        Ok(())
    })
}

fn dispatch(s: &Session, command: &Command, start: std::time::Instant) -> Result<()> {
    match command {
        Command::Fetch | Command::Graph(_) | Command::Print => info_commands::run(s, command)?,
        Command::FillMask { .. }
        | Command::Embed { .. }
        | Command::Similarity { .. }
        | Command::Forward { .. }
        | Command::Demo { .. } => text_commands::run(s, command)?,
        Command::Classify { pairs, json, texts } => {
            task_commands::classify(&s.load(&s.open()?)?, texts, *pairs, *json)?
        }
        Command::Rerank { json, query, docs } => task_commands::rerank(&s.load(&s.open()?)?, query, docs, *json)?,
        Command::Ner { tokens, json, texts } => task_commands::ner(&s.load(&s.open()?)?, texts, *tokens, *json)?,
        Command::Qa { json, question, context } => task_commands::qa(&s.load(&s.open()?)?, question, context, *json)?,
        Command::Bench { .. } => bench_command::run(s, command, start)?,
        Command::Serve(args) => nanobert_serve::run(&s.serve_options(args)?)?,
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
