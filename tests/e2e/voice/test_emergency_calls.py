"""Scripted emergency calls: the earliest emergency time, the on-call number, and safety first when gas is smelled."""

from __future__ import annotations

from datetime import timedelta

from dev.phone import CallScript, place_call
from voice_support import (DANA, LUIS, MARCUS, ON_CALL, events, graph_time, local, messages_for_office, record_of,
                           said, settle, texts_to)

GAS_SAFETY = "If you smell gas, please leave the building now."


def after_greeting(call) -> list[str]:
    """What the receptionist said after asking how it could help (the greeting varies with the hour)."""
    return call.said[call.said.index("How can I help you today?") + 1:]


async def test_a_flooded_basement_at_night_gets_the_on_call_technician_within_the_hour(clean_stack, phone,
                                                                                      receptionist):
    stack = clean_stack
    now = receptionist.at(None, "18:55")  # 30 minutes' notice: 7:30 PM is the first quarter-hour start
    call = await place_call(phone, CallScript([
        "oh god, my basement is flooding, there's water everywhere",
        "it's 2400 north lincoln avenue, 60614",
        "terry mills",
        "yes",
        "yes please",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    assert after_greeting(call)[:2] == [
        "I'm sorry, that sounds stressful. Let's get someone out to you as fast as we can.",
        "If you can do it safely, turn off the main water valve."]
    assert "The earliest I can get a technician there is today at 7:30 PM. Shall I hold that for you?" in call.said
    assert result["outcome"] == "confirmed" and result["booking"]["eventTypeKey"] == "emergency-leak"
    [event] = events(stack, LUIS)  # the night shift
    assert local(graph_time(event["start"])) == local(now + timedelta(minutes=35)).replace(microsecond=0)
    assert "URGENT: flooding" in event["body"]["content"]
    assert texts_to(stack)


async def test_a_burst_pipe_nobody_can_reach_soon_is_put_through_to_on_call(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("wed", "10:00")  # the night shift starts at 6 PM, beyond four hours
    receptionist.configure(on_call_number=ON_CALL)
    call = await place_call(phone, CallScript([
        "a pipe burst under the sink!",
        "2400 north lincoln avenue 60614",
        "terry mills",
        "yes",
    ]))

    assert call.transferred_to == ON_CALL or call.state == "hung up"
    assert "I'm connecting you to our on-call technician now." in call.said
    assert any(line.startswith("(transfers the call to +13125550199)") for line in call.said)
    assert not events(stack, LUIS) and not events(stack, DANA) and not texts_to(stack)
    assert (await record_of(call)).dialog.outcome == "transferred"


async def test_gas_gets_safety_instructions_before_anything_else_then_on_call(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("wed", "10:00")
    receptionist.configure(on_call_number=ON_CALL)
    call = await phone.call()
    lines = await call.say("um, I think I smell gas in the kitchen")

    assert lines[0].startswith(GAS_SAFETY) and "call your gas company or 911" in lines[0]
    assert lines[1] == "I'm connecting you to our on-call technician now."
    assert call.state == "transferred" and call.transferred_to == ON_CALL
    await call.hang_up()
    assert not events(stack, LUIS)


async def test_gas_without_an_on_call_number_still_gets_safety_first_and_the_earliest_visit(clean_stack, phone,
                                                                                           receptionist):
    stack = clean_stack
    receptionist.at(None, "18:55")
    call = await place_call(phone, CallScript([
        "there's a strong gas smell in my basement",
        "2400 north lincoln avenue 60614",
        "robin hale",
        "yes",
        "yes",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    first, second = after_greeting(call)[:2]
    assert first.startswith(GAS_SAFETY)
    assert second == "Once you're safe, I'll get a technician out to you as fast as I can."
    assert result["outcome"] == "confirmed"
    [event] = events(stack, LUIS)
    assert "URGENT: gas smell" in event["body"]["content"]


async def test_no_heat_in_freezing_weather_books_the_earliest_heating_visit(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("wed", "08:55")  # an hour's notice: 10 AM is the first half-hour start
    call = await place_call(phone, CallScript([
        "our furnace stopped working and it's freezing in here, we've got a baby",
        "2400 north lincoln avenue 60614",
        "chris dale",
        "yes",
        "yes",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    assert result["booking"]["eventTypeKey"] == "no-heat"
    assert "The earliest I can get a technician there is today at 10 AM. Shall I hold that for you?" in call.said
    [event] = events(stack, MARCUS)  # the heating technician on days
    assert local(graph_time(event["start"])).hour == 10


async def test_an_on_call_line_that_does_not_answer_becomes_an_urgent_message(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("wed", "10:00")
    receptionist.configure(on_call_number=ON_CALL)
    call = await phone.call()
    await call.say("I smell gas")
    lines = await call.transfer_ends("no-answer")

    assert lines[0] == "I'm sorry, nobody could pick up just now."
    assert lines[1] == "Can I get your name, please?"
    await call.say("robin hale")
    await call.say("yes")
    await call.hang_up()

    [mail] = messages_for_office(stack)
    assert mail["subject"].startswith("URGENT: Call back Robin Hale")
    assert "on-call number did not answer" in mail["body"]["content"]
    assert "(312) 555-0188" in mail["body"]["content"]
    assert (await record_of(call)).dialog.outcome == "message_taken"
    assert "as soon as possible" in said(call)
