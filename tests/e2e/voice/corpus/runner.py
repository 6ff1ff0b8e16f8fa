"""Plays the outsider corpus against a running local stack and judges every call by what it left behind.

Each call rings the receptionist through signed Twilio webhooks (:class:`dev.phone.Phone`) from its own
number, with a :class:`caller.Caller` answering, several calls at a time. When all calls are over and
their sagas settled, the effects are read where a person would see them -- bookings (the booking store,
keyed by the call's holds), Outlook events, texts, the office's message e-mails, the transfer -- and each
call is judged twice:

- its expected outcome (``expect`` in ``calls.yaml``): booked with an accepted service at a time that
  meets the caller's constraints and is the time the caller finally chose; a message; a transfer...
- the hard invariants, which must hold on every call: no repeat booking, no question asked a third time
  in the same words, the call ends with an outcome, no hold left behind.

Used by ``tests/e2e/voice/test_outsider_corpus.py`` and ``bench/corpus.py``.
"""

from __future__ import annotations

import asyncio
import json
import re
import time as monotonic_time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml

from .caller import MAX_TURNS, Caller
from .timing import CHICAGO, DAYS, violations

CORPUS = Path(__file__).with_name("calls.yaml")
MAX_HOLDS_PER_CALL = 12
BATCH = 45  # calls played on one calendar before the stack is reset  # hold keys <CallSid>/1..N looked up per call
# Fixed local times the corpus runs at (weekday, wall clock in the business's zone).
TIMES = {"midday": ("wed", "12:00"), "before opening": ("tue", "06:30"), "evening": ("thu", "19:30"),
         "weekend": ("sat", "10:00")}


def load_corpus(path: Path = CORPUS) -> dict:
    """The corpus file: ``threshold`` and ``calls`` (ids and names unique)."""
    corpus = yaml.safe_load(path.read_text(encoding="utf-8"))
    ids = Counter(entry["id"] for entry in corpus["calls"])
    names = Counter(entry["facts"]["name"].lower() for entry in corpus["calls"])
    duplicates = [key for key, count in (ids + names).items() if count > 1]
    if duplicates:
        raise ValueError(f"corpus ids and caller names must be unique: {duplicates}")
    return corpus


def sample(calls: list[dict], part: int, parts: int = 4) -> list[dict]:
    """Every ``parts``-th call starting at ``part``: a subset that spans every category."""
    return [entry for index, entry in enumerate(calls) if index % parts == part]


def hash_of(text: str) -> int:
    """A stable hash (Python's own changes per process)."""
    import zlib
    return zlib.crc32(text.encode())


def caller_number(index: int) -> str:
    """A distinct caller id per call (the corpus's own callback numbers live elsewhere in 555)."""
    return f"+1312555{2000 + index:04d}"


# ---------------------------------------------------------------- the clock

def set_local_time(stack, weekday: str, wall: str) -> datetime:
    """Put the stack's clock (which the whole app reads) on the next ``weekday`` at ``wall`` in the business's
    zone, after the real now; time flows on from there."""
    now = datetime.now(timezone.utc).astimezone(CHICAGO)
    hour, minute = (int(part) for part in wall.split(":"))
    for ahead in range(0, 15):
        day = (now + timedelta(days=ahead)).date()
        target = datetime(day.year, day.month, day.day, hour, minute, tzinfo=CHICAGO)
        if target > now + timedelta(minutes=5) and DAYS[target.weekday()] == weekday:
            return stack.host.clock.travel_to(target)
    raise AssertionError(f"no {weekday} {wall} in the next two weeks")


# ---------------------------------------------------------------- playing calls

@dataclass
class Result:
    """One call: what was said, what it left behind, and the verdicts."""

    entry: dict
    number: str | None
    now: datetime
    call: object = None
    caller: Caller | None = None
    seconds: float = 0.0
    error: str | None = None
    hit_turn_limit: bool = False
    bookings: list = field(default_factory=list)  # confirmed Booking models of this call
    events: int = 0  # Frontdesk events in Outlook attributed to this call
    messages: list[dict] = field(default_factory=list)  # office e-mails of messages taken
    texts: list[dict] = field(default_factory=list)
    record_outcome: str | None = None
    holds_left: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # expected outcome not reached
    broken: list[str] = field(default_factory=list)  # hard invariants broken

    @property
    def id(self) -> str:
        return self.entry["id"]

    @property
    def category(self) -> str:
        return self.entry["category"]

    @property
    def passed(self) -> bool:
        return not self.failures and not self.broken

    def transcript(self) -> str:
        return self.call.text if self.call is not None else ""


async def play(phone, entry: dict, number: str | None, now: datetime) -> Result:
    """Ring as the corpus caller ``entry`` and talk until the receptionist ends the call or turns run out."""
    result = Result(entry, number, now)
    caller = Caller(entry, now=now)
    result.caller = caller
    started = monotonic_time.perf_counter()
    try:
        call = await phone.call(number)
        result.call = call
        heard_upto = len(call.transcript)
        turns = 0
        while call.listening and turns < MAX_TURNS:
            turn = [text for who, text in call.transcript[heard_upto:] if who == "receptionist"]
            answer = caller.opening() if turns == 0 else caller.reply(turn)
            heard_upto = len(call.transcript)
            if answer is None:
                await call.silence()
            else:
                await call.say(answer)
            turns += 1
        result.hit_turn_limit = call.listening
        if call.state == "transferred":
            await call.transfer_ends("completed")
        await call.hang_up()
    except Exception as exc:  # a broken webhook is a failed call, not a crashed run
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = monotonic_time.perf_counter() - started
    return result


async def run_corpus(stack, phone, entries: list[dict], *, at: tuple[str, str], batch: int = BATCH,
                     concurrency: int = 8, offset: int = 0) -> list[Result]:
    """Play ``entries`` at the local time ``at`` (weekday, wall clock) in batches of ``batch`` calls.

    Between batches the stack is reset (empty calendars and tables) and the clock put back on that local
    time: each batch finds the calendars as a small business's are on a normal day, with room for every
    caller. ``batch=0`` plays everything on one calendar (it fills up; see docs/PERFORMANCE.md).
    """
    size = batch or len(entries)
    results: list[Result] = []
    for start in range(0, len(entries), size):
        if start:
            await asyncio.to_thread(stack.reset)
        set_local_time(stack, *at)
        results += await run_calls(stack, phone, entries[start:start + size], concurrency=concurrency,
                                   offset=offset + start)
    return results


async def run_calls(stack, phone, entries: list[dict], *, concurrency: int = 8, offset: int = 0) -> list[Result]:
    """Play ``entries`` (``concurrency`` at a time), settle their sagas, read their effects, judge them."""
    gate = asyncio.Semaphore(concurrency)

    async def one(index: int, entry: dict) -> Result:
        async with gate:
            number = None if entry["facts"].get("withheld") else caller_number(offset + index)
            return await play(phone, entry, number, stack.host.clock.now())

    # Play in a fixed shuffled order: calls of one category are not all on the line together, nor all last.
    order = sorted(range(len(entries)), key=lambda index: hash_of(entries[index]["id"]))
    played = await asyncio.gather(*(one(index, entries[index]) for index in order))
    by_id = {result.id: result for result in played}
    results = [by_id[entry["id"]] for entry in entries]
    await settle(stack, results)
    await read_effects(stack, results)
    for result in results:
        judge(result)
    return list(results)


# ---------------------------------------------------------------- what the calls left behind

def _services():
    from shared.services.container import get_services
    return get_services()


def hold_ids(result: Result) -> list[str]:
    from shared.services.voice.actions import booking_id_of
    if result.call is None:
        return []
    return [booking_id_of(f"{result.call.sid}/{n}") for n in range(1, MAX_HOLDS_PER_CALL + 1)]


async def settle(stack, results: list[Result], timeout: float = 40.0) -> None:
    """Wait until every saga the calls started has finished, and their holds are gone (or the deadline)."""
    store = _services().bookings
    pending = []
    for result in results:
        for booking_id in hold_ids(result):
            stored = await store.get(booking_id)
            if stored is not None:
                pending.append(booking_id)
    deadline = asyncio.get_running_loop().time() + timeout
    for booking_id in pending:
        remaining = max(0.5, deadline - asyncio.get_running_loop().time())
        try:
            await stack.host.wait_for_instance_async(booking_id, timeout=remaining)
        except Exception:  # a saga that never ends shows up as a hold left behind
            pass
    while asyncio.get_running_loop().time() < deadline:
        if not await asyncio.to_thread(live_holds, stack) and not tentative_events(stack):
            return
        await asyncio.sleep(0.25)


def live_holds(stack) -> dict[str, int]:
    """Claim rows still held (not booked), by holder (the booking id): what a finished call must not leave."""
    from azure.data.tables import TableServiceClient
    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    try:
        table = service.get_table_client(f"{stack.table_prefix}claims")
        held: dict[str, int] = defaultdict(int)
        try:
            for row in table.query_entities("Kind eq 'hold'", select=["Holder"]):
                held[row["Holder"]] += 1
        except Exception as exc:  # no claims table yet: nothing held
            if "TableNotFound" not in str(exc) and "not exist" not in str(exc).lower():
                raise
        return dict(held)
    finally:
        service.close()


def mailboxes(stack) -> list[str]:
    from shared.config import load_business_config
    config = load_business_config(str(stack.business_config_path))
    return [host.mailbox for host in config.hosts]


def tentative_events(stack) -> list[dict]:
    return [event for mailbox in mailboxes(stack) for event in stack.graph.events(mailbox)
            if event.get("transactionId") and event.get("showAs") == "tentative" and not event.get("isCancelled")]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def _plain(mail: dict) -> str:
    body = mail.get("body", {})
    content = body.get("content", "") if isinstance(body, dict) else str(body)
    return re.sub(r"<[^>]+>", " ", mail.get("subject", "") + " " + content)


async def read_effects(stack, results: list[Result]) -> None:
    """Attribute bookings, events, messages, texts and left-over holds to the calls that made them."""
    store = _services().bookings
    events = [event for mailbox in mailboxes(stack) for event in stack.graph.events(mailbox)
              if event.get("transactionId") and not event.get("isCancelled")]
    mails = [mail for mail in stack.graph.outbox() if not mail.get("subject", "").startswith(("New booking",
                                                                                             "Booking"))]
    texts = stack.acs.outbox()
    holds = await asyncio.to_thread(live_holds, stack)
    for result in results:
        if result.call is None:
            continue
        sid = result.call.sid
        for booking_id in hold_ids(result):
            stored = await store.get(booking_id)
            if stored is not None and str(getattr(stored.value, "status", "")) in ("confirmed",
                                                                                   "BookingStatus.CONFIRMED"):
                result.bookings.append(stored.value)
            if booking_id in holds:
                result.holds_left.append(booking_id)
        result.holds_left += [f"tentative event {event.get('subject')}" for event in events
                              if event.get("showAs") == "tentative" and sid in json.dumps(event.get("body", {}))]
        result.events = sum(1 for event in events if event.get("showAs") != "tentative"
                            and sid in json.dumps(event.get("body", {})))
        numbers = {_digits(result.number)[-10:]} if result.number else set()
        if result.entry["facts"].get("callback"):
            numbers.add(_digits(result.entry["facts"]["callback"])[-10:])
        name = result.entry["facts"]["name"].lower()
        for mail in mails:
            text = _plain(mail)
            if sid in text or any(number and number in _digits(text) for number in numbers) or name in text.lower():
                result.messages.append(mail)
        result.texts = [text for text in texts if _digits(text.get("to", ""))[-10:] in numbers]
        stored = await _services().calls.get(sid)
        if stored is not None:
            dialog = (stored.value or {}).get("dialog") or {}
            result.record_outcome = dialog.get("outcome") if isinstance(dialog, dict) else None


# ---------------------------------------------------------------- judging

def judge(result: Result) -> None:
    """Fill ``failures`` (expected outcome) and ``broken`` (hard invariants)."""
    entry, expect = result.entry, result.entry.get("expect", {})
    outcome = expect.get("outcome", "booked")
    call = result.call
    if result.error:
        result.broken.append(f"call error: {result.error}")
    if call is None:
        return
    booked = max(len(result.bookings), result.events)
    # A repeat is a booking beyond the first, or beyond those the caller asked for; one booking where none
    # was wanted is a wrong outcome (judged below), not a repeat.
    allowed = max(1, expect.get("bookings_max", expect.get("bookings", 1)))
    if booked > allowed:
        result.broken.append(f"repeat booking: {booked} bookings, at most {allowed} asked for")
    questions = Counter(line for line in call.said if "?" in line)
    for line, count in questions.items():
        if count > 2:
            result.broken.append(f"asked {count} times: {line!r}")
    transferred = call.transferred_to is not None
    if result.hit_turn_limit:
        result.broken.append(f"no outcome: still talking after {MAX_TURNS} caller turns")
    elif not (booked or result.messages or transferred or result.record_outcome):
        result.broken.append("no outcome: the call ended with no booking, message, transfer or recorded outcome")
    if result.holds_left:
        result.broken.append(f"holds left behind: {result.holds_left}")

    fail = result.failures.append
    said = " ".join(call.said).lower()
    if outcome == "booked":
        _judge_booked(result, expect, fail)
    elif outcome in ("not_offered", "message_or_decline"):
        if booked:
            fail(f"booked {booked} though the business can't serve this call")
        if not (result.messages or "don't" in said or "do not" in said or "not something" in said):
            fail("neither said it can't help nor took a message")
    elif outcome == "message":
        if booked or not result.messages:
            fail(f"expected a message and no booking (bookings {booked}, messages {len(result.messages)})")
    elif outcome == "person":
        if booked:
            fail("booked a caller who asked for a person")
        if not (transferred or result.messages):
            fail("asked for a person: neither transferred nor took a message")
    elif outcome in ("emergency", "emergency_or_booked"):
        services = {booking.event_type_key for booking in result.bookings}
        urgent = any(mail.get("subject", "").startswith("URGENT") or mail.get("importance") == "high"
                     for mail in result.messages)
        if outcome == "emergency_or_booked" and services & set(expect.get("service", [])):
            pass
        elif not (services & {"emergency-leak"} or transferred or urgent):
            fail(f"emergency not handled as one (bookings {sorted(services)}, transferred {transferred}, "
                 f"messages {[mail.get('subject') for mail in result.messages]})")
        if expect.get("safety") and not any(word in said for word in ("leave", "911", "gas company")):
            fail("gas smell without safety advice")
        for booking in result.bookings:
            broken = violations(booking.start, entry.get("timing"), result.now)
            if broken:
                fail(f"booked emergency at {booking.start.astimezone(CHICAGO):%a %d %H:%M}: {broken}")


def _judge_booked(result: Result, expect: dict, fail) -> None:
    entry = result.entry
    wanted = expect.get("bookings", 1)
    if len(result.bookings) < wanted:
        reasons = sorted({mail.get("subject", "").split(" - ", 1)[-1] for mail in result.messages})
        fail(f"{'message' if reasons else 'no booking'} instead of booking {len(result.bookings) + 1}"
             + (f" ({'; '.join(reasons)})" if reasons else ""))
    jobs = [(expect.get("service", []), entry.get("timing")),
            (expect.get("also_service", []), (entry.get("also") or {}).get("timing"))]
    ordered = sorted(result.bookings, key=lambda booking: booking.created_at)
    chosen = result.caller.heard.chosen if result.caller else []
    for index, booking in enumerate(ordered[:2]):
        services, timing = jobs[min(index, 1)]
        if services and booking.event_type_key not in services:
            fail(f"booked {booking.event_type_key}, expected one of {services}")
        broken = violations(booking.start, timing, result.now)
        if broken and not entry.get("flexible"):
            fail(f"booked {booking.start.astimezone(CHICAGO):%a %b %d %H:%M}: {broken}")
        elif broken and violations(booking.start, entry.get("fallback"), result.now):
            fail(f"booked {booking.start.astimezone(CHICAGO):%a %b %d %H:%M}, not even the fallback")
    if ordered and chosen:
        finals = {offer.start for offer in chosen}
        if not any(booking.start in finals for booking in ordered):
            fail(f"booked {ordered[0].start.astimezone(CHICAGO):%a %H:%M}, not the time the caller chose "
                 f"({', '.join(f'{offer.start:%a %H:%M}' for offer in chosen)})")
    facts = entry["facts"]
    for booking in ordered[:1]:
        customer = booking.customer
        if customer.name.lower() != facts["name"].lower():
            fail(f"booked for {customer.name!r}, the caller is {facts['name']!r}")
        if facts.get("callback") and customer.phone != facts["callback"]:
            fail(f"booked with phone {customer.phone}, the caller asked for {facts['callback']}")
        if facts.get("email") and (customer.email or "").lower() != facts["email"].lower():
            fail(f"booked with e-mail {customer.email!r}, the caller said {facts['email']!r}")
        if booking.event_type_key not in ("estimate-call", "teams-consult", "equipment-dropoff"):
            if facts.get("zip") and (customer.postal_code or "") != facts["zip"]:
                fail(f"booked at ZIP {customer.postal_code}, the caller is in {facts['zip']}")
            if facts.get("house") and facts["house"] not in (customer.address or ""):
                fail(f"booked at {customer.address!r}, the caller's house number is {facts['house']}")
    if ordered and facts.get("callback") and not any(text.get("to") == facts["callback"] for text in result.texts):
        fail(f"no confirmation text to the number the caller gave ({facts['callback'][-4:]})")


# ---------------------------------------------------------------- reporting

def summarize(results: list[Result], *, label: str = "") -> dict:
    """Pass rates by category, invariant counts and failure kinds."""
    by_category: dict[str, list[Result]] = defaultdict(list)
    for result in results:
        by_category[result.category].append(result)
    categories = {name: {"calls": len(group), "passed": sum(result.passed for result in group),
                         "rate": round(sum(result.passed for result in group) / len(group), 3)}
                  for name, group in sorted(by_category.items())}
    kinds = Counter(_kind(problem) for result in results for problem in result.failures + result.broken)
    invariants = Counter(_kind(problem) for result in results for problem in result.broken)
    passed = sum(result.passed for result in results)
    seconds = sorted(result.seconds for result in results)
    return {
        "label": label,
        "calls": len(results),
        "passed": passed,
        "rate": round(passed / len(results), 3) if results else 0.0,
        "invariants_broken": sum(1 for result in results if result.broken),
        "invariant_kinds": dict(invariants.most_common()),
        "categories": categories,
        "failure_kinds": dict(kinds.most_common()),
        "call_seconds_p50": round(seconds[len(seconds) // 2], 2) if seconds else 0.0,
        "failed": [{"id": result.id, "category": result.category, "problems": result.failures + result.broken,
                    "transcript": result.transcript()} for result in results if not result.passed],
    }


def _kind(problem: str) -> str:
    """A failure's kind: its text up to the first detail (a message's reason is its kind)."""
    if problem.startswith("message instead of booking"):
        return re.sub(r"booking \d+", "booking", problem)
    for separator in (":", " (", ","):
        problem = problem.split(separator)[0]
    return re.sub(r"\d+", "N", problem).strip()


def table(summary: dict) -> str:
    """The pass rate by category as a Markdown table."""
    lines = [f"{summary['label']}: {summary['passed']}/{summary['calls']} calls passed ({summary['rate']:.0%}); "
             f"hard invariants broken on {summary['invariants_broken']} calls",
             "", "| category | calls | passed | rate |", "|---|---:|---:|---:|"]
    for name, row in summary["categories"].items():
        lines.append(f"| {name} | {row['calls']} | {row['passed']} | {row['rate']:.0%} |")
    lines += ["", "Most common problems:"]
    lines += [f"  {count:4d}  {kind}" for kind, count in list(summary["failure_kinds"].items())[:12]]
    return "\n".join(lines)


def write_report(path: Path, summaries: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summaries, indent=1, default=str), encoding="utf-8")
