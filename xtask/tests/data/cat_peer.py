#!/usr/bin/env python3
"""A real peer (pynng's NNG 1.11 or pyzmq's libzmq 4.3.5) for xtask/tests/cat.rs.

  cat_peer.py LIB ROLE bind|dial URL [DATA]

LIB is nng or zmq. Every message received is printed as "GOT <hex>"; what the role
sends is DATA (answers are b"re:" + the request). Roles:

  rep, respondent    answer one request/survey, then wait for stdin to close
  req, surveyor      send DATA (a surveyor again every 50 ms until answered),
                     print the answer, exit
  dealer             (zmq) send DATA, print the answer, exit
  router             (zmq) print one message, send DATA back to its sender, then
                     wait for stdin to close
  push, pair         send DATA, then wait for stdin to close (a pair first prints
                     one message received)
  pull, sub          print one message (sub subscribes to DATA), exit
  pub, bus           send DATA every 50 ms until stdin closes (a bus prints the
                     first message received; a pub sends b"zz-" + DATA before each,
                     which a subscriber to DATA's prefix must not print)

The 50 ms repeats are the peer's own pacing (a subscriber or bus member may join
at any time), not a wait for the test. Every receive has a timeout, so a broken
counterpart fails the test with "FAIL <reason>" and exit 1 rather than a hang.
"""

import select
import sys

TIMEOUT_MS = 10_000
REPEAT_S = 0.05


def say(line):
    print(line, flush=True)


def got(data):
    say("GOT " + data.hex())


def stdin_closed(wait_s):
    ready, _, _ = select.select([sys.stdin], [], [], wait_s)
    return bool(ready) and not sys.stdin.readline()


def wait_for_stdin():
    while not stdin_closed(1.0):
        pass


class Nng:
    def __init__(self, role, how, url):
        import pynng

        self.timeout = pynng.Timeout
        kinds = {
            "rep": pynng.Rep0, "req": pynng.Req0, "push": pynng.Push0,
            "pull": pynng.Pull0, "pub": pynng.Pub0, "sub": pynng.Sub0,
            "pair": pynng.Pair1, "surveyor": pynng.Surveyor0,
            "respondent": pynng.Respondent0, "bus": pynng.Bus0,
        }
        self.sock = kinds[role](recv_timeout=TIMEOUT_MS, send_timeout=TIMEOUT_MS)
        if how == "bind":
            self.sock.listen(url)
        else:
            self.sock.dial(url, block=False)

    def subscribe(self, prefix):
        self.sock.subscribe(prefix)

    def send(self, data):
        self.sock.send(data)

    def recv(self, timeout_ms=TIMEOUT_MS):
        self.sock.recv_timeout = timeout_ms
        try:
            return self.sock.recv()
        except self.timeout:
            return None


class Zmq:
    def __init__(self, role, how, url):
        import zmq

        kinds = {
            "rep": zmq.REP, "req": zmq.REQ, "push": zmq.PUSH, "pull": zmq.PULL,
            "pub": zmq.PUB, "sub": zmq.SUB, "pair": zmq.PAIR,
            "dealer": zmq.DEALER, "router": zmq.ROUTER,
        }
        self.zmq = zmq
        self.sock = zmq.Context.instance().socket(kinds[role])
        self.sock.linger = 1000
        if how == "bind":
            self.sock.bind(url)
        else:
            self.sock.connect(url)

    def subscribe(self, prefix):
        self.sock.setsockopt(self.zmq.SUBSCRIBE, prefix)

    def send(self, data):
        self.sock.send(data)

    def recv(self, timeout_ms=TIMEOUT_MS):
        if not self.sock.poll(timeout_ms):
            return None
        return self.sock.recv()

    def recv_frames(self, timeout_ms=TIMEOUT_MS):
        if not self.sock.poll(timeout_ms):
            return None
        return self.sock.recv_multipart()

    def send_frames(self, frames):
        self.sock.send_multipart(frames)


def must(data, what):
    if data is None:
        say(f"FAIL no {what} within {TIMEOUT_MS} ms")
        sys.exit(1)
    return data


def play(peer, role, data):
    if role in ("rep", "respondent"):
        request = must(peer.recv(), "request")
        got(request)
        peer.send(b"re:" + request)
        wait_for_stdin()
    elif role in ("req", "dealer"):
        peer.send(data)
        got(must(peer.recv(), "reply"))
    elif role == "router":
        # The sender's routing id, then its message.
        frames = must(peer.recv_frames(), "message")
        got(frames[-1])
        peer.send_frames([frames[0], data])
        wait_for_stdin()
    elif role == "surveyor":
        answer = None
        for _ in range(int(TIMEOUT_MS / 1000 / REPEAT_S)):
            peer.send(data)
            answer = peer.recv(int(REPEAT_S * 1000))
            if answer is not None:
                break
        got(must(answer, "response"))
    elif role in ("push", "pair"):
        peer.send(data)
        if role == "pair":
            got(must(peer.recv(), "message"))
        wait_for_stdin()
    elif role in ("pull", "sub"):
        if role == "sub":
            peer.subscribe(data)
        got(must(peer.recv(), "message"))
    elif role in ("pub", "bus"):
        first = role == "bus"
        while not stdin_closed(0):
            if role == "pub":
                peer.send(b"zz-" + data)
            peer.send(data)
            received = peer.recv(int(REPEAT_S * 1000)) if first else None
            if received is not None:
                got(received)
                first = False
            elif not first and stdin_closed(REPEAT_S):
                break
    else:
        say(f"FAIL unknown role {role}")
        sys.exit(1)


def main():
    lib, role, how, url = sys.argv[1:5]
    data = sys.argv[5].encode() if len(sys.argv) > 5 else b""
    peer = (Nng if lib == "nng" else Zmq)(role, how, url)
    play(peer, role, data)
    say("DONE")


if __name__ == "__main__":
    main()
