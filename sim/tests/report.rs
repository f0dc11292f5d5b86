//! Reports: the page is a pure function of the JSON, every section is there for a
//! failing scenario, failures are drawn around their violating event, long traces
//! are cut with a note, a file a user made is never overwritten, and `real`,
//! `compare` and `explore` reports each show what their page promises.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use patchbay::explore::{self, Base, Options};
use patchbay::invariant::{Invariant, Outcome, Verdict, Violation};
use patchbay::plan::{Replica, ScenarioPlan};
use patchbay::registry::Registry;
use patchbay::report::compare::{Entry, compare_report};
use patchbay::report::finding::explore_report;
use patchbay::report::html::{SECTIONS, required};
use patchbay::report::metrics::{Accumulator, bucket_low_us, bucket_of};
use patchbay::report::seqdiag::{self, MAX_ROWS};
use patchbay::report::sweep::{Measurements, real_report, sim_report};
use patchbay::report::{self, Kind, ReadError, Report};
use patchbay::resolve::load_scenario;
use patchbay::run::compare::Row;
use patchbay::run::real::{RealOptions, scaled};
use patchbay::run::{Backend, Job, KeepTrace, RunReport, run_many_real, run_many_with, run_seed};
use patchbay::trace::{AppEvent, EventKind, MsgInfo, Trace, TraceEvent};

use crate::util::TempDir;

/// Seeds of the failing scenario the shared report runs.
const SEEDS: [u64; 2] = [1, 2];

fn plan(name: &str) -> ScenarioPlan {
    let path = root().join("scenarios").join(name);
    let loaded = load_scenario(&path, &Registry::builtin());
    loaded.plan.unwrap_or_else(|| panic!("{name} resolves: {:?}", loaded.diagnostics))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// One sweep of a failing and a passing shipped scenario, built once for the module,
/// as `cargo xtask sim` builds it (traces kept compact, measured, failures drawn and
/// let go as each run finishes).
fn sweep() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let registry = Registry::builtin();
        let plans = vec![plan("lru-worker-crash.yaml"), plan("lru-steady.yaml")];
        let jobs: Vec<Job<'_>> =
            plans.iter().flat_map(|p| SEEDS.map(|seed| Job { plan: p, seed })).collect();
        let measured = Measurements::default();
        let reports = run_many_with(&jobs, &registry, 2, KeepTrace::Compact, &|r| {
            let plan = plans.iter().find(|p| p.file == r.file).expect("a plan ran it");
            measured.add(plan, r.trace.as_ref().expect("traces were asked for"));
            measured.draw_failures(plan, r);
            r.trace = None;
        });
        let mut report =
            sim_report("cargo xtask sim test".into(), &plans, &registry, &reports, &measured);
        report.created = "2026-01-02T03:04:05Z".into();
        report
    })
}

#[test]
fn html_is_a_pure_function_of_the_json() {
    let report = sweep();
    let json = report.to_json();
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    // Compared as text first: a difference then shows as a short diff, not two dumps.
    assert_eq!(back.to_json(), json, "the JSON writes the same bytes again");
    assert!(&back == report, "the JSON round-trips");
    assert!(back.to_html() == report.to_html(), "the page from the JSON is the page");

    // As `cargo xtask report` does it: from the file, over the page written with it.
    let dir = TempDir::new("pure");
    let path = dir.path().join("sweep.json");
    let page = report::write_pair(&path, report).expect("written");
    let first = std::fs::read(&page).unwrap();
    let again = report::read(&path).expect("our own file reads back");
    report::write_html(&path, &again).expect("rendered again over our own page");
    assert!(std::fs::read(&page).unwrap() == first, "the same bytes");
}

#[test]
fn every_section_is_there_for_a_failing_and_a_passing_scenario() {
    let report = sweep();
    let html = report.to_html();
    for name in SECTIONS {
        let found = html.matches(&format!("data-section=\"{name}\"")).count();
        assert_eq!(found, 2, "section `{name}` once per scenario");
    }
    let [failing, passing] = &report.sections[..] else { panic!("two sections") };
    assert_eq!(failing.name, "lru-worker-crash");
    let lost = &failing.verdicts[0];
    assert_eq!((lost.invariant.as_str(), lost.fail), ("no_lost_replies", SEEDS.len() as u64));
    assert!(lost.failures[0].repro.contains("lru-worker-crash.yaml --seed"), "{:?}", lost.failures);
    assert!(
        html.contains(&lost.failures[0].repro.replace('"', "&quot;")),
        "the repro is on the page"
    );
    assert_eq!(failing.sequences.len(), 1, "one diagram for the one failing invariant");
    assert!(passing.sequences.is_empty(), "nothing failed in lru-steady");
    for s in &report.sections {
        let graph = s.graph.to_svg().expect("a sweep's topology draws");
        assert!(graph.contains("REQ → ROUTER"), "socket types on the graph's edges");
        let latency = s.metrics.latency.as_ref().expect("requests were answered");
        assert_eq!(latency.what, "request issued → reply accepted");
        let p = &latency.percentiles;
        assert!(
            0 < p.p50_us && p.p50_us <= p.p90_us && p.p90_us <= p.p99_us && p.p99_us <= p.max_us
        );
        assert!(s.metrics.throughput.series.iter().any(|l| l.values.iter().any(|&v| v > 0)));
        assert!(!s.metrics.depth.series.is_empty(), "sockets queued messages");
    }
}

#[test]
fn the_diagram_highlights_the_violating_event() {
    let report = sweep();
    let d = &report.sections[0].sequences[0];
    let shortest =
        report.sections[0].verdicts[0].failures.iter().min_by_key(|f| (f.events, f.seed));
    assert_eq!(Some(d.seed), shortest.map(|f| f.seed), "the failing seed with the fewest events");
    // "request 6 issued at 819ms by client.0 never got a reply (...)"
    let id = d.violation.split_whitespace().nth(1).expect("the sentence names the request");
    let violating: Vec<_> = d.rows.iter().filter(|r| r.violating).collect();
    assert_eq!(violating.len(), 1, "exactly one highlighted row");
    assert_eq!(violating[0].label, format!("request {id} issued"));
    assert!(d.arrows.iter().any(|a| a.to_row.is_some()), "messages drawn as arrows");
    assert!(!d.faults.is_empty(), "the kill is shaded");
    assert!(report.to_html().contains("◀ violation"));
}

#[test]
fn long_traces_are_cut_around_the_violation_with_a_note() {
    let plan = plan("lru-worker-crash.yaml");
    let run = run_seed(&plan, &Registry::builtin(), 1, true);
    let trace = run.trace.as_ref().expect("kept");
    let violation = run.invariants[0].violations[0].clone();
    let d = seqdiag::build(&plan, trace, "no_lost_replies", &violation, 1, run.repro());
    assert_eq!(d.rows.len(), MAX_ROWS);
    let note = d.note.as_deref().expect("a cut trace says so");
    assert!(note.contains(&format!("of {}", trace.events.len())), "{note}");
    let target = seqdiag::violating_index(trace, &violation) as u64;
    assert!(d.rows.first().unwrap().index < target && target < d.rows.last().unwrap().index);

    // A trace short enough is drawn whole, with no note.
    let client = Replica { group: patchbay::plan::GroupId(0), index: 0 };
    let msg = MsgInfo { id: Some(7), request_id: None, len: 10 };
    let at = |ms| Duration::from_millis(ms);
    let event = |ms, kind| TraceEvent { at: at(ms), node: Some(client), socket: Some(0), kind };
    let short = Trace {
        events: vec![
            event(1, EventKind::App(AppEvent::RequestIssued { id: 7 })),
            event(1, EventKind::Send { msg }),
            event(2, EventKind::Enqueue { pipe: 1, depth: 1, hwm: 1000, msg }),
        ],
        healed_at: None,
        ended_at: at(5),
        quiesced: false,
        faults: Vec::new(),
        compact: None,
    };
    let v = Violation::new(at(1), Some(client), "request 7 issued at 1ms never got a reply");
    let d = seqdiag::build(&plan, &short, "no_lost_replies", &v, 9, "repro".into());
    assert_eq!(d.note, None);
    assert_eq!(d.rows.len(), 2, "the enqueue is bookkeeping, not drawn");
    assert!(d.rows[0].violating);
    // ...unless the violation is pinned to it (from aggregator-lost-wakeup, whose
    // violating event was once left undrawn and nothing was highlighted).
    let v = Violation::new(at(2), Some(client), "the queue overflowed");
    let d = seqdiag::build(&plan, &short, "x", &v, 9, "repro".into());
    assert_eq!(d.rows.len(), 3);
    assert!(d.rows[2].violating, "{:?}", d.rows);
}

/// Issue 16: drawing a failure re-ran its seed with the whole trace expanded, which
/// at a million users doubled the run's peak memory. A sweep now draws each failure
/// as its run finishes, from the compact trace it holds anyway; the report runs
/// nothing again, and the diagram is the one running the seed again would draw.
#[test]
fn failures_are_drawn_as_runs_finish_and_the_report_runs_no_seed_again() {
    let registry = Registry::builtin();
    let plans = vec![plan("lru-worker-crash.yaml")];
    let jobs: Vec<Job<'_>> = SEEDS.map(|seed| Job { plan: &plans[0], seed }).to_vec();
    let measured = Measurements::default();
    let reports = run_many_with(&jobs, &registry, 2, KeepTrace::Compact, &|r| {
        assert!(r.trace.as_ref().is_some_and(Trace::is_compact), "drawn from the compact form");
        measured.draw_failures(&plans[0], r);
        r.trace = None;
    });
    // A registry whose no_lost_replies always passes: a seed run again for the report
    // would pass and draw nothing, so a diagram here was drawn during the sweep.
    let mut passing = Registry::builtin();
    passing.invariant(Invariant::new("no_lost_replies", "passes", |_| {
        Outcome::from_violations("no_lost_replies", Vec::new())
    }));
    let report = sim_report("t".into(), &plans, &passing, &reports, &measured);
    let drawn = &report.sections[0].sequences;
    assert_eq!(drawn.len(), 1, "the failing invariant is drawn without running again");
    let again = sim_report("t".into(), &plans, &registry, &reports, &Measurements::default());
    assert!(again.sections[0].sequences == *drawn, "the same diagram as running it again");
    let none = sim_report("t".into(), &plans, &passing, &reports, &Measurements::default());
    assert!(none.sections[0].sequences.is_empty(), "the check above can fail");
}

/// Issue 16: a diagram is cut from one pass over the compact trace, holding the
/// window, never the trace expanded. Here a trace of 200,000 events, most of them
/// queue bookkeeping, with a crash open across the violation: the window is the 60
/// drawable events before the violating one, the violating one and the next 89,
/// and it is the window the expanded trace gives.
#[test]
fn a_diagram_is_cut_from_a_compact_trace_around_the_first_violation() {
    let plan = plan("lru-worker-crash.yaml");
    let client = |index| Replica { group: patchbay::plan::GroupId(0), index };
    let msg = |id| MsgInfo { id: Some(id), request_id: None, len: 10 };
    let at = |i: u64| Duration::from_micros(i * 10);
    let event = |i: u64| {
        let kind = match i {
            1_000 => EventKind::FaultBegin { fault: 0, touched: 1 },
            150_000 => EventKind::FaultEnd { fault: 0, touched: 1 },
            // A send every tenth event; the rest is bookkeeping the diagram leaves out.
            i if i % 10 == 0 => EventKind::Send { msg: msg(i) },
            i => EventKind::Enqueue { pipe: 1, depth: 1, hwm: 1000, msg: msg(i) },
        };
        let node = matches!(kind, EventKind::Send { .. } | EventKind::Enqueue { .. })
            .then(|| client((i % 3) as u32));
        TraceEvent { at: at(i), node, socket: node.map(|_| 0), kind }
    };
    let mut compact = patchbay::trace::CompactEvents::default();
    (0..200_000).for_each(|i| compact.push(&event(i)));
    let trace = Trace { ended_at: at(200_000), ..Trace::from_compact(compact) };
    // Pinned to the send of message 100,000 at client.1, named in the sentence.
    let v = Violation::new(at(100_000), Some(client(1)), "message 100000 was lost");
    assert_eq!(seqdiag::violating_index(&trace, &v), 100_000);
    let d = seqdiag::build(&plan, &trace, "x", &v, 1, "repro".into());
    assert!(trace.is_compact() && trace.events.is_empty(), "nothing expanded it");

    let indices: Vec<u64> = d.rows.iter().map(|r| r.index).collect();
    let expected: Vec<u64> = (0..MAX_ROWS as u64).map(|k| 100_000 - 600 + 10 * k).collect();
    assert_eq!(indices, expected, "60 sends before the violating one, 89 after");
    let violating: Vec<u64> = d.rows.iter().filter(|r| r.violating).map(|r| r.index).collect();
    assert_eq!(violating, [100_000]);
    assert!(d.rows[60].label.contains(": send "), "{}", d.rows[60].label);
    assert!(d.rows.iter().all(|r| r.mark == seqdiag::Mark::Send), "no bookkeeping drawn");
    assert_eq!(d.total_events, 200_000);
    assert_eq!(
        d.note.as_deref(),
        Some(
            "showing events 99400..100890 of 200000 (150 of the 20000 drawable events, around \
             the violation; queue bookkeeping is not drawn)"
        )
    );
    assert_eq!(d.lanes, ["client.0", "client.1", "client.2"]);
    let [band] = &d.faults[..] else { panic!("one fault band: {:?}", d.faults) };
    assert!(band.open_before && band.open_after, "the crash spans the window: {band:?}");
    assert_eq!((band.from_row, band.to_row), (0, MAX_ROWS as u32 - 1));

    let expanded = trace.expanded();
    assert!(seqdiag::build(&plan, &expanded, "x", &v, 1, "repro".into()) == d);
}

#[test]
fn a_file_the_user_made_is_never_overwritten() {
    let dir = TempDir::new("overwrite");
    let mut report = Report::new(report::Kind::Sim, "t", "cargo xtask sim");
    report.created = "2026-01-02T03:04:05Z".into();
    let first = report::write(dir.path(), &report).expect("an empty directory takes a report");
    assert!(first.json.ends_with("2026-01-02T03-04-05Z.json"), "{:?}", first.json);
    assert_eq!(first.latest.as_deref(), Some(dir.path().join("latest.html").as_path()));
    let second = report::write(dir.path(), &report).expect("a second report of the same second");
    assert_ne!(second.json, first.json, "gets its own name");
    assert_eq!(std::fs::read_to_string(&first.json).unwrap(), report.to_json());

    let user_html = dir.path().join("latest.html");
    std::fs::write(&user_html, "<p>my notes</p>").unwrap();
    let third = report::write(dir.path(), &report).expect("the report itself is written");
    assert_eq!(third.latest, None, "latest is someone else's now");
    assert_eq!(std::fs::read_to_string(&user_html).unwrap(), "<p>my notes</p>");

    let user_json = dir.path().join("mine.json");
    std::fs::write(&user_json, "{\"mine\": true}").unwrap();
    let err = report::write_pair(&user_json, &report).expect_err("not ours");
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read_to_string(&user_json).unwrap(), "{\"mine\": true}");
    assert!(!dir.path().join("mine.html").exists(), "nothing half written");

    let ours = dir.path().join("ours.json");
    report::write_pair(&ours, &report).expect("a new path");
    report::write_pair(&ours, &report).expect("and again over our own");
    std::fs::write(dir.path().join("ours.html"), "user's page").unwrap();
    assert!(report::write_html(&ours, &report).is_err(), "the page is the user's now");
}

#[test]
fn reading_something_that_is_not_a_report_says_what_it_is() {
    let dir = TempDir::new("read");
    let cases = [
        ("a.yaml", "name: x\n", "not JSON"),
        ("b.json", "{\"a\": 1}", "not a patchbay report"),
        ("c.json", "{\"generator\": \"patchbay\", \"runs\": []}", "run the command again"),
        ("d.json", "{\"generator\": \"patchbay\", \"format\": 1}", "bad field"),
    ];
    for (name, text, says) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let err = report::read(&path).expect_err(name);
        assert!(err.to_string().contains(says), "{name}: {err}");
    }
    let missing = report::read(&dir.path().join("none.json")).expect_err("no file");
    assert!(matches!(missing, ReadError::Io(_)));
}

/// The one `<script>` a page has is its self-check; anything else came from a JSON.
fn scripts(html: &str) -> usize {
    html.matches("<script").count()
}

#[test]
fn markup_in_a_hand_edited_json_never_reaches_the_page() {
    // From issue 17: a report's `graph_svg` was pasted into the page as it was, so a
    // downloaded JSON could run script when rendered.
    let mut value = serde_json::to_value(sweep()).expect("a report serialises");
    let evil = "<script>alert(1)</script><img src=x onerror=alert(2)>";
    let section = &mut value["sections"][0];
    section["graph_svg"] = evil.into();
    section["graph"]["name"] = evil.into();
    section["graph"]["groups"][0]["name"] = evil.into();
    section["graph"]["links"][0]["from_socket"] = evil.into();
    section["name"] = evil.into();
    section["verdicts"][0]["invariant"] = evil.into();
    section["sequences"][0]["lanes"][0] = evil.into();
    section["sequences"][0]["rows"][0]["label"] = evil.into();
    value["title"] = evil.into();
    value["notes"] = serde_json::json!([evil]);
    let dir = TempDir::new("markup");
    let path = dir.path().join("edited.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let report = report::read(&path).expect("an edited report still reads");
    let html = report.to_html();
    assert_eq!(scripts(&html), 1, "only the page's own self-check script");
    assert!(!html.contains("<img"), "no element from the JSON");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the text is shown, escaped");
    assert!(html.contains("REQ → ROUTER"), "the topology is drawn from the model's links");
    assert!(html == report.to_html(), "rendering twice gives the same bytes");
}

#[test]
fn an_edited_json_whose_figures_do_not_fit_is_refused_not_drawn() {
    // The page indexes rows and buckets by what the JSON says: an arrow from a row the
    // diagram does not have panicked the renderer.
    let dir = TempDir::new("inconsistent");
    type Edit = fn(&mut serde_json::Value);
    let edits: [(&str, Edit); 3] = [
        ("an arrow from row 4000000000", |v| {
            v["sections"][0]["sequences"][0]["arrows"][0]["from_row"] = 4_000_000_000u32.into()
        }),
        ("a fault band outside", |v| {
            v["sections"][0]["sequences"][0]["faults"][0]["to_row"] = 99_999.into()
        }),
        ("latency buckets out of order", |v| {
            v["sections"][0]["metrics"]["latency"]["histogram"]["buckets"] =
                serde_json::json!([[90, 1], [10, 1]])
        }),
    ];
    for (says, edit) in edits {
        let mut value = serde_json::to_value(sweep()).expect("a report serialises");
        edit(&mut value);
        let path = dir.path().join("edited.json");
        std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
        let err = report::read(&path).expect_err(says);
        assert!(matches!(err, ReadError::Inconsistent(_)), "{says}: {err}");
        assert!(err.to_string().contains(says), "{err}");
    }
}

/// Percentiles moved from the chart's bucket tops to an HDR histogram (3 significant
/// digits); a report written before, without `significant_digits`, still reads back
/// and its page says how coarse its percentiles are.
#[test]
fn a_report_from_before_exact_percentiles_reads_back_and_says_so() {
    let dir = TempDir::new("old-percentiles");
    let page = sweep().to_html();
    assert!(page.contains("percentiles by nearest rank, to 3 significant digits"));
    let mut value = serde_json::to_value(sweep()).expect("a report serialises");
    for section in value["sections"].as_array_mut().expect("sections") {
        let percentiles = &mut section["metrics"]["latency"]["percentiles"];
        percentiles.as_object_mut().expect("percentiles").remove("significant_digits");
    }
    let path = dir.path().join("old.json");
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    let old = report::read(&path).expect("an old report reads back");
    let p = &old.sections[0].metrics.latency.as_ref().expect("latency").percentiles;
    assert_eq!(p.significant_digits, 0);
    assert!(old.to_html().contains("within an eighth (a report from before exact percentiles)"));
}

#[test]
fn a_topology_that_cannot_be_drawn_is_said_in_words() {
    let mut report = sweep().clone();
    report.sections[0].graph.links[0].to = 999;
    report.sections[1].graph.links[0].to_type = "NOT-A-SOCKET".into();
    let html = report.to_html();
    assert_eq!(html.matches("The topology cannot be drawn").count(), 2, "one per section");
    // A report from before the topology was data has none, and says so.
    report.sections[0].graph = report::Topology::default();
    assert!(report.to_html().contains("This report holds no topology to draw."));
}

#[test]
fn a_report_path_that_will_be_refused_is_refused_before_any_run() {
    // From issue 17: `--json` over a file patchbay did not write was refused only after
    // every run had finished. The check the commands now make first:
    let dir = TempDir::new("check-path");
    let user = dir.path().join("mine.json");
    std::fs::write(&user, "{\"mine\": true}").unwrap();
    let err = report::check_pair_path(&user).expect_err("the user's JSON");
    assert!(err.to_string().contains("is not a patchbay report"), "{err}");
    let page_taken = dir.path().join("page.json");
    std::fs::write(dir.path().join("page.html"), "<p>notes</p>").unwrap();
    let err = report::check_pair_path(&page_taken).expect_err("the page beside it is the user's");
    assert!(err.to_string().contains("page.html"), "{err}");
    std::fs::create_dir(dir.path().join("folder.json")).unwrap();
    let err = report::check_pair_path(&dir.path().join("folder.json")).expect_err("a directory");
    assert!(err.to_string().contains("is a directory"), "{err}");
    let under_file = user.join("reports");
    let err = report::check_dir(&under_file).expect_err("a file on the way");
    assert!(err.to_string().contains("mine.json is a file"), "{err}");
    report::check_pair_path(&dir.path().join("new/sub/fresh.json")).expect("a new path is fine");
    report::check_dir(&dir.path().join("new/sub")).expect("a folder to be made is fine");
}

#[test]
fn a_pipe_or_a_directory_given_as_a_report_is_refused_without_reading() {
    let dir = TempDir::new("not-regular");
    let err = report::read(dir.path()).expect_err("a directory");
    assert!(err.to_string().contains("is a directory"), "{err}");
    assert!(!report::is_ours(dir.path()), "a directory is not ours");
    let fifo = dir.path().join("pipe.json");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo made the pipe");
    let (tx, rx) = std::sync::mpsc::channel();
    let at = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx
            .send((report::read(&at).map(|_| ()).map_err(|e| e.to_string()), report::is_ours(&at)));
    });
    // A hang detector, not a wait for an event: before the fix this read blocked for ever.
    let (read, ours) =
        rx.recv_timeout(Duration::from_secs(60)).expect("reading a FIFO must not hang");
    let err = read.expect_err("a FIFO is not a report");
    assert!(err.contains("not a regular file"), "{err}");
    assert!(!ours, "a FIFO is not ours");
}

#[test]
fn latency_buckets_hold_their_values_within_an_eighth() {
    for us in (0..5_000u64).chain([65_535, 65_536, 1 << 40, u64::MAX / 2]) {
        let b = bucket_of(us);
        let (low, next) = (bucket_low_us(b), bucket_low_us(b + 1));
        assert!(low <= us && us < next, "{us} in [{low}, {next})");
        assert!((next - low) * 8 <= low.max(8), "bucket {b} too wide: [{low}, {next})");
    }
}

#[test]
fn merged_measurements_do_not_depend_on_the_order_runs_finish_in() {
    let plan = plan("lru-worker-crash.yaml");
    let registry = Registry::builtin();
    let traces: Vec<Trace> =
        SEEDS.iter().map(|&s| run_seed(&plan, &registry, s, true).trace.expect("kept")).collect();
    let measure = |order: &[usize]| {
        let mut all = Accumulator::for_plan(&plan);
        for &i in order {
            let mut one = Accumulator::for_plan(&plan);
            one.add_trace(&traces[i], &plan);
            all.merge(one);
        }
        all.finish()
    };
    let (forward, backward) = (measure(&[0, 1]), measure(&[1, 0]));
    assert_eq!(forward, backward);
    assert_eq!(forward.runs, 2);
}

#[test]
fn many_replicas_fold_into_one_lane_keeping_the_violating_one() {
    let plan = plan("lru-worker-crash.yaml");
    let client = |index| Replica { group: patchbay::plan::GroupId(0), index };
    let msg = |id| MsgInfo { id: Some(id), request_id: None, len: 10 };
    // Twenty replicas send the violation's message once each (so all of them are
    // about it); replica 19 sends twice, replica 0 is the culprit.
    let mut events: Vec<TraceEvent> = (0..20)
        .map(|i| TraceEvent {
            at: Duration::from_millis(u64::from(i)),
            node: Some(client(i)),
            socket: Some(0),
            kind: EventKind::Send { msg: msg(0) },
        })
        .collect();
    events.push(TraceEvent {
        node: Some(client(19)),
        at: Duration::from_millis(30),
        ..events[0].clone()
    });
    let trace = Trace {
        events,
        healed_at: None,
        ended_at: Duration::from_millis(40),
        quiesced: false,
        faults: Vec::new(),
        compact: None,
    };
    let v = Violation::new(Duration::ZERO, Some(client(0)), "message 0 was lost");
    let d = seqdiag::build(&plan, &trace, "x", &v, 1, "repro".into());
    assert_eq!(d.lanes.len(), seqdiag::MAX_LANES);
    assert_eq!(d.lanes.last().map(String::as_str), Some("+9 more"));
    assert!(d.lanes.contains(&"client.0".to_owned()), "the violating replica keeps its lane");
    assert!(d.lanes.contains(&"client.19".to_owned()), "the busiest keeps its lane");
    let folded = (seqdiag::MAX_LANES - 1) as u32;
    assert_eq!(d.rows.iter().filter(|r| r.lane == Some(folded)).count(), 9);

    // A run's trace is compact (docs/memory.md); the diagram drawn from it is the same.
    let mut compact = patchbay::trace::CompactEvents::default();
    trace.events.iter().for_each(|e| compact.push(e));
    let compact = Trace { ended_at: trace.ended_at, ..Trace::from_compact(compact) };
    assert!(compact.is_compact() && compact.events.is_empty());
    assert!(seqdiag::build(&plan, &compact, "x", &v, 1, "repro".into()) == d);
}

/// Issue 16: at 100,000 users the window around a violation held 150 events of 39
/// replicas in the same millisecond, most folded into "+28 more", and not the story
/// of the failure. A window that would fold is cut again from the events of the
/// replicas the violation is about, of the messages they made and of the violating
/// message, however far apart they are.
#[test]
fn a_crowded_window_is_cut_again_around_the_replicas_the_violation_is_about() {
    use patchbay::plan::MsgOrigin;
    let plan = plan("lru-worker-crash.yaml");
    let client = |index| Replica { group: patchbay::plan::GroupId(0), index };
    let made = |node, counter| MsgOrigin { node, incarnation: 0, counter }.pack();
    let send = |us, node, id| TraceEvent {
        at: Duration::from_micros(us),
        node: Some(node),
        socket: Some(0),
        kind: EventKind::Send { msg: MsgInfo { id: Some(id), request_id: None, len: 10 } },
    };
    let message = made(client(3), 1);
    let note = AppEvent::Note { text: "logged out".into() };
    let mut events = vec![TraceEvent {
        at: Duration::ZERO,
        node: Some(client(2)),
        socket: None,
        kind: EventKind::App(note),
    }];
    // Thirty other replicas send a message each microsecond around it all.
    for i in 0..1_000u32 {
        let other = client(10 + i % 30);
        events.push(send(10 + u64::from(i), other, made(other, i)));
        if i == 100 {
            // client.2's own message (its logout, say) arriving at a busy replica.
            let msg = MsgInfo { id: Some(made(client(2), 0)), request_id: None, len: 10 };
            let kind = EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg };
            events.push(TraceEvent { kind, ..send(110, client(20), 0) });
        }
        if i == 400 {
            events.push(send(410, client(3), message));
        }
        if i == 500 {
            let msg = MsgInfo { id: Some(message), request_id: None, len: 10 };
            let kind = EventKind::Deliver { pipe: 1, depth: 1, hwm: 1000, msg };
            events.push(TraceEvent { kind, ..send(510, client(2), message) });
        }
    }
    let trace = Trace { events, ended_at: Duration::from_millis(2), ..Trace::default() };
    let v = Violation::new(
        Duration::from_micros(510),
        Some(client(2)),
        "message client.3#1 reached client.2 after it logged out",
    );
    let d = seqdiag::build(&plan, &trace, "x", &v, 1, "repro".into());
    assert_eq!(d.lanes, ["client.2", "client.3", "client.20"]);
    let labels: Vec<&str> = d.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "logged out",
            "req: arrive client.2#0 (queue 1)",
            "req: send client.3#1",
            "req: arrive client.3#1 (queue 1)"
        ]
    );
    assert!(d.rows[3].violating);
    assert_eq!(d.rows.iter().map(|r| r.index).collect::<Vec<_>>(), [0, 102, 403, 504]);
    let [arrow] = &d.arrows[..] else { panic!("one arrow: {:?}", d.arrows) };
    assert_eq!((arrow.from_row, arrow.to_row), (2, Some(3)));
    assert_eq!(
        d.note.as_deref(),
        Some(
            "showing events 0..504 of 1004 (4 of the 4 drawable events at or from client.2 \
             and client.3 and of message client.3#1, around the violation; queue bookkeeping \
             is not drawn)"
        )
    );
}

/// From pub-hwm-stalled-subscriber: the violation is pinned at the stalled subscriber
/// that missed message 574, which was published elsewhere at that instant; the
/// publish is the violating event, not the subscriber's next event seconds later.
#[test]
fn the_violating_event_is_the_named_message_even_at_another_replica() {
    let node = |index| Some(Replica { group: patchbay::plan::GroupId(0), index });
    let msg = MsgInfo { id: Some(574), request_id: None, len: 1 };
    let event = |ms, n, kind| TraceEvent {
        at: Duration::from_millis(ms),
        node: node(n),
        socket: Some(0),
        kind,
    };
    let trace = Trace {
        events: vec![
            event(1074, 0, EventKind::App(AppEvent::Note { text: "unrelated".into() })),
            event(1074, 0, EventKind::App(AppEvent::Published { id: 574, topic: String::new() })),
            event(1074, 0, EventKind::Send { msg }),
            event(
                3000,
                1,
                EventKind::Deliver {
                    pipe: 1,
                    depth: 1,
                    hwm: 1,
                    msg: MsgInfo { id: Some(499), ..msg },
                },
            ),
        ],
        healed_at: None,
        ended_at: Duration::from_secs(5),
        quiesced: false,
        faults: Vec::new(),
        compact: None,
    };
    let v = Violation::new(
        Duration::from_millis(1074),
        node(1),
        "message 574 published at 1074ms by client.0 never reached client.1",
    );
    assert_eq!(seqdiag::violating_index(&trace, &v), 1);
}

#[test]
fn compare_puts_the_designs_side_by_side() {
    let mut report = sweep().clone();
    report.kind = report::Kind::Compare;
    for (s, design) in report.sections.iter_mut().zip(["crashing", "steady"]) {
        s.design = Some(design.to_owned());
    }
    let html = report.to_html();
    assert!(html.contains(
        "data-required=\"graph verdicts sequence latency throughput depth drops compare\""
    ));
    let compare = &html[html.find("data-section=\"compare\"").expect("a compare section")..];
    let compare = &compare[..compare.find("</section>").expect("closed")];
    for design in ["crashing", "steady"] {
        assert!(compare.contains(&format!("<td>{design}</td>")), "a row for {design}");
    }
    assert_eq!(compare.matches("<svg").count(), 2, "latency and throughput on shared axes");
    assert!(
        !sweep().to_html().contains("data-section=\"compare\""),
        "only compare reports have it"
    );
}

/// What the browser's self-check asks of a page, asked of its text: every section the
/// report requires has a drawing or a table cell, and the JSON gives the same page
/// every time it is read back.
fn assert_page_complete(report: &Report, must: &[&str]) {
    let html = report.to_html();
    let required = required(report);
    for name in must {
        assert!(
            required.contains(name),
            "{:?} report requires `{name}`: {required:?}",
            report.kind
        );
    }
    assert!(html.contains(&format!("data-required=\"{}\"", required.join(" "))));
    for name in &required {
        let marker = format!("data-section=\"{name}\"");
        let drawn = html.match_indices(&marker).any(|(at, _)| {
            let rest = &html[at + marker.len()..];
            let body = &rest[..rest.find("data-section=").unwrap_or(rest.len())];
            body.contains("<svg") || body.contains("<td")
        });
        assert!(drawn, "{:?} report: section `{name}` is empty", report.kind);
    }
    let json = report.to_json();
    let back: Report = serde_json::from_str(&json).expect("the JSON reads back");
    assert_eq!(back.to_json(), json, "the JSON writes the same bytes again");
    let again: Report = serde_json::from_str(&json).expect("the JSON reads back");
    assert!(back.to_html() == html && again.to_html() == html, "JSON to HTML, the same bytes");
}

#[test]
fn a_real_report_draws_its_failures_from_the_traces_it_kept() {
    let registry = Registry::builtin();
    let written = load_scenario(&root().join("scenarios/broken/lossy-worker.yaml"), &registry);
    let written = written.plan.expect("lossy-worker resolves");
    let opts = RealOptions { time_scale: 0.2, ..RealOptions::default() };
    let as_run = scaled(&written, opts.time_scale);
    let measured = Measurements::default();
    // As `cargo xtask real` does: measure each run, keep a trace only if it failed.
    let jobs = [Job { plan: &written, seed: 1 }];
    let reports = run_many_real(&jobs, &registry, 1, opts, true, &|r: &mut RunReport| {
        measured.add(&as_run, r.trace.as_ref().expect("asked for"));
        if !r.invariants.iter().any(|o| o.verdict == Verdict::Fail) {
            r.trace = None;
        }
    });
    assert_eq!(reports[0].error, None, "lossy-worker ran over real TCP");
    let skipped = [("comet-100k".to_owned(), "needs simulated time".to_owned())];
    let report = real_report(
        "cargo xtask real test".into(),
        std::slice::from_ref(&as_run),
        &registry,
        &reports,
        &measured,
        &skipped,
    );
    assert_eq!(report.kind, Kind::Real);
    assert_eq!(report.runs[0]["backend"], "real", "the runs keep their JSON rows");
    let section = &report.sections[0];
    let lost = section.verdicts.iter().find(|v| v.invariant == "no_lost_replies").unwrap();
    assert!(lost.fail == 1, "the worker drops every fifth request on any network");
    let d = &section.sequences[0];
    assert!(d.repro.starts_with("cargo xtask real ") && d.repro.ends_with("--time-scale 0.2"));
    assert!(d.rows.iter().any(|r| r.violating), "drawn from the kept trace");
    assert!(report.to_html().contains("real time (s)"), "time axes say which clock");
    assert_page_complete(&report, &["sequence", "latency", "summary"]);
}

#[test]
fn a_compare_report_has_a_section_per_design_and_the_same_figures_side_by_side() {
    let registry = Registry::builtin();
    let plans = [
        ("lru-broker", plan("lru-worker-crash.yaml")),
        ("ppp-broker", plan("ppp-worker-crash.yaml")),
    ];
    let ran: Vec<(Row, Vec<RunReport>)> = plans
        .iter()
        .map(|(design, plan)| {
            let jobs: Vec<Job<'_>> = SEEDS.iter().map(|&seed| Job { plan, seed }).collect();
            let reports = run_many_with(&jobs, &registry, 2, true, &|_| {});
            (Row::of(design, Backend::Sim, &reports), reports)
        })
        .collect();
    let entries: Vec<Entry<'_>> = ran
        .iter()
        .zip(&plans)
        .map(|((row, reports), (_, plan))| Entry { row, plan, reports, repro: "again" })
        .collect();
    let report = compare_report("cargo xtask compare test".into(), "crash", &entries, &registry);
    assert_eq!(report.kind, Kind::Compare);
    assert_eq!(report.runs.len(), 2 * SEEDS.len());
    assert_eq!(report.runs[0]["design"], "lru-broker");
    let html = report.to_html();
    for ((row, _), section) in ran.iter().zip(&report.sections) {
        assert_eq!(section.design.as_deref(), Some(row.design.as_str()));
        let requests = section.requests.as_ref().expect("request figures");
        assert_eq!((requests.served, requests.sends), (row.metrics.served, row.metrics.sends));
        let served = format!("<td class=\"n\">{} / {}</td>", requests.served, requests.issued);
        assert!(html.contains(&served), "the terminal's served / issued for {}", row.design);
        assert!(requests.sends > requests.served && requests.busy_us > 0);
    }
    let lru = &report.sections[0];
    assert!(!lru.sequences.is_empty(), "the LRU broker loses a job when a worker dies");
    assert_eq!(lru.sequences[0].repro, "again", "a design's repro runs that design");
    assert_eq!(lru.verdicts[0].failures[0].repro, "again");
    assert_page_complete(&report, &["compare", "sequence", "latency"]);
}

#[test]
fn an_explore_report_shows_the_search_and_draws_the_shrunk_case() {
    let registry = Registry::builtin();
    let dir = TempDir::new("explore");
    let scenario = root().join("scenarios/broken/lossy-worker.yaml");
    let base = Base::load(&scenario, &registry, None, false).expect("lossy-worker resolves");
    let opts = Options {
        cases: 4,
        seed: 1,
        jobs: 2,
        max_faults: None,
        faults_only: false,
        out_dir: dir.path().to_path_buf(),
        shard: None,
    };
    let outcome = explore::explore(&base, &registry, &opts, &|_, _| {});
    let finding = outcome.finding.as_ref().expect("the lossy worker is found at once");
    let case = explore::write_finding(&base, finding, &opts, "test").expect("written");
    let report = explore_report("test".into(), &base, &outcome, finding, &case, &registry)
        .expect("the written case loads");
    assert_eq!(report.kind, Kind::Explore);
    let [search, sizes] = &report.tables[..] else { panic!("{:?}", report.tables) };
    assert!(search.rows.iter().any(|r| r[0] == "cases to find the failure"));
    assert_eq!(sizes.rows[0], ["faults", &finding.original_failure.faults.to_string(), "0"]);
    let section = &report.sections[0];
    assert_eq!(section.seeds, 1, "the shrunk case, run once");
    assert_eq!(section.sequences[0].invariant, "no_lost_replies");
    assert!(section.sequences[0].repro.contains(&case.display().to_string()));
    let written = report::write_pair(&case.with_extension("json"), &report).expect("beside it");
    assert_eq!(written, case.with_extension("html"));
    assert_page_complete(&report, &["summary", "sequence"]);
}

/// Regression (issue 11's `in: any`): the page judged a section by its per-seed
/// count alone, so an `in: any` sweep in which every seed passed, and so no seed
/// showed the expected bug, was painted "as expected".
#[test]
fn an_in_any_sweep_that_shows_its_outcome_in_no_seed_is_not_painted_as_expected() {
    use patchbay::plan::{Expect, ExpectIn};
    let registry = Registry::builtin();
    let with_any = |name: &str| {
        let mut p = plan(name);
        p.expect = Expect::Violated(vec!["no_lost_replies".into()]);
        p.expect_bounds.seeds = ExpectIn::Any;
        p
    };
    // lru-steady loses nothing; lru-worker-crash loses a request in every seed.
    let plans = vec![with_any("lru-steady.yaml"), with_any("lru-worker-crash.yaml")];
    let jobs: Vec<Job<'_>> = plans.iter().map(|p| Job { plan: p, seed: 1 }).collect();
    let reports = run_many_with(&jobs, &registry, 2, false, &|_| {});
    let measured = Measurements::default();
    let report = sim_report("cargo xtask sim test".into(), &plans, &registry, &reports, &measured);
    let [steady, crash] = &report.sections[..] else { panic!("two sections") };

    assert_eq!((steady.as_expected, steady.seeds), (1, 1), "the passing seed is consistent");
    assert_eq!(steady.sweep_as_expected, Some(false), "but no seed showed the bug");
    assert!(!steady.ended_as_expected());
    assert!(steady.expected.contains("in any seed"), "{}", steady.expected);
    let lost = |s: &patchbay::report::Section| {
        s.verdicts.iter().find(|v| v.invariant == "no_lost_replies").cloned().unwrap()
    };
    assert_eq!(lost(steady).expected, "fail in any seed");
    assert!(!lost(steady).as_expected(), "no seed failed it");

    assert_eq!(crash.sweep_as_expected, Some(true));
    assert!(crash.ended_as_expected() && lost(crash).as_expected());

    let html = report.to_html();
    assert_eq!(html.matches("expected outcome shown in no seed").count(), 1, "only lru-steady");
}

/// Issue 16: every run's report says its peak memory per replica, beside a seed's own
/// "bytes per connection". Where the kernel keeps the mark (Linux), each run row holds
/// it, and the page shows each scenario's largest.
#[test]
fn each_run_reports_its_peak_memory_per_replica_and_the_page_shows_it() {
    if !std::path::Path::new("/proc/self/status").exists() {
        return; // Elsewhere the figure is absent by design (run/memory.rs).
    }
    let report = sweep();
    let crash = plan("lru-worker-crash.yaml");
    let replicas = crash.topology.groups.iter().map(|g| u64::from(g.count)).sum::<u64>();
    let row = &report.runs[0];
    assert_eq!(row["scenario"], "lru-worker-crash");
    let memory = &row["memory"];
    let peak = memory["peak_rss_bytes"].as_u64().expect("a peak");
    assert!(peak > 1 << 20, "{peak} bytes");
    assert_eq!(memory["replicas"].as_u64(), Some(replicas));
    assert_eq!(memory["per_replica_bytes"].as_u64(), Some(peak / replicas));
    assert_eq!(memory["shared"], true, "the sweep ran two at a time");
    let html = report.to_html();
    assert_eq!(html.matches("Peak memory ").count(), 2, "once per scenario");
    assert!(html.contains("runs shared the process, so this is an upper bound"));

    // One at a time, the mark is reset before each run: its own peak.
    let registry = Registry::builtin();
    let steady = plan("lru-steady.yaml");
    let jobs = [Job { plan: &steady, seed: 1 }, Job { plan: &steady, seed: 2 }];
    let alone = run_many_with(&jobs, &registry, 1, false, &|_| {});
    for r in &alone {
        let m = r.memory.expect("measured");
        assert!(!m.shared, "seed {}: one run at a time", r.seed);
        assert!(m.text().contains("per replica") && !m.text().contains("upper bound"));
    }
}
