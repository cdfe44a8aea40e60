//! Every command that runs the model honours the global model options, run as a user would:
//! `--precision int8` changes the numbers it prints (the weights really were converted) while
//! keeping them close to f32's, on the tiny checkpoints of tests/fixtures. The options a
//! command cannot honour are refused by name, never ignored.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

use common::fixture;
use serde_json::Value;

fn nanobert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nanobert")).args(args).env("NANOBERT_OFFLINE", "1").output().unwrap()
}

fn model(name: &str) -> String {
    fixture(name).to_string_lossy().into_owned()
}

fn head(name: &str) -> String {
    model(&format!("checkpoints/{name}"))
}

/// Runs `args` after `--model dir --precision p`; must succeed with nothing on stderr.
fn run(dir: &str, precision: &str, args: &[&str]) -> String {
    let mut all = vec!["--model", dir, "--precision", precision];
    all.extend_from_slice(args);
    let o = nanobert(&all);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && err.is_empty(), "{all:?}: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_lines(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

/// Every number under `key` (at any depth) of every line, in order.
fn numbers(lines: &[Value], key: &str) -> Vec<f32> {
    fn walk(v: &Value, key: &str, inside: bool, out: &mut Vec<f32>) {
        match v {
            Value::Number(n) if inside => out.push(n.as_f64().unwrap() as f32),
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, inside, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, key, inside || k == key, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    lines.iter().for_each(|l| walk(l, key, false, &mut out));
    out
}

/// `low` differs from `f32` (it was converted: more than `1e-4`, far above the 1e-5 that
/// fusions move outputs) but stays within `tol` of it; no NaN passes.
#[track_caller]
fn assert_converted_and_close(what: &str, f32s: &[f32], low: &[f32], tol: f32) {
    assert!(!f32s.is_empty() && f32s.len() == low.len(), "{what}: {} vs {} numbers", f32s.len(), low.len());
    assert!(f32s.iter().chain(low).all(|x| x.is_finite()), "{what}: non-finite value");
    let d = common::max_abs_diff(f32s, low);
    assert!(d > 1e-4, "{what}: int8 output equals f32's (max diff {d}): --precision was not applied");
    assert!(d <= tol, "{what}: int8 output {d} away from f32's (> {tol})\n f32  {f32s:?}\n int8 {low:?}");
}

/// The same `--json` command in f32 and int8: the numbers under `key` move, but not far.
#[track_caller]
fn check_json(what: &str, dir: &str, args: &[&str], key: &str, tol: f32) {
    let f = numbers(&json_lines(&run(dir, "f32", args)), key);
    let q = numbers(&json_lines(&run(dir, "int8", args)), key);
    assert_converted_and_close(what, &f, &q, tol);
}

#[test]
fn classify_honours_precision() {
    check_json("classify", &head("head-seqcls"), &["classify", "--json", "This movie was great!"], "logits", 0.1);
    let pair = ["classify", "--pairs", "--json", "who lives in paris?", "john lives in paris."];
    check_json("classify --pairs", &head("head-seqcls"), &pair, "logits", 0.1);
}

#[test]
fn rerank_honours_precision() {
    let args = ["rerank", "--json", "who lives in paris?", "john lives in paris.", "the sun is hot."];
    // Best first in both: the logits line up only if the order is the same, which it is here.
    let f = json_lines(&run(&head("head-rerank"), "f32", &args));
    let q = json_lines(&run(&head("head-rerank"), "int8", &args));
    let order = |l: &[Value]| l.iter().map(|x| x["index"].as_u64().unwrap()).collect::<Vec<_>>();
    assert_eq!(order(&f), order(&q), "int8 reordered the documents");
    assert_converted_and_close("rerank", &numbers(&f, "logit"), &numbers(&q, "logit"), 0.1);
}

#[test]
fn ner_honours_precision() {
    let args = ["ner", "--tokens", "--json", "john lives in paris"];
    check_json("ner", &head("head-ner"), &args, "score", 0.05);
}

#[test]
fn qa_honours_precision() {
    let args = ["qa", "--json", "who lives in paris?", "john lives in paris."];
    check_json("qa", &head("head-qa"), &args, "score", 0.05);
}

#[test]
fn embed_honours_precision() {
    check_json("embed", &head("st-mean"), &["embed", "--json", "hello world", "the sun is hot"], "embedding", 0.1);
}

#[test]
fn fill_mask_honours_precision() {
    // Compare the log-probabilities of the candidates both precisions rank in their top 50 (the
    // tiny model's probabilities are all near 1/vocab, so their logs show the change).
    let args = ["fill-mask", "--json", "--top-k", "50", "the capital of france is [MASK]."];
    let scores = |p: &str| -> Vec<(u64, f32)> {
        let lines = json_lines(&run(&model("tiny-bert"), p, &args));
        let top = lines[0]["masks"][0]["top"].as_array().unwrap().clone();
        top.iter().map(|c| (c["id"].as_u64().unwrap(), c["score"].as_f64().unwrap() as f32)).collect()
    };
    let (f, q) = (scores("f32"), scores("int8"));
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (id, s) in &f {
        if let Some((_, t)) = q.iter().find(|(j, _)| j == id) {
            a.push(s.ln());
            b.push(t.ln());
        }
    }
    assert!(a.len() >= 25, "int8 and f32 share only {} of their top 50", a.len());
    assert_converted_and_close("fill-mask", &a, &b, 0.5);
}

/// The similarity table's scores (the second column).
fn table_scores(out: &str) -> Vec<f32> {
    let rows = out.lines().filter(|l| l.split_whitespace().next().is_some_and(|w| w.parse::<usize>().is_ok()));
    rows.map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect()
}

#[test]
fn similarity_honours_precision() {
    let args = ["similarity", "a man eats bread", "someone has breakfast", "the sun is hot", "john lives in paris"];
    let (f, q) = (run(&head("st-mean"), "f32", &args), run(&head("st-mean"), "int8", &args));
    assert_converted_and_close("similarity", &table_scores(&f), &table_scores(&q), 0.05);
}

#[test]
fn forward_honours_precision() {
    let dir = tempfile::tempdir().unwrap();
    let hidden = |p: &str| -> Vec<f32> {
        let out = dir.path().join(format!("{p}.safetensors"));
        let out = out.to_string_lossy().into_owned();
        run(&model("tiny-bert"), p, &["forward", "--out", &out, "the capital of france is paris."]);
        let w = nanobert::io::Weights::open(out.as_ref()).unwrap();
        w.get("last_hidden_state").unwrap().to_vec()
    };
    assert_converted_and_close("forward", &hidden("f32"), &hidden("int8"), 0.5);
}

/// A command that cannot run in a lower precision refuses `--precision` by name (exit code 1,
/// one line), never runs in f32 silently.
#[test]
fn commands_that_cannot_honour_precision_refuse_it() {
    let tiny = model("tiny-bert");
    for args in [
        vec!["--model", &tiny, "--precision", "int8", "print"],
        vec!["--precision", "bf16", "fetch"],
        vec!["--model", &tiny, "--precision", "int8", "bench", "forward", "--quick"],
        vec!["--model", &tiny, "--precision", "f16", "bench", "batching", "--quick"],
        vec!["--precision", "int8", "bench", "matmul", "--quick"],
    ] {
        let o = nanobert(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.starts_with("error: --precision ") && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
}
