"""Live availability: which times the API, the widget and the receptionist may offer, right now.

:class:`AvailabilityService` feeds the pure slot engine (``shared.domain.availability.find_slots``)
with what is true at this moment for the hosts of an event type's pool:

- **Outlook busy times** through ``services.calendar.get_busy`` (one getSchedule request for up to 20
  mailboxes). These may come from a short per-process cache (``busy_cache_seconds``, default 10 s):
  windows are widened to whole UTC days so nearby queries share one entry, and concurrent queries for
  the same entry share one Graph request. A cached answer can only be stale about *other people's*
  Outlook changes, for at most those seconds.
- **Frontdesk's own holds and bookings** as claims (``services.claims.list_claims``), ALWAYS read live,
  never cached: a slot Frontdesk itself just claimed is never offered again, whatever the cache holds.
- **Bookings** of the claims' holders (a point read each) for the daily limits: a claim does not know
  its event type, its booking does. Read live over whole local days around the window.

It also answers the structural questions the booking API asks before starting a saga
(:meth:`AvailabilityService.check_request_time`: in the past? beyond the maximum advance? not a start
time at all?) from the configuration alone, and finds the alternatives a 409 offers
(:meth:`AvailabilityService.alternatives`).

Usage::

    service = get_availability_service()
    result = await service.slots("plumbing-repair", start, end, context=RoutingContext(postal_code="60614"))
    result.slots            # [Slot(start, end, host_ids)], aware UTC
    await service.alternatives("plumbing-repair", near=start, count=5)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from shared import clock
from shared.domain.availability import Claim, Slot, check_slot, find_slots
from shared.domain.business import BusinessConfig, EventType, Host
from shared.domain.booking import Booking
from shared.domain.claims import granule_span
from shared.domain.routing import RoutingContext, pool_hosts
from shared.domain.timezones import to_utc
from shared.logs import get_logger
from shared.ports import BusyBlock, ClaimedInterval

log = get_logger(__name__)
UTC = timezone.utc
DAY = timedelta(days=1)

DEFAULT_BUSY_CACHE_SECONDS = 10.0
MAX_WINDOW = timedelta(days=62)  # one getSchedule window; longer availability queries are refused upstream
ALTERNATIVES_SEARCH = (timedelta(days=3), timedelta(days=14))  # look this far after the requested time

TimeVerdict = Literal["ok", "past", "beyond_advance", "not_a_start_time", "too_soon", "time_off"]


class UnknownEventType(LookupError):
    """No event type with this key is configured."""


class UnknownHost(LookupError):
    """No host with this id may take this event type."""


@dataclass(frozen=True, slots=True)
class AvailabilityResult:
    """The offered slots of one query and the hosts that were considered."""

    event_type: EventType
    hosts: tuple[Host, ...]
    start: datetime
    end: datetime
    slots: list[Slot]


class BusyCache:
    """A short-lived, per-process cache of Graph busy blocks, keyed by mailboxes and a day-aligned window.

    Entries live ``ttl`` seconds. A query for a key that is being fetched waits for that fetch instead
    of asking Graph again (futures are per event loop, so a key is shared only within one loop).
    Thread-safe: the Functions worker may run triggers on several threads.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 256):
        self.ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[tuple, tuple[float, dict[str, list[BusyBlock]]]] = {}
        self._pending: dict[tuple, asyncio.Future] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # how many times Graph was actually asked (the benchmark reports it)

    async def get(self, key: tuple, fetch: Callable[[], Any]) -> dict[str, list[BusyBlock]]:
        if self.ttl <= 0:
            self.fetches += 1
            return await fetch()
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                return entry[1]
            pending_key = (id(loop),) + key
            pending = self._pending.get(pending_key)
            owner = pending is None
            if owner:
                pending = self._pending[pending_key] = loop.create_future()
        if not owner:
            return await asyncio.shield(pending)
        try:
            self.fetches += 1
            value = await fetch()
        except BaseException as exc:
            with self._lock:
                self._pending.pop(pending_key, None)
            if not pending.done():
                pending.set_exception(exc if isinstance(exc, Exception) else RuntimeError("cancelled"))
                pending.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        with self._lock:
            self._pending.pop(pending_key, None)
            if len(self._entries) >= self._max_entries:
                self._evict()
            self._entries[key] = (self._clock() + self.ttl, value)
        pending.set_result(value)
        return value

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now] or list(self._entries)[:1]:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class AvailabilityService:
    """Offered slots from live Outlook busy times, live claims and bookings (see the module docstring)."""

    def __init__(self, services, *, busy_cache_seconds: float = DEFAULT_BUSY_CACHE_SECONDS,
                 now: Callable[[], datetime] | None = None):
        self.services = services
        self.cache = BusyCache(busy_cache_seconds)
        self._now = now or clock.now

    @property
    def config(self) -> BusinessConfig:
        return self.services.business

    # ------------------------------------------------------------ which hosts

    def event_type(self, key: str) -> EventType:
        try:
            return self.config.event_type(key)
        except KeyError:
            raise UnknownEventType(key) from None

    def hosts_for(self, event_type: EventType, host_id: str | None = None,
                  context: RoutingContext | None = None) -> tuple[Host, ...]:
        """The hosts an availability query considers: one named host, else the routing pool for the context."""
        eligible = self.config.eligible_hosts(event_type)
        if host_id is not None:
            chosen = tuple(host for host in eligible if host.id == host_id)
            if not chosen:
                raise UnknownHost(host_id)
            return chosen
        pool = pool_hosts(self.config, event_type, context)
        return pool or eligible

    # ------------------------------------------------------------ queries

    async def slots(self, event_type: EventType | str, start: datetime, end: datetime, *,
                    host_id: str | None = None, context: RoutingContext | None = None,
                    now: datetime | None = None, exclude_booking_id: str | None = None) -> AvailabilityResult:
        """Every offered start in ``[start, end)`` with the hosts free for it.

        ``exclude_booking_id`` leaves out one booking's own claims and Outlook event (a reschedule must
        not be blocked by the time it is moving away from).
        """
        if isinstance(event_type, str):
            event_type = self.event_type(event_type)
        start, end = to_utc(start), to_utc(end)
        now = to_utc(now) if now else self._now()
        hosts = self.hosts_for(event_type, host_id, context)
        # Nothing can be offered before now + notice or after now + advance: do not read beyond that.
        lo = max(start, now + event_type.minimum_notice)
        hi = min(end, now + event_type.maximum_advance)
        if not hosts or hi <= lo:
            return AvailabilityResult(event_type, hosts, start, end, [])
        busy, claims = await asyncio.gather(self.busy_by_host(hosts, lo, hi, event_type),
                                            self.claims_by_host(hosts, lo, hi, event_type, now=now))
        if exclude_booking_id:
            busy, claims = await self._without_booking(exclude_booking_id, busy, claims)
        slots = find_slots(event_type, hosts, busy, claims, lo, hi, now,
                           blocking_show_as=self.config.blocking_show_as,
                           granule_minutes=self.config.claim_granule_minutes)
        return AvailabilityResult(event_type, hosts, start, end, slots)

    async def alternatives(self, event_type: EventType | str, near: datetime, *, count: int = 5,
                           host_id: str | None = None, context: RoutingContext | None = None,
                           now: datetime | None = None, exclude_booking_id: str | None = None) -> list[Slot]:
        """The ``count`` offered slots closest to ``near`` (earlier ones the same day count too), by time.

        Searches the requested day and the next few days first, then two weeks; an empty list when
        nothing is free that soon.
        """
        if isinstance(event_type, str):
            event_type = self.event_type(event_type)
        near = to_utc(near)
        now = to_utc(now) if now else self._now()
        found: list[Slot] = []
        for ahead in ALTERNATIVES_SEARCH:
            start = max(near - DAY / 2, now)
            result = await self.slots(event_type, start, max(near, now) + ahead, host_id=host_id, context=context,
                                      now=now, exclude_booking_id=exclude_booking_id)
            found = result.slots
            if len(found) >= count:
                break
        closest = sorted(found, key=lambda slot: (abs((slot.start - near).total_seconds()), slot.start))[:count]
        return sorted(closest, key=lambda slot: slot.start)

    def check_request_time(self, event_type: EventType, start: datetime, *, host_id: str | None = None,
                           context: RoutingContext | None = None, now: datetime | None = None) -> TimeVerdict:
        """Could ``start`` ever be offered, judging by the configuration alone (no I/O)?

        ``past`` / ``beyond_advance`` / ``not_a_start_time`` are structural (no retry helps: the API
        answers 422); ``too_soon`` / ``time_off`` mean the time is a real start but not available now
        (the API answers 409 with alternatives); ``ok`` leaves the live check to the booking saga.
        """
        now = to_utc(now) if now else self._now()
        start = to_utc(start)
        if start <= now:
            return "past"
        hosts = self.hosts_for(event_type, host_id, context)
        reasons = {check_slot(event_type, host, start, now=now, blocking_show_as=self.config.blocking_show_as,
                              granule_minutes=self.config.claim_granule_minutes) for host in hosts}
        if None in reasons:
            return "ok"
        if "time_off" in reasons:
            return "time_off"
        if "notice" in reasons:
            # Too soon on every host; but is it even a start time? Ask again as if it were far enough ahead.
            later = start - event_type.minimum_notice - timedelta(minutes=1)
            if self.check_request_time(event_type, start, host_id=host_id, context=context, now=later) == "ok":
                return "too_soon"
            return "not_a_start_time"
        if reasons == {"advance"}:
            return "beyond_advance"
        return "not_a_start_time"

    # ------------------------------------------------------------ inputs of the engine

    async def busy_by_host(self, hosts: Sequence[Host], start: datetime, end: datetime,
                           event_type: EventType | None = None) -> dict[str, list[BusyBlock]]:
        """Outlook busy blocks per host id over ``[start, end)`` (padded by the buffers), maybe cached."""
        pad_before = event_type.buffer_before if event_type else timedelta(0)
        pad_after = event_type.buffer_after if event_type else timedelta(0)
        day_lo = _floor_day(start - event_type.duration - pad_after if event_type else start)
        day_hi = _ceil_day(end + pad_before + (event_type.duration if event_type else timedelta(0)))
        mailboxes = tuple(sorted({host.mailbox for host in hosts}))
        key = (mailboxes, day_lo, day_hi)
        calendar = self.services.calendar

        async def fetch():
            return await calendar.get_busy(list(mailboxes), day_lo, day_hi)

        by_mailbox = await self.cache.get(key, fetch)
        return {host.id: by_mailbox.get(host.mailbox, []) for host in hosts}

    async def claims_by_host(self, hosts: Sequence[Host], start: datetime, end: datetime,
                             event_type: EventType | None = None, *, now: datetime) -> dict[str, list[Any]]:
        """Live claims per host id as engine claims, each holder's booking standing in for its claim.

        Reads a day either side of the window, so the daily limits count every booking of those local
        days. Only the holders of live claims are read from the bookings table (a point read each):
        every held or confirmed booking holds claims, and ended ones -- however many lost a race for
        this time -- cost nothing.
        """
        reach = (event_type.duration + event_type.buffer_before + event_type.buffer_after) if event_type else DAY
        lo, hi = start - max(reach, DAY), end + max(reach, DAY)
        granule = timedelta(minutes=self.config.claim_granule_minutes)
        gate = asyncio.Semaphore(16)

        async def booking_of(holder_id: str) -> Booking | None:
            async with gate:
                stored = await self.services.bookings.get(holder_id)
            return stored.value if stored is not None and stored.value.is_active else None

        async def one(host: Host) -> tuple[str, list[Any]]:
            intervals = await self.services.claims.list_claims(host.id, lo, hi, now=now)
            holders = list(dict.fromkeys(interval.holder_id for interval in intervals))
            booked = [b for b in await asyncio.gather(*(booking_of(h) for h in holders)) if b is not None]
            return host.id, merge_claims(intervals, booked, granule)

        return dict(await asyncio.gather(*(one(host) for host in hosts)))

    async def _without_booking(self, booking_id: str, busy: dict[str, list[BusyBlock]],
                               claims: dict[str, list[Any]]):
        stored = await self.services.bookings.get(booking_id)
        own = stored.value if stored else None
        claims = {host_id: [c for c in items if _holder(c) != booking_id] for host_id, items in claims.items()}
        if own is not None and own.host_id in busy:
            # getSchedule has no event ids: the booking's own Outlook event is the block exactly at its time.
            busy = {**busy, own.host_id: [b for b in busy[own.host_id] if (b.start, b.end) != (own.start, own.end)]}
        return busy, claims


def merge_claims(intervals: Iterable[ClaimedInterval], bookings: Iterable[Booking],
                 granule: timedelta) -> list[Any]:
    """What the engine needs from one host's live claims and active bookings, each counted once.

    A claim whose holder is a known active booking whose granules it covers becomes that booking (so
    daily limits per event type count it); other claims (a hold whose booking row is not written
    yet, a move in progress) block as they are; a booking without claim rows in the window still
    counts, as it blocks its own time anyway.
    """
    by_id = {booking.id: booking for booking in bookings}
    runs: dict[str, list[ClaimedInterval]] = {}
    for interval in intervals:
        runs.setdefault(interval.holder_id, []).append(interval)
    merged: list[Any] = []
    for holder, held in runs.items():
        booking = by_id.pop(holder, None)
        covered: list[ClaimedInterval] = held
        if booking is not None:
            span = granule_span(booking.start, booking.end, booking.buffer_before, booking.buffer_after, granule)
            merged.append(booking)
            covered = [run for run in held if not (span[0] <= run.start and run.end <= span[1])]
        merged.extend(Claim(run.start, run.end, booking_id=holder) for run in covered)
    merged.extend(by_id.values())
    return merged


def _holder(claim: Any) -> str | None:
    return getattr(claim, "booking_id", None) or getattr(claim, "id", None)


def _floor_day(instant: datetime) -> datetime:
    return datetime(instant.year, instant.month, instant.day, tzinfo=UTC)


def _ceil_day(instant: datetime) -> datetime:
    floor = _floor_day(instant)
    return floor if floor == instant else floor + DAY


_service_lock = threading.Lock()
_service: dict[int, AvailabilityService] = {}


def get_availability_service(services=None) -> AvailabilityService:
    """The process's availability service for these services (built once: its cache must outlive requests)."""
    from shared.services.container import get_services
    services = services or get_services()
    with _service_lock:
        service = _service.get(id(services))
        if service is None or service.services is not services:
            service = _service[id(services)] = AvailabilityService(services,
                                                                   busy_cache_seconds=busy_cache_seconds(services))
        return service


def forget_cached_busy() -> None:
    """Drop every cached Outlook busy read of this process (a calendar is known to have changed)."""
    with _service_lock:
        services = list(_service.values())
    for service in services:
        service.cache.clear()


def busy_cache_seconds(services) -> float:
    """The configured busy-cache lifetime (``AVAILABILITY__BUSY_CACHE_SECONDS`` once settings carry it)."""
    group = getattr(services.settings, "availability", None)
    value = getattr(group, "busy_cache_seconds", None)
    return DEFAULT_BUSY_CACHE_SECONDS if value is None else float(value)
