"""Durable instance state in Table Storage (Azurite locally), one partition per orchestration instance.

Rows of partition ``<instance id>`` in table ``<taskhub>DevHost``:

- ``state``: name, runtime status, input/output/custom status, the engine's bookkeeping and how many
  history rows belong to the current execution;
- ``h-<execution id>-<sequence>``: one history event each, in the Durable extension's JSON shape;
- ``m-<sequence>``: inbox messages that must survive a restart (start, raised events, terminate...).

An orchestration episode commits as one entity-group transaction (new history rows, the state row
with an ETag check, consumed inbox rows deleted), so storage is always a consistent picture and a
new host on the same storage resumes exactly where the previous one stopped. JSON payloads are split
over several properties because a Table Storage string property holds at most 32K characters.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

STATE_ROW = "state"
CHUNK_CHARS = 30_000
MAX_CHUNKS = 30
BATCH_LIMIT = 100


class PayloadTooLarge(ValueError):
    """A JSON payload above what one Table entity can hold (the real extension would use blobs)."""


class ConcurrentUpdate(RuntimeError):
    """The state row changed underneath us: another host is serving this task hub."""


@dataclass
class Stored:
    """One instance partition as read from storage."""

    state: dict[str, Any]
    etag: str
    history: list[dict] = field(default_factory=list)
    inbox: list[tuple[str, dict]] = field(default_factory=list)


def table_name_for(task_hub: str) -> str:
    return f"{task_hub}DevHost"


def history_key(execution_id: str, sequence: int) -> str:
    return f"h-{execution_id}-{sequence:08d}"


def new_inbox_key() -> str:
    return f"m-{time.time_ns():020d}-{_counter()}"


_sequence = 0


def _counter() -> str:
    global _sequence
    _sequence += 1
    return f"{_sequence:08d}"


def pack(entity: dict, value: Any, prefix: str = "D") -> dict:
    """Store ``value`` as JSON split over properties D0, D1, ..."""
    text = json.dumps(value, separators=(",", ":"))
    chunks = [text[i:i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    if len(chunks) > MAX_CHUNKS:
        raise PayloadTooLarge(f"payload of {len(text)} characters is too large for the development host")
    for index, chunk in enumerate(chunks):
        entity[f"{prefix}{index}"] = chunk
    entity[f"{prefix}n"] = len(chunks)
    return entity


def unpack(entity: dict, prefix: str = "D") -> Any:
    count = int(entity.get(f"{prefix}n", 0))
    if not count:
        return None
    return json.loads("".join(entity[f"{prefix}{index}"] for index in range(count)))


class InstanceStore:
    """Async access to the task hub's table; lives on the host's server loop."""

    def __init__(self, connection_string: str, task_hub: str):
        self._connection_string = connection_string
        self.table_name = table_name_for(task_hub)
        self._table = None
        self._service = None

    async def open(self) -> None:
        from azure.data.tables.aio import TableServiceClient
        self._service = TableServiceClient.from_connection_string(self._connection_string)
        await self._service.create_table_if_not_exists(self.table_name)
        self._table = self._service.get_table_client(self.table_name)

    async def close(self) -> None:
        if self._table is not None:
            await self._table.close()
        if self._service is not None:
            await self._service.close()
        self._table = self._service = None

    async def load(self, instance_id: str) -> Stored | None:
        """State, current-execution history and inbox of one instance (None if it does not exist)."""
        rows = [row async for row in self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": instance_id})]
        state_row = next((row for row in rows if row["RowKey"] == STATE_ROW), None)
        if state_row is None:
            return None
        state = unpack(state_row)
        prefix = f"h-{state['executionId']}-"
        history_rows = sorted((row for row in rows if row["RowKey"].startswith(prefix)), key=lambda r: r["RowKey"])
        history = [unpack(row) for row in history_rows[:state["historyLength"]]]
        inbox = sorted(((row["RowKey"], unpack(row)) for row in rows if row["RowKey"].startswith("m-")),
                       key=lambda item: item[0])
        return Stored(state, state_row.metadata["etag"], history, inbox)

    async def load_state(self, instance_id: str) -> tuple[dict, str] | None:
        from azure.core.exceptions import ResourceNotFoundError
        try:
            row = await self._table.get_entity(instance_id, STATE_ROW)
        except ResourceNotFoundError:
            return None
        return unpack(row), row.metadata["etag"]

    async def list_states(self) -> list[dict]:
        """Every instance's state row (the task hub's instance list)."""
        return [unpack(row) async for row in self._table.query_entities(
            "RowKey eq @rk", parameters={"rk": STATE_ROW})]

    async def create(self, instance_id: str, state: dict, inbox: list[tuple[str, dict]]) -> str:
        """Write a new instance (state + inbox) atomically; returns the state row's ETag."""
        operations = [("create", pack({"PartitionKey": instance_id, "RowKey": STATE_ROW}, state))]
        operations += [("create", pack({"PartitionKey": instance_id, "RowKey": key}, message))
                       for key, message in inbox]
        results = await self._table.submit_transaction(operations)
        return results[0]["etag"]

    async def commit(self, instance_id: str, etag: str, state: dict, new_history: list[dict],
                     first_sequence: int, consumed: list[str], new_inbox: list[tuple[str, dict]]) -> str:
        """Append history, replace the state row (ETag-checked) and settle the inbox in one transaction.

        History rows beyond the committed length are invisible to :meth:`load`, so when there are more
        than fit in one transaction the surplus is written first and the transaction still decides.
        """
        from azure.core import MatchConditions
        from azure.data.tables import TableTransactionError, UpdateMode
        history_ops = [("upsert", pack({"PartitionKey": instance_id,
                                        "RowKey": history_key(state["executionId"], first_sequence + i)}, event))
                       for i, event in enumerate(new_history)]
        final_ops = [("update", pack({"PartitionKey": instance_id, "RowKey": STATE_ROW}, state),
                      {"mode": UpdateMode.REPLACE, "etag": etag, "match_condition": MatchConditions.IfNotModified})]
        final_ops += [("delete", {"PartitionKey": instance_id, "RowKey": key}) for key in consumed]
        final_ops += [("create", pack({"PartitionKey": instance_id, "RowKey": key}, message))
                      for key, message in new_inbox]
        room = BATCH_LIMIT - len(final_ops)
        if room < 0:
            raise PayloadTooLarge("too many inbox changes for one transaction")
        surplus, history_ops = history_ops[:max(0, len(history_ops) - room)], history_ops[max(0, len(history_ops) - room):]
        for start in range(0, len(surplus), BATCH_LIMIT):
            await self._table.submit_transaction(surplus[start:start + BATCH_LIMIT])
        try:
            results = await self._table.submit_transaction(final_ops[:1] + history_ops + final_ops[1:])
        except TableTransactionError as exc:
            if "UpdateConditionNotSatisfied" in str(exc) or getattr(exc, "status_code", None) == 412:
                raise ConcurrentUpdate(f"instance {instance_id} was changed by someone else") from exc
            raise
        return results[0]["etag"]

    async def append_inbox(self, instance_id: str, message: dict) -> str:
        key = new_inbox_key()
        await self._table.create_entity(pack({"PartitionKey": instance_id, "RowKey": key}, message))
        return key

    async def delete_row(self, instance_id: str, row_key: str) -> None:
        await self._table.delete_entity(instance_id, row_key)

    async def delete_rows(self, instance_id: str, predicate=lambda key: True) -> int:
        """Delete the partition's rows whose RowKey satisfies ``predicate``; returns how many."""
        keys = [row["RowKey"] async for row in self._table.query_entities(
            "PartitionKey eq @pk", parameters={"pk": instance_id}, select=["RowKey"])]
        keys = [key for key in keys if predicate(key)]
        for start in range(0, len(keys), BATCH_LIMIT):
            await self._table.submit_transaction(
                [("delete", {"PartitionKey": instance_id, "RowKey": key}) for key in keys[start:start + BATCH_LIMIT]])
        return len(keys)


def iso(moment: datetime) -> str:
    return moment.isoformat()


def from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text)
