"""The waitlist and its offers, in the ``waitlist`` table (Table Storage).

- **Entries** (who would take an earlier or any time in a window): one row per local date of the window,
  ``PartitionKey`` ``e:<event type>:<YYYY-MM-DD>`` (the business's calendar date), ``RowKey`` the entry id,
  so a freed slot reads exactly one partition. The document (the customer's name, phone, address, postal
  code, the window, their current booking, the expiry) is a JSON column.
- **Offers**: one ``offer`` row per freed slot (``RowKey`` the offer orchestration's instance id) with the
  slot, the offered entries (a snapshot of each entry's document) and the expiry; and one row per offered
  number (``PartitionKey`` ``o:<hash of the E.164 number>``) naming that offer, so a reply is matched to its
  offer with one partition read. Phone numbers never appear in a key (keys end up in logs and URLs).

Rows carry ``KeepUntil`` (an entry: its expiry; an offer: a day after it lapsed, so a late reply still hears
"that offer has expired"); :meth:`WaitlistStore.purge_expired` deletes the rows past it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shared.adapters.store_tables import (as_utc, delete_matching, get_table, pack_json, safe_key,
                                          translated_errors, unpack_json, unsafe_key)
from shared.config import Settings

TABLE = "waitlist"
_PREFIX = "frontdesk-waitlist:"
OFFER_PARTITION = "offer"
KEEP_OFFERS = timedelta(days=1)  # a late reply is still told "that offer has expired" for a day


def phone_digest(e164: str) -> str:
    return hashlib.sha256((_PREFIX + e164).encode("utf-8")).hexdigest()[:32]


def entry_partition(event_type: str, day: date) -> str:
    return safe_key(f"e:{event_type}:{day.isoformat()}")


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """One freed slot offered to some entries: the slot, the entries (snapshots), until when, and how it ended."""

    offer_id: str
    slot: dict[str, Any]
    entries: list[dict[str, Any]]
    expires_at: datetime
    status: str  # open | taken | expired
    winner_entry_id: str | None = None


@dataclass(frozen=True, slots=True)
class NumberOffer:
    """An offer as one texted number sees it."""

    offer_id: str
    entry_id: str
    expires_at: datetime
    offered_at: datetime


class WaitlistStore:
    """Entries by event type and date; offers by id and by number."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def _table(self):
        return await get_table(self._settings, TABLE)

    # ------------------------------------------------------------ entries

    async def put_entry(self, entry: dict[str, Any], days: list[date], *, expires_at: datetime) -> None:
        """Write the entry into each date's partition (replacing an earlier version of it)."""
        from azure.data.tables import UpdateMode
        table = await self._table()
        with translated_errors("save a waitlist entry"):
            for day in days:
                await table.upsert_entity({"PartitionKey": entry_partition(entry["eventType"], day),
                                           "RowKey": safe_key(entry["entryId"]), "ExpiresAt": expires_at,
                                           "KeepUntil": expires_at,
                                           **pack_json(entry)}, mode=UpdateMode.REPLACE)

    async def delete_entry(self, event_type: str, entry_id: str, days: list[date]) -> None:
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("delete a waitlist entry"):
            for day in days:
                try:
                    await table.delete_entity(entry_partition(event_type, day), safe_key(entry_id))
                except ResourceNotFoundError:
                    pass

    async def entries_on(self, event_type: str, day: date) -> list[dict[str, Any]]:
        """The entries whose window covers ``day`` for ``event_type`` (expired ones included; callers filter)."""
        table = await self._table()
        partition = entry_partition(event_type, day)
        with translated_errors("read the waitlist"):
            rows = [row async for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})]
        return [unpack_json(row) for row in rows]

    # ------------------------------------------------------------ offers

    async def save_offer(self, offer: OfferRecord, *, now: datetime) -> None:
        """The offer row, then one row per offered number (replacing any older offer to the same number)."""
        from azure.data.tables import UpdateMode
        table = await self._table()
        document = {"offerId": offer.offer_id, "slot": offer.slot, "entries": offer.entries,
                    "expiresAt": offer.expires_at.isoformat(), "status": offer.status,
                    "winnerEntryId": offer.winner_entry_id}
        with translated_errors("save a waitlist offer"):
            await table.upsert_entity({"PartitionKey": OFFER_PARTITION, "RowKey": safe_key(offer.offer_id),
                                       "ExpiresAt": offer.expires_at, "KeepUntil": offer.expires_at + KEEP_OFFERS,
                                       **pack_json(document)},
                                      mode=UpdateMode.REPLACE)
            for entry in offer.entries:
                await table.upsert_entity({"PartitionKey": "o:" + phone_digest(entry["phone"]),
                                           "RowKey": safe_key(offer.offer_id), "EntryId": entry["entryId"],
                                           "ExpiresAt": offer.expires_at, "OfferedAt": now,
                                           "KeepUntil": offer.expires_at + KEEP_OFFERS},
                                          mode=UpdateMode.REPLACE)

    async def get_offer(self, offer_id: str) -> OfferRecord | None:
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("read a waitlist offer"):
            try:
                row = await table.get_entity(OFFER_PARTITION, safe_key(offer_id))
            except ResourceNotFoundError:
                return None
        doc = unpack_json(row)
        return OfferRecord(doc["offerId"], doc["slot"], doc["entries"], datetime.fromisoformat(doc["expiresAt"]),
                           doc["status"], doc.get("winnerEntryId"))

    async def set_offer_status(self, offer: OfferRecord, status: str, winner_entry_id: str | None) -> None:
        from azure.data.tables import UpdateMode
        table = await self._table()
        document = {"offerId": offer.offer_id, "slot": offer.slot, "entries": offer.entries,
                    "expiresAt": offer.expires_at.isoformat(), "status": status, "winnerEntryId": winner_entry_id}
        with translated_errors("close a waitlist offer"):
            await table.upsert_entity({"PartitionKey": OFFER_PARTITION, "RowKey": safe_key(offer.offer_id),
                                       "ExpiresAt": offer.expires_at, "KeepUntil": offer.expires_at + KEEP_OFFERS,
                                       **pack_json(document)},
                                      mode=UpdateMode.REPLACE)

    async def offers_to(self, e164: str) -> list[NumberOffer]:
        """Offers texted to this number, newest first."""
        table = await self._table()
        with translated_errors("read the offers to a number"):
            rows = [row async for row in table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": "o:" + phone_digest(e164)})]
        offers = [NumberOffer(unsafe_key(row["RowKey"]), row["EntryId"], as_utc(row["ExpiresAt"]),
                              as_utc(row["OfferedAt"])) for row in rows]
        return sorted(offers, key=lambda offer: offer.offered_at, reverse=True)

    # ------------------------------------------------------------ export and erasure (shared/services/privacy.py)

    async def find_entries(self, entry_ids: list[str]) -> list[tuple[str, str, dict[str, Any]]]:
        """Every row of these entries, in any date's partition: ``(PartitionKey, RowKey, document)``.

        A filter on ``RowKey`` alone reads the table server-side; the table is small (entries go at their
        expiry, offers a day after they lapse) and privacy requests are rare."""
        table = await self._table()
        found = []
        with translated_errors("find waitlist entries"):
            for entry_id in entry_ids:
                async for row in table.query_entities("RowKey eq @rk", parameters={"rk": safe_key(entry_id)}):
                    found.append((row["PartitionKey"], row["RowKey"], unpack_json(row)))
        return found

    async def delete_rows(self, keys: list[tuple[str, str]]) -> int:
        """Delete these rows (already gone is no error); how many were asked for."""
        table = await self._table()
        with translated_errors("erase waitlist rows"):
            for partition, row in keys:
                await table.delete_entity(partition, row)
        return len(keys)

    async def forget_number(self, e164: str) -> int:
        """Erasure: delete the rows naming the offers texted to this number; how many."""
        partition = "o:" + phone_digest(e164)
        table = await self._table()
        with translated_errors("erase the offers to a number"):
            rows = [row async for row in table.query_entities("PartitionKey eq @pk", parameters={"pk": partition},
                                                              select=["PartitionKey", "RowKey"])]
        return await self.delete_rows([(row["PartitionKey"], row["RowKey"]) for row in rows])

    async def scrub_offer(self, offer: OfferRecord, entry_ids: set[str], erased: str) -> None:
        """Erasure: keep the (closed) offer, with these entries' snapshots reduced to their ids."""
        entries = [{"entryId": e["entryId"], "phone": None, "customer": {"name": erased}}
                   if e.get("entryId") in entry_ids else e for e in offer.entries]
        from dataclasses import replace
        await self.set_offer_status(replace(offer, entries=entries), offer.status, offer.winner_entry_id)

    # ------------------------------------------------------------ retention

    async def purge_expired(self, now: datetime, *, limit: int = 500) -> int:
        """Delete up to ``limit`` entries and offers whose expiry has passed; how many were deleted."""
        table = await self._table()
        with translated_errors("purge the waitlist"):
            return await delete_matching(table, "KeepUntil lt @now", {"now": now}, limit)
