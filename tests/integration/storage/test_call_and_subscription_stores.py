"""Call state (keyed by CallSid) and Graph subscription records in real Table Storage (Azurite)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from pydantic import BaseModel

from shared.errors import ConflictError
from shared.ports import SubscriptionRecord

UTC = timezone.utc
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SID = "CA0123456789abcdef0123456789abcdef"


async def test_a_retried_webhook_sees_the_same_call_state(call_store):
    assert await call_store.get(SID) is None
    created = await call_store.create(SID, {"step": "greet", "turn": 0})

    first = await call_store.get(SID)
    retry = await call_store.get(SID)

    assert first.value == retry.value == {"step": "greet", "turn": 0}
    assert first.etag == retry.etag == created.etag
    with pytest.raises(ConflictError):
        await call_store.create(SID, {"step": "greet", "turn": 0})


async def test_call_state_saved_from_a_stale_read_is_refused(call_store):
    created = await call_store.create(SID, {"step": "greet", "turn": 0})
    advanced = await call_store.save(SID, {"step": "collect_name", "turn": 1}, created.etag)

    with pytest.raises(ConflictError):
        await call_store.save(SID, {"step": "handoff", "turn": 1}, created.etag)

    stored = await call_store.get(SID)
    assert stored.value == {"step": "collect_name", "turn": 1} and stored.etag == advanced.etag


async def test_of_overlapping_webhooks_advancing_one_call_exactly_one_wins(call_store):
    created = await call_store.create(SID, {"step": "offer", "turn": 3})
    results = await asyncio.gather(*(call_store.save(SID, {"step": "hold", "turn": 4, "by": n}, created.etag)
                                     for n in range(10)), return_exceptions=True)
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert (await call_store.get(SID)).value == winners[0].value


async def test_call_state_may_be_a_pydantic_model_and_large(call_store):
    class DialogState(BaseModel):
        step: str
        transcript: list[str]

    state = DialogState(step="confirm", transcript=["Hallo, ich möchte einen Termin 📅"] * 3000)
    await call_store.create(SID, state)
    assert DialogState.model_validate((await call_store.get(SID)).value) == state
    await call_store.delete(SID)
    await call_store.delete(SID)  # a second delete is fine
    assert await call_store.get(SID) is None


async def test_subscription_records_are_kept_per_mailbox_and_found_by_subscription_id(subscription_store):
    record = SubscriptionRecord(mailbox="Dana@Contoso.com", host_id="dana", subscription_id="sub-1",
                                expires_at=NOW + timedelta(days=3), client_state_hash="sha256:abc",
                                delta_link="https://graph.microsoft.com/v1.0/users/x/calendarView/delta?$deltatoken=t1",
                                updated_at=NOW)
    await subscription_store.upsert(record)
    await subscription_store.upsert(SubscriptionRecord(mailbox="lee@contoso.com", host_id="lee",
                                                       subscription_id="sub-2", expires_at=NOW))

    stored = await subscription_store.get("dana@contoso.com")
    assert stored.value.mailbox == "dana@contoso.com"
    assert (stored.value.subscription_id, stored.value.expires_at, stored.value.delta_link) == (
        "sub-1", NOW + timedelta(days=3), record.delta_link)
    assert (await subscription_store.find_by_subscription_id("sub-1")).value.host_id == "dana"
    assert sorted(s.value.mailbox for s in await subscription_store.list_all()) == ["dana@contoso.com",
                                                                                     "lee@contoso.com"]
    assert await subscription_store.find_by_subscription_id("sub-unknown") is None


async def test_a_replaced_subscription_id_no_longer_finds_the_mailbox(subscription_store):
    first = await subscription_store.upsert(SubscriptionRecord(mailbox="dana@contoso.com", subscription_id="sub-1",
                                                               expires_at=NOW))
    renewed = SubscriptionRecord(mailbox="dana@contoso.com", subscription_id="sub-9",
                                 expires_at=NOW + timedelta(days=3), last_resync_at=NOW)
    await subscription_store.upsert(renewed, first.etag)

    assert await subscription_store.find_by_subscription_id("sub-1") is None
    assert (await subscription_store.find_by_subscription_id("sub-9")).value.last_resync_at == NOW
    with pytest.raises(ConflictError):  # the renewal timer and the lifecycle endpoint both wrote from one read
        await subscription_store.upsert(renewed, first.etag)

    await subscription_store.delete("dana@contoso.com")
    assert await subscription_store.get("dana@contoso.com") is None
    assert await subscription_store.find_by_subscription_id("sub-9") is None
