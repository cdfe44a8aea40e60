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
//! `storage.rs` ([`Storage`], a Linear weight in one of the formats, and the GEMM it runs),
//! `convert.rs` (which precision each weight gets, [`PrecisionPlan`], and SmoothQuant's
//! factors). Walking a model to convert its Linears is `nn`'s (`nn::to_precision`,
//! `nn::calibrate`): this module knows formats and GEMMs, not modules. What each precision costs in accuracy
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
mod storage;

pub use convert::{PrecisionPlan, matches_path, smooth_factors};
pub use int8::{I8Kernel, PackedI8};
pub use storage::Storage;

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
