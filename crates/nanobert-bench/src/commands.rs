//! The `nanobert bench ...` commands, so that `main.rs` only parses arguments and dispatches.

use std::path::{Path, PathBuf};

use super::batching::{self, BatchingOptions};
use super::compare::{self, CompareOptions};
use super::forward::{self, BenchModel, ForwardOptions};
use super::models::ensure_bert_base;
use super::threads::{self, ThreadsOptions};
use nanobert::Result;
use nanobert::bert::Fusion;
use nanobert::io::fetch;

/// What `bench --compare` runs, when narrowed from the defaults (empty / `None`: the default).
#[derive(Clone, Debug, Default)]
pub struct CompareChoice {
    /// Forward cases `(batch, seq)`; given, the corpus case is left out.
    pub cases: Vec<(usize, usize)>,
    /// The other runtimes, by the names `scripts/bench_compare.py` takes.
    pub runtimes: Vec<String>,
    /// Interleaved rounds.
    pub rounds: Option<usize>,
}

/// `"32x128"` as `(32, 128)`.
pub fn parse_case(s: &str) -> Result<(usize, usize)> {
    let bad = || nanobert::Error::Input(format!("case {s:?}: expected BATCHxSEQ, e.g. 1x128"));
    let (b, t) = s.trim().split_once('x').ok_or_else(bad)?;
    let (b, t): (usize, usize) = (b.parse().map_err(|_| bad())?, t.parse().map_err(|_| bad())?);
    if b == 0 || t == 0 {
        return Err(bad());
    }
    Ok((b, t))
}

/// The models a benchmark runs: the checkpoint given with `--model`, else bert-base with
/// seeded random weights (written under `out_dir` on first use) and all-MiniLM-L6-v2
/// (fetched into the cache when absent).
pub fn default_models(model: Option<&Path>, out_dir: &Path) -> Result<Vec<BenchModel>> {
    if let Some(dir) = model {
        let name = dir.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned());
        return Ok(vec![BenchModel { name, dir: dir.to_path_buf() }]);
    }
    let minilm = fetch::ensure_minilm(true)?;
    let base = ensure_bert_base(out_dir, Some(&minilm))?;
    Ok(vec![
        BenchModel { name: "bert-base (random weights, seed 8)".into(), dir: base.dir },
        BenchModel { name: "all-MiniLM-L6-v2".into(), dir: minilm },
    ])
}

/// This executable, for the benchmarks that start fresh processes.
fn this_exe() -> Option<PathBuf> {
    std::env::current_exe().ok()
}

/// `nanobert bench forward [--quick]`, every forward with `fusion`.
pub fn forward(model: Option<&Path>, out_dir: &Path, quick: bool, fusion: Fusion) -> Result<()> {
    let models = default_models(model, out_dir)?;
    let mut opts = if quick {
        ForwardOptions::quick(models, out_dir.to_path_buf(), this_exe())
    } else {
        ForwardOptions::full(models, out_dir.to_path_buf(), this_exe())
    };
    opts.fusion = fusion;
    forward::run(&opts).map(|_| ())
}

/// `nanobert bench fusion [--quick] [--rounds N]`: each fusion off against all on
/// (bert-base and MiniLM unless `--model`).
pub fn fusion(model: Option<&Path>, out_dir: &Path, quick: bool, rounds: Option<usize>) -> Result<()> {
    let models = default_models(model, out_dir)?;
    let mut opts = super::fusion::FusionOptions::new(models, out_dir.to_path_buf(), quick);
    opts.rounds = rounds.unwrap_or(opts.rounds);
    super::fusion::run(&opts).map(|_| ())
}

/// `nanobert bench graph [--quick] [--rounds N]`: the compiled forward against the graph
/// without memory plan, without passes, and the eager modules (bert-base at batch 1 and 8 x
/// 128, MiniLM at 1 and 32 x 128, unless `--model`; `quick`: MiniLM 1 x 128 only).
pub fn graph(model: Option<&Path>, out_dir: &Path, quick: bool, rounds: Option<usize>) -> Result<()> {
    let mut models = default_models(model, out_dir)?;
    if quick && model.is_none() {
        models.retain(|m| m.name.contains("MiniLM"));
    }
    let cases = |m: &BenchModel| match () {
        _ if quick => vec![(1, 128)],
        _ if m.name.contains("MiniLM") => vec![(1, 128), (32, 128)],
        _ => vec![(1, 128), (8, 128)],
    };
    let models = models.into_iter().map(|m| (m.clone(), cases(&m))).collect();
    let rounds = rounds.unwrap_or(if quick { 3 } else { 5 });
    super::graph::run(&super::graph::GraphOptions { models, rounds, out_dir: out_dir.to_path_buf() }).map(|_| ())
}

/// `nanobert bench batching [--quick] [--bert-base]`, every forward with `fusion`: MiniLM (and the bert-base-sized
/// checkpoint with random weights when `bert_base`), or the checkpoint given with `--model`.
pub fn batching(model: Option<&Path>, out_dir: &Path, quick: bool, bert_base: bool, fusion: Fusion) -> Result<()> {
    let models = if model.is_some() || bert_base {
        let mut m = default_models(model, out_dir)?;
        m.reverse(); // MiniLM first: the quick answer before the long one
        m
    } else {
        vec![BenchModel { name: "all-MiniLM-L6-v2".into(), dir: fetch::ensure_minilm(true)? }]
    };
    batching::run(&BatchingOptions { fusion, ..BatchingOptions::new(models, out_dir.to_path_buf(), quick) }).map(|_| ())
}

/// `nanobert bench threads [--quick]` (MiniLM unless `--model`), every forward with `fusion`.
pub fn threads(model: Option<&Path>, out_dir: &Path, quick: bool, fusion: Fusion) -> Result<()> {
    let (name, dir) = match model {
        Some(d) => (d.file_name().map_or("model".into(), |n| n.to_string_lossy().into_owned()), d.to_path_buf()),
        None => ("all-MiniLM-L6-v2".to_string(), fetch::ensure_minilm(true)?),
    };
    let opts = ThreadsOptions { fusion, ..ThreadsOptions::new(dir, name, out_dir.to_path_buf(), this_exe(), quick) };
    threads::run(&opts).map(|_| ())
}

/// `nanobert bench --compare [--quick] [--torch-compile] [--precision P]` on `threads` threads,
/// nanobert's side with `fusion`.
#[allow(clippy::too_many_arguments)]
pub fn compare(
    model: Option<&Path>,
    out_dir: &Path,
    quick: bool,
    torch_compile: bool,
    threads: usize,
    precision: nanobert::quant::Precision,
    fusion: Fusion,
    choice: &CompareChoice,
) -> Result<()> {
    let mut opts = CompareOptions::new(Vec::new(), out_dir.to_path_buf(), threads, quick).for_precision(precision);
    opts.fusion = fusion;
    if !choice.cases.is_empty() {
        opts.cases = choice.cases.clone();
        opts.corpus_sentences = 0;
    }
    if !choice.runtimes.is_empty() {
        opts.runtimes = choice.runtimes.clone();
    }
    if let Some(r) = choice.rounds {
        opts.rounds = r.max(1);
    }
    compare::check_python(&opts.python, &opts.script)?;
    opts.models = default_models(model, out_dir)?.into_iter().map(|m| (m.name, m.dir)).collect();
    if quick && model.is_none() {
        // The quick run: MiniLM only (bert-base's ONNX export alone takes minutes).
        opts.models.retain(|(n, _)| n.contains("MiniLM"));
    }
    if torch_compile {
        opts.runtimes.insert(1, "torch_compile".into());
    }
    compare::run(&opts).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::parse_case;

    #[test]
    fn cases_parse_or_are_refused_by_name() {
        assert_eq!(parse_case("32x128").unwrap(), (32, 128));
        assert_eq!(parse_case(" 1x8").unwrap(), (1, 8));
        for bad in ["", "32", "x128", "0x128", "1x0", "axb", "1x2x3"] {
            let err = parse_case(bad).unwrap_err().to_string();
            assert!(err.contains("BATCHxSEQ"), "{bad:?}: {err}");
        }
    }
}
