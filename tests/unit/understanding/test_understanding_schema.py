"""The Understanding schema is what OpenAI strict structured outputs accept, and it refuses malformed fills."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

from shared.domain.understanding import TimePreference, Understanding
from understanding_corpus import CASES, parse_case

# Refused by strict structured outputs, or by some Azure OpenAI API versions (pattern, format, minimum).
FORBIDDEN_IN_STRICT = {"default", "minLength", "maxLength", "pattern", "format", "minimum", "maximum",
                       "patternProperties", "propertyNames", "minProperties", "maxProperties", "unevaluatedProperties",
                       "if", "then", "else", "not", "oneOf"}


def _walk(node, path=()):
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, path + (str(index),))


def test_the_schema_converts_to_an_openai_strict_schema():
    schema = to_strict_json_schema(Understanding)
    for path, node in _walk(schema):
        if path[-1:] in (("properties",), ("$defs",)):
            continue  # a map of names, not a schema
        if node.get("type") == "object":
            assert node.get("additionalProperties") is False, path
            assert set(node.get("required", [])) == set(node.get("properties", {})), path
        assert not FORBIDDEN_IN_STRICT & set(node), path
    json.dumps(schema)  # plain JSON, nothing Python-specific left


def test_every_field_is_described_for_the_model():
    schema = Understanding.model_json_schema()
    for name, prop in schema["properties"].items():
        assert prop.get("description"), name


@pytest.mark.parametrize("case", CASES[::7], ids=lambda c: c.text[:40])
def test_a_parse_survives_a_json_round_trip(case, catalog):
    understanding = parse_case(case, catalog)
    assert Understanding.model_validate_json(understanding.model_dump_json()) == understanding


def test_instants_are_normalised_to_utc_and_must_carry_an_offset():
    chicago = datetime.fromisoformat("2025-03-07T10:00:00-06:00")
    pref = TimePreference(kind="at", phrase="tomorrow at 10", start=chicago)
    assert pref.start == chicago and pref.start.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        TimePreference(kind="at", phrase="tomorrow at 10", start=datetime(2025, 3, 7, 10))


def test_model_fills_are_validated():
    good = {"intent": "book", "answer": None, "event_type": "plumbing-repair", "service_phrase": "sink",
            "name": None, "address": None, "postal_code": "60614", "phone": "+13125550100", "use_caller_id": False,
            "email": None, "times": [{"kind": "window", "phrase": "thursday afternoon",
                                      "start": "2025-03-13T12:00:00-05:00", "end": "2025-03-13T17:00:00-05:00",
                                      "weekdays": [], "after": "12:00", "before": "17:00",
                                      "day_part": "afternoon"}],
            "choice": None, "emergency": [], "gas_smell": False, "corrects": []}
    understanding = Understanding.model_validate(good)
    assert understanding.times[0].after.hour == 12
    assert json.loads(understanding.model_dump_json())["times"][0]["after"] == "12:00"
    for field, bad in [("intent", "launch_missiles"), ("phone", "555-0100"), ("postal_code", "6061"),
                       ("event_type", "Not A Key"), ("gas_smell", True), ("emergency", ["zombies"])]:
        with pytest.raises(ValidationError):
            Understanding.model_validate({**good, field: bad})
    with pytest.raises(ValidationError):  # unknown keys are refused, as strict mode promises
        Understanding.model_validate({**good, "action": "book_for_free"})
    with pytest.raises(ValidationError):
        Understanding.model_validate({**good, "times": [{**good["times"][0], "after": "3 pm"}]})
    with pytest.raises(ValidationError):
        Understanding.model_validate({**good, "times": [{**good["times"][0], "end": "2025-03-13T11:00:00-05:00"}]})


def test_gas_and_emergency_helpers():
    gas = Understanding(intent="emergency", emergency=["gas_smell"], gas_smell=True)
    assert gas.is_emergency
    assert not Understanding(intent="book", emergency=["no_heat"]).is_emergency
    assert Understanding(intent="emergency", emergency=["no_heat", "freezing"]).is_emergency
    assert Understanding(intent="inform", times=[TimePreference(kind="asap", phrase="asap")]).asap
    assert Understanding(intent="unknown").model_dump()["times"] == []
