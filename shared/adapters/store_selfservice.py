"""Locks on a booking's phone self-service, in Table Storage (``selfservicelocks``).

Three wrong ZIP codes for a booking in one call lock that booking's changes by phone for a while
(``LOCK_FOR``): the receptionist then only takes a message. One row per booking (PartitionKey = booking id,
RowKey ``phone``) with ``Until`` and a count; no personal data (the caller id is not stored). A lock is a
point read on every lookup that finds the booking; a lapsed row is the same as no row (and is overwritten
by the next lock), so nothing has to clean it up for correctness; retention deletes lapsed rows a day later.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.adapters.store_tables import as_utc, delete_matching, get_table, safe_key, translated_errors
from shared.config import Settings

TABLE = "selfservicelocks"
ROW = "phone"
LOCK_FOR = timedelta(hours=1)


class SelfServiceLocks:
    """Which bookings' phone self-service is locked, and until when."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def _table(self):
        return await get_table(self._settings, TABLE)

    async def locked_until(self, booking_id: str, now: datetime) -> datetime | None:
        """When the lock on ``booking_id`` lapses, or None when it is not locked at ``now``."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await self._table()
        with translated_errors("read self-service lock"):
            try:
                row = await table.get_entity(safe_key(booking_id), ROW)
            except ResourceNotFoundError:
                return None
        until = as_utc(row.get("Until"))
        return until if until is not None and until > now else None

    async def lock(self, booking_id: str, now: datetime, reason: str) -> datetime:
        """Lock ``booking_id`` from ``now`` for :data:`LOCK_FOR` (again, if it was); returns the lapse time."""
        from azure.data.tables import UpdateMode
        until = now + LOCK_FOR
        table = await self._table()
        with translated_errors("write self-service lock"):
            await table.upsert_entity({"PartitionKey": safe_key(booking_id), "RowKey": ROW, "Until": until,
                                       "LockedAt": now, "Reason": reason[:200]}, mode=UpdateMode.REPLACE)
        return until

    async def purge_lapsed(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` locks that lapsed before ``before``; how many (retention)."""
        table = await self._table()
        with translated_errors("purge lapsed self-service locks"):
            return await delete_matching(table, "Until lt @before", {"before": before}, limit)
