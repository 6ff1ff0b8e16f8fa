"""Two-way SMS end to end: customers text the business through Twilio's webhook and ACS's Event Grid events,
and what they asked for happens (or, for a forged request, nothing does)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from saga_support import CUSTOMER, DANA, REPAIR, book, free_slots, new_booking_id, ours, saga_input, stored_booking
from sms_support import acs_events_url

UTC = timezone.utc
PHONE = CUSTOMER["phone"]
STRANGER = "+13125550199"
OFFICE = "office@lakeshore-ph.example.com"
DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"


async def _booked(stack, config, index: int = 0, phone: str = PHONE) -> dict:
    when = free_slots(config, REPAIR, DANA)[index]
    booking_id = new_booking_id()
    result = await book(stack, saga_input(booking_id, when, customer={**CUSTOMER, "phone": phone}))
    assert result["outcome"] == "confirmed", result
    return result["booking"]


async def _until(check, timeout: float = 15.0):
    """Poll the async ``check()`` until it returns something truthy (or the deadline passes)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.1)


def _texts_to(stack, phone: str) -> list[str]:
    return [m["message"] for m in stack.acs.outbox() if m["to"] == phone]


def _mails(stack, words: str) -> list[dict]:
    return [m for m in stack.graph.outbox() if words in m["subject"]]


async def _opted_out(phone: str) -> bool:
    from shared.services.container import get_services
    return await get_services().opt_outs.is_opted_out(phone)


# ---------------------------------------------------------------- keywords

@pytest.mark.parametrize("gateway", ["twilio", "acs"])
async def test_stop_then_no_confirmation_and_start_sends_them_again(sms_stack, config, gateway):
    stack = sms_stack
    text = stack.twilio.text if gateway == "twilio" else stack.acs.text
    answer = text(PHONE, "Stop")
    assert answer.get("replies", []) == []  # the gateway answers STOP itself
    assert await _opted_out(PHONE)

    booking = await _booked(stack, config)
    stored = await stored_booking(booking["id"])
    assert stored.notifications.sms.status == "skipped" and _texts_to(stack, PHONE) == []

    text(PHONE, "START")
    assert not await _opted_out(PHONE)
    again = await _booked(stack, config, index=3)
    assert (await stored_booking(again["id"])).notifications.sms.status == "sent"
    [confirmation] = _texts_to(stack, PHONE)
    assert "is confirmed for" in confirmation


async def test_help_answers_with_the_business_name_and_number(sms_stack):
    answer = sms_stack.twilio.text(STRANGER, "help")
    [reply] = answer["replies"]
    assert "Lakeshore Plumbing & Heating" in reply and "(312) 555-0100" in reply
    assert sms_stack.graph.outbox() == []  # HELP is answered, not forwarded


async def test_r_replies_with_the_manage_link(sms_stack, config):
    booking = await _booked(sms_stack, config)
    [reply] = sms_stack.twilio.text(PHONE, "R")["replies"]
    assert f"{sms_stack.env['PUBLIC_BASE_URL']}/api/manage/" in reply and "Plumbing" in reply
    assert (await stored_booking(booking["id"])).status.value == "confirmed"


# ---------------------------------------------------------------- C to cancel, with a confirmation

async def test_c_asks_and_a_second_c_cancels_everywhere(sms_stack, config):
    stack = sms_stack
    booking = await _booked(stack, config)
    stack.graph.clear_outbox()

    [prompt] = stack.twilio.text(PHONE, "c")["replies"]
    assert prompt.startswith("Reply C again to confirm cancelling your") and "(or YES)" in prompt
    assert (await stored_booking(booking["id"])).status.value == "confirmed"  # one C changes nothing

    answer = stack.twilio.text(PHONE, "C")
    assert answer["webhook"]["status"] == 200 and answer["replies"] == []

    async def cancelled():
        stored = await stored_booking(booking["id"])
        return stored.status.value == "cancelled" and stored.notifications.crm.status == "sent" and stored
    assert await _until(cancelled)
    assert ours(stack.graph.events(DANA_MAILBOX), booking["id"]) == []  # the Outlook event is gone
    [appointment] = stack.dataverse.records("appointments")
    assert appointment["statecode"] == 2  # Canceled in Dynamics
    [mail] = _mails(stack, "Cancelled by text")
    assert OFFICE in mail["to"] and "Dana Reyes" in mail["body"]["content"]
    assert any("has been cancelled" in text for text in _texts_to(stack, PHONE))


async def test_yes_confirms_by_acs_and_a_lapsed_question_does_not(sms_stack, config):
    stack = sms_stack
    booking = await _booked(stack, config)
    stack.acs.text(PHONE, "C")
    assert any(t.startswith("Reply C again") for t in _texts_to(stack, PHONE))  # ACS replies are sent texts
    stack.host.clock.travel_to(stack.host.clock.now() + timedelta(minutes=16))  # SMS__CANCEL_CONFIRM_MINUTES=15
    stack.acs.text(PHONE, "YES")
    assert (await stored_booking(booking["id"])).status.value == "confirmed"

    stack.acs.text(PHONE, "C")
    stack.acs.text(PHONE, "yes")

    async def cancelled():
        return (await stored_booking(booking["id"])).status.value == "cancelled"
    assert await _until(cancelled)


# ---------------------------------------------------------------- anything else goes to the owner

async def test_free_text_is_forwarded_to_the_owner_with_the_booking(sms_stack, config):
    stack = sms_stack
    await _booked(stack, config)
    stack.graph.clear_outbox()
    [reply] = stack.twilio.text(PHONE, "The gate code is 4821 <b>")["replies"]
    assert reply.startswith("Thanks, we've passed your message on")
    [mail] = _mails(stack, "Text from (312) 555-0188")
    content = mail["body"]["content"]
    assert "The gate code is 4821 &lt;b&gt;" in content
    assert "Plumbing" in content and "Dana Reyes" in content and "Jordan Lee" in content


async def test_a_number_with_no_booking_is_told_to_call_and_the_owner_gets_the_text(sms_stack):
    [reply] = sms_stack.twilio.text(STRANGER, "C")["replies"]
    assert reply == "We couldn't find an upcoming visit for this number; call us at (312) 555-0100."
    [mail] = _mails(sms_stack, "Text from (312) 555-0199")
    assert "no upcoming" in mail["body"]["content"]


# ---------------------------------------------------------------- forged, replayed and repeated deliveries

async def test_forged_twilio_and_event_grid_requests_are_refused_and_change_nothing(sms_stack):
    stack = sms_stack
    form = {"MessageSid": "SM" + "0" * 32, "From": PHONE, "To": stack.twilio.from_number, "Body": "STOP",
            "AccountSid": stack.twilio.account_sid}
    url = stack.host.url("sms/twilio/incoming")
    from dev.emulators.twilio_rest import signed_post_headers
    forged = signed_post_headers("not-the-auth-token", url, form)
    async with httpx.AsyncClient() as client:
        assert (await client.post(url, data=form, headers=forged)).status_code == 403
        assert (await client.post(url, data=form)).status_code == 403  # unsigned
        status_url = stack.host.url("sms/twilio/status")
        assert (await client.post(status_url, data=form, headers=forged)).status_code == 403

        event = {"id": "e1", "eventType": "Microsoft.Communication.SMSReceived", "subject": "/phonenumber/1",
                 "eventTime": datetime.now(UTC).isoformat(), "dataVersion": "1.0",
                 "data": {"messageId": "Incoming_1", "from": PHONE, "to": stack.acs.from_number, "message": "STOP"}}
        for key in ("wrong-key-000000000000", ""):
            assert (await client.post(acs_events_url(stack, key), json=[event])).status_code == 403
        stale = {**event, "id": "e2", "eventTime": (datetime.now(UTC) - timedelta(days=2)).isoformat()}
        assert (await client.post(acs_events_url(stack), json=[stale])).status_code == 403  # a replay
    assert not await _opted_out(PHONE)
    assert stack.acs.subscribe(acs_events_url(stack, "guessed-key-0000000"))["created"] is False


async def test_a_repeated_delivery_is_acted_on_once(sms_stack, config):
    stack = sms_stack
    booking = await _booked(stack, config)
    stack.graph.clear_outbox()
    first = stack.twilio.text(PHONE, "C")
    again = stack.twilio.redeliver(first["sid"])  # Twilio retrying the same message: not a confirmation
    assert again["webhook"]["status"] == 200 and again["replies"] == []
    assert (await stored_booking(booking["id"])).status.value == "confirmed"

    stack.acs.text(PHONE, "Running 10 minutes late")
    [received] = stack.acs.events("SMSReceived")[-1:]
    [delivery] = stack.acs.deliver_events(received["id"])  # Event Grid delivering the same event again
    assert delivery["status"] == 200
    assert len(_mails(stack, "Text from")) == 1


# ---------------------------------------------------------------- delivery reports

async def test_a_delivery_report_updates_the_booking(sms_stack, config):
    stack = sms_stack
    booking = await _booked(stack, config)
    assert (await stored_booking(booking["id"])).notifications.sms.delivery is None
    deliveries = stack.acs.deliver_events()
    assert {d["status"] for d in deliveries} == {200}
    stored = await stored_booking(booking["id"])
    assert stored.notifications.sms.delivery == "delivered" and stored.notifications.sms.status == "sent"


async def test_a_permanent_failure_emails_the_owner_once(sms_stack, config):
    stack = sms_stack
    stack.acs.mark_undeliverable(PHONE, "Unreachable destination: landline")
    booking = await _booked(stack, config)
    stack.graph.clear_outbox()
    stack.acs.deliver_events()
    stored = await stored_booking(booking["id"])
    assert stored.notifications.sms.delivery == "failed" and stored.notifications.sms.status == "failed"
    assert "landline" in stored.notifications.sms.last_error
    [report] = stack.acs.events("SMSDeliveryReportReceived")
    stack.acs.deliver_events(report["id"])  # delivered twice
    [mail] = _mails(stack, "Could not text the customer")
    assert "please call them" in mail["body"]["content"] and "(312) 555-0188" in mail["body"]["content"]


@pytest.fixture
def twilio_stack(sms_stack):
    """The stack texting through Twilio for one test (a host restart applies the settings)."""
    stack = sms_stack
    saved = {name: stack.env.get(name) for name in ("SMS__PROVIDER", "SMS__FROM_NUMBER")}
    stack.env.update({"SMS__PROVIDER": "twilio", "SMS__FROM_NUMBER": stack.twilio.from_number})
    stack.restart_host()
    try:
        yield stack
    finally:
        for name, value in saved.items():
            if value is None:
                stack.env.pop(name, None)
            else:
                stack.env[name] = value
        stack.twilio.reset()
        stack.restart_host()


async def test_twilio_status_callbacks_update_the_booking_and_a_landline_is_reported_once(twilio_stack, config):
    stack = twilio_stack
    booking = await _booked(stack, config)
    [sent] = [m for m in stack.twilio.outbox() if m["to"] == PHONE]
    assert sent["status_callback"] == stack.host.url("sms/twilio/status")  # set on every text
    assert stack.twilio.report_status(sent["sid"], "sent")["status"] == 204
    assert (await stored_booking(booking["id"])).notifications.sms.delivery is None  # still in transit

    other = await _booked(stack, config, index=3, phone=STRANGER)
    [landline] = [m for m in stack.twilio.outbox() if m["to"] == STRANGER]
    stack.graph.clear_outbox()
    assert stack.twilio.report_status(sent["sid"], "delivered")["status"] == 204
    for _ in range(2):  # the carrier's report, and the same report again
        assert stack.twilio.report_status(landline["sid"], "undelivered", 30006)["status"] == 204

    assert (await stored_booking(booking["id"])).notifications.sms.delivery == "delivered"
    failed = (await stored_booking(other["id"])).notifications.sms
    assert failed.status == "failed" and "30006" in failed.last_error
    [mail] = _mails(stack, "Could not text the customer")
    assert "(312) 555-0199" in mail["body"]["content"]
