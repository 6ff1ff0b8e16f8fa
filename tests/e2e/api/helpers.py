"""Small helpers of the booking API's end-to-end tests: request bodies, offered slots, waiting for answers."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx

UTC = timezone.utc
REPAIR = "plumbing-repair"  # pooled: territory, then round robin among dana, priya, luis


def customer(**changes: Any) -> dict[str, Any]:
    person = {"name": "Alex Morgan", "phone": "+13125550142", "email": "alex.morgan@example.com",
              "address": "1200 W Fullerton Ave, Chicago, IL", "postalCode": "60614",
              "notes": "Kitchen sink drips."}
    person.update(changes)
    return {key: value for key, value in person.items() if value is not None}


def booking_body(start: str, event_type: str = REPAIR, **fields: Any) -> dict[str, Any]:
    body = {"eventType": event_type, "start": start, "timeZone": "America/Chicago", "customer": customer()}
    body.update(fields)
    return body


def new_key() -> str:
    return str(uuid.uuid4())


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


async def slots(client: httpx.AsyncClient, event_type: str = REPAIR, **params: Any) -> list[dict[str, Any]]:
    """Offered slots (fails the test on anything but 200)."""
    response = await client.get("availability", params={"eventType": event_type, **params})
    assert response.status_code == 200, response.text
    return response.json()["slots"]


async def future_slots(client: httpx.AsyncClient, event_type: str = REPAIR, days_ahead: int = 2,
                       span_days: int = 10, **params: Any) -> list[dict[str, Any]]:
    """Slots from the local midnight ``days_ahead`` days from now (clear of the notice and of today's tests).
    From midnight, so two calls in one test list the same slots even when a slot start passes in between."""
    chicago = ZoneInfo("America/Chicago")
    day = (datetime.now(UTC).astimezone(chicago) + timedelta(days=days_ahead)).date()
    start = datetime.combine(day, datetime.min.time(), chicago).astimezone(UTC)
    return await slots(client, event_type, start=start.isoformat(),
                       end=(start + timedelta(days=span_days)).isoformat(), **params)


async def book(client: httpx.AsyncClient, body: dict[str, Any], key: str | None = None,
               final: bool = True) -> httpx.Response:
    """POST bookings; with ``final``, follow a 202 by polling its status URL until the request is decided."""
    response = await client.post("bookings", json=body, headers={"Idempotency-Key": key or new_key()})
    if final:
        response = await settle(client, response)
    return response


async def settle(client: httpx.AsyncClient, response: httpx.Response, timeout: float = 90) -> httpx.Response:
    """Poll a 202's status URL (GET bookings/{id}) until it answers something else."""
    deadline = asyncio.get_running_loop().time() + timeout
    while response.status_code == 202:
        assert asyncio.get_running_loop().time() < deadline, "the request was still pending after the timeout"
        await asyncio.sleep(0.5)
        response = await client.get(response.json()["statusUrl"])
    return response


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "details"} <= set(body["error"]), body
    return body["error"]


def fields_of(response: httpx.Response) -> dict[str, str]:
    """422 details as ``{field path: message}``."""
    return {detail["field"]: detail["message"] for detail in error_of(response)["details"] if "field" in detail}
