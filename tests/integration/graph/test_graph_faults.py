"""Throttling, server errors and refusals: retried within bounds, then mapped to Frontdesk's errors."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from shared.errors import ConflictError, ForbiddenError, NotFoundError, PermanentError, ThrottledError, TransientError
from shared.ports import EventDraft

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
START = datetime(2026, 9, 1, 15, tzinfo=UTC)
WINDOW = (START, START + timedelta(days=7))


def draft(**changes) -> EventDraft:
    return EventDraft(**{"subject": "Hold", "start": START, "end": START + timedelta(hours=1),
                         "show_as": "tentative", "transaction_id": "tx-1", **changes})


async def test_429_waits_the_retry_after_graph_asks_for_then_succeeds(dana, graph, adapter):
    graph.add_fault(status=429, operation="getSchedule", retry_after=1)

    started = time.perf_counter()
    busy = await adapter.get_busy([MAILBOX], *WINDOW)
    waited = time.perf_counter() - started

    assert busy == {MAILBOX: []}
    assert [r["status"] for r in graph.requests("getSchedule")] == [429, 200]
    assert graph.requests("getSchedule")[1]["headers"]["Retry-Attempt"] == "1"
    assert 1.0 <= waited < 3.0


async def test_a_retry_after_beyond_the_cap_raises_throttled_at_once(dana, graph, make_adapter):
    adapter = make_adapter({"max_retry_after_seconds": 2})
    graph.add_fault(status=429, operation="getSchedule", retry_after=30, count=-1)

    started = time.perf_counter()
    with pytest.raises(ThrottledError) as caught:
        await adapter.get_busy([MAILBOX], *WINDOW)

    assert time.perf_counter() - started < 1.0
    assert caught.value.retry_after == 30
    assert caught.value.retryable
    assert caught.value.code == "ApplicationThrottled"
    assert caught.value.request_id == graph.requests("getSchedule")[-1]["requestId"]
    assert len(graph.requests("getSchedule")) == 1


async def test_waiting_stops_when_the_total_would_pass_the_cap(dana, graph, make_adapter):
    adapter = make_adapter({"max_retry_after_seconds": 1.5})
    graph.add_fault(status=429, operation="getSchedule", retry_after=1, count=-1)

    with pytest.raises(ThrottledError):
        await adapter.get_busy([MAILBOX], *WINDOW)

    assert len(graph.requests("getSchedule")) == 2  # waited 1 s once; a second 1 s would pass 1.5 s


async def test_500s_are_retried_then_the_call_succeeds(dana, graph, adapter):
    graph.add_fault(status=500, operation="events.create", count=2)

    created = await adapter.create_event(MAILBOX, draft())

    assert [r["status"] for r in graph.requests("events.create")] == [500, 500, 201]
    assert len(graph.events(MAILBOX)) == 1
    assert created.id == graph.events(MAILBOX)[0]["id"]


async def test_a_lost_answer_retried_with_the_transaction_id_creates_one_event(dana, graph, adapter):
    # The first POST is processed but its answer is lost (a 504 from a gateway, say): the retry
    # carries the same transactionId, so Graph answers with the event it already made.
    created = await adapter.create_event(MAILBOX, draft())
    graph.add_fault(status=504, operation="events.create", count=1)

    again = await adapter.create_event(MAILBOX, draft())

    assert again.id == created.id
    assert len(graph.events(MAILBOX)) == 1


async def test_5xx_that_never_ends_is_transient_after_a_bounded_number_of_tries(dana, graph, adapter):
    graph.add_fault(status=503, operation="calendarView", count=-1)

    with pytest.raises(TransientError) as caught:
        await adapter.list_events(MAILBOX, *WINDOW)

    assert caught.value.retryable and caught.value.status == 503
    assert len(graph.requests("calendarView")) == 4  # the first try and three retries


async def test_forbidden_not_found_conflict_and_bad_request_are_mapped(dana, graph, adapter):
    graph.add_fault(status=403, operation="sendMail")
    graph.add_fault(status=404, operation="subscriptions.update")
    graph.add_fault(status=412, operation="events.update")

    from shared.ports import MailMessage
    with pytest.raises(ForbiddenError) as forbidden:
        await adapter.send_mail(MAILBOX, MailMessage(to=("owner@contoso.com",), subject="s", body_html="b"))
    assert forbidden.value.code == "ErrorAccessDenied" and not forbidden.value.retryable
    with pytest.raises(NotFoundError):
        await adapter.renew_subscription("gone", datetime.now(UTC) + timedelta(days=1))
    with pytest.raises(ConflictError):
        await adapter.update_event(MAILBOX, "AAMkAD-any", draft())
    graph.add_fault(status=400, operation="events.create", code="ErrorInvalidRequest")
    with pytest.raises(PermanentError) as bad:
        await adapter.create_event(MAILBOX, draft())
    assert (bad.value.status, bad.value.code, bad.value.retryable) == (400, "ErrorInvalidRequest", False)
    assert len(graph.requests("events.create")) == 1  # a 400 is not retried
    assert all(r["headers"].get("client-request-id") for r in graph.requests())


async def test_a_slow_graph_times_out_as_a_transient_error(dana, graph, make_adapter):
    adapter = make_adapter({"timeout_seconds": 0.3})
    graph.add_fault(latency_ms=1000, operation="events.get")

    with pytest.raises(TransientError) as caught:
        await adapter.get_event(MAILBOX, "AAMkAD-any")
    assert caught.value.code == "Timeout"


async def test_a_rejected_token_is_forbidden(dana, graph, adapter):
    graph.configure(token="the-only-good-token")

    with pytest.raises(ForbiddenError) as caught:
        await adapter.get_event(MAILBOX, "AAMkAD-any")

    assert caught.value.status == 401 and caught.value.code == "InvalidAuthenticationToken"


async def test_a_mailbox_missing_from_the_tenant_does_not_hide_the_rest_of_the_pool(dana, graph, adapter):
    graph.add_event(MAILBOX, {"subject": "Job", "start": {"dateTime": "2026-09-01T15:00:00", "timeZone": "UTC"},
                              "end": {"dateTime": "2026-09-01T16:00:00", "timeZone": "UTC"}})

    busy = await adapter.get_busy(["typo@contoso.com", MAILBOX], *WINDOW)

    assert [(b.start, b.show_as) for b in busy[MAILBOX]] == [(START, "busy")]
    assert [(b.start, b.end) for b in busy["typo@contoso.com"]] == [WINDOW]
    assert [r["status"] for r in graph.requests("getSchedule")] == [404, 200]
