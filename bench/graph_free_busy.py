"""Measure the two ways of reading a host pool's free/busy through msgraph-sdk against the emulator.

    .venv/bin/python -m bench.graph_free_busy [--hosts 20] [--days 14] [--latency-ms 0,150] [--quick]

For each injected per-request latency (0 = the emulator's own speed; 150 ms is a typical Graph round
trip from an Azure region) it prints Graph requests and median wall time for ``getSchedule`` (batches
of 20) and for ``calendarView`` per mailbox (paged, at the adapter's concurrency). The figures are
recorded in docs/PERFORMANCE.md under "Graph free/busy".
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
START = datetime(2026, 6, 1, tzinfo=UTC)


def seed(emulator, hosts: int, days: int) -> list[str]:
    """Each host: three jobs a working day, a daily standup and a weekly crew meeting (series)."""
    mailboxes = [f"tech{n:02d}@contoso.com" for n in range(hosts)]
    emulator.add_users(mailboxes, time_zone="Pacific Standard Time")
    for mailbox in mailboxes:
        for day in range(days):
            date = START + timedelta(days=day)
            if date.weekday() >= 5:
                continue
            for hour in (9, 11, 14):
                emulator.add_event(mailbox, {
                    "subject": "Job", "showAs": "busy",
                    "start": {"dateTime": f"{date:%Y-%m-%d}T{hour:02d}:00:00", "timeZone": "Pacific Standard Time"},
                    "end": {"dateTime": f"{date:%Y-%m-%d}T{hour + 1:02d}:30:00", "timeZone": "Pacific Standard Time"}})
        for subject, pattern, time_of_day in (
                ("Standup", {"type": "daily", "interval": 1}, "08:00"),
                ("Crew meeting", {"type": "weekly", "interval": 1, "daysOfWeek": ["monday"]}, "16:30")):
            emulator.add_event(mailbox, {
                "subject": subject, "showAs": "busy",
                "start": {"dateTime": f"{START:%Y-%m-%d}T{time_of_day}:00", "timeZone": "Pacific Standard Time"},
                "end": {"dateTime": f"{START:%Y-%m-%d}T{time_of_day[:3]}{int(time_of_day[3:]) + 15:02d}:00",
                        "timeZone": "Pacific Standard Time"},
                "recurrence": {"pattern": pattern, "range": {"type": "noEnd", "startDate": f"{START:%Y-%m-%d}"}}})
    return mailboxes


async def measure(adapter, emulator, mailboxes: list[str], days: int, runs: int) -> tuple[int, float, int]:
    end = START + timedelta(days=days)
    await adapter.get_busy(mailboxes, START, end)  # connection and model warm-up
    emulator.clear_requests()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        busy = await adapter.get_busy(mailboxes, START, end)
        timings.append(time.perf_counter() - started)
    blocks = sum(len(b) for b in busy.values())
    return len(emulator.requests()) // runs, statistics.median(timings) * 1000, blocks


async def measure_all(hosts: int, days: int, latencies: list[int], runs: int) -> None:
    from dev.emulators.graph import start_graph_emulator
    from shared.adapters.graph import GraphAdapter
    from shared.adapters.graph_client import warm_up
    from shared.config import load_settings

    warm_up()
    emulator = start_graph_emulator()
    try:
        mailboxes = seed(emulator, hosts, days)
        settings = load_settings(storage={"connection_string": "UseDevelopmentStorage=true"},
                                 identity={"mode": "static_token", "static_token": "measure"},
                                 graph={"base_url": emulator.graph_url})
        print(f"{hosts} hosts, {days} days")
        print(f"{'latency':>8} {'source':>14} {'requests':>9} {'median ms':>10} {'blocks':>7}")
        for latency in latencies:
            emulator.clear_faults()
            if latency:
                emulator.add_fault(latency_ms=latency, path="/v1.0/", count=-1)
            for source in ("schedule", "calendar_view"):
                adapter = GraphAdapter(settings, busy_source=source)
                requests, median_ms, blocks = await measure(adapter, emulator, mailboxes, days, runs)
                print(f"{latency:>6}ms {source:>14} {requests:>9} {median_ms:>10.1f} {blocks:>7}")
    finally:
        emulator.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.graph_free_busy", description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--latency-ms", default="0,150")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="one run, no injected latency (a smoke run)")
    args, _ = parser.parse_known_args(argv)
    latencies = [0] if args.quick else [int(v) for v in args.latency_ms.split(",")]
    asyncio.run(measure_all(args.hosts, args.days, latencies, 1 if args.quick else args.runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
