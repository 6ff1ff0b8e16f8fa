"""Shared rate limits against Azurite: the cost of a check, and what contention between instances does.

    .venv/bin/python -m bench.ratelimit [--quick]

Starts an in-memory Azurite and measures the production limiter (``shared.adapters.store_ratelimits``):

- ``memory``: the per-instance in-memory bucket (the old limiter, now the fallback), per check;
- ``accept``: a check that is granted: read the row, write it back If-Match (one caller, sequential);
- ``refuse (table)``: a refused check that asks the table (one read, no write);
- ``refuse (remembered)``: a refused check answered from the instance's memory of the refusal;
- ``contention``: two limiter instances (each its own memory, as two app instances), ``--concurrency``
  simultaneous checks each for one caller for ``--seconds``; accepted vs the limit (burst + rate x elapsed),
  ETag conflicts, latency; once with the per-caller single flight the limiter uses, once without it
  (every request its own read-modify-write), to show why the limiter has it.

The figures are recorded in docs/PERFORMANCE.md under "Shared rate limits".
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def summary(name: str, values: list[float], unit: float = 1000.0, label: str = "ms") -> str:
    return (f"{name:<22} n={len(values):<5} p50={percentile(values, 0.5) * unit:8.3f} {label}  "
            f"p95={percentile(values, 0.95) * unit:8.3f} {label}  mean={statistics.fmean(values) * unit:8.3f} {label}")


async def timed(check) -> tuple[float, float]:
    started = time.perf_counter()
    wait = await check()
    return time.perf_counter() - started, wait


async def sequential(rounds: int, limiter, caller: str) -> list[float]:
    samples = []
    for _ in range(rounds):
        elapsed, _ = await timed(lambda: limiter.check(caller))
        samples.append(elapsed)
    return samples


async def contention(store_factory, limit, *, concurrency: int, seconds: float, single_flight: bool) -> dict:
    """Two instances, each keeping ``concurrency`` checks in flight for one caller, for ``seconds``."""
    from shared import clock
    from shared.adapters.store_ratelimits import SharedRateLimiter
    caller = "203.0.113." + uuid.uuid4().hex[:6]
    stores = [store_factory(), store_factory()]
    instances = [SharedRateLimiter(limit, lambda s=s: s) for s in stores]
    accepted, latencies = 0, []
    started = time.perf_counter()
    deadline = started + seconds

    async def worker(instance: int) -> None:
        nonlocal accepted
        while time.perf_counter() < deadline:
            if single_flight:
                elapsed, wait = await timed(lambda: instances[instance].check(caller))
            else:
                store = stores[instance]
                elapsed, (_, wait) = await timed(lambda: store.take(limit, caller, clock.now().timestamp()))
            latencies.append(elapsed)
            if wait == 0:
                accepted += 1
            else:
                await asyncio.sleep(min(wait, 0.05))  # a client that backs off a little, then tries again

    await asyncio.gather(*(worker(i % 2) for i in range(2 * concurrency)))
    elapsed = time.perf_counter() - started
    return {"accepted": accepted, "allowed": limit.burst + limit.rate * elapsed, "checks": len(latencies),
            "conflicts": sum(s.conflicts for s in stores), "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95), "elapsed": elapsed}


async def run(args) -> None:
    from shared.adapters.store_ratelimits import Limit, LocalTokenBuckets, SharedRateLimiter, TableTokenBuckets
    from shared.config import load_settings
    settings = load_settings()
    rounds = 50 if args.quick else 300

    memory = LocalTokenBuckets(Limit("bench-memory", 1e9, 10**9))
    samples = []
    for index in range(rounds * 10):
        started = time.perf_counter()
        memory.take(f"caller-{index % 100}")
        samples.append(time.perf_counter() - started)
    print(summary("memory", samples, 1e6, "us"))

    store = TableTokenBuckets(settings)
    await store.take(Limit("warm", 1, 1), "warm", time.time())  # the table exists, the connection is open
    generous = SharedRateLimiter(Limit("bench-accept", 1e6, 10**6), lambda: store)
    print(summary("accept", await sequential(rounds, generous, "198.51.100.1")))

    stingy = Limit("bench-refuse", 0.001, 1)
    await store.take(stingy, "198.51.100.2", time.time())  # its only token
    samples = []
    for _ in range(rounds):
        elapsed, (_, wait) = await timed(lambda: store.take(stingy, "198.51.100.2", time.time()))
        assert wait > 0
        samples.append(elapsed)
    print(summary("refuse (table)", samples))
    remembering = SharedRateLimiter(stingy, lambda: store)
    print(summary("refuse (remembered)", await sequential(rounds * 10, remembering, "198.51.100.2"), 1e6, "us"))

    limit = Limit("bench-contention", args.rate, args.burst)
    for single_flight in (True, False):
        result = await contention(lambda: TableTokenBuckets(settings), limit, concurrency=args.concurrency,
                                  seconds=args.seconds, single_flight=single_flight)
        name = "with single flight" if single_flight else "without single flight"
        print(f"contention {name:<22} accepted={result['accepted']} allowed<={result['allowed']:.1f} "
              f"checks={result['checks']} conflicts={result['conflicts']} p50={result['p50'] * 1000:.1f} ms "
              f"p95={result['p95'] * 1000:.1f} ms over {result['elapsed']:.1f} s")
        assert result["accepted"] <= result["allowed"], "the shared limit let more through than allowed"
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ratelimit", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (a smoke run)")
    parser.add_argument("--concurrency", type=int, default=20, help="checks in flight per instance")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each contention run")
    parser.add_argument("--rate", type=float, default=10.0, help="tokens per second in the contention runs")
    parser.add_argument("--burst", type=int, default=60, help="bucket size in the contention runs")
    args = parser.parse_args(argv)
    import logging
    logging.getLogger("frontdesk.shared.adapters.store_ratelimits").setLevel(logging.ERROR)  # "kept changing" floods
    if args.quick:
        args.seconds = min(args.seconds, 2.0)
    from dev.azurite import start_azurite
    with start_azurite() as azurite:
        os.environ.update({"STORAGE__CONNECTION_STRING": azurite.connection_string,
                           "STORAGE__TABLE_PREFIX": "bench" + uuid.uuid4().hex[:6],
                           "IDENTITY__MODE": "static_token", "IDENTITY__STATIC_TOKEN": "bench",
                           "GRAPH__BASE_URL": "http://127.0.0.1:9/v1.0"})
        asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
