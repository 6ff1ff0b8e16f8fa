"""Time zones: IANA zones via ``zoneinfo``, and the Windows zone names Microsoft Graph speaks.

The Windows <-> IANA mapping is CLDR's windowsZones table as shipped by ``tzlocal`` (a data
module, no I/O). Graph's ``dateTimeTimeZone`` uses Windows names; convert only at the adapter.

Local wall times (working hours, "Thursday at 10") become instants with :func:`wall_to_utc`, which
follows one rule everywhere (the same as java.time and PEP 495's ``fold=0``): an ambiguous wall
time (the repeated hour when clocks fall back) is its first occurrence, and a wall time that does
not exist (the hour skipped when clocks spring forward) is shifted forward by the length of the
gap, so 02:30 on Chicago's spring-forward day is 03:30 CDT. :func:`wall_exists` tells the gap
apart, so the slot engine can skip grid points that fall into it.
"""

from __future__ import annotations

import functools
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = timezone.utc

# Names Graph accepts that CLDR's table spells differently or leaves out.
_WINDOWS_ALIASES = {"UTC": "Etc/UTC", "Coordinated Universal Time": "Etc/UTC", "tzone://Microsoft/Utc": "Etc/UTC"}


class UnknownTimeZoneError(ValueError):
    """A zone name that neither IANA nor Windows knows."""


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``America/Chicago``), or :class:`UnknownTimeZoneError`."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UnknownTimeZoneError(f"unknown IANA time zone {name!r}") from None


@functools.cache
def _tables() -> tuple[dict[str, str], dict[str, str]]:
    from tzlocal.windows_tz import tz_win, win_tz
    return win_tz, tz_win


def windows_to_iana(name: str) -> str:
    """``Pacific Standard Time`` -> ``America/Los_Angeles`` (an IANA name passes through)."""
    win_tz, _ = _tables()
    if name in _WINDOWS_ALIASES:
        return _WINDOWS_ALIASES[name]
    if name in win_tz:
        return win_tz[name]
    zone(name)  # already IANA? raises if not
    return name


def iana_to_windows(name: str) -> str:
    """``America/Chicago`` -> ``Central Standard Time``; ``UTC`` for UTC and its aliases."""
    _, tz_win = _tables()
    if not name:  # tzlocal's table carries an empty key; an empty name is never a zone
        raise UnknownTimeZoneError("empty time zone name")
    if name in ("UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Zulu"):
        return "UTC"
    if name in tz_win:
        return tz_win[name]
    zone(name)
    raise UnknownTimeZoneError(f"IANA zone {name!r} has no Windows equivalent in CLDR")


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; naive values are refused rather than guessed."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: every instant in Frontdesk must carry its offset")
    return value.astimezone(UTC)


def windows_zone_table() -> dict[str, str]:
    """CLDR's Windows zone name -> IANA zone table (territory ``001``), as a fresh dict."""
    win_tz, _ = _tables()
    return dict(win_tz)


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of the naive local ``wall`` time in ``tz``.

    Ambiguous -> the first occurrence; nonexistent (in a spring-forward gap) -> shifted forward by
    the gap (the module docstring has the rule).
    """
    if wall.tzinfo is not None:
        raise ValueError("wall_to_utc takes a naive local time")
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC)


def wall_exists(wall: datetime, tz: ZoneInfo) -> bool:
    """False for a naive local time that the clocks skip in ``tz`` (a spring-forward gap)."""
    instant = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    return instant.astimezone(tz).replace(tzinfo=None) == wall.replace(fold=0)


def is_ambiguous(wall: datetime, tz: ZoneInfo) -> bool:
    """True for a naive local time that happens twice in ``tz`` (the hour repeated on fall-back)."""
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    return first.utcoffset() != second.utcoffset() and wall_exists(wall, tz)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The calendar date of an aware ``instant`` on a wall clock in ``tz``."""
    return to_utc(instant).astimezone(tz).date()


def in_zone(instant: datetime, time_zone: str) -> datetime:
    """An aware ``instant`` expressed in the IANA (or Windows) zone ``time_zone``."""
    return to_utc(instant).astimezone(zone(windows_to_iana(time_zone)))


def render(instant: datetime, time_zone: str = "UTC") -> str:
    """ISO 8601 with the zone's offset (``2026-03-02T09:00:00-06:00``); ``Z`` is never used."""
    return in_zone(instant, time_zone).isoformat()
