//! The four task commands (`classify`, `rerank`, `ner`, `qa`) run as a user would, on the tiny
//! random checkpoints of tests/fixtures/checkpoints: their `--json` lines carry the same answers
//! as PyTorch's (the library-level checks of the heads are in the library's tests/heads.rs).

#[path = "../../../tests/common/mod.rs"]
mod common;

use serde_json::Value;

fn dir(name: &str) -> String {
    common::fixture("checkpoints").join(name).to_string_lossy().into_owned()
}

fn expected(name: &str) -> Value {
    let path = common::fixture("checkpoints").join(format!("{name}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn flat_f32(v: &Value) -> Vec<f32> {
    match v {
        Value::Array(a) => a.iter().flat_map(flat_f32).collect(),
        x => vec![x.as_f64().unwrap() as f32],
    }
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect()
}

/// Fails on NaN, on a length mismatch and on any entry more than `tol` away.
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    assert!(got.iter().all(|x| x.is_finite()), "{what}: non-finite value in {got:?}");
    let d = common::max_abs_diff(got, want);
    assert!(d <= tol, "{what}: max abs diff {d} > {tol}\n got  {got:?}\n want {want:?}");
}

/// The four commands, run as a user would: `--json` lines carry the pipeline's answers.
#[test]
fn cli_classify_rerank_ner_qa_json() {
    let run = |model: &str, args: &[&str]| -> Vec<Value> {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert"))
            .args(["--model", &dir(model)])
            .args(args)
            .output()
            .unwrap();
        let (out, err) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert!(o.status.success() && err.is_empty(), "{args:?}: {err}");
        out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let exp = expected("head-seqcls");
    let lines = run("head-seqcls", &["classify", "--json", "This movie was great!"]);
    assert_eq!(lines[0]["labels"][0]["label"], exp["pipeline"][0][0]["label"]);
    let lines = run("head-seqcls", &["classify", "--pairs", "--json", "who lives in paris?", "john lives in paris."]);
    assert_eq!(lines[0]["pair"], "john lives in paris.");
    assert_close("pair logits", &flat_f32(&lines[0]["logits"]), &flat_f32(&exp["pair_logits"][0]), 1e-4);

    let exp = expected("head-rerank");
    let mut args = vec!["rerank", "--json", exp["query"].as_str().unwrap()];
    args.extend(strs(&exp["docs"]));
    let lines = run("head-rerank", &args);
    let order: Vec<u64> = lines.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    let want: Vec<u64> = exp["rank"].as_array().unwrap().iter().map(|r| r["corpus_id"].as_u64().unwrap()).collect();
    assert_eq!(order, want);

    let exp = expected("head-ner");
    let lines = run("head-ner", &["ner", "--json", exp["texts"][0].as_str().unwrap()]);
    assert_eq!(lines[0]["entities"].as_array().unwrap().len(), exp["pipeline_simple"][0].as_array().unwrap().len());

    let exp = expected("head-qa");
    let (q, c) = (exp["inputs"][0][0].as_str().unwrap(), exp["inputs"][0][1].as_str().unwrap());
    let lines = run("head-qa", &["qa", "--json", q, c]);
    assert_eq!(lines[0]["answer"]["answer"], exp["pipeline"][0]["answer"]);
}

/// `classify`, `rerank` and `ner` say on stderr when an input was longer than the model's limit
/// (40 tokens here; "hello" and "cat" are one token each), and `--json` carries the count.
#[test]
fn cli_classify_rerank_and_ner_warn_about_truncation() {
    let run = |model: &str, args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert"))
            .args(["--model", &dir(model)])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let long = "hello ".repeat(50);
    let (out, err) = run("head-seqcls", &["classify", "--json", "hello cat", &long]);
    assert_eq!(
        err.trim_end(),
        "warning: 1 text was longer than the model's limit of 40 tokens: truncated, 12 tokens dropped"
    );
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((lines[0].get("truncated_tokens"), &lines[1]["truncated_tokens"]), (None, &Value::from(12)));
    let (_, err) = run("head-seqcls", &["classify", "hello cat"]);
    assert!(err.is_empty(), "no warning when nothing is cut: {err}");

    let doc = "cat ".repeat(40);
    let (out, err) = run("head-rerank", &["rerank", "--json", "hello", "cat", &doc, &doc]);
    assert_eq!(
        err.trim_end(),
        "warning: 2 texts were longer than the model's limit of 40 tokens: truncated, 8 tokens dropped"
    );
    let cut: Vec<u64> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["truncated_tokens"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(cut.iter().sum::<u64>(), 8);

    let (out, err) = run("head-ner", &["ner", "--json", "hello cat", &long]);
    assert_eq!(
        err.trim_end(),
        "warning: 1 text was longer than the model's limit of 40 tokens: truncated, 12 tokens dropped"
    );
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, err) = run("head-ner", &["ner", "--tokens", "hello cat"]);
    assert!(err.is_empty(), "no warning when nothing is cut: {err}");
}
