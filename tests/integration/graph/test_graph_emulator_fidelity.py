"""The wire, both ways: what msgraph-sdk really sends, and what the emulator answers where Graph would.

These pin the details the adapter and the notification endpoint rely on, so a change in the SDK or
the emulator that breaks them shows up here first.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import httpx

from shared.ports import EventDraft, MailMessage

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
START = datetime(2026, 8, 3, 16, tzinfo=UTC)


def client(graph, token: str | None = "t", **headers) -> httpx.Client:
    auth = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=graph.graph_url, headers={**auth, **headers}, timeout=10)


def job(day: int, hour: int = 9) -> dict:
    return {"subject": "Job", "start": {"dateTime": f"2026-08-{day:02d}T{hour:02d}:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2026-08-{day:02d}T{hour + 1:02d}:00:00", "timeZone": "UTC"}}


# ---------------------------------------------------------------------- the emulator itself

def test_the_emulator_starts_in_well_under_a_second():
    from dev.emulators.graph import start_graph_emulator

    started = time.perf_counter()
    emulator = start_graph_emulator()
    try:
        emulator.add_user("x@contoso.com")
        elapsed = time.perf_counter() - started
    finally:
        emulator.stop()
    assert elapsed < 0.5


# ---------------------------------------------------------------------- what the SDK sends

async def test_event_writes_are_camel_case_json_with_bearer_token_and_utc_preference(dana, graph, adapter):
    await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=START, end=START + timedelta(hours=1),
                                                   time_zone="America/Denver", show_as="tentative",
                                                   transaction_id="tx-1", booking_id="b-1", online_meeting=True))

    [call] = graph.requests("events.create")
    assert call["path"] == f"/v1.0/users/{MAILBOX}/events"
    assert call["authorization"] == "Bearer"
    assert call["headers"]["Prefer"] == 'outlook.timezone="UTC"'
    assert call["headers"]["Content-Type"] == "application/json"
    body = call["body"]
    assert body["start"] == {"dateTime": "2026-08-03T10:00:00", "timeZone": "Mountain Standard Time"}
    assert (body["showAs"], body["transactionId"], body["isOnlineMeeting"], body["onlineMeetingProvider"]) == \
        ("tentative", "tx-1", True, "teamsForBusiness")
    assert body["singleValueExtendedProperties"] == [
        {"id": "String {5f0c2b8e-7d4a-4e61-9c3b-f1a2d6e8b047} Name FrontdeskBookingId", "value": "b-1"}]


async def test_get_schedule_parameters_go_pascal_case_and_graph_matches_them_case_insensitively(dana, graph, adapter):
    await adapter.get_busy([MAILBOX], START, START + timedelta(days=1))

    [call] = graph.requests("getSchedule")
    assert call["path"] == f"/v1.0/users/{MAILBOX}/calendar/getSchedule"
    assert set(call["body"]) == {"Schedules", "StartTime", "EndTime", "AvailabilityViewInterval"}
    assert call["body"]["StartTime"] == {"dateTime": "2026-08-03T16:00:00", "timeZone": "UTC"}
    camel = client(graph).post(f"/users/{MAILBOX}/calendar/getSchedule", json={
        "schedules": [MAILBOX], "startTime": call["body"]["StartTime"], "endTime": call["body"]["EndTime"]})
    assert camel.status_code == 200 and camel.json()["value"][0]["scheduleId"] == MAILBOX


async def test_reads_expand_the_booking_property_and_delta_calls_the_odata_function(dana, graph, adapter):
    created = await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=START, end=START, booking_id="b"))
    await adapter.get_event(MAILBOX, created.id)
    await adapter.delta(MAILBOX, START, START + timedelta(days=1))
    await adapter.send_mail(MAILBOX, MailMessage(to=("o@contoso.com",), subject="s", body_html="b"))

    get = graph.requests("events.get")[0]
    assert get["path"] == f"/v1.0/users/{MAILBOX}/events/{created.id}"
    assert "$expand=singleValueExtendedProperties($filter" in get["query"]
    delta = graph.requests("calendarView.delta")[0]
    assert delta["path"] == f"/v1.0/users/{MAILBOX}/calendarView/delta()"
    assert "startDateTime=2026-08-03T16:00:00Z" in delta["query"]
    mail = graph.requests("sendMail")[0]["body"]
    assert set(mail) == {"Message", "SaveToSentItems"}
    assert mail["Message"]["toRecipients"] == [{"emailAddress": {"address": "o@contoso.com"}}]


async def test_every_request_carries_a_client_request_id_that_graph_echoes(dana, graph, adapter):
    await adapter.list_events(MAILBOX, START, START + timedelta(days=1))
    sent = graph.requests("calendarView")[0]["headers"]["client-request-id"]
    assert len(sent) == 36
    answer = client(graph, **{"client-request-id": sent}).get(f"/users/{MAILBOX}")
    assert answer.headers["client-request-id"] == sent and answer.headers["request-id"]


# ---------------------------------------------------------------------- what Graph answers

def test_no_token_is_401_with_an_odata_error_body(dana, graph):
    answer = client(graph, token=None).get(f"/users/{MAILBOX}/events")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    error = answer.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["innerError"]["request-id"] == answer.headers["request-id"]
    assert graph.requests()[-1]["status"] == 401


def test_snake_case_or_unknown_properties_are_refused_like_graphs_odata_reader(dana, graph):
    answer = client(graph).post(f"/users/{MAILBOX}/events", json={**job(3), "show_as": "busy"})

    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "RequestBodyRead"
    assert "show_as" in answer.json()["error"]["message"]


def test_success_answers_are_odata_json(dana, graph):
    answer = client(graph).get(f"/users/{MAILBOX}/events")
    assert answer.headers["Content-Type"].startswith("application/json;odata.metadata=minimal")
    assert answer.headers["OData-Version"] == "4.0"
    assert answer.json()["@odata.context"].endswith("/v1.0/$metadata#users('%s')/events" % dana["id"])


def test_calendar_view_needs_its_window(dana, graph):
    answer = client(graph).get(f"/users/{MAILBOX}/calendarView")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "ErrorInvalidParameter")


def test_paging_honours_prefer_maxpagesize_and_next_links_are_absolute(dana, graph):
    for day in range(1, 8):
        graph.add_event(MAILBOX, job(day))
    http = client(graph, Prefer="odata.maxpagesize=3")

    first = http.get(f"/users/{MAILBOX}/calendarView",
                     params={"startdatetime": "2026-08-01T00:00:00", "enddatetime": "2026-08-31T00:00:00"})
    pages = [first.json()]
    while "@odata.nextLink" in pages[-1]:
        assert pages[-1]["@odata.nextLink"].startswith(graph.graph_url + "/")
        pages.append(http.get(pages[-1]["@odata.nextLink"]).json())

    assert first.headers["Preference-Applied"] == "odata.maxpagesize=3"
    assert [len(p["value"]) for p in pages] == [3, 3, 1]


def test_outlook_timezone_preference_shapes_every_time_in_the_answer(dana, graph):
    made = graph.add_event(MAILBOX, job(3, 16))
    answer = client(graph, Prefer='outlook.timezone="Eastern Standard Time"').get(f"/users/{MAILBOX}/events/{made['id']}")

    assert answer.headers["Preference-Applied"] == 'outlook.timezone="Eastern Standard Time"'
    assert answer.json()["start"] == {"dateTime": "2026-08-03T12:00:00.0000000", "timeZone": "Eastern Standard Time"}
    assert client(graph).get(f"/users/{MAILBOX}/events/{made['id']}").json()["start"]["timeZone"] == "UTC"


def test_get_schedule_limits_are_graphs(dana, graph):
    http = client(graph)
    window = {"startTime": {"dateTime": "2026-01-01T00:00:00", "timeZone": "UTC"}}

    too_long = http.post(f"/users/{MAILBOX}/calendar/getSchedule", json={
        **window, "schedules": [MAILBOX], "endTime": {"dateTime": "2026-03-05T00:00:00", "timeZone": "UTC"}})
    too_many = http.post(f"/users/{MAILBOX}/calendar/getSchedule", json={
        **window, "schedules": [f"u{n}@contoso.com" for n in range(21)],
        "endTime": {"dateTime": "2026-01-02T00:00:00", "timeZone": "UTC"}})

    assert (too_long.status_code, too_long.json()["error"]["code"]) == (400, "ErrorTimeIntervalTooBig")
    assert "The allowed limit = 62 days" in too_long.json()["error"]["message"]
    assert too_many.status_code == 400


def test_an_expired_or_forged_delta_token_means_start_over(dana, graph):
    answer = client(graph).get(f"/users/{MAILBOX}/calendarView/delta", params={"$deltatoken": "forged"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (410, "SyncStateNotFound")


def test_a_stale_etag_is_a_412(dana, graph):
    made = graph.add_event(MAILBOX, job(4))
    graph.edit_event(MAILBOX, made["id"], {"subject": "Changed in Outlook"})

    answer = client(graph, **{"If-Match": made["@odata.etag"]}).patch(f"/users/{MAILBOX}/events/{made['id']}",
                                                                       json={"subject": "Frontdesk's version"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (412, "ErrorIrresolvableConflict")


def test_transaction_id_cannot_be_changed_after_creation(dana, graph):
    made = client(graph).post(f"/users/{MAILBOX}/events", json={**job(4), "transactionId": "a"}).json()
    answer = client(graph).patch(f"/users/{MAILBOX}/events/{made['id']}", json={"transactionId": "b"})
    assert answer.status_code == 400


def test_injected_throttling_looks_like_outlooks(dana, graph):
    graph.add_fault(status=429, operation="events.list", retry_after=7)

    answer = client(graph).get(f"/users/{MAILBOX}/events")

    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["error"]["code"] == "ApplicationThrottled"
    assert client(graph).get(f"/users/{MAILBOX}/events").status_code == 200  # count=1: only the next one


async def test_more_than_four_concurrent_requests_on_one_mailbox_are_throttled(dana, graph):
    graph.add_fault(latency_ms=300, operation="events.list", count=-1)
    async with httpx.AsyncClient(base_url=graph.graph_url, headers={"Authorization": "Bearer t"}) as http:
        answers = await asyncio.gather(*(http.get(f"/users/{MAILBOX}/events") for _ in range(5)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 200, 200, 200, 429]
    assert [a for a in answers if a.status_code == 429][0].json()["error"]["message"] == \
        "Application is over its MailboxConcurrency limit."


def test_an_unknown_segment_is_a_bad_request(dana, graph):
    answer = client(graph).get(f"/users/{MAILBOX}/calendarz")
    assert (answer.status_code, answer.json()["error"]["code"]) == (400, "BadRequest")


async def test_the_validation_token_is_url_encoded_and_notifications_are_json(dana, graph, adapter, receiver):
    await adapter.create_subscription(MAILBOX, receiver.notification_url, receiver.lifecycle_url, "cs",
                                      datetime.now(UTC) + timedelta(days=1))
    graph.add_event(MAILBOX, job(5))
    await receiver.wait_for("notifications", 1)

    raw = receiver.raw_validation_queries[0]
    assert raw.lower().startswith("validationtoken=validation%3a+testing+client+application+reachability")
    assert receiver.content_types[0].startswith("text/plain")
    assert receiver.content_types[-1].startswith("application/json")


def test_an_occurrence_can_be_read_and_cancelled_on_its_own(dana, graph):
    graph.add_event(MAILBOX, {**job(3), "recurrence": {
        "pattern": {"type": "daily", "interval": 1}, "range": {"type": "numbered", "startDate": "2026-08-03",
                                                               "numberOfOccurrences": 3}}})
    http = client(graph)
    view = {"startDateTime": "2026-08-01T00:00:00Z", "endDateTime": "2026-08-31T00:00:00Z"}
    occurrences = http.get(f"/users/{MAILBOX}/calendarView", params=view).json()["value"]
    middle = occurrences[1]

    assert [o["type"] for o in occurrences] == ["occurrence"] * 3
    assert http.get(f"/users/{MAILBOX}/events/{middle['id']}").json()["start"]["dateTime"].startswith("2026-08-04")
    assert http.delete(f"/users/{MAILBOX}/events/{middle['id']}").status_code == 204
    remaining = http.get(f"/users/{MAILBOX}/calendarView", params=view).json()["value"]
    assert [o["start"]["dateTime"][:10] for o in remaining] == ["2026-08-03", "2026-08-05"]
    assert http.get(f"/users/{MAILBOX}/events/{middle['id']}").status_code == 404


def test_a_refused_patch_changes_nothing(dana, graph):
    made = graph.add_event(MAILBOX, job(6))
    http = client(graph)

    answer = http.patch(f"/users/{MAILBOX}/events/{made['id']}", json={
        "subject": "New subject", "end": {"dateTime": "2026-08-01T00:00:00", "timeZone": "UTC"}})

    assert answer.status_code == 400
    assert http.get(f"/users/{MAILBOX}/events/{made['id']}").json()["subject"] == "Job"
