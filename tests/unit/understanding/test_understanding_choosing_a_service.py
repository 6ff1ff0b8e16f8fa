"""Answers to "Is that a furnace or A/C tune-up or a visit for no heat or no cooling?": callers describe the
need rather than repeat a name, and the description picks the offered service of that kind."""

from __future__ import annotations

import pytest

from shared.domain.understanding import choose_service

HVAC = ["hvac-tune-up", "no-heat"]


@pytest.mark.parametrize("text", [
    "it's not working it needs fixing",
    "it's broken",
    "the repair one",
    "no it's not a tune up it's broken",
    "it died on us last night",
    "uh it's blowing cold air",
    "we have no heat",
    "the one where you fix it",
    "it keeps shutting off",
    "something is wrong with it",
    "the second one",
    "the last one",
])
def test_a_described_breakdown_picks_the_repair_visit(catalog, text):
    assert choose_service(text, HVAC, event_types=catalog, before="furnace") == "no-heat"


@pytest.mark.parametrize("text", [
    "the tune up",
    "just the yearly maintenance",
    "it's not broken it just needs a check up",
    "routine service before winter",
    "the first one",
])
def test_routine_work_picks_the_tune_up(catalog, text):
    assert choose_service(text, HVAC, event_types=catalog, before="furnace") == "hvac-tune-up"


@pytest.mark.parametrize("text", ["um i don't know", "yes", "what's the difference", "hello"])
def test_an_answer_that_does_not_decide_picks_nothing(catalog, text):
    assert choose_service(text, HVAC, event_types=catalog, before="furnace") is None


@pytest.mark.parametrize("text, key", [
    ("i want a brand new one", "water-heater-install"),
    ("just a price for now", "estimate-call"),
    ("how much would a new one cost", "estimate-call"),
    ("it's leaking and needs fixing", "plumbing-repair"),
])
def test_new_work_a_price_or_a_repair_among_three(catalog, text, key):
    among = ["plumbing-repair", "water-heater-install", "estimate-call"]
    assert choose_service(text, among, event_types=catalog, before="water heater") == key


def test_only_an_offered_service_is_chosen(catalog):
    assert choose_service("my toilet is running", HVAC, event_types=catalog, before="furnace") is None
