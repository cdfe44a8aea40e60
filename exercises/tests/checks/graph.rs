//! Checks of the graph passes exercise (`src/graph.rs`), against graphs written out by hand
//! and what the pass's definition says must remain of them.

use nanobert_exercises::Graph;

/// The learner's pass: rewrites the graph, returns its count.
pub type Pass = fn(&mut Graph) -> usize;

fn run(pass: Pass, before: &str, want: &str, count: usize, what: &str) {
    let mut g = Graph::parse(before);
    let n = pass(&mut g);
    let want = Graph::parse(want);
    assert_eq!(g.to_text(), want.to_text(), "{what}: the graph after the pass");
    assert_eq!(g, want, "{what}: the indices after the pass");
    assert_eq!(n, count, "{what}: the count the pass returned");
}

/// The pooler no output wants, a dead chain two nodes deep, an unused input that stays, an
/// output that is not the last node.
pub fn dce_keeps_what_the_outputs_need(dce: Pass) {
    run(
        dce,
        "x = placeholder()
         unused = placeholder()
         m = matmul(x)
         dead1 = gelu(m)
         dead2 = add(dead1, x)
         h = add_bias(m)
         cls = select_first(h)
         pooled = linear(cls)
         t = tanh(pooled)
         return h",
        "x = placeholder()
         unused = placeholder()
         m = matmul(x)
         h = add_bias(m)
         return h",
        5,
        "the pooler and a dead chain",
    );
    run(
        dce,
        "x = placeholder()
         a = gelu(x)
         b = tanh(x)
         c = add(a, x)
         d = relu(b)
         return c, a",
        "x = placeholder()
         a = gelu(x)
         c = add(a, x)
         return c, a",
        2,
        "two outputs, a dead branch in between",
    );
    run(
        dce,
        "x = placeholder()
         a = gelu(x)
         dead = tanh(x)
         b = tanh(a)
         c = relu(b)
         return c",
        "x = placeholder()
         a = gelu(x)
         b = tanh(a)
         c = relu(b)
         return c",
        1,
        "a chain three nodes deep behind the output",
    );
    run(
        dce,
        "x = placeholder()\n y = gelu(x)\n return y",
        "x = placeholder()\n y = gelu(x)\n return y",
        0,
        "nothing dead",
    );
}

/// The full pattern, the pattern without GELU, two in a row.
pub fn fusion_rewrites_the_pattern(fuse: Pass) {
    run(
        fuse,
        "x = placeholder()
         m1 = matmul(x)
         b1 = add_bias(m1)
         y1 = gelu(b1)
         m2 = matmul(y1)
         b2 = add_bias(m2)
         r = add(b2, x)
         return r",
        "x = placeholder()
         y1 = linear_bias_gelu(x)
         b2 = linear_bias(y1)
         r = add(b2, x)
         return r",
        2,
        "an MLP: matmul, bias, GELU, then matmul, bias",
    );
}

/// Values read twice, or wanted as outputs, are not fused away.
pub fn fusion_leaves_values_others_need(fuse: Pass) {
    run(
        fuse,
        "x = placeholder()
         m = matmul(x)
         b = add_bias(m)
         y = gelu(b)
         s = add(y, b)
         return s",
        "x = placeholder()
         b = linear_bias(x)
         y = gelu(b)
         s = add(y, b)
         return s",
        1,
        "the bias output read again: GELU stays apart",
    );
    run(
        fuse,
        "x = placeholder()
         m = matmul(x)
         b = add_bias(m)
         y = gelu(b)
         return y, m",
        "x = placeholder()
         m = matmul(x)
         b = add_bias(m)
         y = gelu(b)
         return y, m",
        0,
        "the matmul wanted as an output",
    );
    run(
        fuse,
        "x = placeholder()
         m = matmul(x)
         b = add_bias(m)
         n = tanh(m)
         s = add(b, n)
         return s",
        "x = placeholder()
         m = matmul(x)
         b = add_bias(m)
         n = tanh(m)
         s = add(b, n)
         return s",
        0,
        "the matmul read by two nodes",
    );
}
