//! `aggregate_complete`: every chunk each client sent for a job is in the job's
//! aggregate exactly once, in per-connection order, and every job finishes.
//!
//! Chunks are what aggregator clients declare with `AppEvent::ChunkSent` (its job,
//! its sequence number on the connection, its message id), before sending. They are
//! aggregated where the aggregator records `ChunkAggregated` with the same id, the
//! job it went into and the hop id of the connection it came in on. A job is finished
//! by its `JobFinished`. Ids tie the two ends together, since the aggregator knows a
//! connection only by hop id and the client only as itself.
//!
//! Violations, each pinned to when it happened or, for what never happened, to the
//! event it should have followed:
//! - a chunk never aggregated (at its send), or aggregated twice (at the second);
//! - a chunk aggregated into a job other than the one it was sent for, or after its
//!   job had finished, or one no client declared;
//! - a chunk aggregated after a later chunk of the same connection (reordered);
//! - a job some client sent chunks for that never finished (at its last chunk's send).
//!
//! A client killed mid-job leaves its job short, and that is reported like any other
//! unfinished job: the aggregate is incomplete whatever the reason. A run that ended
//! before its liveness phase cannot tell a chunk still in flight from a lost one, so
//! chunks never aggregated and jobs never finished alone then make the verdict
//! `Unknown`; so does a run in which no job was worked on.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::plan::Replica;
use crate::trace::{AppEvent, EventKind, MsgId};

use super::verdict::{CheckInput, Outcome, Violation, dur};
use super::{Invariant, any_design, requires};

pub const NAME: &str = "aggregate_complete";

/// `aggregate_complete` as the registry knows it: its summary, parameters, when it applies
/// and its checker, declared here once.
pub(super) fn declare() -> Invariant {
    let summary = "every byte each client sent for a job is in the job's aggregate once, in per-connection order, and the job finishes";
    Invariant::new(NAME, summary, check).applies(|t, _| {
        requires(any_design(t, &["aggregator"]), "no node runs the `aggregator` design")
    })
}

/// One chunk a client declared.
#[derive(Debug)]
struct Sent {
    at: Duration,
    client: Replica,
    job: u64,
    seq: u64,
    /// Each `ChunkAggregated` of its id: when, where, and into which job.
    aggregated: Vec<(Duration, Replica, u64)>,
}

/// What the trace says about the jobs.
#[derive(Debug, Default)]
struct Jobs {
    chunks: BTreeMap<MsgId, Sent>,
    /// When each job first finished, and where.
    finished: BTreeMap<u64, (Duration, Replica)>,
    /// Per connection (aggregator, hop id): the highest sequence number aggregated so
    /// far and the chunk that carried it.
    last_on_conn: BTreeMap<(Replica, u32), (u64, MsgId)>,
}

pub fn check(input: &CheckInput) -> Outcome {
    let mut jobs = Jobs::default();
    let mut violations = Vec::new();
    for event in input.trace.iter() {
        let EventKind::App(app) = &event.kind else { continue };
        let Some(node) = event.node else { continue };
        match app {
            AppEvent::ChunkSent { id, job, seq, .. } => {
                let sent =
                    Sent { at: event.at, client: node, job: *job, seq: *seq, aggregated: vec![] };
                jobs.chunks.entry(*id).or_insert(sent);
            }
            AppEvent::ChunkAggregated { id, job, conn, .. } => {
                aggregated(input, &mut jobs, &mut violations, (event.at, node), *id, *job, *conn);
            }
            AppEvent::JobFinished { job } => {
                jobs.finished.entry(*job).or_insert((event.at, node));
            }
            _ => {}
        }
    }
    judge(input, &jobs, violations)
}

/// Checks one `ChunkAggregated` against what was sent and what came before it.
fn aggregated(
    input: &CheckInput,
    jobs: &mut Jobs,
    violations: &mut Vec<Violation>,
    (at, node): (Duration, Replica),
    id: MsgId,
    job: u64,
    conn: u32,
) {
    let place = format!("at {} on connection {conn}", input.node_name(node));
    let Some(sent) = jobs.chunks.get_mut(&id) else {
        let text = format!(
            "chunk {id} was aggregated into job {job} {place} but no client sent it",
            id = input.msg_name(id)
        );
        return violations.push(Violation::new(at, Some(node), text));
    };
    sent.aggregated.push((at, node, job));
    let what = format!(
        "chunk {} of job {} ({id}) sent at {} by {}",
        sent.seq,
        sent.job,
        dur(sent.at),
        input.node_name(sent.client),
        id = input.msg_name(id)
    );
    if sent.aggregated.len() == 2 {
        let first = dur(sent.aggregated[0].0);
        let text = format!("{what} was aggregated again at {} {place}, first at {first}", dur(at));
        violations.push(Violation::new(at, Some(node), text));
    }
    if job != sent.job {
        let text = format!("{what} was aggregated into job {job} {place}");
        violations.push(Violation::new(at, Some(node), text));
    }
    if let Some((done, _)) = jobs.finished.get(&job) {
        let text = format!(
            "{what} was aggregated at {} {place}, after job {job} finished at {}",
            dur(at),
            dur(*done)
        );
        violations.push(Violation::new(at, Some(node), text));
    }
    let seq = sent.seq;
    match jobs.last_on_conn.get(&(node, conn)) {
        Some(&(last, last_id)) if last > seq => {
            let text = format!(
                "{what} was aggregated at {} {place} after chunk {last} ({last_id}) of the same connection",
                dur(at),
                last_id = input.msg_name(last_id)
            );
            violations.push(Violation::new(at, Some(node), text));
        }
        _ => {
            jobs.last_on_conn.insert((node, conn), (seq, id));
        }
    }
}

/// Chunks never aggregated and jobs never finished, then the verdict.
fn judge(input: &CheckInput, jobs: &Jobs, mut violations: Vec<Violation>) -> Outcome {
    // Per job sent for: its last send, and by whom.
    let mut sent_jobs: BTreeMap<u64, (Duration, Replica)> = BTreeMap::new();
    let mut missing = Vec::new();
    for (id, sent) in &jobs.chunks {
        let last = sent_jobs.entry(sent.job).or_insert((sent.at, sent.client));
        if sent.at >= last.0 {
            *last = (sent.at, sent.client);
        }
        if sent.aggregated.is_empty() {
            let text = format!(
                "chunk {} of job {} ({id}) sent at {} by {} was never aggregated",
                sent.seq,
                sent.job,
                dur(sent.at),
                input.node_name(sent.client),
                id = input.msg_name(id)
            );
            missing.push(Violation::new(sent.at, Some(sent.client), text));
        }
    }
    for (job, (at, client)) in &sent_jobs {
        if !jobs.finished.contains_key(job) {
            let text = format!(
                "job {job} never finished (its last chunk was sent at {} by {}; the run ended at {})",
                dur(*at),
                input.node_name(*client),
                dur(input.end())
            );
            missing.push(Violation::new(*at, Some(*client), text));
        }
    }
    let all_jobs: BTreeSet<u64> = sent_jobs.keys().chain(jobs.finished.keys()).copied().collect();
    if all_jobs.is_empty() {
        return Outcome::unknown(NAME, "no client sent a chunk for any job: nothing to check");
    }
    let note = format!(
        "{} jobs, {} chunks sent, {} never aggregated; {} jobs finished",
        all_jobs.len(),
        jobs.chunks.len(),
        jobs.chunks.values().filter(|s| s.aggregated.is_empty()).count(),
        jobs.finished.len()
    );
    if input.trace.healed_at.is_none() && violations.is_empty() && !missing.is_empty() {
        let why =
            format!("{note}; the run ended before its liveness phase, so they may be in flight");
        return Outcome::unknown(NAME, why);
    }
    violations.extend(missing);
    Outcome::from_violations(NAME, violations).with_note(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invariant::verdict::Verdict;
    use crate::invariant::verdict::testing::{at, ms, node, plan_with, run, texts, trace};
    use crate::plan::ScenarioPlan;
    use crate::socket::SocketType;
    use crate::trace::{EventKind, TraceEvent};

    /// Two clients (group 0) and an aggregator (group 1).
    fn plan() -> ScenarioPlan {
        plan_with(&[("client", 2, &[SocketType::Dealer]), ("aggregator", 1, &[SocketType::Router])])
    }

    fn app(t: u64, node: Replica, event: AppEvent) -> TraceEvent {
        at(ms(t), node, None, EventKind::App(event))
    }

    /// Client `c` sends chunk `seq` of `job`; its id is `100 * (c + 1) + seq`.
    fn sent(t: u64, c: u32, job: u64, seq: u64) -> TraceEvent {
        let id = 100 * u64::from(c + 1) + seq;
        app(t, node(0, c), AppEvent::ChunkSent { id, job, seq, len: 10 })
    }

    /// The aggregator appends client `c`'s chunk `seq` to `job`; connection `c + 1`.
    fn agg(t: u64, c: u32, job: u64, seq: u64) -> TraceEvent {
        let id = 100 * u64::from(c + 1) + seq;
        app(t, node(1, 0), AppEvent::ChunkAggregated { id, job, conn: c + 1, seq, len: 10 })
    }

    fn finished(t: u64, job: u64) -> TraceEvent {
        app(t, node(1, 0), AppEvent::JobFinished { job })
    }

    /// Healed at 1s, ended at 5s.
    fn outcome(events: Vec<TraceEvent>) -> Outcome {
        run(check, &trace(events, Some(ms(1000)), ms(5000)), &plan())
    }

    /// Job 0 over two connections, two chunks each, all aggregated, then finished.
    fn whole_job() -> Vec<TraceEvent> {
        vec![
            sent(0, 0, 0, 0),
            sent(10, 1, 0, 0),
            sent(20, 0, 0, 1),
            agg(30, 1, 0, 0),
            agg(31, 0, 0, 0),
            sent(40, 1, 0, 1),
            agg(50, 0, 0, 1),
            agg(60, 1, 0, 1),
            finished(60, 0),
        ]
    }

    #[test]
    fn passes_when_every_chunk_is_aggregated_once_in_order_and_the_job_finishes() {
        let outcome = outcome(whole_job());
        assert_eq!(outcome.verdict, Verdict::Pass, "{outcome:?}");
        assert_eq!(
            outcome.note.as_deref(),
            Some("1 jobs, 4 chunks sent, 0 never aggregated; 1 jobs finished")
        );
    }

    #[test]
    fn a_chunk_never_aggregated_and_its_unfinished_job_are_violations() {
        let mut events = whole_job();
        events.retain(|e| *e != agg(60, 1, 0, 1) && *e != finished(60, 0));
        let outcome = outcome(events);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            texts(&outcome),
            [
                "chunk 1 of job 0 (client.0#201) sent at 40ms by client.1 was never aggregated",
                "job 0 never finished (its last chunk was sent at 40ms by client.1; the run ended at 5s)",
            ]
        );
        assert_eq!(outcome.violations[0].at, ms(40));
    }

    #[test]
    fn a_chunk_aggregated_twice_is_a_violation() {
        let mut events = whole_job();
        events.insert(5, agg(35, 1, 0, 0));
        let outcome = outcome(events);
        assert_eq!(
            texts(&outcome),
            [
                "chunk 0 of job 0 (client.0#200) sent at 10ms by client.1 was aggregated again at 35ms at aggregator.0 on connection 2, first at 30ms"
            ]
        );
    }

    #[test]
    fn chunks_of_one_connection_out_of_order_are_a_violation() {
        let mut events = whole_job();
        // Client 0's chunk 1 overtakes its chunk 0.
        events[4] = agg(31, 0, 0, 1);
        events[6] = agg(50, 0, 0, 0);
        let outcome = outcome(events);
        assert_eq!(
            texts(&outcome),
            [
                "chunk 0 of job 0 (client.0#100) sent at 0 by client.0 was aggregated at 50ms at aggregator.0 on connection 1 after chunk 1 (client.0#101) of the same connection"
            ]
        );
    }

    #[test]
    fn a_chunk_in_the_wrong_job_after_it_finished_or_from_nowhere_is_a_violation() {
        let mut events = whole_job();
        events.push(sent(70, 0, 1, 2));
        events.push(agg(80, 0, 0, 2));
        events.push(finished(90, 1));
        let stray = AppEvent::ChunkAggregated { id: 999, job: 1, conn: 7, seq: 0, len: 1 };
        events.push(app(95, node(1, 0), stray));
        let outcome = outcome(events);
        assert_eq!(
            texts(&outcome),
            [
                "chunk 2 of job 1 (client.0#102) sent at 70ms by client.0 was aggregated into job 0 at aggregator.0 on connection 1",
                "chunk 2 of job 1 (client.0#102) sent at 70ms by client.0 was aggregated at 80ms at aggregator.0 on connection 1, after job 0 finished at 60ms",
                "chunk client.0#999 was aggregated into job 1 at aggregator.0 on connection 7 but no client sent it",
            ]
        );
    }

    #[test]
    fn no_job_or_only_work_in_flight_when_the_run_stopped_is_unknown() {
        assert_eq!(outcome(Vec::new()).verdict, Verdict::Unknown);
        let never_healed = trace(vec![sent(0, 0, 0, 0)], None, ms(5000));
        let outcome = run(check, &never_healed, &plan());
        assert_eq!(outcome.verdict, Verdict::Unknown, "{outcome:?}");
    }
}
