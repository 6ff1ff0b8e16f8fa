"""The Table Storage client of the process (Azurite locally, the managed identity in Azure).

One async ``TableServiceClient`` per settings and event loop, built on first use and reused, so
connections are pooled. Table names carry the configured prefix, which keeps test runs and
deployments apart.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from shared.config import Settings

_lock = threading.Lock()
# aiohttp sessions belong to one event loop; the Functions worker has one, tests and the dev host several.
_services: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple, object]]" = weakref.WeakKeyDictionary()
_loopless: dict[tuple, object] = {}


def table_name(settings: Settings, name: str) -> str:
    """The real table name for a logical one: ``claims`` -> ``frontdeskclaims``."""
    return f"{settings.storage.table_prefix}{name}"


def _build(settings: Settings):
    from azure.data.tables.aio import TableServiceClient
    storage = settings.storage
    if storage.connection_string is not None:
        return TableServiceClient.from_connection_string(storage.connection_string.get_secret_value())
    from shared.adapters.credentials import get_credential
    return TableServiceClient(str(storage.table_endpoint).rstrip("/"), credential=get_credential(settings.identity))


def _per_loop() -> dict[tuple, object]:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _loopless
    return _services.setdefault(loop, {})


def get_table_service(settings: Settings):
    """The shared async table service client for these settings on the running event loop."""
    key = (str(settings.storage.connection_string and settings.storage.connection_string.get_secret_value()),
           str(settings.storage.table_endpoint))
    with _lock:
        services = _per_loop()
        service = services.get(key)
        if service is None:
            service = services[key] = _build(settings)
        return service


async def aclose_loop_clients() -> None:
    """Close the clients of the running event loop (before the loop ends: a host shutting down)."""
    with _lock:
        services = list(_per_loop().values())
        _per_loop().clear()
    for service in services:
        await service.close()


async def ping_storage(settings: Settings) -> None:
    """Raise if Table Storage cannot be reached or refuses our credentials."""
    service = get_table_service(settings)
    async for _ in service.list_tables(results_per_page=1):
        break
