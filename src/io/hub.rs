//! # Models by Hub id: downloading into the Hugging Face cache
//!
//! `--model sentence-transformers/all-MiniLM-L6-v2` names a repository on the Hugging Face Hub.
//! [`resolve_model`] first looks in the cache `transformers` uses (see [`crate::io::hub_cache`]),
//! and downloads only when the snapshot is not there:
//!
//! 1. `GET {HF_ENDPOINT}/{repo}/resolve/{revision}/config.json`. Its `X-Repo-Commit` header
//!    names the commit; every other file is then asked for at that commit, so one snapshot never
//!    mixes two versions of a repository.
//! 2. The files a checkpoint needs: `model.safetensors`, the tokenizer files, the
//!    sentence-transformers files (`modules.json`, then each module's folder). A file the
//!    repository does not have (404) is simply absent, except the config and the weights.
//! 3. Each file's `ETag` (for large files stored with git LFS: `X-Linked-Etag`, their SHA-256,
//!    served through a redirect to a CDN) names its blob. The bytes stream into a hidden
//!    temporary file in `blobs/` with a progress bar, are checked (the size announced, and the
//!    SHA-256 of LFS files or the git blob SHA-1 of the others), and only then renamed to
//!    `blobs/<etag>`; the snapshot gets a relative link to it. `refs/<revision>` is written
//!    last, so an interrupted download never looks like a complete snapshot.
//!
//! A token (`HF_TOKEN`, else the file `huggingface-cli login` writes) is sent to the Hub only,
//! never to the CDN a redirect points to. `HF_HUB_OFFLINE=1` (or `NANOBERT_OFFLINE=1`) forbids
//! the network: a model not in the cache is then an error saying so.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::hub_cache::{
    DEFAULT_REVISION, cached_snapshot, env_var, hub_cache_dir, is_commit_hash, is_model_dir, is_repo_id, repo_folder,
};
use crate::{Error, Result};

/// The Hub used when `HF_ENDPOINT` is not set.
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Where models come from and go: [`HubOptions::from_env`] reads what `huggingface_hub` reads.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// The Hub's base URL (`HF_ENDPOINT`, default [`DEFAULT_ENDPOINT`]), without a trailing `/`.
    pub endpoint: String,
    /// The hub cache (`HF_HUB_CACHE`, `HF_HOME/hub`, `~/.cache/huggingface/hub`).
    pub cache: Option<PathBuf>,
    /// A bearer token for gated or private repositories (`HF_TOKEN`, else `HF_TOKEN_PATH` or
    /// `HF_HOME/token`).
    pub token: Option<String>,
    /// Never touch the network (`HF_HUB_OFFLINE` or `NANOBERT_OFFLINE` set to 1/true/yes/on).
    pub offline: bool,
    /// Draw progress bars and say what is being downloaded on stderr.
    pub progress: bool,
}

impl HubOptions {
    /// Options from the process environment.
    pub fn from_env(progress: bool) -> HubOptions {
        Self::from_vars(env_var, progress)
    }

    /// Options from any variable lookup (tests pass a closure instead of changing the
    /// process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, progress: bool) -> HubOptions {
        let truthy = |k: &str| {
            var(k).is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        };
        let token_file = var("HF_TOKEN_PATH").map(PathBuf::from).or_else(|| {
            var("HF_HOME")
                .map(PathBuf::from)
                .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".cache").join("huggingface")))
                .map(|h| h.join("token"))
        });
        let token = var("HF_TOKEN")
            .or_else(|| token_file.and_then(|f| std::fs::read_to_string(f).ok()))
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty());
        HubOptions {
            endpoint: var("HF_ENDPOINT").unwrap_or_else(|| DEFAULT_ENDPOINT.into()).trim_end_matches('/').to_string(),
            cache: hub_cache_dir(&var),
            token,
            offline: truthy("HF_HUB_OFFLINE") || truthy("NANOBERT_OFFLINE"),
            progress,
        }
    }
}

/// A `--model` argument as a checkpoint directory: an existing path as given; otherwise a Hub
/// id (`org/name`), its snapshot at `revision` (default `main`) from the cache, downloaded
/// first when absent (see the module docs).
pub fn resolve_model(model: &Path, revision: Option<&str>, opts: &HubOptions) -> Result<PathBuf> {
    match model.to_str() {
        Some(id) if !model.exists() && is_repo_id(id) => snapshot(id, revision.unwrap_or(DEFAULT_REVISION), opts),
        _ if revision.is_some() => Err(Error::file(
            model,
            "--revision names a version of a Hub model id, and this is a local path (or not a Hub id)",
        )),
        _ => Ok(model.to_path_buf()),
    }
}

/// The cached snapshot of `repo` at `revision`, downloaded first when the cache lacks it.
pub fn snapshot(repo: &str, revision: &str, opts: &HubOptions) -> Result<PathBuf> {
    let cache = opts
        .cache
        .as_deref()
        .ok_or_else(|| Error::file(repo, "no Hugging Face cache to put the model in (set HF_HOME or HF_HUB_CACHE)"))?;
    if let Some(dir) = cached_snapshot(cache, repo, revision) {
        return Ok(dir);
    }
    if opts.offline {
        return Err(Error::file(
            repo,
            format!(
                "not in the Hugging Face cache {} at revision `{revision}`, and downloads are off \
                 (HF_HUB_OFFLINE or NANOBERT_OFFLINE is set)",
                cache.display()
            ),
        ));
    }
    if opts.progress {
        eprintln!("nanobert: downloading {repo} ({revision}) from {} into {}", opts.endpoint, cache.display());
    }
    Hub::new(opts, cache, repo).snapshot(revision)
}

/// Extra files of a sentence-transformers module folder, by the module's class name.
fn module_files(kind: &str) -> &'static [&'static str] {
    match kind.rsplit('.').next() {
        Some("Dense") => &["config.json", "model.safetensors"],
        _ => &["config.json"],
    }
}

/// What one model repository's downloads share.
struct Hub<'a> {
    opts: &'a HubOptions,
    repo: &'a str,
    root: PathBuf,
    /// Asks the Hub itself: follows no redirect, so the Hub's headers (commit, ETag, size)
    /// are read before a redirect to the CDN.
    hub: ureq::Agent,
    /// Downloads from where a redirect points: no token is sent there.
    cdn: ureq::Agent,
}

/// A file the Hub describes: where its bytes are, and how to check them.
struct Remote {
    commit: String,
    etag: String,
    size: Option<u64>,
}

impl<'a> Hub<'a> {
    fn new(opts: &'a HubOptions, cache: &Path, repo: &'a str) -> Hub<'a> {
        Hub { opts, repo, root: repo_folder(cache, repo), hub: agent(0), cdn: agent(10) }
    }

    fn snapshot(&self, revision: &str) -> Result<PathBuf> {
        let commit = self.file(revision, "config.json")?.ok_or_else(|| {
            Error::file(self.repo, format!("the Hub has no config.json in this repository at revision `{revision}`"))
        })?;
        if self.file(&commit, "model.safetensors")?.is_none() {
            return Err(Error::file(
                self.repo,
                format!(
                    "has no model.safetensors at commit {commit}: nanobert reads safetensors weights only \
                     (a repository with only pytorch_model.bin needs converting first)"
                ),
            ));
        }
        for f in [
            "tokenizer.json",
            "vocab.txt",
            "tokenizer_config.json",
            "special_tokens_map.json",
            "added_tokens.json",
            "sentence_bert_config.json",
            "config_sentence_transformers.json",
        ] {
            self.file(&commit, f)?;
        }
        if self.file(&commit, "modules.json")?.is_some() {
            let snap = self.root.join("snapshots").join(&commit);
            let modules = super::checkpoint::read_json(&snap.join("modules.json"))?;
            for m in modules.as_array().into_iter().flatten() {
                let path = m.get("path").and_then(|p| p.as_str()).unwrap_or("");
                let kind = m.get("type").and_then(|t| t.as_str()).unwrap_or("");
                if path.is_empty() || !path.split('/').all(|p| !p.is_empty() && p != ".." && p != ".") {
                    continue;
                }
                for f in module_files(kind) {
                    self.file(&commit, &format!("{path}/{f}"))?;
                }
            }
        }
        let snap = self.root.join("snapshots").join(&commit);
        if !is_model_dir(&snap) {
            return Err(Error::file(
                self.repo,
                format!("has no tokenizer (tokenizer.json or vocab.txt) at commit {commit}"),
            ));
        }
        if !is_commit_hash(revision) {
            write_atomic(&self.root.join("refs").join(revision), commit.as_bytes())?;
        }
        Ok(snap)
    }

    /// Makes `snapshots/<commit>/<file>` for `file` at `revision`, downloading its blob if
    /// needed; returns the commit, or `None` when the repository has no such file.
    fn file(&self, revision: &str, file: &str) -> Result<Option<String>> {
        let mut url = format!("{}/{}/resolve/{}/{file}", self.opts.endpoint, self.repo, revision.replace('/', "%2F"));
        let mut resp = self.get(&self.hub, &url, true)?;
        // The Hub answers a renamed repository with a relative redirect to its new name.
        for _ in 0..10 {
            let Some(loc) = redirect_to(&resp) else { break };
            if !loc.starts_with('/') {
                break;
            }
            url = format!("{}{loc}", origin(&url));
            resp = self.get(&self.hub, &url, true)?;
        }
        let status = resp.status().as_u16();
        let header = |name: &str| resp.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let code = header("x-error-code").unwrap_or_default();
        let why = header("x-error-message").map(|m| format!(": {m}")).unwrap_or_default();
        match status {
            404 if code != "RepoNotFound" && code != "RevisionNotFound" => return Ok(None),
            404 => return Err(Error::file(self.repo, format!("GET {url}: 404 {code}{why}"))),
            401 | 403 => {
                let token = if self.opts.token.is_some() {
                    "the token in HF_TOKEN was sent and refused"
                } else {
                    "no token was sent: set HF_TOKEN to a token that has access"
                };
                return Err(Error::file(
                    self.repo,
                    format!(
                        "GET {url}: {status} {code}{why} (a gated or private repository, or none by that name; {token})"
                    ),
                ));
            }
            200..=399 => {}
            _ => return Err(Error::file(self.repo, format!("GET {url}: HTTP {status}{why}"))),
        }
        let commit = header("x-repo-commit").filter(|c| is_commit_hash(c)).ok_or_else(|| {
            Error::file(self.repo, format!("GET {url}: no X-Repo-Commit header (is HF_ENDPOINT a Hugging Face Hub?)"))
        })?;
        let etag = header("x-linked-etag")
            .or_else(|| header("etag"))
            .map(|e| e.trim_start_matches("W/").trim_matches('"').to_string())
            .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            .ok_or_else(|| Error::file(self.repo, format!("GET {url}: no usable ETag header")))?;
        let size = header("x-linked-size")
            .or_else(|| if status < 300 { header("content-length") } else { None })
            .and_then(|s| s.parse().ok());
        let remote = Remote { commit, etag, size };
        let link = self.root.join("snapshots").join(&remote.commit).join(file);
        let blob = self.root.join("blobs").join(&remote.etag);
        if !blob.is_file() {
            let (body_url, mut body) = match redirect_to(&resp) {
                Some(loc) => {
                    let r = self.get(&self.cdn, &loc, false)?;
                    if !r.status().is_success() {
                        return Err(Error::file(self.repo, format!("GET {loc} (for {file}): HTTP {}", r.status())));
                    }
                    (loc, r)
                }
                None => (url.clone(), resp),
            };
            let size = remote.size.or_else(|| body.body().content_length());
            self.download(&mut body.body_mut().as_reader(), &body_url, file, &blob, &remote.etag, size)?;
        }
        link_blob(&blob, &link, file)?;
        Ok(Some(remote.commit))
    }

    fn get(&self, agent: &ureq::Agent, url: &str, auth: bool) -> Result<ureq::http::Response<ureq::Body>> {
        let mut req = agent.get(url);
        if auth && let Some(t) = &self.opts.token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        req.call().map_err(|e| Error::file(self.repo, format!("GET {url}: {e}")))
    }

    /// Streams `body` into a hidden temporary file beside `blob`, checks it, then renames it.
    fn download(
        &self,
        body: &mut impl Read,
        url: &str,
        file: &str,
        blob: &Path,
        etag: &str,
        size: Option<u64>,
    ) -> Result<()> {
        let dir = blob.parent().ok_or_else(|| Error::file(blob, "has no parent directory"))?;
        std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, format!("cannot create: {e}")))?;
        let tmp = dir.join(format!(".{etag}.{}.incomplete", unique_suffix()));
        let result = self.stream(body, url, file, &tmp, etag, size).and_then(|()| {
            std::fs::rename(&tmp, blob)
                .map_err(|e| Error::file(blob, format!("cannot move the download into place: {e}")))
        });
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn stream(
        &self,
        body: &mut impl Read,
        url: &str,
        file: &str,
        tmp: &Path,
        etag: &str,
        size: Option<u64>,
    ) -> Result<()> {
        let bad = |msg: String| Error::file(self.repo, format!("{file} (GET {url}): {msg}"));
        let mut out = std::fs::File::create(tmp).map_err(|e| Error::file(tmp, format!("cannot create: {e}")))?;
        let bar = progress_bar(size, file, self.opts.progress);
        let (mut sha256, mut sha1) = (Sha256::new(), Sha1::new());
        let mut chunks = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(bad(format!("download failed after {got} bytes: {e}"))),
            };
            sha256.update(&buf[..n]);
            // The git blob id hashes a header holding the length, known only at the end: keep
            // small files' bytes (a git-stored file is at most a few MiB; LFS files use SHA-256).
            if etag.len() == 40 && got < (64 << 20) {
                chunks.extend_from_slice(&buf[..n]);
            }
            out.write_all(&buf[..n]).map_err(|e| Error::file(tmp, format!("cannot write: {e}")))?;
            got += n as u64;
            bar.inc(n as u64);
        }
        bar.finish_and_clear();
        if let Some(want) = size
            && got != want
        {
            return Err(bad(format!("truncated or overlong download: {got} bytes, the Hub announced {want}")));
        }
        if etag.len() == 64 {
            let sum = hex(&sha256.finalize());
            if sum != etag {
                return Err(bad(format!("SHA-256 is {sum}, the Hub's ETag says {etag} (corrupt download)")));
            }
        } else if etag.len() == 40 && got == chunks.len() as u64 {
            sha1.update(format!("blob {got}\0").as_bytes());
            sha1.update(&chunks);
            let sum = hex(&sha1.finalize());
            if sum != etag {
                return Err(bad(format!("git blob SHA-1 is {sum}, the Hub's ETag says {etag} (corrupt download)")));
            }
        }
        out.sync_all().map_err(|e| Error::file(tmp, format!("cannot write: {e}")))?;
        Ok(())
    }
}

/// An agent that follows at most `redirects` redirects and returns HTTP errors as responses.
fn agent(redirects: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        // The operating system's certificate store (honours SSL_CERT_FILE), as curl and pip use.
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("nanobert/", env!("CARGO_PKG_VERSION")))
        .http_status_as_error(false)
        .max_redirects(redirects)
        .build()
        .into()
}

/// The `Location` of a redirect response.
fn redirect_to(resp: &ureq::http::Response<ureq::Body>) -> Option<String> {
    if !resp.status().is_redirection() {
        return None;
    }
    resp.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// `scheme://host[:port]` of a URL.
fn origin(url: &str) -> &str {
    let start = url.find("://").map_or(0, |i| i + 3);
    url[start..].find('/').map_or(url, |i| &url[..start + i])
}

/// `snapshots/<commit>/<file>` as a relative link to `blobs/<etag>` (as `huggingface_hub`
/// makes them), or a copy where links cannot be made.
fn link_blob(blob: &Path, link: &Path, file: &str) -> Result<()> {
    if link.is_file() {
        return Ok(());
    }
    let parent = link.parent().ok_or_else(|| Error::file(link, "has no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, format!("cannot create: {e}")))?;
    let up = "../".repeat(file.split('/').count() + 1);
    let name = blob.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    #[cfg(unix)]
    if std::os::unix::fs::symlink(format!("{up}blobs/{name}"), link).is_ok() || link.is_file() {
        return Ok(());
    }
    let _ = up;
    let tmp = parent.join(format!(".{name}.{}.incomplete", unique_suffix()));
    let r = std::fs::copy(blob, &tmp).and_then(|_| std::fs::rename(&tmp, link));
    let _ = std::fs::remove_file(&tmp);
    r.map_err(|e| Error::file(link, format!("cannot link or copy {}: {e}", blob.display())))
}

/// Writes `bytes` to `path` through a temporary file and a rename.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().ok_or_else(|| Error::file(path, "has no parent directory"))?;
    std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, format!("cannot create: {e}")))?;
    let tmp = parent.join(format!(".ref.{}.incomplete", unique_suffix()));
    let r = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    r.map_err(|e| Error::file(path, format!("cannot write: {e}")))
}

/// A bytes / rate / ETA bar on stderr named after the file (hidden unless `show`).
fn progress_bar(total: Option<u64>, file: &str, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = total.map_or_else(indicatif::ProgressBar::new_spinner, indicatif::ProgressBar::new);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg:24} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(file.to_string());
    bar
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_the_environment() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("token"), "hf_file\n").unwrap();
        let home = tmp.path().to_str().unwrap().to_string();
        let vars = move |pairs: Vec<(&'static str, String)>| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())
        };
        let o = HubOptions::from_vars(vars(vec![("HF_HOME", home.clone())]), false);
        assert_eq!(o.endpoint, DEFAULT_ENDPOINT);
        assert_eq!(o.token.as_deref(), Some("hf_file"));
        assert_eq!(o.cache, Some(tmp.path().join("hub")));
        assert!(!o.offline);
        let o = HubOptions::from_vars(
            vars(vec![
                ("HF_HOME", home),
                ("HF_TOKEN", "hf_env".into()),
                ("HF_ENDPOINT", "http://127.0.0.1:9/".into()),
                ("HF_HUB_OFFLINE", "1".into()),
            ]),
            false,
        );
        assert_eq!((o.endpoint.as_str(), o.token.as_deref(), o.offline), ("http://127.0.0.1:9", Some("hf_env"), true));
    }

    #[test]
    fn origins() {
        assert_eq!(origin("http://127.0.0.1:8080/a/b"), "http://127.0.0.1:8080");
        assert_eq!(origin("https://huggingface.co/x/resolve/main/f"), "https://huggingface.co");
    }
}
