//! Printing a graph (one line a node, like torch.fx's `print(gm.graph)`), checking it (`lint`)
//! and drawing it (Graphviz DOT).

use super::{AttentionOp, Dim, Graph, Input, Norm, Op, Proj, Weight};
use crate::{Error, Result};
use std::fmt::{self, Write};

impl Weight {
    /// The checkpoint key of the Linear (without `bert.`), e.g.
    /// `encoder.layer.0.attention.self.query`; `…self.qkv` for the stacked Q, K, V.
    pub fn key(self) -> String {
        match self {
            Weight::Layer(l, p) => {
                let part = match p {
                    Proj::Query => "attention.self.query",
                    Proj::Key => "attention.self.key",
                    Proj::Value => "attention.self.value",
                    Proj::AttnOut => "attention.output.dense",
                    Proj::Inter => "intermediate.dense",
                    Proj::Out => "output.dense",
                };
                format!("encoder.layer.{l}.{part}")
            }
            Weight::Qkv(l) => format!("encoder.layer.{l}.attention.self.qkv"),
            Weight::Pooler => "pooler.dense".into(),
        }
    }
}

impl Norm {
    /// The checkpoint key of the LayerNorm (without `bert.`).
    pub fn key(self) -> String {
        match self {
            Norm::Attn(l) => format!("encoder.layer.{l}.attention.output.LayerNorm"),
            Norm::Out(l) => format!("encoder.layer.{l}.output.LayerNorm"),
        }
    }
}

/// `[B, S, 384]`.
pub fn shape_str(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::B => "B".into(),
            Dim::S => "S".into(),
            Dim::N(n) => n.to_string(),
        })
        .collect();
    format!("[{}]", dims.join(", "))
}

impl Op {
    /// The op's name and its non-tensor arguments (parameters, constants), as printed.
    pub fn describe(&self) -> (String, Vec<String>) {
        let s = |x: &str| x.to_string();
        match *self {
            Op::Placeholder(i) => (s("placeholder"), vec![s(input_name(i))]),
            Op::Embeddings => (s("embeddings"), vec![s("embeddings.*")]),
            Op::AdditiveMask => (s("additive_mask"), vec![]),
            Op::MatMul(w) => (s("matmul"), vec![format!("{}.weight", w.key())]),
            Op::AddBias(w) => (s("add_bias"), vec![format!("{}.bias", w.key())]),
            Op::Linear(w, gelu) => {
                let name = if gelu { "linear_bias_gelu" } else { "linear_bias" };
                (s(name), vec![format!("{}.weight", w.key()), format!("{}.bias", w.key())])
            }
            Op::Act(a) => (format!("{a:?}").to_lowercase(), vec![]),
            Op::Add => (s("add"), vec![]),
            Op::LayerNorm(n) => (s("layer_norm"), vec![n.key()]),
            Op::AddLayerNorm(n) => (s("add_layer_norm"), vec![n.key()]),
            Op::Slice(part, parts) => (s("slice_cols"), vec![format!("{part}/{parts}")]),
            Op::Scores(h) => (s("scores"), vec![format!("heads={h}")]),
            Op::Scale(c) => (s("mul"), vec![format!("{c}")]),
            Op::AddMask => (s("add_mask"), vec![]),
            Op::Softmax => (s("softmax"), vec![]),
            Op::ScaledMaskedSoftmax(c) => (s("scaled_masked_softmax"), vec![format!("{c}")]),
            Op::Context(h) => (s("context"), vec![format!("heads={h}")]),
            Op::MergeHeads => (s("merge_heads"), vec![]),
            Op::ContextMerged(h) => (s("context_merged"), vec![format!("heads={h}")]),
            Op::Attention(AttentionOp { heads, softmax, heads_in_place, flash_min_seq }) => {
                let mut a = vec![format!("heads={heads}")];
                a.extend(softmax.then(|| s("fused_softmax")));
                a.extend(heads_in_place.then(|| s("heads_in_place")));
                a.extend(flash_min_seq.map(|n| format!("flash_from={n}")));
                (s("attention"), a)
            }
            Op::SelectFirst => (s("select_first"), vec![]),
        }
    }
}

/// `input_ids`, `token_type_ids`, `attention_mask`.
pub fn input_name(i: Input) -> &'static str {
    match i {
        Input::Ids => "input_ids",
        Input::TokenTypes => "token_type_ids",
        Input::Mask => "attention_mask",
    }
}

impl fmt::Display for Graph {
    /// One line a node: `%name : [B, S, 384] = op(%arg, param) · users · # module`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users = self.users();
        for (i, n) in self.nodes.iter().enumerate() {
            let (op, extra) = n.op.describe();
            let mut args: Vec<String> = n.args.iter().map(|&a| format!("%{}", self.nodes[a].name)).collect();
            args.extend(extra);
            let out = if self.is_output(i) { ", output" } else { "" };
            let line = format!("%{} : {} = {op}({})", n.name, shape_str(&n.shape), args.join(", "));
            writeln!(f, "{line:<96} # users={}{out}  {}", users[i].len(), n.module)?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|(k, o)| format!("{k}=%{}", self.nodes[*o].name)).collect();
        writeln!(f, "return ({})", outs.join(", "))
    }
}

impl Graph {
    /// Checks the graph: every argument defined before it is read, names unique, outputs in
    /// range, every node's shape what its op makes of its arguments' shapes, and views
    /// (`slice_cols`) read only by the attention ops that take a row stride.
    ///
    /// Errors name the node and what is wrong.
    pub fn lint(&self) -> Result<()> {
        let bad = |i: usize, what: String| Error::invalid("graph lint", format!("%{}: {what}", self.nodes[i].name));
        let mut names = std::collections::HashSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if !names.insert(n.name.as_str()) {
                return Err(bad(i, "name used twice".into()));
            }
            if let Some(&a) = n.args.iter().find(|&&a| a >= i) {
                return Err(bad(i, format!("reads node {a}, not defined before it")));
            }
            let arg = |k: usize| n.args.get(k).map(|&a| self.nodes[a].shape.clone());
            let want = expected_shape(&n.op, &arg, n.shape.last().copied());
            match want {
                Some(w) if w == n.shape => {}
                Some(w) => {
                    return Err(bad(
                        i,
                        format!("shape {} but its arguments give {}", shape_str(&n.shape), shape_str(&w)),
                    ));
                }
                None => return Err(bad(i, format!("arguments of the wrong number or shape for {:?}", n.op))),
            }
            let takes_views = matches!(n.op, Op::Scores(_) | Op::Context(_) | Op::ContextMerged(_) | Op::Attention(_));
            if !takes_views && n.args.iter().any(|&a| matches!(self.nodes[a].op, Op::Slice(..))) {
                return Err(bad(i, "reads a column view but needs a contiguous value".into()));
            }
        }
        if let Some((k, _)) = self.outputs.iter().find(|(_, o)| *o >= self.nodes.len()) {
            return Err(Error::invalid("graph lint", format!("output {k} is not a node")));
        }
        Ok(())
    }

    /// The graph in Graphviz DOT (`dot -Tsvg graph.dot`): a box per node, an arrow per read.
    pub fn to_dot(&self) -> String {
        let mut s = String::from(
            "digraph forward {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n",
        );
        for (i, n) in self.nodes.iter().enumerate() {
            let (op, extra) = n.op.describe();
            let fill = match n.op {
                Op::Placeholder(_) => "#e8e8e8",
                Op::MatMul(_) | Op::Linear(..) | Op::Scores(_) | Op::Context(_) | Op::ContextMerged(_) => "#cfe2f3",
                Op::Attention(_) => "#d9ead3",
                _ => "#ffffff",
            };
            let extra = extra.first().map(|e| format!("\\n{e}")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  n{i} [label=\"%{}\\n{op}{extra}\\n{}\", style=filled, fillcolor=\"{fill}\"];",
                n.name,
                shape_str(&n.shape)
            );
            for &a in &n.args {
                let _ = writeln!(s, "  n{a} -> n{i};");
            }
        }
        s.push_str("}\n");
        s
    }
}

/// The shape `op` gives its arguments (`arg(k)`: argument `k`'s shape), `None` when the
/// arguments do not fit the op. `last` is the node's own last dimension (a Linear's width).
fn expected_shape(op: &Op, arg: &dyn Fn(usize) -> Option<Vec<Dim>>, last: Option<Dim>) -> Option<Vec<Dim>> {
    let bs = vec![Dim::B, Dim::S];
    let bsh = |x: &Vec<Dim>| x.len() == 3 && x[..2] == bs[..];
    let hidden = |x: &Vec<Dim>| match x.last() {
        Some(Dim::N(h)) => Some(*h),
        _ => None,
    };
    let same = |k: usize| {
        let a = arg(0)?;
        (arg(k)? == a).then_some(a)
    };
    match *op {
        Op::Placeholder(_) => (arg(0).is_none()).then_some(bs),
        Op::Embeddings => (arg(0)? == bs && arg(1)? == bs).then_some(vec![Dim::B, Dim::S, last?]),
        Op::AdditiveMask => (arg(0)? == bs).then_some(bs),
        Op::MatMul(_) | Op::Linear(..) => {
            let mut s = arg(0)?;
            *s.last_mut()? = last?;
            Some(s)
        }
        Op::AddBias(_) | Op::Act(_) | Op::LayerNorm(_) | Op::Scale(_) | Op::Softmax => arg(0),
        Op::Add | Op::AddLayerNorm(_) => same(1),
        Op::Slice(part, parts) => {
            let mut s = arg(0)?;
            let w = hidden(&s)?;
            (part < parts && w % parts == 0).then_some(())?;
            *s.last_mut()? = Dim::N(w / parts);
            Some(s)
        }
        Op::Scores(h) => {
            let q = same(1)?;
            bsh(&q).then(|| vec![Dim::B, Dim::N(h), Dim::S, Dim::S])
        }
        Op::AddMask | Op::ScaledMaskedSoftmax(_) => {
            let s = arg(0)?;
            (s.len() == 4 && s[0] == Dim::B && s[2..] == [Dim::S, Dim::S] && arg(1)? == bs).then_some(s)
        }
        Op::Context(h) | Op::ContextMerged(h) => {
            let (p, v) = (arg(0)?, arg(1)?);
            let width = hidden(&v)?;
            let ok = p == [Dim::B, Dim::N(h), Dim::S, Dim::S] && bsh(&v) && h > 0 && width % h == 0;
            let merged = matches!(op, Op::ContextMerged(_));
            ok.then(|| if merged { v } else { vec![Dim::B, Dim::N(h), Dim::S, Dim::N(width / h)] })
        }
        Op::MergeHeads => {
            let s = arg(0)?;
            match s[..] {
                [Dim::B, Dim::N(h), Dim::S, Dim::N(d)] => Some(vec![Dim::B, Dim::S, Dim::N(h * d)]),
                _ => None,
            }
        }
        Op::Attention(a) => {
            let q = arg(0)?;
            let ok = bsh(&q) && arg(1)? == q && arg(2)? == q && arg(3)? == bs && hidden(&q)? % a.heads.max(1) == 0;
            ok.then_some(q)
        }
        Op::SelectFirst => {
            let s = arg(0)?;
            bsh(&s).then(|| vec![Dim::B, s[2]])
        }
    }
}
