"""The ZeroMQ guide's load-balancing (LRU) broker on real libzmq (pyzmq), for
patchbay's `scenarios/external/lru-zmq-worker-crash.yaml`.

Clients' REQs reach the `frontend` ROUTER, ready-workers' REQs the `backend` ROUTER.
A worker's request is a "ready" or the previous job's result (which doubles as
"ready"); the broker queues idle workers oldest first and hands each the oldest job.
Bodies carry patchbay's 20-byte payload header (b"PB1", a kind byte, the message id,
the modelled size): the broker turns a client's request (kind 1) into a job (5) and a
worker's result (4) into the client's reply (2), keeping the id, so patchbay's
invariants follow every message through it.

Usage: python3 lru_broker.py FRONTEND_ENDPOINT BACKEND_ENDPOINT
"""
import collections
import sys

import zmq

REQUEST, REPLY, READY, RESULT, JOB = 1, 2, 3, 4, 5


def rekind(body, kind):
    return body[:3] + bytes([kind]) + body[4:]


def main(frontend_at, backend_at):
    ctx = zmq.Context()
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind(frontend_at)
    backend = ctx.socket(zmq.ROUTER)
    backend.bind(backend_at)
    poller = zmq.Poller()
    poller.register(backend, zmq.POLLIN)
    poller.register(frontend, zmq.POLLIN)
    idle = collections.deque()  # workers' routing ids, oldest first
    jobs = collections.deque()  # (client id, request body), oldest first
    owners = {}  # message id -> client id, for jobs in progress
    print("lru-broker ready", flush=True)
    while True:
        events = dict(poller.poll())
        if backend in events:
            frames = backend.recv_multipart()
            worker, body = frames[0], frames[-1]
            if len(body) >= 20 and body[3] == RESULT:
                client = owners.pop(body[4:12], None)
                if client is not None:
                    frontend.send_multipart([client, b"", rekind(body, REPLY)])
            idle.append(worker)
        if frontend in events:
            frames = frontend.recv_multipart()
            client, body = frames[0], frames[-1]
            if len(body) >= 20 and body[3] == REQUEST:
                jobs.append((client, body))
        while idle and jobs:
            worker = idle.popleft()
            client, body = jobs.popleft()
            owners[body[4:12]] = client
            backend.send_multipart([worker, b"", rekind(body, JOB)])


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
