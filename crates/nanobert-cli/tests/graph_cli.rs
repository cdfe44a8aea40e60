//! `nanobert graph`, run as a user would: the graph after the passes, a line per pass, the
//! arena; `--passes`, `--no-fuse`, `--before`, `--dot`, `--lifetimes`; one-line errors.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

fn nanobert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nanobert")).args(args).env("NANOBERT_OFFLINE", "1").output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let o = nanobert(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{args:?}: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tiny() -> String {
    common::fixture("tiny-bert").to_string_lossy().into_owned()
}

/// The line of the summary for pass `name`: `(rewrites, nodes before, nodes after)`.
fn pass_line(out: &str, name: &str) -> (usize, usize, usize) {
    let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{name}:"))).unwrap_or_else(|| panic!("{out}"));
    let n: Vec<usize> =
        line.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

#[test]
fn graph_prints_the_fused_graph_and_what_each_pass_did() {
    let out = ok(&["graph", "--model", &tiny(), "--before", "--batch", "2", "--seq", "16"]);
    // Before: the unfused ops; after: the fused ones, and no pooler (only hidden states wanted).
    let (before, after) = out.split_once("# after passes").unwrap();
    assert!(before.contains("= matmul(") && before.contains("= softmax(") && before.contains("pooler"), "{before}");
    assert!(
        after.contains("= linear_bias_gelu(") && after.contains("= attention(") && !after.contains("pooler"),
        "{after}"
    );
    // tiny-bert: 3 layers. dce drops the pooler's 4 nodes, qkv stacks 3 layers' projections.
    assert_eq!(pass_line(&out, "dce").0, 4, "{out}");
    assert_eq!(pass_line(&out, "qkv").0, 3, "{out}");
    assert_eq!(pass_line(&out, "attention").0, 3, "{out}");
    let (_, first, _) = pass_line(&out, "dce");
    let (_, _, last) = pass_line(&out, "memory");
    assert!(last * 2 < first, "{first} -> {last} nodes");
    assert!(out.contains("arena") && out.contains("at batch 2 x seq 16"), "{out}");
}

#[test]
fn passes_and_no_fuse_choose_the_passes() {
    let none = ok(&["graph", "--model", &tiny(), "--passes", "none"]);
    assert!(!none.contains("rewrites") && none.contains("= matmul("), "{none}");
    let some = ok(&["graph", "--model", &tiny(), "--passes", "epilogue,add-norm"]);
    assert!(some.contains("= linear_bias(") && some.contains("= add_layer_norm(") && !some.contains("= attention("));
    let no_qkv = ok(&["graph", "--model", &tiny(), "--no-fuse", "qkv"]);
    assert!(!no_qkv.lines().any(|l| l.trim_start().starts_with("qkv:")), "{no_qkv}");
    assert!(no_qkv.contains("attention.self.query.weight") && !no_qkv.contains("self.qkv.weight"));
}

#[test]
fn dot_and_lifetimes() {
    let dot = std::env::temp_dir().join(format!("nanobert-graph-{}.dot", std::process::id()));
    let out = ok(&["graph", "--model", &tiny(), "--lifetimes", "--dot", dot.to_str().unwrap()]);
    let text = std::fs::read_to_string(&dot).unwrap();
    std::fs::remove_file(&dot).unwrap();
    assert!(text.starts_with("digraph") && text.contains("attention"), "{text}");
    let pic = out.split_once("buffer ").map(|x| x.1).unwrap_or_else(|| panic!("{out}"));
    let row = pic.lines().find(|l| l.starts_with("embeddings ")).unwrap_or_else(|| panic!("{pic}"));
    assert!(row.contains('#') && row.ends_with('|'), "{row}");
}

#[test]
fn bad_options_are_one_line_errors() {
    for (args, expect) in [
        (vec!["--passes", "fuse-everything"], "unknown pass `fuse-everything`"),
        (vec!["--no-fuse", "gelu"], "gelu"),
        (vec!["--seq", "100000"], "seq"),
        (vec!["--seq", "4000"], "max_position_embeddings"),
    ] {
        let mut a = vec!["graph", "--model"];
        let t = tiny();
        a.push(&t);
        a.extend(args);
        let o = nanobert(&a);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(0), "{a:?}");
        assert!(err.contains(expect) && !err.contains("panicked"), "{a:?}: {err}");
    }
}
