//! A Hugging Face Hub on 127.0.0.1 for the tests of models by Hub id: it serves a fixture
//! folder under the Hub's URL layout (`/{repo}/resolve/{revision}/{file}`) with the Hub's
//! headers (`X-Repo-Commit`, `ETag` = git blob SHA-1, and for `*.safetensors`, as for LFS files,
//! a 302 to a CDN path with `X-Linked-Etag` = SHA-256 and `X-Linked-Size`), plus the failures a
//! client meets: a renamed repository (relative 307), a missing file or repository (404 with
//! `X-Error-Code`), a gated repository (401 without the right token), a truncated body and a
//! corrupt one. One thread per connection, `Connection: close`; it lives as long as the test.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Commit of `main` (and of every repository but `org/tiny@v1`).
pub const MAIN: &str = "1111111111111111111111111111111111111111";
/// Commit of the tag `v1` of `org/tiny`.
pub const V1: &str = "2222222222222222222222222222222222222222";
/// The token `org/gated` accepts.
pub const TOKEN: &str = "hf_fake_token";

/// What the server saw: one line per request, `METHOD PATH auth=yes|no`.
pub type Log = Arc<Mutex<Vec<String>>>;

pub struct FakeHub {
    pub endpoint: String,
    pub log: Log,
}

impl FakeHub {
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
}

fn collect(root: &Path, dir: &Path, out: &mut HashMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(root, &p, out);
        } else {
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().replace('\\', "/");
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

pub fn sha256_hex(b: &[u8]) -> String {
    Sha256::digest(b).iter().map(|x| format!("{x:02x}")).collect()
}

pub fn git_sha1_hex(b: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(format!("blob {}\0", b.len()).as_bytes());
    h.update(b);
    h.finalize().iter().map(|x| format!("{x:02x}")).collect()
}

/// The files of a fixture folder, relative path -> bytes (what the Hub serves).
pub fn fixture_files(dir: &Path) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    collect(dir, dir, &mut files);
    files
}

struct Reply {
    status: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes, then close (a truncated response).
    cut: Option<usize>,
}

fn reply(status: &'static str, headers: &[(&str, &str)]) -> Reply {
    Reply {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: Vec::new(),
        cut: None,
    }
}

fn handle(conn: TcpStream, files: &HashMap<String, Vec<u8>>, log: &Log) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut auth = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("authorization")
        {
            auth = Some(v.trim().to_string());
        }
    }
    log.lock().unwrap().push(format!("{method} {path} auth={}", if auth.is_some() { "yes" } else { "no" }));
    let r = route(&path, auth.as_deref(), files);
    let mut out = conn;
    let len = r.body.len();
    write!(out, "HTTP/1.1 {}\r\nContent-Length: {len}\r\nConnection: close\r\n", r.status)?;
    for (k, v) in &r.headers {
        write!(out, "{k}: {v}\r\n")?;
    }
    write!(out, "\r\n")?;
    out.write_all(&r.body[..r.cut.unwrap_or(len)])?;
    out.flush()?;
    Ok(())
}

fn not_found(code: &str) -> Reply {
    reply("404 Not Found", &[("X-Error-Code", code), ("X-Error-Message", "not here")])
}

fn route(path: &str, auth: Option<&str>, files: &HashMap<String, Vec<u8>>) -> Reply {
    // The CDN: /cdn/{kind}/{sha256}, kind = ok | truncated | short | corrupt.
    if let Some(rest) = path.strip_prefix("/cdn/") {
        let (kind, sha) = rest.split_once('/').unwrap_or(("", ""));
        let Some(body) = files.values().find(|b| sha256_hex(b) == sha) else { return not_found("EntryNotFound") };
        let mut r = reply("200 OK", &[("Content-Type", "application/octet-stream")]);
        r.body = body.clone();
        match kind {
            "truncated" => r.cut = Some(body.len() / 2),
            // A complete response, but shorter than the Hub announced.
            "short" => r.body.truncate(body.len() / 2),
            "corrupt" => {
                let last = r.body.len() - 1;
                r.body[last] ^= 0xff;
            }
            _ => {}
        }
        return r;
    }
    // /{org}/{name}/resolve/{rev}/{file...}
    let segs: Vec<&str> = path.trim_start_matches('/').splitn(5, '/').collect();
    let [org, name, "resolve", rev, file] = segs[..] else { return not_found("RepoNotFound") };
    let repo = format!("{org}/{name}");
    let commit = match (repo.as_str(), rev) {
        ("org/old-name", _) => {
            let loc = format!("/org/tiny/resolve/{rev}/{file}");
            return reply("307 Temporary Redirect", &[("Location", &loc)]);
        }
        ("org/gated", _) if auth != Some(&format!("Bearer {TOKEN}")) => {
            return reply(
                "401 Unauthorized",
                &[("X-Error-Code", "GatedRepo"), ("X-Error-Message", "Access to model org/gated is restricted.")],
            );
        }
        ("org/tiny", "v1") | ("org/tiny", V1) => V1,
        (
            "org/tiny" | "org/gated" | "org/no-weights" | "org/truncated" | "org/short" | "org/corrupt"
            | "org/no-tokenizer",
            "main" | MAIN,
        ) => MAIN,
        ("org/tiny", _) => return not_found("RevisionNotFound"),
        _ => return not_found("RepoNotFound"),
    };
    let absent = match repo.as_str() {
        "org/no-weights" => file == "model.safetensors",
        "org/no-tokenizer" => file == "tokenizer.json" || file == "vocab.txt",
        _ => false,
    };
    let Some(body) = files.get(file).filter(|_| !absent) else { return not_found("EntryNotFound") };
    if file.ends_with(".safetensors") {
        let sha = sha256_hex(body);
        let kind = match repo.as_str() {
            "org/truncated" => "truncated",
            "org/corrupt" => "corrupt",
            "org/short" => "short",
            _ => "ok",
        };
        let size = body.len().to_string();
        let loc = format!("http://{}/cdn/{kind}/{sha}", host_of(files));
        let etag = format!("\"{sha}\"");
        return reply(
            "302 Found",
            &[
                ("Location", &loc),
                ("X-Repo-Commit", commit),
                ("X-Linked-Etag", &etag),
                ("X-Linked-Size", &size),
                ("ETag", "\"0000000000000000000000000000000000000000\""),
            ],
        );
    }
    let etag = format!("\"{}\"", git_sha1_hex(body));
    let mut r = reply("200 OK", &[("X-Repo-Commit", commit), ("ETag", &etag)]);
    r.body = body.clone();
    r
}

/// The server's own address, for absolute CDN redirects (stored under a reserved key).
fn host_of(files: &HashMap<String, Vec<u8>>) -> String {
    String::from_utf8_lossy(files.get(HOST_KEY).map(|v| v.as_slice()).unwrap_or(b"127.0.0.1")).into_owned()
}

const HOST_KEY: &str = "\0host";

/// [`FakeHub::start`] with the absolute redirect target filled in.
pub fn start(dir: &Path) -> FakeHub {
    let mut files = HashMap::new();
    collect(dir, dir, &mut files);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    files.insert(HOST_KEY.to_string(), addr.clone().into_bytes());
    let log: Log = Arc::default();
    let (files, log2) = (Arc::new(files), log.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let (files, log) = (files.clone(), log2.clone());
            std::thread::spawn(move || {
                let _ = handle(conn, &files, &log);
            });
        }
    });
    FakeHub { endpoint: format!("http://{addr}"), log }
}

/// Every file under `dir`, recursively (to check that no temporary file was left).
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(it) = std::fs::read_dir(dir) {
        for e in it.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
