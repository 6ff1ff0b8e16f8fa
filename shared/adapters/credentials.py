"""The one Entra ID credential of the process, chosen by settings and reused by every adapter.

Managed identity in Azure; an app registration's secret or certificate elsewhere; a static bearer
token only against local emulators (settings refuse it for any non-loopback URL). azure-identity
caches tokens inside the credential, so building it once per process is what keeps token requests
rare. The SDK is imported lazily, when the first credential is built.
"""

from __future__ import annotations

import hashlib
import threading
import time

from shared.config import IdentitySettings

_lock = threading.Lock()
_credentials: dict[tuple, object] = {}


class StaticTokenCredential:
    """An async credential that hands out one fixed token (local emulators only)."""

    def __init__(self, token: str):
        self._token = token

    async def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken(self._token, int(time.time()) + 3600)

    async def get_token_info(self, *scopes, options=None):
        from azure.core.credentials import AccessTokenInfo
        return AccessTokenInfo(self._token, int(time.time()) + 3600)

    async def close(self) -> None:
        return None

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc) -> None:
        return None


def _build(identity: IdentitySettings):
    if identity.mode == "static_token":
        return StaticTokenCredential(identity.static_token.get_secret_value())
    from azure.identity import aio
    if identity.mode == "client_secret":
        return aio.ClientSecretCredential(identity.tenant_id, identity.client_id,
                                          identity.client_secret.get_secret_value())
    if identity.mode == "certificate":
        return aio.CertificateCredential(identity.tenant_id, identity.client_id, identity.certificate_path)
    return aio.ManagedIdentityCredential(client_id=identity.client_id)


def _cache_key(identity: IdentitySettings) -> tuple:
    # SecretStr prints as stars, so hash the real values: two secrets must not share a credential.
    def plain(value):
        value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        return hashlib.sha256(str(value).encode()).hexdigest()
    return tuple(sorted((name, plain(getattr(identity, name))) for name in IdentitySettings.model_fields))


def get_credential(identity: IdentitySettings):
    """The process-wide async credential for these identity settings (built on first use)."""
    key = _cache_key(identity)
    with _lock:
        credential = _credentials.get(key)
        if credential is None:
            credential = _credentials[key] = _build(identity)
        return credential
