//! # After the transformer: sentence-transformers' Pooling, Dense and Normalize
//!
//! A sentence-transformers model is BERT followed by small modules that run in the order of
//! `modules.json` (read by `io/sentence_transformers.rs`):
//!
//! - **Pooling** turns token vectors `[batch, seq, h]` into one vector per text. Several modes
//!   may be on at once; their results are concatenated in the configured order, so the width
//!   is `h × modes`. With `include_prompt: false` the prompt's tokens (`[CLS]` included) are
//!   masked out first.
//! - **Dense** is `activation(W·x + b)` (plus `x` or `R·x` with `use_residual`): a projection,
//!   often to another width.
//! - **Normalize** scales to unit L2 norm, so that a dot product is a cosine similarity.
//!
//! Every mode follows `sentence_transformers/sentence_transformer/modules/pooling.py`
//! (`_forward_padded`), including its edge cases: counts clamped at 1e-9, `max` over no token
//! is -inf, `lasttoken` of an all-masked row is zeros, `weightedmean` weights are positions
//! 1, 2, 3, ... counted from the first real token.

use crate::io::sentence_transformers::{DenseActivation, DenseConfig, PoolingConfig, PoolingMode, StModule};
use crate::io::{SentenceTransformersConfig, WeightMap};
use crate::nn::Linear;
use crate::{Error, Result, Tensor};

/// Pools token vectors into sentence vectors.
///
/// `hidden`: `[batch, seq, h]`; `mask`: `batch * seq` entries (1 real token, 0 padding);
/// `prompt_length`: with `include_prompt: false`, the first `prompt_length` positions of every
/// row are excluded. Returns `batch` vectors of `h * modes` floats.
pub fn pool_modes(
    hidden: &Tensor,
    mask: &[u32],
    cfg: &PoolingConfig,
    prompt_length: Option<usize>,
) -> Result<Vec<Vec<f32>>> {
    if hidden.ndim() != 3 || mask.len() != hidden.shape()[0] * hidden.shape()[1] {
        return Err(Error::invalid(
            "Pooling",
            format!(
                "expects hidden [batch, seq, h] and a mask of batch*seq entries, got {:?} and {}",
                hidden.shape(),
                mask.len()
            ),
        ));
    }
    let (b, s, h) = (hidden.shape()[0], hidden.shape()[1], hidden.shape()[2]);
    if let Some(d) = cfg.embedding_dimension
        && d != h
    {
        return Err(Error::invalid("Pooling", format!("config says embedding_dimension {d}, the model gives {h}")));
    }
    let data = hidden.contiguous();
    let data = data.as_slice().unwrap_or(&[]);
    let mut out = Vec::with_capacity(b);
    for bi in 0..b {
        let x = |si: usize| &data[(bi * s + si) * h..(bi * s + si + 1) * h];
        let original: Vec<bool> = (0..s).map(|si| mask[bi * s + si] != 0).collect();
        // The first real position ("pad length" under left padding; 0 for our right padding).
        let first_real = original.iter().position(|&m| m).unwrap_or(0);
        let mut m = original.clone();
        if !cfg.include_prompt
            && let Some(p) = prompt_length.filter(|&p| p > 0)
        {
            m.iter_mut().take(first_real + p).for_each(|v| *v = false);
        }
        let count = m.iter().filter(|&&v| v).count() as f32;
        let mut row = Vec::with_capacity(h * cfg.modes.len());
        for mode in &cfg.modes {
            match mode {
                PoolingMode::Cls => {
                    let i = m.iter().position(|&v| v).unwrap_or(0);
                    row.extend_from_slice(x(i));
                }
                PoolingMode::Max => {
                    let mut acc = vec![f32::NEG_INFINITY; h];
                    for si in (0..s).filter(|&si| m[si]) {
                        acc.iter_mut().zip(x(si)).for_each(|(a, v)| *a = a.max(*v));
                    }
                    row.extend(acc);
                }
                PoolingMode::Mean | PoolingMode::MeanSqrtLenTokens => {
                    let mut acc = vec![0.0f32; h];
                    for si in (0..s).filter(|&si| m[si]) {
                        acc.iter_mut().zip(x(si)).for_each(|(a, v)| *a += v);
                    }
                    let n = count.max(1e-9);
                    let d = if *mode == PoolingMode::Mean { n } else { n.sqrt() };
                    row.extend(acc.into_iter().map(|a| a / d));
                }
                PoolingMode::WeightedMean => {
                    let mut acc = vec![0.0f32; h];
                    let mut wsum = 0.0f32;
                    for si in (0..s).filter(|&si| m[si]) {
                        let w = (si + 1) as f32 - first_real as f32;
                        wsum += w;
                        acc.iter_mut().zip(x(si)).for_each(|(a, v)| *a += w * v);
                    }
                    let d = wsum.max(1e-9);
                    row.extend(acc.into_iter().map(|a| a / d));
                }
                PoolingMode::LastToken => match m.iter().rposition(|&v| v) {
                    Some(i) => row.extend_from_slice(x(i)),
                    None => row.extend(std::iter::repeat_n(0.0, h)),
                },
            }
        }
        out.push(row);
    }
    Ok(out)
}

/// sentence-transformers' `Dense` module: `activation(linear(x))`, plus a residual.
pub struct Dense {
    /// `linear.weight` `[out, in]`, `linear.bias` `[out]`.
    pub linear: Linear,
    /// Applied after `linear`.
    pub activation: DenseActivation,
    /// `None`: no residual; `Some(None)`: add `x` (same width); `Some(Some(r))`: add `r(x)`.
    pub residual: Option<Option<Linear>>,
}

impl Dense {
    /// Loads the module's `model.safetensors` as its config describes.
    pub fn load(cfg: &DenseConfig) -> Result<Dense> {
        let w = WeightMap::open(&cfg.weights)?;
        let (i, o) = (cfg.in_features, cfg.out_features);
        let bias = if cfg.bias { Some(w.get_shaped("linear.bias", &[o])?) } else { None };
        let linear = Linear::new(w.get_shaped("linear.weight", &[o, i])?, bias)?;
        let residual = match (cfg.use_residual, i == o) {
            (false, _) => None,
            (true, true) => Some(None),
            (true, false) => Some(Some(Linear::new(w.get_shaped("residual.weight", &[o, i])?, None)?)),
        };
        Ok(Dense { linear, activation: cfg.activation, residual })
    }

    /// `[batch, in] -> [batch, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.linear.forward(x)?;
        let y = match self.activation {
            DenseActivation::Identity => y,
            DenseActivation::Tanh => crate::ops::tanh(&y),
            DenseActivation::Relu => crate::ops::relu(&y),
            DenseActivation::Sigmoid => crate::ops::sigmoid(&y),
            DenseActivation::Gelu => crate::ops::gelu(&y),
        };
        match &self.residual {
            None => Ok(y),
            Some(None) => crate::ops::add(&y, x),
            Some(Some(r)) => crate::ops::add(&y, &r.forward(x)?),
        }
    }
}

/// One module after the transformer, ready to run.
pub enum SentenceModule {
    /// Token vectors -> sentence vectors.
    Pooling(PoolingConfig),
    /// A dense layer on sentence vectors.
    Dense(Box<Dense>),
    /// L2 normalization of sentence vectors.
    Normalize,
}

impl SentenceModule {
    /// A short description, e.g. `Pooling(mean)`, `Dense(384 -> 256, Tanh)`, `Normalize`.
    pub fn describe(&self) -> String {
        match self {
            SentenceModule::Pooling(p) => format!("Pooling({})", p.mode_names().join("+")),
            SentenceModule::Dense(d) => format!(
                "Dense({} -> {}, {})",
                d.linear.in_features(),
                d.linear.out_features(),
                d.activation.class_name()
            ),
            SentenceModule::Normalize => "Normalize".into(),
        }
    }
}

/// Everything a sentence-transformers model runs after BERT, in `modules.json` order.
pub struct SentenceHead {
    /// The modules after the Transformer.
    pub modules: Vec<SentenceModule>,
}

impl SentenceHead {
    /// The modules of a sentence-transformers config (its Dense weights are loaded here).
    /// Without a Pooling module, sentence-transformers' default (mean) is used, as it does.
    pub fn from_config(st: &SentenceTransformersConfig) -> Result<SentenceHead> {
        let mut modules = Vec::new();
        for (_, m) in st.modules.iter().skip(1) {
            modules.push(match m {
                StModule::Pooling(p) => SentenceModule::Pooling(p.clone()),
                StModule::Dense(d) => SentenceModule::Dense(Box::new(Dense::load(d)?)),
                StModule::Normalize => SentenceModule::Normalize,
                StModule::Transformer => return Err(Error::Input("a second Transformer module".into())),
            });
        }
        if !modules.iter().any(|m| matches!(m, SentenceModule::Pooling(_))) {
            modules.insert(0, SentenceModule::Pooling(PoolingConfig::mean()));
        }
        Ok(SentenceHead { modules })
    }

    /// Mean pooling without normalization: what a plain BERT checkpoint gets.
    pub fn mean() -> SentenceHead {
        SentenceHead { modules: vec![SentenceModule::Pooling(PoolingConfig::mean())] }
    }

    /// Whether any module needs the prompt length (Pooling with `include_prompt: false`).
    pub fn excludes_prompt(&self) -> bool {
        self.modules.iter().any(|m| matches!(m, SentenceModule::Pooling(p) if !p.include_prompt))
    }

    /// `hidden [batch, seq, h]` + mask -> one vector per row, through every module.
    pub fn forward(&self, hidden: &Tensor, mask: &[u32], prompt_length: Option<usize>) -> Result<Vec<Vec<f32>>> {
        let mut rows: Option<Vec<Vec<f32>>> = None;
        for m in &self.modules {
            rows = Some(match (m, rows) {
                (SentenceModule::Pooling(p), None) => pool_modes(hidden, mask, p, prompt_length)?,
                (SentenceModule::Pooling(_), Some(_)) => {
                    return Err(Error::Input("a second Pooling module after pooling".into()));
                }
                (_, None) => return Err(Error::Input("Dense/Normalize before Pooling".into())),
                (SentenceModule::Dense(d), Some(r)) => {
                    let (n, w) = (r.len(), r.first().map_or(0, Vec::len));
                    if w != d.linear.in_features() {
                        return Err(Error::invalid(
                            "Dense",
                            format!(
                                "expects {} inputs, the previous module gives {w} (check in_features in its config)",
                                d.linear.in_features()
                            ),
                        ));
                    }
                    let x = Tensor::from_vec(r.concat(), &[n, w])?;
                    let y = d.forward(&x)?.contiguous();
                    let y = y.as_slice().unwrap_or(&[]);
                    y.chunks(d.linear.out_features()).map(<[f32]>::to_vec).collect()
                }
                (SentenceModule::Normalize, Some(mut r)) => {
                    r.iter_mut().for_each(|v| super::pooling::normalize(v));
                    r
                }
            });
        }
        rows.ok_or_else(|| Error::Input("no Pooling module".into()))
    }
}
