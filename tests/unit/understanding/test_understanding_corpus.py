"""Everyday caller utterances are understood as a receptionist would (the corpus in understanding_corpus.py)."""

from __future__ import annotations

from datetime import time, timezone

import pytest

from understanding_corpus import CASES, Case, instant, parse_case

FIELDS = {"intent": None, "answer": None, "event_type": None, "name": None, "address": None, "postal_code": None,
          "phone": None, "use_caller_id": False, "email": None, "emergency": [], "gas_smell": False, "corrects": [],
          "choice": None, "times": [], "not_offered": None, "partial_digits": None}
TIME_EXTRAS = {"after": None, "before": None, "weekdays": [], "day_part": None}


def _hhmm(value: time | None) -> str | None:
    return value.strftime("%H:%M") if value else None


def _utc(text: str | None):
    return instant(text).astimezone(timezone.utc) if text else None


def heard(understanding) -> dict:
    """The fields a corpus case can expect, in the corpus's notation."""
    got = {name: getattr(understanding, name) for name in FIELDS if name not in ("choice", "times")}
    choice = understanding.choice
    got["choice"] = (choice.kind, choice.index) if choice else None
    got["times"] = [(p.kind, p.start, p.end, {"after": _hhmm(p.after), "before": _hhmm(p.before),
                                              "weekdays": list(p.weekdays), "day_part": p.day_part})
                    for p in understanding.times]
    return got


def expected(case: Case) -> dict:
    want = {**FIELDS, **{k: v for k, v in case.expect.items() if k != "service_phrase"}}
    want["times"] = [(kind, _utc(start), _utc(end), {**TIME_EXTRAS, **extra})
                     for kind, start, end, extra in want["times"]]
    return want


@pytest.mark.parametrize("case", CASES, ids=[f"{c.expecting or '-'}:{c.text[:48]}" for c in CASES])
def test_utterance_is_understood(case, catalog):
    understanding = parse_case(case, catalog)
    assert heard(understanding) == expected(case)
    if "service_phrase" in case.expect:
        assert understanding.service_phrase == case.expect["service_phrase"]
    if understanding.choice and understanding.choice.index is not None and case.offered:
        assert understanding.choice.start == instant(case.offered[understanding.choice.index])


def test_the_corpus_is_large_and_varied():
    assert len(CASES) >= 100
    intents = {c.expect["intent"] for c in CASES}
    assert {"book", "emergency", "inform", "choose", "yes", "no", "correction", "question", "speak_to_person",
            "cancel", "reschedule", "unknown"} <= intents
    tags = {t for c in CASES for t in c.tags}
    assert {"dst", "boundary", "gas", "emergency", "injection"} <= tags
