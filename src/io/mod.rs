//! # Checkpoints on disk
//!
//! Everything that turns files into tensors, read in this order:
//!
//! - [`safetensors`]: one `model.safetensors` file, memory-mapped; f32 tensors *borrow* the
//!   mapping (no copy), f16/bf16 are converted; plus [`save`] to write one.
//! - [`names`]: the same weight goes by several names in the wild (`bert.` prefix or not,
//!   LayerNorm `gamma`/`beta` or `weight`/`bias`); [`WeightMap`] resolves canonical names.
//! - [`checkpoint`]: a Hugging Face model directory (config.json, weights, tokenizer files,
//!   sentence-transformers pooling settings).
//! - [`tokenizer_config`]: `tokenizer_config.json`, as transformers' `AutoTokenizer` reads it.
//! - [`sentence_transformers`]: `modules.json` and the files of each module (`st_modules.rs`:
//!   the Pooling and Dense settings).
//! - [`fetch`]: finding or downloading all-MiniLM-L6-v2 without the Hugging Face Hub.
//! - [`hub_cache`]: models by Hub id (`org/name`) in the Hugging Face cache, read offline;
//!   `hub` downloads them into it (the `fetch` feature).

pub mod checkpoint;
#[cfg(feature = "fetch")]
pub mod fetch;
#[cfg(feature = "fetch")]
pub mod hub;
pub mod hub_cache;
pub mod names;
pub mod safetensors;
mod sentence_bert_config;
pub mod sentence_transformers;
mod similarity;
mod st_modules;
pub mod tokenizer_config;

pub use checkpoint::Checkpoint;
#[cfg(feature = "fetch")]
pub use fetch::{ensure_minilm, nanobert_home};
pub use names::WeightMap;
pub use safetensors::{SaveTensor, Weights, check_weights, non_finite_tensors, save};
pub use sentence_transformers::{PoolingConfig, PoolingMode, SentenceTransformersConfig, StModelType, StModule};
pub use tokenizer_config::TokenizerConfig;
