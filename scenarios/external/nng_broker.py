"""Seed 000's load-balancing broker on real NNG (pynng), for patchbay's
`scenarios/external/lru-nng-worker-kill.yaml`.

Clients' REQs reach the `frontend` REP, ready-workers' REQs the `backend` REP. NNG's
contexts let one REP socket hold many requests at once: each backend context holds
one worker's "ready" (or its previous result, which doubles as "ready") until a job
comes, and answers that worker with it; each frontend context holds one client's
request until its result comes back. Bodies carry patchbay's 20-byte payload header
(b"PB1", a kind byte, the message id, the modelled size): a request (kind 1) goes to
a worker as a job (5), a result (4) back to its client as a reply (2), id kept.

Usage: python3 nng_broker.py FRONTEND_ENDPOINT BACKEND_ENDPOINT
"""
import asyncio
import sys

import pynng

REQUEST, REPLY, READY, RESULT, JOB = 1, 2, 3, 4, 5
CONTEXTS = 16  # requests each socket holds at once: more than clients or workers


def rekind(body, kind):
    return body[:3] + bytes([kind]) + body[4:]


async def client_side(ctx, jobs, owners):
    while True:
        body = await ctx.arecv()
        if len(body) < 20 or body[3] != REQUEST:
            continue
        done = asyncio.get_running_loop().create_future()
        owners[body[4:12]] = done
        await jobs.put(body)
        await ctx.asend(rekind(await done, REPLY))


async def worker_side(ctx, jobs, owners):
    while True:
        body = await ctx.arecv()
        if len(body) >= 20 and body[3] == RESULT:
            done = owners.pop(body[4:12], None)
            if done is not None and not done.done():
                done.set_result(body)
        # This context now holds the worker's request: answer it with the next job.
        await ctx.asend(rekind(await jobs.get(), JOB))


async def main(frontend_at, backend_at):
    jobs, owners = asyncio.Queue(), {}
    with pynng.Rep0(listen=frontend_at) as frontend, pynng.Rep0(listen=backend_at) as backend:
        tasks = [client_side(frontend.new_context(), jobs, owners) for _ in range(CONTEXTS)]
        tasks += [worker_side(backend.new_context(), jobs, owners) for _ in range(CONTEXTS)]
        print("nng-broker ready", flush=True)
        await asyncio.gather(*tasks)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
