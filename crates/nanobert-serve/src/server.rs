//! # Running the server: bind, load, serve, drain
//!
//! [`Server::start`] binds `--host:--port` first and answers the probes at once (`/health`
//! 200, `/ready` 503 "loading"), then loads the model on the calling thread, starts the compute
//! thread and installs the endpoints: `/ready` turns 200. A pod's readiness probe therefore
//! sees the load happen instead of a refused connection.
//!
//! The stop, for [`Server::shutdown`] and for SIGTERM / Ctrl-C in [`run`]:
//!
//! 1. (SIGTERM only) `/ready` answers 503 at once and the server keeps serving everything for
//!    `--shutdown-delay` seconds, the time Kubernetes takes to take the pod out of its Service's
//!    endpoints (a second signal cuts the delay short);
//! 2. the listener closes: new connections are refused;
//! 3. the batcher stops waiting for company; every request in flight is answered, idle
//!    keep-alive connections are closed;
//! 4. the compute thread finishes the queue and stops; [`run`] returns `Ok` (exit code 0).
//!
//! Each connection is served by hyper's HTTP/1 server with `--read-timeout` on the request
//! head; the [`front`] door applies it to the body.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::oneshot;

use super::batcher::Queue;
use super::front::{self, Front};
use super::load::{Shared, load};
use super::metrics::Metrics;
use super::{Info, ServeOptions, engine, routes};
use nanobert::{Error, Result};

/// A running server; [`Server::shutdown`] stops it gracefully.
pub struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    compute: Option<std::thread::JoinHandle<()>>,
    queue: Arc<Queue>,
    front: Arc<Front>,
    /// The counters (shared with the server).
    pub metrics: Arc<Metrics>,
    /// What `/info` reports.
    pub info: Info,
}

/// Resolves `host:port` (an IP or a name) to the address to bind.
fn resolve(host: &str, port: u16) -> Result<SocketAddr> {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    (host, port)
        .to_socket_addrs()
        .map_err(|e| Error::Input(format!("serve: --host {host}: cannot resolve it: {e}")))?
        .next()
        .ok_or_else(|| Error::Input(format!("serve: --host {host}: resolves to no address")))
}

impl Server {
    /// Binds `opts.host:opts.port`, answers the probes, loads the model, then serves every
    /// endpoint on background threads. Returns once ready. Errors: the checkpoint (file and
    /// tensor named), a bad option, or an address that cannot be bound.
    pub fn start(opts: &ServeOptions) -> Result<Server> {
        Self::start_with(opts, false)
    }

    /// [`Server::start`], also draining on Ctrl-C / SIGTERM when `signals` (the CLI does).
    fn start_with(opts: &ServeOptions, signals: bool) -> Result<Server> {
        if opts.max_batch_tokens == 0
            || opts.max_queue_texts == 0
            || opts.io_threads == 0
            || opts.max_concurrent_requests == 0
        {
            return Err(Error::Input(
                "serve: --max-batch-tokens, --max-queue, --max-concurrent-requests and --io-threads must be at least 1"
                    .into(),
            ));
        }
        let want = resolve(&opts.host, opts.port)?;
        let listener = std::net::TcpListener::bind(want)
            .map_err(|e| Error::Input(format!("serve: cannot listen on {want}: {e}")))?;
        listener.set_nonblocking(true).map_err(|e| Error::Input(format!("serve: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Input(format!("serve: {e}")))?;

        let metrics = Arc::new(Metrics::default());
        let queue = Arc::new(Queue::new(opts.max_queue_texts, metrics.clone()));
        let compute_alive = Arc::new(AtomicBool::new(true));
        let front = Arc::new(Front::new(opts, metrics.clone(), compute_alive.clone()));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(opts.io_threads)
            .thread_name("nanobert-io")
            .enable_all()
            .build()
            .map_err(|e| Error::Input(format!("serve: cannot start the I/O runtime: {e}")))?;
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (f, q, delay) = (front.clone(), queue.clone(), opts.shutdown_delay);
        let (read_timeout, nodelay) = (opts.read_timeout, opts.tcp_nodelay);
        let thread = std::thread::Builder::new()
            .name("nanobert-serve".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let stop = async {
                        tokio::select! {
                            _ = stop_rx => {}
                            _ = drain_after_signal(&f, delay), if signals => {}
                        }
                        q.drain(); // in-flight requests: compute now, don't wait for company
                    };
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => accept_loop(l, front::router(f.clone()), read_timeout, nodelay, stop).await,
                        Err(e) => front::log(f.json_output, &format!("serve: {e}")),
                    }
                });
            })
            .map_err(|e| Error::Input(format!("serve: cannot start the server thread: {e}")))?;
        let mut server = Server {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
            compute: None,
            queue: queue.clone(),
            front: front.clone(),
            metrics: metrics.clone(),
            info: Info::default(),
        };

        // Listening: now load (the probes answer meanwhile). On error, `server` drops and stops.
        let shared = Shared { queue: queue.clone(), metrics: metrics.clone(), compute_alive: compute_alive.clone() };
        // The model's own pool: loading (int8 calibration) and every call run on it, the
        // compute loop on one of its threads, so a forward's parallel loops start from inside it.
        let pool = nanobert::pipeline::thread_pool(opts.threads)?;
        let (engine, state) = pool.install(|| load(opts, shared))?;
        let info = state.info.clone();
        let state = Arc::new(state);
        let (max_tokens, max_wait) = (opts.max_batch_tokens, opts.max_wait);
        let (q, m) = (queue, metrics);
        server.compute = Some(
            std::thread::Builder::new()
                .name("nanobert-compute".into())
                .spawn(move || {
                    pool.install(|| engine::compute_loop(&engine, &q, max_tokens, max_wait, &m));
                    compute_alive.store(false, Ordering::SeqCst);
                })
                .map_err(|e| Error::Input(format!("serve: cannot start the compute thread: {e}")))?,
        );
        let _ = server.metrics.build.set(super::metrics::BuildInfo {
            version: info.version,
            model_id: info.model_id.clone(),
            precision: info.precision.clone(),
            threads: info.threads,
            load_seconds: info.load_seconds,
        });
        server.info = info;
        front.install(routes::router(state, opts.limits.max_body_bytes));
        Ok(server)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether `/ready` answers 200 (loaded, not draining, the compute thread alive).
    pub fn is_ready(&self) -> bool {
        self.front.readiness().is_ok()
    }

    /// Stops accepting connections, finishes the requests in flight, then returns.
    pub fn shutdown(mut self) -> Result<()> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.join()
    }

    /// Blocks until the server stops (SIGTERM or Ctrl-C, after the drain), after it finished
    /// the requests in flight.
    pub fn wait(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        let served = match self.thread.take() {
            Some(t) => t.join().map_err(|_| Error::Input("serve: the server thread panicked".into())),
            None => Ok(()),
        };
        // No new requests: let the compute thread finish the queue, then stop.
        self.queue.close();
        if let Some(c) = self.compute.take() {
            c.join().map_err(|_| Error::Input("serve: the compute thread panicked".into()))?;
        }
        served
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = self.join();
    }
}

/// Accepts connections until `stop` completes, then closes the listener and waits for every
/// open connection to finish its request in flight (idle keep-alive ones are closed).
async fn accept_loop(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    read_timeout: Duration,
    nodelay: bool,
    stop: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(nodelay);
                    let service = hyper_util::service::TowerToHyperService::new(app.clone());
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(read_timeout)
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
                    let conn = graceful.watch(conn);
                    tokio::spawn(async move {
                        let _ = conn.await; // a client that went away is not an error
                    });
                }
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            },
            _ = &mut stop => break,
        }
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Waits for SIGTERM or Ctrl-C, then marks the server draining (`/ready` 503) and keeps
/// serving for `delay` (a second signal ends the wait early).
async fn drain_after_signal(front: &Front, delay: Duration) {
    shutdown_signal().await;
    front.draining.store(true, Ordering::SeqCst);
    front::log(
        front.json_output,
        &format!("shutting down: /ready answers 503, serving {} s more, then finishing in flight", delay.as_secs_f64()),
    );
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        _ = shutdown_signal() => {}
    }
}

/// Ctrl-C, or SIGTERM on Unix.
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// `nanobert serve`: starts the server, says where it listens, serves until SIGTERM / Ctrl-C,
/// drains, returns.
pub fn run(opts: &ServeOptions) -> Result<()> {
    let json = opts.json_output;
    front::log(json, &format!("loading {} ({}) ...", opts.model_dir.display(), opts.precision));
    let server = Server::start_with(opts, true)?;
    let i = &server.info;
    let what = match &i.labels {
        Some(l) => format!("{} ({} labels: {})", i.model_type, l.len(), l.join(", ")),
        None => format!("{} dims", i.dimensions),
    };
    front::log(
        json,
        &format!(
            "{} ({}) loaded in {:.2} s: {what}, {}, max {} tokens, {} compute threads, {} I/O threads{}",
            i.model_id,
            i.architecture,
            i.load_seconds,
            i.precision,
            i.max_input_length,
            i.threads,
            i.io_threads,
            if opts.api_key.is_some() { ", API key required" } else { "" }
        ),
    );
    front::log(json, &format!("endpoints: {}", i.endpoints.join(" ")));
    if json {
        front::log(json, &format!("listening on http://{}", server.addr()));
    } else {
        println!("listening on http://{}", server.addr());
    }
    front::log(json, "SIGTERM or Ctrl-C stops it after the requests in flight");
    server.wait()?;
    front::log(json, "stopped");
    Ok(())
}
