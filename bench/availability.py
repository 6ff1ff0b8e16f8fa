"""Slot engine benchmark: ``.venv/bin/python -m bench.availability [--quick] [--json PATH]``.

The three workloads of issue 3 (Mon-Fri 08:00-17:00 America/Chicago, 60-minute event on a 30-minute
grid, 15/15-minute buffers, 120-minute notice), timed in-process as the median per query after a
warm-up, against the target of 50x faster than a leading open-source scheduler's engine measured on
this machine class (55 ms, 130 ms, 850 ms). Then the scaling series: days, busy events and hosts,
each varied alone, with the cost per unit, to show growth is linear. Inputs are seeded, so every run
queries the same calendars.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from shared.domain.availability import find_slots
from shared.domain.business import EventType, Host
from shared.ports import BusyBlock

UTC = timezone.utc
START = datetime(2026, 3, 2, 14, tzinfo=UTC)  # Monday 08:00 in Chicago; the window includes a DST change
EVENT = EventType(key="service-visit", name="Service visit", duration_minutes=60, slot_interval_minutes=30,
                  buffer_before_minutes=15, buffer_after_minutes=15, minimum_notice_minutes=120,
                  maximum_advance_days=365, location_kind="phone")
WORKLOADS = [  # name, hosts, days, busy events per host, reference engine's ms
    ("1 host, 30 days, 40 busy", 1, 30, 40, 55.0),
    ("1 host, 90 days, 400 busy", 1, 90, 400, 130.0),
    ("50-host pool, 30 days, 40 busy each", 50, 30, 40, 850.0),
]
SPEEDUP_TARGET = 50


def make_host(index: int) -> Host:
    return Host(id=f"tech-{index:03d}", display_name=f"Technician {index}", mailbox=f"tech{index}@example.com",
                time_zone="America/Chicago", working_hours=[{"days": "mon-fri", "hours": ["08:00-17:00"]}])


def make_busy(rng: random.Random, days: int, count: int, evening: bool = False) -> list[BusyBlock]:
    """``count`` Outlook events on weekdays inside working hours, 15-minute aligned, 30-120 minutes long.

    ``evening`` puts them after hours instead: the engine still reads, sorts and merges every one, but
    the slots offered stay the same, so a series varying only the count measures the events' own cost.
    """
    weekdays = [d for d in range(days) if (START + timedelta(days=d)).weekday() < 5]
    first, last = (40, 56) if evening else (0, 36)  # quarter hours after 08:00: 18:00-21:45, else 08:00-16:45
    blocks = []
    for _ in range(count):
        day = START + timedelta(days=rng.choice(weekdays))
        start = day + timedelta(minutes=15 * rng.randrange(first, last))
        blocks.append(BusyBlock(start, start + timedelta(minutes=rng.choice((30, 45, 60, 90, 120))),
                                rng.choice(("busy", "busy", "busy", "tentative", "oof"))))
    return sorted(blocks, key=lambda block: block.start)


def make_query(hosts: int, days: int, busy: int, seed: int = 7, evening: bool = False) -> Callable[[], list]:
    rng = random.Random(seed)
    pool = [make_host(index) for index in range(hosts)]
    busy_by_host = {host.id: make_busy(rng, days, busy, evening) for host in pool}
    window_end = START + timedelta(days=days)
    return lambda: find_slots(EVENT, pool, busy_by_host, {}, START, window_end, START)


def measure(query: Callable[[], list], warmup: int, runs: int) -> dict:
    for _ in range(warmup):
        query()
    timings = []
    slots = 0
    for _ in range(runs):
        began = time.perf_counter()
        result = query()
        timings.append((time.perf_counter() - began) * 1000)
        slots = len(result)
    timings.sort()
    return {"median_ms": statistics.median(timings), "p90_ms": timings[int(len(timings) * 0.9) - 1],
            "min_ms": timings[0], "runs": runs, "slots": slots}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.availability", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test, noisier figures)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args, _ = parser.parse_known_args(argv)
    warmup, runs = (5, 30) if args.quick else (20, 200)

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load {load:.2f}; warm-up {warmup}, median of {runs} queries")
    results: dict = {"workloads": [], "scaling": {}}
    failed = False

    print(f"\n{'workload':40} {'median':>9} {'p90':>9} {'slots':>6} {'target':>9} {'vs ref':>8}")
    for name, hosts, days, busy, reference_ms in WORKLOADS:
        figures = measure(make_query(hosts, days, busy), warmup, runs)
        target = reference_ms / SPEEDUP_TARGET
        speedup = reference_ms / figures["median_ms"]
        ok = figures["median_ms"] <= target
        failed |= not ok
        print(f"{name:40} {figures['median_ms']:7.3f}ms {figures['p90_ms']:7.3f}ms {figures['slots']:6d} "
              f"{target:7.2f}ms {speedup:7.0f}x {'ok' if ok else 'SLOW'}")
        results["workloads"].append({"name": name, "target_ms": target, "speedup": speedup, **figures})

    series = {  # title: (what varies, [(hosts, days, busy per host)])
        "days (1 host, 40 busy per 30 days)": ("days", [(1, d, d * 40 // 30) for d in (30, 60, 120, 240)]),
        "busy events (1 host, 90 days, after hours)": ("busy", [(1, 90, b) for b in (100, 400, 1600, 6400)]),
        "hosts (30 days, 40 busy each)": ("hosts", [(h, 30, 40) for h in (10, 25, 50, 100)]),
    }
    scaling_runs = max(10, runs // 4)
    for title, (varied, points) in series.items():
        print(f"\nscaling in {title}")
        rows: list[dict] = []
        for hosts, days, busy in points:
            figures = measure(make_query(hosts, days, busy, evening=varied == "busy"), warmup // 2, scaling_runs)
            unit = {"days": days, "busy": busy, "hosts": hosts}[varied]
            # Marginal cost of one more unit since the previous point: constant when growth is linear.
            marginal = ((figures["median_ms"] - rows[-1]["median_ms"]) / (unit - rows[-1]["unit"]) * 1000
                        if rows else None)
            rows.append({"hosts": hosts, "days": days, "busy": busy, "unit": unit, "marginal_us": marginal,
                         **figures})
            print(f"  hosts {hosts:4d}  days {days:4d}  busy/host {busy:5d}  slots {figures['slots']:5d}  "
                  f"median {figures['median_ms']:8.3f}ms  per added {varied[:-1] if varied != 'busy' else 'event'}"
                  f" {'-' if marginal is None else f'{marginal:.2f}us':>8}")
        results["scaling"][title] = rows

    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
