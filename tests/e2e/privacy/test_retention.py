"""The hourly retention purge on the local stack: what is due goes, what is not stays, a run stops at its budget.

Covered: claims, calls, Idempotency-Key records, bookings with their sagas' history, other finished
orchestrations, SMS outbox intents, inbound SMS records, shared rate-limit buckets and the waitlist.

The app's clock (the development host's) moves forward to when records fall due, and the real timer function
(``purge_expired_records``) runs as the Functions host would run it. Rows are read back from Azurite.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from datetime import datetime, timedelta, timezone

from privacy_support import book as book_through_api, next_local

UTC = timezone.utc
PHONE = "+13125550171"


def rows(stack, table: str, query: str | None = None) -> list[dict]:
    from azure.data.tables import TableServiceClient
    with TableServiceClient.from_connection_string(stack.azurite.connection_string) as service:
        client = service.get_table_client(f"{stack.table_prefix}{table}")
        found = client.query_entities(query) if query else client.list_entities()
        try:
            return [dict(row) for row in found]
        except Exception as exc:  # a table not created yet holds nothing
            if "TableNotFound" in str(exc):
                return []
            raise


async def purge(stack) -> dict:
    """Run the timer function once; the ``retention.run`` event it recorded."""
    handler = _Capture()
    logger = logging.getLogger("frontdesk")
    logger.addHandler(handler)
    try:
        await asyncio.to_thread(stack.host.invoke, "purge_expired_records", 120)
    finally:
        logger.removeHandler(handler)
    [event] = [vars(record) for record in handler.records if getattr(record, "event", None) == "retention.run"]
    return event


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def book(api, now: datetime) -> dict:
    slots = (await api.get("availability", params={
        "eventType": "plumbing-repair", "start": (now + timedelta(days=2)).isoformat(),
        "end": (now + timedelta(days=7)).isoformat()})).json()["slots"]
    body = {"eventType": "plumbing-repair", "start": slots[0]["start"], "timeZone": "America/Chicago",
            "customer": {"name": "Rowan Tiller", "phone": PHONE, "email": "rowan.tiller@example.org",
                         "address": "12 Elm Court, Chicago, IL", "postalCode": "60614"}}
    return await book_through_api(api, body, secrets.token_hex(8))


async def test_the_hourly_purge_deletes_each_record_when_it_falls_due_and_keeps_opt_outs(clean_stack, api, phone):
    from dev.phone import CallScript, place_call
    from shared.services.container import get_services
    stack = clean_stack
    now = stack.host.clock.travel_to(next_local("tue", "09:00"))
    booking = await book(api, now)
    assert (await stack.host.wait_for_instance_async(booking["id"], 30)).runtime_status.value == "Completed"
    call = await place_call(phone, CallScript(["hello", "my name is rowan tiller"], caller=PHONE))
    await get_services().opt_outs.record_opt_out(PHONE, "test:STOP")
    claims, index = rows(stack, "claims"), rows(stack, "privacyindex")
    assert claims and len(index) >= 3  # the booking's phone and e-mail, the call's caller id

    # Nothing is due yet.
    nothing = await purge(stack)
    assert nothing["outcome"] == "complete" and not [key for key in nothing if key.startswith("deleted_")]
    assert rows(stack, "calls") and rows(stack, "claims") == claims

    # 40 days on: the call (30 days), the claims (a day after their time) and the idempotency key (30 days) go.
    stack.host.clock.travel_to(now + timedelta(days=40))
    month = await purge(stack)
    assert month["outcome"] == "complete"
    assert month["deleted_calls"] == 1 and month["deleted_claims"] == len(claims) and month["deleted_idempotency"] == 1
    assert rows(stack, "calls") == [] and rows(stack, "claims") == []
    assert not [row for row in rows(stack, "bookingindex") if row["PartitionKey"].startswith("idem:")]
    assert (await get_services().bookings.get(booking["id"])) is not None  # a year after the appointment
    assert stack.host.get_status(booking["id"])

    # Two years on: the booking, its index rows and its saga's history go; so does every other finished
    # orchestration's history. The opt-out stays.
    stack.host.clock.travel_to(now + timedelta(days=730))
    years = await purge(stack)
    assert years["outcome"] == "complete" and years["deleted_bookings"] == 1 and years["deleted_instances"] >= 1
    assert (await get_services().bookings.get(booking["id"])) is None
    assert not stack.host.get_status(booking["id"])
    from shared.services.reminders import reminder_instance_id
    assert not stack.host.get_status(reminder_instance_id(booking["id"]))  # its reminders went with it
    assert rows(stack, "bookingindex") == [] and rows(stack, "privacyindex") == []
    finished = await stack.host.with_client(lambda client: client.get_status_all())
    assert [s.instance_id for s in finished if s.runtime_status.value in ("Completed", "Failed", "Terminated")] == []
    assert await get_services().opt_outs.is_opted_out(PHONE)
    assert call.sid  # the call happened; its state went a month in


async def test_a_run_stops_at_its_budget_and_the_next_run_continues(clean_stack):
    from shared.config import get_settings
    from shared.services.container import Services
    from shared.services.retention import Retention
    stack = clean_stack
    settings = get_settings()
    small = settings.model_copy(update={"retention": settings.retention.model_copy(update={"max_rows_per_run": 100})})
    services = Services(small)
    # 250 granules held long ago on one host: three runs' worth at 100 rows a run.
    start = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
    granules = [start + timedelta(minutes=5 * n) for n in range(250)]
    outcome = await services.claims.claim("dana", granules, "bk_old", "booking", now=start)
    assert outcome.won and len(rows(stack, "claims")) == 250

    reports = [await stack.host.with_client(lambda client: Retention(services, client).run()) for _ in range(3)]

    assert [r.deleted.get("claims") for r in reports] == [100, 100, 50]
    assert [r.outcome for r in reports] == ["partial", "partial", "complete"]
    assert reports[0].unfinished[0] == "claims"
    assert rows(stack, "claims") == []


async def test_texts_records_rate_limit_buckets_and_the_waitlist_go_when_due(clean_stack, api):
    stack = clean_stack
    now = stack.host.clock.travel_to(next_local("tue", "09:00"))
    booking = await book(api, now)  # an API request (a rate-limit bucket) and a confirmation text (an SMS intent)
    assert (await stack.host.wait_for_instance_async(booking["id"], 30)).runtime_status.value == "Completed"
    [question] = stack.twilio.text(PHONE, "C")["replies"]  # an inbound claim and a pending confirmation
    assert question.startswith("Reply C again")
    joined = await api.post("waitlist", json={
        "eventType": "plumbing-repair", "windowStart": (now + timedelta(days=1)).isoformat(),
        "windowEnd": (now + timedelta(days=4)).isoformat(), "timeZone": "America/Chicago",
        "customer": {"name": "Rowan Tiller", "phone": PHONE, "address": "12 Elm Court, Chicago, IL",
                     "postalCode": "60614"}})
    assert joined.status_code == 201, joined.text
    keys = lambda table: {(row["PartitionKey"], row["RowKey"]) for row in rows(stack, table)}  # noqa: E731
    intents, inbound, buckets, waitlist = keys("smsintents"), keys("smsinbound"), keys("ratelimits"), keys("waitlist")
    assert intents and inbound and buckets and len(waitlist) >= 4  # the entry has a row per date of its window
    assert {pk for pk, _ in inbound} >= {"confirm"} and {pk for pk, _ in intents} >= {"message"}

    # A day and a half on: the idle rate-limit buckets go (a day); texts' records (two days) and the entry stay.
    stack.host.clock.travel_to(now + timedelta(hours=36))
    first = await purge(stack)
    assert first["outcome"] == "complete" and first["deleted_ratelimits"] == len(buckets)
    assert keys("ratelimits") == set()
    assert intents <= keys("smsintents") and inbound <= keys("smsinbound") and keys("waitlist") == waitlist
    assert "deleted_sms_intents" not in first and "deleted_waitlist" not in first

    # Five days on: the SMS intents and inbound records (two days) and the expired entry (its window ended) go.
    stack.host.clock.travel_to(now + timedelta(days=5))
    later = await purge(stack)
    assert later["outcome"] == "complete"
    assert later["deleted_sms_intents"] >= len(intents) and not intents & keys("smsintents")
    assert later["deleted_sms_inbound"] >= len(inbound) and not inbound & keys("smsinbound")
    assert later["deleted_waitlist"] == len(waitlist) and keys("waitlist") == set()


async def test_idle_rate_limit_buckets_are_purged_within_the_budget_over_several_runs(clean_stack):
    from shared.adapters.store_ratelimits import Limit, TableTokenBuckets
    from shared.config import get_settings
    from shared.services.container import Services
    from shared.services.retention import Retention
    stack = clean_stack
    settings = get_settings()
    small = settings.model_copy(update={"retention": settings.retention.model_copy(update={"max_rows_per_run": 100})})
    services = Services(small)
    buckets = TableTokenBuckets(small)
    long_ago = (stack.host.clock.now() - timedelta(days=3)).timestamp()
    limit = Limit("bookings", 5.0, 10)
    await asyncio.gather(*(buckets.take(limit, f"198.51.100.{n}", long_ago) for n in range(150)))
    await buckets.take(limit, "203.0.113.9", stack.host.clock.now().timestamp())  # in use: stays
    assert len(rows(stack, "ratelimits")) == 151

    reports = [await stack.host.with_client(lambda client: Retention(services, client).run()) for _ in range(2)]

    assert [r.deleted.get("ratelimits") for r in reports] == [100, 50]
    assert [r.outcome for r in reports] == ["partial", "complete"] and "ratelimits" in reports[0].unfinished
    assert len(rows(stack, "ratelimits")) == 1


async def test_a_lapsed_phone_self_service_lock_goes_a_day_later(clean_stack):
    from shared.adapters.store_selfservice import SelfServiceLocks
    from shared.services.container import get_services
    stack = clean_stack
    now = stack.host.clock.travel_to(next_local("tue", "09:00"))
    locks = SelfServiceLocks(get_services().settings)
    await locks.lock("bk_locked_one", now, "three wrong ZIP codes")
    assert len(rows(stack, "selfservicelocks")) == 1

    stack.host.clock.travel_to(now + timedelta(hours=12))  # lapsed (an hour), but not yet a day ago
    assert "deleted_selfservice_locks" not in await purge(stack)
    assert len(rows(stack, "selfservicelocks")) == 1
    stack.host.clock.travel_to(now + timedelta(days=2))
    assert (await purge(stack))["deleted_selfservice_locks"] == 1
    assert rows(stack, "selfservicelocks") == []
