//! `nanobert serve` end to end on the tiny fixture model: answers agree with the library,
//! every kind of malformed request gets a clean 4xx naming the problem (never a panic or a
//! dropped connection), a full queue answers 429 at once, a disconnected client frees its
//! place, and shutdown finishes the requests in flight. Servers bind 127.0.0.1 on a free port
//! and are stopped by each test.

#[path = "../../../tests/pytorch/mod.rs"]
mod pytorch;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use nanobert::io::Checkpoint;
use nanobert::pipeline::{Embedder, FillMask};
use nanobert_serve::{ServeOptions, Server};
use pytorch::fixture;

fn options() -> ServeOptions {
    ServeOptions::new(fixture("tiny-bert"), 0)
}

/// Sends raw bytes, returns (status, body). `Connection: close` is added by [`request`].
fn raw(addr: SocketAddr, bytes: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn request(addr: SocketAddr, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(addr, &req)
}

fn post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(addr, "POST", path, body.as_bytes())
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

fn vectors(v: &serde_json::Value) -> Vec<Vec<f32>> {
    serde_json::from_value(v.clone()).unwrap()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| if x.is_nan() || y.is_nan() { f32::INFINITY } else { (x - y).abs() })
        .fold(0.0, f32::max)
}

#[test]
fn embeddings_match_the_library_in_both_shapes() {
    let server = Server::start(&options()).unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert_eq!(request(addr, "GET", "/health", b"").0, 200);

    let emb = Embedder::from_checkpoint(&Checkpoint::open(&fixture("tiny-bert")).unwrap()).unwrap();
    let texts = ["hello world", "a much longer sentence about the weather in paris today", "short"];
    let expected = emb.embed(&texts).unwrap();

    // TEI shape, several texts of different lengths in one request (padded together).
    let (st, body) = post(addr, "/embed", &serde_json::json!({ "inputs": texts, "normalize": false }).to_string());
    assert_eq!(st, 200, "{body}");
    let got = vectors(&json(&body));
    assert_eq!(got.len(), 3);
    for (g, e) in got.iter().zip(&expected) {
        assert!(max_diff(g, e) < 1e-5, "server and library differ by {}", max_diff(g, e));
    }
    // One string; normalize defaults to true.
    let (st, body) = post(addr, "/embed", r#"{"inputs": "hello world"}"#);
    assert_eq!(st, 200, "{body}");
    let one = &vectors(&json(&body))[0];
    let norm: f32 = expected[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    let unit: Vec<f32> = expected[0].iter().map(|x| x / norm).collect();
    assert!(max_diff(one, &unit) < 1e-5);

    // OpenAI shape, float and base64.
    let (st, body) = post(addr, "/v1/embeddings", r#"{"input": ["hello world", "short"], "model": "m"}"#);
    assert_eq!(st, 200, "{body}");
    let v = json(&body);
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "m");
    assert_eq!(v["data"][1]["index"], 1);
    let tokens = v["usage"]["prompt_tokens"].as_u64().unwrap();
    assert!(tokens >= 6, "[CLS] hello world [SEP] + [CLS] short [SEP]: {tokens}");
    assert_eq!(v["usage"]["total_tokens"].as_u64(), Some(tokens));
    let f: Vec<f32> = serde_json::from_value(v["data"][0]["embedding"].clone()).unwrap();
    assert!(max_diff(&f, &unit) < 1e-5);
    let (st, body) = post(addr, "/v1/embeddings", r#"{"input": "hello world", "encoding_format": "base64"}"#);
    assert_eq!(st, 200, "{body}");
    let b64 = json(&body)["data"][0]["embedding"].as_str().unwrap().to_string();
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
    let decoded: Vec<f32> = bytes.chunks(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    assert_eq!(decoded, f);

    // /info and /metrics.
    let (st, body) = request(addr, "GET", "/info", b"");
    assert_eq!(st, 200);
    let info = json(&body);
    assert_eq!(info["dimensions"], 32);
    assert_eq!(info["max_input_length"], 64);
    assert_eq!(info["model_id"], "tiny-bert");
    let (st, body) = request(addr, "GET", "/metrics", b"");
    assert_eq!(st, 200);
    assert!(body.contains("nanobert_requests_total{endpoint=\"/embed\",status=\"2xx\"} 2"), "{body}");
    assert!(body.contains("nanobert_batch_texts_count"), "{body}");
    server.shutdown().unwrap();
}

#[test]
fn fill_mask_matches_the_library() {
    let server = Server::start(&options()).unwrap();
    let addr = server.addr();
    let fm = FillMask::from_checkpoint(&Checkpoint::open(&fixture("tiny-bert")).unwrap()).unwrap();
    let texts = ["the capital of france is [MASK].", "i [MASK] a cup of [MASK] ."];
    let expected = fm.predict(&texts, 3).unwrap();
    let (st, body) = post(addr, "/fill-mask", &serde_json::json!({ "inputs": texts, "top_k": 3 }).to_string());
    assert_eq!(st, 200, "{body}");
    let got = json(&body);
    for (t, e) in expected.iter().enumerate() {
        assert_eq!(got[t].as_array().unwrap().len(), e.masks.len());
        for (m, em) in e.masks.iter().enumerate() {
            assert_eq!(got[t][m]["position"], em.position);
            for (c, ec) in em.top.iter().enumerate() {
                assert_eq!(got[t][m]["top"][c]["id"], ec.id);
                assert_eq!(got[t][m]["top"][c]["token"], ec.token.as_str());
                let s = got[t][m]["top"][c]["score"].as_f64().unwrap() as f32;
                assert!((s - ec.score).abs() < 1e-5);
            }
        }
    }
    server.shutdown().unwrap();
}

#[test]
fn every_malformed_request_gets_a_clean_4xx() {
    let mut o = options();
    o.limits.max_texts = 4;
    o.limits.max_text_chars = 200;
    o.limits.max_body_bytes = 4096;
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let long_words = "a ".repeat(99); // under 200 chars but more than 64 tokens
    let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
    let cases: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/embed", "{\"inputs\": ".into(), 400, "malformed JSON"),
        ("POST", "/embed", "not json at all".into(), 400, "malformed JSON"),
        ("POST", "/embed", "".into(), 400, "empty body"),
        ("POST", "/embed", "{\"inputs\": 42}".into(), 400, "unexpected JSON content"),
        ("POST", "/embed", "{\"texts\": [\"a\"]}".into(), 400, "unknown field"),
        ("POST", "/embed", "{\"inputs\": []}".into(), 400, "empty list"),
        ("POST", "/embed", "{\"inputs\": [\"a\", \"\"]}".into(), 400, "`inputs`[1] is empty"),
        ("POST", "/embed", "{\"inputs\": [\"a\",\"b\",\"c\",\"d\",\"e\"]}".into(), 413, "limit is 4 texts"),
        ("POST", "/embed", format!("{{\"inputs\": \"{}\"}}", "x".repeat(201)), 413, "limit is 200 characters"),
        ("POST", "/embed", format!("{{\"inputs\": \"{}\"}}", "x ".repeat(3000)), 413, "limit of 4096 bytes"),
        ("POST", "/embed", format!("{{\"inputs\": \"{long_words}\"}}"), 413, "at most 64"),
        ("POST", "/embed", deep, 400, "malformed JSON"),
        ("POST", "/embed", "{\"inputs\": \"a\", \"prompt_name\": \"q\"}".into(), 400, "has no prompts"),
        ("POST", "/embed", "{\"inputs\": \"a\", \"truncation_direction\": \"Left\"}".into(), 400, "Right"),
        ("POST", "/v1/embeddings", "{\"input\": [1, 2, 3]}".into(), 400, "token-id"),
        ("POST", "/v1/embeddings", "{\"input\": \"a\", \"encoding_format\": \"hex\"}".into(), 400, "encoding_format"),
        ("POST", "/v1/embeddings", "{\"input\": \"a\", \"dimensions\": 33}".into(), 400, "ask for 1 to 32"),
        ("POST", "/v1/embeddings", "{\"model\": \"m\"}".into(), 400, "missing field `input`"),
        ("POST", "/fill-mask", "{\"inputs\": \"no mask here\"}".into(), 400, "no [MASK]"),
        ("POST", "/fill-mask", "{\"inputs\": \"a [MASK]\", \"top_k\": 0}".into(), 400, "top_k"),
        ("POST", "/nope", "{}".into(), 404, "no endpoint /nope"),
        ("GET", "/embed", "".into(), 405, ""),
    ];
    for (method, path, body, status, needle) in &cases {
        let (st, got) = request(addr, method, path, body.as_bytes());
        assert_eq!(st, *status, "{method} {path} {:.60}: {got}", body);
        assert!(got.contains(needle), "{method} {path} {:.60}: answer should mention {needle:?}: {got}", body);
        if *status != 405 {
            let v = json(&got);
            let msg = if path.starts_with("/v1/") { &v["error"]["message"] } else { &v["error"] };
            assert!(msg.is_string(), "error shape for {path}: {got}");
        }
    }
    // The OpenAI endpoint answers in OpenAI's error shape.
    let (_, got) = post(addr, "/v1/embeddings", "{");
    assert_eq!(json(&got)["error"]["type"], "invalid_request_error");
    // Invalid UTF-8 inside the JSON string, and bytes that are not HTTP at all.
    let (st, _) = request(addr, "POST", "/embed", b"{\"inputs\": \"\xff\xfe\"}");
    assert_eq!(st, 400);
    let (st, _) = raw(addr, b"\x00\x01garbage\r\n\r\n");
    assert!(st == 400 || st == 0, "garbage gets a 400 or a closed connection, got {st}");
    // A long text is cut when asked to.
    let (st, body) = post(addr, "/embed", &format!("{{\"inputs\": \"{long_words}\", \"truncate\": true}}"));
    assert_eq!(st, 200, "{body}");
    // Still healthy, and the refusals were counted.
    assert_eq!(request(addr, "GET", "/health", b"").0, 200);
    assert!(server.metrics.requests("/embed", "413") >= 3);
    assert!(server.metrics.requests("/embed", "4xx") >= 8);
    server.shutdown().unwrap();
}

/// Waits until `cond` holds (polling), failing after 10 s.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < Duration::from_secs(10), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_full_queue_says_429_and_shutdown_finishes_what_is_in_flight() {
    let mut o = options();
    o.max_queue_texts = 1;
    // The batcher holds a lone request for up to 3 s hoping for company: the queue stays full.
    o.max_wait = Duration::from_secs(3);
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let first = std::thread::spawn(move || post(addr, "/embed", r#"{"inputs": "in flight"}"#));
    wait_until("the first request to be queued", || server.metrics.queue_texts.load(Ordering::Relaxed) == 1);
    let (st, body) = post(addr, "/embed", r#"{"inputs": "one too many"}"#);
    assert_eq!(st, 429, "{body}");
    assert!(body.contains("queue is full"), "{body}");
    let (st, body) = post(addr, "/v1/embeddings", r#"{"input": "one too many"}"#);
    assert_eq!(st, 429, "{body}");
    // Shut down while the first is still queued: it is answered, not dropped.
    let t0 = Instant::now();
    server.shutdown().unwrap();
    let (st, body) = first.join().unwrap();
    assert_eq!(st, 200, "the in-flight request must finish: {body}");
    assert_eq!(vectors(&json(&body)).len(), 1);
    assert!(t0.elapsed() < Duration::from_secs(10));
    assert!(TcpStream::connect(addr).is_err(), "nothing listens after shutdown");
}

#[test]
fn a_client_that_disconnects_frees_its_place() {
    let mut o = options();
    o.max_queue_texts = 1;
    o.max_wait = Duration::from_secs(3);
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let body = r#"{"inputs": "going away"}"#;
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
    wait_until("the request to be queued", || server.metrics.queue_texts.load(Ordering::Relaxed) == 1);
    drop(s);
    wait_until("the queue to free the place", || server.metrics.queue_texts.load(Ordering::Relaxed) == 0);
    assert_eq!(server.metrics.cancelled.load(Ordering::Relaxed), 1);
    // The place is free: the next request is accepted (and answered at shutdown).
    let next = std::thread::spawn(move || post(addr, "/embed", r#"{"inputs": "next"}"#));
    wait_until("the next request to be queued", || server.metrics.queue_texts.load(Ordering::Relaxed) == 1);
    server.shutdown().unwrap();
    let (st, body) = next.join().unwrap();
    assert_eq!(st, 200, "{body}");
}

// ---- Classification checkpoints: /rerank and /predict --------------------------------------

fn head(name: &str) -> std::path::PathBuf {
    fixture(&format!("checkpoints/{name}"))
}

fn expected(name: &str) -> serde_json::Value {
    json(&std::fs::read_to_string(fixture(&format!("checkpoints/{name}.expected.json"))).unwrap())
}

fn f32s(v: &serde_json::Value) -> f32 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}")) as f32
}

#[test]
fn rerank_matches_the_cross_encoder_pipeline_and_pytorch() {
    use nanobert::pipeline::Reranker;
    let server = Server::start(&ServeOptions::new(head("head-rerank"), 0)).unwrap();
    let addr = server.addr();
    let exp = expected("head-rerank");
    let query = exp["query"].as_str().unwrap();
    let docs: Vec<&str> = exp["docs"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    let want =
        Reranker::from_checkpoint(&Checkpoint::open(&head("head-rerank")).unwrap()).unwrap().rerank(query, &docs);
    let want = want.unwrap();

    let body = serde_json::json!({ "query": query, "texts": docs, "return_text": true }).to_string();
    let (st, got) = post(addr, "/rerank", &body);
    assert_eq!(st, 200, "{got}");
    let got = json(&got);
    assert_eq!(got.as_array().unwrap().len(), docs.len());
    for (g, w) in got.as_array().unwrap().iter().zip(&want) {
        assert_eq!(g["index"], w.index, "order: {got}");
        assert_eq!(g["text"], w.document.as_str());
        assert!((f32s(&g["score"]) - w.score).abs() < 1e-5, "server {} vs pipeline {}", g["score"], w.score);
        // And against sentence-transformers' CrossEncoder (PyTorch) directly.
        let torch = f32s(&exp["scores"][w.index]);
        assert!((f32s(&g["score"]) - torch).abs() < 1e-4, "server {} vs PyTorch {torch}", g["score"]);
    }
    assert_eq!(got[0]["index"], exp["rank"][0]["corpus_id"], "best document as PyTorch ranks it");
    // raw_scores: the logits; without return_text no text.
    let body = serde_json::json!({ "query": query, "texts": docs, "raw_scores": true }).to_string();
    let (st, raw) = post(addr, "/rerank", &body);
    assert_eq!(st, 200, "{raw}");
    for (g, w) in json(&raw).as_array().unwrap().iter().zip(&want) {
        assert!((f32s(&g["score"]) - w.logit).abs() < 1e-5);
        assert!(g.get("text").is_none(), "{raw}");
    }
    // /predict on a cross-encoder: a pair is `["query", "doc"]`, as in TEI.
    let (st, p) = post(addr, "/predict", &serde_json::json!({ "inputs": [query, docs[0]] }).to_string());
    assert_eq!(st, 200, "{p}");
    let p = json(&p);
    assert_eq!(p[0]["label"], "LABEL_0");
    let w0 = want.iter().find(|r| r.index == 0).unwrap();
    assert!((f32s(&p[0]["score"]) - w0.score).abs() < 1e-5);

    let info = json(&request(addr, "GET", "/info", b"").1);
    assert_eq!(info["model_type"], "reranker");
    assert_eq!(info["architecture"], "BertForSequenceClassification");
    let endpoints: Vec<&str> = info["endpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert!(endpoints.contains(&"/rerank") && endpoints.contains(&"/predict"), "{endpoints:?}");
    assert!(!endpoints.contains(&"/embed") && !endpoints.contains(&"/fill-mask"), "{endpoints:?}");
    // Endpoints the model lacks: a 400 naming what the model is.
    for path in ["/embed", "/v1/embeddings", "/fill-mask"] {
        let (st, body) = post(addr, path, r#"{"inputs": "a [MASK]", "input": "a"}"#);
        assert_eq!(st, 400, "{path}: {body}");
        assert!(body.contains("BertForSequenceClassification") && body.contains("POST /rerank"), "{path}: {body}");
    }
    server.shutdown().unwrap();
}

#[test]
fn predict_matches_the_classifier_pipeline_and_pytorch() {
    use nanobert::pipeline::Classifier;
    let server = Server::start(&ServeOptions::new(head("head-seqcls"), 0)).unwrap();
    let addr = server.addr();
    let exp = expected("head-seqcls");
    let c = Classifier::from_checkpoint(&Checkpoint::open(&head("head-seqcls")).unwrap()).unwrap();
    let texts: Vec<&str> = exp["texts"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let want = c.predict(&texts).unwrap();
    let same = |got: &serde_json::Value, w: &nanobert::pipeline::Classification| {
        let got = got.as_array().unwrap_or_else(|| panic!("not a list: {got}"));
        assert_eq!(got.len(), w.labels.len());
        for (g, l) in got.iter().zip(&w.labels) {
            assert_eq!(g["label"], l.label.as_str(), "label order");
            assert!((f32s(&g["score"]) - l.score).abs() < 1e-5, "server {} vs pipeline {}", g["score"], l.score);
        }
    };
    // A batch of single texts: one list per input, each against the pipeline and PyTorch.
    let batch: Vec<Vec<&str>> = texts.iter().map(|&t| vec![t]).collect();
    let (st, got) = post(addr, "/predict", &serde_json::json!({ "inputs": batch }).to_string());
    assert_eq!(st, 200, "{got}");
    let got = json(&got);
    for (i, w) in want.iter().enumerate() {
        same(&got[i], w);
        for (g, t) in got[i].as_array().unwrap().iter().zip(exp["pipeline"][i].as_array().unwrap()) {
            assert_eq!(g["label"], t["label"], "transformers' pipeline order");
            assert!((f32s(&g["score"]) - f32s(&t["score"])).abs() < 1e-4, "server {} vs PyTorch {}", g, t);
        }
    }
    // One text: a flat list.
    let (st, one) = post(addr, "/predict", &serde_json::json!({ "inputs": texts[1] }).to_string());
    assert_eq!(st, 200, "{one}");
    same(&json(&one), &want[1]);
    // A pair, then a mixed batch; raw scores are the logits.
    let pairs: Vec<(&str, &str)> =
        exp["pairs"].as_array().unwrap().iter().map(|p| (p[0].as_str().unwrap(), p[1].as_str().unwrap())).collect();
    let want_pairs = c.predict_pairs(&pairs).unwrap();
    let (st, p) = post(addr, "/predict", &serde_json::json!({ "inputs": [pairs[0].0, pairs[0].1] }).to_string());
    assert_eq!(st, 200, "{p}");
    same(&json(&p), &want_pairs[0]);
    let mixed = serde_json::json!({ "inputs": [[texts[0]], [pairs[1].0, pairs[1].1]], "raw_scores": true });
    let (st, m) = post(addr, "/predict", &mixed.to_string());
    assert_eq!(st, 200, "{m}");
    let m = json(&m);
    for (row, w) in [(0, &want[0]), (1, &want_pairs[1])] {
        for g in m[row].as_array().unwrap() {
            let id = c.model.head.id2label.iter().position(|l| g["label"] == l.as_str()).unwrap();
            assert!((f32s(&g["score"]) - w.logits[id]).abs() < 1e-5, "raw score of {} is its logit", g["label"]);
        }
    }
    let info = json(&request(addr, "GET", "/info", b"").1);
    assert_eq!(info["model_type"], "classifier");
    assert_eq!(info["labels"], serde_json::json!(["negative", "neutral", "positive"]));
    let (st, body) = post(addr, "/rerank", r#"{"query": "q", "texts": ["a"]}"#);
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("cross-encoder") && body.contains("classifier model"), "{body}");
    server.shutdown().unwrap();
}

#[test]
fn malformed_rerank_and_predict_requests_get_a_clean_4xx() {
    let mut o = ServeOptions::new(head("head-rerank"), 0);
    o.limits.max_texts = 3;
    o.limits.max_text_chars = 200;
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let long = "the cat sat on the mat. ".repeat(4); // ~28 tokens: a pair of two is over 40
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("/rerank", "{\"query\": ".into(), 400, "malformed JSON"),
        ("/rerank", "{\"query\": \"q\"}".into(), 400, "missing field `texts`"),
        ("/rerank", "{\"query\": \" \", \"texts\": [\"a\"]}".into(), 400, "`query` is empty"),
        ("/rerank", "{\"query\": \"q\", \"texts\": []}".into(), 400, "empty list"),
        ("/rerank", "{\"query\": \"q\", \"texts\": [1]}".into(), 400, "unexpected JSON content"),
        ("/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"top_n\": 1}".into(), 400, "unknown field"),
        ("/rerank", "{\"query\": \"q\", \"texts\": [\"a\",\"b\",\"c\",\"d\"]}".into(), 413, "limit is 3 texts"),
        ("/rerank", format!("{{\"query\": \"{long}\", \"texts\": [\"{long}\"]}}"), 413, "(the pair together)"),
        ("/rerank", "{\"query\": \"q\", \"texts\": [\"a\"], \"truncation_direction\": \"Left\"}".into(), 400, "Right"),
        ("/predict", "".into(), 400, "empty body"),
        ("/predict", "{\"inputs\": 5}".into(), 400, "not a number"),
        ("/predict", "{\"inputs\": []}".into(), 400, "empty list"),
        ("/predict", "{\"inputs\": [\"a\", \"b\", \"c\"]}".into(), 400, "one input"),
        ("/predict", "{\"inputs\": [[\"a\", \"b\", \"c\"]]}".into(), 400, "has 3 strings"),
        ("/predict", "{\"inputs\": [[\"a\"], [\"b\"], [\"c\"], [\"d\"]]}".into(), 413, "limit is 3"),
        ("/predict", format!("{{\"inputs\": \"{}\"}}", "x".repeat(201)), 413, "limit is 200 characters"),
        ("/predict", format!("{{\"inputs\": [\"{long}\", \"{long}\"]}}"), 413, "at most 40"),
    ];
    for (path, body, status, needle) in &cases {
        let (st, got) = post(addr, path, body);
        assert_eq!(st, *status, "{path} {:.60}: {got}", body);
        assert!(got.contains(needle), "{path} {:.60}: answer should mention {needle:?}: {got}", body);
        assert!(json(&got)["error"].is_string(), "TEI error shape: {got}");
    }
    // Truncated when asked, longest first: the same score as the pipeline (which truncates).
    let (st, got) =
        post(addr, "/rerank", &format!("{{\"query\": \"{long}\", \"texts\": [\"{long}\"], \"truncate\": true}}"));
    assert_eq!(st, 200, "{got}");
    let r = nanobert::pipeline::Reranker::from_checkpoint(&Checkpoint::open(&head("head-rerank")).unwrap()).unwrap();
    let want = r.rerank(&long, &[long.as_str()]).unwrap();
    assert!((f32s(&json(&got)[0]["score"]) - want[0].score).abs() < 1e-5, "{got} vs {}", want[0].score);
    assert_eq!(request(addr, "GET", "/health", b"").0, 200);
    assert_eq!(server.metrics.requests("/rerank", "4xx"), 7, "400s (413s are counted apart)");
    assert_eq!(server.metrics.requests("/rerank", "413"), 2);
    assert!(server.metrics.requests("/predict", "4xx") >= 5);
    server.shutdown().unwrap();
}

#[test]
fn token_classification_and_qa_checkpoints_are_refused_naming_the_command() {
    for (name, command) in [("head-ner", "nanobert ner"), ("head-qa", "nanobert qa")] {
        let err = Server::start(&ServeOptions::new(head(name), 0)).err().expect("refused");
        assert!(err.to_string().contains(command), "{name}: {err}");
    }
}

#[test]
fn a_sentence_transformers_model_that_lowercases_is_served_as_the_library_embeds() {
    let dir = head("st-lowercase");
    let server = Server::start(&ServeOptions::new(dir.clone(), 0)).unwrap();
    let texts = ["Hello World", "PARIS"];
    let want = Embedder::from_checkpoint(&Checkpoint::open(&dir).unwrap()).unwrap().embed(&texts).unwrap();
    let (st, body) =
        post(server.addr(), "/embed", &serde_json::json!({ "inputs": texts, "normalize": false }).to_string());
    assert_eq!(st, 200, "{body}");
    for (g, w) in vectors(&json(&body)).iter().zip(&want) {
        assert!(max_diff(g, w) < 1e-5, "server and library differ by {}", max_diff(g, w));
    }
    server.shutdown().unwrap();
}

#[test]
fn prompts_are_applied_as_sentence_transformers_does() {
    // st-prompt: default prompt "query: ", pooled over every token; st-prompt-cls: no default,
    // the pooling leaves the prompt's tokens out (include_prompt: false).
    for (name, prompt) in [("st-prompt", None), ("st-prompt", Some("passage")), ("st-prompt-cls", Some("query"))] {
        let dir = head(name);
        let server = Server::start(&ServeOptions::new(dir.clone(), 0)).unwrap();
        let texts = ["hello world", "paris is nice"];
        let emb = Embedder::from_checkpoint(&Checkpoint::open(&dir).unwrap()).unwrap();
        let want = emb.embed_with_prompt(&texts, prompt).unwrap();
        let no_prompt = emb.embed_with_prompt(&texts, Some("document")).unwrap(); // "" = none
        let mut req = serde_json::json!({ "inputs": texts, "normalize": false });
        if let Some(p) = prompt {
            req["prompt_name"] = p.into();
        }
        let (st, body) = post(server.addr(), "/embed", &req.to_string());
        assert_eq!(st, 200, "{name} {prompt:?}: {body}");
        for (g, (w, n)) in vectors(&json(&body)).iter().zip(want.iter().zip(&no_prompt)) {
            assert!(max_diff(g, w) < 1e-5, "{name} {prompt:?}: server and library differ by {}", max_diff(g, w));
            assert!(max_diff(g, n) > 1e-4, "{name} {prompt:?}: the prompt changed nothing: the test cannot fail");
        }
        let (st, body) = post(server.addr(), "/embed", r#"{"inputs": "a", "prompt_name": "nope"}"#);
        assert_eq!(st, 400, "{body}");
        assert!(body.contains("`nope`") && body.contains("known"), "{body}");
        server.shutdown().unwrap();
    }
}

// ---- Operations: API key, limits, precision, metrics -----------------------------------------

fn with_headers(addr: SocketAddr, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    (text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0), text)
}

#[test]
fn the_api_key_guards_every_endpoint_but_the_probes() {
    let mut o = options();
    o.api_key = Some("sk-test".into());
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let good = "Authorization: Bearer sk-test\r\n";
    for (method, path, body) in
        [("POST", "/embed", r#"{"inputs": "a"}"#), ("GET", "/info", ""), ("GET", "/metrics", "")]
    {
        for bad in ["", "Authorization: Bearer sk-tesT\r\n", "Authorization: sk-test\r\n", "Authorization: Bearer \r\n"]
        {
            let (st, text) = with_headers(addr, method, path, bad, body);
            assert_eq!(st, 401, "{method} {path} with {bad:?}: {text}");
            assert!(text.to_ascii_lowercase().contains("www-authenticate: bearer"), "{text}");
        }
        let (st, text) = with_headers(addr, method, path, good, body);
        assert_eq!(st, 200, "{method} {path}: {text}");
    }
    let (st, text) = with_headers(addr, "POST", "/v1/embeddings", "", r#"{"input": "a"}"#);
    assert_eq!(st, 401);
    assert!(text.contains("\"invalid_request_error\""), "OpenAI error shape: {text}");
    for probe in ["/health", "/ready"] {
        assert_eq!(request(addr, "GET", probe, b"").0, 200, "{probe} is open");
    }
    server.shutdown().unwrap();
}

#[test]
fn too_many_requests_in_flight_get_429_before_their_body_is_read() {
    let mut o = options();
    o.max_concurrent_requests = 1;
    o.max_wait = Duration::from_secs(3); // the first request waits in the batcher
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let first = std::thread::spawn(move || post(addr, "/embed", r#"{"inputs": "in flight"}"#));
    wait_until("the first request to be queued", || server.metrics.queue_texts.load(Ordering::Relaxed) == 1);
    let t0 = Instant::now();
    let (st, body) = post(addr, "/embed", r#"{"inputs": "one too many"}"#);
    assert_eq!(st, 429, "{body}");
    assert!(body.contains("--max-concurrent-requests"), "{body}");
    assert!(t0.elapsed() < Duration::from_secs(1), "refused at once");
    assert_eq!(request(addr, "GET", "/info", b"").0, 200, "GETs are not counted");
    server.shutdown().unwrap();
    assert_eq!(first.join().unwrap().0, 200);
}

#[test]
fn precision_is_honoured_reported_and_metrics_say_what_runs() {
    use nanobert::nn::to_precision;
    use nanobert::quant::Precision;
    let mut o = options();
    o.precision = Precision::Bf16;
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let (_, info) = request(addr, "GET", "/info", b"");
    assert_eq!(json(&info)["precision"], "bf16");
    // The library at the same precision, through its public API, gives the same vectors.
    let ckpt = Checkpoint::open(&fixture("tiny-bert")).unwrap();
    let mut emb = Embedder::from_checkpoint(&ckpt).unwrap();
    let f32_vec = emb.embed(&["hello world"]).unwrap().remove(0);
    let plan = nanobert::pipeline::precision_plan(&emb.model, &emb.model, &emb.tokenizer, Precision::Bf16).unwrap();
    to_precision(&mut emb.model, &plan).unwrap();
    let bf16_vec = emb.embed(&["hello world"]).unwrap().remove(0);
    let (st, body) = post(addr, "/embed", r#"{"inputs": "hello world", "normalize": false}"#);
    assert_eq!(st, 200, "{body}");
    let got = &vectors(&json(&body))[0];
    assert!(max_diff(got, &bf16_vec) < 1e-5, "server vs library in bf16: {}", max_diff(got, &bf16_vec));
    assert!(max_diff(got, &f32_vec) > 1e-6, "bf16 weights must change the result at all");
    let (_, m) = request(addr, "GET", "/metrics", b"");
    assert!(m.contains("nanobert_build_info{version=\"") && m.contains("precision=\"bf16\""), "{m}");
    assert!(m.contains("model_id=\"tiny-bert\""), "{m}");
    let load: f64 = m
        .lines()
        .find_map(|l| l.strip_prefix("nanobert_model_load_seconds "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1.0);
    assert!(load > 0.0 && load < 60.0, "load time: {load}");
    server.shutdown().unwrap();
}

// ---- Tokens and Matryoshka ------------------------------------------------------------------

fn st_expected(name: &str) -> (Vec<String>, Vec<Vec<u32>>, Vec<Vec<f32>>) {
    let e = expected(name);
    let run = &e["runs"][0];
    let texts = serde_json::from_value(run["texts"].clone()).unwrap();
    let ids = serde_json::from_value(run["input_ids"].clone()).unwrap();
    let emb = serde_json::from_value(run["embeddings"].clone()).unwrap();
    (texts, ids, emb)
}

#[test]
fn tokenize_decode_and_embed_all_agree_with_transformers_and_sentence_transformers() {
    let server = Server::start(&ServeOptions::new(head("st-mean"), 0)).unwrap();
    let addr = server.addr();
    let (texts, want_ids, want_emb) = st_expected("st-mean");
    // /tokenize: transformers' ids, offsets pointing back into the text.
    let (st, body) = post(addr, "/tokenize", &serde_json::json!({ "inputs": texts }).to_string());
    assert_eq!(st, 200, "{body}");
    let toks = json(&body);
    for (t, (text, ids)) in texts.iter().zip(&want_ids).enumerate() {
        let got: Vec<u32> = toks[t].as_array().unwrap().iter().map(|x| x["id"].as_u64().unwrap() as u32).collect();
        assert_eq!(&got, ids, "{text}");
        let chars: Vec<char> = text.chars().collect();
        for tok in toks[t].as_array().unwrap() {
            if tok["special"] == true {
                assert!(tok["start"].is_null());
                continue;
            }
            let (a, b) = (tok["start"].as_u64().unwrap() as usize, tok["stop"].as_u64().unwrap() as usize);
            assert_eq!(tok["text"].as_str().unwrap(), chars[a..b].iter().collect::<String>());
        }
    }
    let (_, body) = post(addr, "/tokenize", r#"{"inputs": "dog", "add_special_tokens": false}"#);
    let plain = json(&body);
    assert_eq!(plain[0].as_array().unwrap().len(), want_ids[3].len() - 2, "no [CLS]/[SEP]: {body}");
    // /decode: the ids back to the text (this vocabulary lowercases), one list or several.
    let (st, body) = post(addr, "/decode", &serde_json::json!({ "ids": want_ids[0] }).to_string());
    assert_eq!(st, 200, "{body}");
    assert_eq!(json(&body).as_str().unwrap(), texts[0].to_lowercase());
    let (_, body) =
        post(addr, "/decode", &serde_json::json!({ "ids": want_ids, "skip_special_tokens": false }).to_string());
    let all = json(&body);
    assert_eq!(all.as_array().unwrap().len(), texts.len());
    assert!(all[0].as_str().unwrap().starts_with('['), "special tokens kept: {body}");
    // /embed_all: the mean of the token vectors is sentence-transformers' mean pooling.
    let (st, body) = post(addr, "/embed_all", &serde_json::json!({ "inputs": texts }).to_string());
    assert_eq!(st, 200, "{body}");
    let tokens: Vec<Vec<Vec<f32>>> = serde_json::from_value(json(&body)).unwrap();
    for (t, want) in tokens.iter().zip(&want_emb) {
        let n = t.len() as f32;
        let mean: Vec<f32> = (0..want.len()).map(|k| t.iter().map(|v| v[k]).sum::<f32>() / n).collect();
        assert!(max_diff(&mean, want) < 1e-5, "{}", max_diff(&mean, want));
    }
    assert_eq!(tokens[3].len(), want_ids[3].len(), "one vector per token, [CLS]/[SEP] included");
    for (body, needle) in [
        (r#"{"ids": [99999]}"#, "not in the vocabulary"),
        (r#"{"ids": "x"}"#, "must be a list"),
        (r#"{"inputs": "a", "add_special": true}"#, "unknown field"),
    ] {
        let path = if body.contains("ids") { "/decode" } else { "/tokenize" };
        let (st, got) = post(addr, path, body);
        assert_eq!(st, 400, "{path} {body}: {got}");
        assert!(got.contains(needle), "{got}");
    }
    server.shutdown().unwrap();
}

fn unit(v: &[f32]) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

#[test]
fn matryoshka_cuts_after_the_modules_then_normalizes_and_normalize_false_is_honoured() {
    // all from sentence-transformers: `full` (after Normalize, 6 values) and `cut`
    // (truncate_dim 4 from config_sentence_transformers.json).
    let st = json(&std::fs::read_to_string(fixture("pipelines/st.json")).unwrap());
    let st = &st["st-truncate-dim"];
    let texts: Vec<String> = serde_json::from_value(st["texts"].clone()).unwrap();
    let cut = vectors(&st["embeddings"]);
    let full = vectors(&st["full_embeddings"]);
    let server = Server::start(&ServeOptions::new(fixture("pipelines/st-truncate-dim"), 0)).unwrap();
    let addr = server.addr();
    let (_, info) = request(addr, "GET", "/info", b"");
    let info = json(&info);
    assert_eq!((info["dimensions"].as_u64(), info["full_dimensions"].as_u64()), (Some(4), Some(6)));
    let embed = |extra: &str| {
        let (st, body) = post(addr, "/embed", &format!("{{\"inputs\": {}{extra}}}", serde_json::json!(texts)));
        assert_eq!(st, 200, "{extra}: {body}");
        vectors(&json(&body))
    };
    let close = |got: &[Vec<f32>], want: &[Vec<f32>], what: &str| {
        for (g, w) in got.iter().zip(want) {
            assert!(max_diff(g, w) < 1e-5, "{what}: {g:?} vs {w:?}");
        }
    };
    // Default: the checkpoint's truncate_dim, then normalize (TEI's default normalize: true) =
    // sentence-transformers' encode(normalize_embeddings=True).
    let want: Vec<Vec<f32>> = cut.iter().map(|v| unit(v)).collect();
    close(&embed(""), &want, "default");
    close(&embed(r#", "truncate_dim": 6"#), &full, "truncate_dim 6 = no cut");
    let want2: Vec<Vec<f32>> = full.iter().map(|v| unit(&v[..2])).collect();
    close(&embed(r#", "truncate_dim": 2"#), &want2, "truncate_dim 2");
    // normalize: false skips the final Normalize module (as text-embeddings-inference): the
    // direction is sentence-transformers', the length is not 1.
    let raw = embed(r#", "normalize": false, "truncate_dim": 6"#);
    for (r, f) in raw.iter().zip(&full) {
        assert!(max_diff(&unit(r), f) < 1e-5);
        let n: f32 = r.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((n - 1.0).abs() > 1e-3, "normalize: false must not be ignored (norm {n})");
    }
    // OpenAI `dimensions`: cut and renormalized.
    let (st, body) =
        post(addr, "/v1/embeddings", &serde_json::json!({ "input": texts[0], "dimensions": 3 }).to_string());
    assert_eq!(st, 200, "{body}");
    let v: Vec<f32> = serde_json::from_value(json(&body)["data"][0]["embedding"].clone()).unwrap();
    assert!(max_diff(&v, &unit(&full[0][..3])) < 1e-5);
    for (path, body) in [
        ("/embed", r#"{"inputs": "a", "truncate_dim": 7}"#),
        ("/embed", r#"{"inputs": "a", "truncate_dim": 0}"#),
        ("/v1/embeddings", r#"{"input": "a", "dimensions": 7}"#),
    ] {
        let (st, got) = post(addr, path, body);
        assert_eq!(st, 400, "{body}: {got}");
        assert!(got.contains("ask for 1 to 6"), "{got}");
    }
    // The API described, every endpoint served.
    let (st, doc) = request(addr, "GET", "/openapi.json", b"");
    assert_eq!(st, 200);
    let doc = json(&doc);
    for e in info["endpoints"].as_array().unwrap() {
        assert!(doc["paths"][e.as_str().unwrap()].is_object(), "{e} is not described");
    }
    let embed_fields =
        doc["paths"]["/embed"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
            .as_object()
            .unwrap()
            .clone();
    assert!(embed_fields.contains_key("truncate_dim") && embed_fields.contains_key("normalize"));
    server.shutdown().unwrap();
}

// ---- Faults: slow clients, clients that go away, malformed requests of every kind ------------

#[test]
fn a_slow_client_gets_408_and_holds_nobody_else_up() {
    let mut o = options();
    o.read_timeout = Duration::from_millis(800);
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    let slow = std::thread::spawn(move || {
        let body = br#"{"inputs": "sent one byte at a time"}"#;
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n", body.len()).unwrap();
        let t0 = Instant::now();
        for b in body.iter() {
            if s.write_all(&[*b]).is_err() {
                break; // the server closed the connection: it gave up on us
            }
            std::thread::sleep(Duration::from_millis(150));
        }
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        (String::from_utf8_lossy(&out).into_owned(), t0.elapsed())
    });
    std::thread::sleep(Duration::from_millis(200));
    // Meanwhile, everyone else is served at once.
    for _ in 0..5 {
        let t0 = Instant::now();
        let (st, body) = post(addr, "/embed", r#"{"inputs": "a normal client"}"#);
        assert_eq!(st, 200, "{body}");
        assert!(t0.elapsed() < Duration::from_millis(500), "held up by the slow client: {:?}", t0.elapsed());
    }
    let (answer, took) = slow.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("--read-timeout"), "{answer}");
    assert!(took < Duration::from_secs(3), "the timeout applies: {took:?}");
    assert_eq!(request(addr, "GET", "/health", b"").0, 200);
    server.shutdown().unwrap();
}

#[test]
fn a_client_that_disconnects_mid_body_or_mid_compute_frees_its_slot() {
    let mut o = options();
    o.max_concurrent_requests = 1;
    o.max_wait = Duration::from_millis(300);
    let server = Server::start(&o).unwrap();
    let addr = server.addr();
    // Half a body, then gone.
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"inputs\": ").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    // A whole request, gone while it waits for the batch (and then while it computes).
    for wait in [50, 350] {
        let mut s = TcpStream::connect(addr).unwrap();
        let body = r#"{"inputs": ["going", "away", "now"]}"#;
        write!(s, "POST /embed HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}", body.len()).unwrap();
        std::thread::sleep(Duration::from_millis(wait));
        drop(s);
    }
    // Every slot is free again (one slot: the next request would be a 429 otherwise).
    let t0 = Instant::now();
    loop {
        let (st, body) = post(addr, "/embed", r#"{"inputs": "next"}"#);
        if st == 200 {
            break;
        }
        assert_eq!(st, 429, "{body}");
        assert!(t0.elapsed() < Duration::from_secs(5), "the slot was never freed");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(request(addr, "GET", "/health", b"").0, 200, "no panic: the compute thread lives");
    assert_eq!(server.metrics.requests("/embed", "5xx"), 0);
    server.shutdown().unwrap();
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            (-1e6f64..1e6).prop_map(|f| serde_json::json!(f)),
            "\\PC{0,12}".prop_map(serde_json::Value::String),
            Just(serde_json::json!("[MASK] is here")),
            Just(serde_json::json!(101)),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..3)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    const FIELDS: [&str; 16] = [
        "inputs",
        "input",
        "normalize",
        "truncate",
        "truncate_dim",
        "dimensions",
        "prompt_name",
        "top_k",
        "ids",
        "skip_special_tokens",
        "add_special_tokens",
        "encoding_format",
        "query",
        "texts",
        "raw_scores",
        "truncation_direction",
    ];

    /// A request body: a JSON object over the endpoints' own field names with random values,
    /// or random JSON, or random bytes.
    fn body() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => prop::collection::vec((0..FIELDS.len(), json_value()), 0..4).prop_map(|kv| {
                let m: serde_json::Map<String, serde_json::Value> =
                    kv.into_iter().map(|(k, v)| (FIELDS[k].to_string(), v)).collect();
                serde_json::Value::Object(m).to_string().into_bytes()
            }),
            1 => json_value().prop_map(|v| v.to_string().into_bytes()),
            1 => prop::collection::vec(any::<u8>(), 0..64),
        ]
    }

    #[test]
    fn random_requests_to_every_endpoint_get_an_answer_never_a_5xx() {
        let servers =
            [Server::start(&options()).unwrap(), Server::start(&ServeOptions::new(head("head-rerank"), 0)).unwrap()];
        let paths = [
            "/embed",
            "/v1/embeddings",
            "/embed_all",
            "/fill-mask",
            "/rerank",
            "/predict",
            "/tokenize",
            "/decode",
            "/info",
            "/metrics",
            "/openapi.json",
            "/health",
            "/ready",
            "/nope",
        ];
        let cfg = ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() };
        proptest!(cfg, |(server in 0..2usize, path in 0..paths.len(), post_it in any::<bool>(), body in body())| {
            let addr = servers[server].addr();
            let method = if post_it { "POST" } else { "GET" };
            let (st, answer) = request(addr, method, paths[path], &body);
            prop_assert!((200..500).contains(&st), "{method} {} {:?}: {st} {answer}", paths[path], String::from_utf8_lossy(&body));
            if st >= 400 && st != 405 {
                prop_assert!(answer.contains("error"), "an error names itself: {answer}");
            }
        });
        for s in servers {
            assert_eq!(s.metrics.requests("/embed", "5xx") + s.metrics.requests("/rerank", "5xx"), 0);
            s.shutdown().unwrap();
        }
    }
}
