//! Progress of a long batch of runs: indicatif's bar on a terminal, plain periodic
//! lines when stderr is not one (a CI log).
//!
//! On a terminal, every run's line would scroll a 1,000-seed sweep out of sight, so
//! indicatif redraws one bar in place on stderr (count, rate, time left). Runs worth
//! reading (those that did not end as expected) are printed above it on stdout and
//! stay. In a log, where a redrawn bar would pile up, a line is printed every
//! twentieth of the batch or every few seconds, whichever comes first, each with rate
//! and ETA; short batches print every run. Wall-clock time is read here, outside any
//! simulation.

use std::io::IsTerminal as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a log line is printed at least.
const LOG_EVERY: Duration = Duration::from_secs(5);
/// Batches larger than this print their rate and ETA on each log line.
const LOG_RATE_ABOVE: usize = 20;

#[derive(Debug)]
pub struct Progress {
    total: usize,
    started: Instant,
    /// The bar, on a terminal; `None` in a log.
    bar: Option<ProgressBar>,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    done: usize,
    /// When the last log line was printed.
    shown_at: Instant,
}

impl Progress {
    /// Progress over `total` units, drawn as a bar when stderr is a terminal.
    pub fn new(total: usize) -> Progress {
        Progress::with_terminal(total, std::io::stderr().is_terminal())
    }

    pub fn with_terminal(total: usize, terminal: bool) -> Progress {
        let bar = terminal.then(|| {
            let style =
                ProgressStyle::with_template("[{bar:30}] {pos}/{len} {per_sec:.1}, ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("#>-");
            ProgressBar::new(total as u64).with_style(style)
        });
        let now = Instant::now();
        Progress { total, started: now, bar, state: Mutex::new(State { done: 0, shown_at: now }) }
    }

    /// One unit finished; `what` describes it. A `notable` unit's line is always
    /// printed, and kept on a terminal.
    pub fn tick(&self, what: &str, notable: bool) {
        let mut state = self.state.lock().expect("no panics while held");
        state.done += 1;
        let counter = format!("[{:>4}/{}]", state.done, self.total);
        if let Some(bar) = &self.bar {
            if notable {
                bar.suspend(|| outln!("{counter} {what}"));
            }
            bar.inc(1);
            return;
        }
        let now = Instant::now();
        if notable || log_due(state.done, self.total, now - state.shown_at) {
            let rate = if self.total > LOG_RATE_ABOVE {
                format!(" {}", self.rate_eta(state.done, now))
            } else {
                String::new()
            };
            outln!("{counter} {what}{rate}");
            state.shown_at = now;
        }
    }

    /// Ends the bar, leaving it on screen, so what follows starts on a fresh line.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
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

/// Whether a log line is due after `done` of `total` units, `since` the last one:
/// every twentieth of the batch, the last unit, or after [`LOG_EVERY`].
fn log_due(done: usize, total: usize, since: Duration) -> bool {
    let every = total.div_ceil(20).max(1);
    done.is_multiple_of(every) || done == total || since >= LOG_EVERY
}

/// `1h02m03s`, `4m05s`, `7s`.
fn clock(secs: u64) -> String {
    match (secs / 3600, secs / 60 % 60, secs % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(total: usize, since: Duration) -> Vec<usize> {
        (1..=total).filter(|&done| log_due(done, total, since)).collect()
    }

    #[test]
    fn a_log_gets_one_line_per_twentieth_of_the_batch() {
        let shown = lines(1000, Duration::ZERO);
        assert_eq!(shown.len(), 20, "{shown:?}");
        assert_eq!(shown[..3], [50, 100, 150]);
        assert_eq!(shown.last(), Some(&1000), "the last run always prints");
    }

    #[test]
    fn a_short_batch_prints_every_run_and_a_slow_one_every_few_seconds() {
        assert_eq!(lines(7, Duration::ZERO), (1..=7).collect::<Vec<_>>());
        assert_eq!(lines(1000, LOG_EVERY).len(), 1000, "a line after LOG_EVERY whatever the count");
    }

    #[test]
    fn clock_reads_as_hours_minutes_seconds() {
        assert_eq!(clock(7), "7s");
        assert_eq!(clock(245), "4m05s");
        assert_eq!(clock(3723), "1h02m03s");
    }
}
