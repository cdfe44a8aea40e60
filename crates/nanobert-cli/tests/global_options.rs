//! Every command and every global option (`--no-fuse`, `--threads`, `--allow-non-finite`, and
//! `--precision` where tests/options.rs does not already cover it): the option does what it
//! says on that command, or the command refuses it with one line naming the option. Run as a
//! user would, on the tiny checkpoints of tests/fixtures (no network).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::fixture;
use nanobert::io::{SaveTensor, Weights, save};
use serde_json::Value;

fn nanobert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nanobert")).args(args).env("NANOBERT_OFFLINE", "1").output().unwrap()
}

/// Runs `args`; must succeed. Returns stdout.
#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = nanobert(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && !err.contains("error"), "{args:?}: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs `args`; must fail with one line on stderr naming `option`.
#[track_caller]
fn refused(args: &[&str], option: &str) {
    let o = nanobert(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{args:?} should be refused: {}", String::from_utf8_lossy(&o.stdout));
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line expected: {err}");
    assert!(err.starts_with(&format!("error: {option}")), "{args:?}: should name {option}: {err}");
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn tiny() -> String {
    s(&fixture("tiny-bert"))
}

fn head(name: &str) -> String {
    s(&fixture(&format!("checkpoints/{name}")))
}

/// Every number under any key called `key` (at any depth) of every JSON line of `out`.
fn numbers(out: &str, key: &str) -> Vec<f32> {
    fn walk(v: &Value, key: &str, inside: bool, out: &mut Vec<f32>) {
        match v {
            Value::Number(n) if inside => out.push(n.as_f64().unwrap() as f32),
            Value::Array(a) => a.iter().for_each(|x| walk(x, key, inside, out)),
            Value::Object(o) => o.iter().for_each(|(k, x)| walk(x, key, inside || k == key, out)),
            _ => {}
        }
    }
    let mut v = Vec::new();
    for l in out.lines() {
        walk(&serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")), key, false, &mut v);
    }
    v
}

/// The scores of a similarity table (the second column of its numbered rows).
fn table_scores(out: &str) -> Vec<f32> {
    let rows = out.lines().filter(|l| l.split_whitespace().next().is_some_and(|w| w.parse::<usize>().is_ok()));
    rows.map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect()
}

/// The commands that print JSON numbers: (what, arguments after `--model DIR`, the key).
fn json_commands() -> Vec<(&'static str, String, Vec<&'static str>, &'static str)> {
    vec![
        ("embed", head("st-mean"), vec!["embed", "--json", "hello world", "the sun is hot"], "embedding"),
        (
            "fill-mask",
            tiny(),
            vec!["fill-mask", "--json", "--top-k", "20", "the capital of france is [MASK]."],
            "score",
        ),
        ("classify", head("head-seqcls"), vec!["classify", "--json", "This movie was great!"], "logits"),
        (
            "rerank",
            head("head-rerank"),
            vec!["rerank", "--json", "who lives in paris?", "john lives in paris."],
            "logit",
        ),
        ("ner", head("head-ner"), vec!["ner", "--tokens", "--json", "john lives in paris"], "score"),
        ("qa", head("head-qa"), vec!["qa", "--json", "who lives in paris?", "john lives in paris."], "score"),
    ]
}

fn with_model(dir: &str, before: &[&str], args: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = vec!["--model".into(), dir.into()];
    all.extend(before.iter().map(|a| a.to_string()));
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `nanobert forward`'s last hidden state with the options `before`.
fn forward_hidden(before: &[&str]) -> Vec<f32> {
    let dir = tempfile::tempdir().unwrap();
    let out = s(&dir.path().join("f.safetensors"));
    ok(&refs(&with_model(&tiny(), before, &["forward", "--out", &out, "the capital of france is paris."])));
    Weights::open(out.as_ref()).unwrap().get("last_hidden_state").unwrap().to_vec()
}

#[track_caller]
fn assert_within(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert!(!a.is_empty() && a.len() == b.len(), "{what}: {} vs {} numbers", a.len(), b.len());
    assert!(a.iter().chain(b).all(|x| x.is_finite()), "{what}: non-finite value");
    let d = common::max_abs_diff(a, b);
    assert!(d <= tol, "{what}: {d} apart (> {tol})");
}

// ---------------------------------------------------------------------------------------------
// --no-fuse
// ---------------------------------------------------------------------------------------------

/// `--no-fuse` on every command that runs the model: the same numbers within 1e-5 (the
/// fusions are exact rewrites), one fusion off or all of them.
#[test]
fn no_fuse_keeps_the_numbers_of_every_command() {
    for (what, dir, args, key) in json_commands() {
        let base = numbers(&ok(&refs(&with_model(&dir, &[], &args))), key);
        for off in [&["--no-fuse", "qkv"][..], &["--no-fuse", "all"]] {
            let got = numbers(&ok(&refs(&with_model(&dir, off, &args))), key);
            assert_within(&format!("{what} {off:?}"), &base, &got, 1e-5);
        }
    }
    let sim = ["similarity", "a man eats bread", "someone has breakfast", "the sun is hot"];
    let base = table_scores(&ok(&refs(&with_model(&head("st-mean"), &[], &sim))));
    let off = table_scores(&ok(&refs(&with_model(&head("st-mean"), &["--no-fuse", "all"], &sim))));
    assert_within("similarity --no-fuse all", &base, &off, 1e-4); // printed to 4 decimals
    let demo = |before: &[&str]| table_scores(&ok(&refs(&with_model(&head("st-mean"), before, &["demo"]))));
    assert_within("demo --no-fuse all", &demo(&[]), &demo(&["--no-fuse", "all"]), 1e-4);
    assert_within("forward --no-fuse all", &forward_hidden(&[]), &forward_hidden(&["--no-fuse", "all"]), 1e-5);
}

/// `graph --no-fuse NAME` runs the passes without that one (the summary names the rest).
#[test]
fn no_fuse_takes_the_pass_out_of_the_graph() {
    let after = |out: &str| out.lines().find(|l| l.starts_with("# after passes:")).unwrap().to_string();
    let all = after(&ok(&["--model", &tiny(), "graph"]));
    let no_qkv = after(&ok(&["--model", &tiny(), "--no-fuse", "qkv", "graph"]));
    assert!(all.contains("qkv") && !no_qkv.contains("qkv"), "{all} / {no_qkv}");
    let none = after(&ok(&["--model", &tiny(), "--no-fuse", "all", "graph"]));
    assert!(!none.contains("qkv") && !none.contains("epilogue"), "{none}");
}

/// The commands that do not run the model refuse `--no-fuse` by name; an unknown name is
/// refused on every command.
#[test]
fn no_fuse_is_refused_where_it_cannot_apply() {
    for args in [
        vec!["--model", &tiny(), "--no-fuse", "qkv", "print"],
        vec!["--model", &tiny(), "--no-fuse", "qkv", "fetch"],
        vec!["--model", &tiny(), "--no-fuse", "qkv", "bench", "fusion", "--quick"],
        vec!["--model", &tiny(), "--no-fuse", "qkv", "bench", "precision"],
        vec!["--no-fuse", "qkv", "bench", "matmul", "--quick"],
        vec!["--model", &tiny(), "--no-fuse", "bogus", "embed", "hi"],
        vec!["--model", &tiny(), "--no-fuse", "bogus", "serve"],
    ] {
        refused(&args, "--no-fuse");
    }
}

// ---------------------------------------------------------------------------------------------
// --threads
// ---------------------------------------------------------------------------------------------

/// `--threads 1` and `--threads 2` print the same thing on every command (the kernels split
/// work without changing the order of any sum), and the command really ran on that many.
#[test]
fn threads_change_nothing_but_the_threads() {
    // Lines with a timing ("(0.12 ms)", "in 0.03 ms") left out.
    let strip = |out: String| -> String { out.lines().filter(|l| !l.contains(" ms")).collect::<Vec<_>>().join("\n") };
    let mut cases: Vec<Vec<String>> = json_commands().into_iter().map(|(_, d, a, _)| with_model(&d, &[], &a)).collect();
    let sim = ["similarity", "a man eats bread", "someone has breakfast", "the sun is hot"];
    cases.push(with_model(&head("st-mean"), &[], &sim));
    cases.push(with_model(&tiny(), &[], &["print"]));
    cases.push(with_model(&tiny(), &[], &["graph"]));
    cases.push(with_model(&tiny(), &[], &["fetch"]));
    for case in cases {
        let run = |n: &str| strip(ok(&refs(&[vec!["--threads".to_string(), n.to_string()], case.clone()].concat())));
        let (one, two) = (run("1"), run("2"));
        assert!(!one.trim().is_empty(), "{case:?}: no output");
        assert_eq!(one, two, "{case:?}: --threads 1 and 2 differ");
    }
    // demo prints its timings: compare its table.
    let demo = |n: &str| table_scores(&ok(&["--model", &head("st-mean"), "--threads", n, "demo"]));
    assert_eq!(demo("1"), demo("2"), "demo: --threads 1 and 2 differ");
    assert_eq!(forward_hidden(&["--threads", "1"]), forward_hidden(&["--threads", "2"]), "forward");
    // The pool really has that many threads: the profile says what it measured on.
    for n in ["1", "2"] {
        let o = nanobert(&["--model", &tiny(), "--threads", n, "--profile", "embed", "hello"]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && err.contains(&format!("[while measuring: threads {n};")), "{n}: {err}");
    }
}

/// Out-of-range thread counts are refused by name, on every command, before any work.
#[test]
fn threads_out_of_range_are_refused() {
    let t = tiny();
    for cmd in [vec!["embed", "hi"], vec!["print"], vec!["graph"], vec!["bench", "matmul", "--quick"], vec!["serve"]] {
        let args = [vec!["--model", &t, "--threads", "0"], cmd].concat();
        refused(&args, "--threads 0");
    }
}

// ---------------------------------------------------------------------------------------------
// --allow-non-finite
// ---------------------------------------------------------------------------------------------

/// A copy of checkpoint `src` (in `dst`) whose first attention query weight is NaN; returns
/// that tensor's name.
fn poisoned(src: &Path, dst: &Path) -> String {
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() && e.file_name() != "model.safetensors" {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    let w = Weights::open(&src.join("model.safetensors")).unwrap();
    let mut names = w.names();
    names.sort();
    let target = names.iter().find(|n| n.ends_with("attention.self.query.weight")).unwrap().clone();
    let tensors: Vec<(String, nanobert::Tensor)> = names
        .iter()
        .map(|n| {
            let t = w.get(n).unwrap();
            let t = if *n == target { nanobert::Tensor::full(t.shape(), f32::NAN) } else { t };
            (n.clone(), t)
        })
        .collect();
    let list: Vec<(&str, SaveTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), SaveTensor::F32(t.clone()))).collect();
    save(&dst.join("model.safetensors"), &list).unwrap();
    target
}

/// On every command that loads the weights itself: a NaN weight is refused naming the tensor,
/// and `--allow-non-finite` loads it and runs (printing NaN, not an error).
#[test]
fn allow_non_finite_lets_every_command_run_a_broken_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let mk = |name: &str, src: String| {
        let d = tmp.path().join(name);
        std::fs::create_dir(&d).unwrap();
        let t = poisoned(Path::new(&src), &d);
        (s(&d), t)
    };
    let (mlm, mlm_t) = mk("mlm", tiny());
    let (st, st_t) = mk("st", head("st-mean"));
    let (cls, cls_t) = mk("cls", head("head-seqcls"));
    let (rr, rr_t) = mk("rr", head("head-rerank"));
    let (ner, ner_t) = mk("ner", head("head-ner"));
    let (qa, qa_t) = mk("qa", head("head-qa"));
    let out = s(&tmp.path().join("f.safetensors"));
    let cases: Vec<(&str, &str, Vec<&str>)> = vec![
        (&mlm, &mlm_t, vec!["fill-mask", "the capital of france is [MASK]."]),
        (&mlm, &mlm_t, vec!["forward", "--out", &out, "hello"]),
        (&mlm, &mlm_t, vec!["print"]),
        (&mlm, &mlm_t, vec!["graph"]),
        (&st, &st_t, vec!["embed", "hello"]),
        (&st, &st_t, vec!["similarity", "hello", "world"]),
        (&st, &st_t, vec!["demo"]),
        (&cls, &cls_t, vec!["classify", "hello"]),
        (&rr, &rr_t, vec!["rerank", "who lives in paris?", "john lives in paris."]),
        (&ner, &ner_t, vec!["ner", "john lives in paris"]),
        (&qa, &qa_t, vec!["qa", "who lives in paris?", "john lives in paris."]),
    ];
    for (dir, tensor, args) in cases {
        let strict = nanobert(&refs(&with_model(dir, &[], &args)));
        let err = String::from_utf8_lossy(&strict.stderr);
        assert!(!strict.status.success() && err.contains(tensor), "{args:?}: the NaN weight not refused: {err}");
        ok(&refs(&with_model(dir, &["--allow-non-finite"], &args)));
    }
    // demo --mlm: the fill-mask checkpoint is opened under the same policy.
    let strict = nanobert(&["--model", &head("st-mean"), "demo", "--mlm", &mlm]);
    assert!(!strict.status.success() && String::from_utf8_lossy(&strict.stderr).contains(&mlm_t));
    ok(&["--model", &head("st-mean"), "--allow-non-finite", "demo", "--mlm", &mlm]);
}

/// The commands that do not load weights through the policy refuse the flag by name.
#[test]
fn allow_non_finite_is_refused_where_it_cannot_apply() {
    for args in [
        vec!["--model", &tiny(), "--allow-non-finite", "fetch"],
        vec!["--model", &tiny(), "--allow-non-finite", "serve"],
        vec!["--model", &tiny(), "--allow-non-finite", "bench", "forward", "--quick"],
        vec!["--allow-non-finite", "bench", "matmul", "--quick"],
    ] {
        refused(&args, "--allow-non-finite");
    }
}

// ---------------------------------------------------------------------------------------------
// --precision on demo and graph (the other commands: tests/options.rs)
// ---------------------------------------------------------------------------------------------

/// `demo --precision int8` ranks with converted weights: the scores move, a little.
#[test]
fn demo_honours_precision() {
    let demo = |p: &str| table_scores(&ok(&["--model", &head("st-mean"), "--precision", p, "demo"]));
    let (f, q) = (demo("f32"), demo("int8"));
    assert_within("demo int8", &f, &q, 0.05);
    assert!(common::max_abs_diff(&f, &q) > 1e-4, "demo: int8 scores equal f32's: --precision ignored");
    // Explicit f32 is the default.
    assert_eq!(f, table_scores(&ok(&["--model", &head("st-mean"), "demo"])));
}

/// `graph --precision int8` compiles the converted model: its Linears are int8 (the value
/// projections bf16), as the summary says.
#[test]
fn graph_honours_precision() {
    let line = |out: &str| out.lines().find(|l| l.starts_with("Linear weights")).unwrap().to_string();
    let f = line(&ok(&["--model", &tiny(), "graph"]));
    // tiny-bert: 3 layers of 6 Linears and the pooler's; int8 keeps the 3 value projections bf16.
    assert_eq!(f, "Linear weights (--precision): 19 f32");
    assert_eq!(
        line(&ok(&["--model", &tiny(), "--precision", "int8", "graph"])),
        "Linear weights (--precision): 16 int8, 3 bf16"
    );
    assert_eq!(line(&ok(&["--model", &tiny(), "--precision", "f16", "graph"])), "Linear weights (--precision): 19 f16");
    assert_eq!(f, line(&ok(&["--model", &tiny(), "--precision", "f32", "graph"])), "explicit f32 is the default");
}

/// An explicit `--precision f32` is fine on a command that runs f32 only; int8 is refused.
#[test]
fn explicit_f32_is_accepted_everywhere() {
    ok(&["--model", &tiny(), "--precision", "f32", "print"]);
    ok(&["--model", &tiny(), "--precision", "f32", "fetch"]);
    refused(&["--model", &tiny(), "--precision", "int8", "print"], "--precision int8");
}

// ---------------------------------------------------------------------------------------------
// serve: --precision, --threads, --no-fuse in the running server
// ---------------------------------------------------------------------------------------------

fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `nanobert serve` with the global options `before`, ready, on a free loopback port.
fn serve(before: &[&str]) -> (Serve, SocketAddr) {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut args: Vec<String> = vec!["--model".into(), head("st-mean")];
    args.extend(before.iter().map(|a| a.to_string()));
    args.extend(["serve", "--port", &port.to_string()].map(String::from));
    let child = Command::new(env!("CARGO_BIN_EXE_nanobert"))
        .args(&args)
        .env("NANOBERT_OFFLINE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Serve(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let t0 = Instant::now();
    while request(addr, "GET", "/ready", "").0 != 200 {
        assert!(child.0.try_wait().unwrap().is_none(), "serve {before:?} exited before it was ready");
        assert!(t0.elapsed() < Duration::from_secs(60), "not ready within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    (child, addr)
}

fn embed_over_http(addr: SocketAddr) -> Vec<f32> {
    let (code, body) = request(addr, "POST", "/embed", r#"{"inputs": "hello world", "normalize": false}"#);
    assert_eq!(code, 200, "{body}");
    let v: Vec<Vec<f32>> = serde_json::from_str(&body).unwrap();
    v[0].clone()
}

/// The server runs in the precision, with the fusions and on the threads the global options
/// say: /info reports them, and its embeddings are the CLI's.
#[test]
fn serve_honours_precision_threads_and_no_fuse() {
    let cli = |before: &[&str]| {
        numbers(&ok(&refs(&with_model(&head("st-mean"), before, &["embed", "--json", "hello world"]))), "embedding")
    };
    let (f32s, bf16s) = (cli(&[]), cli(&["--precision", "bf16"]));
    {
        let (_s, addr) = serve(&["--precision", "bf16", "--threads", "1", "--no-fuse", "all"]);
        let (_, info) = request(addr, "GET", "/info", "");
        let info: Value = serde_json::from_str(&info).unwrap();
        assert_eq!(info["precision"], "bf16", "{info}");
        assert_eq!(info["threads"], 1, "{info}");
        let got = embed_over_http(addr);
        assert_within("serve --precision bf16 --no-fuse all", &bf16s, &got, 1e-5);
        assert!(common::max_abs_diff(&f32s, &got) > 1e-4, "serve ran f32 under --precision bf16");
    }
    let (_s, addr) = serve(&["--threads", "2"]);
    let (_, info) = request(addr, "GET", "/info", "");
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!((info["precision"].clone(), info["threads"].clone()), ("f32".into(), 2.into()), "{info}");
    assert_within("serve f32", &f32s, &embed_over_http(addr), 1e-5);
}

/// `--precision` and `--dtype` must agree (an explicit f32 included).
#[test]
fn serve_refuses_disagreeing_precisions() {
    refused(&["--model", &head("st-mean"), "--precision", "f32", "serve", "--dtype", "int8"], "serve: --precision f32");
}
