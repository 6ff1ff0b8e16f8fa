"""The interfaces between Frontdesk's logic and the outside world, and the values that cross them.

Each port is a ``Protocol``; the real implementations live in ``shared/adapters`` (msgraph-sdk,
Dataverse Web API, ACS / Twilio SMS, OpenAI, azure-data-tables). All instants are aware UTC
``datetime`` values; adapters convert to and from the services' own time formats. Adapters raise
the errors of :mod:`shared.errors`, never SDK exceptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from pydantic import BaseModel

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
    entity: RegardingType
    id: str


@dataclass(frozen=True, slots=True)
class AppointmentDraft:
    booking_id: str  # the appointment's id is derived from it, so creation is idempotent
    subject: str
    start: datetime
    end: datetime
    location: str | None = None
    description: str = ""
    regarding: Regarding | None = None
    owner_systemuser_id: str | None = None


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
    async def upsert_appointment(self, draft: AppointmentDraft) -> Appointment: ...
    async def cancel_appointment(self, appointment_id: str) -> None: ...
    async def get_appointment(self, appointment_id: str) -> Appointment | None: ...


# ---------------------------------------------------------------- SMS

@dataclass(frozen=True, slots=True)
class SmsReceipt:
    message_id: str
    to: str  # E.164
    provider: str


class SmsPort(Protocol):
    async def send_sms(self, to: str, body: str, *, tag: str | None = None) -> SmsReceipt: ...


# ---------------------------------------------------------------- language understanding

SchemaT = TypeVar("SchemaT", bound=BaseModel)


class LanguagePort(Protocol):
    async def extract(self, instructions: str, text: str, schema: type[SchemaT], *,
                      timeout: float | None = None) -> SchemaT: ...


# ---------------------------------------------------------------- storage

@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    """Result of trying to claim granules: ``won`` or the granule starts someone else holds."""

    won: bool
    conflicts: tuple[datetime, ...] = field(default_factory=tuple)
