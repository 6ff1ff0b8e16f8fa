"""The booking API's query and response models, and how validation errors become field-precise details.

Requests are validated with pydantic (``BookingRequest`` from ``shared.services.contracts`` for
``POST /api/bookings``, the models here for the rest); a ``ValidationError`` becomes a 422 whose
``details`` list each field path in the request's own camelCase (``customer.phone``) with a message.
Responses are built from these models too, so the OpenAPI document (``triggers/openapi.py``) is
generated from the same classes the code uses.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, ConfigDict, Field, ValidationError, ValidationInfo,
                      field_validator, model_validator)
from pydantic.alias_generators import to_camel

from shared.domain.availability import Slot
from shared.domain.booking import Booking, CamelModel, as_utc
from shared.domain.business import Business, BusinessConfig, EventType
from shared.domain.text import PlainText, SingleLineText
from shared.domain.timezones import UnknownTimeZoneError, render, wall_to_utc, windows_to_iana, zone

UTC = timezone.utc
MAX_AVAILABILITY_WINDOW = timedelta(days=31)
DEFAULT_AVAILABILITY_WINDOW = timedelta(days=7)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces, like Stripe's keys
# Every instant a request carries must lie in this range. Far wider than anything bookable (the maximum
# advance is in days), it keeps all arithmetic on it (zones, windows, buffers) inside datetime's years
# 1-9999, so a date near the calendar's limits is a 422 naming the field, never an OverflowError.
EARLIEST_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(3000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = f"must be between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d} (UTC)"

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field (check the spelling)",
    "model_type": "should be a JSON object",
    "model_attributes_type": "should be a JSON object",
    "dict_type": "should be a JSON object",
}


# ---------------------------------------------------------------- validation errors

def field_path(loc: tuple) -> str:
    """``('customer', 'phone')`` -> ``customer.phone``; list positions as ``[0]``; validator tags dropped."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif "[" in str(part) or str(part).startswith("function-"):
            continue  # a tag such as 'function-after[_utc()]' names a validator, not a field
        else:
            path += f".{part}" if path else str(part)
    return path or "(body)"


def validation_details(error: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One ``{"field", "message", "type"}`` per problem, without echoing the input (it may be personal data)."""
    details: list[dict[str, str]] = []
    for item in error.errors(include_input=False, include_url=False):
        message = _MESSAGES.get(item["type"]) or _length_message(item) or str(item.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        path = field_path(tuple(item.get("loc", ())))
        if prefix:
            path = prefix if path == "(body)" else f"{prefix}.{path}"
        detail = {"field": path, "message": message, "type": item["type"]}
        if detail not in details:
            details.append(detail)
    return details


def _length_message(item: dict) -> str | None:
    """Length limits of text checked after a text rule (pydantic then words them for any "Value")."""
    ctx = item.get("ctx") or {}
    if item["type"] == "too_short" and ctx.get("field_type") == "Value":
        return f"should have at least {ctx.get('min_length')} character(s)"
    if item["type"] == "too_long" and ctx.get("field_type") == "Value":
        return f"should have at most {ctx.get('max_length')} characters"
    return None


def customer_field(name: str) -> str:
    """A configuration customer field (``postal_code``) as the API spells it (``postalCode``)."""
    return to_camel(name)


# ---------------------------------------------------------------- instants

def _in_range(value: datetime) -> datetime:
    """``value`` in UTC when it lies in [EARLIEST_INSTANT, LATEST_INSTANT), else a ValueError naming the range."""
    wall = value.replace(tzinfo=None)
    slack = timedelta(days=1)  # no UTC offset is larger: a wall time this far out is out of range in any zone
    if not EARLIEST_INSTANT.replace(tzinfo=None) - slack < wall < LATEST_INSTANT.replace(tzinfo=None) + slack:
        raise ValueError(OUT_OF_RANGE)  # decided before converting, which could overflow near year 1 or 9999
    utc = as_utc(value)  # a naive time is refused here
    if not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise ValueError(OUT_OF_RANGE)
    return utc


ApiInstant = Annotated[datetime, AfterValidator(_in_range)]
"""An instant in a request: ISO 8601 with an offset, converted to UTC, between 1970 and 3000."""


# ---------------------------------------------------------------- event types

class BusinessView(CamelModel):
    name: str
    time_zone: str
    phone: str | None = None

    @classmethod
    def of(cls, business: Business) -> "BusinessView":
        return cls(name=business.name, time_zone=business.time_zone, phone=business.phone)


class EventTypeView(CamelModel):
    """What a client needs to offer an event type and collect the right details."""

    key: str
    name: str
    description: str = ""
    duration_minutes: int
    slot_interval_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    minimum_notice_minutes: int
    maximum_advance_days: int
    location_kind: Literal["onsite", "phone", "teams"]
    required_fields: list[str] = Field(description="customer fields the booking must carry (camelCase)")
    host_ids: list[str] = Field(description="hosts that may take it (a pool when more than one)")
    emergency: bool = False

    @classmethod
    def of(cls, event_type: EventType, config: BusinessConfig) -> "EventTypeView":
        return cls(key=event_type.key, name=event_type.name, description=event_type.description,
                   duration_minutes=event_type.duration_minutes,
                   slot_interval_minutes=event_type.slot_interval_minutes or event_type.duration_minutes,
                   buffer_before_minutes=event_type.buffer_before_minutes,
                   buffer_after_minutes=event_type.buffer_after_minutes,
                   minimum_notice_minutes=event_type.minimum_notice_minutes,
                   maximum_advance_days=event_type.maximum_advance_days, location_kind=event_type.location_kind,
                   required_fields=[customer_field(name) for name in event_type.required_fields],
                   host_ids=[host.id for host in config.eligible_hosts(event_type)], emergency=event_type.emergency)


class EventTypesResponse(CamelModel):
    business: BusinessView
    event_types: list[EventTypeView]


# ---------------------------------------------------------------- availability

def _instant(value: Any, time_zone: str, end_of_day: bool = False) -> Any:
    """A query instant: ISO 8601 with offset, or a bare date meaning that local midnight (the next one for ends)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        day = date.fromisoformat(text)  # ValueError for 2026-02-30: reported on the field
        if not EARLIEST_INSTANT.date() < day < LATEST_INSTANT.date() - timedelta(days=1):
            raise ValueError(OUT_OF_RANGE)  # before any arithmetic, so 9999-12-31 + 1 day never overflows
        day += timedelta(days=1) if end_of_day else timedelta(0)
        return wall_to_utc(datetime.combine(day, time()), zone(time_zone))
    return text


class AvailabilityQuery(BaseModel):
    """``GET /api/availability`` query: ``eventType`` and a window, optionally a host, zone and postal code."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              str_strip_whitespace=True, frozen=True)

    # Validated in this order: the zone first, since bare dates in start and end are days in it.
    event_type: PlainText = Field(min_length=1, max_length=100)
    time_zone: str | None = Field(None, max_length=64, description="IANA zone the slots are shown in")
    start: ApiInstant | None = Field(None, description="ISO 8601 with offset, or a date (local midnight)")
    end: ApiInstant | None = Field(None, description="ISO 8601 with offset, or a date (its end)")
    host_id: PlainText | None = Field(None, min_length=1, max_length=100)
    postal_code: PlainText | None = Field(None, max_length=20, description="narrows a territory-routed pool")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            zone(windows_to_iana(value))
        except UnknownTimeZoneError:
            raise ValueError(f"{value!r} is not an IANA time zone such as America/Chicago") from None
        return windows_to_iana(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _dates_are_local_days(cls, value: Any, info: ValidationInfo) -> Any:
        """Bare dates are days in ``timeZone`` (else the business's zone, passed as validation context)."""
        fallback = (info.context or {}).get("business_zone") or "UTC"
        # An invalid timeZone is not in info.data (its own error is reported): fall back to the business's.
        return _instant(value, info.data.get("time_zone") or fallback, end_of_day=info.field_name == "end")

    @field_validator("end")
    @classmethod
    def _window_is_sane(cls, end: datetime | None, info: ValidationInfo) -> datetime | None:
        """``end`` after the window's start (now, when it is omitted: the ``now`` context) and within 31 days."""
        if end is None or "start" not in info.data:
            return end  # no end, or the start was invalid (its own error is reported)
        start = info.data["start"] or (info.context or {}).get("now")
        if start is None:
            return end
        if end <= start:
            raise ValueError("must be after start" + (" (now, when start is omitted)" if not info.data["start"] else ""))
        if end - start > MAX_AVAILABILITY_WINDOW:
            raise ValueError(f"must be at most {MAX_AVAILABILITY_WINDOW.days} days after start")
        return end

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The window asked for; a missing start is now, a missing end a week after the start."""
        start = self.start or now.replace(microsecond=0)
        end = self.end or start + DEFAULT_AVAILABILITY_WINDOW
        return start, end


class SlotView(CamelModel):
    start: str = Field(description="ISO 8601 with the offset of the requested zone")
    end: str
    host_ids: list[str] = Field(description="the hosts free for this slot")

    @classmethod
    def of(cls, slot: Slot, time_zone: str) -> "SlotView":
        return cls(start=render(slot.start, time_zone), end=render(slot.end, time_zone), host_ids=list(slot.host_ids))


class AvailabilityResponse(CamelModel):
    event_type: str
    time_zone: str
    start: str
    end: str
    slots: list[SlotView]


# ---------------------------------------------------------------- bookings

class CancelRequest(CamelModel):
    """``POST /api/bookings/{id}/cancel`` body (optional)."""

    reason: SingleLineText | None = Field(None, max_length=500, description="line breaks become spaces")
    notify_customer: bool = True


class RescheduleRequest(CamelModel):
    """``POST /api/bookings/{id}/reschedule`` body."""

    start: ApiInstant = Field(description="the new start, ISO 8601 with offset")
    host_id: PlainText | None = Field(None, min_length=1, max_length=100,
                                      description="move to this host (must be eligible)")


class PendingResponse(CamelModel):
    """202: the request is being worked on; poll ``statusUrl`` (``GET /api/bookings/{id}``)."""

    booking_id: str
    status: Literal["pending"] = "pending"
    stage: str | None = None
    status_url: str


def booking_view(booking: Booking) -> dict[str, Any]:
    """The booking's JSON (camelCase) with its own time shown in the customer's zone."""
    payload = booking.model_dump(mode="json", by_alias=True)
    payload["start"] = render(booking.start, booking.time_zone)
    payload["end"] = render(booking.end, booking.time_zone)
    return payload


# ---------------------------------------------------------------- errors

class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    field: str | None = Field(None, description="the request field, as a path (customer.phone)")
    message: str | None = None
    type: str | None = None


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="machine-readable: malformed_json, validation_failed, slot_unavailable, ...")
    message: str
    details: list[ErrorDetail | dict[str, Any]] = []
    alternatives: list[SlotView] | None = Field(None, description="409: the offered slots nearest the requested time")


class ErrorResponse(BaseModel):
    error: ErrorInfo
