"""Retention benchmark: purge throughput, and what one booking costs in Table Storage, Graph and CPU.

    .venv/bin/python -m bench.retention [--bookings 30] [--rows 3000] [--quick] [--json PATH]

Starts the whole local stack and counts what Azurite cannot meter:

- **Table Storage** requests of Frontdesk's own tables, counted in azure-core's aiohttp transport (the layer
  every async Azure SDK client sends through; wrapped here, in the benchmark only): HTTP requests by table
  and verb and, for ``$batch`` requests, the entity operations inside. The development host's own Durable
  table is counted the same way but reported apart: on Azure the Durable extension's Azure Storage backend
  has its own (queue-polling) cost profile that this host does not imitate.
- **Graph** requests from the Graph emulator's request log.
- **CPU** as process time of this Python process divided by the bookings: the app, the development host
  and the in-process emulators together (Azurite runs in its own Node process and is not included), so it
  is an upper bound for the app's share.

Per-booking cost: ``--bookings`` sequential ``POST /api/bookings`` (each after a ``GET availability`` as a
widget would do), waited until their sagas end. Purge throughput: ``--rows`` claim rows and a tenth as
many call states and idle rate-limit buckets are added, the app clock moves two years on, and one unbounded
retention run deletes them, the bookings (with index rows, reminders and sagas), the bookings' SMS intents
and inbound records, and every finished Durable instance; rows/s and instances/s are
the counts over each step's seconds. Figures go in docs/PERFORMANCE.md ("Retention and per-booking cost").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import secrets
import sys
import threading
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

UTC = timezone.utc


class TableCounter:
    """A tally of Table Storage requests: per table and verb, and entity operations inside batches."""

    def __init__(self):
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.operations: Counter[str] = Counter()

    def count(self, method: str, table: str, operations: int) -> None:
        with self._lock:
            self.requests[f"{method} {table}"] += 1
            self.operations[table] += operations

    def snapshot(self) -> tuple[int, int]:
        with self._lock:
            return sum(self.requests.values()), sum(self.operations.values())

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.operations.clear()


_TABLE_IN_PATH = re.compile(r"/devstoreaccount1/([A-Za-z][A-Za-z0-9]*|\$batch)")


def instrument(table_port: int, app_tables: TableCounter, durable_tables: TableCounter) -> None:
    """Count every request to Azurite's table port made through azure-core's aiohttp transport.

    The hook sits in the transport every async Azure SDK client sends through (the app's stores and the
    development host's Durable store alike), so nothing in the app is changed to be measured. Requests to
    the development host's own ``...DevHost`` table are tallied apart.
    """
    from azure.core.pipeline.transport import AioHttpTransport
    original = AioHttpTransport.send

    async def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if parts.port == table_port:
            match = _TABLE_IN_PATH.search(parts.path)
            table, operations = (match.group(1) if match else "(service)"), 1
            if table == "$batch":
                body = request.body if isinstance(request.body, (bytes, str)) else b""
                body = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
                inner = _TABLE_IN_PATH.findall(body)
                table, operations = (inner[0] if inner else "$batch"), max(1, len(inner))
            counter = durable_tables if table.endswith("DevHost") else app_tables
            counter.count(request.method, table, operations)
        return await original(self, request, **kwargs)

    AioHttpTransport.send = send


async def book_all(stack, count: int, app_tables: TableCounter, durable_tables: TableCounter) -> dict:
    import httpx
    now = stack.host.clock.now()
    headers = {"x-functions-key": stack.host.function_key(), "X-Forwarded-For": "203.0.113.9"}
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=120, headers=headers) as api:
        slots = (await api.get("availability", params={
            "eventType": "plumbing-repair", "start": (now + timedelta(days=2)).isoformat(),
            "end": (now + timedelta(days=30)).isoformat()})).json()["slots"]
        await _book(stack, api, slots.pop(0)["start"], 0)  # warm-up, not counted
        stack.graph.clear_requests()
        app_tables.reset()
        durable_tables.reset()
        cpu, wall = time.process_time(), time.perf_counter()
        for n in range(1, count + 1):
            day = (now + timedelta(days=2 + n % 25)).isoformat()
            offered = (await api.get("availability", params={
                "eventType": "plumbing-repair", "start": day,
                "end": (now + timedelta(days=3 + n % 25)).isoformat()})).json()["slots"] or slots
            await _book(stack, api, offered[n % len(offered)]["start"], n)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    graph = Counter(entry.get("operation") or "other" for entry in stack.graph.requests())
    requests, operations = app_tables.snapshot()
    durable_requests, durable_operations = durable_tables.snapshot()
    return {
        "bookings": count,
        "table_requests_per_booking": round(requests / count, 1),
        "table_entity_operations_per_booking": round(operations / count, 1),
        "table_requests_by_kind": dict(sorted(app_tables.requests.items())),
        "devhost_durable_table_requests_per_booking": round(durable_requests / count, 1),
        "devhost_durable_entity_operations_per_booking": round(durable_operations / count, 1),
        "graph_requests_per_booking": round(sum(graph.values()) / count, 2),
        "graph_requests_by_operation": dict(graph),
        "cpu_ms_per_booking": round(cpu * 1000 / count, 1),
        "wall_s_per_booking": round(wall / count, 3),
    }


async def _book(stack, api, start: str, n: int) -> None:
    body = {"eventType": "plumbing-repair", "start": start, "timeZone": "America/Chicago",
            "customer": {"name": f"Bench Customer {n}", "phone": f"+131255501{n % 100:02d}",
                         "email": f"bench{n}@example.org", "address": "100 Bench Street, Chicago, IL",
                         "postalCode": "60614"}}
    response = await api.post("bookings", json=body, headers={"Idempotency-Key": secrets.token_hex(8)})
    while response.status_code == 202:
        await asyncio.sleep(0.3)
        response = await api.get(response.json()["statusUrl"])
    if response.status_code in (200, 201):
        await stack.host.wait_for_instance_async(response.json()["id"], timeout=60)


async def seed_rows(services, rows: int) -> None:
    """``rows`` past claim rows over ten hosts, and a tenth as many call states."""
    start = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
    per_host = rows // 10
    for host in range(10):
        granules = [start + timedelta(minutes=5 * n) for n in range(per_host)]
        for chunk in range(0, len(granules), 100):
            await services.claims.claim(f"bench-host-{host}", granules[chunk:chunk + 100], f"bk_bench{host}",
                                        "booking", now=start)
    for n in range(rows // 10):
        await services.calls.create(f"CAbench{n:06d}", {"dialog": {"caller": "+13125550100", "turns": 3}})
    from shared.adapters.store_ratelimits import Limit, TableTokenBuckets
    buckets, limit = TableTokenBuckets(services.settings), Limit("bench", 5.0, 10)
    for n in range(rows // 10):
        await buckets.take(limit, f"198.51.{n // 250}.{n % 250}", start.timestamp())


async def purge(stack, rows: int) -> dict:
    from shared.config import get_settings
    from shared.services.container import Services
    from shared.services.retention import Retention
    settings = get_settings()
    unbounded = settings.model_copy(update={"retention": settings.retention.model_copy(
        update={"max_rows_per_run": 10_000_000, "max_seconds_per_run": 3600.0})})
    services = Services(unbounded)
    await seed_rows(services, rows)
    stack.host.clock.travel_to(stack.host.clock.now() + timedelta(days=730))
    report = await stack.host.with_client(lambda client: Retention(services, client).run())
    deleted, seconds = report.deleted, report.step_seconds
    table_rows = deleted.get("claims", 0) + deleted.get("calls", 0)
    table_seconds = seconds.get("claims", 0) + seconds.get("calls", 0)
    durable_seconds = seconds.get("durable", 0) + seconds.get("bookings", 0)
    return {
        "outcome": report.outcome,
        "deleted": deleted,
        "step_seconds": {k: round(v, 3) for k, v in seconds.items()},
        "claim_rows_per_s": round(deleted.get("claims", 0) / max(seconds.get("claims", 0), 1e-9)),
        "call_states_per_s": round(deleted.get("calls", 0) / max(seconds.get("calls", 0), 1e-9)),
        "table_rows_per_s": round(table_rows / max(table_seconds, 1e-9)),
        "bookings_per_s": round(deleted.get("bookings", 0) / max(seconds.get("bookings", 0), 1e-9), 1),
        "instances_per_s": round(deleted.get("instances", 0) / max(durable_seconds, 1e-9), 1),
        "ratelimit_rows_per_s": round(deleted.get("ratelimits", 0) / max(seconds.get("ratelimits", 0), 1e-9)),
        "sms_intent_rows_per_s": round(deleted.get("sms_intents", 0) / max(seconds.get("sms_intents", 0), 1e-9)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=30, help="bookings whose cost is counted (default 30)")
    parser.add_argument("--rows", type=int, default=3000, help="claim rows to purge (default 3000)")
    parser.add_argument("--quick", action="store_true", help="5 bookings, 500 rows (a smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON")
    args, _ = parser.parse_known_args(argv)
    bookings, rows = (5, 500) if args.quick else (args.bookings, args.rows)

    from dev.stack import LocalStack
    app_tables, durable_tables = TableCounter(), TableCounter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {load:.2f}; "
          f"{bookings} bookings, {rows} claim rows + {rows // 10} call states and rate-limit buckets each to purge")
    with LocalStack(table_prefix="bench" + uuid.uuid4().hex[:6]) as stack:
        instrument(urlsplit(stack.azurite.table_endpoint).port, app_tables, durable_tables)

        async def run():
            cost = await book_all(stack, bookings, app_tables, durable_tables)
            throughput = await purge(stack, rows)
            from shared.adapters.storage import aclose_loop_clients
            await aclose_loop_clients()
            return cost, throughput
        cost, throughput = asyncio.run(run())
    for name, value in {**cost, **throughput}.items():
        print(f"  {name:46} {value}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"cost": cost, "purge": throughput}, handle, indent=2)
    return 0 if throughput["outcome"] == "complete" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
