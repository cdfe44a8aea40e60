//! The `nanobert` binary, run as a user would: output formats, and one-line errors with a
//! non-zero exit code (never a panic) on bad input.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::process::{Command, Output};

use common::fixture;

fn nanobert(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nanobert")).args(args).env("NANOBERT_OFFLINE", "1").output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tiny() -> String {
    fixture("tiny-bert").to_string_lossy().into_owned()
}

/// A bad invocation: exit code 1, a one-line `error: ...` naming `expect`, no panic.
fn assert_clean_error(args: &[&str], expect: &str) {
    let o = nanobert(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail with exit code 1; stderr: {err}");
    assert!(err.starts_with("error: "), "{args:?}: stderr should start with `error: `, got {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: expected a one-line error, got {err:?}");
    assert!(!err.contains("panicked"), "{args:?}: panicked: {err}");
    assert!(err.contains(expect), "{args:?}: error should mention {expect:?}: {err}");
}

#[test]
fn print_matches_pytorch_and_counts_parameters() {
    let o = nanobert(&["print", "--model", &tiny()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let tree = std::fs::read_to_string(fixture("print/tiny-bert-masked-lm.txt")).unwrap();
    let out = stdout(&o);
    let (head, last) = out.trim_end().rsplit_once('\n').unwrap();
    assert_eq!(head, format!("{tree}\nparameters: 1036154"));
    // The weight memory per precision: halves for f16/bf16; int8 smaller still (here the
    // per-channel scales and sums weigh a lot: the layers are only 32 wide).
    let mb: Vec<f64> = ["f32", "f16", "bf16", "int8"]
        .iter()
        .map(|p| {
            let rest = last.split(&format!(" {p} ")).nth(1).unwrap_or_else(|| panic!("no {p} in {last:?}"));
            rest.split(" MB").next().unwrap().parse().unwrap()
        })
        .collect();
    assert!(last.starts_with("Linear weights in memory"), "{last}");
    assert!((mb[1] / mb[0] - 0.5).abs() < 0.05 && mb[1] == mb[2], "{last}");
    assert!(mb[3] < 0.75 * mb[1], "{last}");
}

#[test]
fn fill_mask_json_lines() {
    let o = nanobert(&[
        "fill-mask",
        "--model",
        &tiny(),
        "--json",
        "--top-k",
        "3",
        "The capital of France is [MASK].",
        "[MASK] is [MASK].",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["text"], "The capital of France is [MASK].");
    let masks = lines[0]["masks"].as_array().unwrap();
    assert_eq!(masks.len(), 1);
    assert_eq!(masks[0]["position"], 6); // [CLS] the capital of france is [MASK]
    let top = masks[0]["top"].as_array().unwrap();
    assert_eq!(top.len(), 3);
    // PyTorch's top candidate for this text (tests/fixtures/fill-mask/tiny-bert-fill-mask.json).
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("fill-mask/tiny-bert-fill-mask.json")).unwrap()).unwrap();
    let want = &j["results"][0]["masks"][0]["top"][0];
    assert_eq!(top[0]["id"], want["id"]);
    assert_eq!(top[0]["token"], want["token"]);
    let scores: Vec<f64> = top.iter().map(|c| c["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "scores sorted: {scores:?}");
    assert_eq!(lines[1]["masks"].as_array().unwrap().len(), 2, "two [MASK]s, two predictions");
}

#[test]
fn embed_json_and_similarity_table() {
    let o = nanobert(&["embed", "--model", &tiny(), "--json", "hello world", "a second text"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["text"], "a second text");
    assert_eq!(lines[0]["embedding"].as_array().unwrap().len(), 32);

    let o = nanobert(&["similarity", "--model", &tiny(), "hello world", "hello world", "something else entirely"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let first = out.lines().find(|l| l.trim_start().starts_with("1 ")).unwrap();
    assert!(first.ends_with("hello world") && first.contains("1.0000"), "identical text ranks first: {out}");
}

#[test]
fn forward_writes_safetensors_matching_pytorch() {
    let out = std::env::temp_dir().join(format!("nanobert-cli-forward-{}.safetensors", std::process::id()));
    let text = "The capital of France is [MASK].";
    let o = nanobert(&["forward", "--model", &tiny(), "--out", out.to_str().unwrap(), text]);
    assert!(o.status.success(), "{}", stderr(&o));
    let w = nanobert::io::Weights::open(&out).unwrap();
    let (ids, shape) = w.get_i64("input_ids").unwrap();
    assert_eq!(shape, [1, 9]);
    assert_eq!(ids, [101, 1996, 3007, 1997, 2605, 2003, 103, 1012, 102]);
    assert_eq!(w.get_i64("attention_mask").unwrap().0, vec![1; 9]);
    assert_eq!(w.get("last_hidden_state").unwrap().shape(), [1, 9, 32]);
    let logits = w.get("logits").unwrap();
    assert_eq!(logits.shape(), [1, 9, 30522]);
    // The logits at the [MASK] agree with PyTorch's for its top-5 candidates.
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("fill-mask/tiny-bert-fill-mask.json")).unwrap()).unwrap();
    for c in j["results"][0]["masks"][0]["top"].as_array().unwrap() {
        let id = c["id"].as_u64().unwrap() as usize;
        let ours = logits.get(&[0, 6, id]).unwrap() as f64;
        let d = (ours - c["logit"].as_f64().unwrap()).abs();
        assert!(d < 1e-4, "logit of {id} differs by {d:.2e}");
    }
    let _ = std::fs::remove_file(out);
}

#[test]
fn bad_input_gives_one_line_errors() {
    let t = tiny();
    assert_clean_error(&["print", "--model", "/no/such/dir"], "/no/such/dir");
    assert_clean_error(&["fill-mask", "--model", &t, "no mask here"], "no [MASK]");
    assert_clean_error(&["embed", "--model", &t, ""], "empty");
    // A directory with a config but a corrupt weights file.
    let dir = std::env::temp_dir().join(format!("nanobert-cli-corrupt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture("tiny-bert/config.json"), dir.join("config.json")).unwrap();
    std::fs::write(dir.join("model.safetensors"), b"this is not a safetensors file").unwrap();
    assert_clean_error(&["print", "--model", dir.to_str().unwrap()], "model.safetensors");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn closed_stdout_ends_quietly() {
    // `nanobert embed --json ... | head -1`: the reader goes away before the output (well over a
    // pipe buffer) is written; the program must stop without a panic message.
    let texts = vec!["hello world"; 400];
    let mut child = Command::new(env!("CARGO_BIN_EXE_nanobert"))
        .args(["embed", "--model", &tiny(), "--json"])
        .args(&texts)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // close the read end at once
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    assert!(!err.contains("panicked"), "panicked on a closed stdout: {err}");
    assert_eq!(o.status.code(), Some(0), "stderr: {err}");
}

#[test]
fn bench_matmul_quick_writes_table_csv_and_plot() {
    let out = std::env::temp_dir().join(format!("nanobert-cli-bench-{}", std::process::id()));
    let o = nanobert(&["bench", "matmul", "--quick", "--thread-counts", "1", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("% peak"), "the table reports results as % of the measured peak");
    let csv = std::fs::read_to_string(out.join("matmul.csv")).unwrap();
    assert!(csv.lines().count() > 5 && csv.contains("matrixmultiply"), "{csv}");
    assert!(std::fs::read_to_string(out.join("matmul.svg")).unwrap().starts_with("<svg"));
    let _ = std::fs::remove_dir_all(&out);
}

/// `--no-fuse`: a fusion switched off, or all of them, gives the same embedding
/// within 1e-5; an unknown name is a one-line error listing the known ones; a command that
/// does not run the model refuses the flag instead of ignoring it.
#[test]
fn no_fuse_keeps_embeddings_and_refuses_unknown_names() {
    let t = tiny();
    let embed = |extra: &[&str]| -> Vec<Vec<f64>> {
        let text = "the quick brown fox jumps over the lazy dog";
        let args = [&["embed", "--model", &t, "--json"], extra, &[text, "a much shorter one"]].concat();
        let o = nanobert(&args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["embedding"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
            })
            .collect()
    };
    let fused = embed(&[]);
    assert_eq!(fused.len(), 2);
    for extra in
        [&["--no-fuse", "qkv"][..], &["--no-fuse", "all"], &["--no-fuse", "epilogue,softmax", "--no-fuse", "heads"]]
    {
        let unfused = embed(extra);
        let d = fused
            .iter()
            .flatten()
            .zip(unfused.iter().flatten())
            .map(|(a, b)| if a.is_finite() && b.is_finite() { (a - b).abs() } else { f64::INFINITY })
            .fold(0.0, f64::max);
        assert_eq!(unfused.iter().map(Vec::len).sum::<usize>(), fused.iter().map(Vec::len).sum::<usize>());
        assert!(d < 1e-5, "{extra:?}: max |diff| {d}");
    }
    assert_clean_error(&["embed", "--model", &t, "--no-fuse", "bogus", "hi"], "unknown fusion `bogus`");
    assert_clean_error(&["embed", "--model", &t, "--no-fuse", "qkv,bogus", "hi"], "add-norm");
    assert_clean_error(&["print", "--model", &t, "--no-fuse", "qkv"], "--no-fuse applies to");
    let help = stdout(&nanobert(&["embed", "--help"]));
    for (name, _) in nanobert::bert::Fusion::NAMES {
        assert!(help.contains(&format!("`{name}`")), "embed --help does not list {name}");
    }
}
