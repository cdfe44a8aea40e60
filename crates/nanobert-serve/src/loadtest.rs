//! # `nanobert bench serve`: an open-loop load test on 127.0.0.1
//!
//! A closed-loop test (N clients, each sending its next request when the previous answer
//! arrives) slows down when the server does, so it never sees a queue build up. Real users
//! do not wait for each other: requests arrive at a rate. This generator is **open loop**:
//! request `i` of a step is sent at `t0 + i / rate`, whatever happened to the others, and its
//! latency is counted from that scheduled time (so a late generator cannot hide queueing).
//!
//! The run, all in one process and one sitting so the ratios compare like with like:
//!
//! 1. the bare in-process forward of one short text, interleaved with the same text sent to
//!    the idle server (the server's overhead);
//! 2. the offline batched throughput of the corpus (`Embedder::embed`, batches of 32);
//! 3. the saturating throughput of each server: a closed-loop burst of many concurrent
//!    requests gives a first guess; an open-loop step offered twice that overloads the server,
//!    and what it achieves there (answers per second, the excess refused or queued) is the
//!    saturating rate the sweep's fractions refer to (`capacity`);
//! 4. an open-loop sweep at fractions of that throughput: p50/p90/p99, achieved
//!    throughput, and how many requests were refused (429/503) and how fast.
//!
//! Steps 3-4 run against nanobert and, when Python is available, against
//! `scripts/serve_baseline.py` (sentence-transformers behind FastAPI/uvicorn, same model,
//! same thread count). Everything binds and connects to 127.0.0.1 only; every step is
//! bounded in requests and seconds; the servers are stopped at the end (also on error).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{ServeOptions, Server};
use nanobert::io::Checkpoint;
use nanobert::pipeline::Embedder;
use nanobert::{Error, Result};

/// What `nanobert bench serve` runs.
#[derive(Clone, Debug)]
pub struct LoadTestOptions {
    /// The nanobert server's options (port is ignored: a free port is used).
    pub serve: ServeOptions,
    /// Offered load of each open-loop step, as fractions of the measured saturating throughput.
    pub fractions: Vec<f64>,
    /// Seconds of sending per step.
    pub step_seconds: f64,
    /// Most requests per step.
    pub max_requests_per_step: usize,
    /// A request not answered within this is counted as timed out.
    pub timeout: Duration,
    /// Python interpreter for the baseline; `None` skips it.
    pub python: Option<String>,
    /// `scripts/serve_baseline.py`.
    pub baseline_script: PathBuf,
    /// Where serve.md, serve.csv and serve.svg go.
    pub out_dir: PathBuf,
    /// Compute threads (rayon pool and torch).
    pub threads: usize,
}

/// One open-loop step's result.
#[derive(Clone, Debug, Default)]
pub struct Step {
    /// `nanobert` or `python`.
    pub server: String,
    /// Fraction of the saturating throughput offered.
    pub fraction: f64,
    /// Offered requests per second.
    pub offered: f64,
    /// Requests sent.
    pub sent: usize,
    /// Answered 200.
    pub ok: usize,
    /// Answered 429 or 503.
    pub refused: usize,
    /// Other statuses, connection errors and timeouts.
    pub failed: usize,
    /// Successful answers per second over the step (first send to last answer).
    pub achieved: f64,
    /// Latency percentiles of the 200s, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, ms.
    pub p90_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Slowest refusal, ms (0 when none).
    pub refused_max_ms: f64,
}

/// A corpus of `n` English texts of 8 to ~60 tokens, the same on every run.
pub fn corpus(n: usize) -> Vec<String> {
    const S: [&str; 24] = [
        "A man is eating a piece of bread.",
        "The new movie is awesome.",
        "A cheetah chases its prey across the savanna.",
        "The stock market fell sharply on Monday after the central bank raised interest rates.",
        "Someone is having breakfast.",
        "A dog runs through the park.",
        "How do I reset my password if I no longer have access to my email account?",
        "The train to Paris leaves at nine.",
        "Matrix multiplication is all you need.",
        "She plays the violin in a small orchestra that rehearses every Thursday evening.",
        "Two children are building a sandcastle on the beach.",
        "The recipe calls for two cups of flour, a pinch of salt and three eggs.",
        "What is the capital of Australia?",
        "Heavy rain is expected across the north of the country this weekend.",
        "The committee postponed its decision until more data is available.",
        "A woman is slicing an onion.",
        "Our quarterly revenue grew by twelve percent, driven mostly by subscriptions.",
        "Is it safe to eat raw cookie dough?",
        "The museum opens a new exhibition on ancient Egyptian astronomy next month.",
        "He forgot his umbrella again.",
        "Electric cars are becoming cheaper to own than petrol cars in many countries.",
        "The patient reported mild headaches and occasional dizziness after the treatment.",
        "Where can I find the best coffee in town?",
        "The software update fixes several security issues and improves battery life.",
    ];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = |m: usize| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % m
    };
    (0..n)
        .map(|_| {
            let parts = 1 + next(3);
            (0..parts).map(|_| S[next(S.len())]).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// The `q`-quantile (0..=1) of `v` (sorted in place), nearest rank; 0 for an empty slice.
pub fn percentile(v: &mut [f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

/// The CPU's model name (Linux), for printing beside every figure.
pub fn cpu_name() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1024).build(c)
}

/// Outcome of one request: status (0 = connection error or timeout) and seconds.
pub(crate) async fn send(client: &HttpClient, url: &str, body: Bytes, timeout: Duration) -> (u16, f64) {
    let t0 = Instant::now();
    let req = match hyper::Request::post(url).header("content-type", "application/json").body(Full::new(body)) {
        Ok(r) => r,
        Err(_) => return (0, 0.0),
    };
    let fut = async {
        let resp = client.request(req).await.ok()?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.ok()?;
        Some(status)
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(Some(s)) => (s, t0.elapsed().as_secs_f64()),
        _ => (0, t0.elapsed().as_secs_f64()),
    }
}

fn body_for(text: &str) -> Bytes {
    Bytes::from(serde_json::json!({ "inputs": text }).to_string())
}

/// Closed-loop burst: `clients` concurrent senders for `seconds`; successful texts per second.
pub(crate) async fn saturate(client: &HttpClient, url: &str, texts: &[String], clients: usize, seconds: f64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url) = (client.clone(), url.to_string());
        let texts: Vec<Bytes> = texts.iter().map(|t| body_for(t)).collect();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut i) = (0usize, c);
            while Instant::now() < deadline {
                let (st, _) = send(&client, &url, texts[i % texts.len()].clone(), Duration::from_secs(30)).await;
                ok += (st == 200) as usize;
                i += clients;
                if st != 200 {
                    // Refused (a small --max-queue): back off instead of re-sending at once, or
                    // the 64 clients spend the two cores on 429s the server then cannot compute on.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    ok as f64 / t0.elapsed().as_secs_f64()
}

/// One open-loop step at `rate` requests per second.
async fn open_loop(client: &HttpClient, url: &str, texts: &[String], rate: f64, opts: &LoadTestOptions) -> Step {
    let n = ((rate * opts.step_seconds).round() as usize).clamp(1, opts.max_requests_per_step);
    let t0 = Instant::now() + Duration::from_millis(20);
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        let at = t0 + Duration::from_secs_f64(i as f64 / rate);
        let (client, url, body, timeout) =
            (client.clone(), url.to_string(), body_for(&texts[i % texts.len()]), opts.timeout);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            let (st, _) = send(&client, &url, body, timeout).await;
            // Latency from the scheduled send time: a late generator does not hide a queue.
            (st, at.elapsed().as_secs_f64(), Instant::now())
        }));
    }
    let mut step = Step { offered: rate, sent: n, ..Step::default() };
    let (mut lat, mut refused_lat, mut last) = (Vec::new(), Vec::new(), t0);
    for t in tasks {
        let Ok((st, secs, done)) = t.await else {
            step.failed += 1;
            continue;
        };
        match st {
            200 => {
                step.ok += 1;
                lat.push(secs * 1e3);
                last = last.max(done);
            }
            429 | 503 => {
                step.refused += 1;
                refused_lat.push(secs * 1e3);
            }
            _ => step.failed += 1,
        }
    }
    let span = last.saturating_duration_since(t0).as_secs_f64();
    step.achieved = if span > 0.0 { step.ok as f64 / span } else { 0.0 };
    step.p50_ms = percentile(&mut lat, 0.5);
    step.p90_ms = percentile(&mut lat, 0.9);
    step.p99_ms = percentile(&mut lat, 0.99);
    step.refused_max_ms = refused_lat.iter().copied().fold(0.0, f64::max);
    step
}

/// The Python baseline server, killed when dropped.
struct Baseline(Child);

impl Drop for Baseline {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_baseline(opts: &LoadTestOptions, port: u16) -> Result<Baseline> {
    let python = opts.python.as_deref().unwrap_or("python3");
    let child = Command::new(python)
        .arg(&opts.baseline_script)
        .args(["--model", &opts.serve.model_dir.to_string_lossy(), "--port", &port.to_string()])
        .args(["--threads", &opts.threads.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| {
            Error::Input(format!("bench serve: cannot start {python} {}: {e}", opts.baseline_script.display()))
        })?;
    Ok(Baseline(child))
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::Input(format!("bench serve: {e}")))?;
    Ok(l.local_addr().map_err(|e| Error::Input(format!("bench serve: {e}")))?.port())
}

async fn wait_healthy(client: &HttpClient, base: &str, child: &mut Baseline, seconds: u64) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let uri: hyper::Uri = format!("{base}/health").parse().map_err(|e| Error::Input(format!("{e}")))?;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.0.try_wait() {
            return Err(Error::Input(format!("bench serve: the Python baseline exited ({status})")));
        }
        let req = hyper::Request::get(uri.clone()).body(Full::new(Bytes::new()));
        if let Ok(req) = req
            && let Ok(Ok(r)) = tokio::time::timeout(Duration::from_secs(1), client.request(req)).await
            && r.status() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(Error::Input(format!("bench serve: the Python baseline did not answer /health within {seconds} s")))
}

/// The saturating throughput of the server at `url` (texts/s): a closed-loop burst of 64
/// clients gives a first guess; an open-loop step offered twice that keeps the server
/// overloaded for the whole step, and what it achieves there is the estimate.
///
/// The earlier estimate took the *smaller* of the burst and of an open-loop step at 1.3x the
/// burst, so it could only come out lower than the burst; and with a small `--max-queue` the
/// burst's 64 clients were mostly refused and re-sent at once, spending the CPU on 429s: it
/// said 77/s where the sweep sustained 147/s. Returns `(estimate, burst)`.
pub(crate) async fn capacity(client: &HttpClient, url: &str, texts: &[String], opts: &LoadTestOptions) -> (f64, f64) {
    let burst = saturate(client, url, texts, 64, opts.step_seconds.max(2.0)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let over = open_loop(client, url, texts, (burst * 2.0).max(1.0), opts).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    (if over.achieved > 0.0 { over.achieved } else { burst }, burst)
}

/// Saturating throughput (texts/s) and the open-loop sweep against the server at `base`.
async fn sweep(name: &str, base: &str, texts: &[String], opts: &LoadTestOptions) -> (f64, Vec<Step>) {
    let client = client();
    let url = format!("{base}/embed");
    // Warm up (first requests pay for lazy initialization on both servers).
    for t in texts.iter().take(8) {
        send(&client, &url, body_for(t), opts.timeout).await;
    }
    let (capacity, burst) = capacity(&client, &url, texts, opts).await;
    eprintln!(
        "{name}: saturating throughput {capacity:.1} texts/s achieved open loop at 2x the burst's {burst:.1} (64 clients, closed loop)"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut steps = Vec::new();
    for &f in &opts.fractions {
        let mut s = open_loop(&client, &url, texts, (capacity * f).max(0.5), opts).await;
        s.server = name.into();
        s.fraction = f;
        eprintln!(
            "{name}: {:>4.0}% offered {:>7.1}/s -> {:>7.1}/s ok {:>5} refused {:>5} failed {:>4}  p50 {:>7.1} ms  p99 {:>7.1} ms",
            f * 100.0,
            s.offered,
            s.achieved,
            s.ok,
            s.refused,
            s.failed,
            s.p50_ms,
            s.p99_ms
        );
        steps.push(s);
        tokio::time::sleep(Duration::from_millis(300)).await; // let queues drain between steps
    }
    (capacity, steps)
}

/// The TCP_NODELAY experiment: the saturating rate measured on the server with it on
/// (`on`), then each step of the sweep run three times against the server with it off
/// (`off`, steps named `nodelay-off`) and the one with it on (`nodelay-on`), alternating
/// which goes first, so both see the same machine.
async fn nodelay_sweep(off: &str, on: &str, texts: &[String], opts: &LoadTestOptions) -> (f64, Vec<Step>) {
    let client = client();
    let (url_off, url_on) = (format!("{off}/embed"), format!("{on}/embed"));
    for t in texts.iter().take(8) {
        send(&client, &url_off, body_for(t), opts.timeout).await;
        send(&client, &url_on, body_for(t), opts.timeout).await;
    }
    let (capacity, burst) = capacity(&client, &url_on, texts, opts).await;
    eprintln!("nodelay-on: saturating throughput {capacity:.1} texts/s (burst {burst:.1})");
    let mut steps = Vec::new();
    for round in 0..3 {
        for &f in &opts.fractions {
            let order = if round % 2 == 0 {
                [("nodelay-off", &url_off), ("nodelay-on", &url_on)]
            } else {
                [("nodelay-on", &url_on), ("nodelay-off", &url_off)]
            };
            for (name, url) in order {
                let mut s = open_loop(&client, url, texts, (capacity * f).max(0.5), opts).await;
                s.server = name.into();
                s.fraction = f;
                eprintln!(
                    "round {round} {name}: {:>4.0}% offered {:>7.1}/s -> {:>7.1}/s  p50 {:>7.1} ms  p99 {:>7.1} ms  failed {}",
                    f * 100.0,
                    s.offered,
                    s.achieved,
                    s.p50_ms,
                    s.p99_ms,
                    s.failed
                );
                steps.push(s);
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    (capacity, steps)
}

/// Idle latency, interleaved: bare forward (A) and one request to the idle server (B), `n` times each.
async fn idle_latency(emb: &Embedder, base: &str, text: &str, n: usize) -> Result<(f64, f64)> {
    let client = client();
    let url = format!("{base}/embed");
    let body = body_for(text);
    for _ in 0..5 {
        emb.embed(&[text])?;
        send(&client, &url, body.clone(), Duration::from_secs(10)).await;
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let t = Instant::now();
        emb.embed(&[text])?;
        a.push(t.elapsed().as_secs_f64() * 1e3);
        let (st, secs) = send(&client, &url, body.clone(), Duration::from_secs(10)).await;
        if st != 200 {
            return Err(Error::Input(format!("bench serve: the idle server answered {st}")));
        }
        b.push(secs * 1e3);
    }
    Ok((percentile(&mut a, 0.5), percentile(&mut b, 0.5)))
}

/// Offline batched throughput of `texts` (texts/s, best of 2 passes).
fn offline_throughput(emb: &Embedder, texts: &[String]) -> Result<f64> {
    let strs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut best = 0.0f64;
    for _ in 0..2 {
        let t = Instant::now();
        emb.embed(&strs)?;
        best = best.max(texts.len() as f64 / t.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Runs the whole load test and writes `serve.md`, `serve.csv` and `serve.svg`.
pub fn run(opts: &LoadTestOptions) -> Result<()> {
    let cpu = cpu_name();
    let texts = corpus(256);
    eprintln!("bench serve on {cpu}, {} compute threads; timings are noisy on a shared machine", opts.threads);
    let ckpt = Checkpoint::open(&opts.serve.model_dir)?;
    let emb = Embedder::from_checkpoint(&ckpt)?;
    let offline = offline_throughput(&emb, &texts)?;
    eprintln!("offline batched (Embedder::embed, batches of 32): {offline:.1} texts/s");

    let mut serve_opts = opts.serve.clone();
    serve_opts.port = 0;
    serve_opts.host = "127.0.0.1".into();
    let cold = Instant::now();
    let server = Server::start(&serve_opts)?;
    let cold = cold.elapsed().as_secs_f64();
    let base = format!("http://{}", server.addr());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| Error::Input(format!("bench serve: {e}")))?;
    let short = "What is the capital of Australia?";
    let (bare_ms, idle_ms) = rt.block_on(idle_latency(&emb, &base, short, 100))?;
    eprintln!(
        "idle, one short text: bare forward p50 {bare_ms:.2} ms, server p50 {idle_ms:.2} ms ({:.2}x)",
        idle_ms / bare_ms
    );
    drop(emb);
    let calls_before = CallStats::of(&server.metrics);
    let (capacity, mut steps) = if opts.serve.tcp_nodelay {
        rt.block_on(sweep("nanobert", &base, &texts, opts))
    } else {
        // The TCP_NODELAY experiment: a second server with it on, every step run against both.
        let mut on = serve_opts.clone();
        on.tcp_nodelay = true;
        let server_on = Server::start(&on)?;
        let r = rt.block_on(nodelay_sweep(&base, &format!("http://{}", server_on.addr()), &texts, opts));
        server_on.shutdown()?;
        r
    };
    let calls = CallStats::of(&server.metrics).since(calls_before);
    server.shutdown()?;

    let mut py_capacity = None;
    if opts.python.is_some() {
        let port = free_port()?;
        let mut child = start_baseline(opts, port)?;
        let base = format!("http://127.0.0.1:{port}");
        let ready = rt.block_on(wait_healthy(&client(), &base, &mut child, 180));
        match ready {
            Ok(()) => {
                let (c, s) = rt.block_on(sweep("python", &base, &texts, opts));
                py_capacity = Some(c);
                steps.extend(s);
            }
            Err(e) => eprintln!("{e}: skipping the baseline"),
        }
        drop(child);
    }
    let summary = Summary { cpu, threads: opts.threads, cold, bare_ms, idle_ms, offline, capacity, py_capacity, calls };
    std::fs::create_dir_all(&opts.out_dir).map_err(|e| Error::file(&opts.out_dir, e))?;
    let md = report(&summary, &steps);
    println!("{md}");
    let path = opts.out_dir.join("serve.md");
    std::fs::write(&path, &md).map_err(|e| Error::file(&path, e))?;
    write_csv(&opts.out_dir.join("serve.csv"), &steps)?;
    let svg = opts.out_dir.join("serve.svg");
    plot(&svg, &steps).map_err(|e| Error::file(&svg, e))?;
    eprintln!("wrote serve.md, serve.csv and serve.svg in {}", opts.out_dir.display());
    Ok(())
}

/// What the server's model calls computed (from its counters): calls, texts, real and padded tokens.
#[derive(Clone, Copy, Debug, Default)]
struct CallStats {
    calls: f64,
    texts: f64,
    tokens: f64,
    padded: f64,
}

impl CallStats {
    fn of(m: &super::metrics::Metrics) -> CallStats {
        use std::sync::atomic::Ordering::Relaxed;
        CallStats {
            calls: m.batch_texts.count() as f64,
            texts: m.batch_texts.sum(),
            tokens: m.tokens.load(Relaxed) as f64,
            padded: m.padded_tokens.load(Relaxed) as f64,
        }
    }

    fn since(self, before: CallStats) -> CallStats {
        CallStats {
            calls: self.calls - before.calls,
            texts: self.texts - before.texts,
            tokens: self.tokens - before.tokens,
            padded: self.padded - before.padded,
        }
    }
}

struct Summary {
    cpu: String,
    threads: usize,
    cold: f64,
    bare_ms: f64,
    idle_ms: f64,
    offline: f64,
    capacity: f64,
    py_capacity: Option<f64>,
    calls: CallStats,
}

fn report(s: &Summary, steps: &[Step]) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(o, "## bench serve — {}, {} compute threads (shared machine: noisy)\n", s.cpu, s.threads);
    let _ = writeln!(o, "| measure | value | target |\n|---|---|---|");
    let _ = writeln!(o, "| cold start (load + listen) | {:.2} s | |", s.cold);
    let _ = writeln!(
        o,
        "| idle p50, one short text: server / bare forward | {:.2} ms / {:.2} ms = {:.2}x | <= 1.3x |",
        s.idle_ms,
        s.bare_ms,
        s.idle_ms / s.bare_ms
    );
    let _ = writeln!(
        o,
        "| saturating throughput / offline batched | {:.1} / {:.1} texts/s = {:.2}x | >= 0.85x |",
        s.capacity,
        s.offline,
        s.capacity / s.offline
    );
    if let Some(py) = s.py_capacity {
        let _ = writeln!(
            o,
            "| saturating throughput / Python baseline | {:.1} / {:.1} texts/s = {:.2}x | >= 2x |",
            s.capacity,
            py,
            s.capacity / py
        );
    }
    let c = s.calls;
    if c.calls > 0.0 && c.tokens > 0.0 {
        let _ = writeln!(
            o,
            "| the server's model calls in the sweep: texts per call; padded / real tokens | {:.1}; {:.0} / {:.0} = {:.2}x | |",
            c.texts / c.calls,
            c.padded,
            c.tokens,
            c.padded / c.tokens
        );
    }
    let ours = |st: &&Step| st.server == "nanobert" || st.server == "nodelay-on";
    if let Some(top) = steps.iter().filter(ours).map(|st| st.achieved).reduce(f64::max) {
        let _ = writeln!(
            o,
            "| saturation estimate / highest rate achieved in the sweep | {:.1} / {:.1} texts/s = {:.2}x | ~1x |",
            s.capacity,
            top,
            s.capacity / top.max(1e-9)
        );
    }
    for name in ["nodelay-off", "nodelay-on"] {
        let mut ratios: Vec<f64> = steps
            .iter()
            .filter(|st| st.server == name && (st.fraction - 0.7).abs() < 1e-9 && st.p50_ms > 0.0)
            .map(|st| st.p99_ms / st.p50_ms)
            .collect();
        if !ratios.is_empty() {
            let all: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            let _ = writeln!(
                o,
                "| TCP_NODELAY {}: p99 / p50 at 70% load, median of {} steps | {:.2}x ({}) | <= 3x |",
                if name == "nodelay-on" { "on" } else { "off" },
                ratios.len(),
                percentile(&mut ratios, 0.5),
                all.join(", ")
            );
        }
    }
    if let Some(st) = steps.iter().find(|st| st.server == "nanobert" && (st.fraction - 0.7).abs() < 1e-9) {
        let _ = writeln!(
            o,
            "| at 70% load: p99 / p50 | {:.1} / {:.1} ms = {:.2}x; failed {} | <= 5x, 0 failed |",
            st.p99_ms,
            st.p50_ms,
            st.p99_ms / st.p50_ms.max(1e-9),
            st.failed
        );
    }
    let refused: Vec<&Step> = steps.iter().filter(|st| st.server == "nanobert" && st.refused > 0).collect();
    if !refused.is_empty() {
        let worst = refused.iter().map(|st| st.refused_max_ms).fold(0.0, f64::max);
        let _ = writeln!(o, "| overload: slowest 429/503 | {worst:.1} ms | < 10 ms |");
    }
    let _ = writeln!(
        o,
        "\n| server | load | offered/s | achieved/s | sent | ok | 429/503 | failed | p50 ms | p90 ms | p99 ms | slowest refusal ms |"
    );
    let _ = writeln!(o, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for st in steps {
        let _ = writeln!(
            o,
            "| {} | {:.0}% | {:.1} | {:.1} | {} | {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} |",
            st.server,
            st.fraction * 100.0,
            st.offered,
            st.achieved,
            st.sent,
            st.ok,
            st.refused,
            st.failed,
            st.p50_ms,
            st.p90_ms,
            st.p99_ms,
            st.refused_max_ms
        );
    }
    o
}

fn write_csv(path: &Path, steps: &[Step]) -> Result<()> {
    let mut s =
        String::from("server,fraction,offered,achieved,sent,ok,refused,failed,p50_ms,p90_ms,p99_ms,refused_max_ms\n");
    for st in steps {
        s.push_str(&format!(
            "{},{},{:.3},{:.3},{},{},{},{},{:.3},{:.3},{:.3},{:.3}\n",
            st.server,
            st.fraction,
            st.offered,
            st.achieved,
            st.sent,
            st.ok,
            st.refused,
            st.failed,
            st.p50_ms,
            st.p90_ms,
            st.p99_ms,
            st.refused_max_ms
        ));
    }
    std::fs::write(path, s).map_err(|e| Error::file(path, e))
}

/// Latency (p50 solid, p99 dashed, log scale) against achieved throughput, one color per server.
fn plot(path: &Path, steps: &[Step]) -> std::result::Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let xmax = steps.iter().map(|s| s.achieved.max(s.offered)).fold(1.0, f64::max) * 1.1;
    let lat = |s: &Step| [s.p50_ms, s.p99_ms];
    let ymax = steps.iter().flat_map(lat).fold(1.0, f64::max) * 2.0;
    let ymin = steps.iter().flat_map(lat).filter(|&v| v > 0.0).fold(ymax, f64::min) / 2.0;
    let root = SVGBackend::new(path, (1000, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Open-loop load: latency vs achieved throughput (log scale)", ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..xmax, (ymin.max(0.01)..ymax).log_scale())?;
    chart.configure_mesh().x_desc("achieved texts/s").y_desc("latency, ms").draw()?;
    for (i, name) in ["nanobert", "python", "nodelay-off", "nodelay-on"].iter().enumerate() {
        let pts: Vec<&Step> = steps.iter().filter(|s| s.server == *name && s.ok > 0).collect();
        if pts.is_empty() {
            continue;
        }
        let color = [RGBColor(200, 60, 30), RGBColor(40, 90, 200), RGBColor(120, 120, 120), RGBColor(30, 150, 60)][i];
        let p50: Vec<(f64, f64)> = pts.iter().map(|s| (s.achieved, s.p50_ms.max(ymin))).collect();
        let p99: Vec<(f64, f64)> = pts.iter().map(|s| (s.achieved, s.p99_ms.max(ymin))).collect();
        chart
            .draw_series(LineSeries::new(p50.clone(), color.stroke_width(2)))?
            .label(format!("{name} p50"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(p50.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        chart
            .draw_series(DashedLineSeries::new(p99.clone(), 6, 4, color.stroke_width(2)))?
            .label(format!("{name} p99"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1)));
        chart.draw_series(p99.iter().map(|&p| Circle::new(p, 3, color)))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentile(&mut v, 0.5), 50.0);
        assert_eq!(percentile(&mut v, 0.99), 99.0);
        assert_eq!(percentile(&mut v, 1.0), 100.0);
        assert_eq!(percentile(&mut [], 0.5), 0.0);
    }

    #[test]
    fn the_corpus_is_fixed_and_varied() {
        let a = corpus(50);
        assert_eq!(a, corpus(50));
        let lens: Vec<usize> = a.iter().map(|t| t.split(' ').count()).collect();
        assert!(lens.iter().min() < lens.iter().max());
    }
}
