"""Response time of ``POST /api/graph/notifications`` (Graph wants an answer within 3 s; aim: under 200 ms).

    .venv/bin/python -m bench.notifications [--rounds 20] [--quick]

Starts the whole local stack (Azurite, the Graph emulator, the development host serving the app), lets
the real subscription keeper subscribe every host mailbox (so the notifications carry a real
subscription id and the clientState derived from the stack's secret), then measures, client side,
the wall time of each POST until its 202:

- ``batch``: one POST carrying 100 change notifications (100 distinct events), as Graph batches them;
- ``single``: 100 POSTs of one notification each, one after another (Graph's usual delivery).

Every notification is authenticated (clientState, subscription lookup) and starts its own reconcile
orchestration, which is what persisting it means here. The orchestrations of one round finish before
the next round starts (each reads its event from the Graph emulator and finds no booking), so rounds do
not pile up on the 2-core machine; a warm-up round is not counted. The figures are recorded in
docs/PERFORMANCE.md under "Graph notifications".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid

BATCH = 100


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def notification(subscription: dict, client_state: str, event_id: str) -> dict:
    resource = f"Users/{subscription['userId']}/Events/{event_id}"
    return {"subscriptionId": subscription["id"], "subscriptionExpirationDateTime": subscription["expirationDateTime"],
            "changeType": "updated", "resource": resource, "clientState": client_state, "tenantId": "bench",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                             "@odata.etag": f'W/"{uuid.uuid4().hex}"', "id": event_id}}


def wait_quiet(stack, timeout: float = 300.0) -> None:
    """Until no reconcile orchestration is running (the previous round's work is done)."""
    from azure.durable_functions.models.OrchestrationRuntimeStatus import OrchestrationRuntimeStatus as Status
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = stack.host.run_with_client(lambda client: client.get_status_by(
            runtime_status=[Status.Running, Status.Pending], instance_id_prefix="reconcile-"))
        if not busy:
            return
        time.sleep(0.2)
    raise TimeoutError("reconcile orchestrations still running")


def measure(stack, rounds: int) -> dict[str, list[float]]:
    import httpx

    from shared.services.subscriptions import client_state_for
    client_state = client_state_for(stack.env["GRAPH__CLIENT_STATE_SECRET"])
    subscriptions = stack.graph.subscriptions()
    url = stack.host.url("graph/notifications")
    timings: dict[str, list[float]] = {"batch": [], "single": []}
    with httpx.Client(timeout=30) as http:
        for round_number in range(rounds + 1):  # round 0 warms up
            items = [notification(subscriptions[n % len(subscriptions)], client_state, f"AAMkBench{uuid.uuid4().hex}")
                     for n in range(BATCH)]
            started = time.perf_counter()
            answer = http.post(url, json={"value": items})
            elapsed = (time.perf_counter() - started) * 1000
            assert answer.status_code == 202 and answer.json()["accepted"] == BATCH, answer.text
            if round_number:
                timings["batch"].append(elapsed)
            wait_quiet(stack)
            if not round_number or round_number > max(1, rounds // 4):
                continue  # 100 single POSTs in a few rounds are plenty of samples
            for item in [notification(subscriptions[n % len(subscriptions)], client_state,
                                      f"AAMkBench{uuid.uuid4().hex}") for n in range(BATCH)]:
                started = time.perf_counter()
                answer = http.post(url, json={"value": [item]})
                timings["single"].append((time.perf_counter() - started) * 1000)
                assert answer.status_code == 202, answer.text
            wait_quiet(stack)
    return timings


def report(timings: dict[str, list[float]]) -> None:
    print(f"{'what':<42} {'samples':>7} {'median':>9} {'p95':>9} {'max':>9}")
    labels = {"batch": f"one POST of {BATCH} notifications", "single": "one POST of 1 notification"}
    for key, values in timings.items():
        if values:
            print(f"{labels[key]:<42} {len(values):>7} {statistics.median(values):>7.0f}ms "
                  f"{percentile(values, 0.95):>7.0f}ms {max(values):>7.0f}ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="measured batches of 100 (default 20)")
    parser.add_argument("--quick", action="store_true", help="3 rounds (a smoke run)")
    args, _ = parser.parse_known_args(argv)
    from dev.stack import LocalStack
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    env = {"DURABLE_TASK_HUB": "benchnotify", "LOG_LEVEL": "WARNING"}
    with LocalStack(table_prefix="bench" + uuid.uuid4().hex[:6], extra_env=env) as stack:
        stack.host.invoke("keep_subscriptions")
        status = stack.host.wait_for_instance("subscription-keeper", timeout=120)
        assert status.runtime_status.value == "Completed", status.output
        report(measure(stack, 3 if args.quick else args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
