#!/usr/bin/env python3
"""A real NNG peer (pynng, which bundles NNG 1.11) for patchbay's interop tests.

Driven by sim/tests/interop.rs over stdin/stdout, one line per step, so the Rust
side never sleeps to wait for readiness:

  rep --count N               listen on 127.0.0.1 port 0, print "READY <port>", answer
      [--report-sizes]        N requests with b"echo:" + request, print "DONE"; with
                              --report-sizes, print "SIZE <bytes> ZEROS <n>" for each
                              request first (n: zero bytes after its first 20)
  req --dial URL --count N    send b"req-<i>" N times and check each reply is
      [--pause-after K]       b"echo:req-<i>"; after K requests print "PAUSED" and wait
                              for a line on stdin; print "OK <N>" at the end

The first line is always "NNG <version>". Any failure prints "FAIL <reason>" and
exits 1; every wait has a timeout so a broken peer cannot hang the test.
"""

import argparse
import sys

import pynng

import peer_exit

TIMEOUT_MS = 10_000


def say(line):
    print(line, flush=True)


def fail(reason):
    say(f"FAIL {reason}")
    sys.exit(1)


def nng_version():
    return pynng.ffi.string(pynng.lib.nng_version()).decode()


def serve_rep(count, report_sizes):
    with pynng.Rep0(recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS) as sock:
        listener = sock.listen("tcp://127.0.0.1:0")
        # pynng's InAddr.port is not byte-swapped; the string form is right.
        port = str(listener.local_address).rsplit(":", 1)[1]
        say(f"READY {port}")
        for _ in range(count):
            request = sock.recv()
            if report_sizes:
                say(f"SIZE {len(request)} ZEROS {request[20:].count(0)}")
            sock.send(b"echo:" + request)
    say("DONE")


def run_req(url, count, pause_after):
    with pynng.Req0(recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS) as sock:
        sock.dial(url, block=True)
        for i in range(count):
            if i == pause_after:
                say("PAUSED")
                if not sys.stdin.readline():
                    fail("stdin closed while paused")
            request = f"req-{i}".encode()
            sock.send(request)
            reply = sock.recv()
            if reply != b"echo:" + request:
                fail(f"reply {reply!r} to {request!r}")
    say(f"OK {count}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["rep", "req"])
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--dial")
    parser.add_argument("--pause-after", type=int, default=-1)
    parser.add_argument("--report-sizes", action="store_true")
    args = parser.parse_args()
    say(f"NNG {nng_version()}")
    try:
        if args.role == "rep":
            serve_rep(args.count, args.report_sizes)
        else:
            run_req(args.dial, args.count, args.pause_after)
    except pynng.NNGException as err:
        fail(f"{type(err).__name__}: {err}")


if __name__ == "__main__":
    peer_exit.run(main)
