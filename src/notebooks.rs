//! The notebooks in `notebooks-md/`, compiled and run as doctests (`cargo test --doc`).

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/07-conv-rnn.md")]
pub struct Notebook07ConvRnn;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/03-embeddings.md")]
pub struct Notebook03Embeddings;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/04-layers.md")]
pub struct Notebook04Layers;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/05-attention.md")]
pub struct Notebook05Attention;

#[cfg(doctest)]
#[doc = include_str!("../notebooks-md/06-bert-layer-by-layer.md")]
pub struct Notebook06BertLayerByLayer;
