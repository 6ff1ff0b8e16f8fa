"""Remembered opt-outs in Table Storage (Azurite): exact lookup, no phone numbers at rest, order-safe STOP/START."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from shared.adapters.optouts import OptOutStore, classify_keyword, row_keys

CUSTOMER = "+14155552671"
NEIGHBOUR = "+14155552672"


async def test_opt_out_is_remembered_for_exactly_that_number(opt_outs):
    assert not await opt_outs.is_opted_out(CUSTOMER)

    assert await opt_outs.record_opt_out(CUSTOMER, "twilio:send") is True
    assert await opt_outs.record_opt_out(CUSTOMER, "twilio:send") is False  # already known

    assert await opt_outs.is_opted_out(CUSTOMER)
    assert not await opt_outs.is_opted_out(NEIGHBOUR)


async def test_opted_out_state_survives_a_new_store_object(base_env, opt_outs):
    from shared.config import load_settings
    await opt_outs.record_opt_out(CUSTOMER, "acs:inbound")
    assert await OptOutStore(load_settings()).is_opted_out(CUSTOMER)


async def test_the_table_holds_no_phone_number_only_a_hash_and_a_masked_form(base_env, opt_outs):
    from shared.adapters.storage import get_table_service, table_name
    from shared.config import load_settings
    await opt_outs.record_opt_out(CUSTOMER, "twilio:send")

    settings = load_settings()
    table = get_table_service(settings).get_table_client(table_name(settings, "optouts"))
    rows = [row async for row in table.list_entities()]

    assert len(rows) == 1
    [row] = rows
    assert (row["PartitionKey"], row["RowKey"]) == row_keys(CUSTOMER)
    assert row["Masked"] == "+*********71" and row["Region"] == "US" and row["Source"] == "twilio:send"
    stored = " ".join(str(value) for value in row.values())
    assert "4155552671" not in stored and "5552671" not in stored


async def test_start_clears_and_stop_again_sets(opt_outs):
    await opt_outs.record_opt_out(CUSTOMER, "acs:inbound")
    assert await opt_outs.clear_opt_out(CUSTOMER) is True
    assert not await opt_outs.is_opted_out(CUSTOMER)
    assert await opt_outs.apply_inbound(CUSTOMER, "stop.", provider="acs") == "opt_out"
    assert await opt_outs.is_opted_out(CUSTOMER)
    assert await opt_outs.apply_inbound(CUSTOMER, "see you thursday", provider="acs") is None
    assert await opt_outs.is_opted_out(CUSTOMER)


async def test_a_late_arriving_older_stop_does_not_undo_a_newer_start(opt_outs):
    now = datetime.now(timezone.utc)
    await opt_outs.clear_opt_out(CUSTOMER, at=now)  # START at 10:00:05 processed first
    await opt_outs.record_opt_out(CUSTOMER, "twilio:inbound", at=now - timedelta(seconds=5))  # STOP of 10:00:00

    assert not await opt_outs.is_opted_out(CUSTOMER)


async def test_concurrent_stop_and_start_end_in_the_newest_state(opt_outs):
    base = datetime.now(timezone.utc)
    changes = [(i % 2 == 0, base + timedelta(milliseconds=i)) for i in range(12)]  # last one (i=11) is START
    await asyncio.gather(*[
        opt_outs.record_opt_out(CUSTOMER, "race", at=at) if stop else opt_outs.clear_opt_out(CUSTOMER, at=at)
        for stop, at in changes])

    assert not await opt_outs.is_opted_out(CUSTOMER)


async def test_unreachable_storage_fails_closed_with_a_retryable_error(monkeypatch, base_env):
    from dev.ports import free_port
    from shared.config import load_settings
    from shared.errors import ExternalServiceError
    port = free_port()
    from dev.azurite import ACCOUNT, ACCOUNT_KEY
    monkeypatch.setenv("STORAGE__CONNECTION_STRING",
                       f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                       f"TableEndpoint=http://127.0.0.1:{port}/{ACCOUNT};")  # nothing listens there
    from shared.adapters.storage import get_table_service
    settings = load_settings()
    try:
        with pytest.raises(ExternalServiceError) as caught:
            await asyncio.wait_for(OptOutStore(settings).is_opted_out(CUSTOMER), timeout=60)
    finally:
        await get_table_service(settings).close()
    assert caught.value.retryable


@pytest.mark.parametrize(("text", "expected"), [
    ("STOP", "opt_out"), (" stop ", "opt_out"), ("Stop!", "opt_out"), ("unsubscribe", "opt_out"),
    ("STOPALL", "opt_out"), ("cancel", "opt_out"), ("START", "opt_in"), ("unstop", "opt_in"), ("Yes", "opt_in"),
    ("please stop calling at night", None), ("", None), (None, None), ("stopp", None),
])
def test_keywords_are_single_words_in_any_case(text, expected):
    assert classify_keyword(text) == expected
