"""The OpenAPI document says what the server does: a schemathesis run against the local stack finds nothing.

The document is loaded from the running development host (``GET /api/openapi.json``), exactly as a
generated client would load it. Every operation is exercised through schemathesis's examples, coverage
and fuzzing phases (schema-valid and schema-violating requests), then through the stateful phase
(sequences that follow the document's links: book, then read, cancel or move the booking), with every
built-in check: no 5xx, only documented statuses, content types and headers, responses matching their
schemas, schema-violating input refused, schema-valid input accepted, auth enforced, unknown methods
answered 405 with ``Allow``. Generation is derandomised with a fixed seed and bounded, so the run is the
same every time and takes about a minute on a 2-core machine.

Three facts of the API are configured rather than discovered, because OpenAPI cannot state them:
- ``422`` answers schema-valid requests whose fields disagree with each other or with the business's
  calendar (an ``end`` before ``start``, a time that is not an offered slot, a field the event type
  requires); docs/API.md documents them. Only the operations that have such rules accept it as an
  answer to schema-valid data (``SEMANTIC_RULES``: a new route with such rules is added there).
- Graph's webhooks need a body unless ``validationToken`` is present (the handshake): a POST with
  neither is a 400.
- Each request comes from its own caller address (``X-Forwarded-For``), so the per-address limit on
  anonymous reads (documented 429) does not end the exploration after the first sixty requests.
"""

from __future__ import annotations

import itertools
import time

import pytest
import schemathesis
from schemathesis.engine import Status, events, from_schema

SEED = 15
MAX_EXAMPLES = 6  # per operation and phase: enough for every constraint of the document to be tried
STATEFUL_STEPS = 6
# Operations with rules across fields or against the calendar: schema-valid data may get a documented 422.
SEMANTIC_RULES = ["getAvailability", "createBooking", "rescheduleBooking", "createBookingSignedIn",
                  "rescheduleBookingSignedIn", "manageAvailability", "manageReschedule", "joinWaitlist"]
# Graph's webhooks need a body unless validationToken is there (the handshake): OpenAPI cannot say "unless".
GRAPH_WEBHOOKS = ["graphNotifications", "graphLifecycle"]
POSITIVE_STATUSES = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]

_addresses = (f"198.18.{n // 250 % 250}.{n % 250 + 1}" for n in itertools.count())


def run_config(stack) -> schemathesis.Config:
    """All phases (examples, coverage, fuzzing, stateful) and all checks, derandomised and bounded."""
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "base-url": stack.host.url("").rstrip("/"),
        "auth": {"openapi": {"functionKey": {"api_key": stack.host.function_key()}}},
        "request-timeout": 30,
        "workers": 1,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {"stateful": {"max-steps": STATEFUL_STEPS}},
        "checks": {"enabled": True},
        "operations": [{
            "include-operation-id": SEMANTIC_RULES,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "422"]}},
        }, {
            "include-operation-id": GRAPH_WEBHOOKS,
            "checks": {"positive_data_acceptance": {"expected-statuses": [*POSITIVE_STATUSES, "400"]}},
        }],
    })


def load(stack):
    """The OpenAPI document as the running host serves it (as a generated client would load it)."""
    return schemathesis.openapi.from_url(stack.host.url("openapi.json"), config=run_config(stack), timeout=30)


def from_fresh_address(context, case, kwargs):
    """Azure's front end appends the caller's address to X-Forwarded-For; the app limits reads per address."""
    case.headers = {**(case.headers or {}), "X-Forwarded-For": next(_addresses)}


@pytest.fixture
def fresh_addresses():
    """Every request of the run from its own address (a before_call hook, global in schemathesis: removed after)."""
    schemathesis.hook("before_call")(from_fresh_address)
    yield
    schemathesis.hooks.unregister(from_fresh_address)


def findings(stream) -> tuple[list[str], dict[str, int]]:
    """Every failed check and engine error of a run, one readable line each, and how many scenarios each phase ran."""
    found: list[str] = []
    scenarios: dict[str, int] = {}
    ran: set[str] = set()
    for event in stream:
        if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
            phase = str(getattr(event, "phase", "fuzzing"))
            scenarios[phase] = scenarios.get(phase, 0) + 1
            for checks in event.recorder.checks.values():
                for check in checks:
                    ran.add(check.name)
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        found.append(f"[{phase}] {check.name} on {failure.operation}: {failure.title}\n"
                                     f"    {failure.message}\n    {check.failure_info.code_sample}")
        elif isinstance(event, (events.NonFatalError, events.FatalError)):
            found.append(f"error: {getattr(event, 'label', '')} {getattr(event, 'value', event)!r}")
        elif isinstance(event, events.Interrupted):
            found.append("the run was interrupted")
    print("schemathesis checks run:", ", ".join(sorted(ran)))
    return sorted(set(found)), scenarios


def test_schemathesis_finds_nothing(stack, fresh_addresses):
    started = time.monotonic()
    found, scenarios = findings(from_schema(load(stack)).execute())
    elapsed = time.monotonic() - started
    print(f"schemathesis: {scenarios} scenarios in {elapsed:.0f} s")
    assert not found, f"{len(found)} finding(s):\n" + "\n".join(found)
    assert scenarios.get("stateful", 0) > 0 and scenarios.get("fuzzing", 0) > 0, scenarios
