//! # Fusion: doing several steps while the data is at hand
//!
//! A forward pass is a chain of steps, and most of them are cheap arithmetic on a large
//! buffer: add a bias, apply GELU, add a residual, normalize. Done one at a time, each step
//! reads the whole buffer from memory and writes it back; the arithmetic is nearly free, the
//! memory traffic is not. *Fusing* two steps means doing the second while the data of the
//! first is still in registers or in L1, so the buffer crosses the memory bus once.
//!
//! Each fusion of BERT's forward is a switch in [`Fusion`], on by default, so its gain can be
//! measured against its absence in the same run (`nanobert bench fusion`; `--no-fuse NAME` on
//! any command that runs the model),
//! and a test ties the fused result to the unfused one (tests/fusion.rs):
//!
//! | name        | unfused                                          | fused                                            |
//! |-------------|--------------------------------------------------|--------------------------------------------------|
//! | `qkv`       | three GEMMs x·Wqᵀ, x·Wkᵀ, x·Wvᵀ (x packed 3 times) | one GEMM over the concatenated `[3h, h]` weight |
//! | `epilogue`  | GEMM, then a bias pass, then a GELU pass          | bias (+ GELU) applied to C where it is computed   |
//! | `add-norm`  | `x + residual` written out, then LayerNorm        | the residual added while LayerNorm reads the row  |
//! | `softmax`   | a scale pass, a mask pass, then softmax           | scale, mask and softmax in one kernel             |
//! | `heads`     | each head's context in a buffer, then copied      | each head's P·V written straight into its columns |
//! | `flash`     | attention holds a block of `rows x seq` scores    | online softmax over key blocks (long sequences)   |
//!
//! Each fusion is a pass of the compiled forward graph ([`crate::graph`]): the forward runs
//! the graph compiled with every pass but the fusions turned off
//! ([`Fusion::passes`]). There is no global switch: a [`Fusion`] is a plain value
//! handed to the forward pass (`BertModel::fusion`, or `forward_with`'s argument).

use crate::graph::Passes;
use crate::ops::attention::AttentionKernel;
use crate::{Error, Result};

/// Which fusions the forward pass uses (all on by default). See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fusion {
    /// Q, K and V as one GEMM over a concatenated, pre-packed `[3 hidden, hidden]` weight.
    pub qkv: bool,
    /// Bias, and bias + GELU, applied in the GEMM's epilogue instead of separate passes.
    pub epilogue: bool,
    /// Residual add + LayerNorm in one pass over each row.
    pub add_norm: bool,
    /// Scale + mask + softmax in one kernel inside attention.
    pub softmax: bool,
    /// Each head's context written straight to its columns of the `[tokens, hidden]` output.
    pub heads: bool,
    /// Online-softmax (flash-attention-style) attention for sequences of at least
    /// [`Fusion::flash_min_seq`] tokens; off: always the plain blocked path.
    pub flash: bool,
    /// The sequence length from which `flash` takes over (see [`FLASH_MIN_SEQ`]).
    pub flash_min_seq: usize,
}

/// Sequence length from which the online-softmax attention is used by default (a property of
/// the kernel, measured there).
pub use crate::ops::attention::FLASH_MIN_SEQ;

impl Default for Fusion {
    fn default() -> Self {
        Fusion::all()
    }
}

impl Fusion {
    /// The names `--no-fuse` accepts, each with what it turns off.
    pub const NAMES: [(&'static str, &'static str); 6] = [
        ("qkv", "Q, K, V as one GEMM over the concatenated weight"),
        ("epilogue", "bias and bias+GELU in the GEMM epilogue"),
        ("add-norm", "residual add + LayerNorm in one pass"),
        ("softmax", "scale + mask + softmax in one pass"),
        ("heads", "heads written straight to their place in the output"),
        ("flash", "online-softmax attention for long sequences"),
    ];

    /// Every fusion on.
    pub fn all() -> Fusion {
        Fusion {
            qkv: true,
            epilogue: true,
            add_norm: true,
            softmax: true,
            heads: true,
            flash: true,
            flash_min_seq: FLASH_MIN_SEQ,
        }
    }

    /// Every fusion off: the step-by-step forward.
    pub fn none() -> Fusion {
        Fusion {
            qkv: false,
            epilogue: false,
            add_norm: false,
            softmax: false,
            heads: false,
            flash: false,
            flash_min_seq: FLASH_MIN_SEQ,
        }
    }

    fn flag(&mut self, name: &str) -> Result<&mut bool> {
        Ok(match name {
            "qkv" => &mut self.qkv,
            "epilogue" => &mut self.epilogue,
            "add-norm" => &mut self.add_norm,
            "softmax" => &mut self.softmax,
            "heads" => &mut self.heads,
            "flash" => &mut self.flash,
            _ => {
                let names: Vec<&str> = Fusion::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(Error::Input(format!("unknown fusion `{name}`: expected one of {}", names.join(", "))));
            }
        })
    }

    /// This configuration with fusion `name` (one of [`Fusion::NAMES`]) off.
    ///
    /// Errors on an unknown name, listing the known ones.
    pub fn without(mut self, name: &str) -> Result<Fusion> {
        *self.flag(name)? = false;
        Ok(self)
    }

    /// This configuration with fusion `name` on (the others unchanged).
    pub fn with(mut self, name: &str) -> Result<Fusion> {
        *self.flag(name)? = true;
        Ok(self)
    }

    /// Whether fusion `name` is on. Errors on an unknown name.
    pub fn is_on(mut self, name: &str) -> Result<bool> {
        Ok(*self.flag(name)?)
    }

    /// Every fusion on except the named ones: what `--no-fuse NAME` (repeatable, or a comma
    /// list) means. The name `all` turns every fusion off; blanks around names are ignored.
    ///
    /// Errors on an unknown or empty name, listing the known ones.
    pub fn from_no_fuse<S: AsRef<str>>(names: &[S]) -> Result<Fusion> {
        let mut f = Fusion::all();
        for name in names.iter().flat_map(|n| n.as_ref().split(',')).map(str::trim) {
            f = match name {
                "all" => Fusion::none(),
                _ => f.without(name).map_err(|e| Error::Input(format!("{e}, or all")))?,
            };
        }
        Ok(f)
    }

    /// The names of the fusions that are off, in [`Fusion::NAMES`] order (empty: all on).
    /// `Fusion::from_no_fuse(&f.off())` gives `f` back (with the default `flash_min_seq`).
    pub fn off(&self) -> Vec<&'static str> {
        Fusion::NAMES.iter().map(|(n, _)| *n).filter(|n| !self.is_on(n).unwrap_or(true)).collect()
    }

    /// One phrase for tables and logs: "all fusions on", "all fusions off" or
    /// "fusions off: qkv, epilogue".
    pub fn describe(&self) -> String {
        match self.off().len() {
            0 => "all fusions on".into(),
            n if n == Fusion::NAMES.len() => "all fusions off".into(),
            _ => format!("fusions off: {}", self.off().join(", ")),
        }
    }

    /// Whether attention over `seq`-token sequences takes the online-softmax path.
    pub fn use_flash(&self, seq: usize) -> bool {
        self.attention_kernel().use_flash(seq)
    }

    /// The attention kernel's variant these fusions pick (`softmax`, `heads`, `flash`).
    pub fn attention_kernel(&self) -> AttentionKernel {
        AttentionKernel {
            fused_softmax: self.softmax,
            heads_in_place: self.heads,
            flash_min_seq: self.flash.then_some(self.flash_min_seq),
        }
    }

    /// The passes of the compiled forward that compute what these fusions pick: every pass
    /// but the fusions turned off (a fusion off is its pass not run).
    pub fn passes(&self) -> Passes {
        let off = self.off();
        Passes(Passes::all().0.into_iter().filter(|p| !off.contains(p)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_switch_one_flag_each() {
        for (name, _) in Fusion::NAMES {
            let f = Fusion::all().without(name).unwrap();
            assert!(!f.is_on(name).unwrap());
            assert_eq!(f.with(name).unwrap(), Fusion::all());
            let others = Fusion::NAMES.iter().filter(|(n, _)| *n != name);
            assert!(others.clone().all(|(n, _)| f.is_on(n).unwrap()), "{name} switched another flag");
        }
        let err = Fusion::all().without("gelu").unwrap_err().to_string();
        assert!(err.contains("gelu") && err.contains("add-norm"), "{err}");
        assert_eq!(Fusion::from_no_fuse(&["all"]).unwrap(), Fusion::none());
        assert_eq!(Fusion::from_no_fuse::<&str>(&[]).unwrap(), Fusion::all());
        let two = Fusion::from_no_fuse(&["qkv, softmax"]).unwrap();
        assert_eq!(two, Fusion::from_no_fuse(&["softmax", "qkv"]).unwrap());
        assert_eq!((two.off(), two.describe()), (vec!["qkv", "softmax"], "fusions off: qkv, softmax".to_string()));
        assert_eq!(Fusion::from_no_fuse(&two.off()).unwrap(), two);
        assert_eq!((Fusion::all().describe(), Fusion::none().off().len()), ("all fusions on".into(), 6));
        assert!(Fusion::from_no_fuse(&["qkv,"]).is_err(), "an empty name is an error");
        assert!(!Fusion::none().use_flash(4096) && Fusion::all().use_flash(FLASH_MIN_SEQ));
        assert!(!Fusion::all().use_flash(FLASH_MIN_SEQ - 1));
    }
}
