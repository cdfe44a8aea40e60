//! Older name of the test helpers: everything lives in tests/common now (one comparison that
//! fails on NaN/inf). Kept so tests that say `mod pytorch;` keep compiling.
#![allow(dead_code, unused_imports)]

#[path = "../common/mod.rs"]
mod common;

pub use common::{assert_matches as assert_close, fixture, ids, max_diff as max_abs_diff, reference};
