//! Task heads against PyTorch: BertForSequenceClassification (labels, pairs, cross-encoder
//! reranking), BertForTokenClassification (NER) and BertForQuestionAnswering on tiny random
//! checkpoints written by scripts/make_checkpoint_fixtures.py; logits within 1e-4 and
//! `print(model)` identical to PyTorch's.

mod common;

use std::path::Path;

use nanobert::bert::BertInput;
use nanobert::io::Checkpoint;
use nanobert::nn::Module;
use nanobert::pipeline::{Classifier, QuestionAnswerer, Reranker, ScoreFunction, TokenClassifier};
use serde_json::Value;

const DIR: &str = "tests/fixtures/checkpoints";

fn expected(name: &str) -> Value {
    let path = Path::new(DIR).join(format!("{name}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn open(name: &str) -> Checkpoint {
    Checkpoint::open(&Path::new(DIR).join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn flat_f32(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat_f32).collect(),
        x => vec![x.as_f64().unwrap() as f32],
    }
}

fn flat_u32(v: &Value) -> Vec<u32> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat_u32).collect(),
        x => vec![x.as_u64().unwrap() as u32],
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect()
}

fn pairs(v: &Value) -> Vec<(&str, &str)> {
    v.as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())).collect()
}

/// Fails on NaN, on a length mismatch and on any entry more than `tol` away.
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(got.iter().all(|x| x.is_finite()), "{what}: non-finite value in {got:?}");
    let d = common::max_abs_diff(got, want);
    assert!(d <= tol, "{what}: max abs diff {d} > {tol}\n got  {got:?}\n want {want:?}");
}

/// The fixture's padded batch (ids, mask, token types) as a model input, after checking that
/// our tokenizer produces the same ids.
fn check_batch(b: &Value, ours: &nanobert::text::Batch) -> (Vec<u32>, Vec<u32>, Vec<u32>, usize, usize) {
    let ids = flat_u32(&b["input_ids"]);
    assert_eq!(ours.input_ids, ids, "token ids differ from transformers'");
    assert_eq!(ours.token_type_ids, flat_u32(&b["token_type_ids"]), "token type ids differ");
    assert_eq!(ours.attention_mask, flat_u32(&b["attention_mask"]), "attention mask differs");
    let rows = b["input_ids"].as_array().unwrap().len();
    (ids, flat_u32(&b["attention_mask"]), flat_u32(&b["token_type_ids"]), rows, ours.seq_len)
}

#[test]
fn sequence_classification_logits_labels_pairs_and_print() {
    let exp = expected("head-seqcls");
    let c = Classifier::from_checkpoint(&open("head-seqcls")).unwrap();
    assert_eq!(c.model.repr(), exp["print"].as_str().unwrap(), "print(model)");
    assert_eq!(c.model.head.id2label, ["negative", "neutral", "positive"]);

    // Single texts: the model on the fixture's batch, then through the pipeline.
    let texts = strs(&exp["texts"]);
    let batch = c.tokenizer.encode_batch(&texts).unwrap();
    let (ids, mask, types, b, s) = check_batch(&exp["batch"], &batch);
    let input = BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap();
    let logits = c.model.forward(&input).unwrap();
    assert_eq!(logits.shape(), [3, 3]);
    assert_close("logits", &logits.to_vec(), &flat_f32(&exp["logits"]), 1e-4);

    // Pairs: [CLS] a [SEP] b [SEP] with token types 0 / 1.
    let ps = pairs(&exp["pairs"]);
    let batch = c.tokenizer.encode_pairs(&ps).unwrap();
    check_batch(&exp["pair_batch"], &batch);
    let got: Vec<f32> = c.predict_pairs(&ps).unwrap().into_iter().flat_map(|r| r.logits).collect();
    assert_close("pair logits", &got, &flat_f32(&exp["pair_logits"]), 1e-4);

    // The pipeline: softmax scores, labels best first, as transformers' text-classification.
    let results = c.predict(&texts).unwrap();
    for (r, want) in results.iter().zip(exp["pipeline"].as_array().unwrap()) {
        let want = want.as_array().unwrap();
        let names: Vec<&str> = r.labels.iter().map(|l| l.label.as_str()).collect();
        let want_names: Vec<&str> = want.iter().map(|l| l["label"].as_str().unwrap()).collect();
        assert_eq!(names, want_names, "{}", r.text);
        let scores: Vec<f32> = r.labels.iter().map(|l| l.score).collect();
        let want_scores: Vec<f32> = want.iter().map(|l| l["score"].as_f64().unwrap() as f32).collect();
        assert_close("scores", &scores, &want_scores, 1e-4);
    }
}

/// `problem_type` decides how logits become scores, as transformers' text-classification
/// pipeline: a sigmoid per label for `multi_label_classification` (scores need not sum to 1),
/// the raw value for `regression`.
#[test]
fn multi_label_and_regression_scores_follow_problem_type() {
    for (name, function) in [("head-multilabel", ScoreFunction::Sigmoid), ("head-regression", ScoreFunction::None)] {
        let exp = expected(name);
        let c = Classifier::from_checkpoint(&open(name)).unwrap();
        assert_eq!(c.model.repr(), exp["print"].as_str().unwrap(), "{name}: print(model)");
        assert_eq!(c.score_function(), function, "{name}");
        let texts = strs(&exp["texts"]);
        check_batch(&exp["batch"], &c.tokenizer.encode_batch(&texts).unwrap());
        let results = c.predict(&texts).unwrap();
        let logits: Vec<f32> = results.iter().flat_map(|r| r.logits.clone()).collect();
        assert_close(&format!("{name} logits"), &logits, &flat_f32(&exp["logits"]), 1e-4);
        for (r, want) in results.iter().zip(exp["pipeline"].as_array().unwrap()) {
            let want = want.as_array().unwrap();
            let names: Vec<&str> = r.labels.iter().map(|l| l.label.as_str()).collect();
            let want_names: Vec<&str> = want.iter().map(|l| l["label"].as_str().unwrap()).collect();
            assert_eq!(names, want_names, "{name}: {}", r.text);
            let scores: Vec<f32> = r.labels.iter().map(|l| l.score).collect();
            let want_scores: Vec<f32> = want.iter().map(|l| l["score"].as_f64().unwrap() as f32).collect();
            assert_close(&format!("{name} scores"), &scores, &want_scores, 1e-4);
        }
    }
}

#[test]
fn cross_encoder_reranking_matches_sentence_transformers() {
    let exp = expected("head-rerank");
    let r = Reranker::from_checkpoint(&open("head-rerank")).unwrap();
    assert_eq!(r.model.repr(), exp["print"].as_str().unwrap(), "print(model)");
    let query = exp["query"].as_str().unwrap();
    let docs = strs(&exp["docs"]);
    let ps: Vec<(&str, &str)> = docs.iter().map(|&d| (query, d)).collect();
    check_batch(&exp["batch"], &r.tokenizer.encode_pairs(&ps).unwrap());
    let scored = r.score_pairs(&ps).unwrap();
    let logits: Vec<f32> = scored.iter().map(|s| s.0).collect();
    let scores: Vec<f32> = scored.iter().map(|s| s.1).collect();
    assert_close("logits", &logits, &flat_f32(&exp["logits"]), 1e-4);
    assert_close("CrossEncoder.predict scores", &scores, &flat_f32(&exp["scores"]), 1e-5);
    let ranked = r.rerank(query, &docs).unwrap();
    let order: Vec<usize> = ranked.iter().map(|x| x.index).collect();
    let want: Vec<usize> =
        exp["rank"].as_array().unwrap().iter().map(|x| x["corpus_id"].as_u64().unwrap() as usize).collect();
    assert_eq!(order, want, "CrossEncoder.rank order");
    // A classifier with 3 labels is not a reranker.
    let err = Reranker::from_checkpoint(&open("head-seqcls")).err().unwrap().to_string();
    assert!(err.contains("num_labels 1") && err.contains("classify"), "{err}");
}

#[test]
fn token_classification_logits_entities_and_print() {
    let exp = expected("head-ner");
    let t = TokenClassifier::from_checkpoint(&open("head-ner")).unwrap();
    assert_eq!(t.model.repr(), exp["print"].as_str().unwrap(), "print(model)");
    let texts = strs(&exp["texts"]);
    let batch = t.tokenizer.encode_batch(&texts).unwrap();
    let (ids, mask, types, b, s) = check_batch(&exp["batch"], &batch);
    let logits = t.model.forward(&BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap()).unwrap();
    assert_eq!(logits.shape(), [b, s, 7]);
    assert_close("logits", &logits.to_vec(), &flat_f32(&exp["logits"]), 1e-4);

    for (i, text) in texts.iter().enumerate() {
        // aggregation "none": one prediction per token.
        let got = t.predict_tokens(text).unwrap();
        let want = exp["pipeline_none"][i].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{text}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.entity, w["entity"].as_str().unwrap(), "{text}: {}", g.word);
            assert_eq!(g.word, w["word"].as_str().unwrap());
            assert_eq!(
                (g.index as u64, g.start as u64, g.end as u64),
                (w["index"].as_u64().unwrap(), w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap())
            );
            assert!((g.score - w["score"].as_f64().unwrap() as f32).abs() < 1e-4, "{text}: {}", g.word);
        }
        // aggregation "simple": grouped entities.
        let got = t.predict(text).unwrap();
        let want = exp["pipeline_simple"][i].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{text}: {got:?}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g.entity_group, w["entity_group"].as_str().unwrap(), "{text}");
            assert_eq!(g.word, w["word"].as_str().unwrap(), "{text}");
            assert_eq!((g.start as u64, g.end as u64), (w["start"].as_u64().unwrap(), w["end"].as_u64().unwrap()));
            assert!((g.score - w["score"].as_f64().unwrap() as f32).abs() < 1e-4, "{text}: {}", g.word);
        }
    }
}

#[test]
fn question_answering_span_logits_answer_and_print() {
    let exp = expected("head-qa");
    let q = QuestionAnswerer::from_checkpoint(&open("head-qa")).unwrap();
    assert_eq!(q.model.repr(), exp["print"].as_str().unwrap(), "print(model)");
    let ps = pairs(&exp["inputs"]);
    let batch = q.tokenizer.encode_pairs(&ps).unwrap();
    let (ids, mask, types, b, s) = check_batch(&exp["batch"], &batch);
    let span = q.model.forward(&BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap()).unwrap();
    assert_close("start logits", &span.start_logits.to_vec(), &flat_f32(&exp["start_logits"]), 1e-4);
    assert_close("end logits", &span.end_logits.to_vec(), &flat_f32(&exp["end_logits"]), 1e-4);
    // The answers: transformers 4's question-answering pipeline itself (`pipelines/qa.json`, cases
    // "short" and "short-2"; `tests/qa_pipeline.rs` checks every option). `head-qa.expected.json`'s
    // own "pipeline" entries restate an older, simplified rule and are not compared.
    let qa: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DIR}/../pipelines/qa.json")).unwrap()).unwrap();
    let pipeline: Vec<Value> = ["short", "short-2"]
        .iter()
        .map(|n| qa["cases"].as_array().unwrap().iter().find(|c| c["name"] == *n).unwrap()["answers"][0].clone())
        .collect();
    for (&(question, context), want) in ps.iter().zip(&pipeline) {
        let a = q.answer(question, context).unwrap();
        assert_eq!(a.answer, want["answer"].as_str().unwrap(), "{question}");
        assert_eq!((a.start as u64, a.end as u64), (want["start"].as_u64().unwrap(), want["end"].as_u64().unwrap()));
        assert!((a.score - want["score"].as_f64().unwrap() as f32).abs() < 1e-4, "{question}: {}", a.score);
    }
}

#[test]
fn wrong_architecture_is_refused_by_name() {
    let err = TokenClassifier::from_checkpoint(&open("head-qa")).err().unwrap().to_string();
    assert!(err.contains("BertForTokenClassification") && err.contains("BertForQuestionAnswering"), "{err}");
    let err = QuestionAnswerer::from_checkpoint(&open("st-mean")).err().unwrap().to_string();
    assert!(err.contains("BertForQuestionAnswering") && err.contains("BertModel"), "{err}");
    let err = Classifier::from_checkpoint(&open("head-ner")).err().unwrap().to_string();
    assert!(err.contains("BertForSequenceClassification"), "{err}");
}

/// The head checkpoint with its LayerNorm tensors renamed the old TensorFlow way (`gamma` /
/// `beta`), as in the original bert-base-uncased files and the fine-tunes made from them:
/// the same logits as PyTorch gave for the modern names (transformers renames them on load).
#[test]
fn sequence_classification_with_gamma_beta_names() {
    use nanobert::io::safetensors::{SaveTensor, Weights, save};
    let exp = expected("head-seqcls");
    let tmp = tempfile::tempdir().unwrap();
    let src = Path::new(DIR).join("head-seqcls");
    for f in ["config.json", "tokenizer.json", "tokenizer_config.json"] {
        std::fs::copy(src.join(f), tmp.path().join(f)).unwrap();
    }
    let w = Weights::open(&src.join("model.safetensors")).unwrap();
    let names = w.names();
    let old: Vec<String> = names
        .iter()
        .map(|n| n.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"))
        .collect();
    assert!(old.iter().any(|n| n == "bert.embeddings.LayerNorm.gamma"));
    let refs: Vec<(&str, SaveTensor)> =
        names.iter().zip(&old).map(|(n, o)| (o.as_str(), SaveTensor::F32(w.get(n).unwrap()))).collect();
    save(&tmp.path().join("model.safetensors"), &refs).unwrap();

    let c = Classifier::from_checkpoint(&Checkpoint::open(tmp.path()).unwrap()).unwrap();
    let texts = strs(&exp["texts"]);
    let got: Vec<f32> = c.predict(&texts).unwrap().into_iter().flat_map(|r| r.logits).collect();
    assert_close("logits (gamma/beta names)", &got, &flat_f32(&exp["logits"]), 1e-4);
}

/// Inputs longer than the model's limit (40 tokens here) are cut, longest first, and each result
/// says by how many tokens: "hello" is one token of the fixture's vocabulary, so `n` of them
/// make `n + 2` tokens alone (`[CLS]`, `[SEP]`) and `a + b + 3` as a pair.
#[test]
fn classification_and_reranking_count_truncated_tokens() {
    let c = Classifier::from_checkpoint(&open("head-seqcls")).unwrap();
    assert_eq!(c.tokenizer.max_len(), 40);
    assert!(c.tokenizer.token_to_id("hello").is_some() && c.tokenizer.token_to_id("cat").is_some());
    let long = "hello ".repeat(50);
    let r = c.predict(&["hello cat", long.as_str()]).unwrap();
    assert_eq!((r[0].truncated_tokens, r[1].truncated_tokens), (0, 52 - 40));
    let j = serde_json::to_value(&r[0]).unwrap();
    assert!(j.get("truncated_tokens").is_none(), "omitted when nothing was cut: {j}");
    assert_eq!(serde_json::to_value(&r[1]).unwrap()["truncated_tokens"], 12);
    let (a, b) = ("hello ".repeat(30), "cat ".repeat(30));
    let p = c.predict_pairs(&[(a.as_str(), b.as_str()), ("hello", "cat")]).unwrap();
    assert_eq!((p[0].truncated_tokens, p[1].truncated_tokens), (63 - 40, 0));

    let rr = Reranker::from_checkpoint(&open("head-rerank")).unwrap();
    let docs = ["cat", b.as_str()];
    let query = "hello ".repeat(10);
    let ranked = rr.rerank(&query, &docs).unwrap();
    let cut = |i: usize| ranked.iter().find(|x| x.index == i).unwrap().truncated_tokens;
    assert_eq!((cut(0), cut(1)), (0, 10 + 30 + 3 - 40));
}
