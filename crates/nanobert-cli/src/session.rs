//! The one session every command runs in: the global options (`--model`, `--revision`,
//! `--threads`, `--precision`, `--no-fuse`, `--allow-non-finite`) read once into a
//! [`Session`], checked against the command (an option a command cannot honour is refused by
//! name, never ignored), then used by every command through the same methods: which
//! checkpoint, opened under which finite-value policy, loaded through the library's
//! [`Builder`] with the precision, fusions and threads, run on the session's own thread pool.

use std::path::{Path, PathBuf};

use nanobert::bert::Fusion;
use nanobert::io::hub::HubOptions;
use nanobert::io::{Checkpoint, fetch};
use nanobert::pipeline::{self, Builder, Pipeline};
use nanobert::quant::Precision;
use nanobert::{Error, Result};
use nanobert_serve::ServeOptions;
use nanobert_serve::args::ServeArgs;

use crate::args::{BenchCommand, Cli, Command};

/// The global options, checked against the command, and the pool the command runs on.
pub(crate) struct Session {
    /// `--model` as given (a path or a Hub id); `None`: MiniLM.
    pub(crate) model: Option<PathBuf>,
    revision: Option<String>,
    /// `--precision` as given (`None`: f32, and a command that cannot change it is fine).
    precision: Option<Precision>,
    /// The fusions `--no-fuse` leaves on.
    pub(crate) fusion: Fusion,
    /// `--allow-non-finite`.
    pub(crate) allow_non_finite: bool,
    pool: rayon::ThreadPool,
}

/// Which global options a command can honour.
struct Scope {
    fusion: bool,
    precision: bool,
    non_finite: bool,
}

/// The command's scope (the lists the refusals below name).
fn scope(command: &Command) -> Scope {
    use BenchCommand as B;
    let runs = runs_model(command);
    let (fusion, precision, non_finite) = match command {
        Command::Serve(_) => (true, true, false),
        Command::Graph(_) => (true, true, true),
        Command::Print => (false, false, true),
        Command::Bench { compare: true, what: None, .. } => (true, true, false),
        Command::Bench { what: Some(B::Forward { .. } | B::Threads { .. } | B::Batching { .. }), .. } => {
            (true, false, false)
        }
        Command::Bench { what: Some(B::ColdStartChild | B::ThroughputChild { .. }), .. } => (true, false, false),
        Command::Bench { what: Some(B::Precision { .. }), .. } => (false, false, true),
        _ => (runs, runs, runs),
    };
    Scope { fusion, precision, non_finite }
}

/// True for the commands that run the model on text (the ones `--profile` applies to).
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

const RUNS: &str = "embed, similarity, fill-mask, forward, demo, classify, rerank, ner, qa";

impl Session {
    /// Reads the global options of `cli` and refuses, by name, those its command cannot honour
    /// (before any work): `--threads` out of range, an unknown `--no-fuse` name, `--no-fuse`,
    /// a `--precision` other than f32 or `--allow-non-finite` on a command they do not apply to.
    pub(crate) fn new(cli: &Cli) -> Result<Session> {
        if let Some(n) = cli.threads
            && (n == 0 || n > pipeline::max_threads())
        {
            let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
            let most = pipeline::max_threads();
            return Err(Error::Input(format!("--threads {n}: give 1 to {most} (this machine has {cores} cores)")));
        }
        let fusion = Fusion::from_no_fuse(&cli.no_fuse).map_err(|e| Error::Input(format!("--no-fuse: {e}")))?;
        let scope = scope(&cli.command);
        if !cli.no_fuse.is_empty() && !scope.fusion {
            return Err(Error::Input(format!(
                "--no-fuse applies to the commands that run the model ({RUNS}, serve, graph, bench forward, \
                 bench threads, bench batching, bench --compare); `bench fusion` switches each fusion itself"
            )));
        }
        if let Some(p) = cli.precision.filter(|&p| p != Precision::F32 && !scope.precision) {
            return Err(Error::Input(format!(
                "--precision {p} applies to the commands that run the model ({RUNS}, serve, graph, bench --compare); \
                 `bench precision` measures every precision itself, and the other commands run f32 only"
            )));
        }
        if cli.allow_non_finite && !scope.non_finite {
            return Err(Error::Input(format!(
                "--allow-non-finite applies to the commands that load the weights themselves ({RUNS}, print, \
                 graph, bench precision); fetch, serve and the other benchmarks always refuse non-finite weights"
            )));
        }
        Ok(Session {
            model: cli.model.clone(),
            revision: cli.revision.clone(),
            precision: cli.precision,
            fusion,
            allow_non_finite: cli.allow_non_finite,
            pool: pipeline::thread_pool(cli.threads)?,
        })
    }

    /// Runs `f` on the session's thread pool (`--threads`; a pool of its own, not rayon's
    /// global one), or, for `serve`, on the calling thread (the server's compute pool is its
    /// own, of `--threads` threads: [`ServeOptions::threads`]).
    pub(crate) fn run<T: Send>(&self, command: &Command, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        if matches!(command, Command::Serve(_)) {
            return f(); // the server starts a pool of --threads of its own
        }
        self.pool.install(f)
    }

    /// The threads the command runs on.
    pub(crate) fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The precision the model runs in (f32 unless `--precision`).
    pub(crate) fn precision(&self) -> Precision {
        self.precision.unwrap_or(Precision::F32)
    }

    /// Whether results and weights holding NaN or infinity are refused.
    pub(crate) fn check_finite(&self) -> bool {
        !self.allow_non_finite
    }

    /// The checkpoint directory named by --model (a path, or a Hub id resolved in the Hugging
    /// Face cache and downloaded when absent); `None` without --model.
    pub(crate) fn model_arg(&self) -> Result<Option<PathBuf>> {
        match &self.model {
            Some(m) => Ok(Some(self.resolve(m)?)),
            None if self.revision.is_some() => Err(Error::Input("--revision needs --model with a Hub id".into())),
            None => Ok(None),
        }
    }

    fn resolve(&self, model: &Path) -> Result<PathBuf> {
        nanobert::io::hub::resolve_model(model, self.revision.as_deref(), &HubOptions::from_env(true))
    }

    /// The checkpoint named by --model, or MiniLM (fetched when absent).
    pub(crate) fn model_dir(&self) -> Result<PathBuf> {
        match self.model_arg()? {
            Some(dir) => Ok(dir),
            None => fetch::ensure_minilm(true),
        }
    }

    /// Opens the checkpoint (checking its weights are finite unless `--allow-non-finite`). A
    /// cached default model that fails to load says how to repair the cache.
    pub(crate) fn open(&self) -> Result<Checkpoint> {
        let dir = self.model_dir()?;
        Checkpoint::open_with(&dir, self.check_finite()).map_err(|e| {
            if self.model.is_some() {
                return e;
            }
            Error::Input(format!(
                "{e} — the cached model in {} is broken: repair it with `rm -r {}` then `nanobert fetch`",
                dir.display(),
                dir.display()
            ))
        })
    }

    /// The library's builder with every option of the session: precision, fusions, threads,
    /// finite-value policy.
    pub(crate) fn builder<P: Pipeline>(&self) -> Builder<P> {
        P::builder()
            .precision(self.precision())
            .fusion(self.fusion)
            .allow_non_finite(self.allow_non_finite)
            .threads(self.threads())
    }

    /// The pipeline `P` from `ckpt`, as the options say.
    pub(crate) fn load<P: Pipeline>(&self, ckpt: &Checkpoint) -> Result<P> {
        self.builder().build(ckpt)
    }

    /// The pipeline `P` from `--model`, after warning about any weight the model did not use.
    pub(crate) fn load_pipeline<P: Pipeline>(&self) -> Result<P> {
        let ckpt = self.open()?;
        let p = self.load(&ckpt)?;
        warn_unused(&ckpt);
        Ok(p)
    }

    /// The server's options from `args` and the session: the checkpoint (--model, else
    /// --model-id / MODEL_ID, a path or a Hub id, else MiniLM), the precision (--precision and
    /// --dtype / DTYPE must agree) and the fusions.
    pub(crate) fn serve_options(&self, args: &ServeArgs) -> Result<ServeOptions> {
        let dir = match args.model(self.model.as_ref())? {
            Some(m) if self.model.is_none() => self.resolve(&m)?,
            _ => self.model_dir()?,
        };
        let mut opts = args.options(dir)?;
        opts.fusion = self.fusion;
        opts.threads = Some(self.threads());
        opts.precision = match (self.precision, args.dtype) {
            (Some(g), Some(d)) if g != d => {
                return Err(Error::Input(format!("serve: --precision {g} and --dtype/DTYPE {d} disagree: give one")));
            }
            (Some(g), _) => g,
            (None, d) => d.unwrap_or(Precision::F32),
        };
        Ok(opts)
    }
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
