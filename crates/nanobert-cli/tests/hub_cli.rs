//! `--model ORG/NAME` on the command line: downloaded from `HF_ENDPOINT` (a Hub on 127.0.0.1,
//! tests/common/fake_hub.rs) into `HF_HUB_CACHE`, then found there offline; `--revision`,
//! `HF_TOKEN` and the errors a user sees.

#[path = "../../../tests/common/mod.rs"]
mod common;
#[path = "../../../tests/common/fake_hub.rs"]
mod fake_hub;

use std::path::Path;
use std::process::{Command, Output};

fn nanobert(cache: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_nanobert"));
    cmd.args(args).env("HF_HUB_CACHE", cache);
    for k in ["HF_TOKEN", "HF_HUB_OFFLINE", "NANOBERT_OFFLINE", "HF_ENDPOINT", "HF_HOME"] {
        cmd.env_remove(k);
    }
    // No token file from the machine's own Hugging Face login.
    cmd.env("HF_TOKEN_PATH", cache.join("no-token"));
    cmd.envs(env.iter().copied()).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn model_by_hub_id_downloads_then_runs_offline() {
    let hub = fake_hub::start(&common::fixture("pipelines/st-truncate-dim"));
    let tmp = tempfile::tempdir().unwrap();
    let ep = hub.endpoint.as_str();
    let online = nanobert(tmp.path(), &[("HF_ENDPOINT", ep)], &["--model", "org/tiny", "embed", "--json", "hello"]);
    assert!(online.status.success(), "{}", text(&online));
    // The same embedding from the cache with the network forbidden, and from the folder itself.
    let offline =
        nanobert(tmp.path(), &[("HF_HUB_OFFLINE", "1")], &["--model", "org/tiny", "embed", "--json", "hello"]);
    assert!(offline.status.success(), "{}", text(&offline));
    assert_eq!(online.stdout, offline.stdout);
    let dir = common::fixture("pipelines/st-truncate-dim");
    let local = nanobert(tmp.path(), &[], &["--model", dir.to_str().unwrap(), "embed", "--json", "hello"]);
    assert_eq!(online.stdout, local.stdout, "{}", text(&local));

    // `fetch --model ID` downloads another revision and says where it is.
    let out = nanobert(tmp.path(), &[("HF_ENDPOINT", ep)], &["--model", "org/tiny", "--revision", "v1", "fetch"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(fake_hub::V1), "{}", text(&out));

    // Gated: refused without HF_TOKEN, served with it.
    let args = ["--model", "org/gated", "embed", "hello"];
    let out = nanobert(tmp.path(), &[("HF_ENDPOINT", ep)], &args);
    assert!(!out.status.success() && text(&out).contains("HF_TOKEN"), "{}", text(&out));
    let out = nanobert(tmp.path(), &[("HF_ENDPOINT", ep), ("HF_TOKEN", fake_hub::TOKEN)], &args);
    assert!(out.status.success(), "{}", text(&out));

    // Not cached and offline: says so; --revision without a Hub id is refused.
    let out = nanobert(tmp.path(), &[("HF_HUB_OFFLINE", "1")], &["--model", "org/other", "embed", "x"]);
    assert!(!out.status.success() && text(&out).contains("downloads are off"), "{}", text(&out));
    let out = nanobert(tmp.path(), &[], &["--revision", "v1", "embed", "x"]);
    assert!(!out.status.success() && text(&out).contains("--revision"), "{}", text(&out));
}
