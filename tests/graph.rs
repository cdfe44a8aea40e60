//! The compiled graph — what `BertModel::forward` runs — against the reference forward
//! (`BertModel::forward_ref`: naive matmuls, attention with tensor ops, no graph): no passes,
//! all passes and every `--no-fuse` setting close to it on tiny models, every checkpoint
//! fixture and in a proptest over random configs; each pass alone and random subsets in random
//! orders within 1e-5 of the unfused graph; every pass idempotent; `forward` bit for bit the
//! graph its fusion setting names.

mod common;

use common::fixture;
use nanobert::bert::{BertConfig, BertInput, BertModel, BertModelOutput, Fusion, Init};
use nanobert::bert::{Want, compile, trace};
use nanobert::graph::{PASSES, Passes, RunState};
use nanobert::io::Checkpoint;
use proptest::prelude::*;

fn model(layers: usize, heads: usize, hidden: usize, inter: usize, act: &str, seed: u64) -> BertModel {
    let cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 97, "hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
        "intermediate_size": inter, "max_position_embeddings": 64, "hidden_act": act
    }))
    .unwrap();
    BertModel::load(&Init { std: 0.3, seed }, "bert.", &cfg, true).unwrap()
}

/// A padded batch: sequence `i` has `seq - 3 i` real tokens (at least 1).
fn batch(b: usize, s: usize, vocab: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let ids = (0..b * s).map(|i| ((i * 31 + 7) % vocab) as u32).collect();
    let mask = (0..b * s).map(|i| u32::from(i % s < s.saturating_sub(3 * (i / s)).max(1))).collect();
    let types = (0..b * s).map(|i| u32::from(i % s >= s / 2)).collect();
    (ids, mask, types)
}

/// `(last_hidden_state, pooler_output, hidden_states)` of `BertModel::forward` with `fusion`.
fn forward(m: &mut BertModel, input: &BertInput, fusion: Fusion) -> Vec<Vec<f32>> {
    m.fusion = fusion;
    flat(m.forward(input, true).unwrap())
}

/// The same from the reference forward.
fn reference(m: &BertModel, input: &BertInput) -> Vec<Vec<f32>> {
    flat(m.forward_ref(input, true).unwrap())
}

fn flat(out: BertModelOutput) -> Vec<Vec<f32>> {
    let mut v = vec![out.last_hidden_state.to_vec()];
    v.extend(out.pooler_output.map(|p| p.to_vec()));
    v.extend(out.hidden_states.iter().map(|t| t.to_vec()));
    v
}

/// The same values from the graph compiled with `passes`.
fn graph(m: &BertModel, input: &BertInput, passes: &Passes) -> Vec<Vec<f32>> {
    let c = compile(m, passes, Want { pooler_output: true, hidden_states: true }).unwrap();
    let mut st = RunState::new();
    c.run(m, input, &mut st).unwrap();
    let mut v = vec![c.output(&st, "last_hidden_state").unwrap().to_vec()];
    v.extend(c.output(&st, "pooler_output").map(|p| p.to_vec()));
    for i in 0..=m.config.num_hidden_layers {
        v.push(c.output(&st, &format!("hidden_states.{i}")).unwrap().to_vec());
    }
    v
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "number of outputs");
    let mut d = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x.len(), y.len());
        for (p, q) in x.iter().zip(y) {
            d = d.max(if p.is_nan() || q.is_nan() { f32::INFINITY } else { (p - q).abs() });
        }
    }
    d
}

fn bits(a: &[Vec<f32>]) -> Vec<Vec<u32>> {
    a.iter().map(|v| v.iter().map(|x| x.to_bits()).collect()).collect()
}

/// Largest |compiled - reference| allowed: the reference multiplies naively (another summation
/// order), so the two differ by rounding, never by more on these small models.
const TOL: f32 = 1e-4;

/// No passes, all passes and every `--no-fuse NAME` setting within [`TOL`] of the reference;
/// `forward` with a fusion setting is bit for bit the graph of [`Fusion::passes`].
fn check(name: &str, m: &mut BertModel, b: usize, s: usize) {
    let (ids, mask, types) = batch(b, s, m.config.vocab_size);
    let input = BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap();
    let want = reference(m, &input);
    let none = graph(m, &input, &Passes::none());
    let d = max_diff(&none, &want);
    assert!(d < TOL, "{name}: no passes vs reference: {d}");
    assert_eq!(bits(&graph(m, &input, &Fusion::none().passes())), bits(&none), "{name}: fusions off");
    assert_eq!(bits(&forward(m, &input, Fusion::none())), bits(&none), "{name}: forward, fusions off");
    let all = graph(m, &input, &Passes::all());
    let d = max_diff(&all, &want);
    assert!(d < TOL, "{name}: all passes vs reference: {d}");
    assert_eq!(bits(&forward(m, &input, Fusion::all())), bits(&all), "{name}: forward = all passes");
    for (f, _) in Fusion::NAMES {
        let fusion = Fusion::all().without(f).unwrap();
        let got = forward(m, &input, fusion);
        assert_eq!(bits(&graph(m, &input, &fusion.passes())), bits(&got), "{name}: --no-fuse {f}");
        let d = max_diff(&got, &want);
        assert!(d < TOL, "{name}: --no-fuse {f} vs reference: {d}");
    }
    assert!(max_diff(&all, &none) < 1e-4, "{name}: all passes vs none");
}

#[test]
fn compiled_forwards_equal_the_reference_forward() {
    check("tiny random", &mut model(2, 3, 48, 96, "gelu", 11), 3, 37);
    check("one token", &mut model(1, 2, 16, 24, "gelu", 5), 1, 1);
}

#[test]
fn fixtures_compile_to_the_reference_numbers() {
    let mut dirs = vec![fixture("tiny-bert"), fixture("tiny-bert-legacy")];
    let ck = fixture("checkpoints");
    let mut names: Vec<_> =
        std::fs::read_dir(&ck).unwrap().flatten().filter(|e| e.path().is_dir()).map(|e| e.path()).collect();
    names.sort();
    dirs.extend(names);
    let mut checked = 0;
    for d in &dirs {
        let ckpt = Checkpoint::open(d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        let cfg = BertConfig::from_json(&ckpt.config_json).unwrap();
        let mut m = BertModel::load(&ckpt.weights, "bert.", &cfg, true).unwrap();
        check(&d.display().to_string(), &mut m, 2, 9);
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} checkpoints");
}

#[test]
fn each_pass_alone_is_close_and_idempotent() {
    let m = model(2, 3, 48, 96, "gelu", 3);
    let (ids, mask, types) = batch(2, 19, 97);
    let input = BertInput::new(&ids, Some(&mask), Some(&types), 2, 19).unwrap();
    let none = graph(&m, &input, &Passes::none());
    let want = Want { pooler_output: true, hidden_states: true };
    for (name, _, _) in PASSES {
        let one = graph(&m, &input, &Passes(vec![name]));
        let d = max_diff(&none, &one);
        assert!(d < 1e-5, "{name} alone: {d}");
        let once = compile(&m, &Passes(vec![name]), want).unwrap();
        let twice = compile(&m, &Passes(vec![name, name]), want).unwrap();
        assert_eq!(once.graph, twice.graph, "{name} twice changed the graph again");
        assert_eq!(twice.reports[1].rewrites * usize::from(!matches!(name, "fold" | "memory")), 0, "{name}");
    }
}

#[test]
fn passes_shrink_the_graph_and_dce_drops_the_unwanted_pooler() {
    let m = model(2, 3, 48, 96, "gelu", 3);
    let traced = trace(&m, Want::default());
    traced.lint().unwrap();
    let printed = traced.to_string();
    assert!(
        printed.contains("%l0_query : [B, S, 48] = matmul(%embeddings, encoder.layer.0.attention.self.query.weight)"),
        "{printed}"
    );
    assert!(printed.contains("pooler"), "the pooler is traced");
    let c = compile(&m, &Passes::all(), Want::default()).unwrap();
    let fused = c.graph.to_string();
    assert!(
        !fused.contains("pooler") && fused.contains("attention(") && fused.contains("linear_bias_gelu("),
        "{fused}"
    );
    let dce = &c.reports[0];
    assert_eq!((dce.name, dce.rewrites), ("dce", 4), "select, matmul, bias, tanh of the pooler");
    assert!(c.graph.nodes.len() * 2 < traced.nodes.len(), "{} -> {}", traced.nodes.len(), c.graph.nodes.len());
    let planned = c.layout.arena_bytes(&c.graph, 4, 32);
    let unplanned = compile(&m, &Passes::all().without("memory").unwrap(), Want::default()).unwrap();
    assert!(planned * 3 < unplanned.layout.arena_bytes(&unplanned.graph, 4, 32));
    assert!(c.graph.to_dot().starts_with("digraph"));
}

#[test]
fn lint_finds_a_use_before_definition_and_a_wrong_shape() {
    let m = model(1, 2, 16, 24, "gelu", 1);
    let mut g = trace(&m, Want::default());
    let q = g.find("l0_query").unwrap();
    g.nodes[q].args = vec![q + 1];
    assert!(g.lint().unwrap_err().to_string().contains("not defined before"));
    let mut g = trace(&m, Want::default());
    let s = g.find("l0_scores").unwrap();
    g.nodes[s].shape.pop();
    assert!(g.lint().unwrap_err().to_string().contains("%l0_scores"));
}

proptest! {
    #![proptest_config(common::config(12))]
    #[test]
    fn random_configs_and_random_pass_orders_agree(
        layers in 1usize..=3, heads in 1usize..=4, head_dim in 1usize..=9, inter in 1usize..=40,
        act in prop::sample::select(vec!["gelu", "relu", "gelu_new"]),
        b in 1usize..=3, s in 1usize..=40, seed in 0u64..1000,
        order in Just((0..PASSES.len()).collect::<Vec<_>>()).prop_shuffle(), keep in prop::collection::vec(any::<bool>(), PASSES.len()),
    ) {
        let mut m = model(layers, heads, heads * head_dim, inter, act, seed);
        let (ids, mask, types) = batch(b, s, 97);
        let input = BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap();
        let passes = Passes(order.iter().filter(|&&i| keep[i]).map(|&i| PASSES[i].0).collect());
        let none = graph(&m, &input, &Passes::none());
        let got = graph(&m, &input, &passes);
        let d = max_diff(&none, &got);
        prop_assert!(d < 1e-5, "{:?}: {d}", passes.0);
        let d = max_diff(&none, &reference(&m, &input));
        prop_assert!(d < TOL, "no passes vs reference: {d}");
        prop_assert_eq!(bits(&graph(&m, &input, &Passes::all())), bits(&forward(&mut m, &input, Fusion::all())));
    }
}

#[test]
fn module_forwards_refuse_bad_shapes_by_name() {
    use nanobert::Tensor;
    let m = model(1, 2, 16, 24, "gelu", 1);
    let layer = &m.encoder.layer.0[0];
    let x = Tensor::zeros(&[2, 5, 16]);
    assert!(layer.forward(&x, &[0.0; 10]).is_ok() && layer.forward_ref(&x, &[0.0; 10]).is_ok());
    for (x, mask, want) in [
        (Tensor::zeros(&[10, 16]), 10, "expected [batch, seq, 16]"),
        (Tensor::zeros(&[2, 5, 12]), 10, "expected [batch, seq, 16]"),
        (Tensor::zeros(&[2, 5, 16]), 9, "mask of 9 values for batch 2 x seq 5"),
    ] {
        for err in [layer.forward(&x, &vec![0.0; mask]), layer.forward_ref(&x, &vec![0.0; mask])] {
            let Err(err) = err else { panic!("a bad shape must be an error") };
            let err = err.to_string();
            assert!(err.contains("BertLayer") && err.contains(want), "{err}");
        }
        let err = layer.attention.self_.forward(&x, &vec![0.0; mask]).err().unwrap().to_string();
        assert!(err.contains("BertSelfAttention") && err.contains(want), "{err}");
    }
    // A batch built field by field, with too few ids: an error from the compiled forward.
    let ids = [1u32; 5];
    let input = BertInput { input_ids: &ids, attention_mask: None, token_type_ids: None, batch: 2, seq_len: 5 };
    let err = m.forward(&input, false).err().unwrap().to_string();
    assert!(err.contains("input_ids has 5 entries"), "{err}");
}
