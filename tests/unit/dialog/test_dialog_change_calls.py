"""Calls about an existing booking, on the pure machine: what is read back, what is verified, what is changed."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dialog_world import CHICAGO, TUESDAY_9AM, World
from shared.domain.dialog import (BookingsFound, ChangeBooking, ChangeUpdate, FindBookings, FindSlots, FoundBooking,
                                  JoinWaitlist, LockSelfService, TakeMessage, WaitlistJoined, zip_digest)
from shared.domain.dialog.changes import spoken_reference

REF = "bk_0123456789abcdef01234567"
OTHER = "bk_a1a1a1a1a1a1a1a1a1a1a1a1"
READ_OUT = "it's b k underscore zero one two three four five six seven eight nine a b c d e f zero one two three " \
           "four five six seven"


def found(booking_id: str = REF, days: int = 1, event_type: str = "plumbing-repair", locked: bool = False):
    start = TUESDAY_9AM + timedelta(days=days, hours=1)
    return FoundBooking(booking_id=booking_id, event_type=event_type, start=start, end=start + timedelta(hours=1),
                        status="confirmed", version=3, technician="Dana", zip_digest=zip_digest(booking_id, "60614"),
                        locked=locked)


class Office(World):
    """The caller's bookings under the caller id (+13125550188); changes answered with ``fates``."""

    def __init__(self, config, bookings=(), fates=(), **kwargs):
        self.bookings, self.fates = list(bookings), list(fates)
        super().__init__(config, **kwargs)

    def _answer(self, action):
        if isinstance(action, FindBookings):
            if action.kind == "reference":
                return BookingsFound(action.kind, tuple(b for b in self.bookings if b.booking_id == action.value))
            if action.kind == "name_zip":
                mine = action.value.lower() == "alex morgan|60614"
                return BookingsFound(action.kind, tuple(self.bookings) if mine else ())
            return BookingsFound(action.kind, tuple(self.bookings) if action.value == "+13125550188" else ())
        if isinstance(action, ChangeBooking):
            return ChangeUpdate(action.booking_id, self.fates.pop(0) if self.fates else "done")
        if isinstance(action, FindSlots) and action.booking_id:
            return super()._answer(FindSlots(action.event_type, action.times, None, action.exclude))
        return super()._answer(action)


@pytest.fixture
def office(config):
    def make(bookings=(found(),), fates=(), **kwargs) -> Office:
        return Office(config, bookings, fates, **kwargs)
    return make


def test_a_cancel_is_verified_read_back_and_confirmed_before_the_saga_runs(office):
    call = office()
    assert call.say("I need to cancel my appointment") == [
        "For your security, what's the ZIP code of the address where the appointment is?"]
    assert call.say("60614") == ["Cancel your plumbing repair visit tomorrow, Wednesday, March 11th at 10 AM?"]
    assert call.of(ChangeBooking) == []
    lines = call.say("yes")
    [change] = call.of(ChangeBooking)
    assert (change.kind, change.booking_id, change.first) == ("cancel", REF, True)
    assert any("is cancelled" in line for line in lines) and call.state.outcome == "changed"


def test_no_at_the_read_back_changes_nothing(office):
    call = office()
    call.say("cancel my visit")
    call.say("60614")
    assert call.say("no") == ["Okay, your appointment stays as booked.", "Is there anything else I can help you with?"]
    assert call.of(ChangeBooking) == []


def test_three_wrong_zip_codes_lock_self_service_and_take_a_message(office):
    call = office()
    call.say("cancel my appointment")
    call.say("60601")
    call.say("60602")
    lines = call.say("60603")
    [lock] = call.of(LockSelfService)
    assert lock.booking_id == REF and call.of(ChangeBooking) == []
    assert any("paused for now" in line for line in lines) and call.state.mode == "message"


def test_a_locked_booking_is_not_changed_even_with_the_right_zip(office):
    call = office(bookings=[found(locked=True)])
    lines = call.say("I need to move my appointment")
    assert any("paused for now" in line for line in lines)
    call.say("60614")
    assert call.of(ChangeBooking) == []


def test_the_caller_id_alone_reads_back_day_time_and_technician_without_the_address(office):
    call = office()
    lines = call.say("when is my appointment")
    assert lines[0] == ("Your plumbing repair visit is tomorrow, Wednesday, March 11th at 10 AM with Dana. It's "
                        "confirmed, and Dana will be there.")
    assert call.of(FindBookings)[0].kind == "caller_id"


def test_from_another_phone_the_reference_finds_it_and_the_zip_verifies_it(office):
    call = office(caller="+17735550123")
    assert call.say("cancel my visit")[0].startswith("I don't see an upcoming appointment under the number")
    assert call.say(READ_OUT) == ["For your security, what's the ZIP code of the address where the appointment is?"]
    assert call.of(FindBookings)[-1].value == REF
    call.say("60614")
    call.say("yes")
    assert [c.booking_id for c in call.of(ChangeBooking)] == [REF]


def test_from_another_phone_a_name_and_its_zip_find_it(office):
    call = office(caller="+17735550123")
    call.say("I need to cancel my appointment")
    assert call.say("it's under alex morgan") == ["And what's the ZIP code of the address where the appointment is?"]
    assert call.say("60614") == ["Cancel your plumbing repair visit tomorrow, Wednesday, March 11th at 10 AM?"]
    assert call.of(FindBookings)[-1].kind == "name_zip"
    call.say("yes")
    assert [c.booking_id for c in call.of(ChangeBooking)] == [REF]


def test_a_name_with_the_wrong_zip_finds_nothing_and_changes_nothing(office):
    call = office(caller="+17735550123")
    call.say("cancel my visit")
    call.say("alex morgan")
    assert call.say("60601")[0].startswith("I couldn't find an upcoming appointment")
    assert call.of(ChangeBooking) == []


def test_a_number_said_alone_needs_the_zip_before_anything_is_read_back(office):
    call = office(caller="+17735550123")
    call.say("when is my appointment")
    lines = call.say("three one two five five five oh one eight eight")
    assert lines == ["For your security, what's the ZIP code of the address where the appointment is?"]
    assert "10 AM" in call.say("60614")[0]


def test_several_bookings_it_asks_which(office):
    call = office(bookings=[found(), found(OTHER, days=3, event_type="drain-cleaning")])
    [question] = call.say("is the technician still coming")
    assert question.startswith("I see 2 upcoming appointments:") and "Friday" in question
    assert "drain cleaning" in call.say("the friday one")[0].lower()


def test_a_move_offers_other_times_and_a_lost_time_offers_again(office):
    call = office(fates=["conflict", "done"])
    call.say("I need to reschedule my appointment")
    call.say("60614")
    offered = call.say("thursday afternoon")
    assert offered[0].startswith("I have Thursday")
    [search] = call.of(FindSlots)
    assert search.booking_id == REF and found().start in search.exclude
    assert call.say("the first one")[0].startswith("Move your plumbing repair visit from tomorrow")
    lines = call.say("yes")
    assert "that time was just taken" in " ".join(lines)
    assert lines[-1].startswith(("I have", "The closest I have"))
    call.say("the first one")
    call.say("yes")
    moves = call.of(ChangeBooking)
    assert len(moves) == 2 and moves[0].start != moves[1].start and call.state.outcome == "changed"


def test_a_move_to_anything_later_looks_again_without_asking(office):
    call = office()
    call.say("I need to reschedule my appointment")
    call.say("60614")
    call.say("thursday afternoon")
    first = list(call.state.offered_starts)
    [line] = call.say("anything later")
    assert line.startswith("I have Thursday")
    assert call.state.offered_starts and all(start > max(first) for start in call.state.offered_starts)


def test_nothing_found_by_caller_id_and_two_references_ends_with_a_message(office):
    call = office(bookings=[])
    call.say("cancel my appointment")
    call.say("b k nine nine nine")  # not a reference at all: asked again
    call.say(READ_OUT)
    assert call.state.mode == "change"
    call.say("bk_a1a1a1a1a1a1a1a1a1a1a1a1")
    assert call.state.mode == "message" and call.of(ChangeBooking) == []
    call.say("alex")
    call.say("yes")
    assert call.of(TakeMessage)


@pytest.mark.parametrize("text, expected", [
    (READ_OUT, REF), ("BK_0123456789ABCDEF01234567", REF), ("my reference is bk_a1a1a1a1a1a1a1a1a1a1a1a1", OTHER),
    ("b k nine nine nine", None), ("60614", None),
])
def test_references_read_out(text, expected):
    assert spoken_reference(text) == expected


class Waitlist(World):
    def __init__(self, config, ok: bool = True, **kwargs):
        self.ok = ok
        super().__init__(config, **kwargs)

    def _answer(self, action):
        if isinstance(action, JoinWaitlist):
            return WaitlistJoined(action.key, self.ok)
        return super()._answer(action)


def booked(call: World) -> None:
    for text in ("my kitchen sink is leaking", "2400 north lincoln avenue chicago 60614", "maria gonzalez", "yes",
                 "thursday afternoon", "the first one", "yes"):
        call.say(text)
    assert call.state.outcome == "booked"


@pytest.mark.parametrize("ok", [True, False])
def test_let_me_know_if_something_earlier_opens_up_after_a_booking(config, ok):
    call = Waitlist(config, ok=ok)
    booked(call)
    lines = call.say("yes, let me know if something earlier opens up")
    [join] = call.of(JoinWaitlist)
    assert join.key == call.state.booked[-1] and join.start == call.state.jobs[-1].start
    assert ("If an earlier time opens up, we'll text" in lines[0]) is ok
    assert lines[-1] == "Is there anything else I can help you with?"
    call.say("and put me on the waitlist too")  # once per booking
    assert len(call.of(JoinWaitlist)) == 1


def test_a_gas_smell_while_a_booking_is_looked_up_goes_to_the_emergency(office):
    call = office()
    call.say("I need to cancel my appointment")
    lines = call.say("wait, I smell gas")
    assert any("If you smell gas" in line for line in lines)
    assert call.state.mode == "booking" and call.of(ChangeBooking) == []
    call.say("2400 north lincoln avenue 60614")
    call.say("maria gonzalez")
    lines = call.say("yes")
    assert any(line.startswith("The earliest I can get a technician there is") for line in lines)


def test_the_new_time_said_when_asking_to_move_is_searched_at_once(office):
    call = office()  # the plumbing repair tomorrow at 10
    assert call.say("hey I have a plumber coming tomorrow, can we make it Thursday instead?") == [
        "For your security, what's the ZIP code of the address where the appointment is?"]
    [offer] = call.say("60614")
    assert offer.startswith("I have Thursday, March 12th at ")
    call.say("the first one")
    call.say("yes")
    [move] = call.of(ChangeBooking)
    assert move.start.astimezone(CHICAGO).weekday() == 3


@pytest.mark.parametrize("answer", ["hmm actually no, leave it where it is", "never mind, keep the original"])
def test_leave_it_keeps_the_appointment_as_it_is(office, answer):
    call = office()
    call.say("I need to reschedule")
    call.say("60614")
    call.say("next week sometime")
    call.say("the first one")
    assert call.say(answer) == ["Okay, your appointment stays as it is.", "Is there anything else I can help you with?"]
    assert call.of(ChangeBooking) == []


def test_a_cancel_taken_back_straight_away_goes_to_the_office(office):
    call = office()
    call.say("cancel my appointment")
    call.say("60614")
    call.say("yes")
    lines = call.say("wait no, I didn't mean to, can you put it back?")
    assert lines[0].startswith("I'm sorry about that. I can't undo a cancellation myself")
    assert call.state.mode == "message" and "by mistake" in call.state.message_reason


def test_move_it_instead_at_the_cancel_question_moves_it(office):
    call = office()
    call.say("cancel my appointment")
    call.say("60614")
    assert call.say("actually wait, can I just move it instead?") == ["When would you like to move it to?"]
    call.say("thursday")
    call.say("the first one")
    call.say("yes")
    [move] = call.of(ChangeBooking)
    assert move.kind == "reschedule"
