//! # The Hugging Face cache, read without a network
//!
//! `transformers`, `sentence-transformers` and `huggingface_hub` keep downloaded models in one
//! cache (by default `~/.cache/huggingface/hub`), laid out per repository as
//!
//! ```text
//! models--sentence-transformers--all-MiniLM-L6-v2/
//!   refs/main                      the commit a branch or tag pointed to when last fetched
//!   blobs/<etag>                   each file's bytes, named by its Hub ETag
//!                                  (SHA-256 for LFS files, the git blob SHA-1 for the others)
//!   snapshots/<commit>/config.json -> ../../blobs/<etag>   one folder of links per commit
//! ```
//!
//! A model named by its Hub id (`org/name`) is a `snapshots/<commit>/` folder that nanobert
//! loads like any checkpoint directory, so nanobert and Python share one copy. This module only
//! reads that layout (the lean library has no network); `nanobert::io::hub` (the `fetch`
//! feature) downloads into it.

use std::path::{Path, PathBuf};

/// The revision used when none is given: the repository's default branch.
pub const DEFAULT_REVISION: &str = "main";

/// The Hugging Face hub cache named by an environment lookup: `HF_HUB_CACHE`, else
/// `HF_HOME/hub`, else `XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub`
/// (the order `huggingface_hub` uses); `None` without `HOME` either.
pub fn hub_cache_dir(var: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    var("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| var("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| var("XDG_CACHE_HOME").map(|h| PathBuf::from(h).join("huggingface").join("hub")))
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache").join("huggingface").join("hub")))
}

/// The process environment as [`hub_cache_dir`] wants it (empty values count as unset).
pub fn env_var(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

/// Whether `s` reads as a Hub model id: `name` or `org/name`, each part of ASCII letters,
/// digits, `-`, `_` and `.`, not starting or ending with `-` or `.`, at most 96 characters
/// (the Hub's rule). A path such as `./model`, `/data/m` or `a/b/c` is not one.
pub fn is_repo_id(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 96
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && !p.starts_with(['-', '.'])
            && !p.ends_with(['-', '.'])
            && !p.contains("..")
    };
    let parts: Vec<&str> = s.split('/').collect();
    matches!(parts.len(), 1 | 2) && parts.iter().all(|p| part(p))
}

/// Whether `rev` is a full commit hash (40 lowercase hex digits), which names a snapshot
/// folder directly instead of going through `refs/`.
pub fn is_commit_hash(rev: &str) -> bool {
    rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The cache folder of model repository `repo`: `<cache>/models--org--name`.
pub fn repo_folder(cache: &Path, repo: &str) -> PathBuf {
    cache.join(format!("models--{}", repo.replace('/', "--")))
}

/// The commit `revision` (a branch, tag or commit hash) points to in the cache, if known.
pub fn cached_commit(cache: &Path, repo: &str, revision: &str) -> Option<String> {
    if is_commit_hash(revision) {
        return Some(revision.to_string());
    }
    let text = std::fs::read_to_string(repo_folder(cache, repo).join("refs").join(revision)).ok()?;
    let commit = text.trim();
    is_commit_hash(commit).then(|| commit.to_string())
}

/// True when `dir` holds what a checkpoint needs: `config.json`, `model.safetensors` and a
/// tokenizer (`tokenizer.json` or `vocab.txt`).
pub fn is_model_dir(dir: &Path) -> bool {
    let has = |f: &str| dir.join(f).is_file();
    has("config.json") && has("model.safetensors") && (has("tokenizer.json") || has("vocab.txt"))
}

/// The snapshot folder of `repo` at `revision` in `cache` when it holds a whole checkpoint
/// (see [`is_model_dir`]); no network.
pub fn cached_snapshot(cache: &Path, repo: &str, revision: &str) -> Option<PathBuf> {
    let commit = cached_commit(cache, repo, revision)?;
    let dir = repo_folder(cache, repo).join("snapshots").join(commit);
    is_model_dir(&dir).then_some(dir)
}

/// A model argument as the library can open it, without a network: an existing path as given,
/// else a Hub id found in the Hugging Face cache (`HF_HUB_CACHE`/`HF_HOME`) at `revision`
/// (default `main`). A Hub id that is not cached yields an error saying how to get it.
pub fn resolve_cached(model: &str, revision: Option<&str>) -> crate::Result<PathBuf> {
    let path = Path::new(model);
    if path.exists() || !is_repo_id(model) {
        return Ok(path.to_path_buf());
    }
    let revision = revision.unwrap_or(DEFAULT_REVISION);
    let Some(cache) = hub_cache_dir(env_var) else {
        return Err(crate::Error::file(
            path,
            "no such directory, and no Hugging Face cache to look the Hub id up in (set HF_HOME)",
        ));
    };
    cached_snapshot(&cache, model, revision).ok_or_else(|| {
        crate::Error::file(
            path,
            format!(
                "no such directory, and the Hugging Face cache {} has no complete snapshot of `{model}` at \
                 revision `{revision}` (download it with `nanobert --model {model} fetch` or \
                 `huggingface-cli download {model}`)",
                cache.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_ids_and_paths() {
        for id in ["bert-base-uncased", "sentence-transformers/all-MiniLM-L6-v2", "a_b/c.d-1"] {
            assert!(is_repo_id(id), "{id}");
        }
        for p in ["./model", "/data/m", "a/b/c", "", "org/", "/name", "-x", "a..b", "x.", "a b", "~/m"] {
            assert!(!is_repo_id(p), "{p:?}");
        }
    }

    #[test]
    fn cache_dir_follows_huggingface_hub_order() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(hub_cache_dir(env(&[("HF_HUB_CACHE", "/c"), ("HF_HOME", "/h")])), Some("/c".into()));
        assert_eq!(hub_cache_dir(env(&[("HF_HOME", "/h"), ("HOME", "/u")])), Some("/h/hub".into()));
        assert_eq!(hub_cache_dir(env(&[("XDG_CACHE_HOME", "/x")])), Some("/x/huggingface/hub".into()));
        assert_eq!(hub_cache_dir(env(&[("HOME", "/u")])), Some("/u/.cache/huggingface/hub".into()));
        assert_eq!(hub_cache_dir(env(&[])), None);
    }

    #[test]
    fn refs_name_snapshots() {
        let tmp = tempfile::tempdir().unwrap();
        let commit = "0123456789abcdef0123456789abcdef01234567";
        let root = repo_folder(tmp.path(), "org/m");
        assert_eq!(root, tmp.path().join("models--org--m"));
        std::fs::create_dir_all(root.join("refs")).unwrap();
        std::fs::write(root.join("refs").join("main"), format!("{commit}\n")).unwrap();
        assert_eq!(cached_commit(tmp.path(), "org/m", "main").as_deref(), Some(commit));
        assert_eq!(cached_commit(tmp.path(), "org/m", "v2"), None);
        // Incomplete snapshot: not a checkpoint yet.
        let snap = root.join("snapshots").join(commit);
        std::fs::create_dir_all(&snap).unwrap();
        std::fs::write(snap.join("config.json"), "{}").unwrap();
        assert_eq!(cached_snapshot(tmp.path(), "org/m", "main"), None);
        std::fs::write(snap.join("model.safetensors"), "").unwrap();
        std::fs::write(snap.join("vocab.txt"), "").unwrap();
        assert_eq!(cached_snapshot(tmp.path(), "org/m", "main"), Some(snap.clone()));
        assert_eq!(cached_snapshot(tmp.path(), "org/m", commit), Some(snap));
    }
}
