//! # How much accuracy each precision costs: `nanobert bench precision`
//!
//! For each precision plan, against the same model in f32 (not against PyTorch: the question
//! is what the lower precision changed):
//!
//! - sentence embeddings of all-MiniLM-L6-v2 on a fixed varied set
//!   (tests/fixtures/precision/sentences.txt): the cosine of each sentence's embedding with its
//!   f32 embedding (min, mean, and the worst sentence), and the Spearman rank correlation of
//!   all pairwise similarities (does the lower precision rank pairs the same way?);
//! - fill-mask logits of the tiny MLM fixture (tests/fixtures/tiny-bert) at every token of the
//!   same texts: top-1 agreement, top-5 overlap, largest absolute logit error.
//!
//! Plus a per-layer error table: int8 in only one kind of Linear (or one layer), f32
//! elsewhere, to see where the accuracy goes.
//!
//! An instrument: it runs pipelines through the library's public API; the metrics are plain
//! functions.

use nanobert::bert::pooling::cosine;
use nanobert::bert::{BertConfig, BertForMaskedLM};
use nanobert::io::Checkpoint;
use nanobert::nn::to_precision;
use nanobert::pipeline::Embedder;
use nanobert::quant::PrecisionPlan;
use nanobert::quant::half::HalfKernel;
use nanobert::quant::{I8Kernel, Precision};
use nanobert::text::Tokenizer;
use nanobert::{Error, Result};

/// How close one set of embeddings is to the f32 one.
#[derive(Clone, Debug, PartialEq)]
pub struct EmbeddingAgreement {
    /// Smallest per-sentence cosine with the f32 embedding.
    pub min_cosine: f64,
    /// Mean per-sentence cosine.
    pub mean_cosine: f64,
    /// Index of the sentence with the smallest cosine.
    pub worst: usize,
    /// Spearman correlation between the pairwise cosine similarities of both sets.
    pub spearman: f64,
}

/// Compares embeddings sentence by sentence (same order, same count).
pub fn agreement(reference: &[Vec<f32>], other: &[Vec<f32>]) -> EmbeddingAgreement {
    let cos: Vec<f64> = reference.iter().zip(other).map(|(a, b)| cosine(a, b) as f64).collect();
    let (worst, min_cosine) = cos
        .iter()
        .enumerate()
        .fold((0, f64::INFINITY), |(wi, wv), (i, &c)| if c < wv || c.is_nan() { (i, c) } else { (wi, wv) });
    let mean_cosine = cos.iter().sum::<f64>() / cos.len().max(1) as f64;
    let spearman = spearman(&pairwise_cosines(reference), &pairwise_cosines(other));
    EmbeddingAgreement { min_cosine, mean_cosine, worst, spearman }
}

/// Cosine similarity of every pair `i < j`.
pub fn pairwise_cosines(v: &[Vec<f32>]) -> Vec<f64> {
    let mut out = Vec::with_capacity(v.len() * v.len().saturating_sub(1) / 2);
    for i in 0..v.len() {
        for j in i + 1..v.len() {
            out.push(cosine(&v[i], &v[j]) as f64);
        }
    }
    out
}

/// Ranks (1-based, ties get their average rank).
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut r = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &t in &idx[i..=j] {
            r[t] = avg;
        }
        i = j + 1;
    }
    r
}

/// Spearman's rank correlation: Pearson's correlation of the ranks (NaN for fewer than 2
/// values or a constant input).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma) * (x - ma)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb) * (y - mb)).sum();
    cov / (va * vb).sqrt()
}

/// Fill-mask agreement between two sets of logits over the same positions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MlmAgreement {
    /// Positions compared.
    pub positions: usize,
    /// Fraction of positions whose top-1 token is the same.
    pub top1: f64,
    /// Mean fraction of the f32 top-5 found in the other top-5.
    pub top5: f64,
    /// Largest |logit - f32 logit|.
    pub max_logit_error: f32,
}

impl MlmAgreement {
    /// Adds the positions of `other` vs `reference`, both `[positions, vocab]` row-major.
    pub fn add(&mut self, reference: &[f32], other: &[f32], vocab: usize) {
        let (mut top1, mut top5) = (self.top1 * self.positions as f64, self.top5 * self.positions as f64);
        for (r, o) in reference.chunks_exact(vocab).zip(other.chunks_exact(vocab)) {
            let (tr, to) = (nanobert::pipeline::top_k_indices(r, 5), nanobert::pipeline::top_k_indices(o, 5));
            top1 += (tr.first() == to.first()) as u8 as f64;
            top5 += tr.iter().filter(|t| to.contains(t)).count() as f64 / 5.0;
            let err = r.iter().zip(o).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            self.max_logit_error = self.max_logit_error.max(if err.is_nan() { f32::INFINITY } else { err });
            self.positions += 1;
        }
        let n = self.positions.max(1) as f64;
        (self.top1, self.top5) = (top1 / n, top5 / n);
    }
}

/// The CPU's model name (from /proc/cpuinfo) and the kernels this run uses.
pub fn cpu_line() -> String {
    let name = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!(
        "CPU: {name}; kernels: int8 {}, f16 {}, bf16 {}",
        I8Kernel::best().name(),
        HalfKernel::best(Precision::F16).name(),
        HalfKernel::best(Precision::Bf16).name()
    )
}

/// One row of the report: a label and the plan it measures.
pub struct Config {
    /// What the table calls it.
    pub label: String,
    /// The precision of each Linear.
    pub plan: PrecisionPlan,
    /// Add SmoothQuant factors with this α, calibrated on [`nanobert::quant::CALIBRATION`].
    pub smooth_alpha: Option<f32>,
}

/// What `nanobert bench precision` measures with.
pub struct Options<'a> {
    /// The sentence-embedding model (all-MiniLM-L6-v2).
    pub embedder: &'a Checkpoint,
    /// The fill-mask model (the tiny MLM fixture), if any.
    pub mlm: Option<&'a Checkpoint>,
    /// The texts (tests/fixtures/precision/sentences.txt).
    pub texts: Vec<String>,
    /// The rows of the main table.
    pub configs: Vec<Config>,
    /// Also print the per-layer table (int8 in one kind of Linear / one layer at a time).
    pub per_layer: bool,
}

/// How many of the texts the fill-mask comparison uses (its logits are 30522 wide).
const MLM_TEXTS: usize = 120;

/// `plan` plus SmoothQuant factors with `alpha` (if given), calibrated by running `bert` (inside
/// `root`, the module to convert) on [`nanobert::quant::CALIBRATION`].
fn calibrated(
    root: &dyn nanobert::nn::Module,
    bert: &nanobert::bert::BertModel,
    tok: &Tokenizer,
    plan: &PrecisionPlan,
    alpha: Option<f32>,
) -> Result<PrecisionPlan> {
    let mut plan = plan.clone();
    if let Some(alpha) = alpha {
        let texts: Vec<&str> = nanobert::quant::CALIBRATION.lines().filter(|l| !l.trim().is_empty()).collect();
        let maxima = nanobert::nn::calibrate(root, || {
            for chunk in texts.chunks(32) {
                let batch = tok.encode_batch(chunk)?;
                let input = nanobert::pipeline::input(&batch)?;
                bert.forward(&input, false)?;
            }
            Ok(())
        })?;
        for (path, l) in nanobert::nn::linears(root) {
            if let (Some(m), Some(w)) = (maxima.get(&path), l.weight.as_slice()) {
                plan.smooth.insert(path, nanobert::quant::smooth_factors(w, l.in_features(), m, alpha));
            }
        }
    }
    Ok(plan)
}

/// The MLM fixture's logits at every real token of `texts`, `[positions, vocab]`.
fn mlm_logits(model: &BertForMaskedLM, tok: &Tokenizer, texts: &[&str]) -> Result<(Vec<f32>, usize)> {
    let mut out = Vec::new();
    let mut vocab = 0;
    for chunk in texts.chunks(32) {
        let batch = tok.encode_batch(chunk)?;
        let input = nanobert::pipeline::input(&batch)?;
        let hidden = model.bert.forward(&input, false)?.last_hidden_state;
        let s = batch.seq_len;
        let positions: Vec<(usize, usize)> =
            (0..batch.batch * s).filter(|&i| batch.attention_mask[i] == 1).map(|i| (i / s, i % s)).collect();
        let logits = model.logits_at(&hidden, &positions)?;
        vocab = logits.shape()[1];
        out.extend_from_slice(logits.as_slice().unwrap_or(&[]));
    }
    Ok((out, vocab))
}

/// Runs the report; returns it as markdown (tables, the commands' context, the CPU).
pub fn run(opts: &Options, progress: &mut dyn FnMut(&str)) -> Result<String> {
    let texts: Vec<&str> = opts.texts.iter().map(String::as_str).collect();
    if texts.len() < 2 {
        return Err(Error::Input("bench precision needs at least 2 texts".into()));
    }
    let mut embedder = Embedder::from_checkpoint(opts.embedder)?;
    // The MLM fixture twice: an f32 reference and a copy to convert (logits are compared
    // chunk by chunk: all of them at once would take gigabytes).
    let mut mlm = match opts.mlm {
        Some(ckpt) => {
            let cfg = BertConfig::from_json(&ckpt.config_json)?;
            let reference = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
            let model = BertForMaskedLM::load(&ckpt.weights, &cfg)?;
            let tok = Tokenizer::from_checkpoint(ckpt, nanobert::pipeline::max_len(ckpt, &cfg))?;
            Some((reference, model, tok))
        }
        None => None,
    };
    // Fill-mask positions: every token of the first MLM_TEXTS texts.
    let mlm_texts = &texts[..texts.len().min(MLM_TEXTS)];
    let mlm_positions = match &mlm {
        Some((_, _, tok)) => tok.encode_batch(mlm_texts)?.attention_mask.iter().filter(|&&v| v == 1).count(),
        None => 0,
    };
    progress("f32 reference");
    let reference = embedder.embed(&texts)?;
    let mut md = String::new();
    md.push_str(&format!("{}\n\n", cpu_line()));
    md.push_str(&format!(
        "{} texts; embeddings: all-MiniLM-L6-v2 vs its f32 self; MLM: tiny fixture, {} token positions (first {MLM_TEXTS} texts)\n\n",
        texts.len(),
        mlm_positions
    ));
    md.push_str("| precision | weight MB | min cos | mean cos | Spearman | worst text | MLM top-1 | MLM top-5 | max logit err |\n");
    md.push_str("|---|---|---|---|---|---|---|---|---|\n");
    for c in &opts.configs {
        progress(&c.label);
        let plan = calibrated(&embedder.model, &embedder.model, &embedder.tokenizer, &c.plan, c.smooth_alpha)?;
        to_precision(&mut embedder.model, &plan)?;
        let (bytes, _) = nanobert::nn::weight_bytes(&embedder.model);
        let a = agreement(&reference, &embedder.embed(&texts)?);
        to_precision(&mut embedder.model, &PrecisionPlan::uniform(Precision::F32))?;
        let m = match &mut mlm {
            Some((reference, model, tok)) => {
                let plan = calibrated(model, &model.bert, tok, &c.plan, c.smooth_alpha)?;
                to_precision(model, &plan)?;
                let mut m = MlmAgreement::default();
                for chunk in mlm_texts.chunks(16) {
                    let (lr, vocab) = mlm_logits(reference, tok, chunk)?;
                    let (lo, _) = mlm_logits(model, tok, chunk)?;
                    m.add(&lr, &lo, vocab);
                }
                to_precision(model, &PrecisionPlan::uniform(Precision::F32))?;
                format!("{:.3} | {:.3} | {:.3}", m.top1, m.top5, m.max_logit_error)
            }
            _ => "- | - | -".into(),
        };
        let worst: String = texts[a.worst].chars().take(28).collect::<String>().replace('|', "/");
        md.push_str(&format!(
            "| {} | {:.1} | {:.5} | {:.5} | {:.5} | {:?} | {m} |\n",
            c.label,
            bytes as f64 / 1e6,
            a.min_cosine,
            a.mean_cosine,
            a.spearman,
            worst
        ));
    }
    if opts.per_layer {
        md.push_str("\nWhere int8 loses accuracy: int8 in only these Linears, f32 elsewhere (embeddings)\n\n");
        md.push_str("| int8 only in | min cos | mean cos | worst text |\n|---|---|---|---|\n");
        let layers = embedder.model.config.num_hidden_layers;
        let mut rows: Vec<(String, String)> = [
            ("query (Q)", "query"),
            ("key (K)", "key"),
            ("value (V)", "value"),
            ("attention output", "attention.output.dense"),
            ("FFN up (intermediate)", "intermediate.dense"),
            ("FFN down (output)", "layer.*.output.dense"),
        ]
        .iter()
        .map(|(l, p)| (l.to_string(), p.to_string()))
        .collect();
        rows.extend((0..layers).map(|i| (format!("layer {i} (all six)"), format!("layer.{i}"))));
        for (label, pattern) in rows {
            progress(&label);
            let plan = PrecisionPlan {
                default: Precision::F32,
                overrides: vec![(pattern, Precision::Int8)],
                ..Default::default()
            };
            to_precision(&mut embedder.model, &plan)?;
            let a = agreement(&reference, &embedder.embed(&texts)?);
            let worst: String = texts[a.worst].chars().take(28).collect::<String>().replace('|', "/");
            md.push_str(&format!("| {label} | {:.5} | {:.5} | {worst:?} |\n", a.min_cosine, a.mean_cosine));
        }
        to_precision(&mut embedder.model, &PrecisionPlan::uniform(Precision::F32))?;
    }
    Ok(md)
}

/// The fixed text set (tests/fixtures/precision/sentences.txt, built by
/// scripts/make_precision_sentences.py), compiled in so the command needs no files.
pub const SENTENCES: &str = include_str!("../../../tests/fixtures/precision/sentences.txt");

/// The rows `nanobert bench precision` measures by default: every precision with this CPU's
/// best kernels, plus the slower kernels' variants where they change the numbers.
pub fn default_configs() -> Vec<Config> {
    let mut out = vec![
        Config { label: "f16".into(), plan: PrecisionPlan::uniform(Precision::F16), smooth_alpha: None },
        Config {
            label: format!("bf16 ({})", HalfKernel::best(Precision::Bf16).name()),
            plan: PrecisionPlan::uniform(Precision::Bf16),
            smooth_alpha: None,
        },
    ];
    if HalfKernel::best(Precision::Bf16) == HalfKernel::Avx512Bf16 {
        let plan = PrecisionPlan { half_kernel: Some(HalfKernel::Avx512), ..PrecisionPlan::uniform(Precision::Bf16) };
        out.push(Config { label: "bf16 (widened to f32)".into(), plan, smooth_alpha: None });
    }
    let mut kernels = vec![I8Kernel::best()];
    if I8Kernel::best() != I8Kernel::Avx2 && I8Kernel::Avx2.is_supported() {
        kernels.push(I8Kernel::Avx2);
    }
    for k in kernels {
        let plan = PrecisionPlan { int8_kernel: Some(k), ..PrecisionPlan::uniform(Precision::Int8) };
        let bits = format!("{} activation levels", k.levels() as u32 + 1);
        out.push(Config {
            label: format!("int8 {} ({bits}), plain", k.name()),
            plan: plan.clone(),
            smooth_alpha: None,
        });
        for alpha in [0.5f32, 0.75] {
            out.push(Config {
                label: format!("int8 {} ({bits}), SmoothQuant α={alpha}", k.name()),
                plan: plan.clone(),
                smooth_alpha: Some(alpha),
            });
        }
        // What `--precision int8` runs: SmoothQuant α = 0.5 and the value projections in
        // bf16 (on the AVX2 row widened to f32, as an AVX2-only CPU runs them).
        let mut keep = plan.clone();
        keep.overrides = nanobert::quant::INT8_KEEP_BF16.iter().map(|p| (p.to_string(), Precision::Bf16)).collect();
        if k == I8Kernel::Avx2 {
            keep.half_kernel = Some(HalfKernel::Avx2);
        }
        out.push(Config {
            label: format!(
                "**int8 {} ({bits}), SmoothQuant α={}, V in bf16** (`--precision int8`)",
                k.name(),
                nanobert::quant::SMOOTH_ALPHA
            ),
            plan: keep,
            smooth_alpha: Some(nanobert::quant::SMOOTH_ALPHA),
        });
    }
    out
}
