//! Checks of the timing-summary exercise (`src/stats.rs`), against NumPy.

use crate::common::{exercise_cases, f64s};
use nanobert_exercises::Summary;

/// The learner's `summarize`.
pub type Summarize = fn(&[f64]) -> Summary;
/// The learner's `paired_speedup`.
pub type Paired = fn(&[f64], &[f64]) -> f64;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1.0)
}

/// One, two, seven and ten timings (the longer ones with a run slowed to 95 ms by a neighbour).
pub fn summaries_match_numpy(f: Summarize) {
    for case in exercise_cases()["stats"]["summaries"].as_array().unwrap() {
        let times = f64s(&case["times"]);
        let got = f(&times);
        let want = Summary {
            median: case["median"].as_f64().unwrap(),
            min: case["min"].as_f64().unwrap(),
            max: case["max"].as_f64().unwrap(),
        };
        assert!(
            close(got.median, want.median) && close(got.min, want.min) && close(got.max, want.max),
            "summarize({times:?}) = {got:?}, NumPy: {want:?}"
        );
    }
}

/// Rounds 3-6 ran 3x slower (a build), and in round 5 the build paused between the two turns.
/// The median per-round ratio is 1.25; the ratio of the medians says 3.6.
pub fn paired_speedup_is_the_median_of_per_round_ratios(f: Paired) {
    let p = &exercise_cases()["stats"]["paired"];
    let (base, cand) = (f64s(&p["baseline"]), f64s(&p["candidate"]));
    let want = p["speedup"].as_f64().unwrap();
    let got = f(&base, &cand);
    assert!(close(got, want), "paired_speedup = {got}, NumPy's median of the ratios: {want}");
}
