"""The manage page in Chromium: a customer opens the link from their text, moves or cancels the visit.

Against the whole local stack (tests/browser/conftest.py). The link is minted with the stack's
``MANAGE__LINK_SECRET`` exactly as the confirmation text's is (tests/e2e/manage checks the text itself).
Every screen is checked with axe-core; any script error or CSP refusal fails the test.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
from browser_support import (DYNAMICS_KEY, MANAGE_SECRET, assert_accessible, availability, open_context, screenshot,
                             wait_for)

from shared.services.manage_links import issue

UTC = timezone.utc
REPAIR = "plumbing-repair"
DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"


def book_with_dana(stack, index: int) -> dict:
    """A confirmed booking with Dana, made by an integration, at the ``index``-th time she is free."""
    slots = [s for s in availability(stack, REPAIR, days=12, postal_code="60614") if "dana" in s["hostIds"]]
    later = [s for s in slots if datetime.fromisoformat(s["start"]) > datetime.now(UTC) + timedelta(days=1)]
    body = {"eventType": REPAIR, "start": later[index * 7]["start"], "timeZone": "America/Chicago", "hostId": "dana",
            "customer": {"name": "Robin Park", "phone": "+13125550177", "address": "1450 W Wrightwood Ave",
                         "postalCode": "60614", "notes": "Leaking valve"}, "context": {"channel": "api"}}
    headers = {"x-functions-key": DYNAMICS_KEY, "Idempotency-Key": str(uuid.uuid4())}
    response = httpx.post(stack.url("bookings"), json=body, headers=headers, timeout=60)
    deadline = time.monotonic() + 60
    while response.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.5)
        response = httpx.get(response.json()["statusUrl"], headers=headers, timeout=30)
    assert response.status_code in (200, 201), response.text
    return response.json()


def link_of(stack, booking: dict) -> str:
    return stack.url("manage/" + issue(MANAGE_SECRET, booking["id"], datetime.fromisoformat(booking["end"])))


def events_of(stack, booking_id: str) -> list[dict]:
    return [e for e in stack.graph.events(DANA_MAILBOX) if (e.get("transactionId") or "").startswith(booking_id)]


def appointment_of(stack, booking_id: str) -> dict:
    [found] = [a for a in stack.dataverse.records("appointments") if booking_id in (a.get("description") or "")]
    return found


def _another_day_with_dana(page) -> None:
    """Click the next listed day on which Dana has a time (the day after may be a Sunday or a holiday)."""
    days = page.locator("button.fd-day")
    for index in range(1, days.count()):
        days.nth(index).click()
        if page.locator("#fd-slots-same button").count():
            return
    raise AssertionError("no other day with a time of Dana's in the window")


def test_a_customer_moves_their_visit_from_the_link(page, widget_stack):
    stack = widget_stack
    booking = book_with_dana(stack, 0)
    page.goto(link_of(stack, booking))
    page.get_by_role("heading", name="Your appointment").wait_for()
    assert page.locator("#fd-service").inner_text() == "Plumbing repair visit"
    assert page.locator("#fd-technician").inner_text() == "Dana"
    assert page.locator("#fd-where").inner_text().startswith("1450 ")
    assert "Robin" not in page.content() and "Wrightwood" not in page.content()
    assert_accessible(page, "manage")
    screenshot(page, "manage-page")

    page.get_by_role("button", name="Reschedule").click()
    page.locator("#fd-slots-same button").first.wait_for()
    assert page.locator("#fd-h-same").inner_text().startswith("With Dana on ")
    assert_accessible(page, "new times")
    _another_day_with_dana(page)
    choice = page.locator("#fd-slots-same button").first
    new_start = choice.get_attribute("data-start")
    choice.click()
    assert "Move your appointment to" in page.locator("#fd-move-text").inner_text()
    screenshot(page, "manage-times")
    old_url = page.url
    page.get_by_role("button", name="Move my appointment").click()
    page.get_by_text("Your appointment is moved to").wait_for(timeout=60_000)

    assert page.url != old_url  # the page now carries the link of the new time
    new_utc = datetime.fromisoformat(new_start).astimezone(UTC)
    [event] = wait_for(lambda: events_of(stack, booking["id"]), what="the moved event")
    assert event["start"]["dateTime"].startswith(new_utc.strftime("%Y-%m-%dT%H:%M:%S"))
    wait_for(lambda: appointment_of(stack, booking["id"])["scheduledstart"] == new_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
             what="the Dynamics appointment at the new time")
    assert_accessible(page, "moved")
    screenshot(page, "manage-moved")
    page.reload()
    assert page.get_by_role("heading", name="Your appointment").is_visible()


def test_a_customer_cancels_from_the_link_after_confirming(page, widget_stack):
    stack = widget_stack
    booking = book_with_dana(stack, 1)
    page.goto(link_of(stack, booking))
    page.get_by_role("button", name="Cancel appointment").click()
    page.get_by_role("heading", name="Cancel this appointment?").wait_for()
    assert_accessible(page, "cancel confirmation")
    page.get_by_role("button", name="No, keep it").click()
    assert events_of(stack, booking["id"])  # nothing happened
    page.get_by_role("button", name="Cancel appointment").click()
    page.get_by_role("button", name="Yes, cancel it").click()
    page.get_by_role("heading", name="Your appointment is cancelled").wait_for(timeout=60_000)

    assert events_of(stack, booking["id"]) == []
    assert appointment_of(stack, booking["id"])["statecode"] == 2  # Canceled
    assert_accessible(page, "cancelled")
    page.set_viewport_size({"width": 320, "height": 640})  # the narrowest phone
    screenshot(page, "manage-cancelled")
    page.reload()
    page.get_by_role("heading", name="This appointment was cancelled").wait_for()
    assert "Plumbing repair" not in page.content() and page.get_by_role("button").count() == 0


def test_an_altered_link_says_it_is_not_valid_and_shows_nothing(browser, widget_stack):
    stack = widget_stack
    booking = book_with_dana(stack, 2)
    link = link_of(stack, booking)
    token = link.rsplit("/", 1)[1]
    altered = link[: -len(token)] + token[:10] + ("x" if token[10] != "x" else "y") + token[11:]
    context = open_context(browser, viewport={"width": 390, "height": 700})
    try:
        page = context.new_page()
        response = page.goto(altered)
        assert response.status == 404
        page.get_by_role("heading", name="This link is no longer valid").wait_for()
        assert "Call us at (312) 555-0100." in page.inner_text("main")
        for detail in (booking["id"], "Plumbing repair", "Dana", "1450"):
            assert detail not in page.content()
        assert_accessible(page, "invalid link")
        screenshot(page, "manage-invalid")
    finally:
        context.close()


def test_a_customer_moves_their_visit_with_the_keyboard_alone(page, widget_stack):
    stack = widget_stack
    booking = book_with_dana(stack, 3)
    page.goto(link_of(stack, booking))
    page.get_by_role("heading", name="Your appointment").wait_for()

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "fd-reschedule"
    page.keyboard.press("Enter")
    page.locator("#fd-slots-same button").first.wait_for()
    assert page.evaluate("document.activeElement.id") == "fd-h-time"  # focus went to the new step
    for _ in range(40):  # Tab past the range and day buttons to the first open time
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('fd-slot')"):
            break
    new_start = page.evaluate("document.activeElement.dataset.start")
    assert new_start
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "fd-move-yes"
    page.keyboard.press("Enter")
    page.get_by_text("Your appointment is moved to").wait_for(timeout=60_000)

    new_utc = datetime.fromisoformat(new_start).astimezone(UTC)
    wait_for(lambda: [e for e in events_of(stack, booking["id"])
                      if e["start"]["dateTime"].startswith(new_utc.strftime("%Y-%m-%dT%H:%M:%S"))],
             what="the event at the new time")
