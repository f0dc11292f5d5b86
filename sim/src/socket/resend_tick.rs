//! NNG 1.11's REQ resend tick: the timer on which NNG checks whether a request is due
//! for a resend (`NNG_OPT_REQ_RESENDTICK`, 1 s by default).
//!
//! NNG 1.7 and later keep one timer per socket. It starts when a request is sent and
//! the timer is not running, fires every tick while any request is outstanding, and
//! stops at the first tick that finds none. At each tick a request whose resend time
//! (send time + `NNG_OPT_REQ_RESENDTIME`) has passed goes out again, and that time is
//! never moved forward, so from its first resend on a request is resent on every
//! tick (read in NNG's `req.c`, `req0_retry_cb`; measured on NNG 1.11: with a 2 s
//! resend time and the 1 s tick, arrivals at 0, 2, 3, 4, 5 and 6 s). This file holds
//! only the arithmetic of that timer's phase; `req.rs` decides when to resend.

use std::time::Duration;

/// The phase of one socket's resend tick timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ResendTick {
    /// The tick period (`NNG_OPT_REQ_RESENDTICK`).
    period: Duration,
    /// When the running timer was started: it fires at `anchor + k * period`, k ≥ 1.
    /// `None` before the first request.
    anchor: Option<Duration>,
    /// Since when no request has been outstanding; the timer stops at its first tick
    /// after this. `None` while a request is outstanding.
    idle_since: Option<Duration>,
}

impl ResendTick {
    pub(super) fn new(period: Duration) -> ResendTick {
        // A zero period is refused by the resolver; a core built by hand gets 1 ns.
        let period = period.max(Duration::from_nanos(1));
        ResendTick { period, anchor: None, idle_since: None }
    }

    /// A request is sent at `now`: a running timer keeps its phase, a stopped one
    /// starts afresh.
    pub(super) fn on_send(&mut self, now: Duration) {
        let running = match (self.anchor, self.idle_since) {
            (Some(_), None) => true,
            (Some(_), Some(idle)) => self.after(idle) > now,
            (None, _) => false,
        };
        if !running {
            self.anchor = Some(now);
        }
        self.idle_since = None;
    }

    /// The socket has no request outstanding from `now` on.
    pub(super) fn on_idle(&mut self, now: Duration) {
        self.idle_since.get_or_insert(now);
    }

    /// The first tick at or after `t`.
    pub(super) fn at_or_after(&self, t: Duration) -> Duration {
        let anchor = self.anchor.unwrap_or(t);
        if t <= anchor {
            return anchor + self.period;
        }
        self.nth(anchor, (t - anchor).as_nanos().div_ceil(self.period.as_nanos()))
    }

    /// The first tick strictly after `t`.
    pub(super) fn after(&self, t: Duration) -> Duration {
        let anchor = self.anchor.unwrap_or(t);
        if t < anchor {
            return anchor + self.period;
        }
        self.nth(anchor, (t - anchor).as_nanos() / self.period.as_nanos() + 1)
    }

    fn nth(&self, anchor: Duration, k: u128) -> Duration {
        let nanos = anchor.as_nanos().saturating_add(k.saturating_mul(self.period.as_nanos()));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ticks_fall_on_the_phase_of_the_send_that_started_the_timer() {
        let mut tick = ResendTick::new(ms(1_000));
        tick.on_send(ms(500));
        assert_eq!(tick.at_or_after(ms(2_500)), ms(2_500));
        assert_eq!(tick.at_or_after(ms(2_501)), ms(3_500));
        assert_eq!(tick.after(ms(2_500)), ms(3_500));
        assert_eq!(tick.after(ms(100)), ms(1_500));
    }

    #[test]
    fn a_send_before_the_stopping_tick_keeps_the_phase_and_one_after_restarts_it() {
        let mut tick = ResendTick::new(ms(1_000));
        tick.on_send(ms(0));
        tick.on_idle(ms(1_200));
        tick.on_send(ms(1_900));
        assert_eq!(tick.at_or_after(ms(2_100)), ms(3_000), "still the phase of 0");
        tick.on_idle(ms(2_100));
        tick.on_send(ms(3_100));
        assert_eq!(tick.at_or_after(ms(3_200)), ms(4_100), "restarted at 3.1 s");
    }
}
