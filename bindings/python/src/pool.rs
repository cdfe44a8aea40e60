//! One rayon pool per model, never the global one.
//!
//! A Python host (Ray, Spark, Dask, a web server) may own rayon's global pool or run several
//! models side by side, so each model gets its own pool, sized once by
//! `threads=` > `RAYON_NUM_THREADS` > `OMP_NUM_THREADS` > physical cores. Ray, Spark and Dask
//! set `OMP_NUM_THREADS` to the CPUs they give a worker, so a model inside one of their workers
//! runs no more threads than it was given.
//!
//! The pool is built on first use *in each process*: after `fork` the child has none of the
//! parent's threads, so a pool found with another process id is leaked (dropping it would wake
//! threads that do not exist in the child) and a new one is built.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use crate::to_py_err;

/// A positive thread count from an environment variable (`OMP_NUM_THREADS` may be a
/// comma-separated list per nesting level: its first entry counts). Unset, empty, zero or
/// unparsable values count as unset, as rayon treats `RAYON_NUM_THREADS`.
fn env_threads(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    v.split(',').next()?.trim().parse::<usize>().ok().filter(|&n| n > 0)
}

/// The pool size rule: `threads` > `RAYON_NUM_THREADS` > `OMP_NUM_THREADS` > physical cores,
/// with where the number came from.
pub fn resolve_threads(threads: Option<usize>) -> (usize, &'static str) {
    if let Some(n) = threads {
        return (n, "threads=");
    }
    if let Some(n) = env_threads("RAYON_NUM_THREADS") {
        return (n, "RAYON_NUM_THREADS");
    }
    if let Some(n) = env_threads("OMP_NUM_THREADS") {
        return (n, "OMP_NUM_THREADS");
    }
    (nanobert::threads::physical_cores(), "physical cores")
}

/// A model's own thread pool, built lazily per process.
pub struct Pool {
    /// `threads=` as given (`None`: from the environment when the pool is built).
    requested: Option<usize>,
    /// The process that built the pool, and the pool.
    built: Mutex<Option<(u32, usize, Arc<rayon::ThreadPool>)>>,
}

impl Pool {
    /// A pool of `threads` threads when given (at least 1), else sized from the environment on
    /// first use.
    pub fn new(threads: Option<usize>) -> PyResult<Pool> {
        if threads == Some(0) {
            return Err(PyValueError::new_err(
                "threads must be at least 1 (or None: RAYON_NUM_THREADS, \
                 OMP_NUM_THREADS, else the physical cores)",
            ));
        }
        Ok(Pool { requested: threads, built: Mutex::new(None) })
    }

    /// The number of threads this pool has (or will have when built in this process).
    pub fn size(&self) -> usize {
        match &*self.built.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((pid, n, _)) if *pid == std::process::id() => *n,
            _ => resolve_threads(self.requested).0,
        }
    }

    fn get(&self) -> PyResult<Arc<rayon::ThreadPool>> {
        let pid = std::process::id();
        let mut built = self.built.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((owner, _, pool)) = &*built {
            if *owner == pid {
                return Ok(pool.clone());
            }
            // Built before a fork: its threads live in the parent only.
            std::mem::forget(built.take());
        }
        let (n, _) = resolve_threads(self.requested);
        // The library's pool of its own (the builder's), never rayon's global one.
        let pool = Arc::new(nanobert::pipeline::thread_pool(Some(n)).map_err(to_py_err)?);
        *built = Some((pid, n, pool.clone()));
        Ok(pool)
    }

    /// Runs `f` on this pool with the GIL released; a library error becomes a Python
    /// exception, and so would a panic (a bug), as `RuntimeError` rather than a crash.
    pub fn run<T: Send>(&self, py: Python<'_>, f: impl FnOnce() -> nanobert::Result<T> + Send) -> PyResult<T> {
        let pool = self.get()?;
        let out = py.detach(|| pool.install(|| catch_unwind(AssertUnwindSafe(f))));
        match out {
            Ok(r) => r.map_err(to_py_err),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown panic".into());
                Err(PyRuntimeError::new_err(format!("nanobert internal error (please report): {msg}")))
            }
        }
    }
}
