"""One cell of the SP interop matrix: a real NNG 1.11 socket (pynng 0.9.0).

Usage: sp_matrix_peer.py TYPE (--bind | --connect URL) --count N
       sp_matrix_peer.py rep-times --bind --count K
       sp_matrix_peer.py req-ticking --connect URL --resend-ms R --tick-ms T

The socket listens on a random port of 127.0.0.1 (reporting "READY <port>") or dials
URL (reporting "READY 0"), plays its part, reports each received message as
"GOT <body>" and the end as "OK N", then waits for a line on stdin before closing
(so nothing it queued is lost to an early close). Each step is a line of stdout, so
the Rust side waits for events, never for time; every receive times out after 30 s
so a broken cell fails instead of hanging.
  REP, RESPONDENT, PAIR0, PAIR1, BUS  echo N messages: b"echo:" + body
  REQ                send N requests b"req-i" and report the replies
  SURVEYOR           once a pipe is up, send N surveys b"survey-i", report responses
  PUSH               send N messages b"msg-i"
  PULL, SUB          report N messages (SUB subscribes to b"news")
  PUB                once a pipe is up, publish b"other" then N times b"news-i"
  rep-times          a REP that never replies: report "AT <ms>" for each of K
                     arrivals (ms since the first), then "OK K"
  req-ticking        a REQ with NNG's resend time R ms and resend tick T ms that
                     sends one request (b"tick") and waits for its reply
"""

import argparse
import sys
import threading
import time

import pynng
from pynng import options

import peer_exit

PREFIX = b"news"
TIMEOUT_MS = 30000
TYPES = {
    "REQ": pynng.Req0, "REP": pynng.Rep0, "PUSH": pynng.Push0, "PULL": pynng.Pull0,
    "PUB": pynng.Pub0, "SUB": pynng.Sub0, "PAIR0": pynng.Pair0, "PAIR1": pynng.Pair1,
    "SURVEYOR": pynng.Surveyor0, "RESPONDENT": pynng.Respondent0, "BUS": pynng.Bus0,
}


def say(*words):
    print(*words, flush=True)


def got(body):
    say("GOT", body.decode(errors="replace"))


def open_socket(kind, bind, url):
    sock = TYPES[kind](recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS)
    piped = threading.Event()
    sock.add_post_pipe_connect_cb(lambda _pipe: piped.set())
    if kind == "SUB":
        sock.subscribe(PREFIX)
    if kind == "SURVEYOR":
        sock.survey_time = TIMEOUT_MS
    if bind:
        listener = sock.listen("tcp://127.0.0.1:0")
        # pynng's InAddr.port is not byte-swapped; the string form is right.
        say("READY", str(listener.local_address).rsplit(":", 1)[1])
    else:
        sock.dial(url, block=False)
        say("READY", 0)
    return sock, piped


def wait_for_pipe(piped):
    if not piped.wait(TIMEOUT_MS / 1000):
        say("FAIL no peer connected")
        sys.exit(1)


def play(kind, sock, piped, n):
    if kind in ("REP", "RESPONDENT", "PAIR0", "PAIR1", "BUS"):
        for _ in range(n):
            body = sock.recv()
            got(body)
            sock.send(b"echo:" + body)
    elif kind in ("REQ", "SURVEYOR"):
        word = "req" if kind == "REQ" else "survey"
        if kind == "SURVEYOR":
            wait_for_pipe(piped)
        for i in range(n):
            sock.send(b"%s-%d" % (word.encode(), i))
            got(sock.recv())
    elif kind == "PUSH":
        for i in range(n):
            sock.send(b"msg-%d" % i)
    elif kind == "PUB":
        wait_for_pipe(piped)
        sock.send(b"other")
        for i in range(n):
            sock.send(PREFIX + b"-%d" % i)
    else:
        for _ in range(n):
            got(sock.recv())


def rep_times(sock, k):
    first = None
    for _ in range(k):
        sock.recv()
        now = time.monotonic()
        first = now if first is None else first
        say("AT", round((now - first) * 1000))


def req_ticking(url, resend_ms, tick_ms):
    sock = pynng.Req0(recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS)
    options._setopt_ms(sock, "req:resend-tick", tick_ms)
    sock.resend_time = resend_ms
    sock.dial(url, block=True)
    say("READY 0")
    sock.send(b"tick")
    got(sock.recv())
    return sock


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("type", choices=sorted(TYPES) + ["rep-times", "req-ticking"])
    parser.add_argument("--bind", action="store_true")
    parser.add_argument("--connect")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--resend-ms", type=int, default=0)
    parser.add_argument("--tick-ms", type=int, default=0)
    args = parser.parse_args()
    try:
        if args.type == "req-ticking":
            sock = req_ticking(args.connect, args.resend_ms, args.tick_ms)
        elif args.type == "rep-times":
            sock, _ = open_socket("REP", True, None)
            rep_times(sock, args.count)
        else:
            sock, piped = open_socket(args.type, args.bind, args.connect)
            play(args.type, sock, piped, args.count)
    except pynng.NNGException as err:
        say("FAIL", f"{type(err).__name__}: {err}")
        sys.exit(1)
    say("OK", args.count)
    sys.stdin.readline()
    sock.close()


if __name__ == "__main__":
    peer_exit.run(main)
