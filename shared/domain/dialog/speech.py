"""How the receptionist says things: times on the business's clock, offers, phone digits, read-backs.

Short sentences, natural times ("Thursday, December 3rd at 10 AM", "today at 2:30 PM"), numbers read
digit by digit. Everything is English and independent of the machine's locale. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

from shared.domain.business import EventType
from shared.domain.timezones import zone

DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def ordinal(day: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``22nd``."""
    if 10 <= day % 100 <= 20:
        return f"{day}th"
    return f"{day}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(day % 10, 'th')}"


def clock_time(local: datetime) -> str:
    """``10 AM``, ``2:30 PM``, ``noon``."""
    if (local.hour, local.minute) == (12, 0):
        return "noon"
    hour = local.hour % 12 or 12
    suffix = "AM" if local.hour < 12 else "PM"
    return f"{hour} {suffix}" if local.minute == 0 else f"{hour}:{local.minute:02d} {suffix}"


def day_phrase(local: datetime, today: datetime) -> str:
    """``today``, ``tomorrow, Thursday, December 3rd`` or ``Thursday, December 3rd``."""
    dated = f"{DAYS[local.weekday()]}, {MONTHS[local.month - 1]} {ordinal(local.day)}"
    days_ahead = (local.date() - today.date()).days
    if days_ahead == 0:
        return "today"
    if days_ahead == 1:
        return f"tomorrow, {dated}"
    return dated


def spoken_time(instant: datetime, time_zone: str, now: datetime) -> str:
    """``Thursday, December 3rd at 10 AM`` on the wall clock of ``time_zone``."""
    tz = zone(time_zone)
    local = instant.astimezone(tz)
    return f"{day_phrase(local, now.astimezone(tz))} at {clock_time(local)}"


def spoken_choices(starts: Sequence[datetime], time_zone: str, now: datetime) -> str:
    """Two times as one phrase; the day is said once when both fall on it ("Friday ... at 9 AM or 1 PM")."""
    if len(starts) == 1:
        return spoken_time(starts[0], time_zone, now)
    tz = zone(time_zone)
    first, second = (start.astimezone(tz) for start in starts[:2])
    if first.date() == second.date():
        return f"{spoken_time(starts[0], time_zone, now)} or {clock_time(second)}"
    return f"{spoken_time(starts[0], time_zone, now)}, or {spoken_time(starts[1], time_zone, now)}"


def digits(text: str) -> str:
    """Digits spaced out so text-to-speech reads them one by one: ``0 1 8 8``."""
    return " ".join(char for char in text if char.isdigit())


def last_digits(e164: str | None) -> str:
    """The last four digits, spaced: ``0 1 8 8``."""
    return digits((e164 or "")[-4:])


def phone_ending(e164: str | None) -> str:
    """``the number ending in 0 1 8 8``."""
    return f"the number ending in {last_digits(e164)}" if e164 else "your number"


def titled(phrase: str) -> str:
    """The caller's words with day and month names capitalised: ``Thursday afternoon``."""
    names = {name.lower(): name for name in DAYS + MONTHS}
    return " ".join(names.get(word.lower(), word) for word in phrase.split())


def service_name(event_type: EventType) -> str:
    """The event type's name as said mid-sentence: ``plumbing repair visit`` (acronyms kept, "/" said "or",
    parenthesised asides dropped)."""
    name = re.sub(r"\s*\([^)]*\)", "", event_type.name).replace(" / ", " or ").strip()
    if len(name) > 1 and name[0].isupper() and not name[1].isupper():
        name = name[0].lower() + name[1:]
    return name


def with_article(phrase: str) -> str:
    """``a plumbing repair visit``, ``an estimate``, ``a visit for no heat`` (a name that is a problem)."""
    if phrase.lower().startswith("no "):
        return f"a visit for {phrase}"
    return f"an {phrase}" if phrase[:1].lower() in "aeiou" else f"a {phrase}"


def sentence_list(items: Sequence[str]) -> str:
    """``a, b or c``."""
    items = [item for item in items if item]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" or {items[-1]}"
