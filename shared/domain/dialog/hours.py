"""Office hours for the receptionist: when a person can take a transferred call.

Written as ``"mon-fri 08:00-17:00; sat 09:00-12:00"`` (days, then one or more comma-separated
``HH:MM-HH:MM`` ranges; rules separated by semicolons), read on the business's wall clock. An empty
text means nobody ever takes transfers (every "can I speak to someone" becomes a message). Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from shared.domain.timezones import zone

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


class OfficeHoursError(ValueError):
    """The office hours text cannot be read; the message says which part and why."""


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """Open ranges per weekday (0 = Monday), in minutes of the local day; an end may be 24:00."""

    ranges: tuple[tuple[tuple[int, int], ...], ...]

    def is_open(self, instant: datetime, time_zone: str) -> bool:
        """Whether ``instant`` (aware) falls in an open range on the wall clock of ``time_zone``."""
        local = instant.astimezone(zone(time_zone))
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.ranges[local.weekday()])

    @property
    def ever_open(self) -> bool:
        return any(self.ranges)


def parse_office_hours(text: str) -> OfficeHours:
    """Read ``"mon-fri 08:00-17:00; sat 09:00-12:00"``; raises :class:`OfficeHoursError`."""
    days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
    for rule in (part.strip() for part in (text or "").split(";")):
        if not rule:
            continue
        day_text, _, hours_text = rule.partition(" ")
        if not hours_text.strip():
            raise OfficeHoursError(f"{rule!r} needs days and hours, like 'mon-fri 08:00-17:00'")
        for day in _days(day_text.strip().lower()):
            days[day].extend(_range(piece.strip()) for piece in hours_text.split(",") if piece.strip())
    return OfficeHours(tuple(tuple(sorted(ranges)) for ranges in days))


def _days(text: str) -> list[int]:
    found: list[int] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise OfficeHoursError(f"{part!r} is not a day or day range like mon-fri")
        i = DAYS.index(first)
        j = DAYS.index(last) if last else i
        found.extend(range(i, j + 1) if i <= j else [*range(i, 7), *range(0, j + 1)])
    return found


def _range(text: str) -> tuple[int, int]:
    match = _RANGE.match(text)
    if not match:
        raise OfficeHoursError(f"{text!r} is not a time range like 08:00-17:00")
    h1, m1, h2, m2 = (int(group) for group in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise OfficeHoursError(f"{text!r} is not a time of day")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise OfficeHoursError(f"{text!r} must end after it starts (split a night across two days)")
    return start, end
