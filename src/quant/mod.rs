//! # Lower precision: the same matmuls with fewer bits per weight
//!
//! Every Linear layer stores its weight `[out, in]` in one of four formats ([`Precision`]):
//!
//! | precision | bits/weight | what the GEMM does with it                                        |
//! |-----------|-------------|-------------------------------------------------------------------|
//! | f32       | 32          | f32 FMA microkernel (`ops::matmul`)                                 |
//! | f16       | 16          | widened to f32 in registers (F16C `vcvtph2ps`), then the same FMA   |
//! | bf16      | 16          | `vdpbf16ps` where AVX512_BF16 exists, else widened to f32 (a shift) |
//! | int8      | 8 (+ a scale per output channel) | u8 x i8 dot products into i32 (`vpdpbusd` or `vpmaddubsw`) |
//!
//! Only the *weights* change format at rest. Activations stay f32 between layers, and
//! LayerNorm, softmax, GELU, the residual adds and the attention matmuls stay in f32: they
//! are cheap, and they are where small errors would grow (a LayerNorm divides by a variance,
//! a softmax exponentiates). That split is the mixed-precision lesson in one sentence.
//!
//! int8 is *dynamic* quantization: each row of activations (each token) is quantized to u8
//! with its own scale and zero point when the layer runs, the product is accumulated exactly
//! in i32, and the epilogue turns it back into f32 with the row's and the column's scales,
//! adds the bias and (optionally) applies GELU. See `int8.rs`.
//!
//! Files: `driver.rs` (the one blocked, threaded GEMM driver both formats share),
//! `int8.rs` (quantization, the reference, the dequantizing epilogue) and `int8_x86.rs` (its
//! SIMD microkernels), `half.rs` (f16/bf16) and `half_x86.rs` (its microkernels),
//! `convert.rs` (turning a whole model to a precision). What each precision costs in accuracy
//! (`nanobert bench precision`) and the dot-product instructions' measured peaks are
//! instruments: they live in the bench crate (`crates/nanobert-bench/src/precision.rs`,
//! `dot_peaks.rs`).

pub mod convert;
mod driver;
pub mod half;
#[cfg(target_arch = "x86_64")]
mod half_x86;
pub mod int8;
#[cfg(target_arch = "x86_64")]
mod int8_x86;

pub use convert::{PrecisionPlan, ToPrecision, calibrate, linears, to_precision};
pub use int8::{I8Kernel, PackedI8};

use crate::{Error, Result};

/// Calibration text for SmoothQuant (one text per line; distinct from the accuracy set).
pub const CALIBRATION: &str = include_str!("calibration.txt");

/// SmoothQuant's migration strength α: how much of the activations' range moves into the
/// weights (0: none, 1: all). 0.5 splits it evenly (docs/lower-precision.md).
pub const SMOOTH_ALPHA: f32 = 0.5;

/// The Linears `--precision int8` keeps in bf16, by path pattern: the attention's value
/// projection. Measured on the accuracy set (`nanobert bench precision`,
/// docs/lower-precision.md): int8 in the value projection alone costs more than in any other
/// kind of Linear (min cosine 0.996 against 0.9998 for Q or K), because its output is
/// averaged straight into every token's context without a softmax to flatten the error, and
/// with it in bf16 the worst sentence goes from 0.993 to 0.997 (VNNI and AVX2 alike), for a
/// twelfth of the multiply-adds in 16-bit instead of 8-bit.
pub const INT8_KEEP_BF16: &[&str] = &["attention.self.value"];

/// How a Linear layer stores its weight (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Precision {
    /// 32-bit IEEE float: the checkpoint's own format.
    #[default]
    F32,
    /// 16-bit IEEE half: 5 exponent bits, 10 mantissa bits.
    F16,
    /// bfloat16: f32's 8 exponent bits, 7 mantissa bits (the top half of an f32).
    Bf16,
    /// 8-bit integers with one f32 scale per output channel; activations quantized per token.
    Int8,
}

impl Precision {
    /// All four, widest first.
    pub const ALL: [Precision; 4] = [Precision::F32, Precision::F16, Precision::Bf16, Precision::Int8];

    /// The name used on the command line and in tables: "f32", "f16", "bf16", "int8".
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F16 => "f16",
            Precision::Bf16 => "bf16",
            Precision::Int8 => "int8",
        }
    }

    /// Bytes per stored weight value (scales and padding not counted).
    pub fn bytes_per_weight(self) -> usize {
        match self {
            Precision::F32 => 4,
            Precision::F16 | Precision::Bf16 => 2,
            Precision::Int8 => 1,
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = Error;

    /// Parses "f32", "f16", "bf16" or "int8" (case-insensitive; "fp32", "fp16", "i8" too).
    fn from_str(s: &str) -> Result<Precision> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "fp32" | "float32" => Ok(Precision::F32),
            "f16" | "fp16" | "float16" | "half" => Ok(Precision::F16),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "int8" | "i8" | "q8" => Ok(Precision::Int8),
            other => Err(Error::Input(format!("unknown precision {other:?}: expected f32, f16, bf16 or int8"))),
        }
    }
}

/// The fast copy of a Linear weight the GEMM reads, in one of the [`Precision`]s.
#[derive(Debug)]
pub enum Storage {
    /// f32, packed into the f32 microkernel's panels on first use (see `nn/linear.rs`).
    F32(std::sync::OnceLock<crate::ops::matmul::PackedB>),
    /// f16 or bf16 panels (see `half.rs`).
    Half(half::PackedHalf),
    /// int8 panels with per-output-channel scales (see `int8.rs`).
    Int8(PackedI8),
}

impl Default for Storage {
    fn default() -> Self {
        Storage::F32(Default::default())
    }
}

impl Storage {
    /// The precision of this storage.
    pub fn precision(&self) -> Precision {
        match self {
            Storage::F32(_) => Precision::F32,
            Storage::Half(h) => h.precision(),
            Storage::Int8(_) => Precision::Int8,
        }
    }

    /// Bytes of weight this storage keeps for the fast path, for an `[out, in]` weight:
    /// the packed copy when it exists (panels, scales, padding), else what it will take.
    pub fn bytes(&self, out_features: usize, in_features: usize) -> usize {
        match self {
            Storage::F32(p) => p.get().map(|p| p.bytes()).unwrap_or(out_features * in_features * 4),
            Storage::Half(h) => h.bytes(),
            Storage::Int8(q) => q.bytes(),
        }
    }
}
