"""A real ZeroMQ peer (pyzmq, libzmq 4.3) for patchbay's ZMTP codec tests.

Each step is reported on a line of stdout so the Rust test waits for events, never
for time. Modes:
  rep --count N [--heartbeat-ms T]   bind a REP, echo N multipart requests with
                                     b"echo:" before the first frame
  xpub --count N                     bind an XPUB, report the subscription, publish
                                     one unmatched and N matching messages, report
                                     the cancel
  sub --connect URL --count N        connect a SUB to URL, subscribe to b"news",
                                     report the N messages it receives
"""

import argparse
import sys

import zmq

PREFIX = b"news"


def say(*words):
    print(*words, flush=True)


def rep(ctx, args):
    sock = ctx.socket(zmq.REP)
    if args.heartbeat_ms:
        sock.setsockopt(zmq.HEARTBEAT_IVL, args.heartbeat_ms)
        sock.setsockopt(zmq.HEARTBEAT_TTL, 2000)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    for _ in range(args.count):
        frames = sock.recv_multipart()
        sock.send_multipart([b"echo:" + frames[0]] + frames[1:])
    say("OK", args.count)


def xpub(ctx, args):
    sock = ctx.socket(zmq.XPUB)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    say("READY", port)
    say("SUB", sock.recv().hex())
    sock.send_multipart([b"other", b"unmatched"])
    for i in range(args.count):
        sock.send_multipart([PREFIX, str(i).encode()])
    say("CANCEL", sock.recv().hex())
    say("OK", args.count)


def sub(ctx, args):
    sock = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, PREFIX)
    sock.connect(args.connect)
    say("CONNECTED")
    for _ in range(args.count):
        say("GOT", b"|".join(sock.recv_multipart()).decode())
    say("OK", args.count)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["rep", "xpub", "sub"])
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--connect")
    parser.add_argument("--heartbeat-ms", type=int, default=0)
    args = parser.parse_args()
    say("ZMQ", zmq.zmq_version())
    ctx = zmq.Context()
    {"rep": rep, "xpub": xpub, "sub": sub}[args.mode](ctx, args)
    ctx.destroy(linger=1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
