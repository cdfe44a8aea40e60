//! Checks of the percentile exercise (`src/percentile.rs`), against NumPy's nearest-rank
//! (`method="inverted_cdf"`) percentiles.

use crate::common::{exercise_cases, f64s};

/// The learner's `percentile(latencies, q)`.
pub type Percentile = fn(&[f64], f64) -> f64;

/// 1, 5, 37, 100 and 1000 latencies, q = 0, 0.5, 0.9, 0.99, 1.
pub fn matches_numpy_nearest_rank(f: Percentile) {
    for case in exercise_cases()["percentile"].as_array().unwrap() {
        let v = f64s(&case["latencies"]);
        for (q, want) in f64s(&case["q"]).into_iter().zip(f64s(&case["want"])) {
            let got = f(&v, q);
            assert_eq!(got, want, "p{} of {} latencies: {got}, NumPy's {want}", 100.0 * q, v.len());
        }
    }
}

pub fn no_latencies_give_zero(f: Percentile) {
    assert_eq!(f(&[], 0.99), 0.0);
}
