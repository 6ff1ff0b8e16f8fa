"""The booking: what was booked, for whom, how it got there, and where its lifecycle stands.

A booking is born ``held`` (its time is claimed and a tentative Outlook event exists), becomes
``confirmed`` (the Outlook event is busy, notifications go out), and may then be rescheduled or
``cancelled``. A hold that is declined ends ``cancelled``, one that times out ``expired``, one whose
confirmation failed ``failed``. Transitions are small pure methods returning a new ``Booking``;
an illegal one raises :class:`IllegalTransition`. Repeating a transition that already happened is a
no-op, because the activities that drive them run at least once.

The model is the API's JSON (camelCase aliases, ISO 8601 instants in UTC) and what the store keeps.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from shared.domain.claims import DEFAULT_GRANULE, granules, padded_interval
from shared.domain.text import MultiLineText, PlainText, SingleLineText
from shared.domain.timezones import zone

UTC = timezone.utc
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Deliberately loose: the address is checked by delivering mail to it, not by a regex.
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


class BookingError(ValueError):
    """A booking cannot be changed the way someone asked."""


class IllegalTransition(BookingError):
    """The booking's status does not allow this transition (e.g. confirming a cancelled booking)."""

    def __init__(self, booking_id: str, action: str, status: "BookingStatus"):
        self.booking_id = booking_id
        self.action = action
        self.status = status
        super().__init__(f"cannot {action} booking {booking_id}: it is {status.value}")


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must include a UTC offset (e.g. 2026-03-02T15:00:00Z)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-06:00 is in year 10000 in UTC: a value error, never a crash
        raise ValueError("is outside the range of dates (years 1 to 9999 in UTC)") from None


as_utc = _utc  # the public name: an aware datetime in UTC, or ValueError (naive, or beyond year 9999 in UTC)
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]


class CamelModel(BaseModel):
    """Pydantic base: camelCase JSON (the API's), snake_case in Python, trimmed strings, no unknown fields."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True,
                              str_strip_whitespace=True, extra="forbid", frozen=True)


class BookingStatus(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FAILED = "failed"


TERMINAL = frozenset({BookingStatus.CANCELLED, BookingStatus.EXPIRED, BookingStatus.FAILED})

Channel = Literal["voice", "widget", "api", "dynamics"]
DynamicsRecordType = Literal["lead", "contact", "account", "opportunity", "incident", "msdyn_workorder"]
NotificationChannel = Literal["sms", "email", "crm", "webhooks"]
NotificationStatus = Literal["pending", "sent", "failed", "skipped"]
DeliveryStatus = Literal["delivered", "failed"]  # what the carrier reported for a sent text (delivery reports)


class Customer(CamelModel):
    """Who the appointment is for. Personal data: never logged unmasked."""

    # Text rules (shared.domain.text, docs/API.md): control characters never reach SMS, mail, CRM or storage.
    name: PlainText = Field(min_length=1, max_length=200)
    phone: str | None = Field(None, description="E.164 and a valid number for its country, e.g. +13125550142",
                              pattern=E164.pattern)
    email: PlainText | None = Field(None, max_length=254)
    address: SingleLineText | None = Field(None, max_length=500, description="line breaks become spaces")
    postal_code: PlainText | None = Field(None, max_length=20)
    notes: MultiLineText | None = Field(None, max_length=4000, description="line breaks are kept")

    @field_validator("phone", mode="before")
    @classmethod
    def _e164(cls, value: Any) -> Any:
        if isinstance(value, str) and not E164.match(value.strip()):
            raise ValueError("must be an E.164 number such as +15551234567")
        return value

    @field_validator("phone")
    @classmethod
    def _valid_number(cls, value: str | None) -> str | None:
        # Imported here: phonenumbers' metadata takes ~0.1 s to load, which the app's cold start need not pay.
        from shared.domain.phones import InvalidPhoneNumber, check_e164
        try:
            return check_e164(value) if value is not None else None
        except InvalidPhoneNumber as exc:
            raise ValueError(str(exc)) from None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("is not an e-mail address")
        return value


class BookingContext(CamelModel):
    """Where the booking came from: channel, the Dynamics record it was made from, who made it."""

    channel: Channel
    dynamics_record_type: DynamicsRecordType | None = None
    dynamics_record_id: PlainText | None = Field(None, max_length=100)
    owner_id: PlainText | None = Field(None, max_length=100, description="CRM owner of the record at booking time")
    source: dict[PlainText, PlainText] = Field(default_factory=dict, description="source / UTM parameters")
    initiated_by: PlainText | None = Field(None, max_length=200)

    @model_validator(mode="after")
    def _record_is_whole(self) -> "BookingContext":
        if (self.dynamics_record_type is None) != (self.dynamics_record_id is None):
            raise ValueError("dynamicsRecordType and dynamicsRecordId go together")
        return self


class NotificationOutcome(CamelModel):
    """How one notification channel fared for this booking."""

    status: NotificationStatus = "pending"
    attempts: int = Field(0, ge=0)
    last_error: str | None = Field(None, max_length=1000)
    at: UtcDatetime | None = None
    delivery: DeliveryStatus | None = Field(None, description="the carrier's delivery report, when one came")
    delivery_detail: str | None = Field(None, max_length=300)
    reported_at: UtcDatetime | None = None


class Notifications(CamelModel):
    sms: NotificationOutcome = NotificationOutcome()
    email: NotificationOutcome = NotificationOutcome()
    crm: NotificationOutcome = NotificationOutcome()
    webhooks: NotificationOutcome = NotificationOutcome()


OutlookAction = Literal["moved", "cancelled", "edited"]


class OutlookSync(CamelModel):
    """What Frontdesk last knew of the booking's Outlook event, so reconciliation can tell a person's edit
    in Outlook from Frontdesk's own write (no echo loop) and apply each change exactly once."""

    subject: str | None = Field(None, max_length=1000)
    location: str | None = Field(None, max_length=1000)
    change_key: str | None = Field(None, max_length=200)
    applied_by: str | None = Field(None, max_length=200, description="the reconcile run that applied the last change")
    applied_action: OutlookAction | None = None
    conflicts_with: tuple[str, ...] = Field((), description="bookings this one overlaps since it was moved in Outlook")
    synced_at: UtcDatetime | None = None


class Booking(CamelModel):
    """A hold or booking of one host's time for one customer."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
    status: BookingStatus = BookingStatus.HELD
    event_type_key: str = Field(min_length=1, max_length=100)
    host_id: str = Field(min_length=1, max_length=100)
    start: UtcDatetime
    end: UtcDatetime
    buffer_before_minutes: int = Field(0, ge=0, le=24 * 60)
    buffer_after_minutes: int = Field(0, ge=0, le=24 * 60)
    time_zone: str = Field("UTC", description="IANA zone the customer sees times in")
    customer: Customer
    context: BookingContext
    routing: dict[str, Any] = Field(default_factory=dict, description="the routing decision, as recorded")
    hold_expires_at: UtcDatetime | None = None
    outlook_event_id: str | None = None
    outlook_mailbox: str | None = None
    crm_appointment_id: str | None = None
    outlook_sync: OutlookSync | None = None
    notifications: Notifications = Notifications()
    idempotency_key: str | None = Field(None, max_length=255)
    request_fingerprint: str | None = Field(None, max_length=128)
    cancel_reason: str | None = Field(None, max_length=500)
    failure_reason: str | None = Field(None, max_length=1000)
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int = Field(0, ge=0, description="bumped by the store on every save")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @model_validator(mode="before")
    @classmethod
    def _updated_defaults_to_created(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("updated_at", data.get("updatedAt")) is None:
            created = data.get("created_at", data.get("createdAt"))
            data = {key: value for key, value in data.items() if key not in ("updated_at", "updatedAt")}
            data["updated_at"] = created
        return data

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Booking":
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    # ------------------------------------------------------------ derived

    @property
    def buffer_before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)

    @property
    def padded(self) -> tuple[datetime, datetime]:
        """The stretch this booking blocks on its host: its time plus both buffers."""
        return padded_interval(self.start, self.end, self.buffer_before, self.buffer_after)

    def claim_granules(self, granule: timedelta = DEFAULT_GRANULE) -> list[datetime]:
        """The granules this booking claims on its host."""
        return granules(self.start, self.end, self.buffer_before, self.buffer_after, granule)

    @property
    def is_active(self) -> bool:
        """Held or confirmed: it occupies its host's time."""
        return self.status in (BookingStatus.HELD, BookingStatus.CONFIRMED)

    # ------------------------------------------------------------ transitions

    def _evolve(self, now: datetime, **changes: Any) -> "Booking":
        # Re-validate rather than model_copy, so a transition can never produce an invalid booking.
        return type(self).model_validate({**self.model_dump(by_alias=False), **changes, "updated_at": _utc(now)})

    def _require(self, action: str, *allowed: BookingStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition(self.id, action, self.status)

    def confirm(self, now: datetime) -> "Booking":
        """held -> confirmed: the time is the customer's; the hold no longer expires."""
        if self.status is BookingStatus.CONFIRMED:
            return self
        self._require("confirm", BookingStatus.HELD)
        return self._evolve(now, status=BookingStatus.CONFIRMED, hold_expires_at=None)

    def cancel(self, now: datetime, reason: str | None = None) -> "Booking":
        """held or confirmed -> cancelled (a declined hold, or a cancelled appointment)."""
        if self.status is BookingStatus.CANCELLED:
            return self
        self._require("cancel", BookingStatus.HELD, BookingStatus.CONFIRMED)
        return self._evolve(now, status=BookingStatus.CANCELLED, cancel_reason=reason, hold_expires_at=None)

    def expire(self, now: datetime) -> "Booking":
        """held -> expired: nobody confirmed the hold in time."""
        if self.status is BookingStatus.EXPIRED:
            return self
        self._require("expire", BookingStatus.HELD)
        return self._evolve(now, status=BookingStatus.EXPIRED, hold_expires_at=None)

    def fail(self, now: datetime, reason: str) -> "Booking":
        """held -> failed: confirming did not work out and the hold was compensated."""
        if self.status is BookingStatus.FAILED:
            return self
        self._require("fail", BookingStatus.HELD)
        return self._evolve(now, status=BookingStatus.FAILED, failure_reason=reason, hold_expires_at=None)

    def reschedule(self, start: datetime, end: datetime, now: datetime, *, host_id: str | None = None) -> "Booking":
        """A confirmed booking moves to a new time (and possibly another host); it stays confirmed."""
        self._require("reschedule", BookingStatus.CONFIRMED)
        changes: dict[str, Any] = {"start": _utc(start), "end": _utc(end)}
        if host_id is not None:
            changes["host_id"] = host_id
        unchanged = (self.start, self.end, self.host_id)
        if (changes["start"], changes["end"], changes.get("host_id", self.host_id)) == unchanged:
            return self
        return self._evolve(now, **changes)

    def with_outlook_event(self, event_id: str, mailbox: str, now: datetime) -> "Booking":
        """Remember the Outlook event standing for this booking (set when the hold event is created)."""
        if self.status in TERMINAL:
            raise IllegalTransition(self.id, "attach an Outlook event to", self.status)
        if (self.outlook_event_id, self.outlook_mailbox) == (event_id, mailbox):
            return self
        return self._evolve(now, outlook_event_id=event_id, outlook_mailbox=mailbox)

    def with_outlook_sync(self, now: datetime, *, subject: str | None, location: str | None,
                          change_key: str | None, applied_by: str | None = None,
                          action: OutlookAction | None = None,
                          conflicts_with: tuple[str, ...] | None = None) -> "Booking":
        """Remember what the Outlook event says now (after Frontdesk wrote it, or after a reconcile applied it)."""
        previous = self.outlook_sync or OutlookSync()
        sync = OutlookSync(
            subject=subject, location=location, change_key=change_key,
            applied_by=applied_by if applied_by is not None else previous.applied_by,
            applied_action=action if action is not None else previous.applied_action,
            conflicts_with=conflicts_with if conflicts_with is not None else previous.conflicts_with,
            synced_at=now)
        return self._evolve(now, outlook_sync=sync.model_dump(by_alias=False))

    def with_crm_appointment(self, appointment_id: str, now: datetime) -> "Booking":
        """Remember the Dynamics appointment created for this booking."""
        if self.crm_appointment_id == appointment_id:
            return self
        return self._evolve(now, crm_appointment_id=appointment_id)

    def record_notification(self, channel: NotificationChannel, status: NotificationStatus, now: datetime,
                            error: str | None = None) -> "Booking":
        """Record one more attempt on a notification channel (its outcome never changes the status)."""
        if self.status is BookingStatus.HELD:
            raise IllegalTransition(self.id, f"notify ({channel}) for", self.status)
        previous: NotificationOutcome = getattr(self.notifications, channel)
        # A new attempt starts afresh: the carrier's report on an earlier message says nothing about this one.
        outcome = NotificationOutcome(status=status, attempts=previous.attempts + 1,
                                      last_error=(error[:1000] if error else None), at=now)
        notifications = self.notifications.model_copy(update={channel: outcome})
        return self._evolve(now, notifications=notifications.model_dump(by_alias=False))

    def record_delivery(self, channel: NotificationChannel, delivery: DeliveryStatus, now: datetime, *,
                        detail: str | None = None, permanent: bool = False) -> "Booking":
        """Record the carrier's delivery report for the channel's last message. A permanent failure (landline,
        blocked, unreachable) also marks the channel ``failed``; a report repeated adds nothing."""
        previous: NotificationOutcome = getattr(self.notifications, channel)
        detail = detail[:300] if detail else None
        status = "failed" if permanent and delivery == "failed" else previous.status
        if (previous.delivery, previous.delivery_detail, previous.status) == (delivery, detail, status):
            return self
        last_error = (detail or "not delivered") if status == "failed" and permanent else previous.last_error
        outcome = previous.model_copy(update={"delivery": delivery, "delivery_detail": detail, "reported_at": now,
                                              "status": status, "last_error": last_error})
        notifications = self.notifications.model_copy(update={channel: outcome})
        return self._evolve(now, notifications=notifications.model_dump(by_alias=False))
