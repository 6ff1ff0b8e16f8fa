"""What Frontdesk's Table Storage stores share: tables created once, safe keys, JSON columns, error mapping.

- Tables are created lazily, once per process: the names known to exist are cached, and concurrent
  first uses in one event loop share a single ``create_table`` call.
- Keys: Table Storage forbids ``/ \\ # ?`` and control characters in PartitionKey/RowKey, and caps
  keys at 1 KiB; :func:`safe_key` percent-encodes those so any id (an Outlook event id full of ``/``
  and ``+``) can be a key.
- JSON documents go into string columns. A string property holds at most 64 KiB of UTF-16 and an
  entity at most 1 MiB, so documents are split over ``Json``, ``Json1``, ... columns of at most
  16,000 characters (at most 64,000 bytes even if every character needs a surrogate pair), and a
  document over :data:`MAX_JSON_BYTES` is refused with a clear error instead of a service 400.
- Errors: SDK exceptions become :mod:`shared.errors` errors, keeping the service request id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from shared.adapters.storage import get_table_service, table_name
from shared.config import Settings
from shared.errors import (ConflictError, ExternalServiceError, NotFoundError, PermanentError, ThrottledError,
                           TransientError)

UTC = timezone.utc
SERVICE = "table storage"
JSON_PIECE_CHARS = 16_000
MAX_JSON_BYTES = 900 * 1024  # UTF-16 bytes; leaves room under the 1 MiB entity limit for keys and columns
MAX_STRING_CHARS = 32_000  # a plain string column (64 KiB of UTF-16) with the same surrogate-pair margin
_FORBIDDEN_IN_KEYS = set("/\\#?%") | {chr(c) for c in range(0x20)} | {chr(c) for c in range(0x7F, 0xA0)}

_lock = threading.Lock()
_known_tables: set[tuple[str, str]] = set()
_creating: dict[tuple[object, str, str], asyncio.Future] = {}
_clients: dict[tuple[object, str], object] = {}


# ---------------------------------------------------------------- tables

async def get_table(settings: Settings, logical_name: str):
    """The async ``TableClient`` for a logical table (``claims``), creating the table on first use."""
    service = get_table_service(settings)
    name = table_name(settings, logical_name)
    with _lock:
        client = _clients.get((service, name))
        if client is None:
            client = _clients[(service, name)] = service.get_table_client(name)
        known = (service.url, name) in _known_tables
    if not known:
        await _ensure_table(service, name)
    return client


async def _ensure_table(service, name: str) -> None:
    loop = asyncio.get_running_loop()
    key = (loop, service.url, name)
    with _lock:
        pending = _creating.get(key)
        if pending is None:
            pending = _creating[key] = loop.create_task(_create_table(service, name))
            # Forget the attempt once it is over: success is remembered in _known_tables, and a failure
            # must not be handed to every later caller.
            pending.add_done_callback(lambda task: _forget_attempt(key, task))
    await asyncio.shield(pending)


def _forget_attempt(key: tuple, task: asyncio.Future) -> None:
    with _lock:
        if _creating.get(key) is task:
            del _creating[key]


async def _create_table(service, name: str) -> None:
    from azure.core.exceptions import ResourceExistsError
    with translated_errors(f"create table {name}"):
        try:
            await service.create_table(name)
        except ResourceExistsError:
            pass  # another process (or an earlier run) made it: exactly what we wanted
    with _lock:
        _known_tables.add((service.url, name))


def forget_known_tables() -> None:
    """Drop the cache of existing tables (tests that delete tables)."""
    with _lock:
        _known_tables.clear()


# ---------------------------------------------------------------- keys and values

def safe_key(value: str) -> str:
    """``value`` as a legal PartitionKey/RowKey: forbidden characters and ``%`` percent-encoded."""
    if not value:
        raise ValueError("a key cannot be empty")
    encoded = "".join(f"%{ord(ch):02X}" if ch in _FORBIDDEN_IN_KEYS else ch for ch in value)
    if len(encoded.encode("utf-16-le")) > 1024:
        raise ValueError(f"key too long for Table Storage ({len(value)} characters)")
    return encoded


def unsafe_key(key: str) -> str:
    """The inverse of :func:`safe_key`."""
    from urllib.parse import unquote
    return unquote(key)


def instant_key(instant: datetime) -> str:
    """A UTC instant as a sortable key: ``20260302T150500Z`` (second precision)."""
    if instant.tzinfo is None:
        raise ValueError("instants must be aware")
    return instant.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def parse_instant_key(key: str) -> datetime:
    return datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def as_utc(value: Any) -> datetime | None:
    """A datetime column read back from the service, as a plain aware UTC datetime (or None)."""
    if value is None:
        return None
    return datetime(value.year, value.month, value.day, value.hour, value.minute, value.second,
                     value.microsecond, tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check_string(name: str, value: str | None) -> str | None:
    """Refuse a string column the service would reject (64 KiB of UTF-16)."""
    if value is not None and len(value.encode("utf-16-le")) > 2 * MAX_STRING_CHARS:
        raise PermanentError(f"{name} is too long to store ({len(value)} characters)", service=SERVICE,
                             code="PropertyValueTooLarge")
    return value


def pack_json(document: Any) -> dict[str, Any]:
    """A JSON document as ``Json``/``Json1``/... string columns plus ``JsonParts``."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode("utf-16-le"))
    if size > MAX_JSON_BYTES:
        raise PermanentError(f"document too large to store ({size} bytes of UTF-16, limit {MAX_JSON_BYTES})",
                             service=SERVICE, code="EntityTooLarge")
    pieces = [text[index:index + JSON_PIECE_CHARS] for index in range(0, len(text), JSON_PIECE_CHARS)] or [""]
    columns: dict[str, Any] = {"JsonParts": len(pieces)}
    for index, piece in enumerate(pieces):
        columns["Json" if index == 0 else f"Json{index}"] = piece
    return columns


def unpack_json(entity: Mapping[str, Any]) -> Any:
    """The JSON document stored by :func:`pack_json`."""
    parts = int(entity.get("JsonParts", 1))
    text = "".join(entity["Json" if index == 0 else f"Json{index}"] for index in range(parts))
    return json.loads(text)


def etag_of(entity_or_metadata: Any) -> str:
    """The ETag of an entity read back, or of one write's response metadata."""
    metadata = getattr(entity_or_metadata, "metadata", entity_or_metadata)
    return metadata["etag"]


# ---------------------------------------------------------------- errors

def request_id_of(exc: Exception) -> str | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    return headers.get("x-ms-request-id")


def storage_error(exc: Exception, action: str) -> ExternalServiceError:
    """The :mod:`shared.errors` error for an SDK exception raised while doing ``action``."""
    from azure.core.exceptions import (HttpResponseError, ResourceExistsError, ResourceModifiedError,
                                       ResourceNotFoundError, ServiceRequestError, ServiceResponseError)
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)
    details = dict(service=SERVICE, status=status, code=code, request_id=request_id_of(exc))
    if isinstance(exc, ResourceNotFoundError):
        return NotFoundError(f"{action}: not found", **details)
    if isinstance(exc, (ResourceExistsError, ResourceModifiedError)):
        return ConflictError(f"{action}: changed or already exists", **details)
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return TransientError(f"{action}: could not reach the service", **details)
    if isinstance(exc, HttpResponseError):
        if status in (409, 412):
            return ConflictError(f"{action}: conflict", **details)
        if status == 404:
            return NotFoundError(f"{action}: not found", **details)
        if status == 429 or (status == 503 and code == "ServerBusy"):
            retry_after = (getattr(exc.response, "headers", None) or {}).get("Retry-After")
            return ThrottledError(f"{action}: throttled", retry_after=float(retry_after) if retry_after else None,
                                  **details)
        if status is not None and status >= 500:
            return TransientError(f"{action}: service error", **details)
        return PermanentError(f"{action}: refused", **details)
    return ExternalServiceError(f"{action}: {type(exc).__name__}", **details)


@contextlib.contextmanager
def translated_errors(action: str) -> Iterator[None]:
    """Raise :mod:`shared.errors` errors in place of Azure SDK ones inside this block."""
    from azure.core.exceptions import AzureError
    try:
        yield
    except AzureError as exc:
        raise storage_error(exc, action) from exc


async def delete_matching(table, query: str, parameters: dict[str, Any], limit: int) -> int:
    """Delete up to ``limit`` rows of ``table`` that ``query`` finds; how many. For retention purges.

    A row already gone is no error: two runs may overlap, and deleting is what both wanted."""
    from azure.core.exceptions import ResourceNotFoundError
    deleted = 0
    async for row in table.query_entities(query, parameters=parameters, select=["PartitionKey", "RowKey"],
                                          results_per_page=min(max(limit, 1), 1000)):
        if deleted >= limit:
            break
        try:
            await table.delete_entity(row["PartitionKey"], row["RowKey"])
        except ResourceNotFoundError:
            pass
        deleted += 1
    return deleted
