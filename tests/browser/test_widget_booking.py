"""Booking through the widget in Chromium, against the whole local stack (API, saga, emulated Outlook and Dynamics)."""

from __future__ import annotations

import httpx
from icalendar import Calendar

from browser_support import (DYNAMICS_KEY, WIDGET_KEY, assert_accessible, availability, book_directly, choose_service,
                             choose_slot, fill_details, open_context, screenshot, wait_for, widget_frame)

CUSTOMER = {"name": "Jamie Rivera", "phone": "(312) 555-0142", "email": "jamie.rivera@example.com",
            "address": "2400 N Lakeview Ave, Chicago", "postalCode": "60614"}


def booking(stack, booking_id: str) -> dict:
    response = httpx.get(stack.url(f"bookings/{booking_id}"), headers={"x-functions-key": WIDGET_KEY}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def outlook_event(stack, stored: dict) -> dict | None:
    return next((event for event in stack.graph.events(stored["outlookMailbox"])
                 if event["id"] == stored["outlookEventId"]), None)


def test_a_visitor_books_through_the_embedded_widget(page, widget_stack, outside):
    page.goto(outside.embed_url())
    widget = widget_frame(page)
    widget.get_by_role("heading", name="1. Choose a service").wait_for()
    assert_accessible(widget, "service")
    screenshot(page, "widget-services")

    choose_service(widget, "Plumbing repair visit")
    assert_accessible(widget, "time")
    screenshot(page, "widget-times")
    first = widget.locator("#fd-slots button").first
    start_iso = first.get_attribute("data-start")
    first.click()
    fill_details(widget, **CUSTOMER)
    widget.get_by_label("What should we know? (optional)").fill("Kitchen sink drips; side door code 4411.")
    assert_accessible(widget, "details")
    screenshot(page, "widget-details")
    widget.get_by_role("button", name="Book appointment").click()

    done = widget.get_by_role("heading", name="You're booked")
    done.wait_for()
    assert widget.evaluate("() => document.activeElement.id") == "fd-h-done"
    booking_id = widget.locator("#fd-done-ref").inner_text()
    assert widget.locator("#fd-done-where").inner_text() == "2400 N Lakeview Ave, Chicago, 60614"
    assert "phone and e-mail" in widget.locator("#fd-done-note").inner_text()
    assert page.locator("#booked").inner_text() == f"Booked {booking_id}"  # the embedding page heard it
    assert_accessible(widget, "confirmation")
    screenshot(page, "widget-confirmation")

    stored = booking(widget_stack, booking_id)
    assert stored["status"] == "confirmed"
    assert stored["start"] == start_iso
    assert stored["customer"]["phone"] == "+13125550142"  # typed the American way, booked as E.164
    assert stored["context"]["channel"] == "widget"
    event = wait_for(lambda: outlook_event(widget_stack, stored), what="the Outlook event")
    assert event["showAs"] == "busy"
    crm_id = wait_for(lambda: booking(widget_stack, booking_id).get("crmAppointmentId"),
                      what="the Dynamics appointment")
    appointment = widget_stack.dataverse.record("appointments", crm_id)
    assert _utc(appointment["scheduledstart"]) == _utc(stored["start"])

    with page.expect_download() as download_info:
        widget.get_by_role("link", name="Add to my calendar (.ics)").click()
    download = download_info.value
    assert download.suggested_filename == f"appointment-{start_iso[:10]}.ics"
    calendar = Calendar.from_ical(open(download.path(), "rb").read())
    [vevent] = calendar.walk("VEVENT")
    assert vevent.decoded("DTSTART").isoformat().replace("+00:00", "Z") == _utc(stored["start"])
    assert vevent.decoded("DTEND").isoformat().replace("+00:00", "Z") == _utc(stored["end"])
    assert str(vevent["UID"]) == f"{booking_id}@frontdesk"
    assert "2400 N Lakeview Ave" in str(vevent["LOCATION"])


def _utc(text: str) -> str:
    from datetime import datetime, timezone
    return datetime.fromisoformat(text).astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def test_a_time_taken_meanwhile_offers_the_nearest_times_and_keeps_the_details(page, widget_stack):
    page.goto(widget_stack.url("widget?eventType=estimate-call"))
    page.locator("#fd-slots button").first.wait_for()
    slot = availability(widget_stack, "estimate-call")[0]["start"]
    choose_slot(page, slot)
    fill_details(page, name="Robin Okafor", phone="312-555-0173")

    faster = book_directly(widget_stack, DYNAMICS_KEY, "estimate-call", slot)  # another client, faster
    assert faster.status_code == 201, faster.text

    page.get_by_role("button", name="Book appointment").click()
    conflict = page.locator("#fd-conflict")
    conflict.wait_for()
    assert "was just taken" in page.locator("#fd-conflict-text").inner_text()
    alternatives = page.locator("#fd-alternatives button")
    assert alternatives.count() >= 1
    assert slot not in [alternatives.nth(i).get_attribute("data-start") for i in range(alternatives.count())]
    assert page.locator("#fd-alert").is_hidden()  # a conflict is not an error
    assert page.evaluate("() => document.activeElement.dataset.start") == alternatives.first.get_attribute("data-start")
    assert page.locator("#fd-name").input_value() == "Robin Okafor"
    assert_accessible(page, "conflict")
    screenshot(page, "widget-conflict")

    chosen = alternatives.first.get_attribute("data-start")
    alternatives.first.click()
    page.get_by_role("button", name="Book appointment").click()
    page.get_by_role("heading", name="You're booked").wait_for()
    stored = booking(widget_stack, page.locator("#fd-done-ref").inner_text())
    assert stored["start"] == chosen and stored["customer"]["name"] == "Robin Okafor"


def test_invalid_input_is_explained_next_to_each_field(page, widget_stack):
    posts = []
    page.on("request", lambda request: posts.append(request.url) if request.method == "POST" else None)
    page.goto(widget_stack.url("widget?eventType=teams-consult"))
    page.locator("#fd-slots button").first.click()
    fill_details(page, phone="12", email="not-an-email")
    page.get_by_role("button", name="Book appointment").click()

    expected = {"name": "Enter your name.", "phone": "Enter a phone number such as",
                "email": "Enter an e-mail address such as"}
    for field, message in expected.items():
        box = page.locator(f"#fd-{field}")
        assert box.get_attribute("aria-invalid") == "true"
        error = page.locator(f"#fd-{field}-error")
        assert error.is_visible() and message in error.inner_text()
        assert f"fd-{field}-error" in box.get_attribute("aria-describedby")  # read out with the field
    assert page.evaluate("() => document.activeElement.id") == "fd-name"
    assert "3 fields need your attention" in page.locator("#fd-status").inner_text()
    assert posts == []  # nothing was sent
    assert_accessible(page, "invalid details")
    screenshot(page, "widget-invalid")

    page.locator("#fd-name").fill("Ana")
    assert page.locator("#fd-name").get_attribute("aria-invalid") is None  # fixing a field clears its message

    # What only the server knows is shown the same way: a name longer than the API accepts.
    page.evaluate("() => document.getElementById('fd-name').removeAttribute('maxlength')")
    fill_details(page, name="A" * 201, phone="+44 20 7946 0958", email="ana@example.co.uk")
    page.get_by_role("button", name="Book appointment").click()
    page.locator("#fd-name-error").wait_for()
    assert "200 characters" in page.locator("#fd-name-error").inner_text()
    assert page.locator("#fd-phone").get_attribute("aria-invalid") is None
    assert len(posts) == 1 and posts[0].endswith("/api/bookings")


def test_booking_with_the_keyboard_alone(page, widget_stack):
    page.goto(widget_stack.url("widget"))
    page.locator("#fd-services button").first.wait_for()

    def tab_to(predicate: str, limit: int = 60) -> None:
        for _ in range(limit):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const el = document.activeElement; return !!({predicate}); }}"):
                return
        raise AssertionError(f"Tab never reached {predicate}")

    tab_to("el.textContent.includes('Equipment drop-off')")
    page.keyboard.press("Enter")
    page.locator("#fd-slots button").first.wait_for()
    page.wait_for_function("() => document.activeElement.id === 'fd-h-time'")
    tab_to("el.classList.contains('fd-slot')")
    start_iso = page.evaluate("() => document.activeElement.dataset.start")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'fd-h-details'")
    tab_to("el.id === 'fd-name'")
    page.keyboard.type("Sky Patel")
    page.keyboard.press("Tab")
    page.keyboard.type("773 555 0110")
    page.keyboard.press("Enter")  # submits the form from a field
    page.wait_for_function("() => document.activeElement.id === 'fd-h-done'")
    stored = booking(widget_stack, page.locator("#fd-done-ref").inner_text())
    assert stored["start"] == start_iso and stored["customer"]["phone"] == "+17735550110"

    tab_to("el.id === 'fd-ics'")
    tab_to("el.id === 'fd-again'")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.id === 'fd-h-service'")


def test_the_widget_works_at_phone_width(browser, widget_stack):
    context = open_context(browser, viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True,
                           device_scale_factor=2)
    try:
        page = context.new_page()
        page.goto(widget_stack.url("widget"))

        def fits() -> bool:
            return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")

        page.locator("#fd-services button").first.wait_for()
        assert fits()
        choose_service(page, "Furnace or A/C tune-up")
        assert fits()
        screenshot(page, "widget-phone", full_page=False)
        smallest = page.evaluate("""() => Math.min(
            ...[...document.querySelectorAll('#fd-slots button, #fd-days button')]
               .map(b => b.getBoundingClientRect().height))""")
        assert smallest >= 44  # touch targets
        page.locator("#fd-slots button").first.tap()
        assert fits()
        fill_details(page, name="Lee Chen", phone="3125550188", address="5800 S Ellis Ave, Chicago",
                     postalCode="60637")
        submit = page.get_by_role("button", name="Book appointment")
        box = submit.bounding_box()
        assert box["width"] >= 300  # full width on a phone
        assert_accessible(page, "phone details")
        submit.tap()
        page.get_by_role("heading", name="You're booked").wait_for()
        assert fits()
        assert page.evaluate("() => getComputedStyle(document.querySelector('.fd-receipt')).gridTemplateColumns"
                             ).count("px") == 1  # the receipt stacks into one column
    finally:
        context.close()


def test_an_unknown_site_cannot_frame_the_widget(page, widget_stack, outside):
    rogue = outside.iframe_url().replace("localhost", "127.0.0.1")  # same server, an origin not allowed
    page.goto(rogue)
    page.wait_for_timeout(1500)
    framed = [frame for frame in page.frames if frame != page.main_frame]
    assert framed and all(frame.locator("#fd-title").count() == 0 for frame in framed)
    assert any("frame-ancestors" in item for item in page.problems.items)
    page.problems.items.clear()  # the refusal was the point

    page.goto(outside.iframe_url())  # the allowed origin frames it fine
    assert widget_frame(page).locator("#fd-title").inner_text() == "Book an appointment"


def test_a_lost_answer_is_retried_with_the_same_idempotency_key_and_books_once(page, widget_stack):
    keys = []

    def lose_the_first_answer(route):
        keys.append(route.request.headers["idempotency-key"])
        response = route.fetch()  # the request reaches the function app and books...
        if len(keys) == 1:
            route.abort("connectionreset")  # ...but the answer never reaches the browser
        else:
            route.fulfill(response=response)

    page.route("**/api/bookings", lose_the_first_answer)
    page.goto(widget_stack.url("widget?eventType=equipment-dropoff"))
    first = page.locator("#fd-slots button").first
    start_iso = first.get_attribute("data-start")
    first.click()
    fill_details(page, name="Quinn Baker", phone="312 555 0135")
    page.get_by_role("button", name="Book appointment").click()

    retry = page.get_by_role("button", name="Try again")
    retry.wait_for()
    assert "could not reach the booking service" in page.get_by_role("alert").inner_text()
    assert page.evaluate("() => document.activeElement.id") == "fd-retry"
    retry.click()
    page.get_by_role("heading", name="You're booked").wait_for()

    assert len(keys) == 2 and keys[0] == keys[1]
    stored = booking(widget_stack, page.locator("#fd-done-ref").inner_text())
    assert stored["start"] == start_iso
    event = outlook_event(widget_stack, stored)
    same_time = [other for other in widget_stack.graph.events(stored["outlookMailbox"])
                 if other["start"] == event["start"]]
    assert len(same_time) == 1  # booked once, though sent twice


def test_a_slow_booking_is_followed_until_it_is_made(page, widget_stack):
    # Outlook answers slowly, so the API says 202 and the widget follows the booking's status URL.
    widget_stack.graph.add_fault(method="POST", path=r"/events$", latency_ms=6500)
    statuses = []
    page.on("response", lambda response: statuses.append((response.request.method, response.status))
            if "/api/bookings" in response.url else None)
    try:
        page.goto(widget_stack.url("widget?eventType=estimate-call"))
        page.locator("#fd-slots button").first.click()
        fill_details(page, name="Drew Kim", phone="312-555-0144")
        page.get_by_role("button", name="Book appointment").click()
        page.locator("#fd-status", has_text="Almost done").wait_for()
        page.get_by_role("heading", name="You're booked").wait_for(timeout=30_000)
    finally:
        widget_stack.graph.clear_faults()
    assert statuses[0] == ("POST", 202)
    assert ("GET", 200) in statuses


def test_too_many_attempts_from_one_visitor_are_refused_politely(page, widget_stack):
    # The widget's key is public, so the API limits bookings with it per visitor; spend this visitor's allowance.
    for _ in range(30):
        spent = httpx.post(widget_stack.url("bookings"), content=b"{}", timeout=10,
                           headers={"x-functions-key": WIDGET_KEY, "Idempotency-Key": "spend-" + str(_),
                                    "Content-Type": "application/json", "X-Forwarded-For": page.visitor_address})
        if spent.status_code == 429:
            break
    assert spent.status_code == 429
    page.goto(widget_stack.url("widget?eventType=equipment-dropoff"))
    page.locator("#fd-slots button").first.click()
    fill_details(page, name="Casey Long", phone="312 555 0111")
    page.get_by_role("button", name="Book appointment").click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Too many booking attempts" in alert.inner_text()
    assert page.get_by_role("button", name="Try again").is_visible()
    assert page.locator("#fd-step-done").is_hidden()
