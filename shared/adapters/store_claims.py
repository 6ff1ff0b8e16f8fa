"""Claims on hosts' time in Table Storage: the mechanism that makes double booking impossible.

One row per claimed granule: PartitionKey = host id, RowKey = granule start (``20260302T150500Z``),
columns Holder (booking id), Kind (hold/booking), ExpiresAt (holds), GranuleSeconds, ClaimedAt.
A claim inserts all its granules in ONE entity-group transaction (a host is one partition), so of two
overlapping claims at most one can commit. When a claim meets existing rows it reads them and plans
(:func:`shared.domain.claims.plan_claim`): the holder's own rows are refreshed (idempotent re-claim),
someone's expired hold is taken over with an ETag-conditional update inside the same transaction (so
of two takers only one commits), anything live is a conflict.

Claims over 100 granules. A transaction takes at most 100 operations (Azurite breaks the connection,
Azure answers 400), which is 8 h 20 min of 5-minute granules. Coarser granules for long claims are no
way out: rows of different sizes would not collide. Longer claims are therefore committed as
sequential transactions of up to 100 granules in ascending time order, and if a later chunk loses,
the chunks already committed are undone (created or taken rows deleted, refreshed rows restored,
each ETag-conditional). The trade-off, documented: such a claim is not atomic as a whole, so a
concurrent claimer may briefly see part of it and lose even though the long claim then loses too --
both may lose, never both win (every granule has one owner at a time, and two overlapping claims
share a granule). Claiming in ascending order is a lock order: of two long claims the one that commits
the lowest shared granule first meets none of the other's rows later, so one of them does win. A crash
between chunks leaves a partial claim; holds carry their expiry and lapse, and the saga's
compensation releases by holder either way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.store_tables import (as_utc, etag_of, get_table, instant_key, parse_instant_key, safe_key,
                                          storage_error, translated_errors)
from shared.config import Settings
from shared.domain.claims import (DEFAULT_GRANULE, ClaimKind, GranuleClaim, chunked, floor_to_granule, plan_claim)
from shared.errors import TransientError
from shared.logs import get_logger
from shared.ports import ClaimedInterval, ClaimOutcome

log = get_logger(__name__)

MAX_TRANSACTION_OPERATIONS = 100
_CLAIM_COLUMNS = ["PartitionKey", "RowKey", "Holder", "Kind", "ExpiresAt", "GranuleSeconds", "ClaimedAt"]
# Status codes of a transaction that lost a race with another writer; re-reading and re-planning helps.
_RACE_STATUSES = (404, 409, 412)


@dataclass(frozen=True, slots=True)
class _Row:
    """A stored claim row: who holds the granule, and the ETag to change it with."""

    granule: datetime
    claim: GranuleClaim
    etag: str
    entity: dict[str, Any]


@dataclass
class _Committed:
    """What one committed chunk changed, so it can be undone if a later chunk loses."""

    created: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (entity, etag now)
    restorable: list[tuple[dict[str, Any], str]] = field(default_factory=list)  # (entity before, etag now)


class ClaimStore:
    """Claims of hosts' time in the ``claims`` table (see the module docstring for the rules)."""

    def __init__(self, settings: Settings, *, granule: timedelta = DEFAULT_GRANULE, max_attempts: int = 6):
        if granule < timedelta(seconds=1) or granule % timedelta(seconds=1):
            raise ValueError("granule must be a whole number of seconds")
        self._settings = settings
        self.granule = granule
        self._max_attempts = max_attempts

    # ------------------------------------------------------------ public API

    async def claim(self, host_id: str, granules: Sequence[datetime], holder_id: str,
                    kind: ClaimKind = "hold", expires_at: datetime | None = None, *,
                    now: datetime) -> ClaimOutcome:
        """Claim every granule for ``holder_id``, or none of them.

        ``won`` when the holder owns all granules afterwards (including when it already did: a repeated
        claim is idempotent and refreshes a hold's expiry). Otherwise ``conflicts`` names the granules
        held by someone else (for a claim over 100 granules: those of the first transaction that lost),
        and nothing of this claim is left behind.
        """
        starts = self._checked(granules)
        if not starts:
            raise ValueError("nothing to claim: no granules given")
        if kind not in ("hold", "booking"):
            raise ValueError(f"kind must be 'hold' or 'booking', not {kind!r}")
        if kind == "hold" and expires_at is None:
            raise ValueError("a hold needs an expiry: an orphaned hold without one would block its time forever")
        if kind == "booking":
            expires_at = None
        table = await get_table(self._settings, "claims")
        committed: list[_Committed] = []
        for chunk in chunked(starts, MAX_TRANSACTION_OPERATIONS):
            outcome, done = await self._claim_chunk(table, host_id, chunk, holder_id, kind, expires_at, now)
            if not outcome.won:
                if committed:
                    log.info("claim by %s lost at chunk %d of %d; undoing the committed chunks",
                             holder_id, len(committed) + 1, -(-len(starts) // MAX_TRANSACTION_OPERATIONS))
                    await self._undo(table, committed)
                return outcome
            committed.append(done)
        return ClaimOutcome(won=True)

    async def confirm(self, host_id: str, holder_id: str, granules: Sequence[datetime], *,
                      now: datetime) -> ClaimOutcome:
        """Turn the holder's hold into a booking (no expiry).

        Succeeds when the holder still owns every granule, or can still get the missing ones; fails
        with conflicts when someone took over part of an expired hold in the meantime.
        """
        return await self.claim(host_id, granules, holder_id, "booking", None, now=now)

    async def release(self, host_id: str, holder_id: str, granules: Sequence[datetime]) -> int:
        """Delete the holder's rows among ``granules``; rows of others and missing rows are left alone.

        Returns how many rows were deleted. Each delete is ETag-conditional, so a row taken over by
        someone else between the read and the delete is never removed.
        """
        starts = self._checked(granules)
        table = await get_table(self._settings, "claims")
        released = 0
        for chunk in chunked(starts, MAX_TRANSACTION_OPERATIONS):
            released += await self._release_chunk(table, host_id, holder_id, chunk)
        return released

    async def move(self, holder_id: str, *, old_host_id: str, old_granules: Sequence[datetime], new_host_id: str,
                   new_granules: Sequence[datetime], kind: ClaimKind = "booking",
                   expires_at: datetime | None = None, now: datetime) -> ClaimOutcome:
        """Reschedule a claim: claim the new granules, then release the old ones the new claim does not reuse.

        The new time is claimed first, so if it is taken the holder keeps its old time untouched.
        Granules in both (same host) stay the holder's throughout.
        """
        outcome = await self.claim(new_host_id, new_granules, holder_id, kind, expires_at, now=now)
        if outcome.won:
            keep = set(self._checked(new_granules)) if new_host_id == old_host_id else set()
            await self.release(old_host_id, holder_id, [g for g in self._checked(old_granules) if g not in keep])
        return outcome

    async def list_claims(self, host_id: str, start: datetime, end: datetime, *,
                          now: datetime) -> list[ClaimedInterval]:
        """The live claims on a host that touch ``[start, end)``, merged into runs per holder."""
        if end <= start:
            return []
        table = await get_table(self._settings, "claims")
        rows = await self._read_rows(table, host_id, floor_to_granule(start, self.granule), end, inclusive=False)
        intervals: list[ClaimedInterval] = []
        for row in rows:
            claim = row.claim
            if not claim.is_live(now):
                continue
            row_end = row.granule + timedelta(seconds=int(row.entity.get("GranuleSeconds") or
                                                          self.granule.total_seconds()))
            last = intervals[-1] if intervals else None
            if (last is not None and last.end == row.granule and last.holder_id == claim.holder_id
                    and last.kind == claim.kind and last.expires_at == claim.expires_at):
                intervals[-1] = ClaimedInterval(last.holder_id, last.kind, last.start, row_end, last.expires_at)
            else:
                intervals.append(ClaimedInterval(claim.holder_id, claim.kind, row.granule, row_end, claim.expires_at))
        return intervals

    async def purge_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` claim rows of granules that started before ``before`` (retention).

        Past granules can no longer be claimed (minimum notice), so the deletes need no ETag; they go in
        entity-group transactions of at most 100 rows of one host each. Returns how many rows went.
        """
        from azure.data.tables import TableTransactionError
        table = await get_table(self._settings, "claims")
        by_host: dict[str, list[str]] = {}
        taken = 0
        with translated_errors("list past claims"):
            async for row in table.query_entities("RowKey lt @before", parameters={"before": instant_key(before)},
                                                  select=["PartitionKey", "RowKey"],
                                                  results_per_page=min(limit, 1000)):
                by_host.setdefault(row["PartitionKey"], []).append(row["RowKey"])
                taken += 1
                if taken >= limit:
                    break
        deleted = 0
        for partition, rows in by_host.items():
            for batch in chunked(rows, MAX_TRANSACTION_OPERATIONS):
                operations = [("delete", {"PartitionKey": partition, "RowKey": row}) for row in batch]
                with translated_errors("purge claims"):
                    try:
                        await table.submit_transaction(operations)
                    except TableTransactionError:
                        # A row deleted meanwhile (an overlapping run) fails the whole batch: go one by one,
                        # where a missing row is no error.
                        await asyncio.gather(*(table.delete_entity(partition, row) for row in batch))
                deleted += len(batch)
        return deleted

    # ------------------------------------------------------------ claiming one chunk

    async def _claim_chunk(self, table, host_id: str, chunk: Sequence[datetime], holder_id: str, kind: ClaimKind,
                           expires_at: datetime | None, now: datetime) -> tuple[ClaimOutcome, _Committed]:
        from azure.data.tables import TableTransactionError

        # Fast path: nothing there yet, one round trip.
        creates = [self._entity(host_id, start, holder_id, kind, expires_at, now) for start in chunk]
        with translated_errors("claim"):
            try:
                results = await table.submit_transaction([("create", entity) for entity in creates])
            except TableTransactionError as exc:
                if exc.status_code not in _RACE_STATUSES:
                    raise
            else:
                return ClaimOutcome(won=True), _Committed(created=list(zip(creates, map(etag_of, results))))

        for _ in range(self._max_attempts):
            rows = {row.granule: row for row in await self._read_rows(table, host_id, chunk[0], chunk[-1])}
            plan = plan_claim(chunk, {start: row.claim for start, row in rows.items()}, holder_id, kind, now)
            if not plan.won:
                return ClaimOutcome(won=False, conflicts=plan.conflicts), _Committed()
            operations = self._operations(host_id, plan.actions, rows, holder_id, kind, expires_at, now)
            if not operations:
                return ClaimOutcome(won=True), _Committed()
            with translated_errors("claim"):
                try:
                    results = await table.submit_transaction([op for op, _ in operations])
                except TableTransactionError as exc:
                    if exc.status_code not in _RACE_STATUSES:
                        raise
                    continue  # another writer got in between our read and our write: look again
            done = _Committed()
            for (_, before), result in zip(operations, results):
                entity_before, is_restorable = before
                (done.restorable if is_restorable else done.created).append((entity_before, etag_of(result)))
            return ClaimOutcome(won=True), done
        raise TransientError("claim: the granules kept changing under contention; try again",
                             service="table storage", code="ClaimContention")

    def _operations(self, host_id: str, actions: dict, rows: dict[datetime, _Row], holder_id: str,
                    kind: ClaimKind, expires_at: datetime | None, now: datetime):
        """Transaction operations for a plan, each paired with how to undo it."""
        from azure.core import MatchConditions
        from azure.data.tables import UpdateMode

        operations = []
        for start, action in sorted(actions.items()):
            if action == "keep":
                continue
            entity = self._entity(host_id, start, holder_id, kind, expires_at, now)
            if action == "create":
                operations.append((("create", entity), (entity, False)))
                continue
            row = rows[start]
            guarded = {"mode": UpdateMode.REPLACE, "etag": row.etag, "match_condition": MatchConditions.IfNotModified}
            # A takeover is undone by deleting (the hold it replaced had lapsed); a refresh by restoring the row.
            undo = (row.entity, True) if action == "refresh" else (entity, False)
            operations.append((("update", entity, guarded), undo))
        return operations

    async def _undo(self, table, committed: list[_Committed]) -> None:
        """Best-effort rollback of committed chunks (ETag-conditional; rows changed since are left alone)."""
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError
        from azure.data.tables import UpdateMode

        guarded = {"match_condition": MatchConditions.IfNotModified}
        for done in reversed(committed):
            operations = [("delete", entity, {**guarded, "etag": etag}) for entity, etag in done.created]
            operations += [("update", entity, {**guarded, "etag": etag, "mode": UpdateMode.REPLACE})
                           for entity, etag in done.restorable]
            for batch in chunked(operations, MAX_TRANSACTION_OPERATIONS):
                try:
                    await table.submit_transaction(list(batch))
                except AzureError:
                    await self._undo_one_by_one(table, batch)

    async def _undo_one_by_one(self, table, operations) -> None:
        from azure.core.exceptions import AzureError

        async def undo(operation):
            kind, entity, options = operation
            try:
                if kind == "delete":
                    await table.delete_entity(entity["PartitionKey"], entity["RowKey"], **options)
                else:
                    await table.update_entity(entity, **options)
            except AzureError as exc:
                # Someone changed the row since (e.g. took over a lapsed hold): theirs now, leave it.
                log.warning("could not undo a claim row: %s", storage_error(exc, "undo claim"))

        await asyncio.gather(*(undo(op) for op in operations))

    # ------------------------------------------------------------ releasing one chunk

    async def _release_chunk(self, table, host_id: str, holder_id: str, chunk: Sequence[datetime]) -> int:
        from azure.core import MatchConditions
        from azure.data.tables import TableTransactionError

        wanted = set(chunk)
        for _ in range(self._max_attempts):
            rows = [row for row in await self._read_rows(table, host_id, chunk[0], chunk[-1])
                    if row.granule in wanted and row.claim.holder_id == holder_id]
            if not rows:
                return 0
            operations = [("delete", row.entity, {"etag": row.etag, "match_condition": MatchConditions.IfNotModified})
                          for row in rows]
            with translated_errors("release claim"):
                try:
                    await table.submit_transaction(operations)
                except TableTransactionError as exc:
                    if exc.status_code not in _RACE_STATUSES:
                        raise
                    continue  # a row changed or vanished meanwhile: read again and delete what is still ours
            return len(rows)
        raise TransientError("release: the granules kept changing under contention; try again",
                             service="table storage", code="ClaimContention")

    # ------------------------------------------------------------ rows

    def _checked(self, granules: Iterable[datetime]) -> list[datetime]:
        starts = sorted(set(granules))
        for start in starts:
            if floor_to_granule(start, self.granule) != start:
                raise ValueError(f"{start.isoformat()} is not the start of a {self.granule} granule")
        return starts

    def _entity(self, host_id: str, start: datetime, holder_id: str, kind: ClaimKind,
                expires_at: datetime | None, now: datetime) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": safe_key(host_id),
            "RowKey": instant_key(start),
            "Holder": holder_id,
            "Kind": kind,
            "GranuleSeconds": int(self.granule.total_seconds()),
            "ClaimedAt": now,
        }
        if expires_at is not None:
            entity["ExpiresAt"] = expires_at
        return entity

    async def _read_rows(self, table, host_id: str, first: datetime, last: datetime, *,
                         inclusive: bool = True) -> list[_Row]:
        """Claim rows of a host with granule starts in ``[first, last]`` (or ``[first, last)``), ascending."""
        query = f"PartitionKey eq @pk and RowKey ge @lo and RowKey {'le' if inclusive else 'lt'} @hi"
        parameters = {"pk": safe_key(host_id), "lo": instant_key(first), "hi": instant_key(last)}
        rows: list[_Row] = []
        with translated_errors("read claims"):
            async for entity in table.query_entities(query, parameters=parameters, select=_CLAIM_COLUMNS):
                plain = dict(entity)
                for column in ("ExpiresAt", "ClaimedAt"):
                    if plain.get(column) is not None:
                        plain[column] = as_utc(plain[column])
                claim = GranuleClaim(plain["Holder"], plain["Kind"], plain.get("ExpiresAt"))
                rows.append(_Row(parse_instant_key(plain["RowKey"]), claim, etag_of(entity), plain))
        return rows
