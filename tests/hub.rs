//! Models by Hub id against a Hub on 127.0.0.1 (tests/common/fake_hub.rs): the download lands
//! in the Hugging Face cache layout byte for byte, a second resolve makes no request, and a
//! redirect, a 404, a gated 401, a truncated and a corrupt body each end in an error naming
//! the cause, with nothing half-written left in the cache.

mod common;
#[path = "common/fake_hub.rs"]
mod fake_hub;

use std::path::{Path, PathBuf};

use fake_hub::{MAIN, TOKEN, V1, git_sha1_hex, sha256_hex};
use nanobert::io::Checkpoint;
use nanobert::io::hub::{HubOptions, resolve_model};
use nanobert::io::hub_cache::repo_folder;

/// A sentence-transformers checkpoint with Dense modules in subfolders (LFS-style weights in
/// three places) saved by sentence-transformers.
const REPO_FIXTURE: &str = "pipelines/st-truncate-dim";

fn opts(hub: &fake_hub::FakeHub, cache: &Path, token: Option<&str>) -> HubOptions {
    HubOptions {
        endpoint: hub.endpoint.clone(),
        cache: Some(cache.to_path_buf()),
        token: token.map(str::to_string),
        offline: false,
        progress: false,
    }
}

fn resolve(id: &str, rev: Option<&str>, o: &HubOptions) -> nanobert::Result<PathBuf> {
    resolve_model(Path::new(id), rev, o)
}

/// No temporary file anywhere in the cache, and no ref for `repo`.
fn assert_nothing_half_written(cache: &Path, repo: &str) {
    let left: Vec<_> = fake_hub::walk(cache)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".incomplete")))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
    let refs = repo_folder(cache, repo).join("refs");
    assert!(!refs.join("main").exists(), "{repo}: refs/main written for a failed download");
}

#[test]
fn downloads_a_snapshot_in_the_transformers_layout_then_reuses_it() {
    let src = common::fixture(REPO_FIXTURE);
    let hub = fake_hub::start(&src);
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(&hub, tmp.path(), None);

    let dir = resolve("org/tiny", None, &o).unwrap();
    let root = repo_folder(tmp.path(), "org/tiny");
    assert_eq!(dir, root.join("snapshots").join(MAIN));
    assert_eq!(std::fs::read_to_string(root.join("refs/main")).unwrap(), MAIN);
    // Every file of the repository that a checkpoint reads arrived byte for byte, as a
    // relative link into blobs/<etag> (SHA-256 for the LFS-style weights, git SHA-1 else).
    for (rel, bytes) in fake_hub::fixture_files(&src) {
        let got = dir.join(&rel);
        assert_eq!(std::fs::read(&got).unwrap_or_else(|e| panic!("{rel}: {e}")), bytes, "{rel}");
        let target = std::fs::read_link(&got).unwrap();
        assert!(target.is_relative(), "{rel} -> {}", target.display());
        let etag = if rel.ends_with(".safetensors") { sha256_hex(&bytes) } else { git_sha1_hex(&bytes) };
        assert_eq!(target.file_name().unwrap().to_string_lossy(), etag, "{rel}");
        assert!(root.join("blobs").join(&etag).is_file());
    }
    assert_nothing_half_written_but_ref(tmp.path());
    // CDN downloads carry no token; the weights came through the redirect.
    let reqs = hub.requests();
    assert!(reqs.iter().any(|r| r.starts_with("GET /cdn/ok/")), "{reqs:?}");
    // It loads as a checkpoint (config, weights, tokenizer, modules).
    let ckpt = Checkpoint::open(&dir).unwrap();
    assert!(nanobert::io::SentenceTransformersConfig::read(&ckpt.dir).unwrap().is_some());

    // A second resolve, and an offline one, find the cache and ask the Hub nothing.
    let before = hub.requests().len();
    assert_eq!(resolve("org/tiny", None, &o).unwrap(), dir);
    assert_eq!(resolve("org/tiny", Some("main"), &HubOptions { offline: true, ..o.clone() }).unwrap(), dir);
    assert_eq!(resolve("org/tiny", Some(MAIN), &HubOptions { offline: true, ..o.clone() }).unwrap(), dir);
    assert_eq!(hub.requests().len(), before);

    // --revision: another commit, another snapshot, refs/v1; blobs are shared.
    let v1 = resolve("org/tiny", Some("v1"), &o).unwrap();
    assert_eq!(v1, root.join("snapshots").join(V1));
    assert_eq!(std::fs::read_to_string(root.join("refs/v1")).unwrap(), V1);
    let cdn_after = hub.requests().iter().filter(|r| r.contains("/cdn/")).count();
    let cdn_before = reqs.iter().filter(|r| r.contains("/cdn/")).count();
    assert_eq!(cdn_after, cdn_before, "blobs already cached were downloaded again");
    let err = resolve("org/tiny", Some("v9"), &o).unwrap_err().to_string();
    assert!(err.contains("404") && err.contains("RevisionNotFound"), "{err}");
}

fn assert_nothing_half_written_but_ref(cache: &Path) {
    let left: Vec<_> = fake_hub::walk(cache)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(".incomplete")))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

#[test]
fn follows_the_relative_redirect_of_a_renamed_repository() {
    let hub = fake_hub::start(&common::fixture(REPO_FIXTURE));
    let tmp = tempfile::tempdir().unwrap();
    // Cached under the name asked for, as huggingface_hub does.
    let dir = resolve("org/old-name", None, &opts(&hub, tmp.path(), None)).unwrap();
    assert_eq!(dir, repo_folder(tmp.path(), "org/old-name").join("snapshots").join(MAIN));
    assert!(hub.requests().iter().any(|r| r.starts_with("GET /org/tiny/resolve/main/config.json")));
    Checkpoint::open(&dir).unwrap();
}

#[test]
fn gated_repository_needs_the_token_and_the_cdn_never_sees_it() {
    let hub = fake_hub::start(&common::fixture(REPO_FIXTURE));
    let tmp = tempfile::tempdir().unwrap();
    let err = resolve("org/gated", None, &opts(&hub, tmp.path(), None)).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("GatedRepo") && err.contains("HF_TOKEN"), "{err}");
    let err = resolve("org/gated", None, &opts(&hub, tmp.path(), Some("hf_wrong"))).unwrap_err().to_string();
    assert!(err.contains("401") && err.contains("refused"), "{err}");
    assert_nothing_half_written(tmp.path(), "org/gated");

    let dir = resolve("org/gated", None, &opts(&hub, tmp.path(), Some(TOKEN))).unwrap();
    Checkpoint::open(&dir).unwrap();
    let reqs = hub.requests();
    assert!(reqs.iter().any(|r| r.contains("/org/gated/") && r.ends_with("auth=yes")));
    let cdn: Vec<_> = reqs.iter().filter(|r| r.contains("/cdn/")).collect();
    assert!(!cdn.is_empty() && cdn.iter().all(|r| r.ends_with("auth=no")), "{cdn:?}");
}

#[test]
fn missing_repository_weights_or_tokenizer_are_errors() {
    let hub = fake_hub::start(&common::fixture(REPO_FIXTURE));
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(&hub, tmp.path(), None);
    let err = resolve("nobody/nothing", None, &o).unwrap_err().to_string();
    assert!(err.contains("404") && err.contains("RepoNotFound"), "{err}");
    let err = resolve("org/no-weights", None, &o).unwrap_err().to_string();
    assert!(err.contains("no model.safetensors"), "{err}");
    assert_nothing_half_written(tmp.path(), "org/no-weights");
    let err = resolve("org/no-tokenizer", None, &o).unwrap_err().to_string();
    assert!(err.contains("no tokenizer"), "{err}");
    assert_nothing_half_written(tmp.path(), "org/no-tokenizer");
}

#[test]
fn truncated_or_corrupt_downloads_leave_nothing_in_the_cache() {
    let src = common::fixture(REPO_FIXTURE);
    let hub = fake_hub::start(&src);
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(&hub, tmp.path(), None);
    let weights = sha256_hex(&std::fs::read(src.join("model.safetensors")).unwrap());
    for (repo, want) in [("org/truncated", "bytes"), ("org/short", "the Hub announced"), ("org/corrupt", "SHA-256")] {
        let err = resolve(repo, None, &o).unwrap_err().to_string();
        assert!(err.contains(want) && err.contains("model.safetensors"), "{repo}: {err}");
        assert!(!repo_folder(tmp.path(), repo).join("blobs").join(&weights).exists(), "{repo}: bad blob kept");
        assert!(!repo_folder(tmp.path(), repo).join("snapshots").join(MAIN).join("model.safetensors").exists());
        assert_nothing_half_written(tmp.path(), repo);
        // And it stays an error: nothing cached makes it look complete.
        assert!(resolve(repo, None, &HubOptions { offline: true, ..o.clone() }).is_err());
    }
}

#[test]
fn offline_local_paths_and_revision_misuse() {
    let tmp = tempfile::tempdir().unwrap();
    let o = HubOptions {
        endpoint: "http://127.0.0.1:9".into(),
        cache: Some(tmp.path().to_path_buf()),
        token: None,
        offline: true,
        progress: false,
    };
    let err = resolve("org/tiny", None, &o).unwrap_err().to_string();
    assert!(err.contains("downloads are off"), "{err}");
    // An existing directory is used as is, whatever it is called.
    let local = common::fixture(REPO_FIXTURE);
    assert_eq!(resolve_model(&local, None, &o).unwrap(), local);
    let err = resolve_model(&local, Some("v1"), &o).unwrap_err().to_string();
    assert!(err.contains("--revision"), "{err}");
    // A path that is not a Hub id is returned for the loader to report.
    assert_eq!(resolve("./not/there", None, &o).unwrap(), PathBuf::from("./not/there"));
}
