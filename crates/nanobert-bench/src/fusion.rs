//! # `nanobert bench fusion`: what each fusion buys, measured against its absence
//!
//! For each model (by default bert-base with seeded random weights and all-MiniLM-L6-v2) and
//! each case (batch × seq of random ids, every token real), the same forward runs under
//! several [`Fusion`] configurations: all on, each fusion off alone, all off. The
//! configurations are *interleaved* — round 1 runs A B C …, round 2 runs B C … A, and so on
//! (each round starts one configuration later, so none always runs first or right after the
//! same neighbour) — so a burst of load from another process hits all of them alike; each
//! gets the median of its rounds. A fusion's gain is `median(off) / median(on)`: how much
//! slower the forward is without it, everything else equal. The ratio of the fastest rounds
//! is printed beside it: on a busy machine the minimum is the less disturbed estimate.
//!
//! Beside the time, the bytes the fusion keeps off the memory bus, computed from the shapes
//! ([`bytes_saved`]): a fusion's whole point is memory traffic not done, so the two columns
//! together say whether those bytes were expensive (they were in DRAM) or cheap (they were in
//! cache anyway). Results: a table on stdout, `fusion.md` and `fusion.csv` in the output
//! directory, with the CPU, threads, load average and host steal of every case.
//! docs/fusion.md reads them.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::forward::BenchModel;
use super::machine::{Conditions, Cpu, Watch};
use super::models::random_ids;
use super::timing::Stats;
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion, Workspace};
use nanobert::io::Checkpoint;
use nanobert::ops::cpu::CacheSizes;
use nanobert::ops::matmul::{BlockSizes, Kernel};
use nanobert::{Error, Result};

/// The fusions that only touch attention: measured at the longer sequence too.
pub const ATTENTION_FUSIONS: [&str; 2] = ["softmax", "heads"];

/// What to measure.
#[derive(Clone, Debug)]
pub struct FusionOptions {
    /// The models, in order.
    pub models: Vec<BenchModel>,
    /// `(batch, seq)` cases timed with every configuration.
    pub cases: Vec<(usize, usize)>,
    /// `(batch, seq)` cases timed with all on and each of [`ATTENTION_FUSIONS`] off only.
    pub attention_cases: Vec<(usize, usize)>,
    /// Interleaved rounds (each configuration timed once per round).
    pub rounds: usize,
    /// Where fusion.md and fusion.csv go.
    pub out_dir: PathBuf,
    /// Print progress and the tables.
    pub print: bool,
}

impl FusionOptions {
    /// Batch 1 and 8 at 128 tokens, batch 1 at 384 tokens for the attention fusions, 7
    /// rounds; `quick` (under a minute): batch 1 at 128 tokens only, 5 rounds.
    pub fn new(models: Vec<BenchModel>, out_dir: PathBuf, quick: bool) -> Self {
        FusionOptions {
            models,
            cases: if quick { vec![(1, 128)] } else { vec![(1, 128), (8, 128)] },
            attention_cases: if quick { vec![] } else { vec![(1, 384)] },
            rounds: if quick { 5 } else { 7 },
            out_dir,
            print: true,
        }
    }
}

/// The sizes the byte counts need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Sequences per forward.
    pub batch: usize,
    /// Tokens per sequence.
    pub seq: usize,
    /// `hidden_size`.
    pub hidden: usize,
    /// `intermediate_size`.
    pub intermediate: usize,
    /// `num_attention_heads`.
    pub heads: usize,
    /// `num_hidden_layers`.
    pub layers: usize,
}

impl Shape {
    /// The shape of `cfg` run on `batch` × `seq`.
    pub fn of(cfg: &BertConfig, batch: usize, seq: usize) -> Shape {
        Shape {
            batch,
            seq,
            hidden: cfg.hidden_size,
            intermediate: cfg.intermediate_size,
            heads: cfg.num_attention_heads,
            layers: cfg.num_hidden_layers,
        }
    }
}

/// NC, the columns of a B~ block, of the best GEMM kernel on this CPU (from its caches).
pub fn gemm_nc() -> usize {
    let (mr, nr) = Kernel::best().tile_shape();
    BlockSizes::for_tile(CacheSizes::detect(), mr, nr, 4).nc
}

/// Bytes per forward that fusion `name` keeps off the memory bus (f32, 4 bytes a value), and
/// what the unfused path does in addition. With `T = batch · seq` tokens, `h` hidden, `i`
/// intermediate, `H` heads and `s` tokens per sequence, per layer:
///
/// - `qkv`: the GEMM split by rows packs `x` `[T, h]` (reads it, writes the packed copy) once
///   per slab of NC output columns ([`gemm_nc`]: NC of the best kernel on this CPU, 1024 on
///   Zen 4 with AVX-512): three GEMMs of `h` columns pack it `3 ⌈h/NC⌉` times, one of `3h`
///   columns `⌈3h/NC⌉` times; the difference times `2 T·h` values (0 for bert-base at NC =
///   1024, where both are 3: there the fusion saves thread wake-ups and joins, not bytes).
///   (At small T on several threads the GEMM splits the columns instead and packs `x` once
///   per call, three times unfused and once fused; this count is the row split's.)
/// - `epilogue`: a bias pass (read + write) over the output of each of the six Linears
///   (`3 T·h` for Q, K, V, `T·h`, `T·i`, `T·h`) and a GELU pass over `[T, i]`:
///   `2 (5 T·h + T·i) + 2 T·i`;
/// - `add-norm`: `x + residual` written out and read back by LayerNorm, twice per layer:
///   `2 · 2 · T·h`;
/// - `softmax`: a scale pass and a mask pass over the `s × s` scores of every head:
///   `2 · 2 · batch · H · s²`;
/// - `heads`: each head's context written to a buffer, read back and copied: `2 T·h`;
/// - `flash`: 0 (it changes where the scores live, not how often they are read).
///
/// Errors on an unknown name. These are the passes of the unfused code (src/bert/layer.rs,
/// attention.rs, nn/linear.rs), not measured cache misses: whether the bytes reach DRAM
/// depends on the buffers' sizes against the caches.
pub fn bytes_saved(name: &str, sh: &Shape) -> Result<(u64, &'static str)> {
    let t = (sh.batch * sh.seq) as u64;
    let (h, i) = (sh.hidden as u64, sh.intermediate as u64);
    let scores = (sh.batch * sh.heads * sh.seq * sh.seq) as u64;
    let (per_layer, what) = match name {
        "qkv" => {
            let nc = gemm_nc() as u64;
            let slabs = |n: u64| n.div_ceil(nc);
            ((3 * slabs(h) - slabs(3 * h)) * 2 * t * h, "three GEMMs: x packed once per GEMM and slab of NC columns")
        }
        "epilogue" => (2 * (5 * t * h + t * i) + 2 * t * i, "a bias pass over each Linear's output, a GELU pass"),
        "add-norm" => (4 * t * h, "writes x + residual, LayerNorm reads it back (x2)"),
        "softmax" => (4 * scores, "a scale pass and a mask pass over the scores"),
        "heads" => (2 * t * h, "each head's context copied into place"),
        "flash" => (0, "holds a block of query rows x seq scores"),
        _ => return Err(Fusion::all().without(name).err().unwrap_or(Error::Input(name.into()))),
    };
    Ok((4 * per_layer * sh.layers as u64, what))
}

/// One case measured: every configuration's timings.
#[derive(Clone, Debug)]
pub struct CaseResult {
    /// Model name.
    pub model: String,
    /// The shapes.
    pub shape: Shape,
    /// `(configuration, timings)`: "all on", then "no NAME" for each fusion switched off
    /// alone, then (when timed) "all off".
    pub times: Vec<(String, Stats)>,
    /// Machine conditions while the case ran.
    pub conditions: Conditions,
}

/// One row of a gains table: a fusion (or "all") off against all on.
#[derive(Clone, Debug, PartialEq)]
pub struct Gain {
    /// The fusion's name, or "all".
    pub fusion: String,
    /// What the unfused path does in addition.
    pub what: &'static str,
    /// Bytes per forward the fusion keeps off the memory bus ([`bytes_saved`]).
    pub bytes: u64,
    /// Median forward with every fusion on, seconds.
    pub on_s: f64,
    /// Median forward with this fusion off (the others on), seconds.
    pub off_s: f64,
    /// Fastest forward with every fusion on, seconds.
    pub on_min_s: f64,
    /// Fastest forward with this fusion off, seconds.
    pub off_min_s: f64,
}

impl Gain {
    /// The fusion's gain: `off / on` (above 1: the fusion helps).
    pub fn ratio(&self) -> f64 {
        self.off_s / self.on_s
    }

    /// `off / on` of the fastest rounds.
    pub fn min_ratio(&self) -> f64 {
        self.off_min_s / self.on_min_s
    }

    /// Time per forward the fusion saves, seconds (negative: it costs).
    pub fn saved_s(&self) -> f64 {
        self.off_s - self.on_s
    }
}

/// The configurations of a case: all on, each of `names` off alone, all off if `all_off`.
pub fn configurations(names: &[&str], all_off: bool) -> Result<Vec<(String, Fusion)>> {
    let mut c = vec![("all on".to_string(), Fusion::all())];
    for n in names {
        c.push((format!("no {n}"), Fusion::all().without(n)?));
    }
    if all_off {
        c.push(("all off".into(), Fusion::none()));
    }
    Ok(c)
}

/// The gains table of a case: every "no NAME" configuration against "all on", then "all
/// off" against "all on" as the row "all" (its bytes: the sum of the others'). Errors if the
/// case has no "all on" timing.
pub fn gains(case: &CaseResult) -> Result<Vec<Gain>> {
    let find = |label: &str| case.times.iter().find(|(l, _)| l == label).map(|(_, s)| *s);
    let on = find("all on").ok_or_else(|| Error::invalid("bench fusion", "a case without \"all on\""))?;
    let gain = |fusion: &str, what, bytes, off: &Stats| Gain {
        fusion: fusion.into(),
        what,
        bytes,
        on_s: on.median_s,
        off_s: off.median_s,
        on_min_s: on.min_s,
        off_min_s: off.min_s,
    };
    let mut rows = Vec::new();
    for (label, s) in &case.times {
        if let Some(name) = label.strip_prefix("no ") {
            let (bytes, what) = bytes_saved(name, &case.shape)?;
            rows.push(gain(name, what, bytes, s));
        }
    }
    if let Some(off) = find("all off") {
        let bytes = rows.iter().map(|g| g.bytes).sum();
        rows.push(gain("all", "every pass above", bytes, &off));
    }
    Ok(rows)
}

/// The Markdown of all cases: a table per case, its conditions under it.
pub fn markdown(cpu_line: &str, rounds: usize, cases: &[CaseResult]) -> Result<String> {
    let mut md = format!(
        "# nanobert bench fusion\n\nCPU: {cpu_line}. Each case: the configurations interleaved, {rounds} rounds, \
         medians; off/on above 1 means the fusion saves time. MB: bytes per forward the fusion keeps off the \
         memory bus, from the shapes. `flash` is not taken below {} tokens, so it is not timed here.\n",
        nanobert::bert::fusion::FLASH_MIN_SEQ
    );
    for c in cases {
        let _ = write!(
            md,
            "\n## {} — batch {} x seq {}\n\n| fusion off | off/on | ms saved | on ms | off ms | off/on (fastest) | MB \
             not moved | the unfused path also |\n|---|---:|---:|---:|---:|---:|---:|---|\n",
            c.model, c.shape.batch, c.shape.seq
        );
        for g in gains(c)? {
            let _ = writeln!(
                md,
                "| {} | {:.3}x | {:+.2} | {:.2} | {:.2} | {:.3}x | {:.1} | {} |",
                g.fusion,
                g.ratio(),
                g.saved_s() * 1e3,
                g.on_s * 1e3,
                g.off_s * 1e3,
                g.min_ratio(),
                g.bytes as f64 / 1e6,
                g.what
            );
        }
        let _ = writeln!(md, "\n_{}._", c.conditions.line());
    }
    Ok(md)
}

/// The CSV of all cases: one line per (case, fusion).
pub fn csv(cases: &[CaseResult]) -> Result<String> {
    let mut out = String::from(
        "model,batch,seq,fusion,bytes_saved,on_median_s,off_median_s,off_over_on,saved_s,off_over_on_min,threads,\
         load_before,load_after,steal_pct\n",
    );
    for c in cases {
        for g in gains(c)? {
            let k = &c.conditions;
            let _ = writeln!(
                out,
                "\"{}\",{},{},{},{},{:.6e},{:.6e},{:.4},{:.6e},{:.4},{},\"{}\",\"{}\",{:.2}",
                c.model,
                c.shape.batch,
                c.shape.seq,
                g.fusion,
                g.bytes,
                g.on_s,
                g.off_s,
                g.ratio(),
                g.saved_s(),
                g.min_ratio(),
                k.threads,
                k.load_before,
                k.load_after,
                k.steal_pct
            );
        }
    }
    Ok(out)
}

/// Runs every case (module docs), prints the tables, writes fusion.md and fusion.csv;
/// returns the measured cases.
pub fn run(opts: &FusionOptions) -> Result<Vec<CaseResult>> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let cpu = Cpu::detect();
    let threads = rayon::current_num_threads();
    let say = |s: &str| {
        if opts.print {
            println!("{s}");
        }
    };
    say(&format!("CPU: {}; {threads} threads", cpu.line()));
    let mut results = Vec::new();
    for m in &opts.models {
        let ckpt = Checkpoint::open(&m.dir)?;
        let cfg = BertConfig::from_json(&ckpt.config_json)?;
        let model = BertModel::load(&ckpt.weights, "bert.", &cfg, false)?;
        // (batch, seq, the fusions to switch off, whether to time all off too)
        let mut cases: Vec<(usize, usize, Vec<&str>, bool)> = Vec::new();
        for &(b, s) in &opts.cases {
            // `flash` is only taken from FLASH_MIN_SEQ tokens: below, "no flash" is "all on".
            let names = Fusion::NAMES.iter().map(|(n, _)| *n).filter(|&n| n != "flash" || Fusion::all().use_flash(s));
            cases.push((b, s, names.collect(), true));
        }
        cases.extend(opts.attention_cases.iter().map(|&(b, s)| (b, s, ATTENTION_FUSIONS.to_vec(), false)));
        for (batch, seq, names, all_off) in cases {
            if seq > cfg.max_position_embeddings {
                say(&format!("{}: seq {seq} is longer than the model's positions, skipped", m.name));
                continue;
            }
            let configs = configurations(&names, all_off)?;
            let r = time_case(&model, &cfg, &m.name, batch, seq, &configs, opts.rounds)?;
            if opts.print {
                let line: Vec<String> =
                    r.times.iter().map(|(l, s)| format!("{l} {:.2} ms", s.median_s * 1e3)).collect();
                say(&format!("{} batch {batch} x seq {seq}: {}", m.name, line.join(", ")));
            }
            results.push(r);
        }
    }
    let md = markdown(&cpu.line(), opts.rounds, &results)?;
    say(&format!("\n{md}"));
    let (md_path, csv_path) = (opts.out_dir.join("fusion.md"), opts.out_dir.join("fusion.csv"));
    std::fs::write(&md_path, &md).map_err(|e| Error::file(&md_path, e))?;
    std::fs::write(&csv_path, csv(&results)?).map_err(|e| Error::file(&csv_path, e))?;
    say(&format!("wrote {} and {}", md_path.display(), csv_path.display()));
    Ok(results)
}

/// Times `configs` on one batch × seq input, interleaved over `rounds` rounds, on one
/// workspace (after one untimed forward per configuration).
fn time_case(
    model: &BertModel,
    cfg: &BertConfig,
    name: &str,
    batch: usize,
    seq: usize,
    configs: &[(String, Fusion)],
    rounds: usize,
) -> Result<CaseResult> {
    let ids = random_ids(cfg.vocab_size, batch, seq, (batch * 131 + seq) as u64);
    let input = BertInput::new(&ids, None, None, batch, seq)?;
    let mut ws = Workspace::new();
    for (_, f) in configs {
        model.forward_with(&input, &mut ws, f)?; // packing, page faults, scratch
    }
    let watch = Watch::start();
    let n = configs.len();
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); n];
    for round in 0..rounds.max(1) {
        for c in (0..n).map(|j| (round + j) % n) {
            let t = Instant::now();
            model.forward_with(&input, &mut ws, &configs[c].1)?;
            times[c].push(t.elapsed().as_secs_f64());
        }
    }
    let conditions = watch.finish(rayon::current_num_threads());
    let times = configs
        .iter()
        .zip(&times)
        .map(|((l, _), ts)| (l.clone(), Stats::from_times(ts).expect("rounds >= 1")))
        .collect();
    Ok(CaseResult { model: name.into(), shape: Shape::of(cfg, batch, seq), times, conditions })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(ms: f64) -> Stats {
        Stats { reps: 3, median_s: ms / 1e3, min_s: 0.9 * ms / 1e3, max_s: 1.5 * ms / 1e3 }
    }

    /// The table from fixed timings: ratios, time saved, bytes from the shapes, the "all" row.
    #[test]
    fn gains_table_from_fixed_timings() {
        // 2 sequences x 4 tokens, hidden 8 (2 heads), intermediate 16, 3 layers.
        let shape = Shape { batch: 2, seq: 4, hidden: 8, intermediate: 16, heads: 2, layers: 3 };
        let conditions =
            Conditions { load_before: "1.00".into(), load_after: "2.00".into(), steal_pct: 0.5, threads: 2 };
        let case = CaseResult {
            model: "toy".into(),
            shape,
            times: vec![
                ("all on".into(), stats(100.0)),
                ("no epilogue".into(), stats(110.0)),
                ("no softmax".into(), stats(95.0)),
                ("all off".into(), stats(125.0)),
            ],
            conditions,
        };
        let g = gains(&case).unwrap();
        assert_eq!(g.iter().map(|g| g.fusion.as_str()).collect::<Vec<_>>(), ["epilogue", "softmax", "all"]);
        // T = 8 tokens: epilogue per layer 2 (5·8·8 + 8·16) + 2·8·16 = 2·448 + 256 = 1152 values,
        // x 3 layers x 4 bytes = 13824. Softmax: 4 · 2 · 2 · 4² = 256 values -> 3072 bytes.
        assert_eq!((g[0].bytes, g[1].bytes, g[2].bytes), (13_824, 3_072, 16_896));
        assert!((g[0].ratio() - 1.1).abs() < 1e-12 && (g[0].saved_s() - 0.010).abs() < 1e-12);
        assert!(g[1].ratio() < 1.0 && g[1].saved_s() < 0.0, "a fusion that costs shows as such");
        assert!((g[2].ratio() - 1.25).abs() < 1e-12);
        let md = markdown("Test CPU", 3, std::slice::from_ref(&case)).unwrap();
        for want in
            ["## toy — batch 2 x seq 4", "| epilogue | 1.100x | +10.00 | 100.00 | 110.00 | 1.100x | 0.0 |", "| all |"]
        {
            assert!(md.contains(want), "{want:?} not in\n{md}");
        }
        assert!(md.contains("CPU: Test CPU") && md.contains("load average 1.00 -> 2.00; host steal 0.5%"), "{md}");
        let csv = csv(&[case]).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.lines().nth(1).unwrap().starts_with("\"toy\",2,4,epilogue,13824,1.000000e-1,1.100000e-1,1.1000,"));
        // bert-base, batch 1 x 128: the epilogue saves, per layer, 2 (5·128·768 + 128·3072)
        // + 2·128·3072 = 2 (491,520 + 393,216) + 786,432 = 2,555,904 values; x 12 layers x 4
        // bytes = 122,683,392 bytes.
        let base = Shape { batch: 1, seq: 128, hidden: 768, intermediate: 3072, heads: 12, layers: 12 };
        assert_eq!(bytes_saved("epilogue", &base).unwrap().0, 122_683_392);
        // QKV, with this CPU's NC: x packed 3 ⌈h/NC⌉ times unfused and ⌈3h/NC⌉ fused (with
        // NC = 1024, bert-base: 3 either way; MiniLM, h 384: 3 against 2, one pack saved).
        let nc = gemm_nc();
        let saved = |h: usize, layers: usize| (3 * h.div_ceil(nc) - (3 * h).div_ceil(nc)) * 2 * 128 * h * layers * 4;
        assert_eq!(bytes_saved("qkv", &base).unwrap().0, saved(768, 12) as u64);
        let minilm = Shape { hidden: 384, intermediate: 1536, heads: 12, layers: 6, ..base };
        assert_eq!(bytes_saved("qkv", &minilm).unwrap().0, saved(384, 6) as u64);
        if nc == 1024 {
            assert_eq!(bytes_saved("qkv", &base).unwrap().0, 0);
            assert_eq!(bytes_saved("qkv", &minilm).unwrap().0, 4 * 6 * 2 * 128 * 384);
        }
        assert!(bytes_saved("gelu", &base).is_err());
        let no_all_on = CaseResult { times: vec![("no qkv".into(), stats(1.0))], ..csv_case() };
        assert!(gains(&no_all_on).is_err());
    }

    fn csv_case() -> CaseResult {
        CaseResult {
            model: "m".into(),
            shape: Shape { batch: 1, seq: 1, hidden: 1, intermediate: 1, heads: 1, layers: 1 },
            times: vec![],
            conditions: Conditions {
                load_before: String::new(),
                load_after: String::new(),
                steal_pct: 0.0,
                threads: 1,
            },
        }
    }

    #[test]
    fn configurations_switch_one_fusion_each() {
        let c = configurations(&["qkv", "heads"], true).unwrap();
        let labels: Vec<&str> = c.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(labels, ["all on", "no qkv", "no heads", "all off"]);
        assert!(!c[1].1.qkv && c[1].1.heads && c[2].1.qkv && !c[2].1.heads && c[3].1 == Fusion::none());
        assert!(configurations(&["nope"], false).is_err());
    }
}
