//! # `nanobert bench batching`: one sentence at a time, padded batches, bucketed batches
//!
//! The mixed-length corpus of `bench forward` (same generator, same seed: 5-128 tokens,
//! shuffled) embedded three ways, each with [`nanobert::pipeline::batch_plan`], the plan
//! [`Embedder::embed`] itself runs:
//!
//! - **one by one**: a forward per sentence, no padding, no batching;
//! - **input order**: batches of 32 consecutive sentences, each padded to its longest;
//! - **bucketed**: sentences sorted by token count, batches of 32 neighbours (the default).
//!
//! For each: the token positions the model computes, the fraction of them that is padding,
//! and sentences/s — end to end (`Embedder::embed`: tokenization, forward, pooling) and model
//! only (the same batches tokenized beforehand) — with the ratio to one by one. The corpus
//! is cut into `embed` calls ("requests") of 250 sentences, and the three modes take turns on
//! every request (who goes first rotates), so a burst of load from elsewhere on a shared
//! machine hits all three alike; the ratios use the time summed over every request and round.
//! Results go to `batching.md` and `batching.csv` in the output directory.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::forward::BenchModel;
use super::machine::{Conditions, Cpu, Watch, process_cpu_seconds};
use super::models::{CORPUS_SEED, corpus};
use super::timing::Stats;
use nanobert::io::Checkpoint;
use nanobert::pipeline::{BATCH_SIZE, Batching, Embedder, batch_plan, sub_batch};
use nanobert::text::Batch;
use nanobert::{Error, Result};

/// The three ways of batching, in the order the tables list them.
pub const MODES: [Batching; 3] = [Batching::OneByOne, Batching::InputOrder, Batching::Bucketed];

/// What to measure.
#[derive(Clone, Debug)]
pub struct BatchingOptions {
    /// The models, in order.
    pub models: Vec<BenchModel>,
    /// Sentences in the corpus ([`corpus`] with [`CORPUS_SEED`]).
    pub sentences: usize,
    /// Texts per batch in the batched modes.
    pub batch_size: usize,
    /// Sentences per `embed` call: the corpus is cut into requests of this many, and the three
    /// modes take turns on every request (bucketing sorts within a request).
    pub request: usize,
    /// Rounds: passes over the whole corpus, every mode timed on every request.
    pub rounds: usize,
    /// Where batching.md and batching.csv go.
    pub out_dir: PathBuf,
    /// Print progress and the table.
    pub print: bool,
    /// The fusions every forward runs with (`--no-fuse`; all on by default).
    pub fusion: nanobert::bert::Fusion,
}

impl BatchingOptions {
    /// 1,000 sentences in requests of 250, 2 rounds (about a minute for MiniLM on 2 quiet
    /// cores), or with `quick` 200 sentences in requests of 100 (about 10 s).
    pub fn new(models: Vec<BenchModel>, out_dir: PathBuf, quick: bool) -> Self {
        BatchingOptions {
            models,
            sentences: if quick { 200 } else { 1000 },
            batch_size: BATCH_SIZE,
            request: if quick { 100 } else { 250 },
            rounds: 2,
            out_dir,
            print: true,
            fusion: nanobert::bert::Fusion::all(),
        }
    }
}

/// How much of a batching plan's work is padding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PaddingCount {
    /// Forward passes (batches) in the plan.
    pub batches: usize,
    /// Real tokens: the sum of the texts' lengths (`[CLS]` and `[SEP]` included).
    pub real: usize,
    /// Token positions the model computes: per batch, its texts × its longest text.
    pub computed: usize,
}

impl PaddingCount {
    /// Counts `plan` (groups of indices into `lengths`, as [`batch_plan`] returns).
    pub fn of(lengths: &[usize], plan: &[Vec<usize>]) -> PaddingCount {
        let mut c = PaddingCount { batches: plan.len(), ..PaddingCount::default() };
        for group in plan {
            let longest = group.iter().map(|&i| lengths[i]).max().unwrap_or(0);
            c.real += group.iter().map(|&i| lengths[i]).sum::<usize>();
            c.computed += group.len() * longest;
        }
        c
    }

    /// Adds another plan's counts.
    pub fn add(&mut self, other: PaddingCount) {
        self.batches += other.batches;
        self.real += other.real;
        self.computed += other.computed;
    }

    /// The fraction of computed positions that are padding, 0..1 (0 when nothing is computed).
    pub fn waste(&self) -> f64 {
        if self.computed == 0 { 0.0 } else { 1.0 - self.real as f64 / self.computed as f64 }
    }
}

/// A human name for a batching mode (tables, CSV).
pub fn mode_name(mode: Batching) -> &'static str {
    match mode {
        Batching::OneByOne => "one by one",
        Batching::InputOrder => "input order",
        Batching::Bucketed => "bucketed",
    }
}

/// One mode of one model: its padding and its timings.
#[derive(Clone, Debug)]
pub struct BatchingRow {
    /// Model name.
    pub model: String,
    /// The batching mode.
    pub mode: Batching,
    /// Padding of its plan on the corpus.
    pub padding: PaddingCount,
    /// Seconds per pass over the corpus through `Embedder::embed` (tokenization included),
    /// one sample per round.
    pub end_to_end: Stats,
    /// Seconds per pass over the same batches tokenized beforehand (forward and pooling).
    pub model_only: Stats,
    /// Seconds summed over all rounds, end to end and model only (the ratios between modes
    /// use these: every mode ran on every request, interleaved).
    pub totals: (f64, f64),
    /// CPU seconds of this process (all its threads) summed over all rounds, model only
    /// (NaN where not measurable): the work done, whatever share of the cores the machine gave.
    pub model_only_cpu: f64,
    /// Sentences per pass.
    pub sentences: usize,
}

impl BatchingRow {
    /// Sentences per second end to end and model only, over all rounds.
    pub fn per_second(&self) -> (f64, f64) {
        let n = (self.sentences * self.end_to_end.reps) as f64;
        (n / self.totals.0, n / self.totals.1)
    }
}

/// Runs every model's three modes, interleaved; writes batching.md and batching.csv and
/// returns the Markdown.
pub fn run(opts: &BatchingOptions) -> Result<String> {
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let threads = rayon::current_num_threads();
    let say = |s: &str| {
        if opts.print {
            println!("{s}");
        }
    };
    let cpu = Cpu::detect();
    say(&format!("CPU: {}; {threads} threads; {}", cpu.line(), opts.fusion.describe()));
    let mut all_rows = Vec::new();
    let mut conditions = Vec::new();
    for m in &opts.models {
        let (rows, cond) = run_model(m, opts, &say)?;
        all_rows.extend(rows);
        conditions.push((m.name.clone(), cond));
    }
    let md = markdown(&cpu, opts, &all_rows, &conditions);
    say(&format!("\n{md}"));
    let (md_path, csv_path) = (opts.out_dir.join("batching.md"), opts.out_dir.join("batching.csv"));
    std::fs::write(&md_path, &md).map_err(|e| Error::file(&md_path, e))?;
    std::fs::write(&csv_path, csv(&cpu, &all_rows, &conditions)).map_err(|e| Error::file(&csv_path, e))?;
    say(&format!("wrote {} and {}", md_path.display(), csv_path.display()));
    Ok(md)
}

fn run_model(m: &BenchModel, opts: &BatchingOptions, say: &dyn Fn(&str)) -> Result<(Vec<BatchingRow>, Conditions)> {
    let ckpt = Checkpoint::open(&m.dir)?;
    let vocab = ckpt
        .vocab_txt
        .clone()
        .ok_or_else(|| Error::file(&ckpt.dir, "the batching benchmark needs a vocab.txt to draw its words from"))?;
    let texts = corpus(&vocab, opts.sentences, CORPUS_SEED)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut embedder = Embedder::from_checkpoint(&ckpt)?;
    embedder.model.fusion = opts.fusion;
    // Per request: its texts, their lengths, and per mode the plan and its batches (tokenized
    // beforehand, for the model-only timings).
    struct Request<'a> {
        texts: &'a [&'a str],
        lengths: Vec<usize>,
        plans: Vec<Vec<Vec<usize>>>,
        batches: Vec<Vec<Batch>>,
    }
    let requests: Vec<Request> = refs
        .chunks(opts.request.max(1))
        .map(|texts| {
            let all = embedder.tokenizer.encode_batch(texts)?;
            let lengths = all.lengths();
            let plans: Vec<Vec<Vec<usize>>> = MODES.iter().map(|&b| batch_plan(&lengths, b, opts.batch_size)).collect();
            let batches = plans.iter().map(|p| p.iter().map(|g| sub_batch(&all, g)).collect()).collect();
            Ok(Request { texts, lengths, plans, batches })
        })
        .collect::<Result<_>>()?;
    let lengths: Vec<usize> = requests.iter().flat_map(|r| r.lengths.iter().copied()).collect();
    say(&format!(
        "{}: {} sentences of {}-{} tokens (seed {CORPUS_SEED}) in {} requests, {} rounds",
        m.name,
        refs.len(),
        lengths.iter().min().unwrap_or(&0),
        lengths.iter().max().unwrap_or(&0),
        requests.len(),
        opts.rounds
    ));
    // Warm-up: every mode once on a slice (packed weights, page faults, thread wake-up).
    let head = &refs[..refs.len().min(64)];
    for &mode in &MODES {
        embedder.batching = mode;
        embedder.embed(head)?;
    }
    let watch = Watch::start();
    // Seconds per round and mode: summed over the requests, the modes taking turns on each.
    let mut e2e: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut fwd: Vec<Vec<f64>> = vec![Vec::new(); MODES.len()];
    let mut cpu = [0.0f64; 3];
    for round in 0..opts.rounds.max(1) {
        let (mut e, mut f) = ([0.0f64; 3], [0.0f64; 3]);
        for (ri, r) in requests.iter().enumerate() {
            for j in 0..MODES.len() {
                let k = (j + ri + round) % MODES.len(); // who goes first rotates
                embedder.batching = MODES[k];
                let t = Instant::now();
                let v = embedder.embed(r.texts)?;
                e[k] += t.elapsed().as_secs_f64();
                if v.len() != r.texts.len() {
                    return Err(Error::invalid("bench batching", "embed returned the wrong number of vectors"));
                }
                let (t, c) = (Instant::now(), process_cpu_seconds());
                for b in &r.batches[k] {
                    embedder.embed_batch(b, None)?;
                }
                f[k] += t.elapsed().as_secs_f64();
                cpu[k] += match (c, process_cpu_seconds()) {
                    (Some(a), Some(b)) => b - a,
                    _ => f64::NAN,
                };
            }
        }
        let mut line = format!("round {}/{}:", round + 1, opts.rounds.max(1));
        for (k, &mode) in MODES.iter().enumerate() {
            e2e[k].push(e[k]);
            fwd[k].push(f[k]);
            let _ = write!(line, " {} {:.2} s (model only {:.2} s);", mode_name(mode), e[k], f[k]);
        }
        say(&line);
    }
    let cond = watch.finish(rayon::current_num_threads());
    say(&format!("_{}_", cond.line()));
    let rows = MODES
        .iter()
        .enumerate()
        .map(|(k, &mode)| {
            let mut padding = PaddingCount::default();
            for r in &requests {
                padding.add(PaddingCount::of(&r.lengths, &r.plans[k]));
            }
            BatchingRow {
                model: m.name.clone(),
                mode,
                padding,
                end_to_end: Stats::from_times(&e2e[k]).expect("rounds >= 1"),
                model_only: Stats::from_times(&fwd[k]).expect("rounds >= 1"),
                totals: (e2e[k].iter().sum(), fwd[k].iter().sum()),
                model_only_cpu: cpu[k],
                sentences: refs.len(),
            }
        })
        .collect();
    Ok((rows, cond))
}

/// The Markdown report: per model, one table of the three modes and the conditions.
pub fn markdown(
    cpu: &Cpu,
    opts: &BatchingOptions,
    rows: &[BatchingRow],
    conditions: &[(String, Conditions)],
) -> String {
    let mut s = String::from("# nanobert bench batching\n\n");
    let _ = writeln!(
        s,
        "CPU: {}; {}. {} sentences of 5-128 tokens (`bench forward`'s corpus, seed {CORPUS_SEED}); batches of {}; \
         `embed` calls of {} sentences, the three modes taking turns on each; {} rounds over the corpus \
         (seconds: median round, min-max; sentences/s and ratios: all rounds).\n",
        cpu.line(),
        opts.fusion.describe(),
        opts.sentences,
        opts.batch_size,
        opts.request,
        opts.rounds
    );
    for (model, cond) in conditions {
        let mine: Vec<&BatchingRow> = rows.iter().filter(|r| &r.model == model).collect();
        let base = mine.iter().find(|r| r.mode == Batching::OneByOne).map(|r| r.per_second());
        let _ = writeln!(
            s,
            "## {model}\n\n| batching | forward passes | token positions computed | padding | end to end s \
             (min-max) | sentences/s | vs one by one | model only s | sentences/s | vs one by one | model only \
             CPU s per round |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for r in &mine {
            let (e, f) = r.per_second();
            let (be, bf) = base.unwrap_or((e, f));
            let _ = writeln!(
                s,
                "| {} | {} | {} | {:.1}% | {:.2} ({:.2}-{:.2}) | {:.1} | {:.2}x | {:.2} | {:.1} | {:.2}x | {:.2} |",
                mode_name(r.mode),
                r.padding.batches,
                r.padding.computed,
                100.0 * r.padding.waste(),
                r.end_to_end.median_s,
                r.end_to_end.min_s,
                r.end_to_end.max_s,
                e,
                e / be,
                r.model_only.median_s,
                f,
                f / bf,
                r.model_only_cpu / r.end_to_end.reps as f64
            );
        }
        let _ = writeln!(
            s,
            "\nEnd to end: `Embedder::embed` (tokenization, forward, pooling). Model only: the same batches \
             tokenized beforehand. Padding: the share of computed token positions that are `[PAD]` \
             (attention also pays for it squared). CPU s: the CPU time of all threads of this process while \
             the model ran (on a shared machine, the work done whatever share of the cores it got).\n\n_{}._\n",
            cond.line()
        );
    }
    s
}

/// `batching.csv`: one line per model and mode.
pub fn csv(cpu: &Cpu, rows: &[BatchingRow], conditions: &[(String, Conditions)]) -> String {
    let mut s = String::from(
        "cpu,threads,model,batching,sentences,rounds,batches,real_tokens,computed_positions,padding_fraction,\
         end_to_end_median_s,end_to_end_min_s,end_to_end_max_s,model_only_median_s,model_only_min_s,\
         model_only_max_s,model_only_cpu_s,load_before,load_after,steal_pct\n",
    );
    for r in rows {
        let Some((_, c)) = conditions.iter().find(|(m, _)| m == &r.model) else { continue };
        let _ = writeln!(
            s,
            "\"{}\",{},\"{}\",{},{},{},{},{},{},{:.4},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},{:.6e},\"{}\",\"{}\",{:.2}",
            cpu.model,
            c.threads,
            r.model,
            mode_name(r.mode),
            r.sentences,
            r.end_to_end.reps,
            r.padding.batches,
            r.padding.real,
            r.padding.computed,
            r.padding.waste(),
            r.end_to_end.median_s,
            r.end_to_end.min_s,
            r.end_to_end.max_s,
            r.model_only.median_s,
            r.model_only.min_s,
            r.model_only.max_s,
            r.model_only_cpu,
            c.load_before,
            c.load_after,
            c.steal_pct
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_is_counted_per_batch_against_its_longest_text() {
        // Eight texts; batches of 4. Worked out by hand:
        // input order: [3, 20, 4, 5] -> 4 x 20 = 80, [18, 6, 19, 5] -> 4 x 19 = 76: 156 computed;
        // bucketed: sorted 3 4 5 5 | 6 18 19 20 -> 4 x 5 + 4 x 20 = 100;
        // one by one: exactly the real tokens, 80.
        let lengths = [3, 20, 4, 5, 18, 6, 19, 5];
        let real = 80;
        let count = |b| PaddingCount::of(&lengths, &batch_plan(&lengths, b, 4));
        assert_eq!(count(Batching::InputOrder), PaddingCount { batches: 2, real, computed: 156 });
        assert_eq!(count(Batching::Bucketed), PaddingCount { batches: 2, real, computed: 100 });
        assert_eq!(count(Batching::OneByOne), PaddingCount { batches: 8, real, computed: 80 });
        assert!((count(Batching::InputOrder).waste() - 76.0 / 156.0).abs() < 1e-12);
        assert!((count(Batching::Bucketed).waste() - 0.2).abs() < 1e-12);
        assert_eq!(count(Batching::OneByOne).waste(), 0.0);
        assert_eq!(PaddingCount::default().waste(), 0.0);
    }

    #[test]
    fn every_plan_covers_every_text_once() {
        let lengths: Vec<usize> = (0..70).map(|i| (i * 37) % 41 + 2).collect();
        for mode in MODES {
            let plan = batch_plan(&lengths, mode, 32);
            let mut seen: Vec<usize> = plan.iter().flatten().copied().collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..70).collect::<Vec<_>>(), "{mode:?}");
            assert!(plan.iter().all(|g| !g.is_empty() && g.len() <= 32));
        }
        assert_eq!(batch_plan(&lengths, Batching::Bucketed, 32).len(), 3);
        assert_eq!(batch_plan(&lengths, Batching::OneByOne, 32).len(), 70);
        assert!(batch_plan(&[], Batching::Bucketed, 32).is_empty());
    }
}
