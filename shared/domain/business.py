"""The business configuration: who can be booked, for what, when, and how work is routed to them.

One YAML file (``config/business.example.yaml`` is a realistic sample) describes the business, its
hosts (technicians, reps, or shared resources such as a truck or a service bay, each with its own
Outlook mailbox), their weekly working hours, date overrides and time off, the event types callers
book, the territories (postal codes -> hosts), which Outlook ``showAs`` values block time, and the
claim granule. :func:`parse_business_config` validates a parsed document and raises
:class:`BusinessConfigError`, whose problems name the exact field (``hosts[2].working_hours[1].hours[0]``)
and say what is wrong with it. ``shared.config.load_business_config(path)`` reads the file.

Conventions of the file: durations are whole minutes (``duration_minutes: 60``); working hours are
``"HH:MM-HH:MM"`` ranges in the host's own IANA zone, an end at or before the start runs past midnight
(``"22:00-06:00"``) and ``24:00`` is the end of the day; ``days`` accepts ``mon-fri``, ``mon,wed,fri`` or a
list; time off without an offset is the host's local time.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, ValidationError,
                      field_validator, model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from shared.domain.timezones import UnknownTimeZoneError, wall_to_utc, zone

UTC = timezone.utc
ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[str, ...] = get_args(Weekday)
HostKind = Literal["person", "resource"]
LocationKind = Literal["onsite", "phone", "teams"]
RoutingPolicy = Literal["fixed", "dynamics_owner", "account_team", "territory", "skills", "round_robin"]
CustomerField = Literal["name", "phone", "email", "address", "postal_code", "notes"]
DEFAULT_BLOCKING_SHOW_AS: tuple[ShowAs, ...] = ("busy", "tentative", "oof")
# A granule must tile an hour, so granules line up with wall-clock hours in every zone we serve.
GRANULES = (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60)
MINUTES_PER_DAY = 24 * 60

_KEY = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_REMINDER = re.compile(r"^(evening_before|[1-9]\d{0,3}[mhd])$")
_QUIET = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
DEFAULT_REMINDERS = ("evening_before", "2h")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class BusinessConfigError(ValueError):
    """The business configuration is invalid; ``problems`` lists ``(field path, message)`` pairs."""

    def __init__(self, problems: list[tuple[str, str]], source: str | None = None):
        self.problems = problems
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"invalid business configuration{where}:\n{lines}")


# ---------------------------------------------------------------- small value types

@dataclass(frozen=True, slots=True, order=True)
class TimeRange:
    """A stretch of wall-clock time in minutes after local midnight; ``end`` > 1440 runs into the next day."""

    start: int
    end: int

    @property
    def crosses_midnight(self) -> bool:
        return self.end > MINUTES_PER_DAY

    def __str__(self) -> str:
        end = self.end - MINUTES_PER_DAY if self.crosses_midnight else self.end
        return f"{_clock(self.start)}-{_clock(end)}"


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes_of_day(text: str, *, allow_24: bool) -> int:
    match = _TIME.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a time of day like 08:30")
    hours, minutes = int(match[1]), int(match[2])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"{text!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _parse_time_range(value: Any) -> TimeRange:
    if isinstance(value, TimeRange):
        return value
    if not isinstance(value, str) or value.count("-") != 1:
        raise PydanticCustomError("time_range", "should be a range like \"08:00-12:00\", got {value!r}",
                                  {"value": value})
    first, second = value.split("-")
    try:
        start = _minutes_of_day(first, allow_24=False)
        end = _minutes_of_day(second, allow_24=True)
    except ValueError as exc:
        raise PydanticCustomError("time_range", str(exc)) from None
    if end == start:
        raise PydanticCustomError("time_range", "{value!r} is empty (start equals end)", {"value": value})
    if end < start:  # "22:00-06:00" is a night shift
        end += MINUTES_PER_DAY
    return TimeRange(start, end)


Hours = Annotated[TimeRange, BeforeValidator(_parse_time_range), PlainSerializer(str, return_type=str)]


def _parse_days(value: Any) -> Any:
    """``mon-fri``, ``mon,wed,fri``, ``sat`` or a list of day names."""
    if isinstance(value, str):
        days: list[str] = []
        for part in (piece.strip().lower() for piece in value.split(",")):
            if "-" in part:
                first, last = (end.strip() for end in part.split("-", 1))
                if first not in WEEKDAYS or last not in WEEKDAYS:
                    raise PydanticCustomError("weekday", "{part!r} is not a day range like mon-fri",
                                              {"part": part})
                i, j = WEEKDAYS.index(first), WEEKDAYS.index(last)
                days.extend(WEEKDAYS[i:j + 1] if i <= j else WEEKDAYS[i:] + WEEKDAYS[:j + 1])
            else:
                days.append(part)
        return days
    if isinstance(value, list):
        return [day.strip().lower() if isinstance(day, str) else day for day in value]
    return value


def _postal(value: str) -> str:
    """Postal codes compare without spaces, in capitals (``sw1a 1aa`` == ``SW1A1AA``)."""
    return re.sub(r"\s+", "", value).upper()


def _postal_patterns(value: tuple[str, ...]) -> tuple[str, ...]:
    codes = tuple(_postal(code) for code in value)
    for code in codes:
        if not re.fullmatch(r"[A-Z0-9-]+\*?", code):
            raise ValueError(f"{code!r} is not a postal code or prefix such as 60614 or 606*")
    return codes


def _check_zone(value: str) -> str:
    try:
        zone(value)
    except UnknownTimeZoneError:
        raise ValueError(f"{value!r} is not an IANA time zone (e.g. America/Chicago)") from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


def _fail(loc: tuple, kind: str, message: str, value: Any = None) -> InitErrorDetails:
    return InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value)


def _raise(title: str, problems: list[InitErrorDetails]) -> None:
    if problems:
        raise ValidationError.from_exception_data(title, problems)


# ---------------------------------------------------------------- hosts

class WorkingHours(_Model):
    """A weekly rule: on these days, these ranges (several for a lunch break)."""

    days: Annotated[tuple[Weekday, ...], BeforeValidator(_parse_days)] = Field(min_length=1)
    hours: tuple[Hours, ...] = Field(min_length=1)


class DateOverride(_Model):
    """A date whose hours replace the weekly rules (``hours: []`` is a day off)."""

    date: date
    hours: tuple[Hours, ...] = ()
    reason: str | None = None


class TimeOff(_Model):
    """Time the host is away; without an offset, start and end are the host's local time."""

    start: datetime
    end: datetime
    reason: str | None = None


class Host(_Model):
    """Someone (or something: a truck, a service bay) that can be booked, with its own Outlook mailbox."""

    id: str = Field(pattern=_KEY, description="Stable id: lower-case letters, digits, - and _.")
    display_name: str = Field(min_length=1, max_length=200)
    kind: HostKind = "person"
    mailbox: str = Field(description="The Outlook mailbox (UPN or SMTP address) holding the calendar.")
    time_zone: str = Field(description="IANA zone of the working hours (defaults to the business's).")
    working_hours: tuple[WorkingHours, ...] = ()
    date_overrides: tuple[DateOverride, ...] = ()
    time_off: tuple[TimeOff, ...] = ()
    skills: tuple[str, ...] = ()
    territory: str | None = Field(None, description="Key of the host's home territory.")
    dynamics_systemuser_id: str | None = Field(None, description="Dataverse systemuserid of this host.")
    daily_limit: int | None = Field(None, ge=1, description="Most bookings a day, all event types together.")
    active: bool = True

    @field_validator("mailbox")
    @classmethod
    def _mailbox_is_address(cls, value: str) -> str:
        if not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not a mailbox address like dana@contoso.com")
        return value.lower()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("dynamics_systemuser_id")
    @classmethod
    def _guid(cls, value: str | None) -> str | None:
        if value is not None and not _GUID.match(value):
            raise ValueError(f"{value!r} is not a GUID like 00000000-0000-0000-0000-000000000000")
        return value.lower() if value else value

    @field_validator("skills")
    @classmethod
    def _skills_lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(skill.strip().lower() for skill in value)

    @model_validator(mode="after")
    def _rules_make_sense(self) -> "Host":
        problems: list[InitErrorDetails] = []
        problems += _weekly_overlaps(self.working_hours)
        seen: dict[date, int] = {}
        for index, override in enumerate(self.date_overrides):
            if override.date in seen:
                earlier = f"date_overrides[{seen[override.date]}]"
                problems.append(_fail(("date_overrides", index, "date"), "duplicate",
                                      f"{override.date} is already overridden by {earlier}"))
            seen[override.date] = index
            problems += _range_overlaps(override.hours, ("date_overrides", index, "hours"))
        for index, off in enumerate(self.time_off):
            start, end = _aware(off.start, self.zone), _aware(off.end, self.zone)
            if end <= start:
                problems.append(_fail(("time_off", index, "end"), "order", "must be after start"))
        _raise("Host", problems)
        return self

    # ------------------------------------------------------------ derived, for the slot engine

    @functools.cached_property
    def zone(self) -> ZoneInfo:
        return zone(self.time_zone)

    @functools.cached_property
    def weekly(self) -> tuple[tuple[TimeRange, ...], ...]:
        """Monday..Sunday: the sorted ranges that start on that weekday."""
        days: list[list[TimeRange]] = [[] for _ in WEEKDAYS]
        for rule in self.working_hours:
            for day in rule.days:
                days[WEEKDAYS.index(day)].extend(rule.hours)
        return tuple(tuple(sorted(ranges)) for ranges in days)

    @functools.cached_property
    def overrides(self) -> Mapping[int, tuple[TimeRange, ...]]:
        """Proleptic ordinal of a date -> the ranges that replace its weekly hours."""
        return {override.date.toordinal(): tuple(sorted(override.hours)) for override in self.date_overrides}

    @functools.cached_property
    def time_off_utc(self) -> tuple[tuple[datetime, datetime], ...]:
        """Time off as sorted aware UTC ``[start, end)`` pairs."""
        return tuple(sorted((_aware(off.start, self.zone), _aware(off.end, self.zone)) for off in self.time_off))

    def ranges_on(self, day: date) -> tuple[TimeRange, ...]:
        """The working ranges starting on local ``day``: its override if any, else the weekly rules."""
        override = self.overrides.get(day.toordinal())
        return override if override is not None else self.weekly[day.weekday()]

    def is_on_time_off(self, instant: datetime) -> bool:
        """Whether the aware ``instant`` falls in some time off (a handful per host: a scan is fine)."""
        return any(start <= instant < end for start, end in self.time_off_utc)


def _aware(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else wall_to_utc(value, tz)


def _range_overlaps(ranges: Iterable[TimeRange], loc: tuple) -> list[InitErrorDetails]:
    problems = []
    ordered = sorted((item, index) for index, item in enumerate(ranges))
    for (previous, _), (current, index) in zip(ordered, ordered[1:]):
        if current.start < previous.end:
            problems.append(_fail(loc + (index,), "overlap", f"{current} overlaps {previous}", str(current)))
    return problems


def _weekly_overlaps(rules: tuple[WorkingHours, ...]) -> list[InitErrorDetails]:
    """Weekly ranges may not overlap, also across midnight into the next day and Sunday into Monday."""
    week = 7 * MINUTES_PER_DAY
    placed: list[tuple[int, int, int, int, str]] = []  # week minute start, end, rule, hour index, text
    for rule_index, rule in enumerate(rules):
        for day in rule.days:
            offset = WEEKDAYS.index(day) * MINUTES_PER_DAY
            for hour_index, item in enumerate(rule.hours):
                placed.append((offset + item.start, offset + item.end, rule_index, hour_index, f"{day} {item}"))
    placed.sort()
    problems: list[InitErrorDetails] = []
    reported: set[tuple[int, int]] = set()
    for i, (start, end, rule_index, hour_index, text) in enumerate(placed):
        later = placed[i + 1:] + [(s + week, e + week, r, h, t) for s, e, r, h, t in placed[:i]]
        for other_start, _, other_rule, other_hour, other_text in later:
            if other_start >= end:
                break
            key = max((rule_index, hour_index), (other_rule, other_hour))
            if key in reported:
                continue
            reported.add(key)
            loc = ("working_hours", key[0], "hours", key[1])
            first, second = (text, other_text) if key == (other_rule, other_hour) else (other_text, text)
            problems.append(_fail(loc, "overlap", f"{second} overlaps {first}"))
    return problems


# ---------------------------------------------------------------- event types

class Routing(_Model):
    """How a booking of an event type finds its host.

    ``policy`` picks the candidates (``fixed``: the one host in ``hosts``; ``dynamics_owner``: the host
    who owns the caller's Dynamics record; ``account_team``: hosts named by the booking; ``territory``:
    hosts serving the caller's postal code; ``skills``/``round_robin``: every eligible host); round robin
    then picks among the available candidates. ``fallback`` policies are tried in order when the policy
    leaves nobody. ``hosts`` limits who is eligible at all (empty: every active host) and ``skills`` are
    required of every candidate.
    """

    policy: RoutingPolicy = "round_robin"
    fallback: Annotated[tuple[RoutingPolicy, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = ()
    hosts: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()

    @field_validator("skills")
    @classmethod
    def _skills_lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(skill.strip().lower() for skill in value)

    @model_validator(mode="after")
    def _policy_has_what_it_needs(self) -> "Routing":
        problems: list[InitErrorDetails] = []
        if self.policy == "fixed" and len(self.hosts) != 1:
            problems.append(_fail(("hosts",), "fixed", "policy 'fixed' needs exactly one host"))
        if "fixed" in self.fallback and len(self.hosts) != 1:
            problems.append(_fail(("fallback",), "fixed", "fallback 'fixed' needs exactly one host in hosts"))
        if self.policy == "skills" and not self.skills:
            problems.append(_fail(("skills",), "skills", "policy 'skills' needs at least one skill"))
        chain = (self.policy,) + self.fallback
        for index, policy in enumerate(self.fallback):
            if policy in chain[:index + 1]:
                problems.append(_fail(("fallback", index), "duplicate", f"{policy!r} is already tried before"))
        _raise("Routing", problems)
        return self

    @property
    def chain(self) -> tuple[RoutingPolicy, ...]:
        return (self.policy,) + self.fallback


class EventType(_Model):
    """Something callers book: a service visit, a phone consultation, an estimate."""

    key: str = Field(pattern=_KEY)
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    duration_minutes: int = Field(ge=1, le=MINUTES_PER_DAY)
    slot_interval_minutes: int | None = Field(None, ge=1, le=MINUTES_PER_DAY,
                                              description="Spacing of offered starts; defaults to the duration.")
    buffer_before_minutes: int = Field(0, ge=0, le=MINUTES_PER_DAY)
    buffer_after_minutes: int = Field(0, ge=0, le=MINUTES_PER_DAY)
    minimum_notice_minutes: int = Field(0, ge=0, le=365 * MINUTES_PER_DAY)
    maximum_advance_days: int = Field(60, ge=1, le=730)
    daily_limit: int | None = Field(None, ge=1, description="Most bookings of this type per host per local day.")
    location_kind: LocationKind = "onsite"
    required_fields: tuple[CustomerField, ...] = Field(
        None, validate_default=False, description="Defaults to name and phone, plus address when on site.")
    routing: Routing = Routing()
    caller_phrases: tuple[str, ...] = Field((), description="Words callers use for it (for the receptionist).")
    topics: tuple[str, ...] | None = Field(None, description="Built-in vocabulary topics this type covers "
                                                             "(shared/domain/understanding/vocabulary.py); unset: "
                                                             "inferred from its name, description and skills.")
    emergency: bool = False
    reminders: tuple[str, ...] = Field(DEFAULT_REMINDERS, description="Reminder texts to the customer: "
                                       "'evening_before' (18:00 their time the day before) and/or lead times "
                                       "such as '2h', '90m', '1d'; [] sends none (shared/services/reminders.py).")

    @field_validator("reminders")
    @classmethod
    def _known_reminders(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for spec in value:
            if not _REMINDER.match(spec):
                raise ValueError(f"{spec!r} is not a reminder: use 'evening_before' or a lead time like '2h', "
                                 "'90m', '1d'")
        return tuple(dict.fromkeys(value))

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        from shared.domain.understanding.vocabulary import NOT_OFFERED, TOPICS  # pure data, no cycle

        known = {*TOPICS, *NOT_OFFERED}
        unknown = [name for name in value or () if name not in known]
        if unknown:
            raise ValueError(f"unknown topic {unknown[0]!r}" + _known(known))
        return value

    @model_validator(mode="before")
    @classmethod
    def _defaults_follow_other_fields(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("slot_interval_minutes") is None and "duration_minutes" in data:
            data["slot_interval_minutes"] = data["duration_minutes"]
        if data.get("required_fields") is None:
            onsite = data.get("location_kind", "onsite") == "onsite"
            data["required_fields"] = ("name", "phone", "address") if onsite else ("name", "phone")
        return data

    @model_validator(mode="after")
    def _onsite_needs_an_address(self) -> "EventType":
        problems = []
        if self.location_kind == "onsite" and "address" not in self.required_fields:
            problems.append(_fail(("required_fields",), "onsite",
                                  "an on-site event type must require 'address' (where to send the technician)"))
        _raise("EventType", problems)
        return self

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def slot_interval(self) -> timedelta:
        return timedelta(minutes=self.slot_interval_minutes or self.duration_minutes)

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)

    @property
    def minimum_notice(self) -> timedelta:
        return timedelta(minutes=self.minimum_notice_minutes)

    @property
    def maximum_advance(self) -> timedelta:
        return timedelta(days=self.maximum_advance_days)


# ---------------------------------------------------------------- territories and the business

class Territory(_Model):
    """An area served by some hosts. Codes ending in ``*`` are prefixes (``606*``)."""

    key: str = Field(pattern=_KEY)
    name: str = Field(min_length=1)
    postal_codes: tuple[str, ...] = Field(min_length=1)
    hosts: tuple[str, ...] = Field((), description="Hosts serving it besides those whose territory it is.")

    @field_validator("postal_codes")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _postal_patterns(value)


class Business(_Model):
    name: str = Field(min_length=1, max_length=200)
    time_zone: str
    phone: str | None = Field(None, description="The business line in E.164.")
    email: str | None = Field(None, description="Where owner notifications go.")
    service_area: tuple[str, ...] = Field((), description="Postal codes or prefixes served; empty: anywhere.")
    quiet_hours: str | None = Field("21:00-08:00", description="No reminder or offer texts in this range of the "
                                                               "customer's local time ('HH:MM-HH:MM'); null: none.")

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_range(cls, value: str | None) -> str | None:
        if value is not None and not _QUIET.match(value):
            raise ValueError(f"{value!r} is not a range like '21:00-08:00'")
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return _check_zone(value)

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not _E164.match(value):
            raise ValueError(f"{value!r} is not an E.164 number such as +13125550100")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not _EMAIL.match(value):
            raise ValueError(f"{value!r} is not an e-mail address")
        return value

    @field_validator("service_area")
    @classmethod
    def _normalise(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _postal_patterns(value)


class NotOffered(_Model):
    """Work this business does not do, and how callers describe it (the receptionist says so, takes a message)."""

    name: str = Field(min_length=1, max_length=100, description="What to call it to the caller: 'roof repair'.")
    phrases: tuple[str, ...] = Field((), description="How callers describe it; empty: just the name.")


class Vocabulary(_Model):
    """How callers talk about the work, beyond each event type's ``caller_phrases`` and ``topics``."""

    builtin: bool = Field(True, description="Use the built-in vocabulary of the trades (plumbing, HVAC, "
                                            "electrical) and of work such a business usually does not do.")
    not_offered: tuple[NotOffered, ...] = Field((), description="More work this business does not do.")
    mishearings: dict[str, str] = Field(default_factory=dict, description="Speech-recognition errors: words "
                                                                          "heard -> words meant ('fossette': "
                                                                          "'faucet').")

    def __hash__(self) -> int:  # frozen, but a dict field: hash its items (the parser caches per vocabulary)
        return hash((self.builtin, self.not_offered, tuple(sorted(self.mishearings.items()))))


class BusinessConfig(_Model):
    """The whole business configuration (see the module docstring)."""

    business: Business
    claim_granule_minutes: int = Field(5, description="Granule of time claims; a divisor of 60.")
    blocking_show_as: tuple[ShowAs, ...] = Field(DEFAULT_BLOCKING_SHOW_AS,
                                                 description="Outlook showAs values that make time busy.")
    hosts: tuple[Host, ...] = Field(min_length=1)
    event_types: tuple[EventType, ...] = Field(min_length=1)
    territories: tuple[Territory, ...] = ()
    vocabulary: Vocabulary = Vocabulary()

    @model_validator(mode="before")
    @classmethod
    def _hosts_default_to_business_zone(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("business"), dict) and isinstance(data.get("hosts"), list):
            business_zone = data["business"].get("time_zone")
            if business_zone:
                data = {**data, "hosts": [{"time_zone": business_zone, **host} if isinstance(host, dict) else host
                                          for host in data["hosts"]]}
        return data

    @field_validator("claim_granule_minutes")
    @classmethod
    def _granule_tiles_an_hour(cls, value: int) -> int:
        if value not in GRANULES:
            raise ValueError(f"must divide an hour: one of {', '.join(map(str, GRANULES))}")
        return value

    @model_validator(mode="after")
    def _references_resolve(self) -> "BusinessConfig":
        problems: list[InitErrorDetails] = []
        problems += _duplicates(self.hosts, "hosts", "id")
        problems += _duplicates(self.hosts, "hosts", "mailbox")
        problems += _duplicates([h for h in self.hosts if h.dynamics_systemuser_id], "hosts",
                                "dynamics_systemuser_id", self.hosts)
        problems += _duplicates(self.event_types, "event_types", "key")
        problems += _duplicates(self.territories, "territories", "key")
        problems += self._granule_problems()
        host_ids = {host.id for host in self.hosts}
        territory_keys = {territory.key for territory in self.territories}
        skills = {skill for host in self.hosts for skill in host.skills}
        for index, host in enumerate(self.hosts):
            if host.territory is not None and host.territory not in territory_keys:
                problems.append(_fail(("hosts", index, "territory"), "unknown_territory",
                                      f"unknown territory {host.territory!r}" + _known(territory_keys)))
        owner: dict[str, str] = {}
        for index, territory in enumerate(self.territories):
            for host_index, host_id in enumerate(territory.hosts):
                if host_id not in host_ids:
                    problems.append(_fail(("territories", index, "hosts", host_index), "unknown_host",
                                          f"unknown host {host_id!r}" + _known(host_ids)))
            for code_index, code in enumerate(territory.postal_codes):
                if code in owner and owner[code] != territory.key:
                    problems.append(_fail(("territories", index, "postal_codes", code_index), "duplicate",
                                          f"{code} is already in territory {owner[code]!r}"))
                owner.setdefault(code, territory.key)
        for index, event_type in enumerate(self.event_types):
            loc = ("event_types", index, "routing")
            for host_index, host_id in enumerate(event_type.routing.hosts):
                if host_id not in host_ids:
                    problems.append(_fail(loc + ("hosts", host_index), "unknown_host",
                                          f"unknown host {host_id!r}" + _known(host_ids)))
            for skill_index, skill in enumerate(event_type.routing.skills):
                if skill not in skills:
                    problems.append(_fail(loc + ("skills", skill_index), "unknown_skill",
                                          f"no host has skill {skill!r}" + _known(skills)))
            if "territory" in event_type.routing.chain and not self.territories:
                problems.append(_fail(loc + ("policy",), "no_territories",
                                      "policy 'territory' needs territories, and none are configured"))
        _raise("BusinessConfig", problems)
        return self

    def _granule_problems(self) -> list[InitErrorDetails]:
        granule = self.claim_granule_minutes
        problems: list[InitErrorDetails] = []

        def check(loc: tuple, minutes: int | None, what: str) -> None:
            if minutes is not None and minutes % granule:
                problems.append(_fail(loc, "granule", f"{what} {minutes} is not a multiple of the "
                                                      f"{granule}-minute claim granule"))

        for index, event_type in enumerate(self.event_types):
            for name in ("duration_minutes", "slot_interval_minutes", "buffer_before_minutes",
                         "buffer_after_minutes"):
                check(("event_types", index, name), getattr(event_type, name), name.removesuffix("_minutes"))
        for index, host in enumerate(self.hosts):
            ranges = [(("working_hours", r, "hours", h), item) for r, rule in enumerate(host.working_hours)
                      for h, item in enumerate(rule.hours)]
            ranges += [(("date_overrides", o, "hours", h), item) for o, override in enumerate(host.date_overrides)
                       for h, item in enumerate(override.hours)]
            for loc, item in ranges:
                if item.start % granule or item.end % granule:
                    problems.append(_fail(("hosts", index) + loc, "granule",
                                          f"{item} does not start and end on the {granule}-minute claim granule"))
        return problems

    # ------------------------------------------------------------ look-ups

    @functools.cached_property
    def hosts_by_id(self) -> Mapping[str, Host]:
        return {host.id: host for host in self.hosts}

    @functools.cached_property
    def event_types_by_key(self) -> Mapping[str, EventType]:
        return {event_type.key: event_type for event_type in self.event_types}

    def host(self, host_id: str) -> Host:
        """The host with this id, or ``KeyError``."""
        return self.hosts_by_id[host_id]

    def event_type(self, key: str) -> EventType:
        """The event type with this key, or ``KeyError``."""
        return self.event_types_by_key[key]

    def territory_for(self, postal_code: str | None) -> Territory | None:
        """The territory serving ``postal_code``: an exact code first, then the longest prefix."""
        if not postal_code:
            return None
        code = _postal(postal_code)
        best: tuple[int, Territory] | None = None
        for territory in self.territories:
            for pattern in territory.postal_codes:
                if pattern == code:
                    return territory
                if pattern.endswith("*") and code.startswith(pattern[:-1]):
                    if best is None or len(pattern) > best[0]:
                        best = (len(pattern), territory)
        return best[1] if best else None

    def territory_hosts(self, territory: Territory) -> tuple[Host, ...]:
        """Hosts whose home is ``territory`` plus those it names, in configuration order."""
        named = set(territory.hosts)
        return tuple(host for host in self.hosts if host.territory == territory.key or host.id in named)

    def serves(self, postal_code: str | None) -> bool:
        """Whether the business works at ``postal_code`` (an empty service area serves everywhere)."""
        area = self.business.service_area
        if not area:
            return True
        if not postal_code:
            return False
        code = _postal(postal_code)
        return any(code == p or (p.endswith("*") and code.startswith(p[:-1])) for p in area)

    def eligible_hosts(self, event_type: EventType) -> tuple[Host, ...]:
        """Active hosts allowed to take ``event_type`` (its ``routing.hosts``) having all its skills."""
        allowed = set(event_type.routing.hosts)
        needed = set(event_type.routing.skills)
        return tuple(host for host in self.hosts if host.active and (not allowed or host.id in allowed)
                     and needed.issubset(host.skills))


def _known(names: Iterable[str]) -> str:
    names = sorted(names)
    return f" (known: {', '.join(names)})" if names and len(names) <= 20 else ""


def _duplicates(items, plural: str, attribute: str, all_items=None) -> list[InitErrorDetails]:
    problems = []
    first: dict[Any, int] = {}
    position = {id(item): index for index, item in enumerate(all_items if all_items is not None else items)}
    for item in items:
        value, index = getattr(item, attribute), position[id(item)]
        if value in first:
            problems.append(_fail((plural, index, attribute), "duplicate",
                                  f"{value!r} is already used by {plural}[{first[value]}]"))
        else:
            first[value] = index
    return problems


# ---------------------------------------------------------------- parsing with friendly errors

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field (check the spelling)",
}


def error_path(loc: tuple, data: Any) -> str:
    """``('hosts', 2, 'working_hours', 0)`` -> ``hosts[2].working_hours[0]``, skipping pydantic's type tags."""
    path, node = "", data
    for position, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, list) and 0 <= part < len(node) else None
        elif (isinstance(node, dict) and part in node) or position == len(loc) - 1 or not _is_type_tag(part):
            path += f".{part}" if path else part
            node = node.get(part) if isinstance(node, dict) else None
        # else: a tag such as 'function-after[...]' names a validator, not a field
    return path or "(top level)"


def _is_type_tag(part: str) -> bool:
    return "[" in part or part in {"str", "int", "float", "bool", "list", "dict", "tuple", "date", "datetime",
                                   "none", "is-instance", "function-after", "function-before", "function-plain"}


def _message(error: dict) -> str:
    if error["type"] in _MESSAGES:
        return _MESSAGES[error["type"]]
    return str(error.get("msg", "is invalid")).removeprefix("Value error, ").removeprefix("Assertion failed, ")


def parse_business_config(data: Any, source: str | None = None) -> BusinessConfig:
    """Validate a parsed configuration document, or raise :class:`BusinessConfigError` naming each field."""
    if not isinstance(data, dict):
        raise BusinessConfigError([("(top level)", "should be a mapping with business, hosts and event_types")],
                                  source)
    try:
        return BusinessConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            problem = (error_path(tuple(error.get("loc", ())), data), _message(error))
            if problem not in problems:
                problems.append(problem)
        raise BusinessConfigError(problems, source) from None
