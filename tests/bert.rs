//! BERT layer by layer against PyTorch.
//!
//! The fixtures in tests/fixtures/ were written by scripts/make_fixtures.py (PyTorch +
//! transformers): a tiny random BertForMaskedLM with the real uncased vocabulary, a padded
//! batch of four inputs (one a sentence pair), and every intermediate PyTorch computed for it.
//! Each test prints the max absolute difference it found.

mod common;

use common::{assert_matches as assert_close, fixture, ids};
use nanobert::bert::{BertConfig, BertForMaskedLM, BertInput, BertModel, Init};
use nanobert::io::Checkpoint;
use nanobert::nn::{Module, count_parameters};
use nanobert::text::Tokenizer;
use nanobert::{Tensor, ops};

const TOL: f32 = 1e-4;

struct Tiny {
    ckpt: Checkpoint,
    cfg: BertConfig,
    reference: nanobert::io::Weights,
    ids: Vec<u32>,
    mask: Vec<u32>,
    types: Vec<u32>,
    shape: Vec<usize>,
}

fn tiny(dir: &str, reference_file: &str) -> Tiny {
    let ckpt = Checkpoint::open(&fixture(dir)).expect("open tiny checkpoint");
    let cfg = BertConfig::from_json(&ckpt.config_json).expect("config");
    let r = common::reference(reference_file);
    let (ids, shape) = ids(&r, "input_ids");
    let (mask, _) = common::ids(&r, "attention_mask");
    let (types, _) = common::ids(&r, "token_type_ids");
    Tiny { ckpt, cfg, reference: r, ids, mask, types, shape }
}

impl Tiny {
    fn input(&self) -> BertInput<'_> {
        BertInput::new(&self.ids, Some(&self.mask), Some(&self.types), self.shape[0], self.shape[1]).unwrap()
    }
    fn pt(&self, name: &str) -> Tensor {
        self.reference.get(name).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[test]
fn tiny_bert_every_layer_matches_pytorch() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    let model = BertForMaskedLM::load(&t.ckpt.weights, &t.cfg).unwrap();
    let out = model.bert.forward(&t.input(), true).unwrap();
    assert_eq!(out.hidden_states.len(), t.cfg.num_hidden_layers + 1);
    assert_close("embedding_output", &out.hidden_states[0], &t.pt("embedding_output"), TOL);
    for i in 1..=t.cfg.num_hidden_layers {
        assert_close(&format!("hidden_state_{i}"), &out.hidden_states[i], &t.pt(&format!("hidden_state_{i}")), TOL);
    }
    let h = &out.last_hidden_state;
    let p = &model.cls.predictions;
    let tr = &p.transform;
    let transform = tr.LayerNorm.forward(&tr.transform_act_fn.forward(&tr.dense.forward(h).unwrap())).unwrap();
    assert_close("mlm_transform_output", &transform, &t.pt("mlm_transform_output"), TOL);
    let logits = model.forward(&t.input()).unwrap();
    assert_close("logits", &logits, &t.pt("logits"), TOL);
}

#[test]
fn tiny_bert_layer0_internals_match_pytorch() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    let model = BertModel::load(&t.ckpt.weights, "bert.", &t.cfg, false).unwrap();
    let x = t.pt("embedding_output");
    let mask = t.input().additive_mask();
    let layer = &model.encoder.layer.0[0];
    let sa = &layer.attention.self_;
    assert_close("layer0_query", &sa.query.forward(&x).unwrap(), &t.pt("layer0_query"), TOL);
    assert_close("layer0_key", &sa.key.forward(&x).unwrap(), &t.pt("layer0_key"), TOL);
    assert_close("layer0_value", &sa.value.forward(&x).unwrap(), &t.pt("layer0_value"), TOL);
    assert_close(
        "layer0_attention_probs (reference path)",
        &sa.probs_ref(&x, &mask).unwrap(),
        &t.pt("layer0_attention_probs"),
        TOL,
    );
    let ctx = sa.forward(&x, &mask).unwrap();
    assert_close("layer0_context (fast path)", &ctx, &t.pt("layer0_context"), TOL);
    assert_close("layer0_context (reference path)", &sa.forward_ref(&x, &mask).unwrap(), &t.pt("layer0_context"), TOL);
    let a = layer.attention.forward(&x, &mask).unwrap();
    assert_close("layer0_attention_output", &a, &t.pt("layer0_attention_output"), TOL);
    assert_close("layer0_intermediate", &layer.intermediate.forward(&a).unwrap(), &t.pt("layer0_intermediate"), TOL);
}

#[test]
fn tiny_bert_pooler_matches_pytorch() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    let model = BertModel::load(&t.ckpt.weights, "bert.", &t.cfg, true).unwrap();
    assert!(model.pooler.is_some(), "tiny-bert's checkpoint carries bert.pooler.*");
    let out = model.forward(&t.input(), false).unwrap();
    assert_close("pooled_output", out.pooler_output.as_ref().unwrap(), &t.pt("pooled_output"), TOL);
}

#[test]
fn legacy_checkpoint_f16_gamma_beta_untied_names_match_pytorch() {
    // bert.-prefixed names, LayerNorm gamma/beta, f16 matrices, no decoder weight, extra tensors.
    let t = tiny("tiny-bert-legacy", "tiny-bert-legacy-reference.safetensors");
    assert!(t.ckpt.tokenizer_json.is_none(), "the legacy fixture has only vocab.txt");
    let model = BertForMaskedLM::load(&t.ckpt.weights, &t.cfg).unwrap();
    let out = model.bert.forward(&t.input(), true).unwrap();
    assert_close("legacy embedding_output", &out.hidden_states[0], &t.pt("embedding_output"), TOL);
    let last = t.cfg.num_hidden_layers;
    assert_close("legacy last hidden state", &out.hidden_states[last], &t.pt(&format!("hidden_state_{last}")), TOL);
    assert_close("legacy logits", &model.forward(&t.input()).unwrap(), &t.pt("logits"), TOL);
}

fn reference_texts(file: &str) -> Vec<(String, Option<String>)> {
    let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture(file)).unwrap()).unwrap();
    j["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["text"].as_str().unwrap().to_string(), i["pair"].as_str().map(str::to_string)))
        .collect()
}

/// Encodes the fixture's batch (single texts and pairs mixed) like the Python script did.
fn encode_like_pytorch(tok: &Tokenizer, inputs: &[(String, Option<String>)]) -> nanobert::text::Batch {
    let pairs: Vec<(&str, Option<&str>)> = inputs.iter().map(|(a, b)| (a.as_str(), b.as_deref())).collect();
    tok.encode_mixed(&pairs).unwrap()
}

#[test]
fn tokenizer_json_reproduces_the_reference_batch() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    let tok = Tokenizer::from_checkpoint(&t.ckpt, t.cfg.max_position_embeddings).unwrap();
    let batch = encode_like_pytorch(&tok, &reference_texts("tiny-bert-reference.json"));
    assert_eq!([batch.batch, batch.seq_len], [t.shape[0], t.shape[1]]);
    assert_eq!(batch.input_ids, t.ids);
    assert_eq!(batch.attention_mask, t.mask);
    assert_eq!(batch.token_type_ids, t.types);
}

#[test]
fn vocab_txt_tokenizer_reproduces_the_legacy_batch() {
    let t = tiny("tiny-bert-legacy", "tiny-bert-legacy-reference.safetensors");
    let tok = Tokenizer::from_checkpoint(&t.ckpt, t.cfg.max_position_embeddings).unwrap();
    let batch = encode_like_pytorch(&tok, &reference_texts("tiny-bert-legacy-reference.json"));
    assert_eq!(batch.input_ids, t.ids);
    assert_eq!(batch.attention_mask, t.mask);
    assert_eq!(batch.token_type_ids, t.types);
}

fn printed(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("print/{name}.txt"))).unwrap()
}

fn param_count(name: &str) -> usize {
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("print/param-counts.json")).unwrap()).unwrap();
    j[name]["parameters"].as_u64().unwrap() as usize
}

#[test]
fn print_tiny_model_equals_pytorch_byte_for_byte() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    let model = BertForMaskedLM::load(&t.ckpt.weights, &t.cfg).unwrap();
    assert_eq!(model.to_string(), printed("tiny-bert-masked-lm"));
    assert_eq!(count_parameters(&model), param_count("tiny-bert-masked-lm"));
}

#[test]
fn print_bert_base_uncased_equals_pytorch_byte_for_byte() {
    // No weights needed to print: zero-initialized parameters of bert-base-uncased's shapes.
    let cfg = BertConfig::bert_base_uncased();
    let model = BertForMaskedLM::load(&Init { std: 0.0, seed: 0 }, &cfg).unwrap();
    assert_eq!(model.repr(), printed("bert-base-uncased-masked-lm"));
    assert_eq!(count_parameters(&model), param_count("bert-base-uncased-masked-lm"));
}

#[test]
fn fill_mask_top5_matches_pytorch() {
    let fm = nanobert::pipeline::FillMask::from_checkpoint(&Checkpoint::open(&fixture("tiny-bert")).unwrap()).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("fill-mask/tiny-bert-fill-mask.json")).unwrap()).unwrap();
    let k = j["top_k"].as_u64().unwrap() as usize;
    for case in j["results"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ours = &fm.predict(&[text], k).unwrap()[0];
        let theirs = case["masks"].as_array().unwrap();
        assert_eq!(ours.masks.len(), theirs.len(), "{text}: number of [MASK]s");
        for (o, t) in ours.masks.iter().zip(theirs) {
            assert_eq!(o.position as u64, t["position"].as_u64().unwrap(), "{text}: mask position");
            let ids: Vec<u64> = t["top"].as_array().unwrap().iter().map(|c| c["id"].as_u64().unwrap()).collect();
            let our_ids: Vec<u64> = o.top.iter().map(|c| c.id as u64).collect();
            assert_eq!(our_ids, ids, "{text}: top-{k} ids");
            for (c, tc) in o.top.iter().zip(t["top"].as_array().unwrap()) {
                assert_eq!(c.token, tc["token"].as_str().unwrap());
                let d = (c.score as f64 - tc["prob"].as_f64().unwrap()).abs();
                assert!(d < 1e-6, "{text}: probability of {} differs by {d:.2e}", c.token);
            }
        }
    }
}

/// The real bert-base-uncased against transformers' fill-mask pipeline
/// (`scripts/make_bert_base_fill_mask.py` writes the fixture from the checkpoint). Ignored: it
/// needs the 440 MB checkpoint, which is not in the repository; run it with
/// `NANOBERT_BERT_BASE=bert-base-uncased cargo test --release --test bert -- --ignored` (a Hub
/// id, found in or downloaded into the Hugging Face cache) or `NANOBERT_BERT_BASE=DIR`.
#[test]
#[ignore = "needs bert-base-uncased: NANOBERT_BERT_BASE=bert-base-uncased (or DIR) and tests/fixtures/fill-mask/bert-base-uncased-fill-mask.json"]
fn bert_base_uncased_fill_mask_matches_transformers() {
    let model =
        std::env::var("NANOBERT_BERT_BASE").expect("set NANOBERT_BERT_BASE to bert-base-uncased or its directory");
    let hub = nanobert::io::hub::HubOptions::from_env(true);
    let dir = nanobert::io::hub::resolve_model(std::path::Path::new(&model), None, &hub).unwrap();
    let path = fixture("fill-mask/bert-base-uncased-fill-mask.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (write it with scripts/make_bert_base_fill_mask.py)", path.display()));
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fm = nanobert::pipeline::FillMask::from_checkpoint(&Checkpoint::open(&dir).unwrap()).unwrap();
    let k = j["top_k"].as_u64().unwrap() as usize;
    for case in j["results"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ours = &fm.predict(&[text], k).unwrap()[0];
        assert_eq!(ours.masks.len(), 1, "{text}: one [MASK]");
        let theirs = case["top"].as_array().unwrap();
        let ids: Vec<u64> = theirs.iter().map(|c| c["id"].as_u64().unwrap()).collect();
        let our_ids: Vec<u64> = ours.masks[0].top.iter().map(|c| c.id as u64).collect();
        assert_eq!(our_ids, ids, "{text}: top-{k} ids");
        for (c, t) in ours.masks[0].top.iter().zip(theirs) {
            let d = (c.score as f64 - t["score"].as_f64().unwrap()).abs();
            assert!(d < 1e-4, "{text}: probability of {} differs by {d:.2e}", c.token);
        }
    }
}

#[test]
fn fast_attention_equals_reference_attention_on_random_weights() {
    let cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 50, "hidden_size": 24, "num_hidden_layers": 1, "num_attention_heads": 3,
        "intermediate_size": 40, "max_position_embeddings": 16
    }))
    .unwrap();
    let model = BertModel::load(&Init { std: 0.5, seed: 7 }, "bert.", &cfg, false).unwrap();
    let sa = &model.encoder.layer.0[0].attention.self_;
    let x = Tensor::randn(&[2, 5, 24], 3);
    let mask: Vec<f32> = [1, 1, 1, 0, 0, 1, 1, 1, 1, 1].iter().map(|&m| if m == 1 { 0.0 } else { f32::MIN }).collect();
    let d = common::max_diff(&sa.forward(&x, &mask).unwrap(), &sa.forward_ref(&x, &mask).unwrap());
    println!("fast vs reference attention: {d:.3e}");
    assert!(d < 1e-5);
    // Padding really is ignored: changing a padded token's vector changes no real token's output.
    let mut xv = x.to_vec();
    xv[3 * 24..4 * 24].iter_mut().for_each(|v| *v += 10.0);
    let y0 = sa.forward(&x, &mask).unwrap();
    let y1 = sa.forward(&Tensor::from_vec(xv, &[2, 5, 24]).unwrap(), &mask).unwrap();
    let real = |t: &Tensor| t.narrow(1, 0, 3).unwrap().narrow(0, 0, 1).unwrap().contiguous();
    assert!(common::max_diff(&real(&y0), &real(&y1)) < 1e-6);
    // And the linear layer's fast path equals its reference.
    let lin = &sa.query;
    let d = common::max_diff(&lin.forward(&x).unwrap(), &lin.forward_ref(&x).unwrap());
    assert!(d < 1e-5, "linear fast vs reference: {d}");
    let _ = ops::add_scalar(&x, 0.0);
}

/// Parameters from a checkpoint with one tensor replaced by NaN (a corrupted weight).
struct Poisoned<'a> {
    inner: &'a nanobert::io::WeightMap,
    name: &'static str,
}

impl nanobert::bert::ParamSource for Poisoned<'_> {
    fn get_shaped(&self, name: &str, shape: &[usize]) -> nanobert::Result<Tensor> {
        if name == self.name { Ok(Tensor::full(shape, f32::NAN)) } else { self.inner.get_shaped(name, shape) }
    }
    fn contains(&self, name: &str) -> bool {
        self.inner.contains(name)
    }
}

/// NaN is never laundered, through the whole model: a NaN query weight makes every
/// attention score NaN. The old softmax took such a row for "fully masked" and returned zeros,
/// so the model printed a finite, plausible output. Every attention path (including any fused
/// or bucketed one) must let the NaN through, as PyTorch does.
#[test]
fn fused_attention_keeps_nan() {
    let t = tiny("tiny-bert", "tiny-bert-reference.safetensors");
    for name in ["bert.encoder.layer.0.attention.self.query.weight", "bert.encoder.layer.1.attention.self.key.bias"] {
        let w = Poisoned { inner: &t.ckpt.weights, name };
        let model = BertModel::load(&w, "bert.", &t.cfg, true).unwrap();
        let out = model.forward(&t.input(), true).unwrap();
        let v = out.last_hidden_state.to_vec();
        assert!(v.iter().all(|x| x.is_nan()), "{name} = NaN: the output must be NaN everywhere, got {:?}", &v[..8]);
    }
}
