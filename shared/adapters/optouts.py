"""Remembered SMS opt-outs (a caller texted STOP), kept in Table Storage so Frontdesk never texts them unasked.

One row per phone number that ever opted out or back in, in the ``optouts`` table:

- **Keyed by a hash, not the number.** ``RowKey`` is the SHA-256 of a fixed prefix plus the E.164 number and
  ``PartitionKey`` its first two hex characters (256 partitions, no hot spot). Table keys travel in request
  URLs (``optouts(PartitionKey='..',RowKey='..')``), so they end up in Storage analytics logs and in
  Application Insights dependency telemetry; a hash keeps phone numbers out of both while still allowing the
  exact lookup the sender needs. The hash is not secret: phone numbers are few enough to enumerate, so it
  protects against incidental exposure, not against someone who can read the table (RBAC does that). A keyed
  HMAC was rejected on purpose: losing or rotating its key would silently forget every opt-out, and honouring
  STOP matters more than hiding who sent it.
- **Minimal personal data.** Besides the hash a row holds the masked number (``+1********71``, for support),
  its region, whether it is opted out now, what changed it (``twilio:send``, ``inbound:STOP``...) and when.
- **Order-safe.** STOP and START can arrive out of order (webhook retries); a change older than the row's
  ``ChangedAt`` is ignored, and writes are ETag-conditional so concurrent writers cannot lose an update.
- **Fails closed.** If the table cannot be read, :meth:`OptOutStore.is_opted_out` raises a retryable error
  rather than guessing "not opted out".
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timezone
from typing import Literal

from shared import clock
from shared.config import Settings
from shared.errors import ConflictError, ExternalServiceError, ForbiddenError, ThrottledError, TransientError
from shared.logs import get_logger, mask_phone

logger = get_logger(__name__)

TABLE = "optouts"
_KEY_PREFIX = "frontdesk-sms-optout:"
_ATTEMPTS = 20  # one write per concurrent writer at worst: each retry follows someone's success

# Carrier and gateway keywords (Twilio's defaults; ACS and US carriers honour the same words).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

Keyword = Literal["opt_out", "opt_in"]


def classify_keyword(text: str | None) -> Keyword | None:
    """``opt_out`` for "STOP" (any case, surrounding spaces or punctuation), ``opt_in`` for "START", else None."""
    word = re.sub(r"[^A-Z]", "", (text or "").strip().upper())
    if word in OPT_OUT_KEYWORDS:
        return "opt_out"
    if word in OPT_IN_KEYWORDS:
        return "opt_in"
    return None


def row_keys(e164: str) -> tuple[str, str]:
    """``(PartitionKey, RowKey)`` of a number's row: a prefix of its hash and the hash."""
    digest = hashlib.sha256((_KEY_PREFIX + e164).encode("ascii")).hexdigest()
    return digest[:2], digest


def _region(e164: str) -> str:
    from shared.domain.phones import region_of
    return region_of(e164) or ""


def _storage_error(exc: Exception, action: str) -> ExternalServiceError:
    """Translate an azure-data-tables failure into Frontdesk's errors."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
    status = getattr(exc, "status_code", None)
    request_id = None
    response = getattr(exc, "response", None)
    if response is not None:
        request_id = response.headers.get("x-ms-request-id")
    message = f"opt-out store could not {action}"
    kwargs = {"service": "table-storage", "status": status, "request_id": request_id}
    if isinstance(exc, ClientAuthenticationError) or status in (401, 403):
        return ForbiddenError(message, **kwargs)
    if status in (429, 503):
        return ThrottledError(message, **kwargs)
    if isinstance(exc, HttpResponseError) and status is not None and status < 500 and status != 408:
        return ExternalServiceError(message, **kwargs)
    return TransientError(message, **kwargs)


class OptOutStore:
    """Who opted out of texts, remembered in Table Storage (``table_name(settings, "optouts")``)."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._table_ready = False

    async def is_opted_out(self, e164: str) -> bool:
        """True when ``e164`` opted out and has not opted back in. Raises a retryable error if unknown."""
        from azure.core.exceptions import AzureError, ResourceNotFoundError
        table = await self._table()
        try:
            entity = await table.get_entity(*row_keys(e164), select=["OptedOut"])
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise _storage_error(exc, "be read") from exc
        return bool(entity.get("OptedOut"))

    async def record_opt_out(self, e164: str, source: str, *, at: datetime | None = None) -> bool:
        """Remember that ``e164`` opted out (``source`` says how we learned it). True if this changed anything."""
        changed = await self._set(e164, opted_out=True, source=source, at=at)
        if changed:
            logger.info("sms opt-out recorded for %s (source %s)", mask_phone(e164), source)
        return changed

    async def clear_opt_out(self, e164: str, source: str = "inbound:START", *, at: datetime | None = None) -> bool:
        """Remember that ``e164`` opted back in (texted START). True if this changed anything."""
        changed = await self._set(e164, opted_out=False, source=source, at=at)
        if changed:
            logger.info("sms opt-in recorded for %s (source %s)", mask_phone(e164), source)
        return changed

    async def apply_inbound(self, sender_e164: str, text: str, *, provider: str,
                            at: datetime | None = None) -> Keyword | None:
        """Act on a text a caller sent us: STOP records an opt-out, START clears it. Returns what was done."""
        keyword = classify_keyword(text)
        if keyword == "opt_out":
            await self.record_opt_out(sender_e164, f"{provider}:inbound", at=at)
        elif keyword == "opt_in":
            await self.clear_opt_out(sender_e164, f"{provider}:inbound", at=at)
        return keyword

    async def _set(self, e164: str, *, opted_out: bool, source: str, at: datetime | None) -> bool:
        from azure.core import MatchConditions
        from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
        from azure.data.tables import UpdateMode
        at = (at or clock.now()).astimezone(timezone.utc)
        table = await self._table()
        partition, row = row_keys(e164)
        entity = {"PartitionKey": partition, "RowKey": row, "OptedOut": opted_out, "Masked": mask_phone(e164),
                  "Region": _region(e164), "Source": source[:100], "ChangedAt": at}
        for _ in range(_ATTEMPTS):
            try:
                current = await table.get_entity(partition, row)
            except ResourceNotFoundError:
                current = None
            except AzureError as exc:
                raise _storage_error(exc, "be read") from exc
            try:
                if current is None:
                    await table.create_entity(entity)
                    return True
                if current.get("ChangedAt") and current["ChangedAt"] > at:
                    return False  # a later STOP/START already decided
                same_state = bool(current.get("OptedOut")) == opted_out
                if same_state and current.get("ChangedAt") == at:
                    return False
                # Even when the state stays, the newer time is written: an older, late STOP/START must
                # compare against this one, or it would undo what the caller said last.
                await table.update_entity(entity, mode=UpdateMode.REPLACE, etag=current.metadata["etag"],
                                          match_condition=MatchConditions.IfNotModified)
                return not same_state
            except (ResourceExistsError, ResourceModifiedError):
                continue  # someone else wrote first: read again and decide again
            except AzureError as exc:
                raise _storage_error(exc, "be written") from exc
        raise ConflictError("opt-out row kept changing; giving up", service="table-storage")

    async def _table(self):
        from azure.core.exceptions import AzureError
        from shared.adapters.storage import get_table_service, table_name
        service = get_table_service(self._settings)
        name = table_name(self._settings, TABLE)
        if not self._table_ready:
            try:
                await service.create_table_if_not_exists(name)
            except AzureError as exc:
                raise _storage_error(exc, "be created") from exc
            self._table_ready = True
        return service.get_table_client(name)
