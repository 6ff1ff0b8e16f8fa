"""Rate limits hold across instances: two app instances (two development hosts, each in its own process,
as two Flex Consumption instances are) on one Azurite and one table prefix, hit at once from one address.

Together they never accept more than the limit (burst + rate x elapsed) and then answer 429 with a
Retry-After, on either instance. With per-instance memory, each would have accepted a full burst.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from triggers.booking_api import READ_BURST, READS_PER_SECOND, WIDGET_BOOKING_BURST, WIDGET_BOOKINGS_PER_MINUTE

ROOT = Path(__file__).resolve().parents[3]
WIDGET_KEY = "widget-" + uuid.uuid4().hex
START_TIMEOUT = 90.0


class Instance:
    """``python -m dev.host`` in a child process: one app instance with its own memory."""

    def __init__(self, env: dict[str, str], port: int, settings_dir: Path):
        settings = settings_dir / f"local.settings.{port}.json"
        settings.write_text(json.dumps({"IsEncrypted": False, "Values": env}), encoding="utf-8")
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}/api"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dev.host", "--settings", str(settings), "--port", str(port),
             "--storage", env["AzureWebJobsStorage"]],
            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"instance on {self.port} exited: {self.process.stderr.read()[-2000:]}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"instance on {self.port} did not start in {START_TIMEOUT:g} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="module")
def two_instances(stack, tmp_path_factory):
    """Two instances sharing the session's Azurite and one fresh table prefix (their own task hub)."""
    from dev.ports import free_port
    prefix = "rl" + uuid.uuid4().hex[:8]
    env = {**stack.env, "STORAGE__TABLE_PREFIX": prefix, "DURABLE_TASK_HUB": prefix,
           "WIDGET__FUNCTION_KEY": WIDGET_KEY,
           "DEV_HOST_FUNCTION_KEYS": json.dumps({"create_booking": {"widget": WIDGET_KEY}})}
    folder = tmp_path_factory.mktemp("instances")
    instances = [Instance(env, free_port(), folder) for _ in range(2)]
    try:
        for instance in instances:
            instance.wait_ready()
        yield instances
    finally:
        for instance in instances:
            instance.stop()


async def _flood(instances, send, count: int) -> tuple[list[httpx.Response], float]:
    """``count`` requests at once, alternating between the instances; the answers and the seconds taken."""
    async with httpx.AsyncClient(timeout=60) as client:
        started = time.monotonic()
        answers = await asyncio.gather(*(send(client, instances[i % 2]) for i in range(count)))
        return answers, time.monotonic() - started


def _accepted(answers) -> int:
    return sum(1 for a in answers if a.status_code != 429)


def _check_refusals(answers) -> None:
    refused = [a for a in answers if a.status_code == 429]
    assert refused, "the flood was never refused"
    for answer in refused:
        assert answer.json()["error"]["code"] == "rate_limited"
        assert int(answer.headers["Retry-After"]) >= 1


async def test_widget_writes_across_two_instances_never_exceed_the_limit(two_instances):
    rate = WIDGET_BOOKINGS_PER_MINUTE / 60
    address = {"X-Forwarded-For": "198.51.100.23", "x-functions-key": WIDGET_KEY}

    async def post(client, instance):
        # No Idempotency-Key: an accepted request is answered 400 right after the limit check, booking nothing.
        return await client.post(f"{instance.base_url}/bookings", json={}, headers=address)

    answers, elapsed = await _flood(two_instances, post, 40)

    assert {a.status_code for a in answers} <= {400, 429}
    allowed = WIDGET_BOOKING_BURST + rate * elapsed
    assert _accepted(answers) <= allowed, (_accepted(answers), allowed)  # per-instance memory: 2 x burst
    assert _accepted(answers) >= WIDGET_BOOKING_BURST  # and the limit itself is not stricter than documented
    # Both instances answered from the one shared bucket (which of them got the burst's tokens is a race).
    assert all(any(a.url.port == instance.port for a in answers) for instance in two_instances)
    _check_refusals(answers)
    retry_after = max(int(a.headers["Retry-After"]) for a in answers if a.status_code == 429)
    assert retry_after <= 1 / rate + 1  # the next token is at most one refill away


async def test_anonymous_reads_across_two_instances_never_exceed_the_limit_then_recover(two_instances):
    address = {"X-Forwarded-For": "198.51.100.24"}

    async def get(client, instance):
        return await client.get(f"{instance.base_url}/event-types", headers=address)

    answers, elapsed = await _flood(two_instances, get, 2 * READ_BURST + 20)

    assert {a.status_code for a in answers} <= {200, 429}
    allowed = READ_BURST + READS_PER_SECOND * elapsed
    assert _accepted(answers) <= allowed, (_accepted(answers), allowed)
    _check_refusals(answers)
    # After Retry-After, the caller is served again (by either instance).
    wait = min(int(a.headers["Retry-After"]) for a in answers if a.status_code == 429)
    await asyncio.sleep(wait)  # the documented contract: retry after this many seconds
    async with httpx.AsyncClient(timeout=30) as client:
        again = await client.get(f"{two_instances[1].base_url}/event-types", headers=address)
    assert again.status_code == 200
    async with httpx.AsyncClient(timeout=30) as client:
        neighbour = await client.get(f"{two_instances[0].base_url}/event-types",
                                     headers={"X-Forwarded-For": "198.51.100.25"})
    assert neighbour.status_code == 200, "other addresses are not affected"
