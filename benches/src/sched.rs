//! What the scheduler did with a rig's threads: each thread's time on a CPU, its time
//! runnable but waiting for one, and how often it was moved between CPUs, read from
//! Linux's `/proc/self/task` before and after a run.
//!
//! On a machine with two cores a round trip through a device crosses three threads,
//! and a wake-up that crosses to the other core costs the waker and the woken far
//! more than the work between them (docs/peers.md). A thread's time on a CPU counts
//! that cost where it is paid (in `sendto`, waking the other core), so a device's
//! figure here says what a round trip cost its thread, kernel included, beside what
//! its instructions alone would. Reading `/proc` before and after the run, never
//! during it, adds no thread and no wake-up to what is measured. Elsewhere than Linux
//! nothing is read and nothing is printed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

/// What one thread of a rig cost during a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadCost {
    /// The thread's name as the kernel keeps it (at most 15 bytes).
    pub name: String,
    /// Time on a CPU a round trip, user and kernel, in microseconds.
    pub cpu_us: f64,
    /// Time runnable but waiting for a CPU a round trip, in microseconds.
    pub wait_us: f64,
    /// Times the scheduler moved it to another CPU during the run.
    pub migrations: u64,
}

/// What one thread's `/proc` entries say now.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    name: String,
    run_ns: u64,
    wait_ns: u64,
    migrations: u64,
}

/// The ids of this process's threads now; none where `/proc` has none.
pub fn threads() -> BTreeSet<u32> {
    task_ids().into_iter().collect()
}

/// The threads that exist now and did not in `before`: a rig's, when `before` was
/// taken just before it started.
pub fn started_since(before: &BTreeSet<u32>) -> Vec<u32> {
    task_ids().into_iter().filter(|tid| !before.contains(tid)).collect()
}

/// A reading of some threads taken before a run, finished by [`Reading::costs`].
#[derive(Debug)]
pub struct Reading {
    before: BTreeMap<u32, Seen>,
}

impl Reading {
    /// Reads `tids` now; a thread that has ended is left out.
    pub fn start(tids: &[u32]) -> Reading {
        Reading { before: tids.iter().filter_map(|&t| Some((t, seen(t)?))).collect() }
    }

    /// What each thread read at the start has cost since, over `round_trips`; a
    /// thread that has not run since (a library's idle helper) is left out.
    pub fn costs(&self, round_trips: u64) -> Vec<ThreadCost> {
        let per = |ns: u64| ns as f64 / 1e3 / round_trips.max(1) as f64;
        self.before
            .iter()
            .filter_map(|(&tid, then)| {
                let now = seen(tid)?;
                if now.run_ns == then.run_ns {
                    return None;
                }
                Some(ThreadCost {
                    name: now.name,
                    cpu_us: per(now.run_ns.saturating_sub(then.run_ns)),
                    wait_us: per(now.wait_ns.saturating_sub(then.wait_ns)),
                    migrations: now.migrations.saturating_sub(then.migrations),
                })
            })
            .collect()
    }
}

/// `queue:device 55.1 + 12.3 µs, 951 moves; ...`: each thread's time on a CPU and
/// time waiting for one, a round trip, and its moves in all.
pub fn describe(costs: &[ThreadCost]) -> String {
    let each: Vec<String> = costs
        .iter()
        .map(|c| {
            let moves = if c.migrations == 1 { "move" } else { "moves" };
            format!("{} {:.1} + {:.1} µs, {} {moves}", c.name, c.cpu_us, c.wait_us, c.migrations)
        })
        .collect();
    each.join("; ")
}

fn task_ids() -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc/self/task") else { return Vec::new() };
    let mut tids: Vec<u32> =
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    tids.sort_unstable();
    tids
}

fn seen(tid: u32) -> Option<Seen> {
    let read = |file: &str| fs::read_to_string(format!("/proc/self/task/{tid}/{file}")).ok();
    let name = read("comm")?.trim_end().to_owned();
    let (run_ns, wait_ns) = parse_schedstat(&read("schedstat")?)?;
    let migrations = parse_migrations(&read("sched")?)?;
    Some(Seen { name, run_ns, wait_ns, migrations })
}

/// Time on a CPU and time waiting on a run queue, in nanoseconds, from a `schedstat`
/// file: `run_ns wait_ns timeslices`.
fn parse_schedstat(schedstat: &str) -> Option<(u64, u64)> {
    let mut fields = schedstat.split_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

/// `se.nr_migrations` from a `sched` file.
fn parse_migrations(sched: &str) -> Option<u64> {
    sched.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "se.nr_migrations").then(|| value.trim().parse().ok())?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedstat_line_gives_time_on_a_cpu_and_waiting() {
        assert_eq!(parse_schedstat("190893455 11575873 358\n"), Some((190_893_455, 11_575_873)));
        assert_eq!(parse_schedstat("190893455\n"), None);
    }

    #[test]
    fn a_sched_file_gives_its_migrations() {
        let sched = "x (1, #threads: 1)\n---\nse.exec_start   :  3.0\nse.nr_migrations   :   17\n";
        assert_eq!(parse_migrations(sched), Some(17));
        assert_eq!(parse_migrations("se.exec_start : 3.0\n"), None);
    }

    /// A thread started after a first look is found by its name, and the time it
    /// spent on a CPU in between is counted: it spins for a few milliseconds.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_thread_started_since_is_found_and_its_cpu_time_counted() {
        let before = threads();
        let (go, wait_go) = std::sync::mpsc::channel::<()>();
        let (ready, is_ready) = std::sync::mpsc::channel::<()>();
        let (done, is_done) = std::sync::mpsc::channel::<()>();
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sched-test".into())
            .spawn(move || {
                ready.send(()).expect("the test waits");
                wait_go.recv().expect("the test says go");
                let spin = std::time::Instant::now();
                let mut x = 0u64;
                while spin.elapsed() < std::time::Duration::from_millis(20) {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                done.send(()).expect("the test waits");
                let _ = stopped.recv();
            })
            .expect("a thread starts");
        is_ready.recv().expect("the thread started");
        let new = started_since(&before);
        let reading = Reading::start(&new);
        go.send(()).expect("the thread waits");
        is_done.recv().expect("the thread spun");
        let costs = reading.costs(1);
        stop.send(()).expect("the thread waits");
        thread.join().expect("the thread ends");
        let ours: Vec<&ThreadCost> = costs.iter().filter(|c| c.name == "sched-test").collect();
        assert_eq!(ours.len(), 1, "{costs:?}");
        // 20 ms of spinning is at least 10 ms on a CPU on any machine that runs it.
        assert!(ours[0].cpu_us >= 10_000.0, "{costs:?}");
        assert!(!before.is_empty(), "this thread itself was seen");
    }

    #[test]
    fn each_thread_is_described_with_its_costs() {
        let cost = |name: &str, migrations| ThreadCost {
            name: name.into(),
            cpu_us: 55.06,
            wait_us: 2.0,
            migrations,
        };
        assert_eq!(
            describe(&[cost("a", 1), cost("b", 951)]),
            "a 55.1 + 2.0 µs, 1 move; b 55.1 + 2.0 µs, 951 moves"
        );
    }
}
