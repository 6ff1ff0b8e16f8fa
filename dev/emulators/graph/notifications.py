"""Subscriptions that really deliver: the validation handshake, change and lifecycle notifications.

Creating a subscription POSTs ``?validationToken=...`` (URL-encoded, with spaces and colons, like
Graph's) to the notification URL and to the lifecycle URL, and fails unless each echoes the token
as ``text/plain`` with 200 within the timeout. Afterwards every change to a subscribed mailbox's
events is POSTed as ``{"value": [notification]}``; a delivery that fails (non-2xx, timeout) is
retried a few times, so receivers see duplicates as they do with Graph. Deliveries to one URL go
out one at a time in the order of the changes; they can be held and released reversed or
duplicated, or replayed, to test out-of-order and repeated notifications on purpose.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote_plus

import aiohttp
import yarl

from dev.emulators.graph.errors import GraphError, bad_request
from dev.emulators.graph.store import TENANT_ID, Tenant, User
from dev.emulators.graph.times import UTC, format_instant, parse_query_instant

CHANGE_TYPES = ("created", "updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")


class Notifier:
    """Subscriptions of the tenant and every HTTP delivery made for them (logged in ``deliveries``)."""

    def __init__(self, tenant: Tenant, config: dict):
        self.tenant = tenant
        self.config = config
        self.subscriptions: dict[str, dict] = {}
        self.deliveries: list[dict] = []
        self.held: list[tuple[str, str, dict]] | None = None
        self._session: aiohttp.ClientSession | None = None
        # One queue and one worker per URL: a receiver sees its notifications in the order the changes
        # happened (unless a test releases held ones reversed), as Graph's delivery mostly does.
        self._queues: dict[str, asyncio.Queue] = {}
        self._workers: list[asyncio.Task] = []
        self._pending = 0
        self.history: list[tuple[str, str, dict]] = []  # every change/lifecycle notification enqueued
        tenant.listeners.append(self.on_change)

    async def close(self) -> None:
        for task in self._workers:
            task.cancel()
        if self._session:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    # ------------------------------------------------------------------ subscriptions

    async def create(self, body: dict, app_id: str) -> dict:
        """Validate and store a subscription the way ``POST /subscriptions`` does."""
        user, change_types = self._check(body)
        expires = self._check_expiry(body.get("expirationDateTime"))
        await self.validate(body["notificationUrl"])
        if body.get("lifecycleNotificationUrl"):
            await self.validate(body["lifecycleNotificationUrl"])
        subscription = {
            "id": str(uuid.uuid4()),
            "resource": body["resource"],
            "applicationId": app_id,
            "changeType": ",".join(change_types),
            "clientState": body.get("clientState"),
            "notificationUrl": body["notificationUrl"],
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": body.get("lifecycleNotificationUrl"),
            "expirationDateTime": format_instant(expires),
            "creatorId": str(uuid.uuid4()),
            "includeResourceData": body.get("includeResourceData"),
            "latestSupportedTlsVersion": body.get("latestSupportedTlsVersion") or "v1_2",
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
            "_userId": user.id,
            "_expires": expires,
        }
        self.subscriptions[subscription["id"]] = subscription
        return subscription

    def _check(self, body: dict) -> tuple[User, list[str]]:
        for name in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
            if not body.get(name):
                raise bad_request(f"Subscription is missing the required property '{name}'.", "InvalidRequest")
        change_types = [c.strip() for c in str(body["changeType"]).split(",") if c.strip()]
        if not change_types or any(c not in CHANGE_TYPES for c in change_types):
            raise bad_request(f"Invalid changeType '{body['changeType']}'.", "InvalidRequest")
        url = str(body["notificationUrl"])
        if not url.startswith("https://") and not (self.config["allow_http_notification_urls"] and url.startswith("http://")):
            raise bad_request("The Notification Url must be HTTPS.", "InvalidRequest")
        if body.get("clientState") and len(str(body["clientState"])) > 128:
            raise bad_request("clientState can be at most 128 characters.", "InvalidRequest")
        return self._resource_user(str(body["resource"])), change_types

    def _resource_user(self, resource: str) -> User:
        parts = [p for p in resource.strip("/").split("/") if p]
        shape = [p.lower() for p in parts]
        if len(parts) == 3 and shape[0] == "users" and shape[2] == "events" or \
                len(parts) == 4 and shape[0] == "users" and shape[2:] == ["calendar", "events"]:
            user = self.tenant.find_user(parts[1])
            if user is None:
                raise GraphError(404, "ResourceNotFound", f"Resource '{resource}' does not exist or one of its "
                                                          "queried reference-property objects are not present.")
            return user
        raise bad_request(f"Resource '{resource}' is not supported by the emulator (users/{{id}}/events).",
                          "ExtensionError")

    def _check_expiry(self, value) -> datetime:
        try:
            expires = parse_query_instant(str(value))
        except ValueError:
            raise bad_request(f"Invalid expirationDateTime '{value}'.", "InvalidRequest") from None
        now = datetime.now(UTC)
        limit = self.config["max_subscription_minutes"]
        if expires <= now:
            raise bad_request("Subscription expiration must be in the future.", "InvalidRequest")
        if expires > now + timedelta(minutes=limit):
            raise bad_request(f"Subscription expiration can only be {limit} minutes in the future.", "InvalidRequest")
        return expires

    def get(self, subscription_id: str) -> dict:
        self.purge_expired()
        subscription = self.subscriptions.get(subscription_id)
        if subscription is None:
            raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{subscription_id}'.")
        return subscription

    def renew(self, subscription_id: str, body: dict) -> dict:
        subscription = self.get(subscription_id)
        if "expirationDateTime" in body:
            subscription["_expires"] = self._check_expiry(body["expirationDateTime"])
            subscription["expirationDateTime"] = format_instant(subscription["_expires"])
        return subscription

    def delete(self, subscription_id: str) -> None:
        self.get(subscription_id)
        del self.subscriptions[subscription_id]

    def purge_expired(self) -> None:
        now = datetime.now(UTC)
        for sub_id in [s["id"] for s in self.subscriptions.values() if s["_expires"] <= now]:
            del self.subscriptions[sub_id]

    def expire(self, subscription_id: str) -> None:
        """Let a subscription run out now: Graph then forgets it (renewal answers 404)."""
        self.get(subscription_id)["_expires"] = datetime.now(UTC) - timedelta(seconds=1)
        self.purge_expired()

    # ------------------------------------------------------------------ the validation handshake

    async def validate(self, url: str) -> None:
        token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
        target = f"{url}{'&' if '?' in url else '?'}validationToken={quote_plus(token)}"
        started = time.perf_counter()
        record = {"kind": "validation", "url": url, "body": None, "time": format_instant(datetime.now(UTC))}
        try:
            # encoded=True: send the token exactly as Graph does (%3a, +), not re-normalised by yarl.
            async with self._client().post(yarl.URL(target, encoded=True), data=b"", headers={"Content-Type": "text/plain; charset=utf-8"},
                                           timeout=aiohttp.ClientTimeout(total=self.config["validation_timeout_seconds"])
                                           ) as response:
                text = await response.text()
                record.update(status=response.status, response=text[:500],
                              contentType=response.headers.get("Content-Type", ""))
        except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
            record.update(status=None, error=type(exc).__name__, durationMs=_ms(started))
            self.deliveries.append(record)
            message = "Subscription validation request timeout." if isinstance(exc, asyncio.TimeoutError) else \
                "Subscription validation request failed. Notification endpoint must respond with 200 OK to validation request."
            raise GraphError(400, "ValidationError", message) from None
        record["durationMs"] = _ms(started)
        self.deliveries.append(record)
        if record["status"] != 200:
            raise GraphError(400, "ValidationError", "Subscription validation request failed. Notification endpoint "
                                                     "must respond with 200 OK to validation request.")
        if not record["contentType"].lower().startswith("text/plain") or text != token:
            raise GraphError(400, "ValidationError", "Subscription validation request failed. Response must exactly "
                                                     "match validationToken query parameter.")

    # ------------------------------------------------------------------ change notifications

    def on_change(self, user: User, item_id: str, change_type: str, etag: str) -> None:
        self.purge_expired()
        for sub in list(self.subscriptions.values()):
            if sub["_userId"] == user.id and change_type in sub["changeType"].split(","):
                resource = f"Users/{user.id}/Events/{item_id}"
                notification = {
                    "subscriptionId": sub["id"],
                    "subscriptionExpirationDateTime": sub["expirationDateTime"],
                    "changeType": change_type,
                    "resource": resource,
                    "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id": resource,
                                     "@odata.etag": etag, "id": item_id},
                    "clientState": sub.get("clientState"),
                    "tenantId": TENANT_ID,
                }
                self.enqueue("notification", sub["notificationUrl"], {"value": [notification]})

    def lifecycle(self, subscription_id: str, event: str) -> None:
        if event not in LIFECYCLE_EVENTS:
            raise bad_request(f"Unknown lifecycle event '{event}' (one of {', '.join(LIFECYCLE_EVENTS)}).")
        sub = self.get(subscription_id)
        if not sub.get("lifecycleNotificationUrl"):
            raise bad_request("The subscription has no lifecycleNotificationUrl.")
        payload = {"value": [{"lifecycleEvent": event, "subscriptionId": sub["id"],
                              "subscriptionExpirationDateTime": sub["expirationDateTime"],
                              "clientState": sub.get("clientState"), "tenantId": TENANT_ID}]}
        if event == "subscriptionRemoved":
            del self.subscriptions[sub["id"]]
        self.enqueue("lifecycle", sub["lifecycleNotificationUrl"], payload)

    def enqueue(self, kind: str, url: str, payload: dict) -> None:
        self.history.append((kind, url, payload))
        if self.held is not None:
            self.held.append((kind, url, payload))
            return
        for _ in range(max(1, int(self.config["duplicate_deliveries"]))):
            self._post(kind, url, payload)

    def hold(self) -> None:
        if self.held is None:
            self.held = []

    def release(self, order: str = "fifo", times: int = 1, batch: bool = False) -> int:
        """Deliver what was held (reversed when ``order`` is 'reverse', each ``times`` times), then stop holding."""
        held, self.held = self.held or [], None
        if order == "reverse":
            held.reverse()
        if batch and held:  # one POST per URL carrying every held notification, as Graph sometimes batches
            by_url: dict[tuple[str, str], list] = {}
            for kind, url, payload in held:
                by_url.setdefault((kind, url), []).extend(payload["value"])
            held = [(kind, url, {"value": values}) for (kind, url), values in by_url.items()]
        for kind, url, payload in held:
            for _ in range(max(1, times)):
                self._post(kind, url, payload)
        return len(held)

    def replay(self, count: int = 1) -> int:
        """Deliver the last ``count`` notifications again, as Graph does when it is unsure they arrived."""
        again = self.history[-count:] if count > 0 else []
        for kind, url, payload in again:
            self._post(kind, url, payload)
        return len(again)

    def _post(self, kind: str, url: str, payload: dict) -> None:
        queue = self._queues.get(url)
        if queue is None:
            queue = self._queues[url] = asyncio.Queue()
            self._workers.append(asyncio.get_running_loop().create_task(self._worker(queue)))
        self._pending += 1
        queue.put_nowait((kind, url, payload))

    async def _worker(self, queue: asyncio.Queue) -> None:
        while True:
            kind, url, payload = await queue.get()
            try:
                await self._deliver(kind, url, payload)
            finally:
                self._pending -= 1

    async def _deliver(self, kind: str, url: str, payload: dict) -> None:
        attempts = max(1, int(self.config["delivery_attempts"]))
        body = json.dumps(payload).encode()
        for attempt in range(1, attempts + 1):
            started = time.perf_counter()
            record = {"kind": kind, "url": url, "body": payload, "attempt": attempt,
                      "time": format_instant(datetime.now(UTC))}
            try:
                async with self._client().post(url, data=body,
                                               headers={"Content-Type": "application/json; charset=utf-8"},
                                               timeout=aiohttp.ClientTimeout(total=self.config["delivery_timeout_seconds"])
                                               ) as response:
                    await response.read()
                    record["status"] = response.status
            except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                record.update(status=None, error=type(exc).__name__)
            record["durationMs"] = _ms(started)
            self.deliveries.append(record)
            if record["status"] is not None and 200 <= record["status"] < 300:
                return
            await asyncio.sleep(self.config["delivery_retry_delay_seconds"] * attempt)

    def idle(self) -> bool:
        """True when no delivery is queued or in flight (tests wait for this)."""
        return self._pending == 0


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)


def public(subscription: dict) -> dict:
    """A subscription without the emulator's private bookkeeping."""
    return {k: v for k, v in subscription.items() if not k.startswith("_")}
