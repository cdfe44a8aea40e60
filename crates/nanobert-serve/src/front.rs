//! # The front door: what every request passes before an endpoint sees it
//!
//! In order, for each request:
//!
//! 1. a request id (the client's `x-request-id` when it sent a sane one, else a fresh one),
//!    echoed in the answer's `x-request-id`;
//! 2. the probes, answered here and never behind the API key: `GET /health` (200 while the
//!    process can serve: 503 only once the compute thread has stopped) and `GET /ready` (503
//!    while the model loads and from the moment a SIGTERM starts the drain);
//! 3. before the model is loaded, every other endpoint is a 503 `Unhealthy`;
//! 4. `--api-key`: `Authorization: Bearer KEY` or a 401, compared in constant time;
//! 5. `--max-concurrent-requests`: a `POST` beyond it is a 429 at once, before its body is read;
//! 6. the body is read whole, at most `--max-body-bytes` (else 413) within `--read-timeout`
//!    (else 408: a client trickling its body byte by byte holds only its own connection);
//! 7. the endpoint ([`routes`](super::routes));
//! 8. with `--json-output`, one JSON line on stdout: time, request id, method, path, status,
//!    latency.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use subtle::ConstantTimeEq;
use tower::ServiceExt;

use super::api::{ApiError, Dialect};
use super::metrics::Metrics;

/// The front door's state, shared by every connection.
pub struct Front {
    /// The endpoints, set once the model is loaded.
    pub app: OnceLock<Router>,
    /// Set once the model is loaded and the endpoints installed.
    pub loaded: AtomicBool,
    /// Set when the drain began (SIGTERM): `/ready` answers 503 from then on.
    pub draining: AtomicBool,
    /// False once the compute thread has stopped.
    pub compute_alive: Arc<AtomicBool>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// `--api-key`.
    pub api_key: Option<String>,
    /// `--max-body-bytes`.
    pub body_limit: usize,
    /// `--read-timeout`.
    pub read_timeout: Duration,
    /// `--max-concurrent-requests`.
    pub max_concurrent: usize,
    /// `POST`s admitted right now.
    pub in_flight: AtomicUsize,
    /// `--json-output`.
    pub json_output: bool,
    next_id: AtomicU64,
    id_prefix: u32,
}

impl Front {
    /// A front door with no endpoints yet (`/ready` answers 503 until [`Front::install`]).
    pub fn new(opts: &super::ServeOptions, metrics: Arc<Metrics>, compute_alive: Arc<AtomicBool>) -> Front {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        Front {
            app: OnceLock::new(),
            loaded: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            compute_alive,
            metrics,
            api_key: opts.api_key.clone(),
            body_limit: opts.limits.max_body_bytes,
            read_timeout: opts.read_timeout,
            max_concurrent: opts.max_concurrent_requests,
            in_flight: AtomicUsize::new(0),
            json_output: opts.json_output,
            next_id: AtomicU64::new(0),
            id_prefix: nanos ^ std::process::id().rotate_left(16),
        }
    }

    /// Installs the endpoints: the server is ready.
    pub fn install(&self, app: Router) {
        let _ = self.app.set(app);
        self.loaded.store(true, Ordering::SeqCst);
    }

    /// Whether `/ready` answers 200, and why not.
    pub fn readiness(&self) -> Result<(), &'static str> {
        if !self.loaded.load(Ordering::SeqCst) {
            Err("the model is loading")
        } else if self.draining.load(Ordering::SeqCst) {
            Err("the server is shutting down")
        } else if !self.compute_alive.load(Ordering::SeqCst) {
            Err("the compute thread has stopped")
        } else {
            Ok(())
        }
    }

    fn request_id(&self, req: &Request) -> String {
        let sane = |v: &str| !v.is_empty() && v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic());
        match req.headers().get("x-request-id").and_then(|v| v.to_str().ok()) {
            Some(v) if sane(v) => v.to_string(),
            _ => format!("{:08x}-{:08x}", self.id_prefix, self.next_id.fetch_add(1, Ordering::Relaxed)),
        }
    }

    fn authorized(&self, req: &Request) -> bool {
        let Some(key) = &self.api_key else { return true };
        let given = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .unwrap_or("");
        // Constant time in the key's contents (a wrong length is told at once, as with any MAC).
        bool::from(given.trim().as_bytes().ct_eq(key.as_bytes()))
    }
}

/// The router every connection runs: the probes, then everything else through the front door (`front_door`).
pub fn router(front: Arc<Front>) -> Router {
    Router::new().fallback(front_door).with_state(front)
}

fn dialect(path: &str) -> Dialect {
    if path.starts_with("/v1/") { Dialect::OpenAi } else { Dialect::Tei }
}

fn refusal(status: StatusCode, kind: &'static str, message: impl Into<String>, path: &str) -> Response {
    ApiError { status, kind, message: message.into(), dialect: dialect(path) }.into_response()
}

/// Decrements the admitted count when the request ends (also when its client went away).
struct Admitted<'a>(&'a AtomicUsize);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn front_door(State(f): State<Arc<Front>>, req: Request) -> Response {
    let t0 = Instant::now();
    let id = f.request_id(&req);
    let (method, path) = (req.method().clone(), req.uri().path().to_string());
    let mut r = answer(&f, req, &path).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        r.headers_mut().insert("x-request-id", v);
    }
    if f.json_output {
        access_log(&id, &method, &path, r.status().as_u16(), t0.elapsed());
    }
    r
}

async fn answer(f: &Front, req: Request, path: &str) -> Response {
    let probe = |ok: Result<(), &'static str>, endpoint: &str| {
        let r = match ok {
            Ok(()) => (StatusCode::OK, "ok").into_response(),
            Err(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
        };
        f.metrics.count(endpoint, r.status().as_u16());
        r
    };
    let is_get = req.method() == Method::GET || req.method() == Method::HEAD;
    match path {
        "/health" if is_get => {
            let alive =
                if f.compute_alive.load(Ordering::SeqCst) { Ok(()) } else { Err("the compute thread has stopped") };
            return probe(alive, "/health");
        }
        "/ready" if is_get => return probe(f.readiness(), "/ready"),
        _ => {}
    }
    let Some(app) = f.app.get() else {
        return refusal(StatusCode::SERVICE_UNAVAILABLE, "Unhealthy", "the model is loading: retry shortly", path);
    };
    if !f.authorized(&req) {
        f.metrics.count(path, 401);
        let mut r = refusal(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "this server wants `Authorization: Bearer <API key>` (--api-key)",
            path,
        );
        r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return r;
    }
    let _admitted = if req.method() == Method::POST {
        if f.in_flight.fetch_add(1, Ordering::SeqCst) >= f.max_concurrent {
            f.in_flight.fetch_sub(1, Ordering::SeqCst);
            f.metrics.count(path, 429);
            return refusal(
                StatusCode::TOO_MANY_REQUESTS,
                "Overloaded",
                format!("{} requests are in flight (--max-concurrent-requests): retry later", f.max_concurrent),
                path,
            );
        }
        Some(Admitted(&f.in_flight))
    } else {
        None
    };
    let (parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, f.body_limit);
    let bytes = match tokio::time::timeout(f.read_timeout, limited.collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            f.metrics.count(path, 413);
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Validation",
                format!("request body is larger than the limit of {} bytes (--max-body-bytes)", f.body_limit),
                path,
            );
        }
        Ok(Err(e)) => {
            f.metrics.count(path, 400);
            return refusal(StatusCode::BAD_REQUEST, "Validation", format!("cannot read the request body: {e}"), path);
        }
        Err(_) => {
            f.metrics.count(path, 408);
            let mut r = refusal(
                StatusCode::REQUEST_TIMEOUT,
                "Validation",
                format!("the request body did not arrive within {} s (--read-timeout)", f.read_timeout.as_secs_f64()),
                path,
            );
            r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    let req = Request::from_parts(parts, Body::from(bytes));
    match app.clone().oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

/// One access-log line on stdout (a failed write is ignored: logging never fails a request).
fn access_log(id: &str, method: &Method, path: &str, status: u16, latency: Duration) {
    let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    let line = serde_json::json!({
        "timestamp": (ts * 1e3).round() / 1e3,
        "level": "INFO",
        "message": "request",
        "request_id": id,
        "method": method.as_str(),
        "path": path,
        "status": status,
        "latency_ms": (latency.as_secs_f64() * 1e6).round() / 1e3,
    });
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// A startup or shutdown line: JSON (`{"timestamp", "level", "message"}`) with
/// `--json-output`, else plain text on stderr.
pub fn log(json: bool, message: &str) {
    if json {
        let ts = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let line = serde_json::json!({ "timestamp": (ts * 1e3).round() / 1e3, "level": "INFO", "message": message });
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    } else {
        eprintln!("{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn call(router: &Router, method: &str, path: &str, auth: Option<&str>) -> (StatusCode, String) {
        let mut req = axum::http::Request::builder().method(method).uri(path);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        let r = router.clone().oneshot(req.body(Body::from("{}")).unwrap()).await.unwrap();
        let status = r.status();
        let body = r.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn while_loading_only_health_says_yes_and_ready_says_why_not() {
        let mut opts = crate::ServeOptions::new("unused".into(), 0);
        opts.api_key = Some("k".into());
        let front = Arc::new(Front::new(&opts, Arc::new(Metrics::default()), Arc::new(AtomicBool::new(true))));
        let r = router(front.clone());
        assert_eq!(call(&r, "GET", "/health", None).await.0, StatusCode::OK);
        let (st, why) = call(&r, "GET", "/ready", None).await;
        assert_eq!((st, why.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "the model is loading"));
        let (st, body) = call(&r, "POST", "/embed", Some("Bearer k")).await;
        assert_eq!(st, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body.contains("loading"), "{body}");

        // Loaded: ready; the API key guards everything but the probes.
        front.install(Router::new().route("/info", axum::routing::get(|| async { "info" })));
        assert_eq!(call(&r, "GET", "/ready", None).await.0, StatusCode::OK);
        assert_eq!(call(&r, "GET", "/info", None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&r, "GET", "/info", Some("Bearer nope")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&r, "GET", "/info", Some("Bearer kk")).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&r, "GET", "/info", Some("k")).await.0, StatusCode::UNAUTHORIZED, "Bearer is required");
        assert_eq!(call(&r, "GET", "/info", Some("Bearer k")).await, (StatusCode::OK, "info".into()));
        assert_eq!(call(&r, "GET", "/health", None).await.0, StatusCode::OK);

        // Draining: not ready, still alive; a stopped compute thread: neither.
        front.draining.store(true, Ordering::SeqCst);
        let (st, why) = call(&r, "GET", "/ready", None).await;
        assert_eq!((st, why.as_str()), (StatusCode::SERVICE_UNAVAILABLE, "the server is shutting down"));
        assert_eq!(call(&r, "GET", "/health", None).await.0, StatusCode::OK);
        front.compute_alive.store(false, Ordering::SeqCst);
        assert_eq!(call(&r, "GET", "/health", None).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
