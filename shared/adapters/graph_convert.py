"""Conversions between Frontdesk's port values and msgraph-sdk models, time zones included.

Graph writes times as ``dateTimeTimeZone``: a wall-clock time plus a zone name, usually Windows
("Pacific Standard Time"). Frontdesk's values are aware UTC instants. Outgoing events are written as
wall time in the Windows name of the event's IANA zone (so Outlook shows them in the host's zone and
DST is Outlook's business); incoming times are read in whatever zone Graph used (the adapter asks for
UTC with ``Prefer: outlook.timezone``, but the conversion does not depend on it).

Frontdesk marks its own events with a single-value extended property holding the booking id: it
survives edits in Outlook, is invisible to people, and can be expanded on reads and filtered on.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from shared.domain.timezones import UnknownTimeZoneError, iana_to_windows, windows_to_iana, zone
from shared.ports import Attendee, BusyBlock, CalendarEvent, EventDraft, MailMessage, Subscription

UTC = timezone.utc
# A GUID that belongs to Frontdesk: the namespace of its MAPI named property.
BOOKING_PROPERTY_ID = "String {5f0c2b8e-7d4a-4e61-9c3b-f1a2d6e8b047} Name FrontdeskBookingId"
EXPAND_BOOKING_PROPERTY = f"singleValueExtendedProperties($filter=id eq '{BOOKING_PROPERTY_ID}')"
SHOW_AS_VALUES = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def to_date_time_time_zone(instant: datetime, iana_zone: str = "UTC"):
    """An aware instant as Graph ``dateTimeTimeZone``: wall time in ``iana_zone`` under its Windows name."""
    from msgraph.generated.models.date_time_time_zone import DateTimeTimeZone

    if instant.tzinfo is None:
        raise ValueError("naive datetime: every instant in Frontdesk must carry its offset")
    try:
        windows_name = iana_to_windows(iana_zone)
        local = instant.astimezone(zone(iana_zone))
    except UnknownTimeZoneError:
        windows_name, local = "UTC", instant.astimezone(UTC)  # right instant, shown in UTC
    return DateTimeTimeZone(date_time=local.strftime("%Y-%m-%dT%H:%M:%S"), time_zone=windows_name)


def from_date_time_time_zone(value) -> datetime:
    """Graph ``dateTimeTimeZone`` (Windows or IANA zone name, up to 7 fractional digits) -> aware UTC."""
    if value is None or not value.date_time:
        raise ValueError("Graph returned an event time without a dateTime")
    wall = datetime.fromisoformat(_FRACTION.sub(r"\1", value.date_time.strip()))
    if wall.tzinfo is not None:
        return wall.astimezone(UTC)
    return wall.replace(tzinfo=zone(windows_to_iana(value.time_zone or "UTC"))).astimezone(UTC)


def show_as_of(status) -> str:
    value = getattr(status, "value", status) or "unknown"
    return value if value in SHOW_AS_VALUES else "unknown"


# ---------------------------------------------------------------------- events

def draft_to_event(draft: EventDraft, *, creating: bool):
    """The Graph event for a draft; ``transactionId`` only on creation (Graph refuses to change it)."""
    from msgraph.generated.models.attendee import Attendee as GraphAttendee
    from msgraph.generated.models.attendee_type import AttendeeType
    from msgraph.generated.models.body_type import BodyType
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.free_busy_status import FreeBusyStatus
    from msgraph.generated.models.item_body import ItemBody
    from msgraph.generated.models.location import Location
    from msgraph.generated.models.online_meeting_provider_type import OnlineMeetingProviderType
    from msgraph.generated.models.single_value_legacy_extended_property import SingleValueLegacyExtendedProperty

    if draft.end < draft.start:
        raise ValueError("an event cannot end before it starts")
    event = Event(
        subject=draft.subject,
        body=ItemBody(content_type=BodyType.Html, content=draft.body_html or ""),
        start=to_date_time_time_zone(draft.start, draft.time_zone),
        end=to_date_time_time_zone(draft.end, draft.time_zone),
        show_as=FreeBusyStatus(draft.show_as),
        attendees=[GraphAttendee(email_address=EmailAddress(address=a.email, name=a.name or None),
                                 type=AttendeeType.Required) for a in draft.attendees],
        categories=list(draft.categories),
        is_online_meeting=draft.online_meeting,
    )
    if draft.online_meeting:
        event.online_meeting_provider = OnlineMeetingProviderType.TeamsForBusiness
    if draft.location:
        event.location = Location(display_name=draft.location)
    if draft.booking_id:
        event.single_value_extended_properties = [
            SingleValueLegacyExtendedProperty(id=BOOKING_PROPERTY_ID, value=draft.booking_id)]
    if creating and draft.transaction_id:
        event.transaction_id = draft.transaction_id
    return event


def booking_id_of(event) -> str | None:
    for prop in event.single_value_extended_properties or []:
        if (prop.id or "").lower() == BOOKING_PROPERTY_ID.lower():
            return prop.value
    return None


def to_calendar_event(event, mailbox: str, *, booking_id: str | None = None) -> CalendarEvent:
    """A Graph event (or occurrence) as Frontdesk sees it."""
    online = event.online_meeting.join_url if event.online_meeting else None
    return CalendarEvent(
        id=event.id,
        mailbox=mailbox,
        subject=event.subject or "",
        start=from_date_time_time_zone(event.start),
        end=from_date_time_time_zone(event.end),
        show_as=show_as_of(event.show_as),
        is_cancelled=bool(event.is_cancelled),
        transaction_id=event.transaction_id,
        booking_id=booking_id_of(event) or booking_id,
        location=(event.location.display_name or None) if event.location else None,
        change_key=event.change_key,
        last_modified=event.last_modified_date_time.astimezone(UTC) if event.last_modified_date_time else None,
        online_meeting_url=online or event.online_meeting_url,
        time_zone=_iana_or_none(event.original_start_time_zone),
        categories=tuple(event.categories or ()),
        attendees=tuple(Attendee(name=(a.email_address.name or "") if a.email_address else "",
                                 email=(a.email_address.address or "") if a.email_address else "")
                        for a in event.attendees or ()),
    )


def _iana_or_none(windows_name: str | None) -> str | None:
    if not windows_name:
        return None
    try:
        return windows_to_iana(windows_name)
    except UnknownTimeZoneError:
        return None


def is_removed(event) -> bool:
    """A delta entry that only says "this event left the view" (``@removed``)."""
    return "@removed" in (event.additional_data or {})


# ---------------------------------------------------------------------- free/busy

def schedule_blocks(info) -> list[BusyBlock]:
    """The scheduleItems of one getSchedule answer as busy blocks (no event ids: getSchedule has none)."""
    return [BusyBlock(start=from_date_time_time_zone(item.start), end=from_date_time_time_zone(item.end),
                      show_as=show_as_of(item.status))
            for item in info.schedule_items or []]


# ---------------------------------------------------------------------- mail and subscriptions

def mail_message(message: MailMessage):
    from msgraph.generated.models.body_type import BodyType
    from msgraph.generated.models.email_address import EmailAddress
    from msgraph.generated.models.item_body import ItemBody
    from msgraph.generated.models.message import Message
    from msgraph.generated.models.recipient import Recipient

    if not message.to:
        raise ValueError("a mail message needs at least one recipient")
    return Message(
        subject=message.subject,
        body=ItemBody(content_type=BodyType.Html, content=message.body_html),
        to_recipients=[Recipient(email_address=EmailAddress(address=a)) for a in message.to],
        reply_to=[Recipient(email_address=EmailAddress(address=a)) for a in message.reply_to] or None,
    )


def to_subscription(subscription, mailbox: str) -> Subscription:
    return Subscription(
        id=subscription.id,
        mailbox=mailbox,
        resource=subscription.resource,
        expires_at=subscription.expiration_date_time.astimezone(UTC),
        notification_url=subscription.notification_url,
        lifecycle_url=subscription.lifecycle_notification_url,
        change_type=subscription.change_type or "",
    )
