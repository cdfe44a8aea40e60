//! `nanobert serve` as a container runs it: configured by the environment only, listening on
//! another loopback address (127.0.0.2, as a pod's IP would be), probed, then stopped by
//! SIGTERM: `/ready` turns 503 while everything keeps being served for `--shutdown-delay`,
//! then the listener closes, every request in flight is answered, and the exit code is 0.
//! This is the contract the Dockerfile and the Kubernetes manifest in examples/deploy rely on.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::fixture;

/// Sends one HTTP/1.1 request, returns (status, headers+body text).
fn request(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else { return (0, String::new()) };
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return (0, String::new());
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), text)
}

fn get(addr: SocketAddr, path: &str) -> u16 {
    request(addr, "GET", path, "", "").0
}

/// A port free on 127.0.0.2 right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.2:0").unwrap().local_addr().unwrap().port()
}

/// The server, killed if the test fails before it exits.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `nanobert serve` with no arguments at all, only `env`.
fn spawn(env: &[(&str, String)]) -> Serve {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nanobert"));
    c.arg("serve").env_clear().env("NANOBERT_OFFLINE", "1").stdin(Stdio::null()).stdout(Stdio::piped());
    c.stderr(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    Serve(c.spawn().unwrap())
}

fn wait_ready(addr: SocketAddr, child: &mut Serve) {
    let t0 = Instant::now();
    loop {
        if get(addr, "/ready") == 200 {
            return;
        }
        assert!(child.0.try_wait().unwrap().is_none(), "the server exited before it was ready");
        assert!(t0.elapsed() < Duration::from_secs(60), "not ready within 60 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &Serve) {
    let st = Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap();
    assert!(st.success());
}

#[test]
fn env_only_start_on_another_loopback_probes_and_a_sigterm_drain() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.2:{port}").parse().unwrap();
    let mut child = spawn(&[
        ("HOSTNAME", "127.0.0.2".into()),
        ("PORT", port.to_string()),
        ("MODEL_ID", fixture("tiny-bert").to_string_lossy().into_owned()),
        ("API_KEY", "s3cret".into()),
        ("MAX_CLIENT_BATCH_SIZE", "3".into()),
        ("JSON_OUTPUT", "true".into()),
        ("NANOBERT_SHUTDOWN_DELAY", "1.5".into()),
        // A lone request waits up to 5 s for company: it is still in flight when SIGTERM comes.
        ("NANOBERT_MAX_WAIT_MS", "5000".into()),
    ]);
    wait_ready(addr, &mut child);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "listens on 127.0.0.2 only");
    assert_eq!(get(addr, "/health"), 200);

    // The environment configured the rest: API key (probes stay open), client batch limit.
    let auth = "Authorization: Bearer s3cret\r\n";
    assert_eq!(request(addr, "GET", "/info", "", "").0, 401);
    let (st, info) = request(addr, "GET", "/info", auth, "");
    assert_eq!(st, 200, "{info}");
    assert!(info.contains("\"max_client_batch_size\":3"), "{info}");
    let (st, body) = request(addr, "POST", "/embed", auth, r#"{"inputs": ["a", "b", "c", "d"]}"#);
    assert_eq!(st, 413, "{body}");

    // A request in flight (queued, waiting for company), then SIGTERM.
    let t0 = Instant::now();
    let in_flight = std::thread::spawn(move || request(addr, "POST", "/embed", auth, r#"{"inputs": "in flight"}"#));
    std::thread::sleep(Duration::from_millis(300));
    sigterm(&child);
    let drain_start = Instant::now();
    let t = Instant::now();
    while get(addr, "/ready") != 503 {
        assert!(t.elapsed() < Duration::from_secs(1), "/ready must turn 503 at once on SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Within the shutdown delay everything is still served.
    assert_eq!(get(addr, "/health"), 200, "alive while draining");
    let during = std::thread::spawn(move || request(addr, "POST", "/embed", auth, r#"{"inputs": "during the delay"}"#));
    assert!(drain_start.elapsed() < Duration::from_millis(1500), "the checks above ran within the delay");

    // Both are answered (the drain computes at once instead of waiting 5 s for company).
    let (st, body) = in_flight.join().unwrap();
    assert_eq!(st, 200, "the request in flight must be answered: {body}");
    let (st, body) = during.join().unwrap();
    assert_eq!(st, 200, "a request during the delay is served: {body}");
    assert!(t0.elapsed() < Duration::from_secs(5), "answered by the drain, not by the 5 s wait");
    assert!(drain_start.elapsed() >= Duration::from_millis(1400), "served for the whole delay");

    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "did not exit after the drain");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "a drained server exits 0");
    assert!(TcpStream::connect(addr).is_err(), "nothing listens after the exit");

    // The JSON-lines access log has one line per request, with id, status and latency.
    let mut out = String::new();
    child.0.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    let lines: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let embeds: Vec<&serde_json::Value> = lines.iter().filter(|l| l["path"] == "/embed").collect();
    assert_eq!(embeds.len(), 3, "{out}");
    for l in &embeds {
        assert!(l["request_id"].as_str().is_some_and(|s| !s.is_empty()), "{l}");
        assert!(l["latency_ms"].as_f64().is_some_and(|v| v >= 0.0), "{l}");
        assert_eq!(l["method"], "POST");
    }
    assert_eq!(embeds.iter().filter(|l| l["status"] == 200).count(), 2, "{out}");
    assert!(lines.iter().any(|l| l["path"] == "/ready" && l["status"] == 503), "{out}");
}

/// The variables `examples/deploy/kubernetes.yaml` and the Dockerfile set, with their values.
fn deploy_env() -> Vec<(String, String, &'static str)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    let k8s = std::fs::read_to_string(root.join("examples/deploy/kubernetes.yaml")).unwrap();
    for line in k8s.lines() {
        let l = line.trim().trim_start_matches("- ");
        let upper = |n: &str| !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        if let Some((name, value)) = l.strip_prefix("{ name: ").and_then(|r| r.split_once(", value: ")) {
            assert!(upper(name), "{line}");
            let value = value.split(" }").next().unwrap().trim_matches('"');
            out.push((name.to_string(), value.to_string(), "kubernetes.yaml"));
        } else if let Some(name) = l.strip_prefix("name: ").filter(|n| upper(n)) {
            out.push((name.to_string(), String::new(), "kubernetes.yaml"));
        }
    }
    let docker = std::fs::read_to_string(root.join("Dockerfile")).unwrap();
    let env_block = docker.split("\nENV ").nth(1).unwrap().split("\nEXPOSE").next().unwrap();
    for kv in env_block.split(['\\', '\n']).map(str::trim).filter(|s| !s.is_empty()) {
        let (k, v) = kv.split_once('=').unwrap();
        out.push((k.to_string(), v.to_string(), "Dockerfile"));
    }
    out
}

#[test]
fn the_container_and_the_manifest_set_only_variables_the_binary_reads_and_fit_the_drain() {
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_nanobert")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    // Read by the library rather than by a serve option (the Hub cache, nanobert's cache).
    let library = ["HF_HOME", "NANOBERT_HOME"];
    let env = deploy_env();
    assert!(env.len() >= 10, "{env:?}");
    for (name, _, file) in &env {
        assert!(
            library.contains(&name.as_str()) || help.contains(&format!("[env: {name}")),
            "{file} sets {name}, which `nanobert serve` does not read"
        );
    }
    let value =
        |n: &str| -> f64 { env.iter().find(|(k, _, f)| k == n && *f == "kubernetes.yaml").unwrap().1.parse().unwrap() };
    let k8s = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/deploy/kubernetes.yaml"),
    )
    .unwrap();
    let grace: f64 =
        k8s.lines().find_map(|l| l.trim().strip_prefix("terminationGracePeriodSeconds: ")).unwrap().parse().unwrap();
    assert!(
        grace > value("NANOBERT_SHUTDOWN_DELAY") + value("NANOBERT_READ_TIMEOUT"),
        "the grace period must cover the delay and a slow request"
    );
    assert!(k8s.contains("path: /ready") && k8s.contains("path: /health"), "probes on the endpoints the server has");
    assert!(
        k8s.contains("requests: { cpu: \"2\"") && k8s.contains("limits: { cpu: \"2\""),
        "whole cores, requests = limits"
    );
}
