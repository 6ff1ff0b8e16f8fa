"""Voice call state in Table Storage, keyed by Twilio's CallSid and guarded by ETags.

Twilio retries a webhook it did not get an answer to in time, and two webhooks of one call can
overlap; both must see the same state and at most one may advance it. One row per call
(PartitionKey = CallSid, RowKey ``call``) holds the dialog state as JSON; ``create`` is insert-only
and ``save`` is conditional on the ETag from ``get``, so a retried or overlapping webhook that works
from an old state gets ``ConflictError`` instead of overwriting a newer one.

The caller id and the number and e-mail the caller gives are indexed by hash in ``privacyindex``
(shared/adapters/store_privacy.py) before the state naming them is written, once per call and person.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from shared.adapters.store_privacy import PrivacyIndex, call_subjects
from shared.adapters.store_tables import (etag_of, get_table, pack_json, safe_key, translated_errors, unpack_json,
                                          unsafe_key)
from shared.config import Settings
from shared.errors import ConflictError
from shared.ports import Stored

CALL_ROW = "call"


def _as_document(state: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(state, BaseModel):
        return state.model_dump(mode="json", by_alias=True)
    return dict(state)


class CallStore:
    """Call state rows in the ``calls`` table."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._privacy = PrivacyIndex(settings)
        # (CallSid, subject hash) already indexed by this process: a call is saved every turn, its caller
        # is indexed once (the row is an idempotent upsert, so forgetting this cache only costs a write).
        self._indexed: set[tuple[str, str]] = set()

    async def _index(self, call_sid: str, document: Mapping[str, Any]) -> None:
        """Index the people the call names before its state is written (a hint to nothing is harmless)."""
        fresh = {subject for subject in call_subjects(document) if (call_sid, subject.key) not in self._indexed}
        if not fresh:
            return
        await self._privacy.add(fresh, "call", call_sid)
        if len(self._indexed) > 10_000:
            self._indexed.clear()
        self._indexed.update((call_sid, subject.key) for subject in fresh)

    def _entity(self, call_sid: str, document: dict[str, Any]) -> dict[str, Any]:
        return {"PartitionKey": safe_key(call_sid), "RowKey": CALL_ROW, **pack_json(document)}

    async def get(self, call_sid: str) -> Stored[dict[str, Any]] | None:
        """The call's state and its ETag, or None for a call not seen yet."""
        from azure.core.exceptions import ResourceNotFoundError
        table = await get_table(self._settings, "calls")
        with translated_errors("read call state"):
            try:
                entity = await table.get_entity(safe_key(call_sid), CALL_ROW)
            except ResourceNotFoundError:
                return None
        return Stored(unpack_json(entity), etag_of(entity))

    async def create(self, call_sid: str, state: Mapping[str, Any] | BaseModel) -> Stored[dict[str, Any]]:
        """Store the first state of a call; ``ConflictError`` if the call already has one."""
        from azure.core.exceptions import ResourceExistsError
        table = await get_table(self._settings, "calls")
        document = _as_document(state)
        await self._index(call_sid, document)
        with translated_errors("create call state"):
            try:
                result = await table.create_entity(self._entity(call_sid, document))
            except ResourceExistsError:
                raise ConflictError("call state already exists", service="calls", code="CallExists") from None
        return Stored(document, etag_of(result))

    async def save(self, call_sid: str, state: Mapping[str, Any] | BaseModel, etag: str) -> Stored[dict[str, Any]]:
        """Replace the call's state if it is still the one read with ``etag``; else ``ConflictError``."""
        from azure.core import MatchConditions
        from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode
        table = await get_table(self._settings, "calls")
        document = _as_document(state)
        await self._index(call_sid, document)
        with translated_errors("save call state"):
            try:
                result = await table.update_entity(self._entity(call_sid, document), mode=UpdateMode.REPLACE,
                                                   etag=etag, match_condition=MatchConditions.IfNotModified)
            except (ResourceModifiedError, ResourceNotFoundError):
                raise ConflictError("call state was changed by another request", service="calls",
                                    code="StaleETag") from None
        return Stored(document, etag_of(result))

    async def delete(self, call_sid: str) -> None:
        """Forget a call and its personal-data index rows (a missing one is fine)."""
        current = await self.get(call_sid)
        table = await get_table(self._settings, "calls")
        with translated_errors("delete call state"):
            await table.delete_entity(safe_key(call_sid), CALL_ROW)
        if current is not None:
            await self._privacy.remove(call_subjects(current.value), "call", call_sid)
            self._indexed.difference_update({(call_sid, s.key) for s in call_subjects(current.value)})

    async def list_idle(self, before: datetime, limit: int) -> list[str]:
        """CallSids of up to ``limit`` calls whose state last changed before ``before`` (retention).

        A filter on the service's ``Timestamp``: the service scans the table, but only the ids come back.
        """
        table = await get_table(self._settings, "calls")
        sids: list[str] = []
        with translated_errors("list idle calls"):
            async for row in table.query_entities("Timestamp lt @before", parameters={"before": before},
                                                  select=["PartitionKey"], results_per_page=min(limit, 1000)):
                sids.append(unsafe_key(row["PartitionKey"]))
                if len(sids) >= limit:
                    break
        return sids
