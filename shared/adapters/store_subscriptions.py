"""Graph subscriptions per host mailbox in Table Storage, findable by subscription id.

One row per mailbox (PartitionKey ``mailbox``, RowKey = the lower-cased address): the subscription id,
its expiry, a hash of its clientState, the calendarView delta link and when the mailbox was last
resynchronised. The notification endpoint looks rows up by subscription id through an index row
(PartitionKey ``subscription``, RowKey = subscription id), written before the mailbox row and checked
against it, like the booking index. The renewal timer and the lifecycle endpoint can both write a
mailbox's row, so ``upsert`` takes the ETag from ``get`` when the caller wants to detect the other.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from shared.adapters.store_tables import (as_utc, check_string, etag_of, get_table, safe_key, translated_errors,
                                          unsafe_key)
from shared.config import Settings
from shared.errors import ConflictError
from shared.ports import Stored, SubscriptionRecord

MAILBOX_PARTITION = "mailbox"
SUBSCRIPTION_PARTITION = "subscription"
_COLUMNS = {  # record field -> column
    "host_id": "HostId",
    "subscription_id": "SubscriptionId",
    "expires_at": "ExpiresAt",
    "client_state_hash": "ClientStateHash",
    "delta_link": "DeltaLink",
    "last_resync_at": "LastResyncAt",
    "updated_at": "UpdatedAt",
}
_INSTANTS = {"expires_at", "last_resync_at", "updated_at"}


def _mailbox_key(mailbox: str) -> str:
    return safe_key(mailbox.strip().lower())


def _entity(record: SubscriptionRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": MAILBOX_PARTITION, "RowKey": _mailbox_key(record.mailbox)}
    for name, column in _COLUMNS.items():
        value = getattr(record, name)
        if value is not None:
            entity[column] = check_string(name, value) if isinstance(value, str) else value
    return entity


def _record(entity: Any) -> SubscriptionRecord:
    values = {name: entity.get(column) for name, column in _COLUMNS.items()}
    for name in _INSTANTS:
        values[name] = as_utc(values[name])
    return SubscriptionRecord(mailbox=unsafe_key(entity["RowKey"]), **values)


class SubscriptionStore:
    """Subscription rows in the ``subscriptions`` table."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def _table(self):
        return await get_table(self._settings, "subscriptions")

    async def get(self, mailbox: str) -> Stored[SubscriptionRecord] | None:
        """The mailbox's subscription record and its ETag, or None."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("read subscription"):
            try:
                entity = await table.get_entity(MAILBOX_PARTITION, _mailbox_key(mailbox))
            except ResourceNotFoundError:
                return None
        return Stored(_record(entity), etag_of(entity))

    async def upsert(self, record: SubscriptionRecord, etag: str | None = None) -> Stored[SubscriptionRecord]:
        """Write the mailbox's record: unconditionally, or only over the version read with ``etag``."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode
        record = replace(record, mailbox=record.mailbox.strip().lower())
        table = await self._table()
        previous = await self.get(record.mailbox)
        if record.subscription_id:
            with translated_errors("index subscription"):
                await table.upsert_entity({"PartitionKey": SUBSCRIPTION_PARTITION,
                                           "RowKey": safe_key(record.subscription_id),
                                           "Mailbox": record.mailbox}, mode=UpdateMode.REPLACE)
        with translated_errors("save subscription"):
            try:
                if etag is None:
                    result = await table.upsert_entity(_entity(record), mode=UpdateMode.REPLACE)
                else:
                    result = await table.update_entity(_entity(record), mode=UpdateMode.REPLACE, etag=etag,
                                                       match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                raise ConflictError("subscription record was changed by someone else", service="subscriptions",
                                    code="StaleETag") from None
        old_id = previous.value.subscription_id if previous else None
        if old_id and old_id != record.subscription_id:
            await self._drop_index(old_id)
        return Stored(record, etag_of(result))

    async def delete(self, mailbox: str) -> None:
        """Forget the mailbox's subscription record (a missing one is fine)."""
        table = await self._table()
        previous = await self.get(mailbox)
        with translated_errors("delete subscription"):
            await table.delete_entity(MAILBOX_PARTITION, _mailbox_key(mailbox))
        if previous and previous.value.subscription_id:
            await self._drop_index(previous.value.subscription_id)

    async def list_all(self) -> list[Stored[SubscriptionRecord]]:
        """Every mailbox's record (one partition: a business has tens of hosts, not millions)."""
        table = await self._table()
        with translated_errors("list subscriptions"):
            return [Stored(_record(entity), etag_of(entity)) async for entity in
                    table.query_entities("PartitionKey eq @pk", parameters={"pk": MAILBOX_PARTITION})]

    async def find_by_subscription_id(self, subscription_id: str) -> Stored[SubscriptionRecord] | None:
        """The record whose current subscription is ``subscription_id``, or None (unknown or replaced)."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("find subscription"):
            try:
                entry = await table.get_entity(SUBSCRIPTION_PARTITION, safe_key(subscription_id))
            except ResourceNotFoundError:
                return None
        stored = await self.get(entry["Mailbox"])
        if stored is None or stored.value.subscription_id != subscription_id:
            return None  # a stale hint: the mailbox has a newer subscription
        return stored

    async def purge_expired(self, before: datetime) -> int:
        """Forget the records of subscriptions that expired before ``before`` and were never renewed.

        The keeper renews live mailboxes every few hours, so such a record belongs to a mailbox no longer
        configured (a technician who left). Returns how many records went.
        """
        expired = [stored.value.mailbox for stored in await self.list_all()
                   if stored.value.expires_at is not None and stored.value.expires_at < before]
        for mailbox in expired:
            await self.delete(mailbox)
        return len(expired)

    async def _drop_index(self, subscription_id: str) -> None:
        table = await self._table()
        with translated_errors("drop subscription index"):
            await table.delete_entity(SUBSCRIPTION_PARTITION, safe_key(subscription_id))
