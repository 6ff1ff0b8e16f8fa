"""What crosses between the booking API (and the voice dialog) and the booking sagas.

The HTTP API validates a :class:`BookingRequest`, derives the booking id and the orchestration
instance id from the client's Idempotency-Key (so a retried request never books twice), and starts
``booking_saga`` with a :class:`SagaInput`. The saga reports progress in its custom status
(:class:`SagaStatus`) and ends with a :class:`SagaResult`. Reschedule and cancel sagas use
:class:`RescheduleInput` / :class:`CancelInput` and end with a :class:`SagaResult` too.
All JSON is camelCase; instants are ISO 8601 with offset.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field

from shared.domain.booking import BookingContext, CamelModel, Customer, UtcDatetime
from shared.domain.text import PlainText
from shared.services.api_models import ApiInstant

BOOKING_SAGA = "booking_saga"
RESCHEDULE_SAGA = "reschedule_saga"
CANCEL_SAGA = "cancel_saga"
CONFIRM_EVENT = "confirm"  # external event: {"confirmed": true|false}; arrives as JSON text (SDK double-encodes)


def decoded(value: Any) -> Any:
    """A Durable input, output or custom status as a value: the SDK hands them over as JSON text or decoded."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def cancel_instance_id(booking_id: str) -> str:
    """The cancel saga's instance id: one cancel however it is asked for (API, manage page, text, phone)."""
    return f"{booking_id}-cancel"


def reschedule_instance_id(booking_id: str, start, version: int, host_id: str | None = None) -> str:
    """The reschedule saga's instance id, the same from the API, the manage page and the phone: a repeated or
    double-clicked move joins one saga; the booking's version makes a later move back to an earlier time a
    new saga, not a replay."""
    target = hashlib.sha256(f"{start.isoformat()}|{host_id or ''}".encode()).hexdigest()[:12]
    return f"{booking_id}-reschedule-{target}-v{version}"

SagaOutcome = Literal["confirmed", "held", "conflict", "invalid", "declined", "expired", "cancelled",
                      "rescheduled", "not_found", "failed"]
SagaStage = Literal["routing", "holding", "held", "confirming", "notifying", "compensating", "done"]


class BookingRequest(CamelModel):
    """``POST /api/bookings`` body (and what the voice dialog books with)."""

    event_type: PlainText = Field(min_length=1, max_length=100)
    start: ApiInstant
    time_zone: PlainText | None = Field(None, max_length=64, description="IANA zone to show times in")
    host_id: PlainText | None = Field(None, min_length=1, max_length=100,
                                      description="a specific host, when the event type allows")
    customer: Customer
    context: BookingContext = BookingContext(channel="api")
    account_team: tuple[PlainText, ...] = Field((), description="host ids named by the CRM record (account team)")
    confirmation: Literal["immediate", "await"] = Field(
        "immediate", description="await: hold and wait for a confirm event (voice read-back)")
    hold_seconds: int | None = Field(None, ge=30, le=1800, description="how long an awaited hold lives")


class SagaInput(CamelModel):
    booking_id: str
    request: BookingRequest
    idempotency_key: str | None = None
    fingerprint: str | None = None
    requested_at: UtcDatetime


class RescheduleInput(CamelModel):
    booking_id: str
    start: UtcDatetime
    host_id: str | None = None
    requested_at: UtcDatetime


class CancelInput(CamelModel):
    booking_id: str
    reason: str | None = Field(None, max_length=500)
    requested_at: UtcDatetime
    notify_customer: bool = True


class Conflict(CamelModel):
    """Why the requested time could not be held: which rule or which claim won."""

    reason: str
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    host_ids: tuple[str, ...] = ()


class SagaStatus(CamelModel):
    """The saga's custom status, readable while it runs (the voice turn polls it)."""

    stage: SagaStage
    booking_id: str
    host_id: str | None = None
    hold_expires_at: UtcDatetime | None = None
    outcome: SagaOutcome | None = None


class SagaResult(CamelModel):
    """How a booking, reschedule or cancel saga ended; ``booking`` is the Booking's JSON when one exists."""

    outcome: SagaOutcome
    booking_id: str
    booking: dict[str, Any] | None = None
    conflict: Conflict | None = None
    reason: str | None = None


def fingerprint(body: dict[str, Any]) -> str:
    """A stable hash of a request body, to tell a retried request from a different one with the same key."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def booking_id_for(client_id: str, idempotency_key: str) -> str:
    """The booking id (and saga instance id) a client's Idempotency-Key maps to, scoped per client."""
    digest = hashlib.sha256(f"{client_id}\n{idempotency_key}".encode()).hexdigest()
    return f"bk_{digest[:24]}"
