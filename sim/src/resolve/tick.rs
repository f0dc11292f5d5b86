//! The simulator's tick against the times a scenario states. The simulator applies
//! `duration` (the heal), the liveness bound and each fault's start and end between
//! turmoil steps, so a time that is not a whole number of ticks happens at the next
//! tick instead; and within one simulated host turmoil delivers a write one tick
//! after it is made, so a latency shorter than the tick becomes the tick
//! (docs/turmoil.md). Either is a warning: the run is still what the file asks for,
//! up to a tick.

use std::time::Duration;

use crate::plan::{Distribution, EffectiveOptions, FaultPlan, NetworkPlan, Source};
use crate::socket::Linger;
use crate::spec::diag::{Code, Target};
use crate::spec::path::YamlPath;
use crate::spec::raw::RawScenario;
use crate::spec::units::format_duration;

use super::network::DEFAULT_TICK;
use super::scenario::ScenarioResolver;

/// `at` rounded up to a whole number of ticks: when a step first sees it (and where a
/// run stepped by `tick` from zero stops once its end is `at`).
/// Exact wherever the result fits a `Duration` (past `u64::MAX` nanoseconds too),
/// and `Duration::MAX` beyond.
pub(crate) fn next_tick(at: Duration, tick: Duration) -> Duration {
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let nanos = at.as_nanos().div_ceil(tick.as_nanos().max(1)) * tick.as_nanos().max(1);
    match u64::try_from(nanos / NANOS_PER_SEC) {
        Ok(secs) => Duration::new(secs, (nanos % NANOS_PER_SEC) as u32),
        Err(_) => Duration::MAX,
    }
}

impl ScenarioResolver<'_, '_, '_> {
    /// Warns about every stated time the tick moves: see the module's comment.
    pub(super) fn warn_off_tick(
        &mut self,
        raw: &RawScenario,
        network: &NetworkPlan,
        liveness: Duration,
        faults: &[FaultPlan],
    ) {
        let root = YamlPath::root();
        // (where in the file, what happens then, when it happens)
        let mut stated: Vec<(YamlPath, String, Duration)> = Vec::new();
        // Where the run ends: a time past it is never reached, so the tick moves
        // nothing there. (The resolver bounds the sum; it may still be out of bounds
        // here, and reported, when this runs.)
        let mut run_end = Duration::MAX;
        if let Some(d) = self.duration {
            stated.push((root.key("duration"), "the heal".into(), d));
            run_end = d.saturating_add(liveness);
            if raw.liveness.is_some() {
                stated.push((root.key("liveness"), "the liveness bound".into(), run_end));
            }
        }
        // A fault that failed to resolve was dropped: match faults to the file by
        // index only when none was.
        if faults.len() == raw.faults.len() {
            for (i, (f, rf)) in faults.iter().zip(&raw.faults).enumerate() {
                let path = root.key("faults").index(i);
                stated.push((path.key("at"), format!("fault {i}'s start"), f.at));
                let end_key = if rf.for_.is_some() { "for" } else { "until" };
                match f.until {
                    Some(until) if until <= run_end && until != Duration::MAX => {
                        stated.push((path.key(end_key), format!("fault {i}'s end"), until));
                    }
                    _ => {}
                }
            }
        }
        let tick = network.tick;
        for (path, what, at) in stated {
            if at.as_nanos() % tick.as_nanos() != 0 {
                self.diags
                    .warning(
                        &path,
                        Target::Value,
                        Code::OffTick,
                        format!(
                            "{what} at {} is not a whole number of {} ticks: the simulator applies it at {}",
                            format_duration(at),
                            format_duration(tick),
                            format_duration(next_tick(at, tick)),
                        ),
                    )
                    .hint(format!(
                        "make it a multiple of `network.tick` ({}), or choose a tick that divides every fault time, `duration` and `liveness`",
                        format_duration(tick)
                    ));
            }
        }
        self.warn_latency_under_tick(raw, network);
        self.warn_options_under_tick(network.tick);
    }

    /// Socket options a file wrote with a time shorter than a scenario's coarser tick.
    /// Their timers still fire on time (on whole milliseconds), but the simulated
    /// network delivers only at a tick, so a round trip takes longer than a tick: a
    /// REQ with `req_resend_ivl: 3ms` under a 10 ms tick resends three times before
    /// any reply can arrive, and a deadline shorter than the tick expires before any
    /// answer. One warning, at `network.tick`, naming each option and where it is
    /// written (times that are not whole milliseconds are warned about where they are
    /// written: `Apply::off_the_millisecond`).
    fn warn_options_under_tick(&mut self, tick: Duration) {
        if tick <= DEFAULT_TICK {
            return;
        }
        let mut under: Vec<String> = Vec::new();
        for group in &self.topology.groups {
            for socket in &group.sockets {
                for (option, d, source) in written_times(&socket.options) {
                    let Source::File { file, location } = source else { continue };
                    if d < DEFAULT_TICK || d >= tick {
                        continue;
                    }
                    let at =
                        location.map_or(String::new(), |l| format!(":{}:{}", l.line, l.column));
                    under.push(format!(
                        "`{option}` of {} on `{}.{}` ({}{at})",
                        format_duration(d),
                        group.name,
                        socket.name,
                        file.display()
                    ));
                }
            }
        }
        let Some(first) = under.first() else { return };
        const SHOWN: usize = 3;
        let listed = match under.len() {
            1 => first.clone(),
            n if n <= SHOWN => under.join(", "),
            n => format!("{} and {} more", under[..SHOWN].join(", "), n - SHOWN),
        };
        let tick = format_duration(tick);
        self.diags
            .warning(
                &YamlPath::root().key("network").key("tick"),
                Target::Value,
                Code::OffTick,
                format!(
                    "the {tick} tick is longer than {listed}: their timers fire on time, but the simulated network delivers only at a tick, so no peer's answer can come back within them"
                ),
            )
            .hint(format!(
                "a tick no longer than the shortest socket option's time lets answers arrive within it (the default tick is {})",
                format_duration(DEFAULT_TICK)
            ));
    }

    /// A stated fixed latency shorter than the tick: within a host it becomes the tick.
    fn warn_latency_under_tick(&mut self, raw: &RawScenario, network: &NetworkPlan) {
        let Some(raw_network) = &raw.network else { return };
        let path = YamlPath::root().key("network");
        let mut stated: Vec<(YamlPath, &Distribution)> = Vec::new();
        if raw_network.latency.is_some() {
            stated.push((path.key("latency"), &network.latency));
        }
        if network.links.len() == raw_network.links.len() {
            for (i, link) in network.links.iter().enumerate() {
                if let Some(latency) = &link.latency {
                    stated.push((path.key("links").index(i).key("latency"), latency));
                }
            }
        }
        let tick = network.tick;
        for (path, latency) in stated {
            let Distribution::Fixed(ns) = latency else { continue };
            let latency = Duration::from_nanos(*ns as u64);
            if latency < tick {
                self.diags
                    .warning(
                        &path,
                        Target::Value,
                        Code::OffTick,
                        format!(
                            "the latency {} is shorter than the {} tick: within a simulated host a message takes a whole tick",
                            format_duration(latency),
                            format_duration(tick),
                        ),
                    )
                    .hint(if tick > DEFAULT_TICK {
                        "a tick no longer than the shortest latency keeps latencies exact (the default tick is 1ms)"
                    } else {
                        "1ms is the finest tick: a shorter latency is simulated as 1ms"
                    });
            }
        }
    }
}

/// The times a socket's options give, each with its option's name and where it came
/// from: every time option whose value is a time (not `off`, nor `forever`).
fn written_times(o: &EffectiveOptions) -> Vec<(&'static str, Duration, &Source)> {
    let optional = [
        ("req_resend_ivl", &o.req_resend_ivl),
        ("reconnect_ivl_max", &o.reconnect_ivl_max),
        ("heartbeat_ivl", &o.heartbeat_ivl),
        ("heartbeat_timeout", &o.heartbeat_timeout),
        ("heartbeat_ttl", &o.heartbeat_ttl),
        ("handshake_ivl", &o.handshake_ivl),
        ("req_resend_tick", &o.req_resend_tick),
    ];
    let mut out: Vec<(&'static str, Duration, &Source)> = optional
        .into_iter()
        .filter_map(|(name, e)| e.value.map(|d| (name, d, &e.source)))
        .collect();
    out.push(("reconnect_ivl", o.reconnect_ivl.value, &o.reconnect_ivl.source));
    out.push(("survey_deadline", o.survey_deadline.value, &o.survey_deadline.source));
    if let Linger::For(d) = o.linger.value {
        out.push(("linger", d, &o.linger.source));
    }
    out.retain(|(_, d, _)| !d.is_zero());
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::next_tick;
    use crate::registry::Registry;
    use crate::resolve::load_scenario_source;
    use crate::spec::{Diagnostic, SourceFile};

    /// The warnings a scenario on the test data's queue topology gets, one line each.
    fn warnings(network_and_faults: &str) -> Vec<String> {
        warnings_with_liveness("5s", network_and_faults)
    }

    /// Each warning's message and hint as `check` prints them on one line.
    fn hinted(network_and_faults: &str) -> Vec<String> {
        diagnostics("5s", network_and_faults)
            .iter()
            .map(|d| d.to_string().split_once("]: ").map(|(_, m)| m.to_owned()).unwrap_or_default())
            .collect()
    }

    fn warnings_with_liveness(liveness: &str, network_and_faults: &str) -> Vec<String> {
        let found = diagnostics(liveness, network_and_faults);
        found.iter().map(|d| format!("{}: {}", d.code, d.message)).collect()
    }

    fn diagnostics(liveness: &str, network_and_faults: &str) -> Vec<Diagnostic> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good");
        let text = format!(
            "name: t\ntopology: queue.yaml\nduration: 10s\nliveness: {liveness}\n\
             workload:\n  client: {{requests: 10}}\n{network_and_faults}\
             invariants: [no_lost_replies]\nexpect: pass\n"
        );
        let loaded =
            load_scenario_source(&SourceFile::new(dir.join("t.yaml"), text), &Registry::builtin());
        assert!(loaded.plan.is_some(), "{:?}", loaded.diagnostics);
        loaded.diagnostics
    }

    #[test]
    fn a_time_off_the_tick_happens_at_the_next_one() {
        let ms = Duration::from_millis;
        assert_eq!(next_tick(ms(1_505), ms(10)), ms(1_510));
        assert_eq!(next_tick(ms(1_500), ms(10)), ms(1_500));
        assert_eq!(next_tick(Duration::ZERO, ms(10)), Duration::ZERO);
    }

    #[test]
    fn fault_times_off_a_coarse_tick_and_a_latency_under_it_are_warned_about() {
        let found = warnings(
            "network:\n  tick: 10ms\n  latency: 1ms\nfaults:\n  \
             - {at: 1505ms, for: 2s, kind: partition, between: [client.0, device]}\n",
        );
        assert_eq!(
            found,
            [
                "off-tick: the latency 1ms is shorter than the 10ms tick: within a simulated host a message takes a whole tick",
                "off-tick: fault 0's start at 1505ms is not a whole number of 10ms ticks: the simulator applies it at 1510ms",
                "off-tick: fault 0's end at 3505ms is not a whole number of 10ms ticks: the simulator applies it at 3510ms",
            ]
        );
    }

    #[test]
    fn times_on_the_tick_and_the_default_latency_are_not_warned_about() {
        let on_tick = "network:\n  tick: 10ms\nfaults:\n  \
                       - {at: 1500ms, until: 3s, kind: partition, between: [client.0, device]}\n";
        assert_eq!(warnings(on_tick), Vec::<String>::new());
        // At the default 1 ms tick a sub-millisecond fault time still moves.
        let sub_ms = "faults:\n  - {at: 1500us, kind: kill, node: worker.0}\n";
        assert_eq!(warnings(sub_ms).len(), 1, "{:?}", warnings(sub_ms));
    }

    #[test]
    fn a_time_past_u64_nanoseconds_moves_to_its_exact_next_tick() {
        // It was cut to `u64::MAX` nanoseconds, which the warning printed as such.
        let far = Duration::new(u64::MAX / 2, 500_000);
        assert_eq!(
            next_tick(far, Duration::from_millis(1)),
            Duration::new(u64::MAX / 2, 1_000_000)
        );
        assert_eq!(next_tick(Duration::MAX, Duration::from_millis(1)), Duration::MAX);
    }

    #[test]
    fn a_fault_end_past_the_end_of_the_run_is_not_warned_about() {
        // The run ends at 15s: the tick never reaches this end (5 ms off the tick), so
        // it moves nothing. It was warned about as applied at `u64::MAX` nanoseconds.
        let far = format!(
            "network:\n  tick: 10ms\nfaults:\n  \
             - {{at: 1s, for: {}005ms, kind: partition, between: [client.0, device]}}\n",
            u64::MAX / 2
        );
        assert_eq!(warnings(&far), Vec::<String>::new());
        let off = warnings_with_liveness("5001ms", "network:\n  tick: 10ms\n");
        assert_eq!(
            off,
            [
                "off-tick: the liveness bound at 15001ms is not a whole number of 10ms ticks: the simulator applies it at 15010ms"
            ]
        );
    }

    #[test]
    fn a_socket_option_time_off_the_millisecond_is_warned_about_where_it_is_written() {
        // `overrides` writes the option in the scenario, so the warning is in this file.
        let sub_ms = hinted("overrides:\n  client.req: {reconnect_ivl: 100us}\n");
        assert_eq!(
            sub_ms,
            [
                "`reconnect_ivl` of 100us is shorter than the simulator's finest tick, 1ms: the simulator's timers fire on whole milliseconds, so in a simulated run it works as 1ms \
              (hint: write `1ms`; libzmq, NNG and nanomsg take their times in whole milliseconds, so no real socket can be given 100us either)"
            ]
        );
        let fraction = warnings("overrides:\n  client.req: {req_resend_ivl: 1500us}\n");
        assert_eq!(
            fraction,
            [
                "off-tick: `req_resend_ivl` of 1500us is not a whole number of milliseconds: the simulator's timers fire on whole milliseconds, so in a simulated run it works as 2ms"
            ]
        );
        // Whole milliseconds, `off` and zero are not times the simulator moves.
        let whole =
            "overrides:\n  client.req: {reconnect_ivl: 1ms, req_resend_ivl: off, linger: 0s}\n";
        assert_eq!(warnings(whole), Vec::<String>::new());
    }

    #[test]
    fn a_socket_option_time_under_a_coarse_tick_is_warned_about_at_the_tick() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/good/");
        let under: Vec<String> = hinted(
            "network:\n  tick: 10ms\noverrides:\n  client.req: {req_resend_ivl: 3ms, reconnect_ivl: 10ms}\n",
        )
        .iter()
        .map(|w| w.replace(&dir.display().to_string(), ""))
        .collect();
        assert_eq!(
            under,
            [
                "the 10ms tick is longer than `req_resend_ivl` of 3ms on `client.req` (t.yaml:10:32): their timers fire on time, but the simulated network delivers only at a tick, so no peer's answer can come back within them \
              (hint: a tick no longer than the shortest socket option's time lets answers arrive within it (the default tick is 1ms))"
            ]
        );
        // A library's default is not the file's to change: only written times count.
        let defaults = warnings("network:\n  tick: 200ms\n");
        assert_eq!(defaults, Vec::<String>::new());
    }

    #[test]
    fn a_latency_under_the_finest_tick_is_warned_about_with_what_it_becomes() {
        let sub_ms = hinted("network:\n  latency: 500us\n");
        assert_eq!(
            sub_ms,
            [
                "the latency 500us is shorter than the 1ms tick: within a simulated host a message takes a whole tick \
              (hint: 1ms is the finest tick: a shorter latency is simulated as 1ms)"
            ]
        );
    }
}
