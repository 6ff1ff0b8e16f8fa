"""The pure parts of export and erasure: who a request names, what an erased booking keeps, whose sagas are whose."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.adapters.store_privacy import Subject, call_subjects
from shared.domain.booking import Booking
from shared.services.privacy import ERASED, NoSubject, anonymised, scrubbed, subject_of
from shared.services.retention import is_saga_of

UTC = timezone.utc
NOW = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def booking(**changes) -> Booking:
    data = {
        "id": "bk_0123456789abcdef01234567", "status": "confirmed", "eventTypeKey": "plumbing-repair",
        "hostId": "dana", "start": NOW + timedelta(days=2), "end": NOW + timedelta(days=2, hours=1),
        "timeZone": "America/Chicago",
        "customer": {"name": "Maria Gonzalez", "phone": "+13125550188", "email": "maria@example.org",
                     "address": "2400 N Lincoln Ave, Chicago", "postalCode": "60614", "notes": "Maria's dog barks"},
        "context": {"channel": "voice", "initiatedBy": "call from Maria Gonzalez"},
        "routing": {"policy": "territory", "note": "territory north (60614)"},
        "outlookEventId": "AAMkAD", "outlookMailbox": "dana@example.com",
        "outlookSync": {"subject": "Plumbing repair visit - Maria Gonzalez", "location": "2400 North Lincoln Avenue"},
        "cancelReason": None, "createdAt": NOW, "updatedAt": NOW, "version": 3,
    }
    data.update(changes)
    return Booking.model_validate(data)


def test_a_request_names_a_phone_in_e164_and_an_email_in_lower_case():
    assert subject_of("(312) 555-0188", None) == ("+13125550188", None)
    assert subject_of(None, " Maria@Example.ORG ") == (None, "maria@example.org")
    for phone, email in ((None, None), ("", "  "), ("call me", None), (None, "maria at example")):
        with pytest.raises(NoSubject):
            subject_of(phone, email)


def test_a_subject_is_keyed_by_a_hash_that_matches_however_it_was_typed():
    assert Subject.email("Maria@Example.org").key == Subject.email("maria@example.org ").key
    assert "3125550188" not in Subject.phone("+13125550188").key
    assert Subject.phone("+13125550188").key != Subject.email("+13125550188").key
    assert Subject.email("maria@example.org").matches("MARIA@example.org")


def test_a_call_names_its_caller_and_whoever_the_caller_said_they_are():
    state = {"dialog": {"caller": "+13125550188", "details": {"phone": "+13125550199", "email": "m@example.org"}}}
    assert call_subjects(state) == {Subject.phone("+13125550188"), Subject.phone("+13125550199"),
                                    Subject.email("m@example.org")}
    assert call_subjects({"dialog": {"caller": None}}) == set() and call_subjects({}) == set()


def test_an_erased_booking_keeps_its_skeleton_and_no_personal_value_anywhere():
    original = booking()
    erased = anonymised(original, ["Maria Gonzalez", "2400 North Lincoln Avenue"])
    assert erased.customer.name == ERASED
    assert (erased.customer.phone, erased.customer.email, erased.customer.address, erased.customer.notes) == (
        None, None, None, None)
    assert (erased.id, erased.status, erased.host_id, erased.start, erased.end, erased.outlook_event_id) == (
        original.id, original.status, original.host_id, original.start, original.end, original.outlook_event_id)
    text = erased.model_dump_json().lower()
    for trace in ("maria", "gonzalez", "3125550188", "lincoln", "60614", "barks"):
        assert trace not in text, trace
    assert erased.outlook_sync.subject is None and erased.context.initiated_by == f"call from {ERASED}"


def test_scrubbing_replaces_every_occurrence_in_any_case_inside_any_json():
    value = {"a": ["MARIA gonzalez called", {"b": "maria gonzalez"}], "n": 3, "none": None}
    assert scrubbed(value, ["Maria Gonzalez"]) == {"a": [f"{ERASED} called", {"b": ERASED}], "n": 3, "none": None}


def test_a_bookings_sagas_are_its_id_and_its_dashed_children_only():
    assert is_saga_of("bk_1", "bk_1") and is_saga_of("bk_1", "bk_1-cancel")
    assert is_saga_of("bk_1", "bk_1-reschedule-abc-v3")
    assert not is_saga_of("bk_1", "bk_12") and not is_saga_of("bk_1", None)


def test_a_bookings_reminders_and_waitlist_offer_are_its_follow_ups_not_sagas_of_it():
    from shared.services.retention import follow_up_ids
    reminders, offer = follow_up_ids("bk_7f3a")
    assert (reminders, offer) == ("reminders:bk_7f3a", "waitlist-offer:bk_7f3a")
    assert not is_saga_of("bk_7f3a", reminders) and not is_saga_of("bk_7f3a", offer)
    assert follow_up_ids("bk_7f3") != follow_up_ids("bk_7f3a")
