//! `--profile` and `--profile-out`: the tables and trace of a recorded command.
//!
//! The CLI records the command it runs ([`nanobert::profile::record`]); this turns the result
//! into the report printed on stderr: the forward passes only (spans `BertModel`), per module
//! and per op, with the GEMMs against the machine's measured FP32 peak and the memory-bound
//! ops against its measured bandwidth (see docs/profiling.md).

use std::path::Path;

use super::machine::{Limits, LimitsOptions};
use nanobert::profile::{Profile, Roof};
use nanobert::{Error, Result};

/// The module span that marks one forward pass.
pub const FORWARD_SPAN: &str = "BertModel";

/// The report of a recorded command that ran the model on `threads` threads: what the whole
/// command took, the forward passes' share, and the tables; writes the Chrome trace of the
/// whole recording to `trace` if given. Measures the machine's limits (about half a second).
pub fn report(prof: &Profile, threads: usize, trace: Option<&Path>) -> Result<String> {
    let limits = Limits::measure(threads, LimitsOptions::quick())?;
    let roof = Roof { peak_gflops: limits.fp32_peak(threads), bandwidth_gbs: limits.bandwidth(threads) };
    let forward = prof.scoped(FORWARD_SPAN);
    let passes = forward.events.iter().filter(|e| e.name == FORWARD_SPAN && e.depth == 0).count();
    let mut s = format!(
        "\n== profile: {:.3} ms recorded, of which {passes} forward pass(es) ({FORWARD_SPAN}) {:.3} ms; \
         ops cover {:.1}% of the forward ==\n{}\n\n",
        prof.total_ns as f64 / 1e6,
        forward.total_ns as f64 / 1e6,
        100.0 * forward.op_coverage(),
        limits.lines(),
    );
    if passes == 0 {
        s.push_str("(no forward pass was recorded)\n");
    } else {
        s.push_str(&forward.tables(Some(roof)));
    }
    if let Some(path) = trace {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::file(dir, e))?;
        }
        std::fs::write(path, prof.chrome_trace()).map_err(|e| Error::file(path, e))?;
        s.push_str(&format!(
            "\nwrote the Chrome trace {} (open it in https://ui.perfetto.dev or chrome://tracing)\n",
            path.display()
        ));
    }
    Ok(s)
}
