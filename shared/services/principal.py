"""The caller's identity as App Service Authentication ("EasyAuth") hands it to the app: parsing only.

When App Service Authentication validates a bearer token, it passes the caller to the app in request
headers (https://learn.microsoft.com/azure/app-service/configure-authentication-user-identities):

- ``X-MS-CLIENT-PRINCIPAL``: base64 of ``{"auth_typ", "name_typ", "role_typ", "claims": [{"typ", "val"}]}``;
  one claim per app role, of type ``role_typ`` (``roles`` for Entra ID);
- ``X-MS-CLIENT-PRINCIPAL-ID`` (the object id), ``-NAME`` (UPN or e-mail), ``-IDP`` (``aad``).

The platform strips these headers from incoming requests, so they are only trustworthy when App Service
Authentication is on; *whether* to trust them is the caller's decision (``AUTH__EASY_AUTH_ENABLED``), not
this module's. This module only turns the headers into a :class:`Principal` (pure, no I/O).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass

PRINCIPAL_HEADER = "x-ms-client-principal"
PRINCIPAL_ID_HEADER = "x-ms-client-principal-id"
PRINCIPAL_NAME_HEADER = "x-ms-client-principal-name"
PRINCIPAL_IDP_HEADER = "x-ms-client-principal-idp"

# The claim types Entra ID uses for what the principal is (App Service maps some to the long SOAP names).
ROLE_CLAIMS = ("roles", "http://schemas.microsoft.com/ws/2008/06/identity/claims/role")
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS = ("preferred_username", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
TENANT_CLAIMS = ("http://schemas.microsoft.com/identity/claims/tenantid", "tid")
MAX_HEADER_CHARS = 32_768  # far above a real token's claims; a bigger header is not the platform's


class PrincipalError(ValueError):
    """``X-MS-CLIENT-PRINCIPAL`` is present but is not what App Service Authentication sends."""


@dataclass(frozen=True)
class Principal:
    """A caller App Service Authentication verified: who (``id``), for humans ``name``, and app ``roles``."""

    id: str
    name: str | None
    identity_provider: str
    roles: frozenset[str]
    tenant_id: str | None = None

    def has_any_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)


def parse_client_principal(headers: Mapping[str, str]) -> Principal | None:
    """The principal in ``headers`` (any letter case), None when there is none; PrincipalError when malformed."""
    lowered = {name.lower(): value for name, value in headers.items()}
    encoded = (lowered.get(PRINCIPAL_HEADER) or "").strip()
    if not encoded:
        return None
    payload = _decode(encoded)
    claims = _claims(payload)
    role_type = payload.get("role_typ") or ROLE_CLAIMS[0]
    roles = frozenset(value for kind, value in claims if kind == role_type or kind in ROLE_CLAIMS)
    principal_id = (lowered.get(PRINCIPAL_ID_HEADER) or "").strip() or _first(claims, OBJECT_ID_CLAIMS)
    if not principal_id:
        raise PrincipalError("the client principal names no object id")
    name_type = payload.get("name_typ")
    name = ((lowered.get(PRINCIPAL_NAME_HEADER) or "").strip()
            or _first(claims, ((name_type,) if name_type else ()) + NAME_CLAIMS) or None)
    provider = (lowered.get(PRINCIPAL_IDP_HEADER) or "").strip() or str(payload.get("auth_typ") or "")
    return Principal(id=principal_id, name=name, identity_provider=provider.lower(), roles=roles,
                     tenant_id=_first(claims, TENANT_CLAIMS) or None)


def _decode(encoded: str) -> dict:
    if len(encoded) > MAX_HEADER_CHARS:
        raise PrincipalError("the client principal header is too large")
    try:
        raw = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise PrincipalError("the client principal header is not base64-encoded JSON") from None
    if not isinstance(payload, dict):
        raise PrincipalError("the client principal is not a JSON object")
    return payload


def _claims(payload: dict) -> list[tuple[str, str]]:
    claims = payload.get("claims") or []
    if not isinstance(claims, list):
        raise PrincipalError("the client principal's claims are not a list")
    found = []
    for claim in claims:
        if isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str):
            found.append((claim["typ"], claim["val"]))
    return found


def _first(claims: list[tuple[str, str]], kinds: tuple[str, ...]) -> str:
    for kind in kinds:
        for claim_kind, value in claims:
            if claim_kind == kind and value.strip():
                return value.strip()
    return ""
