//! Length bucketing in `Embedder::embed`: sorting by length and batching
//! neighbours changes which texts share a batch and how much padding each gets, never a
//! text's vector or its place in the output.

use std::path::PathBuf;

use nanobert::io::Checkpoint;
use nanobert::pipeline::{Batching, CALL_COST_TOKENS, Embedder, bucket_order, sub_batch, token_budget_plan};

fn tiny() -> Embedder {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert");
    Embedder::from_checkpoint(&Checkpoint::open(&dir).unwrap()).unwrap()
}

#[test]
fn bucketed_padded_and_one_by_one_give_the_same_vectors_in_input_order() {
    let mut e = tiny();
    // 70 texts (three batches of 32), lengths 1 to ~40 words in a scrambled order.
    let texts: Vec<String> = (0..70)
        .map(|i| {
            let n = (i * 37) % 41 + 1;
            (0..n).map(|j| ["the", "cat", "sat", "on", "a", "mat", "today"][(i + j) % 7]).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(|s| s.as_str()).collect();
    let mut results = Vec::new();
    for mode in [Batching::Bucketed, Batching::InputOrder, Batching::OneByOne] {
        e.batching = mode;
        results.push((mode, e.embed(&refs).unwrap()));
    }
    let (_, one) = &results[2];
    for (mode, got) in &results {
        assert_eq!(got.len(), texts.len());
        let d = got.iter().flatten().zip(one.iter().flatten()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        println!("{mode:?} vs one by one: max |diff| = {d:.2e}");
        assert!(d < 1e-5, "{mode:?}: {d}");
        assert!(got.iter().flatten().all(|v| v.is_finite()));
    }
    // And the texts really differ (so a permutation of the output would have been caught).
    assert!(one[0].iter().zip(&one[1]).any(|(a, b)| (a - b).abs() > 1e-3));
}

#[test]
fn bucket_order_is_a_stable_sort_and_sub_batches_trim_padding() {
    assert_eq!(bucket_order(&[5, 2, 9, 2, 1]), vec![4, 1, 3, 0, 2]);
    assert!(bucket_order(&[]).is_empty());
    let e = tiny();
    let all = e.tokenizer.encode_batch(&["a b c d e f g", "a", "a b"]).unwrap();
    let sub = sub_batch(&all, &[1, 2]);
    assert_eq!(sub.batch, 2);
    assert_eq!(sub.seq_len, all.lengths()[2]); // padded to the longer of the two only
    assert!(sub.seq_len < all.seq_len);
    assert_eq!(sub.input_ids[..sub.seq_len], all.row_ids(1)[..sub.seq_len]);
    assert_eq!(sub.lengths(), vec![all.lengths()[1], all.lengths()[2]]);
}

#[test]
fn token_budget_groups_respect_the_budget_and_cover_everything() {
    // The server's batches: lengths in a scrambled order, groups of at most 32 padded tokens.
    let lens = [10, 3, 100, 4, 30, 3, 10];
    let plan = token_budget_plan(&lens, 32);
    assert_eq!(plan, vec![vec![1, 5, 3], vec![0, 6], vec![4], vec![2]]);
    // With room for all, a split still pays when it saves more padding than a call costs
    // (nanobert::pipeline::CALL_COST_TOKENS = 32): 20 texts of 5 tokens and one of 60 are two
    // calls (100 + 60 padded tokens + 2 x 32) rather than one of 21 x 60 = 1260.
    let mut short_and_long = vec![5; 20];
    short_and_long.push(60);
    assert_eq!(token_budget_plan(&short_and_long, 4096), vec![(0..20).collect::<Vec<_>>(), vec![20]]);
    // ... and not when it saves less: 10 + 12 tokens stay together (2 x 12 < 10 + 12 + 32).
    assert_eq!(token_budget_plan(&[12, 10], 4096), vec![vec![1, 0]]);
    for g in &plan {
        let longest = g.iter().map(|&i| lens[i]).max().unwrap();
        assert!(g.len() == 1 || g.len() * longest <= 32, "{g:?}");
    }
    let mut all: Vec<usize> = plan.concat();
    all.sort();
    assert_eq!(all, (0..lens.len()).collect::<Vec<_>>());
    assert!(token_budget_plan(&[], 32).is_empty());
    // Against every split of a small case by brute force: no plan is cheaper.
    let lens = [3, 9, 4, 17, 8, 30, 5, 12];
    let cost = |plan: &[Vec<usize>]| -> usize {
        plan.iter().map(|g| g.len() * g.iter().map(|&i| lens[i]).max().unwrap() + CALL_COST_TOKENS).sum()
    };
    let got = cost(&token_budget_plan(&lens, 64));
    let sorted = bucket_order(&lens);
    for mask in 0u32..(1 << (lens.len() - 1)) {
        let mut plan = vec![vec![sorted[0]]];
        for (k, &i) in sorted.iter().enumerate().skip(1) {
            if mask & (1 << (k - 1)) != 0 {
                plan.push(Vec::new());
            }
            plan.last_mut().unwrap().push(i);
        }
        if plan.iter().all(|g| g.len() == 1 || g.len() * g.iter().map(|&i| lens[i]).max().unwrap() <= 64) {
            assert!(got <= cost(&plan), "{plan:?} costs {} < {got}", cost(&plan));
        }
    }
}
