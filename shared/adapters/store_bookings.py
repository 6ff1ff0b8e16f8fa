"""Bookings in Table Storage, with lookups by Outlook event id, idempotency key and host + time.

``bookings`` holds one row per booking (PartitionKey = booking id, RowKey ``booking``): the booking as
JSON (see :func:`pack_json`) plus a few plain columns for people reading the table (Status, HostId,
Start, End, Version). Saves are ETag-conditional: a stale ETag raises ``ConflictError``.

``bookingindex`` holds the lookups, each in its own partition so point reads stay cheap:

- ``idem:<key>``: the booking an idempotency key made and the fingerprint of the request body, so a
  reused key with a different body is recognised (first writer wins: insert-only);
- ``event:<outlook event id>``: the booking an Outlook event stands for (Graph notifications);
- ``host:<host id>`` / ``<start>|<booking id>``: the host's bookings by start time (round-robin counts,
  daily limits);
- ``namezip:<hash>`` / ``<booking id>``: bookings by the customer's name and ZIP code, keyed by a SHA-256 hash of
  both (never the name or ZIP itself), for a caller calling from another phone (:meth:`find_by_name_and_postal_code`).

The customer's phone and e-mail are indexed in ``privacyindex`` (shared/adapters/store_privacy.py), by hash,
so an export or erasure request finds the person's bookings without reading them all; :meth:`find_by_phone`
uses the same index to find who texted us (shared/services/sms_inbound.py).

A booking and its index rows live in different partitions, so they cannot change in one transaction.
Index rows are therefore hints, written BEFORE the booking row and checked against it on every lookup:
a crash can leave a stale hint (filtered out on read), never a booking its index cannot find. Saves
remove the hints the previous version needed and the new one does not.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.adapters.store_privacy import PrivacyIndex, Subject, subjects_of
from shared.adapters.store_tables import (as_utc, etag_of, get_table, instant_key, pack_json, request_id_of,
                                          safe_key, storage_error, translated_errors, unpack_json, unsafe_key)
from shared.config import Settings
from shared.domain.booking import Booking
from shared.errors import ConflictError, NotFoundError
from shared.logs import get_logger
from shared.ports import IdempotencyRecord, Stored

log = get_logger(__name__)

BOOKING_ROW = "booking"
INDEX_ROW = "0"
_PARALLEL_READS = 16


def _booking_entity(booking: Booking) -> dict[str, Any]:
    return {
        "PartitionKey": safe_key(booking.id),
        "RowKey": BOOKING_ROW,
        **pack_json(booking.model_dump(mode="json", by_alias=True)),
        "Status": booking.status.value,
        "HostId": booking.host_id,
        "Start": booking.start,
        "End": booking.end,
        "Version": booking.version,
    }


def _host_row(booking: Booking) -> dict[str, Any]:
    return {
        "PartitionKey": "host:" + safe_key(booking.host_id),
        "RowKey": f"{instant_key(booking.start)}|{safe_key(booking.id)}",
        "BookingId": booking.id,
        "Start": booking.start,
        "End": booking.end,
        "Status": booking.status.value,
    }


def _event_row(booking: Booking) -> dict[str, Any] | None:
    if not booking.outlook_event_id:
        return None
    return {"PartitionKey": "event:" + safe_key(booking.outlook_event_id), "RowKey": INDEX_ROW,
            "BookingId": booking.id, "Mailbox": booking.outlook_mailbox or ""}


def name_zip_key(name: str | None, postal_code: str | None) -> str | None:
    """The ``namezip:`` partition of a name and ZIP code: letters of the name, the ZIP's five digits, hashed."""
    letters = "".join(ch for ch in (name or "").lower() if ch.isalpha())
    digits = "".join(ch for ch in (postal_code or "") if ch.isdigit())[:5]
    if not letters or len(digits) != 5:
        return None
    return "namezip:" + hashlib.sha256(f"frontdesk-namezip|{letters}|{digits}".encode()).hexdigest()


def _name_zip_row(booking: Booking) -> dict[str, Any] | None:
    partition = name_zip_key(booking.customer.name, booking.customer.postal_code)
    if partition is None:
        return None
    return {"PartitionKey": partition, "RowKey": safe_key(booking.id), "BookingId": booking.id}


def _idempotency_partition(key: str) -> str:
    return "idem:" + safe_key(key)


def _subjects(booking: Booking) -> set[Subject]:
    """The people a booking names (its customer's phone and e-mail), for the personal-data index."""
    return subjects_of(phones=(booking.customer.phone,), emails=(booking.customer.email,))


def _index_keys(booking: Booking) -> set[tuple[str, str]]:
    rows = [_host_row(booking), _event_row(booking), _name_zip_row(booking)]
    return {(row["PartitionKey"], row["RowKey"]) for row in rows if row is not None}


class BookingStore:
    """Bookings and their lookups in the ``bookings`` and ``bookingindex`` tables."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._privacy = PrivacyIndex(settings)

    async def _tables(self):
        return await asyncio.gather(get_table(self._settings, "bookings"), get_table(self._settings, "bookingindex"))

    # ------------------------------------------------------------ the booking row

    async def get(self, booking_id: str) -> Stored[Booking] | None:
        """The booking and its ETag, or None."""
        from azure.core.exceptions import ResourceNotFoundError
        bookings, _ = await self._tables()
        with translated_errors("read booking"):
            try:
                entity = await bookings.get_entity(safe_key(booking_id), BOOKING_ROW)
            except ResourceNotFoundError:
                return None
        return Stored(Booking.model_validate(unpack_json(entity)), etag_of(entity))

    async def create(self, booking: Booking) -> Stored[Booking]:
        """Store a new booking (version 1); ``ConflictError`` if the id, or its idempotency key, is taken."""
        from azure.core.exceptions import ResourceExistsError
        booking = booking.model_copy(update={"version": 1})
        bookings, index = await self._tables()
        if booking.idempotency_key:
            record = await self.reserve_idempotency_key(booking.idempotency_key, booking.id,
                                                        booking.request_fingerprint, now=booking.created_at)
            if record.booking_id != booking.id or record.fingerprint != booking.request_fingerprint:
                raise ConflictError("the idempotency key was already used for another request",
                                    service="bookings", code="IdempotencyKeyReused")
        await self._write_index(index, booking)
        with translated_errors("create booking"):
            try:
                result = await bookings.create_entity(_booking_entity(booking))
            except ResourceExistsError:
                raise ConflictError(f"booking {booking.id} already exists", service="bookings",
                                    code="BookingExists") from None
        return Stored(booking, etag_of(result))

    async def save(self, booking: Booking, etag: str) -> Stored[Booking]:
        """Replace the booking if it has not changed since it was read with ``etag``; bumps its version.

        ``ConflictError`` when someone saved it in between (read it again and re-apply the change),
        ``NotFoundError`` when it does not exist.
        """
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode

        bookings, index = await self._tables()
        # Read first: the stored version says which index rows exist, so the ones this save makes stale can go.
        current = await self.get(booking.id)
        if current is None:
            raise NotFoundError(f"booking {booking.id} does not exist", service="bookings")
        if current.etag != etag:
            raise ConflictError(f"booking {booking.id} was changed by someone else", service="bookings",
                                code="StaleETag")
        booking = booking.model_copy(update={"version": current.value.version + 1})
        old_keys, new_keys = _index_keys(current.value), _index_keys(booking)
        await self._write_index(index, booking, current.value)
        try:
            result = await bookings.update_entity(_booking_entity(booking), mode=UpdateMode.REPLACE, etag=etag,
                                                  match_condition=MatchConditions.IfNotModified)
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            # Definitely not saved: the hints written for this version point nowhere.
            await self._delete_index_rows(index, new_keys - old_keys)
            raise ConflictError(f"booking {booking.id} was changed by someone else", service="bookings",
                                code="StaleETag", status=exc.status_code, request_id=request_id_of(exc)) from None
        except AzureError as exc:
            raise storage_error(exc, "save booking") from exc
        await self._delete_index_rows(index, old_keys - new_keys)
        await self._privacy.remove(_subjects(current.value) - _subjects(booking), "booking", booking.id)
        return Stored(booking, etag_of(result))

    # ------------------------------------------------------------ retention

    async def list_ended(self, before: datetime, limit: int) -> list[str]:
        """Ids of up to ``limit`` bookings whose appointment ended before ``before`` (filtered by the service)."""
        bookings, _ = await self._tables()
        ids: list[str] = []
        with translated_errors("list ended bookings"):
            async for row in bookings.query_entities("RowKey eq @row and End lt @before",
                                                     parameters={"row": BOOKING_ROW, "before": before},
                                                     select=["PartitionKey"], results_per_page=min(limit, 1000)):
                ids.append(unsafe_key(row["PartitionKey"]))
                if len(ids) >= limit:
                    break
        return ids

    async def delete(self, booking_id: str) -> int:
        """Delete a booking with its index rows and idempotency record; returns the rows deleted (0: gone)."""
        stored = await self.get(booking_id)
        if stored is None:
            return 0
        booking = stored.value
        bookings, index = await self._tables()
        keys = _index_keys(booking)
        if booking.idempotency_key:
            keys.add((_idempotency_partition(booking.idempotency_key), INDEX_ROW))
        # Hints first, the booking row last: a crash in between leaves the booking findable by id, and the
        # next run deletes it again.
        await self._delete_index_rows(index, keys)
        await self._privacy.remove(_subjects(booking), "booking", booking.id)
        with translated_errors("delete booking"):
            await bookings.delete_entity(safe_key(booking.id), BOOKING_ROW)
        return 1 + len(keys)

    async def list_idempotency_keys(self, before: datetime, limit: int) -> list[str]:
        """Idempotency keys first used before ``before`` (up to ``limit``)."""
        _, index = await self._tables()
        keys: list[str] = []
        query = "PartitionKey ge @lo and PartitionKey lt @hi and CreatedAt lt @before"
        with translated_errors("list idempotency records"):
            async for row in index.query_entities(query, parameters={"lo": "idem:", "hi": "idem;", "before": before},
                                                  select=["PartitionKey"], results_per_page=min(limit, 1000)):
                keys.append(unsafe_key(row["PartitionKey"].removeprefix("idem:")))
                if len(keys) >= limit:
                    break
        return keys

    async def delete_idempotency_record(self, key: str) -> None:
        """Forget an idempotency key (a retry with it after this books afresh; docs/SECURITY.md)."""
        _, index = await self._tables()
        await self._delete_index_rows(index, [(_idempotency_partition(key), INDEX_ROW)])

    # ------------------------------------------------------------ index rows

    async def _write_index(self, index, booking: Booking, previous: Booking | None = None) -> None:
        from azure.data.tables import UpdateMode
        rows = [row for row in (_host_row(booking), _event_row(booking), _name_zip_row(booking)) if row is not None]
        # The version being replaced already has its people indexed: only a changed phone or e-mail costs a write.
        people = _subjects(booking) - (_subjects(previous) if previous is not None else set())
        with translated_errors("index booking"):
            await asyncio.gather(*(index.upsert_entity(row, mode=UpdateMode.REPLACE) for row in rows),
                                 self._privacy.add(people, "booking", booking.id))

    async def _delete_index_rows(self, index, keys: Iterable[tuple[str, str]]) -> None:
        with translated_errors("drop booking index"):
            # Deleting a row that is not there succeeds, so a hint already gone is no error.
            await asyncio.gather(*(index.delete_entity(pk, rk) for pk, rk in keys))

    async def _index_entity(self, partition: str) -> dict[str, Any] | None:
        from azure.core.exceptions import ResourceNotFoundError
        _, index = await self._tables()
        with translated_errors("read booking index"):
            try:
                return dict(await index.get_entity(partition, INDEX_ROW))
            except ResourceNotFoundError:
                return None

    # ------------------------------------------------------------ lookups

    async def find_by_event_id(self, event_id: str) -> Stored[Booking] | None:
        """The booking an Outlook event stands for, or None."""
        entry = await self._index_entity("event:" + safe_key(event_id))
        if entry is None:
            return None
        stored = await self.get(entry["BookingId"])
        if stored is None or stored.value.outlook_event_id != event_id:
            return None  # a stale hint
        return stored

    async def find_by_phone(self, e164: str) -> list[Stored[Booking]]:
        """The bookings whose customer phone is ``e164``, oldest start first.

        One partition query of the hashed people index (``privacyindex``, written when a booking is saved),
        then a point read per booking; a hint whose booking is gone or names another number is dropped.
        """
        subject = Subject.phone(e164)
        found = [record_id for kind, record_id in await self._privacy.find(subject) if kind == "booking"]
        gate = asyncio.Semaphore(_PARALLEL_READS)

        async def read(booking_id: str) -> Stored[Booking] | None:
            async with gate:
                return await self.get(booking_id)

        stored = await asyncio.gather(*(read(booking_id) for booking_id in found))
        matching = [item for item in stored if item is not None and subject.matches(item.value.customer.phone)]
        return sorted(matching, key=lambda item: (item.value.start, item.value.id))

    async def find_by_name_and_postal_code(self, name: str, postal_code: str) -> list[Stored[Booking]]:
        """The bookings under this customer name and ZIP code (one partition query), oldest start first."""
        partition = name_zip_key(name, postal_code)
        if partition is None:
            return []
        _, index = await self._tables()
        with translated_errors("find bookings by name and ZIP"):
            ids = [row["BookingId"] async for row in index.query_entities("PartitionKey eq @pk",
                                                                          parameters={"pk": partition})]
        stored = await asyncio.gather(*(self.get(booking_id) for booking_id in ids[:_PARALLEL_READS]))
        matching = [item for item in stored if item is not None
                    and name_zip_key(item.value.customer.name, item.value.customer.postal_code) == partition]
        return sorted(matching, key=lambda item: (item.value.start, item.value.id))

    async def reserve_idempotency_key(self, key: str, booking_id: str, fingerprint: str | None, *,
                                      now: datetime) -> IdempotencyRecord:
        """Record that ``key`` makes ``booking_id`` (first writer wins) and return the record that stands.

        When the returned record names another booking or fingerprint, the key was used before for a
        different request: the API answers 422 rather than booking twice.
        """
        from azure.core.exceptions import ResourceExistsError
        _, index = await self._tables()
        entity = {"PartitionKey": _idempotency_partition(key), "RowKey": INDEX_ROW, "BookingId": booking_id,
                  "CreatedAt": now}
        if fingerprint is not None:
            entity["Fingerprint"] = fingerprint
        with translated_errors("reserve idempotency key"):
            try:
                await index.create_entity(entity)
            except ResourceExistsError:
                existing = await self.get_idempotency_record(key)
                if existing is not None:
                    return existing
                raise ConflictError("idempotency key vanished while being reserved; try again",
                                    service="bookings", code="IdempotencyKeyRace") from None
        return IdempotencyRecord(key, booking_id, fingerprint, now)

    async def get_idempotency_record(self, key: str) -> IdempotencyRecord | None:
        """What an idempotency key was used for, or None if it is new."""
        entry = await self._index_entity(_idempotency_partition(key))
        if entry is None:
            return None
        return IdempotencyRecord(key, entry["BookingId"], entry.get("Fingerprint"), as_utc(entry.get("CreatedAt")))

    async def find_by_idempotency_key(self, key: str) -> Stored[Booking] | None:
        """The booking made with this idempotency key (its ``request_fingerprint`` tells whether the body matched)."""
        record = await self.get_idempotency_record(key)
        if record is None:
            return None
        stored = await self.get(record.booking_id)
        if stored is None or stored.value.idempotency_key != key:
            return None
        return stored

    async def list_by_host(self, host_id: str, start: datetime, end: datetime, *,
                           statuses: Iterable[str] | None = None) -> list[Booking]:
        """The host's bookings starting in ``[start, end)``, by start time, optionally only some statuses."""
        _, index = await self._tables()
        query = "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi"
        parameters = {"pk": "host:" + safe_key(host_id), "lo": instant_key(start), "hi": instant_key(end)}
        with translated_errors("list bookings"):
            booking_ids = [entity["BookingId"] async for entity in
                           index.query_entities(query, parameters=parameters, select=["BookingId"])]
        wanted = None if statuses is None else {str(status) for status in statuses}
        gate = asyncio.Semaphore(_PARALLEL_READS)

        async def read(booking_id: str) -> Booking | None:
            async with gate:
                stored = await self.get(booking_id)
            return stored.value if stored is not None else None

        found: dict[str, Booking] = {}
        for booking in await asyncio.gather(*(read(booking_id) for booking_id in dict.fromkeys(booking_ids))):
            # The booking row is the truth: a hint left by a move or a crash does not count.
            if (booking is not None and booking.host_id == host_id and start <= booking.start < end
                    and (wanted is None or booking.status.value in wanted)):
                found[booking.id] = booking
        return sorted(found.values(), key=lambda booking: (booking.start, booking.id))
