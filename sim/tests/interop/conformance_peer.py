"""The real libraries' side of the conformance suite (sim/tests/conformance.rs).

Usage: conformance_peer.py oracle ROW
       conformance_peer.py peer ROW [--connect URL | --port P]

`oracle ROW` runs the row's experiment with the real library on both sides (libzmq
4.3.5 through pyzmq 26.2.0, NNG 1.11 through pynng 0.9.0) and prints one line,
"OUTCOME <text>", the observable outcome in the words the Rust side uses, then
"TIME <name> <ms>" lines for the timings the row states a tolerance for.

`peer ROW` plays the real library's side against patchbay over real TCP, speaking a
line protocol on stdout ("READY <port>", "GOT <body>", ...) and reading commands on
stdin, so the Rust side waits for events, never for time. Every receive times out
(30 s) so a broken row fails instead of hanging. A few steps wait on purpose: an
observation window in which nothing may arrive, and a respondent that answers late;
those are the experiment, not waits for something to happen.

Rows:
  zmq-req-stuck        libzmq REQ; its REP dies after taking the request, a new REP
                       binds the same port: nothing is resent, the REQ stays stuck
  nng-req-resend       NNG REQ, same story: the request reaches the new REP
  nng-req-cancel       NNG REQ sends a second request before the first's reply;
                       the REP answers the first late, then the second
  nng-req-noresend-pipe-loss
                       an NNG REQ dials REPs a and b and sends req-1; the REP that
                       took it closes without answering: at the default resend time,
                       then with resends off (NNG_OPT_REQ_RESENDTIME 0)
  zmq-req-relaxed, zmq-req-relaxed-correlate
                       libzmq REQ with ZMQ_REQ_RELAXED (ZMQ_REQ_CORRELATE off, then
                       on) sends req-2 while its REP holds req-1; the REP answers
                       req-1, then req-2, and the REQ reads twice; then req-3
  zmq-pub-hwm          PUB (SNDHWM 10) to a SUB (RCVHWM 10) that stops reading
  nng-pub-hwm          the same with NNG (send and receive buffers 10)
  nng-sub-prefer-old   the same with the SUB's NNG_OPT_SUB_PREFNEW off
  nanomsg-pub-hwm      the same with nanomsg (its defaults: it has no HWM)
  zmq-pub-filters      an XSUB (RCVHWM 10), which filters nothing itself, dials a PUB
                       (SNDHWM 10) and reads nothing while the PUB sends 200 100 kB
                       messages on "b"; it subscribes to "a", reads until a probe
                       on "a" comes, stops; the PUB sends 5 on "a"; the XSUB drains
  nng-sub-two-pubs     a SUB (receive buffer 10) of two PUBs, reading nothing while
                       the first sends 40 messages, then the second 40; then it
                       drains (NNG keeps one receive queue for the socket)
  nng-bus-hwm, nanomsg-bus-hwm
                       a BUS to a BUS peer that stops reading, at the defaults
  nng-pair-stopped, nanomsg-pair-stopped
                       a PAIR sends to a PAIR that stops reading until a send
                       waits, at the defaults; then the receiver drains
  nng-close-no-linger, nanomsg-close-no-linger, zmq-close-lingers
                       a PUSH dials a PULL that reads nothing but a hello, sends 50
                       small messages and closes; the PULL drains; then, with fresh
                       sockets, the same with big messages sent until a send waits
                       (libzmq's PUSH at LINGER -1, its default, and SNDHWM 10)
  zmq-sub-pub-restart, nng-sub-pub-restart, nanomsg-sub-pub-restart
                       a SUB (libzmq's: and an XSUB) subscribed to "a" dials a PUB
                       that probes on "a" and "b"; the PUB closes and, once the SUB
                       has seen it go, a new PUB binds the same port and probes: what
                       the SUB got before and after
  zmq-sub-double-subscribe, nng-sub-double-subscribe, nanomsg-sub-double-subscribe
                       a SUB subscribes to "a" twice and "b" once, cancels "a" once,
                       and dials a PUB probing on "a" and "b" until it gets a "b";
                       the PUB sends "a-last", then "b-last": which the SUB gets
  zmq-req-close-lingers
                       a REQ (ZMQ_RECONNECT_IVL 100 ms) connects to a REP, which
                       closes; the REQ sends "abandoned" and is closed at LINGER -1
                       (its default), then 0; a second REQ (LINGER 0) connects to the
                       same port and sends "retry"; a new REP binds the port and
                       reads for 1 s, answering each request: what it got, sorted
  nng-pair-second-dialler, nng-pair0-second-dialler, nanomsg-pair-second-dialler,
  zmq-pair-second-dialler
                       a bound PAIR sends 1 to its peer a; a second PAIR, b, dials it;
                       the PAIR sends 2; a closes; the PAIR sends 3: whether b's
                       connection is closed, and who gets 3 (NNG's PAIR v1, and v0)
  zmq-push-hwm         PUSH (SNDHWM 10) connected before its PULL exists
  nng-push-hwm         the same with NNG (send buffer 10; and 0, its default)
  nanomsg-push-hwm     the same with nanomsg (it has no send queue)
  zmq-pair-hwm, nng-pair-hwm, nanomsg-pair-hwm
                       the same three with a PAIR sending to a PAIR
  zmq-dealer-hwm       the libzmq one with a DEALER sending to a DEALER
  nng-dealer-hwm, nanomsg-dealer-hwm
                       the SP ones with a raw REQ (DEALER) sending to a raw REP
  zmq-req-early, nng-req-early, nanomsg-req-early
                       a REQ sends before any REP is up; then one binds
  zmq-req-joining, nng-req-joining, nanomsg-req-joining
                       REPs (a, b, c, d) join a bound REQ one after another; the REQ
                       asks 2 requests after b joined, 4 after c, 4 after d: which
                       REP answers each
  nng-req-resend-rotates, nanomsg-req-resend-rotates
                       REPs (a, b, c) join a bound REQ (resend interval 500 ms); a
                       and b hold req-1, c answers it; then a and b answer late and
                       the REQ sends req-2: which REP each send reaches, what the REQ
                       gets
  zmq-router-unknown   ROUTER sends to an unknown identity, router_mandatory off/on
  zmq-router-reconnects
                       a ROUTER (ZMQ_RECONNECT_IVL 100 ms) connects to DEALER A,
                       which says hello-a and closes; the ROUTER sends "while-down"
                       to A's id; DEALER B binds the same port; once the ROUTER has
                       reconnected it sends "after"; B reads for 1 s, says hello-b;
                       router_mandatory off, then on
  zmq-router-full, zmq-router-full-mandatory
                       ROUTER (SNDHWM 10) sends to a DEALER (RCVHWM 10) that stopped
                       reading, until a send waits; router_mandatory off, then on
  zmq-router-full-sndbuf
                       zmq-router-full-mandatory with the ROUTER's SNDBUF and the
                       DEALER's RCVBUF at 64 KiB
  nng-router-full      the same with NNG's raw REP and raw REQ at their defaults
  nng-router-stopped   a raw REQ sends to a raw REP that reads nothing, both at their
                       defaults, until a send waits; then the REP drains
  nng-pull-ready-first three PUSHes (a, b, c, dialled in that order) send one message
                       each to a PULL that is not reading, c first, then a, then b;
                       then the PULL reads them
  zmq-push-connecting  a PUSH connects to a bound PULL and to a port nothing listens
                       on, sends ten messages; then a PULL binds that port
  zmq-req-connecting   a REQ connects to a bound REP and to a port nothing listens on,
                       sends two requests; then a REP binds that port
  zmq-push-immediate, zmq-req-immediate
                       the two above with ZMQ_IMMEDIATE set on the PUSH and the REQ
  zmq-push-full-pipe   a PUSH (SNDHWM 1) connects to PULLs a and c and to b's port,
                       sends m0..m5 50 ms apart; b binds; the PUSH sends x1, x2, x3
  nng-push-ready-longest
                       a PUSH sends two 48 MiB messages to each of three PULLs (a, b,
                       c, dialled in that order) that read nothing, so the second
                       stays unwritten; the PULLs read theirs c first, then b, then
                       a; the PUSH sends x1, x2, x3
  nanomsg-push-ready-longest
                       the same with nanomsg's PUSH and PULLs
  zmq-pull-fair-queue  the same with libzmq's PUSHes and PULL, each PUSH sending three
                       ("c0", "c1", "c2"): each pipe in turn, in the order they came
  nanomsg-pull-ready-first
                       the same with nanomsg's: the pipe ready first, each round
  nanomsg-sub-ready-first
                       the same with three nanomsg PUBs and a SUB
  nanomsg-pub-burst    a PUB sends nine messages at once to a SUB that reads
  nng-survey-arrival-order
                       a SURVEYOR's three respondents (dialled a, b, c) answer its
                       survey c first, then a, then b
  nng-dealer-arrival-order
                       a DEALER (raw REQ) sends a request to each of three raw REPs
                       (dialled a, b, c), which answer c first, then a, then b
  nanomsg-rep-ready-first
                       three nanomsg REQs (a, b, c) send one request each, c first,
                       to a REP, which answers each as it reads them
  nanomsg-rep-reads-on, zmq-rep-reads-on
                       the same three requests to a REP that reads until a receive
                       fails or finds nothing, then replies
  nng-survey-deadline  SURVEYOR (300 ms) with a respondent late on one survey
  nanomsg-survey-deadline
                       the same with nanomsg (NN_SURVEYOR_DEADLINE 300 ms)
  nanomsg-survey-arrival-order
                       nng-survey-arrival-order with nanomsg's SURVEYOR and
                       respondents
  nng-survey-restart, nanomsg-survey-restart
                       a SURVEYOR (2 s) sends survey-1 to a respondent, which
                       answers it only once the SURVEYOR has sent survey-2; then
                       it answers survey-2
  zmq-heartbeat        heartbeats (100 ms, timeout 300 ms) to a peer that is stopped
  nng-recv-max         PULL with a 100-byte receive limit gets a 200-byte message;
                       the PUSH redials
  nng-pair1-hops       PAIR v1 gets hop counts 9 and 256 from a raw TCP peer (the
                       counts come on stdin: "COUNTS 1,9,8")
  nng-rep-no-request-id, nanomsg-rep-no-request-id
                       a REP gets, from a raw TCP REQ, a request, a message whose
                       ids end before a request id, and a request; then, on another
                       connection, the same with 8 hop ids and no request id (which
                       run comes on stdin: "RUN ids" or "RUN hops")
  zmq-handshake-ivl, nng-handshake-deadline, nanomsg-handshake-deadline
                       a raw TCP peer connects to a PULL and sends nothing: how long
                       until the PULL closes the connection (libzmq's with
                       ZMQ_HANDSHAKE_IVL 500 ms; NNG's and nanomsg's at their fixed
                       deadlines)
  zmq-reconnect-delays, nng-reconnect-delays, nanomsg-reconnect-delays
                       a PULL (reconnect interval 200 ms; nanomsg's with a 1.6 s
                       maximum, then none) dials a raw TCP listener that resets
                       each connection at once: the gaps between its accepts
"""

import os
import queue
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import peer_exit

TIMEOUT_MS = 30000
# The window in which something must NOT happen (a resend, a reply).
WINDOW_S = 1.0
HWM = 10
# libzmq's low-water mark for a pipe of HWM messages (pipe.cpp, compute_lwm): the
# reader acknowledges what it took every LWM messages, so the writer sees up to
# LWM - 1 taken messages as still queued (docs/library-semantics.md, zmq-pub-hwm).
LWM = (HWM + 1) // 2
PUB_SENT = 500
PUB_BYTES = 100_000
SURVEY_MS = 300
LATE_MS = 600
HB_IVL_MS = 100
HB_TIMEOUT_MS = 300
RECV_MAX = 100
# The zmq-handshake-ivl row's ZMQ_HANDSHAKE_IVL.
HANDSHAKE_IVL_MS = 500
# How long a silent peer waits to be closed: past NNG's 10 s, the longest deadline.
SILENT_PEER_WAIT_S = 20


def say(*words):
    print(*words, flush=True)


def line():
    return sys.stdin.readline().strip()


# ---------------------------------------------------------------- libzmq helpers


def zmq_ctx():
    import zmq

    return zmq, zmq.Context()


def zsock(ctx, kind, **opts):
    import zmq

    s = ctx.socket(kind)
    s.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    s.setsockopt(zmq.LINGER, 0)
    for k, v in opts.items():
        s.setsockopt(getattr(zmq, k), v)
    return s


def monitor_wait(mon, wanted, timeout_s):
    """Waits for a monitor event in `wanted`; returns its name, or None at timeout."""
    import zmq
    from zmq.utils.monitor import recv_monitor_message

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if mon.poll(int((end - time.monotonic()) * 1000) + 1):
            ev = recv_monitor_message(mon)["event"]
            for name in wanted:
                if ev == getattr(zmq, name):
                    return name
    return None


def quiet(sock, seconds):
    """What arrives at `sock` within `seconds` (a window in which nothing should)."""
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if sock.poll(int((end - time.monotonic()) * 1000) + 1):
            got.append(sock.recv())
    return got


# ---------------------------------------------------------------- nanomsg helpers
# nanomsg has no Python binding in Debian or on PyPI that is kept up, so its C API is
# called through ctypes. The constants are nanomsg 1.1.5's (nn.h, pubsub.h,
# pipeline.h).

NN_AF_SP, NN_AF_SP_RAW = 1, 2
NN_PUB, NN_SUB = 0x20, 0x21
NN_PUSH, NN_PULL = 0x50, 0x51
NN_PAIR = 0x10
NN_REQ, NN_REP = 0x30, 0x31
# survey.h: the protocol's socket types, and its one option, whose level is
# NN_SURVEYOR (nn_symbol lists all three).
NN_SURVEYOR, NN_RESPONDENT = 0x62, 0x63
NN_SURVEYOR_DEADLINE = 1
NN_KINDS = {"PUSH": NN_PUSH, "PULL": NN_PULL, "PAIR": NN_PAIR, "REQ": NN_REQ, "REP": NN_REP}
NN_SOL_SOCKET, NN_LINGER, NN_SNDTIMEO, NN_RCVTIMEO, NN_RECONNECT_IVL = 0, 1, 4, 5, 6
NN_SUB_SUBSCRIBE = 1
NN_RCVMAXSIZE = 16
NN_MSG = 2**64 - 1
NN_STAT_CURRENT_CONNECTIONS = 201


def nn_lib():
    import ctypes

    lib = ctypes.CDLL("libnanomsg.so.5", use_errno=True)
    lib.nn_send.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.nn_recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    lib.nn_setsockopt.argtypes = [
        ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    lib.nn_freemsg.argtypes = [ctypes.c_void_p]
    lib.nn_strerror.restype = ctypes.c_char_p
    lib.nn_bind.argtypes = lib.nn_connect.argtypes = [ctypes.c_int, ctypes.c_char_p]
    lib.nn_get_statistic.argtypes = [ctypes.c_int, ctypes.c_int]
    lib.nn_get_statistic.restype = ctypes.c_uint64
    return lib


class Nn:
    """One nanomsg socket: sends and receives time out (the caller says how long) and
    report a timeout as False or None; every other failure raises."""

    lib = None

    def __init__(self, kind, raw=False):
        if Nn.lib is None:
            Nn.lib = nn_lib()
        self.s = self.check(Nn.lib.nn_socket(NN_AF_SP_RAW if raw else NN_AF_SP, kind))
        self.setint(NN_LINGER, 0)

    def check(self, rc):
        import ctypes

        if rc < 0:
            err = ctypes.get_errno()
            raise OSError(err, Nn.lib.nn_strerror(err).decode())
        return rc

    def setint(self, option, value, level=NN_SOL_SOCKET):
        import ctypes

        v = ctypes.c_int(value)
        self.check(Nn.lib.nn_setsockopt(self.s, level, option, ctypes.byref(v), 4))

    def subscribe(self, prefix=b""):
        self.check(Nn.lib.nn_setsockopt(self.s, NN_SUB, NN_SUB_SUBSCRIBE, prefix, len(prefix)))

    def bind(self, port):
        self.check(Nn.lib.nn_bind(self.s, b"tcp://127.0.0.1:%d" % port))

    def connect(self, port):
        self.check(Nn.lib.nn_connect(self.s, b"tcp://127.0.0.1:%d" % port))

    def timed_out(self, rc):
        import ctypes
        import errno

        if rc >= 0:
            return False
        err = ctypes.get_errno()
        if err in (errno.EAGAIN, errno.ETIMEDOUT):
            return True
        self.check(rc)

    def send(self, body, ms=TIMEOUT_MS):
        """Whether `body` went out within `ms`."""
        self.setint(NN_SNDTIMEO, ms)
        return not self.timed_out(Nn.lib.nn_send(self.s, body, len(body), 0))

    def connections(self):
        """How many connections the socket has up (NN_STAT_CURRENT_CONNECTIONS)."""
        return Nn.lib.nn_get_statistic(self.s, NN_STAT_CURRENT_CONNECTIONS)

    def recv(self, ms=TIMEOUT_MS):
        """A message, or None if none came within `ms`."""
        import ctypes

        self.setint(NN_RCVTIMEO, ms)
        buf = ctypes.c_void_p()
        rc = Nn.lib.nn_recv(self.s, ctypes.byref(buf), NN_MSG, 0)
        if self.timed_out(rc):
            return None
        body = ctypes.string_at(buf, rc)
        Nn.lib.nn_freemsg(buf)
        return body


def free_port():
    """A port nothing listens on right now."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


# ---------------------------------------------------------------- REQ rows


def req_outcome(rep1_got, reconnected, rep2_got, req_got, second_send):
    parts = [
        "REP1 got " + rep1_got,
        "REQ reconnected" if reconnected else "REQ did not reconnect",
        "REP2 got " + (",".join(rep2_got) if rep2_got else "nothing"),
        "REQ got " + (",".join(req_got) if req_got else "nothing"),
    ]
    if second_send is not None:
        parts.append("second send " + second_send)
    return "; ".join(parts)


def rebind(sock, port):
    """Binds `port` again: libzmq closes a dead socket's listener on its I/O thread,
    a moment after `close` returns, so the first tries may find it still taken."""
    import zmq

    end = time.monotonic() + 5
    while True:
        try:
            sock.bind("tcp://127.0.0.1:%d" % port)
            return
        except zmq.ZMQError as err:
            if err.errno != zmq.EADDRINUSE or time.monotonic() > end:
                raise
            time.sleep(0.01)


def oracle_zmq_req_stuck():
    zmq, ctx = zmq_ctx()
    rep1 = zsock(ctx, zmq.REP)
    port = rep1.bind_to_random_port("tcp://127.0.0.1")
    req = zsock(ctx, zmq.REQ)
    req.connect("tcp://127.0.0.1:%d" % port)
    req.send(b"req-1")
    rep1_got = rep1.recv().decode()
    rep1.close()
    rep2 = zsock(ctx, zmq.REP)
    mon = rep2.get_monitor_socket()
    rebind(rep2, port)
    reconnected = monitor_wait(mon, ["EVENT_ACCEPTED"], 5) is not None
    rep2_got = [m.decode() for m in quiet(rep2, WINDOW_S)]
    req_got = [m.decode() for m in quiet(req, 0.0)]
    try:
        req.send(b"req-2", zmq.NOBLOCK)
        second = "taken"
    except zmq.ZMQError as err:
        second = "refused (state)" if err.errno == zmq.EFSM else "refused (%s)" % err
    say("OUTCOME", req_outcome(rep1_got, reconnected, rep2_got, req_got, second))


def peer_zmq_req_stuck():
    """libzmq REPs against patchbay's REQ: REP1 binds, takes req-1, dies; REP2."""
    zmq, ctx = zmq_ctx()
    rep1 = zsock(ctx, zmq.REP)
    port = rep1.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    say("REP1", rep1.recv().decode())
    rep1.close()
    rep2 = zsock(ctx, zmq.REP)
    mon = rep2.get_monitor_socket()
    rebind(rep2, port)
    say("RECONNECTED", monitor_wait(mon, ["EVENT_ACCEPTED"], 5) is not None)
    got = [m.decode() for m in quiet(rep2, WINDOW_S)]
    say("REP2", ",".join(got) if got else "nothing")
    line()


def nng_open(kind, **opts):
    import pynng

    s = kind(recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS)
    for k, v in opts.items():
        setattr(s, k, v)
    return s


def nng_listen(sock, port):
    url = "tcp://127.0.0.1:%d" % port
    listener = sock.listen(url)
    return int(str(listener.local_address).rsplit(":", 1)[1])


def nng_rep_story(port, report):
    """pynng REP1 takes one request and dies; REP2 on the same port answers it."""
    import pynng

    rep1 = nng_open(pynng.Rep0)
    port = nng_listen(rep1, port or 0)
    report("READY", port)
    report("REP1", rep1.recv().decode())
    rep1.close()
    accepted = threading.Event()
    rep2 = nng_open(pynng.Rep0, recv_timeout=int(WINDOW_S * 3000))
    rep2.add_post_pipe_connect_cb(lambda _p: accepted.set())
    nng_listen(rep2, port)
    start = time.monotonic()
    try:
        body = rep2.recv()
        at_ms = round((time.monotonic() - start) * 1000)
        rep2.send(b"echo:" + body)
        got = [body.decode()]
    except pynng.Timeout:
        got, at_ms = [], None
    # The pipe callback runs on NNG's thread and may come after the message.
    report("RECONNECTED", accepted.wait(5))
    report("REP2", ",".join(got) if got else "nothing")
    return rep2, at_ms


def oracle_nng_req_resend():
    import pynng

    out = {}
    ready = threading.Event()

    def report(key, value):
        out[key] = value
        if key == "READY":
            ready.set()

    result = {}
    server = threading.Thread(target=lambda: result.update(r=nng_rep_story(0, report)))
    server.start()
    ready.wait(10)
    req = nng_open(pynng.Req0, reconnect_time_min=100, reconnect_time_max=100)
    req.dial("tcp://127.0.0.1:%d" % out["READY"], block=True)
    req.send(b"req-1")
    try:
        req_got = [req.recv().decode()]
    except pynng.Timeout:
        req_got = []
    server.join()
    rep2, at_ms = result["r"]
    say(
        "OUTCOME",
        req_outcome(out["REP1"], out["RECONNECTED"], [] if out["REP2"] == "nothing"
                    else [out["REP2"]], req_got, None),
    )
    say("TIME", "resend_after_rebind", at_ms)
    rep2.close()
    req.close()


def peer_nng_req_resend():
    rep2, at_ms = nng_rep_story(0, say)
    say("TIME", "resend_after_rebind", at_ms)
    line()
    rep2.close()


def oracle_nng_req_cancel():
    """NNG's REQ, sent a second request before the first's reply: the first is
    cancelled and its late reply discarded."""
    import pynng

    rep = nng_open(pynng.Rep0)
    port = nng_listen(rep, 0)
    req = nng_open(pynng.Req0)
    req.dial("tcp://127.0.0.1:%d" % port, block=True)
    req.send(b"req-1")
    got = [rep.recv().decode()]
    req.send(b"req-2")
    rep.send(b"echo:req-1")
    got.append(rep.recv().decode())
    rep.send(b"echo:req-2")
    say("OUTCOME", cancel_outcome(got, [req.recv().decode()]))


def cancel_outcome(rep_got, req_got):
    return "REP got %s; REQ got %s" % (",".join(rep_got), ",".join(req_got))


def peer_nng_req_cancel():
    """pynng's REP: takes req-1, answers it once told the REQ has sent req-2."""
    import pynng

    rep = nng_open(pynng.Rep0)
    say("READY", nng_listen(rep, 0))
    say("REP", rep.recv().decode())
    assert line() == "sent2"
    rep.send(b"echo:req-1")
    say("REP", rep.recv().decode())
    rep.send(b"echo:req-2")
    line()


# The nng-req-noresend-pipe-loss row: its two rounds, as (label, resend time to set;
# None keeps NNG's default of 60 s).
NORESEND_ROUNDS = (("default", None), ("off", 0))


def noresend_reps():
    """REPs a and b, each answering what it receives unless it is the first to
    receive (the holder, which answers nothing); gives the sockets, their ports and
    a queue of (name, body) in arrival order."""
    import pynng

    arrived = queue.Queue()
    lock = threading.Lock()
    holder = []
    reps = {}

    def serve(name, rep):
        try:
            body = rep.recv()
        except Exception:  # closed, or timed out: nothing arrived
            return
        with lock:
            first = not holder
            holder.append(name)
        if not first:
            rep.send(b"echo:" + body)
        arrived.put((name, body.decode()))

    for name in ("a", "b"):
        rep = nng_open(pynng.Rep0)
        reps[name] = (rep, nng_listen(rep, 0))
        threading.Thread(target=serve, args=(name, rep), daemon=True).start()
    return reps, arrived


def noresend_rest(reps, arrived):
    """Once the REQ has sent req-1: the REP holding it closes; what the other REP
    gets within the window (it answers it); gives (the other's socket, what it got)."""
    holder, _ = arrived.get(timeout=TIMEOUT_MS / 1000)
    reps[holder][0].close()
    other = "b" if holder == "a" else "a"
    try:
        name, body = arrived.get(timeout=WINDOW_S)
        got = body if name == other else "nothing"
    except queue.Empty:
        got = "nothing"
    return reps[other][0], got


def noresend_part(label, other_got, req_got):
    return "resend %s: other REP got %s, %s" % (label, other_got, req_got)


def oracle_nng_req_noresend_pipe_loss():
    """NNG's REQ whose pipe holding the request closes: at the default resend time
    the request goes to the other REP; with resends off the receive fails with
    NNG_ECONNRESET and nothing is sent again (req0_pipe_close)."""
    import pynng

    parts = []
    for label, resend in NORESEND_ROUNDS:
        reps, arrived = noresend_reps()
        req = nng_open(pynng.Req0)
        if resend is not None:
            req.resend_time = resend
        pipes = threading.Semaphore(0)
        req.add_post_pipe_connect_cb(lambda _p: pipes.release())
        for name in ("a", "b"):
            req.dial("tcp://127.0.0.1:%d" % reps[name][1], block=True)
        for _ in range(2):
            assert pipes.acquire(timeout=5), "the REQ has no pipe to both REPs"
        req.send(b"req-1")
        other, other_got = noresend_rest(reps, arrived)
        try:
            req_got = "REQ got " + req.recv().decode()
        except pynng.exceptions.ConnectionReset:
            req_got = "REQ recv failed: connection reset"
        except pynng.Timeout:
            req_got = "REQ recv timed out"
        parts.append(noresend_part(label, other_got, req_got))
        other.close()
        req.close()
    say("OUTCOME", " | ".join(parts))


def peer_nng_req_noresend_pipe_loss():
    """pynng's REPs a and b against patchbay's REQ, each round: the holder closes,
    the other REP reports what it got in the window, then waits for "next"."""
    for _ in NORESEND_ROUNDS:
        reps, arrived = noresend_reps()
        say("READY", reps["a"][1], reps["b"][1])
        other, other_got = noresend_rest(reps, arrived)
        say("OTHER", other_got)
        assert line() == "next"
        other.close()


# The zmq-req-relaxed and zmq-req-relaxed-correlate rows. How long a read of the
# relaxed REQ waits, as `RELAXED_READ` in the Rust side.
RELAXED_READ_MS = 300
# libzmq's REQ drops every reply that has arrived when it sends a request
# (`req_t::xsend`), so the oracle lets req-2's answers arrive before req-3 goes out;
# patchbay's side waits for the one it drops instead.
RELAXED_SETTLE_S = 0.2


def relaxed_rep(rep, tell, wait):
    """The REP of the relaxed rows: takes req-1 and says so (`tell("HELD", body)`),
    answers it once req-2 is out (`wait()`), then takes and answers req-2, then
    req-3, saying each (`tell("ANSWERED", body)`)."""
    held = rep.recv()
    tell("HELD", held.decode())
    wait()
    rep.send(b"echo:" + held)
    for _ in range(2):
        request = rep.recv()
        rep.send(b"echo:" + request)
        tell("ANSWERED", request.decode())


def relaxed_read(zmq, req):
    """One receive of the relaxed REQ, in the words of `relaxed_read` in the Rust side."""
    try:
        return "REQ got " + req.recv().decode()
    except zmq.Again:
        return "REQ timed out"
    except zmq.ZMQError as err:
        return "REQ refused: EFSM" if err.errno == zmq.EFSM else "REQ failed: %s" % err


def oracle_zmq_req_relaxed(correlate):
    """libzmq's relaxed REQ gives up on req-1 when it sends req-2. Without
    ZMQ_REQ_CORRELATE it takes whatever reply comes first on the request's pipe,
    req-1's, for req-2's (req-2's own is dropped at req-3's send); with it, it skips
    req-1's reply for its request id."""
    zmq, ctx = zmq_ctx()
    rep = zsock(ctx, zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    req = zsock(ctx, zmq.REQ, REQ_RELAXED=1, REQ_CORRELATE=int(correlate),
                RCVTIMEO=RELAXED_READ_MS)
    req.connect("tcp://127.0.0.1:%d" % port)
    told, sent = queue.Queue(), threading.Event()
    replier = threading.Thread(target=relaxed_rep, args=(
        rep, lambda _word, body: told.put("REP got " + body),
        lambda: sent.wait(TIMEOUT_MS / 1000)))
    replier.start()

    def rep_got():
        return told.get(timeout=TIMEOUT_MS / 1000)

    req.send(b"req-1")
    out = [rep_got()]
    req.send(b"req-2")
    sent.set()
    out += [rep_got(), relaxed_read(zmq, req), relaxed_read(zmq, req)]
    time.sleep(RELAXED_SETTLE_S)
    req.send(b"req-3")
    out += [rep_got(), relaxed_read(zmq, req), relaxed_read(zmq, req)]
    replier.join()
    say("OUTCOME", "; ".join(out))


def peer_zmq_req_relaxed():
    """libzmq's REP for patchbay's relaxed REQ: "HELD req-1"; it answers req-1 once
    told "sent", then "ANSWERED req-2" and "ANSWERED req-3"."""
    zmq, ctx = zmq_ctx()
    rep = zsock(ctx, zmq.REP)
    say("READY", rep.bind_to_random_port("tcp://127.0.0.1"))

    def release():
        assert line() == "sent"

    relaxed_rep(rep, say, release)
    line()


# ---------------------------------------------------------------- HWM rows


def pub_outcome(blocked, got, sender="PUB", receiver="SUB"):
    """PUB at its HWM: did a send block, and what arrived (in order, from 0, how many).
    The BUS rows name their two ends otherwise."""
    in_order = all(a < b for a, b in zip(got, got[1:]))
    parts = [
        sender + (" blocked" if blocked else " never blocked"),
        receiver + (" got first message" if got and got[0] == 0 else " missed the first message"),
        "in order" if in_order else "out of order",
        "some dropped" if len(got) < PUB_SENT else "none dropped",
        "more than HWM - LWM arrived" if len(got) > HWM - LWM else "HWM - LWM or fewer arrived",
    ]
    return "; ".join(parts)


def drain_numbers(sub, idle_s=0.5):
    got = []
    while sub.poll(int(idle_s * 1000)):
        got.append(int(sub.recv()[:8]))
    return got


def oracle_zmq_pub_hwm():
    zmq, ctx = zmq_ctx()
    pub = zsock(ctx, zmq.PUB, SNDHWM=HWM)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = zsock(ctx, zmq.SUB, RCVHWM=HWM)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect("tcp://127.0.0.1:%d" % port)
    # The subscription has arrived once a probe gets through; then the SUB stops
    # reading while the PUB sends.
    while not sub.poll(20):
        pub.send(b"probe")
    while sub.poll(50):
        sub.recv()
    blocked = False
    body = b"x" * PUB_BYTES
    for i in range(PUB_SENT):
        try:
            pub.send(b"%08d" % i + body, zmq.NOBLOCK)
        except zmq.Again:
            blocked = True
    got = drain_numbers(sub)
    say("OUTCOME", pub_outcome(blocked, got))
    say("TIME", "received", len(got))
    say("TIME", "last_arrived", int(bool(got) and got[-1] == PUB_SENT - 1))


def nng_stopped_sub(prefer_new, **opts):
    """A pynng SUB (receive buffer 10) subscribed to everything; `prefer_new` is its
    NNG_OPT_SUB_PREFNEW ("sub:prefnew"), which pynng 0.9.0 sets only through its
    option helpers."""
    import pynng
    from pynng import options

    sub = nng_open(pynng.Sub0, recv_buffer_size=HWM, **opts)
    options._setopt_bool(sub, b"sub:prefnew", prefer_new)
    assert options._getopt_bool(sub, b"sub:prefnew") == prefer_new
    sub.subscribe(b"")
    return sub


def peer_nng_pub_hwm(prefer_new=True):
    """A pynng SUB (receive buffer 10) against patchbay's PUB, as peer_zmq_pub_hwm."""
    sub = nng_stopped_sub(prefer_new)
    port = nng_listen(sub, 0)
    say("READY", port)
    sub.recv()
    say("PROBED")
    assert line() == "stop"
    while nng_try_recv(sub, 50) is not None:
        pass
    say("STOPPED")
    assert line() == "drain"
    got = []
    while True:
        msg = nng_try_recv(sub, 500)
        if msg is None:
            break
        got.append(int(msg[:8]))
    say("GOT", " ".join(str(n) for n in got))
    line()


def oracle_nng_pub_hwm(prefer_new=True):
    """NNG's PUB (send buffer 10) to a SUB (receive buffer 10) that stops reading."""
    import pynng

    pub = nng_open(pynng.Pub0, send_buffer_size=HWM)
    port = nng_listen(pub, 0)
    sub = nng_stopped_sub(prefer_new, recv_timeout=20)
    sub.dial("tcp://127.0.0.1:%d" % port, block=True)
    while not nng_try_recv(sub):
        pub.send(b"probe")
    while nng_try_recv(sub, 50) is not None:
        pass
    blocked = False
    body = b"x" * PUB_BYTES
    for i in range(PUB_SENT):
        start = time.monotonic()
        pub.send(b"%08d" % i + body)
        blocked |= time.monotonic() - start > 0.2
    got = []
    while True:
        msg = nng_try_recv(sub, 500)
        if msg is None:
            break
        got.append(int(msg[:8]))
    say("OUTCOME", pub_outcome(blocked, got))
    say("TIME", "received", len(got))
    say("TIME", "last_arrived", int(bool(got) and got[-1] == PUB_SENT - 1))


# The nng-sub-two-pubs row: how many messages each PUB sends, and the pause after
# each PUB's burst, for everything sent to have reached the SUB.
TWO_PUBS_SENT = 40
TWO_PUBS_PAUSE_S = 0.3


def two_pubs_label(pub, i):
    return b"%s%03d" % (b"AB"[pub:pub + 1], i)


def two_pubs_outcome(got):
    """What a SUB that read nothing through both bursts kept: the newest of everything
    sent, in arrival order (one queue for the socket), or not (a queue per pipe)."""
    sent = [two_pubs_label(pub, i).decode() for pub in (0, 1) for i in range(TWO_PUBS_SENT)]
    if got and got == sent[-len(got):]:
        return "SUB kept the newest messages of both PUBs, in arrival order"
    return "SUB kept messages out of arrival order: %s" % ",".join(got)


def two_pubs_bursts(pubs):
    """Each PUB in turn sends its numbered burst, then waits for it to arrive."""
    for pub, sock in enumerate(pubs):
        for i in range(TWO_PUBS_SENT):
            sock.send(two_pubs_label(pub, i))
        time.sleep(TWO_PUBS_PAUSE_S)


def two_pubs_probe(pubs, sub):
    """Probes from both PUBs until the SUB has one from each, then drains the rest."""
    seen = set()
    while len(seen) < 2:
        for pub, sock in enumerate(pubs):
            sock.send(b"probe-%d" % pub)
        msg = nng_try_recv(sub, 20)
        if msg is not None:
            seen.add(msg)
    while nng_try_recv(sub, 100) is not None:
        pass


def nng_drain_labels(sub):
    got = []
    while (msg := nng_try_recv(sub, 300)) is not None:
        got.append(msg.decode())
    return got


def oracle_nng_sub_two_pubs():
    """NNG's SUB (receive buffer 10) of two PUBs keeps one queue for the socket: after
    both bursts it holds the newest 10 of all, in arrival order."""
    import pynng

    pubs = [nng_open(pynng.Pub0) for _ in range(2)]
    ports = [nng_listen(p, 0) for p in pubs]
    sub = nng_stopped_sub(True)
    for port in ports:
        sub.dial("tcp://127.0.0.1:%d" % port, block=True)
    two_pubs_probe(pubs, sub)
    two_pubs_bursts(pubs)
    got = nng_drain_labels(sub)
    say("OUTCOME", two_pubs_outcome(got))
    say("TIME", "kept", len(got))


def peer_nng_sub_two_pubs():
    """Two pynng PUBs that patchbay's SUB dials: they probe until told the SUB has
    heard both, then, when told, send their bursts and say so."""
    import threading

    import pynng

    pubs = [nng_open(pynng.Pub0) for _ in range(2)]
    ports = [nng_listen(p, 0) for p in pubs]
    say("READY", *ports)
    probing = threading.Event()
    probing.set()

    def probe():
        while probing.is_set():
            for pub, sock in enumerate(pubs):
                sock.send(b"probe-%d" % pub)
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    assert line() == "probed"
    probing.clear()
    prober.join()
    say("QUIET")
    assert line() == "send"
    two_pubs_bursts(pubs)
    say("SENT")
    line()


def nng_try_recv(sock, ms=20):
    import pynng

    sock.recv_timeout = ms
    try:
        return sock.recv()
    except pynng.Timeout:
        return None


def peer_zmq_pub_hwm():
    """A libzmq SUB (RCVHWM 10) against patchbay's PUB: it reads the probes until the
    Rust side says "stop", then reads nothing until "drain", then reports."""
    zmq, ctx = zmq_ctx()
    sub = zsock(ctx, zmq.SUB, RCVHWM=HWM)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    port = sub.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    sub.recv()
    say("PROBED")
    assert line() == "stop"
    while sub.poll(50):
        sub.recv()
    say("STOPPED")
    assert line() == "drain"
    got = drain_numbers(sub)
    say("GOT", " ".join(str(n) for n in got))
    line()


# ---------------------------------------------------------------- filtering at the PUB
# The zmq-pub-filters row: how many 100 kB messages the PUB sends on the topic its
# subscriber never takes ("b"), then on the one it takes ("a"), and the probe on "a"
# that shows the subscription has arrived.
FILTERS_UNWANTED = 200
FILTERS_WANTED = 5
FILTERS_PROBE = b"a-probe"


def filters_publish(pub, topic, count):
    """Sends `topic`-0 .. `topic`-(count - 1), each padded to PUB_BYTES; a PUB never
    blocks, so a send that would is an error."""
    import zmq

    for i in range(count):
        pub.send(("%s-%d" % (topic, i)).encode().ljust(PUB_BYTES, b" "), zmq.NOBLOCK)


def filters_read(xsub, got, idle_ms, until_probe=False):
    """Reads `xsub` until nothing comes for `idle_ms` (with `until_probe`, until a
    probe comes), keeping in `got` the label of everything but the probes; whether a
    probe came."""
    while xsub.poll(idle_ms):
        msg = xsub.recv()
        if msg != FILTERS_PROBE:
            got.append(msg.split(b" ", 1)[0].decode())
        elif until_probe:
            return True
    return False


def filters_outcome(got):
    return "XSUB got " + (",".join(got) or "nothing")


def oracle_zmq_pub_filters():
    """libzmq's PUB matches a message against each pipe's subscriptions before it
    queues it (xpub_t's mtrie), so an XSUB, which filters nothing itself (libzmq sets
    `filter` for SUB only), is sent nothing while it has subscribed to nothing: not
    into its pipe, nor the kernels' buffers, nor onto the wire."""
    zmq, ctx = zmq_ctx()
    pub = zsock(ctx, zmq.PUB, SNDHWM=HWM)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    mon = pub.get_monitor_socket(zmq.EVENT_HANDSHAKE_SUCCEEDED)
    xsub = zsock(ctx, zmq.XSUB, RCVHWM=HWM)
    xsub.connect("tcp://127.0.0.1:%d" % port)
    assert monitor_wait(mon, ["EVENT_HANDSHAKE_SUCCEEDED"], TIMEOUT_MS / 1000)
    filters_publish(pub, "b", FILTERS_UNWANTED)
    xsub.send(b"\x01a")
    got = []
    while not filters_read(xsub, got, 20, until_probe=True):
        pub.send(FILTERS_PROBE)
    filters_read(xsub, got, 50)
    filters_publish(pub, "a", FILTERS_WANTED)
    filters_read(xsub, got, 500)
    say("OUTCOME", filters_outcome(got))


def peer_zmq_pub_filters(url):
    """A libzmq XSUB (RCVHWM 10) that dials patchbay's PUB and subscribes to nothing
    until told "subscribe"; then it subscribes to "a" and reads until a probe comes
    ("PROBED"), on "stop" until quiet ("STOPPED"), on "drain" until nothing comes for
    500 ms, and says what it got besides probes ("GOT a-0,a-1")."""
    zmq, ctx = zmq_ctx()
    xsub = zsock(ctx, zmq.XSUB, RCVHWM=HWM)
    xsub.connect(url)
    assert line() == "subscribe"
    xsub.send(b"\x01a")
    got = []
    assert filters_read(xsub, got, TIMEOUT_MS, until_probe=True), "no probe came"
    say("PROBED")
    assert line() == "stop"
    filters_read(xsub, got, 50)
    say("STOPPED")
    assert line() == "drain"
    filters_read(xsub, got, 500)
    say("GOT", ",".join(got))
    line()


# The PUSH rows and the PAIR rows are one experiment: a sender connects before its
# receiver exists and sends until a send blocks; then the receiver binds.
PUSH_PULL = ("PUSH", "PULL")
PAIR_PAIR = ("PAIR", "PAIR")
DEALER_DEALER = ("DEALER", "DEALER")
DEALER_ROUTER = ("DEALER", "ROUTER")


def push_outcome(taken, blocked, got, later, kinds=PUSH_PULL):
    sender, receiver = kinds
    return "; ".join([
        "%s took %d" % (sender, taken),
        "next send blocked" if blocked else "next send did not block",
        "%s got " % receiver + (",".join(got) if got else "nothing"),
        "blocked send went through" if later else "blocked send never went through",
    ])


def oracle_zmq_push_hwm(kinds=PUSH_PULL):
    zmq, ctx = zmq_ctx()
    port = free_port()
    push = zsock(ctx, getattr(zmq, kinds[0]), SNDHWM=HWM)
    push.connect("tcp://127.0.0.1:%d" % port)
    taken = 0
    for i in range(HWM * 3):
        try:
            push.send(b"msg-%d" % i, zmq.NOBLOCK)
            taken += 1
        except zmq.Again:
            break
    blocked = taken < HWM * 3
    pull = zsock(ctx, getattr(zmq, kinds[1]))
    pull.bind("tcp://127.0.0.1:%d" % port)
    push.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    push.send(b"msg-%d" % taken)
    got = [pull.recv().decode() for _ in range(taken + 1)]
    later = got[-1] == "msg-%d" % taken
    say("OUTCOME", push_outcome(taken, blocked, got[:-1], later, kinds))


# The zmq-push-connecting row: how many messages the PUSH sends, and how long each
# PULL waits for more before it says what it got.
CONNECTING_SENT = 10
CONNECTING_IDLE_MS = 1000


def zmq_drain(sock, idle_ms):
    """Everything `sock` receives until it has been quiet `idle_ms`, as text."""
    import zmq

    sock.setsockopt(zmq.RCVTIMEO, idle_ms)
    got = []
    while True:
        try:
            got.append(sock.recv().decode())
        except zmq.Again:
            return ",".join(got) or "nothing"


def oracle_zmq_push_connecting(immediate=0):
    """libzmq's PUSH round-robins over every pipe, one still connecting too
    (`lb_t`, ZMQ_IMMEDIATE 0): connected to a live PULL and to a port nothing
    listens on, it queues every other message for the absent one, which gets them
    once it binds. With ZMQ_IMMEDIATE 1 there is no pipe until the connection is up,
    and the live PULL gets them all."""
    zmq, ctx = zmq_ctx()
    live = zsock(ctx, zmq.PULL)
    live_port = live.bind_to_random_port("tcp://127.0.0.1")
    late_port = free_port()
    push = zsock(ctx, zmq.PUSH, IMMEDIATE=immediate)
    push.connect("tcp://127.0.0.1:%d" % live_port)
    push.connect("tcp://127.0.0.1:%d" % late_port)
    time.sleep(READY_FIRST_PAUSE_S)
    for i in range(CONNECTING_SENT):
        push.send(b"m%d" % i, zmq.NOBLOCK)
    live_got = zmq_drain(live, CONNECTING_IDLE_MS)
    late = zsock(ctx, zmq.PULL)
    late.bind("tcp://127.0.0.1:%d" % late_port)
    say("OUTCOME", "live PULL got %s; late PULL got %s" % (live_got, zmq_drain(late, CONNECTING_IDLE_MS)))


def peer_zmq_push_connecting(late_port):
    """libzmq PULLs for patchbay's PUSH: one bound at once ("LIVE port"), which says
    what it got once the PUSH has sent; then one bound on `late_port`, which does
    the same."""
    zmq, ctx = zmq_ctx()
    live = zsock(ctx, zmq.PULL)
    say("LIVE", live.bind_to_random_port("tcp://127.0.0.1"))
    line()
    say("LIVE_GOT", zmq_drain(live, CONNECTING_IDLE_MS))
    late = zsock(ctx, zmq.PULL)
    late.bind("tcp://127.0.0.1:%d" % late_port)
    say("LATE_GOT", zmq_drain(late, CONNECTING_IDLE_MS))
    line()


# The zmq-push-full-pipe row: a PUSH of SNDHWM 1 sends FULL_PIPE_FIRST messages
# FULL_PIPE_GAP_S apart (so a live PULL's pipe is empty again by its next turn) to
# PULLs a and c and to b's port, where nothing listens yet; then b binds, and after
# FULL_PIPE_REJOIN_S (reconnect, drain) the PUSH sends x1, x2, x3.
FULL_PIPE_FIRST = 6
FULL_PIPE_GAP_S = 0.05
FULL_PIPE_REJOIN_S = 0.5


def full_pipe_outcome(pulls, already=()):
    """What each of `pulls` (`(name, pull)`) got: what it was seen to get before
    (`already`, `(name, [message])`), then what it has now."""
    before = dict(already)
    parts = []
    for name, pull in pulls:
        got = before.get(name, []) + [m for m in zmq_drain(pull, 300).split(",") if m != "nothing"]
        parts.append("%s got %s" % (name, ",".join(got) or "nothing"))
    return "; ".join(parts)


def oracle_zmq_push_full_pipe():
    """libzmq's `lb_t` swaps a full pipe with the last active one and, once it has
    room, back in at the end of the active part: b, full with m1, leaves the turn at
    m4 and c takes its place; when b has drained it rejoins after c, so x1 goes to c
    and x2 to b (a round-robin in connect order would give b x1 and c x2)."""
    zmq, ctx = zmq_ctx()
    a, c = zsock(ctx, zmq.PULL), zsock(ctx, zmq.PULL)
    ports = [a.bind_to_random_port("tcp://127.0.0.1"), free_port()]
    ports.append(c.bind_to_random_port("tcp://127.0.0.1"))
    push = zsock(ctx, zmq.PUSH, SNDHWM=1)
    for port in ports:
        push.connect("tcp://127.0.0.1:%d" % port)
    time.sleep(READY_FIRST_PAUSE_S)
    for i in range(FULL_PIPE_FIRST):
        push.send(b"m%d" % i, zmq.NOBLOCK)
        time.sleep(FULL_PIPE_GAP_S)
    b = zsock(ctx, zmq.PULL)
    b.bind("tcp://127.0.0.1:%d" % ports[1])
    time.sleep(FULL_PIPE_REJOIN_S)
    for i in (1, 2, 3):
        push.send(b"x%d" % i, zmq.NOBLOCK)
        time.sleep(FULL_PIPE_GAP_S)
    say("OUTCOME", full_pipe_outcome([("a", a), ("b", b), ("c", c)]))


def peer_zmq_push_full_pipe(late_port):
    """libzmq PULLs a and c for patchbay's PUSH ("LIVE port-a port-c"); b binds
    `late_port` when told ("up") and says "BOUND" once the message the PUSH held for
    it has arrived (so the PUSH's pipe has room again); once the PUSH has "sent",
    each says what it got."""
    zmq, ctx = zmq_ctx()
    a, c = zsock(ctx, zmq.PULL), zsock(ctx, zmq.PULL)
    say("LIVE", a.bind_to_random_port("tcp://127.0.0.1"), c.bind_to_random_port("tcp://127.0.0.1"))
    assert line() == "up"
    b = zsock(ctx, zmq.PULL)
    b.bind("tcp://127.0.0.1:%d" % late_port)
    b.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    held = [b.recv().decode()]
    say("BOUND")
    assert line() == "sent"
    say("GOT", full_pipe_outcome([("a", a), ("b", b), ("c", c)], [("b", held)]))
    line()


# The zmq-req-connecting row: how long the REQ waits for a reply before it calls
# the request unanswered.
CONNECTING_REPLY_MS = 1000


def zmq_serve_named(rep, name):
    """Answers every request on `rep` with `name:request`, on a thread of its own."""
    import zmq

    def serve():
        rep.setsockopt(zmq.RCVTIMEO, -1)
        while True:
            request = rep.recv()
            rep.send(name + b":" + request)

    threading.Thread(target=serve, daemon=True).start()


def zmq_req_reply(req, ms):
    """The REQ's reply within `ms`, as text, or None."""
    import zmq

    req.setsockopt(zmq.RCVTIMEO, ms)
    try:
        return req.recv().decode()
    except zmq.Again:
        return None


def req_connecting_outcome(first, second, late):
    """The zmq-req-connecting row's outcome from the three replies (None: none; the
    third is asked for only while req-2 waits)."""
    if second is not None:
        return "%s; %s; then nothing waiting" % (first, second)
    return "%s; req-2 unanswered for 1 s; then %s" % (first, late or "still nothing")


def oracle_zmq_req_connecting(immediate=0):
    """libzmq's REQ sends each request to the next pipe in turn, one still connecting
    too (`lb_t`): connected to a live REP and to a port nothing listens on, its second
    request waits for the absent peer, which answers it once it binds. With
    ZMQ_IMMEDIATE 1 the live REP answers both."""
    zmq, ctx = zmq_ctx()
    live = zsock(ctx, zmq.REP)
    live_port = live.bind_to_random_port("tcp://127.0.0.1")
    zmq_serve_named(live, b"live")
    late_port = free_port()
    req = zsock(ctx, zmq.REQ, IMMEDIATE=immediate)
    req.connect("tcp://127.0.0.1:%d" % live_port)
    req.connect("tcp://127.0.0.1:%d" % late_port)
    time.sleep(READY_FIRST_PAUSE_S)
    req.send(b"req-1")
    first = zmq_req_reply(req, CONNECTING_REPLY_MS)
    req.send(b"req-2")
    second = zmq_req_reply(req, CONNECTING_REPLY_MS)
    late = zsock(ctx, zmq.REP)
    late.bind("tcp://127.0.0.1:%d" % late_port)
    zmq_serve_named(late, b"late")
    late = zmq_req_reply(req, 3 * CONNECTING_REPLY_MS) if second is None else None
    say("OUTCOME", req_connecting_outcome(first, second, late))


def peer_zmq_req_connecting(late_port):
    """libzmq REPs for patchbay's REQ: one bound at once ("LIVE port"), answering
    `live:request`; then, when told ("up"), one bound on `late_port`, answering
    `late:request`."""
    zmq, ctx = zmq_ctx()
    live = zsock(ctx, zmq.REP)
    say("LIVE", live.bind_to_random_port("tcp://127.0.0.1"))
    zmq_serve_named(live, b"live")
    assert line() == "up"
    late = zsock(ctx, zmq.REP)
    late.bind("tcp://127.0.0.1:%d" % late_port)
    zmq_serve_named(late, b"late")
    say("BOUND")
    line()


def nng_kind(name):
    """pynng's class for a socket type: NNG's PAIR is pair1 (`nng_pair_open`), its
    DEALER and ROUTER the raw REQ and REP."""
    import functools

    import pynng

    return {
        "PUSH": pynng.Push0,
        "PULL": pynng.Pull0,
        "PAIR": pynng.Pair1,
        "DEALER": functools.partial(pynng.Req0, opener=pynng.lib.nng_req0_open_raw),
        "ROUTER": functools.partial(pynng.Rep0, opener=pynng.lib.nng_rep0_open_raw),
    }[name]


def nn_kind(name):
    """A nanomsg socket of a type: its DEALER and ROUTER are the raw REQ and REP."""
    raw = {"DEALER": NN_REQ, "ROUTER": NN_REP}
    if name in raw:
        return Nn(raw[name], raw=True)
    return Nn(NN_KINDS[name])


def push_body(kinds, i):
    """Message `i` of the PUSH experiment. A raw REQ's message starts with a request
    id (top bit set), which its REP peer needs to route an answer; the REP takes it
    off, so the receiver reads `msg-i` whatever the kinds."""
    body = b"msg-%d" % i
    if kinds == ("DEALER", "ROUTER"):
        return struct.pack(">I", 0x80000000 | i) + body
    return body


def oracle_nng_push_hwm(kinds=PUSH_PULL):
    """NNG's PUSH and PAIR queue per socket, not per pipe: with no peer and the
    default send buffer (0) they take nothing; with a send buffer of 10, 10."""
    port = free_port()
    url = "tcp://127.0.0.1:%d" % port
    unbuffered = nng_open(nng_kind(kinds[0]), send_timeout=200)
    unbuffered.dial(url, block=False)
    say("TIME", "taken_by_default", nng_fill(unbuffered, kinds))
    unbuffered.close()
    push = nng_open(nng_kind(kinds[0]), send_timeout=200, send_buffer_size=HWM,
                    reconnect_time_min=100, reconnect_time_max=100)
    push.dial(url, block=False)
    taken = nng_fill(push, kinds)
    blocked = taken < HWM * 3
    pull = nng_open(nng_kind(kinds[1]))
    nng_listen(pull, port)
    push.send_timeout = TIMEOUT_MS
    push.send(push_body(kinds, taken))
    got = [pull.recv().decode() for _ in range(taken + 1)]
    later = got[-1] == "msg-%d" % taken
    say("OUTCOME", push_outcome(taken, blocked, got[:-1], later, kinds))


def nng_fill(push, kinds):
    """How many messages a sender with no peer takes before a send times out."""
    import pynng

    taken = 0
    for i in range(HWM * 3):
        try:
            push.send(push_body(kinds, i))
            taken += 1
        except pynng.Timeout:
            break
    return taken


def oracle_nanomsg_push_hwm(kinds=PUSH_PULL):
    """nanomsg's PUSH and PAIR have no send queue: a pipe exists only while connected
    and holds the message it is writing, so with no peer they take nothing and the
    send blocks (xpush's `nn_lb_send`, xpair's `nn_excl_send`: no pipe) until the
    receiver is up."""
    port = free_port()
    push = nn_kind(kinds[0])
    push.setint(NN_RECONNECT_IVL, 100)
    push.connect(port)
    taken = 0
    for i in range(HWM * 3):
        if not push.send(push_body(kinds, i), 200):
            break
        taken += 1
    blocked = taken < HWM * 3
    pull = nn_kind(kinds[1])
    pull.bind(port)
    push.send(push_body(kinds, taken))
    got = [pull.recv().decode() for _ in range(taken + 1)]
    later = got[-1] == "msg-%d" % taken
    say("OUTCOME", push_outcome(taken, blocked, got[:-1], later, kinds))


def report_what_arrives(receiver):
    """Tells the Rust side the receiver is up, then each message it gets."""
    say("BOUND")
    while True:
        say("GOT", receiver.recv().decode())


def peer_nng_push_hwm(port, kinds=PUSH_PULL):
    """A pynng receiver that listens on `port` when told ("up")."""
    assert line() == "up"
    pull = nng_open(nng_kind(kinds[1]))
    nng_listen(pull, port)
    report_what_arrives(pull)


def peer_zmq_push_hwm(port, kinds=PUSH_PULL):
    """A libzmq receiver that binds `port` when told ("up")."""
    import zmq

    _, ctx = zmq_ctx()
    assert line() == "up"
    pull = zsock(ctx, getattr(zmq, kinds[1]))
    pull.bind("tcp://127.0.0.1:%d" % port)
    report_what_arrives(pull)


def peer_nanomsg_push_hwm(port, kinds=PUSH_PULL):
    """A nanomsg receiver that binds `port` when told ("up")."""
    assert line() == "up"
    pull = nn_kind(kinds[1])
    pull.bind(port)
    report_what_arrives(pull)


def nn_stopped_sub():
    """A nanomsg SUB subscribed to everything, at its defaults."""
    sub = Nn(NN_SUB)
    sub.subscribe(b"")
    return sub


def numbers_until_quiet(recv, idle_ms=500):
    """The numbers (each message's first 8 bytes) of what `recv(ms)`, which gives a
    message or None, gets until nothing comes for `idle_ms`."""
    got = []
    while (msg := recv(idle_ms)) is not None:
        got.append(int(msg[:8]))
    return got


def nn_drain_numbers(sub):
    return numbers_until_quiet(sub.recv)


def oracle_nanomsg_pub_hwm():
    """nanomsg's PUB to a SUB that stops reading, both at their defaults: nanomsg has
    no message HWM; its TCP pipe holds the one message it is writing, and its PUB
    drops a message for a pipe that is still writing one (xpub's `nn_dist_send`)."""
    port = free_port()
    pub = Nn(NN_PUB)
    pub.bind(port)
    sub = nn_stopped_sub()
    sub.connect(port)
    while sub.recv(20) is None:
        pub.send(b"probe")
    while sub.recv(50) is not None:
        pass
    blocked = False
    body = b"x" * PUB_BYTES
    for i in range(PUB_SENT):
        blocked |= not pub.send(b"%08d" % i + body, 200)
    got = nn_drain_numbers(sub)
    say("OUTCOME", pub_outcome(blocked, got))
    say("TIME", "received", len(got))
    say("TIME", "last_arrived", int(bool(got) and got[-1] == PUB_SENT - 1))


def peer_nanomsg_pub_hwm():
    """A nanomsg SUB against patchbay's PUB, as peer_zmq_pub_hwm."""
    sub = nn_stopped_sub()
    port = free_port()
    sub.bind(port)
    say("READY", port)
    sub.recv()
    say("PROBED")
    assert line() == "stop"
    while sub.recv(50) is not None:
        pass
    say("STOPPED")
    assert line() == "drain"
    say("GOT", " ".join(str(n) for n in nn_drain_numbers(sub)))
    line()



# ---------------------------------------------------------------- BUS at its buffers

NN_BUS = 0x70
# The BUS rows' words for their two ends, in `pub_outcome`.
BUS_ENDS = ("BUS sender", "BUS receiver")


class SpEnd:
    """A BUS or PAIR (`kind`) of one SP library ("nng" or "nanomsg") at its defaults."""

    def __init__(self, lib, kind):
        self.lib = lib
        if lib == "nng":
            import pynng

            self.sock = nng_open({"BUS": pynng.Bus0, "PAIR": pynng.Pair1}[kind])
        else:
            self.sock = Nn({"BUS": NN_BUS, "PAIR": NN_PAIR}[kind])

    def listen(self):
        if self.lib == "nng":
            return nng_listen(self.sock, 0)
        port = free_port()
        self.sock.bind(port)
        return port

    def dial(self, port):
        if self.lib == "nng":
            self.sock.dial("tcp://127.0.0.1:%d" % port, block=True)
        else:
            self.sock.connect(port)

    def send(self, body, ms=200):
        """Whether `body` went out within `ms`."""
        if self.lib == "nng":
            import pynng

            self.sock.send_timeout = ms
            try:
                self.sock.send(body)
                return True
            except pynng.Timeout:
                return False
        return self.sock.send(body, ms)

    def recv(self, ms):
        """A message, or None if none came within `ms`."""
        if self.lib == "nng":
            return nng_try_recv(self.sock, ms)
        return self.sock.recv(ms)

    def drain_numbers(self):
        return numbers_until_quiet(self.recv)


def oracle_bus_hwm(lib):
    """A BUS sends PUB_SENT 100 kB messages to a BUS peer that has stopped reading,
    both at their library's defaults. NNG's bus0 keeps 16 a pipe out and 16 in, and
    at a full receive queue reads on and drops the new message; nanomsg's stops
    reading the pipe, and its sender drops for a pipe still writing one."""
    sender = SpEnd(lib, "BUS")
    port = sender.listen()
    receiver = SpEnd(lib, "BUS")
    receiver.dial(port)
    while receiver.recv(20) is None:
        sender.send(b"probe")
    while receiver.recv(50) is not None:
        pass
    blocked = False
    body = b"x" * PUB_BYTES
    for i in range(PUB_SENT):
        blocked |= not sender.send(b"%08d" % i + body)
    got = receiver.drain_numbers()
    say("OUTCOME", pub_outcome(blocked, got, *BUS_ENDS))
    say("TIME", "received", len(got))
    # A receiver that reads on takes later messages once it has room again, so what
    # it got is not the first n sent; one that stops reading gets exactly those.
    say("TIME", "gap", int(got != list(range(len(got)))))


def peer_bus_hwm(lib):
    """A BUS of `lib` at its defaults against patchbay's BUS, as peer_zmq_pub_hwm."""
    receiver = SpEnd(lib, "BUS")
    port = receiver.listen()
    say("READY", port)
    receiver.recv(TIMEOUT_MS)
    say("PROBED")
    assert line() == "stop"
    while receiver.recv(50) is not None:
        pass
    say("STOPPED")
    assert line() == "drain"
    say("GOT", " ".join(str(n) for n in receiver.drain_numbers()))
    line()


# ---------------------------------------------------------------- PAIR to a stopped PAIR


def until_blocked_outcome(sender, receiver, sent, got):
    """What a sender that sent `sent` numbered messages until one waited 200 ms, to a
    receiver that read none of them until told to drain, saw; `got` is what the
    receiver then got."""
    in_order = all(a < b for a, b in zip(got, got[1:]))
    return "; ".join([
        sender + (" blocked" if sent < PUB_SENT else " never blocked"),
        receiver + (" got first message" if got and got[0] == 0 else " missed the first message"),
        "in order" if in_order else "out of order",
        "got exactly what was sent" if got == list(range(sent)) else "lost some of what was sent",
    ])


def send_until_blocked(send):
    """Sends numbered 100 kB messages through `send(body)`, which says whether the
    message went out, until one waits its timeout (200 ms); how many went out."""
    body = b"x" * PUB_BYTES
    for i in range(PUB_SENT):
        if not send(b"%08d" % i + body):
            return i
    return PUB_SENT


def went(blocked, send, *args):
    """Whether `send(*args)` went out, rather than raising `blocked` (its timeout)."""
    try:
        send(*args)
        return True
    except blocked:
        return False


def oracle_pair_stopped(lib):
    """A PAIR sends to a PAIR that does not read, both at their library's defaults:
    NNG's receiver holds one message in its pipe (NNG_OPT_RECVBUF 0) and nanomsg's
    one too, so once the TCP buffers are full the sender's next send waits."""
    receiver = SpEnd(lib, "PAIR")
    port = receiver.listen()
    sender = SpEnd(lib, "PAIR")
    sender.dial(port)
    assert sender.send(b"hello", TIMEOUT_MS) and receiver.recv(TIMEOUT_MS) == b"hello"
    sent = send_until_blocked(sender.send)
    got = receiver.drain_numbers()
    say("OUTCOME", until_blocked_outcome("PAIR sender", "PAIR receiver", sent, got))
    say("TIME", "sent", sent)


def hello_then_drain(receiver):
    """Says where `receiver` listens, takes patchbay's "hello", reads nothing more
    until told to drain, then says the numbers it drained."""
    say("READY", receiver.listen())
    say("HELLO", (receiver.recv(TIMEOUT_MS) or b"nothing").decode())
    assert line() == "drain"
    say("GOT", " ".join(str(n) for n in receiver.drain_numbers()))


def peer_pair_stopped(lib):
    """A PAIR of `lib` at its defaults that takes patchbay's "hello", then reads
    nothing until told to drain."""
    hello_then_drain(SpEnd(lib, "PAIR"))
    line()


# ---------------------------------------------------------------- a sender's close

# The close rows: how many small messages the PUSH sends just before it closes, and
# how big each is (its number, then filler); as CLOSE_SMALL in the Rust rows.
CLOSE_SMALL = 50
CLOSE_SMALL_BYTES = 64
# nanomsg's documented NN_LINGER default (`Nn` sets 0 for the other rows); nanomsg
# ignores it since 1.1.0.
NN_LINGER_DEFAULT_MS = 1000


class CloseEnd:
    """A PUSH or PULL (`kind`) of `lib` ("zmq", "nng", "nanomsg") for the close rows,
    at its library's defaults, with `listen()`, `dial(port)`, `send(body, ms)` (whether
    it went out within `ms`), `recv(ms)` (a message, or None) and `close()`. libzmq's
    keeps LINGER at its default, -1 (`zsock` sets 0 for the other rows), with the
    high-water marks of 10 its other rows set, so that its sender waits as the SP
    ones do; its context lives as long as this end, as the linger needs."""

    def __init__(self, lib, kind):
        self.lib = lib
        if lib == "zmq":
            import zmq

            _, self.ctx = zmq_ctx()
            if kind == "PUSH":
                self.sock = zsock(self.ctx, zmq.PUSH, LINGER=-1, SNDHWM=HWM)
            else:
                self.sock = zsock(self.ctx, zmq.PULL, RCVHWM=HWM)
            self.timed = zmq_timed(self.sock)
        elif lib == "nng":
            self.sock = nng_open(nng_kind(kind))
            self.timed = nng_timed(self.sock)
        else:
            self.timed = Nn(NN_KINDS[kind])
            self.timed.setint(NN_LINGER, NN_LINGER_DEFAULT_MS)

    def listen(self):
        if self.lib == "zmq":
            return self.sock.bind_to_random_port("tcp://127.0.0.1")
        if self.lib == "nng":
            return nng_listen(self.sock, 0)
        port = free_port()
        self.timed.bind(port)
        return port

    def dial(self, port):
        if self.lib == "zmq":
            self.sock.connect("tcp://127.0.0.1:%d" % port)
        elif self.lib == "nng":
            self.sock.dial("tcp://127.0.0.1:%d" % port, block=True)
        else:
            self.timed.connect(port)

    def send(self, body, ms=200):
        return self.timed.send(body, ms)

    def recv(self, ms):
        if self.lib == "zmq":
            return zmq_try_recv(self.sock, ms)
        if self.lib == "nng":
            return nng_try_recv(self.sock, ms)
        return self.timed.recv(ms)

    def close(self):
        if self.lib == "nanomsg":
            Nn.lib.nn_close(self.timed.s)
        else:
            self.sock.close()

    def drain_numbers(self):
        """What arrives until nothing has for 500 ms, as the numbers it starts with."""
        return numbers_until_quiet(self.recv)


def close_small(push):
    """Sends CLOSE_SMALL numbered small messages, each within the script's timeout."""
    filler = b"x" * (CLOSE_SMALL_BYTES - 8)
    for i in range(CLOSE_SMALL):
        assert push.send(b"%08d" % i + filler, TIMEOUT_MS), "small message %d timed out" % i
    return CLOSE_SMALL


def close_part(what, sent, got):
    """What a receiver that got `got` (numbers) of `sent` numbered messages saw, in the
    words of the close rows: all of them, all but the last, in order, or otherwise."""
    if got == list(range(sent)):
        fate = "every one, in order"
    elif sent > 0 and got == list(range(sent - 1)):
        fate = "every one but the last, in order"
    elif len(got) < sent and got == list(range(len(got))):
        fate = "the first ones, and not the last %d" % (sent - len(got))
    else:
        fate = "not just the first ones sent, in order"
    return "%s: the PULL got %s" % (what, fate)


def close_outcome(small_got, big_sent, big_got):
    """The close rows' story: CLOSE_SMALL small messages, then a close, and what the
    PULL got; then big ones until a send waited, a close, and what it got."""
    small = "%d small messages, then the PUSH closed" % CLOSE_SMALL
    big = "big messages until a send %s, then the PUSH closed" % (
        "waited" if big_sent < PUB_SENT else "never waited")
    return "; ".join([
        close_part(small, CLOSE_SMALL, small_got),
        close_part(big, big_sent, big_got),
    ])


def close_run(lib, send):
    """A PUSH of `lib` dials a PULL, says hello, sends with `send(push)`, which says
    how many went out, and closes at once; the PULL, which read nothing but the hello,
    then drains. How many went, and what arrived."""
    pull = CloseEnd(lib, "PULL")
    push = CloseEnd(lib, "PUSH")
    push.dial(pull.listen())
    assert push.send(b"hello", TIMEOUT_MS) and pull.recv(TIMEOUT_MS) == b"hello"
    sent = send(push)
    push.close()
    return sent, pull.drain_numbers()


def oracle_close(lib):
    """A PUSH sends to a PULL that reads nothing, closes, and the PULL drains: first
    CLOSE_SMALL small messages, then, with fresh sockets, big ones until a send waits
    200 ms. NNG and nanomsg have no linger: their close does not wait for queued
    messages; what their I/O had written to the kernel arrives, and the message being
    written when it closed is lost. libzmq's LINGER -1 sends everything queued."""
    _, small_got = close_run(lib, close_small)
    big_sent, big_got = close_run(lib, lambda push: send_until_blocked(push.send))
    say("OUTCOME", close_outcome(small_got, big_sent, big_got))
    say("TIME", "sent", big_sent)
    say("TIME", "received", len(big_got))


def peer_close(lib):
    """Two PULLs of `lib`, one after the other, against patchbay's PUSH: each takes
    its hello, then reads nothing until told to drain."""
    for _ in ("small", "big"):
        hello_then_drain(CloseEnd(lib, "PULL"))
    line()


# ---------------------------------------------------------------- a closed REQ's request


# The zmq-req-close-lingers row's ZMQ_RECONNECT_IVL on both REQs, libzmq's default
# made explicit.
LINGERS_IVL_MS = 100


def lingers_outcome(linger, got):
    """The zmq-req-close-lingers story: the first REQ's LINGER (-1 or ms) and what
    the REP that came back got, sorted (the two REQs reconnect independently)."""
    return "linger %s; REP got %s" % (
        "forever" if linger < 0 else "%d ms" % linger,
        ",".join(sorted(got)) if got else "nothing",
    )


def answer_all(rep, seconds):
    """What `rep` gets within `seconds`, each request answered ("ok") so that the
    next can be read."""
    got = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if rep.poll(int((end - time.monotonic()) * 1000) + 1):
            got.append(rep.recv().decode())
            rep.send(b"ok")
    return got


def rep_comes_back(ctx, port):
    """A fresh REP binds `port` and reads for WINDOW_S (`answer_all`): it, and the
    bodies it got in the order they came."""
    import zmq

    rep = zsock(ctx, zmq.REP)
    rebind(rep, port)
    return rep, answer_all(rep, WINDOW_S)


def oracle_zmq_req_close_lingers():
    """libzmq's REQ closed with a request queued on a pipe whose connection is down
    keeps reconnecting while its linger lasts, for ever at LINGER -1 (its default),
    and the request reaches a REP that comes back; at LINGER 0 it is dropped, as the
    guide's Lazy Pirate, which sets LINGER 0 before closing its REQ, relies on."""
    contexts = []
    for linger in (-1, 0):
        # A context each (a monitor's inproc name is the socket's descriptor), kept
        # to the end: a context's term waits for a socket at LINGER -1.
        zmq, ctx = zmq_ctx()
        contexts.append(ctx)
        rep = zsock(ctx, zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        url = "tcp://127.0.0.1:%d" % port
        req = zsock(ctx, zmq.REQ, LINGER=linger, RECONNECT_IVL=LINGERS_IVL_MS)
        mon = req.get_monitor_socket()
        req.connect(url)
        assert monitor_wait(mon, ["EVENT_HANDSHAKE_SUCCEEDED"], 5), "the REQ never connected"
        rep.close()
        assert monitor_wait(mon, ["EVENT_DISCONNECTED"], 5), "the REQ never saw the REP go"
        req.send(b"abandoned")
        req.disable_monitor()
        mon.close()
        req.close()
        retry = zsock(ctx, zmq.REQ, RECONNECT_IVL=LINGERS_IVL_MS)
        retry.connect(url)
        retry.send(b"retry")
        rep, got = rep_comes_back(ctx, port)
        say("OUTCOME", lingers_outcome(linger, got))
        retry.close()
        rep.close()


def peer_zmq_req_close_lingers():
    """The libzmq REPs that patchbay's REQs connect to: the first binds and closes
    when told; the second binds the same port when told, reads for WINDOW_S answering
    each request, and reports what it got in the order it came."""
    zmq, ctx = zmq_ctx()
    rep = zsock(ctx, zmq.REP)
    port = rep.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    assert line() == "close"
    rep.close()
    assert line() == "bind"
    _, got = rep_comes_back(ctx, port)
    say("REP", ",".join(got) if got else "nothing")
    line()


# ---------------------------------------------------------------- a PAIR's second dialler

# How long the PAIR's send of 3 may wait once a has gone: an SP PAIR takes b at its next
# redial (every 100 ms, nanomsg's every NN_SECOND_RECONNECT_MS); libzmq's never does.
SECOND_SEND_MS = 2000
# nanomsg's b redials this far apart, so that the oracle's PAIR is seen without a peer
# (NN_STAT_CURRENT_CONNECTIONS 0) before b's next dial is taken.
NN_SECOND_RECONNECT_MS = 500
NN_STAT_ESTABLISHED_CONNECTIONS = 101
NN_STAT_BROKEN_CONNECTIONS = 104


def pair_kind(version):
    import pynng

    return pynng.Pair1 if version == 1 else pynng.Pair0


class PairDialler:
    """A PAIR of `lib` ("zmq", "nng", "nanomsg"; NNG's of `version`) dialling `port`,
    counting its connections as they come up and go: pynng's pipe callbacks, libzmq's
    monitor (handshake succeeded, disconnected), nanomsg's statistics (established,
    broken). Every wait is bounded."""

    def __init__(self, lib, port, version=1):
        self.lib = lib
        self.ups = self.downs = 0
        url = "tcp://127.0.0.1:%d" % port
        if lib == "nng":
            self.changed = threading.Condition()
            self.sock = nng_open(pair_kind(version), reconnect_time_min=100,
                                 reconnect_time_max=100)
            self.sock.add_post_pipe_connect_cb(lambda _p: self.count(1, 0))
            self.sock.add_post_pipe_remove_cb(lambda _p: self.count(0, 1))
            self.sock.dial(url, block=False)
        elif lib == "zmq":
            import zmq

            _, ctx = zmq_ctx()
            self.sock = zsock(ctx, zmq.PAIR)
            self.mon = self.sock.get_monitor_socket()
            self.sock.connect(url)
        else:
            self.sock = Nn(NN_PAIR)
            self.sock.setint(NN_RECONNECT_IVL, NN_SECOND_RECONNECT_MS)
            self.sock.connect(port)

    def count(self, ups, downs):
        with self.changed:
            self.ups += ups
            self.downs += downs
            self.changed.notify_all()

    def wait(self, ups, downs, seconds):
        """Whether it has seen `ups` connections come up and `downs` go within
        `seconds`."""
        def done():
            return self.ups >= ups and self.downs >= downs

        if self.lib == "nng":
            with self.changed:
                return self.changed.wait_for(done, seconds)
        end = time.monotonic() + seconds
        while not done() and time.monotonic() < end:
            if self.lib == "zmq":
                import zmq
                from zmq.utils.monitor import recv_monitor_message

                if self.mon.poll(int((end - time.monotonic()) * 1000) + 1):
                    event = recv_monitor_message(self.mon)["event"]
                    self.ups += event == zmq.EVENT_HANDSHAKE_SUCCEEDED
                    self.downs += event == zmq.EVENT_DISCONNECTED
            else:
                stat = Nn.lib.nn_get_statistic
                self.ups = stat(self.sock.s, NN_STAT_ESTABLISHED_CONNECTIONS)
                self.downs = stat(self.sock.s, NN_STAT_BROKEN_CONNECTIONS)
                time.sleep(0.001)
        return done()

    def fate(self):
        """What became of its first connection: "closed" when the PAIR closed it within
        WINDOW_S of coming up, "kept" when it did not."""
        if not self.wait(1, 0, TIMEOUT_MS / 1000):
            return "never-up"
        return "closed" if self.wait(1, 1, WINDOW_S) else "kept"

    def recv(self, ms):
        """A message's text, or "nothing" if none came within `ms`."""
        if self.lib == "nng":
            got = nng_try_recv(self.sock, ms)
        elif self.lib == "zmq":
            got = zmq_try_recv(self.sock, ms)
        else:
            got = self.sock.recv(ms)
        return "nothing" if got is None else got.decode()

    def close(self):
        if self.lib == "nanomsg":
            Nn.lib.nn_close(self.sock.s)
        else:
            self.sock.close()


def zmq_try_recv(sock, ms):
    import zmq

    sock.setsockopt(zmq.RCVTIMEO, ms)
    try:
        return sock.recv()
    except zmq.Again:
        return None


class BoundPair:
    """The oracle's PAIR of `lib`, bound, with `send(body, ms)`, whether it went out
    within `ms`, and `wait_first_gone()`, whether it let go of the peer it took first
    within the peer script's timeout, so that its next send cannot go there."""

    def __init__(self, lib, version=1):
        self.lib = lib
        if lib == "nng":
            self.pipes, self.removed = [], set()
            sock = nng_open(pair_kind(version))
            sock.add_post_pipe_connect_cb(lambda p: self.pipes.append(p.id))
            sock.add_post_pipe_remove_cb(lambda p: self.removed.add(p.id))
            self.port = nng_listen(sock, 0)
            self.send_fd = sock.send_fd
            self.timed = nng_timed(sock)
        elif lib == "zmq":
            import zmq

            _, ctx = zmq_ctx()
            self.sock = zsock(ctx, zmq.PAIR)
            self.port = self.sock.bind_to_random_port("tcp://127.0.0.1")
            self.timed = zmq_timed(self.sock)
        else:
            self.timed = Nn(NN_PAIR)
            self.port = free_port()
            self.timed.bind(self.port)

    def send(self, body, ms=TIMEOUT_MS):
        return self.timed.send(body, ms)

    def holds_first(self):
        """Whether the PAIR may still send to the peer it took first. NNG: until that
        pipe is removed (NNG_PIPE_EV_REM_POST), and after it while the PAIR is
        writable (its send fd readable) with no other pipe taken, since the callback
        comes before `pair1_pipe_stop` lets go of the pipe; libzmq: while the PAIR is
        writable (ZMQ_EVENTS processes its commands and reads the terminated pipe's
        delimiter); nanomsg: while it has a pipe (NN_STAT_CURRENT_CONNECTIONS)."""
        if self.lib == "nng":
            if not self.pipes or self.pipes[0] not in self.removed:
                return True
            return len(self.pipes) == 1 and bool(select.select([self.send_fd], [], [], 0)[0])
        if self.lib == "zmq":
            import zmq

            return bool(self.sock.getsockopt(zmq.EVENTS) & zmq.POLLOUT)
        return self.timed.connections() > 0

    def wait_first_gone(self):
        end = time.monotonic() + TIMEOUT_MS / 1000
        while self.holds_first():
            if time.monotonic() > end:
                return False
            time.sleep(0.001)
        return True


def second_dialler_outcome(a1, b_fate, a2, sent, b3):
    fate = {
        "closed": "b connected, then was closed",
        "kept": "b connected and was kept",
    }.get(b_fate, "b never connected")
    return "; ".join([
        "a got " + a1,
        fate,
        "a got " + a2,
        "a closed, and the PAIR's send of 3 " + ("went out" if sent else "timed out"),
        "b got " + b3,
    ])


def oracle_pair_second_dialler(lib, version=1):
    """A bound PAIR with a peer, a, and a second dialler, b. NNG's pair0 and pair1
    close b's connection once it is up (`pair1_pipe_start`: NNG_EBUSY) and nanomsg's
    exclusive pipe refuses it (`nn_excl_add`: EISCONN): b redials, and once a has
    gone it is taken and gets the PAIR's next message. libzmq's PAIR terminates b's
    pipe and keeps its connection (`pair_t::xattach_pipe`): once a has gone the
    PAIR has no peer, its send waits, and b gets nothing."""
    pair = BoundPair(lib, version)
    a = PairDialler(lib, pair.port, version)
    assert pair.send(b"1"), "the PAIR's send of 1 timed out"
    a1 = a.recv(TIMEOUT_MS)
    b = PairDialler(lib, pair.port, version)
    b_fate = b.fate()
    assert pair.send(b"2"), "the PAIR's send of 2 timed out"
    a2 = a.recv(TIMEOUT_MS)
    if b_fate == "closed":
        # a goes just after b's next refusal, so that b's next dial is a reconnect
        # interval away and the PAIR is seen without a peer (nanomsg's statistic).
        b.wait(b.ups, b.downs + 1, TIMEOUT_MS / 1000)
    a.close()
    assert pair.wait_first_gone(), "the PAIR never saw a go"
    sent = pair.send(b"3", SECOND_SEND_MS)
    b3 = b.recv(int(1000 * WINDOW_S))
    say("OUTCOME", second_dialler_outcome(a1, b_fate, a2, sent, b3))


def peer_pair_second_dialler(lib, port, version=1):
    """a and b, PAIRs of `lib`, dialling patchbay's PAIR at `port`, one after the
    other; once told the PAIR has sent 3 ("SENT" on stdin), b says what it got."""
    a = PairDialler(lib, port, version)
    say("A GOT", a.recv(TIMEOUT_MS))
    b = PairDialler(lib, port, version)
    say("B", b.fate())
    say("A GOT", a.recv(TIMEOUT_MS))
    a.close()
    say("A CLOSED")
    assert line() == "SENT"
    say("B GOT", b.recv(int(1000 * WINDOW_S)))
    line()


# ---------------------------------------------------------------- REQ before its peer


def req_early_outcome(blocked, rep_got, req_got):
    return "; ".join([
        "REQ send blocked" if blocked else "REQ send did not block",
        "REP got " + (rep_got or "nothing"),
        "REQ got " + (req_got or "nothing"),
    ])


class Early:
    """One library's REQ and REP for the REQ-before-its-peer rows, each with `send(body,
    ms)`, whether the send went through within `ms`, and `recv()`, a body (`Nn` has
    them; pyzmq's and pynng's sockets are wrapped in `Timed`)."""

    def __init__(self, lib):
        self.lib = lib

    def req(self, port):
        if self.lib == "zmq":
            import zmq

            _, ctx = zmq_ctx()
            s = zsock(ctx, zmq.REQ)
            s.connect("tcp://127.0.0.1:%d" % port)
            return zmq_timed(s)
        if self.lib == "nng":
            import pynng

            s = nng_open(pynng.Req0, reconnect_time_min=100, reconnect_time_max=100)
            s.dial("tcp://127.0.0.1:%d" % port, block=False)
            return nng_timed(s)
        s = Nn(NN_REQ)
        s.setint(NN_RECONNECT_IVL, 100)
        s.connect(port)
        return s

    def rep(self, port):
        if self.lib == "zmq":
            import zmq

            _, ctx = zmq_ctx()
            s = zsock(ctx, zmq.REP)
            s.bind("tcp://127.0.0.1:%d" % port)
            return zmq_timed(s)
        if self.lib == "nng":
            import pynng

            s = nng_open(pynng.Rep0)
            nng_listen(s, port)
            return nng_timed(s)
        s = Nn(NN_REP)
        s.bind(port)
        return s


class Timed:
    """A pyzmq or pynng socket with `Nn`'s `send(body, ms)` and `recv()`."""

    def __init__(self, sock, set_send_timeout, timeout_error):
        self.sock = sock
        self.set_send_timeout = set_send_timeout
        self.timeout_error = timeout_error

    def send(self, body, ms=TIMEOUT_MS):
        self.set_send_timeout(self.sock, ms)
        try:
            self.sock.send(body)
            return True
        except self.timeout_error:
            return False

    def recv(self):
        return self.sock.recv()


def zmq_timed(sock):
    import zmq

    return Timed(sock, lambda s, ms: s.setsockopt(zmq.SNDTIMEO, ms), zmq.Again)


def nng_timed(sock):
    import pynng

    return Timed(sock, lambda s, ms: setattr(s, "send_timeout", ms), pynng.Timeout)


def oracle_req_early(lib):
    """A REQ connects before any REP exists and sends `req-1`; then a REP binds and
    echoes. libzmq's REQ queues the request on the pipe it made at connect, and
    nanomsg's takes it at once; NNG's send waits until a pipe takes it."""
    port = free_port()
    req = Early(lib).req(port)
    blocked = not req.send(b"req-1", 200)
    rep = Early(lib).rep(port)
    if blocked:
        assert req.send(b"req-1"), "the REQ's send never went through"
    rep_got = rep.recv()
    rep.send(b"echo:" + rep_got)
    say("OUTCOME", req_early_outcome(blocked, rep_got.decode(), req.recv().decode()))


def peer_req_early(lib, port):
    """A REP that binds `port` when told ("up") and echoes one request."""
    assert line() == "up"
    rep = Early(lib).rep(port)
    say("BOUND")
    got = rep.recv()
    say("GOT", got.decode())
    rep.send(b"echo:" + got)
    line()

# ---------------------------------------------------------------- REQ joining rows

# The *-req-joining rows: REPs join a bound REQ one after another, each answering
# `name:request`; after the i-th has joined the REQ asks JOINING_ASKS[i] requests.
JOINING = ("a", "b", "c", "d")
JOINING_ASKS = (0, 2, 4, 4)
JOINING_PAUSE_S = 0.1
# Between a reply and the next request. NNG's and nanomsg's REQ take a pipe out of
# their ready list while its request is written and put it back when the write is
# done; a reply can come back before that, and the next request then skips the pipe
# (NNG did so in about one run in fifteen without the gap). The gap lets the write
# finish, so the order is the list's.
JOINING_GAP_S = 0.1


def joining_rep(lib, name, port, serve=True):
    """A REP of `lib` dialling `port`, answering `name:request` on a thread of its own
    (an SP one only if `serve`: else the caller answers, see `nng_answer_one`)."""
    if lib == "zmq":
        import zmq

        _, ctx = zmq_ctx()
        rep = zsock(ctx, zmq.REP)
        rep.connect("tcp://127.0.0.1:%d" % port)
        zmq_serve_named(rep, name)
        return rep
    if lib == "nng":
        import pynng

        rep = nng_open(pynng.Rep0)
        rep.dial("tcp://127.0.0.1:%d" % port, block=True)
        if not serve:
            return rep

        def serve():
            try:
                while True:
                    request = rep.recv()
                    rep.send(name + b":" + request)
            except pynng.Closed:
                return  # the process is ending
    else:
        rep = Nn(NN_REP)
        rep.connect(port)
        if not serve:
            return rep

        def serve():
            while True:
                request = rep.recv(TIMEOUT_MS)
                if request is not None:
                    assert rep.send(name + b":" + request), "a REP's answer timed out"

    threading.Thread(target=serve, daemon=True).start()
    return rep


def nng_answer_one(reps):
    """The NNG REP (of `(name, rep)`) that got the request answers it. The oracle
    answers on its own thread: NNG REPs blocked in other threads sometimes crashed
    the interpreter's exit on a loaded machine."""
    deadline = time.time() + TIMEOUT_MS / 1000
    while time.time() < deadline:
        for name, rep in reps:
            request = nng_try_recv(rep, 5)
            if request is not None:
                rep.send(name + b":" + request)
                return
    raise AssertionError("no REP got the request")


def joining_outcome(answered):
    return "REQ answered by " + ",".join(answered)


def oracle_req_joining(lib):
    """Which REP a REQ sends to as REPs join it. libzmq's `lb_t` deals in turn over an
    array, and a pipe that joins after the turn wrapped waits for the others: a,b |
    a,b,c,a | b,c,d,a. NNG's and nanomsg's REQ send to the pipe idle longest, and a
    new pipe joins the back of that list: a,b | a,b,c,a | b,c,a,d."""
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
        req = zsock(ctx, zmq.REQ)
        port = req.bind_to_random_port("tcp://127.0.0.1")
        req = zmq_timed(req)
    elif lib == "nng":
        import pynng

        req = nng_open(pynng.Req0)
        port = nng_listen(req, 0)
        req = nng_timed(req)
    else:
        req = Nn(NN_REQ)
        port = free_port()
        req.bind(port)
    reps, answered, n = [], [], 0
    for name, asks in zip(JOINING, JOINING_ASKS):
        reps.append((name.encode(), joining_rep(lib, name.encode(), port, lib != "nng")))
        time.sleep(JOINING_PAUSE_S)
        for _ in range(asks):
            n += 1
            assert req.send(b"req-%d" % n), "the REQ's send timed out"
            if lib == "nng":
                nng_answer_one(reps)
            answered.append(req.recv().decode().split(":")[0])
            time.sleep(JOINING_GAP_S)
    say("OUTCOME", joining_outcome(answered))


def peer_req_joining(lib, port):
    """REPs for patchbay's REQ at `port`: one more joins each time patchbay says
    "join"."""
    reps = []
    for name in JOINING:
        assert line() == "join"
        reps.append(joining_rep(lib, name.encode(), port))
        time.sleep(JOINING_PAUSE_S)
        say("JOINED")
    line()


# ---------------------------------------------------------------- REQ resend rows

# The *-req-resend-rotates rows: REPs a, b, c join a bound REQ whose resend interval
# is ROTATING_RESEND_MS; a and b hold what they get until released, c answers at
# once. The REQ sends req-1 (which its resends carry to b, then c), the REPs are
# released (a's and b's late answers to req-1 reach the REQ), and the REQ sends req-2.
ROTATING = ("a", "b", "c")
# Long enough that c's answer, sent as soon as it gets req-1, reaches the REQ before
# its next resend even on a loaded machine: at 500 ms a CI run once stalled past it,
# and the REQ sent req-1 to a a second time.
ROTATING_RESEND_MS = 1500
# Between the late answers and req-2, so that they reach the REQ while it has no
# request out: the experiment's timing, as JOINING_GAP_S is.
ROTATING_GAP_S = 0.1
NN_REQ_RESEND_IVL = 1


class HoldingReps:
    """The rows' REPs, dialling `port`, polled on one thread of their own; each
    reports what it gets through `report("GOT", name, body)` before it answers."""

    def __init__(self, lib, port, report):
        self.lib, self.port, self.report = lib, port, report
        self.reps = []
        self.held = []
        self.release_asked = threading.Event()
        self.released = threading.Event()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def join(self, name):
        self.reps.append((name, joining_rep(self.lib, name.encode(), self.port, False)))

    def serve(self):
        while not self.stop.is_set():
            if self.release_asked.is_set() and not self.released.is_set():
                for name, rep, request in self.held:
                    self.answer(name, rep, request)
                self.held.clear()
                self.released.set()
            for name, rep in self.reps:
                if any(held == name for held, _, _ in self.held):
                    # nanomsg's REP drops the request it holds at its next
                    # receive, even one that times out (nn_rep_recv): a REP that
                    # holds one is not polled until it has answered.
                    continue
                if self.lib == "nng":
                    request = nng_try_recv(rep, 5)
                else:
                    request = rep.recv(5)
                if request is None:
                    continue
                self.report("GOT", name, request.decode())
                if name == ROTATING[-1] or self.released.is_set():
                    self.answer(name, rep, request)
                else:
                    self.held.append((name, rep, request))

    def answer(self, name, rep, request):
        assert rep.send(name.encode() + b":" + request) is not False, "a REP's answer timed out"

    def release(self):
        """a and b answer what they hold; returns once they have."""
        self.release_asked.set()
        assert self.released.wait(TIMEOUT_MS / 1000), "the REPs were not released"

    def close(self):
        self.stop.set()
        self.thread.join()


def rotating_outcome(got, replies):
    return "; ".join([", ".join(got), "REQ got " + " then ".join(replies)])


def oracle_req_resend_rotates(lib):
    """Where an SP REQ's resends go when its REP holds the request: to the pipe idle
    longest, as a first send does (NNG's `ready_pipes`, nanomsg's `nn_lb`), so req-1
    goes to a, then b, then c; the late answers carry req-1's id and are dropped; req-2
    goes to a, idle longest again."""
    if lib == "nng":
        import pynng

        req = nng_open(pynng.Req0, resend_time=ROTATING_RESEND_MS)
        port = nng_listen(req, 0)
        req = nng_timed(req)
    else:
        req = Nn(NN_REQ)
        req.setint(NN_REQ_RESEND_IVL, ROTATING_RESEND_MS, level=NN_REQ)
        port = free_port()
        req.bind(port)
    got = []
    reps = HoldingReps(lib, port, lambda _what, name, body: got.append(name + " got " + body))
    connections = (lambda: len(req.sock.pipes)) if lib == "nng" else req.connections
    for n, name in enumerate(ROTATING, 1):
        reps.join(name)
        # The REQ's pipes join its ready list in the order they come up.
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while connections() < n:
            assert time.monotonic() < deadline, "REP %s never connected" % name
            time.sleep(0.001)
    reps.thread.start()
    replies = []
    for n in (1, 2):
        assert req.send(b"req-%d" % n), "the REQ's send timed out"
        replies.append(req.recv().decode())
        if n == 1:
            reps.release()
            time.sleep(ROTATING_GAP_S)
    reps.close()
    say("OUTCOME", rotating_outcome(got, replies))


def peer_req_resend_rotates(lib, port):
    """The REPs for patchbay's REQ at `port`: one more joins each time patchbay says
    "join"; "release" frees a and b."""
    reps = HoldingReps(lib, port, say)
    for name in ROTATING:
        assert line() == "join"
        reps.join(name)
        # patchbay waits for its REQ to see the connection before the next "join".
        say("JOINED")
    reps.thread.start()
    assert line() == "release"
    reps.release()
    say("RELEASED")
    line()
    reps.close()


# ---------------------------------------------------------------- ROUTER row


def router_outcome(mandatory, unknown, got):
    return "; ".join([
        "mandatory %s" % ("on" if mandatory else "off"),
        "send to unknown id " + unknown,
        "DEALER got " + (",".join(got) if got else "nothing"),
    ])


def router_try_send(router, ident, body):
    """A ROUTER's send of `body` to `ident`, without waiting: taken, refused or
    blocked, in the words of `router_try_send` on the Rust side."""
    import zmq

    try:
        router.send_multipart([ident, body], zmq.NOBLOCK)
        return "taken"
    except zmq.Again:
        return "blocked"
    except zmq.ZMQError as err:
        return "refused (host unreachable)" if err.errno == zmq.EHOSTUNREACH else str(err)


def oracle_zmq_router_unknown():
    zmq, ctx = zmq_ctx()
    for mandatory in (0, 1):
        router = zsock(ctx, zmq.ROUTER, ROUTER_MANDATORY=mandatory)
        port = router.bind_to_random_port("tcp://127.0.0.1")
        dealer = zsock(ctx, zmq.DEALER)
        dealer.connect("tcp://127.0.0.1:%d" % port)
        dealer.send(b"hello")
        ident, _ = router.recv_multipart()
        unknown = router_try_send(router, b"\x00nobody", b"lost")
        router.send_multipart([ident, b"found"])
        got = [dealer.recv().decode()] + [m.decode() for m in quiet(dealer, 0.2)]
        say("OUTCOME", router_outcome(mandatory, unknown, got))
        router.close()
        dealer.close()


def peer_zmq_router_unknown(url):
    """A libzmq DEALER against patchbay's ROUTER: says hello, reports what comes."""
    zmq, ctx = zmq_ctx()
    dealer = zsock(ctx, zmq.DEALER)
    dealer.connect(url)
    dealer.send(b"hello")
    say("READY", 0)
    say("GOT", dealer.recv().decode())
    got = [m.decode() for m in quiet(dealer, 0.2)]
    say("MORE", ",".join(got) if got else "nothing")
    line()


# ---------------------------------------------------------------- ROUTER across a reconnect


# The zmq-router-reconnects row's ZMQ_RECONNECT_IVL on the ROUTER.
RECONNECTS_IVL_MS = 100


def reconnects_outcome(mandatory, hello, while_down, b_got, b_from):
    return "; ".join([
        "mandatory %s" % ("on" if mandatory else "off"),
        "ROUTER got " + hello,
        "while-down " + while_down,
        "B got " + b_got,
        "hello-b came from " + b_from,
    ])


def reconnects_b(ctx, port, reconnected):
    """DEALER B binds `port` after A has gone; once `reconnected()` has returned
    (the ROUTER has reconnected and sent "after"), it reads for WINDOW_S and says
    hello-b. Gives B and what it got ("nothing", or the bodies joined by commas)."""
    import zmq

    b = zsock(ctx, zmq.DEALER)
    rebind(b, port)
    reconnected()
    got = [m.decode() for m in quiet(b, WINDOW_S)]
    b.send(b"hello-b")
    return b, ",".join(got) if got else "nothing"


def oracle_zmq_router_reconnects():
    """libzmq's ROUTER that connected keeps its pipe, and A's routing id, across A's
    close: "while-down", sent to that id before anyone listens again, is taken and
    goes out on the reconnect to B, which bound the same port; so does "after", and
    B's own message comes in under A's id. ROUTER_MANDATORY off, then on."""
    for mandatory in (0, 1):
        # A context each: a monitor's inproc name is the socket's descriptor, which
        # the second ROUTER may reuse while the first's monitor still holds it.
        zmq, ctx = zmq_ctx()
        a = zsock(ctx, zmq.DEALER)
        port = a.bind_to_random_port("tcp://127.0.0.1")
        router = zsock(
            ctx, zmq.ROUTER, ROUTER_MANDATORY=mandatory, RECONNECT_IVL=RECONNECTS_IVL_MS
        )
        mon = router.get_monitor_socket()
        router.connect("tcp://127.0.0.1:%d" % port)
        a.send(b"hello-a")
        ident, hello = router.recv_multipart()
        a.close()
        assert monitor_wait(mon, ["EVENT_DISCONNECTED"], 5), "the ROUTER never saw A go"
        while_down = router_try_send(router, ident, b"while-down")

        def reconnected():
            assert monitor_wait(mon, ["EVENT_HANDSHAKE_SUCCEEDED"], 5), "no reconnect"
            router.send_multipart([ident, b"after"])

        b, b_got = reconnects_b(ctx, port, reconnected)
        b_ident, _ = router.recv_multipart()
        b_from = "A's id" if b_ident == ident else "another id"
        say("OUTCOME", reconnects_outcome(mandatory, hello.decode(), while_down, b_got, b_from))
        for s in (mon, router, b):
            s.close()


def peer_zmq_router_reconnects():
    """libzmq DEALERs that patchbay's ROUTER connects to: A binds, says hello-a and
    closes when told; B binds the same port when told, reads once told the ROUTER
    has sent "after", reports what came and says hello-b."""
    zmq, ctx = zmq_ctx()
    a = zsock(ctx, zmq.DEALER)
    port = a.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    a.send(b"hello-a")
    assert line() == "close"
    a.close()
    assert line() == "bind"
    _, got = reconnects_b(ctx, port, line)
    say("B", got)
    line()


# ---------------------------------------------------------------- ROUTER to a stalled peer


# The kernel buffers the zmq-router-full-sndbuf row sets (ZMQ_SNDBUF, ZMQ_RCVBUF).
SMALL_KERNEL_BUFFER = 64 * 1024


def kernel_buffers(option, size):
    """The socket option setting a kernel buffer of `size`, or none (-1: the system's)."""
    return {option: size} if size else {}


def oracle_zmq_router_full(mandatory, buffer=None):
    """libzmq's ROUTER (SNDHWM 10) to a DEALER (RCVHWM 10) that said hello and then
    stopped reading: without ROUTER_MANDATORY a message for a full peer is dropped
    and the send returns at once; with it, the send waits for room. `buffer`, if
    given, is the ROUTER's SNDBUF and the DEALER's RCVBUF."""
    zmq, ctx = zmq_ctx()
    router = zsock(
        ctx,
        zmq.ROUTER,
        SNDHWM=HWM,
        ROUTER_MANDATORY=int(mandatory),
        SNDTIMEO=200,
        **kernel_buffers("SNDBUF", buffer),
    )
    port = router.bind_to_random_port("tcp://127.0.0.1")
    dealer = zsock(ctx, zmq.DEALER, RCVHWM=HWM, **kernel_buffers("RCVBUF", buffer))
    dealer.connect("tcp://127.0.0.1:%d" % port)
    dealer.send(b"hello")
    ident, _ = router.recv_multipart()
    sent = send_until_blocked(lambda body: went(zmq.Again, router.send_multipart, [ident, body]))
    got = drain_numbers(dealer)
    say("OUTCOME", until_blocked_outcome("ROUTER", "DEALER", sent, got))
    say("TIME", "sent", sent)
    say("TIME", "received", len(got))


def nng_raw_recv(sock):
    """A raw socket's next message as (header, body): pynng hands a raw socket's body
    alone, and a raw REP needs the header (pipe id, request id) to route an answer."""
    from pynng import ffi, lib
    from pynng.exceptions import check_err

    msgp = ffi.new("nng_msg **")
    check_err(lib.nng_recvmsg(sock.socket, msgp, 0))
    m = msgp[0]
    header = bytes(ffi.buffer(lib.nng_msg_header(m), lib.nng_msg_header_len(m)))
    body = bytes(ffi.buffer(lib.nng_msg_body(m), lib.nng_msg_len(m)))
    lib.nng_msg_free(m)
    return header, body


def nng_raw_send(sock, header, body):
    """Sends `body` behind `header` on a raw socket (raises pynng.Timeout)."""
    from pynng import ffi, lib
    from pynng.exceptions import check_err

    msgp = ffi.new("nng_msg **")
    check_err(lib.nng_msg_alloc(msgp, 0))
    m = msgp[0]
    check_err(lib.nng_msg_header_append(m, header, len(header)))
    check_err(lib.nng_msg_append(m, body, len(body)))
    check_err(lib.nng_sendmsg(sock.socket, m, 0))


def oracle_nng_router_full():
    """NNG's raw REP (patchbay's nng ROUTER) to a raw REQ that said hello and then
    stopped reading, both at their defaults: xrep0 queues 64 messages per pipe, a
    size it fixes, and drops a message for a full pipe; the send never waits."""
    import pynng

    router = nng_open(nng_kind("ROUTER"), send_timeout=200)
    port = nng_listen(router, 0)
    dealer = nng_open(nng_kind("DEALER"))
    dealer.dial("tcp://127.0.0.1:%d" % port, block=True)
    dealer.send(push_body(DEALER_ROUTER, 1)[:4] + b"hello")
    header, _ = nng_raw_recv(router)
    sent = send_until_blocked(lambda body: went(pynng.Timeout, nng_raw_send, router, header, body))
    got = nng_drain_numbers(dealer)
    say("OUTCOME", until_blocked_outcome("ROUTER", "DEALER", sent, got))
    say("TIME", "sent", sent)
    say("TIME", "received", len(got))


def raw_req_send_until_blocked(dealer):
    """Sends numbered 100 kB requests on a raw REQ, each led by a request id (the raw
    REP only carries it back), until one waits 200 ms; how many went out."""
    import pynng

    dealer.send_timeout = 200
    request_id = struct.pack(">I", 0x80000001)
    return send_until_blocked(lambda body: went(pynng.Timeout, dealer.send, request_id + body))


def oracle_nng_router_stopped():
    """NNG's raw REQ sends to a raw REP (patchbay's nng DEALER and ROUTER) that reads
    nothing, both at their defaults: xrep0 takes one message into its socket queue
    (NNG_OPT_RECVBUF 1) and each pipe holds one more, so once the kernels' buffers
    are full the REQ's send waits, and the REP then gets exactly what was sent."""
    router = nng_open(nng_kind("ROUTER"))
    port = nng_listen(router, 0)
    dealer = nng_open(nng_kind("DEALER"))
    dealer.dial("tcp://127.0.0.1:%d" % port, block=True)
    sent = raw_req_send_until_blocked(dealer)
    got = nng_drain_numbers(router)
    say("OUTCOME", until_blocked_outcome("DEALER", "ROUTER", sent, got))
    say("TIME", "sent", sent)


def peer_nng_router_stopped(url):
    """NNG's raw REQ at its defaults, dialling patchbay's ROUTER (which reads nothing
    until it has heard how many went out): sends until a send waits, says how many."""
    dealer = nng_open(nng_kind("DEALER"))
    dealer.dial(url, block=True)
    say("SENT", raw_req_send_until_blocked(dealer))
    line()


# The nng-pull-ready-first row: the PUSHes in the order they dial, the order they
# send in, and the pause after each step.
READY_FIRST_DIAL = "abc"
READY_FIRST_SEND = "cab"
READY_FIRST_PAUSE_S = 0.1


def ready_first_pushes(url):
    """NNG PUSHes at their defaults, dialling `url` one after another."""
    import pynng

    pushes = {}
    for name in READY_FIRST_DIAL:
        pushes[name] = nng_open(pynng.Push0)
        pushes[name].dial(url, block=True)
        time.sleep(READY_FIRST_PAUSE_S)
    return pushes


def ready_first_sends(pushes, burst=("",)):
    """Each PUSH in READY_FIRST_SEND's order sends its name with each suffix of
    `burst`, then waits."""
    for name in READY_FIRST_SEND:
        for suffix in burst:
            pushes[name].send((name + suffix).encode())
        time.sleep(READY_FIRST_PAUSE_S)


def oracle_nng_pull_ready_first():
    """NNG's PULL takes from the pipe that became ready first (pull0's `pl` list), not
    in turn: each pipe holds one message, and they come out as they arrived."""
    import pynng

    pull = nng_open(pynng.Pull0)
    port = nng_listen(pull, 0)
    pushes = ready_first_pushes("tcp://127.0.0.1:%d" % port)
    ready_first_sends(pushes)
    got = []
    while (msg := nng_try_recv(pull, 300)) is not None:
        got.append(msg.decode())
    say("OUTCOME", "PULL got " + ",".join(got))


def peer_nng_pull_ready_first(url):
    """Three NNG PUSHes dialling patchbay's PULL, which reads nothing until they have
    sent: they send in READY_FIRST_SEND's order, then say so."""
    ready_first_sends(ready_first_pushes(url))
    say("SENT")
    line()


# The nng-push-ready-longest row: the PULLs in the order they dial, the order they
# read in, and the size of a message too big for the kernels' buffers to take whole
# (Linux grows a loopback connection's receive buffer up to tcp_rmem's maximum, 32 MiB
# here, and with 16 MiB messages a second one sometimes went through unread).
READY_LONGEST_DIAL = "abc"
READY_LONGEST_DRAIN = "cba"
READY_LONGEST_BYTES = 48 * 1024 * 1024
READY_LONGEST_SMALL = ("x1", "x2", "x3")


class ReadyLongestPull:
    """A PULL of `lib` ("nng" or "nanomsg") with no receive limit, dialling `port`."""

    def __init__(self, lib, port):
        self.lib = lib
        if lib == "nng":
            import pynng

            self.s = nng_open(pynng.Pull0, recv_max_size=0)
            self.s.dial("tcp://127.0.0.1:%d" % port, block=True)
        else:
            self.s = Nn(NN_PULL)
            self.s.setint(NN_RCVMAXSIZE, -1)
            self.s.connect(port)

    def recv(self, ms):
        """A message, or None if none came within `ms`."""
        return nng_try_recv(self.s, ms) if self.lib == "nng" else self.s.recv(ms)


def ready_longest_pulls(lib, port):
    """The row's PULLs, dialling `port` one after another."""
    pulls = {}
    for name in READY_LONGEST_DIAL:
        pulls[name] = ReadyLongestPull(lib, port)
        time.sleep(READY_FIRST_PAUSE_S)
    return pulls


def ready_longest_drain(pulls):
    """Each PULL in READY_LONGEST_DRAIN's order takes its two big messages (the
    second one's write completes as it does), then waits."""
    for name in READY_LONGEST_DRAIN:
        for _ in range(2):
            msg = pulls[name].recv(10000)
            assert msg is not None and len(msg) == READY_LONGEST_BYTES, "a big message"
        time.sleep(READY_FIRST_PAUSE_S)


def ready_longest_outcome(pulls):
    """Which small message each PULL got."""
    got = []
    for name in READY_LONGEST_DIAL:
        msg = pulls[name].recv(1000)
        got.append("%s got %s" % (name, "nothing" if msg is None else msg.decode()))
    return ", ".join(got)


def oracle_push_ready_longest(lib):
    """The SP libraries' PUSH hands a message to the pipe ready longest, not in turn:
    NNG's push0 keeps a list of ready pipes (`pl`) that a pipe joins at the back when
    its send completes; nanomsg's `nn_lb` takes a pipe off its list while it writes
    and puts it back at the end. The pipes' second big messages complete c, then b,
    then a, and x1, x2, x3 go to c, b, a."""
    big = b"b" * READY_LONGEST_BYTES
    if lib == "nng":
        import pynng

        push = nng_open(pynng.Push0, send_timeout=10000)
        port = nng_listen(push, 0)

        def send(body):
            push.send(body)
    else:
        push = Nn(NN_PUSH)
        port = free_port()
        push.bind(port)

        def send(body):
            assert push.send(body, 10000), "a nanomsg PUSH send timed out"
    pulls = ready_longest_pulls(lib, port)
    for _ in range(2 * len(pulls)):
        send(big)
    time.sleep(READY_FIRST_PAUSE_S)
    ready_longest_drain(pulls)
    for body in READY_LONGEST_SMALL:
        send(body.encode())
    say("OUTCOME", ready_longest_outcome(pulls))


def peer_push_ready_longest(lib, port):
    """Three PULLs of `lib` dialling patchbay's PUSH: once it has sent its big
    messages they read theirs in READY_LONGEST_DRAIN's order, and once it has sent the
    small ones they say who got which."""
    pulls = ready_longest_pulls(lib, port)
    say("DIALLED")
    line()
    ready_longest_drain(pulls)
    say("DRAINED")
    line()
    say("GOT", ready_longest_outcome(pulls))


# The zmq-pull-fair-queue and nanomsg-*-ready-first rows: three senders, each
# sending a burst of three ("c0", "c1", "c2"), so the receiver shows which pipe it
# takes after the first round; REQs send their name once (one request a REQ).
BURST = ("0", "1", "2")
SENDER_OF = {"PULL": "PUSH", "SUB": "PUB", "REP": "REQ"}


class NnSender:
    """A nanomsg PUSH, PUB or REQ whose send must go out within the peer's timeout."""

    def __init__(self, kind, port):
        self.s = Nn({"PUSH": NN_PUSH, "PUB": NN_PUB, "REQ": NN_REQ}[kind])
        self.s.connect(port)

    def send(self, body):
        assert self.s.send(body), "a nanomsg send timed out"


def ready_first_senders(lib, kind, port):
    """Three senders of `kind` ("PUSH", "PUB", "REQ") and `lib` ("zmq" or "nanomsg")
    at their defaults, connecting to `port` one after another, READY_FIRST_PAUSE_S
    apart."""
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
    senders = {}
    for name in READY_FIRST_DIAL:
        if lib == "zmq":
            senders[name] = zsock(ctx, getattr(zmq, kind))
            senders[name].connect("tcp://127.0.0.1:%d" % port)
        else:
            senders[name] = NnSender(kind, port)
        time.sleep(READY_FIRST_PAUSE_S)
    return senders


def ready_first_burst(kind):
    """A REQ has one request out at a time."""
    return ("",) if kind == "REP" else BURST


def oracle_ready_first(lib, kind):
    """Which pipe a receiver of `kind` takes next. libzmq fair-queues, each pipe in
    turn in the order they attached (fq.cpp); nanomsg takes the pipe that became
    ready first, which goes to the back of the list until its next message is in
    (`nn_fq` over `nn_priolist`, under every receiving type)."""
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
        receiver = zsock(ctx, getattr(zmq, kind))
        port = receiver.bind_to_random_port("tcp://127.0.0.1")

        def recv():
            receiver.setsockopt(zmq.RCVTIMEO, 300)
            try:
                return receiver.recv()
            except zmq.Again:
                return None

        def reply():
            receiver.send(b"ok")
    else:
        receiver = Nn({"PULL": NN_PULL, "SUB": NN_SUB, "REP": NN_REP}[kind])
        if kind == "SUB":
            receiver.subscribe()
        port = free_port()
        receiver.bind(port)

        def recv():
            return receiver.recv(300)

        def reply():
            assert receiver.send(b"ok"), "the REP's reply timed out"

    ready_first_sends(ready_first_senders(lib, SENDER_OF[kind], port), ready_first_burst(kind))
    got = []
    while (msg := recv()) is not None:
        got.append(msg.decode())
        if kind == "REP":
            reply()
    say("OUTCOME", kind + " got " + ",".join(got))


# nanomsg's EFSM ("Operation cannot be performed in this state"): NN_HAUSNUMERO + 54.
NN_EFSM = 156384712 + 54


def req_recv(lib, req, ms):
    """A reply to one of the ready-first REQs within `ms`, or None."""
    if lib == "zmq":
        import zmq

        req.setsockopt(zmq.RCVTIMEO, ms)
        try:
            return req.recv()
        except zmq.Again:
            return None
    return req.s.recv(ms)


def reqs_answered(lib, reqs):
    """What each of the ready-first REQs got within 300 ms, in dial order."""
    got = [(name, req_recv(lib, reqs[name], 300)) for name in READY_FIRST_DIAL]
    answered = ["%s got %s" % (name, m.decode()) for name, m in got if m is not None]
    return ", ".join(answered) or "no REQ got a reply"


def oracle_rep_reads_on(lib):
    """A REP that reads until a receive fails or finds nothing, then replies. libzmq's
    refuses a receive while a request is unanswered (EFSM) and keeps the request;
    nanomsg's drops the request in progress at every receive, before it looks for
    the next (`nn_rep_recv` with NN_REP_INPROGRESS set), so after a receive that
    found nothing its reply fails with EFSM."""
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
        rep = zsock(ctx, zmq.REP)
        port = rep.bind_to_random_port("tcp://127.0.0.1")
        rep.setsockopt(zmq.RCVTIMEO, 300)
        errors = (zmq.ZMQError,)
        efsm = zmq.EFSM
    else:
        rep = Nn(NN_REP)
        port = free_port()
        rep.bind(port)
        errors = (OSError,)
        efsm = NN_EFSM
    reqs = ready_first_senders(lib, "REQ", port)
    ready_first_sends(reqs)
    got = []
    while True:
        try:
            msg = rep.recv() if lib == "zmq" else rep.recv(300)
        except errors as e:
            if lib == "zmq" and isinstance(e, zmq.Again):
                msg = None
            else:
                ended = "a receive was refused" if e.errno == efsm else "a receive failed: %s" % e
                break
        if msg is None:
            ended = "a receive found nothing"
            break
        got.append(msg.decode())
    try:
        sent = rep.send(b"ok")
        replied = "went out" if lib == "zmq" or sent else "timed out"
    except errors as e:
        replied = "refused" if e.errno == efsm else "failed: %s" % e
    outcome = "REP got %s; %s; its reply %s; %s"
    say("OUTCOME", outcome % (",".join(got), ended, replied, reqs_answered(lib, reqs)))


def peer_rep_reads_on(lib, port):
    """The same REQs, sending to patchbay's REP at `port`; once told it has replied
    ("REPLIED" on stdin), they say what they got."""
    reqs = ready_first_senders(lib, "REQ", port)
    ready_first_sends(reqs)
    say("SENT")
    line()
    say("ANSWERED", reqs_answered(lib, reqs))


def peer_ready_first(lib, kind, port):
    """The same senders, connecting to patchbay's receiver of `kind` at `port`."""
    senders = ready_first_senders(lib, SENDER_OF[kind], port)
    ready_first_sends(senders, ready_first_burst(kind))
    say("SENT")
    line()


# The nng-dealer-arrival-order and nng-survey-arrival-order rows: three answerers
# (raw REPs or respondents), dialled a, b, c, answer what they were asked, c first,
# then a, then b.
ASKER_OF = {"ROUTER": "DEALER", "RESPONDENT": "SURVEYOR"}


def answerers_dialling(kind, url):
    import pynng

    answerers = {}
    for name in READY_FIRST_DIAL:
        if kind == "ROUTER":
            answerers[name] = nng_open(nng_kind("ROUTER"))
        else:
            answerers[name] = nng_open(pynng.Respondent0)
        answerers[name].dial(url, block=True)
        time.sleep(READY_FIRST_PAUSE_S)
    return answerers


def answerers_answer(kind, answerers):
    """Each answerer takes what it was asked, then they answer in READY_FIRST_SEND's
    order, each answer its name; a raw REP routes its answer by the request's header,
    which pynng does not hand over."""
    if kind == "ROUTER":
        headers = {name: nng_raw_recv(rep)[0] for name, rep in answerers.items()}
    else:
        for respondent in answerers.values():
            respondent.recv()
    for name in READY_FIRST_SEND:
        if kind == "ROUTER":
            nng_raw_send(answerers[name], headers[name], name.encode())
        else:
            answerers[name].send(name.encode())
        time.sleep(READY_FIRST_PAUSE_S)


def oracle_nng_arrival_order(kind):
    """NNG's raw REQ and SURVEYOR put each pipe's message into one queue for the
    socket (`xreq0_recv_cb`, surveyor0's), so the answers come out c, a, b, in the
    order they arrived, not pipe by pipe."""
    import pynng

    asker_kind = ASKER_OF[kind]
    if asker_kind == "DEALER":
        asker = nng_open(nng_kind("DEALER"))
    else:
        asker = nng_open(pynng.Surveyor0)
    port = nng_listen(asker, 0)
    answerers = answerers_dialling(kind, "tcp://127.0.0.1:%d" % port)
    if asker_kind == "DEALER":
        for i in range(len(answerers)):
            asker.send(bytes([0x80, 0, 0, i + 1]) + b"req")
    else:
        asker.send(b"survey")
    answerers_answer(kind, answerers)
    got = []
    while (msg := nng_try_recv(asker, 300)) is not None:
        got.append(msg.decode())
    say("OUTCOME", asker_kind + " got " + ",".join(got))


def peer_nng_arrival_order(kind, url):
    """The three answerers, dialling patchbay's DEALER or SURVEYOR: they answer once
    it has asked."""
    answerers = answerers_dialling(kind, url)
    say("READY")
    assert line() == "sent"
    answerers_answer(kind, answerers)
    say("REPLIED")
    line()


class NnRespondent:
    """A nanomsg RESPONDENT dialling `port`, whose receives and sends must complete
    within the peer's timeout."""

    def __init__(self, port):
        self.s = Nn(NN_RESPONDENT)
        self.s.connect(port)

    def recv(self):
        msg = self.s.recv()
        assert msg is not None, "a nanomsg RESPONDENT's receive timed out"
        return msg

    def send(self, body):
        assert self.s.send(body), "a nanomsg RESPONDENT's send timed out"


def nn_wait_connections(sock, n, what):
    """Waits until nanomsg's `sock` has `n` connections up."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while sock.connections() < n:
        assert time.monotonic() < deadline, "%s never connected" % what
        time.sleep(0.001)


def nn_respondents_dialling(port):
    """Three nanomsg respondents, dialling `port` one after another,
    READY_FIRST_PAUSE_S apart (each connection is up before the next dials)."""
    respondents = {}
    for name in READY_FIRST_DIAL:
        respondents[name] = NnRespondent(port)
        time.sleep(READY_FIRST_PAUSE_S)
    return respondents


def oracle_nanomsg_survey_arrival_order():
    """nanomsg's SURVEYOR receives through `nn_fq` (xsurveyor), as its PULL, SUB and
    REP do: the pipe that became ready first, so the answers come out c, a, b."""
    surveyor = Nn(NN_SURVEYOR)
    port = free_port()
    surveyor.bind(port)
    respondents = nn_respondents_dialling(port)
    nn_wait_connections(surveyor, len(respondents), "a respondent")
    assert surveyor.send(b"survey"), "a SURVEYOR's send never waits"
    answerers_answer("RESPONDENT", respondents)
    got = []
    while (msg := surveyor.recv(300)) is not None:
        got.append(msg.decode())
    say("OUTCOME", "SURVEYOR got " + ",".join(got))


def peer_nanomsg_survey_arrival_order(port):
    """The three nanomsg respondents, dialling patchbay's SURVEYOR at `port`: they
    answer once it has surveyed."""
    respondents = nn_respondents_dialling(port)
    say("READY")
    assert line() == "sent"
    answerers_answer("RESPONDENT", respondents)
    say("REPLIED")
    line()


# The nanomsg-pub-burst row: a PUB sends this many at once to a SUB that reads.
PUB_BURST = 9


def burst_bodies():
    return [("m%d" % i).encode() for i in range(PUB_BURST)]


def nn_drain_bodies(sub):
    got = []
    while (msg := sub.recv(300)) is not None:
        got.append(msg.decode())
    return got


def oracle_nanomsg_pub_burst():
    """nanomsg's PUB writes each message into the kernel before nn_send returns, so
    a burst to a SUB that is reading loses nothing: its pipe's one message is free
    again before the next send."""
    sub = Nn(NN_SUB)
    sub.subscribe()
    port = free_port()
    sub.bind(port)
    pub = Nn(NN_PUB)
    pub.connect(port)
    time.sleep(0.2)
    for body in burst_bodies():
        assert pub.send(body), "a PUB send never waits"
    say("OUTCOME", "SUB got " + ",".join(nn_drain_bodies(sub)))


def peer_nanomsg_pub_burst(port):
    """nanomsg's SUB, subscribed to everything, connecting to patchbay's PUB; it
    drains when told and says what it got."""
    sub = Nn(NN_SUB)
    sub.subscribe()
    sub.connect(port)
    time.sleep(0.2)
    say("READY")
    assert line() == "drain"
    say("GOT", ",".join(nn_drain_bodies(sub)))
    line()


def nng_drain_numbers(sock):
    return numbers_until_quiet(lambda ms: nng_try_recv(sock, ms))


def peer_nng_router_full():
    """NNG's raw REQ at its defaults that patchbay's nng ROUTER connects to: it says
    hello (led by a request id), reads nothing until told to drain, then reports."""
    dealer = nng_open(nng_kind("DEALER"))
    port = nng_listen(dealer, 0)
    say("READY", port)
    dealer.send(push_body(DEALER_ROUTER, 1)[:4] + b"hello")
    assert line() == "drain"
    say("GOT", " ".join(str(n) for n in nng_drain_numbers(dealer)))
    line()


def peer_zmq_router_full(buffer=None):
    """A libzmq DEALER (RCVHWM 10, and RCVBUF `buffer` if given) that patchbay's
    ROUTER connects to: it says hello, reads nothing until told to drain, then
    reports what came."""
    zmq, ctx = zmq_ctx()
    dealer = zsock(ctx, zmq.DEALER, RCVHWM=HWM, **kernel_buffers("RCVBUF", buffer))
    port = dealer.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    dealer.send(b"hello")
    assert line() == "drain"
    say("GOT", " ".join(str(n) for n in drain_numbers(dealer)))
    line()


# ---------------------------------------------------------------- SURVEYOR row


def survey_outcome(results):
    return "; ".join("%s: %s" % kv for kv in results)


def respond(resp, count, answered=None):
    """Answers `count` surveys, survey-2 late (after LATE_MS: the experiment's slow
    respondent); `answered` is set once the late answer has gone out."""
    for _ in range(count):
        body = resp.recv()
        if body == b"survey-2":
            time.sleep(LATE_MS / 1000)
        resp.send(b"echo:" + body)
        say("ANSWERED", body.decode())
        if body == b"survey-2" and answered is not None:
            answered.set()


def surveyor_round(surv, name):
    import pynng

    surv.send(name.encode())
    start = time.monotonic()
    try:
        return surv.recv().decode(), None
    except pynng.Timeout:
        return "timed out", round((time.monotonic() - start) * 1000)


def oracle_nng_survey_deadline():
    import pynng

    surv = nng_open(pynng.Surveyor0, survey_time=SURVEY_MS)
    port = nng_listen(surv, 0)
    resp = nng_open(pynng.Respondent0)
    piped = threading.Event()
    surv.add_post_pipe_connect_cb(lambda _p: piped.set())
    resp.dial("tcp://127.0.0.1:%d" % port, block=True)
    piped.wait(10)
    three_surveys(surveyor_round, surv, resp)


def three_surveys(round_of, surv, resp):
    """The deadline rows' experiment, once `surv` has its respondent `resp`: three
    surveys, each run by `round_of(surv, name)`, the respondent late on the second;
    prints the deadline's time and the outcome."""
    answered = threading.Event()
    responder = threading.Thread(target=respond, args=(resp, 3, answered))
    responder.start()
    results = []
    for name in ("survey-1", "survey-2"):
        got, ended_ms = round_of(surv, name)
        results.append((name, got))
        if ended_ms is not None:
            say("TIME", "deadline", ended_ms)
    # survey-3 starts once the late answer to survey-2 has gone out: whether it meets
    # the deadline's end or survey-3's other id, it must be dropped.
    answered.wait(TIMEOUT_MS / 1000)
    results.append(("survey-3", round_of(surv, "survey-3")[0]))
    responder.join()
    say("OUTCOME", survey_outcome(results))


def peer_nng_survey_deadline(url):
    import pynng

    resp = nng_open(pynng.Respondent0)
    resp.dial(url, block=True)
    say("READY", 0)
    respond(resp, 3)
    line()


def nn_surveyor_round(surv, name):
    """nanomsg's `surveyor_round`: its receive fails with ETIMEDOUT at the deadline
    (EFSM once that has been reported, and before any survey)."""
    import ctypes
    import errno

    assert surv.send(name.encode()), "a SURVEYOR's send never waits"
    start = time.monotonic()
    surv.setint(NN_RCVTIMEO, TIMEOUT_MS)
    buf = ctypes.c_void_p()
    rc = Nn.lib.nn_recv(surv.s, ctypes.byref(buf), NN_MSG, 0)
    ended_ms = round((time.monotonic() - start) * 1000)
    if rc >= 0:
        body = ctypes.string_at(buf, rc)
        Nn.lib.nn_freemsg(buf)
        return body.decode(), None
    err = ctypes.get_errno()
    if err == errno.ETIMEDOUT and ended_ms < TIMEOUT_MS:
        return "timed out", ended_ms
    return "receive failed: %s" % Nn.lib.nn_strerror(err).decode(), ended_ms


def oracle_nanomsg_survey_deadline():
    """nanomsg's SURVEYOR ends a survey at NN_SURVEYOR_DEADLINE: the receive fails
    with ETIMEDOUT, and a response with the old survey id, read by a later survey's
    receive, is discarded (`nn_surveyor_recv` compares the ids)."""
    three_surveys(nn_surveyor_round, *nn_surveyor_and_respondent(SURVEY_MS))


def nn_surveyor_and_respondent(deadline_ms):
    """A nanomsg SURVEYOR (NN_SURVEYOR_DEADLINE `deadline_ms`) and a RESPONDENT
    connected to it."""
    surv = Nn(NN_SURVEYOR)
    surv.setint(NN_SURVEYOR_DEADLINE, deadline_ms, NN_SURVEYOR)
    port = free_port()
    surv.bind(port)
    resp = NnRespondent(port)
    nn_wait_connections(surv, 1, "the respondent")
    return surv, resp


def peer_nanomsg_survey_deadline(port):
    """A nanomsg RESPONDENT dialling patchbay's SURVEYOR, late on survey-2."""
    resp = NnRespondent(port)
    say("READY", 0)
    respond(resp, 3)
    line()


# The nng-survey-restart and nanomsg-survey-restart rows: a SURVEYOR with a long
# deadline (so neither survey ends before its answers are in) and one respondent.
RESTART_DEADLINE_MS = 2000


def restart_respond(resp, held, release):
    """Takes survey-1 and says so (`held`), answers it once told that survey-2 has
    gone out (`release`), then takes survey-2 and answers it."""
    first = resp.recv()
    held(first.decode())
    release()
    resp.send(b"echo:" + first)
    second = resp.recv()
    resp.send(b"echo:" + second)
    return second.decode()


def restart_reads(recv):
    """What the SURVEYOR reads until nothing comes for 300 ms (or its survey ends)."""
    got = []
    while (msg := recv(300)) is not None:
        got.append(msg.decode())
    return "SURVEYOR got " + (",".join(got) or "nothing")


def assert_sent(sent):
    assert sent, "a SURVEYOR's send never waits"


def oracle_survey_restart(lib):
    """A new survey abandons the old one: NNG's surveyor0 and nanomsg's SURVEYOR
    take a new survey id at each send and discard a response with another."""
    if lib == "nng":
        import pynng

        surv = nng_open(pynng.Surveyor0, survey_time=RESTART_DEADLINE_MS)
        port = nng_listen(surv, 0)
        piped = threading.Event()
        surv.add_post_pipe_connect_cb(lambda _p: piped.set())
        resp = nng_open(pynng.Respondent0)
        resp.dial("tcp://127.0.0.1:%d" % port, block=True)
        assert piped.wait(10), "the respondent never connected"

        def recv(ms):
            return nng_try_recv(surv, ms)
    else:
        surv, resp = nn_surveyor_and_respondent(RESTART_DEADLINE_MS)

        def recv(ms):
            return surv.recv(ms)

    held, sent = threading.Event(), threading.Event()
    answers = []
    responder = threading.Thread(target=lambda: answers.append(restart_respond(
        resp, lambda _body: held.set(), lambda: sent.wait(TIMEOUT_MS / 1000))))
    responder.start()
    send = surv.send if lib == "nng" else lambda body: assert_sent(surv.send(body))
    send(b"survey-1")
    assert held.wait(TIMEOUT_MS / 1000), "the respondent never got survey-1"
    send(b"survey-2")
    sent.set()
    responder.join()
    assert answers == ["survey-2"], answers
    say("OUTCOME", restart_reads(recv))


def peer_survey_restart(lib, url, port):
    """The respondent of the restart rows, dialling patchbay's SURVEYOR: it says
    "HELD survey-1" once it has taken survey-1, answers it when told "sent" (survey-2
    is out), then answers survey-2 and says "ANSWERED survey-2"."""
    if lib == "nng":
        import pynng

        resp = nng_open(pynng.Respondent0)
        resp.dial(url, block=True)
    else:
        resp = NnRespondent(port)
    say("READY")

    def release():
        assert line() == "sent"

    second = restart_respond(resp, lambda body: say("HELD", body), release)
    say("ANSWERED", second)
    line()


# ---------------------------------------------------------------- heartbeat row


def child_pull():
    """A libzmq PULL in its own process, so it can be stopped (SIGSTOP): a peer that
    is there for TCP but silent for ZMTP."""
    code = (
        "import zmq,sys\n"
        "c=zmq.Context();s=c.socket(zmq.PULL)\n"
        "print(s.bind_to_random_port('tcp://127.0.0.1'),flush=True)\n"
        "sys.stdin.readline()\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    port = int(child.stdout.readline())
    return child, port


def oracle_zmq_heartbeat():
    zmq, ctx = zmq_ctx()
    child, port = child_pull()
    push = zsock(ctx, zmq.PUSH, HEARTBEAT_IVL=HB_IVL_MS, HEARTBEAT_TIMEOUT=HB_TIMEOUT_MS)
    mon = push.get_monitor_socket()
    push.connect("tcp://127.0.0.1:%d" % port)
    up = monitor_wait(mon, ["EVENT_HANDSHAKE_SUCCEEDED"], 10) is not None
    # Two heartbeats answered first: the peer is alive and answering.
    alive = monitor_wait(mon, ["EVENT_DISCONNECTED"], 3 * HB_IVL_MS / 1000) is None
    os.kill(child.pid, signal.SIGSTOP)
    stopped = time.monotonic()
    closed = monitor_wait(mon, ["EVENT_DISCONNECTED"], 5)
    closed_ms = round((time.monotonic() - stopped) * 1000)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    say("OUTCOME", heartbeat_outcome(up and alive, closed is not None))
    say("TIME", "closed_after_stop", closed_ms)


def heartbeat_outcome(alive, closed):
    return "; ".join([
        "connection up and answering" if alive else "connection never answered",
        "closed after the peer stopped" if closed else "kept after the peer stopped",
    ])


def peer_zmq_heartbeat():
    """A libzmq PULL for patchbay's heartbeating PUSH; the Rust side stops us."""
    zmq, ctx = zmq_ctx()
    pull = zsock(ctx, zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port, os.getpid())
    assert line() == "stop"
    say("STOPPING")
    # Stopped, the process keeps its TCP connection (the kernel answers) but never
    # answers a PING again; the Rust side kills it at the end.
    os.kill(os.getpid(), signal.SIGSTOP)


# ---------------------------------------------------------------- receive limit row


def recv_max_outcome(got_small, closed, got_big, redialed):
    return "; ".join([
        "PULL got small-1" if got_small else "PULL missed small-1",
        "connection closed" if closed else "connection kept",
        "big never arrived" if not got_big else "big arrived",
        "the PUSH redialed" if redialed else "the PUSH did not redial",
    ])


def oracle_nng_recv_max():
    import pynng

    pull = nng_open(pynng.Pull0, recv_max_size=RECV_MAX)
    port = nng_listen(pull, 0)
    removed = threading.Event()
    pull.add_post_pipe_remove_cb(lambda _p: removed.set())
    push = nng_open(pynng.Push0, reconnect_time_min=100, reconnect_time_max=100)
    pipes = []
    dialed = threading.Condition()

    def on_pipe(_p):
        with dialed:
            pipes.append(1)
            dialed.notify_all()

    push.add_post_pipe_connect_cb(on_pipe)
    push.dial("tcp://127.0.0.1:%d" % port, block=True)
    push.send(b"small-1")
    got = [pull.recv().decode()]
    push.send(b"B" * (2 * RECV_MAX))
    closed = removed.wait(5)
    with dialed:
        redialed = dialed.wait_for(lambda: len(pipes) >= 2, 10)
    # Whether a message sent after the redial gets through is left out: NNG's PUSH
    # lost every one in two loaded runs of ten (and patchbay's PULL met the same).
    late = nng_try_recv(pull, 200)
    if late is not None:
        got.append(late.decode())
    say("OUTCOME", recv_max_outcome("small-1" in got, closed,
                                    any(g.startswith("B") for g in got), redialed))


def peer_nng_recv_max(url):
    """pynng PUSH: small-1, then the big one; reports its redial."""
    import pynng

    push = nng_open(pynng.Push0, reconnect_time_min=100, reconnect_time_max=100)
    pipes = []
    dialed = threading.Condition()

    def on_pipe(_p):
        with dialed:
            pipes.append(1)
            dialed.notify_all()

    push.add_post_pipe_connect_cb(on_pipe)
    push.dial(url, block=True)
    say("READY", 0)
    push.send(b"small-1")
    push.send(b"B" * (2 * RECV_MAX))
    with dialed:
        redialed = dialed.wait_for(lambda: len(pipes) >= 2, 10)
    say("REDIALED", redialed)
    line()


# ---------------------------------------------------------------- PAIR v1 row


def raw_pair1(port, counts):
    """A raw TCP peer speaking PAIR v1's handshake, sending one message per hop count
    (`hops-N`); returns the connection, to be judged by `raw_closed`."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"\x00SP\x00\x00\x11\x00\x00")
    s.recv(8)
    for n in counts:
        body = struct.pack(">I", n) + b"hops-%d" % n
        s.sendall(struct.pack(">Q", len(body)) + body)
    return s


def raw_closed(s):
    """Whether the PAIR closed the connection (judged after its application took what
    it would: NNG reads the next message only once the last one was taken)."""
    s.settimeout(1)
    try:
        closed = s.recv(1) == b""
    except socket.timeout:
        closed = False
    except ConnectionResetError:
        closed = True
    s.close()
    return closed


def pair1_outcome(got, closed):
    return "; ".join([
        "PAIR got " + (",".join(got) if got else "nothing"),
        "connection closed" if closed else "connection kept",
    ])


def oracle_nng_pair1_hops():
    import pynng

    results = []
    for counts in ([1, 9, 8], [1, 256]):
        pair = nng_open(pynng.Pair1, recv_timeout=500)
        port = nng_listen(pair, 0)
        raw = raw_pair1(port, counts)
        got = []
        while True:
            try:
                got.append(pair.recv().decode())
            except pynng.Timeout:
                break
        results.append(pair1_outcome(got, raw_closed(raw)))
        pair.close()
    say("OUTCOME", " | ".join(results))


def peer_nng_pair1_hops(port):
    """Sends the hop counts the Rust side names ("COUNTS 1,9,8") to patchbay's PAIR
    v1 at `port`; judges the connection when told."""
    counts = line().split(" ", 1)[1]
    raw = raw_pair1(port, [int(c) for c in counts.split(",")])
    say("SENT")
    line()
    say("CLOSED", raw_closed(raw))
    line()


# ---------------------------------------------------------------- short request rows


def rep_short_messages(run):
    """What a raw REQ sends on one connection: `ok-1`, a message that is no request,
    `ok-2`. In the `ids` run the bad one is two hop ids and nothing else (its ids run
    out before a request id); in `hops` it is 8 hop ids and a byte (no request id
    among its first 8: too many hops)."""

    def request(n):
        return struct.pack(">I", 0x80000000 | n) + b"ok-%d" % n

    if run == "ids":
        bad = struct.pack(">II", 1, 2)
    else:
        bad = b"".join(struct.pack(">I", k) for k in range(1, 9)) + b"x"
    return [request(1), bad, request(2)]


def raw_req_sends(port, messages):
    """A raw TCP peer speaking REQ's handshake that sends `messages`; returns the
    connection, to be judged by `raw_closed`."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"\x00SP\x00\x00\x30\x00\x00")
    s.recv(8)
    for m in messages:
        s.sendall(struct.pack(">Q", len(m)) + m)
    return s


def rep_short_outcome(got, closed):
    return "; ".join([
        "REP got " + (",".join(got) if got else "nothing"),
        "connection closed" if closed else "connection kept",
    ])


def oracle_rep_short(lib):
    """`lib`'s REP listens and takes what comes, answering nothing, in both runs."""
    results = []
    for run in ("ids", "hops"):
        if lib == "nng":
            import pynng

            rep = nng_open(pynng.Rep0, recv_timeout=500)
            port = nng_listen(rep, 0)
        else:
            rep = Nn(NN_REP)
            port = free_port()
            rep.bind(port)
        raw = raw_req_sends(port, rep_short_messages(run))
        got = []
        while True:
            if lib == "nng":
                try:
                    got.append(rep.recv().decode())
                except pynng.Timeout:
                    break
            else:
                body = rep.recv(500)
                if body is None:
                    break
                got.append(body.decode())
        results.append(rep_short_outcome(got, raw_closed(raw)))
        if lib == "nng":
            rep.close()
    say("OUTCOME", " | ".join(results))


def peer_rep_short(port):
    """Sends the run the Rust side names ("RUN ids") to patchbay's REP at `port`;
    judges the connection when told."""
    run = line().split(" ", 1)[1]
    raw = raw_req_sends(port, rep_short_messages(run))
    say("SENT")
    line()
    say("CLOSED", raw_closed(raw))
    line()


# ---------------------------------------------------------------- handshake rows


def silent_peer_closed_after(port):
    """A raw TCP peer that connects to `port` and sends nothing, reading what comes
    (the listener's own greeting or header) until the listener closes: the ms from
    the connect to the close, or None if it was still open after SILENT_PEER_WAIT_S."""
    s = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    s.settimeout(SILENT_PEER_WAIT_S)
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        s.close()
        return None
    except ConnectionResetError:
        pass
    s.close()
    return round((time.monotonic() - start) * 1000)


def handshake_outcome(closed_ms):
    if closed_ms is None:
        return "a silent peer's connection kept"
    return "a silent peer's connection closed"


def oracle_handshake_deadline(lib):
    """`lib`'s PULL listens at its defaults (libzmq's with ZMQ_HANDSHAKE_IVL 500 ms);
    a raw TCP peer connects and says nothing."""
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
        pull = zsock(ctx, zmq.PULL, HANDSHAKE_IVL=HANDSHAKE_IVL_MS)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
    elif lib == "nng":
        import pynng

        pull = nng_open(pynng.Pull0)
        port = nng_listen(pull, 0)
    else:
        pull = Nn(NN_PULL)
        port = free_port()
        pull.bind(port)
    closed_ms = silent_peer_closed_after(port)
    say("OUTCOME", handshake_outcome(closed_ms))
    say("TIME closed_after", -1 if closed_ms is None else closed_ms)


def peer_handshake_deadline(port):
    """The silent peer against patchbay's PULL at `port`."""
    closed_ms = silent_peer_closed_after(port)
    say("CLOSED", "never" if closed_ms is None else closed_ms)
    line()


# ---------------------------------------------------------------- a SUB's subscriptions

# The sub-pub-restart rows: every socket reconnects this often, and a SUB whose PUB
# restarted must get the new PUB's first matching message within the window (many
# reconnect intervals and a subscription's trip).
SUB_RESTART_IVL_MS = 100
SUB_RESTART_WINDOW_S = 3.0
NN_SUB_UNSUBSCRIBE = 2


class PubSubEnd:
    """A PUB, SUB or XSUB (`kind`; XSUB: libzmq only) of `lib` ("zmq", "nng",
    "nanomsg"), reconnecting every SUB_RESTART_IVL_MS, with `listen(port)` (0: any
    port), `dial(port)`, `send(body)`, `recv(ms)` (a message, or None),
    `subscribe(prefix, on)` (an XSUB sends 0x01/0x00 + prefix), `close()` and
    `wait_gone()`, whether the SUB saw its connection go within 5 s."""

    def __init__(self, lib, kind):
        self.lib, self.kind = lib, kind
        if lib == "zmq":
            import zmq

            _, self.ctx = zmq_ctx()
            self.sock = zsock(self.ctx, getattr(zmq, kind), RECONNECT_IVL=SUB_RESTART_IVL_MS)
            self.mon = self.sock.get_monitor_socket() if kind != "PUB" else None
        elif lib == "nng":
            import pynng

            ivl = SUB_RESTART_IVL_MS
            self.sock = nng_open({"PUB": pynng.Pub0, "SUB": pynng.Sub0}[kind],
                                 reconnect_time_min=ivl, reconnect_time_max=ivl)
            self.gone = threading.Event()
            self.sock.add_post_pipe_remove_cb(lambda _pipe: self.gone.set())
        else:
            self.sock = Nn({"PUB": NN_PUB, "SUB": NN_SUB}[kind])
            self.sock.setint(NN_RECONNECT_IVL, SUB_RESTART_IVL_MS)

    def listen(self, port):
        end = time.monotonic() + 5
        while True:
            try:
                if self.lib == "zmq":
                    if port == 0:
                        return self.sock.bind_to_random_port("tcp://127.0.0.1")
                    rebind(self.sock, port)
                elif self.lib == "nng":
                    return nng_listen(self.sock, port)
                else:
                    port = port or free_port()
                    self.sock.bind(port)
                return port
            except Exception:  # the old PUB's port not yet given back (NNG, nanomsg)
                if time.monotonic() > end:
                    raise
                time.sleep(0.01)

    def dial(self, port):
        if self.lib == "zmq":
            self.sock.connect("tcp://127.0.0.1:%d" % port)
        elif self.lib == "nng":
            self.sock.dial("tcp://127.0.0.1:%d" % port, block=True)
        else:
            self.sock.connect(port)

    def send(self, body):
        self.sock.send(body)

    def recv(self, ms):
        if self.lib == "zmq":
            return zmq_try_recv(self.sock, ms)
        if self.lib == "nng":
            return nng_try_recv(self.sock, ms)
        return self.sock.recv(ms)

    def subscribe(self, prefix, on=True):
        if self.lib == "zmq":
            import zmq

            if self.kind == "XSUB":
                self.sock.send((b"\x01" if on else b"\x00") + prefix)
            else:
                self.sock.setsockopt(zmq.SUBSCRIBE if on else zmq.UNSUBSCRIBE, prefix)
        elif self.lib == "nng":
            (self.sock.subscribe if on else self.sock.unsubscribe)(prefix)
        else:
            opt = NN_SUB_SUBSCRIBE if on else NN_SUB_UNSUBSCRIBE
            self.sock.check(Nn.lib.nn_setsockopt(self.sock.s, NN_SUB, opt, prefix, len(prefix)))

    def close(self):
        if self.lib == "nanomsg":
            Nn.lib.nn_close(self.sock.s)
        else:
            if self.lib == "zmq" and self.mon is not None:
                self.sock.disable_monitor()
                self.mon.close()
            self.sock.close()

    def wait_gone(self):
        if self.lib == "zmq":
            return monitor_wait(self.mon, ["EVENT_DISCONNECTED"], 5) is not None
        if self.lib == "nng":
            return self.gone.wait(5)
        end = time.monotonic() + 5
        while self.sock.connections() > 0:
            if time.monotonic() > end:
                return False
            time.sleep(0.001)
        return True


def sub_topics(got):
    """The topics (first letters) of what a SUB got, sorted, or "nothing"."""
    return ",".join(sorted({m[:1].decode() for m in got})) or "nothing"


def restart_outcome(kind, before, after):
    return "before the PUB restarted the %s got %s; after, %s" % (
        kind, sub_topics(before), sub_topics(after))


def double_subscribe_outcome(got):
    return "SUB subscribed to a twice and b once, cancelled a once: got %s" % sub_topics(got)


def probe_until_heard(pub, sub, tag, seconds):
    """The PUB sends a-TAG and b-TAG every 10 ms until the SUB gets one or `seconds`
    pass; what the SUB got, and what arrives after until quiet."""
    got = []
    end = time.monotonic() + seconds
    while not got and time.monotonic() < end:
        pub.send(b"a-" + tag)
        pub.send(b"b-" + tag)
        msg = sub.recv(10)
        if msg is not None:
            got.append(msg)
    while (msg := sub.recv(100)) is not None:
        got.append(msg)
    return got


def probe_until_told(pub, tag):
    """The peer's PUB sends a-TAG and b-TAG every 10 ms until told "heard"."""
    probing = threading.Event()
    probing.set()

    def probe():
        while probing.is_set():
            pub.send(b"a-" + tag)
            pub.send(b"b-" + tag)
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    assert line() == "heard"
    probing.clear()
    prober.join()


def oracle_sub_pub_restart(lib, kinds=("SUB",)):
    """A SUB (or XSUB) subscribed to "a" dials a PUB, which probes on "a" and "b"
    until it gets one; the PUB closes; once the SUB has seen its connection go a new
    PUB binds the same port and probes for SUB_RESTART_WINDOW_S. libzmq's session
    hiccups the pipe of a lost connection and `xsub_t::xhiccuped` sends every
    subscription again; NNG's and nanomsg's SUB filter for themselves."""
    for kind in kinds:
        pub = PubSubEnd(lib, "PUB")
        port = pub.listen(0)
        sub = PubSubEnd(lib, kind)
        sub.dial(port)
        sub.subscribe(b"a")
        before = probe_until_heard(pub, sub, b"before", TIMEOUT_MS / 1000)
        pub.close()
        assert sub.wait_gone(), "the SUB never saw the PUB go"
        pub = PubSubEnd(lib, "PUB")
        pub.listen(port)
        after = probe_until_heard(pub, sub, b"after", SUB_RESTART_WINDOW_S)
        say("OUTCOME", restart_outcome(kind, before, after))
        sub.close()
        pub.close()


def peer_sub_pub_restart(lib):
    """The PUBs that patchbay's SUB dials: the first probes until told "heard",
    closes and says CLOSED; when told "restart" a second binds the same port and
    probes until told "heard", then says STOPPED."""
    pub = PubSubEnd(lib, "PUB")
    port = pub.listen(0)
    say("READY", port)
    probe_until_told(pub, b"before")
    pub.close()
    say("CLOSED")
    assert line() == "restart"
    pub = PubSubEnd(lib, "PUB")
    pub.listen(port)
    probe_until_told(pub, b"after")
    say("STOPPED")
    line()


def last_round(pub):
    """The PUB's last round, once the SUB has heard a "b" probe (so every subscription
    it sent has arrived): "a-last", then "b-last" 10 ms later, so that nanomsg's PUB,
    which drops a message for a pipe still writing one, drops neither."""
    pub.send(b"a-last")
    time.sleep(0.01)
    pub.send(b"b-last")


def last_round_got(recv):
    """What of the last round `recv(ms)` gets, up to "b-last"."""
    got = []
    while (msg := recv(TIMEOUT_MS)) is not None:
        if msg.endswith(b"-last"):
            got.append(msg)
        if msg == b"b-last":
            break
    return got


def oracle_sub_double_subscribe(lib):
    """A SUB subscribes to "a", "a" and "b", then cancels "a" once, and dials a PUB
    that probes on "a" and "b" until it gets a "b", then sends its last round: what
    of it the SUB gets. libzmq's XSUB trie and nanomsg's count a prefix's
    subscriptions; NNG's `sub0_ctx_subscribe` keeps a topic once."""
    pub = PubSubEnd(lib, "PUB")
    port = pub.listen(0)
    sub = PubSubEnd(lib, "SUB")
    for prefix, on in ((b"a", True), (b"a", True), (b"b", True), (b"a", False)):
        sub.subscribe(prefix, on)
    sub.dial(port)
    end = time.monotonic() + TIMEOUT_MS / 1000
    heard_b = False
    while not heard_b:
        assert time.monotonic() < end, "the SUB never got a b probe"
        pub.send(b"a-probe")
        pub.send(b"b-probe")
        while (msg := sub.recv(10)) is not None:
            heard_b = heard_b or msg.startswith(b"b")
    last_round(pub)
    say("OUTCOME", double_subscribe_outcome(last_round_got(sub.recv)))
    sub.close()
    pub.close()


def peer_pub_probes(lib):
    """A PUB that patchbay's SUB dials, probing until told "heard"; then its last
    round, and STOPPED."""
    pub = PubSubEnd(lib, "PUB")
    say("READY", pub.listen(0))
    probe_until_told(pub, b"probe")
    last_round(pub)
    say("STOPPED")
    line()


# ---------------------------------------------------------------- reconnect delays

# The rounds of the reconnect rows, by library: (NN_RECONNECT_IVL and its kin in ms,
# the maximum in ms or 0 for none, how many gaps to time), as RECONNECT_ROUNDS in
# sim/tests/conformance_rows_reconnect.rs.
RECONNECT_ROUNDS = {
    "zmq": [(200, 0, 12)],
    "nng": [(200, 0, 20)],
    "nanomsg": [(200, 1600, 5), (200, 0, 3)],
}
NN_RECONNECT_IVL_MAX = 7


def reset_listener():
    """A raw TCP listener on a free port of 127.0.0.1, and the port."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    return ls, ls.getsockname()[1]


def time_resets(ls, gaps):
    """Accepts `gaps` + 1 connections on `ls`, resetting each at once (SO_LINGER 0):
    the gaps between the accepts in ms, which are the dialler's reconnect delays (its
    handshake fails at once)."""
    ls.settimeout(TIMEOUT_MS / 1000)
    times = []
    for _ in range(gaps + 1):
        conn, _ = ls.accept()
        times.append(time.monotonic())
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    ls.close()
    return [round((b - a) * 1000) for a, b in zip(times, times[1:])]


def reconnecting_pull(lib, port, ivl, mx):
    """`lib`'s PULL dialling `port`, reconnecting at `ivl` ms with maximum `mx` (0:
    none); returns its close."""
    url = "tcp://127.0.0.1:%d" % port
    if lib == "zmq":
        zmq, ctx = zmq_ctx()
        pull = zsock(ctx, zmq.PULL, RECONNECT_IVL=ivl, RECONNECT_IVL_MAX=mx)
        pull.connect(url)
        return lambda: (pull.close(), ctx.term())
    if lib == "nng":
        import pynng

        pull = pynng.Pull0(reconnect_time_min=ivl, reconnect_time_max=mx)
        pull.dial(url, block=False)
        return pull.close
    pull = Nn(NN_PULL)
    pull.setint(NN_RECONNECT_IVL, ivl)
    pull.setint(NN_RECONNECT_IVL_MAX, mx)
    pull.connect(port)
    return lambda: Nn.lib.nn_close(pull.s)


def oracle_reconnect_delays(lib):
    """Each round: `lib`'s PULL dials a raw listener that resets every connection; the
    gaps between its attempts, one OUTCOME line a round (the Rust side sorts them into
    the row's categories)."""
    for ivl, mx, gaps in RECONNECT_ROUNDS[lib]:
        ls, port = reset_listener()
        close = reconnecting_pull(lib, port, ivl, mx)
        got = time_resets(ls, gaps)
        close()
        say("OUTCOME gaps", ",".join(map(str, got)))


def peer_reconnect_delays(lib):
    """The raw listener against patchbay's dialler, each round: READY <port>, then
    GAPS <ms,...> once it has timed the round's gaps; waits for "next"."""
    for _, _, gaps in RECONNECT_ROUNDS[lib]:
        ls, port = reset_listener()
        say("READY", port)
        say("GAPS", ",".join(map(str, time_resets(ls, gaps))))
        line()


# ---------------------------------------------------------------- SP dialling early
# The *-dials-early rows: a PUB, BUS or SURVEYOR of NNG or nanomsg dials a port nothing
# listens on and sends DIAL_EARLY; the receiver binds; once connected the dialler
# sends DIAL_AFTER. An SP pipe exists only while its connection is up, so the early
# messages go nowhere (nanomsg issue #1035: "Any messages sent before the connection
# is established will be dropped").

DIAL_EARLY = (b"early-0", b"early-1", b"early-2")
DIAL_AFTER = b"after"
DIAL_QUIET_MS = 1500
DIAL_KINDS = {"PUB": "SUB", "BUS": "BUS", "SURVEYOR": "RESPONDENT"}


def dial_outcome(dialler, got, answer):
    text = "%s got %s" % (DIAL_KINDS[dialler], ",".join(got) if got else "nothing")
    if dialler == "SURVEYOR":
        text += "; SURVEYOR got " + (answer or "nothing")
    return text


class SpDial:
    """One SP socket of `lib` ("nng" or "nanomsg") and type `kind` at its defaults,
    reconnecting every 100 ms, with `send(body)` and `recv(ms)` (None at timeout)."""

    def __init__(self, lib, kind):
        self.lib = lib
        if lib == "nng":
            import pynng

            cls = {"PUB": pynng.Pub0, "SUB": pynng.Sub0, "BUS": pynng.Bus0,
                   "SURVEYOR": pynng.Surveyor0, "RESPONDENT": pynng.Respondent0}[kind]
            self.sock = nng_open(cls, reconnect_time_min=100, reconnect_time_max=100)
            if kind == "SUB":
                self.sock.subscribe(b"")
        else:
            self.sock = Nn({"PUB": NN_PUB, "SUB": NN_SUB, "BUS": NN_BUS, "SURVEYOR": NN_SURVEYOR,
                            "RESPONDENT": NN_RESPONDENT}[kind])
            self.sock.setint(NN_RECONNECT_IVL, 100)
            if kind == "SUB":
                self.sock.subscribe(b"")

    def dial(self, port):
        if self.lib == "nng":
            self.sock.dial("tcp://127.0.0.1:%d" % port, block=False)
        else:
            self.sock.connect(port)

    def bind(self, port):
        if self.lib == "nng":
            nng_listen(self.sock, port)
        else:
            self.sock.bind(port)

    def send(self, body):
        if self.lib == "nng":
            self.sock.send(body)
        else:
            assert self.sock.send(body), "an SP PUB, BUS or SURVEYOR never blocks"

    def recv(self, ms):
        if self.lib == "nng":
            return nng_try_recv(self.sock, ms)
        return self.sock.recv(ms)

    def connected(self):
        """Whether a connection is up (nanomsg's statistic; NNG: its pipes)."""
        if self.lib == "nng":
            return len(self.sock.pipes) > 0
        return self.sock.connections() > 0


def dial_receive(receiver, answers):
    """What `receiver` gets until it is quiet DIAL_QUIET_MS, answering each if
    `answers` (a RESPONDENT) with answer:<body>."""
    got = []
    while True:
        m = receiver.recv(DIAL_QUIET_MS)
        if m is None:
            return got
        got.append(m.decode())
        if answers:
            receiver.send(b"answer:" + m)


def oracle_dials_early(lib, dialler_kind):
    """The real library both sides: the dialler sends before its peer is up."""
    port = free_port()
    dialler = SpDial(lib, dialler_kind)
    dialler.dial(port)
    for body in DIAL_EARLY:
        dialler.send(body)
    time.sleep(0.3)
    receiver = SpDial(lib, DIAL_KINDS[dialler_kind])
    receiver.bind(port)
    deadline = time.monotonic() + 10
    while not dialler.connected():
        assert time.monotonic() < deadline, "the dialler never connected"
        time.sleep(0.01)
    # The dialler's pipe is up; give the receiver's side of the handshake its moment.
    time.sleep(0.1)
    dialler.send(DIAL_AFTER)
    answers = dialler_kind == "SURVEYOR"
    got, answer = [], None
    if answers:
        # The answer is read within the survey's deadline (1 s), before the quiet
        # window, as patchbay's side reads it at once.
        m = receiver.recv(DIAL_QUIET_MS)
        if m is not None:
            got.append(m.decode())
            receiver.send(b"answer:" + m)
            answer = dialler.recv(TIMEOUT_MS)
    got += dial_receive(receiver, answers)
    say("OUTCOME", dial_outcome(dialler_kind, got, answer and answer.decode()))


def peer_dials_early(lib, dialler_kind, port):
    """The receiver for patchbay's dialler: binds `port` when told ("up"), then says
    what it got (GOT a,b or GOT nothing) once quiet."""
    assert line() == "up"
    receiver = SpDial(lib, DIAL_KINDS[dialler_kind])
    receiver.bind(port)
    say("BOUND")
    got = dial_receive(receiver, dialler_kind == "SURVEYOR")
    say("GOT", ",".join(got) if got else "nothing")
    line()


# ---------------------------------------------------------------- main


ORACLES = {
    "zmq-req-stuck": oracle_zmq_req_stuck,
    "nng-req-resend": oracle_nng_req_resend,
    "nng-req-cancel": oracle_nng_req_cancel,
    "nng-req-noresend-pipe-loss": oracle_nng_req_noresend_pipe_loss,
    "zmq-req-relaxed": lambda: oracle_zmq_req_relaxed(False),
    "zmq-req-relaxed-correlate": lambda: oracle_zmq_req_relaxed(True),
    "zmq-pub-hwm": oracle_zmq_pub_hwm,
    "zmq-pub-filters": oracle_zmq_pub_filters,
    "nng-pub-hwm": oracle_nng_pub_hwm,
    "nng-sub-prefer-old": lambda: oracle_nng_pub_hwm(prefer_new=False),
    "nanomsg-pub-hwm": oracle_nanomsg_pub_hwm,
    "nng-bus-hwm": lambda: oracle_bus_hwm("nng"),
    "nanomsg-bus-hwm": lambda: oracle_bus_hwm("nanomsg"),
    "nng-pair-stopped": lambda: oracle_pair_stopped("nng"),
    "nanomsg-pair-stopped": lambda: oracle_pair_stopped("nanomsg"),
    "nng-close-no-linger": lambda: oracle_close("nng"),
    "nanomsg-close-no-linger": lambda: oracle_close("nanomsg"),
    "zmq-close-lingers": lambda: oracle_close("zmq"),
    "zmq-req-close-lingers": oracle_zmq_req_close_lingers,
    "zmq-sub-pub-restart": lambda: oracle_sub_pub_restart("zmq", ("SUB", "XSUB")),
    "nng-sub-pub-restart": lambda: oracle_sub_pub_restart("nng"),
    "nanomsg-sub-pub-restart": lambda: oracle_sub_pub_restart("nanomsg"),
    "zmq-sub-double-subscribe": lambda: oracle_sub_double_subscribe("zmq"),
    "nng-sub-double-subscribe": lambda: oracle_sub_double_subscribe("nng"),
    "nanomsg-sub-double-subscribe": lambda: oracle_sub_double_subscribe("nanomsg"),
    "nng-pair-second-dialler": lambda: oracle_pair_second_dialler("nng"),
    "nng-pair0-second-dialler": lambda: oracle_pair_second_dialler("nng", 0),
    "nanomsg-pair-second-dialler": lambda: oracle_pair_second_dialler("nanomsg"),
    "zmq-pair-second-dialler": lambda: oracle_pair_second_dialler("zmq"),
    "zmq-push-hwm": oracle_zmq_push_hwm,
    "zmq-push-connecting": oracle_zmq_push_connecting,
    "zmq-req-connecting": oracle_zmq_req_connecting,
    "zmq-push-immediate": lambda: oracle_zmq_push_connecting(1),
    "zmq-push-full-pipe": oracle_zmq_push_full_pipe,
    "zmq-req-immediate": lambda: oracle_zmq_req_connecting(1),
    "nng-push-hwm": oracle_nng_push_hwm,
    "nanomsg-push-hwm": oracle_nanomsg_push_hwm,
    "zmq-req-early": lambda: oracle_req_early("zmq"),
    "nng-req-early": lambda: oracle_req_early("nng"),
    "nanomsg-req-early": lambda: oracle_req_early("nanomsg"),
    "zmq-pair-hwm": lambda: oracle_zmq_push_hwm(PAIR_PAIR),
    "zmq-dealer-hwm": lambda: oracle_zmq_push_hwm(DEALER_DEALER),
    "nng-dealer-hwm": lambda: oracle_nng_push_hwm(DEALER_ROUTER),
    "nanomsg-dealer-hwm": lambda: oracle_nanomsg_push_hwm(DEALER_ROUTER),
    "nng-pair-hwm": lambda: oracle_nng_push_hwm(PAIR_PAIR),
    "nanomsg-pair-hwm": lambda: oracle_nanomsg_push_hwm(PAIR_PAIR),
    "zmq-req-joining": lambda: oracle_req_joining("zmq"),
    "nng-req-joining": lambda: oracle_req_joining("nng"),
    "nanomsg-req-joining": lambda: oracle_req_joining("nanomsg"),
    "nng-req-resend-rotates": lambda: oracle_req_resend_rotates("nng"),
    "nanomsg-req-resend-rotates": lambda: oracle_req_resend_rotates("nanomsg"),
    "zmq-router-unknown": oracle_zmq_router_unknown,
    "zmq-router-reconnects": oracle_zmq_router_reconnects,
    "zmq-router-full": lambda: oracle_zmq_router_full(False),
    "zmq-router-full-mandatory": lambda: oracle_zmq_router_full(True),
    "zmq-router-full-sndbuf": lambda: oracle_zmq_router_full(True, SMALL_KERNEL_BUFFER),
    "nng-router-full": oracle_nng_router_full,
    "nng-router-stopped": oracle_nng_router_stopped,
    "nng-pull-ready-first": oracle_nng_pull_ready_first,
    "nng-push-ready-longest": lambda: oracle_push_ready_longest("nng"),
    "nanomsg-push-ready-longest": lambda: oracle_push_ready_longest("nanomsg"),
    "zmq-pull-fair-queue": lambda: oracle_ready_first("zmq", "PULL"),
    "nanomsg-pull-ready-first": lambda: oracle_ready_first("nanomsg", "PULL"),
    "nanomsg-sub-ready-first": lambda: oracle_ready_first("nanomsg", "SUB"),
    "nanomsg-rep-ready-first": lambda: oracle_ready_first("nanomsg", "REP"),
    "nanomsg-rep-reads-on": lambda: oracle_rep_reads_on("nanomsg"),
    "zmq-rep-reads-on": lambda: oracle_rep_reads_on("zmq"),
    "nanomsg-pub-burst": oracle_nanomsg_pub_burst,
    "nng-dealer-arrival-order": lambda: oracle_nng_arrival_order("ROUTER"),
    "nng-survey-arrival-order": lambda: oracle_nng_arrival_order("RESPONDENT"),
    "nng-sub-two-pubs": oracle_nng_sub_two_pubs,
    "nng-survey-deadline": oracle_nng_survey_deadline,
    "nanomsg-survey-deadline": oracle_nanomsg_survey_deadline,
    "nanomsg-survey-arrival-order": oracle_nanomsg_survey_arrival_order,
    "nng-survey-restart": lambda: oracle_survey_restart("nng"),
    "nanomsg-survey-restart": lambda: oracle_survey_restart("nanomsg"),
    "zmq-heartbeat": oracle_zmq_heartbeat,
    "nng-recv-max": oracle_nng_recv_max,
    "nng-pair1-hops": oracle_nng_pair1_hops,
    "nng-rep-no-request-id": lambda: oracle_rep_short("nng"),
    "nanomsg-rep-no-request-id": lambda: oracle_rep_short("nanomsg"),
    "zmq-handshake-ivl": lambda: oracle_handshake_deadline("zmq"),
    "nng-handshake-deadline": lambda: oracle_handshake_deadline("nng"),
    "nanomsg-handshake-deadline": lambda: oracle_handshake_deadline("nanomsg"),
    "zmq-reconnect-delays": lambda: oracle_reconnect_delays("zmq"),
    "nng-reconnect-delays": lambda: oracle_reconnect_delays("nng"),
    "nanomsg-reconnect-delays": lambda: oracle_reconnect_delays("nanomsg"),
    "nng-pub-dials-early": lambda: oracle_dials_early("nng", "PUB"),
    "nanomsg-pub-dials-early": lambda: oracle_dials_early("nanomsg", "PUB"),
    "nng-bus-dials-early": lambda: oracle_dials_early("nng", "BUS"),
    "nanomsg-bus-dials-early": lambda: oracle_dials_early("nanomsg", "BUS"),
    "nng-surveyor-dials-early": lambda: oracle_dials_early("nng", "SURVEYOR"),
    "nanomsg-surveyor-dials-early": lambda: oracle_dials_early("nanomsg", "SURVEYOR"),
}


def main():
    args = sys.argv[1:]
    mode, row = args[0], args[1]
    opt = dict(zip(args[2::2], args[3::2]))
    if mode == "oracle":
        ORACLES[row]()
        return
    peers = {
        "zmq-req-stuck": lambda: peer_zmq_req_stuck(),
        "nng-req-resend": lambda: peer_nng_req_resend(),
        "nng-req-cancel": lambda: peer_nng_req_cancel(),
        "nng-req-noresend-pipe-loss": lambda: peer_nng_req_noresend_pipe_loss(),
        "zmq-req-relaxed": lambda: peer_zmq_req_relaxed(),
        "zmq-req-relaxed-correlate": lambda: peer_zmq_req_relaxed(),
        "zmq-pub-hwm": lambda: peer_zmq_pub_hwm(),
        "zmq-pub-filters": lambda: peer_zmq_pub_filters(opt["--connect"]),
        "nng-pub-hwm": lambda: peer_nng_pub_hwm(),
        "nng-sub-prefer-old": lambda: peer_nng_pub_hwm(prefer_new=False),
        "nanomsg-pub-hwm": lambda: peer_nanomsg_pub_hwm(),
        "nng-bus-hwm": lambda: peer_bus_hwm("nng"),
        "nanomsg-bus-hwm": lambda: peer_bus_hwm("nanomsg"),
        "nng-pair-stopped": lambda: peer_pair_stopped("nng"),
        "nanomsg-pair-stopped": lambda: peer_pair_stopped("nanomsg"),
        "nng-close-no-linger": lambda: peer_close("nng"),
        "nanomsg-close-no-linger": lambda: peer_close("nanomsg"),
        "zmq-close-lingers": lambda: peer_close("zmq"),
        "zmq-req-close-lingers": lambda: peer_zmq_req_close_lingers(),
        "zmq-sub-pub-restart": lambda: peer_sub_pub_restart("zmq"),
        "nng-sub-pub-restart": lambda: peer_sub_pub_restart("nng"),
        "nanomsg-sub-pub-restart": lambda: peer_sub_pub_restart("nanomsg"),
        "zmq-sub-double-subscribe": lambda: peer_pub_probes("zmq"),
        "nng-sub-double-subscribe": lambda: peer_pub_probes("nng"),
        "nanomsg-sub-double-subscribe": lambda: peer_pub_probes("nanomsg"),
        "nng-pair-second-dialler": lambda: peer_pair_second_dialler("nng", int(opt["--port"])),
        "nng-pair0-second-dialler": lambda: peer_pair_second_dialler("nng", int(opt["--port"]), 0),
        "nanomsg-pair-second-dialler": lambda: peer_pair_second_dialler("nanomsg", int(opt["--port"])),
        "zmq-pair-second-dialler": lambda: peer_pair_second_dialler("zmq", int(opt["--port"])),
        "zmq-push-hwm": lambda: peer_zmq_push_hwm(int(opt["--port"])),
        "zmq-push-connecting": lambda: peer_zmq_push_connecting(int(opt["--port"])),
        "zmq-req-connecting": lambda: peer_zmq_req_connecting(int(opt["--port"])),
        "zmq-push-immediate": lambda: peer_zmq_push_connecting(int(opt["--port"])),
        "zmq-push-full-pipe": lambda: peer_zmq_push_full_pipe(int(opt["--port"])),
        "zmq-req-immediate": lambda: peer_zmq_req_connecting(int(opt["--port"])),
        "nng-push-hwm": lambda: peer_nng_push_hwm(int(opt["--port"])),
        "nanomsg-push-hwm": lambda: peer_nanomsg_push_hwm(int(opt["--port"])),
        "zmq-req-early": lambda: peer_req_early("zmq", int(opt["--port"])),
        "nng-req-early": lambda: peer_req_early("nng", int(opt["--port"])),
        "nanomsg-req-early": lambda: peer_req_early("nanomsg", int(opt["--port"])),
        "zmq-pair-hwm": lambda: peer_zmq_push_hwm(int(opt["--port"]), PAIR_PAIR),
        "zmq-dealer-hwm": lambda: peer_zmq_push_hwm(int(opt["--port"]), DEALER_DEALER),
        "nng-dealer-hwm": lambda: peer_nng_push_hwm(int(opt["--port"]), DEALER_ROUTER),
        "nanomsg-dealer-hwm": lambda: peer_nanomsg_push_hwm(int(opt["--port"]), DEALER_ROUTER),
        "nng-pair-hwm": lambda: peer_nng_push_hwm(int(opt["--port"]), PAIR_PAIR),
        "nanomsg-pair-hwm": lambda: peer_nanomsg_push_hwm(int(opt["--port"]), PAIR_PAIR),
        "zmq-req-joining": lambda: peer_req_joining("zmq", int(opt["--port"])),
        "nng-req-joining": lambda: peer_req_joining("nng", int(opt["--port"])),
        "nanomsg-req-joining": lambda: peer_req_joining("nanomsg", int(opt["--port"])),
        "nng-req-resend-rotates": lambda: peer_req_resend_rotates("nng", int(opt["--port"])),
        "nanomsg-req-resend-rotates": lambda: peer_req_resend_rotates("nanomsg", int(opt["--port"])),
        "zmq-router-unknown": lambda: peer_zmq_router_unknown(opt["--connect"]),
        "zmq-router-reconnects": lambda: peer_zmq_router_reconnects(),
        "zmq-router-full": lambda: peer_zmq_router_full(),
        "zmq-router-full-mandatory": lambda: peer_zmq_router_full(),
        "zmq-router-full-sndbuf": lambda: peer_zmq_router_full(SMALL_KERNEL_BUFFER),
        "nng-router-full": lambda: peer_nng_router_full(),
        "nng-router-stopped": lambda: peer_nng_router_stopped(opt["--connect"]),
        "nng-pull-ready-first": lambda: peer_nng_pull_ready_first(opt["--connect"]),
        "nng-push-ready-longest": lambda: peer_push_ready_longest("nng", int(opt["--port"])),
        "nanomsg-push-ready-longest": lambda: peer_push_ready_longest("nanomsg", int(opt["--port"])),
        "zmq-pull-fair-queue": lambda: peer_ready_first("zmq", "PULL", int(opt["--port"])),
        "nanomsg-pull-ready-first": lambda: peer_ready_first("nanomsg", "PULL", int(opt["--port"])),
        "nanomsg-sub-ready-first": lambda: peer_ready_first("nanomsg", "SUB", int(opt["--port"])),
        "nanomsg-rep-ready-first": lambda: peer_ready_first("nanomsg", "REP", int(opt["--port"])),
        "nanomsg-rep-reads-on": lambda: peer_rep_reads_on("nanomsg", int(opt["--port"])),
        "zmq-rep-reads-on": lambda: peer_rep_reads_on("zmq", int(opt["--port"])),
        "nanomsg-pub-burst": lambda: peer_nanomsg_pub_burst(int(opt["--port"])),
        "nng-dealer-arrival-order": lambda: peer_nng_arrival_order("ROUTER", opt["--connect"]),
        "nng-survey-arrival-order": lambda: peer_nng_arrival_order("RESPONDENT", opt["--connect"]),
        "nng-sub-two-pubs": lambda: peer_nng_sub_two_pubs(),
        "nng-survey-deadline": lambda: peer_nng_survey_deadline(opt["--connect"]),
        "nanomsg-survey-deadline": lambda: peer_nanomsg_survey_deadline(int(opt["--port"])),
        "nanomsg-survey-arrival-order": lambda: peer_nanomsg_survey_arrival_order(int(opt["--port"])),
        "nng-survey-restart": lambda: peer_survey_restart("nng", opt["--connect"], int(opt["--port"])),
        "nanomsg-survey-restart": lambda: peer_survey_restart("nanomsg", opt["--connect"], int(opt["--port"])),
        "zmq-heartbeat": lambda: peer_zmq_heartbeat(),
        "nng-recv-max": lambda: peer_nng_recv_max(opt["--connect"]),
        "nng-pair1-hops": lambda: peer_nng_pair1_hops(int(opt["--port"])),
        "nng-rep-no-request-id": lambda: peer_rep_short(int(opt["--port"])),
        "nanomsg-rep-no-request-id": lambda: peer_rep_short(int(opt["--port"])),
        "zmq-handshake-ivl": lambda: peer_handshake_deadline(int(opt["--port"])),
        "nng-handshake-deadline": lambda: peer_handshake_deadline(int(opt["--port"])),
        "nanomsg-handshake-deadline": lambda: peer_handshake_deadline(int(opt["--port"])),
            "zmq-reconnect-delays": lambda: peer_reconnect_delays("zmq"),
        "nng-reconnect-delays": lambda: peer_reconnect_delays("nng"),
        "nanomsg-reconnect-delays": lambda: peer_reconnect_delays("nanomsg"),

        "nng-pub-dials-early": lambda: peer_dials_early("nng", "PUB", int(opt["--port"])),
        "nanomsg-pub-dials-early": lambda: peer_dials_early("nanomsg", "PUB", int(opt["--port"])),
        "nng-bus-dials-early": lambda: peer_dials_early("nng", "BUS", int(opt["--port"])),
        "nanomsg-bus-dials-early": lambda: peer_dials_early("nanomsg", "BUS", int(opt["--port"])),
        "nng-surveyor-dials-early": lambda: peer_dials_early("nng", "SURVEYOR", int(opt["--port"])),
        "nanomsg-surveyor-dials-early": lambda: peer_dials_early("nanomsg", "SURVEYOR", int(opt["--port"])),
    }
    peers[row]()


if __name__ == "__main__":
    peer_exit.run(main)
