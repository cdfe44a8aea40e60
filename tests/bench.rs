//! The instruments (src/bench/): runners end to end on tiny inputs. Nothing here checks a
//! speed (timings are not tests); these check that every row is measured and every file written.

use nanobert::bench::matmul::{BenchOptions, Shape, run};
use nanobert::ops::matmul::Rung;

/// The benchmark runner end to end on a tiny shape: every configuration is reported, and the
/// CSV, Markdown and SVG files are written (no timing is checked: speed lives in benchmarks).
#[test]
fn bench_runner_smoke() {
    let out_dir = std::env::temp_dir().join(format!("nanobert-bench-smoke-{}", std::process::id()));
    let opts = BenchOptions {
        quick: true,
        threads: vec![1, 2],
        out_dir: out_dir.clone(),
        min_time: 0.0,
        print: false,
        shapes: Some(vec![Shape::linear(20, 30, 40, true), Shape::attention_context(2, 8, 4)]),
        passes: 2,
    };
    let report = run(&opts).unwrap();
    // Single-threaded rungs once, rung 4 and matrixmultiply at both thread counts, per shape;
    // prepacked at both thread counts on the Linear shape only (its B is a weight).
    let per_shape = Rung::ladder().len() - 1 + 2 * 2;
    assert_eq!(report.results.len(), 2 * per_shape + 2);
    let prepacked: Vec<&str> = report
        .results
        .iter()
        .filter(|r| r.implementation.name().starts_with("prepacked"))
        .map(|r| r.shape.name.as_str())
        .collect();
    assert_eq!(prepacked, ["20x30 · 40x30ᵀ"; 2]);
    assert_eq!(report.packing.len(), 1);
    assert!(report.results.iter().all(|r| r.gflops > 0.0 && r.reps >= 2), "{:?}", report.results);
    let csv = std::fs::read_to_string(&report.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + report.results.len());
    assert!(std::fs::read_to_string(&report.svg).unwrap().starts_with("<svg"));
    assert!(std::fs::read_to_string(&report.markdown).unwrap().contains("| shape (GFLOP/s) |"));
    std::fs::remove_dir_all(out_dir).ok();
}

/// A tiny random BERT checkpoint in a temporary directory (2 layers, hidden 32).
fn tiny_checkpoint() -> tempfile::TempDir {
    use nanobert::bench::models::{tiny_config, write_random_checkpoint};
    let dir = tempfile::tempdir().unwrap();
    write_random_checkpoint(dir.path(), &tiny_config(), 1, None).unwrap();
    dir
}

/// The profile of one forward: the module spans nest as the model does, every op lies inside
/// the forward, the op rows add up to the forward exactly, and the GEMM flops recorded are
/// the model's (the Linear layers, the two attention products per head, the pooler).
#[test]
fn profile_accounts_for_the_whole_forward() {
    use nanobert::bert::{BertInput, BertModel};
    use nanobert::io::Checkpoint;
    use nanobert::profile::{self, Kind};
    let dir = tiny_checkpoint();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    let cfg = nanobert::bert::BertConfig::from_json(&ckpt.config_json).unwrap();
    let model = BertModel::load(&ckpt.weights, "bert.", &cfg, true).unwrap();
    let (b, s) = (3, 7);
    let ids = nanobert::bench::models::random_ids(cfg.vocab_size, b, s, 5);
    let input = BertInput::new(&ids, None, None, b, s).unwrap();
    let unprofiled = model.forward(&input, false).unwrap().last_hidden_state;
    let (out, prof) = profile::record(|| model.forward(&input, false).unwrap());
    // Profiling does not change the numbers.
    assert_eq!(out.last_hidden_state.to_vec(), unprofiled.to_vec());
    let fwd = prof.scoped("BertModel");
    let modules: Vec<(&str, usize)> = fwd.modules().iter().map(|r| (r.name, r.calls)).collect();
    for (name, calls) in [
        ("BertModel", 1),
        ("BertEmbeddings", 1),
        ("BertLayer", 2),
        ("BertAttention", 2),
        ("BertSelfAttention", 2),
        ("BertSelfOutput", 2),
        ("BertIntermediate", 2),
        ("BertOutput", 2),
        ("BertPooler", 1),
    ] {
        assert!(modules.contains(&(name, calls)), "{name} x{calls} missing from {modules:?}");
    }
    let root = &fwd.events[0];
    assert_eq!((root.name, root.depth), ("BertModel", 0));
    for e in fwd.events.iter().filter(|e| e.kind == Kind::Op) {
        assert!(e.start_ns >= root.start_ns && e.start_ns + e.dur_ns <= root.start_ns + root.dur_ns, "{e:?}");
        assert!(e.depth >= 1, "{e:?}");
    }
    let ops = fwd.ops();
    assert_eq!(ops.iter().map(|r| r.total_ns).sum::<u64>(), fwd.total_ns);
    assert_eq!(fwd.total_ns, root.dur_ns);
    let (h, i, l, nh) = (cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers, cfg.num_attention_heads);
    let t = b * s;
    let linear = 2 * t * (4 * h * h + 2 * h * i) * l + 2 * b * h * h;
    let attention = 4 * b * nh * s * s * (h / nh) * l;
    let flops: u64 = ops.iter().map(|r| r.flops).sum();
    assert_eq!(flops, (linear + attention) as u64, "{ops:?}");
    assert!(fwd.op_coverage() > 0.0 && fwd.op_coverage() <= 1.0);
}

/// `embed --profile --profile-out`: the tables on stderr, embeddings on stdout unchanged, and
/// a Chrome trace that parses, with one complete event per span.
#[test]
fn cli_profile_writes_tables_and_trace() {
    let dir = tiny_checkpoint();
    let trace = dir.path().join("trace.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert"))
        .args(["--model", dir.path().to_str().unwrap(), "--profile-out", trace.to_str().unwrap()])
        .args(["embed", "--json", "aaxx abxx", "acxx"])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for line in stdout.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    for want in ["Per module", "BertSelfAttention |", "Per op", "| gemm |", "% of FP32 peak", "CPU: "] {
        assert!(stderr.contains(want), "{want:?} not in:\n{stderr}");
    }
    let trace: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = trace["traceEvents"].as_array().unwrap();
    assert!(events.iter().any(|e| e["name"] == "BertModel" && e["ph"] == "X"));
    assert!(events.iter().all(|e| e["dur"].as_f64().unwrap() >= 0.0));
    // Not a command that runs the model: a clear error.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert")).args(["--profile", "fetch"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("apply to the commands that run the model"));
}
