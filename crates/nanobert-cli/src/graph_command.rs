//! `nanobert graph`: the forward pass as a graph, before and after the passes (the library's
//! `nanobert::graph` does the work; this file only loads, chooses and prints).

use std::path::PathBuf;

use nanobert::bert::{BertConfig, BertModel, Fusion};
use nanobert::bert::{Want, compile, trace};
use nanobert::graph::Passes;
use nanobert::io::Checkpoint;
use nanobert::{Error, Result};

/// `nanobert graph` options.
#[derive(clap::Args, Clone, Debug)]
pub struct GraphArgs {
    /// The passes to run, in order: a comma list of dce, qkv, epilogue, add-norm, softmax,
    /// heads, attention, flash, fold, memory; or `all` (that order) or `none`. `--no-fuse NAME`
    /// removes a pass from the list.
    #[arg(long, default_value = "all", value_name = "LIST")]
    pub passes: String,
    /// Also print the traced graph, before any pass.
    #[arg(long)]
    pub before: bool,
    /// Write the graph after the passes as Graphviz DOT to this file (`dot -Tsvg FILE`).
    #[arg(long, value_name = "FILE")]
    pub dot: Option<PathBuf>,
    /// Print the buffers' lifetimes in the arena, one row a buffer.
    #[arg(long)]
    pub lifetimes: bool,
    /// Keep the pooler's output (by default only the hidden states are wanted, so `dce`
    /// removes the pooler).
    #[arg(long)]
    pub pooler: bool,
    /// The batch size the arena is sized for.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub batch: u64,
    /// The sequence length the arena is sized for (default: 128, or the model's
    /// max_position_embeddings if smaller).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub seq: Option<u64>,
}

/// The passes `args.passes` names, without the fusions `fusion` turns off.
pub fn passes(args: &GraphArgs, fusion: &Fusion) -> Result<Passes> {
    let mut p = Passes::parse(&args.passes).map_err(|e| Error::Input(format!("--passes: {e}")))?;
    for name in fusion.off() {
        p = p.without(name)?;
    }
    Ok(p)
}

/// Loads the encoder of `ckpt` (pooler included when present), as the commands that run it do.
pub fn load(ckpt: &Checkpoint) -> Result<BertModel> {
    let cfg = BertConfig::from_json(&ckpt.config_json)?;
    BertModel::load(&ckpt.weights, "bert.", &cfg, true)
}

/// The report `nanobert graph` prints: the traced graph (with `--before`), the graph after the
/// passes, a line per pass, the arena against every value in a buffer of its own; the DOT
/// file and the lifetimes when asked.
pub fn report(model: &BertModel, args: &GraphArgs, passes: &Passes) -> Result<String> {
    let want = Want { pooler_output: args.pooler, hidden_states: false };
    if args.pooler && model.pooler.is_none() {
        return Err(Error::Input("--pooler: this checkpoint has no pooler (pooler.dense.*)".into()));
    }
    let max_pos = model.config.max_position_embeddings;
    let (b, s) = (args.batch as usize, args.seq.map_or(128.min(max_pos), |s| s as usize));
    if s > max_pos {
        return Err(Error::Input(format!("--seq {s}: longer than the model's max_position_embeddings = {max_pos}")));
    }
    let mut out = String::new();
    if args.before {
        let traced = trace(model, want);
        out += &format!("# traced: {} nodes\n{traced}\n", traced.nodes.len());
    }
    let c = compile(model, passes, want)?;
    out += &format!(
        "# after passes: {}\n{}\n",
        if passes.0.is_empty() { "none".into() } else { passes.0.join(",") },
        c.graph
    );
    out += &c.summary(b, s);
    out += &format!("Linear weights (--precision): {}\n", precisions(model));
    let own = compile(model, &Passes::none(), want)?;
    out += &format!(
        "without passes: {} nodes, every value in a buffer of its own: {:.1} MB at batch {b} x seq {s}\n",
        own.graph.nodes.len(),
        own.layout.arena_bytes(&own.graph, b, s) as f64 / 1e6
    );
    if args.lifetimes {
        out += &format!("\n{}", c.layout.picture(&c.graph, b, s, 64));
    }
    if let Some(path) = &args.dot {
        std::fs::write(path, c.graph.to_dot()).map_err(|e| Error::Input(format!("--dot {}: {e}", path.display())))?;
        out += &format!("wrote {}\n", path.display());
    }
    Ok(out)
}

/// How many of the model's Linears hold each precision, e.g. `18 int8, 6 bf16`.
fn precisions(model: &BertModel) -> String {
    let mut counts: Vec<(nanobert::quant::Precision, usize)> = Vec::new();
    for (_, l) in nanobert::nn::linears(model) {
        match counts.iter_mut().find(|(p, _)| *p == l.precision()) {
            Some((_, n)) => *n += 1,
            None => counts.push((l.precision(), 1)),
        }
    }
    counts.iter().map(|(p, n)| format!("{n} {p}")).collect::<Vec<_>>().join(", ")
}
