//! # Tracing: BERT's eager forward, written once more as calls that record graph nodes
//!
//! The graph ([`crate::graph`]) knows ops, not models; this file is where BERT meets it. It
//! records `BertModel`'s forward as a [`Graph`] ([`trace`]), hands the graph the model's
//! parameters ([`Params`] for [`BertModel`]) and compiles the two ([`compile`]): what
//! [`BertModel::forward`] runs.
//!
//! torch.fx traces by running `forward` on proxy objects that record every operation. Rust has
//! no proxies to slip into `ops::add`, so each module's trace below mirrors its `forward`
//! line for line — the unfused `forward` of `bert/*.rs` (`Linear` = matmul then bias,
//! `BertSelfOutput` = add then LayerNorm, attention = scores, scale, mask, softmax, P·V) — and
//! the equality tests (`tests/graph.rs`) hold it to the eager numbers bit for bit, which is
//! what makes it a trace rather than a second model.

use std::time::Instant;

use super::layer::BertLayer;
use super::{BertInput, BertModel};
use crate::graph::{Compiled, Dim, Feed, Graph, Input, Node, Norm, Op, Params, Passes, Proj, Weight};
use crate::nn::{Activation, LayerNorm, Linear};
use crate::{Error, Result};

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

/// Traces `model` (outputs: `want`) and compiles the graph with `passes` ([`crate::graph::compile`]).
///
/// Errors: a pass that leaves an ill-formed graph (a bug, named by the lint).
pub fn compile(model: &BertModel, passes: &Passes, want: Want) -> Result<Compiled> {
    let t0 = Instant::now();
    let graph = trace(model, want);
    let trace_seconds = t0.elapsed().as_secs_f64();
    let mut c = crate::graph::compile(graph, model, passes)?;
    c.trace_seconds = trace_seconds;
    Ok(c)
}

impl<'a> From<&BertInput<'a>> for Feed<'a> {
    fn from(x: &BertInput<'a>) -> Feed<'a> {
        let BertInput { input_ids, attention_mask, token_type_ids, batch, seq_len } = *x;
        Feed { input_ids, attention_mask, token_type_ids, batch, seq_len }
    }
}

impl<'a> From<BertInput<'a>> for Feed<'a> {
    fn from(x: BertInput<'a>) -> Feed<'a> {
        Feed::from(&x)
    }
}

/// The graph's parameter names are the checkpoint's: `Weight::Layer(3, Proj::Inter)` is
/// `encoder.layer.3.intermediate.dense`, the field path `encoder.layer[3].intermediate.dense`.
impl Params for BertModel {
    fn linear(&self, w: Weight) -> Result<&Linear> {
        let layer =
            |l: usize| self.encoder.layer.0.get(l).ok_or_else(|| Error::invalid("graph", format!("no layer {l}")));
        Ok(match w {
            Weight::Layer(l, p) => {
                let x = layer(l)?;
                match p {
                    Proj::Query => &x.attention.self_.query,
                    Proj::Key => &x.attention.self_.key,
                    Proj::Value => &x.attention.self_.value,
                    Proj::AttnOut => &x.attention.output.dense,
                    Proj::Inter => &x.intermediate.dense,
                    Proj::Out => &x.output.dense,
                }
            }
            Weight::Qkv(l) => layer(l)?.attention.self_.stacked_qkv()?,
            Weight::Pooler => {
                &self.pooler.as_ref().ok_or_else(|| Error::invalid("graph", "the model has no pooler"))?.dense
            }
        })
    }

    fn layer_norm(&self, n: Norm) -> Result<&LayerNorm> {
        let (Norm::Attn(l) | Norm::Out(l)) = n;
        let x = self.encoder.layer.0.get(l).ok_or_else(|| Error::invalid("graph", format!("no layer {l}")))?;
        Ok(match n {
            Norm::Attn(_) => &x.attention.output.LayerNorm,
            Norm::Out(_) => &x.output.LayerNorm,
        })
    }

    fn embeddings_into(&self, feed: &Feed, out: &mut [f32]) -> Result<()> {
        let Feed { input_ids, attention_mask, token_type_ids, batch, seq_len } = *feed;
        self.embeddings.forward_into(&BertInput { input_ids, attention_mask, token_type_ids, batch, seq_len }, out)
    }

    fn root_span(&self) -> &'static str {
        "BertModel"
    }

    /// `encoder.layer.3.intermediate` runs in `BertLayer` 3 > `BertIntermediate` 3.
    fn spans(&self, module: &str) -> ([(&'static str, usize); 3], usize) {
        let none = ("", 0);
        if module == "pooler" {
            return ([("BertPooler", 0), none, none], 1);
        }
        let Some(rest) = module.strip_prefix("encoder.layer.") else { return ([none; 3], 0) };
        let (l, part) = rest.split_once('.').unwrap_or((rest, ""));
        let l = l.parse().unwrap_or(0);
        let layer = ("BertLayer", l);
        match part {
            "attention.self" => ([layer, ("BertAttention", l), ("BertSelfAttention", l)], 3),
            "attention.output" => ([layer, ("BertAttention", l), ("BertSelfOutput", l)], 3),
            "intermediate" => ([layer, ("BertIntermediate", l), none], 2),
            "output" => ([layer, ("BertOutput", l), none], 2),
            _ => ([layer, none, none], 1),
        }
    }
}
