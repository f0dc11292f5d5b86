//! `cat`'s arguments as a hostile user gives them: a bind the system refuses names
//! the `--bind` (exit 1, as docs/cat.md says, and not as an internal error), an
//! address given twice, a device or FIFO or oversized `--file`, and a time past the
//! bound are refused up front (exit 2) saying what is wrong, and a `--subscribe`
//! prefix may be any bytes. Every address is on 127.0.0.1, every wait short, and every
//! process started here ends before its test does.

use std::io::{BufRead as _, BufReader};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn cat_run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("cat")
        .args(args)
        .output()
        .expect("the xtask binary runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// A fresh temporary folder for the test `name`.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("patchbay-cat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    dir
}

/// A child process killed when the test ends, pass or fail.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_refused_bind_names_the_bind_and_is_no_internal_error() {
    let held = TcpListener::bind("127.0.0.1:0").expect("a port to hold");
    let taken = format!("tcp://127.0.0.1:{}", held.local_addr().unwrap().port());
    let (code, _, stderr) =
        cat_run(&["--rep", "--bind", "tcp://127.0.0.1:0", "--bind", &taken, "--recv-timeout", "1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cat: --bind {taken}: cannot bind: Address already in use")),
        "{stderr}"
    );
    assert!(stderr.contains("hint: another program holds that port"), "{stderr}");
    assert!(!stderr.contains("internal error"), "{stderr}");
}

#[test]
fn an_address_given_twice_is_refused_before_anything_binds() {
    let url = "tcp://127.0.0.1:47211";
    let (code, _, stderr) =
        cat_run(&["--rep", "--bind", url, "--bind", url, "--recv-timeout", "1"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--bind tcp://127.0.0.1:47211 is given twice"), "{stderr}");
    assert!(!stderr.contains("cat: bound"), "nothing was bound: {stderr}");
    // Two spellings of one address, and `*` over an address of this machine, are one.
    for (a, b) in [("tcp://localhost:47211", url), ("tcp://*:47211", url)] {
        let (code, _, stderr) = cat_run(&["--rep", "--bind", a, "--bind", b]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("--bind {a} and --bind {b} ask for the same address")),
            "{stderr}"
        );
    }
    let (code, _, stderr) = cat_run(&[
        "--pull",
        "--connect",
        "tcp://127.0.0.1:47212",
        "--connect",
        "tcp://localhost:47212",
    ]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("ask for the same address"), "{stderr}");
    // Port 0 is a new port each time, so it may be asked for twice.
    let (code, _, stderr) = cat_run(&[
        "--pull",
        "--bind",
        "tcp://127.0.0.1:0",
        "--bind",
        "tcp://127.0.0.1:0",
        "--recv-timeout",
        "0.1",
    ]);
    assert_eq!(code, Some(3), "{stderr}");
    assert_eq!(stderr.matches("cat: bound tcp://127.0.0.1:").count(), 2, "{stderr}");
}

#[test]
fn a_file_that_is_not_a_regular_file_or_too_large_is_refused_before_it_is_read() {
    let send = |file: &str| {
        cat_run(&[
            "--push",
            "--connect",
            "tcp://127.0.0.1:47213",
            "--file",
            file,
            "--send-timeout",
            "0.1",
        ])
    };
    // /dev/zero was read until memory ran out.
    let (code, _, stderr) = send("/dev/zero");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--file /dev/zero: is a device, not a regular file"), "{stderr}");

    let dir = scratch("file");
    let fifo = dir.join("fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    // Opening a FIFO with no writer would block: refused from its metadata.
    let (code, _, stderr) = send(fifo.to_str().unwrap());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("is a named pipe (FIFO), not a regular file"), "{stderr}");

    let big = dir.join("big");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(64 * 1024 * 1024 + 1).unwrap(); // sparse: no 64 MiB written
    let (code, _, stderr) = send(big.to_str().unwrap());
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("is larger than the 67108864 bytes (64 MiB) `cat` sends (67108865 bytes)"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn times_past_the_bound_say_what_the_bound_is() {
    for option in ["--recv-timeout", "--interval"] {
        let (code, _, stderr) =
            cat_run(&["--req", "--connect", "tcp://127.0.0.1:47214", option, "1e9"]);
        assert_eq!(code, Some(2), "{stderr}");
        assert!(stderr.contains("above 0 and below 1000000000 (about 31 years)"), "{stderr}");
    }
    let (code, _, stderr) =
        cat_run(&["--req", "--connect", "tcp://127.0.0.1:47214", "--delay", "1e18"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("from 0 to below 1000000000 (about 31 years)"), "{stderr}");
}

/// An address without a scheme is a TCP address short of `tcp://`: the hint writes
/// it whole (it said "no ipc:// or inproc://", which was not what was missing).
/// Another scheme still hears that cat speaks TCP only.
#[test]
fn an_address_without_a_scheme_is_shown_with_tcp_in_front() {
    let (code, _, stderr) = cat_run(&["--req", "--connect", "127.0.0.1:5555", "--data", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("hint: write tcp://127.0.0.1:5555"), "{stderr}");
    assert!(!stderr.contains("inproc://"), "{stderr}");
    let (code, _, stderr) = cat_run(&["--req", "--connect", "ipc:///tmp/x", "--data", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cat speaks TCP only (no ipc:// or inproc://)"), "{stderr}");
}

#[test]
fn a_connect_that_fails_says_which_and_why() {
    // A port nobody listens on: bound by the system, then let go.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("tcp://127.0.0.1:{port}");
    let (code, _, stderr) =
        cat_run(&["--push", "--connect", &url, "--data", "x", "--send-timeout", "0.3"]);
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains(&format!("cat: cannot connect to {url}: Connection refused")),
        "{stderr}"
    );
    assert_eq!(stderr.matches("cannot connect").count(), 1, "noted once, not per retry: {stderr}");
}

#[test]
fn a_subscription_prefix_may_be_any_bytes() {
    // Not UTF-8: clap once refused it as "invalid UTF-8 was detected in one or more
    // arguments". The SUB binds; the PUB sends a message that starts with the prefix.
    let prefix = std::ffi::OsStr::from_bytes(b"b\xffd");
    let mut sub = Reaped(
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["cat", "--sub", "--bind", "tcp://127.0.0.1:0", "--count", "1"])
            .args(["--recv-timeout", "10", "--subscribe"])
            .arg(prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the xtask binary runs"),
    );
    let mut lines = BufReader::new(sub.0.stderr.take().unwrap()).lines();
    let bound = lines.next().expect("a line").expect("text");
    let url = bound.strip_prefix("cat: bound ").unwrap_or_else(|| panic!("{bound}")).to_owned();
    let body = std::ffi::OsStr::from_bytes(b"b\xffd-news");
    let mut publisher = Reaped(
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args(["cat", "--pub", "--connect", &url, "--interval", "0.05", "--count", "100"])
            .arg("--data")
            .arg(body)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the xtask binary runs"),
    );
    let status = sub.0.wait().expect("the SUB ends");
    let _ = publisher.0.kill();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut sub.0.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    assert_eq!(stdout, "\"b\\xffd-news\"\n");
}
