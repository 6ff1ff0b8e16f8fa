"""Durable Functions on the development host, step by step, through the real azure-functions-durable SDK.

Orchestrations are started through the sample app's HTTP starter (the durable client binding) or
``host.with_client`` (a ``DurableOrchestrationClient`` on the host's RPC API), and observed with
``get_status``, exactly as production code would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from datetime import datetime, timedelta

import pytest

from devhost_sample import ATTEMPTS
from devhost_support import start


def token() -> str:
    return uuid.uuid4().hex


def history_of(host, instance_id: str) -> list[dict]:
    return host.get_status(instance_id, show_history=True, show_history_output=True).historyEvents


def kinds(events: list[dict]) -> list[str]:
    return [e["EventType"] for e in events]


async def finished(host, instance_id: str, timeout: float = 10.0):
    return await host.wait_for_instance_async(instance_id, timeout)


# ------------------------------------------------------------------ activities


async def test_activity_sequence(host, http):
    instance_id = await start(host, http, "sequence", ["Tokyo", "Seattle", "London"])
    status = await finished(host, instance_id)
    assert status.runtime_status.value == "Completed"
    assert status.output == ["Hello Tokyo", "Hello Seattle", "Hello London"]
    completed = [e for e in history_of(host, instance_id) if e["EventType"] == "TaskCompleted"]
    assert [json.loads(e["Result"]) for e in completed] == status.output
    assert all(e["FunctionName"] == "greet" for e in completed)


async def test_fan_out_runs_activities_concurrently(host, http):
    instance_id = await start(host, http, "fan_out", 6)
    status = await finished(host, instance_id)
    assert status.output["squares"] == [0, 1, 4, 9, 16, 25]
    # Counted by the activities themselves, so a busy machine can't make this pass or fail by timing.
    assert status.output["peak"] >= 3, "activities of one task_all must overlap"


async def test_a_blocking_activity_does_not_block_the_host(host, http):
    instance_id = await start(host, http, "sleepy", 3.0)
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "napping")
    replies = [await http.get(host.url("hello")) for _ in range(5)]
    status = await http.get(host.url(f"status/{instance_id}"))
    # Answered while the blocking activity still runs: a blocked host would only answer once it finished.
    assert all(r.status_code == 200 for r in replies) and status.json()["runtimeStatus"] == "Running"
    assert (await finished(host, instance_id)).output == "rested"


async def test_activity_failing_twice_then_succeeding_under_retry_options(host, http):
    spec = {"token": token(), "failures": 2, "first_ms": 50, "attempts": 3}
    instance_id = await start(host, http, "retried", spec)
    status = await finished(host, instance_id)
    assert status.output == "succeeded on attempt 3"
    assert ATTEMPTS[spec["token"]] == 3
    events = kinds(history_of(host, instance_id))
    assert events.count("TaskFailed") == 2 and events.count("TimerFired") == 2 and events.count("TaskCompleted") == 1


async def test_exhausted_retries_fail_the_orchestration_with_the_activity_error(host, http):
    spec = {"token": token(), "failures": 10, "first_ms": 20, "attempts": 2}
    instance_id = await start(host, http, "retried", spec)
    status = await finished(host, instance_id)
    assert status.runtime_status.value == "Failed"
    assert status.output.startswith("Orchestrator function 'retried' failed: Activity function 'flaky' failed")
    assert "ConnectionError: attempt 2 failed" in status.output
    assert ATTEMPTS[spec["token"]] == 2, "no attempt beyond max_number_of_attempts"


async def test_retry_delays_follow_backoff_and_max_interval(host, http):
    spec = {"token": token(), "failures": 3, "first_ms": 40, "attempts": 4, "backoff": 3, "max_interval_ms": 200}
    instance_id = await start(host, http, "retried", spec)
    status = await finished(host, instance_id)
    assert status.output == "succeeded on attempt 4"
    raw = host.engine._instances[instance_id].history  # the extension-format history, with FireAt per timer
    delays = [(_instant(e["FireAt"]) - _instant(e["Timestamp"])).total_seconds() * 1000
              for e in raw if e["EventType"] == 10]
    assert [round(d) for d in delays] == [40, 120, 200]


async def test_expired_retry_timeout_stops_retrying_like_azure(host, http, caplog):
    caplog.set_level(logging.WARNING, logger="frontdesk.dev.host")
    spec = {"token": token(), "failures": 10, "first_ms": 20, "attempts": 5, "timeout_ms": 1}
    instance_id = await start(host, http, "retried", spec)
    for _ in range(200):
        if "TaskFailed" in kinds(history_of(host, instance_id)):
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # room for a retry that must not come
    assert ATTEMPTS[spec["token"]] == 1
    assert host.get_status(instance_id).runtime_status.value == "Running"
    assert any("retry timeout" in r.getMessage() for r in caplog.records)
    await host.with_client(lambda client: client.terminate(instance_id, "test over"))


async def test_activity_failure_reaches_the_orchestrator_as_an_exception(host, http):
    status = await finished(host, await start(host, http, "catch_failure"))
    assert status.runtime_status.value == "Completed"
    assert "Activity function 'fail_always' failed" in status.output["caught"]
    assert "PermissionError: refused: no luck" in status.output["caught"]


# ------------------------------------------------------------------ timers and external events


async def test_event_beats_the_timer(host, http):
    instance_id = await start(host, http, "approval")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "waiting")
    await host.with_client(lambda client: client.raise_event(instance_id, "approval", {"ok": True}))
    status = await finished(host, instance_id)
    assert status.output["outcome"] == "approved"
    # DurableOrchestrationClient.raise_event JSON-encodes twice, as in Azure: the orchestrator gets JSON text.
    assert json.loads(status.output["answer"]) == {"ok": True}
    assert "TimerFired" not in kinds(history_of(host, instance_id)), "a cancelled timer never fires"


async def test_timer_beats_the_event_with_the_controllable_clock(host, http):
    instance_id = await start(host, http, "approval")
    started = host.clock.now()
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "waiting")
    host.clock.advance(timedelta(hours=1, minutes=1))
    status = await finished(host, instance_id)
    assert status.output["outcome"] == "timed out"
    assert datetime.fromisoformat(status.output["decided_at"]) >= started + timedelta(hours=1)
    gone = await host.with_client(lambda client: _raise_expecting_failure(client, instance_id, "approval"))
    assert "is gone" in gone


async def test_event_raised_before_the_orchestrator_waits_is_buffered(host, http):
    instance_id = await start(host, http, "early_event")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "sleeping")
    await host.with_client(lambda client: client.raise_event(instance_id, "go", "early bird"))
    assert host.get_status(instance_id).custom_status == "sleeping"
    host.clock.advance(timedelta(hours=3))
    status = await finished(host, instance_id)
    assert json.loads(status.output) == "early bird"
    events = kinds(history_of(host, instance_id))
    assert events.index("EventRaised") < events.index("TimerFired")


async def test_timers_longer_than_six_days_are_chained_like_azure_storage(host, http):
    instance_id = await start(host, http, "long_nap")
    began = host.clock.now()
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "napping")
    host.clock.advance(timedelta(days=3, minutes=1))
    await asyncio.sleep(0.2)
    assert host.get_status(instance_id).runtime_status.value == "Running", "only the first 3-day leg elapsed"
    host.clock.advance(timedelta(days=7))
    status = await finished(host, instance_id)
    assert datetime.fromisoformat(status.output) >= began + timedelta(days=10)
    assert kinds(history_of(host, instance_id)).count("TimerFired") >= 2


async def test_task_all_of_external_events(host, http):
    instance_id = await start(host, http, "both_events")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "waiting")
    await host.with_client(lambda client: client.raise_event(instance_id, "second", 2))
    await host.with_client(lambda client: client.raise_event(instance_id, "first", 1))
    assert (await finished(host, instance_id)).output == ["1", "2"]


async def test_events_for_unknown_instances_are_refused(host):
    message = await host.with_client(lambda client: _raise_expecting_failure(client, "no-such-instance", "x"))
    assert "No instance with ID no-such-instance found" in message


# ------------------------------------------------------------------ sub-orchestrations, continue-as-new, status


async def test_sub_orchestration(host, http):
    instance_id = await start(host, http, "parent", "Dana")
    status = await finished(host, instance_id)
    assert status.output == {"child": {"greeting": "Hello Dana", "my_parent": instance_id}, "parent": instance_id}
    child = host.get_status(f"{instance_id}-child")
    assert child.runtime_status.value == "Completed" and child.name == "child"


async def test_sub_orchestration_with_retry(host, http):
    key = token()
    status = await finished(host, await start(host, http, "parent_with_retry", key))
    assert status.output == "child succeeded on attempt 2"
    assert ATTEMPTS[key] == 2


async def test_continue_as_new_restarts_with_new_input_and_fresh_history(host, http):
    instance_id = await start(host, http, "counter", {"n": 0, "until": 3})
    status = await finished(host, instance_id)
    assert status.output["final"] == 3
    assert status.output["rounds_seen_by_this_execution"] <= 3, "history is reset at each continue-as-new"
    assert json.loads(status.input_) == {"n": 3, "until": 3}


async def test_custom_status_is_visible_through_get_status(host, http):
    instance_id = await start(host, http, "reporter")
    seen = await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status is not None)
    assert seen.custom_status == {"stage": "waiting for go"}
    through_binding = (await http.get(host.url(f"status/{instance_id}"))).json()
    assert through_binding == {"runtimeStatus": "Running", "customStatus": {"stage": "waiting for go"}, "output": None}
    await host.with_client(lambda client: client.raise_event(instance_id, "go", None))
    status = await finished(host, instance_id)
    assert (status.custom_status, status.output) == ({"stage": "done"}, "reported")


async def test_orchestrator_exception_fails_the_instance_with_its_message(host, http):
    status = await finished(host, await start(host, http, "explode"))
    assert status.runtime_status.value == "Failed"
    assert status.output == "Orchestrator function 'explode' failed: the saga broke: slot no longer free"


# ------------------------------------------------------------------ client operations


async def test_terminate(host, http):
    instance_id = await start(host, http, "waiter")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.runtime_status.value == "Running")
    await host.with_client(lambda client: client.terminate(instance_id, "caller hung up"))
    status = await finished(host, instance_id)
    assert (status.runtime_status.value, status.output) == ("Terminated", "caller hung up")
    await host.with_client(lambda client: client.terminate(instance_id, "again"))  # 410 is not an error


async def test_purge(host, http):
    instance_id = await start(host, http, "waiter")
    with pytest.raises(Exception, match="412"):
        await host.with_client(lambda client: client.purge_instance_history(instance_id))
    await host.with_client(lambda client: client.terminate(instance_id, "done"))
    await finished(host, instance_id)
    purged = await host.with_client(lambda client: client.purge_instance_history(instance_id))
    assert purged.instances_deleted == 1
    assert not await host.with_client(lambda client: client.get_status(instance_id))
    again = await host.with_client(lambda client: client.purge_instance_history(instance_id))
    assert again.instances_deleted == 0


async def test_unknown_orchestrator_is_refused_by_the_rpc_api(host, http):
    with pytest.raises(Exception, match="The function 'no_such_orchestrator' doesn't exist"):
        await host.with_client(lambda client: client.start_new("no_such_orchestrator"))
    reply = await http.post(host.url("start/no_such_orchestrator"))
    assert reply.status_code == 400 and "doesn't exist" in reply.json()["error"]["message"]


async def test_malformed_start_body_is_a_400_from_the_rpc_api(host, http):
    reply = await http.post(f"{host.base_url}/durabletask/orchestrators/sequence", content=b"{oops",
                            headers={"content-type": "application/json"})
    assert reply.status_code == 400 and reply.json()["Message"] == "Invalid JSON content"


async def test_running_instance_id_cannot_be_started_twice(host, http):
    instance_id = f"booking-{token()}"
    await start(host, http, "waiter", None, instance_id)
    reply = await http.post(host.url(f"start/waiter/{instance_id}"))
    assert reply.status_code == 400 and "already exists" in reply.json()["error"]["message"]
    await host.with_client(lambda client: client.terminate(instance_id, "cleanup"))
    await finished(host, instance_id)
    assert await start(host, http, "sequence", ["again"], instance_id) == instance_id
    assert (await finished(host, instance_id)).output == ["Hello again"]


async def test_status_queries_by_condition(host, http):
    prefix = f"q{token()[:8]}-"
    ids = [await start(host, http, "sequence", [str(i)], f"{prefix}{i}") for i in range(3)]
    for instance_id in ids:
        await finished(host, instance_id)
    found = await host.with_client(lambda client: client.get_status_by(instance_id_prefix=prefix))
    assert sorted(s.instance_id for s in found) == ids
    everything = await host.with_client(lambda client: client.get_status_all())
    assert {s.instance_id for s in everything} >= set(ids)


async def test_wait_for_completion_or_check_status_response(host, http):
    reply = await http.post(host.url("run/sequence"), json=["Ana"])
    assert (reply.status_code, reply.json()) == (200, ["Hello Ana"])


async def test_check_status_urls_point_at_the_host_and_need_the_system_key(host, http):
    reply = await http.post(host.url("start/sequence"), json=["Bo"])
    payload = reply.json()
    assert reply.headers["location"] == payload["statusQueryGetUri"]
    assert payload["statusQueryGetUri"].startswith(f"{host.base_url}/runtime/webhooks/durabletask/instances/")
    await finished(host, payload["id"])
    status = await http.get(payload["statusQueryGetUri"])
    assert status.status_code == 200 and status.json()["output"] == ["Hello Bo"]
    assert (await http.get(payload["statusQueryGetUri"].split("?")[0])).status_code == 401


async def test_suspend_holds_events_until_resume(host, http):
    instance_id = await start(host, http, "reporter")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status is not None)
    await host.with_client(lambda client: client.suspend(instance_id, "maintenance"))
    await host.wait_for_instance_async(instance_id, until=lambda s: s.runtime_status.value == "Suspended")
    await host.with_client(lambda client: client.raise_event(instance_id, "go", None))
    await asyncio.sleep(0.2)
    assert host.get_status(instance_id).runtime_status.value == "Suspended"
    await host.with_client(lambda client: client.resume(instance_id, "back"))
    assert (await finished(host, instance_id)).output == "reported"


async def test_restart_runs_the_instance_again_with_its_input(host, http):
    original = await start(host, http, "sequence", ["Ida"])
    await finished(host, original)
    payload = await host.with_client(lambda client: client.restart(original))
    restarted = payload["id"]
    assert restarted != original
    assert (await finished(host, restarted)).output == ["Hello Ida"]


async def test_non_deterministic_orchestrators_are_failed(host, http):
    from devhost_sample import FICKLE
    instance_id = await start(host, http, "fickle")
    await host.wait_for_instance_async(instance_id, until=lambda s: s.custom_status == "waiting")
    FICKLE["activity"] = "count"
    try:
        await host.with_client(lambda client: client.raise_event(instance_id, "go", None))
        status = await finished(host, instance_id)
    finally:
        FICKLE["activity"] = "greet"
    assert status.runtime_status.value == "Failed"
    assert "Non-Deterministic workflow detected" in status.output


async def test_large_payloads_survive_table_storage(host, http):
    name = "x" * 90_000  # several Table Storage properties' worth (32K characters each)
    status = await finished(host, await start(host, http, "sequence", [name]))
    assert status.output == [f"Hello {name}"]
    assert json.loads(host.get_status(status.instance_id).input_) == [name]


async def _raise_expecting_failure(client, instance_id: str, event: str) -> str:
    try:
        await client.raise_event(instance_id, event, {"late": True})
    except Exception as exc:
        return str(exc)
    return "no error"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def test_an_id_started_again_the_moment_it_finished_runs_the_new_execution(host, http):
    # A second click that starts a cancel again under its id as soon as the first run reads Completed: the
    # first run may still be making its last commit; the new execution must run, not be dropped with it.
    instance_id = f"again-{token()}"
    for attempt in range(15):
        await start(host, http, "sequence", [f"n{attempt}"], instance_id)
        deadline = time.monotonic() + 10
        while (status := host.get_status(instance_id)) is None or status.runtime_status.value != "Completed":
            assert time.monotonic() < deadline, f"execution {attempt} never finished: {status.runtime_status}"
            await asyncio.sleep(0)
        assert status.output == [f"Hello n{attempt}"]

