"""The subscription keeper: one Graph change-notification subscription per active host mailbox.

Graph forgets an Outlook subscription when it expires (about three days), when it is removed (lifecycle
``subscriptionRemoved``) or when the app's consent changes, so Frontdesk keeps them rather than making
them once. :meth:`SubscriptionKeeper.keep` runs on a timer (every 30 minutes) and:

- subscribes every active host mailbox of the business configuration that has no live subscription
  (a new host, a lost subscription, a changed clientState secret or public URL), asking Graph for
  :data:`LIFETIME` and recording the expiry Graph grants;
- renews a subscription once less than :data:`RENEW_BEFORE` of it is left (well before it runs out; the
  timer gets several chances);
- unsubscribes mailboxes no longer configured (a removed or deactivated host) and deletes Graph
  subscriptions of Frontdesk's notification URL that no record knows (left by a crash between creating
  and recording).

Records live in the ``subscriptions`` table (:class:`shared.adapters.store_subscriptions.SubscriptionStore`),
never in memory, so any worker can answer a notification. The clientState sent to Graph is derived from the
``GRAPH__CLIENT_STATE_SECRET`` setting (:func:`client_state_for`), so it is never the raw secret, always
fits Graph's 128 characters, and changes when the secret is rotated; each record keeps a hash of the
clientState it was made with, and a record made with another one is replaced.
A mailbox whose subscription was (re)created may have missed changes: the report lists it for a resync.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from shared.config import Settings
from shared.errors import ConflictError, ExternalServiceError, NotFoundError
from shared.logs import get_logger
from shared.ports import Subscription, SubscriptionRecord

log = get_logger(__name__)

LIFETIME = timedelta(minutes=4200)  # Outlook resources allow 4,230 minutes; leave a margin
RENEW_BEFORE = timedelta(hours=36)  # renew once less than this is left: ~34 h in, 72 timer chances
NOTIFICATIONS_ROUTE = "api/graph/notifications"
LIFECYCLE_ROUTE = "api/graph/lifecycle"
_CLIENT_STATE_LABEL = b"frontdesk graph clientState v1"
_PARALLEL_MAILBOXES = 4
_RECORD_ATTEMPTS = 4


class SubscriptionSetupError(ExternalServiceError):
    """Frontdesk cannot subscribe: a setting it needs (public URL, clientState secret) is missing."""


def client_state_for(secret: str) -> str:
    """The clientState Graph echoes in every notification: an HMAC of the configured secret (URL-safe)."""
    digest = hmac.new(secret.encode("utf-8"), _CLIENT_STATE_LABEL, hashlib.sha256).digest()
    return "fd1." + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def client_state_hash(client_state: str) -> str:
    """What a record keeps of its clientState: enough to notice a rotated secret, useless to an attacker."""
    return hashlib.sha256(client_state.encode("utf-8")).hexdigest()[:16]


def expected_client_state(settings: Settings) -> str | None:
    """The clientState notifications must carry, or None when no secret is configured (then none is accepted)."""
    secret = settings.graph.client_state_secret
    value = secret.get_secret_value() if secret is not None else ""
    return client_state_for(value) if value else None


def client_state_matches(received: object, expected: str | None) -> bool:
    """Constant-time comparison of a notification's clientState with ours."""
    if expected is None or not isinstance(received, str):
        return False
    return hmac.compare_digest(received.encode("utf-8"), expected.encode("utf-8"))


def endpoint_urls(settings: Settings) -> tuple[str, str]:
    """(notificationUrl, lifecycleNotificationUrl) under ``PUBLIC_BASE_URL``."""
    if settings.public_base_url is None:
        raise SubscriptionSetupError("PUBLIC_BASE_URL is not set, so Graph has nowhere to send notifications",
                                     service="subscriptions", code="PublicBaseUrlMissing")
    base = str(settings.public_base_url).rstrip("/")
    return f"{base}/{NOTIFICATIONS_ROUTE}", f"{base}/{LIFECYCLE_ROUTE}"


@dataclass
class KeeperReport:
    """What one keeper run did, per mailbox (JSON-ready through :meth:`to_dict`)."""

    created: list[str] = field(default_factory=list)
    renewed: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    orphans_deleted: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def needs_resync(self) -> list[str]:
        """Mailboxes whose notifications may have been lost (their subscription is new)."""
        return list(self.created)

    def to_dict(self) -> dict:
        return {"created": self.created, "renewed": self.renewed, "current": self.current, "removed": self.removed,
                "orphansDeleted": self.orphans_deleted, "failed": self.failed, "needsResync": self.needs_resync}


class SubscriptionKeeper:
    """Creates, renews, recreates and removes the hosts' Graph subscriptions (see the module docstring)."""

    def __init__(self, services):
        self.services = services
        self.settings: Settings = services.settings
        self.graph = services.graph
        self.store = services.subscriptions

    # ------------------------------------------------------------------ the timer's job

    async def keep(self, now: datetime) -> KeeperReport:
        """Bring Graph's subscriptions in line with the configured hosts (idempotent; safe to run any time)."""
        client_state = self._client_state()
        notification_url, lifecycle_url = endpoint_urls(self.settings)
        wanted = {host.mailbox.strip().lower(): host.id for host in self.services.business.hosts if host.active}
        records = {stored.value.mailbox: stored.value for stored in await self.store.list_all()}
        live = {sub.id: sub for sub in await self.graph.list_subscriptions()}
        report = KeeperReport()
        gate = asyncio.Semaphore(_PARALLEL_MAILBOXES)

        async def keep_one(mailbox: str, host_id: str) -> None:
            async with gate:
                try:
                    await self._keep_mailbox(mailbox, host_id, records.get(mailbox), live, client_state,
                                             notification_url, lifecycle_url, now, report)
                except ExternalServiceError as exc:
                    log.warning("could not keep the subscription of a host mailbox (%s): %s", host_id, exc)
                    report.failed[mailbox] = f"{type(exc).__name__}: {exc}"

        await asyncio.gather(*(keep_one(mailbox, host_id) for mailbox, host_id in wanted.items()))
        for mailbox, record in records.items():
            if mailbox not in wanted:
                await self._unsubscribe(record, live, report)
        await self._delete_orphans(live, notification_url, report)
        log.info("subscription keeper: %d created, %d renewed, %d current, %d removed, %d failed",
                 len(report.created), len(report.renewed), len(report.current), len(report.removed),
                 len(report.failed))
        return report

    async def _keep_mailbox(self, mailbox: str, host_id: str, record: SubscriptionRecord | None,
                            live: dict[str, Subscription], client_state: str, notification_url: str,
                            lifecycle_url: str, now: datetime, report: KeeperReport) -> None:
        sub = live.get(record.subscription_id) if record and record.subscription_id else None
        usable = (sub is not None and record.client_state_hash == client_state_hash(client_state)
                  and sub.notification_url == notification_url and (sub.lifecycle_url or "") == lifecycle_url)
        if not usable:
            if sub is not None:  # made with an old secret or URL: replace it
                await self.graph.delete_subscription(sub.id)
                live.pop(sub.id, None)
            await self._create(mailbox, host_id, client_state, notification_url, lifecycle_url, now)
            report.created.append(mailbox)
            return
        if record.expires_at is not None and record.expires_at - now > RENEW_BEFORE:
            report.current.append(mailbox)
            return
        if await self._renew(record, now):
            report.renewed.append(mailbox)
        else:
            await self._create(mailbox, host_id, client_state, notification_url, lifecycle_url, now)
            report.created.append(mailbox)

    # ------------------------------------------------------------------ single subscriptions (lifecycle events too)

    async def renew(self, subscription_id: str, now: datetime) -> str:
        """``reauthorizationRequired``: renew it; 'renewed', 'recreated' (it was gone) or 'unknown'."""
        stored = await self.store.find_by_subscription_id(subscription_id)
        if stored is None:
            return "unknown"
        if await self._renew(stored.value, now):
            return "renewed"
        await self.recreate(stored.value.mailbox, now)
        return "recreated"

    async def recreate(self, mailbox: str, now: datetime) -> Subscription | None:
        """``subscriptionRemoved`` (or renewal found it gone): subscribe the mailbox afresh, if still a host."""
        mailbox = mailbox.strip().lower()
        host = next((h for h in self.services.business.hosts if h.active and h.mailbox.strip().lower() == mailbox),
                    None)
        if host is None:
            await self.store.delete(mailbox)
            return None
        notification_url, lifecycle_url = endpoint_urls(self.settings)
        stored = await self.store.get(mailbox)
        old_id = stored.value.subscription_id if stored else None
        if old_id:
            await self.graph.delete_subscription(old_id)  # harmless when Graph already dropped it
        return await self._create(mailbox, host.id, self._client_state(), notification_url, lifecycle_url, now)

    async def mailbox_of(self, subscription_id: str) -> str | None:
        stored = await self.store.find_by_subscription_id(subscription_id)
        return stored.value.mailbox if stored else None

    async def _create(self, mailbox: str, host_id: str, client_state: str, notification_url: str,
                      lifecycle_url: str, now: datetime) -> Subscription:
        # Graph POSTs the validation handshake to both URLs before it answers this request.
        sub = await self.graph.create_subscription(mailbox, notification_url, lifecycle_url, client_state,
                                                   now + LIFETIME)
        await self._update_record(mailbox, lambda record: replace(
            record, host_id=host_id, subscription_id=sub.id, expires_at=sub.expires_at,
            client_state_hash=client_state_hash(client_state), updated_at=now))
        log.info("subscribed host %s (subscription %s, expires %s)", host_id, sub.id, sub.expires_at.isoformat())
        return sub

    async def _renew(self, record: SubscriptionRecord, now: datetime) -> bool:
        """Renew the record's subscription; False when Graph no longer has it."""
        try:
            expires = await self.graph.renew_subscription(record.subscription_id, now + LIFETIME)
        except NotFoundError:
            log.info("subscription %s is gone from Graph; subscribing again", record.subscription_id)
            return False
        await self._update_record(record.mailbox, lambda current: replace(current, expires_at=expires, updated_at=now)
                                  if current.subscription_id == record.subscription_id else current)
        return True

    async def _unsubscribe(self, record: SubscriptionRecord, live: dict[str, Subscription],
                           report: KeeperReport) -> None:
        try:
            if record.subscription_id:
                await self.graph.delete_subscription(record.subscription_id)
                live.pop(record.subscription_id, None)
            await self.store.delete(record.mailbox)
            report.removed.append(record.mailbox)
        except ExternalServiceError as exc:
            report.failed[record.mailbox] = f"{type(exc).__name__}: {exc}"

    async def _delete_orphans(self, live: dict[str, Subscription], notification_url: str,
                              report: KeeperReport) -> None:
        known = {stored.value.subscription_id for stored in await self.store.list_all()}
        for sub in list(live.values()):
            if sub.notification_url == notification_url and sub.id not in known:
                try:
                    await self.graph.delete_subscription(sub.id)
                    report.orphans_deleted += 1
                except ExternalServiceError as exc:
                    log.warning("could not delete an orphaned subscription: %s", exc)

    # ------------------------------------------------------------------ records

    async def _update_record(self, mailbox: str,
                             change: Callable[[SubscriptionRecord], SubscriptionRecord]) -> SubscriptionRecord:
        """Read-modify-write the mailbox's record under its ETag (the lifecycle endpoint and resync write it too)."""
        for _ in range(_RECORD_ATTEMPTS):
            stored = await self.store.get(mailbox)
            current = stored.value if stored else SubscriptionRecord(mailbox=mailbox)
            updated = change(current)
            if updated == current and stored is not None:
                return current
            try:
                if stored is None:
                    await self.store.upsert(updated)
                else:
                    await self.store.upsert(updated, etag=stored.etag)
                return updated
            except ConflictError:
                continue
        raise ConflictError("the subscription record kept changing while being updated", service="subscriptions",
                            code="StaleETag")

    def _client_state(self) -> str:
        client_state = expected_client_state(self.settings)
        if client_state is None:
            raise SubscriptionSetupError("GRAPH__CLIENT_STATE_SECRET is not set, so notifications could not be "
                                         "authenticated", service="subscriptions", code="ClientStateSecretMissing")
        return client_state


async def update_delta_state(store, mailbox: str, *, delta_link: str | None, resynced_at: datetime) -> None:
    """Remember a mailbox's calendarView delta link (ETag-guarded: the keeper writes the same row)."""
    for _ in range(_RECORD_ATTEMPTS):
        stored = await store.get(mailbox)
        current = stored.value if stored else SubscriptionRecord(mailbox=mailbox)
        updated = replace(current, delta_link=delta_link, last_resync_at=resynced_at)
        try:
            await (store.upsert(updated, etag=stored.etag) if stored else store.upsert(updated))
            return
        except ConflictError:
            continue
    raise ConflictError("the subscription record kept changing while saving the delta link", service="subscriptions",
                        code="StaleETag")
