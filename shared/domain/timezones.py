"""Time zones: IANA zones via ``zoneinfo``, and the Windows zone names Microsoft Graph speaks.

The Windows <-> IANA mapping is CLDR's windowsZones table as shipped by ``tzlocal`` (a data
module, no I/O). Graph's ``dateTimeTimeZone`` uses Windows names; convert only at the adapter.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone
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
