//! Progress on stderr for long commands (append of big files, verify, export, reindex,
//! replay): shown only when stderr is a terminal, `--quiet` is not given, and the command has
//! already run for [`DELAY`], so quick commands print nothing extra. Cleared when done.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long a command runs before its progress shows.
pub const DELAY: Duration = Duration::from_secs(1);

/// A progress bar (with a known total) or spinner, hidden until [`DELAY`] has passed.
pub struct Progress {
    bar: ProgressBar,
    stop: Option<mpsc::Sender<()>>,
    shower: Option<JoinHandle<()>>,
}

impl Progress {
    /// A bar counting `unit` up to `total`, or a spinner when the total is unknown.
    pub fn new(message: &str, total: Option<u64>, unit: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::hidden());
        let template = match total {
            Some(_) => format!(
                "{{spinner}} {{msg}} [{{bar:30}}] {{human_pos}}/{{human_len}} {unit} ({{elapsed}}, eta {{eta}})"
            ),
            None => "{spinner} {msg} ({elapsed})".to_string(),
        };
        if let Ok(style) = ProgressStyle::with_template(&template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(message.to_string());
        if !super::ui::get().progress {
            return Progress { bar, stop: None, shower: None };
        }
        let (tx, rx) = mpsc::channel::<()>();
        let shown = bar.clone();
        let shower = std::thread::spawn(move || {
            // Disconnected (the command ended) before the delay: stay hidden.
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(DELAY) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        Progress { bar, stop: Some(tx), shower: Some(shower) }
    }

    /// A spinner for work whose size is not known in advance.
    pub fn spinner(message: &str) -> Progress {
        Progress::new(message, None, "")
    }

    /// Counts `n` more units done.
    pub fn inc(&self, n: u64) {
        self.bar.inc(n);
    }

    /// A handle to the bar, for another thread to count on.
    pub fn bar(&self) -> ProgressBar {
        self.bar.clone()
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.shower.take() {
            let _ = h.join();
        }
        self.bar.finish_and_clear();
    }
}
