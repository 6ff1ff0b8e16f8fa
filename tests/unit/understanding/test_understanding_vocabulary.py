"""The vocabulary comes from the business configuration: a configuration that says nothing about how callers
talk still understands them (the built-in trade vocabulary is linked to its event types), and what an owner
adds -- work not offered, speech-recognition errors, topics -- changes what callers are understood to need."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from shared.domain.business import parse_business_config
from shared.domain.understanding import parse, service_catalog

NOW = datetime(2025, 3, 6, 16, tzinfo=timezone.utc)


def _business(event_types: list[dict], vocabulary: dict | None = None):
    data = {
        "business": {"name": "Test trades", "time_zone": "America/Chicago"},
        "hosts": [{"id": "ana", "display_name": "Ana", "mailbox": "ana@example.com",
                   "working_hours": [{"days": "mon-fri", "hours": ["08:00-17:00"]}]}],
        "event_types": [{"duration_minutes": 60, "routing": {"policy": "fixed", "hosts": ["ana"]}, **e}
                        for e in event_types],
    }
    if vocabulary is not None:
        data["vocabulary"] = vocabulary
    return parse_business_config(data)


def _need(config, text: str):
    u = parse(text, now=NOW, time_zone="America/Chicago", expecting="need", event_types=service_catalog(config))
    return u.event_type, u.not_offered


ELECTRICIAN = [{"key": "service-call", "name": "Electrical service call"},
               {"key": "panel-upgrade", "name": "Panel upgrade", "description": "Replace or upgrade the breaker panel"}]


@pytest.mark.parametrize("text,expected", [
    ("the breaker keeps tripping", ("panel-upgrade", None)),
    ("half my outlets are dead", ("service-call", None)),
    ("lights keep flickering in the kitchen", ("service-call", None)),
    ("my toilet keeps running", (None, "plumbing")),
    ("my ac is blowing warm air", (None, "heating and cooling")),
    ("the clothes dryer keeps shutting off", (None, "appliance repair")),
])
def test_an_electricians_configuration_that_says_nothing_still_understands_callers(text, expected):
    assert _need(_business(ELECTRICIAN), text) == expected


def test_an_owner_lists_work_not_offered_and_speech_recognition_errors():
    config = _business(ELECTRICIAN, {"not_offered": [{"name": "solar panels", "phrases": ["solar", "solar panel"]}],
                                     "mishearings": {"sealing fan": "ceiling fan"}})
    assert _need(config, "can you look at my solar panels") == (None, "solar panels")
    assert _need(config, "the sealing fan in the bedroom stopped") == ("service-call", None)


def test_topics_link_built_in_words_to_an_event_type_and_can_offer_what_is_usually_not_offered():
    config = _business([{"key": "repair", "name": "Repair visit", "topics": ["appliance", "leak"]}])
    assert _need(config, "my dishwasher won't drain") == ("repair", None)
    assert _need(config, "the breaker keeps tripping") == (None, "electrical work")


def test_the_owners_own_words_beat_the_built_in_ones():
    config = _business([{"key": "repair", "name": "Plumbing repair"},
                        {"key": "emergency", "name": "Emergency", "caller_phrases": ["pipe burst"],
                         "emergency": True}])
    assert _need(config, "a pipe burst under the kitchen sink")[0] == "emergency"
    assert _need(config, "a pipe is leaking under the kitchen sink")[0] == "repair"


def test_builtin_false_keeps_only_the_owners_words():
    config = _business([{"key": "repair", "name": "Repair visit", "caller_phrases": ["leak"]}], {"builtin": False})
    assert _need(config, "my faucet is leaking") == ("repair", None)
    assert _need(config, "the breaker keeps tripping") == (None, None)
