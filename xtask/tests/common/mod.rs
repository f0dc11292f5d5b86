//! What the binary-level tests share: the workspace root they run the xtask binary
//! from, a scratch folder removed when the test ends, the binary run in a folder, a
//! command's output read up to a line, and whether a process a test started has
//! ended. Each test file that needs
//! them says `mod common;`; not every file uses every item.

#![allow(dead_code, reason = "each test binary uses its own part of this module")]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output};
use std::time::Duration;

use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags, pidfd_open};

/// A topology of two `pair-step` nodes, `a` connecting to `b`: the smallest project
/// a test writes a scenario over.
pub const PAIR_TOPOLOGY: &str = "name: pair\nnodes:\n\
    \x20 - name: a\n    design: pair-step\n    sockets:\n\
    \x20     - {name: next, type: PAIR, connect: b.prev}\n\
    \x20 - name: b\n    design: pair-step\n    sockets:\n\
    \x20     - {name: prev, type: PAIR, bind: true}\n";

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// A fresh folder under the system's temporary one, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("patchbay-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        TempDir(dir)
    }

    /// `name` in the folder, as an argument.
    pub fn at(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The xtask binary run with `args` in `dir`, to its end.
pub fn xtask_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the xtask binary runs")
}

/// Whether `pid` has ended within `guard` (a zombie, not yet reaped by whoever
/// adopted it, has ended): its pidfd turns readable when it does. A guard, not a
/// wait: a SIGKILLed process ends as soon as it is next scheduled.
pub fn ended_within(pid: i32, guard: Duration) -> bool {
    let pid = Pid::from_raw(pid).expect("not 0");
    let fd = match pidfd_open(pid, PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(Errno::SRCH) => return true,
        Err(e) => panic!("pidfd_open({pid:?}): {e}"),
    };
    let guard = Timespec::try_from(guard).expect("a short guard");
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    poll(&mut fds, Some(&guard)).expect("poll") == 1
}

/// Reads `child`'s standard output up to the line starting with `line`; what it read.
pub fn read_until(child: &mut Child, line: &str) -> (BufReader<ChildStdout>, String) {
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut printed = String::new();
    loop {
        let mut next = String::new();
        let n = stdout.read_line(&mut next).expect("read stdout");
        assert!(n > 0, "the command ended before `{line}`: {printed}");
        printed += &next;
        if next.starts_with(line) {
            return (stdout, printed);
        }
    }
}
