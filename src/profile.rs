//! # Where the time goes: a scoped, per-thread profiler
//!
//! [`record`] runs a closure with profiling on *for the calling thread only* and returns what
//! it recorded; there is no process-global switch, so one thread can profile a forward pass
//! while another serves requests unprofiled.
//!
//! ```
//! use nanobert::profile;
//! let (sum, prof) = profile::record(|| {
//!     let _s = profile::span("Model");
//!     let _o = profile::op("add", 1000, 12_000); // flops, bytes moved
//!     (0..1000).sum::<u64>()
//! });
//! assert_eq!(sum, 499_500);
//! assert_eq!(prof.events.len(), 2);
//! ```
//!
//! Inside the library two kinds of spans mark the code:
//!
//! - `let _s = profile::span("BertSelfAttention");` at the top of a module's forward: modules
//!   nest (a layer holds an attention that holds a self-attention);
//! - `let _o = profile::op("gemm", flops, bytes);` around one operation, with the floating
//!   point operations it does and the bytes it must at least read and write. Ops are the
//!   leaves: an op started while another is open on the same thread is not recorded, so the
//!   outer one's time includes it and nothing is counted twice.
//!
//! Both return a guard; the span ends when the guard is dropped. When the thread is not
//! recording, a span costs one read of a thread-local flag and returns an inert guard.
//! Work that an op hands to other threads (rayon) is inside the op's time on the calling
//! thread, which waits for it; those threads record nothing.
//!
//! [`Profile`] turns the spans into tables (per module, per op, with GFLOP/s and GB/s against
//! the machine's measured limits, [`Roof`]) and into a Chrome trace (Perfetto,
//! chrome://tracing). docs/profiling.md explains how to read them.

use std::cell::{Cell, RefCell};
use std::fmt::Write;
use std::time::Instant;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static RECORDER: RefCell<Recorder> = const { RefCell::new(Recorder::new()) };
}

/// What a span marks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A module (nests).
    Module,
    /// An operation (a leaf, with flops and bytes).
    Op,
}

/// One recorded span. Times are nanoseconds since [`record`] started.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The module or op name, e.g. "BertSelfAttention", "gemm".
    pub name: &'static str,
    /// Module or op.
    pub kind: Kind,
    /// Start, ns since the recording began.
    pub start_ns: u64,
    /// Duration in ns.
    pub dur_ns: u64,
    /// Spans open around this one when it started (0 = top level).
    pub depth: u32,
    /// Floating-point operations (ops only; 0 if not counted).
    pub flops: u64,
    /// Bytes the op must read and write at least (ops only; 0 if not counted).
    pub bytes: u64,
}

struct Recorder {
    origin: Option<Instant>,
    events: Vec<Event>,
    depth: u32,
    /// Index of the open op, if any (ops are leaves).
    open_op: Option<usize>,
    /// Spans not recorded because an op was open.
    ignored: u64,
}

impl Recorder {
    const fn new() -> Recorder {
        Recorder { origin: None, events: Vec::new(), depth: 0, open_op: None, ignored: 0 }
    }

    fn now_ns(&self) -> u64 {
        self.origin.map_or(0, |o| o.elapsed().as_nanos() as u64)
    }

    fn open(&mut self, name: &'static str, kind: Kind, flops: u64, bytes: u64) -> Option<usize> {
        if self.open_op.is_some() {
            self.ignored += 1;
            return None;
        }
        let idx = self.events.len();
        let start_ns = self.now_ns();
        self.events.push(Event { name, kind, start_ns, dur_ns: 0, depth: self.depth, flops, bytes });
        self.depth += 1;
        if kind == Kind::Op {
            self.open_op = Some(idx);
        }
        Some(idx)
    }

    fn close(&mut self, idx: usize) {
        let now = self.now_ns();
        if let Some(e) = self.events.get_mut(idx) {
            e.dur_ns = now.saturating_sub(e.start_ns);
        }
        self.depth = self.depth.saturating_sub(1);
        if self.open_op == Some(idx) {
            self.open_op = None;
        }
    }
}

/// The guard of an open span: the span ends when it is dropped.
#[must_use = "a span ends when its guard is dropped: bind it with `let _s = ...`"]
pub struct Span {
    idx: Option<usize>,
}

impl Drop for Span {
    #[inline]
    fn drop(&mut self) {
        if let Some(idx) = self.idx {
            RECORDER.with(|r| r.borrow_mut().close(idx));
        }
    }
}

#[inline]
fn open(name: &'static str, kind: Kind, flops: u64, bytes: u64) -> Span {
    if !ACTIVE.with(Cell::get) {
        return Span { idx: None };
    }
    Span { idx: RECORDER.with(|r| r.borrow_mut().open(name, kind, flops, bytes)) }
}

/// Marks a module's forward until the guard drops: `let _s = profile::span("BertLayer");`.
#[inline]
pub fn span(name: &'static str) -> Span {
    open(name, Kind::Module, 0, 0)
}

/// Marks one operation until the guard drops, with its floating-point operations and the
/// bytes it must read and write at least (each 0 if not meaningful). Ignored inside
/// another op (ops are leaves).
#[inline]
pub fn op(name: &'static str, flops: u64, bytes: u64) -> Span {
    open(name, Kind::Op, flops, bytes)
}

/// True while the calling thread is inside [`record`] (to skip computing an op's flops).
#[inline]
pub fn is_recording() -> bool {
    ACTIVE.with(Cell::get)
}

/// Runs `f` with profiling on for this thread; returns its result and the spans it recorded.
/// Nested calls record separately (the outer recording resumes afterwards, without the
/// inner spans). The whole closure is timed as [`Profile::total_ns`].
pub fn record<R>(f: impl FnOnce() -> R) -> (R, Profile) {
    struct Restore {
        was_active: bool,
        saved: Option<Recorder>,
    }
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(saved) = self.saved.take() {
                RECORDER.with(|r| *r.borrow_mut() = saved);
            }
            ACTIVE.with(|a| a.set(self.was_active));
        }
    }
    let fresh = Recorder { origin: Some(Instant::now()), ..Recorder::new() };
    let saved = RECORDER.with(|r| std::mem::replace(&mut *r.borrow_mut(), fresh));
    let restore = Restore { was_active: ACTIVE.with(|a| a.replace(true)), saved: Some(saved) };
    let result = f();
    let (events, total_ns, ignored_spans) = RECORDER.with(|r| {
        let r = r.borrow();
        (r.events.clone(), r.now_ns(), r.ignored)
    });
    drop(restore);
    (result, Profile { events, total_ns, ignored_spans })
}

/// Everything one [`record`] saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    /// The spans, in the order they started.
    pub events: Vec<Event>,
    /// The whole recorded closure, ns.
    pub total_ns: u64,
    /// Spans opened inside an op on the recording thread, hence not recorded (they still
    /// cost a check each).
    pub ignored_spans: u64,
}

/// A row of [`Profile::ops`] or [`Profile::modules`]: one name, all its calls.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Op or module name.
    pub name: &'static str,
    /// Times it ran.
    pub calls: usize,
    /// Total time, ns (modules: including the modules inside them).
    pub total_ns: u64,
    /// Sum of the calls' flops.
    pub flops: u64,
    /// Sum of the calls' bytes.
    pub bytes: u64,
    /// Shallowest depth it was seen at (for indenting the module table).
    pub depth: u32,
}

/// The machine's ceilings for the roofline columns: FP32 peak and memory bandwidth, as
/// measured by `nanobert_bench::machine::Limits` for the thread count used.
#[derive(Clone, Copy, Debug)]
pub struct Roof {
    /// GFLOP/s.
    pub peak_gflops: f64,
    /// GB/s.
    pub bandwidth_gbs: f64,
}

/// Name given to the time inside the recording but outside every op.
pub const OUTSIDE_OPS: &str = "(outside any op)";

impl Profile {
    fn rows(&self, kind: Kind) -> Vec<Row> {
        let mut rows: Vec<Row> = Vec::new();
        for e in self.events.iter().filter(|e| e.kind == kind) {
            match rows.iter_mut().find(|r| r.name == e.name) {
                Some(r) => {
                    r.calls += 1;
                    r.total_ns += e.dur_ns;
                    r.flops += e.flops;
                    r.bytes += e.bytes;
                    r.depth = r.depth.min(e.depth);
                }
                None => rows.push(Row {
                    name: e.name,
                    calls: 1,
                    total_ns: e.dur_ns,
                    flops: e.flops,
                    bytes: e.bytes,
                    depth: e.depth,
                }),
            }
        }
        rows
    }

    /// The part of the recording inside the module spans named `module` (e.g. "BertModel":
    /// the forward passes without tokenization or pooling): those spans and everything in
    /// them, with [`Profile::total_ns`] the sum of their durations. Spans of `module` nested
    /// in another one count once.
    pub fn scoped(&self, module: &str) -> Profile {
        let mut events = Vec::new();
        let mut total_ns = 0;
        let mut end = None::<u64>;
        for e in &self.events {
            match end {
                Some(t) if e.start_ns < t || (e.start_ns == t && e.dur_ns == 0) => events.push(e.clone()),
                _ if e.kind == Kind::Module && e.name == module => {
                    end = Some(e.start_ns + e.dur_ns);
                    total_ns += e.dur_ns;
                    events.push(e.clone());
                }
                _ => end = None,
            }
        }
        Profile { events, total_ns, ignored_spans: 0 }
    }

    /// One row per op name, slowest first, then a row [`OUTSIDE_OPS`] for the rest of the
    /// recording: the rows add up to [`Profile::total_ns`] exactly (ops never overlap).
    pub fn ops(&self) -> Vec<Row> {
        let mut rows = self.rows(Kind::Op);
        rows.sort_by_key(|r| std::cmp::Reverse(r.total_ns));
        let in_ops: u64 = rows.iter().map(|r| r.total_ns).sum();
        rows.push(Row {
            name: OUTSIDE_OPS,
            calls: 1,
            total_ns: self.total_ns.saturating_sub(in_ops),
            flops: 0,
            bytes: 0,
            depth: 0,
        });
        rows
    }

    /// One row per module name, in the order they first ran (inclusive times).
    pub fn modules(&self) -> Vec<Row> {
        self.rows(Kind::Module)
    }

    /// The fraction of the recording spent inside ops (1.0 = every nanosecond attributed).
    pub fn op_coverage(&self) -> f64 {
        let in_ops: u64 = self.events.iter().filter(|e| e.kind == Kind::Op).map(|e| e.dur_ns).sum();
        if self.total_ns == 0 { 1.0 } else { in_ops as f64 / self.total_ns as f64 }
    }

    /// The per-module and per-op tables (Markdown). With a [`Roof`], ops with flops get
    /// GFLOP/s and % of the FP32 peak, ops with bytes get GB/s and % of the bandwidth, and
    /// the bound the roofline puts on each (`min(peak, intensity x bandwidth)`).
    pub fn tables(&self, roof: Option<Roof>) -> String {
        let total = self.total_ns.max(1) as f64;
        let ms = |ns: u64| ns as f64 / 1e6;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Per module ({:.3} ms recorded; a module's time includes the modules inside it):\n",
            ms(self.total_ns)
        );
        let _ = writeln!(s, "| module | calls | total ms | % of forward |\n|---|---:|---:|---:|");
        for r in self.modules() {
            let indent = "· ".repeat(r.depth as usize);
            let _ = writeln!(
                s,
                "| {indent}{} | {} | {:.3} | {:.1}% |",
                r.name,
                r.calls,
                ms(r.total_ns),
                100.0 * r.total_ns as f64 / total
            );
        }
        let _ = writeln!(
            s,
            "\nPer op (ops do not overlap: the rows add up to the recorded time; data that stays in the \
             caches can move faster than DRAM bandwidth):\n"
        );
        let _ = writeln!(
            s,
            "| op | calls | total ms | % of forward | GFLOP/s | % of FP32 peak | GB/s | % of DRAM bandwidth | FLOP/byte | roofline bound |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
        );
        for r in self.ops() {
            let secs = r.total_ns as f64 / 1e9;
            let gflops = (r.flops > 0 && secs > 0.0).then(|| r.flops as f64 / secs / 1e9);
            let gbs = (r.bytes > 0 && secs > 0.0).then(|| r.bytes as f64 / secs / 1e9);
            let fmt = |v: Option<f64>, d: usize| v.map_or("-".into(), |v| format!("{v:.d$}"));
            let pct = |v: Option<f64>, lim: Option<f64>| match (v, lim) {
                (Some(v), Some(l)) if l > 0.0 => format!("{:.0}%", 100.0 * v / l),
                _ => "-".into(),
            };
            let intensity = (r.flops > 0 && r.bytes > 0).then(|| r.flops as f64 / r.bytes as f64);
            let bound = match (roof, r.flops > 0, r.bytes > 0) {
                (Some(roof), true, true) => {
                    let i = r.flops as f64 / r.bytes as f64;
                    if i * roof.bandwidth_gbs < roof.peak_gflops { "memory" } else { "compute" }
                }
                (Some(_), true, false) => "compute",
                (Some(_), false, true) => "memory",
                _ => "-",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {:.3} | {:.1}% | {} | {} | {} | {} | {} | {bound} |",
                r.name,
                if r.name == OUTSIDE_OPS { "-".into() } else { r.calls.to_string() },
                ms(r.total_ns),
                100.0 * r.total_ns as f64 / total,
                fmt(gflops, 1),
                pct(gflops, roof.map(|r| r.peak_gflops)),
                fmt(gbs, 1),
                pct(gbs, roof.map(|r| r.bandwidth_gbs)),
                fmt(intensity, 1),
            );
        }
        s
    }

    /// The spans as a Chrome trace (JSON object format): one complete ("X") event per span,
    /// microseconds, with flops and bytes as arguments. Open it in <https://ui.perfetto.dev>
    /// or chrome://tracing.
    pub fn chrome_trace(&self) -> String {
        let events: Vec<serde_json::Value> = self
            .events
            .iter()
            .map(|e| {
                let mut ev = serde_json::json!({
                    "name": e.name,
                    "cat": match e.kind { Kind::Module => "module", Kind::Op => "op" },
                    "ph": "X",
                    "ts": e.start_ns as f64 / 1e3,
                    "dur": e.dur_ns as f64 / 1e3,
                    "pid": 1,
                    "tid": 1,
                });
                if e.kind == Kind::Op {
                    ev["args"] = serde_json::json!({ "flops": e.flops, "bytes": e.bytes });
                }
                ev
            })
            .collect();
        serde_json::json!({ "traceEvents": events, "displayTimeUnit": "ms" }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_records_nothing_and_on_nests() {
        {
            let _s = span("outside");
            assert!(!is_recording());
        }
        let ((), p) = record(|| {
            let _m = span("A");
            {
                let _o = op("x", 10, 20);
                let _inner = op("ignored: inside an op", 1, 1);
                let _m2 = span("also ignored: inside an op");
            }
            let _b = span("B");
            let _o = op("y", 0, 8);
        });
        let names: Vec<&str> = p.events.iter().map(|e| e.name).collect();
        assert_eq!(names, ["A", "x", "B", "y"]);
        let depths: Vec<u32> = p.events.iter().map(|e| e.depth).collect();
        assert_eq!(depths, [0, 1, 1, 2]);
        assert!(!is_recording());
    }

    #[test]
    fn nested_record_restores_the_outer_one() {
        let ((), outer) = record(|| {
            let _a = span("outer");
            let ((), inner) = record(|| {
                let _b = span("inner");
            });
            assert_eq!(inner.events.len(), 1);
            assert!(is_recording());
            let _c = op("after", 0, 0);
        });
        let names: Vec<&str> = outer.events.iter().map(|e| e.name).collect();
        assert_eq!(names, ["outer", "after"]);
    }

    /// The accounting on hand-made spans: op rows plus "outside" add up to the total exactly.
    #[test]
    fn op_rows_add_up_to_the_total() {
        let ev =
            |name, kind, start_ns, dur_ns, depth| Event { name, kind, start_ns, dur_ns, depth, flops: 0, bytes: 0 };
        let p = Profile {
            events: vec![
                ev("Model", Kind::Module, 0, 100, 0),
                ev("gemm", Kind::Op, 5, 40, 1),
                ev("add", Kind::Op, 50, 10, 1),
                ev("gemm", Kind::Op, 60, 30, 1),
            ],
            total_ns: 110,
            ignored_spans: 0,
        };
        let ops = p.ops();
        assert_eq!(
            ops.iter().map(|r| (r.name, r.calls, r.total_ns)).collect::<Vec<_>>(),
            [("gemm", 2, 70), ("add", 1, 10), (OUTSIDE_OPS, 1, 30)]
        );
        assert_eq!(ops.iter().map(|r| r.total_ns).sum::<u64>(), p.total_ns);
        assert!((p.op_coverage() - 80.0 / 110.0).abs() < 1e-12);
        let trace: serde_json::Value = serde_json::from_str(&p.chrome_trace()).unwrap();
        assert_eq!(trace["traceEvents"].as_array().unwrap().len(), 4);
        assert_eq!(trace["traceEvents"][1]["dur"], 0.04);
        // Outside the model span: dropped by `scoped`, and the total becomes the span's.
        let mut with_tokenizer = p.clone();
        with_tokenizer.events.push(ev("tokenize", Kind::Op, 100, 10, 0));
        let inside = with_tokenizer.scoped("Model");
        assert_eq!(inside.total_ns, 100);
        assert_eq!(inside.events.len(), 4);
        assert_eq!(inside.ops().last().map(|r| r.total_ns), Some(20));
    }
}
