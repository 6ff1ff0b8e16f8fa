"""GET /api/health on the development host: 200 when ready, 503 naming what is wrong, never a secret."""

from __future__ import annotations

import httpx
import pytest

from dev.host import DevHost
from dev.ports import free_port

SECRET = "s3cret-token-never-shown"


async def health_of(host: DevHost) -> httpx.Response:
    async with httpx.AsyncClient(timeout=15) as http:
        return await http.get(host.url("health"))


@pytest.fixture
def serve(azurite, base_env):
    def start(**env):
        host = DevHost("function_app", env={"DURABLE_TASK_HUB": "health" + base_env["STORAGE__TABLE_PREFIX"], **env},
                       storage_connection_string=azurite.connection_string)
        return host
    return start


async def test_healthy_stack_answers_200(serve):
    with serve() as host:
        reply = await health_of(host)
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "checks": {"settings": {"ok": True}, "storage": {"ok": True}}}


async def test_invalid_setting_is_named_without_its_value(serve):
    with serve(GRAPH__BASE_URL="not-a-url", TWILIO__AUTH_TOKEN=SECRET) as host:
        reply = await health_of(host)
    assert reply.status_code == 503
    body = reply.json()
    assert body["status"] == "unhealthy"
    assert [p["setting"] for p in body["checks"]["settings"]["problems"]] == ["GRAPH__BASE_URL"]
    assert SECRET not in reply.text and "not-a-url" not in reply.text


async def test_unreachable_storage_is_reported(serve):
    dead = f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;" \
           f"TableEndpoint=http://127.0.0.1:{free_port()}/devstoreaccount1;"
    with serve(STORAGE__CONNECTION_STRING=dead) as host:
        reply = await health_of(host)
    assert reply.status_code == 503
    storage = reply.json()["checks"]["storage"]
    assert storage["ok"] is False and storage["reason"]
    assert "a2V5" not in reply.text
