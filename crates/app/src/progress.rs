//! Progress for long commands: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A byte progress display on standard error: a bar with rate and ETA when standard error is a
/// terminal, nothing otherwise (the command prints plain lines of its own then).
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A display for `total` bytes (unknown when `None`); hidden when `quiet` or not on a
    /// terminal.
    pub fn new(total: Option<u64>, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Self { bar: None };
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
        let template = "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} \
                        {binary_bytes_per_sec} ETA {eta} {msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        Self { bar: Some(bar) }
    }

    /// Whether a bar is drawn (else the caller prints plain lines).
    pub fn is_bar(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts `n` bytes done.
    pub fn inc(&self, n: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(n);
        }
    }

    /// Shows what is being done now.
    pub fn message(&self, msg: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
        }
    }

    /// Prints a line above the bar (or on standard error without one).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => eprintln!("{line}"),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
