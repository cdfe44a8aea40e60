//! Every fusion of the BERT forward is tied to the unfused path: the same model,
//! the same padded batch, the fusion on and off, outputs within 1e-5. And the attention
//! kernels (plain, online softmax) against each other and against PyTorch's rules for NaN and
//! fully masked rows.

use nanobert::Tensor;
use nanobert::bert::attention::{AttentionScratch, AttentionShape, attention_into};
use nanobert::bert::{BertConfig, BertInput, BertModel, Fusion, Init, Workspace};

fn model(layers: usize, max_pos: usize) -> BertModel {
    let cfg: BertConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 97, "hidden_size": 48, "num_hidden_layers": layers, "num_attention_heads": 3,
        "intermediate_size": 96, "max_position_embeddings": max_pos
    }))
    .unwrap();
    BertModel::load(&Init { std: 0.3, seed: 11 }, "bert.", &cfg, false).unwrap()
}

/// A padded batch: sequence `i` has `seq - 3 i` real tokens.
fn batch(b: usize, s: usize) -> (Vec<u32>, Vec<u32>, Vec<u32>) {
    let ids = (0..b * s).map(|i| ((i * 31 + 7) % 97) as u32).collect();
    let mask = (0..b * s).map(|i| u32::from(i % s < s - 3 * (i / s))).collect();
    let types = (0..b * s).map(|i| u32::from(i % s >= s / 2)).collect();
    (ids, mask, types)
}

fn run(m: &BertModel, b: usize, s: usize, fusion: &Fusion) -> Vec<f32> {
    let (ids, mask, types) = batch(b, s);
    let input = BertInput::new(&ids, Some(&mask), Some(&types), b, s).unwrap();
    let mut ws = Workspace::new();
    m.forward_with(&input, &mut ws, fusion).unwrap();
    ws.last_hidden_state().to_vec()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| if x.is_nan() || y.is_nan() { f32::INFINITY } else { (x - y).abs() })
        .fold(0.0, f32::max)
}

#[test]
fn each_fusion_on_equals_off() {
    let m = model(2, 64);
    let (b, s) = (3, 37); // 37: not a multiple of the query block or the SIMD lanes
    let all = run(&m, b, s, &Fusion::all());
    let none = run(&m, b, s, &Fusion::none());
    let d = max_diff(&all, &none);
    println!("all fusions vs none: max |diff| = {d:.2e}");
    assert!(d < 1e-5, "all vs none: {d}");
    for (name, _) in Fusion::NAMES {
        let off = run(&m, b, s, &Fusion::all().without(name).unwrap());
        let only = run(&m, b, s, &Fusion::none().with(name).unwrap());
        let (d_off, d_only) = (max_diff(&all, &off), max_diff(&none, &only));
        println!("{name:>9}: on vs off (others on) {d_off:.2e}, on vs off (others off) {d_only:.2e}");
        assert!(d_off < 1e-5 && d_only < 1e-5, "{name}: {d_off} / {d_only}");
    }
}

#[test]
fn workspace_forward_equals_the_tensor_forward_and_reuse_changes_nothing() {
    let m = model(2, 64);
    let (ids, mask, types) = batch(2, 20);
    let input = BertInput::new(&ids, Some(&mask), Some(&types), 2, 20).unwrap();
    let out = m.forward(&input, true).unwrap();
    // Layer by layer through the tensor API (BertLayer::forward) gives the same states.
    let mut x = out.hidden_states[0].clone();
    for (i, layer) in m.encoder.layer.0.iter().enumerate() {
        x = layer.forward(&x, &input.additive_mask()).unwrap();
        assert!(max_diff(&x.to_vec(), &out.hidden_states[i + 1].to_vec()) < 1e-6, "layer {i}");
    }
    // A workspace sized by a bigger batch, then reused for a smaller one: same numbers.
    let mut ws = Workspace::new();
    let (big_ids, big_mask, _) = batch(4, 33);
    m.forward_with(&BertInput::new(&big_ids, Some(&big_mask), None, 4, 33).unwrap(), &mut ws, &Fusion::all()).unwrap();
    m.forward_with(&input, &mut ws, &Fusion::all()).unwrap();
    assert_eq!(ws.shape(), [2, 20, 48]);
    assert!(max_diff(ws.last_hidden_state(), &out.last_hidden_state.to_vec()) == 0.0);
}

#[test]
fn online_softmax_equals_plain_attention_at_every_length() {
    let m = model(1, 600);
    for s in [5, 37, 128, 129, 300] {
        let plain = run(&m, 2, s, &Fusion { flash: false, ..Fusion::all() });
        let flash = run(&m, 2, s, &Fusion { flash: true, flash_min_seq: 0, ..Fusion::all() });
        let d = max_diff(&plain, &flash);
        println!("seq {s}: online softmax vs plain, max |diff| = {d:.2e}");
        assert!(d < 1e-5, "seq {s}: {d}");
    }
}

/// Attention of one sequence, two heads of 4, on both paths.
fn attend(q: &[f32], k: &[f32], v: &[f32], mask: &[f32], s: usize, flash: bool) -> Vec<f32> {
    let shape = AttentionShape { batch: 1, seq: s, heads: 2, head_dim: 4 };
    let mut out = vec![0.0; s * 8];
    let fusion = Fusion { flash, flash_min_seq: 0, ..Fusion::all() };
    attention_into(shape, q, k, v, 8, mask, &mut out, &AttentionScratch::default(), fusion.attention_kernel()).unwrap();
    out
}

#[test]
fn attention_nan_and_masked_rows_follow_pytorch() {
    let s = 150; // two key blocks on the online path
    let r = |seed| Tensor::randn(&[s, 8], seed).to_vec();
    let (q, k, v) = (r(1), r(2), r(3));
    for flash in [false, true] {
        // A NaN in one query row: that row's head is NaN, other rows and heads are not.
        let mut qn = q.clone();
        qn[5 * 8] = f32::NAN;
        let out = attend(&qn, &k, &v, &vec![0.0; s], s, flash);
        assert!(out[5 * 8..5 * 8 + 4].iter().all(|x| x.is_nan()), "flash {flash}: NaN row lost its NaN");
        assert!(out[5 * 8 + 4..5 * 8 + 8].iter().all(|x| x.is_finite()));
        assert!(out[6 * 8..].iter().all(|x| x.is_finite()));
        // A NaN in one key: every row attending to it is NaN (as in PyTorch).
        let mut kn = k.clone();
        kn[140 * 8] = f32::NAN;
        let out = attend(&q, &kn, &v, &vec![0.0; s], s, flash);
        assert!(out.chunks(8).all(|row| row[..4].iter().all(|x| x.is_nan())), "flash {flash}");
        // BERT's mask (most negative finite f32) everywhere: uniform weights, the mean of V.
        let out = attend(&q, &k, &v, &vec![f32::MIN; s], s, flash);
        for j in 0..8 {
            let mean = (0..s).map(|i| v[i * 8 + j] as f64).sum::<f64>() / s as f64;
            assert!((out[j] as f64 - mean).abs() < 1e-5, "flash {flash}: column {j}");
        }
        // -inf everywhere: NaN, PyTorch's answer for a fully -inf row.
        let out = attend(&q, &k, &v, &vec![f32::NEG_INFINITY; s], s, flash);
        assert!(out.iter().all(|x| x.is_nan()), "flash {flash}");
        // -inf on the first block only: as if those keys were not there.
        let mut mask = vec![0.0; s];
        mask[..128].fill(f32::NEG_INFINITY);
        let got = attend(&q, &k, &v, &mask, s, flash);
        let (ks, vs) = (&k[128 * 8..], &v[128 * 8..]);
        let mut qk = q.clone();
        qk.truncate(s * 8);
        let want = {
            let shape = AttentionShape { batch: 1, seq: s - 128, heads: 2, head_dim: 4 };
            let mut out = vec![0.0; (s - 128) * 8];
            attention_into(
                shape,
                &q[..(s - 128) * 8],
                ks,
                vs,
                8,
                &vec![0.0; s - 128],
                &mut out,
                &AttentionScratch::default(),
                Fusion::none().attention_kernel(),
            )
            .unwrap();
            out
        };
        assert!(max_diff(&got[..(s - 128) * 8], &want) < 1e-5, "flash {flash}");
    }
}
