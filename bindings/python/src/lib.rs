//! `nanobert._nanobert`: the native half of the `nanobert` Python package.
//!
//! Three classes over the library's pipelines — [`Embedder`] (sentence embeddings),
//! [`CrossEncoder`] (scores of text pairs) and [`FillMask`] — each with its own thread pool
//! ([`pool`]). The sentence-transformers API itself (argument names, defaults, refusals,
//! quantized outputs, pickling) is Python, in `python/nanobert/`; this crate only loads
//! checkpoints and runs them with the GIL released, and hands results to NumPy without a copy.

use std::path::Path;

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;

mod embed;
mod heads;
mod pool;

pub use embed::Embedder;
pub use heads::{CrossEncoder, FillMask};

/// A library error as a Python exception with the same message the CLI prints: a path that
/// does not exist is a `FileNotFoundError`, a file that cannot be read or parsed an `OSError`,
/// anything else (bad input, a checkpoint nanobert cannot honour) a `ValueError`.
pub fn to_py_err(e: nanobert::Error) -> PyErr {
    match &e {
        nanobert::Error::File { path, .. } if !path.exists() => PyFileNotFoundError::new_err(e.to_string()),
        nanobert::Error::File { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

/// Opens a checkpoint directory (weights memory-mapped, checked for NaN/inf as the CLI does).
fn open(path: &Path) -> nanobert::Result<nanobert::io::Checkpoint> {
    nanobert::io::Checkpoint::open(path)
}

/// The Linear precision called `name` (`f32`, `f16`, `bf16`, `int8`), refused by name otherwise.
fn precision(name: &str) -> PyResult<nanobert::quant::Precision> {
    name.parse().map_err(to_py_err)
}

/// Physical cores of this machine, as nanobert counts them (the default pool size).
#[pyfunction]
fn physical_cores() -> usize {
    nanobert::threads::physical_cores()
}

/// A model argument as a checkpoint directory, without a network: an existing path as given,
/// else a Hub id (`org/name`) found in the Hugging Face cache (`HF_HUB_CACHE`, `HF_HOME`) at
/// `revision` (default `main`), the snapshot transformers and the `nanobert` CLI download into.
#[pyfunction]
#[pyo3(signature = (model, revision=None))]
fn resolve_model(model: &str, revision: Option<&str>) -> PyResult<String> {
    let dir = nanobert::io::hub_cache::resolve_cached(model, revision).map_err(to_py_err)?;
    Ok(dir.to_string_lossy().into_owned())
}

/// The pool size a model gets for `threads` (`None`: `RAYON_NUM_THREADS`, else
/// `OMP_NUM_THREADS`, else the physical cores), and which rule gave it.
#[pyfunction]
#[pyo3(signature = (threads=None))]
fn resolve_threads(threads: Option<usize>) -> (usize, &'static str) {
    pool::resolve_threads(threads)
}

#[pymodule]
fn _nanobert(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Embedder>()?;
    m.add_class::<CrossEncoder>()?;
    m.add_class::<FillMask>()?;
    m.add_function(wrap_pyfunction!(physical_cores, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_threads, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_model, m)?)?;
    Ok(())
}
