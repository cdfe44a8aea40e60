//! Checks of the "find the pattern a pass misses" exercise (`src/gelu_pattern.rs`): MLPs written
//! out by hand, GELU as a node or as its erf formula, fused by the given
//! `Net::fuse_linear_gelu` with the learner's matcher, then run by the given interpreter.

use super::scale_fold::{add_linear, input};
use nanobert_exercises::Graph;
use nanobert_exercises::net::{Matrix, Net};
use std::f32::consts::FRAC_1_SQRT_2;

/// The learner's matcher: GELU of node `h`'s value, at the node it returns.
pub type Matcher = fn(&Net, usize) -> Option<usize>;

/// `x [S, 6]` → `h = linear(x)` `[S, 10]` → `body` (GELU of `h` in some form, ending in a node
/// `y`) → `o = linear(y)` `[S, 6]`, unless `tail` replaces the last lines. Constants of `t`, `u`,
/// `y` (when present): `1/√2`, `1`, `0.5`, or `consts`.
fn mlp(body: &str, tail: &str, consts: [f32; 3]) -> Net {
    let text = format!("x = placeholder()\n h = linear(x)\n {body}\n {tail}");
    let mut net = Net::parse(&text);
    add_linear(&mut net, "h", 6, 10, 31);
    if net.find("w").is_some() {
        add_linear(&mut net, "w", 6, 10, 34);
    }
    if net.find("o").is_some_and(|o| net.graph.nodes[o].op == "linear") {
        add_linear(&mut net, "o", 10, 6, 32);
    }
    for (name, c) in ["t", "u", "y"].iter().zip(consts) {
        if net.find(name).is_some_and(|i| net.graph.nodes[i].op == "scale" || net.graph.nodes[i].op == "add_const") {
            net.consts.insert(name.to_string(), c);
        }
    }
    net
}

const ERF: &str = "t = scale(h)
 e = erf(t)
 u = add_const(e)
 v = mul(h, u)
 y = scale(v)";
const ERF_SWAPPED: &str = "t = scale(h)
 e = erf(t)
 u = add_const(e)
 v = mul(u, h)
 y = scale(v)";
const GELU_CONSTS: [f32; 3] = [FRAC_1_SQRT_2, 1.0, 0.5];
const TAIL: &str = "o = linear(y)\n return o";

/// Removes what no output reads (placeholders stay), as a `dce` pass would after the fusion.
fn prune(net: &mut Net) {
    let g = &mut net.graph;
    let mut live = vec![false; g.nodes.len()];
    g.outputs.iter().for_each(|&o| live[o] = true);
    for i in (0..g.nodes.len()).rev() {
        if live[i] || g.nodes[i].op == "placeholder" {
            live[i] = true;
            g.nodes[i].args.clone().into_iter().for_each(|a| live[a] = true);
        }
    }
    let mut id = vec![usize::MAX; g.nodes.len()];
    let old = std::mem::take(&mut g.nodes);
    for (i, mut n) in old.into_iter().enumerate() {
        if live[i] {
            n.args.iter_mut().for_each(|a| *a = id[*a]);
            id[i] = g.nodes.len();
            g.nodes.push(n);
        }
    }
    g.outputs.iter_mut().for_each(|o| *o = id[*o]);
}

fn bits(m: &[Matrix]) -> Vec<u32> {
    m.iter().flat_map(|m| m.data.iter().map(|v| v.to_bits())).collect()
}

/// Fuses with `matcher`, checks the count, the graph after the dead nodes are removed, and that
/// the outputs are the same bits (the interpreter's `gelu` is the formula).
fn fuses(what: &str, matcher: Matcher, mut net: Net, count: usize, want: &str) {
    let x = input(3, 6, 30);
    let before = net.run(&x);
    let n = net.fuse_linear_gelu(matcher);
    prune(&mut net);
    let want = Graph::parse(want);
    assert_eq!(net.graph.to_text(), want.to_text(), "{what}: the graph after the fusion (dead nodes removed)");
    assert_eq!(n, count, "{what}: the number of fusions");
    let after = net.run(&x);
    assert!(after.iter().all(|m| m.data.iter().all(|v| v.is_finite())), "{what}: a value is not finite");
    assert_eq!(bits(&after), bits(&before), "{what}: the fused graph must give the same bits");
}

/// Fuses with `matcher` and requires that nothing was fused and nothing changed.
fn leaves(what: &str, matcher: Matcher, mut net: Net) {
    let before = net.clone();
    let n = net.fuse_linear_gelu(matcher);
    assert_eq!(n, 0, "{what}: nothing may be fused");
    assert_eq!(net, before, "{what}: the net must be left as it was");
}

const FUSED: &str = "x = placeholder()\n y = linear_gelu(x)\n o = linear(y)\n return o";

/// The erf formula (either order of the multiply), the `gelu` node as before, and both in one
/// graph.
pub fn fuses_gelu_in_either_form(matcher: Matcher) {
    fuses("GELU as a node", matcher, mlp("y = gelu(h)", TAIL, GELU_CONSTS), 1, FUSED);
    fuses("GELU as its erf formula", matcher, mlp(ERF, TAIL, GELU_CONSTS), 1, FUSED);
    fuses("the erf formula, mul(u, h)", matcher, mlp(ERF_SWAPPED, TAIL, GELU_CONSTS), 1, FUSED);
    let mut two = mlp(
        ERF,
        "o = linear(y)
         t2 = scale(o)
         e2 = erf(t2)
         u2 = add_const(e2)
         v2 = mul(o, u2)
         y2 = scale(v2)
         o2 = linear(y2)
         g3 = gelu(o2)
         return g3",
        GELU_CONSTS,
    );
    // o: [S, 6]; o2 = linear(y2): [S, 6] -> [S, 6].
    add_linear(&mut two, "o2", 6, 6, 33);
    for (name, c) in [("t2", FRAC_1_SQRT_2), ("u2", 1.0), ("y2", 0.5)] {
        two.consts.insert(name.into(), c);
    }
    fuses(
        "three MLPs: erf, erf, gelu",
        matcher,
        two,
        3,
        "x = placeholder()\n y = linear_gelu(x)\n y2 = linear_gelu(y)\n g3 = linear_gelu(y2)\n return g3",
    );
}

/// Formulas that look like GELU and are not: another constant, the multiply reading another
/// value, `gelu` where the formula has `erf`.
pub fn leaves_what_is_not_gelu(matcher: Matcher) {
    leaves("0.5 x (1 + erf(x))", matcher, mlp(ERF, TAIL, [1.0, 1.0, 0.5]));
    leaves("0.5 x (2 + erf(x/√2))", matcher, mlp(ERF, TAIL, [FRAC_1_SQRT_2, 2.0, 0.5]));
    leaves("x (1 + erf(x/√2))", matcher, mlp(ERF, TAIL, [FRAC_1_SQRT_2, 1.0, 1.0]));
    let off = f32::from_bits(FRAC_1_SQRT_2.to_bits() - 1); // one ulp below 1/√2
    leaves("1/√2 one ulp off", matcher, mlp(ERF, TAIL, [off, 1.0, 0.5]));
    leaves(
        "gelu in place of erf",
        matcher,
        mlp("t = scale(h)\n e = gelu(t)\n u = add_const(e)\n v = mul(h, u)\n y = scale(v)", TAIL, GELU_CONSTS),
    );
    leaves(
        "the multiply reads x, not h (h read elsewhere)",
        matcher,
        mlp(
            "t = scale(h)\n e = erf(t)\n u = add_const(e)\n w = linear(x)\n v = mul(w, u)\n y = scale(v)",
            "r = add(h, y)\n return r",
            GELU_CONSTS,
        ),
    );
}

/// A value inside the pattern (or `h` itself) that another node or an output needs.
pub fn leaves_values_others_need(matcher: Matcher) {
    leaves("h is also an output", matcher, mlp(ERF, "o = linear(y)\n return o, h", GELU_CONSTS));
    leaves("h read by a third node", matcher, mlp(ERF, "o = linear(y)\n r = add(h, y)\n return o, r", GELU_CONSTS));
    leaves("erf(t) is also an output", matcher, mlp(ERF, "o = linear(y)\n return o, e", GELU_CONSTS));
    leaves("h·u read again", matcher, mlp(ERF, "o = linear(y)\n r = add(v, y)\n return o, r", GELU_CONSTS));
    leaves("gelu's input also an output", matcher, mlp("y = gelu(h)", "o = linear(y)\n return o, h", GELU_CONSTS));
}
