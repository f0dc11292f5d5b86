//! custom-broker: a broker design of its own, checked with patchbay, written as a
//! user outside the patchbay repository writes one.
//!
//! The `window-broker` sits between REQ clients (a ROUTER `frontend`) and workers (a
//! DEALER `backend`), like the ZeroMQ guide's request-reply broker, but it keeps at
//! most `window` requests at the workers at once: the rest wait in a backlog, in
//! arrival order, and each reply lets the oldest waiting request through. None of
//! the built-in brokers does admission control. Its naive variant, `overflow: drop`,
//! sheds a request that finds the window full instead of queueing it, which loses
//! that client's reply (`no_lost_replies` says whose).
//!
//! A lost reply keeps its slot for ever: with workers that can die, the window would
//! shrink. The shipped scenarios have no faults; a real broker would time slots out.
//!
//! ```
//! let registry = custom_broker::registry();
//! assert!(registry.get("window-broker").is_some_and(|d| d.is_runnable()));
//! assert!(registry.get("queue-device").is_some(), "the built-ins are still there");
//! ```

use std::collections::VecDeque;

use patchbay::prelude::*;

/// The built-in designs and the window broker, for the tools and the tests.
pub fn registry() -> Registry {
    let mut registry = Registry::builtin();
    registry.register(window_broker());
    registry
}

/// The window broker's declaration: what a topology naming it must give.
pub fn window_broker() -> Design {
    Design::new("window-broker")
        .summary("A request-reply broker that keeps at most `window` requests at the workers and queues the rest in arrival order.")
        .role(Role::Broker)
        .socket("frontend", &[SocketType::Router], "faces the clients")
        .socket("backend", &[SocketType::Dealer], "faces the workers")
        .param("window", ParamKind::Count, Some("4"), "requests at the workers at once")
        .param(
            "overflow",
            ParamKind::OneOf(&["queue", "drop"]),
            Some("queue"),
            "what a request that finds the window full does: wait in the backlog, or be dropped (the naive variant)",
        )
        // It waits only on its sockets, never on a timer of its own, so a simulated
        // run may end as soon as nothing more can happen in it.
        .timers_through_ctx()
        .run(|ctx| async move { serve(&ctx).await })
}

/// The broker's state: how many requests the workers hold, and who waits.
struct Window {
    limit: u64,
    in_flight: u64,
    backlog: VecDeque<Msg>,
}

/// Copies requests to the workers within the window and replies back, until a
/// socket fails for good.
async fn serve(ctx: &NodeCtx) {
    let (frontend, backend) = (ctx.socket("frontend"), ctx.socket("backend"));
    let shed = ctx.param_text("overflow") == "drop";
    let mut window =
        Window { limit: ctx.param_count("window").max(1), in_flight: 0, backlog: VecDeque::new() };
    loop {
        // Replies first: each frees a slot, and they are bounded by what went out.
        let (reply, request) = tokio::select! {
            biased;
            reply = backend.recv() => (Some(reply), None),
            request = frontend.recv() => (None, Some(request)),
        };
        let ok = match (reply, request) {
            (Some(Ok(reply)), _) => {
                window.in_flight = window.in_flight.saturating_sub(1);
                let sent = frontend.send(reply).await.is_ok();
                match window.backlog.pop_front() {
                    Some(next) => dispatch(ctx, backend, &mut window, next).await && sent,
                    None => sent,
                }
            }
            (_, Some(Ok(request))) if window.in_flight < window.limit => {
                dispatch(ctx, backend, &mut window, request).await
            }
            (_, Some(Ok(request))) => {
                let name = if shed { "shed" } else { "queued" };
                ctx.record(event(name, &request).field("backlog", window.backlog.len()));
                if !shed {
                    window.backlog.push_back(request);
                }
                true
            }
            _ => false,
        };
        if !ok {
            return ctx.record(AppEvent::Note { text: "window-broker stopped".into() });
        }
    }
}

/// Sends `request` to the workers, taking a slot; `false` if the backend failed.
async fn dispatch(ctx: &NodeCtx, backend: Socket<'_>, window: &mut Window, request: Msg) -> bool {
    window.in_flight += 1;
    ctx.record(event("dispatched", &request).field("in_flight", window.in_flight));
    backend.send(request).await.is_ok()
}

/// A typed event about `request`, naming it by its patchbay message id if it has one.
fn event(name: &str, request: &Msg) -> UserEvent {
    match Payload::decode(&request.body) {
        Some(payload) => UserEvent::new(name).msg("request", payload.id),
        None => UserEvent::new(name),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use patchbay::invariant::Verdict;
    use patchbay::run::run_seed;
    use patchbay::testing::Scenario;

    use super::*;

    /// Runs seed 1 of a shipped scenario with this crate's registry, keeping its
    /// trace for the assertions below.
    fn run(file: &str) -> patchbay::run::RunReport {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(file);
        let scenario = Scenario::load(path).registry(registry());
        let plan = scenario.plan().unwrap_or_else(|diagnostics| panic!("{file}:\n{diagnostics}"));
        run_seed(&plan, scenario.registry_ref(), 1, true)
    }

    /// The user events the broker recorded under `name`.
    fn events<'a>(report: &'a patchbay::run::RunReport, name: &str) -> Vec<&'a UserEvent> {
        let trace = report.trace.as_ref().expect("kept");
        trace
            .app_events()
            .filter_map(|(_, app)| match app {
                AppEvent::User(e) if e.name == name => Some(e),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_window_broker_answers_every_request_and_never_exceeds_its_window() {
        let report = run("window-steady.yaml");
        assert_eq!(report.error, None, "{}", report.repro());
        for outcome in &report.invariants {
            assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        }
        assert!(report.as_expected);
        // Eight clients of twenty requests: every one dispatched once, at most two at
        // the workers at a time, and the window was full often enough to queue some.
        let dispatched = events(&report, "dispatched");
        assert_eq!(dispatched.len(), 160);
        let widest = dispatched.iter().filter_map(|e| e.get("in_flight")).max();
        assert_eq!(widest, Some(&FieldValue::Uint(2)));
        assert!(!events(&report, "queued").is_empty());
        assert!(events(&report, "shed").is_empty());
    }

    #[test]
    fn the_shedding_variant_loses_replies_and_the_checker_says_so() {
        let report = run("window-shed.yaml");
        assert_eq!(report.error, None, "{}", report.repro());
        let lost = report.invariants.iter().find(|o| o.name == "no_lost_replies").expect("run");
        assert_eq!(lost.verdict, Verdict::Fail, "{lost:?}");
        assert!(report.as_expected, "the scenario expects the violation");
        assert!(!events(&report, "shed").is_empty());
    }
}
