"""Scripted calls the receptionist hands to people: out-of-area callers, people asking for a person, messages.

A message always reaches the office's inbox with who called, how to call back and why; nothing is booked.
"""

from __future__ import annotations

from dev.phone import CallScript, place_call
from voice_support import (DANA, OFFICE, PRIYA, TRANSFER, events, messages_for_office, record_of, said, texts_to)


def no_booking(stack) -> bool:
    return not events(stack, DANA) and not events(stack, PRIYA) and not texts_to(stack)


async def test_an_address_outside_the_service_area_is_told_kindly_and_the_office_gets_a_message(
        clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "hi, my water heater is leaking",
        "we're at 100 east main street in elk grove village, 60007",
        "dale cooper",
        "yes",
    ]))

    assert ("I'm sorry, we don't cover the 6 0 0 0 7 area. I'll pass your details to the office so someone can call "
            "you back and point you to someone nearby.") in call.said
    assert call.said[-2] == "Thanks, Dale. I've passed that along, and someone will call you back at the number " \
                            "ending in 0 1 8 8."
    [mail] = messages_for_office(stack)
    assert mail["subject"] == "Call back Dale Cooper - outside the service area (ZIP 60007)"
    assert mail["to"] == [OFFICE] and mail["from"] == OFFICE
    content = mail["body"]["content"]
    assert "(312) 555-0188" in content and "Water heater replacement" in content and "100 East Main Street" in content
    assert no_booking(stack)
    assert (await record_of(call)).dialog.outcome == "message_taken"


async def test_asking_for_a_person_in_office_hours_is_put_through(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "10:00")
    receptionist.configure(transfer_number=TRANSFER)
    call = await phone.call()
    lines = await call.say("can I just talk to a real person please")

    assert lines == ["Sure, I'll connect you now. One moment."]
    assert call.state == "transferred" and call.transferred_to == TRANSFER
    assert await call.transfer_ends("completed") == []
    await call.hang_up()
    assert (await record_of(call)).dialog.outcome == "transferred"
    assert not messages_for_office(stack)


async def test_asking_for_a_person_after_hours_takes_a_message_and_escapes_it(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("sun", "21:00")
    receptionist.configure(transfer_number=TRANSFER)
    call = await place_call(phone, CallScript([
        "I need to speak with someone about my bill",
        "it's morgan <b>blake</b>",
        "no, call me on 312 555 0123",
        "tell them I was charged twice <script>alert(1)</script> & want a refund",
    ]))

    assert call.transferred_to is None
    assert "The office is closed right now, so I'll take a message and someone will call you back." in call.said
    assert "What would you like me to pass along?" in call.said
    [mail] = messages_for_office(stack)
    content = mail["body"]["content"]
    assert "asked to speak with someone" in mail["subject"]
    assert "(312) 555-0123" in content
    assert "charged twice &lt;script&gt;alert(1)&lt;/script&gt; &amp; want a refund" in content
    assert "<script>" not in content
    assert no_booking(stack)


async def test_a_person_with_no_transfer_number_configured_gets_a_message(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "10:00")
    call = await place_call(phone, CallScript([
        "operator",
        "jamie fox",
        "yes",
        "please call me back about the quote you sent",
    ]))

    assert "Everyone is busy right now, so I'll take a message and have someone call you back." in call.said
    [mail] = messages_for_office(stack)
    assert "please call me back about the quote you sent" in mail["body"]["content"]
    assert call.said[-1] == "Thanks for calling Lakeshore Plumbing & Heating. Goodbye."


async def test_a_transfer_nobody_answers_becomes_a_message(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "10:00")
    receptionist.configure(transfer_number=TRANSFER)
    call = await phone.call()
    await call.say("can I speak to a human")
    lines = await call.transfer_ends("no-answer")
    assert lines == ["I'm sorry, nobody could pick up just now.", "Can I get your name, please?"]
    for line in ("sky turner", "yes", "it's about my invoice"):
        await call.say(line)
    await call.hang_up()

    [mail] = messages_for_office(stack)
    assert mail["subject"] == "Call back Sky Turner - asked for a person; nobody answered"
    assert (await record_of(call)).dialog.outcome == "message_taken"


async def test_a_caller_who_wants_to_cancel_an_appointment_not_found_is_passed_to_the_office(clean_stack, phone,
                                                                                             receptionist):
    # Cancelling by phone itself is in test_change_by_phone.py; here nothing is on file for this number.
    stack = clean_stack
    receptionist.at("sun", "21:00")
    call = await place_call(phone, CallScript([
        "hi, I need to cancel my appointment for thursday",
        "no, I don't have it",
        "lee park",
        "yes",
    ]))

    [mail] = messages_for_office(stack)
    assert mail["subject"] == "Call back Lee Park - wants to cancel an appointment; has no reference"
    assert "hi, I need to cancel my appointment for thursday" in mail["body"]["content"]
    assert "someone will call you back" in said(call)
