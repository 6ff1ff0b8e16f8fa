"""Fixtures for the development host's tests: one host per session on the real Azurite."""

from __future__ import annotations

import httpx
import pytest

from dev.host import DevHost
from devhost_support import CORS_ORIGIN, KEYED_FUNCTION_KEY, unique_hub


@pytest.fixture(scope="session")
def host(azurite):
    """The sample app on a development host, shared by this test process."""
    from devhost_sample import make_app
    with DevHost(make_app, storage_connection_string=azurite.connection_string, task_hub=unique_hub(),
                 function_keys={"keyed": KEYED_FUNCTION_KEY}, cors_origins=[CORS_ORIGIN]) as running:
        yield running


@pytest.fixture
async def http():
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
