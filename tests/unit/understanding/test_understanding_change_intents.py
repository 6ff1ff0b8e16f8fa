"""Callers asking about a booking they already have: cancel, move, or when is it / is the technician coming."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("text", [
    "when is my appointment", "When's my appointment?", "what time is my appointment tomorrow",
    "is the technician still coming?", "is the plumber still coming today", "are the guys still coming",
    "when will the technician be here", "do I still have an appointment", "I'm just calling to check on my visit",
])
def test_asking_about_an_existing_booking_is_a_status_question(understand, text):
    assert understand(text, expecting="need").intent == "status"


@pytest.mark.parametrize("text, intent", [
    ("I need to move my appointment", "reschedule"), ("can I reschedule my visit", "reschedule"),
    ("cancel my visit", "cancel"), ("I want to cancel my appointment for tomorrow", "cancel"),
])
def test_moving_and_cancelling_stay_what_they_were(understand, text, intent):
    assert understand(text, expecting="need").intent == intent


@pytest.mark.parametrize("text", [
    "my kitchen sink is leaking", "when can you come out", "can someone come tomorrow morning",
    "do you have anything on friday", "when are you open",
])
def test_new_work_and_questions_are_not_status_questions(understand, text):
    assert understand(text, expecting="need").intent != "status"


def test_status_words_while_answering_something_else_are_that_answer(understand):
    assert understand("yes is the tech still coming", expecting="confirm").intent == "yes"
