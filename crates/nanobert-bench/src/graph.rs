//! # `nanobert bench graph`: the compiled forward against eager execution, in one run
//!
//! Four ways to run the same model on the same batch, interleaved round by round (as in
//! `bench fusion`, each round starting one configuration later) so a burst of load from another
//! process hits all of them alike:
//!
//! - **compiled**: `BertModel::forward_with`, the graph after every pass, on a warm arena —
//!   what every command, the server and the bindings run;
//! - **compiled, no memory plan**: every pass but `memory`, so every value keeps a buffer of its
//!   own (the arena is allocated once all the same);
//! - **no passes**: the traced graph as it is, op by op, every value in its own buffer (skipped
//!   when that arena would pass [`MAX_UNPLANNED_BYTES`]);
//! - **eager modules**: `BertEmbeddings::forward` then each `BertLayer::forward`, the readable
//!   composition of modules, one fresh tensor per step, as an eager framework runs.
//!
//! Beside the times: what tracing and the passes cost (the `fold` pass apart: it packs the
//! weights into GEMM panels, work any first forward does), and the arena's bytes against
//! every value in its own buffer.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::forward::BenchModel;
use super::machine::{Cpu, Watch};
use super::models::random_ids;
use super::timing::Stats;
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion, Workspace};
use nanobert::bert::{Want, compile};
use nanobert::graph::{Compiled, Passes, RunState};
use nanobert::io::Checkpoint;
use nanobert::{Error, Result};

/// The largest arena the "no passes" configuration may take (1 GB): without passes, every
/// `[B, heads, S, S]` score tensor of every layer stays in memory.
pub const MAX_UNPLANNED_BYTES: usize = 1 << 30;

/// What to measure.
#[derive(Clone, Debug)]
pub struct GraphOptions {
    /// `(model, cases)`: each model with its `(batch, seq)` cases.
    pub models: Vec<(BenchModel, Vec<(usize, usize)>)>,
    /// Interleaved rounds.
    pub rounds: usize,
    /// Where graph.md goes.
    pub out_dir: PathBuf,
}

/// A configuration of a case.
enum Config {
    Forward,
    Graph(Box<Compiled>, RunState),
    Eager,
}

fn run_once(model: &BertModel, input: &BertInput, ws: &mut Workspace, c: &mut Config) -> Result<()> {
    match c {
        Config::Forward => model.forward_with(input, ws, &Fusion::all()),
        Config::Graph(g, st) => g.run(model, input, st),
        Config::Eager => {
            let mask = input.additive_mask();
            let mut x = model.embeddings.forward(input)?;
            for layer in &model.encoder.layer.0 {
                x = layer.forward(&x, &mask)?;
            }
            Ok(())
        }
    }
}

/// One model's section of the report: the compile costs, then a table per case.
fn measure(m: &BenchModel, cases: &[(usize, usize)], rounds: usize, say: &dyn Fn(&str)) -> Result<String> {
    let ckpt = Checkpoint::open(&m.dir)?;
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    let model = BertModel::load(&ckpt.weights, "bert.", &cfg, false)?;
    let c = compile(&model, &Passes::all(), Want::default())?;
    let fold: f64 = c.reports.iter().filter(|r| r.name == "fold").map(|r| r.seconds).sum();
    let passes: f64 = c.reports.iter().filter(|r| r.name != "fold").map(|r| r.seconds).sum();
    let mut md = format!(
        "\n## {}\n\ntrace {:.2} ms + passes but fold {:.2} ms = {:.2} ms; fold (stack Q/K/V, pack every weight) {:.1} ms; \
         {} -> {} nodes\n",
        m.name,
        1e3 * c.trace_seconds,
        1e3 * passes,
        1e3 * (c.trace_seconds + passes),
        1e3 * fold,
        c.reports.first().map_or(0, |r| r.nodes.0),
        c.graph.nodes.len()
    );
    say(md.trim());
    for &(b, s) in cases {
        let s = s.min(cfg.max_position_embeddings);
        let ids = random_ids(cfg.vocab_size, b, s, (b * 131 + s) as u64);
        let input = BertInput::new(&ids, None, None, b, s)?;
        let unplanned = compile(&model, &Passes::all().without("memory")?, Want::default())?;
        let none = compile(&model, &Passes::none(), Want::default())?;
        let bytes = |c: &Compiled| c.layout.arena_bytes(&c.graph, b, s);
        let (arena, own, none_bytes) = (bytes(&c), bytes(&unplanned), bytes(&none));
        let mut configs = vec![
            ("compiled", Config::Forward),
            ("compiled, no memory plan", Config::Graph(Box::new(unplanned), RunState::new())),
        ];
        if none_bytes <= MAX_UNPLANNED_BYTES {
            configs.push(("no passes", Config::Graph(Box::new(none), RunState::new())));
        }
        configs.push(("eager modules", Config::Eager));
        let mut ws = Workspace::new();
        for (_, c) in &mut configs {
            run_once(&model, &input, &mut ws, c)?; // packing, page faults, scratch
        }
        let watch = Watch::start();
        let n = configs.len();
        let mut times = vec![Vec::new(); n];
        for round in 0..rounds.max(1) {
            for k in (0..n).map(|j| (round + j) % n) {
                let t = Instant::now();
                run_once(&model, &input, &mut ws, &mut configs[k].1)?;
                times[k].push(t.elapsed().as_secs_f64());
            }
        }
        let conditions = watch.finish(rayon::current_num_threads());
        let stats: Vec<Stats> = times.iter().filter_map(|t| Stats::from_times(t)).collect();
        let base = stats.first().ok_or_else(|| Error::invalid("bench graph", "no timing"))?.median_s;
        let _ = write!(
            md,
            "\n### batch {b} x seq {s}\n\narena {:.1} MB planned; {:.1} MB with every pass but memory; {:.1} MB \
             without passes\n\n| run | median ms | fastest ms | / compiled |\n|---|---:|---:|---:|\n",
            arena as f64 / 1e6,
            own as f64 / 1e6,
            none_bytes as f64 / 1e6
        );
        for ((label, _), st) in configs.iter().zip(&stats) {
            let _ = writeln!(
                md,
                "| {label} | {:.2} | {:.2} | {:.3}x |",
                1e3 * st.median_s,
                1e3 * st.min_s,
                st.median_s / base
            );
        }
        let _ = writeln!(md, "\n_{}._", conditions.line());
        say(&md[md.rfind("\n### ").unwrap_or(0)..]);
    }
    Ok(md)
}

/// Runs every model's cases, prints the tables, writes `graph.md`; returns its text.
pub fn run(opts: &GraphOptions) -> Result<String> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let cpu = Cpu::detect();
    let threads = rayon::current_num_threads();
    let head = format!(
        "# nanobert bench graph\n\nCPU: {}; {threads} threads; configurations interleaved, {} rounds, medians.\n",
        cpu.line(),
        opts.rounds
    );
    println!("{}", head.trim());
    let mut md = head;
    for (m, cases) in &opts.models {
        md += &measure(m, cases, opts.rounds, &|s| println!("{s}"))?;
    }
    let path = opts.out_dir.join("graph.md");
    std::fs::write(&path, &md).map_err(|e| Error::file(&path, e))?;
    println!("wrote {}", path.display());
    Ok(md)
}
