"""The instance store on Azurite: atomic episodes, big episodes, and refusing a second writer."""

from __future__ import annotations

import pytest

from dev.host.store import ConcurrentUpdate, InstanceStore
from devhost_support import unique_hub


def history(start: int, count: int) -> list[dict]:
    return [{"EventType": 4, "EventId": i, "IsPlayed": False, "Timestamp": "2026-01-01T00:00:00.000000Z",
             "Name": "greet", "Input": "\"x\""} for i in range(start, start + count)]


async def test_episodes_larger_than_one_transaction_commit_whole_or_not_at_all(azurite):
    store = InstanceStore(azurite.connection_string, unique_hub("store"))
    await store.open()
    try:
        state = {"instanceId": "i1", "executionId": "e1", "historyLength": 0}
        etag = await store.create("i1", state, [("m-0001", {"event": {"EventType": 0}})])
        etag = await store.commit("i1", etag, {**state, "historyLength": 250}, history(0, 250), 0, ["m-0001"], [])
        loaded = await store.load("i1")
        assert [e["EventId"] for e in loaded.history] == list(range(250))
        assert loaded.inbox == [] and loaded.etag == etag

        with pytest.raises(ConcurrentUpdate):  # a stale ETag: someone else committed in between
            await store.commit("i1", "W/\"datetime'2000-01-01T00%3A00%3A00Z'\"", {**state, "historyLength": 400},
                               history(250, 150), 250, [], [])
        after = await store.load("i1")
        assert len(after.history) == 250, "rows written ahead of a failed commit stay invisible"
    finally:
        await store.close()
