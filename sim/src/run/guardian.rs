//! The guardian: a `/bin/sh` process that kills this process's external programs
//! once it has ended, however it ended. patchbay kills every program at a run's end,
//! on a failure and on SIGINT, SIGTERM, SIGHUP and SIGQUIT (`process.rs`), but nothing
//! of a process runs when SIGKILL, the OOM killer or an abort ends it, and its
//! programs, in process groups of their own, would run on. `PR_SET_PDEATHSIG` would
//! need an unsafe `pre_exec`, which the workspace forbids (and would end the program
//! alone, not what it started).
//!
//! The first program's start starts the guardian ([`start_once`]), one per process,
//! with `/bin/sh`, which every Unix has. It runs in a process group of its own and
//! ignores INT, TERM, HUP and QUIT, so a terminal's Ctrl-C or a `kill` of patchbay's
//! group does not end it: only the end of its standard input does. That is a pipe
//! whose write end patchbay alone holds: std opens the parent's end close-on-exec, so
//! no program started later holds it (if one did, the guardian would never see the
//! end; the unit test checks). patchbay writes it a line per change, whole (a line is
//! far below `PIPE_BUF`):
//!
//! - `add PGID MARK` once a program started (its process group, and its mark in
//!   `MARK_VAR`);
//! - `reaped PGID MARK` once patchbay reaped the program's first process, which exited
//!   while the run went on;
//! - `remove PGID MARK` once patchbay killed the program (at its end, or on a signal
//!   that ends patchbay).
//!
//! When its input ends (patchbay ended, and the kernel closed the pipe, whatever ended
//! it), the guardian kills every program still listed and exits: SIGKILL to the group,
//! and on Linux, where `grep -z` reads `/proc/PID/environ`, to every process whose
//! environment holds `MARK_VAR=MARK` exactly (a child that left the group), looking
//! again until no new one turns up (at most ten times, for a program that forks).
//! After a normal end nothing is listed, and it exits at once.
//!
//! A group's number is its leader's process id, which the kernel deals again once the
//! leader is reaped and the group empty: a listed group could then be a stranger's.
//! So a group is killed as it stands only while patchbay has not reaped its leader (no
//! other process can hold the number then); one whose leader was reaped is killed
//! only where a process in it still carries the program's mark, on Linux, which makes
//! it the program's beyond doubt, and elsewhere not at all (a child of the program
//! left in such a group then outlives a SIGKILL of patchbay: killing a stranger's
//! group would be worse). The one race left: patchbay reaps a leader and dies before
//! its `reaped` or `remove` line is written (microseconds: nothing is awaited
//! between), or dies with a killed leader not yet reaped, which whoever adopts it
//! reaps at once; in either the number is free in the milliseconds before the
//! guardian's kill, and for that kill to reach a stranger the kernel would have to
//! deal every other process id in between, to a process that leads a group of its own.
//!
//! What still escapes a SIGKILL of patchbay: a process that left its program's group
//! and dropped the mark from its environment (the guardian does not follow parents, as
//! `kill_trees` does), and on a system without `/proc` any that left the group; a
//! program in the microseconds between its start and its `add` line; and every
//! program when the guardian could not start (no `/bin/sh`) or ended early (killed by
//! hand), which patchbay notes once on its standard error.

use std::io::Write as _;
use std::os::unix::process::CommandExt as _;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use super::process::MARK_VAR;

/// The guardian's name: its `argv[0]`, which `ps -ef`, `ps aux` and `ps -o args`
/// show first (`patchbay-guardian -c <script> patchbay-guardian PATCHBAY_PROGRAM
/// <pid>`), and its `$0`, followed by `MARK_VAR` and patchbay's process id, which
/// tells one patchbay's guardian from another's. Its command name (`comm`, what `ps
/// -e`, `ps -o comm` and a plain `pgrep` match) stays `sh`, the program's file:
/// `pgrep -f patchbay-guardian` finds it.
const NAME: &str = "patchbay-guardian";

/// What `/bin/sh` runs (`sh -c SCRIPT NAME MARK_VAR PID`). The list is one word per
/// program, `PGID:MARK:held` or `PGID:MARK:reaped`; a line that does not parse is
/// dropped, and a group of 0, 1 or with a leading zero is never listed (`kill -- -1`
/// would reach every process the user has). Every word the script splits is digits,
/// dots and colons, so no glob nor `IFS` surprise can come of it. It says `armed` on
/// its standard output once its `trap` is set, which [`Guardian::start`] waits for.
const SCRIPT: &str = r#"
trap '' INT TERM HUP QUIT
echo armed
exec >/dev/null
var=$1
live=
while read -r verb pgid mark; do
  case $pgid in ''|0*|1|*[!0-9]*) continue ;; esac
  case $mark in ''|*[!0-9.]*) continue ;; esac
  case $verb in
  add) live="$live $pgid:$mark:held" ;;
  reaped|remove)
    kept=
    for e in $live; do
      case $e in
      "$pgid:$mark:"*) [ "$verb" = remove ] || kept="$kept $pgid:$mark:reaped" ;;
      *) kept="$kept $e" ;;
      esac
    done
    live=$kept ;;
  esac
done
[ -n "$live" ] || exit 0
scan=
[ -r /proc/self/environ ] && printf 'x\0' | grep -qzxF x 2>/dev/null && scan=1
round=0
while [ "$round" -lt 10 ]; do
  round=$((round + 1))
  found=
  ours=' '
  if [ -n "$scan" ]; then
    set --
    for e in $live; do m=${e#*:}; set -- "$@" -e "$var=${m%:*}"; done
    found=$(grep -lszxF "$@" /proc/[0-9]*/environ)
    for f in $found; do
      p=${f#/proc/}
      read -r stat 2>/dev/null <"/proc/${p%/environ}/stat" || continue
      set -- ${stat##*)}
      ours="$ours$3 "
    done
  fi
  for e in $live; do
    g=${e%%:*}
    case $e:$round:$ours in
    *:held:1:*|*" $g "*) kill -s KILL -- "-$g" 2>/dev/null ;;
    esac
  done
  for f in $found; do p=${f#/proc/}; kill -s KILL "${p%/environ}" 2>/dev/null; done
  [ -n "$found" ] || break
done
"#;

/// This process's guardian, once a program has started.
static GUARDIAN: Mutex<State> = Mutex::new(State::Unstarted);

#[derive(Debug)]
enum State {
    /// No program has started yet.
    Unstarted,
    /// Told of every program.
    Watching(Guardian),
    /// It could not start, or a line did not reach it: said once, and the programs
    /// run as they would without it.
    Lost,
}

fn state() -> MutexGuard<'static, State> {
    GUARDIAN.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts this process's guardian unless it has started (or failed to) before: called
/// at every program's start, before the program.
pub(super) fn start_once() {
    let mut state = state();
    if matches!(*state, State::Unstarted) {
        *state = match Guardian::start() {
            Ok(guardian) => State::Watching(guardian),
            Err(e) => {
                unguarded(&format!("patchbay could not start its guardian (`/bin/sh`: {e})"));
                State::Lost
            }
        };
    }
}

/// Lists a program that started: its process group and its mark.
pub(super) fn watch(pgid: i32, mark: &str) {
    tell("add", pgid, mark);
}

/// Says that patchbay reaped the program's first process, so its group's number may
/// be dealt again: the guardian kills the group only if it still holds the mark.
pub(super) fn reaped(pgid: i32, mark: &str) {
    tell("reaped", pgid, mark);
}

/// Takes a program patchbay killed off the list.
pub(super) fn forget(pgid: i32, mark: &str) {
    tell("remove", pgid, mark);
}

fn tell(verb: &str, pgid: i32, mark: &str) {
    let mut state = state();
    if let State::Watching(guardian) = &mut *state
        && let Err(e) = guardian.tell(verb, pgid, mark)
    {
        unguarded(&format!("patchbay's guardian ended early ({e})"));
        // Its input is closed, so it has ended or is ending: reaped, it leaves no zombie.
        let _ = guardian.child.kill();
        let _ = guardian.child.wait();
        *state = State::Lost;
    }
}

/// Says, once, that the programs run without a guardian; never fails.
fn unguarded(why: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(
        err,
        "note: {why}: a SIGKILL of patchbay would leave its external programs running"
    );
}

/// A running guardian and the write end of its input.
#[derive(Debug)]
struct Guardian {
    /// Reaped only if it ends early ([`tell`]): else it ends after patchbay has.
    child: Child,
    input: ChildStdin,
}

impl Guardian {
    /// Starts the guardian and waits until it is armed (its `trap` set), so no signal
    /// sent after this returns can end it.
    fn start() -> std::io::Result<Guardian> {
        use std::io::BufRead as _;

        let pid = std::process::id().to_string();
        let mut child = Command::new("/bin/sh")
            // Named first in `ps`, not `/bin/sh -c` and a page of script (the audit
            // found it only with `pgrep -f`).
            .arg0(NAME)
            .args(["-c", SCRIPT, NAME, MARK_VAR, &pid])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            // Holding no folder busy, and out of every group a signal to patchbay's reaches.
            .current_dir("/")
            .process_group(0)
            .spawn()?;
        let input = child.stdin.take().expect("piped");
        let mut said = String::new();
        let out = child.stdout.take().expect("piped");
        std::io::BufReader::new(out).read_line(&mut said)?;
        if said != "armed\n" {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::other(format!("it said {said:?}, not `armed`")));
        }
        Ok(Guardian { child, input })
    }

    /// Writes one line, whole, in one write.
    fn tell(&mut self, verb: &str, pgid: i32, mark: &str) -> std::io::Result<()> {
        self.input.write_all(format!("{verb} {pgid} {mark}\n").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead as _, BufReader};
    use std::time::Duration;

    use super::*;

    /// A guard on every wait, not a wait itself.
    const GUARD: Duration = Duration::from_secs(20);

    /// Whether `pid` has ended within `GUARD` (a zombie has): its pidfd turns readable
    /// when it does.
    #[cfg(target_os = "linux")]
    fn ended_within_guard(pid: u32) -> bool {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        use rustix::process::{Pid, PidfdFlags, pidfd_open};

        let pid = Pid::from_raw(i32::try_from(pid).expect("a pid")).expect("not 0");
        let Ok(fd) = pidfd_open(pid, PidfdFlags::empty()) else { return true };
        let guard = Timespec::try_from(GUARD).expect("a short guard");
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        poll(&mut fds, Some(&guard)).expect("poll") == 1
    }

    /// The guardian ignores the signals that end patchbay, and at the end of its input
    /// kills the groups still listed and the processes carrying their marks, but not a
    /// group taken off the list, nor one whose leader was reaped and in which no
    /// process carries the mark any more (its number could be a stranger's).
    #[cfg(target_os = "linux")]
    #[test]
    fn at_the_end_of_its_input_the_guardian_kills_what_is_listed_and_nothing_else() {
        use std::os::fd::AsRawFd as _;

        use rustix::process::{Pid, Signal, kill_process, kill_process_group};

        /// Whether `pid` has ended: gone, or a zombie.
        fn ended(pid: i32) -> bool {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return true;
            };
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            state.is_none_or(|s| s.starts_with('Z') || s.starts_with('X'))
        }
        /// `sh -c script` in a process group of its own, carrying `mark`.
        fn program(script: &str, mark: &str) -> Child {
            let mut sh = Command::new("sh");
            sh.args(["-c", script]).env(MARK_VAR, mark).stdin(Stdio::null());
            sh.stdout(Stdio::piped()).process_group(0).spawn().expect("sh starts")
        }
        /// Runs `script`, which starts a child and prints its pid, to its end (its
        /// leader reaped, the child left in its group); the leader's pid and the child's.
        fn leaving_a_child(script: &str, mark: &str) -> (i32, i32) {
            let mut leader = program(script, mark);
            let mut line = String::new();
            let stdout = leader.stdout.as_mut().expect("piped");
            BufReader::new(stdout).read_line(&mut line).expect("read");
            leader.wait().expect("reaped");
            (pid(&leader), line.trim().parse().expect("a pid"))
        }
        fn pid(child: &Child) -> i32 {
            i32::try_from(child.id()).expect("a pid")
        }

        let me = std::process::id();
        let marks = [0, 1, 2, 3].map(|n| format!("{me}.{n}.7"));
        let mut g = Guardian::start().expect("the guardian starts");
        // Listed: killed. Its mark is carried too by a process in a group of its own,
        // which only the look at every process's environment finds.
        let mut listed = program("exec sleep 600", &marks[0]);
        let mut left_group = program("exec sleep 600", &marks[0]);
        // Listed, then taken off: spared.
        let mut removed = program("exec sleep 600", &marks[1]);
        // Its leader reaped, a child carrying the mark left in the group: killed.
        let (reaped, reaped_child) = leaving_a_child("sleep 600 & echo $!", &marks[2]);
        // Its leader reaped, a child without the mark left in the group: spared.
        // The child says its pid once the mark has left its environment, so the
        // guardian never looks at it while it still carries it.
        let unmarked = format!("env -u {MARK_VAR} sh -c 'echo $$; exec sleep 600' &");
        let (unmarked, unmarked_child) = leaving_a_child(&unmarked, &marks[3]);
        let groups = [pid(&listed), pid(&removed), reaped, unmarked];
        for (group, mark) in groups.iter().zip(&marks) {
            g.tell("add", *group, mark).expect("told");
        }
        g.tell("remove", pid(&removed), &marks[1]).expect("told");
        g.tell("reaped", reaped, &marks[2]).expect("told");
        g.tell("reaped", unmarked, &marks[3]).expect("told");
        // Lines that must not parse: never `kill -- -1`, nor a word for the shell.
        for bad in ["add 1 1.1", "add 01 1.1", "add 0 1.1", "add 5 1;x", "add -5 1.1"] {
            g.input.write_all(format!("{bad}\n").as_bytes()).expect("told");
        }
        // The crux: no program holds the write end of the guardian's input, or it
        // would never see its end. Each was started after the pipe was made.
        let end = std::fs::read_link(format!("/proc/self/fd/{}", g.input.as_raw_fd()));
        let end = end.expect("the pipe's name");
        for child in [&listed, &left_group, &removed] {
            let fds = std::fs::read_dir(format!("/proc/{}/fd", child.id())).expect("its fds");
            let mut links = fds.filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok());
            assert!(links.all(|l| l != end), "a program holds the guardian's input {end:?}");
        }
        // Armed once started (INT, HUP, QUIT and TERM ignored), so those signals to its
        // group leave it standing: else it would die and kill nothing.
        let status = std::fs::read_to_string(format!("/proc/{}/status", g.child.id()));
        let status = status.expect("its status");
        let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"));
        let ignored = mask.and_then(|m| u64::from_str_radix(m.trim(), 16).ok());
        assert!(
            ignored.is_some_and(|m| m & 0x4007 == 0x4007),
            "the guardian does not ignore INT, HUP, QUIT, TERM: {ignored:x?}"
        );
        let guardian = Pid::from_raw(pid(&g.child)).expect("not 0");
        for signal in [Signal::INT, Signal::TERM, Signal::HUP, Signal::QUIT] {
            kill_process_group(guardian, signal).expect("signalled");
        }
        let Guardian { mut child, input } = g;
        drop(input);
        let exited = ended_within_guard(child.id());
        let killed = (
            ended_within_guard(listed.id()),
            ended_within_guard(left_group.id()),
            ended_within_guard(reaped_child as u32),
        );
        // Looked at once the guardian has exited and what it killed has ended.
        let spared = (ended(pid(&removed)), ended(unmarked_child));
        for p in [pid(&listed), pid(&left_group), pid(&removed), reaped_child, unmarked_child] {
            let _ = kill_process(Pid::from_raw(p).expect("not 0"), Signal::KILL);
        }
        let _ = (listed.wait(), left_group.wait(), removed.wait());
        assert!(exited, "the guardian went on after the end of its input");
        assert_eq!(child.wait().expect("waited").code(), Some(0), "it ended by itself");
        assert_eq!(killed, (true, true, true), "listed, left its group, reaped leader's child");
        assert_eq!(spared, (false, false), "removed, reaped leader's unmarked child");
    }

    /// `ps` names the guardian: its arguments begin with `patchbay-guardian` (they
    /// began `/bin/sh -c` and its script, and only `pgrep -f` found it), and end with
    /// the mark's variable and patchbay's process id.
    #[cfg(target_os = "linux")]
    #[test]
    fn ps_shows_the_guardian_by_its_name() {
        let mut g = Guardian::start().expect("the guardian starts");
        let args = std::fs::read(format!("/proc/{}/cmdline", g.child.id()));
        let args = args.expect("its arguments");
        let args: Vec<String> =
            args.split(|&b| b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect();
        let _ = (g.child.kill(), g.child.wait());
        assert_eq!(args.first().map(String::as_str), Some(NAME), "{:?}", args.first());
        let me = std::process::id().to_string();
        assert_eq!(args[args.len() - 4..], [NAME, MARK_VAR, &me, ""], "{:?}", &args[3..]);
    }

    /// A guardian that ended early (killed by hand) fails the next line, without a
    /// panic: [`tell`] then notes it once and goes on without it.
    #[test]
    fn a_line_to_a_guardian_that_ended_fails_without_a_panic() {
        let mut g = Guardian::start().expect("the guardian starts");
        g.child.kill().expect("killed");
        g.child.wait().expect("waited");
        // A process another test starts at this moment may hold the read end for the
        // instant between its fork and its exec: the line is told once no reader is
        // left, which a poll for nothing but an error on the write end says.
        #[cfg(target_os = "linux")]
        {
            use rustix::event::{PollFd, PollFlags, Timespec, poll};
            let guard = Timespec::try_from(GUARD).expect("a short guard");
            let mut fds = [PollFd::new(&g.input, PollFlags::empty())];
            assert_eq!(poll(&mut fds, Some(&guard)).expect("poll"), 1, "a reader stayed");
        }
        assert!(g.tell("add", 12_345, "1.2.3").is_err(), "the line went in");
    }
}
