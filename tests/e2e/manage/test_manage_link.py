"""The manage link end to end: from the confirmation text to the page and its JSON actions, with no key.

Reschedule and cancel go through the real sagas on the local stack: the Outlook event, the Dynamics
appointment and the customer's texts follow; a tampered, expired or cancelled link shows nothing of the booking.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from manage_support import DANA_MAILBOX, LINK, booked_with_link, error_code, texts_to

UTC = timezone.utc
PRIVATE = ("Alex", "Morgan", "Fullerton", "5550142", "alex.morgan", "Kitchen")


def ours(stack, booking_id: str) -> list[dict]:
    return [e for e in stack.graph.events(DANA_MAILBOX) if (e.get("transactionId") or "").startswith(booking_id)]


def tampered(url: str) -> str:
    token = url.rsplit("/", 1)[1]
    middle = len(token) // 2
    return url[: -len(token)] + token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


async def test_the_confirmation_text_links_to_the_booking_without_personal_details(clean_stack, api, customer):
    booking, url = await booked_with_link(clean_stack, api)
    token = url.rsplit("/", 1)[1]
    assert len(token) <= 60 and url.startswith(clean_stack.env["PUBLIC_BASE_URL"] + "/api/manage/")

    view = await customer.get(url + "/booking")
    assert view.status_code == 200, view.text
    shown = view.json()
    assert shown["reference"] == booking["id"] and shown["service"] == "Plumbing repair visit"
    assert shown["technician"] == "Dana" and shown["where"].startswith("1200 ")
    assert shown["timeZone"] == "America/Chicago" and shown["start"].endswith(("-06:00", "-05:00"))
    page = await customer.get(url)
    assert page.status_code == 200 and "Your appointment" in page.text and booking["id"] in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"
    for text in (view.text, page.text):
        assert not [word for word in PRIVATE if word in text]


async def test_a_tampered_link_shows_no_booking_and_changes_nothing(clean_stack, api, customer):
    booking, url = await booked_with_link(clean_stack, api)
    forged = tampered(url)

    page = await customer.get(forged)
    assert page.status_code == 404 and "This link is no longer valid" in page.text
    assert "(312) 555-0100" in page.text  # whom to call instead
    for detail in (booking["id"], "Plumbing repair", "Dana", "1200"):
        assert detail not in page.text
    assert error_code(await customer.get(forged + "/booking")) == "link_invalid"
    cancel = await customer.post(forged + "/cancel")
    assert cancel.status_code == 404 and error_code(cancel) == "link_invalid"
    assert (await customer.get(url + "/booking")).json()["status"] == "confirmed"
    assert len(ours(clean_stack, booking["id"])) == 1
    assert (await customer.get(clean_stack.host.url("manage/not-a-token"))).status_code == 404


async def test_a_link_stops_working_a_day_after_the_visit(clean_stack, api, customer):
    booking, url = await booked_with_link(clean_stack, api)
    end = datetime.fromisoformat(booking["end"])
    clean_stack.host.clock.travel_to(end + timedelta(hours=23))
    assert (await customer.get(url + "/booking")).status_code == 200  # the day after: still there
    clean_stack.host.clock.travel_to(end + timedelta(days=1, minutes=1))

    page = await customer.get(url)
    assert page.status_code == 410 and "This link is no longer valid" in page.text and booking["id"] not in page.text
    gone = await customer.get(url + "/booking")
    assert gone.status_code == 410 and error_code(gone) == "link_expired"
    assert (await customer.post(url + "/cancel")).status_code == 410


async def test_rescheduling_through_the_link_moves_everything_once(clean_stack, api, customer):
    stack = clean_stack
    booking, url = await booked_with_link(stack, api)
    [before] = ours(stack, booking["id"])
    [appointment] = stack.dataverse.records("appointments")

    times = await customer.get(url + "/availability")
    assert times.status_code == 200, times.text
    choices = [s for s in times.json()["slots"] if s["sameTechnician"]
               and datetime.fromisoformat(s["start"]) > datetime.fromisoformat(booking["start"]) + timedelta(hours=3)]
    new_start = choices[0]["start"]
    # A double click: two identical requests at once join one reschedule saga.
    first, second = await asyncio.gather(customer.post(url + "/reschedule", json={"start": new_start}),
                                         customer.post(url + "/reschedule", json={"start": new_start}))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    moved = first.json()
    assert datetime.fromisoformat(moved["start"]) == datetime.fromisoformat(new_start)
    assert moved["technician"] == "Dana" and "Alex" not in first.text

    new_utc = datetime.fromisoformat(new_start).astimezone(UTC)
    [event] = ours(stack, booking["id"])
    assert event["start"]["dateTime"].startswith(new_utc.strftime("%Y-%m-%dT%H:%M:%S"))
    assert before["start"]["dateTime"] != event["start"]["dateTime"]  # the old time is free in Outlook
    [updated] = stack.dataverse.records("appointments")
    assert updated["activityid"] == appointment["activityid"]  # the same appointment, updated in place
    assert updated["scheduledstart"] == new_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    texts = await texts_to(stack, count=2)
    assert len(texts) == 2 and "has moved to" in texts[1] and "(was " in texts[1]
    new_link = LINK.search(texts[1]).group(1)
    assert (await customer.get(new_link + "/booking")).json()["start"] == moved["start"]
    assert moved["manageUrl"] == new_link
    # The page's own link keeps working, and moving again to the same time changes nothing more.
    again = await customer.post(url + "/reschedule", json={"start": new_start})
    assert again.status_code == 200
    assert len(await texts_to(stack, count=3, timeout=1)) == 2


async def test_cancelling_through_the_link_cancels_once_and_then_only_says_so(clean_stack, api, customer):
    stack = clean_stack
    booking, url = await booked_with_link(stack, api)

    first, second = await asyncio.gather(customer.post(url + "/cancel"), customer.post(url + "/cancel"))
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    assert first.json() == {"status": "cancelled"}
    assert ours(stack, booking["id"]) == []
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["statecode"] == 2  # Canceled
    texts = await texts_to(stack, count=2)
    assert "has been cancelled" in texts[1] and "Manage your visit" not in texts[1]
    assert len(await texts_to(stack, count=3, timeout=1)) == 2  # cancelled once, told once

    gone = await customer.get(url + "/booking")
    assert gone.status_code == 410 and error_code(gone) == "booking_cancelled"
    page = await customer.get(url)
    assert page.status_code == 200 and "This appointment was cancelled" in page.text
    assert "Plumbing repair" not in page.text and "Dana" not in page.text and "Reschedule" not in page.text
    refused = await customer.post(url + "/reschedule", json={"start": booking["start"]})
    assert refused.status_code == 410 and error_code(refused) == "booking_cancelled"


async def test_changes_through_links_are_rate_limited_per_caller(clean_stack, api, customer):
    booking, url = await booked_with_link(clean_stack, api)
    forged = tampered(url)
    answers = [(await customer.post(forged + "/cancel")).status_code for _ in range(14)]
    assert set(answers) == {404, 429} and answers.index(429) >= 5
    limited = await customer.post(url + "/cancel")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert (await customer.get(url + "/booking")).json()["status"] == "confirmed"
