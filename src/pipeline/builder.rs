//! # One way to load a pipeline with the options that change how its model runs
//!
//! Every pipeline ([`Embedder`], [`FillMask`], [`Classifier`], [`Reranker`],
//! [`TokenClassifier`], [`QuestionAnswerer`]) loads from a checkpoint in f32 with every
//! fusion on. Running it in another precision or without a fusion used to be two calls copied
//! from face to face (a precision plan, then a conversion, and a field to set); now it is a
//! builder, the same for all six and for every face (the command line, the server, Python):
//!
//! ```no_run
//! use nanobert::bert::Fusion;
//! use nanobert::pipeline::{Embedder, Pipeline};
//! use nanobert::quant::Precision;
//!
//! # fn main() -> nanobert::Result<()> {
//! let embedder: Embedder = Embedder::builder()
//!     .precision(Precision::Int8) // SmoothQuant-calibrated int8, value projections in bf16
//!     .fusion(Fusion::from_no_fuse(&["qkv"])?) // every fusion but the fused QKV GEMM
//!     .open("path/to/all-MiniLM-L6-v2".as_ref())?;
//! let vectors = embedder.embed(&["A man is eating food."])?;
//! # Ok(()) }
//! ```
//!
//! The precision is applied to the whole model, head included, with the plan of
//! [`precision_plan`] (int8 calibrates on built-in text, so building an int8 pipeline runs a
//! few forward passes).
//!
//! Threads are an option like the others, and no process-wide switch: `.threads(n)` builds on
//! `n` threads, and [`Builder::open_threaded`] / [`Builder::build_threaded`] give the pipeline
//! a rayon pool of its own that every [`Threaded::run`] call runs on, beside any other pool of
//! the process (rayon's global one included):
//!
//! ```no_run
//! use nanobert::pipeline::{Embedder, Pipeline};
//!
//! # fn main() -> nanobert::Result<()> {
//! let embedder = Embedder::builder().threads(2).open_threaded("path/to/all-MiniLM-L6-v2".as_ref())?;
//! let vectors = embedder.run(|e| e.embed(&["A man is eating food."]))?;
//! assert_eq!(embedder.threads(), 2);
//! # Ok(()) }
//! ```

use std::marker::PhantomData;
use std::path::Path;

use super::{Classifier, Embedder, FillMask, QuestionAnswerer, Reranker, TokenClassifier, precision_plan};
use crate::bert::{BertModel, Fusion};
use crate::io::Checkpoint;
use crate::nn::Module;
use crate::quant::Precision;
use crate::text::Tokenizer;
use crate::{Error, Result};

/// A task pipeline: something that loads from a checkpoint and runs one BERT encoder (with
/// whatever head the task needs) over a tokenizer. [`Pipeline::builder`] loads one with options.
pub trait Pipeline: Sized + Send + Sync {
    /// The task's name in messages (`embed`, `fill-mask`, `classify`, `rerank`, `ner`, `qa`).
    const TASK: &'static str;

    /// The pipeline as the checkpoint stores it: f32 weights, every fusion on (each type's
    /// `from_checkpoint`). Errors name the file or setting that cannot be honoured.
    fn load(ckpt: &Checkpoint) -> Result<Self>;

    /// The module a precision converts: the whole model, head included.
    fn root(&self) -> &dyn Module;

    /// [`Pipeline::root`], mutable (what the conversion takes).
    fn root_mut(&mut self) -> &mut dyn Module;

    /// The encoder (the module calibration runs and fusion applies to).
    fn encoder(&self) -> &BertModel;

    /// The encoder, to set its fusions.
    fn encoder_mut(&mut self) -> &mut BertModel;

    /// The tokenizer calibration text goes through.
    fn tokenizer(&self) -> &Tokenizer;

    /// A builder with the defaults: f32, every fusion, non-finite weights refused.
    fn builder() -> Builder<Self> {
        Builder::default()
    }
}

/// Loads a [`Pipeline`] with a precision and fusions ([`Pipeline::builder`]; see the module docs).
#[derive(Debug)]
pub struct Builder<P> {
    precision: Precision,
    fusion: Fusion,
    check_finite: bool,
    threads: Option<usize>,
    task: PhantomData<fn() -> P>,
}

impl<P> Default for Builder<P> {
    fn default() -> Self {
        Builder {
            precision: Precision::F32,
            fusion: Fusion::all(),
            check_finite: true,
            threads: None,
            task: PhantomData,
        }
    }
}

impl<P> Clone for Builder<P> {
    fn clone(&self) -> Self {
        Builder { ..*self }
    }
}

impl<P: Pipeline> Builder<P> {
    /// How the Linear weights are stored and multiplied (default f32): f16 and bf16 convert
    /// every Linear; int8 quantizes them per output channel with SmoothQuant factors
    /// calibrated on [`crate::quant::CALIBRATION`] and keeps [`crate::quant::INT8_KEEP_BF16`]
    /// in bf16.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// Which fusions of the forward pass run (default [`Fusion::all`]; see
    /// [`Fusion::from_no_fuse`]). Outputs stay within 1e-5 of the unfused forward.
    pub fn fusion(mut self, fusion: Fusion) -> Self {
        self.fusion = fusion;
        self
    }

    /// With `true`, [`Builder::open`] loads weights holding NaN or infinity instead of
    /// refusing them (for debugging a broken checkpoint). Default `false`.
    pub fn allow_non_finite(mut self, allow: bool) -> Self {
        self.check_finite = !allow;
        self
    }

    /// The worker threads (at least 1): the build (int8 calibration) runs on `n` threads, and
    /// a pipeline from [`Builder::open_threaded`] / [`Builder::build_threaded`] runs every
    /// call on a pool of `n` threads of its own. Default: the pool the build is called from
    /// for [`Builder::build`], [`thread_pool`]'s default for the threaded builds.
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = Some(n);
        self
    }

    /// The threads set with [`Builder::threads`], if any.
    pub fn threads_setting(&self) -> Option<usize> {
        self.threads
    }

    /// The precision this builder converts to.
    pub fn precision_setting(&self) -> Precision {
        self.precision
    }

    /// The fusions this builder sets.
    pub fn fusion_setting(&self) -> Fusion {
        self.fusion
    }

    /// Opens the checkpoint directory `dir` (checking its weights are finite unless
    /// [`Builder::allow_non_finite`]) and builds the pipeline from it. Errors name the file,
    /// tensor or setting that failed.
    pub fn open(&self, dir: &Path) -> Result<P> {
        self.build(&Checkpoint::open_with(dir, self.check_finite)?)
    }

    /// Builds the pipeline from an open checkpoint: loads it ([`Pipeline::load`]), sets the
    /// fusions, converts the Linears to the precision. Errors: what loading the checkpoint
    /// refuses (a missing head, a wrong architecture, a bad tokenizer), and a conversion that
    /// fails, naming the Linear (e.g. a weight the int8 kernel cannot pack).
    ///
    /// With [`Builder::threads`] `n`, the build runs on a pool of `n` threads (the calling
    /// pool when it already has `n`); the pipeline itself then runs wherever it is called
    /// (for a pool of its own, [`Builder::build_threaded`]).
    pub fn build(&self, ckpt: &Checkpoint) -> Result<P> {
        match self.threads {
            Some(n) if n != rayon::current_num_threads() => thread_pool(Some(n))?.install(|| self.build_here(ckpt)),
            _ => self.build_here(ckpt),
        }
    }

    /// [`Builder::open`] with a pool of its own ([`Builder::threads`], else [`thread_pool`]'s
    /// default), which loads it and runs every [`Threaded::run`].
    pub fn open_threaded(&self, dir: &Path) -> Result<Threaded<P>> {
        let pool = thread_pool(self.threads)?;
        let pipeline = pool.install(|| self.open(dir))?;
        Ok(Threaded { pipeline, pool })
    }

    /// [`Builder::build`] with a pool of its own (see [`Builder::open_threaded`]).
    pub fn build_threaded(&self, ckpt: &Checkpoint) -> Result<Threaded<P>> {
        let pool = thread_pool(self.threads)?;
        let pipeline = pool.install(|| self.build_here(ckpt))?;
        Ok(Threaded { pipeline, pool })
    }

    /// [`Builder::build`] on the current pool.
    fn build_here(&self, ckpt: &Checkpoint) -> Result<P> {
        let mut p = P::load(ckpt)?;
        p.encoder_mut().fusion = self.fusion;
        if self.precision != Precision::F32 {
            let plan = precision_plan(p.root(), p.encoder(), p.tokenizer(), self.precision)?;
            crate::nn::to_precision(p.root_mut(), &plan)?;
        }
        Ok(p)
    }
}

/// A pipeline with a rayon pool of its own ([`Builder::open_threaded`]): [`Threaded::run`]
/// runs a call on that pool, whatever pool the caller is on.
pub struct Threaded<P> {
    pipeline: P,
    pool: rayon::ThreadPool,
}

impl<P: Sync> Threaded<P> {
    /// Runs `f` on the pipeline, inside its pool (every parallel loop of the call, the GEMMs
    /// and attention included, splits over that pool's threads).
    pub fn run<T: Send>(&self, f: impl FnOnce(&P) -> T + Send) -> T {
        self.pool.install(|| f(&self.pipeline))
    }

    /// The number of threads of the pool.
    pub fn threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// The pipeline itself (called directly, it runs on the caller's pool).
    pub fn pipeline(&self) -> &P {
        &self.pipeline
    }
}

impl<P> std::fmt::Debug for Threaded<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Threaded {{ threads: {} }}", self.pool.current_num_threads())
    }
}

/// A rayon pool of its own (not the global one) of `threads` threads, else `RAYON_NUM_THREADS`
/// when set, else [`crate::threads::default_threads`] (physical cores, capped by a container's
/// CPU quota). Errors name `threads`: 0, or more than 64 threads a core of this machine.
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool> {
    let env = std::env::var("RAYON_NUM_THREADS").ok().and_then(|v| v.parse::<usize>().ok()).filter(|&n| n > 0);
    let n = match threads {
        Some(n) => n,
        None => env.unwrap_or_else(crate::threads::default_threads),
    };
    if n == 0 || n > max_threads() {
        return Err(threads_error(n));
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("nanobert-{i}"))
        .build()
        .map_err(|e| Error::Input(format!("threads {n}: cannot start them: {e}")))
}

/// The most threads [`thread_pool`] starts: 64 a logical CPU.
pub fn max_threads() -> usize {
    64 * std::thread::available_parallelism().map_or(1, |c| c.get())
}

fn threads_error(n: usize) -> Error {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    Error::Input(format!("threads {n}: give 1 to {} (this machine has {cores} cores)", max_threads()))
}

/// Implements [`Pipeline`] for a pipeline type whose model is reached by `$model` (the root)
/// and `$bert` (its encoder).
macro_rules! pipeline {
    ($t:ty, $task:literal, |$s:ident| $root:expr, $bert:expr) => {
        impl Pipeline for $t {
            const TASK: &'static str = $task;
            fn load(ckpt: &Checkpoint) -> Result<Self> {
                <$t>::from_checkpoint(ckpt)
            }
            fn root(&self) -> &dyn Module {
                let $s = self;
                &$root
            }
            fn root_mut(&mut self) -> &mut dyn Module {
                let $s = self;
                &mut $root
            }
            fn encoder(&self) -> &BertModel {
                let $s = self;
                &$bert
            }
            fn encoder_mut(&mut self) -> &mut BertModel {
                let $s = self;
                &mut $bert
            }
            fn tokenizer(&self) -> &Tokenizer {
                &self.tokenizer
            }
        }
    };
}

pipeline!(Embedder, "embed", |s| s.model, s.model);
pipeline!(FillMask, "fill-mask", |s| s.model, s.model.bert);
pipeline!(Classifier, "classify", |s| s.model, s.model.bert);
pipeline!(Reranker, "rerank", |s| s.model, s.model.bert);
pipeline!(TokenClassifier, "ner", |s| s.model, s.model.bert);
pipeline!(QuestionAnswerer, "qa", |s| s.model, s.model.bert);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::linears;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    /// Builds `P` from `dir` in int8 without the QKV fusion; every Linear of the whole model
    /// (head included) is int8 but the value projections (bf16), and the encoder has the fusion.
    fn check<P: Pipeline>(dir: &str) {
        let fusion = Fusion::from_no_fuse(&["qkv"]).unwrap();
        let p: P = P::builder().precision(Precision::Int8).fusion(fusion).open(&fixture(dir)).unwrap();
        assert_eq!(p.encoder().fusion, fusion, "{}", P::TASK);
        let all = linears(p.root());
        assert!(all.len() > 12, "{}: only {} Linears", P::TASK, all.len());
        for (path, l) in all {
            let want = if path.contains("attention.self.value") { Precision::Bf16 } else { Precision::Int8 };
            assert_eq!(l.precision(), want, "{} {path}", P::TASK);
        }
        let f: P = P::builder().open(&fixture(dir)).unwrap();
        assert!(linears(f.root()).iter().all(|(_, l)| l.precision() == Precision::F32), "{}", P::TASK);
        assert_eq!(f.encoder().fusion, Fusion::all());
    }

    #[test]
    fn every_pipeline_builds_in_a_precision_with_fusions() {
        check::<Embedder>("checkpoints/st-mean");
        check::<FillMask>("tiny-bert");
        check::<Classifier>("checkpoints/head-seqcls");
        check::<Reranker>("checkpoints/head-rerank");
        check::<TokenClassifier>("checkpoints/head-ner");
        check::<QuestionAnswerer>("checkpoints/head-qa");
    }

    #[test]
    fn threads_give_the_pipeline_a_pool_of_its_own() {
        let dir = fixture("checkpoints/st-mean");
        let texts = ["the sun is hot", "a man eats bread in the park"];
        let plain: Embedder = Embedder::builder().open(&dir).unwrap();
        let want = plain.embed(&texts).unwrap();
        for n in [1, 2, 3] {
            let t = Embedder::builder().threads(n).open_threaded(&dir).unwrap();
            assert_eq!(t.threads(), n);
            let (inside, got) = t.run(|e| (rayon::current_num_threads(), e.embed(&texts).unwrap()));
            assert_eq!(inside, n, "the call ran on another pool");
            assert!(got == want, "{n} threads: embeddings differ from the global pool's");
        }
        // An int8 build on 2 threads converts as one on the calling pool does.
        let b = Embedder::builder().precision(Precision::Int8);
        let two = b.clone().threads(2).build(&Checkpoint::open(&dir).unwrap()).unwrap();
        let here = b.build(&Checkpoint::open(&dir).unwrap()).unwrap();
        assert!(two.embed(&texts).unwrap() == here.embed(&texts).unwrap());
        for n in [0, max_threads() + 1] {
            let Err(e) = Embedder::builder().threads(n).open_threaded(&dir) else { panic!("threads {n} accepted") };
            assert!(e.to_string().starts_with(&format!("threads {n}: give 1 to")), "{e}");
            let Err(e) = Embedder::builder().threads(n).open(&dir) else { panic!("threads {n} accepted") };
            assert!(e.to_string().starts_with(&format!("threads {n}:")), "{e}");
        }
    }

    #[test]
    fn errors_name_the_task_checkpoint() {
        // A checkpoint of another architecture is refused by the loader, through the builder.
        let e = Reranker::builder().precision(Precision::Int8).open(&fixture("checkpoints/head-ner"));
        let msg = e.err().expect("a token classifier is no reranker").to_string();
        assert!(msg.contains("BertForSequenceClassification") || msg.contains("rerank"), "{msg}");
        let e = Embedder::builder().open(&fixture("no-such-checkpoint")).err().expect("no such directory");
        assert!(e.to_string().contains("no-such-checkpoint"), "{e}");
    }
}
