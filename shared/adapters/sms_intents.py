"""The SMS outbox: an intent to send, recorded in Table Storage before the gateway is called.

Durable runs the notification activity at least once, so a worker that dies after the gateway accepted a
text and before anyone wrote that down would text the customer again on the retry. To make texts
at-most-once, :class:`shared.adapters.sms.SmsSender` records an *intent* first, keyed by a deterministic
key of the text (booking, change, channel), and the gateway adapters use it on a retry:

- ACS: the intent's ``request_id`` (a UUID derived from the key) and ``first_sent`` time go out as the
  recipient's ``repeatabilityRequestId`` / ``repeatabilityFirstSent``, so ACS answers a repeat with the first
  answer and sends nothing (within its 5-minute tracking window);
- Twilio (no idempotency key): an attempt whose outcome was not recorded is looked up first (recipient,
  sender, sent since the intent, same body) and only sent when Twilio has no such message.

One row per text in the ``smsintents`` table: ``PartitionKey`` = the first two hex characters of the key's
SHA-256, ``RowKey`` = the hash. No personal data: the number is masked and the body kept only as a hash.
States: ``sending`` (the gateway may or may not have it) and ``accepted`` (with the gateway's message id).
An attempt the gateway definitely refused deletes the row, so the next attempt starts afresh.
An accepted text also gets a row in partition ``message`` keyed by the hash of the gateway's message id and
naming the text's key, so a delivery report (which carries only the message id) finds its booking.
Retention deletes both kinds ``RETENTION__SMS_INTENT_DAYS`` after they were written
(:meth:`SmsIntentStore.purge_before`).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

from shared import clock
from shared.adapters.store_tables import as_utc, delete_matching, get_table, translated_errors
from shared.config import Settings
from shared.logs import mask_phone

TABLE = "smsintents"
# A fixed namespace: the same key gives the same repeatability id in every process and every release.
_NAMESPACE = uuid.UUID("6f1c1f7e-8a53-4c1e-9e0f-4b7f3f1d2a10")
UTC = timezone.utc


def row_keys(key: str) -> tuple[str, str]:
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    return digest[:2], digest


_MESSAGE_PARTITION = "message"


def message_key(message_id: str) -> str:
    """Row key of the gateway message id -> text key row (a hash: ids are long and may hold any character)."""
    return hashlib.sha256(message_id.encode("utf-8")).hexdigest()


def request_id_for(key: str) -> str:
    """The deterministic GUID sent as ACS's ``repeatabilityRequestId`` for the text ``key`` names."""
    return str(uuid.uuid5(_NAMESPACE, key))


def body_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SmsIntent:
    """One text Frontdesk means to send (or sent): what a retry needs to avoid sending it twice."""

    key: str
    request_id: str
    first_sent: datetime  # when the first attempt was about to go out (aware UTC)
    body_hash: str
    provider: str
    status: str = "sending"  # sending | accepted
    message_id: str | None = None
    fresh: bool = True  # False: an earlier attempt recorded this intent and never its outcome
    etag: str | None = None

    def same_text(self, body: str) -> bool:
        return self.body_hash == body_hash(body)


class SmsIntentStore:
    """Intents to send texts, in ``table_name(settings, "smsintents")``."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def begin(self, key: str, *, to: str, body: str, provider: str) -> SmsIntent:
        """Record the intent to send the text ``key`` names, or return the one an earlier attempt recorded."""
        from azure.core.exceptions import ResourceExistsError
        table = await get_table(self._settings, TABLE)
        partition, row = row_keys(key)
        now = clock.now().astimezone(UTC).replace(microsecond=0)  # the IMF-fixdate sent to ACS has seconds
        intent = SmsIntent(key=key, request_id=request_id_for(key), first_sent=now, body_hash=body_hash(body),
                           provider=provider)
        entity = {"PartitionKey": partition, "RowKey": row, "Status": intent.status, "RequestId": intent.request_id,
                  "FirstSent": now, "BodyHash": intent.body_hash, "Provider": provider, "To": mask_phone(to)}
        with translated_errors("record an SMS intent"):
            try:
                metadata = await table.create_entity(entity)
                return _with_etag(intent, metadata)
            except ResourceExistsError:
                pass
            current = await table.get_entity(partition, row)
        return _intent_of(key, current)

    async def settle(self, intent: SmsIntent, message_id: str) -> None:
        """Record that the gateway accepted the text (``message_id``): later attempts send nothing."""
        from azure.data.tables import UpdateMode
        table = await get_table(self._settings, TABLE)
        partition, row = row_keys(intent.key)
        with translated_errors("record an SMS as accepted"):
            await table.update_entity({"PartitionKey": partition, "RowKey": row, "Status": "accepted",
                                       "MessageId": message_id, "AcceptedAt": clock.now()}, mode=UpdateMode.MERGE)
            if message_id:  # delivery reports name only the gateway's message id: remember which text it was
                await table.upsert_entity({"PartitionKey": _MESSAGE_PARTITION, "RowKey": message_key(message_id),
                                           "Key": intent.key, "At": clock.now()}, mode=UpdateMode.REPLACE)

    async def key_of_message(self, message_id: str) -> str | None:
        """The key of the text the gateway accepted as ``message_id`` (delivery reports), or None."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await get_table(self._settings, TABLE)
        with translated_errors("read an SMS message id"):
            try:
                return (await table.get_entity(_MESSAGE_PARTITION, message_key(message_id))).get("Key")
            except ResourceNotFoundError:
                return None

    async def discard(self, intent: SmsIntent) -> None:
        """Forget an intent the gateway definitely refused (nothing was sent): the next attempt starts afresh."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await get_table(self._settings, TABLE)
        with translated_errors("discard an SMS intent"):
            try:
                await table.delete_entity(*row_keys(intent.key))
            except ResourceNotFoundError:
                pass

    async def get(self, key: str) -> SmsIntent | None:
        from azure.core.exceptions import ResourceNotFoundError
        table = await get_table(self._settings, TABLE)
        with translated_errors("read an SMS intent"):
            try:
                return _intent_of(key, await table.get_entity(*row_keys(key)))
            except ResourceNotFoundError:
                return None


    async def purge_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` intents first sent, and message-id rows written, before ``before``; how many.

        For the retention timer: a retry comes within minutes and a delivery report within a day, so an
        older row protects nothing. Rows already gone are no error (two runs may overlap)."""
        table = await get_table(self._settings, TABLE)
        with translated_errors("purge SMS intents"):
            return await delete_matching(table, "FirstSent lt @before or At lt @before", {"before": before}, limit)


def _with_etag(intent: SmsIntent, metadata) -> SmsIntent:
    from dataclasses import replace
    return replace(intent, etag=(metadata or {}).get("etag"))


def _intent_of(key: str, entity) -> SmsIntent:
    return SmsIntent(key=key, request_id=entity["RequestId"], first_sent=as_utc(entity["FirstSent"]),
                     body_hash=entity.get("BodyHash", ""), provider=entity.get("Provider", ""),
                     status=entity.get("Status", "sending"), message_id=entity.get("MessageId"), fresh=False,
                     etag=entity.metadata.get("etag"))
