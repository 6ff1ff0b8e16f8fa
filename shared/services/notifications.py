"""What Frontdesk says about a booking: text messages, the owner's e-mail, the Outlook event and CRM texts.

Pure functions of a :class:`~shared.domain.booking.Booking` and the business configuration; no I/O.
Times are shown on the customer's wall clock (the booking's ``time_zone``) in the texts and on both the
customer's and the host's in the owner's e-mail. Everything a customer typed is untrusted: it is HTML-
escaped in the e-mail and the Outlook event body, and flattened to one short line in text messages.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Literal

from shared.domain.booking import Booking
from shared.domain.business import BusinessConfig, EventType, Host
from shared.domain.timezones import in_zone
from shared.ports import MailMessage

Change = Literal["created", "rescheduled", "cancelled"]
SMS_FIELD_LIMIT = 120  # one customer-typed value in a text; the whole text stays within two segments or so
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


# ---------------------------------------------------------------- formatting helpers

def format_time(instant: datetime, time_zone: str) -> str:
    """``9:00 AM CST`` on the wall clock of ``time_zone``."""
    local = in_zone(instant, time_zone)
    hour = local.hour % 12 or 12
    return f"{hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'} {local.tzname()}"


def format_date(instant: datetime, time_zone: str) -> str:
    """``Tue, Mar 3`` (English, independent of the machine's locale)."""
    local = in_zone(instant, time_zone)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[local.weekday()]}, {months[local.month - 1]} {local.day}"


def format_when(instant: datetime, time_zone: str) -> str:
    """``Tue, Mar 3 at 9:00 AM CST``."""
    return f"{format_date(instant, time_zone)} at {format_time(instant, time_zone)}"


def display_phone(e164: str | None) -> str | None:
    """A phone number as people in its country write it (``(312) 555-0100``); the input when unparseable."""
    if not e164:
        return None
    import phonenumbers
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def one_line(text: str | None, limit: int = SMS_FIELD_LIMIT) -> str:
    """Customer text made safe for a text message: no control characters or line breaks,
    bounded length, and only GSM-7 friendly additions (a non-GSM character would halve the segment size)."""
    flat = " ".join(_CONTROL.sub(" ", text or "").split())
    return flat if len(flat) <= limit else flat[:limit - 3].rstrip() + "..."


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


# ---------------------------------------------------------------- text messages (to the customer)

def _where(booking: Booking, event_type: EventType) -> str:
    if event_type.location_kind == "onsite" and booking.customer.address:
        return f" at {one_line(booking.customer.address)}"
    if event_type.location_kind == "phone":
        return " by phone"
    if event_type.location_kind == "teams":
        return " on Microsoft Teams"
    return ""


def _how_to_change(config: BusinessConfig, manage_url: str | None = None) -> str:
    if manage_url:
        return f"Manage your visit: {manage_url}"
    phone = display_phone(config.business.phone)
    return f"To reschedule or cancel, call {phone}." if phone else "To reschedule or cancel, reply to this message."


def sms_text(change: Change, booking: Booking, config: BusinessConfig, event_type: EventType, host: Host,
             previous_start: datetime | None = None, manage_url: str | None = None) -> str:
    """The customer's text for a booking that was made, moved or cancelled.

    ``manage_url``: the booking's manage link (shared/services/manage_links.py), offered instead of "call us"
    in the texts of a booking made or moved; a cancelled booking's text never carries one.
    """
    business = one_line(config.business.name, 80)
    service = one_line(event_type.name, 80)
    when = format_when(booking.start, booking.time_zone)
    reference = f"Ref {booking.id}."
    if change == "cancelled":
        again = display_phone(config.business.phone)
        tail = f"To book again, call {again}." if again else "Reply to book again."
        return f"{business}: your {service} on {when} has been cancelled. {tail} {reference}"
    who = one_line(host.display_name, 60) if host.kind == "person" else None
    with_whom = f" with {who}" if who else ""
    if change == "rescheduled":
        was = f" (was {format_when(previous_start, booking.time_zone)})" if previous_start else ""
        # The place did not move; with a link (which shows it) the text leaves it out to stay within two segments.
        where = "" if manage_url else _where(booking, event_type)
        head = f"{business}: your {service} has moved to {when}{was}{with_whom}{where}."
    else:
        head = f"{business}: your {service} is confirmed for {when}{with_whom}{_where(booking, event_type)}."
    # The link's page shows the reference, and the text stays within two segments (docs/SECURITY.md).
    return f"{head} {_how_to_change(config, manage_url)}" + ("" if manage_url else f" {reference}")


def _day_phrase(start: datetime, now: datetime, time_zone: str) -> str:
    """``today at 9:00 AM CST``, ``tomorrow, Tue, Mar 3 at ...`` or ``on Tue, Mar 3 at ...`` (customer's clock)."""
    days = (in_zone(start, time_zone).date() - in_zone(now, time_zone).date()).days
    if days == 0:
        return f"today at {format_time(start, time_zone)}"
    if days == 1:
        return f"tomorrow, {format_when(start, time_zone)}"
    return f"on {format_when(start, time_zone)}"


def reminder_text(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host | None,
                  now: datetime, manage_url: str | None = None) -> str:
    """The reminder before a visit (shared/services/reminders.py), with the manage link when there is one."""
    business = one_line(config.business.name, 80)
    service = one_line(event_type.name, 80)
    who = one_line(host.display_name, 60) if host is not None and host.kind == "person" else None
    with_whom = f" with {who}" if who else ""
    where = "" if manage_url else _where(booking, event_type)
    head = (f"{business}: reminder, your {service} is {_day_phrase(booking.start, now, booking.time_zone)}"
            f"{with_whom}{where}.")
    return f"{head} {_how_to_change(config, manage_url)}" + ("" if manage_url else f" Ref {booking.id}.")


def waitlist_offer_text(config: BusinessConfig, event_type: EventType, start: datetime, time_zone: str,
                        expires_at: datetime, *, moves_booking: bool) -> str:
    """A freed time offered to a waitlisted customer (shared/services/waitlist.py); first YES wins."""
    business = one_line(config.business.name, 80)
    service = one_line(event_type.name, 80)
    take = "to move your visit there" if moves_booking else "to take it"
    return (f"{business}: a {service} time opened up on {format_when(start, time_zone)}. Reply YES {take} by "
            f"{format_time(expires_at, time_zone)}; first reply gets it. Reply STOP to opt out.")


def waitlist_taken_text(config: BusinessConfig) -> str:
    return f"{one_line(config.business.name, 80)}: sorry, that time was just taken. You stay on our waitlist."


def waitlist_expired_text(config: BusinessConfig) -> str:
    return f"{one_line(config.business.name, 80)}: sorry, that offer has expired. You stay on our waitlist."


def waitlist_accepted_text(config: BusinessConfig) -> str:
    business = one_line(config.business.name, 80)
    return f"{business}: thanks! If you were first, your confirmation text follows in a moment."


# ---------------------------------------------------------------- the Outlook event (the host's calendar)

def event_subject(booking: Booking, event_type: EventType, *, held: bool) -> str:
    """``Plumbing repair visit - Dana Smith``, or ``HOLD: ...`` while the time is only held."""
    subject = f"{event_type.name} - {one_line(booking.customer.name, 80)}"
    return f"HOLD: {subject}" if held else subject


def event_location(booking: Booking, event_type: EventType) -> str | None:
    if event_type.location_kind == "onsite":
        return one_line(booking.customer.address, 300) or None
    if event_type.location_kind == "phone":
        return f"Phone: {booking.customer.phone}" if booking.customer.phone else "Phone call"
    return "Microsoft Teams"


def _detail_rows(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host) -> list[tuple[str, str]]:
    customer, context = booking.customer, booking.context
    rows = [
        ("Service", event_type.name),
        ("When", f"{format_when(booking.start, host.time_zone)} - {format_time(booking.end, host.time_zone)}"),
        ("Customer's time", format_when(booking.start, booking.time_zone)),
        ("Technician" if host.kind == "person" else "Resource", host.display_name),
        ("Customer", customer.name),
        ("Phone", display_phone(customer.phone) or ""),
        ("E-mail", customer.email or ""),
        ("Address", customer.address or ""),
        ("Postal code", customer.postal_code or ""),
        ("Notes", customer.notes or ""),
        ("Booked via", context.channel),
        ("Dynamics record", f"{context.dynamics_record_type} {context.dynamics_record_id}"
         if context.dynamics_record_type else ""),
        ("Record owner at booking", context.owner_id or ""),
        ("Source", ", ".join(f"{k}={v}" for k, v in sorted(context.source.items()))),
        ("Initiated by", context.initiated_by or ""),
        ("Routing", str(booking.routing.get("reason") or "")),
        ("Booking id", booking.id),
    ]
    return [(label, value) for label, value in rows if value]


def details_html(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host) -> str:
    """Every detail of the booking as an HTML table; all values escaped."""
    cells = "".join(
        f"<tr><th align=\"left\" style=\"padding:2px 12px 2px 0\">{_e(label)}</th>"
        f"<td style=\"white-space:pre-wrap\">{_e(value)}</td></tr>"
        for label, value in _detail_rows(booking, config, event_type, host))
    return f"<table>{cells}</table>"


def event_body_html(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host, *,
                    held: bool) -> str:
    intro = ("<p><b>Held by Frontdesk</b> while the customer confirms; it is released automatically if they "
             "do not.</p>" if held else f"<p>Booked by Frontdesk for {_e(config.business.name)}.</p>")
    return f"<html><body>{intro}{details_html(booking, config, event_type, host)}</body></html>"


# ---------------------------------------------------------------- the owner's and host's e-mail

def owner_email(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host) -> MailMessage:
    """The new-booking e-mail to the host and the business owner, with every detail."""
    recipients = [host.mailbox] + ([config.business.email] if config.business.email else [])
    subject = (f"New booking: {event_type.name} on {format_when(booking.start, host.time_zone)} "
               f"for {one_line(booking.customer.name, 80)}")
    body = (f"<html><body><p>Frontdesk booked a {_e(event_type.name)} for {_e(config.business.name)}.</p>"
            f"{details_html(booking, config, event_type, host)}"
            f"<p>It is in {_e(host.display_name)}'s Outlook calendar.</p></body></html>")
    reply_to = (booking.customer.email,) if booking.customer.email else ()
    return MailMessage(to=tuple(dict.fromkeys(r.lower() for r in recipients)), subject=subject, body_html=body,
                       reply_to=reply_to)


# ---------------------------------------------------------------- the Dynamics appointment

def crm_subject(booking: Booking, event_type: EventType) -> str:
    return f"{event_type.name} - {one_line(booking.customer.name, 80)}"


def crm_description(booking: Booking, config: BusinessConfig, event_type: EventType, host: Host) -> str:
    """Plain text for the appointment's description (Dataverse shows it as text, so no HTML)."""
    lines = [f"{label}: {value}" for label, value in _detail_rows(booking, config, event_type, host)
             if label != "Routing"]
    return "Booked by Frontdesk.\n" + "\n".join(lines)


def routing_summary(routing: dict) -> str:
    """The routing decision in one paragraph: policy, chosen host, why, who was passed over."""
    if not routing:
        return ""
    parts = [str(routing.get("reason") or "")]
    exclusions = routing.get("exclusions") or []
    passed = [f"{e.get('hostId')} ({e.get('reason')})" for e in exclusions if e.get("policy")]
    if passed:
        parts.append("Passed over: " + ", ".join(passed[:10]) + ("..." if len(passed) > 10 else ""))
    return " ".join(part for part in parts if part)
