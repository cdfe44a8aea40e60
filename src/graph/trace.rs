//! Tracing: the eager forward, written once more as calls that record nodes.
//!
//! torch.fx traces by running `forward` on proxy objects that record every operation. Rust has
//! no proxies to slip into `ops::add`, so each module's trace below mirrors its `forward`
//! line for line — the unfused `forward` of `bert/*.rs` (`Linear` = matmul then bias,
//! `BertSelfOutput` = add then LayerNorm, attention = scores, scale, mask, softmax, P·V) — and
//! the equality tests (`tests/graph.rs`) hold it to the eager numbers bit for bit, which is
//! what makes it a trace rather than a second model.

use super::{Dim, Graph, Input, Node, Norm, Op, Proj, Weight};
use crate::bert::BertModel;
use crate::bert::layer::BertLayer;
use crate::nn::Activation;

/// Records nodes, naming each uniquely and tagging it with the module being traced.
struct Tracer {
    graph: Graph,
    module: String,
}

impl Tracer {
    fn node(&mut self, name: &str, op: Op, args: &[usize], shape: Vec<Dim>) -> usize {
        self.graph.nodes.push(Node {
            name: name.to_string(),
            op,
            args: args.to_vec(),
            shape,
            module: self.module.clone(),
        });
        self.graph.nodes.len() - 1
    }

    fn shape(&self, x: usize) -> Vec<Dim> {
        self.graph.nodes[x].shape.clone()
    }

    /// `nn.Linear` unfused: `x·Wᵀ`, then `+ b` (as `Linear::forward_into` without its epilogue).
    fn linear(&mut self, name: &str, w: Weight, x: usize, out: usize) -> usize {
        let mut shape = self.shape(x);
        *shape.last_mut().expect("a Linear's input has a last dimension") = Dim::N(out);
        let y = self.node(name, Op::MatMul(w), &[x], shape.clone());
        self.node(&format!("{name}_bias"), Op::AddBias(w), &[y], shape)
    }

    /// `LayerNorm(a + residual)` unfused: the add written out, then the norm.
    fn add_norm(&mut self, name: &str, a: usize, residual: usize, norm: Norm) -> usize {
        let shape = self.shape(a);
        let sum = self.node(&format!("{name}_residual"), Op::Add, &[a, residual], shape.clone());
        self.node(&format!("{name}_norm"), Op::LayerNorm(norm), &[sum], shape)
    }
}

/// Which values the caller wants back from the traced graph.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// The pooler's `[B, H]` output (when the model has a pooler).
    pub pooler_output: bool,
    /// The embedding output and every layer's output.
    pub hidden_states: bool,
}

/// Traces `model`'s unfused forward into a graph whose outputs are `last_hidden_state` and
/// what `want` asks for. The pooler is traced whenever the model has one (the forward computes
/// it); when it is not wanted it is dead code for the `dce` pass.
pub fn trace(model: &BertModel, want: Want) -> Graph {
    let cfg = &model.config;
    let mut t = Tracer { graph: Graph { nodes: Vec::new(), outputs: Vec::new() }, module: String::new() };
    let bs = vec![Dim::B, Dim::S];
    let ids = t.node("input_ids", Op::Placeholder(Input::Ids), &[], bs.clone());
    let types = t.node("token_type_ids", Op::Placeholder(Input::TokenTypes), &[], bs.clone());
    let mask_in = t.node("attention_mask", Op::Placeholder(Input::Mask), &[], bs.clone());
    let mask = t.node("mask", Op::AdditiveMask, &[mask_in], bs);
    t.module = "embeddings".into();
    let h = cfg.hidden_size;
    let mut x = t.node("embeddings", Op::Embeddings, &[ids, types], vec![Dim::B, Dim::S, Dim::N(h)]);
    let mut states = vec![x];
    for (l, layer) in model.encoder.layer.0.iter().enumerate() {
        x = trace_layer(&mut t, l, layer, x, mask);
        states.push(x);
    }
    t.graph.outputs.push(("last_hidden_state".into(), x));
    if let Some(p) = &model.pooler {
        t.module = "pooler".into();
        let cls = t.node("cls", Op::SelectFirst, &[x], vec![Dim::B, Dim::N(h)]);
        let dense = t.linear("pooler", Weight::Pooler, cls, p.dense.out_features());
        let pooled = t.node("pooler_tanh", Op::Act(Activation::Tanh), &[dense], t.shape(dense));
        if want.pooler_output {
            t.graph.outputs.push(("pooler_output".into(), pooled));
        }
    }
    if want.hidden_states {
        for (i, s) in states.into_iter().enumerate() {
            t.graph.outputs.push((format!("hidden_states.{i}"), s));
        }
    }
    t.graph
}

/// `BertLayer::forward`, unfused: attention (`BertSelfAttention`, `BertSelfOutput`), then the
/// MLP (`BertIntermediate`, `BertOutput`).
fn trace_layer(t: &mut Tracer, l: usize, layer: &BertLayer, x: usize, mask: usize) -> usize {
    let sa = &layer.attention.self_;
    let h = sa.query.out_features();
    let heads = sa.num_heads.max(1);
    let d = h / heads;
    let p = format!("encoder.layer.{l}");
    t.module = format!("{p}.attention.self");
    let n = |s: &str| format!("l{l}_{s}");
    let q = t.linear(&n("query"), Weight::Layer(l, Proj::Query), x, h);
    let k = t.linear(&n("key"), Weight::Layer(l, Proj::Key), x, h);
    let v = t.linear(&n("value"), Weight::Layer(l, Proj::Value), x, h);
    let square = vec![Dim::B, Dim::N(heads), Dim::S, Dim::S];
    let scores = t.node(&n("scores"), Op::Scores(heads), &[q, k], square.clone());
    let scaled = t.node(&n("scaled"), Op::Scale(1.0 / (d as f32).sqrt()), &[scores], square.clone());
    let masked = t.node(&n("masked"), Op::AddMask, &[scaled, mask], square.clone());
    let probs = t.node(&n("probs"), Op::Softmax, &[masked], square);
    let per_head = vec![Dim::B, Dim::N(heads), Dim::S, Dim::N(d)];
    let ctx = t.node(&n("context"), Op::Context(heads), &[probs, v], per_head);
    let ctx = t.node(&n("merged"), Op::MergeHeads, &[ctx], vec![Dim::B, Dim::S, Dim::N(h)]);
    t.module = format!("{p}.attention.output");
    let o = t.linear(&n("attn_out"), Weight::Layer(l, Proj::AttnOut), ctx, h);
    let a = t.add_norm(&n("attn"), o, x, Norm::Attn(l));
    t.module = format!("{p}.intermediate");
    let inter = layer.intermediate.dense.out_features();
    let i = t.linear(&n("inter"), Weight::Layer(l, Proj::Inter), a, inter);
    let act = layer.intermediate.intermediate_act_fn;
    let i = t.node(&n(&format!("{act:?}").to_lowercase()), Op::Act(act), &[i], t.shape(i));
    t.module = format!("{p}.output");
    let o = t.linear(&n("out"), Weight::Layer(l, Proj::Out), i, h);
    t.add_norm(&n("out"), o, a, Norm::Out(l))
}
