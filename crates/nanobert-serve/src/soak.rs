//! # `nanobert bench serve --soak`: many minutes of mixed traffic at half load
//!
//! A server that is fast for four seconds can still leak memory, grow a queue, or answer 500
//! once in a million. The soak runs the server in process, measures its saturating throughput
//! (as `bench serve` does), then sends an open-loop stream at half of it for `--soak-seconds`
//! (600 by default) in one-minute windows, mixing what clients send: `/embed` (two thirds),
//! `/v1/embeddings`, `/embed_all`, `/tokenize`, `/decode`, and malformed requests that must get
//! a 4xx. Per window: requests by status class, p50/p99 of the successful ones, and the
//! process's resident memory. The verdict: zero 5xx (and no failed connection), RSS growth from
//! the first window to the last under 5%, p99 stable (the worst window's over the best's).

use std::time::{Duration, Instant};

use axum::body::Bytes;

use super::Server;
use super::loadtest::{LoadTestOptions, capacity, client, corpus, cpu_name, percentile, send};
use nanobert::{Error, Result};

/// One window of the soak.
#[derive(Clone, Debug, Default)]
pub struct Window {
    /// Seconds since the soak began, at the window's end.
    pub end_s: f64,
    /// Requests sent.
    pub sent: usize,
    /// 2xx answers.
    pub ok: usize,
    /// 4xx answers to the malformed requests (expected).
    pub rejected: usize,
    /// 429/503 (load refusals).
    pub refused: usize,
    /// 5xx answers, 4xx to well-formed requests, connection errors and timeouts.
    pub failed: usize,
    /// p50 of the 2xx, ms.
    pub p50_ms: f64,
    /// p99 of the 2xx, ms.
    pub p99_ms: f64,
    /// Resident memory at the window's end, MiB.
    pub rss_mib: f64,
}

/// Resident set size of this process (Linux `/proc/self/status`), MiB; 0 elsewhere.
pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Request `i` of the mix: (path, body, whether it is malformed on purpose).
fn request_for(i: usize, texts: &[String]) -> (&'static str, Bytes, bool) {
    let t = &texts[i % texts.len()];
    let j = |v: serde_json::Value| Bytes::from(v.to_string());
    match i % 12 {
        0..=7 => ("/embed", j(serde_json::json!({ "inputs": t })), false),
        8 => ("/v1/embeddings", j(serde_json::json!({ "input": [t, &texts[(i + 1) % texts.len()]] })), false),
        9 => ("/embed_all", j(serde_json::json!({ "inputs": t })), false),
        10 => {
            if i % 24 == 10 {
                ("/tokenize", j(serde_json::json!({ "inputs": t })), false)
            } else {
                ("/decode", j(serde_json::json!({ "ids": [101, 7592, 2088, 102] })), false)
            }
        }
        _ => {
            let bad = [r#"{"inputs": "#, r#"{"inputs": []}"#, r#"{"nope": 1}"#, r#"{"ids": [-1]}"#];
            let path = if (i / 12).is_multiple_of(2) { "/embed" } else { "/decode" };
            (path, Bytes::from(bad[(i / 12) % bad.len()]), true)
        }
    }
}

async fn window(base: &str, texts: &[String], rate: f64, seconds: f64, first: usize, timeout: Duration) -> Window {
    let c = client();
    let n = (rate * seconds).round().max(1.0) as usize;
    let t0 = Instant::now() + Duration::from_millis(10);
    let mut tasks = Vec::with_capacity(n);
    for k in 0..n {
        let at = t0 + Duration::from_secs_f64(k as f64 / rate);
        let (path, body, bad) = request_for(first + k, texts);
        let (c, url) = (c.clone(), format!("{base}{path}"));
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let (st, _) = send(&c, &url, body, timeout).await;
            (st, at.elapsed().as_secs_f64() * 1e3, bad)
        }));
    }
    let mut w = Window { sent: n, ..Window::default() };
    let mut lat = Vec::new();
    for t in tasks {
        match t.await {
            Ok((200..=299, ms, false)) => {
                w.ok += 1;
                lat.push(ms);
            }
            Ok((400..=428 | 430..=499, _, true)) => w.rejected += 1,
            Ok((429 | 503, _, _)) => w.refused += 1,
            _ => w.failed += 1,
        }
    }
    w.p50_ms = percentile(&mut lat, 0.5);
    w.p99_ms = percentile(&mut lat, 0.99);
    w.rss_mib = rss_mib();
    w
}

/// Runs the soak for `seconds` at `fraction` of the saturating rate; writes `soak.md`.
pub fn run(opts: &LoadTestOptions, seconds: f64, fraction: f64) -> Result<Vec<Window>> {
    let texts = corpus(256);
    let mut serve_opts = opts.serve.clone();
    serve_opts.port = 0;
    serve_opts.host = "127.0.0.1".into();
    let server = Server::start(&serve_opts)?;
    let base = format!("http://{}", server.addr());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Input(format!("bench serve --soak: {e}")))?;
    let url = format!("{base}/embed");
    let (capacity, _) = rt.block_on(capacity(&client(), &url, &texts, opts));
    let rate = (capacity * fraction).max(1.0);
    eprintln!(
        "soak on {}: saturating {capacity:.1} texts/s; {seconds:.0} s at {:.0}% = {rate:.1} requests/s, mixed endpoints",
        cpu_name(),
        fraction * 100.0
    );
    let start = Instant::now();
    let (mut windows, mut sent) = (Vec::new(), 0usize);
    while start.elapsed().as_secs_f64() + 1.0 < seconds {
        let len = (seconds - start.elapsed().as_secs_f64()).min(60.0);
        let mut w = rt.block_on(window(&base, &texts, rate, len, sent, opts.timeout));
        sent += w.sent;
        w.end_s = start.elapsed().as_secs_f64();
        eprintln!(
            "{:>5.0} s: sent {:>6} ok {:>6} 4xx(expected) {:>5} 429/503 {:>4} failed {:>3}  p50 {:>6.1} ms  p99 {:>6.1} ms  RSS {:>6.1} MiB",
            w.end_s, w.sent, w.ok, w.rejected, w.refused, w.failed, w.p50_ms, w.p99_ms, w.rss_mib
        );
        windows.push(w);
    }
    let five_xx =
        server.metrics.render().lines().filter(|l| l.contains("status=\"5xx\"") && !l.ends_with(" 0")).count();
    server.shutdown()?;
    let md = report(&windows, capacity, rate, five_xx);
    println!("{md}");
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let path = opts.out_dir.join("soak.md");
    std::fs::write(&path, &md).map_err(|e| Error::file(&path, e))?;
    Ok(windows)
}

fn report(w: &[Window], capacity: f64, rate: f64, five_xx_lines: usize) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "## bench serve --soak — {} (shared machine: noisy)\n", cpu_name());
    let _ = writeln!(o, "saturating {capacity:.1} texts/s; offered {rate:.1} requests/s of mixed endpoints\n");
    let _ = writeln!(
        o,
        "| end s | sent | 2xx | 4xx (malformed, expected) | 429/503 | failed | p50 ms | p99 ms | RSS MiB |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|");
    for x in w {
        let _ = writeln!(
            o,
            "| {:.0} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} |",
            x.end_s, x.sent, x.ok, x.rejected, x.refused, x.failed, x.p50_ms, x.p99_ms, x.rss_mib
        );
    }
    let failed: usize = w.iter().map(|x| x.failed).sum();
    let (first, last) = (w.first().map_or(0.0, |x| x.rss_mib), w.last().map_or(0.0, |x| x.rss_mib));
    let growth = if first > 0.0 { (last / first - 1.0) * 100.0 } else { 0.0 };
    let p99s: Vec<f64> = w.iter().map(|x| x.p99_ms).filter(|&p| p > 0.0).collect();
    let (lo, hi) = (p99s.iter().copied().fold(f64::INFINITY, f64::min), p99s.iter().copied().fold(0.0, f64::max));
    let _ = writeln!(
        o,
        "\nfailed (5xx, connection errors, timeouts): {failed} (server counted 5xx on {five_xx_lines} endpoints) | \
         RSS first -> last window: {first:.1} -> {last:.1} MiB ({growth:+.1}%, target < 5%) | \
         p99 worst / best window: {hi:.1} / {lo:.1} ms = {:.2}x",
        if lo > 0.0 && lo.is_finite() { hi / lo } else { 0.0 }
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_covers_every_kind_and_marks_the_malformed_ones() {
        let texts = corpus(8);
        let kinds: Vec<(&str, bool)> = (0..48).map(|i| request_for(i, &texts)).map(|(p, _, bad)| (p, bad)).collect();
        for path in ["/embed", "/v1/embeddings", "/embed_all", "/tokenize", "/decode"] {
            assert!(kinds.contains(&(path, false)), "{path}");
        }
        assert_eq!(kinds.iter().filter(|k| k.1).count(), 4);
        assert!(kinds.contains(&("/embed", true)) && kinds.contains(&("/decode", true)), "malformed on both");
        assert!(rss_mib() > 0.0 || !cfg!(target_os = "linux"));
    }
}
