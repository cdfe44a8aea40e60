//! The exercise tests must fail on the plausible wrong answers. Each wrong implementation below
//! is a mistake a learner could make (the naive loop order, eps left out, the padding averaged,
//! the tanh GELU, a per-tensor scale, the mean for the median, ...); this file runs the very
//! checks the exercise tests run (`checks/`) against it and fails if any of them passes.

mod checks;
mod common;

use std::ops::Range;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

use nanobert_exercises::net::Net;
use nanobert_exercises::{Conv2d, Graph, LayerFlops, Rows, Summary, erf};

/// Runs `check`, which must panic (the wrong answer is caught). Returns normally if it did.
fn caught(what: &str, check: impl FnOnce()) {
    static QUIET: Once = Once::new();
    QUIET.call_once(|| std::panic::set_hook(Box::new(|_| {}))); // the expected panics stay quiet
    assert!(catch_unwind(AssertUnwindSafe(check)).is_err(), "the tests accept a wrong answer: {what}");
}

// ---- matmul -------------------------------------------------------------------------------

/// The naive order i, j, p: right C, one row of B fetched per multiply-add.
fn matmul_naive_order(m: usize, k: usize, n: usize, a: &[f32], b: &Rows, c: &mut [f32]) {
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b.row(p)[j]).sum();
        }
    }
}

/// The reordered loops, accumulating into whatever C held.
fn matmul_no_zeroing(m: usize, k: usize, n: usize, a: &[f32], b: &Rows, c: &mut [f32]) {
    for i in 0..m {
        for p in 0..k {
            let row = b.row(p);
            for j in 0..n {
                c[i * n + j] += a[i * k + p] * row[j];
            }
        }
    }
}

#[test]
fn matmul_wrong_answers_fail() {
    caught("matmul: naive loop order i, j, p", || checks::matmul::all(matmul_naive_order));
    caught("matmul: C not zeroed first", || checks::matmul::all(matmul_no_zeroing));
}

// ---- layer_norm ---------------------------------------------------------------------------

fn layer_norm_with(
    x: &[f32],
    h: usize,
    g: &[f32],
    b: &[f32],
    var_of: impl Fn(&[f32], f32) -> f32,
    inv: impl Fn(f32) -> f32,
) -> Vec<f32> {
    let mut out = Vec::new();
    for row in x.chunks(h) {
        let mean = row.iter().sum::<f32>() / h as f32;
        let i = inv(var_of(row, mean));
        out.extend(row.iter().zip(g).zip(b).map(|((v, g), b)| (v - mean) * i * g + b));
    }
    out
}
fn two_pass(row: &[f32], mean: f32) -> f32 {
    row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / row.len() as f32
}
fn ln_no_eps(x: &[f32], h: usize, g: &[f32], b: &[f32], _eps: f32) -> Vec<f32> {
    layer_norm_with(x, h, g, b, two_pass, |v| 1.0 / v.sqrt())
}
fn ln_eps_outside(x: &[f32], h: usize, g: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    layer_norm_with(x, h, g, b, two_pass, |v| 1.0 / (v.sqrt() + eps))
}
fn ln_one_pass(x: &[f32], h: usize, g: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let one_pass = |row: &[f32], mean: f32| row.iter().map(|v| v * v).sum::<f32>() / row.len() as f32 - mean * mean;
    layer_norm_with(x, h, g, b, one_pass, |v| 1.0 / (v + eps).sqrt())
}
fn ln_unbiased(x: &[f32], h: usize, g: &[f32], b: &[f32], eps: f32) -> Vec<f32> {
    let unbiased = |row: &[f32], mean: f32| two_pass(row, mean) * row.len() as f32 / (row.len() - 1) as f32;
    layer_norm_with(x, h, g, b, unbiased, |v| 1.0 / (v + eps).sqrt())
}

fn layer_norm_all(f: checks::layer_norm::LayerNorm) {
    use checks::layer_norm::*;
    matches_pytorch_with_weight_and_bias(f);
    matches_pytorch_on_rows_with_a_large_offset(f);
    four_consecutive_integers_near_ten_thousand(f);
    a_constant_row_gives_beta(f);
    eps_goes_inside_the_square_root(f);
}

#[test]
fn layer_norm_wrong_answers_fail() {
    caught("layer_norm: eps left out", || checks::layer_norm::a_constant_row_gives_beta(ln_no_eps));
    caught("layer_norm: eps outside the square root", || layer_norm_all(ln_eps_outside));
    caught("layer_norm: one-pass variance", || layer_norm_all(ln_one_pass));
    caught("layer_norm: unbiased variance", || layer_norm_all(ln_unbiased));
}

// ---- pooling ------------------------------------------------------------------------------

fn pool_with(
    hidden: &[f32],
    mask: &[u32],
    batch: usize,
    seq: usize,
    dim: usize,
    use_mask: bool,
    by_seq: bool,
) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * dim];
    for b in 0..batch {
        let real = mask[b * seq..(b + 1) * seq].iter().filter(|&&m| m == 1).count();
        for t in 0..seq {
            if use_mask && mask[b * seq + t] == 0 {
                continue;
            }
            for d in 0..dim {
                out[b * dim + d] += hidden[(b * seq + t) * dim + d];
            }
        }
        let count = if by_seq { seq } else { real };
        out[b * dim..(b + 1) * dim].iter_mut().for_each(|v| *v /= count as f32); // 0/0 = NaN when no real token
    }
    out
}

#[test]
fn pooling_wrong_answers_fail() {
    use checks::pooling::*;
    caught("pooling: the padding averaged too", || {
        does_not_average_the_padding(|h, m, b, s, d| pool_with(h, m, b, s, d, false, true))
    });
    caught("pooling: masked sum divided by the padded length", || {
        matches_sentence_transformers_on_a_padded_batch(|h, m, b, s, d| pool_with(h, m, b, s, d, true, true))
    });
    caught("pooling: 0 / 0 for a sequence without real tokens", || {
        a_sequence_without_real_tokens_gives_zeros(|h, m, b, s, d| pool_with(h, m, b, s, d, true, false))
    });
}

// ---- softmax ------------------------------------------------------------------------------

fn softmax_without_max(row: &[f32]) -> Vec<f32> {
    let e: Vec<f32> = row.iter().map(|x| x.exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}
fn softmax_with_max(row: &[f32]) -> Vec<f32> {
    let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = row.iter().map(|x| (x - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.iter().map(|v| v / s).collect()
}

#[test]
fn softmax_wrong_answers_fail() {
    caught("softmax: the stable one without the max subtraction", || {
        checks::softmax::stable_softmax_matches_pytorch_on_huge_scores(softmax_without_max)
    });
    caught("softmax: the naive one subtracting the max", || checks::softmax::naive_softmax_overflows(softmax_with_max));
}

// ---- im2col -------------------------------------------------------------------------------

fn im2col_with(image: &[f32], c: usize, h: usize, w: usize, conv: &Conv2d, dilate: bool, pad: bool) -> Vec<f32> {
    let [kh, kw] = conv.kernel;
    let (oh, ow) = (conv.out_len(h, 0), conv.out_len(w, 1));
    let (dy, dx) = if dilate { (conv.dilation[0], conv.dilation[1]) } else { (1, 1) };
    let (py, px) = if pad { (conv.padding[0] as isize, conv.padding[1] as isize) } else { (0, 0) };
    let mut cols = vec![0.0f32; c * kh * kw * oh * ow];
    for ci in 0..c {
        for ky in 0..kh {
            for kx in 0..kw {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let iy = (oy * conv.stride[0] + ky * dy) as isize - py;
                        let ix = (ox * conv.stride[1] + kx * dx) as isize - px;
                        if iy >= 0 && iy < h as isize && ix >= 0 && ix < w as isize {
                            cols[(((ci * kh + ky) * kw + kx) * oh + oy) * ow + ox] =
                                image[(ci * h + iy as usize) * w + ix as usize];
                        }
                    }
                }
            }
        }
    }
    cols
}

#[test]
fn im2col_wrong_answers_fail() {
    caught("im2col: dilation ignored", || {
        checks::im2col::matches_pytorch_unfold(|i, c, h, w, k| im2col_with(i, c, h, w, k, false, true))
    });
    caught("im2col: padding ignored", || {
        checks::im2col::padding_reads_zeros(|i, c, h, w, k| im2col_with(i, c, h, w, k, true, false))
    });
}

// ---- flops --------------------------------------------------------------------------------

#[test]
fn flops_wrong_answers_fail() {
    use checks::flops::matches_pytorch_flop_counter as check;
    caught("flops: multiply-adds, not FLOPs", || {
        check(|b, s, h, _, i| LayerFlops { linears: b * s * (4 * h * h + 2 * h * i), attention: 2 * b * s * s * h })
    });
    caught("flops: the feed-forward as wide as the hidden size", || {
        check(|b, s, h, _, _| LayerFlops { linears: 2 * b * s * 6 * h * h, attention: 4 * b * s * s * h })
    });
    caught("flops: one attention matmul only", || {
        check(|b, s, h, _, i| LayerFlops { linears: 2 * b * s * (4 * h * h + 2 * h * i), attention: 2 * b * s * s * h })
    });
    caught("flops: every token attending to the whole batch", || {
        check(|b, s, h, _, i| LayerFlops {
            linears: 2 * b * s * (4 * h * h + 2 * h * i),
            attention: 4 * (b * s) * (b * s) * h,
        })
    });
}

// ---- epilogue -----------------------------------------------------------------------------

/// `C = ep(A·B)` element by element; `ep` gets the accumulated value and its row and column (the
/// wrong answers use the bias through it).
fn gemm_epilogue_with(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
    ep: impl Fn(f32, usize, usize) -> f32,
) {
    for i in 0..m {
        for j in 0..n {
            let acc: f32 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            c[i * n + j] = ep(acc, i, j);
        }
    }
}
fn gelu_exact(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}
fn gelu_tanh(x: f32) -> f32 {
    0.5 * x * (1.0 + ((2.0 / std::f32::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
}

#[test]
fn epilogue_wrong_answers_fail() {
    use checks::epilogue::*;
    let all = |f: GemmBiasGelu| {
        matches_pytorch_on_a_random_linear(f);
        exact_gelu_of_every_input_from_minus_four_to_four(f);
    };
    caught("epilogue: the tanh approximation of GELU", || {
        all(|m, k, n, a, b, bias, c| gemm_epilogue_with(m, k, n, a, b, c, |x, _, j| gelu_tanh(x + bias[j])))
    });
    caught("epilogue: GELU before the bias", || {
        all(|m, k, n, a, b, bias, c| gemm_epilogue_with(m, k, n, a, b, c, |x, _, j| gelu_exact(x) + bias[j]))
    });
    caught("epilogue: the bias indexed by row", || {
        all(|m, k, n, a, b, bias, c| gemm_epilogue_with(m, k, n, a, b, c, |x, i, _| gelu_exact(x + bias[i % n])))
    });
    caught("epilogue: no bias", || {
        all(|m, k, n, a, b, _bias, c| gemm_epilogue_with(m, k, n, a, b, c, |x, _, _| gelu_exact(x)))
    });
}

// ---- bucketing ----------------------------------------------------------------------------

fn chunks_of(order: Vec<usize>, size: usize) -> Vec<Vec<usize>> {
    order.chunks(size).map(|c| c.to_vec()).collect()
}

#[test]
fn bucketing_wrong_answers_fail() {
    use checks::bucketing::*;
    let all = |f: Plan| {
        mixed_lengths_are_bucketed(f);
        the_partial_batch_takes_the_shortest_texts(f);
        edge_cases(f);
    };
    caught("bucketing: batches in input order", || all(|l, s| chunks_of((0..l.len()).collect(), s)));
    caught("bucketing: sorted shortest first", || {
        all(|l, s| {
            let mut o: Vec<usize> = (0..l.len()).collect();
            o.sort_by_key(|&i| l[i]);
            chunks_of(o, s)
        })
    });
    caught("bucketing: the partial batch dropped", || {
        all(|l, s| {
            let mut o: Vec<usize> = (0..l.len()).collect();
            o.sort_by_key(|&i| std::cmp::Reverse(l[i]));
            o.chunks_exact(s).map(|c| c.to_vec()).collect()
        })
    });
}

// ---- split --------------------------------------------------------------------------------

#[test]
fn split_wrong_answers_fail() {
    use checks::split::*;
    let all = |f: Split| {
        bert_shapes_split_evenly_on_block_boundaries(f);
        small_products_and_edges(f);
    };
    caught("split: m / threads rows each, the remainder dropped", || {
        all(|m, t, _| (0..t).map(|i| i * (m / t)..(i + 1) * (m / t)).filter(|r| !r.is_empty()).collect())
    });
    caught("split: even rows, not on block boundaries", || {
        all(|m, t, _| {
            let t = t.min(m);
            (0..t).map(|i| i * m / t..(i + 1) * m / t).collect()
        })
    });
    caught("split: the remainder all to the last thread", || {
        all(|m, t, mr| {
            let blocks = m.div_ceil(mr);
            let t = t.min(blocks);
            (0..t)
                .map(|i| {
                    let (s, e) = (i * (blocks / t), if i + 1 == t { blocks } else { (i + 1) * (blocks / t) });
                    s * mr..(e * mr).min(m)
                })
                .collect::<Vec<Range<usize>>>()
        })
    });
}

// ---- quantize -----------------------------------------------------------------------------

fn quantize_with(
    w: &[f32],
    rows: usize,
    cols: usize,
    per_tensor: bool,
    levels: f32,
    round: bool,
) -> (Vec<i8>, Vec<f32>) {
    let global = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let mut codes = Vec::new();
    let mut scales = Vec::new();
    for row in w.chunks(cols).take(rows) {
        let absmax = if per_tensor { global } else { row.iter().fold(0.0f32, |m, v| m.max(v.abs())) };
        let s = absmax / levels; // 0 for a zero row
        codes.extend(row.iter().map(|v| {
            let x = v / s;
            (if round { x.round() } else { x }).clamp(-127.0, 127.0) as i8
        }));
        scales.push(s);
    }
    (codes, scales)
}

#[test]
fn quantize_wrong_answers_fail() {
    use checks::quantize::*;
    let all = |f: Quantize| {
        scales_match_pytorch(f);
        codes_match_pytorch(f);
        dequantized_weights_are_within_half_a_step(f);
    };
    caught("quantize: one scale for the whole matrix", || all(|w, r, c| quantize_with(w, r, c, true, 127.0, true)));
    caught("quantize: `as i8` truncation instead of rounding", || {
        all(|w, r, c| quantize_with(w, r, c, false, 127.0, false))
    });
    caught("quantize: 128 levels", || all(|w, r, c| quantize_with(w, r, c, false, 128.0, true)));
    caught("quantize: scale 0 for the zero row", || {
        scales_match_pytorch(|w, r, c| quantize_with(w, r, c, false, 127.0, true))
    });
}

// ---- stats --------------------------------------------------------------------------------

fn min_max(v: &[f64]) -> (f64, f64) {
    (sorted(v)[0], sorted(v)[v.len() - 1])
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[test]
fn stats_wrong_answers_fail() {
    use checks::stats::*;
    caught("stats: the mean for the median", || {
        summaries_match_numpy(|v| {
            let (min, max) = min_max(v);
            Summary { median: v.iter().sum::<f64>() / v.len() as f64, min, max }
        })
    });
    caught("stats: the upper middle for an even count", || {
        summaries_match_numpy(|v| {
            let (min, max) = min_max(v);
            Summary { median: sorted(v)[v.len() / 2], min, max }
        })
    });
    caught("stats: the middle of the unsorted timings", || {
        summaries_match_numpy(|v| {
            let (min, max) = min_max(v);
            Summary { median: v[v.len() / 2], min, max }
        })
    });
    caught("stats: the ratio of the medians", || {
        paired_speedup_is_the_median_of_per_round_ratios(|b, c| sorted(b)[b.len() / 2] / sorted(c)[c.len() / 2])
    });
}

// ---- percentile ---------------------------------------------------------------------------

#[test]
fn percentile_wrong_answers_fail() {
    use checks::percentile::matches_numpy_nearest_rank as check;
    caught("percentile: rank round(q·n)", || {
        check(|v, q| {
            let s = sorted(v);
            s[((q * s.len() as f64).round() as usize).clamp(1, s.len()) - 1]
        })
    });
    caught("percentile: index floor(q·n), counted from 0", || {
        check(|v, q| {
            let s = sorted(v);
            s[((q * s.len() as f64) as usize).min(s.len() - 1)]
        })
    });
    caught("percentile: linear interpolation", || {
        check(|v, q| {
            let s = sorted(v);
            let x = q * (s.len() - 1) as f64;
            let (lo, hi) = (x.floor() as usize, x.ceil() as usize);
            s[lo] + (s[hi] - s[lo]) * (x - lo as f64)
        })
    });
    caught("percentile: unsorted latencies", || {
        check(|v, q| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1])
    });
}

// ---- graph --------------------------------------------------------------------------------

/// DCE with its mistakes: `transitive` off keeps only what the outputs read directly,
/// `placeholders` off drops unused inputs, `renumber` off leaves the old indices.
fn dce_with(g: &mut Graph, transitive: bool, placeholders: bool, renumber: bool) -> usize {
    let mut live = vec![false; g.nodes.len()];
    g.outputs.iter().for_each(|&o| live[o] = true);
    let roots = live.clone();
    for i in (0..g.nodes.len()).rev() {
        let seed = if transitive { live[i] } else { roots[i] };
        if seed || (placeholders && g.nodes[i].op == "placeholder") {
            live[i] = true;
            g.nodes[i].args.clone().into_iter().for_each(|a| live[a] = true);
        }
    }
    let mut new_id = vec![0; g.nodes.len()];
    let old = std::mem::take(&mut g.nodes);
    let before = old.len();
    for (i, mut n) in old.into_iter().enumerate() {
        if live[i] {
            if renumber {
                n.args.iter_mut().for_each(|a| *a = new_id[*a]);
            }
            new_id[i] = g.nodes.len();
            g.nodes.push(n);
        }
    }
    if renumber {
        g.outputs.iter_mut().for_each(|o| *o = new_id[*o]);
    }
    before - g.nodes.len()
}

/// The fusion with its mistakes: `check_users` off fuses whatever follows a matmul, `args_of_bias`
/// gives the fused node the bias node's arguments instead of the matmul's.
/// `clean` off leaves the matmul and bias nodes nobody reads any more.
fn fuse_with(g: &mut Graph, check_users: bool, args_of_bias: bool, clean: bool) -> usize {
    let mut fused = 0;
    for i in 0..g.nodes.len() {
        let users = g.users();
        let next = |x: usize, op: &str| {
            let ok = !check_users || users[x] == 1;
            g.nodes.iter().position(|n| n.args.contains(&x) && n.op == op).filter(|_| ok)
        };
        if g.nodes[i].op != "matmul" {
            continue;
        }
        let Some(b) = next(i, "add_bias") else { continue };
        let gelu = next(b, "gelu");
        let last = gelu.unwrap_or(b);
        g.nodes[last].op = if gelu.is_some() { "linear_bias_gelu" } else { "linear_bias" }.into();
        g.nodes[last].args = if args_of_bias { g.nodes[b].args.clone() } else { g.nodes[i].args.clone() };
        fused += 1;
    }
    if clean {
        dce_with(g, true, true, true);
    }
    fused
}

#[test]
fn graph_wrong_answers_fail() {
    use checks::graph::*;
    caught("dce: only what the outputs read directly", || {
        dce_keeps_what_the_outputs_need(|g| dce_with(g, false, true, true))
    });
    caught("dce: unused inputs removed", || dce_keeps_what_the_outputs_need(|g| dce_with(g, true, false, true)));
    caught("dce: indices not renumbered", || dce_keeps_what_the_outputs_need(|g| dce_with(g, true, true, false)));
    caught("dce: counts the nodes kept", || {
        dce_keeps_what_the_outputs_need(|g| {
            dce_with(g, true, true, true);
            g.nodes.len()
        })
    });
    caught("fusion: users not checked (a value read twice)", || {
        fusion_leaves_values_others_need(|g| fuse_with(g, false, false, true))
    });
    caught("fusion: the bias node's arguments", || fusion_rewrites_the_pattern(|g| fuse_with(g, true, true, true)));
    caught("fusion: dead nodes left behind", || fusion_rewrites_the_pattern(|g| fuse_with(g, true, false, false)));
}

// ---- scale_fold ---------------------------------------------------------------------------

/// The scale-folding pass with its mistakes (all `false`: the right pass, [`FOLD_RIGHT`]).
#[derive(Clone, Copy)]
struct FoldMistakes {
    /// `W_q` scaled, `b_q` left as it was.
    bias_unscaled: bool,
    /// Multiplied by `1/c` (`√d`) instead of `c`.
    inverted: bool,
    /// The weights scaled, the `scale` node left in the graph.
    scale_kept: bool,
    /// Folded whatever the other readers of `q` and `s`.
    users_unchecked: bool,
    /// Folded into the key (`W_k`, `b_k`) instead.
    into_key: bool,
    /// The query of every `scores` scaled by `1/√d` (its width), the `scale` removed when there
    /// is one: run twice, it folds twice.
    not_idempotent: bool,
    /// The node removed without renumbering the later indices.
    no_renumber: bool,
}

/// No mistake.
const FOLD_RIGHT: FoldMistakes = FoldMistakes {
    bias_unscaled: false,
    inverted: false,
    scale_kept: false,
    users_unchecked: false,
    into_key: false,
    not_idempotent: false,
    no_renumber: false,
};

fn fold_with(net: &mut Net, m: FoldMistakes) -> usize {
    let mut folded = 0;
    let mut i = 0;
    while i < net.graph.nodes.len() {
        let users = net.graph.users();
        let g = &net.graph;
        // With `not_idempotent`, the pattern starts at the scores node itself.
        let (s, z) = if m.not_idempotent {
            if g.nodes[i].op != "scores" {
                i += 1;
                continue;
            }
            (i, g.nodes.iter().position(|n| n.op == "scale" && n.args == [i]))
        } else {
            match g.nodes[i].args.first() {
                Some(&s) if g.nodes[i].op == "scale" && g.nodes[s].op == "scores" => (s, Some(i)),
                _ => {
                    i += 1;
                    continue;
                }
            }
        };
        let q = g.nodes[s].args[usize::from(m.into_key)];
        if !m.users_unchecked && (users[s] != 1 || users[q] != 1) {
            i += 1;
            continue;
        }
        let d = net.linears[&g.nodes[q].name].weight.rows;
        let c = z.map_or(1.0 / (d as f32).sqrt(), |z| net.constant(z).unwrap());
        let c = if m.inverted { 1.0 / c } else { c };
        let p = net.linears.get_mut(&net.graph.nodes[q].name).unwrap();
        p.weight.data.iter_mut().for_each(|w| *w *= c);
        if !m.bias_unscaled {
            p.bias.iter_mut().for_each(|b| *b *= c);
        }
        folded += 1;
        i += 1;
        let Some(z) = z.filter(|_| !m.scale_kept) else { continue };
        net.graph.nodes.remove(z);
        let renumber = |a: &mut usize| {
            if *a == z {
                *a = s;
            } else if *a > z && !m.no_renumber {
                *a -= 1;
            }
        };
        net.graph.nodes.iter_mut().flat_map(|n| n.args.iter_mut()).for_each(renumber);
        net.graph.outputs.iter_mut().for_each(renumber);
        if z < i {
            i -= 1;
        }
    }
    folded
}

fn fold_all(f: checks::scale_fold::Fold) {
    use checks::scale_fold::*;
    folds_the_scale_into_the_query(f);
    bit_exact_when_the_scale_is_a_power_of_two(f);
    folding_twice_changes_nothing(f);
    folds_two_in_a_row(f);
    leaves_values_others_need(f);
}

#[test]
fn scale_fold_wrong_answers_fail() {
    // The helper without mistakes is the right pass: the checks must accept it, or the
    // failures below prove nothing.
    fold_all(|n| fold_with(n, FOLD_RIGHT));
    caught("fold: W_q scaled but not b_q", || {
        fold_all(|n| fold_with(n, FoldMistakes { bias_unscaled: true, ..FOLD_RIGHT }))
    });
    caught("fold: multiplied by sqrt(d)", || fold_all(|n| fold_with(n, FoldMistakes { inverted: true, ..FOLD_RIGHT })));
    caught("fold: the scale node kept (scaled twice)", || {
        fold_all(|n| fold_with(n, FoldMistakes { scale_kept: true, ..FOLD_RIGHT }))
    });
    caught("fold: other readers of q or s ignored", || {
        checks::scale_fold::leaves_values_others_need(|n| {
            fold_with(n, FoldMistakes { users_unchecked: true, ..FOLD_RIGHT })
        })
    });
    caught("fold: into W_k and b_k", || fold_all(|n| fold_with(n, FoldMistakes { into_key: true, ..FOLD_RIGHT })));
    caught("fold: folds again on a second run", || {
        checks::scale_fold::folding_twice_changes_nothing(|n| {
            fold_with(n, FoldMistakes { not_idempotent: true, ..FOLD_RIGHT })
        })
    });
    caught("fold: indices not renumbered", || {
        fold_all(|n| fold_with(n, FoldMistakes { no_renumber: true, ..FOLD_RIGHT }))
    });
    caught("fold: counts the nodes left", || {
        fold_all(|n| {
            fold_with(n, FOLD_RIGHT);
            n.graph.nodes.len()
        })
    });
}

// ---- gelu_pattern -------------------------------------------------------------------------

/// The matcher with its mistakes (all `false`: the right matcher, [`GELU_RIGHT`]).
#[derive(Clone, Copy)]
struct GeluMistakes {
    /// Only a `gelu` node: the pass as it was, which misses the formula.
    node_only: bool,
    /// The constants not looked at.
    constants_unchecked: bool,
    /// Only `mul(h, u)`, not `mul(u, h)`.
    one_order: bool,
    /// Which values the multiply reads not looked at.
    mul_args_unchecked: bool,
    /// The readers of the values inside the pattern not counted.
    users_unchecked: bool,
}

/// No mistake.
const GELU_RIGHT: GeluMistakes = GeluMistakes {
    node_only: false,
    constants_unchecked: false,
    one_order: false,
    mul_args_unchecked: false,
    users_unchecked: false,
};

fn gelu_with(net: &Net, h: usize, m: GeluMistakes) -> Option<usize> {
    let g = &net.graph;
    let users = g.users();
    let op = |i: usize| g.nodes[i].op.as_str();
    let readers = |i: usize| (0..g.nodes.len()).filter(move |&j| g.nodes[j].args.contains(&i));
    let sole = |i: usize| m.users_unchecked || users[i] == 1;
    let next = |i: usize, want: &str| readers(i).find(|&r| op(r) == want).filter(|_| sole(i));
    let is = |i: usize, c: f32| m.constants_unchecked || net.constant(i) == Some(c);
    if let Some(y) = next(h, "gelu") {
        return Some(y);
    }
    if m.node_only || !(m.users_unchecked || users[h] == 2) {
        return None;
    }
    let t = readers(h).find(|&t| op(t) == "scale" && is(t, std::f32::consts::FRAC_1_SQRT_2))?;
    let e = next(t, "erf")?;
    let u = next(e, "add_const").filter(|&u| is(u, 1.0))?;
    let v = next(u, "mul").filter(|&v| {
        let a = &g.nodes[v].args;
        m.mul_args_unchecked || (a[0] == h && a[1] == u) || (!m.one_order && a[0] == u && a[1] == h)
    })?;
    next(v, "scale").filter(|&y| is(y, 0.5))
}

fn gelu_all(f: checks::gelu_pattern::Matcher) {
    use checks::gelu_pattern::*;
    fuses_gelu_in_either_form(f);
    leaves_what_is_not_gelu(f);
    leaves_values_others_need(f);
}

#[test]
fn gelu_pattern_wrong_answers_fail() {
    gelu_all(|n, h| gelu_with(n, h, GELU_RIGHT)); // the helper without mistakes passes
    caught("gelu: only the gelu node (the pass as it was)", || {
        gelu_all(|n, h| gelu_with(n, h, GeluMistakes { node_only: true, ..GELU_RIGHT }))
    });
    caught("gelu: constants not checked", || {
        gelu_all(|n, h| gelu_with(n, h, GeluMistakes { constants_unchecked: true, ..GELU_RIGHT }))
    });
    caught("gelu: only mul(h, u)", || gelu_all(|n, h| gelu_with(n, h, GeluMistakes { one_order: true, ..GELU_RIGHT })));
    caught("gelu: the multiply's arguments not checked", || {
        gelu_all(|n, h| gelu_with(n, h, GeluMistakes { mul_args_unchecked: true, ..GELU_RIGHT }))
    });
    caught("gelu: readers inside the pattern not counted", || {
        gelu_all(|n, h| gelu_with(n, h, GeluMistakes { users_unchecked: true, ..GELU_RIGHT }))
    });
}
