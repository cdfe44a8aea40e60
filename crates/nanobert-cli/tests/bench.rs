//! The instruments (crates/nanobert-bench/src/): runners end to end on tiny inputs. Nothing here checks a
//! speed (timings are not tests); these check that every row is measured and every file written.

use nanobert::ops::matmul::Rung;
use nanobert_bench::matmul::{BenchOptions, Shape, run};

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

/// `bench matmul`'s lower-precision part on one-row products: every precision this CPU runs
/// is measured on each Linear shape at each thread count, against a positive peak of its own.
#[test]
fn bench_lower_precision_smoke() {
    use nanobert_bench::matmul_lowp::{LowpConfig, run_lowp};
    let pools: Vec<(usize, rayon::ThreadPool)> =
        [1, 2].iter().map(|&t| (t, rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap())).collect();
    let (rows, table) = run_lowp(&[2], &pools, 0.0).unwrap();
    let configs = LowpConfig::available();
    assert_eq!(rows.len(), 3 * 2 * configs.len());
    assert!(rows.iter().all(|r| r.gops > 0.0 && r.peak_gops > 0.0 && r.seconds.is_finite()), "{rows:?}");
    assert_eq!(table.lines().count(), 2 + rows.len());
    assert!(
        configs.iter().any(|c| c.name().starts_with("int8")) && configs.iter().any(|c| c.name().starts_with("bf16"))
    );
}

/// A tiny random BERT checkpoint in a temporary directory (2 layers, hidden 32).
fn tiny_checkpoint() -> tempfile::TempDir {
    use nanobert_bench::models::{tiny_config, write_random_checkpoint};
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
    let ids = nanobert_bench::models::random_ids(cfg.vocab_size, b, s, 5);
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

/// `bench forward` end to end on the tiny model: every case measured, a cold start through the
/// real binary, and the CSV, Markdown and SVG written (no speed is checked).
#[test]
fn forward_bench_smoke() {
    use nanobert_bench::forward::{BenchModel, ForwardOptions, run};
    let dir = tiny_checkpoint();
    let out = dir.path().join("out");
    let models = vec![BenchModel { name: "tiny".into(), dir: dir.path().to_path_buf() }];
    let opts = ForwardOptions {
        latency_seqs: vec![8, 32],
        batches: vec![1, 2],
        corpus_sentences: 12,
        corpus_max_params: usize::MAX,
        point_seconds: 0.0,
        print: false,
        ..ForwardOptions::quick(models, out.clone(), Some(env!("CARGO_BIN_EXE_nanobert").into()))
    };
    let report = run(&opts).unwrap();
    let cases: Vec<(&str, usize, usize)> = report.rows.iter().map(|r| (r.case, r.batch, r.seq)).collect();
    assert_eq!(&cases[..4], &[("latency", 1, 8), ("latency", 1, 32), ("throughput", 1, 128), ("throughput", 2, 128)]);
    assert_eq!(cases[4].0, "corpus");
    assert_eq!(cases[4].1, 12);
    assert!(report.rows.iter().all(|r| r.stats.reps >= 2 || r.case == "corpus"));
    assert!(report.rows.iter().all(|r| r.stats.min_s > 0.0 && r.stats.min_s <= r.stats.median_s));
    assert_eq!(report.cold.len(), 1);
    assert!(report.cold[0].peak_rss > 0 && report.cold[0].first_output_s >= report.cold[0].load_s);
    let csv = std::fs::read_to_string(&report.csv).unwrap();
    assert_eq!(csv.lines().count(), 1 + report.rows.len() + 3);
    assert!(std::fs::read_to_string(&report.svg).unwrap().starts_with("<svg"));
    let md = std::fs::read_to_string(&report.markdown).unwrap();
    for want in ["Latency at batch 1", "batch-size sweep", "Corpus: 12 sentences", "Cold start", "host steal", "CPU: "]
    {
        assert!(md.contains(want), "{want:?} not in {md}");
    }
    // The corpus is written for other tools, with lengths inside the promised range.
    let corpus = std::fs::read_to_string(out.join("corpus.txt")).unwrap();
    assert_eq!(corpus.lines().count(), 12);
}

/// The corpus generator: deterministic, mixed lengths within 5-128 tokens (words + 2).
#[test]
fn corpus_is_seeded_and_mixed() {
    let dir = tiny_checkpoint();
    let vocab = dir.path().join("vocab.txt");
    let a = nanobert_bench::models::corpus(&vocab, 300, 7).unwrap();
    assert_eq!(a, nanobert_bench::models::corpus(&vocab, 300, 7).unwrap());
    assert_ne!(a, nanobert_bench::models::corpus(&vocab, 300, 8).unwrap());
    let lens: Vec<usize> = a.iter().map(|s| s.split(' ').count() + 2).collect();
    assert!(lens.iter().all(|&l| (5..=128).contains(&l)), "{lens:?}");
    assert!(lens.iter().filter(|&&l| l <= 32).count() > 100 && lens.iter().filter(|&&l| l > 64).count() > 20);
}

/// `bench threads` on the tiny model, with the two-process runs through the real binary.
#[test]
fn threads_bench_smoke() {
    use nanobert_bench::threads::{ThreadsOptions, run};
    let dir = tiny_checkpoint();
    let mut opts = ThreadsOptions::new(
        dir.path().to_path_buf(),
        "tiny".into(),
        dir.path().join("out"),
        Some(env!("CARGO_BIN_EXE_nanobert").into()),
        true,
    );
    opts.threads = vec![1, 2];
    opts.rounds = 2;
    opts.child_seconds = 0.2;
    opts.print = false;
    let md = run(&opts).unwrap();
    for want in ["| 1 |", "| 2 |", "2 processes x 1 thread each", "total sequences/s"] {
        assert!(md.contains(want), "{want:?} not in {md}");
    }
    assert!(dir.path().join("out/threads.csv").is_file());
}

/// `bench batching` on the tiny model: three modes, the padding of each, the files written.
#[test]
fn batching_bench_smoke() {
    use nanobert_bench::batching::{BatchingOptions, run};
    use nanobert_bench::forward::BenchModel;
    let dir = tiny_checkpoint();
    let model = BenchModel { name: "tiny".into(), dir: dir.path().to_path_buf() };
    let mut opts = BatchingOptions::new(vec![model], dir.path().join("out"), true);
    opts.sentences = 40;
    opts.batch_size = 8;
    opts.print = false;
    let md = run(&opts).unwrap();
    for want in ["| one by one | 40 |", "| input order | 5 |", "| bucketed | 5 |", "| 0.0% |", "1.00x", "load average"]
    {
        assert!(md.contains(want), "{want:?} not in {md}");
    }
    let csv = std::fs::read_to_string(dir.path().join("out/batching.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    // Bucketing never computes more positions than input order on the same texts.
    let computed: Vec<usize> =
        csv.lines().skip(1).map(|l| l.split(',').rev().nth(11).unwrap().parse().unwrap()).collect();
    assert!(computed[2] <= computed[1] && computed[0] <= computed[2], "{computed:?}");
}

/// Without the Python packages, `bench --compare` says how to install them (tests never need
/// Python: a missing interpreter stands in for a missing package).
#[test]
fn compare_without_python_says_how_to_install() {
    let script = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).join("scripts/bench_compare.py");
    let err = nanobert_bench::compare::check_python("/nonexistent/python3", &script).unwrap_err().to_string();
    assert!(err.contains("pip install -r scripts/requirements-bench.txt"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert"))
        .args(["bench", "--compare", "--quick"])
        .env("NANOBERT_PYTHON", "/nonexistent/python3")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("requirements-bench.txt"));
}

/// `bench graph` end to end on tiny-bert: every configuration timed, the file written (no
/// timing is checked).
#[test]
fn bench_graph_smoke() {
    use nanobert_bench::forward::BenchModel;
    use nanobert_bench::graph::{GraphOptions, run};
    let out_dir = std::env::temp_dir().join(format!("nanobert-bench-graph-{}", std::process::id()));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/tiny-bert");
    let model = BenchModel { name: "tiny-bert".into(), dir };
    let md = run(&GraphOptions { models: vec![(model, vec![(2, 100)])], rounds: 2, out_dir: out_dir.clone() }).unwrap();
    for row in ["| compiled |", "| compiled, no memory plan |", "| no passes |", "| eager modules |"] {
        assert!(md.contains(row), "{row} missing: {md}");
    }
    assert!(md.contains("batch 2 x seq 64"), "seq capped at the model's positions: {md}");
    assert_eq!(std::fs::read_to_string(out_dir.join("graph.md")).unwrap(), md);
    std::fs::remove_dir_all(out_dir).ok();
}
