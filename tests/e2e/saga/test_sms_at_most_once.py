"""At-most-once confirmation texts: the worker dies after the SMS gateway accepted the text and before the
booking recorded it; Durable runs the notification again on a new host, and the customer gets one text.

The gateway's answer is held back (an ``after_accept`` emulator fault: the text is already in the outbox)
while the development host is restarted, which is exactly a worker lost between accept and record.
Both gateways: ACS (repeatability id derived from the booking, change and channel) and Twilio (the retry
looks the message up first).
"""

from __future__ import annotations

import asyncio

import pytest
from saga_support import CUSTOMER, DANA, REPAIR, finished, free_slots, new_booking_id, restart_host, saga_input, start

from shared.services.contracts import BOOKING_SAGA


async def _wait_for(check, timeout: float = 20.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


def _to_customer(outbox: list[dict]) -> list[dict]:
    return [message for message in outbox if message.get("to") == CUSTOMER["phone"]]


async def _book_and_crash_after_the_gateway_accepted(stack, config, gateway) -> dict:
    when = free_slots(config, REPAIR, DANA)[0]
    booking_id = new_booking_id()
    await start(stack, BOOKING_SAGA, booking_id, saga_input(booking_id, when))
    await _wait_for(lambda: _to_customer(gateway.outbox()))  # accepted; its answer is still held back

    restart_host(stack)  # the worker is gone before it could record the text
    result = await finished(stack, booking_id, timeout=60)
    return result


async def test_acs_a_worker_lost_between_accept_and_record_sends_one_text(clean_stack, config):
    stack = clean_stack
    stack.acs.fault(0, after_accept=True, delay=5)  # the first answer comes 5 s late: after the crash

    result = await _book_and_crash_after_the_gateway_accepted(stack, config, stack.acs)

    assert result["outcome"] == "confirmed"
    assert result["booking"]["notifications"]["sms"]["status"] == "sent"
    [text] = _to_customer(stack.acs.outbox())
    assert "confirmed" in text["message"]
    # The new host asked again, with the same repeatability id, and ACS answered without sending.
    sends = [r for r in stack.acs.requests() if CUSTOMER["phone"] in r["recipients"]]
    assert len(sends) >= 2
    with stack.acs.state.lock:
        assert len(stack.acs.state.repeatability) == 1


@pytest.fixture
def twilio_stack(clean_stack):
    """The session's stack texting through Twilio for one test (a host restart applies the settings)."""
    stack = clean_stack
    saved = {name: stack.env.get(name) for name in ("SMS__PROVIDER", "SMS__FROM_NUMBER")}
    stack.env.update({"SMS__PROVIDER": "twilio", "SMS__FROM_NUMBER": stack.twilio.from_number})
    restart_host(stack)
    try:
        yield stack
    finally:
        for name, value in saved.items():
            if value is None:
                stack.env.pop(name, None)
            else:
                stack.env[name] = value
        stack.twilio.reset()
        restart_host(stack)


async def test_twilio_a_worker_lost_between_accept_and_record_sends_one_text(twilio_stack, config):
    stack = twilio_stack
    stack.twilio.fault(0, after_accept=True, delay=5)

    result = await _book_and_crash_after_the_gateway_accepted(stack, config, stack.twilio)

    assert result["outcome"] == "confirmed"
    assert result["booking"]["notifications"]["sms"]["status"] == "sent"
    [text] = _to_customer(stack.twilio.outbox())
    assert "confirmed" in text["body"]
    requests = stack.twilio.requests()
    assert len([r for r in requests if r["method"] == "POST"]) == 1
    [lookup, *_] = [r for r in requests if r["method"] == "GET"]  # the retry searched before sending
    assert lookup["query"]["To"] == CUSTOMER["phone"]
    assert stack.acs.outbox() == []
