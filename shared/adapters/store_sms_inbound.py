"""What two-way SMS must remember between texts, in the ``smsinbound`` table (Table Storage).

- **Messages already acted on.** Gateways deliver a webhook more than once (Twilio retries a timed-out
  request, Event Grid retries until it gets a 2xx). Each inbound message or event is claimed with an
  insert-if-absent row (``PartitionKey`` ``seen:<2 hex>``, ``RowKey`` the SHA-256 of provider and id): the first
  delivery wins the insert and is acted on; any later one finds the row and changes nothing. Handling that
  fails releases the claim, so the gateway's retry is acted on instead of lost.
- **Cancellations waiting for their confirmation.** A texted ``C`` only asks; the row (``confirm`` /
  hash of the sender's number) names the booking and when the question lapses. The confirming text must be
  another message (a duplicate of the first is already claimed above), so one stray ``C`` cannot cancel.
- **Things done once.** ``once`` rows (e.g. "the owner was told this booking's number cannot get texts")
  are inserted if absent; only the inserter goes on.

Keys are hashes: phone numbers never appear in a key (keys travel in request URLs and end up in logs).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from shared.adapters.store_tables import as_utc, get_table, translated_errors
from shared.config import Settings

TABLE = "smsinbound"
_PREFIX = "frontdesk-sms-inbound:"


def _digest(*parts: str) -> str:
    return hashlib.sha256((_PREFIX + "\n".join(parts)).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class PendingCancel:
    """A ``C`` waiting for its confirmation: which booking, asked by which message, until when."""

    booking_id: str
    asked_by: str  # the message id of the first C
    expires_at: datetime


class SmsInboundLedger:
    """Dedupe records, pending cancellations and do-once markers for inbound texts and delivery reports."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def _table(self):
        return await get_table(self._settings, TABLE)

    @staticmethod
    def _seen_keys(provider: str, message_id: str) -> tuple[str, str]:
        digest = _digest("seen", provider, message_id)
        return "seen:" + digest[:2], digest

    async def claim(self, provider: str, message_id: str, *, now: datetime) -> bool:
        """True for the first delivery of this message (act on it); False for any repeat."""
        from azure.core.exceptions import ResourceExistsError
        partition, row = self._seen_keys(provider, message_id)
        table = await self._table()
        with translated_errors("claim an inbound text"):
            try:
                await table.create_entity({"PartitionKey": partition, "RowKey": row, "Provider": provider,
                                           "ReceivedAt": now})
            except ResourceExistsError:
                return False
        return True

    async def release(self, provider: str, message_id: str) -> None:
        """Forget a claim whose handling failed, so the gateway's retry is acted on."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("release an inbound text"):
            try:
                await table.delete_entity(*self._seen_keys(provider, message_id))
            except ResourceNotFoundError:
                pass

    @staticmethod
    def _confirm_keys(e164: str) -> tuple[str, str]:
        return "confirm", _digest("confirm", e164)

    async def pending_cancel(self, e164: str) -> PendingCancel | None:
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("read a pending cancellation"):
            try:
                row = await table.get_entity(*self._confirm_keys(e164))
            except ResourceNotFoundError:
                return None
        if row.get("Taken"):  # consumed; only its deletion was left undone
            return None
        return PendingCancel(row["BookingId"], row.get("AskedBy", ""), as_utc(row["ExpiresAt"]))

    async def ask_cancel(self, e164: str, pending: PendingCancel) -> None:
        """Remember that ``e164`` was asked to confirm cancelling ``pending.booking_id`` (replaces any older ask)."""
        from azure.data.tables import UpdateMode
        partition, row = self._confirm_keys(e164)
        table = await self._table()
        with translated_errors("record a pending cancellation"):
            await table.upsert_entity({"PartitionKey": partition, "RowKey": row, "BookingId": pending.booking_id,
                                       "AskedBy": pending.asked_by, "ExpiresAt": pending.expires_at},
                                      mode=UpdateMode.REPLACE)

    async def take_cancel(self, e164: str) -> bool:
        """Consume the pending cancellation (True for the one caller that deleted it)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        table = await self._table()
        partition, row = self._confirm_keys(e164)
        with translated_errors("consume a pending cancellation"):
            try:
                entity = await table.get_entity(partition, row)
                if entity.get("Taken"):
                    return False
                # The SDK reports deleting a row that is already gone as success, even with If-Match, so the
                # claim is an ETag-checked update (404 and 412 do raise): only one caller's update can win.
                await table.update_entity({"PartitionKey": partition, "RowKey": row, "Taken": True},
                                          etag=entity.metadata["etag"], match_condition=MatchConditions.IfNotModified)
            except (ResourceNotFoundError, ResourceModifiedError):
                return False
            await table.delete_entity(partition, row)
        return True

    async def forget_cancel(self, e164: str) -> None:
        """Erasure: drop the number's pending cancellation, if any (deleting a missing row is no error)."""
        table = await self._table()
        with translated_errors("erase a pending cancellation"):
            await table.delete_entity(*self._confirm_keys(e164))

    async def once(self, name: str, *, now: datetime) -> bool:
        """True the first time ``name`` is asked for, False ever after (insert-if-absent)."""
        from azure.core.exceptions import ResourceExistsError
        digest = _digest("once", name)
        table = await self._table()
        with translated_errors("record a one-time action"):
            try:
                await table.create_entity({"PartitionKey": "once:" + digest[:2], "RowKey": digest, "At": now})
            except ResourceExistsError:
                return False
        return True

    async def forget_once(self, name: str) -> None:
        """Undo :meth:`once` (the action it guarded failed, so a later attempt may do it)."""
        digest = _digest("once", name)
        table = await self._table()
        with translated_errors("forget a one-time action"):
            await table.delete_entity("once:" + digest[:2], digest)

    async def purge_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` records older than ``before`` (claims received, questions lapsed, once markers
        made); returns how many. For the retention timer: a gateway retries for a day at most, so a claim
        older than that protects nothing."""
        table = await self._table()
        query = "ReceivedAt lt @before or ExpiresAt lt @before or At lt @before"
        deleted = 0
        with translated_errors("purge inbound text records"):
            async for row in table.query_entities(query, parameters={"before": before},
                                                  select=["PartitionKey", "RowKey"], results_per_page=min(limit, 1000)):
                await table.delete_entity(row["PartitionKey"], row["RowKey"])
                deleted += 1
                if deleted >= limit:
                    break
        return deleted
