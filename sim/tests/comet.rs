//! Article 004's comet router over the simulator: a small comet (200 users logging in
//! and out) passes `fanout_correct`, and the same topology and seed with the broken
//! `leaky-comet-router`, which keeps pushing messages to users who logged out,
//! fails it.
//!
//! The scenario names the shipped `topologies/comet.yaml` (resolved as if the
//! scenario sat in `scenarios/`, read from memory); the leaky run swaps the router's
//! design in the resolved plan, so both runs share everything else.

use patchbay::invariant::{Outcome, Verdict};
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::run::RunReport;
use patchbay::trace::{AppEvent, EventKind};

use crate::util::{outcome, registry_with_broken, run_to_verdict, scenario_with};

const SEED: u64 = 1;

/// A comet scenario over the shipped topology: `users` users, the safety and
/// liveness phases, and each user's rate, session and offline means and the share
/// logged in at the start.
struct Comet {
    name: &'static str,
    users: u32,
    phases: (&'static str, &'static str),
    publish_rate: &'static str,
    session_and_offline: (&'static str, &'static str),
    online_fraction: f64,
    invariants: &'static str,
}

impl Comet {
    fn yaml(&self) -> String {
        let (duration, liveness) = self.phases;
        let (session, offline) = self.session_and_offline;
        format!(
            "name: {}\ntopology: ../topologies/comet.yaml\nparams: {{users: {}}}\n\
             duration: {duration}\nliveness: {liveness}\nseeds: 1\nworkload:\n  user:\n    \
             publish_rate: {}\n    session: {{exponential: {session}}}\n    \
             offline: {{exponential: {offline}}}\n    online_fraction: {}\n\
             invariants: [{}]\nexpect: pass\n",
            self.name, self.users, self.publish_rate, self.online_fraction, self.invariants
        )
    }

    fn plan(&self, registry: &Registry) -> ScenarioPlan {
        scenario_with(self.name, &self.yaml(), registry)
    }
}

/// 200 users with short sessions, so that many log out during the 6 s safety phase,
/// and a send rate high enough that their followers' messages keep coming.
const SMALL_COMET: Comet = Comet {
    name: "comet-small",
    users: 200,
    phases: ("6s", "2s"),
    publish_rate: "1/s",
    session_and_offline: ("2s", "2s"),
    online_fraction: 0.7,
    invariants: "fanout_correct, hwm_bound",
};

fn fanout(report: &RunReport) -> &Outcome {
    outcome(report, "fanout_correct")
}

/// How many logouts the router recorded.
fn logouts(report: &RunReport) -> usize {
    let trace = report.trace.as_ref().expect("kept");
    let logout = |k: &EventKind| matches!(k, EventKind::App(AppEvent::CometLogout { .. }));
    trace.events.iter().filter(|e| logout(&e.kind)).count()
}

#[test]
fn a_small_comet_with_logins_and_logouts_delivers_to_exactly_the_logged_in_followers() {
    let registry = registry_with_broken();
    let report = run_to_verdict(&SMALL_COMET.plan(&registry), &registry, SEED, true);
    let outcome = fanout(&report);
    assert_eq!(outcome.verdict, Verdict::Pass, "{}: {outcome:?}", report.repro());
    assert!(report.as_expected, "{}: {:?}", report.repro(), report.invariants);
    // Not vacuous: users logged out, and the router skipped followers for it.
    assert!(logouts(&report) > 50, "only {} logouts", logouts(&report));
    let note = outcome.note.as_deref().unwrap_or_default();
    assert!(!note.contains(" 0 skipped as logged out"), "{note}");
}

#[test]
fn the_leaky_router_that_keeps_logged_out_users_fails_fanout_correct() {
    let registry = registry_with_broken();
    let mut plan = SMALL_COMET.plan(&registry);
    let router = plan.topology.groups.iter_mut().find(|g| g.name == "router").expect("router");
    router.design = "leaky-comet-router".into();
    let report = run_to_verdict(&plan, &registry, SEED, true);
    let outcome = fanout(&report);
    assert_eq!(outcome.verdict, Verdict::Fail, "{}: {outcome:?}", report.repro());
    assert!(!outcome.violations.is_empty());
    let logged_out = "which was logged out when it was routed";
    assert!(
        outcome.violations.iter().all(|v| v.text.contains(logged_out)),
        "every violation is a delivery after logout: {:#?}",
        &outcome.violations[..outcome.violations.len().min(5)]
    );
}

/// 3,000 users who all start logged in: every one connects and logs in within a few
/// milliseconds, as a real router's listener would take them. The simulator once
/// let 32 connects wait on one listener at a time, which held a listener to about 30
/// new connections a millisecond (these 3,000 users: the last logged in at 97 ms; a
/// million: half a minute), a limit of the simulator's that showed as the router's
/// failure.
const LOGIN_BURST: Comet = Comet {
    name: "comet-login-burst",
    users: 3000,
    phases: ("300ms", "100ms"),
    publish_rate: "0.1/s",
    session_and_offline: ("600s", "600s"),
    online_fraction: 1.0,
    invariants: "fanout_correct",
};

#[test]
fn a_burst_of_three_thousand_connects_is_all_logged_in_within_milliseconds() {
    let registry = registry_with_broken();
    let plan = LOGIN_BURST.plan(&registry);
    let report = run_to_verdict(&plan, &registry, SEED, true);
    assert!(report.as_expected, "{}: {:?}", report.repro(), report.invariants);
    let trace = report.trace.as_ref().expect("kept");
    let logins: std::collections::BTreeMap<u32, std::time::Duration> = trace
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::App(AppEvent::CometLogin { user }) => Some((user, e.at)),
            _ => None,
        })
        .collect();
    assert_eq!(logins.len(), 3000, "users the router saw log in");
    let last = logins.values().max().copied().unwrap_or_default();
    assert!(last <= std::time::Duration::from_millis(20), "the last login came at {last:?}");
}
