//! Peak memory of a piece of work, for the bounded-memory tests of the adapters.
//!
//! Linux only: resets the process's peak resident set size (`VmHWM`) by writing `5` to
//! `/proc/self/clear_refs`, runs the work, and reports how far the peak rose above the resident
//! size (`VmRSS`) at the start. Use it in a test binary of its own (one test), so that no other
//! test shares the process while it measures.

use std::future::Future;

fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .expect("the field is in /proc/self/status")
}

/// Runs `work` and returns its output with the peak RSS growth it caused, in bytes.
pub async fn peak_rss_growth<F: Future>(work: F) -> (F::Output, u64) {
    std::fs::write("/proc/self/clear_refs", "5").expect("reset the peak RSS");
    let baseline = status_bytes("VmRSS:");
    let output = work.await;
    let growth = status_bytes("VmHWM:").saturating_sub(baseline);
    (output, growth)
}
