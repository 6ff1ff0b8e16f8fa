"""The deterministic local parser: one caller utterance -> :class:`Understanding`.

It is the voice receptionist's default language understanding and the fallback when a language model
is slow or fails. Pure and fast (a fraction of a millisecond per utterance, no I/O): the dialog calls
:func:`parse` with what the caller said, the current instant, the business time zone, what the dialog
just asked for (``expecting``), the business's event types and the times it offered.

The caller's words are data. Text that tries to instruct the system ("ignore previous instructions")
is recognised and yields an empty ``unknown`` understanding; nothing the caller says changes what the
parser does, and the parser never decides an action -- the dialog state machine does.

Reading order: clean the words (``text``), turn number words into digits (``numbers``), lift out contact
details (``contacts``: e-mail, phone, address, ZIP), read times with those digits masked (``times``),
then the offered-time choice, the name, the service (``services``), emergencies, yes/no and the intent
(``acts``). After a self-repair ("Tuesday, I mean Wednesday", "actually make it Friday") the words after
the last marker are read first and win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Callable, TypeVar
from zoneinfo import ZoneInfo

from shared.domain.timezones import zone
from shared.domain.understanding import acts, contacts, patterns, services, times
from shared.domain.understanding.numbers import digit_runs, numeric_words
from shared.domain.understanding.schema import (SEVERE_SIGNALS, Choice, Expecting, TimePreference, Understanding)
from shared.domain.understanding.text import clean_words, split_email

T = TypeVar("T")
EventTypes = Any  # a service_catalog(...), a BusinessConfig, EventType objects or (key, phrases) pairs

_FIELD_OF_EXPECTING = {"need": "service", "name": "name", "address": "address", "postal_code": "postal_code",
                       "phone": "phone", "email": "email", "time": "time", "choice": "choice"}


def parse(text: str, *, now: datetime, time_zone: str, expecting: Expecting | None = None,
          event_types: EventTypes = (), offered: Sequence[datetime] = (), default_region: str = "US",
          carried_digits: str | None = None) -> Understanding:
    """What the caller meant by ``text`` (see the module docstring); never raises on odd text.

    ``now`` must be aware; relative phrases ("tomorrow", "in two days") are read on the wall clock of
    ``time_zone`` (IANA). ``offered`` are the aware starts the dialog just read out, in the order read.
    ``carried_digits`` are the ``partial_digits`` of the previous turn: while a phone number or ZIP is
    expected they come before this turn's digits ("three one two..." / "...five five five one two one two").
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if any(o.tzinfo is None or o.utcoffset() is None for o in offered):
        raise ValueError("offered times must be aware datetimes")
    tz = zone(time_zone)
    prepared, typed_email = split_email(text)
    words = clean_words(prepared)
    plain = " ".join(words)
    if not words or acts.is_instruction_attempt(plain):
        return Understanding(intent="unknown")
    nums = numeric_words(words)
    if carried_digits and carried_digits.isdigit() and expecting in ("phone", "postal_code"):
        nums = list(carried_digits[:15]) + nums
    ntext = " ".join(nums)
    reading = _Reading(nums, acts.repair_tail(nums))

    email = reading.first(lambda w, _: contacts.find_email(w, typed_email))
    phone = reading.first(lambda w, _: contacts.find_phone(w, default_region, expecting=expecting))
    address, postal = _address_and_zip(reading, expecting, taken={phone.start} if phone else set())
    masked = list(nums)
    for found in (email, phone, address, postal):
        if found is not None:
            masked[found.start:found.end] = ["_"] * (found.end - found.start)

    ordinals_are_choices = expecting == "choice" or (bool(offered) and expecting != "time")
    ctx = times.local_context(now, tz, expecting, ordinals_are_choices)
    prefs, mentions = _times(masked, reading.tail, ctx)
    choice = _choice(ntext, reading, mentions, offered, expecting, tz)
    if choice is not None and choice[1]:
        prefs = []
    name = reading.first(lambda w, _: contacts.find_name(w, expecting=expecting))
    name_part = None
    fixed = contacts.find_name_correction(masked, expecting=expecting)
    # Spelled, or corrected in the same breath ("jon smith sorry smyth s m y t h"); a name read whole that
    # already holds it ("my name is chris o k o n k w o": Chris Okonkwo) stays.
    if fixed is not None and not (name and fixed[0].lower() in name.lower().split() + [name.lower()]):
        name, name_part = fixed
    elif fixed is not None and name and fixed[0].lower() == name.lower():
        name_part = fixed[1]  # "no my last name is hill": the last name only
    catalog = services.catalog_of(event_types)
    signals = acts.emergency_signals(ntext)
    severe = bool(set(signals) & SEVERE_SIGNALS)
    unnamed = _Reading(_without_name(nums, name), reading.tail)  # "this is Tim Price" asks for no estimate
    service = unnamed.first(lambda w, _: services.match_service(w, catalog, emergency=severe))
    answer = _final_answer(ntext, reading)
    picked = choice[0] if choice else None
    if picked is not None and picked.kind == "none" and answer is None:
        answer = "no"
    use_caller_id = contacts.says_use_caller_id(plain)

    found_fields = {
        "service": service is not None, "name": name is not None, "address": address is not None,
        "postal_code": postal is not None, "phone": phone is not None, "email": email is not None,
        "time": bool(prefs), "choice": picked is not None and picked.kind != "none",
    }
    corrects = _corrections(ntext, nums, answer, found_fields, expecting)
    intent = _intent(" ".join(unnamed.nums), expecting=expecting, answer=answer, picked=picked, signals=signals,
                     corrects=corrects, found=found_fields, use_caller_id=use_caller_id, has_offers=bool(offered),
                     estimate=bool(service and service.estimate))
    partial = _partial_digits(reading, expecting, phone, postal, use_caller_id)
    if partial and intent == "unknown":
        intent = "inform"  # part of the number: an answer, to be completed on the next turn
    return Understanding(
        intent=intent,
        answer=answer,
        event_type=service.key if service else None,
        service_phrase=service.phrase if service else None,
        not_offered=service.not_offered if service else None,
        partial_digits=partial,
        name=name,
        name_part=name_part if name else None,
        address=address.value if address else None,
        postal_code=postal.value if postal else None,
        phone=phone.value if phone else None,
        use_caller_id=use_caller_id,
        email=email.value if email else None,
        times=prefs,
        choice=picked and Choice(kind=picked.kind, index=picked.index, phrase=picked.phrase or ntext,
                                 start=_offered_at(offered, picked.index)),
        emergency=signals,
        gas_smell="gas_smell" in signals,
        corrects=corrects,
    )


def warm_up(business: Any = None) -> None:
    """Pay the first parse's costs now (compiling the grammar, loading the date fallback and, given the
    business configuration or its event types, its service vocabulary, ~0.15 s): once, at start-up."""
    patterns.compile_all()
    times.warm_up()
    if business is not None:
        services.warm_up(service_catalog(business))


def service_catalog(source: Any) -> services.Catalog:
    """What :func:`parse` matches needs against, from a ``BusinessConfig`` (preferred: it brings the business's
    vocabulary and the work it does not offer) or its ``EventType`` objects (built-in vocabulary only)."""
    return services.catalog_of(source)


def _without_name(nums: list[str], name: str | None) -> list[str]:
    """The words with the caller's name (its last occurrence) masked, so a name never names a service."""
    said = name.lower().split() if name else []
    for i in range(len(nums) - len(said), -1, -1) if said else ():
        if nums[i:i + len(said)] == said:
            return nums[:i] + ["_"] * len(said) + nums[i + len(said):]
    return nums


class _Reading:
    """The numeric words, and where the words after the last self-repair marker begin."""

    def __init__(self, nums: list[str], tail: int | None):
        self.nums = nums
        self.tail = tail if tail and tail < len(nums) else None

    def first(self, find: Callable[[list[str], int], T | None]) -> T | None:
        """``find`` on the words after the last repair marker, else on all words (spans in all-word indices)."""
        if self.tail is not None:
            found = find(self.nums[self.tail:], self.tail)
            if found is not None:
                return _shift(found, self.tail)
        return find(self.nums, 0)


def _shift(found: T, offset: int) -> T:
    """A finder's result with its word span moved from the tail's indices to all-word indices."""
    if isinstance(found, _AddressPair):
        postal = found.postal and _shift(found.postal, offset)
        return _AddressPair(_shift(found.address, offset), postal)  # type: ignore[return-value]
    if isinstance(found, (contacts.Found, services.ServiceMatch)):
        return replace(found, start=found.start + offset, end=found.end + offset)  # type: ignore[return-value]
    return found


class _AddressPair:
    """A street address and the ZIP said within it, found (and shifted) together."""

    __slots__ = ("address", "postal")

    def __init__(self, address: contacts.Found, postal: contacts.Found | None):
        self.address, self.postal = address, postal


def _address_and_zip(reading: _Reading, expecting: str | None,
                     taken: set[int]) -> tuple[contacts.Found | None, contacts.Found | None]:
    def find_pair(words: list[str], _offset: int) -> _AddressPair | None:
        address, postal = contacts.find_address(words, expecting=expecting)
        return _AddressPair(address, postal) if address is not None else None

    pair = reading.first(find_pair)
    address, postal = (pair.address, pair.postal) if pair else (None, None)
    if postal is None:
        postal = reading.first(lambda w, offset: contacts.find_postal_code(
            w, expecting=expecting, taken={t - offset for t in taken}))
    return address, postal


def _times(masked: list[str], tail: int | None,
           ctx: times.Context) -> tuple[list[TimePreference], list[times.Mention]]:
    """Time preferences, a day or time said after the last repair marker replacing the one said before."""
    prefs, mentions, _ = times.parse_times(masked, ctx, repair_at=tail)
    return prefs, mentions


def _choice(ntext: str, reading: _Reading, mentions: list[times.Mention], offered: Sequence[datetime],
            expecting: str | None, tz: ZoneInfo) -> tuple[acts.Picked, bool] | None:
    """The offered time picked (after a repair marker first), and whether the time words described it."""
    offered_local = [o.astimezone(tz) for o in offered]
    texts = [" ".join(reading.nums[reading.tail:])] if reading.tail is not None else []
    for candidate in texts + [ntext]:
        picked = acts.pick_offered(candidate, mentions, offered_local, expecting=expecting, tz=tz)
        if picked is not None:
            if not picked.phrase:
                picked = acts.Picked(picked.kind, picked.index, _mention_phrase(reading.nums, mentions),
                                     picked.consumed_times)
            return picked, picked.consumed_times
    return None


def _partial_digits(reading: "_Reading", expecting: str | None, phone, postal, use_caller_id: bool) -> str | None:
    """The digits of a phone number or ZIP said so far, while one is expected and not yet complete."""
    if expecting not in ("phone", "postal_code") or use_caller_id:
        return None
    if (phone if expecting == "phone" else postal) is not None:
        return None
    words = reading.nums[reading.tail:] if reading.tail is not None else reading.nums
    digits = "".join(run.digits for run in digit_runs(words))
    limit = 14 if expecting == "phone" else 4
    return digits if 0 < len(digits) <= limit else None


def _final_answer(ntext: str, reading: "_Reading") -> str | None:
    """Yes or no, the caller's last word winning: "no... actually yes, book it" is a yes."""
    answer = acts.yes_or_no(ntext)
    if reading.tail is not None:
        changed = acts.yes_or_no(" ".join(reading.nums[reading.tail:]))
        if changed is not None:
            return changed
    return answer


def _mention_phrase(nums: list[str], mentions: list[times.Mention]) -> str:
    if not mentions:
        return ""
    return " ".join(nums[min(m.start for m in mentions):max(m.end for m in mentions)])


def _offered_at(offered: Sequence[datetime], index: int | None) -> datetime | None:
    if index is None or not 0 <= index < len(offered):
        return None
    return offered[index]


def _corrections(ntext: str, nums: list[str], answer: str | None, found: dict[str, bool],
                 expecting: str | None) -> list[str]:
    """Fields this utterance corrects: a repair marker (or an opening "no") plus a new value, or "X is wrong"."""
    opening_no = answer == "no" and bool(nums) and nums[0] in ("no", "nope", "nah")
    # At the read-back every new value is a change ("yes, but my zip is 60615").
    marked = expecting == "confirm" or acts.has_repair_marker(ntext) or opening_no
    asked = _FIELD_OF_EXPECTING.get(expecting or "")
    corrected = [f for f, present in found.items() if present and marked and f != asked]
    if expecting == "choice" and "choice" in corrected:
        corrected.remove("choice")
    for field in acts.fields_named_for_change(ntext):
        if field not in corrected:
            corrected.append(field)
    order = ("service", "name", "address", "postal_code", "phone", "email", "time", "choice")
    return [f for f in order if f in corrected]


def _intent(ntext: str, *, expecting: str | None, answer: str | None, picked, signals: list[str],
            corrects: list[str], found: dict[str, bool], use_caller_id: bool, has_offers: bool,
            estimate: bool = False) -> str:
    """The main act, by precedence: safety, people, existing bookings, corrections, then what was asked."""
    cues = acts.intent_cues(ntext)
    severe = bool(set(signals) & SEVERE_SIGNALS) or {"no_heat", "freezing"} <= set(signals)
    asked = _FIELD_OF_EXPECTING.get(expecting or "")
    if severe:
        return "emergency"
    if "speak_to_person" in cues:
        return "speak_to_person"
    if "cancel" in cues and expecting != "confirm":
        return "cancel"
    if "reschedule" in cues:
        return "reschedule"
    if "status" in cues and expecting in (None, "need"):
        return "status"
    if corrects:
        return "correction"
    if picked is not None and picked.kind != "none" and (expecting == "choice" or has_offers):
        return "choose"
    if expecting == "confirm" and answer:
        return answer
    if "question" in cues and "book" not in cues and not estimate:  # "how much for a new one": an estimate
        return "question"  # prices, hours, service area -- even "what are your hours on Saturday"
    if asked == "service" and found["service"]:
        return "book"
    if asked and (found.get(asked) or asked == "phone" and use_caller_id):
        return "inform"
    if found["time"] and asked in (None, "service"):
        return "book"  # "do you have anything tomorrow morning?"
    if "book" in cues or found["service"] or signals:
        return "book"
    if answer:
        return answer
    if "cancel" in cues:
        return "cancel"
    if any(found.values()) or use_caller_id:
        return "inform"
    for cue in ("repeat", "wait", "goodbye", "question_form"):
        if cue in cues:
            return "question" if cue == "question_form" else cue
    return "unknown"
