"""Voice webhook benchmark: ``.venv/bin/python -m bench.voice [--calls N] [--think S] [--quick] [--json PATH]``.

It starts the whole local stack (Azurite, the emulators, the development host serving ``function_app``
with the real booking saga) and places many calls AT ONCE with the terminal phone (``dev.phone``):
signed Twilio webhooks over loopback, each caller answering whatever the receptionist asks (service,
address, name, callback number, a day and part of day, the first time offered, yes to the read-back).
Callers share two technicians, so some lose a time to another caller and are offered others.

Callers ring half a second apart and take about two seconds to answer each prompt (``--think``), as
people on a phone do; every call lasts about half a minute, so nearly all of them are on the line at once.

It measures, at the phone, the time each webhook takes to answer (loopback HTTP + the function), in four
runs: the local parser; the same with callers answering instantly (a burst: every call's webhooks back to
back); a language model (the OpenAI emulator) adding 300 ms to every understanding; and a model that
takes 5 s, which the turn budget (``VOICE__MODEL_BUDGET_SECONDS``, 2 s) cuts off with the parser's
reading. Webhooks are grouped as the greeting; speech turns that ask the next question, read live
availability, or start the booking saga; redirect polls (a turn reading the saga's progress, which waits
up to 1.5 s for it on purpose); and status callbacks. Every run
checks that each call ended booked and no turn came near Twilio's 15 s. Figures go in
docs/PERFORMANCE.md with the command and the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
CHICAGO = ZoneInfo("America/Chicago")
TWILIO_LIMIT_SECONDS = 15.0
NEEDS = ["my kitchen sink is leaking", "the shower drain is really slow", "my toilet keeps running",
         "we have a clogged drain in the basement", "the bathroom faucet is dripping"]
ADDRESSES = [("2400 north lincoln avenue", "60614"), ("1500 west division street", "60622"),
             ("3100 north broadway", "60657"), ("900 west belmont avenue", "60657")]
NAMES = ["maria gonzalez", "jordan lee", "sam okafor", "alex kim", "robin park", "lee wong", "ana lopez",
         "pat quinn", "kim lee", "terry mills"]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def summary(seconds: list[float]) -> dict:
    ms = [value * 1000 for value in seconds]
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "p50_ms": statistics.median(ms), "p95_ms": percentile(ms, 0.95), "max_ms": max(ms)}


def ordinal(day: int) -> str:
    return f"{day}th" if 10 <= day % 100 <= 20 else f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def wishes(calls: int) -> list[str]:
    """A weekday and part of day per caller, spread over the next weeks (``December 8th in the morning``)."""
    today = datetime.now(timezone.utc).astimezone(CHICAGO).date()
    days = [today + timedelta(days=n) for n in range(3, 40) if (today + timedelta(days=n)).weekday() < 5]
    found = []
    for index in range(calls):
        day = days[(index // 2) % len(days)]
        part = ("morning", "afternoon")[index % 2]
        found.append(f"{day.strftime('%B')} {ordinal(day.day)} in the {part}")
    return found


def persona(index: int, wish: str):
    """Caller ``index``: one of a few needs, addresses and names, wanting ``wish``."""
    from dev.phone import Persona
    address, postal_code = ADDRESSES[index % len(ADDRESSES)]
    return Persona(need=NEEDS[index % len(NEEDS)], address=address, postal_code=postal_code,
                   name=NAMES[index % len(NAMES)], when=wish, number=f"+1312555{1000 + index:04d}")


async def one_call(phone, index: int, wish: str, think: float) -> dict:
    from dev.phone import call_as
    pauses = random.Random(index)
    if think:
        await asyncio.sleep(index * think / 4)  # callers ring one after another, not all in the same instant
    call = await call_as(phone, persona(index, wish),
                         think=(lambda: pauses.uniform(0.5, 1.5) * think) if think else None)
    return {"call": call, "booked": any(line.startswith("You're all set") for line in call.said),
            "lost": sum("that time was just taken" in line for line in call.said)}


async def settle(stack, calls) -> None:
    """Wait for every booking saga the calls started (their notifications run after the call ends)."""
    from shared.services.container import get_services
    from shared.services.voice import CallRecord
    from shared.services.voice.actions import booking_id_of
    for call in calls:
        stored = await get_services().calls.get(call.sid)
        attempts = CallRecord.model_validate(stored.value).dialog.attempts if stored else 0
        for attempt in range(1, attempts + 1):
            await stack.host.wait_for_instance_async(booking_id_of(f"{call.sid}/{attempt}"), timeout=60)
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()


GROUPS = ("greeting", "turn: next question", "turn: finds times", "turn: starts a hold", "redirect poll",
          "status", "all speech turns", "all")


def classify(exchange) -> str:
    """What a webhook did: the greeting, a speech turn (by what it had to do), a redirect poll, a status callback."""
    if exchange.path.endswith("/voice/incoming"):
        return "greeting"
    if exchange.path.endswith("/voice/status"):
        return "status"
    if "SpeechResult" not in exchange.params:
        return "redirect poll"
    if "hold that time for you" in exchange.body:
        return "turn: starts a hold"  # starts the booking saga
    if "I have " in exchange.body or "The closest I have" in exchange.body or "The earliest I can" in exchange.body:
        return "turn: finds times"  # reads live availability (Graph free/busy, claims, bookings)
    return "turn: next question"


async def run_calls(stack, calls: int, think: float = 0.0) -> dict:
    from dev.phone import Phone
    started = time.perf_counter()
    async with Phone(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"],
                     public_base_url=stack.env["PUBLIC_BASE_URL"], timeout=60) as phone:
        results = await asyncio.gather(*(one_call(phone, i, wish, think) for i, wish in enumerate(wishes(calls))))
    wall = time.perf_counter() - started
    await settle(stack, [result["call"] for result in results])
    groups: dict[str, list[float]] = {}
    for result in results:
        for exchange in result["call"].exchanges:
            assert exchange.status in (200, 204), (exchange.path, exchange.status, exchange.body[:200])
            groups.setdefault(classify(exchange), []).append(exchange.seconds)
    for result in results:
        if not result["booked"]:
            print("a call that did not end booked:\n" + result["call"].text, file=sys.stderr)
    every = [seconds for values in groups.values() for seconds in values]
    groups["all speech turns"] = [seconds for name, values in groups.items() if name.startswith("turn:")
                                  for seconds in values]
    return {"calls": calls, "booked": sum(r["booked"] for r in results), "times_lost_to_another_caller":
            sum(r["lost"] for r in results), "wall_s": wall, "webhooks": len(every), "all": summary(every),
            **{name: summary(values) for name, values in sorted(groups.items())}}


def wipe(stack) -> None:
    """Forget the last run's bookings: Outlook events, CRM rows, outboxes and Frontdesk's own table rows."""
    from azure.data.tables import TableServiceClient

    from shared.config import load_business_config
    config = load_business_config(str(stack.business_config_path))
    for host in config.hosts:
        for event in stack.graph.events(host.mailbox):
            stack.graph.delete_event(host.mailbox, event["id"])
    stack.graph.clear_outbox()
    stack.acs.reset()
    with stack.dataverse.state.lock:
        stack.dataverse.state.tables["appointments"].clear()
    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    try:
        for table in service.list_tables():
            if table.name.startswith(stack.table_prefix):
                client = service.get_table_client(table.name)
                for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
                    client.delete_entity(entity["PartitionKey"], entity["RowKey"])
    finally:
        service.close()


def use_model(stack, latency: float | None, budget: float = 2.0) -> None:
    """Point the running receptionist at the OpenAI emulator (``latency`` s per answer), or back to the parser."""
    from pydantic import SecretStr

    from shared.adapters.language import OpenAILanguage
    from shared.config import OpenAISettings
    from shared.services.availability import get_availability_service
    from shared.services.voice import get_voice_service
    service = get_voice_service()
    get_availability_service(service.services).cache.clear()
    stack.openai.reset()
    if latency is None:
        service.language = None
        return
    settings = service.settings.model_copy(update={"openai": OpenAISettings(
        kind="openai", endpoint=stack.openai.openai_base_url, api_key=SecretStr("sk-bench"), timeout_seconds=5.0)})
    service.language = OpenAILanguage(settings)
    service.options = service.options.model_copy(update={"model_budget_seconds": budget})
    stack.openai.add_fault(latency=latency, times=100_000)


def report(name: str, figures: dict) -> None:
    print(f"{name}: {figures['calls']} calls at once (answering after ~{figures['think_s']:g} s), "
          f"{figures['booked']} booked "
          f"({figures['times_lost_to_another_caller']} times lost to another caller and re-offered), "
          f"{figures['webhooks']} webhooks in {figures['wall_s']:.1f} s")
    for group in GROUPS:
        stats = figures.get(group) or {}
        if stats.get("n"):
            print(f"  {group:<21} n={stats['n']:<4} p50 {stats['p50_ms']:7.1f} ms  p95 {stats['p95_ms']:7.1f} ms  "
                  f"max {stats['max_ms']:7.1f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.voice", description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="simultaneous calls per run (default 20)")
    parser.add_argument("--quick", action="store_true", help="5 calls per run, quick answers (a smoke test)")
    parser.add_argument("--think", type=float, default=2.0,
                        help="seconds a caller takes to answer, on average (default 2; the burst run uses 0)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args, _ = parser.parse_known_args(argv)
    calls = 5 if args.quick else args.calls
    if args.quick:
        args.think = min(args.think, 0.5)
    sys.path.insert(0, str(ROOT))
    from dev.stack import LocalStack
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    figures: dict = {}
    with LocalStack(table_prefix="bench" + uuid.uuid4().hex[:8], extra_env={"LOG_LEVEL": "ERROR"}) as stack:
        asyncio.run(run_calls(stack, 1))  # warm-up: msgraph-sdk's first deserialisation, SDK sessions
        wipe(stack)
        runs = (("local parser", None, args.think), ("local parser, no pauses (burst)", None, 0.0),
                ("model +300 ms", 0.3, args.think), ("model 5 s (budget 2 s)", 5.0, args.think))
        for name, latency, think in runs:
            use_model(stack, latency)
            figures[name] = {**asyncio.run(run_calls(stack, calls, think)), "think_s": think}
            report(name, figures[name])
            wipe(stack)
        use_model(stack, None)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    slowest = max(run["all"]["max_ms"] for run in figures.values()) / 1000
    unbooked = sum(run["calls"] - run["booked"] for run in figures.values())
    print(f"slowest webhook: {slowest:.2f} s (Twilio gives up at {TWILIO_LIMIT_SECONDS:.0f} s); calls not booked: "
          f"{unbooked}")
    return 0 if slowest < TWILIO_LIMIT_SECONDS / 3 and unbooked == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
