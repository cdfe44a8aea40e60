//! Checks of the FLOPs exercise (`src/flops.rs`), against PyTorch's `FlopCounterMode` on a
//! transformers `BertLayer`.

use crate::common::exercise_cases;
use nanobert_exercises::LayerFlops;

/// The learner's `bert_layer_flops(batch, seq, hidden, heads, intermediate)`.
pub type Flops = fn(u64, u64, u64, u64, u64) -> LayerFlops;

/// bert-base at 1x128, a MiniLM-shaped layer at 2x32 and a tiny odd one at 3x7.
pub fn matches_pytorch_flop_counter(f: Flops) {
    for case in exercise_cases()["flops"].as_array().unwrap() {
        let g = |k: &str| case[k].as_u64().unwrap();
        let want = LayerFlops { linears: g("linears"), attention: g("attention") };
        let got = f(g("batch"), g("seq"), g("hidden"), g("heads"), g("intermediate"));
        assert_eq!(
            got,
            want,
            "hidden {}, {} heads, intermediate {}, batch {} x {} tokens",
            g("hidden"),
            g("heads"),
            g("intermediate"),
            g("batch"),
            g("seq")
        );
    }
}
