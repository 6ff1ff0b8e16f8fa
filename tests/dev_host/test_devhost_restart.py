"""A new host on the same storage resumes unfinished orchestrations: storage is the truth."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx

from dev.host import DevHost
from devhost_sample import GATES, make_app
from devhost_support import start, unique_hub


async def test_a_restarted_host_resumes_in_flight_activities_timers_and_events(azurite):
    hub = unique_hub("restart")
    token = uuid.uuid4().hex
    first = DevHost(make_app, storage_connection_string=azurite.connection_string, task_hub=hub).start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            gated = await start(first, http, "restartable", token)
            sleeper = await start(first, http, "early_event")
            for _ in range(250):
                if GATES[token] == 1 and first.get_status(sleeper).custom_status == "sleeping":
                    break
                await asyncio.sleep(0.02)
            assert GATES[token] == 1, "the gate activity should be hanging in the first host"
            await first.with_client(lambda client: client.raise_event(sleeper, "go", "before the restart"))
    finally:
        first.stop()  # the gate activity is cut off mid-flight; its instance stays Running in storage

    second = DevHost(make_app, storage_connection_string=azurite.connection_string, task_hub=hub).start()
    try:
        for _ in range(250):
            if GATES[token] == 2 and _completed_results(second, gated)[-1:] == [json.dumps("gate passed on attempt 2")]:
                break
            await asyncio.sleep(0.02)
        assert second.get_status(gated).runtime_status.value == "Running"
        await second.with_client(lambda client: client.raise_event(gated, "resume", "carry on"))
        status = await second.wait_for_instance_async(gated, timeout=10)
        assert status.output == ["Hello first step", "gate passed on attempt 2", json.dumps("carry on")]
        assert GATES[token] == 2, "the interrupted activity ran again, at least once as Durable promises"

        second.clock.advance(timedelta(hours=3))  # the timer armed by the first host fires in the second
        resumed = await second.wait_for_instance_async(sleeper, timeout=10)
        assert json.loads(resumed.output) == "before the restart"
    finally:
        second.stop()


def _completed_results(host: DevHost, instance_id: str) -> list[str]:
    events = host.get_status(instance_id, show_history=True, show_history_output=True).historyEvents
    return [e["Result"] for e in events if e["EventType"] == "TaskCompleted"]
