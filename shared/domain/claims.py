"""Claim granules: how a hold or booking reserves time on a host, and who may take a granule.

A hold or booking claims its padded interval ``[start - buffer_before, end + buffer_after)`` as
fixed-size granules (5 minutes by default) aligned to multiples of the granule since the UTC epoch.
Storage keeps one row per claimed granule (partition = host, row = granule start), so two claims
conflict exactly when their granule sets share an element. Intervals that do not fall on the grid are
rounded outward, so overlapping intervals always share a granule; the price is that two unaligned
intervals that merely come close inside one granule also collide, which errs on the safe side.

Every host must be claimed with one granule size: rows of different sizes would not collide.
:func:`plan_claim` decides, for a claim attempt and the rows already there, which granules to create,
which to take over (someone's expired hold) or refresh (the holder's own), and which block the claim.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_GRANULE = timedelta(minutes=5)

ClaimKind = Literal["hold", "booking"]


def _check_granule(granule: timedelta) -> int:
    """The granule in whole microseconds; it must be positive."""
    micros = granule // timedelta(microseconds=1)
    if micros <= 0:
        raise ValueError(f"granule must be positive, got {granule}")
    return micros


def _check_aware(value: datetime, name: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value!r}")


def floor_to_granule(instant: datetime, granule: timedelta = DEFAULT_GRANULE) -> datetime:
    """The start of the granule containing ``instant`` (UTC)."""
    _check_aware(instant, "instant")
    micros = _check_granule(granule)
    offset = (instant - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=offset - offset % micros)


def ceil_to_granule(instant: datetime, granule: timedelta = DEFAULT_GRANULE) -> datetime:
    """The first granule boundary at or after ``instant`` (UTC)."""
    floor = floor_to_granule(instant, granule)
    return floor if floor == instant else floor + granule


def padded_interval(start: datetime, end: datetime, buffer_before: timedelta = timedelta(0),
                    buffer_after: timedelta = timedelta(0)) -> tuple[datetime, datetime]:
    """The stretch a hold or booking blocks: its own time plus the buffers either side."""
    _check_aware(start, "start")
    _check_aware(end, "end")
    if end <= start:
        raise ValueError(f"end {end.isoformat()} must be after start {start.isoformat()}")
    if buffer_before < timedelta(0) or buffer_after < timedelta(0):
        raise ValueError("buffers cannot be negative")
    return (start - buffer_before).astimezone(UTC), (end + buffer_after).astimezone(UTC)


def granules(start: datetime, end: datetime, buffer_before: timedelta = timedelta(0),
             buffer_after: timedelta = timedelta(0), granule: timedelta = DEFAULT_GRANULE) -> list[datetime]:
    """The granule starts (ascending, UTC) covering the padded interval, rounded outward."""
    padded_start, padded_end = padded_interval(start, end, buffer_before, buffer_after)
    first = floor_to_granule(padded_start, granule)
    last = ceil_to_granule(padded_end, granule)
    count = (last - first) // granule
    return [first + index * granule for index in range(count)]


def granule_span(start: datetime, end: datetime, buffer_before: timedelta = timedelta(0),
                 buffer_after: timedelta = timedelta(0),
                 granule: timedelta = DEFAULT_GRANULE) -> tuple[datetime, datetime]:
    """The interval a claim really blocks (its padded interval rounded outward to granules).

    The availability engine can test candidates against claims with this, so it never offers a slot
    that :func:`granules` would make collide with a neighbour.
    """
    padded_start, padded_end = padded_interval(start, end, buffer_before, buffer_after)
    return floor_to_granule(padded_start, granule), ceil_to_granule(padded_end, granule)


def granule_runs(starts: Iterable[datetime], granule: timedelta = DEFAULT_GRANULE) -> list[tuple[datetime, datetime]]:
    """Merge granule starts into maximal ``[start, end)`` runs of consecutive granules."""
    runs: list[tuple[datetime, datetime]] = []
    for start in sorted(set(starts)):
        if runs and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], start + granule)
        else:
            runs.append((start, start + granule))
    return runs


def chunked(items: Sequence, size: int) -> list[Sequence]:
    """Consecutive slices of at most ``size`` items (Table Storage transactions take 100 operations)."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[index:index + size] for index in range(0, len(items), size)]


# ---------------------------------------------------------------- who may take a granule

@dataclass(frozen=True, slots=True)
class GranuleClaim:
    """What storage says about one claimed granule."""

    holder_id: str
    kind: ClaimKind
    expires_at: datetime | None = None

    def is_live(self, now: datetime) -> bool:
        """Bookings never lapse; a hold lapses at its expiry (an unexpiring hold never does)."""
        return self.kind == "booking" or self.expires_at is None or self.expires_at > now


GranuleAction = Literal["create", "takeover", "refresh", "keep"]


@dataclass(frozen=True, slots=True)
class ClaimPlan:
    """The writes a claim attempt needs, granule by granule, or the granules that block it."""

    actions: dict[datetime, GranuleAction] = field(default_factory=dict)
    conflicts: tuple[datetime, ...] = ()

    @property
    def won(self) -> bool:
        return not self.conflicts

    def granules_with(self, *actions: GranuleAction) -> list[datetime]:
        return sorted(start for start, action in self.actions.items() if action in actions)


def plan_claim(requested: Iterable[datetime], existing: Mapping[datetime, GranuleClaim], holder_id: str,
               kind: ClaimKind, now: datetime) -> ClaimPlan:
    """Decide what claiming ``requested`` for ``holder_id`` takes, given the rows already stored.

    - free granule: ``create``;
    - the holder's own hold: ``refresh`` (rewritten with the new kind and expiry, ETag-guarded, so a
      taker that got there first makes the claim fail rather than silently share the time);
    - the holder's own booking: ``keep`` (a repeated hold never downgrades a booking);
    - someone else's expired hold: ``takeover`` (ETag-guarded, so of two takers only one wins);
    - anything else (a live hold, a booking) blocks the claim and is reported as a conflict.
    """
    _check_aware(now, "now")
    actions: dict[datetime, GranuleAction] = {}
    conflicts: list[datetime] = []
    for start in sorted(set(requested)):
        current = existing.get(start)
        if current is None:
            actions[start] = "create"
        elif current.holder_id == holder_id:
            actions[start] = "keep" if current.kind == "booking" else "refresh"
        elif not current.is_live(now):
            actions[start] = "takeover"
        else:
            conflicts.append(start)
    if conflicts:
        return ClaimPlan(conflicts=tuple(conflicts))
    return ClaimPlan(actions=actions)
