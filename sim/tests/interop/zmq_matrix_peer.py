"""One cell of the ZMTP interop matrix: a real libzmq 4.3 socket (pyzmq 26.2.0).

Usage: zmq_matrix_peer.py TYPE (--bind | --connect URL) --count N

The socket binds to a random port on 127.0.0.1 (reporting "READY <port>") or
connects to URL (reporting "READY 0"), then plays its part, every message two
frames, and reports each received message as "GOT frame|frame|..." and the end as
"OK N". Each step is a line of stdout, so the Rust side waits for events, never for
time; a receive times out after 30 s so a broken cell fails instead of hanging.
  REP, ROUTER, PAIR  echo N requests: b"echo:" before the first body frame
  REQ, DEALER        send N requests [req-i, part2] and report the replies
  PUSH               send N messages [msg-i, part2]
  PULL, SUB, XSUB    report N messages (SUB and XSUB subscribe to b"news")
  XPUB               report the subscription, publish one unmatched and N matched
  PUB                publish rounds of one unmatched and one matched message until
                     the Rust side writes a line on stdin (a PUB cannot see when a
                     subscription arrives, so it keeps publishing)
"""

import argparse
import select
import sys

import zmq

PREFIX = b"news"
TIMEOUT_MS = 30000


def say(*words):
    print(*words, flush=True)


def got(frames):
    say("GOT", b"|".join(frames).decode())


def echo(frames):
    """The reply to a request: the envelope kept, b"echo:" before the first body frame."""
    at = frames.index(b"") + 1 if b"" in frames else 0
    return frames[:at] + [b"echo:" + frames[at]] + frames[at + 1:]


def serve(sock, count, router):
    for _ in range(count):
        frames = sock.recv_multipart()
        if router:
            ident, rest = frames[0], frames[1:]
            got(rest[rest.index(b"") + 1:] if b"" in rest else rest)
            sock.send_multipart([ident] + echo(rest))
        else:
            got(frames)
            sock.send_multipart(echo(frames))


def request(sock, count, delimiter):
    for i in range(count):
        envelope = [b""] if delimiter else []
        sock.send_multipart(envelope + [b"req-%d" % i, b"part2"])
        frames = sock.recv_multipart()
        got(frames[1:] if delimiter else frames)


def publish_rounds(sock):
    k = 0
    while True:
        sock.send_multipart([b"other", b"unmatched"])
        sock.send_multipart([PREFIX, b"%d" % k])
        k += 1
        ready, _, _ = select.select([sys.stdin], [], [], 0.02)
        if ready:
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("type")
    parser.add_argument("--bind", action="store_true")
    parser.add_argument("--connect")
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args()
    ctx = zmq.Context()
    kind = args.type
    sock = ctx.socket(getattr(zmq, kind))
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 5000)
    if kind == "SUB":
        sock.setsockopt(zmq.SUBSCRIBE, PREFIX)
    if args.bind:
        say("READY", sock.bind_to_random_port("tcp://127.0.0.1"))
    else:
        sock.connect(args.connect)
        say("READY", 0)
    n = args.count
    if kind in ("REP", "ROUTER", "PAIR"):
        serve(sock, n, kind == "ROUTER")
    elif kind in ("REQ", "DEALER"):
        request(sock, n, kind == "DEALER")
    elif kind == "PUSH":
        for i in range(n):
            sock.send_multipart([b"msg-%d" % i, b"part2"])
    elif kind == "XPUB":
        say("SUB", sock.recv().hex())
        sock.send_multipart([b"other", b"unmatched"])
        for i in range(n):
            sock.send_multipart([PREFIX, b"%d" % i])
    elif kind == "PUB":
        publish_rounds(sock)
    else:
        if kind == "XSUB":
            sock.send(b"\x01" + PREFIX)
        for _ in range(n):
            got(sock.recv_multipart())
    say("OK", n)
    sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
