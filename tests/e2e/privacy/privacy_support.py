"""Helpers of the privacy end-to-end tests: one customer's details, and a raw scan of everything in Azurite."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")


def next_local(weekday: str, wall: str, *, after: datetime | None = None) -> datetime:
    """The next Chicago wall-clock ``wall`` on ``weekday`` after ``after`` (real now), in UTC, in an ordinary
    week (``local_times.ordinary_days``)."""
    from local_times import next_wall
    return next_wall(weekday, wall, after=after)


def scan_azurite(connection_string: str, needles: list[str]) -> list[str]:
    """Every place in Azurite -- any table, blob container or queue, whoever made it -- holding a needle.

    Reads everything there is (entity properties and keys, blob bytes, queue messages), lower-cased, so
    a name found in any case or inside any JSON counts. Returns ``table/pk/rk: needle`` descriptions.
    """
    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient
    from azure.storage.queue import QueueServiceClient

    wanted = [needle.lower() for needle in needles]
    found: list[str] = []

    def check(where: str, text: str) -> None:
        lowered = text.lower()
        found.extend(f"{where}: {needle}" for needle in wanted if needle in lowered)

    with TableServiceClient.from_connection_string(connection_string) as tables:
        for table in tables.list_tables():
            client = tables.get_table_client(table.name)
            for entity in client.list_entities():
                where = f"table {table.name}/{entity.get('PartitionKey')}/{entity.get('RowKey')}"
                check(where, " ".join(f"{key}={value}" for key, value in entity.items()))
    with BlobServiceClient.from_connection_string(connection_string) as blobs:
        for container in blobs.list_containers():
            client = blobs.get_container_client(container.name)
            for blob in client.list_blobs(include=["metadata"]):
                data = client.download_blob(blob.name).readall()
                check(f"blob {container.name}/{blob.name}",
                      f"{blob.name} {blob.metadata} " + data.decode("utf-8", errors="replace"))
    with QueueServiceClient.from_connection_string(connection_string) as queues:
        for queue in queues.list_queues():
            client = queues.get_queue_client(queue.name)
            for message in client.peek_messages(max_messages=32):
                check(f"queue {queue.name}", str(message.content))
    return found


async def eventually(check, timeout: float = 20.0, interval: float = 0.1):
    """Poll ``check()`` (sync or async) until it returns something truthy; that value (or the last one)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


async def book(api, body: dict, key: str, timeout: float = 90.0) -> dict:
    """POST bookings and follow a 202 (a slow machine) to the final answer, which must be 201/200."""
    response = await api.post("bookings", json=body, headers={"Idempotency-Key": key})
    deadline = asyncio.get_running_loop().time() + timeout
    while response.status_code == 202:
        assert asyncio.get_running_loop().time() < deadline, "the booking was still pending after the timeout"
        await asyncio.sleep(0.5)
        response = await api.get(response.json()["statusUrl"])
    assert response.status_code in (200, 201), response.text
    return response.json()
