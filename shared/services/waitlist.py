"""The short waitlist: customers who want an earlier time (or any time in a window), and freed slots offered to them.

**Joining** (:func:`join_waitlist`, used by ``POST /api/waitlist``, the voice dialog and the manage page):
a customer, an event type, the window they would take, their current booking (if any: a freed slot then
*moves* that booking, and only a slot earlier than it is offered), and an expiry (default: the window's end;
at most :data:`MAX_WINDOW` of window). One entry per number and event type: joining again replaces it.

**Offering** (the ``waitlist_offer`` orchestration, started by ``booking_follow_up`` when a booking is
cancelled by any path: the cancel saga, whatever asked for it, or an Outlook deletion seen by reconciliation):
:func:`make_offers` picks up to :data:`MAX_OFFERS` entries, first come first served, whose event type is the
slot's, whose window holds the slot, whose routing allows the slot's host (postal code -> territory), whose
current booking is later than the slot, and whose number has not opted out; each gets a text with the slot
and a :data:`OFFER_MINUTES`-minute deadline. Never inside quiet hours: the offer waits for them to end.

**Replies** (:func:`handle_waitlist_reply`, called by the inbound SMS handler): a YES to an open offer is
raised to the offer orchestration as :data:`ACCEPT_EVENT`; the orchestration books through the booking saga
(or the reschedule saga), whose claims decide, so two replies can never both get the time. A YES after the
offer was taken or lapsed is answered "just taken" / "has expired" at once. The others are texted "just
taken" when the winner's booking is confirmed (:func:`close_offers`).

Texts go through the at-most-once SMS path (keys ``waitlist:<offer>:<entry>:<what>``). What is stored and for
how long: docs/SECURITY.md (waitlist).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from typing import Any

from pydantic import Field, model_validator

from shared.domain.booking import BookingStatus, CamelModel, Customer
from shared.domain.routing import RoutingContext, resolve_host
from shared.domain.text import PlainText
from shared.domain.timezones import local_date, zone
from shared.errors import ExternalServiceError, OptedOutError
from shared.logs import get_logger, mask_phone
from shared.services.api_models import ApiInstant

log = get_logger(__name__)
UTC = timezone.utc

MAX_WINDOW = timedelta(days=14)
MAX_OFFERS = 3
OFFER_MINUTES = 30
ORCHESTRATOR = "waitlist_offer"
INSTANCE_PREFIX = "waitlist-offer:"
ACCEPT_EVENT = "waitlist_accept"
ACCEPT_WORDS = frozenset({"yes", "y", "yes please", "yep", "yeah", "ok", "okay", "1", "sure", "book it", "take it"})


class WaitlistRequest(CamelModel):
    """Who wants a time, of what, in which window (``POST /api/waitlist`` body; camelCase JSON)."""

    event_type: PlainText = Field(min_length=1, max_length=100)
    customer: Customer
    window_start: ApiInstant = Field(description="earliest start they would take, ISO 8601 with offset")
    window_end: ApiInstant = Field(description="latest start they would take, ISO 8601 with offset")
    time_zone: PlainText | None = Field(None, max_length=64, description="IANA zone to text times in")
    booking_id: PlainText | None = Field(None, max_length=100,
                                         description="their current booking: a freed earlier time moves it")
    expires_at: ApiInstant | None = Field(None, description="when to forget the entry; default the window's end")

    @model_validator(mode="after")
    def _window(self) -> "WaitlistRequest":
        if self.window_end <= self.window_start:
            raise ValueError("windowEnd must be after windowStart")
        if self.window_end - self.window_start > MAX_WINDOW:
            raise ValueError(f"the window may span at most {MAX_WINDOW.days} days")
        if not self.customer.phone:
            raise ValueError("customer.phone is required: offers are sent by text")
        return self


class WaitlistError(ValueError):
    """A request the waitlist cannot take; ``field`` names what is wrong (the API answers 422)."""

    def __init__(self, field: str, message: str, status: int = 422):
        super().__init__(message)
        self.field = field
        self.status = status


def entry_id_for(e164: str, event_type: str) -> str:
    """One entry per number and event type (joining again replaces it)."""
    return "wl_" + hashlib.sha256(f"{e164}\n{event_type}".encode()).hexdigest()[:20]


def offer_instance_id(booking_id: str) -> str:
    return f"{INSTANCE_PREFIX}{booking_id}"


def _days(start: datetime, end: datetime, time_zone: str) -> list[date]:
    tz = zone(time_zone)
    first, last = local_date(start, tz), local_date(end, tz)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _store(services):
    store = services.__dict__.get("_waitlist_store")
    if store is None:
        from shared.adapters.store_waitlist import WaitlistStore
        store = services.__dict__["_waitlist_store"] = WaitlistStore(services.settings)
    return store


# ---------------------------------------------------------------- joining

async def join_waitlist(services, request: WaitlistRequest, now: datetime, *, channel: str = "api") -> dict[str, Any]:
    """Put the customer on the waitlist (replacing their earlier entry for this event type); the entry's JSON.

    Raises :class:`WaitlistError` (404 unknown booking, 422 otherwise) for an unknown event type, a window
    already over, missing details a new booking would need, or a booking that is not theirs or not live.
    """
    config = services.business
    try:
        event_type = config.event_type(request.event_type)
    except KeyError:
        raise WaitlistError("eventType", f"unknown event type {request.event_type!r}") from None
    if request.window_end <= now:
        raise WaitlistError("windowEnd", "the window is already over")
    customer = request.customer
    if request.booking_id:
        stored = await services.bookings.get(request.booking_id)
        if stored is None:
            raise WaitlistError("bookingId", "no such booking", 404)
        booking = stored.value
        if booking.status is not BookingStatus.CONFIRMED or booking.customer.phone != customer.phone:
            raise WaitlistError("bookingId", "the booking is not a live booking of this customer")
        if booking.event_type_key != event_type.key:
            raise WaitlistError("bookingId", "the booking is of another event type")
    else:
        missing = [name for name in event_type.required_fields if not getattr(customer, name, None)]
        if missing:
            raise WaitlistError("customer", "a new booking needs " + ", ".join(missing))
    time_zone = request.time_zone or config.business.time_zone
    try:
        zone(time_zone)
    except Exception:  # noqa: BLE001 - any unknown zone is the same mistake
        raise WaitlistError("timeZone", f"{time_zone!r} is not an IANA time zone") from None
    window_start = max(request.window_start, now)
    expires_at = min(request.expires_at or request.window_end, request.window_end)
    entry_id = entry_id_for(customer.phone, event_type.key)
    entry = {"entryId": entry_id, "eventType": event_type.key, "phone": customer.phone,
             "customer": customer.model_dump(mode="json"), "windowStart": window_start.isoformat(),
             "windowEnd": request.window_end.isoformat(), "timeZone": time_zone, "bookingId": request.booking_id,
             "expiresAt": expires_at.isoformat(), "createdAt": now.isoformat(), "channel": channel}
    await _store(services).put_entry(entry, _days(window_start, request.window_end, config.business.time_zone),
                                     expires_at=expires_at)
    log.info("waitlist: %s joined for %s", mask_phone(customer.phone), event_type.key)
    return entry


async def leave_waitlist(services, e164: str, event_type: str, entry: dict[str, Any] | None = None) -> None:
    """Take the number off the waitlist for this event type (after it got a time, or on request)."""
    if entry is None:
        return
    days = _days(datetime.fromisoformat(entry["windowStart"]), datetime.fromisoformat(entry["windowEnd"]),
                 services.business.business.time_zone)
    await _store(services).delete_entry(event_type, entry_id_for(e164, event_type), days)


# ---------------------------------------------------------------- offering a freed slot

async def prepare_offer(services, booking_id: str, now: datetime) -> dict[str, Any]:
    """``{"waitUntil": iso}`` when now is inside quiet hours on the business's clock, else ``{}``."""
    from shared.services.reminders import quiet_interval
    business = services.business.business
    quiet = quiet_interval(now, business.quiet_hours, business.time_zone)
    return {"waitUntil": quiet[1].isoformat()} if quiet else {}


async def _slot_is_free(services, host_id: str, start: datetime, end: datetime, now: datetime) -> bool:
    claims = await services.claims.list_claims(host_id, start, end, now=now)
    return not claims


def _can_book_anew(event_type, entry: dict[str, Any]) -> bool:
    """The entry carries every customer field a new booking of this event type needs."""
    from pydantic.alias_generators import to_camel
    return all(entry["customer"].get(to_camel(name)) for name in event_type.required_fields)


async def _current_booking_later(services, event_type, entry: dict[str, Any], start: datetime) -> tuple[bool, bool]:
    """(may be offered, would move a booking): an entry with a live booking only takes an earlier time."""
    if not entry.get("bookingId"):
        return True, False
    stored = await services.bookings.get(entry["bookingId"])
    if stored is None or stored.value.status is not BookingStatus.CONFIRMED:
        return _can_book_anew(event_type, entry), False  # their booking is gone: book anew if we can
    return stored.value.start > start, True


def _routing_allows(config, event_type, entry: dict[str, Any], host_id: str) -> bool:
    context = RoutingContext(postal_code=entry["customer"].get("postalCode"))
    return resolve_host(config, event_type, context, available=[host_id]).host_id == host_id


async def _matching_entries(services, booking, now: datetime) -> list[tuple[dict[str, Any], bool]]:
    config = services.business
    event_type = config.event_type(booking.event_type_key)
    day = local_date(booking.start, zone(config.business.time_zone))
    found = []
    for entry in sorted(await _store(services).entries_on(event_type.key, day), key=lambda e: e["createdAt"]):
        if datetime.fromisoformat(entry["expiresAt"]) <= now or entry["phone"] == booking.customer.phone:
            continue
        if not (datetime.fromisoformat(entry["windowStart"]) <= booking.start
                <= datetime.fromisoformat(entry["windowEnd"])):
            continue
        if entry.get("bookingId") == booking.id or not _routing_allows(config, event_type, entry, booking.host_id):
            continue
        allowed, moves = await _current_booking_later(services, event_type, entry, booking.start)
        if not allowed or await services.opt_outs.is_opted_out(entry["phone"]):
            continue
        found.append((entry, moves))
        if len(found) >= MAX_OFFERS:
            break
    return found


async def make_offers(services, booking_id: str, offer_id: str, now: datetime) -> dict[str, Any]:
    """Offer the cancelled booking's time to matching waitlisted customers; ``{"offered", "expiresAt"}``."""
    from shared.services import notifications as texts
    store = _store(services)
    existing = await store.get_offer(offer_id)
    if existing is not None and existing.status != "open":
        return {"offered": 0, "why": f"this time was already offered ({existing.status})"}
    if existing is not None:  # a re-run of this activity: the texts' keys keep them from going twice
        return {"offered": len(existing.entries), "expiresAt": existing.expires_at.isoformat()}
    stored = await services.bookings.get(booking_id)
    if stored is None or stored.value.status is not BookingStatus.CANCELLED:
        return {"offered": 0, "why": "the booking is not cancelled"}
    booking = stored.value
    config = services.business
    try:
        event_type = config.event_type(booking.event_type_key)
    except KeyError:
        return {"offered": 0, "why": "unknown event type"}
    if booking.start < now + event_type.minimum_notice:
        return {"offered": 0, "why": "the freed time is too soon to offer"}
    if not await _slot_is_free(services, booking.host_id, booking.start, booking.end, now):
        return {"offered": 0, "why": "the freed time is already taken"}
    matches = await _matching_entries(services, booking, now)
    if not matches:
        return {"offered": 0, "why": "nobody on the waitlist matches"}
    from shared.adapters.store_waitlist import OfferRecord
    expires_at = now + timedelta(minutes=OFFER_MINUTES)
    slot = {"eventType": event_type.key, "hostId": booking.host_id, "start": booking.start.isoformat(),
            "end": booking.end.isoformat(), "freedBy": booking.id}
    entries = [{**entry, "movesBooking": moves} for entry, moves in matches]
    await store.save_offer(OfferRecord(offer_id, slot, entries, expires_at, "open"), now=now)
    sent = 0
    for entry in entries:
        body = texts.waitlist_offer_text(config, event_type, booking.start, entry["timeZone"], expires_at,
                                         moves_booking=entry["movesBooking"])
        sent += await _text(services, entry["phone"], body, f"waitlist:{offer_id}:{entry['entryId']}:offer")
    log.info("waitlist: freed time offered to %d customer(s), %d texted", len(entries), sent)
    return {"offered": len(entries), "texted": sent, "expiresAt": expires_at.isoformat()}


async def _text(services, e164: str, body: str, key: str) -> int:
    try:
        await services.sms.send_sms(e164, body, tag="waitlist", key=key)
        return 1
    except OptedOutError:
        return 0
    except ExternalServiceError as exc:
        if exc.retryable:
            raise
        log.warning("waitlist text to %s not sent: %s", mask_phone(e164), type(exc).__name__)
        return 0


async def take_input(services, offer_id: str, entry_id: str, now: datetime) -> dict[str, Any]:
    """The saga that gives the offered time to this entry: ``{"saga", "instanceId", "input"}``, or ``{}``."""
    from shared.services.contracts import (BOOKING_SAGA, RESCHEDULE_SAGA, BookingRequest, RescheduleInput, SagaInput,
                                           booking_id_for, fingerprint)
    offer = await _store(services).get_offer(offer_id)
    if offer is None or offer.status != "open" or now >= offer.expires_at:
        return {}
    entry = next((e for e in offer.entries if e["entryId"] == entry_id), None)
    if entry is None:
        return {}
    slot = offer.slot
    start = datetime.fromisoformat(slot["start"])
    suffix = hashlib.sha256(f"{offer_id}\n{entry_id}".encode()).hexdigest()[:12]
    if entry.get("movesBooking"):
        move = RescheduleInput(booking_id=entry["bookingId"], start=start, host_id=slot["hostId"], requested_at=now)
        return {"saga": RESCHEDULE_SAGA, "instanceId": f"{entry['bookingId']}-waitlist-{suffix}",
                "input": move.model_dump(mode="json")}
    request = BookingRequest(event_type=slot["eventType"], start=start, time_zone=entry["timeZone"],
                             host_id=slot["hostId"], customer=Customer.model_validate(entry["customer"]),
                             context={"channel": "api", "initiatedBy": "waitlist offer",
                                      "source": {"via": "waitlist"}})
    body = request.model_dump(mode="json")
    booking_id = booking_id_for("waitlist", f"{offer_id}:{entry_id}")
    saga = SagaInput(booking_id=booking_id, request=request, idempotency_key=f"{offer_id}:{entry_id}",
                     fingerprint=fingerprint(body), requested_at=now)
    return {"saga": BOOKING_SAGA, "instanceId": booking_id, "input": saga.model_dump(mode="json")}


async def close_offers(services, offer_id: str, winner_entry_id: str | None, now: datetime) -> dict[str, Any]:
    """End the offer: the winner leaves the waitlist, everyone else who said YES or not hears it was taken."""
    from shared.services import notifications as texts
    store = _store(services)
    offer = await store.get_offer(offer_id)
    if offer is None:
        return {"told": 0}
    status = "taken" if winner_entry_id else "expired"
    if offer.status == "open":  # a closed offer stays as it was closed (a re-run changes nothing)
        await store.set_offer_status(offer, status, winner_entry_id)
    told = 0
    for entry in offer.entries:
        if entry["entryId"] == winner_entry_id:
            await leave_waitlist(services, entry["phone"], entry["eventType"], entry)
        elif winner_entry_id:
            told += await _text(services, entry["phone"], texts.waitlist_taken_text(services.business),
                                f"waitlist:{offer_id}:{entry['entryId']}:taken")
    log.info("waitlist offer %s: told %d it was taken", status, told)
    return {"status": status, "told": told}


# ---------------------------------------------------------------- replies (called by the inbound SMS handler)

def is_acceptance(text: str | None) -> bool:
    """A reply that takes an offer: YES, Y, 1, OK... (case, spaces and punctuation ignored)."""
    words = " ".join("".join(ch for ch in (text or "").lower() if ch.isalnum() or ch.isspace()).split())
    return words in ACCEPT_WORDS


async def latest_offer(services, from_e164: str, now: datetime, *, within: timedelta = timedelta(days=1)):
    """The newest offer texted to this number in the last day, with its record: ``(NumberOffer, OfferRecord)``."""
    store = _store(services)
    for offer in await store.offers_to(from_e164):
        if now - offer.offered_at > within:
            break
        record = await store.get_offer(offer.offer_id)
        if record is not None:
            return offer, record
    return None


async def has_open_offer(services, from_e164: str, now: datetime) -> bool:
    """True when an offer texted to this number can still be taken (route its YES to handle_waitlist_reply)."""
    found = await latest_offer(services, from_e164, now)
    return bool(found) and found[1].status == "open" and now < found[1].expires_at


async def handle_waitlist_reply(services, from_e164: str, text: str, client, now: datetime | None = None) -> str | None:
    """Answer a text that may take a waitlist offer; the reply to send back, or None when it is not one.

    None: the text is not a YES-like acceptance, or no offer was texted to this number in the last day (the
    caller handles the text as usual). Otherwise the customer's answer: "booking it" (the offer orchestration
    got their YES; the booking saga's confirmation text follows, or "just taken" if someone was quicker),
    "just taken" or "has expired". ``client`` is the trigger's ``DurableOrchestrationClient``.
    """
    from shared import clock
    from shared.services import notifications as texts
    if not is_acceptance(text):
        return None
    now = now or clock.now()
    found = await latest_offer(services, from_e164, now)
    if found is None:
        return None
    mine, offer = found
    config = services.business
    if offer.status == "taken":
        return None if offer.winner_entry_id == mine.entry_id else texts.waitlist_taken_text(config)
    if offer.status == "expired" or now >= offer.expires_at:
        return texts.waitlist_expired_text(config)
    try:
        await client.raise_event(offer.offer_id, ACCEPT_EVENT, {"entryId": mine.entry_id})
    except Exception:  # noqa: BLE001 - the offer ended between the read and the event
        return texts.waitlist_taken_text(config)
    log.info("waitlist: %s said yes to an offer", mask_phone(from_e164))
    return texts.waitlist_accepted_text(config)


async def offer_freed_slot(client, booking_id: str) -> str:
    """Start the offer of a cancelled booking's time (once per booking); ``started`` or ``exists``."""
    instance_id = offer_instance_id(booking_id)
    try:
        await client.start_new(ORCHESTRATOR, instance_id, {"bookingId": booking_id})
    except Exception:  # noqa: BLE001 - it exists (a re-run of the same activity, or still running)
        if not await client.get_status(instance_id):
            raise
        return "exists"
    return "started"
