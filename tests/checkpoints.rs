//! The checkpoint matrix: every directory in tests/fixtures/checkpoints/ (written by
//! scripts/make_checkpoint_fixtures.py with transformers / sentence-transformers) loaded by
//! nanobert, compared with what the Python libraries computed on it.

mod common;

use std::path::{Path, PathBuf};

use nanobert::io::Checkpoint;
use nanobert::pipeline::Embedder;
use nanobert::text::Tokenizer;
use serde_json::Value;

const DIR: &str = "tests/fixtures/checkpoints";

fn fixture(name: &str) -> PathBuf {
    Path::new(DIR).join(name)
}

fn expected(name: &str) -> Value {
    let path = fixture(&format!("{name}.expected.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/make_checkpoint_fixtures.py)", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

fn u32s(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect()
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect()
}

/// Compares vectors, failing on NaN, a length mismatch or any entry off by more than `tol`.
#[track_caller]
fn assert_rows_close(what: &str, got: &[Vec<f32>], want: &[Vec<f32>], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: number of rows");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.len(), w.len(), "{what}: row {i} width");
        let d = common::max_abs_diff(g, w);
        assert!(g.iter().all(|x| !x.is_nan()), "{what}: row {i} has NaN: {g:?}");
        assert!(d <= tol, "{what}: row {i} max abs diff {d} > {tol}\n got  {g:?}\n want {w:?}");
    }
}

/// Loads `st-<case>` and checks every run (each prompt) against sentence-transformers.
fn check_st(name: &str) -> Embedder {
    let exp = expected(name);
    let ckpt = Checkpoint::open(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let e = Embedder::from_checkpoint(&ckpt).unwrap_or_else(|e| panic!("{name}: {e}"));
    for run in exp["runs"].as_array().unwrap() {
        let texts = strs(&run["texts"]);
        let prompt = run["prompt_name"].as_str();
        // The token ids first: a tokenizer difference explains any embedding difference.
        if let Some(p) = run["prompt"].as_str().or(Some("")) {
            let full: Vec<String> = texts.iter().map(|t| format!("{p}{t}")).collect();
            for (t, ids) in full.iter().zip(run["input_ids"].as_array().unwrap()) {
                let b = e.tokenizer.encode_batch(&[t.as_str()]).unwrap();
                assert_eq!(b.input_ids, u32s(ids), "{name}: token ids of {t:?}");
            }
        }
        let got = e.embed_with_prompt(&texts, prompt).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want: Vec<Vec<f32>> = run["embeddings"].as_array().unwrap().iter().map(f32s).collect();
        assert_rows_close(&format!("{name} (prompt {prompt:?})"), &got, &want, 1e-4);
    }
    assert_eq!(e.dimension().unwrap() as u64, exp["embedding_dimension"].as_u64().unwrap());
    // model.similarity(query, docs) with the model's similarity_fn_name, through Embedder::rank.
    let sim = &exp["similarity"];
    assert_eq!(e.similarity_fn().name(), sim["fn"].as_str().unwrap(), "{name}: similarity_fn_name");
    let docs = strs(&sim["docs"]);
    let want = f32s(&sim["scores"]);
    let ranked = e.rank(sim["query"].as_str().unwrap(), &docs).unwrap();
    assert_eq!(ranked.len(), want.len(), "{name}: ranked documents");
    for w in ranked.windows(2) {
        assert!(w[0].0 >= w[1].0, "{name}: not sorted best first: {ranked:?}");
    }
    for &(score, i) in &ranked {
        // Relative for dot products (values ~100), absolute 1e-4 near 0.
        let tol = 1e-4 * want[i].abs().max(1.0);
        assert!((score - want[i]).abs() <= tol, "{name}: {} of doc {i}: {score} vs {}", sim["fn"], want[i]);
    }
    e
}

#[test]
fn pooling_cls() {
    check_st("st-cls");
}

#[test]
fn pooling_mean() {
    check_st("st-mean");
}

#[test]
fn pooling_max() {
    check_st("st-max");
}

/// sum / sqrt(number of tokens): a pooling mode that is easy to get wrong.
#[test]
fn pooling_mean_sqrt_len_tokens() {
    check_st("st-mean-sqrt-len");
}

#[test]
fn pooling_weightedmean() {
    check_st("st-weightedmean");
}

#[test]
fn pooling_lasttoken() {
    check_st("st-lasttoken");
}

/// `"pooling_mode": ["max", "cls", "mean_sqrt_len_tokens"]`, then Normalize: concatenated in
/// the listed order.
#[test]
fn pooling_several_modes_in_listed_order() {
    let e = check_st("st-multi");
    assert_eq!(e.dimension().unwrap(), 3 * 16);
}

/// The legacy boolean keys: concatenated in sentence-transformers' fixed order
/// (cls, max, mean, ..., weightedmean), whatever order the file lists them in.
#[test]
fn pooling_legacy_booleans() {
    check_st("st-multi-legacy");
}

/// Dense modules: 2_Dense (Tanh, 16 -> 12), 3_Dense (Identity, 12 -> 6, residual),
/// 4_Normalize. Without the Dense modules the width would be 16.
#[test]
fn dense_modules_then_normalize() {
    let e = check_st("st-dense");
    assert_eq!(e.dimension().unwrap(), 6);
    let v = e.embed(&["hello"]).unwrap();
    let norm: f32 = v[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "Normalize: norm {norm}");
}

/// The other activations by torch class name: ReLU on a Dense without bias (16 -> 10), Sigmoid
/// with a same-width residual (adds x), exact GELU with a residual projection (10 -> 7).
#[test]
fn dense_relu_no_bias_sigmoid_gelu_residuals() {
    let e = check_st("st-dense-activations");
    let names: Vec<String> = e.head.modules.iter().map(|m| m.describe()).collect();
    assert_eq!(
        names,
        ["Pooling(max)", "Dense(16 -> 10, ReLU)", "Dense(10 -> 10, Sigmoid)", "Dense(10 -> 7, GELU)"],
        "modules of st-dense-activations"
    );
}

/// The layout of sentence-transformers < 2: config, weights and tokenizer in `0_Transformer/`,
/// named by `modules.json`.
#[test]
fn transformer_in_a_subfolder() {
    check_st("st-subfolder");
}

/// Prompts from config_sentence_transformers.json: the default prompt when none is named,
/// `--prompt NAME` otherwise, and `include_prompt: false` leaves the prompt out of the mean.
#[test]
fn prompts_and_include_prompt_false() {
    let e = check_st("st-prompt");
    assert_eq!(e.prompt(None).unwrap(), Some("query: "));
    let err = e.embed_with_prompt(&["x"], Some("nope")).unwrap_err().to_string();
    assert!(err.contains("nope") && err.contains("query"), "{err}");
}

/// cls + lasttoken with the prompt excluded: cls is the first token after the prompt.
#[test]
fn prompt_excluded_from_cls_and_lasttoken() {
    check_st("st-prompt-cls");
}

/// sentence_bert_config.json `do_lower_case: true` on a cased
/// tokenizer lowercases first; also `max_seq_length` 6 truncates.
#[test]
fn sentence_bert_config_lowercase_and_max_seq_length() {
    let e = check_st("st-lowercase");
    let b = e.tokenizer.encode_batch(&["John works at Google in Berlin."]).unwrap();
    assert_eq!(b.seq_len, 6, "max_seq_length 6");
    // The same weights without the setting keep the case (and give other vectors).
    check_st("st-cased");
}

/// `tokenizer_args` in sentence_bert_config.json override tokenizer_config.json, as the keyword
/// arguments of `AutoTokenizer.from_pretrained`: the cased tokenizer lowercases, and
/// `model_max_length` 7 truncates.
#[test]
fn sentence_bert_config_tokenizer_args_override_tokenizer_config() {
    let e = check_st("st-tokenizer-args");
    let b = e.tokenizer.encode_batch(&["John works at Google in Berlin."]).unwrap();
    assert_eq!(b.seq_len, 7, "tokenizer_args model_max_length 7");
    assert_eq!(b.tokens[0][1], "john", "tokenizer_args do_lower_case");
}

/// Copies a fixture directory so a test can break one file of it.
fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let to = dst.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

fn edit_json(path: &Path, f: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    f(&mut v);
    std::fs::write(path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn unknown_module_or_setting_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("modules.json"), |v| {
        v[2]["type"] = "sentence_transformers.models.LayerNorm".into();
    });
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("sentence_transformers.models.LayerNorm"), "{err}");

    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("modules.json"), |v| v[2]["type"] = "my_package.Whitening".into());
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("my_package.Whitening"), "{err}");

    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("2_Dense/config.json"), |v| v["activation_function"] = "my_package.Swish".into());
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("my_package.Swish") && err.contains("2_Dense"), "{err}");

    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("1_Pooling/config.json"), |v| v["pooling_mode"] = "median".into());
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("median"), "{err}");

    copy_dir(&fixture("st-dense"), &d);
    std::fs::remove_file(d.join("2_Dense/model.safetensors")).unwrap();
    std::fs::write(d.join("2_Dense/pytorch_model.bin"), b"pickle").unwrap();
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("pytorch_model.bin"), "{err}");

    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("config_sentence_transformers.json"), |v| v["similarity_fn_name"] = "jaccard".into());
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("jaccard") && err.contains("config_sentence_transformers.json"), "{err}");

    // sentence_bert_config.json settings that would load the model differently.
    for (key, value, named) in [
        ("model_args", serde_json::json!({"torch_dtype": "float16"}), "torch_dtype"),
        ("config_args", serde_json::json!({"hidden_act": "relu"}), "hidden_act"),
        ("tokenizer_args", serde_json::json!({"padding_side": "left"}), "padding_side"),
        ("processing_kwargs", serde_json::json!({"text": {"max_length": 3}}), "processing_kwargs"),
    ] {
        copy_dir(&fixture("st-dense"), &d);
        edit_json(&d.join("sentence_bert_config.json"), |v| v[key] = value.clone());
        let err = Checkpoint::open(&d).unwrap_err().to_string();
        assert!(err.contains(named) && err.contains("sentence_bert_config.json"), "{key}: {err}");
    }
    // ... and ones that do not change the numbers.
    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("sentence_bert_config.json"), |v| {
        v["model_args"] = serde_json::json!({"attn_implementation": "eager", "torch_dtype": "float32"});
        v["config_args"] = serde_json::json!({"hidden_dropout_prob": 0.0});
    });
    Checkpoint::open(&d).unwrap();

    copy_dir(&fixture("st-dense"), &d);
    edit_json(&d.join("tokenizer_config.json"), |v| v["padding_side"] = "left".into());
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("padding_side"), "{err}");
}

// ------------------------------------------------------------------------------------------ tokenizer settings

/// Every tokenizer_config.json variant of the fixture, built over the real uncased vocab, must
/// give the ids transformers' AutoTokenizer gave.
#[test]
fn tokenizer_config_settings_match_autotokenizer() {
    let cases: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tokenizer-cases.json")).unwrap()).unwrap();
    let vocab = Path::new(cases["vocab"].as_str().unwrap());
    let full_json: Value =
        serde_json::from_str(&std::fs::read_to_string(cases["tokenizer_json"].as_str().unwrap()).unwrap()).unwrap();
    let mut failures = Vec::new();
    let cases = cases["cases"].as_array().unwrap();
    assert!(cases.len() >= 18);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(vocab, tmp.path().join("vocab.txt")).unwrap();
        if !case["tokenizer_config"].is_null() {
            std::fs::write(tmp.path().join("tokenizer_config.json"), case["tokenizer_config"].to_string()).unwrap();
        }
        if let Some(patch) = case["tokenizer_json_patch"].as_object() {
            let mut j = full_json.clone();
            for (key, fields) in patch {
                for (k, v) in fields.as_object().unwrap() {
                    j[key][k] = v.clone();
                }
            }
            std::fs::write(tmp.path().join("tokenizer.json"), j.to_string()).unwrap();
        }
        // Legacy files (special_tokens_map.json, added_tokens.json).
        for (file, content) in case["files"].as_object().into_iter().flatten() {
            std::fs::write(tmp.path().join(file), content.to_string()).unwrap();
        }
        let tok = Tokenizer::from_dir(tmp.path(), 512).unwrap_or_else(|e| panic!("{name}: {e}"));
        for row in case["rows"].as_array().unwrap() {
            let text = row["text"].as_str().unwrap();
            let b = match row["pair"].as_str() {
                Some(p) => tok.encode_pairs(&[(text, p)]).unwrap(),
                None => tok.encode_batch(&[text]).unwrap(),
            };
            let (want_ids, want_types) = (u32s(&row["ids"]), u32s(&row["type_ids"]));
            if b.input_ids != want_ids || b.token_type_ids != want_types {
                failures.push(format!(
                    "{name}: {text:?}\n   got  {:?} {:?}\n   want {:?} {:?}",
                    b.tokens[0], b.token_type_ids, row["tokens"], want_types
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} rows differ:\n{}", failures.len(), failures.join("\n"));
}

/// Lowercasing without stripping accents: `do_lower_case: true, strip_accents: false` keeps
/// the accents, so with the uncased vocab "Café naïve" is two unknown words.
#[test]
fn cafe_naive_keeps_accents_when_strip_accents_false() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy("tests/fixtures/tiny-bert/vocab.txt", tmp.path().join("vocab.txt")).unwrap();
    std::fs::write(tmp.path().join("tokenizer_config.json"), r#"{"do_lower_case": true, "strip_accents": false}"#)
        .unwrap();
    let tok = Tokenizer::from_dir(tmp.path(), 512).unwrap();
    assert_eq!(tok.encode_batch(&["Café naïve"]).unwrap().tokens[0], ["[CLS]", "[UNK]", "[UNK]", "[SEP]"]);
    std::fs::write(tmp.path().join("tokenizer_config.json"), r#"{"do_lower_case": true}"#).unwrap();
    let tok = Tokenizer::from_dir(tmp.path(), 512).unwrap();
    assert_eq!(tok.encode_batch(&["Café naïve"]).unwrap().tokens[0], ["[CLS]", "cafe", "naive", "[SEP]"]);
}

/// Every token the sentence-transformers fixtures' tokenizers can produce has a row in the
/// embedding table: the largest id in `tokenizer.json` is below `config.json`'s `vocab_size`.
/// (A token listed twice in a vocab.txt leaves a hole in the ids, and the last word's id then
/// falls off the end of a table sized by the number of distinct tokens.)
#[test]
fn fixture_token_ids_fit_the_embedding_table() {
    let mut checked = 0;
    for entry in std::fs::read_dir(DIR).unwrap() {
        let dir = entry.unwrap().path();
        let (tok, cfg) = (dir.join("tokenizer.json"), dir.join("config.json"));
        let st = dir.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("st-"));
        if !st || !tok.is_file() || !cfg.is_file() {
            continue;
        }
        let tok: Value = serde_json::from_str(&std::fs::read_to_string(&tok).unwrap()).unwrap();
        let cfg: Value = serde_json::from_str(&std::fs::read_to_string(&cfg).unwrap()).unwrap();
        let vocab = tok["model"]["vocab"].as_object().unwrap();
        let added = tok["added_tokens"].as_array().unwrap().iter().map(|t| &t["id"]);
        let max_id = vocab.values().chain(added).map(|v| v.as_u64().unwrap()).max().unwrap();
        let rows = cfg["vocab_size"].as_u64().unwrap();
        assert!(max_id < rows, "{}: token id {max_id} but the embedding table has {rows} rows", dir.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} fixture directories with a tokenizer.json");
}

/// `--precision int8` on a tiny checkpoint: SmoothQuant calibration runs the built-in
/// calibration text (every word of which must have an id in the table) through the model,
/// then the embeddings stay close to f32's.
#[test]
fn int8_conversion_of_a_tiny_checkpoint() {
    use nanobert::nn::to_precision;
    use nanobert::quant::Precision;
    let ckpt = Checkpoint::open(&fixture("st-mean")).unwrap();
    let f32 = Embedder::from_checkpoint(&ckpt).unwrap();
    let mut e = Embedder::from_checkpoint(&ckpt).unwrap();
    let plan = nanobert::pipeline::precision_plan(&e.model, &e.model, &e.tokenizer, Precision::Int8)
        .unwrap_or_else(|err| panic!("int8 plan for st-mean: {err}"));
    assert!(!plan.smooth.is_empty(), "calibration produced no SmoothQuant factors");
    to_precision(&mut e.model, &plan).unwrap();
    let texts = ["Hello world", "rain at night", "The lazy dog sat on the mat."];
    let (want, got) = (f32.embed(&texts).unwrap(), e.embed(&texts).unwrap());
    for ((t, w), g) in texts.iter().zip(&want).zip(&got) {
        let dot: f32 = w.iter().zip(g).map(|(a, b)| a * b).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let cos = dot / (norm(w) * norm(g));
        assert!(cos > 0.98, "{t:?}: int8 against f32 cosine {cos}");
    }
}
