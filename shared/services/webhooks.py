"""Outbound webhooks: tell the business's other systems that a booking was created, rescheduled or cancelled.

Targets and the signing secret come from settings (``WEBHOOKS__URLS``, ``WEBHOOKS__SECRET``). Each
delivery is a JSON ``POST``::

    {"id": "wh_...", "type": "booking.created", "occurredAt": "2026-03-02T15:00:00+00:00",
     "data": {"booking": {...the booking as the API returns it...}}}

with headers

- ``X-Frontdesk-Event``: the type; ``X-Frontdesk-Delivery``: the id, the same on every retry of one
  change, so a receiver can drop repeats (Durable runs activities at least once, and a retry re-posts
  to every target when one of several failed);
- ``X-Frontdesk-Signature: t=<unix seconds>,v1=<hex>``: HMAC-SHA256 with the secret over
  ``"<t>." + body`` (the raw bytes). Receivers recompute it (:func:`verify_signature`), compare in
  constant time and refuse timestamps older than a few minutes (replays).

A 2xx answer is success; 408, 429, 5xx and network failures are :class:`TransientError` (the activity's
retry policy tries again later); any other status is :class:`PermanentError` (a receiver that answers
400/401/404 will not change its mind).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import threading
import time
import weakref
from datetime import datetime
from typing import Any, Literal

from shared.config import Settings
from shared.errors import PermanentError, TransientError
from shared.logs import get_logger

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Frontdesk-Signature"
DELIVERY_HEADER = "X-Frontdesk-Delivery"
EVENT_HEADER = "X-Frontdesk-Event"
SIGNATURE_TOLERANCE_SECONDS = 300
WebhookEvent = Literal["booking.created", "booking.rescheduled", "booking.cancelled"]
EVENT_FOR_CHANGE: dict[str, WebhookEvent] = {"created": "booking.created", "rescheduled": "booking.rescheduled",
                                             "cancelled": "booking.cancelled"}
SERVICE = "webhooks"

_lock = threading.Lock()
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]" = weakref.WeakKeyDictionary()


# ---------------------------------------------------------------- signing

def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (unix seconds)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str | None, body: bytes, *, now: float | None = None,
                     tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """What a receiver does: True when ``header`` signs ``body`` with ``secret`` and is recent enough."""
    if not header:
        return False
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(key, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))


def delivery_id(change_id: str, event: str) -> str:
    """One id per change and event type: the same on every retry, different for the next change."""
    return "wh_" + hashlib.sha256(f"{change_id}\n{event}".encode()).hexdigest()[:24]


def build_payload(event: WebhookEvent, booking: dict[str, Any], change_id: str, occurred_at: datetime) -> dict:
    return {"id": delivery_id(change_id, event), "type": event, "occurredAt": occurred_at.isoformat(),
            "data": {"booking": booking}}


# ---------------------------------------------------------------- delivery

def _http_client():
    """This event loop's shared httpx client (connections pooled per loop, never one client per call)."""
    import httpx
    loop = asyncio.get_running_loop()
    with _lock:
        client = _clients.get(loop)
        if client is None or client.is_closed:
            # Redirects are not followed: a signed delivery goes only where it was configured to go.
            client = _clients[loop] = httpx.AsyncClient(follow_redirects=False,
                                                        headers={"User-Agent": "Frontdesk-Webhooks/1"})
        return client


def targets(settings: Settings) -> tuple[str, ...]:
    return settings.webhooks.targets


async def deliver(settings: Settings, payload: dict) -> int:
    """POST ``payload`` to every configured target; returns how many there were.

    All targets are tried; if any failed, the most retryable error is raised afterwards (a transient
    failure anywhere means the whole delivery is retried, and receivers drop repeats by delivery id).
    """
    urls = targets(settings)
    if not urls:
        return 0
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    secret = settings.webhooks.secret.get_secret_value()
    client = _http_client()
    timeout = settings.webhooks.timeout_seconds
    results = await asyncio.gather(*(_post(client, url, body, payload, secret, timeout) for url in urls),
                                   return_exceptions=True)
    failures = [r for r in results if isinstance(r, Exception)]
    if failures:
        transient = [f for f in failures if isinstance(f, TransientError)]
        raise (transient or failures)[0]
    return len(urls)


async def _post(client, url: str, body: bytes, payload: dict, secret: str, timeout: float) -> None:
    import httpx
    headers = {"Content-Type": "application/json", EVENT_HEADER: payload["type"], DELIVERY_HEADER: payload["id"],
               SIGNATURE_HEADER: sign(secret, body, int(time.time()))}
    where = _safe_target(url)
    try:
        response = await client.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise TransientError(f"webhook {where} did not answer in time", service=SERVICE) from exc
    except httpx.HTTPError as exc:
        raise TransientError(f"webhook {where} could not be reached ({type(exc).__name__})", service=SERVICE) from exc
    status = response.status_code
    if 200 <= status < 300:
        log.info("webhook %s delivered to %s (%s)", payload["type"], where, status)
        return
    if status in (408, 429) or status >= 500:
        raise TransientError(f"webhook {where} answered {status}", service=SERVICE, status=status)
    raise PermanentError(f"webhook {where} refused the delivery with {status}", service=SERVICE, status=status)


def _safe_target(url: str) -> str:
    """Scheme, host, port and path only: a query string or user info may carry the receiver's own token."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}{parts.path}"


async def aclose_loop_clients() -> None:
    """Close this loop's client (the host's shutdown hook, tests)."""
    loop = asyncio.get_running_loop()
    with _lock:
        client = _clients.pop(loop, None)
    if client is not None:
        await client.aclose()
