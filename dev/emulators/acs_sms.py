"""Azure Communication Services SMS emulator: the data-plane endpoints Frontdesk uses, on loopback.

What it is faithful to (what Frontdesk relies on):
- ``POST /sms?api-version=...`` exactly as ``azure-communication-sms`` sends it, answered like the service:
  ``202`` with ``value[]`` of ``{to, messageId, httpStatusCode, successful, errorMessage, repeatabilityResult}``,
  one item per recipient (an invalid number fails its item with 400 "Invalid To phone number format.", not
  the request).
- Repeatable requests (OASIS Repeatable Requests 1.0, as ACS applies them to each SMS recipient): a recipient
  item with ``repeatabilityRequestId`` (a GUID) and ``repeatabilityFirstSent`` (IMF-fixdate) seen again within
  the tracked window (5 minutes) with the same sender, number and message is answered with the first
  answer (same ``messageId``, ``repeatabilityResult: accepted``) and sends nothing; the same id with a different
  request is ``400`` / ``rejected``; a first-sent time older than the window is ``412`` / ``rejected`` (the
  service cannot tell whether it already ran it); a malformed id or date is ``400`` / ``rejected``.
- HMAC-SHA256 request signing, verified as the service does: ``x-ms-date`` within 15 minutes,
  ``x-ms-content-sha256`` equal to the body's SHA-256, and the signature over
  ``"VERB\\n<path?query>\\n<x-ms-date>;<host>;<content-hash>"`` with the resource's access key (either of two).
  Anything else gets ``401`` with the service's error body. Entra ID bearer tokens are not emulated:
  azure-core refuses to send them over plain http, so the managed-identity path needs a real resource.
- Opt-outs as the service handles them: a recipient who texted STOP to a number (``/_emulator/inbound``, or
  seeded) is in the opt-out database for that sender. A send to them is still *accepted* (202, successful,
  a messageId), is not delivered, and its delivery report (when requested) says ``Failed`` /
  "Sender blocked for given recipient." -- that is how ACS reports it (SMS FAQ, opt-out handling). The Opt-Out
  Management API (``POST /sms/optouts:check|add|remove``) answers ``isOptedOut`` synchronously.
- Errors of the whole request use the service's shape ``{"error": {"code", "message"}}`` and carry ``MS-CV``.

Event Grid, as the resource's system topic delivers to a webhook subscription (Event Grid schema, one event per
request, ``aeg-event-type`` header): ``POST /_emulator/subscriptions`` ``{endpoint}`` creates a subscription only
when the endpoint answers the ``SubscriptionValidationEvent`` handshake with its ``validationResponse``; every
``SMSReceived`` (an inbound text) is delivered at once, and delivery reports when the carrier reports
(``POST /_emulator/events/deliver``, or ``{id}`` to deliver one event again: at-least-once delivery). An event a
subscriber does not accept stays pending for the next delivery (Event Grid's retry). ``POST
/_emulator/undeliverable`` ``{to, details}`` makes a number a landline: texts to it are accepted, never delivered,
and reported ``Failed`` with those details.

Test API under ``/_emulator``: ``GET outbox`` (delivered messages), ``GET requests`` (every request, signed or
not), ``GET events`` (Event Grid events: SMSReceived, SMSDeliveryReportReceived), ``POST inbound``
``{from, to, message}`` (a phone texts the resource; STOP/START keywords update the opt-out database),
``GET|POST|DELETE optouts``, ``POST|DELETE faults`` ``{status, times, retryAfter, delay, path, perRecipient,
message, afterAccept}``, ``POST reset``. An ``afterAccept`` fault lets the send happen (the text is in the outbox)
and then delays the answer by ``delay`` seconds and/or answers ``status`` instead of 202: the answer is lost
after the service accepted, which is how a crashed or cut-off client experiences it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import unquote

import phonenumbers
from aiohttp import web

from dev.emulators.sms_control import add_control_routes
from dev.serving import BackgroundServer, RunningEmulator

DEFAULT_FROM = "+18005550100"
MAX_CLOCK_SKEW = timedelta(minutes=15)
REPEATABILITY_WINDOW = timedelta(minutes=5)  # "currently, the tracked duration is 5 minutes" (ACS docs)
MAX_RECIPIENTS = 100
MAX_MESSAGE_LENGTH = 2048
SIGNED_HEADERS = ["x-ms-date", "host", "x-ms-content-sha256"]
BLOCKED_DETAILS = "Sender blocked for given recipient."
INVALID_TO = "Invalid To phone number format."
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_KEYWORDS = frozenset({"START", "UNSTOP"})  # the SMS FAQ names these two
RESOURCE_TOPIC = ("/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/frontdesk-local/providers/"
                  "Microsoft.Communication/communicationServices/acs-emulator")

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_AUTH = re.compile(r"^HMAC-SHA256\s+SignedHeaders=(?P<headers>[^&]+)&Signature=(?P<signature>.+)$")


def new_access_key() -> str:
    """A random access key in the service's format (base64 of 64 bytes)."""
    return base64.b64encode(secrets.token_bytes(64)).decode()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _keyword(text: str) -> str:
    return re.sub(r"[^A-Z]", "", (text or "").strip().upper())


def _is_valid_recipient(number: str) -> bool:
    if not isinstance(number, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    # The service wants canonical E.164: "+112345678901" (an extra national prefix) is refused, not repaired.
    canonical = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return canonical == number and phonenumbers.is_valid_number(parsed)


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching requests (``None``: until cleared) get ``status``.

    ``delay`` seconds of latency come first; ``status`` 0 means latency only.
    """

    status: int
    times: int | None = 1
    retry_after: float | None = None
    delay: float = 0.0
    path: str = "/sms"
    code: str | None = None
    per_recipient: bool = False  # fail each recipient's item inside a 202, as the service does for some errors
    message: str | None = None
    after_accept: bool = False  # the send happens, then the answer is delayed and/or replaced (lost answer)


@dataclass
class AcsSmsState:
    """Everything the emulator remembers; guarded by a lock because tests read it from another thread."""

    access_keys: tuple[str, ...]
    from_numbers: set[str] = field(default_factory=lambda: {DEFAULT_FROM})
    outbox: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    opt_outs: set[tuple[str, str]] = field(default_factory=set)  # (sender, recipient)
    repeatability: dict[str, dict] = field(default_factory=dict)  # id -> {item, request, firstSent}
    repeatability_window: timedelta = REPEATABILITY_WINDOW
    faults: list[Fault] = field(default_factory=list)
    # Event Grid: subscriptions on the resource's system topic (kept across resets, like the real ones),
    # events not yet delivered to them, and numbers the carrier cannot deliver to (number -> status details).
    subscriptions: list[dict] = field(default_factory=list)
    pending: list[dict] = field(default_factory=list)
    undeliverable: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            self.pending.clear()
            self.undeliverable.clear()
            self.outbox.clear()
            self.requests.clear()
            self.events.clear()
            self.opt_outs.clear()
            self.repeatability.clear()
            self.repeatability_window = REPEATABILITY_WINDOW
            self.faults.clear()

    def take_fault(self, path: str, *, per_recipient: bool = False, after_accept: bool = False) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (path == fault.path and fault.per_recipient == per_recipient
                        and fault.after_accept == after_accept):
                    if fault.times is not None:
                        fault.times -= 1
                        if fault.times <= 0:
                            self.faults.remove(fault)
                    return fault
        return None

    def add_event(self, event_type: str, subject_number: str, data: dict) -> None:
        """Publish an event on the resource's system topic (call with the lock held)."""
        self.events.append({
            "id": str(uuid.uuid4()),
            "topic": RESOURCE_TOPIC,
            "subject": f"/phonenumber/{subject_number.lstrip('+')}",
            "eventType": event_type,
            "data": data,
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "eventTime": _iso(_now()),
        })
        if self.subscriptions:  # Event Grid delivers only what is published after a subscription exists
            self.pending.append(self.events[-1])

    def receive(self, sender: str, recipient: str, message: str) -> str | None:
        """A phone (``sender``) texts the resource's number (``recipient``); returns the keyword acted on."""
        keyword = _keyword(message)
        with self.lock:
            self.add_event("Microsoft.Communication.SMSReceived", recipient, {
                "messageId": f"Incoming_{_now():%Y%m%d%H%M%S}{uuid.uuid4()}_noam",
                "from": sender, "to": recipient, "message": message,
                "receivedTimestamp": _iso(_now()),
            })
            if keyword in STOP_KEYWORDS:
                self.opt_outs.add((recipient, sender))
                return "STOP"
            if keyword in START_KEYWORDS:
                self.opt_outs.discard((recipient, sender))
                return "START"
        return None


STATE = web.AppKey("state", AcsSmsState)


# ------------------------------------------------------------------ authentication


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sign(access_key: str, string_to_sign: str) -> str:
    """The service's signature: base64(HMAC-SHA256(base64-decoded key, UTF-8 string to sign))."""
    digest = hmac.new(base64.b64decode(access_key), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def string_to_sign(method: str, path_and_query: str, date: str, host: str, body_hash: str) -> str:
    return f"{method.upper()}\n{path_and_query}\n{date};{host};{body_hash}"


def authentication_problem(request: web.Request, body: bytes, access_keys: tuple[str, ...],
                           now: datetime | None = None) -> str | None:
    """Why this request's HMAC signature is not acceptable, or ``None`` when it is."""
    match = _AUTH.match(request.headers.get("Authorization", ""))
    if not match:
        return "missing or malformed HMAC-SHA256 Authorization header"
    if [h.strip().lower() for h in match["headers"].split(";")] != SIGNED_HEADERS:
        return "SignedHeaders must be x-ms-date;host;x-ms-content-sha256"
    date = request.headers.get("x-ms-date", "")
    try:
        signed_at = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return "x-ms-date is missing or not an RFC 1123 date"
    if signed_at.tzinfo is None or abs((now or _now()) - signed_at) > MAX_CLOCK_SKEW:
        return "x-ms-date is more than 15 minutes away from the service's clock"
    body_hash = request.headers.get("x-ms-content-sha256", "")
    if not hmac.compare_digest(body_hash, content_hash(body)):
        return "x-ms-content-sha256 does not match the request body"
    host = request.headers.get("Host", "")
    raw = request.raw_path
    # The async SDK signs the percent-decoded path; the sync SDK the path as sent. The service accepts both.
    for path_and_query in dict.fromkeys((raw, unquote(raw))):
        expected_input = string_to_sign(request.method, path_and_query, date, host, body_hash)
        for key in access_keys:
            if hmac.compare_digest(sign(key, expected_input), match["signature"]):
                return None
    return "signature does not match"


# ------------------------------------------------------------------ responses


def _correlation_headers(request: web.Request) -> dict[str, str]:
    headers = {"MS-CV": base64.b64encode(secrets.token_bytes(12)).decode().rstrip("=") + ".0"}
    client_request_id = request.headers.get("x-ms-client-request-id")
    if client_request_id and request.headers.get("x-ms-return-client-request-id", "").lower() == "true":
        headers["x-ms-client-request-id"] = client_request_id
    return headers


def error_response(request: web.Request, status: int, code: str, message: str,
                   retry_after: float | None = None) -> web.Response:
    headers = _correlation_headers(request)
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


_FAULT_CODES = {429: "TooManyRequests", 500: "InternalServerError", 502: "BadGateway",
                503: "ServiceUnavailable", 504: "GatewayTimeout", 400: "BadRequest", 403: "Forbidden"}


def _state(request: web.Request) -> AcsSmsState:
    return request.app[STATE]


async def _guard(request: web.Request, body: bytes) -> web.Response | None:
    """Log the request, verify its signature and apply any injected fault; a response ends the request."""
    state = _state(request)
    problem = authentication_problem(request, body, state.access_keys)
    entry = {"method": request.method, "path": request.path, "query": dict(request.query),
             "authorized": problem is None, "time": _iso(_now()), "recipients": _recipients_of(body)}
    with state.lock:
        state.requests.append(entry)
    if problem is not None:
        entry["status"] = 401
        entry["problem"] = problem
        return error_response(request, 401, "Denied", "Denied by the resource provider.")
    if not request.query.get("api-version"):
        entry["status"] = 400
        return error_response(request, 400, "MissingApiVersionParameter",
                              "The api-version query parameter (?api-version=) is required for all requests.")
    fault = state.take_fault(request.path)
    if fault is not None and fault.delay:
        await asyncio.sleep(fault.delay)
    if fault is not None and fault.status:  # status 0: latency only, then a normal answer
        entry["status"] = fault.status
        return error_response(request, fault.status, fault.code or _FAULT_CODES.get(fault.status, "Error"),
                              f"Injected fault {fault.status}.", fault.retry_after)
    return None


def _recipients_of(body: bytes) -> list[str]:
    try:
        payload = json.loads(body or b"{}")
        items = payload.get("smsRecipients") or payload.get("recipients") or []
        return [item.get("to") for item in items if isinstance(item, dict)]
    except (ValueError, AttributeError):
        return []


def _read_json(body: bytes) -> dict:
    payload = json.loads(body.decode("utf-8"))
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    return payload


# ------------------------------------------------------------------ service endpoints


async def send_sms(request: web.Request) -> web.Response:
    body = await request.read()
    refused = await _guard(request, body)
    if refused is not None:
        return refused
    state = _state(request)
    try:
        payload = _read_json(body)
        sender, recipients, message = _validate_send(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        return error_response(request, 400, "BadRequest", str(exc))
    options = payload.get("smsSendOptions") or {}
    item_fault = state.take_fault(request.path, per_recipient=True)
    results = []
    with state.lock:
        for recipient in recipients:
            if item_fault is not None:
                results.append({"to": recipient["to"], "httpStatusCode": item_fault.status, "successful": False,
                                "errorMessage": item_fault.message or _FAULT_CODES.get(item_fault.status, "Error")})
                continue
            results.append(_send_one(state, sender, recipient, message, options))
        state.requests[-1]["status"] = 202
    lost = state.take_fault(request.path, after_accept=True)
    if lost is not None:
        if lost.delay:
            await asyncio.sleep(lost.delay)
        if lost.status:
            return error_response(request, lost.status, lost.code or _FAULT_CODES.get(lost.status, "Error"),
                                  f"Injected fault {lost.status} after the messages were accepted.", lost.retry_after)
    return web.json_response({"value": results}, status=202, headers=_correlation_headers(request))


def _validate_send(payload: dict) -> tuple[str, list[dict], str]:
    sender = payload.get("from")
    recipients = payload.get("smsRecipients")
    message = payload.get("message")
    if not isinstance(sender, str) or not sender:
        raise ValueError("The from field is required.")
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ValueError(f"smsRecipients must list between 1 and {MAX_RECIPIENTS} recipients.")
    if any(not isinstance(item, dict) or "to" not in item for item in recipients):
        raise ValueError("Each recipient needs a to field.")
    if not isinstance(message, str):
        raise ValueError("The message field is required.")
    if len(message) > MAX_MESSAGE_LENGTH:
        raise ValueError(f"The message exceeds {MAX_MESSAGE_LENGTH} characters.")
    return sender, recipients, message


def _rejected(to: str, status: int, message: str) -> dict:
    return {"to": to, "httpStatusCode": status, "successful": False, "errorMessage": message,
            "repeatabilityResult": "rejected"}


def _repeat_of(state: AcsSmsState, sender: str, recipient: dict, message: str) -> dict | None:
    """The answer to a recipient item that is a repeatable request already seen (or refused); None otherwise.

    Follows the OASIS Repeatable Requests table ACS documents: malformed id or date -> 400; first sent
    outside the tracked window -> 412; a known id whose request differs -> 400; a known id with the same
    request -> the first answer again, nothing sent.
    """
    to, repeat_id, first_sent = recipient["to"], recipient.get("repeatabilityRequestId"), \
        recipient.get("repeatabilityFirstSent")
    if not isinstance(repeat_id, str) or not _GUID.match(repeat_id):
        return _rejected(to, 400, "Repeatability-Request-ID is not a valid GUID.")
    try:
        sent_at = parsedate_to_datetime(first_sent)
    except (TypeError, ValueError):
        sent_at = None
    if sent_at is None or sent_at.tzinfo is None:
        return _rejected(to, 400, "Repeatability-First-Sent is not a valid IMF-fixdate.")
    now = _now()
    window = state.repeatability_window
    for known in [key for key, seen in state.repeatability.items() if now - seen["firstSent"] > window]:
        del state.repeatability[known]  # the service only tracks requests for the window
    if now - sent_at > window:
        return _rejected(to, 412, "Repeatability-First-Sent header is not within 5 minutes window.")
    seen = state.repeatability.get(repeat_id.lower())
    if seen is None:
        return None
    if seen["request"] != (sender, to, message):
        return _rejected(to, 400, "Repeatability-Request-ID was already used for a different request.")
    return dict(seen["item"])


def _send_one(state: AcsSmsState, sender: str, recipient: dict, message: str, options: dict) -> dict:
    to = recipient["to"]
    repeat_id = recipient.get("repeatabilityRequestId")
    repeatable = repeat_id is not None or recipient.get("repeatabilityFirstSent") is not None
    if repeatable:
        answered = _repeat_of(state, sender, recipient, message)
        if answered is not None:
            return answered
    if not _is_valid_recipient(to):
        item = {"to": to, "httpStatusCode": 400, "successful": False, "errorMessage": INVALID_TO}
    else:
        message_id = f"Outgoing_{_now():%Y%m%d%H%M%S}{uuid.uuid4()}_noam"
        item = {"to": to, "messageId": message_id, "httpStatusCode": 202, "successful": True}
        blocked = (sender, to) in state.opt_outs
        failure = BLOCKED_DETAILS if blocked else state.undeliverable.get(to)
        if failure is None:
            state.outbox.append({"messageId": message_id, "from": sender, "to": to, "message": message,
                                 "tag": options.get("tag"),
                                 "enableDeliveryReport": bool(options.get("enableDeliveryReport")),
                                 "sentAt": _iso(_now())})
        if options.get("enableDeliveryReport"):
            state.add_event("Microsoft.Communication.SMSDeliveryReportReceived", sender, {
                "messageId": message_id, "from": sender, "to": to,
                "deliveryStatus": "Failed" if failure else "Delivered",
                "deliveryStatusDetails": failure or "No error.",
                "receivedTimestamp": _iso(_now()), "tag": options.get("tag"),
                "deliveryAttempts": [{"timestamp": _iso(_now()), "segmentsSucceeded": 0 if failure else 1,
                                      "segmentsFailed": 1 if failure else 0}],
            })
    if repeatable:
        item["repeatabilityResult"] = "accepted"
        state.repeatability[repeat_id.lower()] = {
            "item": dict(item), "request": (sender, to, message),
            "firstSent": parsedate_to_datetime(recipient["repeatabilityFirstSent"])}
    return item


async def opt_outs_api(request: web.Request) -> web.Response:
    """``POST /sms/optouts:add|remove|check`` (the Opt-Out Management API)."""
    body = await request.read()
    refused = await _guard(request, body)
    if refused is not None:
        return refused
    action = request.match_info["action"]
    if action not in {"add", "remove", "check"}:
        return error_response(request, 404, "NotFound", "The requested resource was not found.")
    try:
        payload = _read_json(body)
        sender = payload["from"]
        recipients = [item["to"] for item in payload["recipients"]]
        if not sender or not 1 <= len(recipients) <= MAX_RECIPIENTS:
            raise ValueError("from and 1 to 100 recipients are required.")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        return error_response(request, 400, "BadRequest", f"Invalid request: {exc}")
    state = _state(request)
    results = []
    with state.lock:
        for to in recipients:
            if not _is_valid_recipient(to):
                results.append({"to": to, "httpStatusCode": 400, "errorMessage": INVALID_TO})
                continue
            if action == "add":
                state.opt_outs.add((sender, to))
                results.append({"to": to, "httpStatusCode": 200})
            elif action == "remove":
                state.opt_outs.discard((sender, to))
                results.append({"to": to, "httpStatusCode": 200})
            else:
                results.append({"to": to, "httpStatusCode": 200, "isOptedOut": (sender, to) in state.opt_outs})
        state.requests[-1]["status"] = 200
    return web.json_response({"value": results}, headers=_correlation_headers(request))


# ------------------------------------------------------------------ /_emulator test API

async def get_events(request: web.Request) -> web.Response:
    state = _state(request)
    with state.lock:
        return web.json_response([{k: v for k, v in e.items() if not k.startswith("_")} for e in state.events])


def _fault_from(payload: dict) -> Fault:
    return Fault(status=int(payload["status"]), times=payload.get("times", 1),
                 retry_after=payload.get("retryAfter"), delay=float(payload.get("delay", 0)),
                 path=payload.get("path", "/sms"), code=payload.get("code"),
                 per_recipient=bool(payload.get("perRecipient")), message=payload.get("message"),
                 after_accept=bool(payload.get("afterAccept")))


def _inbound_from(payload: dict) -> tuple[str | None, str | None, str]:
    return payload.get("from"), payload.get("to"), payload.get("message", "")



# ------------------------------------------------------------------ Event Grid delivery (system topic -> webhook)

VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"


async def _post_events(endpoint: str, events: list[dict], *, kind: str, subscription: str,
                       delivery_count: int = 0) -> tuple[int, str]:
    import aiohttp
    headers = {"Content-Type": "application/json", "aeg-event-type": kind, "aeg-subscription-name": subscription,
               "aeg-delivery-count": str(delivery_count), "aeg-metadata-version": "1", "aeg-data-version": "1.0"}
    try:
        async with aiohttp.ClientSession() as session:
            body = json.dumps([{k: v for k, v in e.items() if not k.startswith("_")} for e in events])
            async with session.post(endpoint, data=body, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=30)) as response:
                return response.status, await response.text()
    except aiohttp.ClientError as exc:
        return 0, type(exc).__name__


async def subscribe(state: AcsSmsState, endpoint: str, name: str = "frontdesk-sms") -> dict:
    """Create a webhook subscription as Event Grid does: it exists only if the endpoint answers the validation
    handshake (``{"validationResponse": <code>}``) with the code it was sent."""
    code = str(uuid.uuid4()).upper()
    event = {"id": str(uuid.uuid4()), "topic": RESOURCE_TOPIC, "subject": "", "eventType": VALIDATION_EVENT,
             "eventTime": _iso(_now()), "metadataVersion": "1", "dataVersion": "1",
             "data": {"validationCode": code,
                      "validationUrl": f"https://rp-eastus.eventgrid.azure.net/validate?code={code}"}}
    status, text = await _post_events(endpoint, [event], kind="SubscriptionValidation", subscription=name.upper())
    try:
        answered = json.loads(text).get("validationResponse") if status == 200 else None
    except (ValueError, AttributeError):
        answered = None
    if answered != code:
        return {"created": False, "status": status, "error": "Webhook validation handshake failed"}
    with state.lock:
        state.subscriptions = [s for s in state.subscriptions if s["name"] != name]
        state.subscriptions.append({"name": name, "endpoint": endpoint})
    return {"created": True, "status": status}


async def deliver_events(state: AcsSmsState, event_id: str | None = None) -> dict:
    """Deliver pending events (or event ``event_id`` once more: Event Grid delivers at least once) to every
    subscription, one event per request; an event a subscriber did not accept (non-2xx) stays pending."""
    with state.lock:
        if event_id is None:
            batch = list(state.pending)
        else:
            batch = [e for e in state.events if e["id"] == event_id]
        subscriptions = list(state.subscriptions)
    deliveries = []
    for event in batch:
        accepted = True
        for sub in subscriptions:
            status, _ = await _post_events(sub["endpoint"], [event], kind="Notification",
                                           subscription=sub["name"].upper(), delivery_count=event.get("_tries", 0))
            deliveries.append({"id": event["id"], "eventType": event["eventType"], "status": status})
            accepted = accepted and 200 <= status < 300
        with state.lock:
            event["_tries"] = event.get("_tries", 0) + 1
            if accepted and event in state.pending:
                state.pending.remove(event)
    return {"deliveries": deliveries}


async def _subscriptions_api(request: web.Request) -> web.Response:
    state = _state(request)
    if request.method == "DELETE":
        with state.lock:
            state.subscriptions.clear()
        return web.Response(status=204)
    payload = await request.json()
    result = await subscribe(state, payload["endpoint"], payload.get("name", "frontdesk-sms"))
    return web.json_response(result, status=201 if result["created"] else 400)


async def _deliver_api(request: web.Request) -> web.Response:
    payload = await request.json() if request.can_read_body else {}
    return web.json_response(await deliver_events(_state(request), payload.get("id")))


async def _undeliverable_api(request: web.Request) -> web.Response:
    payload = await request.json()
    state = _state(request)
    with state.lock:
        state.undeliverable[payload["to"]] = payload.get("details") or "Unreachable destination (landline)"
    return web.json_response({"ok": True}, status=201)


def create_app(access_key: str | None = None, *, secondary_key: str | None = None,
               from_numbers: tuple[str, ...] = (DEFAULT_FROM,)) -> web.Application:
    """The emulator as an aiohttp application; ``app[STATE]`` is its :class:`AcsSmsState`."""
    keys = tuple(k for k in (access_key or new_access_key(), secondary_key) if k)
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = AcsSmsState(access_keys=keys, from_numbers=set(from_numbers))
    app.router.add_post("/sms", send_sms)
    app.router.add_post(r"/sms/optouts:{action}", opt_outs_api)
    app.router.add_get("/_emulator/events", get_events)
    add_control_routes(app, STATE, make_fault=_fault_from, read_inbound=_inbound_from,
                       deliver_inbound=lambda state: deliver_events(state))
    app.router.add_post("/_emulator/subscriptions", _subscriptions_api)
    app.router.add_delete("/_emulator/subscriptions", _subscriptions_api)
    app.router.add_post("/_emulator/events/deliver", _deliver_api)
    app.router.add_post("/_emulator/undeliverable", _undeliverable_api)
    return app


# ------------------------------------------------------------------ running it


class AcsSmsEmulator(RunningEmulator):
    """A running ACS SMS emulator and what a client needs: endpoint, access key, sender number."""

    def __init__(self, server, state, from_number: str):
        super().__init__(server, state)
        self.from_number = from_number

    @property
    def endpoint(self) -> str:
        """The resource endpoint, without a trailing slash (the SDK signs the host taken from it)."""
        return self._server.base_url

    @property
    def access_key(self) -> str:
        return self.state.access_keys[0]

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.endpoint}/;accesskey={self.access_key}"

    def env(self) -> dict[str, str]:
        """App settings that point Frontdesk's ACS sender here."""
        return {"SMS__PROVIDER": "acs", "SMS__FROM_NUMBER": self.from_number,
                "ACS__ENDPOINT": self.endpoint, "ACS__ACCESS_KEY": self.access_key}

    def outbox(self) -> list[dict]:
        with self.state.lock:
            return [dict(item) for item in self.state.outbox]

    def requests(self, path: str | None = "/sms") -> list[dict]:
        """Requests received (all of them when ``path`` is ``None``)."""
        with self.state.lock:
            return [dict(item) for item in self.state.requests if path is None or item["path"] == path]

    def events(self, event_type: str | None = None) -> list[dict]:
        with self.state.lock:
            return [{k: v for k, v in e.items() if not k.startswith("_")} for e in self.state.events
                    if event_type is None or e["eventType"].endswith(event_type)]

    def inbound(self, sender: str, message: str, to: str | None = None) -> str | None:
        """``sender`` texts ``message`` to the resource's number; returns "STOP", "START" or ``None``."""
        return self.state.receive(sender, to or self.from_number, message)

    def opt_out(self, recipient: str, sender: str | None = None) -> None:
        with self.state.lock:
            self.state.opt_outs.add((sender or self.from_number, recipient))

    def subscribe(self, endpoint: str, name: str = "frontdesk-sms") -> dict:
        """Create an Event Grid webhook subscription for the resource's SMS events (validation handshake first)."""
        return self._server.call(subscribe(self.state, endpoint, name))

    def text(self, sender: str, message: str, to: str | None = None) -> dict:
        """``sender`` texts the resource's number: SMSReceived is published and delivered to the subscriptions."""
        keyword = self.state.receive(sender, to or self.from_number, message)
        return {**self._server.call(deliver_events(self.state)), "keyword": keyword}

    def deliver_events(self, event_id: str | None = None) -> list[dict]:
        """Deliver the pending events (delivery reports come when the carrier reports), or ``event_id`` again."""
        return self._server.call(deliver_events(self.state, event_id))["deliveries"]

    def mark_undeliverable(self, to: str, details: str = "Unreachable destination (landline)") -> None:
        """Texts to ``to`` are accepted but never delivered; their delivery reports say ``details``."""
        with self.state.lock:
            self.state.undeliverable[to] = details

    def fault(self, status: int, *, times: int | None = 1, retry_after: float | None = None, delay: float = 0.0,
              path: str = "/sms", per_recipient: bool = False, message: str | None = None,
              after_accept: bool = False) -> None:
        """Fail the next ``times`` requests to ``path`` (``None``: until reset); ``per_recipient`` fails items;
        ``after_accept`` sends first, then delays and/or fails the answer (the answer is lost, the text is not)."""
        with self.state.lock:
            self.state.faults.append(Fault(status, times, retry_after, delay, path, None, per_recipient, message,
                                           after_accept))



def start_acs_sms_emulator(access_key: str | None = None, *, port: int | None = None,
                           from_number: str = DEFAULT_FROM) -> AcsSmsEmulator:
    """Start the emulator on a free loopback port in a background thread."""
    key = access_key or new_access_key()
    server = BackgroundServer(lambda: create_app(key, from_numbers=(from_number,)), port=port,
                              name="acs-sms-emulator").start()
    return AcsSmsEmulator(server, server.app[STATE], from_number)


def signed_headers(access_key: str, method: str, url: str, body: bytes, *, date: datetime | None = None) -> dict:
    """Headers that sign a raw request like the SDK does (for fidelity tests and curl-like tools)."""
    from urllib.parse import urlsplit
    parts = urlsplit(url)
    path_and_query = parts.path + (f"?{parts.query}" if parts.query else "")
    signed_date = format_datetime(date or _now(), usegmt=True)
    body_hash = content_hash(body)
    signature = sign(access_key, string_to_sign(method, path_and_query, signed_date, parts.netloc, body_hash))
    return {"x-ms-date": signed_date, "x-ms-content-sha256": body_hash, "Content-Type": "application/json",
            "Authorization": f"HMAC-SHA256 SignedHeaders=x-ms-date;host;x-ms-content-sha256&Signature={signature}"}
