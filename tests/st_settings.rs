//! Every setting current sentence-transformers writes is honoured or refused by name, against
//! models it saved itself and the outputs it computed (`tests/fixtures/pipelines/`, written by
//! `scripts/make_pipeline_fixtures.py`): `truncate_dim`, and the CrossEncoder format of
//! sentence-transformers 6 (`model_type`, `activation_fn` in `config_sentence_transformers.json`,
//! a sequence-classification Transformer module), identity activation included.

use std::path::{Path, PathBuf};

use nanobert::io::Checkpoint;
use nanobert::pipeline::{Embedder, Reranker};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines").join(rel)
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("st.json")).unwrap()).unwrap()
}

fn vecs(v: &Value) -> Vec<Vec<f32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect())
        .collect()
}

#[test]
fn truncate_dim_cuts_the_embeddings_after_every_module() {
    let exp = &expected()["st-truncate-dim"];
    let e = Embedder::from_checkpoint(&Checkpoint::open(&fixture("st-truncate-dim")).unwrap()).unwrap();
    let texts: Vec<&str> = exp["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let got = e.embed(&texts).unwrap();
    let (want, full) = (vecs(&exp["embeddings"]), vecs(&exp["full_embeddings"]));
    assert!(want[0].len() == 4 && full[0].len() > 4, "the fixture must truncate");
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), w.len(), "truncate_dim");
        assert!(g.iter().zip(w).all(|(a, b)| (a - b).abs() < 1e-5), "ours {g:?}, sentence-transformers {w:?}");
    }
    // Cut after Normalize, as sentence-transformers does: no longer unit length.
    let norm: f32 = got[0].iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() > 1e-3, "norm {norm}");
}

#[test]
fn cross_encoders_saved_by_sentence_transformers_6_score_as_it_does() {
    let all = expected();
    for (name, activation) in [("ce-identity", "Identity"), ("ce-sigmoid", "Sigmoid")] {
        let exp = &all[name];
        assert_eq!(exp["activation_fn"], activation);
        let r = Reranker::from_checkpoint(&Checkpoint::open(&fixture(name)).unwrap()).unwrap();
        let docs: Vec<&str> = exp["docs"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        let q = exp["query"].as_str().unwrap();
        let pairs: Vec<(&str, &str)> = docs.iter().map(|&d| (q, d)).collect();
        let scores = r.score_pairs(&pairs).unwrap();
        for ((logit, score), want) in scores.iter().zip(exp["scores"].as_array().unwrap()) {
            let want = want.as_f64().unwrap() as f32;
            assert!((score - want).abs() < 1e-5, "{name}: score {score}, sentence-transformers {want}");
            if activation == "Identity" {
                assert_eq!(logit, score, "{name}: an identity activation returns the logit");
            }
        }
        let order: Vec<u64> = r.rerank(q, &docs).unwrap().iter().map(|x| x.index as u64).collect();
        let want: Vec<u64> = exp["rank"].as_array().unwrap().iter().map(|x| x["corpus_id"].as_u64().unwrap()).collect();
        assert_eq!(order, want, "{name}: rank");
    }
}

#[test]
fn a_cross_encoder_is_not_an_embedding_model() {
    let err = Embedder::from_checkpoint(&Checkpoint::open(&fixture("ce-identity")).unwrap()).err().unwrap().to_string();
    assert!(err.contains("CrossEncoder") && err.contains("rerank"), "{err}");
}

/// A copy of a fixture directory with `config_sentence_transformers.json` patched by `edit`.
fn patched(name: &str, tag: &str, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> PathBuf {
    let src = fixture(name);
    let dst = std::env::temp_dir().join(format!("nanobert-st-settings-{}-{tag}", std::process::id()));
    copy_dir(&src, &dst);
    let path = dst.join("config_sentence_transformers.json");
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(v.as_object_mut().unwrap());
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    dst
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to)
        } else {
            std::fs::copy(e.path(), to).map(drop).unwrap()
        }
    }
}

#[test]
fn unknown_settings_and_types_are_refused_by_name() {
    let d = patched("st-truncate-dim", "unknown", |m| {
        m.insert("output_dimension_scale".into(), Value::from(2));
    });
    let err = Checkpoint::open(&d).err().unwrap().to_string();
    assert!(err.contains("output_dimension_scale") && err.contains("config_sentence_transformers.json"), "{err}");
    let d = patched("st-truncate-dim", "sparse", |m| {
        m.insert("model_type".into(), Value::from("SparseEncoder"));
    });
    let err = Checkpoint::open(&d).err().unwrap().to_string();
    assert!(err.contains("SparseEncoder"), "{err}");
    let d = patched("ce-identity", "softmax", |m| {
        m.insert("activation_fn".into(), Value::from("torch.nn.modules.activation.Softmax"));
    });
    let err = Reranker::from_checkpoint(&Checkpoint::open(&d).unwrap()).err().unwrap().to_string();
    assert!(err.contains("Softmax"), "{err}");
    // Harmless keys the CrossEncoder may write are accepted.
    let d = patched("ce-identity", "fp32", |m| {
        m.insert("keep_in_fp32_modules".into(), Value::from(vec!["classifier"]));
    });
    assert!(Reranker::from_checkpoint(&Checkpoint::open(&d).unwrap()).is_ok());
}

/// Added tokens with every flag (`single_word`, `lstrip`, `rstrip`, `normalized`), special and
/// plain, tokenized as transformers tokenizes them: from `tokenizer_config.json`'s
/// `added_tokens_decoder` over a `vocab.txt`, and from the directory transformers saved.
#[test]
fn added_tokens_honour_every_flag_as_transformers() {
    let exp = &expected()["added-tokens"];
    for dir in ["added-tokens", "added-tokens-saved"] {
        let tok = nanobert::text::Tokenizer::from_dir(&fixture(dir), 64).unwrap();
        for row in exp["rows"].as_array().unwrap() {
            let text = row["text"].as_str().unwrap();
            let want: Vec<u32> = row["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
            let got = tok.encode_batch(&[text]).unwrap().input_ids;
            let names: Vec<String> = got.iter().map(|&i| tok.id_to_token(i).unwrap_or_default()).collect();
            assert_eq!(got, want, "{dir}: {text:?}: ours {names:?}, transformers {}", row["tokens"]);
            // lstrip / rstrip show in the offsets: the token's span takes the spaces beside it.
            let offsets: Vec<(usize, usize)> = row["offsets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| (o[0].as_u64().unwrap() as usize, o[1].as_u64().unwrap() as usize))
                .collect();
            assert_eq!(tok.encode_with_offsets(text, None).unwrap().offsets, offsets, "{dir}: {text:?}: offsets");
        }
    }
}
