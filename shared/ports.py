"""The interfaces between Frontdesk's logic and the outside world, and the values that cross them.

Each port is a ``Protocol``; the real implementations live in ``shared/adapters`` (msgraph-sdk,
Dataverse Web API, ACS / Twilio SMS, OpenAI, azure-data-tables). All instants are aware UTC
``datetime`` values; adapters convert to and from the services' own time formats. Adapters raise
the errors of :mod:`shared.errors`, never SDK exceptions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

if TYPE_CHECKING:
    from shared.domain.booking import Booking

ShowAs = Literal["free", "tentative", "busy", "oof", "workingElsewhere", "unknown"]


# ---------------------------------------------------------------- calendar (Outlook via Graph)

@dataclass(frozen=True, slots=True)
class BusyBlock:
    """A stretch of a mailbox's calendar that is not free."""

    start: datetime
    end: datetime
    show_as: ShowAs = "busy"
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Attendee:
    name: str
    email: str


@dataclass(frozen=True, slots=True)
class EventDraft:
    """What Frontdesk wants an Outlook event to say."""

    subject: str
    start: datetime
    end: datetime
    time_zone: str = "UTC"  # IANA zone the event is shown in
    show_as: ShowAs = "busy"
    body_html: str = ""
    location: str | None = None
    attendees: tuple[Attendee, ...] = ()
    online_meeting: bool = False
    transaction_id: str | None = None  # makes creation idempotent
    booking_id: str | None = None  # marks the event as Frontdesk's own
    categories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CalendarEvent:
    """An Outlook event as Frontdesk sees it."""

    id: str
    mailbox: str
    subject: str
    start: datetime
    end: datetime
    show_as: ShowAs = "busy"
    is_cancelled: bool = False
    transaction_id: str | None = None
    booking_id: str | None = None
    location: str | None = None
    change_key: str | None = None
    last_modified: datetime | None = None
    online_meeting_url: str | None = None
    time_zone: str | None = None  # IANA zone the event was written in (Graph's originalStartTimeZone)
    categories: tuple[str, ...] = ()
    attendees: tuple[Attendee, ...] = ()


@dataclass(frozen=True, slots=True)
class DeltaPage:
    """The outcome of a calendarView delta round: changed events, removed ids, the next link."""

    changed: tuple[CalendarEvent, ...]
    removed_ids: tuple[str, ...]
    delta_link: str


@dataclass(frozen=True, slots=True)
class Subscription:
    id: str
    mailbox: str
    resource: str
    expires_at: datetime
    notification_url: str
    lifecycle_url: str | None = None
    change_type: str = "created,updated,deleted"


class CalendarPort(Protocol):
    async def get_busy(self, mailboxes: list[str], start: datetime, end: datetime) -> dict[str, list[BusyBlock]]: ...
    async def list_events(self, mailbox: str, start: datetime, end: datetime) -> list[CalendarEvent]: ...
    async def get_event(self, mailbox: str, event_id: str) -> CalendarEvent | None: ...
    async def create_event(self, mailbox: str, draft: EventDraft) -> CalendarEvent: ...
    async def update_event(self, mailbox: str, event_id: str, draft: EventDraft) -> CalendarEvent: ...
    async def delete_event(self, mailbox: str, event_id: str) -> None: ...
    async def delta(self, mailbox: str, start: datetime, end: datetime,
                    delta_link: str | None = None) -> DeltaPage: ...


class SubscriptionPort(Protocol):
    async def create_subscription(self, mailbox: str, notification_url: str, lifecycle_url: str,
                                  client_state: str, expires_at: datetime) -> Subscription: ...
    async def renew_subscription(self, subscription_id: str, expires_at: datetime) -> datetime: ...
    async def delete_subscription(self, subscription_id: str) -> None: ...


# ---------------------------------------------------------------- mail

@dataclass(frozen=True, slots=True)
class MailMessage:
    to: tuple[str, ...]
    subject: str
    body_html: str
    reply_to: tuple[str, ...] = ()


class MailPort(Protocol):
    async def send_mail(self, sender_mailbox: str, message: MailMessage) -> None: ...


# ---------------------------------------------------------------- CRM (Dynamics 365 / Dataverse)

RegardingType = Literal["lead", "contact", "account", "opportunity", "incident", "msdyn_workorder"]


@dataclass(frozen=True, slots=True)
class Regarding:
    """The CRM record a booking is about: a lead, contact, account, opportunity, case (incident) or work order."""

    entity: RegardingType
    id: str


@dataclass(frozen=True, slots=True)
class AppointmentDraft:
    """What the Dynamics appointment of a booking should say (written again, whole, on every change)."""

    booking_id: str  # the appointment's id is derived from it, so creation is idempotent
    subject: str
    start: datetime
    end: datetime
    location: str | None = None
    description: str = ""
    regarding: Regarding | None = None
    owner_systemuser_id: str | None = None  # the host's Dynamics user, when mapped
    routing_decision: str = ""  # why this host was chosen; appended to the description for CRM users


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    subject: str
    start: datetime
    end: datetime
    state: Literal["open", "completed", "cancelled", "scheduled"]
    location: str | None = None
    description: str = ""
    regarding: Regarding | None = None
    owner_systemuser_id: str | None = None


class CrmPort(Protocol):
    """The booking's appointment activity in Dynamics 365.

    ``upsert_appointment`` creates or rewrites the appointment whose id is derived from ``booking_id``
    (so a retried call never makes a second one); ``cancel_appointment`` sets it Canceled (doing it twice is
    fine; ``NotFoundError`` if it never existed); ``get_appointment`` returns ``None`` when it does not exist.
    A regarding or owner record that does not exist raises ``NotFoundError`` naming it.
    """

    async def upsert_appointment(self, draft: AppointmentDraft) -> Appointment: ...
    async def cancel_appointment(self, appointment_id: str) -> None: ...
    async def get_appointment(self, appointment_id: str) -> Appointment | None: ...


# ---------------------------------------------------------------- SMS

@dataclass(frozen=True, slots=True)
class SmsReceipt:
    """The gateway took the message (``accepted``), or no gateway is configured (``skipped``).

    Accepted is not delivered: carriers report delivery later (ACS delivery reports, Twilio status callbacks).
    """

    message_id: str  # the gateway's id (ACS "Outgoing_...", Twilio "SM..."); empty when skipped
    to: str  # E.164
    provider: Literal["acs", "twilio", "none"]
    status: Literal["accepted", "skipped"] = "accepted"


class SmsPort(Protocol):
    """Text one recipient. ``to`` may be national (read in the sender's default region) or E.164.

    Raises ``OptedOutError`` (the recipient texted STOP; remembered), ``PermanentError`` (invalid
    number or body), ``ThrottledError`` / ``TransientError`` (retry later). ``key`` names one text (the
    same on every retry of it): with a key, the text goes out at most once however often it is retried.
    """

    async def send_sms(self, to: str, body: str, *, tag: str | None = None,
                       key: str | None = None) -> SmsReceipt: ...


# ---------------------------------------------------------------- language understanding

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class LanguagePort(Protocol):
    async def extract(self, instructions: str, text: str, schema: type[SchemaT], *,
                      timeout: float | None = None) -> SchemaT: ...


# ---------------------------------------------------------------- storage
#
# Frontdesk's own state in Table Storage (adapters: shared/adapters/stores.py). Writes that two
# workers can race on are ETag-guarded: a read hands back the ETag in ``Stored``, a save passes it
# back, and a stale one raises ``ConflictError``.

ClaimKind = Literal["hold", "booking"]
StoredT = TypeVar("StoredT")


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """Result of trying to claim granules: ``won`` or the granule starts someone else holds."""

    won: bool
    conflicts: tuple[datetime, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ClaimedInterval:
    """A run of consecutive granules one holder claims on a host (expired holds are never listed)."""

    holder_id: str
    kind: ClaimKind
    start: datetime
    end: datetime
    expires_at: datetime | None = None

    # Already padded and rounded to granules, so no buffers of its own: the availability engine can
    # take it wherever it takes a Claim or a Booking.
    @property
    def buffer_before(self) -> timedelta:
        return timedelta(0)

    @property
    def buffer_after(self) -> timedelta:
        return timedelta(0)


@dataclass(frozen=True, slots=True)
class Stored(Generic[StoredT]):
    """A value as stored, with the ETag to pass back when saving it (optimistic concurrency)."""

    value: StoredT
    etag: str


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An idempotency key already used: which booking it made and the fingerprint of its request body."""

    key: str
    booking_id: str
    fingerprint: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SubscriptionRecord:
    """Frontdesk's Graph change-notification subscription for one host mailbox, and its delta state."""

    mailbox: str
    host_id: str | None = None
    subscription_id: str | None = None
    expires_at: datetime | None = None
    client_state_hash: str | None = None
    delta_link: str | None = None
    last_resync_at: datetime | None = None
    updated_at: datetime | None = None


class ClaimStorePort(Protocol):
    async def claim(self, host_id: str, granules: Sequence[datetime], holder_id: str,
                    kind: ClaimKind = "hold", expires_at: datetime | None = None, *,
                    now: datetime) -> ClaimOutcome: ...
    async def confirm(self, host_id: str, holder_id: str, granules: Sequence[datetime], *,
                      now: datetime) -> ClaimOutcome: ...
    async def release(self, host_id: str, holder_id: str, granules: Sequence[datetime]) -> int: ...
    async def move(self, holder_id: str, *, old_host_id: str, old_granules: Sequence[datetime], new_host_id: str,
                   new_granules: Sequence[datetime], kind: ClaimKind = "booking", expires_at: datetime | None = None,
                   now: datetime) -> ClaimOutcome: ...
    async def list_claims(self, host_id: str, start: datetime, end: datetime, *,
                          now: datetime) -> list[ClaimedInterval]: ...
    async def purge_before(self, before: datetime, limit: int) -> int: ...


class BookingStorePort(Protocol):
    async def get(self, booking_id: str) -> Stored[Booking] | None: ...
    async def create(self, booking: Booking) -> Stored[Booking]: ...
    async def save(self, booking: Booking, etag: str) -> Stored[Booking]: ...
    async def find_by_event_id(self, event_id: str) -> Stored[Booking] | None: ...
    async def find_by_phone(self, e164: str) -> list[Stored[Booking]]: ...
    async def reserve_idempotency_key(self, key: str, booking_id: str, fingerprint: str | None, *,
                                      now: datetime) -> IdempotencyRecord: ...
    async def get_idempotency_record(self, key: str) -> IdempotencyRecord | None: ...
    async def find_by_idempotency_key(self, key: str) -> Stored[Booking] | None: ...
    async def list_by_host(self, host_id: str, start: datetime, end: datetime, *,
                           statuses: Iterable[str] | None = None) -> list[Booking]: ...
    # retention (shared/services/retention.py)
    async def list_ended(self, before: datetime, limit: int) -> list[str]: ...
    async def delete(self, booking_id: str) -> int: ...
    async def list_idempotency_keys(self, before: datetime, limit: int) -> list[str]: ...
    async def delete_idempotency_record(self, key: str) -> None: ...


class CallStorePort(Protocol):
    async def get(self, call_sid: str) -> Stored[dict[str, Any]] | None: ...
    async def create(self, call_sid: str, state: Mapping[str, Any] | BaseModel) -> Stored[dict[str, Any]]: ...
    async def save(self, call_sid: str, state: Mapping[str, Any] | BaseModel,
                   etag: str) -> Stored[dict[str, Any]]: ...
    async def delete(self, call_sid: str) -> None: ...
    async def list_idle(self, before: datetime, limit: int) -> list[str]: ...


class SubscriptionStorePort(Protocol):
    async def get(self, mailbox: str) -> Stored[SubscriptionRecord] | None: ...
    async def upsert(self, record: SubscriptionRecord, etag: str | None = None) -> Stored[SubscriptionRecord]: ...
    async def delete(self, mailbox: str) -> None: ...
    async def list_all(self) -> list[Stored[SubscriptionRecord]]: ...
    async def find_by_subscription_id(self, subscription_id: str) -> Stored[SubscriptionRecord] | None: ...
    async def purge_expired(self, before: datetime) -> int: ...
