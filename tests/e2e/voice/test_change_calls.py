"""Scripted calls where the caller changes their mind: corrections, declined offers and read-backs, hang-ups mid-hold.

Whatever changes, Outlook ends up with exactly the booking the caller agreed to (or none), and every time
that was held and let go is free again: no tentative event left behind, no claim left in storage.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dev.phone import CallScript, place_call
from voice_support import (CALLER, DANA, PRIYA, appointments, eventually, events, graph_time, local, record_of,
                           sagas_of, said, services, settle, spoken_day, stored_booking, texts_to)

UTC = timezone.utc


async def live_claims(host_id: str, around: datetime) -> list:
    return await services().claims.list_claims(host_id, around - timedelta(days=10), around + timedelta(days=10),
                                               now=datetime.now(UTC))


def frontdesk_events(stack) -> list[dict]:
    return events(stack, DANA) + events(stack, PRIYA)


async def test_actually_make_it_friday_while_choosing(clean_stack, phone, receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my toilet is leaking",
        "2400 north lincoln avenue 60614",
        "dana white",
        "yes",
        "thursday morning",
        "hmm, actually make it friday",
        "the first one",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    friday = local(now + timedelta(days=3))
    assert any(line.startswith(f"I have {spoken_day(friday)} at") for line in call.said)
    [event] = frontdesk_events(stack)
    assert local(graph_time(event["start"])).date() == friday.date()
    assert result["outcome"] == "confirmed"


async def test_no_at_the_read_back_releases_the_time_and_books_the_next_one_said(clean_stack, phone, receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "the kitchen sink is clogged",
        "2400 north lincoln avenue 60614",
        "sam rivera",
        "yes",
        "wednesday morning",
        "the first one",
        "no, sorry, that won't work",
        "thursday afternoon",
        "the later one",
        "yes",
        "no",
    ]))
    first, second = await settle(stack, call)

    assert first["outcome"] == "declined" and second["outcome"] == "confirmed"
    assert "No problem, I've let that time go. What day or time would work better?" in call.said
    # Only Thursday's booking is in Outlook; Wednesday's hold left neither an event nor a claim.
    [event] = frontdesk_events(stack)
    assert local(graph_time(event["start"])).weekday() == 3 and event["showAs"] == "busy"
    released = first["booking"]
    assert not [c for c in await live_claims(released["hostId"], now) if c.holder_id == released["id"]]
    assert (await stored_booking(released["id"])).status.value == "cancelled"
    assert len(texts_to(stack)) == 1 and len(appointments(stack)) == 1


async def test_a_name_corrected_at_the_read_back_is_booked_under_the_right_name(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my faucet is dripping",
        "2400 north lincoln avenue 60614",
        "jon smith",
        "yes",
        "friday afternoon",
        "the first one",
        "no wait, my name is john smyth",
        "yes that's right",
        "no thanks",
    ]))
    first, second = await settle(stack, call)

    assert first["outcome"] == "declined" and second["outcome"] == "confirmed"
    assert first["booking"]["start"] == second["booking"]["start"]  # the same time, held again
    [event] = frontdesk_events(stack)
    assert event["subject"] == "Plumbing repair visit - John Smyth" and event["showAs"] == "busy"
    [appointment] = appointments(stack)
    assert appointment["subject"].endswith("John Smyth")


async def test_neither_offer_then_next_week_after_three_but_not_monday(clean_stack, phone, receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "I need someone to snake the drain",
        "2400 north lincoln avenue 60614",
        "kim lee",
        "yep",
        "tomorrow",
        "neither of those, do you have anything next week after 3 but not monday",
        "the first one",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    assert "No problem. What day or time would work better?" not in call.said  # the new times came in the same breath
    start = local(result["booking"]["start"])
    next_monday = local(now + timedelta(days=6)).date()
    assert start.date() > next_monday and start.hour >= 15 and start.weekday() != 0
    assert len(frontdesk_events(stack)) == 1


async def test_hanging_up_at_the_read_back_frees_the_held_time(clean_stack, phone, receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my shower drain is slow",
        "2400 north lincoln avenue 60614",
        "pat quinn",
        "yes",
        "thursday morning",
        "the first one",
    ]))  # ... and hangs up instead of answering the read-back
    [result] = await settle(stack, call)

    assert said(call).endswith("Shall I book it?")
    assert result["outcome"] == "declined"
    assert not frontdesk_events(stack) and not texts_to(stack) and not appointments(stack)
    held = result["booking"]
    assert not [c for c in await live_claims(held["hostId"], now) if c.holder_id == held["id"]]
    record = await record_of(call)
    assert record.dialog.outcome == "abandoned" and record.outcome_recorded


async def test_hanging_up_while_the_time_is_being_held_frees_it_too(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await phone.call(CALLER)
    for line in ("my toilet keeps running", "2400 north lincoln avenue 60614", "pat quinn", "yes",
                 "friday morning"):
        await call.say(line)
    # The caller picks a time and hangs up before the receptionist comes back from holding it.
    await call.say("the first one", follow_redirects=False)
    assert call.said[-1] == "One moment while I hold that time for you."
    await call.hang_up()
    [result] = await settle(stack, call)

    assert result["outcome"] in ("declined", "cancelled")
    assert await eventually(lambda: not frontdesk_events(stack))
    assert not texts_to(stack) and not appointments(stack)


async def test_never_mind_goodbye_at_the_read_back_lets_the_time_go(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "I need a plumber for a leak",
        "2400 north lincoln avenue 60614",
        "ana lopez",
        "yes",
        "wednesday afternoon",
        "the second one",
        "actually never mind, I'll call back later, bye",
    ]))
    [result] = await settle(stack, call)

    assert call.said[-1] == "Thanks for calling Lakeshore Plumbing & Heating. Goodbye."
    assert result["outcome"] == "declined"
    assert not frontdesk_events(stack)
    assert (await record_of(call)).dialog.outcome == "abandoned"


async def test_the_caller_changes_the_zip_at_the_read_back_and_is_booked_on_the_west_side(clean_stack, phone,
                                                                                          receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my garbage disposal is jammed",
        "1500 west division street 60614",
        "lou ortiz",
        "yes",
        "thursday at 2",
        "yes",
        "oh wait, the zip code is 60622",
        "yes",
        "no",
    ]))
    results = await settle(stack, call)

    assert [r["outcome"] for r in results] == ["declined", "confirmed"]
    booked = results[-1]["booking"]
    assert booked["customer"]["postalCode"] == "60622"
    assert booked["routing"]["policy"] in ("territory", "round_robin")
    assert len(frontdesk_events(stack)) == 1 and local(booked["start"]).hour == 14
    assert len(await sagas_of(call)) == 2


async def test_a_caller_too_slow_at_the_read_back_is_offered_the_time_again(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my kitchen sink is leaking",
        "2400 north lincoln avenue 60614",
        "val ruiz",
        "yes",
        "friday afternoon",
        "the first one",
    ], hang_up=False))
    first_offer = [line for line in call.said if line.startswith("I have")][0]
    # Five minutes pass at the read-back: the hold lapses and the saga lets the time go.
    stack.host.clock.advance(timedelta(minutes=6))
    [expired] = await settle(stack, call)
    assert expired["outcome"] == "expired"
    assert not frontdesk_events(stack)

    lines = await call.say("yes")
    assert "I'm sorry, that hold ran out before it was confirmed." in lines
    assert lines[-1] == first_offer  # the same times, the lapsed one still free
    for line in ("the first one", "yes", "no"):
        await call.say(line)
    await call.hang_up()
    results = await settle(stack, call)
    assert [r["outcome"] for r in results] == ["expired", "confirmed"]
    [event] = frontdesk_events(stack)
    assert graph_time(event["start"]) == datetime.fromisoformat(expired["booking"]["start"])
