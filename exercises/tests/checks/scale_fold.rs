//! Checks of the scale-folding exercise (`src/scale_fold.rs`): attention graphs written out by
//! hand with random weights, run by the given interpreter before and after the pass. The fold is
//! not bit-exact (the rounding happens at other places), so the outputs are held within a bound
//! of the original ones, except where the scale is a power of two and every step is exact.

use nanobert_exercises::net::{Linear, Matrix, Net};

/// The learner's pass: rewrites the net, returns how many scales it folded.
pub type Fold = fn(&mut Net) -> usize;

/// Largest |folded - original| allowed, relative to the largest |original| output: a few
/// roundings of f32, far below what a wrong fold changes (a factor `c` or `√d`).
pub const BOUND: f32 = 1e-5;

/// Values in about [-1, 1), from a fixed seed (an LCG: the same numbers on every machine).
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// One attention head: `x [S, hidden]`, Q/K/V `[S, d]`, scale `1/√d` (`extra` lines of graph
/// text go before the `return`, which returns `outputs`).
pub fn attention(hidden: usize, d: usize, seed: u64, extra: &str, outputs: &str) -> Net {
    let text = format!(
        "x = placeholder()
         q = linear(x)
         k = linear(x)
         v = linear(x)
         s = scores(q, k)
         z = scale(s)
         p = softmax(z)
         o = context(p, v)
         {extra}
         return {outputs}"
    );
    let mut net = Net::parse(&text);
    for (i, name) in ["q", "k", "v"].iter().enumerate() {
        add_linear(&mut net, name, hidden, d, seed + i as u64);
    }
    net.consts.insert("z".into(), 1.0 / (d as f32).sqrt());
    net
}

/// Random weights `[out, inp]` (scaled so the scores are of order 1 to 10) and a bias for `name`.
pub fn add_linear(net: &mut Net, name: &str, inp: usize, out: usize, seed: u64) {
    let w = values(out * inp, seed).iter().map(|v| 2.0 * v).collect();
    let bias = values(out, seed + 100);
    net.linears.insert(name.into(), Linear { weight: Matrix::new(out, inp, w), bias });
}

/// The input: `seq` rows of `hidden` values.
pub fn input(seq: usize, hidden: usize, seed: u64) -> Vec<Matrix> {
    vec![Matrix::new(seq, hidden, values(seq * hidden, seed + 1000))]
}

/// Panics unless every output of `got` is within [`BOUND`] of `want` (relative to the largest
/// |want|), every value finite.
fn within_bound(what: &str, got: &[Matrix], want: &[Matrix]) {
    assert_eq!(got.len(), want.len(), "{what}: number of outputs");
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.rows, g.cols), (w.rows, w.cols), "{what}: the shape of an output");
        let top = w.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in g.data.iter().zip(&w.data).enumerate() {
            let ok = a.is_finite() && (a - b).abs() <= BOUND * top; // NaN fails
            assert!(ok, "{what}: output value {i} is {a}, the graph before the pass gave {b} (bound {BOUND} x {top})");
        }
    }
}

/// The graph after the pass, and the count.
fn graph_is(what: &str, net: &Net, want: &str, got: usize, count: usize) {
    let want = nanobert_exercises::Graph::parse(want);
    assert_eq!(net.graph.to_text(), want.to_text(), "{what}: the graph after the pass");
    assert_eq!(net.graph, want, "{what}: the indices after the pass");
    assert_eq!(got, count, "{what}: the count the pass returned");
}

/// `1/√6` folded: the scale gone, the query's weight and bias (both) multiplied by it, the key's
/// left alone, the output within the bound.
pub fn folds_the_scale_into_the_query(fold: Fold) {
    let (hidden, d, seq) = (8, 6, 5);
    let mut net = attention(hidden, d, 1, "", "o");
    let before = net.clone();
    let x = input(seq, hidden, 1);
    let want = net.run(&x);
    let n = fold(&mut net);
    graph_is(
        "one head, d = 6",
        &net,
        "x = placeholder()
         q = linear(x)
         k = linear(x)
         v = linear(x)
         s = scores(q, k)
         p = softmax(s)
         o = context(p, v)
         return o",
        n,
        1,
    );
    let c = 1.0 / (d as f32).sqrt();
    let (old, new) = (&before.linears["q"], &net.linears["q"]);
    let close = |a: f32, b: f32| (a - b).abs() <= 1e-6 * b.abs().max(1e-30);
    for (i, (w, w0)) in new.weight.data.iter().zip(&old.weight.data).enumerate() {
        assert!(close(*w, w0 * c), "W_q value {i} is {w}, expected {w0} x {c} = {}", w0 * c);
    }
    for (i, (b, b0)) in new.bias.iter().zip(&old.bias).enumerate() {
        assert!(close(*b, b0 * c), "b_q value {i} is {b}, expected {b0} x {c} = {} (the bias is scaled too)", b0 * c);
    }
    assert_eq!(net.linears["k"], before.linears["k"], "W_k and b_k must not change (the fold goes into the query)");
    assert_eq!(net.linears["v"], before.linears["v"], "W_v and b_v must not change");
    within_bound("one head, d = 6", &net.run(&x), &want);
}

/// `1/√64 = 1/8`: multiplying by a power of two rounds nothing, so here the fold is exact.
pub fn bit_exact_when_the_scale_is_a_power_of_two(fold: Fold) {
    let (hidden, d, seq) = (16, 64, 7);
    let mut net = attention(hidden, d, 2, "", "o");
    let x = input(seq, hidden, 2);
    let want = net.run(&x);
    assert_eq!(fold(&mut net), 1, "d = 64: the count the pass returned");
    let got = net.run(&x);
    let bits = |m: &[Matrix]| m.iter().flat_map(|m| m.data.iter().map(|v| v.to_bits())).collect::<Vec<_>>();
    assert_eq!(bits(&got), bits(&want), "d = 64: scaling by 1/8 is exact, so the outputs must be the same bits");
}

/// Run a second time, the pass finds nothing to fold and changes nothing (idempotent): a
/// pass that folds again scales the query twice.
pub fn folding_twice_changes_nothing(fold: Fold) {
    let (hidden, d, seq) = (8, 6, 5);
    let mut net = attention(hidden, d, 3, "", "o");
    let x = input(seq, hidden, 3);
    let want = net.run(&x);
    fold(&mut net);
    let once = net.clone();
    let n = fold(&mut net);
    assert_eq!(n, 0, "the second run of the pass folded something");
    assert_eq!(net, once, "the second run of the pass changed the net");
    within_bound("folded twice", &net.run(&x), &want);
}

/// Two heads in a row (the second reads the first's output): both folded, the indices after
/// the first removed node renumbered.
pub fn folds_two_in_a_row(fold: Fold) {
    let (hidden, seq) = (6, 4);
    let mut net = attention(
        hidden,
        hidden,
        4,
        "q2 = linear(o)
         k2 = linear(o)
         v2 = linear(o)
         s2 = scores(q2, k2)
         z2 = scale(s2)
         p2 = softmax(z2)
         o2 = context(p2, v2)
         r = add(o2, o)",
        "r",
    );
    for (i, name) in ["q2", "k2", "v2"].iter().enumerate() {
        add_linear(&mut net, name, hidden, hidden, 10 + i as u64);
    }
    net.consts.insert("z2".into(), 1.0 / (hidden as f32).sqrt());
    let x = input(seq, hidden, 4);
    let want = net.run(&x);
    let n = fold(&mut net);
    graph_is(
        "two heads in a row",
        &net,
        "x = placeholder()
         q = linear(x)
         k = linear(x)
         v = linear(x)
         s = scores(q, k)
         p = softmax(s)
         o = context(p, v)
         q2 = linear(o)
         k2 = linear(o)
         v2 = linear(o)
         s2 = scores(q2, k2)
         p2 = softmax(s2)
         o2 = context(p2, v2)
         r = add(o2, o)
         return r",
        n,
        2,
    );
    within_bound("two heads in a row", &net.run(&x), &want);
}

/// The pattern left alone when another reader or an output needs the query or the unscaled
/// scores, or when the scale does not follow a `scores`.
pub fn leaves_values_others_need(fold: Fold) {
    let cases = [
        ("the query is also an output", "", "o, q"),
        ("the query is read by another node", "w = add(q, v)", "o, w"),
        ("the unscaled scores are an output", "", "o, s"),
        ("the unscaled scores are read again", "w = add(s, z)", "o, w"),
        ("a scale after the context, not the scores", "", "o"),
    ];
    for (k, (what, extra, outputs)) in cases.into_iter().enumerate() {
        let mut net = attention(8, 6, 5 + k as u64, extra, outputs);
        if k == 4 {
            // z = scale(o) instead: the softmax reads the scores directly.
            net = Net::parse(
                "x = placeholder()
                 q = linear(x)
                 k = linear(x)
                 v = linear(x)
                 s = scores(q, k)
                 p = softmax(s)
                 o = context(p, v)
                 z = scale(o)
                 return z",
            );
            for (i, name) in ["q", "k", "v"].iter().enumerate() {
                add_linear(&mut net, name, 8, 6, 20 + i as u64);
            }
            net.consts.insert("z".into(), 0.5);
        }
        let before = net.clone();
        let n = fold(&mut net);
        assert_eq!(n, 0, "{what}: nothing may be folded");
        assert_eq!(net, before, "{what}: the net must be left as it was");
    }
}
