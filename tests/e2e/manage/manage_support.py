"""Helpers of the manage link's end-to-end tests: book through the API, find the link in the customer's text."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

UTC = timezone.utc
REPAIR = "plumbing-repair"  # postal code 60614 -> territory north -> dana
PHONE = "+13125550142"
DANA_MAILBOX = "dana.reyes@lakeshore-ph.example.com"
LINK = re.compile(r"Manage your visit: (\S+/api/manage/([A-Za-z0-9_-]+))")


def body(start: str) -> dict[str, Any]:
    return {"eventType": REPAIR, "start": start, "timeZone": "America/Chicago", "hostId": "dana",
            "customer": {"name": "Alex Morgan", "phone": PHONE, "email": "alex.morgan@example.com",
                         "address": "1200 W Fullerton Ave, Chicago, IL", "postalCode": "60614",
                         "notes": "Kitchen sink drips."}}


async def open_slots(api: httpx.AsyncClient, days_ahead: int = 2) -> list[dict[str, Any]]:
    start = (datetime.now(UTC) + timedelta(days=days_ahead)).replace(microsecond=0)
    response = await api.get("availability", params={"eventType": REPAIR, "hostId": "dana", "start": start.isoformat(),
                                                     "end": (start + timedelta(days=10)).isoformat()})
    assert response.status_code == 200, response.text
    return response.json()["slots"]


async def book(api: httpx.AsyncClient, start: str) -> dict[str, Any]:
    response = await api.post("bookings", json=body(start), headers={"Idempotency-Key": str(uuid.uuid4())})
    deadline = asyncio.get_running_loop().time() + 60
    while response.status_code == 202:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.3)
        response = await api.get(response.json()["statusUrl"])
    assert response.status_code in (200, 201), response.text  # 200: the status URL's final answer
    return response.json()


async def texts_to(stack, phone: str = PHONE, count: int = 1, timeout: float = 20) -> list[str]:
    """The texts the customer received, once there are at least ``count`` (notifications run after the answer)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        messages = [m["message"] for m in stack.acs.outbox() if m.get("to") == phone]
        if len(messages) >= count or asyncio.get_running_loop().time() > deadline:
            return messages
        await asyncio.sleep(0.1)


async def booked_with_link(stack, api: httpx.AsyncClient, index: int = 0) -> tuple[dict[str, Any], str]:
    """A confirmed booking and the manage URL its confirmation text carries."""
    slot = (await open_slots(api))[index]
    booking = await book(api, slot["start"])
    [text] = await texts_to(stack)
    found = LINK.search(text)
    assert found, text
    return booking, found.group(1)


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]
