"""The pure rules of two-way SMS: what a text asks for, what a carrier's report means, which booking it names."""

from datetime import datetime, timedelta, timezone

import pytest

from shared.services.sms_inbound import (acs_report, booking_of_text_key, classify, is_confirmation, next_upcoming,
                                         twilio_report)

UTC = timezone.utc


@pytest.mark.parametrize("text, command", [
    ("STOP", "opt_out"), (" stop. ", "opt_out"), ("Unsubscribe", "opt_out"), ("STOPALL", "opt_out"),
    ("END", "opt_out"), ("QUIT", "opt_out"), ("REVOKE", "opt_out"), ("OPTOUT", "opt_out"),
    ("CANCEL", "opt_out"),  # the carrier keyword wins over "cancel my visit"
    ("start", "opt_in"), ("UNSTOP", "opt_in"), ("YES", "yes"), ("yes!", "yes"),
    ("HELP", "help"), ("info", "help"),
    ("C", "cancel"), ("c", "cancel"), (" C. ", "cancel"), ("cancel my appointment please", "cancel"),
    ("R", "reschedule"), ("reschedule", "reschedule"),
    ("Can you come earlier?", "text"), ("", "text"), ("CC", "text"), ("Canceling is not what I want", "text"),
])
def test_classify(text, command):
    assert classify(text) == command


def test_only_c_or_yes_confirm_a_pending_cancellation():
    assert is_confirmation("C") and is_confirmation("yes") and is_confirmation(" c ")
    assert not is_confirmation("cancel my appointment") and not is_confirmation("STOP") and not is_confirmation("R")


@pytest.mark.parametrize("status, code, delivered, permanent", [
    ("delivered", None, True, False), ("read", None, True, False),
    ("queued", None, None, False), ("sent", None, None, False), ("sending", None, None, False),
    ("undelivered", "30003", False, True), ("undelivered", "30005", False, True), ("failed", "30006", False, True),
    ("failed", "21610", False, True), ("failed", "21614", False, True), ("undelivered", "30004", False, True),
    ("undelivered", "30008", False, False), ("failed", None, False, False),
])
def test_twilio_statuses_and_error_codes(status, code, delivered, permanent):
    report = twilio_report("SM1", status, code)
    assert (report.delivered, report.permanent) == (delivered, permanent)
    if code and permanent:
        assert code in report.detail


@pytest.mark.parametrize("status, details, delivered, permanent", [
    ("Delivered", "No error.", True, False),
    ("Failed", "Sender blocked for given recipient.", False, True),
    ("Failed", "Unreachable destination: landline", False, True),
    ("Failed", "Invalid destination number", False, True),
    ("Failed", "Message expired (carrier did not deliver in time)", False, False),
    ("Sending", "", None, False),
])
def test_acs_delivery_reports(status, details, delivered, permanent):
    report = acs_report("Outgoing_1", status, details)
    assert (report.delivered, report.permanent) == (delivered, permanent)


def test_the_booking_is_read_from_a_booking_text_key_only():
    assert booking_of_text_key("booking:bk_1:created:inst-1:sms") == "bk_1"
    assert booking_of_text_key("booking:a:b:rescheduled:x:sms") == "a:b"  # ids may hold colons
    assert booking_of_text_key("sms-reply:acs:Incoming_1") is None
    assert booking_of_text_key(None) is None


def test_next_upcoming_is_the_earliest_confirmed_booking_not_started(make_booking):
    now = datetime(2026, 12, 4, 15, tzinfo=UTC)
    past = make_booking("bk_past", now - timedelta(hours=2))
    later = make_booking("bk_later", now + timedelta(days=3))
    sooner = make_booking("bk_sooner", now + timedelta(days=1))
    cancelled = make_booking("bk_cancelled", now + timedelta(hours=1), cancelled=True)
    assert next_upcoming([past, later, sooner, cancelled], now).id == "bk_sooner"
    assert next_upcoming([past, cancelled], now) is None


@pytest.fixture
def make_booking():
    from shared.domain.booking import Booking

    def make(booking_id: str, start: datetime, cancelled: bool = False) -> Booking:
        booking = Booking.model_validate({
            "id": booking_id, "eventTypeKey": "plumbing-repair", "hostId": "dana", "start": start,
            "end": start + timedelta(hours=1), "customer": {"name": "Jordan Lee", "phone": "+13125550188"},
            "context": {"channel": "api"}, "createdAt": start - timedelta(days=5)}).confirm(start - timedelta(days=5))
        return booking.cancel(start - timedelta(days=4)) if cancelled else booking
    return make


def test_a_delivery_report_is_recorded_once_and_a_permanent_failure_fails_the_channel(make_booking):
    now = datetime(2026, 12, 4, 15, tzinfo=UTC)
    booking = make_booking("bk_1", now + timedelta(days=1)).record_notification("sms", "sent", now)
    delivered = booking.record_delivery("sms", "delivered", now)
    assert delivered.notifications.sms.delivery == "delivered" and delivered.notifications.sms.status == "sent"
    assert delivered.record_delivery("sms", "delivered", now + timedelta(minutes=1)) is delivered
    failed = booking.record_delivery("sms", "failed", now, detail="landline", permanent=True)
    assert failed.notifications.sms.status == "failed" and failed.notifications.sms.last_error == "landline"
    assert failed.notifications.sms.attempts == booking.notifications.sms.attempts
    transient = booking.record_delivery("sms", "failed", now, detail="expired")
    assert transient.notifications.sms.status == "sent" and transient.notifications.sms.delivery == "failed"


def test_a_new_attempt_forgets_the_report_on_the_previous_message(make_booking):
    now = datetime(2026, 12, 4, 15, tzinfo=UTC)
    delivered = (make_booking("bk_1", now + timedelta(days=1)).record_notification("sms", "sent", now)
                 .record_delivery("sms", "delivered", now))
    again = delivered.record_notification("sms", "sent", now + timedelta(hours=1))  # e.g. the text of a move
    assert again.notifications.sms.delivery is None and again.notifications.sms.attempts == 2
