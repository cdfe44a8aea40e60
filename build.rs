//! Build-time facts the test runner must know to *report* a skipped test as ignored (with its
//! reason) instead of counting it as passed: `cargo test` can only show a test as ignored if
//! `#[ignore]` is decided at compile time. Each fact becomes a `cfg` used as
//! `#[cfg_attr(nanobert_no_avx512, ignore = "...")]`; the tests re-check at run time and fail
//! (saying "rebuild") if the machine changed since the build.
//!
//! - `nanobert_no_avx2` / `nanobert_no_avx512`: the CPU building (and, in CI, testing) lacks
//!   AVX2+FMA / AVX-512F, so the tests of those kernels cannot run here.
//! - `nanobert_no_minilm`: `NANOBERT_OFFLINE=1` and no cached all-MiniLM-L6-v2, so the
//!   real-weights tests cannot get their weights.

use std::path::PathBuf;

fn main() {
    for cfg in ["nanobert_no_avx2", "nanobert_no_avx512", "nanobert_no_minilm"] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
    }
    println!("cargo::rerun-if-changed=build.rs");
    for var in ["NANOBERT_OFFLINE", "NANOBERT_HOME", "HF_HUB_CACHE", "HF_HOME", "NANOBERT_MINILM_WHEEL"] {
        println!("cargo::rerun-if-env-changed={var}");
    }

    let (avx2, avx512) = simd();
    if !avx2 {
        println!("cargo::rustc-cfg=nanobert_no_avx2");
    }
    if !avx512 {
        println!("cargo::rustc-cfg=nanobert_no_avx512");
    }

    let offline = std::env::var("NANOBERT_OFFLINE")
        .is_ok_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    if offline {
        let cached = minilm_candidates();
        for p in &cached {
            println!("cargo::rerun-if-changed={}", p.display());
        }
        if !cached.iter().any(|p| p.exists()) && std::env::var_os("NANOBERT_MINILM_WHEEL").is_none() {
            println!("cargo::rustc-cfg=nanobert_no_minilm");
        }
    }
}

/// (AVX2+FMA, AVX-512F) on the CPU running the build, when building for x86-64.
fn simd() -> (bool, bool) {
    let target_x86 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    #[cfg(target_arch = "x86_64")]
    if target_x86 {
        let avx2 = std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma");
        return (avx2, std::arch::is_x86_feature_detected!("avx512f"));
    }
    let _ = target_x86;
    (false, false)
}

/// Where `nanobert fetch` would find MiniLM without the network (see src/io/fetch.rs).
fn minilm_candidates() -> Vec<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let home = var("HOME");
    let mut out = Vec::new();
    if let Some(root) = var("NANOBERT_HOME").or_else(|| home.as_ref().map(|h| h.join(".cache/nanobert"))) {
        out.push(root.join("models/all-MiniLM-L6-v2/model.safetensors"));
    }
    let hub = var("HF_HUB_CACHE")
        .or_else(|| var("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| home.map(|h| h.join(".cache/huggingface/hub")));
    if let Some(hub) = hub {
        out.push(hub.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots"));
    }
    out
}
