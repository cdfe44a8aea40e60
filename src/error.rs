//! One error type for the whole crate.
//!
//! Every public function whose inputs come from a user (shapes, files, text) returns
//! `Result<T>`. Messages name the operation and the shapes, tensors or files involved,
//! so that an error read in a terminal says what to fix.

use std::path::PathBuf;

/// Everything that can go wrong in nanobert.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Two shapes that must agree do not (e.g. `matmul: [2, 3] x [4, 5]`).
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not match{detail}")]
    ShapeMismatch {
        /// The operation that checked the shapes (`"matmul"`, `"add"`, ...).
        op: &'static str,
        /// The first shape.
        lhs: Vec<usize>,
        /// The second shape.
        rhs: Vec<usize>,
        /// Extra explanation, empty or starting with ": ".
        detail: String,
    },
    /// A shape, dimension, index or argument that makes no sense for the op.
    #[error("{op}: {msg}")]
    Invalid {
        /// The operation that refused its input.
        op: &'static str,
        /// What is wrong, in words.
        msg: String,
    },
    /// A named tensor in a checkpoint is missing, has the wrong shape or dtype.
    #[error("tensor `{name}`: {msg}")]
    Tensor {
        /// The tensor's name in the checkpoint.
        name: String,
        /// What is wrong with it.
        msg: String,
    },
    /// A file could not be read, written or parsed.
    #[error("{}: {msg}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        msg: String,
    },
    /// Tokenizer failures (loading tokenizer.json, encoding text).
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Bad user input that is not a shape (empty text, no `[MASK]`, ...).
    #[error("{0}")]
    Input(String),
}

/// `Result` with [`Error`] as the error type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(op: &'static str, msg: impl Into<String>) -> Self {
        Error::Invalid { op, msg: msg.into() }
    }

    /// Shorthand for [`Error::ShapeMismatch`] without extra detail.
    pub fn shape_mismatch(op: &'static str, lhs: &[usize], rhs: &[usize]) -> Self {
        Error::ShapeMismatch { op, lhs: lhs.to_vec(), rhs: rhs.to_vec(), detail: String::new() }
    }

    /// Shorthand for [`Error::File`] from an I/O error.
    pub fn file(path: impl Into<PathBuf>, msg: impl std::fmt::Display) -> Self {
        Error::File { path: path.into(), msg: msg.to_string() }
    }
}
