//! `cat`: one of patchbay's sockets on real TCP, as nanocat (docs/cat.md). This file
//! reads the arguments into a socket and a script for `run::cat`, refusing any
//! combination that would do nothing or that the library lacks, and prints what
//! arrives in the chosen format, one message a line (but for `raw`).
//!
//! Exit codes: 0 done, 1 an error (a bind refused, output failed), 2 wrong arguments,
//! 3 a receive timed out, 4 a send timed out.

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::rc::Rc;

use bytes::Bytes;

use super::Ctx;
use super::args::{CatArgs, CatFormat, CatLibrary};
use super::error::Error;
use crate::plan::{Effective, EffectiveOptions, Library, Source};
use crate::run::cat::{BindFailed, CatEnd, CatOutput, CatScript, CatSocket, cat as play};
use crate::socket::{Linger, Msg, SocketOptions, SocketType, multipart};
use crate::spec::source::{ReadError, read_regular};

/// Exit code of an error that is not the arguments' (docs/cat.md): a bind the system
/// refused, output that could not be written.
pub const EXIT_ERROR: u8 = 1;
/// Exit code when no message arrived within `--recv-timeout`.
pub const EXIT_RECV_TIMEOUT: u8 = 3;
/// Exit code when a send could not leave within `--send-timeout`.
pub const EXIT_SEND_TIMEOUT: u8 = 4;

pub fn cat(ctx: &Ctx, args: CatArgs) -> Result<ExitCode, Error> {
    let socket_type = socket_type(&args);
    let library = library(args.library);
    let (socket, script) = match read(&args, socket_type, library) {
        Ok(read) => read,
        Err(message) => return ctx.usage_error("cat", &message),
    };
    let format = args.format.unwrap_or(CatFormat::Quoted);
    let out = Rc::new(Printer { format, frames: library == Library::ZeroMq });
    match play(&socket, &script, out) {
        Ok(CatEnd::Done) => Ok(ExitCode::SUCCESS),
        Ok(CatEnd::RecvTimedOut) => {
            errln!("cat: no message arrived within the receive timeout");
            Ok(ExitCode::from(EXIT_RECV_TIMEOUT))
        }
        Ok(CatEnd::SendTimedOut) => {
            errln!("cat: a send could not leave within the send timeout (is a peer there?)");
            Ok(ExitCode::from(EXIT_SEND_TIMEOUT))
        }
        // A closed pipe downstream (`cat ... | head -1`) is the reader's way to stop.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => match e.get_ref().and_then(|inner| inner.downcast_ref::<BindFailed>()) {
            Some(failed) => {
                // Named as typed: the addresses are distinct (`read` refused a repeat),
                // so the failed one is found among them.
                let at = socket.binds.iter().position(|a| *a == failed.addr);
                let url =
                    at.map_or_else(|| format!("tcp://{}", failed.addr), |i| args.bind[i].clone());
                errln!(
                    "cat: --bind {url}: cannot bind: {}; hint: {}",
                    failed.error,
                    bind_hint(&failed.error)
                );
                Ok(ExitCode::from(EXIT_ERROR))
            }
            None => Err(Error::msg(format!("cat: {e}"))),
        },
    }
}

/// How to get past a refused bind.
fn bind_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => {
            "another program holds that port; choose another port, or stop that program"
        }
        std::io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address; bind 127.0.0.1, `*`, or one of its own addresses"
        }
        std::io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges; choose a port from 1024 up"
        }
        _ => "check the address, or choose another port",
    }
}

/// The socket and script the arguments ask for, or what is wrong with them (with a
/// hint).
fn read(
    args: &CatArgs,
    socket_type: SocketType,
    library: Library,
) -> Result<(CatSocket, CatScript), String> {
    let flag = format!("--{}", socket_type.name().to_lowercase());
    if !library.has(socket_type) {
        return Err(format!(
            "{flag}: {} has no {socket_type} socket; hint: use --library nng or --library nanomsg",
            library.version()
        ));
    }
    let body = body(args)?;
    refuse_idle_options(args, socket_type, &flag, body.is_some())?;
    let binds = endpoints(&args.bind, true)?;
    let connects = endpoints(&args.connect, false)?;
    distinct(&args.bind, &binds, "--bind")?;
    distinct(&args.connect, &connects, "--connect")?;
    if binds.is_empty() && connects.is_empty() {
        return Err("nothing to talk to; hint: give --bind tcp://127.0.0.1:5555 or \
                    --connect tcp://127.0.0.1:5555"
            .to_owned());
    }
    let options = options(socket_type, library, args);
    let script = CatScript {
        body,
        interval: args.interval,
        delay: args.delay,
        count: args.count,
        recv_timeout: args.recv_timeout,
        send_timeout: args.send_timeout,
    };
    Ok((CatSocket { socket_type, options, binds, connects }, script))
}

/// Refuses every option the socket type would not act on, so none is accepted and
/// silently ignored.
fn refuse_idle_options(
    args: &CatArgs,
    t: SocketType,
    flag: &str,
    has_body: bool,
) -> Result<(), String> {
    use SocketType::*;
    let sends_only = matches!(t, Push | Pub);
    let receives_only = matches!(t, Pull | Sub);
    let needs_body = matches!(t, Push | Pub | Req | Surveyor);
    let sends = !receives_only && (has_body || matches!(t, Rep | Respondent | Router));
    let refuse = |what: &str, why: &str| Err(format!("{what}: {why}"));
    if needs_body && !has_body {
        return refuse(flag, "needs a message to send; hint: give --data TEXT or --file PATH");
    }
    if receives_only && has_body {
        return refuse("--data/--file", &format!("{flag} only receives; hint: drop it"));
    }
    if !args.subscribe.is_empty() && t != Sub {
        return refuse("--subscribe", "only a SUB subscribes; hint: use --sub");
    }
    let pacing = args.interval.is_some() || args.delay.is_some();
    if pacing && (!has_body || matches!(t, Rep | Respondent | Router)) {
        return refuse(
            "--interval/--delay",
            &format!("{flag} sends only to answer, or has nothing to send; hint: drop them"),
        );
    }
    if sends_only && (args.recv_timeout.is_some() || args.format.is_some()) {
        return refuse("--recv-timeout/--format", &format!("{flag} only sends; hint: drop it"));
    }
    if !sends && args.send_timeout.is_some() {
        return refuse("--send-timeout", &format!("{flag} sends nothing here; hint: drop it"));
    }
    Ok(())
}

/// The socket type flag given (clap has checked there is exactly one).
fn socket_type(args: &CatArgs) -> SocketType {
    use SocketType::*;
    let flags = [
        (args.req, Req),
        (args.rep, Rep),
        (args.pub_, Pub),
        (args.sub, Sub),
        (args.push, Push),
        (args.pull, Pull),
        (args.pair, Pair),
        (args.surveyor, Surveyor),
        (args.respondent, Respondent),
        (args.bus, Bus),
        (args.dealer, Dealer),
    ];
    flags.into_iter().find(|(on, _)| *on).map_or(Router, |(_, t)| t)
}

fn library(l: CatLibrary) -> Library {
    match l {
        CatLibrary::Zeromq => Library::ZeroMq,
        CatLibrary::Nng => Library::Nng,
        CatLibrary::Nanomsg => Library::Nanomsg,
    }
}

/// The library's defaults, with the subscriptions, the survey deadline and the
/// linger `cat` was given.
fn options(t: SocketType, library: Library, args: &CatArgs) -> SocketOptions {
    let chosen = Effective { value: Some(library), source: Source::Default("cat --library") };
    let mut options = EffectiveOptions::for_library(t, chosen).socket_options();
    options.subscribe = if args.subscribe.is_empty() {
        vec![Vec::new()]
    } else {
        args.subscribe.iter().map(|p| p.clone().into_encoded_bytes()).collect()
    };
    if let Some(deadline) = args.recv_timeout.filter(|_| t == SocketType::Surveyor) {
        options.survey_deadline = deadline;
    }
    if let Some(linger) = args.send_timeout {
        options.linger = Linger::For(linger);
    }
    options
}

/// The body from --data or --file, if either was given.
fn body(args: &CatArgs) -> Result<Option<Bytes>, String> {
    if let Some(text) = &args.data {
        return Ok(Some(Bytes::from(text.clone().into_encoded_bytes())));
    }
    let Some(path) = &args.file else { return Ok(None) };
    read_file(path).map(|bytes| Some(Bytes::from(bytes)))
}

/// The largest `--file` sent: 64 MiB, 64 times the 1 MiB a nanomsg peer takes by
/// default (`rcvmaxsize`), room for a peer whose limit was raised or an NNG 1.11 or
/// libzmq peer (no limit by default), and far below the 4 GiB no patchbay socket
/// receives past (docs/limits.md). The whole file is held in memory to be sent.
pub const FILE_BYTES_MAX: u64 = 64 * 1024 * 1024;

/// The bytes of `--file PATH`: a regular file of at most [`FILE_BYTES_MAX`] bytes,
/// read as every file a user names is (`spec::source::read_regular`), so a device
/// (`/dev/zero`) or a FIFO is refused without a blocking open or a read until memory
/// runs out.
fn read_file(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let fail = |why: String| format!("--file {}: {why}", path.display());
    read_regular(path, FILE_BYTES_MAX).map_err(|err| match err {
        ReadError::Io(e) => fail(format!("{e}; hint: give a readable file")),
        ReadError::NotAFile(what) => fail(format!(
            "is {what}, not a regular file; hint: `cat` sends the bytes of a regular file, \
             read whole before the first send (save a stream to a file first), or of --data"
        )),
        ReadError::TooLarge(len) => {
            let size = len.map_or_else(String::new, |len| format!(" ({len} bytes)"));
            fail(format!(
                "is larger than the {FILE_BYTES_MAX} bytes (64 MiB) `cat` sends{size}; hint: a \
                 nanomsg peer takes 1 MiB by default, and few programs expect a message this \
                 large (docs/cat.md)"
            ))
        }
    })
}

fn endpoints(urls: &[String], bind: bool) -> Result<Vec<SocketAddr>, String> {
    urls.iter().map(|u| endpoint(u, bind)).collect()
}

/// Refuses an address given twice to one option (`tcp://localhost:5555` and
/// `tcp://127.0.0.1:5555` are one): a second bind of it fails as "address in use"
/// once the first has it, and a second connect to it is a second connection to the
/// same peer, which nobody asks for on purpose. For binds, `*` and an address of this
/// machine on one port overlap the same way. Port 0 asks for a port of the system's
/// choosing, a new one each time, so it may be bound more than once.
fn distinct(urls: &[String], addrs: &[SocketAddr], option: &str) -> Result<(), String> {
    for (i, addr) in addrs.iter().enumerate().filter(|(_, a)| a.port() != 0) {
        let overlaps = |other: &SocketAddr| {
            other == addr
                || (option == "--bind"
                    && other.port() == addr.port()
                    && (other.ip().is_unspecified() || addr.ip().is_unspecified()))
        };
        if let Some(first) = addrs[..i].iter().position(overlaps) {
            let (a, b) = (&urls[first], &urls[i]);
            return Err(if a == b {
                format!("{option} {a} is given twice; hint: give it once")
            } else {
                format!(
                    "{option} {a} and {option} {b} ask for the same address; hint: give it once"
                )
            });
        }
    }
    Ok(())
}

/// `tcp://HOST:PORT`: HOST an IPv4 address, `[IPv6]`, `localhost` (127.0.0.1), or for
/// a bind `*` (every address). No name lookup: the address is what was typed.
fn endpoint(url: &str, bind: bool) -> Result<SocketAddr, String> {
    let option = if bind { "--bind" } else { "--connect" };
    let fail = |why: &str| Err(format!("{option} {url:?}: {why}"));
    let Some(rest) = url.strip_prefix("tcp://") else {
        // No scheme at all is a TCP address short of its `tcp://`; another is not TCP.
        if !url.contains("://") {
            return fail(&format!("expected tcp://HOST:PORT; hint: write tcp://{url}"));
        }
        return fail(
            "expected tcp://HOST:PORT; hint: cat speaks TCP only (no ipc:// or inproc://)",
        );
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return fail("expected tcp://HOST:PORT; hint: add the port, e.g. tcp://127.0.0.1:5555");
    };
    let Ok(port) = port.parse::<u16>() else {
        return fail("the port is not a number from 0 to 65535");
    };
    let ip = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        "*" if bind => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        "*" => return fail("`*` only binds; hint: connect to an address, e.g. 127.0.0.1"),
        _ => match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
            Ok(ip) => ip,
            Err(_) => return fail("the host is not an IP address, `localhost` or `*`"),
        },
    };
    if port == 0 && !bind {
        return fail("cannot connect to port 0; hint: give the port the peer listens on");
    }
    Ok(SocketAddr::new(ip, port))
}

/// Prints to stdout (messages) and stderr (everything else).
#[derive(Debug)]
struct Printer {
    format: CatFormat,
    /// Whether bodies may carry ZeroMQ frames (a `zeromq` socket's multipart messages).
    frames: bool,
}

impl CatOutput for Printer {
    fn bound(&self, addrs: &[SocketAddr]) {
        for addr in addrs {
            errln!("cat: bound tcp://{addr}");
        }
    }

    fn message(&self, msg: &Msg) -> std::io::Result<()> {
        let frames =
            if self.frames { multipart::decode(&msg.body) } else { vec![msg.body.clone()] };
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&render(self.format, &frames))?;
        stdout.flush()
    }

    fn note(&self, text: &str) {
        errln!("cat: {text}");
    }
}

/// A message as `format` prints it. `ascii`, `quoted` and `hex` are nanocat's (-A,
/// -Q, --hex) and end with a newline; a multipart message's frames are printed one
/// after another, separated by a space (raw: back to back).
pub fn render(format: CatFormat, frames: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, frame) in frames.iter().enumerate() {
        if i > 0 && format != CatFormat::Raw {
            out.push(b' ');
        }
        match format {
            CatFormat::Raw => out.extend_from_slice(frame),
            CatFormat::Ascii => {
                out.extend(frame.iter().map(|&b| if printable(b) { b } else { b'.' }))
            }
            CatFormat::Quoted => quoted(frame, &mut out),
            CatFormat::Hex => {
                out.push(b'"');
                for b in frame.iter() {
                    out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
                }
                out.push(b'"');
            }
        }
    }
    if format != CatFormat::Raw {
        out.push(b'\n');
    }
    out
}

/// nanocat's -Q: `\n` and `\r` by name, `"` and `\` escaped, other unprintable bytes
/// as `\xHH`.
fn quoted(frame: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in frame {
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            b if printable(b) => out.push(b),
            b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// C's `isprint` in the C locale.
fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(format: CatFormat, frames: &[&[u8]]) -> String {
        let frames: Vec<Bytes> = frames.iter().map(|f| Bytes::copy_from_slice(f)).collect();
        String::from_utf8(render(format, &frames)).unwrap()
    }

    #[test]
    fn formats_print_as_nanocat_one_message_a_line() {
        let body: &[u8] = b"a\"b\\\n\r\x01\xff";
        assert_eq!(show(CatFormat::Quoted, &[body]), "\"a\\\"b\\\\\\n\\r\\x01\\xff\"\n");
        assert_eq!(show(CatFormat::Ascii, &[body]), "a\"b\\....\n");
        assert_eq!(show(CatFormat::Hex, &[b"hi"]), "\"\\x68\\x69\"\n");
        assert_eq!(show(CatFormat::Raw, &[b"hi"]), "hi");
        assert_eq!(show(CatFormat::Quoted, &[b"topic", b"body"]), "\"topic\" \"body\"\n");
    }

    #[test]
    fn endpoints_take_tcp_addresses_and_refuse_the_rest_with_a_hint() {
        assert_eq!(endpoint("tcp://127.0.0.1:5555", false), Ok("127.0.0.1:5555".parse().unwrap()));
        assert_eq!(endpoint("tcp://localhost:7", false), Ok("127.0.0.1:7".parse().unwrap()));
        assert_eq!(endpoint("tcp://*:7", true), Ok("0.0.0.0:7".parse().unwrap()));
        assert_eq!(endpoint("tcp://[::1]:7", false), Ok("[::1]:7".parse().unwrap()));
        let err = |url, bind| endpoint(url, bind).unwrap_err();
        assert!(err("ipc:///tmp/x", false).contains("TCP only"));
        assert!(err("tcp://*:7", false).contains("`*` only binds"));
        assert!(err("tcp://127.0.0.1", true).contains("add the port"));
        assert!(err("tcp://127.0.0.1:0", false).contains("port 0"));
        assert!(err("tcp://example.com:80", false).contains("not an IP address"));
    }
}
