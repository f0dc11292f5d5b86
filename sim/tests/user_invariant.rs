//! A user's own invariant end to end: declared once with `Invariant`, registered
//! with `Registry::invariant` beside the built-ins, named in a scenario, checked
//! against its applicability by the resolver, and run by the runner over a real trace.
//!
//! The invariant, `replies_counted`, counts the replies the clients accepted and
//! fails when there are fewer than its `at_least` parameter, so the same declaration
//! passes or fails by the number the scenario gives it.

use patchbay::invariant::{Invariant, Outcome, Verdict, Violation};
use patchbay::plan::ScenarioPlan;
use patchbay::registry::Registry;
use patchbay::resolve::load_scenario_source;
use patchbay::run::run_seed;
use patchbay::spec::source::SourceFile;
use patchbay::trace::{AppEvent, EventKind};
use patchbay::vocab::{Param, ParamDefault, ParamKind, Role};

use crate::util::root;

const AT_LEAST: Param = Param {
    name: "at_least",
    kind: ParamKind::Count,
    default: ParamDefault::Required,
    doc: "how many replies the clients must accept",
};

/// The built-ins plus `replies_counted`, which applies only where someone requests.
fn registry() -> Registry {
    let mut registry = Registry::builtin();
    let spec = Invariant::new("replies_counted", "enough replies are accepted", |input| {
        let accepted = input
            .trace
            .events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::App(AppEvent::ReplyAccepted { .. })))
            .count() as u64;
        let wanted = input.count_param("at_least").expect("required, so always given");
        let text = format!("{accepted} replies accepted, {wanted} wanted");
        let short = (accepted < wanted).then(|| Violation::new(input.trace.ended_at, None, &text));
        Outcome::from_violations("replies_counted", short.into_iter().collect())
    })
    .param(AT_LEAST)
    .applies(|topology, roles| {
        let requests =
            topology.groups.iter().any(|g| roles.roles(&g.design).contains(&Role::Requester));
        if requests { Ok(()) } else { Err("nobody sends requests".to_owned()) }
    });
    registry.invariant(spec);
    registry
}

/// The rrbroker scenario of 50 requests, with `replies_counted` asking for `at_least`.
fn scenario(registry: &Registry, at_least: u64) -> Result<ScenarioPlan, String> {
    let workload = "workload:\n  rrclient:\n    requests: 50\n";
    over("rrbroker", workload, registry, at_least)
}

/// A scenario over a shipped topology with `workload` and `replies_counted`.
fn over(
    topology: &str,
    workload: &str,
    registry: &Registry,
    at_least: u64,
) -> Result<ScenarioPlan, String> {
    let text = format!(
        "name: user-invariant\ntopology: ../topologies/{topology}.yaml\nduration: 10s\n\
         liveness: 20s\nseeds: 1\n{workload}\
         invariants:\n  - replies_counted: {{at_least: {at_least}}}\nexpect: pass\n"
    );
    let path = root().join("scenarios/user-invariant.yaml");
    let loaded = load_scenario_source(&SourceFile::new(path, text), registry);
    loaded.plan.ok_or_else(|| {
        let shown = loaded.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message));
        shown.collect::<Vec<_>>().join("\n")
    })
}

#[test]
fn a_registered_invariant_is_named_in_yaml_and_judges_the_run() {
    let registry = registry();
    let enough = scenario(&registry, 1).expect("resolves with the user's registry");
    let report = run_seed(&enough, &registry, 1, false);
    let outcome = &report.invariants[0];
    assert_eq!(outcome.name, "replies_counted");
    assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
    // More replies than the clients ever request: the user's checker finds it.
    let too_many = scenario(&registry, 1_000).expect("resolves");
    let report = run_seed(&too_many, &registry, 1, false);
    assert_eq!(report.invariants[0].verdict, Verdict::Fail);
    let text = &report.invariants[0].violations[0].text;
    assert!(text.ends_with("replies accepted, 1000 wanted"), "{text}");
}

#[test]
fn the_builtin_registry_does_not_know_a_users_invariant() {
    let error = scenario(&Registry::builtin(), 1).expect_err("unknown to the built-ins");
    assert!(error.contains("unknown-invariant"), "{error}");
    assert!(error.contains("replies_counted"), "{error}");
}

#[test]
fn a_registered_invariant_is_refused_where_its_applicability_says_it_cannot_apply() {
    // The pipeline has producers and consumers but nobody who sends requests.
    let error = over("pipeline", "", &registry(), 1).expect_err("not applicable");
    assert!(error.contains("invariant-not-applicable"), "{error}");
    assert!(error.contains("nobody sends requests"), "{error}");
}

/// Issue 16: a checker declared `streaming` is handed the run's trace compact (its
/// `events` empty, nothing expanded for it) and reads it through `Trace::iter`; it
/// counts every reply the same run's expanded trace holds.
#[test]
fn a_streaming_invariant_reads_the_compact_trace_and_sees_every_event() {
    let mut registry = registry();
    let streamed = Invariant::new("replies_streamed", "what a streaming checker sees", |input| {
        let accepted = input
            .trace
            .iter()
            .filter(|e| matches!(e.kind, EventKind::App(AppEvent::ReplyAccepted { .. })))
            .count();
        let (compact, expanded) = (input.trace.is_compact(), input.trace.events.len());
        let text = format!("compact {compact}, {expanded} expanded, {accepted} replies accepted");
        // Fails on purpose: the violation carries what the checker saw.
        Outcome::from_violations("replies_streamed", vec![Violation::new(input.end(), None, text)])
    })
    .streaming();
    assert!(streamed.streams());
    registry.invariant(streamed);
    let text = "name: streamed\ntopology: ../topologies/rrbroker.yaml\nduration: 10s\n\
                liveness: 20s\nseeds: 1\nworkload:\n  rrclient:\n    requests: 50\n\
                invariants: [replies_streamed]\nexpect: pass\n";
    let path = root().join("scenarios/user-invariant.yaml");
    let loaded = load_scenario_source(&SourceFile::new(path, text.to_owned()), &registry);
    let plan = loaded.plan.expect("resolves with the user's registry");
    let kept = run_seed(&plan, &registry, 1, true);
    let trace = kept.trace.as_ref().expect("kept expanded");
    let reply = |e: &&patchbay::trace::TraceEvent| {
        matches!(e.kind, EventKind::App(AppEvent::ReplyAccepted { .. }))
    };
    let replies = trace.events.iter().filter(reply).count();
    assert!(replies >= 50, "{replies} replies: the clients' 50 requests were answered");
    // The same seed, so the same trace: the stream saw every reply the expansion holds.
    let seen = &kept.invariants[0].violations[0].text;
    assert_eq!(seen, &format!("compact true, 0 expanded, {replies} replies accepted"));
}

/// A user's invariant that judges faults says so with `needs_faults`, as
/// `faults_fired` does: a scenario that schedules none may not name it, since it would
/// pass whatever the run did; one with a fault may.
#[test]
fn an_invariant_that_needs_faults_is_refused_in_a_scenario_without_one() {
    let mut registry = Registry::builtin();
    let every_fault_logged = Invariant::new("every_fault_logged", "each fault is traced", |_| {
        Outcome::from_violations("every_fault_logged", Vec::new())
    })
    .needs_faults();
    assert!(every_fault_logged.faults_needed());
    registry.invariant(every_fault_logged);
    let scenario = |faults: &str| {
        let text = format!(
            "name: needs-faults\ntopology: ../topologies/rrbroker.yaml\nduration: 10s\n\
             liveness: 20s\nseeds: 1\nworkload:\n  rrclient:\n    requests: 5\n{faults}\
             invariants: [no_lost_replies, every_fault_logged]\nexpect: pass\n"
        );
        let path = root().join("scenarios/needs-faults.yaml");
        let loaded = load_scenario_source(&SourceFile::new(path, text), &registry);
        let shown = loaded.diagnostics.iter().map(|d| format!("{}: {}", d.code, d.message));
        (loaded.plan.is_some(), shown.collect::<Vec<_>>().join("\n"))
    };
    let (resolved, errors) = scenario("");
    assert!(!resolved, "resolved without a fault");
    assert_eq!(
        errors,
        "invariant-not-applicable: `every_fault_logged` checks that each fault is traced, and \
         this scenario schedules no fault: it would pass whatever the run did"
    );
    let (resolved, errors) = scenario("faults:\n  - {at: 2s, kind: kill, node: rrworker}\n");
    assert!(resolved, "refused with a fault: {errors}");
}

/// The parameters `params_seen` declares: one with a default, one required, one
/// whose default its checker works out.
const MAX: Param = Param {
    name: "max",
    kind: ParamKind::Duration,
    default: ParamDefault::Value("1s"),
    doc: "the longest wait allowed",
};
const MUST: Param = Param {
    name: "must",
    kind: ParamKind::Duration,
    default: ParamDefault::Required,
    doc: "a time the scenario must give",
};
const SLACK: Param = Param {
    name: "slack",
    kind: ParamKind::Duration,
    default: ParamDefault::Computed("the scenario's tick"),
    doc: "slack the checker works out when none is given",
};

/// The built-ins plus `params_seen`, whose checker fails with the parameters it was
/// handed, and with the names of the replica and socket of the trace's first event
/// on a socket, as its texts would spell them.
fn params_registry() -> Registry {
    let mut registry = Registry::builtin();
    let spec = Invariant::new("params_seen", "it is handed its parameters", |input| {
        let seen: Vec<String> = input.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let on_socket = input.trace.iter().find_map(|e| Some((e.node?, e.socket?)));
        let (node, socket) = match on_socket {
            Some((n, s)) => (input.node_name(n), input.socket_name(n, Some(s))),
            None => (String::new(), String::new()),
        };
        let max = input.duration_param("max");
        let text = format!("{}; max {max:?}; {node}; {socket}", seen.join(", "));
        Outcome::from_violations("params_seen", vec![Violation::new(input.end(), None, text)])
    })
    .param(MAX)
    .param(MUST)
    .param(SLACK);
    registry.invariant(spec);
    registry
}

/// A scenario over rrbroker naming `params_seen` as `entry` (`params_seen`, or with
/// its parameters); the plan, or the diagnostics as `check` prints them.
fn params_scenario(entry: &str) -> Result<ScenarioPlan, String> {
    let text = format!(
        "name: params-seen\ntopology: ../topologies/rrbroker.yaml\nduration: 2s\n\
         liveness: 5s\nseeds: 1\nworkload:\n  rrclient:\n    requests: 2\n\
         invariants:\n  - {entry}\nexpect: pass\n"
    );
    let path = root().join("scenarios/params-seen.yaml");
    let loaded = load_scenario_source(&SourceFile::new(path, text), &params_registry());
    loaded.plan.ok_or_else(|| patchbay::spec::render(&loaded.diagnostics))
}

/// A parameter declared `Required` and left out is an error at the invariant's entry,
/// with the entry written out in the hint; one declared with a default is never left
/// out: the checker is handed the default, typed.
#[test]
fn a_users_invariant_gets_its_defaults_and_must_be_given_its_required_parameters() {
    let error = params_scenario("params_seen").expect_err("`must` is required");
    for part in [
        "error[missing-param]: `params_seen` needs the parameter `must` (a time the scenario must give)",
        "scenarios/params-seen.yaml:10:5",
        "hint: write the entry as `- params_seen: {must: 250ms}`, `must` being a duration",
    ] {
        assert!(error.contains(part), "{part:?} missing from:\n{error}");
    }
    assert_eq!(error.matches("error[").count(), 1, "`max` has a default, `slack` is computed");
    let error = params_scenario("params_seen: {max: 3s}").expect_err("`must` is required");
    let hint = "hint: add `must: 250ms` to the entry's parameters, `must` being a duration";
    assert!(error.contains(hint), "{hint:?} missing from:\n{error}");

    let plan = params_scenario("params_seen: {must: 2s}").expect("resolves");
    let registry = params_registry();
    let report = run_seed(&plan, &registry, 1, false);
    let text = &report.invariants[0].violations[0].text;
    // `slack` stays unset: its checker says what it is.
    assert!(text.starts_with("max=1s, must=2s; max Some(1s); "), "{text}");
    // The replica and its socket as the topology names them: `rrbroker.0.frontend`.
    let [.., replica, socket] = text.split("; ").collect::<Vec<_>>()[..] else { panic!("{text}") };
    let (node, index) = replica.split_once('.').expect("group.index");
    assert!(["rrclient", "rrbroker", "rrworker"].contains(&node), "{text}");
    assert!(index.parse::<u32>().is_ok(), "{text}");
    let sockets = ["req", "frontend", "backend", "rep"];
    let named = socket.strip_prefix(&format!("{replica}."));
    assert!(named.is_some_and(|s| sockets.contains(&s)), "{text}");

    let given = params_scenario("params_seen: {must: 2s, max: 3s, slack: 1ms}").expect("resolves");
    let report = run_seed(&given, &registry, 1, false);
    let text = &report.invariants[0].violations[0].text;
    assert!(text.starts_with("max=3s, must=2s, slack=1ms; max Some(3s); "), "{text}");
}

/// A default that is not of its parameter's kind is a mistake in the Rust that
/// declared it: reported at the entry, never a parameter silently left unset.
#[test]
fn a_declared_default_not_of_its_kind_is_an_error_not_an_unset_parameter() {
    let mut registry = Registry::builtin();
    let spec = Invariant::new("badly_declared", "nothing", |_| {
        Outcome::from_violations("badly_declared", Vec::new())
    })
    .param(Param { default: ParamDefault::Value("soon"), ..MAX });
    registry.invariant(spec);
    let text = "name: bad-default\ntopology: ../topologies/rrbroker.yaml\nduration: 2s\n\
                seeds: 1\nworkload:\n  rrclient:\n    requests: 2\n\
                invariants: [badly_declared]\nexpect: pass\n";
    let path = root().join("scenarios/bad-default.yaml");
    let loaded = load_scenario_source(&SourceFile::new(path, text.to_owned()), &registry);
    assert!(loaded.plan.is_none(), "resolved with an unusable default");
    let shown = patchbay::spec::render(&loaded.diagnostics);
    for part in [
        "error[bad-value]: invariant `badly_declared` declares `soon` as the default of its \
         parameter `max`, which must be a duration such as `250ms`",
        "hint: correct the default in the Rust code that declares invariant `badly_declared`, \
         or give `max` in its entry here",
    ] {
        assert!(shown.contains(part), "{part:?} missing from:\n{shown}");
    }
}
