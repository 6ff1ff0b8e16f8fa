"""What the sagas say and sign: texts, e-mail escaping, webhook signatures and webhook settings (pure, fast)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.config import SettingsError, load_business_config, load_settings
from shared.domain.booking import Booking, BookingContext, Customer
from shared.services import notifications as texts
from shared.services.webhooks import delivery_id, sign, verify_signature

UTC = timezone.utc
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def business():
    """The sample business configuration (no stack needed: these tests are pure)."""
    return load_business_config(str(ROOT / "config" / "business.example.yaml"))


def _booking(**customer) -> Booking:
    person = {"name": "Ana <b>Bold</b>", "phone": "+13125550142", "address": "12 Elm St\nApt 3", **customer}
    start = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    return Booking(id="bk_1", event_type_key="plumbing-repair", host_id="dana", start=start,
                   end=datetime(2026, 3, 3, 16, 0, tzinfo=UTC), time_zone="America/Chicago",
                   customer=Customer(**person), context=BookingContext(channel="voice"), created_at=start)


def test_the_text_is_one_plain_line_in_the_customers_time(business):
    booking = _booking()
    event_type, host = business.event_type("plumbing-repair"), business.host("dana")
    text = texts.sms_text("created", booking, business, event_type, host)
    assert text == ("Lakeshore Plumbing & Heating: your Plumbing repair visit is confirmed for Tue, Mar 3 at "
                    "9:00 AM CST with Dana Reyes at 12 Elm St Apt 3. To reschedule or cancel, call (312) 555-0100. "
                    "Ref bk_1.")
    assert all(ord(ch) < 128 for ch in text)
    cancelled = texts.sms_text("cancelled", booking, business, event_type, host)
    assert cancelled.startswith("Lakeshore Plumbing & Heating: your Plumbing repair visit on Tue, Mar 3 at 9:00 AM "
                                "CST has been cancelled.")


def test_a_text_with_the_manage_link_offers_it_instead_of_a_call_and_stays_within_two_segments(business):
    from shared.services.manage_links import issue, manage_url
    booking = _booking(address="2400 N Lincoln Ave, Chicago, IL 60614")
    booking = booking.model_copy(update={"id": "bk_0123456789abcdef01234567", "status": "confirmed"})
    event_type, host = business.event_type("plumbing-repair"), business.host("dana")
    base = "https://func-frontdesk-abc123def456g.azurewebsites.net"  # the length of a real app's address
    link = manage_url(base, issue("s" * 32, booking.id, booking.end))
    made = texts.sms_text("created", booking, business, event_type, host, manage_url=link)
    moved = texts.sms_text("rescheduled", booking, business, event_type, host, previous_start=booking.start,
                           manage_url=link)
    # The link's page shows the reference: the text spends its characters on the link instead.
    assert made.endswith(f"Manage your visit: {link}") and "call (312)" not in made and "Ref " not in made
    assert moved.endswith(f"Manage your visit: {link}") and "has moved to" in moved
    # Concatenated GSM-7 texts carry 153 characters a segment: two segments, even with a long address.
    for text in (made, moved):
        assert all(ord(ch) < 128 for ch in text) and len(text) <= 2 * 153, (len(text), text)
    cancelled = texts.sms_text("cancelled", booking, business, event_type, host, manage_url=link)
    assert link not in cancelled and "To book again, call (312) 555-0100." in cancelled


def test_customer_text_is_escaped_in_the_owner_email(business):
    message = texts.owner_email(_booking(notes="<img src=x onerror=alert(1)>"), business,
                                business.event_type("plumbing-repair"), business.host("dana"))
    assert "&lt;img src=x onerror=alert(1)&gt;" in message.body_html and "<img" not in message.body_html
    assert "Ana &lt;b&gt;Bold&lt;/b&gt;" in message.body_html
    assert message.to == ("dana.reyes@lakeshore-ph.example.com", "office@lakeshore-ph.example.com")


def test_a_signature_holds_only_for_its_body_secret_and_time():
    body, secret, now = b'{"type":"booking.created"}', "s" * 32, int(time.time())
    header = sign(secret, body, now)
    assert verify_signature(secret, header, body, now=now)
    assert not verify_signature(secret, header, body + b" ", now=now)
    assert not verify_signature("t" * 32, header, body, now=now)
    assert not verify_signature(secret, header, body, now=now + 301)  # a replay, too late
    assert not verify_signature(secret, None, body, now=now)
    assert delivery_id("change-1", "booking.created") == delivery_id("change-1", "booking.created")
    assert delivery_id("change-1", "booking.created") != delivery_id("change-2", "booking.created")


@pytest.mark.parametrize("env, problem", [
    ({"WEBHOOKS__URLS": "http://erp.example.com/hook", "WEBHOOKS__SECRET": "x" * 20}, "must use https"),
    ({"WEBHOOKS__URLS": "https://erp.example.com/hook"}, "WEBHOOKS__SECRET"),
    ({"WEBHOOKS__URLS": "ftp://erp.example.com/hook", "WEBHOOKS__SECRET": "x" * 20}, "not an http(s) URL"),
])
def test_webhook_settings_refuse_unsafe_targets(monkeypatch, env, problem):
    monkeypatch.setenv("STORAGE__CONNECTION_STRING", "UseDevelopmentStorage=true")
    monkeypatch.delenv("WEBHOOKS__SECRET", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert problem in str(caught.value)


def test_webhook_targets_are_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("STORAGE__CONNECTION_STRING", "UseDevelopmentStorage=true")
    monkeypatch.setenv("WEBHOOKS__URLS", " https://a.example.com/h , http://127.0.0.1:9/h,https://a.example.com/h")
    monkeypatch.setenv("WEBHOOKS__SECRET", "x" * 16)
    assert load_settings().webhooks.targets == ("https://a.example.com/h", "http://127.0.0.1:9/h")
