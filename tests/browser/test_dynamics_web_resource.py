"""The Dynamics 365 web resource on a form that provides Xrm and a formContext the way Dynamics does."""

from __future__ import annotations

import urllib.parse
import uuid
from datetime import datetime, timezone

import httpx

from browser_support import (DYNAMICS_KEY, assert_accessible, availability, choose_slot, screenshot, wait_for,
                             widget_frame)

MARCUS = "5d1c3f0e-8a2b-4c6d-9e1f-0a1b2c3d4e03"  # Marcus Bell's Dynamics user (config/business.example.yaml)
OFFICE_USER = "9a8b7c6d-1111-4222-8333-944455556666"


def contact(stack, **columns) -> str:
    contact_id = str(uuid.uuid4())
    stack.dataverse.seed_record("contacts", contactid=contact_id, **columns)
    return contact_id


def data_parameter(stack, **extra) -> str:
    """The web resource's Custom Parameter (data), as an administrator types it on the form."""
    return urllib.parse.urlencode({"url": stack.base_url, **extra})


def test_booking_from_a_contact_form_routes_to_its_owner_and_refreshes_the_timeline(page, widget_stack, outside):
    contact_id = contact(widget_stack, fullname="Avery Chen", emailaddress1="avery.chen@example.com")
    attributes = {
        "fullname": "Avery Chen", "mobilephone": "+1 (312) 555-0187", "emailaddress1": "avery.chen@example.com",
        "address1_line1": "1340 S Michigan Ave", "address1_city": "Chicago", "address1_stateorprovince": "IL",
        "address1_postalcode": "60605",
        "ownerid": {"lookup": "systemuser", "id": MARCUS, "name": "Marcus Bell"},
    }
    url = outside.form_url("contact", contact_id, attributes, user_id=OFFICE_USER, title="Avery Chen",
                           data=data_parameter(widget_stack, eventType="hvac-tune-up", key=DYNAMICS_KEY))
    page.goto(url)
    resource = next(f for f in page.frames if "/WebResources/fd_/booking/booking.html" in f.url)
    resource.get_by_text("For Avery Chen (contact)").wait_for()
    widget = widget_frame(page)
    widget.locator("#fd-slots button").first.wait_for()

    # The owner's own free times: the slot is one where Marcus is free.
    slot = next(s for s in availability(widget_stack, "hvac-tune-up", postal_code="60605") if "marcus" in s["hostIds"])
    choose_slot(widget, slot["start"])
    assert widget.locator("#fd-name").input_value() == "Avery Chen"
    assert widget.locator("#fd-phone").input_value() == "+1 (312) 555-0187"
    assert widget.locator("#fd-email").input_value() == "avery.chen@example.com"
    assert widget.locator("#fd-address").input_value() == "1340 S Michigan Ave, Chicago, IL"
    assert widget.locator("#fd-postalCode").input_value() == "60605"
    assert_accessible(resource, "web resource")
    assert_accessible(widget, "prefilled details")
    screenshot(page, "dynamics-form")

    widget.get_by_role("button", name="Book appointment").click()
    widget.get_by_role("heading", name="You're booked").wait_for()
    booking_id = widget.locator("#fd-done-ref").inner_text()

    calls = wait_for(lambda: (lambda c: c if c["refresh"] >= 1 else None)(page.evaluate("() => window.__calls")),
                     what="the timeline refresh")
    assert calls["notifications"][0]["level"] == "INFO" and booking_id in calls["notifications"][0]["message"]
    page.locator("#timeline li").first.wait_for()  # the refreshed timeline shows the new appointment
    assert "Appointment:" in page.locator("#timeline li").first.inner_text()
    screenshot(page, "dynamics-booked")

    stored = httpx.get(widget_stack.url(f"bookings/{booking_id}"), headers={"x-functions-key": DYNAMICS_KEY},
                       timeout=10).json()
    assert stored["hostId"] == "marcus"  # routed by the record's owner
    assert stored["context"] == {**stored["context"], "channel": "dynamics", "dynamicsRecordType": "contact",
                                 "dynamicsRecordId": contact_id, "ownerId": MARCUS,
                                 "initiatedBy": f"systemuser:{OFFICE_USER}"}
    assert stored["customer"]["phone"] == "+13125550187"
    appointment = widget_stack.dataverse.record("appointments", stored["crmAppointmentId"])
    assert appointment["_regardingobjectid_value"] == contact_id
    assert appointment["_ownerid_value"] == MARCUS
    start = datetime.fromisoformat(slot["start"]).astimezone(timezone.utc)
    assert datetime.fromisoformat(appointment["scheduledstart"].replace("Z", "+00:00")) == start


def test_the_documented_hand_over_from_the_form_onload_handler(page, widget_stack, outside):
    lead_id = str(uuid.uuid4())
    widget_stack.dataverse.seed_record("leads", leadid=lead_id, fullname="Morgan Diaz")
    attributes = {"fullname": "Morgan Diaz", "telephone1": "312-555-0166", "address1_line1": "4 W Oak St",
                  "address1_city": "Chicago", "address1_postalcode": "60610",
                  "ownerid": {"lookup": "team", "id": str(uuid.uuid4()), "name": "Service team"}}
    page.goto(outside.form_url("lead", lead_id, attributes, user_id=OFFICE_USER, handover=True, title="Morgan Diaz",
                               data=data_parameter(widget_stack)))
    widget = widget_frame(page)
    widget.get_by_role("button", name="Emergency leak or burst pipe").wait_for()
    assert page.evaluate("() => window.__calls.handover") == 1
    assert page.evaluate("() => window.Xrm.Page") is None  # no fallback was available: the hand-over did it
    widget.get_by_role("button", name="Emergency leak or burst pipe").click()
    widget.locator("#fd-slots button").first.click()
    assert widget.locator("#fd-name").input_value() == "Morgan Diaz"
    assert widget.locator("#fd-phone").input_value() == "312-555-0166"
    widget.get_by_role("button", name="Book appointment").click()
    widget.get_by_role("heading", name="You're booked").wait_for()
    booking_id = widget.locator("#fd-done-ref").inner_text()
    wait_for(lambda: page.evaluate("() => window.__calls.refresh") >= 1, what="the timeline refresh")
    stored = widget_stack.dataverse.records("appointments")
    assert any(row.get("_regardingobjectid_value") == lead_id for row in stored), booking_id


def test_an_unsaved_record_or_a_missing_url_is_explained(page, widget_stack, outside):
    page.goto(outside.form_url("lead", "", {"fullname": "New lead"}, user_id=OFFICE_USER, form_type=1,
                               data=data_parameter(widget_stack)))
    resource = next(f for f in page.frames if "/WebResources/" in f.url)
    alert = resource.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "Save this lead first, then book its appointment here."
    assert not [f for f in page.frames if "/api/widget" in f.url]

    page.goto(outside.form_url("account", str(uuid.uuid4()), {"name": "Northside Deli"}, user_id=OFFICE_USER,
                               data=""))
    resource = next(f for f in page.frames if "/WebResources/" in f.url)
    resource.get_by_role("alert").wait_for()
    assert "url=https://" in resource.get_by_role("alert").inner_text()
    assert_accessible(resource, "misconfigured web resource")
