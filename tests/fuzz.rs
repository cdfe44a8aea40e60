//! Fuzzing on stable Rust: the checkpoint loader (safetensors bytes, config.json)
//! and tokenize -> forward on the tiny fixture model, driven by random and mutated inputs.
//! Nothing may panic: every input gives `Ok` (with finite numbers) or an `Err` with a message.
//!
//! In the suite each property runs a few dozen cases (seconds). For a long run here:
//!
//! ```sh
//! NANOBERT_FUZZ_CASES=20000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! A failing input is shrunk by proptest and saved in `tests/fuzz.proptest-regressions`, which
//! is replayed first on every later run: commit that file (and add an explicit test below for
//! the crash) so every crash input stays a regression test.

mod common;

use std::path::Path;

use common::fixture;
use nanobert::io::{Checkpoint, SaveTensor, Weights, save};
use nanobert::pipeline::{Embedder, FillMask};
use nanobert::tensor::Rng;
use nanobert::{Result, Tensor};
use proptest::prelude::*;

/// Cases per property: `NANOBERT_FUZZ_CASES`, else `default`.
fn cases(default: u32) -> ProptestConfig {
    let n = std::env::var("NANOBERT_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    ProptestConfig { cases: n, max_shrink_iters: 2000, ..ProptestConfig::default() }
}

/// A small valid safetensors file: f32, f16-as-f32 and i64 tensors of awkward shapes.
fn valid_file(dir: &Path) -> Vec<u8> {
    let p = dir.join("seed.safetensors");
    save(
        &p,
        &[
            ("a", SaveTensor::F32(Tensor::randn(&[3, 4], 1))),
            ("empty", SaveTensor::F32(Tensor::zeros(&[0, 5]))),
            ("scalar", SaveTensor::F32(Tensor::full(&[], 2.5))),
            ("ids", SaveTensor::i64_from(&[1u32, 2, 3], &[3])),
        ],
    )
    .unwrap();
    std::fs::read(&p).unwrap()
}

/// Mutations of a byte string: flip, set, insert, delete, truncate, and (often) inside the
/// 8-byte length prefix or the JSON header, where parsers break.
fn mutate(bytes: &[u8], seed: u64, rounds: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut b = bytes.to_vec();
    let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for _ in 0..rounds {
        if b.is_empty() {
            b.push(rng.next_u64() as u8);
            continue;
        }
        let r = rng.next_u64();
        let pos =
            if r.is_multiple_of(3) { (r >> 8) as usize % b.len() } else { (r >> 8) as usize % header_end.min(b.len()) };
        match (r >> 40) % 7 {
            0 => b[pos] ^= 1 << ((r >> 48) % 8),
            1 => b[pos] = (r >> 48) as u8,
            2 => b.insert(pos, (r >> 48) as u8),
            3 => {
                b.remove(pos);
            }
            4 => b.truncate(pos),
            5 => {
                // A digit in the header: shapes and offsets change.
                b[pos] = b'0' + ((r >> 48) % 10) as u8;
            }
            _ => {
                let k = 8.min(b.len());
                b[..k].copy_from_slice(&(r >> 16).to_le_bytes()[..k]);
            }
        }
    }
    b
}

/// Opens mutated bytes as safetensors and reads every tensor: must not panic.
fn load_all(path: &Path) -> Result<usize> {
    let w = Weights::open(path)?;
    let mut n = 0;
    for name in w.names() {
        if let Ok(t) = w.get(&name) {
            n += t.to_vec().len();
        }
        let _ = w.get_i64(&name);
    }
    let _ = nanobert::finite::non_finite_tensors(&w);
    Ok(n)
}

proptest! {
    #![proptest_config(cases(48))]

    #[test]
    fn safetensors_loader_never_panics_on_mutated_files(seed: u64, rounds in 1usize..6) {
        let dir = tempfile::tempdir().unwrap();
        let bytes = mutate(&valid_file(dir.path()), seed, rounds);
        let p = dir.path().join("m.safetensors");
        std::fs::write(&p, &bytes).unwrap();
        if let Err(e) = load_all(&p) {
            let msg = e.to_string();
            prop_assert!(msg.contains("m.safetensors") || msg.contains("tensor"), "error names nothing: {}", msg);
        }
    }

    #[test]
    fn safetensors_loader_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.safetensors");
        std::fs::write(&p, &bytes).unwrap();
        let _ = load_all(&p);
    }

    /// config.json with values replaced by random JSON (numbers of any size and sign, strings,
    /// nulls): Checkpoint::open + model load + one forward either work or give an error.
    #[test]
    fn config_and_model_load_never_panic(key in 0usize..12, value in json_value()) {
        let keys = [
            "hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size",
            "max_position_embeddings", "type_vocab_size", "layer_norm_eps", "hidden_act", "model_type",
            "architectures", "position_embedding_type",
        ];
        let dir = tempfile::tempdir().unwrap();
        let src = fixture("tiny-bert");
        for f in ["model.safetensors", "tokenizer.json", "vocab.txt"] {
            std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
        }
        let mut cfg: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
        cfg[keys[key]] = value;
        std::fs::write(dir.path().join("config.json"), cfg.to_string()).unwrap();
        let run = || -> Result<Vec<Vec<f32>>> {
            let ckpt = Checkpoint::open(dir.path())?;
            Embedder::from_checkpoint(&ckpt)?.embed(&["hello world"])
        };
        if let Ok(v) = run() {
            prop_assert!(v[0].iter().all(|x| x.is_finite()), "{} = {}: non-finite embedding", keys[key], cfg[keys[key]]);
        }
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        (0u64..5000).prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        "[a-z_]{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::Null),
        Just(serde_json::json!(["RobertaModel"])),
        Just(serde_json::json!([])),
    ]
}

/// Text: arbitrary Unicode, control characters, special tokens and very long inputs.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,80}",
        prop::collection::vec(
            prop_oneof![
                Just("[MASK]".to_string()),
                Just("[CLS]".to_string()),
                Just("[SEP]".to_string()),
                Just("[PAD]".to_string()),
                Just("\u{200b}".to_string()),
                Just("\n".to_string()),
                Just("naïve".to_string()),
                Just("東京".to_string()),
                Just("🙂".to_string()),
                "[a-z]{1,10}",
            ],
            0..120
        )
        .prop_map(|v| v.join(" ")),
    ]
}

fn models() -> &'static (Embedder, FillMask) {
    static M: std::sync::OnceLock<(Embedder, FillMask)> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let ckpt = Checkpoint::open(&fixture("tiny-bert")).unwrap();
        (Embedder::from_checkpoint(&ckpt).unwrap(), FillMask::from_checkpoint(&ckpt).unwrap())
    })
}

proptest! {
    #![proptest_config(cases(48))]

    /// tokenize -> forward: any batch of texts gives finite embeddings, or an error saying which
    /// text is empty; fill-mask gives probabilities, or an error about [MASK] / emptiness.
    #[test]
    fn tokenize_forward_never_panics(texts in prop::collection::vec(text(), 1..5), top_k in 1usize..8) {
        let (embedder, fill_mask) = models();
        let strs: Vec<&str> = texts.iter().map(String::as_str).collect();
        match embedder.embed(&strs) {
            Ok(v) => {
                prop_assert_eq!(v.len(), strs.len());
                prop_assert!(v.iter().flatten().all(|x| x.is_finite()));
            }
            Err(e) => prop_assert!(e.to_string().contains("empty"), "unexpected error: {}", e),
        }
        match fill_mask.predict(&strs, top_k) {
            Ok(r) => {
                for m in r.iter().flat_map(|r| &r.masks) {
                    prop_assert!(m.top.len() == top_k && m.top.iter().all(|c| (0.0..=1.0).contains(&c.score)));
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains("[MASK]") || msg.contains("empty"), "unexpected error: {}", msg);
                prop_assert!(msg.len() < 400, "quotes too much: {}", msg);
            }
        }
    }
}

/// Regression (found by `config_and_model_load_never_panic`): a negative, zero or overflowing
/// `layer_norm_eps` is refused instead of giving NaN embeddings.
#[test]
fn bad_layer_norm_eps_is_refused() {
    let src = fixture("tiny-bert");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    for eps in [serde_json::json!(-1e300), serde_json::json!(0.0), serde_json::json!(1e300), serde_json::json!(-1e-12)]
    {
        let mut c = cfg.clone();
        c["layer_norm_eps"] = eps.clone();
        let e = nanobert::bert::BertConfig::from_json(&c).unwrap_err().to_string();
        assert!(e.contains("layer_norm_eps"), "{eps}: {e}");
    }
}
