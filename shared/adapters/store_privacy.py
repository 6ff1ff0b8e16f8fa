"""Which records mention a person: an index by the hash of a phone number or e-mail address.

Answering "export or erase everything about +13125550188" must not read every booking and every call.
The ``privacyindex`` table holds one row per (person, record):

- ``PartitionKey``: the SHA-256 of a fixed prefix plus the normalised phone (E.164) or e-mail (lower case),
  so a lookup is one partition query; like the opt-out table (shared/adapters/optouts.py), keys travel in
  request URLs and logs, so they are hashes, never the number or the address itself;
- ``RowKey``: ``booking:<id>`` or ``call:<CallSid>``; columns ``Kind`` and ``RecordId``.

Rows are hints, like the booking index: written before the record they point at (so a crash leaves a
hint to nothing, never a record nobody can find) and checked against the record on every lookup.

This module also reads the opt-out row of a number for an export (the opt-out record itself is kept
when a person is erased: see docs/SECURITY.md).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.adapters.store_tables import as_utc, get_table, safe_key, translated_errors, unsafe_key
from shared.config import Settings

TABLE = "privacyindex"
_KEY_PREFIX = "frontdesk-subject:"
RecordKind = Literal["booking", "call"]
SubjectKind = Literal["phone", "email"]


@dataclass(frozen=True, slots=True)
class Subject:
    """A person as Frontdesk can recognise them: a phone number (E.164) or an e-mail address."""

    kind: SubjectKind
    value: str

    @classmethod
    def phone(cls, number: str) -> "Subject":
        return cls("phone", number.strip())

    @classmethod
    def email(cls, address: str) -> "Subject":
        return cls("email", address.strip().lower())

    @property
    def key(self) -> str:
        """The partition of this person's rows: a hash, never the number or address."""
        return hashlib.sha256(f"{_KEY_PREFIX}{self.kind}:{self.value}".encode()).hexdigest()

    def matches(self, value: str | None) -> bool:
        if not value:
            return False
        value = value.strip()
        return (value.lower() if self.kind == "email" else value) == self.value


def subjects_of(*, phones: Iterable[str | None] = (), emails: Iterable[str | None] = ()) -> set[Subject]:
    """The subjects named by these phone numbers and e-mail addresses (blanks skipped)."""
    found = {Subject.phone(number) for number in phones if number and number.strip()}
    return found | {Subject.email(address) for address in emails if address and address.strip()}


def call_subjects(document: Mapping[str, Any]) -> set[Subject]:
    """Who a stored call state is about: the caller id and the number and address the caller gave."""
    dialog = document.get("dialog") if isinstance(document, Mapping) else None
    if not isinstance(dialog, Mapping):
        return set()
    details = dialog.get("details") if isinstance(dialog.get("details"), Mapping) else {}
    return subjects_of(phones=(dialog.get("caller"), details.get("phone")), emails=(details.get("email"),))


def _row_key(kind: RecordKind, record_id: str) -> str:
    return f"{kind}:{safe_key(record_id)}"


class PrivacyIndex:
    """The ``privacyindex`` table: which bookings and calls name a phone number or e-mail address."""

    def __init__(self, settings: Settings):
        self._settings = settings

    async def _table(self):
        return await get_table(self._settings, TABLE)

    async def add(self, subjects: Iterable[Subject], kind: RecordKind, record_id: str) -> None:
        """Note that record ``kind:record_id`` names each of ``subjects`` (upserts: repeating is harmless)."""
        from azure.data.tables import UpdateMode
        subjects = set(subjects)
        if not subjects:
            return
        table = await self._table()
        rows = [{"PartitionKey": subject.key, "RowKey": _row_key(kind, record_id), "Kind": kind,
                 "RecordId": record_id, "SubjectKind": subject.kind} for subject in subjects]
        with translated_errors("index personal data"):
            await asyncio.gather(*(table.upsert_entity(row, mode=UpdateMode.REPLACE) for row in rows))

    async def remove(self, subjects: Iterable[Subject], kind: RecordKind, record_id: str) -> None:
        """Forget that the record names these subjects (missing rows are fine)."""
        subjects = set(subjects)
        if not subjects:
            return
        table = await self._table()
        with translated_errors("drop personal data index"):
            await asyncio.gather(*(table.delete_entity(subject.key, _row_key(kind, record_id))
                                   for subject in subjects))

    async def find(self, subject: Subject) -> list[tuple[RecordKind, str]]:
        """``(kind, record id)`` of every record indexed under ``subject`` (hints: check each record)."""
        table = await self._table()
        with translated_errors("look up personal data"):
            rows = [row async for row in table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": subject.key}, select=["RowKey", "Kind", "RecordId"])]
        return sorted({(row["Kind"], row.get("RecordId") or unsafe_key(row["RowKey"].partition(":")[2]))
                       for row in rows})


async def read_opt_out(settings: Settings, e164: str) -> dict[str, Any] | None:
    """The opt-out row of a number as an export shows it (masked number, state, source, when), or None."""
    from azure.core.exceptions import ResourceNotFoundError

    from shared.adapters.optouts import TABLE as OPTOUTS, row_keys
    table = await get_table(settings, OPTOUTS)
    with translated_errors("read opt-out"):
        try:
            row = await table.get_entity(*row_keys(e164))
        except ResourceNotFoundError:
            return None
    return {"optedOut": bool(row.get("OptedOut")), "maskedNumber": row.get("Masked"), "region": row.get("Region"),
            "source": row.get("Source"), "changedAt": (as_utc(row.get("ChangedAt")).isoformat()
                                                       if row.get("ChangedAt") else None)}
