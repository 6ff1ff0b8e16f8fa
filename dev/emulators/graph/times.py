"""Graph's ways of writing time, as the emulator reads and writes them.

``dateTimeTimeZone`` is a wall-clock ``dateTime`` (no offset, seven fractional digits on output)
plus a ``timeZone`` name, usually a Windows name ("Pacific Standard Time"); query parameters such
as ``startDateTime`` are ISO 8601 instants (UTC when no offset is given); ``Prefer:
outlook.timezone`` chooses the zone of every ``dateTimeTimeZone`` in a response.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from shared.domain.timezones import UnknownTimeZoneError, windows_to_iana, zone

UTC = timezone.utc
_PREFERENCE = re.compile(r'\s*([A-Za-z][\w.-]*)\s*(?:=\s*(?:"([^"]*)"|([^,;\s]*)))?\s*(?:;[^,]*)?(?:,|$)')
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


class TimeFormatError(ValueError):
    """A date, time or zone the emulator (like Graph) cannot read."""


def zone_of(name: str | None) -> ZoneInfo:
    """The zone behind a Windows or IANA name (Graph accepts both; UTC when empty)."""
    try:
        return zone(windows_to_iana(name or "UTC"))
    except UnknownTimeZoneError:
        raise TimeFormatError(f"A valid TimeZone value must be specified. The following TimeZone value is "
                              f"not supported: '{name}'.") from None


def _parse_iso(text: str) -> datetime:
    text = _FRACTION.sub(r"\1", text.strip())
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise TimeFormatError(f"Cannot convert the literal '{text}' to the expected type 'Edm.DateTimeOffset'.") from None


def parse_date_time_time_zone(value: object) -> tuple[datetime, str]:
    """A ``dateTimeTimeZone`` object -> (aware UTC instant, the zone name as given)."""
    if not isinstance(value, dict) or not value.get("dateTime"):
        raise TimeFormatError("dateTimeTimeZone needs a dateTime.")
    name = value.get("timeZone") or "UTC"
    wall = _parse_iso(str(value["dateTime"]))
    if wall.tzinfo is not None:  # an offset wins over the zone name, as Exchange does
        return wall.astimezone(UTC), name
    return wall.replace(tzinfo=zone_of(name)).astimezone(UTC), name


def format_date_time_time_zone(instant: datetime, zone_name: str) -> dict[str, str]:
    """An instant written the way Graph writes it in ``zone_name``."""
    local = instant.astimezone(zone_of(zone_name))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": zone_name}


def parse_query_instant(text: str) -> datetime:
    """``startDateTime``-style instants: an offset is honoured, none means UTC."""
    value = _parse_iso(text)
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def format_instant(instant: datetime) -> str:
    """Graph's ``Edm.DateTimeOffset`` in responses: UTC with seven fractional digits and ``Z``."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{instant.microsecond:06d}0Z"


def parse_prefer(header_values: list[str]) -> dict[str, str]:
    """``Prefer`` headers -> {preference: value}; names are case-insensitive, values unquoted."""
    preferences: dict[str, str] = {}
    for header in header_values:
        for match in _PREFERENCE.finditer(header):
            if match.group(1):
                preferences[match.group(1).lower()] = match.group(2) if match.group(2) is not None else (match.group(3) or "")
    return preferences
