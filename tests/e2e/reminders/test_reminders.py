"""Reminders before a visit, end to end on the local stack with the development host's clock frozen and moved:
the evening before (18:00 the customer's time) and two hours before, exactly one text each, none after a
cancellation, re-planned after a move, none in quiet hours, none to a number that opted out, and once
across a host restart. Texts are read from the ACS emulator's outbox."""

from __future__ import annotations

from datetime import timedelta

from reminder_support import (CHICAGO, CUSTOMER, advance_to, book, cancel, eventually, freeze_at, local,
                              next_monday_morning, reminder_state, reminders_waiting_for, reschedule, services,
                              texts_to)

PHONE = CUSTOMER["phone"]
MINUTE = timedelta(minutes=1)


def _reminders(stack) -> list[str]:
    return texts_to(stack, PHONE, "reminder")


async def test_evening_before_and_two_hours_before_each_texted_once(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    visit = local(wednesday, "14:00")
    booking_id = await book(stack, visit)
    assert await eventually(lambda: texts_to(stack, PHONE, "confirmed"))

    evening = local(wednesday - timedelta(days=1), "18:00")
    upcoming = await reminders_waiting_for(stack, booking_id)
    assert upcoming["kind"] == "evening_before" and upcoming["at"] == evening.isoformat()

    advance_to(stack, evening - MINUTE)
    assert _reminders(stack) == []
    advance_to(stack, evening + MINUTE)
    [text] = await eventually(lambda: _reminders(stack))
    assert "tomorrow, Wed" in text and "2:00 PM" in text

    two_hours = visit - timedelta(hours=2)
    upcoming = await reminders_waiting_for(stack, booking_id, not_at=evening.isoformat())
    assert upcoming["kind"] == "2h" and upcoming["at"] == two_hours.isoformat()
    advance_to(stack, two_hours - MINUTE)
    assert len(_reminders(stack)) == 1
    advance_to(stack, two_hours + MINUTE)
    await eventually(lambda: len(_reminders(stack)) == 2)
    assert "today at 2:00 PM" in _reminders(stack)[1]

    assert await reminders_waiting_for(stack, booking_id, not_at=two_hours.isoformat()) is None
    advance_to(stack, visit + timedelta(hours=1))
    assert len(_reminders(stack)) == 2
    assert (await reminder_state(stack, booking_id))["runtime"] == "Completed"


async def test_a_cancelled_booking_gets_no_reminder(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    visit = local(wednesday, "14:00")
    booking_id = await book(stack, visit)
    await reminders_waiting_for(stack, booking_id)

    assert (await cancel(stack, booking_id))["outcome"] == "cancelled"
    state = await eventually_state(stack, booking_id, "Completed")
    assert state["output"]["why"] == "the booking is cancelled"
    advance_to(stack, visit)
    assert _reminders(stack) == []
    assert await eventually(lambda: texts_to(stack, PHONE, "cancelled"))


async def test_a_moved_booking_is_reminded_of_its_new_time_only(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    booking_id = await book(stack, local(wednesday, "14:00"))
    await reminders_waiting_for(stack, booking_id)

    thursday = wednesday + timedelta(days=1)
    new_visit = local(thursday, "15:00")
    assert (await reschedule(stack, booking_id, new_visit))["outcome"] == "rescheduled"
    upcoming = await reminders_waiting_for(stack, booking_id,
                                           not_at=local(wednesday - timedelta(days=1), "18:00").isoformat())
    assert upcoming["at"] == local(wednesday, "18:00").isoformat() and upcoming["start"] == new_visit.isoformat()

    advance_to(stack, local(wednesday - timedelta(days=1), "18:30"))  # the old evening before: nothing
    assert _reminders(stack) == []
    advance_to(stack, local(wednesday, "18:01"))
    [text] = await eventually(lambda: _reminders(stack))
    assert "tomorrow, Thu" in text and "3:00 PM" in text


async def test_no_text_in_quiet_hours_an_early_visit_gets_only_the_evening_reminder(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    visit = local(wednesday, "09:00")  # two hours before is 07:00, inside 21:00-08:00
    booking_id = await book(stack, visit)
    evening = local(wednesday - timedelta(days=1), "18:00")
    assert (await reminders_waiting_for(stack, booking_id))["at"] == evening.isoformat()

    advance_to(stack, evening + MINUTE)
    await eventually(lambda: _reminders(stack))
    assert await reminders_waiting_for(stack, booking_id, not_at=evening.isoformat()) is None
    for wall in ("21:30", "23:59"):
        advance_to(stack, local(wednesday - timedelta(days=1), wall))
    for wall in ("06:59", "07:01", "08:30"):
        advance_to(stack, local(wednesday, wall))
    assert len(_reminders(stack)) == 1


async def test_an_opted_out_number_gets_no_reminder(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    await services().opt_outs.record_opt_out(PHONE, "test:STOP")
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    visit = local(wednesday, "14:00")
    booking_id = await book(stack, visit)
    evening = local(wednesday - timedelta(days=1), "18:00")
    assert (await reminders_waiting_for(stack, booking_id))["at"] == evening.isoformat()

    advance_to(stack, evening + MINUTE)
    await reminders_waiting_for(stack, booking_id, not_at=evening.isoformat())
    advance_to(stack, visit - timedelta(hours=1))
    await eventually_state(stack, booking_id, "Completed")
    assert texts_to(stack, PHONE) == []


async def test_a_reminder_is_sent_once_across_host_restarts(clean_stack):
    stack = clean_stack
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    visit = local(wednesday, "14:00")
    booking_id = await book(stack, visit)
    evening = local(wednesday - timedelta(days=1), "18:00")
    await reminders_waiting_for(stack, booking_id)

    stack.restart_host()  # the timer lives in storage, not in the old host's memory
    advance_to(stack, evening + MINUTE)
    await eventually(lambda: _reminders(stack))
    await reminders_waiting_for(stack, booking_id, not_at=evening.isoformat())
    stack.restart_host()
    advance_to(stack, evening + timedelta(minutes=30))
    assert len(_reminders(stack)) == 1
    advance_to(stack, visit - timedelta(hours=2) + MINUTE)
    await eventually(lambda: len(_reminders(stack)) == 2)
    stack.restart_host()
    advance_to(stack, visit - timedelta(minutes=30))
    assert len(_reminders(stack)) == 2


async def eventually_state(stack, booking_id: str, runtime: str) -> dict:
    import asyncio
    for _ in range(300):
        state = await reminder_state(stack, booking_id)
        if state and state["runtime"] == runtime:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"reminder orchestration never {runtime}: {state}")
