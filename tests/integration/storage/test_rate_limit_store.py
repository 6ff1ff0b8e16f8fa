"""Shared rate limits on Azurite: two limiters (two instances' memories) on one table hand out no more
tokens together than one bucket holds, answer refusals with the time to the next token, and remember a
refusal exactly as long as it holds."""

from __future__ import annotations

import asyncio

import pytest

from shared.adapters.store_ratelimits import Limit, SharedRateLimiter, TableTokenBuckets, row_keys


@pytest.fixture
def instances(storage_settings):
    """Two limiters as two app instances would hold them: each its own memory and store object."""
    def make(limit: Limit) -> list[SharedRateLimiter]:
        stores = [TableTokenBuckets(storage_settings), TableTokenBuckets(storage_settings)]
        return [SharedRateLimiter(limit, lambda store=store: store) for store in stores]
    return make


async def test_two_instances_together_grant_one_burst_and_no_more(instances):
    limit = Limit("test-burst", rate=0.001, burst=12)  # no refill within the test
    first, second = instances(limit)

    answers = await asyncio.gather(*(limiter.check("192.0.2.10") for _ in range(20) for limiter in (first, second)))

    assert answers.count(0.0) == 12
    assert all(wait > 0 for wait in answers if wait)
    assert (await first.check("192.0.2.11")) == 0.0  # another address has its own bucket


async def test_a_refusal_says_when_the_next_token_comes_and_then_it_does(instances):
    from shared import clock
    limit = Limit("test-refill", rate=4.0, burst=2)
    [limiter, _] = instances(limit)
    assert [await limiter.check("192.0.2.20") for _ in range(2)] == [0.0, 0.0]

    wait = await limiter.check("192.0.2.20")

    assert 0 < wait <= 1 / limit.rate
    started = clock.now()
    while (clock.now() - started).total_seconds() < wait:  # a client honouring Retry-After
        await asyncio.sleep(0.02)
    assert await limiter.check("192.0.2.20") == 0.0


async def test_a_remembered_refusal_holds_even_if_the_row_were_lost(instances, storage_settings):
    from shared.adapters.store_tables import get_table
    limit = Limit("test-remember", rate=0.01, burst=1)
    [limiter, other] = instances(limit)
    assert await limiter.check("192.0.2.30") == 0.0
    assert await limiter.check("192.0.2.30") > 0
    table = await get_table(storage_settings, "ratelimits")
    await table.delete_entity(*row_keys(limit, "192.0.2.30"))  # the row is gone: a new bucket would be full

    assert await limiter.check("192.0.2.30") > 0  # answered from memory until the next token is due
    assert await other.check("192.0.2.30") == 0.0  # (the other instance asks the table and sees a new bucket)


async def test_rows_keep_no_address(instances, storage_settings):
    from shared.adapters.store_tables import get_table
    [limiter, _] = instances(Limit("test-private", rate=1, burst=5))
    await limiter.check("192.0.2.40")
    table = await get_table(storage_settings, "ratelimits")
    rows = [row async for row in table.list_entities()]
    assert rows and not any("192.0.2.40" in str(value) for row in rows for value in (*row.keys(), *row.values()))
