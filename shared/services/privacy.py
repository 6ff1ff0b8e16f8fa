"""Export and erasure of one person's data (GDPR / CCPA requests), given their phone number or e-mail address.

Finding the person reads no table whole: ``privacyindex`` (shared/adapters/store_privacy.py) names, by the
hash of the phone or e-mail, the bookings and calls that mention them; each hint is checked against its
record. A call also leads to the bookings it made (their ids derive from the CallSid), and a booking to its
sagas (Durable instance ids start with the booking id) and to its follow-ups, named after it
(``reminders:<id>``, ``waitlist-offer:<id>``). A phone number also leads, by keys derived from it, to the
waitlist entries (one per event type), the offers texted to it (and their ``waitlist-offer`` orchestrations)
and a pending ``C`` cancellation waiting for its confirmation.

**Export** is everything Frontdesk holds about the person: bookings (with the outcome of each notification:
text, e-mail, Dynamics, webhooks), voice call state with what the caller said, waitlist entries and the
offers texted to them, a pending cancellation by text, the SMS opt-out record, and the inputs and outputs
of the Durable instances that carried them. Outlook events and Dynamics appointments
belong to the business's own systems of record: the export lists their ids so IT can act there
(docs/SECURITY.md).

**Erasure** then removes it:

- bookings keep a skeleton without personal data (id, status, event type, host, times, Outlook/Dynamics
  ids, notification statuses), so claims, round-robin counts and reporting stay consistent; the customer
  becomes ``[erased]`` and every other occurrence of their name, number, address or notes is scrubbed;
- call state (the transcript) is deleted;
- waitlist entries are deleted, with the rows naming the offers texted to the number; an offer that has
  closed keeps only the entry's id in its snapshot (an open one -- 30 minutes -- is pending);
- a pending ``C`` confirmation is deleted;
- the booking's reminder orchestration is terminated (it could only text a number that is no longer
  there) and purged;
- Durable history carrying the person is purged, once its instance has finished. A booking whose saga is
  still running, and a call still going on, are left untouched and reported as pending (the saga would
  write the customer back; the call would start over): ask again once they have finished (202);
- the index rows go with the records; the opt-out record is kept (it holds a hash and a masked number,
  and proves consent: docs/SECURITY.md). SMS outbox intents (a number masked to its last two digits,
  hashes), inbound-text replay claims (hashes of message ids) and rate-limit buckets (hashes of caller
  addresses) name nobody and are not searched: retention deletes them within days.

Running an erasure again is harmless: what is gone is not found again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared import clock
from shared.logs import get_logger, mask_phone
from shared.services.contracts import decoded

log = get_logger(__name__)

ERASED = "[erased]"
TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
CALL_STALE_AFTER = timedelta(days=1)
TERMINATED_WITHIN = 20.0  # seconds to wait for a terminated reminder orchestration to end before reporting it
_MIN_SCRUB_CHARS = 3  # shorter values ("A") would scrub unrelated text


class NoSubject(ValueError):
    """Neither a usable phone number nor an e-mail address was given."""


@dataclass
class Person:
    """Everything found about one person, as read before any change."""

    phone: str | None
    email: str | None
    bookings: list = field(default_factory=list)  # Stored[Booking]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (CallSid, state)
    instances: list[dict[str, Any]] = field(default_factory=list)
    opt_out: dict[str, Any] | None = None
    waitlist: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (PartitionKey, RowKey, entry)
    offers: list = field(default_factory=list)  # OfferRecord texted to the phone
    pending_cancel: dict[str, Any] | None = None
    event_types: tuple[str, ...] = ()  # the business's event type keys (a waitlist entry id names one)

    def waitlist_entries(self) -> list[dict[str, Any]]:
        """Each entry once (it has a row per date of its window)."""
        return list({doc.get("entryId"): doc for _, _, doc in self.waitlist}.values())

    def export(self) -> dict[str, Any]:
        bookings = [stored.value for stored in self.bookings]
        return {
            "subject": {"phone": self.phone, "email": self.email},
            "generatedAt": clock.now().isoformat(),
            "bookings": [booking.model_dump(mode="json", by_alias=True) for booking in bookings],
            "notifications": [{"bookingId": booking.id,
                               **booking.notifications.model_dump(mode="json", by_alias=True)}
                              for booking in bookings],
            "calls": [{"callSid": sid, "state": state} for sid, state in self.calls],
            "durableInstances": self.instances,
            "waitlist": self.waitlist_entries(),
            "waitlistOffers": [{"offerId": o.offer_id, "slot": o.slot, "status": o.status,
                                "expiresAt": o.expires_at.isoformat(),
                                "entries": [e for e in o.entries if e.get("entryId") in self._entry_ids()]}
                               for o in self.offers],
            "pendingSmsCancel": self.pending_cancel,
            "optOut": self.opt_out,
            "systemsOfRecord": {
                "outlookEvents": [{"bookingId": b.id, "mailbox": b.outlook_mailbox, "eventId": b.outlook_event_id}
                                  for b in bookings if b.outlook_event_id],
                "dynamicsAppointments": [
                    {"bookingId": b.id, "appointmentId": b.crm_appointment_id,
                     "regarding": ({"entity": b.context.dynamics_record_type, "id": b.context.dynamics_record_id}
                                   if b.context.dynamics_record_id else None)}
                    for b in bookings if b.crm_appointment_id or b.context.dynamics_record_id],
            },
        }


    def _entry_ids(self) -> set[str]:
        from shared.services.waitlist import entry_id_for
        return {e.get("entryId") for e in self.waitlist_entries()} | (
            {entry_id_for(self.phone, key) for key in self.event_types} if self.phone else set())


def subject_of(phone: str | None, email: str | None, default_region: str = "US") -> tuple[str | None, str | None]:
    """The phone as E.164 and the e-mail in lower case; ``NoSubject`` when neither is usable."""
    from shared.domain.phones import try_e164
    phone = (phone or "").strip() or None
    email = (email or "").strip().lower() or None
    e164 = try_e164(phone, default_region) if phone else None
    if phone and e164 is None:
        raise NoSubject("phone is not a phone number")
    if email is not None and not re.fullmatch(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}", email):
        raise NoSubject("email is not an e-mail address")
    if e164 is None and email is None:
        raise NoSubject("give a phone number, an e-mail address or both")
    return e164, email


# ---------------------------------------------------------------- finding

async def find_person(services, client, phone: str | None, email: str | None) -> Person:
    """Read everything Frontdesk holds about the person (no change is made)."""
    from shared.adapters.store_privacy import PrivacyIndex, call_subjects, read_opt_out, subjects_of
    from shared.services.voice.actions import booking_id_of

    person = Person(phone, email)
    subjects = subjects_of(phones=(phone,), emails=(email,))
    index = PrivacyIndex(services.settings)
    hints: set[tuple[str, str]] = set()
    for subject in subjects:
        hints.update(await index.find(subject))

    booking_ids = {record_id for kind, record_id in hints if kind == "booking"}
    for sid in sorted(record_id for kind, record_id in hints if kind == "call"):
        stored = await services.calls.get(sid)
        if stored is None or not (call_subjects(stored.value) & subjects):
            continue  # a stale hint
        person.calls.append((sid, stored.value))
        attempts = int(((stored.value.get("dialog") or {}).get("attempts")) or 0)
        booking_ids.update(booking_id_of(f"{sid}/{n}") for n in range(1, attempts + 1))

    call_bookings = {booking_id_of(f"{sid}/{n}") for sid, state in person.calls
                     for n in range(1, int((state.get("dialog") or {}).get("attempts") or 0) + 1)}
    for booking_id in sorted(booking_ids):
        stored = await services.bookings.get(booking_id)
        if stored is None:
            continue
        customer = stored.value.customer
        named = any(s.matches(customer.phone if s.kind == "phone" else customer.email) for s in subjects)
        if named or booking_id in call_bookings:
            person.bookings.append(stored)

    for stored in person.bookings:
        person.instances.extend(await _instances(client, stored.value.id))
    if phone:
        person.opt_out = await read_opt_out(services.settings, phone)
        await _find_by_phone(services, client, person, phone)
    return person


async def _find_by_phone(services, client, person: Person, phone: str) -> None:
    """Waitlist entries and offers, and a pending cancellation: their keys derive from the number."""
    from shared.adapters.store_sms_inbound import SmsInboundLedger
    from shared.adapters.store_waitlist import WaitlistStore
    from shared.services.waitlist import entry_id_for
    store = WaitlistStore(services.settings)
    person.event_types = tuple(event_type.key for event_type in services.business.event_types)
    person.waitlist = await store.find_entries([entry_id_for(phone, key) for key in person.event_types])
    known = {instance["instanceId"] for instance in person.instances}
    for number_offer in await store.offers_to(phone):
        offer = await store.get_offer(number_offer.offer_id)
        if offer is not None:
            person.offers.append(offer)
        if number_offer.offer_id not in known:
            person.instances.extend(await _described(client, [number_offer.offer_id], None, "waitlistOffer"))
            known.add(number_offer.offer_id)
    pending = await SmsInboundLedger(services.settings).pending_cancel(phone)
    if pending is not None:
        person.pending_cancel = {"bookingId": pending.booking_id, "expiresAt": pending.expires_at.isoformat()}


async def _instances(client, booking_id: str) -> list[dict[str, Any]]:
    """The booking's orchestrations with their inputs and outputs: sagas (ids start with the booking id),
    then its reminders and its waitlist offer (named after it)."""
    from shared.services.retention import follow_up_ids, is_saga_of
    sagas = [listed.instance_id for listed in await client.get_status_by(instance_id_prefix=booking_id)
             if is_saga_of(booking_id, listed.instance_id)]
    reminders, offer = follow_up_ids(booking_id)
    return (await _described(client, sagas, booking_id, "saga")
            + await _described(client, [reminders], booking_id, "reminders")
            + await _described(client, [offer], booking_id, "waitlistOffer"))


async def _described(client, instance_ids: list[str], booking_id: str | None, kind: str) -> list[dict[str, Any]]:
    found = []
    for instance_id in instance_ids:
        status = await client.get_status(instance_id, show_input=True)
        if not status or not getattr(status, "instance_id", None):
            continue
        found.append({"instanceId": status.instance_id, "bookingId": booking_id, "kind": kind, "name": status.name,
                      "runtimeStatus": getattr(status.runtime_status, "value", status.runtime_status),
                      "createdTime": _iso(status.created_time), "lastUpdatedTime": _iso(status.last_updated_time),
                      "input": decoded(status.input_), "output": decoded(status.output),
                      "customStatus": decoded(status.custom_status)})
    return found


def _iso(value) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


# ---------------------------------------------------------------- erasing

async def erase_person(services, client, phone: str | None, email: str | None) -> tuple[dict[str, Any], bool]:
    """Export, then erase, what Frontdesk holds about the person. Returns the report and whether it is complete."""
    person = await find_person(services, client, phone, email)
    report: dict[str, Any] = {"export": person.export(),
                              "erased": {"bookings": 0, "calls": 0, "durableInstances": 0, "waitlistEntries": 0,
                                         "waitlistOffers": 0, "smsConfirmations": 0},
                              "pending": [], "kept": []}
    # A running saga would write the customer back: its booking waits. Reminders and offers do not write it.
    running = {instance["bookingId"] for instance in person.instances
               if instance["runtimeStatus"] not in TERMINAL and instance.get("kind", "saga") == "saga"}
    for instance in person.instances:
        runtime = instance["runtimeStatus"]
        if instance.get("kind") == "reminders" and runtime not in TERMINAL and instance["bookingId"] not in running:
            # Its booking is erased now, so it could only text a number that is gone; a booking whose saga
            # still runs keeps its reminders until then (the saga would start them again anyway).
            runtime = await _terminated(client, instance["instanceId"])
        if runtime not in TERMINAL:
            report["pending"].append({"instanceId": instance["instanceId"], "runtimeStatus": runtime,
                                      "reason": "still running; ask again once it has finished"})
            continue
        purged = await client.purge_instance_history(instance["instanceId"])
        report["erased"]["durableInstances"] += int(getattr(purged, "instances_deleted", 0) or 0)

    secrets = _secrets_of(person)
    for stored in person.bookings:
        if stored.value.id in running:
            continue  # its saga would write the customer back; erased when asked again after it finished
        await _anonymise_booking(services, stored, secrets)
        report["erased"]["bookings"] += 1

    for sid, state in person.calls:
        if _in_progress(state):
            # Deleting a live call's state would make its next webhook start the conversation over.
            report["pending"].append({"callSid": sid, "reason": "the call is still going on; ask again after it"})
            continue
        await services.calls.delete(sid)
        report["erased"]["calls"] += 1

    await _erase_waitlist(services, person, report)
    if person.pending_cancel is not None:
        from shared.adapters.store_sms_inbound import SmsInboundLedger
        await SmsInboundLedger(services.settings).forget_cancel(person.phone)
        report["erased"]["smsConfirmations"] += 1

    if person.opt_out is not None:
        report["kept"].append({"record": "smsOptOut", "maskedNumber": person.opt_out.get("maskedNumber"),
                               "why": "proof of the person's SMS consent choice (TCPA / CTIA); holds only a hash "
                                      "and a masked number"})
    log.info("personal data erased for %s: %d bookings, %d calls, %d instances, %d waitlist entries, %d pending",
             mask_phone(phone) if phone else "an e-mail address", report["erased"]["bookings"],
             report["erased"]["calls"], report["erased"]["durableInstances"], report["erased"]["waitlistEntries"],
             len(report["pending"]))
    return report, not report["pending"]


async def _terminated(client, instance_id: str) -> str:
    """Terminate a booking's reminder orchestration and wait (briefly) until it has ended; its status then."""
    import asyncio
    try:
        await client.terminate(instance_id, "personal data erased")
    except Exception:  # noqa: BLE001 - the SDK raises a bare Exception for 404/410: it has ended meanwhile
        pass
    deadline = asyncio.get_running_loop().time() + TERMINATED_WITHIN
    while True:
        status = await client.get_status(instance_id)
        runtime = getattr(getattr(status, "runtime_status", None), "value", getattr(status, "runtime_status", None))
        if runtime in TERMINAL or not getattr(status, "instance_id", None) or \
                asyncio.get_running_loop().time() > deadline:
            return runtime or "Terminated"
        await asyncio.sleep(0.2)


async def _erase_waitlist(services, person: Person, report: dict[str, Any]) -> None:
    """Delete the person's waitlist entries and the rows naming offers to them; scrub closed offers."""
    from shared.adapters.store_waitlist import WaitlistStore
    if not person.phone:
        return
    store = WaitlistStore(services.settings)
    entry_ids = person._entry_ids()
    for offer in person.offers:
        if offer.status == "open":
            report["pending"].append({"offerId": offer.offer_id, "reason": "a waitlist offer to this number is "
                                      "still open; ask again once it has closed (30 minutes)"})
            continue
        await store.scrub_offer(offer, entry_ids, ERASED)
        report["erased"]["waitlistOffers"] += 1
    if not any(offer.status == "open" for offer in person.offers):
        await store.forget_number(person.phone)  # the open offer still needs to recognise this number's YES
    await store.delete_rows([(pk, rk) for pk, rk, _ in person.waitlist])
    report["erased"]["waitlistEntries"] += len(person.waitlist_entries())


def _in_progress(state: dict[str, Any]) -> bool:
    """A call not ended yet (one silent for a day is over, whatever Twilio did or did not tell us)."""
    dialog = state.get("dialog") or {}
    if dialog.get("ended"):
        return False
    try:
        started_at = str(dialog.get("started_at") or dialog.get("startedAt"))
        started = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
    except ValueError:
        return False
    return clock.now() - started < CALL_STALE_AFTER


def _secrets_of(person: Person) -> list[str]:
    """Every personal value to scrub from what is kept: the subject's and each booking customer's."""
    values = {person.phone, person.email}
    for stored in person.bookings:
        customer = stored.value.customer
        values.update({customer.name, customer.phone, customer.email, customer.address, customer.postal_code,
                       customer.notes})
    for _, state in person.calls:
        details = (state.get("dialog") or {}).get("details") or {}
        values.update({details.get("name"), details.get("address"), details.get("phone"), details.get("email")})
    for entry in person.waitlist_entries():
        customer = entry.get("customer") or {}
        values.update({entry.get("phone"), *(v for v in customer.values() if isinstance(v, str))})
    usable = {value.strip() for value in values if value and len(value.strip()) >= _MIN_SCRUB_CHARS}
    return sorted(usable - {ERASED}, key=len, reverse=True)


def scrubbed(value: Any, secrets: list[str]) -> Any:
    """``value`` (JSON) with every occurrence of each secret, in any case, replaced by ``[erased]``."""
    if isinstance(value, str):
        for secret in secrets:
            value = re.sub(re.escape(secret), ERASED, value, flags=re.IGNORECASE)
        return value
    if isinstance(value, list):
        return [scrubbed(item, secrets) for item in value]
    if isinstance(value, dict):
        return {key: scrubbed(item, secrets) for key, item in value.items()}
    return value


def anonymised(booking, secrets: list[str]):
    """The booking's non-personal skeleton: customer erased, free text scrubbed, everything else kept."""
    from shared.domain.booking import Booking
    data = booking.model_dump(mode="json", by_alias=True)
    customer = data.pop("customer")
    data = scrubbed(data, secrets + [v for v in customer.values() if isinstance(v, str) and
                                     len(v.strip()) >= _MIN_SCRUB_CHARS])
    data["customer"] = {"name": ERASED}
    if data.get("outlookSync"):
        data["outlookSync"].update(subject=None, location=None)  # Outlook's copy of the name and address
    return Booking.model_validate(data)


async def _anonymise_booking(services, stored, secrets: list[str]) -> None:
    from shared.errors import ConflictError
    for _ in range(5):
        try:
            await services.bookings.save(anonymised(stored.value, secrets), stored.etag)
            return
        except ConflictError:
            stored = await services.bookings.get(stored.value.id)  # changed meanwhile: erase the newer version
            if stored is None:
                return
    raise ConflictError("booking kept changing while being erased; ask again", service="bookings")
