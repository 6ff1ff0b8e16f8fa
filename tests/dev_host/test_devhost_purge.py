"""Purging history by creation time and status, as the Durable extension on Azure Storage does it.

``DurableOrchestrationClient.purge_instance_history_by`` sends ``DELETE instances/?createdTimeFrom=..
&createdTimeTo=..&runtimeStatus=..``. The extension (``AzureTableTrackingStore.PurgeInstanceHistoryAsync``)
keeps only the terminal statuses of the filter and, when none is left, filters on time alone -- so it
purges running instances too. Retention depends on both halves of that behaviour, so the development
host must reproduce them. Each test creates its instances at an instant of its own (the host clock
travels there) so that the time window touches nothing else in the shared task hub.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as Status

from devhost_support import start

TERMINAL = [Status.Completed, Status.Failed, Status.Terminated, Status.Canceled]


@pytest.fixture
def moment(host):
    """An instant of this test's own, where the host clock stays for the test."""
    instant = datetime(2031, 1, 6, 9, 0, tzinfo=timezone.utc) + timedelta(days=len(_used))
    _used.append(instant)
    host.clock.travel_to(instant)
    yield instant
    host.clock.reset()


_used: list[datetime] = []


async def finished_and_running(host, http) -> tuple[str, str]:
    done = await start(host, http, "sequence", ["Oslo"])
    waiting = await start(host, http, "approval")
    assert (await host.wait_for_instance_async(done, 10)).runtime_status.value == "Completed"
    await host.wait_for_instance_async(waiting, 10, until=lambda s: s.custom_status == "waiting")
    return done, waiting


async def exists(host, instance_id: str) -> bool:
    return bool(await host.with_client(lambda client: client.get_status(instance_id)))


async def test_purge_by_time_and_terminal_status_leaves_running_and_out_of_range_instances(host, http, moment):
    done, waiting = await finished_and_running(host, http)
    earlier = await host.with_client(lambda client: client.purge_instance_history_by(
        moment - timedelta(days=2), moment - timedelta(days=1), TERMINAL))
    assert earlier.instances_deleted == 0  # the extension's 404: nothing in that window

    purged = await host.with_client(lambda client: client.purge_instance_history_by(
        moment - timedelta(minutes=1), moment + timedelta(minutes=10), TERMINAL))

    assert purged.instances_deleted == 1
    assert not await exists(host, done)
    assert await exists(host, waiting)
    await host.with_client(lambda client: client.raise_event(waiting, "approval", "yes"))
    assert (await host.wait_for_instance_async(waiting, 10)).output["outcome"] == "approved"


async def test_purge_by_time_without_a_terminal_status_purges_running_instances_too(host, http, moment):
    done, waiting = await finished_and_running(host, http)
    # Running alone is no filter at all on Azure Storage: this is the mistake a retention job must not make.
    purged = await host.with_client(lambda client: client.purge_instance_history_by(
        moment - timedelta(minutes=1), moment + timedelta(minutes=10), [Status.Running]))
    assert purged.instances_deleted == 2
    assert not await exists(host, done) and not await exists(host, waiting)


async def test_purge_by_time_ends_at_the_host_clock_when_no_end_is_given(host, http, moment):
    done, _ = await finished_and_running(host, http)
    later = await start(host, http, "sequence", ["Lima"])
    assert (await host.wait_for_instance_async(later, 10)).runtime_status.value == "Completed"
    host.clock.travel_to(moment - timedelta(hours=1))  # "now" is before both instances were created
    nothing = await host.with_client(lambda client: client.purge_instance_history_by(
        moment - timedelta(days=1), None, TERMINAL))
    assert nothing.instances_deleted == 0
    host.clock.travel_to(moment + timedelta(minutes=30))
    purged = await host.with_client(lambda client: client.purge_instance_history_by(
        moment - timedelta(minutes=1), None, TERMINAL))
    assert purged.instances_deleted == 2
    assert not await exists(host, done) and not await exists(host, later)


async def test_purge_by_requires_a_start_of_the_window(host, http):
    reply = await http.delete(f"{host.base_url}/durabletask/instances/")
    assert reply.status_code == 400 and "createdTimeFrom" in reply.text
