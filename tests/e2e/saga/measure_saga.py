"""Measure one booking saga end to end on the local stack: wall time (p50/p95) and Graph requests per booking.

    .venv/bin/python tests/e2e/saga/measure_saga.py [--bookings 20]

Starts a LocalStack (Azurite, every emulator, the development host), then runs immediate-confirmation
booking sagas one after another for free times of one technician, each timed from ``start_new`` to the
completed orchestration (route, hold, confirm, SMS + owner e-mail + Dynamics appointment in parallel,
finish). The first saga pays msgraph-sdk's one-off model loading and is reported separately.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parents[2]), str(HERE)]


async def measure(count: int) -> dict:
    from dev.stack import LocalStack
    from saga_support import DANA, REPAIR, book, free_slots, new_booking_id, saga_input
    from shared.config import load_business_config

    with LocalStack(extra_env={"DURABLE_TASK_HUB": "frontdesk"}) as stack:
        config = load_business_config(str(stack.business_config_path))
        office = config.business.email
        stack.graph.add_user(office, "Office")
        times = bookable_times(config, free_slots(config, REPAIR, DANA, span_days=21), count + 1)
        walls, per_booking = [], []
        for when in times:
            stack.graph.clear_requests()
            started = time.perf_counter()
            result = await book(stack, saga_input(new_booking_id(), when))
            walls.append(time.perf_counter() - started)
            assert result["outcome"] == "confirmed", result
            per_booking.append(Counter(request["operation"] for request in stack.graph.requests()))
        warm = walls[1:]
        return {"first": walls[0], "p50": statistics.median(warm),
                "p95": statistics.quantiles(warm, n=20)[-1] if len(warm) >= 2 else warm[0],
                "min": min(warm), "max": max(warm), "graph": per_booking[-1],
                "graph_total": statistics.median(sum(c.values()) for c in per_booking)}


def bookable_times(config, slots, count: int) -> list:
    """Free starts far enough apart (duration and buffers) and within the host's daily limit."""
    from zoneinfo import ZoneInfo
    event_type, host = config.event_type("plumbing-repair"), config.host("dana")
    gap = event_type.duration + event_type.buffer_before + event_type.buffer_after
    chosen, per_day = [], Counter()
    for start in slots:
        day = start.astimezone(ZoneInfo(host.time_zone)).date()
        if chosen and start < chosen[-1] + gap or per_day[day] >= (host.daily_limit or 99) - 1:
            continue
        chosen.append(start)
        per_day[day] += 1
        if len(chosen) == count:
            break
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=20)
    args = parser.parse_args()
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    result = asyncio.run(measure(args.bookings))
    print(f"booking saga, immediate confirmation, {args.bookings} sequential bookings on the local stack")
    print(f"  first (cold msgraph-sdk): {result['first'] * 1000:.0f} ms")
    print(f"  warm: p50 {result['p50'] * 1000:.0f} ms, p95 {result['p95'] * 1000:.0f} ms "
          f"(min {result['min'] * 1000:.0f}, max {result['max'] * 1000:.0f})")
    print(f"  Graph requests per booking: {result['graph_total']:.0f} "
          f"({', '.join(f'{op} {n}' for op, n in sorted(result['graph'].items()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
