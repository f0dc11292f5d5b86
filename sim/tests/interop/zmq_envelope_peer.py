"""The libzmq side of the envelope tests (ROUTER identities, REQ_CORRELATE): a real
libzmq 4.3 (pyzmq 26.2.0) that reports the frames it receives, as hex.

Usage: zmq_envelope_peer.py ROLE (--bind | --connect URL)

It binds to a random port on 127.0.0.1 (reporting "READY <port>") or connects to
URL (reporting "READY 0"), then plays ROLE, reporting each received message as
"GOT hex,hex,..." (one hex string per frame, empty frames empty) and the end as
"OK". Each step is a line of stdout, so the Rust side waits for events, never for
time; a receive times out after 30 s so a broken test fails instead of hanging.
  router-report   a ROUTER: reports two messages without its own identity frame
                  for the sender (the envelope the sender built, then the body)
                  and answers each behind its envelope with "echo"
  router-echo-id  a ROUTER: reports one message (identity frame first) and answers
                  it with its own identity frame as the body: [id, "", id]
  router-late     a ROUTER: reports two requests, then answers the first and then
                  the second, each behind its own envelope ("reply-a", "reply-b")
  dealers         two DEALERs, one after the other, each sending ["", "hello-i"]
                  and reporting the reply (the second connects after the first's
                  reply, so the ROUTER sees them in that order)
  req-correlate   a REQ with REQ_CORRELATE and REQ_RELAXED: sends "a", then "b"
                  without waiting, and reports the one reply it takes
"""

import argparse

import zmq

TIMEOUT_MS = 30000


def say(*words):
    print(*words, flush=True)


def got(frames):
    say("GOT " + ",".join(f.hex() for f in frames))


def socket(ctx, kind):
    sock = ctx.socket(kind)
    sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    sock.setsockopt(zmq.LINGER, 5000)
    return sock


def play(ctx, role, sock, url):
    if role == "router-report":
        for _ in range(2):
            frames = sock.recv_multipart()
            got(frames[1:])
            sock.send_multipart(frames[:-1] + [b"echo"])
    elif role == "router-echo-id":
        frames = sock.recv_multipart()
        got(frames)
        sock.send_multipart([frames[0], b"", frames[0]])
    elif role == "router-late":
        first = sock.recv_multipart()
        got(first)
        second = sock.recv_multipart()
        got(second)
        sock.send_multipart(first[:-1] + [b"reply-a"])
        sock.send_multipart(second[:-1] + [b"reply-b"])
    elif role == "dealers":
        for i in range(2):
            dealer = socket(ctx, zmq.DEALER)
            dealer.connect(url)
            dealer.send_multipart([b"", b"hello-%d" % i])
            got(dealer.recv_multipart())
            dealer.close()
    elif role == "req-correlate":
        sock.setsockopt(zmq.REQ_CORRELATE, 1)
        sock.setsockopt(zmq.REQ_RELAXED, 1)
        sock.connect(url)
        sock.send(b"a")
        sock.send(b"b")
        got([sock.recv()])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("role")
    parser.add_argument("--bind", action="store_true")
    parser.add_argument("--connect")
    args = parser.parse_args()
    ctx = zmq.Context()
    kinds = {"router-report": zmq.ROUTER, "router-echo-id": zmq.ROUTER, "router-late": zmq.ROUTER,
             "req-correlate": zmq.REQ}
    sock = socket(ctx, kinds[args.role]) if args.role in kinds else None
    if args.bind:
        say("READY", sock.bind_to_random_port("tcp://127.0.0.1"))
    else:
        if args.role not in ("dealers", "req-correlate"):
            sock.connect(args.connect)
        say("READY", 0)
    play(ctx, args.role, sock, args.connect)
    say("OK")
    if sock is not None:
        sock.close()
    ctx.term()


if __name__ == "__main__":
    main()
