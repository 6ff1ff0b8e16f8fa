"""Manage links: the short signed token that lets whoever holds a booking's text change that booking.

A token names one booking and carries its own expiry, signed with ``MANAGE__LINK_SECRET``
(HMAC-SHA256, cut to 128 bits). Layout before base64url (no padding)::

    version (1) | id kind (1) | booking id (12 for "bk_" + 24 hex, else 1 length byte + UTF-8) |
    expiry (4, minutes since 1970 UTC, big endian) | MAC (16)

so a usual booking's token is 46 characters. Any change to any character is refused: the MAC covers
every byte before it, and a token that is not the canonical encoding of its bytes (spare bits of the
last character) is refused before the MAC is even computed. The version byte lets a later format (or
key) be told apart; a token of an unknown version is simply invalid.

A valid signature is not enough: :func:`judge` decides with the booking as stored now. A cancelled
booking's link says so and nothing more; the link ends one day after the appointment's (current) end or
at its own expiry, whichever comes first; a booking that never became a confirmed one has no link.
Pure: no I/O, no clock of its own (callers pass ``now``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

UTC = timezone.utc
VERSION = 1
GRACE = timedelta(days=1)  # the link still works on the day after the visit (a question about the invoice...)
MAC_BYTES = 16
MAX_TOKEN_CHARS = 240  # generous for odd booking ids; anything longer is refused unread
ROUTE = "manage"  # GET /api/manage/{token}
_DOMAIN = b"frontdesk/manage-link\x00"  # keeps these MACs apart from any other use of the same secret
_COMPACT_ID = re.compile(r"bk_([0-9a-f]{24})")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
_KIND_COMPACT, _KIND_RAW = 1, 0

Verdict = Literal["ok", "cancelled", "expired", "unknown"]


class InvalidLink(ValueError):
    """The token is not one we issued (malformed, altered, another key) or has expired by its own date."""

    def __init__(self, reason: Literal["malformed", "forged", "expired"]):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a genuine token says: which booking, and until when at the latest."""

    booking_id: str
    expires_at: datetime


def _key(secret: str | bytes) -> bytes:
    raw = secret.encode() if isinstance(secret, str) else secret
    if len(raw) < 12:
        raise ValueError("the manage-link secret must be at least 12 characters")
    return raw


def _mac(secret: str | bytes, payload: bytes) -> bytes:
    return hmac.new(_key(secret), _DOMAIN + payload, hashlib.sha256).digest()[:MAC_BYTES]


def _encode_id(booking_id: str) -> bytes:
    compact = _COMPACT_ID.fullmatch(booking_id)
    if compact:
        return bytes([_KIND_COMPACT]) + bytes.fromhex(compact.group(1))
    raw = booking_id.encode("utf-8")
    if not 0 < len(raw) <= 128:
        raise ValueError("a booking id is 1 to 128 bytes")
    return bytes([_KIND_RAW, len(raw)]) + raw


def _decode_id(data: bytes) -> tuple[str, bytes]:
    """The booking id at the start of ``data`` and the bytes after it."""
    if not data:
        raise InvalidLink("malformed")
    if data[0] == _KIND_COMPACT and len(data) >= 13:
        return "bk_" + data[1:13].hex(), data[13:]
    if data[0] == _KIND_RAW and len(data) >= 2 and len(data) >= 2 + data[1]:
        try:
            return data[2:2 + data[1]].decode("utf-8"), data[2 + data[1]:]
        except UnicodeDecodeError:
            raise InvalidLink("malformed") from None
    raise InvalidLink("malformed")


def expiry_for(appointment_end: datetime) -> datetime:
    """When a link issued now for an appointment ending at ``appointment_end`` stops working."""
    return appointment_end.astimezone(UTC) + GRACE


def issue(secret: str | bytes, booking_id: str, appointment_end: datetime) -> str:
    """A token for ``booking_id`` that expires one day after ``appointment_end`` (to the minute, rounded up)."""
    minutes = math.ceil(expiry_for(appointment_end).timestamp() / 60)
    payload = bytes([VERSION]) + _encode_id(booking_id) + minutes.to_bytes(4, "big")
    return base64.urlsafe_b64encode(payload + _mac(secret, payload)).rstrip(b"=").decode("ascii")


def _bytes_of(token: str) -> bytes:
    """The bytes of a canonical unpadded base64url string; anything else is malformed."""
    if not token or len(token) > MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token) or len(token) % 4 == 1:
        raise InvalidLink("malformed")
    data = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    # Spare bits in the last character decode to the same bytes: such a twin is not the token we issued.
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != token:
        raise InvalidLink("malformed")
    return data


def read(secret: str | bytes, token: str, now: datetime) -> LinkClaims:
    """The claims of a genuine, unexpired token; :class:`InvalidLink` otherwise (constant-time MAC check)."""
    data = _bytes_of(token)
    if len(data) < 1 + MAC_BYTES or data[0] != VERSION:
        raise InvalidLink("malformed")
    payload, mac = data[:-MAC_BYTES], data[-MAC_BYTES:]
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise InvalidLink("forged")
    booking_id, rest = _decode_id(payload[1:])
    if len(rest) != 4:
        raise InvalidLink("malformed")
    expires_at = datetime.fromtimestamp(int.from_bytes(rest, "big") * 60, UTC)
    if now >= expires_at:
        raise InvalidLink("expired")
    return LinkClaims(booking_id, expires_at)


def judge(status: str | None, appointment_end: datetime | None, now: datetime) -> Verdict:
    """What a genuine link may do with its booking as stored now (``status`` None: no such booking).

    ``ok``: show it and let it be changed; ``cancelled``: say it was cancelled, nothing else;
    ``expired``: the visit is over (a day past its current end); ``unknown``: there is nothing to manage
    (never confirmed, or erased).
    """
    if status is None or appointment_end is None:
        return "unknown"
    if status == "cancelled":
        return "cancelled"
    if status != "confirmed":
        return "unknown"
    if now >= expiry_for(appointment_end):
        return "expired"
    return "ok"


def manage_url(public_base_url: str, token: str) -> str:
    """``https://app.example.com/api/manage/<token>``."""
    return f"{public_base_url.rstrip('/')}/api/{ROUTE}/{token}"


# ---------------------------------------------------------------- from the app settings

KEY_VAULT_REFERENCE = "@Microsoft.KeyVault("


def secret_of(settings) -> str | None:
    """``MANAGE__LINK_SECRET``, or None when unset or a Key Vault reference Azure could not resolve."""
    secret = getattr(getattr(settings, "manage", None), "link_secret", None)
    value = secret.get_secret_value().strip() if secret else ""
    if not value or value.startswith(KEY_VAULT_REFERENCE):
        return None
    return value


def link_for(settings, booking) -> str | None:
    """The manage URL of a confirmed ``booking`` for its texts; None without a secret or a public base URL."""
    secret = secret_of(settings)
    base = getattr(settings, "public_base_url", None)
    if secret is None or base is None or getattr(booking.status, "value", booking.status) != "confirmed":
        return None
    return manage_url(str(base), issue(secret, booking.id, booking.end))
