"""A stand-in for Application Insights ingestion and the App Service managed identity endpoint.

The Azure Monitor exporter refuses to send a bearer token over plain http, so ingestion is served over TLS
with a throwaway self-signed certificate that the exporter's process is told to trust (REQUESTS_CA_BUNDLE).
The identity endpoint speaks the App Service protocol (IDENTITY_ENDPOINT + X-IDENTITY-HEADER) that
azure-identity's ManagedIdentityCredential uses on Azure Functions.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import ipaddress
import json
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from dev.serving import BackgroundServer

IDENTITY_HEADER = "fake-identity-header"
def _jwt_shaped(claims: dict) -> str:
    # azure-identity logs the token's claims, so hand out something JWT-shaped (unsigned, never verified).
    part = lambda data: base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.fake-signature"


ACCESS_TOKEN = _jwt_shaped({"aud": "https://monitor.azure.com/", "oid": "fake-principal", "tid": "fake-tenant"})


@dataclass
class Recorded:
    token_requests: list[dict] = field(default_factory=list)
    track_authorizations: list[str] = field(default_factory=list)
    envelopes: list[dict] = field(default_factory=list)

    def messages(self) -> list[dict]:
        return [e["data"]["baseData"] for e in self.envelopes if e["data"].get("baseType") == "MessageData"]

    def spans(self) -> list[dict]:
        return [dict(e["data"]["baseData"], tags=e.get("tags", {})) for e in self.envelopes
                if e["data"].get("baseType") in ("RemoteDependencyData", "RequestData")]


def write_self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "ingestion.pem", directory / "ingestion.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def create_app(recorded: Recorded) -> web.Application:
    async def token(request: web.Request) -> web.Response:
        if request.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            return web.json_response({"error": "missing identity header"}, status=401)
        recorded.token_requests.append(dict(request.query))
        return web.json_response({"access_token": ACCESS_TOKEN, "expires_on": str(int(time.time()) + 3600),
                                  "resource": request.query.get("resource", ""), "token_type": "Bearer",
                                  "client_id": request.query.get("client_id", "")})

    async def track(request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        recorded.track_authorizations.append(request.headers.get("Authorization", ""))
        envelopes = json.loads(body)
        recorded.envelopes.extend(envelopes)
        return web.json_response({"itemsReceived": len(envelopes), "itemsAccepted": len(envelopes), "errors": []})

    async def anything_else(request: web.Request) -> web.Response:
        # The exporter joins IngestionEndpoint (with its trailing slash) and /v2.1/track: //v2.1/track.
        if request.method == "POST" and request.path.endswith("/track"):
            return await track(request)
        return web.json_response({})  # live metrics pings and the like: accepted, ignored

    app = web.Application()
    app.router.add_get("/msi/token", token)
    app.router.add_route("*", "/{tail:.*}", anything_else)
    return app


class TlsBackgroundServer(BackgroundServer):
    """BackgroundServer over https with the given certificate."""

    def __init__(self, make_app, cert: Path, key: Path, name: str = "tls"):
        super().__init__(make_app, name=name)
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.load_cert_chain(cert, key)

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}"

    async def _serve(self) -> None:
        self.app = self._make_app()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock, ssl_context=self._context).start()
