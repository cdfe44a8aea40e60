//! `CrossEncoder` (pairs in, scores out) and `FillMask` (masked words in, candidates out).

use std::path::PathBuf;

use numpy::{IntoPyArray, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use nanobert::pipeline::{Classifier, Pipeline, Reranker, ScoreFunction};

use crate::open;
use crate::pool::Pool;

enum Scorer {
    /// One label: sentence-transformers' reranker (activation from `config.json`).
    One(Reranker),
    /// Several labels: raw logits (sentence-transformers' default activation is Identity).
    Many(Classifier),
}

/// A `BertForSequenceClassification` checkpoint scoring text pairs; `nanobert.CrossEncoder`
/// wraps it with the sentence-transformers API.
#[pyclass(frozen, module = "nanobert._nanobert")]
pub struct CrossEncoder {
    scorer: Scorer,
    pool: Pool,
    path: PathBuf,
    precision: String,
}

#[pymethods]
impl CrossEncoder {
    /// Loads the checkpoint directory `path` on a pool of `threads` threads.
    #[new]
    #[pyo3(signature = (path, threads=None, precision="f32"))]
    fn new(py: Python<'_>, path: PathBuf, threads: Option<usize>, precision: &str) -> PyResult<CrossEncoder> {
        let p = crate::precision(precision)?;
        let pool = Pool::new(threads)?;
        let n = pool.size(); // the builds run on the model's pool, of n threads
        let scorer = pool.run(py, || {
            let ckpt = open(&path)?;
            let cfg = nanobert::bert::BertConfig::from_json(&ckpt.config_json)?;
            let head = nanobert::bert::heads::HeadConfig::from_json(&ckpt.config_json, &cfg)?;
            let scorer = if head.num_labels() == 1 {
                Scorer::One(Reranker::builder().precision(p).threads(n).build(&ckpt)?)
            } else {
                Scorer::Many(Classifier::builder().precision(p).threads(n).build(&ckpt)?)
            };
            Ok(scorer)
        })?;
        Ok(CrossEncoder { scorer, pool, path, precision: p.name().to_string() })
    }

    /// `(logits [n, num_labels], activated [n, num_labels])` for `pairs`, in chunks of
    /// `batch_size` pairs; the activation is the checkpoint's (one label) or none (several).
    #[pyo3(signature = (pairs, batch_size=32))]
    #[allow(clippy::type_complexity)]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        pairs: Vec<(String, String)>,
        batch_size: usize,
    ) -> PyResult<(Bound<'py, PyArray2<f32>>, Bound<'py, PyArray2<f32>>)> {
        let n = pairs.len();
        let labels = self.num_labels();
        let (logits, scores) = self.pool.run(py, || {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            if refs.is_empty() {
                return Err(nanobert::Error::Input("no pairs given".into()));
            }
            let (mut logits, mut scores) = (Vec::with_capacity(n * labels), Vec::with_capacity(n * labels));
            for chunk in refs.chunks(batch_size.max(1)) {
                match &self.scorer {
                    Scorer::One(r) => {
                        for (l, s) in r.score_pairs(chunk)? {
                            logits.push(l);
                            scores.push(s);
                        }
                    }
                    Scorer::Many(c) => {
                        let mixed: Vec<(&str, Option<&str>)> = chunk.iter().map(|&(a, b)| (a, Some(b))).collect();
                        for row in c.logits(&mixed)? {
                            scores.extend_from_slice(&row);
                            logits.extend(row);
                        }
                    }
                }
            }
            Ok((logits, scores))
        })?;
        Ok((logits.into_pyarray(py).reshape([n, labels])?, scores.into_pyarray(py).reshape([n, labels])?))
    }

    /// Number of outputs per pair.
    #[getter]
    fn num_labels(&self) -> usize {
        match &self.scorer {
            Scorer::One(_) => 1,
            Scorer::Many(c) => c.model.head.num_labels(),
        }
    }

    /// The labels' names (`id2label`).
    #[getter]
    fn labels(&self) -> Vec<String> {
        match &self.scorer {
            Scorer::One(r) => r.model.head.id2label.clone(),
            Scorer::Many(c) => c.model.head.id2label.clone(),
        }
    }

    /// The activation applied to the logits: `Sigmoid` or `Identity`.
    #[getter]
    fn activation_fn(&self) -> &'static str {
        match &self.scorer {
            Scorer::One(r) if r.activation == ScoreFunction::Sigmoid => "Sigmoid",
            _ => "Identity",
        }
    }

    /// The longest input in tokens; longer pairs are truncated (longest first).
    #[getter]
    fn max_length(&self) -> usize {
        match &self.scorer {
            Scorer::One(r) => r.tokenizer.max_len(),
            Scorer::Many(c) => c.tokenizer.max_len(),
        }
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

    /// The Linear layers' precision.
    #[getter]
    fn precision(&self) -> &str {
        &self.precision
    }
}

/// One candidate: `(score, token id, token string, the text with the candidate in place)`.
type Candidate = (f32, u32, String, String);

/// A masked-language-model checkpoint (`BertForMaskedLM`): which words fit at `[MASK]`.
#[pyclass(frozen, module = "nanobert._nanobert")]
pub struct FillMask {
    inner: nanobert::pipeline::FillMask,
    pool: Pool,
    path: PathBuf,
    precision: String,
}

#[pymethods]
impl FillMask {
    /// Loads the checkpoint directory `path` (it must have a masked-LM head).
    #[new]
    #[pyo3(signature = (path, threads=None, precision="f32"))]
    fn new(py: Python<'_>, path: PathBuf, threads: Option<usize>, precision: &str) -> PyResult<FillMask> {
        let p = crate::precision(precision)?;
        let pool = Pool::new(threads)?;
        let n = pool.size(); // the builds run on the model's pool, of n threads
        let inner =
            pool.run(py, || nanobert::pipeline::FillMask::builder().precision(p).threads(n).build(&open(&path)?))?;
        Ok(FillMask { inner, pool, path, precision: p.name().to_string() })
    }

    /// For each text, for each `[MASK]` in it, the `top_k` candidates, most probable first.
    #[pyo3(signature = (texts, top_k=5))]
    fn predict(&self, py: Python<'_>, texts: Vec<String>, top_k: usize) -> PyResult<Vec<Vec<Vec<Candidate>>>> {
        self.pool.run(py, || {
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let tok = &self.inner.tokenizer;
            let mut out = Vec::with_capacity(texts.len());
            for (text, result) in refs.iter().zip(self.inner.predict(&refs, top_k)?) {
                let ids = tok.encode_batch(&[text])?.input_ids;
                let mut masks = Vec::with_capacity(result.masks.len());
                for m in result.masks {
                    let mut cands = Vec::with_capacity(m.top.len());
                    for c in m.top {
                        let mut filled = ids.clone();
                        filled[m.position] = c.id;
                        cands.push((c.score, c.id, tok.decode(&[c.id])?, tok.decode(&filled)?));
                    }
                    masks.push(cands);
                }
                out.push(masks);
            }
            Ok(out)
        })
    }

    /// The tokenizer's mask token (`[MASK]`).
    #[getter]
    fn mask_token(&self) -> String {
        self.inner.tokenizer.mask_token_id().and_then(|id| self.inner.tokenizer.id_to_token(id)).unwrap_or_default()
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

    /// The Linear layers' precision.
    #[getter]
    fn precision(&self) -> &str {
        &self.precision
    }
}
