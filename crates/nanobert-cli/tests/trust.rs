//! Trust: every bad input a clear error with nothing lost, NaN never printed,
//! checkpoints that are not BERT refused, text rules, streaming many inputs, CLI edges and
//! determinism. Runs the `nanobert` binary on the tiny fixture model (no network).

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::fixture;
use nanobert::Tensor;
use nanobert::io::{SaveTensor, Weights, save};

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nanobert"));
    cmd.args(args).env("NANOBERT_OFFLINE", "1").stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().unwrap();
    if let Some(data) = stdin {
        let mut s = child.stdin.take().unwrap();
        s.write_all(data).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn nanobert(args: &[&str]) -> Output {
    run(args, None)
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn tiny() -> String {
    fixture("tiny-bert").to_string_lossy().into_owned()
}

/// A failed run: non-zero exit, one line on stderr starting `error: `, no panic.
#[track_caller]
fn assert_one_line_error(o: &Output, what: &str, expect: &str) {
    let e = err(o);
    assert!(!o.status.success(), "{what}: should fail; stdout {}", out(o));
    assert!(!e.contains("panicked at"), "{what}: panicked: {e}");
    let lines: Vec<&str> = e.lines().filter(|l| !l.starts_with("warning: ")).collect();
    assert_eq!(lines.len(), 1, "{what}: expected one error line, got {e:?}");
    assert!(lines[0].starts_with("error: "), "{what}: {e:?}");
    assert!(e.contains(expect), "{what}: error should mention {expect:?}: {e}");
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("nanobert-trust-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn s(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A copy of the tiny model whose weights went through `edit` (name, tensor) -> tensor, and
/// whose config.json went through `config`.
fn tiny_copy(
    tag: &str,
    edit: impl Fn(&str, Tensor) -> Option<Tensor>,
    config: impl Fn(&mut serde_json::Value),
) -> Scratch {
    let d = Scratch::new(tag);
    let src = fixture("tiny-bert");
    for f in ["tokenizer.json", "vocab.txt"] {
        std::fs::copy(src.join(f), d.path().join(f)).unwrap();
    }
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    config(&mut cfg);
    std::fs::write(d.path().join("config.json"), serde_json::to_string_pretty(&cfg).unwrap()).unwrap();
    let w = Weights::open(&src.join("model.safetensors")).unwrap();
    let names = w.names();
    let tensors: Vec<(String, Tensor)> =
        names.iter().filter_map(|n| edit(n, w.get(n).unwrap()).map(|t| (n.clone(), t))).collect();
    let list: Vec<(&str, SaveTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), SaveTensor::F32(t.clone()))).collect();
    save(&d.path().join("model.safetensors"), &list).unwrap();
    d
}

// ---------------------------------------------------------------------------------------------
// 11.2 NaN is never printed
// ---------------------------------------------------------------------------------------------

/// A NaN weight is reported by the loader, by tensor name and file; `--allow-non-finite`
/// loads it anyway, and then the output check (also skipped with the flag) would have named
/// the module. Huge-but-finite weights pass the loader and overflow: the output check names the
/// first module whose output is not finite.
#[test]
fn non_finite_weights_and_outputs_are_refused() {
    let q = "bert.encoder.layer.1.attention.self.query.weight";
    let nan = tiny_copy("nan", |n, t| Some(if n == q { Tensor::full(t.shape(), f32::NAN) } else { t }), |_| {});
    let o = nanobert(&["embed", "--model", &nan.s(), "hello world"]);
    assert_one_line_error(&o, "NaN weight", q);
    assert!(err(&o).contains("model.safetensors"), "{}", err(&o));
    // Debugging: the flag lets the NaN through, and it is printed as such (not laundered to a number).
    let o = nanobert(&["embed", "--json", "--allow-non-finite", "--model", &nan.s(), "hello world"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("NaN") || out(&o).contains("null"), "{}", out(&o));

    // Finite weights whose product overflows: f32::MAX / 2 in layer 0's intermediate dense.
    let big = "bert.encoder.layer.0.intermediate.dense.weight";
    let huge =
        tiny_copy("huge", |n, t| Some(if n == big { Tensor::full(t.shape(), f32::MAX / 2.0) } else { t }), |_| {});
    for args in [vec!["embed", "hello world"], vec!["similarity", "hello", "world"], vec!["fill-mask", "hello [MASK]"]]
    {
        let mut a = vec!["--model", huge.path().to_str().unwrap()];
        a.extend(args.iter().copied());
        let o = nanobert(&a);
        assert_one_line_error(&o, &format!("{args:?} with overflowing weights"), "bert.encoder.layer.0.intermediate");
        assert!(err(&o).contains("not finite"), "{}", err(&o));
    }
    let dest = huge.path().join("out.safetensors");
    let o = nanobert(&["forward", "--model", &huge.s(), "--out", dest.to_str().unwrap(), "hello"]);
    assert_one_line_error(&o, "forward with overflowing weights", "bert.encoder.layer.0.intermediate");
    assert!(!dest.exists(), "nothing written for a non-finite result");
}

/// The loader check has no false alarm on good weights, and finds a single infinity.
#[test]
fn finite_weight_check_finds_one_bad_value() {
    let w = Weights::open(&fixture("tiny-bert/model.safetensors")).unwrap();
    assert!(nanobert::finite::non_finite_tensors(&w).unwrap().is_empty());
    let name = "bert.embeddings.LayerNorm.bias";
    let d = tiny_copy(
        "inf",
        |n, t| {
            Some(if n == name {
                let mut v = t.to_vec();
                v[7] = f32::NEG_INFINITY;
                Tensor::from_vec(v, t.shape()).unwrap()
            } else {
                t
            })
        },
        |_| {},
    );
    let w = Weights::open(&d.path().join("model.safetensors")).unwrap();
    let bad = nanobert::finite::non_finite_tensors(&w).unwrap();
    assert_eq!(bad.len(), 1);
    assert_eq!((bad[0].0.as_str(), bad[0].1, bad[0].2), (name, 1, 7));
    let e = nanobert::io::Checkpoint::open(d.path()).unwrap_err().to_string();
    assert!(e.contains(name) && e.contains("model.safetensors"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// 11.6 Checkpoints that are not what they claim
// ---------------------------------------------------------------------------------------------

#[test]
fn non_bert_checkpoints_are_refused_by_name() {
    for (model_type, arch) in
        [("roberta", "RobertaModel"), ("gpt2", "GPT2LMHeadModel"), ("distilbert", "DistilBertModel")]
    {
        let d = tiny_copy(
            model_type,
            |_, t| Some(t),
            |c| {
                c["model_type"] = model_type.into();
                c["architectures"] = serde_json::json!([arch]);
            },
        );
        let e = nanobert::io::Checkpoint::open(d.path()).unwrap_err().to_string();
        assert!(e.contains(model_type) && e.contains("config.json") && e.contains(&d.s()), "{e}");
        assert!(e.contains("not BERT"), "{e}");
        assert_one_line_error(&nanobert(&["embed", "--model", &d.s(), "hi"]), model_type, model_type);
    }
    // model_type bert but a foreign architecture is refused too; BERT heads are accepted.
    let d = tiny_copy("arch", |_, t| Some(t), |c| c["architectures"] = serde_json::json!(["RobertaForMaskedLM"]));
    assert!(nanobert::io::Checkpoint::open(d.path()).unwrap_err().to_string().contains("RobertaForMaskedLM"));
    for arch in ["BertModel", "BertForMaskedLM", "BertForSequenceClassification", "BertForTokenClassification"] {
        let d = tiny_copy("ok-arch", |_, t| Some(t), |c| c["architectures"] = serde_json::json!([arch]));
        nanobert::io::Checkpoint::open(d.path()).unwrap_or_else(|e| panic!("{arch}: {e}"));
    }
}

/// Weights the config leaves unused (a 3-layer file loaded as 2 layers) are named in one warning,
/// as transformers does; the run still succeeds.
#[test]
fn unused_weights_are_warned_by_name() {
    let d = tiny_copy("unused", |_, t| Some(t), |c| c["num_hidden_layers"] = 2.into());
    let o = nanobert(&["embed", "--model", &d.s(), "hello"]);
    assert!(o.status.success(), "{}", err(&o));
    let e = err(&o);
    let warn: Vec<&str> = e.lines().filter(|l| l.contains("not used")).collect();
    assert_eq!(warn.len(), 1, "{e}");
    assert!(warn[0].contains("encoder.layer.2.attention.self.query.weight"), "{e}");
    assert!(!warn[0].contains("layer.1."), "only the unused layer: {e}");
    // The full model: every encoder weight is used (the MLM head `embed` does not need is a
    // known head, not warned about).
    let o = nanobert(&["embed", "--model", &tiny(), "hello"]);
    assert!(!err(&o).contains("not used"), "{}", err(&o));
}

#[test]
fn tokenizer_json_that_is_not_a_tokenizer_says_so() {
    let d = tiny_copy("tok", |_, t| Some(t), |_| {});
    std::fs::write(d.path().join("tokenizer.json"), r#"{"hello": "world"}"#).unwrap();
    let o = nanobert(&["embed", "--model", &d.s(), "hi"]);
    assert_one_line_error(&o, "JSON that is not a tokenizer", "not a tokenizer");
    assert!(err(&o).contains("tokenizer.json") && err(&o).contains(&d.s()), "{}", err(&o));
    std::fs::write(d.path().join("tokenizer.json"), "[1, 2, 3]").unwrap();
    assert_one_line_error(&nanobert(&["embed", "--model", &d.s(), "hi"]), "a JSON array", "not a tokenizer");
    std::fs::write(d.path().join("tokenizer.json"), "{ not json").unwrap();
    assert_one_line_error(&nanobert(&["embed", "--model", &d.s(), "hi"]), "invalid JSON", "tokenizer.json");
}

/// A broken cached MiniLM: commands say how to repair the cache, and `fetch` checks what it
/// finds (here it cannot re-download, being offline, so it says what is wrong and what to do).
#[test]
fn broken_cache_says_how_to_repair() {
    let home = Scratch::new("cache");
    let dir = home.path().join("models/all-MiniLM-L6-v2");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json", "vocab.txt"] {
        std::fs::copy(fixture("tiny-bert").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("model.safetensors"), b"truncated").unwrap();
    let hub = Scratch::new("hub");
    let with_home = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_nanobert"))
            .args(args)
            .env("NANOBERT_OFFLINE", "1")
            .env("NANOBERT_HOME", home.path())
            .env("HF_HUB_CACHE", hub.path())
            .env_remove("NANOBERT_MINILM_WHEEL")
            .output()
            .unwrap()
    };
    let o = with_home(&["embed", "hello"]);
    assert_one_line_error(&o, "broken cache", "nanobert fetch");
    assert!(err(&o).contains(dir.to_str().unwrap()), "{}", err(&o));
    let o = with_home(&["fetch"]);
    assert_one_line_error(&o, "fetch on a broken cache", "model.safetensors");
}

// ---------------------------------------------------------------------------------------------
// 11.7 Text input
// ---------------------------------------------------------------------------------------------

/// One rule for "empty": no tokens after normalization. Spaces, control and zero-width
/// characters are empty everywhere (embed, similarity, fill-mask, forward), named by number.
#[test]
fn empty_means_no_tokens_everywhere() {
    let t = tiny();
    for blank in ["", "   ", "\u{200b}", "\u{0007}\t"] {
        for args in [
            vec!["embed", "--model", &t, "fine", blank],
            vec!["similarity", "--model", &t, "fine", blank],
            vec!["fill-mask", "--model", &t, "[MASK] fine", blank],
            vec!["forward", "--model", &t, "--out", "/tmp/nanobert-never-written.safetensors", "fine", blank],
        ] {
            let o = nanobert(&args);
            assert_one_line_error(&o, &format!("{args:?}"), "text #2 is empty (no tokens after normalization)");
        }
    }
    let tok = nanobert::text::Tokenizer::from_file(&fixture("tiny-bert/tokenizer.json"), 64).unwrap();
    assert_eq!(tok.count_tokens("\u{200b}").unwrap(), 0);
    assert!(nanobert::pipeline::check_texts_numbered(&tok, &["a", "\u{200b}"], 1).is_err());
}

/// Too long: truncated with one warning saying how many tokens were dropped; a [MASK] lost to
/// truncation is named; error messages quote at most a short prefix.
#[test]
fn truncation_is_warned_once_and_lost_masks_named() {
    let t = tiny();
    let long = "word ".repeat(100); // 100 tokens; the tiny model keeps 64 with [CLS] and [SEP]
    let o = nanobert(&["embed", "--model", &t, &long, &long, "short"]);
    assert!(o.status.success(), "{}", err(&o));
    let warns: Vec<String> = err(&o).lines().filter(|l| l.contains("truncated")).map(String::from).collect();
    assert_eq!(warns.len(), 1, "{}", err(&o));
    assert!(warns[0].contains("2 texts") && warns[0].contains("76 tokens dropped"), "{}", warns[0]);

    let masked_late = format!("{long} [MASK]");
    let o = nanobert(&["fill-mask", "--model", &t, &masked_late]);
    assert_one_line_error(&o, "mask lost", "[MASK] was lost to truncation");
    let line = err(&o).lines().find(|l| l.starts_with("error: ")).unwrap().to_string();
    assert!(line.len() < 250, "quotes a short prefix only: {line}");
    assert!(err(&o).contains("(507 chars)"), "{}", err(&o));
    let o = nanobert(&["fill-mask", "--model", &t, &long]);
    assert_one_line_error(&o, "no mask", "no [MASK] token in text #1");
    let line = err(&o).lines().find(|l| l.starts_with("error: ")).unwrap().to_string();
    assert!(line.len() < 250, "{line}");
}

/// Texts with newlines keep text output one line per result.
#[test]
fn newlines_in_texts_keep_one_line_per_result() {
    let t = tiny();
    let o = nanobert(&["embed", "--model", &t, "first\nline", "second"]);
    assert!(o.status.success(), "{}", err(&o));
    let text = out(&o);
    assert_eq!(text.lines().count(), 4, "two lines per text: {text}");
    assert!(text.starts_with("first\\nline\n"), "{text}");
    let o = nanobert(&["similarity", "--model", &t, "q\nuery", "a\nb", "c"]);
    assert!(o.status.success(), "{}", err(&o));
    assert_eq!(out(&o).lines().count(), 4, "query, header, one line per document: {}", out(&o));
    let o = nanobert(&["fill-mask", "--model", &t, "--top-k", "1", "a\n[MASK]"]);
    assert!(out(&o).starts_with("a\\n[MASK]\n"), "{}", out(&o));
}

// ---------------------------------------------------------------------------------------------
// 11.8 Many inputs
// ---------------------------------------------------------------------------------------------

fn jsonl(o: &Output) -> Vec<serde_json::Value> {
    out(o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect()
}

/// `--input FILE` and stdin, plain lines and JSONL: one JSON line per input line, in order,
/// equal to the embeddings of the same texts given as arguments.
#[test]
fn embed_and_fill_mask_stream_jsonl_in_order() {
    let t = tiny();
    let texts: Vec<String> = (0..70).map(|i| format!("text number {i} about something")).collect();
    let plain = texts.join("\n") + "\n";
    let d = Scratch::new("stream");
    let file = d.path().join("in.txt");
    std::fs::write(&file, &plain).unwrap();
    let from_file = jsonl(&nanobert(&["embed", "--model", &t, "--input", file.to_str().unwrap()]));
    let from_stdin = jsonl(&run(&["embed", "--model", &t, "--input", "-"], Some(plain.as_bytes())));
    let as_jsonl: String = texts.iter().map(|x| serde_json::json!({ "text": x, "id": 1 }).to_string() + "\n").collect();
    let from_jsonl = jsonl(&run(&["embed", "--model", &t, "--input", "-"], Some(as_jsonl.as_bytes())));
    assert_eq!(from_file.len(), 70);
    for (i, v) in from_file.iter().enumerate() {
        assert_eq!(v["line"], i + 1);
        assert_eq!(v["text"], texts[i].as_str());
        assert_eq!(v["embedding"], from_stdin[i]["embedding"]);
        assert_eq!(v["embedding"], from_jsonl[i]["embedding"]);
    }
    let args = jsonl(&nanobert(&["embed", "--json", "--model", &t, &texts[69]]));
    assert_eq!(args[0]["embedding"], from_file[69]["embedding"], "same numbers as the argument form");

    let masked = "the [MASK] is here\n[MASK] [MASK]\n";
    let fm = jsonl(&run(&["fill-mask", "--model", &t, "--top-k", "2", "--input", "-"], Some(masked.as_bytes())));
    assert_eq!(fm.len(), 2);
    assert_eq!(fm[1]["line"], 2);
    assert_eq!(fm[1]["masks"].as_array().unwrap().len(), 2);
}

/// An error on one line names the line and keeps every result before it.
#[test]
fn a_bad_line_is_named_and_earlier_results_kept() {
    let t = tiny();
    let mut input: Vec<u8> = Vec::new();
    for i in 0..40 {
        input.extend_from_slice(format!("good text {i}\n").as_bytes());
    }
    input.extend_from_slice(b"bad \xff\xfe bytes\nnever read\n");
    let o = run(&["embed", "--model", &t, "--input", "-"], Some(&input));
    assert_one_line_error(&o, "invalid UTF-8", "line 41: not valid UTF-8");
    assert_eq!(jsonl(&o).len(), 40, "the 40 lines before it were written");

    let o = run(&["embed", "--model", &t, "--input", "-"], Some(b"one\ntwo\n   \nfour\n"));
    assert_one_line_error(&o, "empty line", "line 3");
    assert_eq!(jsonl(&o).len(), 2);

    let o = run(&["embed", "--model", &t, "--input", "-"], Some(b"{\"text\": \"a\"}\n{\"txt\": \"b\"}\n"));
    assert_one_line_error(&o, "JSONL without text", "line 2: a JSON line needs a \"text\" field");
    assert_eq!(jsonl(&o).len(), 1);

    let o = run(&["fill-mask", "--model", &t, "--input", "-"], Some(b"a [MASK]\nb [MASK]\nno mask\n"));
    assert_one_line_error(&o, "fill-mask line without mask", "line 3");
    let o = nanobert(&["embed", "--model", &t, "--input", "/no/such/file.txt"]);
    assert_one_line_error(&o, "missing input", "/no/such/file.txt");
}

// ---------------------------------------------------------------------------------------------
// 11.9 CLI edges
// ---------------------------------------------------------------------------------------------

#[test]
fn thread_counts_top_k_out_and_demo_mlm_are_checked() {
    let t = tiny();
    assert_one_line_error(&nanobert(&["embed", "--model", &t, "--threads", "0", "x"]), "--threads 0", "--threads 0");
    assert_one_line_error(&nanobert(&["embed", "--model", &t, "--threads", "100000", "x"]), "absurd", "--threads");
    assert_one_line_error(&nanobert(&["embed", "--model", &t, "--threads", "-3", "x"]), "negative", "'-3'");
    assert!(nanobert(&["embed", "--model", &t, "--threads", "2", "x"]).status.success());
    assert_one_line_error(&nanobert(&["fill-mask", "--model", &t, "--top-k", "0", "[MASK]"]), "top-k 0", "top-k");
    let d = Scratch::new("out");
    assert_one_line_error(&nanobert(&["forward", "--model", &t, "--out", &d.s(), "x"]), "--out dir", "is a directory");
    let missing = d.path().join("no/such/dir/out.safetensors");
    let o = nanobert(&["forward", "--model", &t, "--out", missing.to_str().unwrap(), "x"]);
    assert_one_line_error(&o, "--out missing dir", "does not exist");
    // A good --out leaves no temporary file behind, beside the target or elsewhere.
    let good = d.path().join("out.safetensors");
    assert!(nanobert(&["forward", "--model", &t, "--out", good.to_str().unwrap(), "x"]).status.success());
    let names: Vec<String> =
        std::fs::read_dir(d.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, vec!["out.safetensors".to_string()]);
    // demo --mlm is checked before any work (and before the default model is even looked for).
    let t0 = std::time::Instant::now();
    let o = nanobert(&["demo", "--model", &t, "--mlm", "/no/such/mlm"]);
    assert_one_line_error(&o, "demo --mlm", "/no/such/mlm");
    assert!(out(&o).is_empty(), "nothing printed before the check: {}", out(&o));
    println!("demo --mlm failed in {:.2?}", t0.elapsed());
}

/// Every subcommand listed by `nanobert --help` (including ones added later), run with broken
/// inputs: a non-zero exit, a one-line message, no panic.
#[test]
fn every_subcommand_fails_cleanly_on_broken_input() {
    fn subcommands(prefix: &[&str]) -> Vec<String> {
        let mut args = prefix.to_vec();
        args.push("--help");
        let help = out(&nanobert(&args));
        let mut in_commands = false;
        let mut subs = Vec::new();
        for line in help.lines() {
            if line.starts_with("Commands:") {
                in_commands = true;
                continue;
            }
            if in_commands {
                if !line.starts_with("  ") {
                    break;
                }
                if let Some(name) = line.split_whitespace().next()
                    && name != "help"
                {
                    subs.push(name.to_string());
                }
            }
        }
        subs
    }
    let empty_home = Scratch::new("nohome");
    let mut checked = Vec::new();
    let mut leaves: Vec<Vec<String>> = Vec::new();
    for sub in subcommands(&[]) {
        let nested = subcommands(&[&sub]);
        if nested.is_empty() {
            leaves.push(vec![sub]);
        } else {
            leaves.extend(nested.into_iter().map(|n| vec![sub.clone(), n]));
        }
    }
    assert!(leaves.len() >= 7, "{leaves:?}");
    for leaf in &leaves {
        let base: Vec<&str> = leaf.iter().map(String::as_str).collect();
        let cases: Vec<Vec<&str>> = vec![
            [base.clone(), vec!["--no-such-flag"]].concat(),
            [base.clone(), vec!["--threads", "0", "x"]].concat(),
            [base.clone(), vec!["--model", "/no/such/model", "x", "y"]].concat(),
        ];
        for args in cases {
            // No cached model, no network: nothing may quietly fall back to working weights.
            let o = Command::new(env!("CARGO_BIN_EXE_nanobert"))
                .args(&args)
                .env("NANOBERT_OFFLINE", "1")
                .env("NANOBERT_HOME", empty_home.path())
                .env("HF_HUB_CACHE", empty_home.path())
                .env_remove("NANOBERT_MINILM_WHEEL")
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert_one_line_error(&o, &format!("{args:?}"), "");
            checked.push(args.join(" "));
        }
    }
    println!("checked {} broken invocations of {} subcommands", checked.len(), leaves.len());
}

// ---------------------------------------------------------------------------------------------
// 11.10 Determinism
// ---------------------------------------------------------------------------------------------

/// Same input, bit-identical output: across runs, across 1, 2 and 3 threads, and whether a text
/// is embedded alone or in a batch with longer and shorter texts. Speed work (fusion,
/// bucketing, threading) must keep this green.
#[test]
fn embeddings_bit_identical_across_runs_threads_and_batching() {
    let ckpt = nanobert::io::Checkpoint::open(&fixture("tiny-bert")).unwrap();
    let e = nanobert::pipeline::Embedder::from_checkpoint(&ckpt).unwrap();
    let texts: Vec<String> = (0..40).map(|i| format!("sentence {i} {}", "with more words ".repeat(i % 7))).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bits =
        |v: &Vec<Vec<f32>>| -> Vec<Vec<u32>> { v.iter().map(|r| r.iter().map(|x| x.to_bits()).collect()).collect() };
    let reference = bits(&e.embed(&texts).unwrap());
    for threads in [1, 2, 3] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for run in 0..2 {
            let got = pool.install(|| bits(&e.embed(&texts).unwrap()));
            assert!(got == reference, "{threads} threads, run {run}: embeddings differ bitwise");
        }
        for (i, t) in texts.iter().enumerate().step_by(7) {
            let alone = pool.install(|| bits(&e.embed(&[*t]).unwrap()));
            assert!(alone[0] == reference[i], "{threads} threads: text {i} alone differs from it in the batch");
        }
    }
    // fill-mask too: scores of a text alone and in a batch.
    let fm = nanobert::pipeline::FillMask::from_checkpoint(&ckpt).unwrap();
    let masked = ["the [MASK] of it", "a much longer text where the [MASK] sits in the middle of many words"];
    let both = fm.predict(&masked, 5).unwrap();
    let alone = fm.predict(&masked[..1], 5).unwrap();
    let scores = |r: &nanobert::pipeline::FillMaskResult| -> Vec<u32> {
        r.masks[0].top.iter().map(|c| c.score.to_bits()).collect()
    };
    assert_eq!(scores(&both[0]), scores(&alone[0]));
}
