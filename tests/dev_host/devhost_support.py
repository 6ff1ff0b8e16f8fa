"""Helpers shared by the development host's tests (importable by name, unlike conftest)."""

from __future__ import annotations

import uuid

import httpx

KEYED_FUNCTION_KEY = "key-of-the-keyed-function-only"
CORS_ORIGIN = "https://contoso.example"


def unique_hub(prefix: str = "dh") -> str:
    """A task hub name no other test uses (3-45 letters and digits)."""
    return prefix + uuid.uuid4().hex[:12]


async def start(host, http: httpx.AsyncClient, name: str, payload=None, instance_id: str | None = None) -> str:
    """Start an orchestration through the sample app's HTTP starter (the durable client binding)."""
    route = f"start/{name}" + (f"/{instance_id}" if instance_id else "")
    response = await http.post(host.url(route), json=payload)
    assert response.status_code == 202, response.text
    return response.json()["id"]
