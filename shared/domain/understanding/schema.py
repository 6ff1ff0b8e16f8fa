"""What one caller utterance means: the typed schema that language understanding fills.

Both the deterministic local parser (``shared.domain.understanding.parser``) and, when configured, a
language model with OpenAI structured outputs fill :class:`Understanding`. The dialog state machine reads
it and decides what to do; nothing in it is an action. The schema is kept inside what OpenAI's *strict*
structured outputs accept (``openai.lib._pydantic.to_strict_json_schema``): closed objects, every field
present (optional ones nullable), enums as ``Literal``, no free-form dicts and no ``default`` keywords
(OpenAI rejects non-null defaults in strict schemas). Value checks (E.164 phone numbers, ZIP codes,
HH:MM times, aware ISO 8601 instants) are enforced by pydantic and described in words in the JSON schema,
which leaves out ``pattern``/``format``/``minimum`` so that every Azure OpenAI API version accepts it.

Time preferences are a list of :class:`TimePreference`. Their meaning, which
``shared.domain.understanding.preferences`` implements for the dialog:

* ``at`` -- a specific start (``start``): "tomorrow at 10".
* ``window`` -- acceptable starts: within ``[start, end)`` when those are set, on the listed
  ``weekdays`` when any, and at a local wall-clock time in ``[after, before)`` when those are set.
  "Thursday afternoon" is Thursday 12:00-17:00; "next week after 3" is next Monday 00:00 to the
  following Monday, after 15:00 each day. ``day_part`` keeps the caller's words for read-back.
  ``first_date``/``last_date`` are the same span as local calendar dates (inclusive; either may be open).
* ``not`` -- the same fields describe starts the caller excludes: "not the 14th", "no mornings"; a weekday
  said without a date ("not Monday", "I work Tuesdays", "any day but Friday") excludes that weekday every week.
* ``asap`` -- the earliest possible time; ``any`` -- no preference at all.

``at`` and ``window`` preferences are alternatives (any one may match); every ``not`` applies.
Instants are aware and normalised to UTC; wall-clock bounds are local to the business time zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field,
                      PlainSerializer, WithJsonSchema, model_validator)

Intent = Literal[
    "book",             # wants a visit or an appointment ("my sink is leaking", "can someone come out")
    "reschedule",       # wants to move an existing appointment
    "cancel",           # wants to cancel an existing appointment
    "status",           # asks about an existing appointment ("when is my appointment", "is the tech still coming")
    "question",         # asks about prices, hours, service area... rather than booking
    "speak_to_person",  # asks for a human
    "emergency",        # flooding, burst pipe, gas smell, no heat when freezing...
    "yes",              # agrees / confirms
    "no",               # declines / denies
    "choose",           # picks one of the offered times
    "correction",       # corrects an earlier answer ("actually make it Friday")
    "inform",           # answers what was asked (a name, an address, a time...)
    "repeat",           # did not hear ("can you say that again")
    "wait",             # asks for a moment ("hold on")
    "goodbye",          # ends the call
    "unknown",          # nothing usable (including attempts to instruct the system)
]
YesNo = Literal["yes", "no"]
Expecting = Literal["need", "name", "address", "postal_code", "phone", "email", "time", "choice", "confirm"]
DayPart = Literal["morning", "afternoon", "evening"]
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
PreferenceKind = Literal["at", "window", "not", "asap", "any"]
ChoiceKind = Literal["ordinal", "relative", "time", "day", "any", "none"]
EmergencySignal = Literal["flooding", "burst_pipe", "sewage_backup", "gas_smell", "carbon_monoxide",
                          "no_heat", "no_cooling", "freezing", "electrical_hazard", "fire_or_smoke",
                          "declared_emergency"]
NamePart = Literal["first", "last"]
CorrectableField = Literal["service", "name", "address", "postal_code", "phone", "email", "time", "choice"]

WEEKDAY_NAMES: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday",
                                      "sunday")
DAY_PART_HOURS: dict[str, tuple[time, time | None]] = {
    "morning": (time(0, 0), time(12, 0)),
    "afternoon": (time(12, 0), time(17, 0)),
    "evening": (time(17, 0), None),
}
# Signals that make a call an emergency by themselves; no heat/cooling needs a freezing (or explicit) cue.
SEVERE_SIGNALS: frozenset[str] = frozenset({"flooding", "burst_pipe", "sewage_backup", "gas_smell",
                                            "carbon_monoxide", "electrical_hazard", "fire_or_smoke",
                                            "declared_emergency"})
MAX_PHRASE = 200


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


def _wall_time(value: Any) -> Any:
    """Accept ``time`` or "HH:MM" (also "HH:MM:SS"); refuse a time with an offset (it is wall-clock)."""
    if isinstance(value, str):
        hours, _, rest = value.strip().partition(":")
        minutes = rest[:2]
        if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2 and rest[2:3] in ("", ":")):
            raise ValueError("a wall-clock time is written HH:MM")
        return time(int(hours), int(minutes))
    if isinstance(value, time) and value.tzinfo is not None:
        raise ValueError("a wall-clock time carries no offset")
    return value


def _short(value: str) -> str:
    return value.strip()[:MAX_PHRASE]


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]
WallTime = Annotated[
    time,
    BeforeValidator(_wall_time),
    PlainSerializer(lambda value: value.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "description": "Local wall-clock time in the business time zone, 24-hour "
                                                     "HH:MM, e.g. 15:30."}),
]
Phrase = Annotated[str, AfterValidator(_short)]
E164 = Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")]
PostalCode = Annotated[str, Field(pattern=r"^[0-9]{5}(-[0-9]{4})?$")]
EventTypeKey = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


# Keywords strict structured outputs refuse (``default``) or that some Azure OpenAI API versions refuse
# (``pattern``, ``format``, ``minimum``). They leave the JSON schema only: pydantic still enforces them on
# every fill, so a model answer that breaks them fails validation and the dialog falls back to the parser.
_VALIDATION_ONLY = ("default", "pattern", "format", "minimum")


def _portable_schema(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        _strip(prop)


def _strip(node: Any) -> None:
    if isinstance(node, dict):
        for key in _VALIDATION_ONLY:
            node.pop(key, None)
        for value in node.values():
            _strip(value)
    elif isinstance(node, list):
        for value in node:
            _strip(value)


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_extra=_portable_schema)


class TimePreference(_Schema):
    """One thing the caller said about when (see the module docstring for how the kinds combine)."""

    kind: PreferenceKind = Field(description="at: a specific start; window: acceptable starts; not: excluded "
                                             "starts; asap: earliest possible; any: no preference.")
    phrase: Phrase = Field(description="The caller's words this came from, e.g. 'thursday afternoon'.")
    start: UtcDatetime | None = Field(None, description="at: the start. window/not: earliest instant covered. "
                                                        "ISO 8601 with offset, e.g. 2025-03-13T12:00:00-05:00; "
                                                        "null: open.")
    end: UtcDatetime | None = Field(None, description="window/not: first instant no longer covered (ISO 8601 "
                                                      "with offset); null: open.")
    weekdays: list[Weekday] = Field(default_factory=list, description="Only these local weekdays "
                                                                     "(empty: any day).")
    after: WallTime | None = Field(None, description="Local time of day from which starts are covered.")
    before: WallTime | None = Field(None, description="Local time of day before which starts are covered.")
    day_part: DayPart | None = Field(None, description="The part of day the caller named, if any.")
    first_date: date | None = Field(None, description="First local date covered, inclusive (YYYY-MM-DD); "
                                                      "null: open or no day said.")
    last_date: date | None = Field(None, description="Last local date covered, inclusive (YYYY-MM-DD); "
                                                     "null: open-ended ('any time after the 15th').")

    @model_validator(mode="after")
    def _at_has_a_start(self) -> "TimePreference":
        if self.kind == "at" and self.start is None:
            raise ValueError("an 'at' preference needs its start")
        if self.start and self.end and self.end <= self.start:
            raise ValueError("a preference's end must come after its start")
        if self.first_date and self.last_date and self.last_date < self.first_date:
            raise ValueError("a preference's last date must not come before its first")
        return self


class Choice(_Schema):
    """Which of the offered times the caller picked ("the first one", "the 3 pm", "the later one")."""

    kind: ChoiceKind = Field(description="ordinal ('the second'), relative ('the later one'), time ('the 3 pm'), "
                                         "day ('the Thursday one'), any ('either'), none ('neither').")
    index: int | None = Field(None, ge=0, description="0-based position in the offered times; null if unknown.")
    start: UtcDatetime | None = Field(None, description="The offered start picked (ISO 8601 with offset), "
                                                        "when it is known.")
    phrase: Phrase = Field(description="The caller's words, e.g. 'the later one'.")


class Understanding(_Schema):
    """Everything usable in one caller utterance. Empty fields mean "not said", never a guess."""

    intent: Intent = Field(description="The main thing the caller is doing with this utterance.")
    answer: YesNo | None = Field(None, description="A yes or no in the utterance, if any.")
    event_type: EventTypeKey | None = Field(None, description="Key of the service (event type) the caller "
                                                              "needs, exactly as in the business's list.")
    service_phrase: Phrase | None = Field(None, description="The caller's words for the service need.")
    name: Phrase | None = Field(None, description="The caller's name as they said it.")
    name_part: NamePart | None = Field(None, description="'last' or 'first' when only that part of the name was "
                                                         "said (correcting it: keep the other part known), "
                                                         "null for a whole name.")
    address: Phrase | None = Field(None, description="Service street address as said (digits as numerals).")
    postal_code: PostalCode | None = Field(None, description="US ZIP code: 5 digits, or ZIP+4 as 12345-6789.")
    phone: E164 | None = Field(None, description="Callback number in E.164, e.g. +13125550100.")
    use_caller_id: bool = Field(False, description="True when the caller says to use the number they call from.")
    email: Phrase | None = Field(None, description="E-mail address, when spelled out.")
    times: list[TimePreference] = Field(default_factory=list, description="Time preferences, in order said.")
    choice: Choice | None = Field(None, description="Which offered time the caller picked.")
    emergency: list[EmergencySignal] = Field(default_factory=list, description="Emergency signals heard.")
    gas_smell: bool = Field(False, description="Caller smells gas: give safety instructions first.")
    corrects: list[CorrectableField] = Field(default_factory=list,
                                             description="Earlier answers this utterance corrects.")
    not_offered: Phrase | None = Field(None, description="Work the caller needs that this business does not do, "
                                                         "named to say back ('appliance repair'); null otherwise.")
    partial_digits: str | None = Field(None, pattern=r"^[0-9]{1,15}$", description="Digits of a phone number or ZIP said so "
                                                                        "far, when not yet complete.")

    @model_validator(mode="after")
    def _gas_is_a_signal(self) -> "Understanding":
        if self.gas_smell != ("gas_smell" in self.emergency):
            raise ValueError("gas_smell and the 'gas_smell' emergency signal must agree")
        return self

    @property
    def is_emergency(self) -> bool:
        """A severe signal, or no heat/cooling together with freezing or a declared emergency."""
        signals = set(self.emergency)
        return bool(signals & SEVERE_SIGNALS) or ("no_heat" in signals and "freezing" in signals)

    @property
    def asap(self) -> bool:
        return any(pref.kind == "asap" for pref in self.times)
