"""Which open times answer the caller's words: the fitting ones, or -- when none fit -- the nearest that still
respect what they said, widened step by step. Pure; the voice service feeds it the availability engine's slots.

1. Starts that fit every preference (``accepts``): offered as matching.
2. None: keep the caller's time of day only ("Saturday morning" with Saturdays closed -> the nearest
   morning), then any time. Every exclusion ("not Monday", "no mornings") still applies at every step,
   and times already declined or booked (``exclude``) are never offered again.

A caller who turns the offers down and asks for more ("anything later?", "what else do you have?") is
searched again at once with :func:`beyond_offers`, instead of being asked for a time all over again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from shared.domain.dialog.model import Offer, SlotsFound
from shared.domain.timezones import wall_to_utc, zone
from shared.domain.understanding import TimePreference, accepts

KEPT = 60  # enough past a night shift's slots for the dialog to find daytime ones
NEAREST = 6


def fitting(times: Sequence[TimePreference], slots: Iterable, exclude: Iterable[datetime],
            time_zone: str) -> SlotsFound | None:
    """The slots (anything with ``start`` and ``end``) that fit ``times``, or None when none does."""
    excluded = set(exclude)
    found = [slot for slot in slots if slot.start not in excluded and accepts(list(times), slot.start, time_zone)]
    if not found:
        return None
    return SlotsFound(tuple(Offer(start=slot.start, end=slot.end) for slot in found[:KEPT]), matched=True)


def widened(times: Sequence[TimePreference], slots: Iterable, exclude: Iterable[datetime], near: datetime,
            time_zone: str) -> SlotsFound:
    """Nothing fits: the nearest slots to ``near`` keeping the caller's time of day, else any; never excluded."""
    excluded = set(exclude)
    nots = [pref for pref in times if pref.kind == "not"]
    pool = [slot for slot in slots if slot.start not in excluded and accepts(nots, slot.start, time_zone)]
    for relaxed in (time_of_day(times), []):
        if relaxed is None:
            continue
        chosen = [slot for slot in pool if accepts(relaxed, slot.start, time_zone)]
        if chosen:
            return SlotsFound(tuple(Offer(start=s.start, end=s.end) for s in nearest(chosen, near)), matched=False)
    return SlotsFound((), matched=False)


def time_of_day(times: Sequence[TimePreference]) -> list[TimePreference] | None:
    """The caller's wanted times with only their time of day kept; None when they named no time of day."""
    kept = [TimePreference(kind="window", phrase=pref.phrase, after=pref.after, before=pref.before,
                           day_part=pref.day_part)
            for pref in times if pref.kind in ("at", "window") and (pref.after or pref.before)]
    return kept or None


def nearest(slots: list, near: datetime, count: int = NEAREST) -> list:
    """The ``count`` slots nearest to ``near``: those from it on first; else the latest ones before it."""
    later = [slot for slot in slots if slot.start >= near]
    return later[:count] if later else slots[-count:]


def chosen_offer(offers: Sequence[Offer], u) -> Offer | None:
    """The offer the caller's answer ``u`` (an Understanding) picks: a time said, "the second one", "either",
    or a plain yes when only one time was offered; None when it picks none of them."""
    choice, index = u.choice, None
    if choice is not None and choice.kind != "none":
        if choice.start is not None:
            index = next((i for i, offer in enumerate(offers) if offer.start == choice.start), None)
        if index is None and choice.index is not None and 0 <= choice.index < len(offers):
            index = choice.index
        if index is None and choice.kind == "any" and offers:
            index = 0
    if index is None and len(offers) == 1 and (u.answer == "yes" or u.intent == "yes"):
        index = 0
    if index is None and offers and u.times and all(pref.kind == "asap" for pref in u.times):
        index = 0  # "as soon as possible, please": the earliest of them
    if choice is not None and choice.kind == "none":
        index = None
    return offers[index] if index is not None else None


def restates_offers(offered: Sequence[datetime], u) -> bool:
    """Whether the times in the caller's answer ``u`` only say back times just offered ("6 PM? That's too
    late"): no new wish (true when no time was said at all)."""
    return all(pref.kind == "at" and pref.start in offered for pref in u.times)


def more_wanted(phrase: str) -> str | None:
    """What a caller who turned the offers down (in ``phrase``, their words) asked for instead: "later",
    "earlier", "day" (another day), "other" (other times, same wishes), or None ("neither": ask them)."""
    words = set(re.findall(r"[a-z]+", phrase.lower()))
    if "later" in words or "too" in words and words & {"early", "soon"}:
        return "later"
    if words & {"earlier", "sooner"} or "too" in words and "late" in words:
        return "earlier"
    if words & {"day", "days"}:
        return "day"
    if words & {"else", "other", "another", "different", "times", "options", "option"}:
        return "other"
    return None


def beyond_offers(times: Sequence[TimePreference], more: str, offered: Sequence[datetime], now: datetime,
                  time_zone: str) -> list[TimePreference]:
    """The caller's wishes after "anything later?", "something earlier?", "another day?" or "what else?"
    about the times just ``offered`` (which the caller has passed on either way).

    "later" is later on the day of the last offer; "earlier" before the first; "day" any day but the
    offered ones, at the time of day asked for ("Thursday afternoon" -> another afternoon); "other" the same
    wishes (the offered times are excluded by the caller's passing).
    Exclusions said before ("not Monday") always stay.
    """
    nots = [pref for pref in times if pref.kind == "not"]
    if not offered or more == "other":
        return list(times)
    tz = zone(time_zone)
    if more == "later":
        last = max(offered)
        day = last.astimezone(tz).date()
        end = _midnight(day + timedelta(days=1), tz)
        return nots + [TimePreference(kind="window", phrase="later that day", start=last + timedelta(minutes=1),
                                      end=end, first_date=day, last_date=day)]
    if more == "earlier":
        return nots + [TimePreference(kind="window", phrase="earlier", start=now, end=min(offered))]
    days = sorted({start.astimezone(tz).date() for start in offered})
    others = [TimePreference(kind="not", phrase="those days", first_date=day, last_date=day,
                             start=_midnight(day, tz), end=_midnight(day + timedelta(days=1), tz)) for day in days]
    return nots + (time_of_day(times) or []) + others


def _midnight(day: date, tz) -> datetime:
    return wall_to_utc(datetime.combine(day, time(0, 0)), tz)
