"""Twilio Voice webhooks: ``POST voice/incoming``, ``POST voice/turn`` and ``POST voice/status`` (routes under /api).

Twilio cannot send function keys, so these routes are anonymous at the host and the ``X-Twilio-Signature``
header is their authentication: an HMAC of the exact URL Twilio requested (the configured
``PUBLIC_BASE_URL`` plus the path and query, since behind Azure's front end the request URL the worker
sees is not the public one) and the form fields, keyed with the account's auth token. A request that is
unsigned, forged, or signed for another URL gets 403 and changes nothing; so does every request when
no auth token is configured.

The triggers stay thin: check the signature, read the form, hand it to
:class:`shared.services.voice.VoiceService`, answer TwiML (``text/xml``). A turn that fails outright
answers an apology and a hang-up rather than an error page, so the caller never hears Twilio's
"an application error has occurred".
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, urlsplit

import azure.durable_functions as df
import azure.functions as func

from shared.logs import get_logger

bp = df.Blueprint()
log = get_logger(__name__)

MAX_BODY_BYTES = 32 * 1024  # Twilio's webhook forms are a few hundred bytes
# Twilio hangs up on a webhook after 15 s; a turn still running at 13 s (storage itself stuck) apologises instead.
WEBHOOK_LIMIT_SECONDS = 13.0
SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


class Refused(Exception):
    """The request is not a valid Twilio webhook; ``status`` is what it gets."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _settings():
    from shared.config import get_settings
    return get_settings()


def public_url(req: func.HttpRequest, public_base_url: str | None) -> str:
    """The URL Twilio signed: the public base URL with this request's path and query (as received)."""
    parts = urlsplit(req.url)
    if not public_base_url:
        return req.url
    query = f"?{parts.query}" if parts.query else ""
    return f"{str(public_base_url).rstrip('/')}{parts.path}{query}"


def verified_form(req: func.HttpRequest, required: str = "CallSid") -> dict[str, str]:
    """The form fields of a correctly signed Twilio request carrying ``required``; :class:`Refused` otherwise.

    Shared by every Twilio webhook (voice here, messaging in triggers/sms_inbound.py)."""
    from twilio.request_validator import RequestValidator, get_signature_algorithm
    settings = _settings()
    body = req.get_body() or b""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "request body too large")
    token = settings.twilio.auth_token
    if token is None or not token.get_secret_value():
        log.error("TWILIO__AUTH_TOKEN is not set: every Twilio webhook is refused")
        raise Refused(403, "webhook signatures cannot be checked")
    signature = req.headers.get(SIGNATURE_HEADER)
    if not signature:
        raise Refused(403, "unsigned request")
    try:
        form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise Refused(400, "the form is not UTF-8") from None
    url = public_url(req, str(settings.public_base_url) if settings.public_base_url else None)
    algorithm = get_signature_algorithm(req.headers.get(SIGNATURE_SETTINGS_HEADER))
    if not RequestValidator(token.get_secret_value()).validate(url, form, signature, algorithm):
        log.warning("Twilio webhook refused: the signature does not match %s", urlsplit(url).path)
        raise Refused(403, "invalid signature")
    if not form.get(required):
        raise Refused(400, f"{required} is missing")
    return form


def turn_urls(req: func.HttpRequest):
    """Where the next turns go: ``<public base>/<route prefix>`` (the prefix read off this request's path)."""
    from shared.services.voice import TurnUrls
    settings = _settings()
    path = urlsplit(req.url).path
    prefix = path[:path.index("/voice/")] if "/voice/" in path else "/api"
    if settings.public_base_url:
        base = str(settings.public_base_url).rstrip("/")
    else:
        parts = urlsplit(req.url)
        base = f"{parts.scheme}://{parts.netloc}"
    return TurnUrls(base + prefix)


def sequence(req: func.HttpRequest) -> int | None:
    value = req.params.get("seq")
    return int(value) if value and value.isdigit() and len(value) < 6 else None


def twiml_response(twiml: str) -> func.HttpResponse:
    return func.HttpResponse(twiml, status_code=200, mimetype="text/xml", charset="utf-8",
                             headers={"Cache-Control": "no-store"})


def refused_response(error: Refused) -> func.HttpResponse:
    from shared.http import error_response
    code = {400: "bad_request", 403: "forbidden", 413: "payload_too_large"}.get(error.status, "bad_request")
    return error_response(error.status, code, str(error))


async def handle(req: func.HttpRequest, client, kind: str) -> func.HttpResponse:
    """Check, parse and dispatch one webhook (``kind`` is incoming, turn or status)."""
    from shared.runtime import ensure_started
    from shared.services.voice import Webhook, apology, get_voice_service
    ensure_started()
    try:
        form = verified_form(req)
    except Refused as error:
        return refused_response(error)
    service = get_voice_service()
    hook = Webhook.from_form(form, turn_urls(req), sequence(req), service.settings.sms.default_region)
    try:
        async with asyncio.timeout(WEBHOOK_LIMIT_SECONDS):
            if kind == "incoming":
                return twiml_response(await service.incoming(hook, client))
            if kind == "turn":
                return twiml_response(await service.turn(hook, client))
            await service.status(hook, client)
            return func.HttpResponse(status_code=204)
    except Exception:
        log.exception("voice %s webhook failed", kind)
        if kind == "status":
            return func.HttpResponse(status_code=500)
        return twiml_response(apology(service.settings.twilio.voice))


@bp.route(route="voice/incoming", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def voice_incoming(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A call rings: greet the caller with the business's name."""
    return await handle(req, client, "incoming")


@bp.route(route="voice/turn", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def voice_turn(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The caller spoke (or stayed silent), a redirect came back, or a transfer ended."""
    return await handle(req, client, "turn")


@bp.route(route="voice/status", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def voice_status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Twilio's call status callback: a call that ended lets its unconfirmed hold go."""
    return await handle(req, client, "status")
