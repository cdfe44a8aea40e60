//! `Embedder`: a sentence-embedding checkpoint, loaded once, run on its own pool.

use std::collections::BTreeMap;
use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use nanobert::pipeline::Pipeline;

use crate::open;
use crate::pool::Pool;

/// A sentence-embedding model (`nanobert.pipeline.Embedder`); `nanobert.SentenceTransformer`
/// wraps it with the sentence-transformers API.
#[pyclass(frozen, module = "nanobert._nanobert")]
pub struct Embedder {
    inner: nanobert::pipeline::Embedder,
    pool: Pool,
    dimension: usize,
    path: PathBuf,
    precision: String,
}

#[pymethods]
impl Embedder {
    /// Loads the checkpoint directory `path` (Linear weights converted to `precision`), on a
    /// pool of `threads` threads (`None`: `RAYON_NUM_THREADS`, `OMP_NUM_THREADS`, physical cores).
    #[new]
    #[pyo3(signature = (path, threads=None, precision="f32"))]
    fn new(py: Python<'_>, path: PathBuf, threads: Option<usize>, precision: &str) -> PyResult<Embedder> {
        let p = crate::precision(precision)?;
        let pool = Pool::new(threads)?;
        let n = pool.size(); // the builds run on the model's pool, of n threads
        let (inner, dimension) = pool.run(py, || {
            let ckpt = open(&path)?;
            let e = nanobert::pipeline::Embedder::builder().precision(p).threads(n).build(&ckpt)?;
            let dimension = e.dimension()?;
            Ok((e, dimension))
        })?;
        Ok(Embedder { inner, pool, dimension, path, precision: p.name().to_string() })
    }

    /// `[len(texts), dimension]` float32, each text prefixed by `prompt` (the text itself;
    /// `None`: none), in length-bucketed batches of `batch_size`. The GIL is released while the
    /// model runs; NumPy takes ownership of the result buffer (no copy).
    #[pyo3(signature = (texts, prompt=None, batch_size=32))]
    fn encode<'py>(
        &self,
        py: Python<'py>,
        texts: Vec<String>,
        prompt: Option<String>,
        batch_size: usize,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let n = texts.len();
        let d = self.dimension;
        let flat = self.pool.run(py, || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let rows = self.inner.embed_prompt_text(&refs, prompt.as_deref(), batch_size)?;
            let mut flat = Vec::with_capacity(n * d);
            for r in rows {
                flat.extend_from_slice(&r);
            }
            Ok(flat)
        })?;
        flat.into_pyarray(py).reshape([n, d])
    }

    /// Width of the embeddings.
    #[getter]
    fn dimension(&self) -> usize {
        self.dimension
    }

    /// The longest input in tokens (`[CLS]` and `[SEP]` included); longer texts are truncated.
    #[getter]
    fn max_seq_length(&self) -> usize {
        self.inner.tokenizer.max_len()
    }

    /// `config_sentence_transformers.json`'s prompts (empty for other checkpoints).
    #[getter]
    fn prompts(&self) -> BTreeMap<String, String> {
        self.inner.sentence_transformers.as_ref().map(|s| s.prompts.clone()).unwrap_or_default()
    }

    /// The prompt used when none is named, if the model has one.
    #[getter]
    fn default_prompt_name(&self) -> Option<String> {
        self.inner.sentence_transformers.as_ref().and_then(|s| s.default_prompt_name.clone())
    }

    /// `similarity_fn_name` (`cosine` when the checkpoint does not say).
    #[getter]
    fn similarity_fn_name(&self) -> &'static str {
        self.inner.similarity_fn().name()
    }

    /// Whether the last module normalizes (embeddings have unit length).
    #[getter]
    fn normalizes(&self) -> bool {
        self.inner.sentence_transformers.as_ref().is_some_and(|s| s.normalizes())
    }

    /// The number of threads of this model's pool (in this process).
    #[getter]
    fn threads(&self) -> usize {
        self.pool.size()
    }

    /// The checkpoint directory.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The Linear layers' precision (`f32`, `f16`, `bf16`, `int8`).
    #[getter]
    fn precision(&self) -> &str {
        &self.precision
    }

    /// The module tree, printed like PyTorch.
    fn __repr__(&self) -> String {
        use nanobert::nn::Module;
        self.inner.model.repr()
    }
}
