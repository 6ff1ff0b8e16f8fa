"""Contention benchmark: ``.venv/bin/python -m bench.contention [--requests 200] [--slots 5] [--quick] [--json PATH]``.

Hundreds of simultaneous ``POST /api/bookings`` (asyncio + httpx, one Idempotency-Key each) for a
handful of slots of a pooled event type (``plumbing-repair``: Dana, Priya and Luis), through the whole
local stack (development host running the real booking saga, Azurite, the Graph / Dataverse / ACS
emulators). A 202 is followed by polling its status URL, as a client would; a request's latency is
until its final answer (201 or 409). Reported: throughput, p50/p95 latency of winners and losers, and
Graph requests per booking (from the emulator's request log). Then the outcome is checked the way
``tests/e2e/api/test_concurrency.py`` does: at most one booking per slot and host (exactly one where a
single host is free), no host with overlapping padded intervals in the bookings table or in Outlook,
no orphan claim or hold event, and every loser answered 409 with alternatives.

The scenario functions (``pick_slots``, ``fire``, ``verify``) are shared with that test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

UTC = timezone.utc
EVENT_TYPE = "plumbing-repair"
POSTAL_CODES = ("60614", "60622", "60617", "60640")  # north, west, south, north: territory then round robin


@dataclass(frozen=True)
class Target:
    """A slot the crowd competes for and the hosts free for it before the storm."""

    start: str
    hosts: tuple[str, ...]

    @property
    def capacity(self) -> int:
        return len(self.hosts)


@dataclass
class Attempt:
    target: Target
    key: str
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    first_status: int = 0
    seconds: float = 0.0
    polls: int = 0


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def pick_slots(client: httpx.AsyncClient, count: int = 5, days_ahead: int = 2) -> list[Target]:
    """``count`` offered slots on different local days, mixing one-host slots (Luis's evenings) and pooled ones.

    Different days keep every slot's competition separate (one booking a day per host, far below the
    daily limits, and no padded interval can reach another day's slot).
    """
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(microsecond=0)
    response = await client.get("availability", params={"eventType": EVENT_TYPE, "start": start.isoformat(),
                                                         "end": (start + timedelta(days=20)).isoformat(),
                                                         "timeZone": "America/Chicago"})
    response.raise_for_status()
    by_day: dict[str, list[dict]] = defaultdict(list)
    for slot in response.json()["slots"]:
        by_day[slot["start"][:10]].append(slot)
    singles, pooled = [], []
    for day, slots in sorted(by_day.items()):
        single = next((s for s in slots if len(s["hostIds"]) == 1), None)
        many = max(slots, key=lambda s: len(s["hostIds"]))
        if len(many["hostIds"]) > 1:
            pooled.append((day, many))
        if single is not None:
            singles.append((day, single))
    chosen: list[Target] = []
    used_days: set[str] = set()
    wanted_single = max(1, count // 2)
    for pool, wanted in ((singles, wanted_single), (pooled, count)):
        for day, slot in pool:
            if len(chosen) >= count or wanted <= 0:
                break
            if day in used_days:
                continue
            chosen.append(Target(slot["start"], tuple(slot["hostIds"])))
            used_days.add(day)
            wanted -= 1
    if len(chosen) < count:
        raise RuntimeError(f"only {len(chosen)} usable slots found; the calendar is too full for the scenario")
    return sorted(chosen, key=lambda t: t.start)


def booking_body(target: Target, index: int) -> dict[str, Any]:
    return {"eventType": EVENT_TYPE, "start": target.start, "timeZone": "America/Chicago",
            "customer": {"name": f"Caller {index}", "phone": f"+1312555{index % 10000:04d}",
                         "address": f"{100 + index} N State St, Chicago, IL",
                         "postalCode": POSTAL_CODES[index % len(POSTAL_CODES)]},
            "context": {"channel": "api", "source": {"utm_source": "contention"}}}


async def fire(client: httpx.AsyncClient, targets: list[Target], requests: int,
               settle_timeout: float = 180) -> tuple[list[Attempt], float]:
    """Send ``requests`` bookings at once (round robin over the targets); return each attempt and the wall time."""
    attempts = [Attempt(targets[i % len(targets)], str(uuid.uuid4())) for i in range(requests)]
    gate = asyncio.Event()

    async def one(index: int, attempt: Attempt) -> None:
        await gate.wait()
        began = time.perf_counter()
        response = await client.post("bookings", json=booking_body(attempt.target, index),
                                     headers={"Idempotency-Key": attempt.key})
        attempt.first_status = response.status_code
        deadline = began + settle_timeout
        while response.status_code == 202 and time.perf_counter() < deadline:
            await asyncio.sleep(float(response.headers.get("Retry-After", 1)))  # as a polite client does
            attempt.polls += 1
            response = await client.get(response.json()["statusUrl"])
        attempt.seconds = time.perf_counter() - began
        attempt.status = response.status_code
        attempt.body = response.json() if response.content else {}

    tasks = [asyncio.create_task(one(i, a)) for i, a in enumerate(attempts)]
    await asyncio.sleep(0.05)  # every task is parked on the gate: release them together
    began = time.perf_counter()
    gate.set()
    await asyncio.gather(*tasks)
    return attempts, time.perf_counter() - began


@dataclass
class Verdict:
    problems: list[str]
    winners: dict[str, list[str]]  # slot start -> host ids booked

    @property
    def ok(self) -> bool:
        return not self.problems


def _overlaps(intervals: list[tuple[datetime, datetime, str]]) -> list[str]:
    ordered = sorted(intervals)
    return [f"{a[2]} [{a[0]:%m-%d %H:%M}, {a[1]:%H:%M}) overlaps {b[2]} [{b[0]:%m-%d %H:%M}, {b[1]:%H:%M})"
            for a, b in zip(ordered, ordered[1:]) if b[0] < a[1]]


async def verify(stack, business, attempts: list[Attempt]) -> Verdict:
    """Check the outcome in the answers, the bookings table, the claims table and the emulated calendars."""
    from shared.services.container import get_services

    problems: list[str] = []
    winners: dict[str, list[str]] = defaultdict(list)
    for attempt in attempts:
        if attempt.status in (201, 200):  # 200: the status URL of a 202 answering with the booking
            if attempt.body.get("status") != "confirmed":
                problems.append(f"201 with status {attempt.body.get('status')}")
            if _instant(attempt.body["start"]) != _instant(attempt.target.start):
                problems.append("a winner was booked at another time than it asked for")
            winners[attempt.target.start].append(attempt.body["hostId"])
        elif attempt.status == 409:
            error = attempt.body.get("error", {})
            if error.get("code") != "slot_unavailable" or not error.get("alternatives"):
                problems.append(f"a loser's 409 without alternatives: {error.get('code')}")
        else:
            problems.append(f"unexpected answer {attempt.status}: {json.dumps(attempt.body)[:300]}")
    targets = {attempt.target for attempt in attempts}
    for target in targets:
        hosts = winners.get(target.start, [])
        if len(hosts) != len(set(hosts)):
            problems.append(f"{target.start}: one host booked twice {Counter(hosts)}")
        if not 1 <= len(hosts) <= target.capacity or not set(hosts) <= set(target.hosts):
            problems.append(f"{target.start}: {len(hosts)} bookings {hosts} for hosts free {target.hosts}")

    services = get_services()
    lo = min(_instant(t.start) for t in targets) - timedelta(days=1)
    hi = max(_instant(t.start) for t in targets) + timedelta(days=1)
    now = datetime.now(UTC)
    won_ids = {a.body["id"] for a in attempts if a.status in (200, 201)}
    for host_id in {h for t in targets for h in t.hosts}:
        host = business.host(host_id)
        booked = await services.bookings.list_by_host(host_id, lo, hi, statuses=["confirmed", "held"])
        if any(b.status.value == "held" for b in booked):
            problems.append(f"{host_id}: a hold was left behind")
        problems += [f"bookings of {host_id}: {p}" for p in _overlaps([(*b.padded, b.id) for b in booked])]
        holders = {c.holder_id for c in await services.claims.list_claims(host_id, lo, hi, now=now)}
        confirmed = {b.id for b in booked if b.status.value == "confirmed"}
        if holders != confirmed:
            problems.append(f"{host_id}: claims held by {sorted(holders - confirmed)} without a booking, "
                            f"bookings {sorted(confirmed - holders)} without claims")
        if not confirmed <= won_ids:
            problems.append(f"{host_id}: confirmed bookings nobody was told about: {sorted(confirmed - won_ids)}")
        events = [e for e in stack.graph.events(host.mailbox) if not e.get("isCancelled")]
        blocks = [(_instant(e["start"]["dateTime"] + "+00:00"), _instant(e["end"]["dateTime"] + "+00:00"),
                   e.get("subject", "")) for e in events]
        in_window = [b for b in blocks if lo <= b[0] < hi]
        problems += [f"Outlook of {host_id}: {p}" for p in _overlaps(in_window)]
        tentative = [e for e in events if e.get("showAs") == "tentative"]
        if tentative:
            problems.append(f"Outlook of {host_id}: {len(tentative)} hold event(s) left behind")
        if len(in_window) != len(confirmed):
            problems.append(f"Outlook of {host_id}: {len(in_window)} events for {len(confirmed)} bookings")
    return Verdict(problems, dict(winners))


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summarise(attempts: list[Attempt], wall: float, graph_requests: Counter) -> dict:
    won = [a for a in attempts if a.status in (200, 201)]
    lost = [a for a in attempts if a.status == 409]
    latencies = [a.seconds for a in attempts]
    figures = {
        "requests": len(attempts), "slots": len({a.target for a in attempts}), "bookings": len(won),
        "conflicts": len(lost), "other": len(attempts) - len(won) - len(lost),
        "wall_s": round(wall, 2), "throughput_rps": round(len(attempts) / wall, 1),
        "p50_s": round(_percentile(latencies, 0.5), 2), "p95_s": round(_percentile(latencies, 0.95), 2),
        "winner_p50_s": round(_percentile([a.seconds for a in won], 0.5), 2),
        "loser_p50_s": round(_percentile([a.seconds for a in lost], 0.5), 2),
        "answered_202": sum(a.first_status == 202 for a in attempts),
        "graph_requests": dict(graph_requests),
        "graph_requests_total": sum(graph_requests.values()),
        "graph_requests_per_booking": round(sum(graph_requests.values()) / max(1, len(won)), 1),
        "graph_requests_per_attempt": round(sum(graph_requests.values()) / max(1, len(attempts)), 2),
    }
    return figures


async def run(stack, business, requests: int, slots: int) -> tuple[dict, Verdict]:
    limits = httpx.Limits(max_connections=requests + 10, max_keepalive_connections=requests + 10)
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=300, limits=limits,
                                 headers={"x-functions-key": stack.host.function_key(),
                                          "X-Forwarded-For": "198.18.0.1"}) as client:
        targets = await pick_slots(client, slots)
        stack.graph.clear_requests()
        attempts, wall = await fire(client, targets, requests)
    graph = Counter(entry.get("operation") or "other" for entry in stack.graph.requests())
    verdict = await verify(stack, business, attempts)
    return summarise(attempts, wall, graph), verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.contention", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="simultaneous booking attempts (default 200)")
    parser.add_argument("--slots", type=int, default=5, help="slots they compete for (default 5)")
    parser.add_argument("--quick", action="store_true", help="40 requests (a smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args, _ = parser.parse_known_args(argv)
    requests = 40 if args.quick else args.requests

    from dev.stack import LocalStack
    from shared.config import load_business_config

    os.environ.setdefault("DURABLE_TASK_HUB", "benchcontention")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.2f}; "
          f"{requests} simultaneous bookings for {args.slots} slots of {EVENT_TYPE}")
    with LocalStack(table_prefix="bench" + uuid.uuid4().hex[:6]) as stack:
        business = load_business_config(str(stack.business_config_path))
        figures, verdict = asyncio.run(run(stack, business, requests, args.slots))
    for name in ("requests", "slots", "bookings", "conflicts", "other", "answered_202", "wall_s", "throughput_rps",
                 "p50_s", "p95_s", "winner_p50_s", "loser_p50_s", "graph_requests_total",
                 "graph_requests_per_booking", "graph_requests_per_attempt"):
        print(f"  {name:28} {figures[name]}")
    print(f"  {'graph requests by operation':28} {figures['graph_requests']}")
    print(f"  winners per slot: {verdict.winners}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"figures": figures, "problems": verdict.problems, "winners": verdict.winners}, handle, indent=2)
    if verdict.problems:
        print("PROBLEMS:\n  " + "\n  ".join(verdict.problems))
        return 1
    print("  outcome verified: one booking per slot and host, no overlaps, no orphans, every loser told 409")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
