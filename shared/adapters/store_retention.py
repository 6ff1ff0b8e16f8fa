"""Where the retention purge left off: its cursor through Durable history, kept in Table Storage.

One row (PartitionKey ``retention``, RowKey ``durable``) in the ``retention`` table: ``Cursor`` (every finished
instance created before it is already purged) and ``WindowHours`` (the creation-time window the next purge call
covers). Saved after every window, so a run cut short by its budget, a crash or a redeploy resumes there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.adapters.store_tables import as_utc, get_table, translated_errors
from shared.config import Settings

TABLE = "retention"
_PARTITION = "retention"
_DURABLE_ROW = "durable"


@dataclass(frozen=True, slots=True)
class DurableCursor:
    cursor: datetime
    window_hours: float


class RetentionStateStore:
    """The purge's own bookkeeping (no personal data)."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def durable_cursor(self) -> DurableCursor | None:
        from azure.core.exceptions import ResourceNotFoundError
        table = await get_table(self._settings, TABLE)
        with translated_errors("read retention cursor"):
            try:
                row = await table.get_entity(_PARTITION, _DURABLE_ROW)
            except ResourceNotFoundError:
                return None
        return DurableCursor(as_utc(row["Cursor"]), float(row.get("WindowHours") or 24.0))

    async def save_durable_cursor(self, state: DurableCursor) -> None:
        from azure.data.tables import UpdateMode
        table = await get_table(self._settings, TABLE)
        with translated_errors("save retention cursor"):
            await table.upsert_entity({"PartitionKey": _PARTITION, "RowKey": _DURABLE_ROW, "Cursor": state.cursor,
                                       "WindowHours": state.window_hours}, mode=UpdateMode.REPLACE)
