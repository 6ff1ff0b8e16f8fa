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
from typing import Any, Literal

from pydantic import (BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
                      model_validator)
from pydantic.alias_generators import to_camel

from shared.domain.availability import Slot
from shared.domain.booking import Booking, CamelModel, UtcDatetime
from shared.domain.business import Business, BusinessConfig, EventType
from shared.domain.timezones import UnknownTimeZoneError, render, wall_to_utc, windows_to_iana, zone

UTC = timezone.utc
MAX_AVAILABILITY_WINDOW = timedelta(days=31)
DEFAULT_AVAILABILITY_WINDOW = timedelta(days=7)
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces, like Stripe's keys

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
        message = _MESSAGES.get(item["type"]) or str(item.get("msg", "is invalid"))
        message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
        path = field_path(tuple(item.get("loc", ())))
        if prefix:
            path = prefix if path == "(body)" else f"{prefix}.{path}"
        detail = {"field": path, "message": message, "type": item["type"]}
        if detail not in details:
            details.append(detail)
    return details


def customer_field(name: str) -> str:
    """A configuration customer field (``postal_code``) as the API spells it (``postalCode``)."""
    return to_camel(name)


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
        day = date.fromisoformat(text) + (timedelta(days=1) if end_of_day else timedelta(0))
        return wall_to_utc(datetime.combine(day, time()), zone(time_zone))
    return text


class AvailabilityQuery(BaseModel):
    """``GET /api/availability`` query: ``eventType`` and a window, optionally a host, zone and postal code."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore",
                              str_strip_whitespace=True, frozen=True)

    event_type: str = Field(min_length=1, max_length=100)
    start: UtcDatetime | None = Field(None, description="ISO 8601 with offset, or a date (local midnight)")
    end: UtcDatetime | None = Field(None, description="ISO 8601 with offset, or a date (its end)")
    time_zone: str | None = Field(None, max_length=64, description="IANA zone the slots are shown in")
    host_id: str | None = Field(None, max_length=100)
    postal_code: str | None = Field(None, max_length=20, description="narrows a territory-routed pool")

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

    @model_validator(mode="before")
    @classmethod
    def _dates_are_local_days(cls, data: Any, info: ValidationInfo) -> Any:
        """Bare dates are days in ``timeZone`` (else the business's zone, passed as validation context)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        fallback = (info.context or {}).get("business_zone") or "UTC"
        tz = data.get("timeZone") or data.get("time_zone") or fallback
        try:
            tz = windows_to_iana(tz)
            zone(tz)
        except (UnknownTimeZoneError, TypeError):
            tz = fallback  # the zone's own error is reported by its field
        for name, is_end in (("start", False), ("end", True)):
            if name in data:
                data[name] = _instant(data[name], tz, is_end)
        return data

    @model_validator(mode="after")
    def _window_is_sane(self) -> "AvailabilityQuery":
        if self.start is not None and self.end is not None:
            if self.end <= self.start:
                raise ValueError("end must be after start")
            if self.end - self.start > MAX_AVAILABILITY_WINDOW:
                raise ValueError(f"the window may span at most {MAX_AVAILABILITY_WINDOW.days} days")
        return self

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

    reason: str | None = Field(None, max_length=500)
    notify_customer: bool = True


class RescheduleRequest(CamelModel):
    """``POST /api/bookings/{id}/reschedule`` body."""

    start: UtcDatetime = Field(description="the new start, ISO 8601 with offset")
    host_id: str | None = Field(None, max_length=100, description="move to this host (must be eligible)")


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
