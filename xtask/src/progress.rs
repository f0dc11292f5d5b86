//! Progress of a long batch of runs: a bar redrawn in place on a terminal, plain
//! periodic lines when output goes to a log.
//!
//! On a terminal, every run's line would scroll a 1,000-seed sweep out of sight, so
//! one line is redrawn with `\r`: a bar, the count, the rate and the time left.
//! Runs worth reading (those that did not end as expected) are printed above it and
//! stay. In a CI log, where `\r` would pile up, a line is printed every twentieth of
//! the batch or every few seconds, whichever comes first, each with rate and ETA;
//! short batches print every run. Wall-clock time is read here, outside any simulation.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a log line is printed at least, and the terminal bar at most.
const LOG_EVERY: Duration = Duration::from_secs(5);
const REDRAW_EVERY: Duration = Duration::from_millis(100);
/// Columns the bar itself takes.
const BAR_WIDTH: usize = 30;

#[derive(Debug)]
pub struct Progress {
    total: usize,
    started: Instant,
    terminal: bool,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    done: usize,
    /// When the last line or bar was printed.
    shown_at: Instant,
    /// Whether a bar is on screen (to be cleared before anything else is printed).
    bar_shown: bool,
}

impl Progress {
    /// Progress over `total` units, drawn as a bar when stdout is a terminal.
    pub fn new(total: usize) -> Progress {
        Progress::with_terminal(total, std::io::stdout().is_terminal())
    }

    pub fn with_terminal(total: usize, terminal: bool) -> Progress {
        let now = Instant::now();
        Progress {
            total,
            started: now,
            terminal,
            state: Mutex::new(State { done: 0, shown_at: now, bar_shown: false }),
        }
    }

    /// One unit finished; `what` describes it. A `notable` unit's line is always
    /// printed, and kept on a terminal.
    pub fn tick(&self, what: &str, notable: bool) {
        let mut state = self.state.lock().expect("no panics while held");
        state.done += 1;
        let now = Instant::now();
        let mut out = std::io::stdout().lock();
        let counter = format!("[{:>4}/{}]", state.done, self.total);
        if self.terminal {
            if notable {
                let _ = writeln!(out, "\r\x1b[2K{counter} {what}");
            }
            let last = state.done == self.total;
            if notable || last || now - state.shown_at >= REDRAW_EVERY {
                let _ = write!(out, "\r\x1b[2K{}", self.bar(state.done, now));
                let _ = out.flush();
                state.shown_at = now;
                state.bar_shown = true;
            }
            return;
        }
        let every = self.total.div_ceil(20).max(1);
        let due = state.done.is_multiple_of(every)
            || state.done == self.total
            || now - state.shown_at >= LOG_EVERY;
        if notable || due {
            let rate = if self.total > 20 {
                format!(" {}", self.rate_eta(state.done, now))
            } else {
                String::new()
            };
            let _ = writeln!(out, "{counter} {what}{rate}");
            state.shown_at = now;
        }
    }

    /// Ends the bar's line, so what follows starts on a fresh one.
    pub fn finish(&self) {
        let state = self.state.lock().expect("no panics while held");
        if state.bar_shown {
            println!();
        }
    }

    fn bar(&self, done: usize, now: Instant) -> String {
        let filled = (done * BAR_WIDTH).checked_div(self.total).unwrap_or(BAR_WIDTH);
        format!(
            "[{}{}] {done}/{} {}",
            "#".repeat(filled),
            "-".repeat(BAR_WIDTH - filled),
            self.total,
            self.rate_eta(done, now)
        )
    }

    /// `12.5 runs/s, ETA 1m20s`.
    fn rate_eta(&self, done: usize, now: Instant) -> String {
        let secs = (now - self.started).as_secs_f64().max(1e-3);
        let rate = done as f64 / secs;
        let left = self.total.saturating_sub(done);
        let eta = if rate > 0.0 { (left as f64 / rate).round() as u64 } else { 0 };
        format!("{rate:.1} runs/s, ETA {}", clock(eta))
    }
}

/// `1h02m03s`, `4m05s`, `7s`.
fn clock(secs: u64) -> String {
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}
