"""Twilio REST emulator: the Messages resource Frontdesk uses to send texts, on loopback.

Faithful to what Frontdesk relies on:
- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` with the form fields the ``twilio`` library sends
  (To, From, Body, StatusCallback, ...), HTTP Basic auth with the account SID and auth token; anything else
  gets ``401`` and Twilio's error JSON ``{code: 20003, message, more_info, status}``.
- ``201`` with the Message resource JSON (``sid`` "SM" + 32 hex, ``status`` "queued", dates in RFC 2822, ...)
  and a ``Twilio-Request-Id`` header.
- Twilio's error codes: 21610 (recipient replied STOP to this sender: "Attempt to send to unsubscribed
  recipient"), 21211 (invalid To), 21604 / 21603 / 21602 (missing To / From / Body), 21606 (From is not one
  of the account's numbers), 21617 (body over 1600 characters), 20404 (another account's URL).
- ``GET /2010-04-01/Accounts/{AccountSid}/Messages.json``: the account's messages, newest first, filtered by
  ``To``, ``From`` and the sent date (``DateSent`` on a day, ``DateSent>`` on or after, ``DateSent<`` on or before;
  a GMT date ``YYYY-MM-DD`` means that day, a ``YYYY-MM-DDTHH:MM:SSZ`` instant -- what the Python library sends
  for a datetime -- that instant), paged with ``PageSize`` (default 50, at most 1000) and ``Page``/``PageToken``
  in Twilio's page envelope (``messages``, ``page``, ``page_size``, ``next_page_uri``...). A message is created
  ``queued`` with no ``date_sent``; the emulator hands it to the "carrier" at once, so a later read shows it
  ``sent`` with ``date_sent`` set, unless ``hold_in_queue`` keeps new messages ``queued`` (a message that
  is not sent yet has no sent date and no ``DateSent`` filter finds it, as on Twilio).
- Opt-outs per sender and recipient, as Twilio's default keyword handling keeps them: STOP, STOPALL,
  UNSUBSCRIBE, CANCEL, END, QUIT (and OPTOUT, REVOKE) opt out; START, YES, UNSTOP opt back in.

Twilio calls the app back as it would in production, with ``X-Twilio-Signature`` computed from the auth token:
the number's "A message comes in" webhook (``POST /_emulator/webhooks`` ``{smsUrl}``) gets every inbound text
(form fields MessageSid, From, To, Body, ..., ``OptOutType`` for STOP/START) and a ``<Message>`` in its TwiML
answer is sent back to the phone (not to one who opted out); a message's ``StatusCallback`` gets the carrier's
report when ``POST /_emulator/status`` ``{sid, status, errorCode}`` says what the carrier did with it;
``POST /_emulator/redeliver`` ``{sid}`` posts an inbound text again (a Twilio retry).

Test API under ``/_emulator``: ``GET outbox``, ``GET requests``, ``POST inbound`` ``{From, To, Body}``,
``GET|POST|DELETE optouts``, ``POST|DELETE faults`` ``{status, times, retryAfter, delay, code, afterAccept}``,
``POST reset``. An ``afterAccept`` fault creates the message first and then delays the answer by ``delay``
seconds and/or answers ``status`` instead of 201: the answer is lost after Twilio accepted the text.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime, parsedate_to_datetime

import phonenumbers
from aiohttp import web

from dev.emulators.sms_control import add_control_routes
from dev.serving import BackgroundServer, RunningEmulator

API_VERSION = "2010-04-01"
DEFAULT_FROM = "+14155550100"
MAX_BODY_LENGTH = 1600
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
START_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})

_ERRORS = {
    20001: "Invalid paging or filter parameter",
    20003: "Authenticate",
    20404: "The requested resource {path} was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "The 'To' number {to} is not a valid phone number.",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21606: "The From phone number {from_} is not a valid, SMS-capable inbound phone number or short code for "
           "your account.",
    21610: "Attempt to send to unsubscribed recipient",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}
_FAULT_CODES = {429: 20429, 500: 20500, 503: 20503}


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


def new_auth_token() -> str:
    return secrets.token_hex(16)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment).replace("-0000", "+0000")


def _keyword(text: str) -> str:
    return re.sub(r"[^A-Z]", "", (text or "").strip().upper())


def _is_valid_to(number: str) -> bool:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", number or ""):
        return False
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return False
    return (phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number
            and phonenumbers.is_valid_number(parsed))


@dataclass
class Fault:
    """An injected failure for the next ``times`` send requests (``None``: until cleared).

    ``delay`` seconds of latency come first; ``status`` 0 means latency only.
    """

    status: int
    times: int | None = 1
    retry_after: float | None = None
    delay: float = 0.0
    code: int | None = None
    after_accept: bool = False  # create the message, then delay and/or replace the answer (a lost answer)


@dataclass
class TwilioState:
    """The account, its numbers and what happened; guarded by a lock because tests read it from another thread."""

    account_sid: str
    auth_token: str
    from_numbers: set[str] = field(default_factory=lambda: {DEFAULT_FROM})
    outbox: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    inbound: list[dict] = field(default_factory=list)
    opt_outs: set[tuple[str, str]] = field(default_factory=set)  # (sender, recipient)
    faults: list[Fault] = field(default_factory=list)
    hold_in_queue: bool = False  # new messages stay "queued" (no date_sent) until released
    sms_url: str | None = None  # the number's "A message comes in" webhook (kept across resets, like Twilio's)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> None:
        with self.lock:
            for items in (self.outbox, self.requests, self.inbound, self.faults):
                items.clear()
            self.opt_outs.clear()
            self.hold_in_queue = False

    def take_fault(self, *, after_accept: bool = False) -> Fault | None:
        with self.lock:
            fault = next((f for f in self.faults if f.after_accept == after_accept), None)
            if fault is None:
                return None
            if fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
            return fault

    def receive(self, sender: str, recipient: str, body: str) -> str | None:
        """A phone (``sender``) texts the account's number (``recipient``); returns the keyword acted on."""
        keyword = _keyword(body)
        with self.lock:
            self.inbound.append({"sid": "SM" + secrets.token_hex(16), "from": sender, "to": recipient, "body": body,
                                 "dateCreated": _rfc2822(datetime.now(timezone.utc)), "keyword": None})
            if keyword in STOP_KEYWORDS:
                self.opt_outs.add((recipient, sender))
                self.inbound[-1]["keyword"] = "STOP"
                return "STOP"
            if keyword in START_KEYWORDS:
                self.opt_outs.discard((recipient, sender))
                self.inbound[-1]["keyword"] = "START"
                return "START"
        return None


STATE = web.AppKey("state", TwilioState)


# ------------------------------------------------------------------ webhooks Twilio calls (inbound texts, status)

def signed_post_headers(auth_token: str, url: str, form: dict[str, str]) -> dict[str, str]:
    """``X-Twilio-Signature`` for a form POST to ``url``, computed as Twilio does (HMAC-SHA1, auth token)."""
    from twilio.request_validator import RequestValidator
    return {"X-Twilio-Signature": RequestValidator(auth_token).compute_signature(url, form),
            "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}


async def _post_form(url: str, form: dict[str, str], auth_token: str) -> tuple[int, str]:
    """POST a signed form; ``(status, body)``, or ``(0, error name)`` when the app could not be reached."""
    import aiohttp
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(url, data=form, headers=signed_post_headers(auth_token, url, form),
                                    timeout=aiohttp.ClientTimeout(total=15)) as response:  # Twilio's webhook limit
                return response.status, await response.text()
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        return 0, type(exc).__name__


def _twiml_messages(twiml: str) -> list[str]:
    """The ``<Message>`` texts of a TwiML answer (``<Message>text</Message>`` or ``<Message><Body>``)."""
    import xml.etree.ElementTree as ET
    try:
        root = ET.fromstring(twiml)
    except ET.ParseError:
        return []
    found = []
    for element in root.iter("Message"):
        body = element.find("Body")
        found.append(("".join(body.itertext()) if body is not None else "".join(element.itertext())).strip())
    return [text for text in found if text]


def _incoming_form(state: TwilioState, entry: dict) -> dict[str, str]:
    """The form Twilio posts to "A message comes in" (the fields Frontdesk and most apps read)."""
    form = {"MessageSid": entry["sid"], "SmsSid": entry["sid"], "SmsMessageSid": entry["sid"],
            "AccountSid": state.account_sid, "From": entry["from"], "To": entry["to"], "Body": entry["body"],
            "NumMedia": "0", "NumSegments": "1", "SmsStatus": "received", "ApiVersion": API_VERSION}
    if entry.get("keyword"):
        form["OptOutType"] = entry["keyword"]  # Twilio's default opt-out handling names the keyword
    return form


async def deliver_inbound(state: TwilioState, sid: str | None = None) -> dict:
    """POST the inbound text ``sid`` (the latest by default) to the number's webhook, signed; a ``<Message>``
    in the answer is sent back to the phone (into the outbox) unless the phone opted out."""
    with state.lock:
        entry = next((m for m in reversed(state.inbound) if sid is None or m["sid"] == sid), None)
        url = state.sms_url
    if entry is None:
        return {"error": "no such inbound message"}
    result: dict = {"sid": entry["sid"], "keyword": entry.get("keyword")}
    if not url:
        return result
    status, text = await _post_form(url, _incoming_form(state, entry), state.auth_token)
    replies = _twiml_messages(text) if status == 200 else []
    sent = []
    with state.lock:
        for reply in replies:
            if (entry["to"], entry["from"]) in state.opt_outs:
                continue  # Twilio refuses (21610): an opted-out phone gets no reply
            message = {**_message_resource(state.account_sid, entry["to"], entry["from"], reply),
                       "status": "sent", "status_callback": None, "direction": "outbound-reply"}
            message["date_sent"] = message["date_created"]
            state.outbox.append(message)
            sent.append(reply)
    return {**result, "webhook": {"status": status, "body": text}, "replies": sent}


async def post_status_callback(state: TwilioState, sid: str, status: str, error_code: int | None = None) -> dict:
    """The carrier reports on message ``sid``: update it and POST its StatusCallback, signed, as Twilio does."""
    with state.lock:
        message = next((m for m in state.outbox if m["sid"] == sid), None)
        if message is None:
            return {"error": "no such message"}
        message["status"] = status
        if error_code is not None:
            message["error_code"] = error_code
        url = message.get("status_callback")
        form = {"MessageSid": sid, "SmsSid": sid, "AccountSid": state.account_sid, "From": message["from"],
                "To": message["to"], "MessageStatus": status, "SmsStatus": status, "ApiVersion": API_VERSION}
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    if not url:
        return {"posted": False}
    code, _ = await _post_form(url, form, state.auth_token)
    return {"posted": True, "status": code}


def _request_id() -> str:
    return "RQ" + secrets.token_hex(16)


class _Blank(dict):
    """Message details; a placeholder nobody supplied renders empty instead of failing."""

    def __missing__(self, key: str) -> str:
        return ""


def twilio_error(code: int, status: int, *, retry_after: float | None = None, **details: str) -> web.Response:
    """An error answer in Twilio's shape."""
    body = {"code": code, "message": _ERRORS.get(code, "Error").format_map(_Blank(details)), "more_info":
            f"https://www.twilio.com/docs/errors/{code}", "status": status}
    headers = {"Twilio-Request-Id": _request_id()}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return web.json_response(body, status=status, headers=headers)


def basic_credentials(header: str) -> tuple[str, str] | None:
    if not header.lower().startswith("basic "):
        return None
    try:
        username, _, password = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return username, password


def _authenticated(state: TwilioState, header: str) -> bool:
    credentials = basic_credentials(header)
    if credentials is None:
        return False
    username, password = credentials
    return (hmac.compare_digest(username, state.account_sid)
            and hmac.compare_digest(password.encode(), state.auth_token.encode()))


def _state(request: web.Request) -> TwilioState:
    return request.app[STATE]


async def create_message(request: web.Request) -> web.Response:
    state = _state(request)
    form = await request.post()
    entry = {"method": request.method, "path": request.path, "to": form.get("To"), "from": form.get("From"),
             "authorized": _authenticated(state, request.headers.get("Authorization", "")),
             "time": datetime.now(timezone.utc).isoformat()}
    with state.lock:
        state.requests.append(entry)
    response = await _answer(request, state, form, entry)
    entry["status"] = response.status
    return response


async def _answer(request: web.Request, state: TwilioState, form, entry: dict) -> web.Response:
    if not entry["authorized"]:
        return twilio_error(20003, 401)
    if request.match_info["account_sid"] != state.account_sid:
        return twilio_error(20404, 404, path=request.path)
    fault = state.take_fault()
    if fault is not None:
        if fault.delay:
            await asyncio.sleep(fault.delay)
    if fault is not None and fault.status:  # status 0: latency only, then a normal answer
        return twilio_error(fault.code or _FAULT_CODES.get(fault.status, 20500), fault.status,
                            retry_after=fault.retry_after, to=form.get("To", ""), from_=form.get("From", ""),
                            path=request.path)
    to, sender, body = form.get("To", ""), form.get("From", ""), form.get("Body", "")
    if not to:
        return twilio_error(21604, 400)
    if not sender and not form.get("MessagingServiceSid"):
        return twilio_error(21603, 400)
    if not body and not form.get("MediaUrl") and not form.get("ContentSid"):
        return twilio_error(21602, 400)
    if len(body) > MAX_BODY_LENGTH:
        return twilio_error(21617, 400)
    if sender not in state.from_numbers:
        return twilio_error(21606, 400, from_=sender)
    if not _is_valid_to(to):
        return twilio_error(21211, 400, to=to)
    with state.lock:
        if (sender, to) in state.opt_outs:
            return twilio_error(21610, 400)
        message = _message_resource(state.account_sid, sender, to, body)
        stored = {**message, "status_callback": form.get("StatusCallback")}
        if not state.hold_in_queue:  # handed to the carrier at once: a later read shows it sent
            stored.update(status="sent", date_sent=message["date_created"])
        state.outbox.append(stored)
    lost = state.take_fault(after_accept=True)
    if lost is not None:
        if lost.delay:
            await asyncio.sleep(lost.delay)
        if lost.status:
            return twilio_error(lost.code or _FAULT_CODES.get(lost.status, 20500), lost.status,
                                retry_after=lost.retry_after)
    return web.json_response(message, status=201, headers={"Twilio-Request-Id": _request_id()})


# ------------------------------------------------------------------ reading messages back

MAX_PAGE_SIZE = 1000


def _sent_bound(value: str, *, upper: bool) -> tuple[datetime, bool]:
    """A ``DateSent`` value as (instant, is_a_whole_day): a GMT date or an ISO 8601 instant ending in Z."""
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        instant = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return instant, False
    start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
    return (start + timedelta(days=1) - timedelta(microseconds=1) if upper else start), True


def _sent_filter(query) -> tuple[datetime | None, datetime | None]:
    """The inclusive [lowest, highest] sent instants the ``DateSent`` parameters allow (``None``: open)."""
    low = high = None
    if query.get("DateSent"):
        low, whole_day = _sent_bound(query["DateSent"], upper=False)
        high = _sent_bound(query["DateSent"], upper=True)[0] if whole_day else low
    if query.get("DateSent>"):
        low = _sent_bound(query["DateSent>"], upper=False)[0]
    if query.get("DateSent<"):
        high = _sent_bound(query["DateSent<"], upper=True)[0]
    return low, high


def _matches(message: dict, to: str | None, sender: str | None, low: datetime | None, high: datetime | None) -> bool:
    if to and message["to"] != to or sender and message["from"] != sender:
        return False
    if low is None and high is None:
        return True
    if not message.get("date_sent"):  # not sent yet: no sent date to match
        return False
    sent = parsedate_to_datetime(message["date_sent"])
    return (low is None or sent >= low) and (high is None or sent <= high)


async def list_messages(request: web.Request) -> web.Response:
    state = _state(request)
    authorized = _authenticated(state, request.headers.get("Authorization", ""))
    with state.lock:
        state.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                               "authorized": authorized, "time": datetime.now(timezone.utc).isoformat()})
    if not authorized:
        return twilio_error(20003, 401)
    if request.match_info["account_sid"] != state.account_sid:
        return twilio_error(20404, 404, path=request.path)
    query = request.query
    try:
        low, high = _sent_filter(query)
        page_size = min(int(query.get("PageSize", 50)), MAX_PAGE_SIZE)
        page = int(query.get("Page", 0))
        if page_size < 1 or page < 0:
            raise ValueError
    except ValueError:
        return twilio_error(20001, 400)
    with state.lock:
        found = [{key: value for key, value in message.items() if key != "status_callback"}
                 for message in reversed(state.outbox)
                 if _matches(message, query.get("To"), query.get("From"), low, high)]
    return web.json_response(_page(request, found, page, page_size), headers={"Twilio-Request-Id": _request_id()})


def _page(request: web.Request, found: list[dict], page: int, page_size: int) -> dict:
    """Twilio's page envelope around one page of ``found``."""
    from urllib.parse import urlencode
    start = page * page_size
    items = found[start:start + page_size]
    base = {key: value for key, value in request.query.items() if key not in ("Page", "PageToken", "PageSize")}

    def uri(number: int) -> str:
        return f"{request.path}?{urlencode({**base, 'PageSize': page_size, 'Page': number, 'PageToken': f'PA{number}'})}"

    return {"messages": items, "page": page, "page_size": page_size, "start": start,
            "end": start + max(len(items) - 1, 0), "uri": uri(page), "first_page_uri": uri(0),
            "next_page_uri": uri(page + 1) if start + page_size < len(found) else None,
            "previous_page_uri": uri(page - 1) if page > 0 else None}


def _message_resource(account_sid: str, sender: str, to: str, body: str) -> dict:
    sid = "SM" + secrets.token_hex(16)
    now = _rfc2822(datetime.now(timezone.utc))
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid, "api_version": API_VERSION, "body": body,
        "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
        "error_code": None, "error_message": None, "from": sender, "messaging_service_sid": None,
        "num_media": "0", "num_segments": str(1 if len(body) <= 160 else -(-len(body) // 153)),
        "price": None, "price_unit": "USD", "sid": sid, "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"}, "to": to, "uri": f"{uri}.json",
    }


# ------------------------------------------------------------------ /_emulator test API


def _fault_from(payload: dict) -> Fault:
    return Fault(int(payload["status"]), payload.get("times", 1), payload.get("retryAfter"),
                 float(payload.get("delay", 0)), payload.get("code"), bool(payload.get("afterAccept")))


def _inbound_from(payload: dict) -> tuple[str | None, str | None, str]:
    return payload["From"], payload.get("To"), payload.get("Body", "")


def create_app(account_sid: str | None = None, auth_token: str | None = None, *,
               from_numbers: tuple[str, ...] = (DEFAULT_FROM,)) -> web.Application:
    """The emulator as an aiohttp application; ``app[STATE]`` is its :class:`TwilioState`."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = TwilioState(account_sid or new_account_sid(), auth_token or new_auth_token(), set(from_numbers))
    app.router.add_post(f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json", create_message)
    app.router.add_get(f"/{API_VERSION}/Accounts/{{account_sid}}/Messages.json", list_messages)
    add_control_routes(app, STATE, make_fault=_fault_from, read_inbound=_inbound_from,
                       deliver_inbound=lambda state: deliver_inbound(state))
    app.router.add_post("/_emulator/webhooks", _set_webhooks)
    app.router.add_post("/_emulator/redeliver", _redeliver)
    app.router.add_post("/_emulator/status", _status)
    return app


async def _set_webhooks(request: web.Request) -> web.Response:
    """``{"smsUrl": ...}``: the number's "A message comes in" URL (``null`` clears it)."""
    state = _state(request)
    payload = await request.json()
    with state.lock:
        state.sms_url = payload.get("smsUrl")
    return web.json_response({"smsUrl": state.sms_url})


async def _redeliver(request: web.Request) -> web.Response:
    """``{"sid": ...}``: POST that inbound text's webhook again (Twilio retrying a request)."""
    return web.json_response(await deliver_inbound(_state(request), (await request.json())["sid"]))


async def _status(request: web.Request) -> web.Response:
    """``{"sid", "status", "errorCode"}``: the carrier reports on a sent message (status callback)."""
    payload = await request.json()
    code = payload.get("errorCode")
    return web.json_response(await post_status_callback(_state(request), payload["sid"], payload["status"],
                                                        int(code) if code is not None else None))


# ------------------------------------------------------------------ running it


class TwilioEmulator(RunningEmulator):
    """A running Twilio REST emulator and the credentials to use with it."""

    def __init__(self, server, state, from_number: str):
        super().__init__(server, state)
        self.from_number = from_number

    @property
    def base_url(self) -> str:
        """What ``Client.api.base_url`` should be (``https://api.twilio.com`` in production)."""
        return self._server.base_url

    @property
    def account_sid(self) -> str:
        return self.state.account_sid

    @property
    def auth_token(self) -> str:
        return self.state.auth_token

    def env(self) -> dict[str, str]:
        """App settings that point Frontdesk's Twilio sender here."""
        return {"SMS__PROVIDER": "twilio", "SMS__FROM_NUMBER": self.from_number,
                "TWILIO__ACCOUNT_SID": self.account_sid, "TWILIO__AUTH_TOKEN": self.auth_token,
                "TWILIO__API_BASE_URL": self.base_url}

    def outbox(self) -> list[dict]:
        with self.state.lock:
            return [dict(item) for item in self.state.outbox]

    def requests(self) -> list[dict]:
        with self.state.lock:
            return [dict(item) for item in self.state.requests]

    def set_sms_url(self, url: str | None) -> None:
        """Configure the number's "A message comes in" webhook."""
        with self.state.lock:
            self.state.sms_url = url

    def text(self, sender: str, body: str, to: str | None = None) -> dict:
        """``sender`` texts the business: keywords applied, the signed webhook posted, TwiML replies sent.
        Returns ``{sid, keyword, webhook: {status, body}, replies}``."""
        self.state.receive(sender, to or self.from_number, body)
        return self._server.call(deliver_inbound(self.state))

    def redeliver(self, sid: str) -> dict:
        """Post inbound text ``sid``'s webhook again, as Twilio does when it retries."""
        return self._server.call(deliver_inbound(self.state, sid))

    def report_status(self, sid: str, status: str, error_code: int | None = None) -> dict:
        """The carrier reports ``status`` (delivered, undelivered, failed...) for sent message ``sid``."""
        return self._server.call(post_status_callback(self.state, sid, status, error_code))

    def inbound(self, sender: str, body: str, to: str | None = None) -> str | None:
        """``sender`` texts ``body`` to the account's number; returns "STOP", "START" or ``None``."""
        return self.state.receive(sender, to or self.from_number, body)

    def opt_out(self, recipient: str, sender: str | None = None) -> None:
        with self.state.lock:
            self.state.opt_outs.add((sender or self.from_number, recipient))

    def fault(self, status: int, *, times: int | None = 1, retry_after: float | None = None,
              delay: float = 0.0, code: int | None = None, after_accept: bool = False) -> None:
        """Fail the next ``times`` sends; ``after_accept`` creates the message first (the answer is lost)."""
        with self.state.lock:
            self.state.faults.append(Fault(status, times, retry_after, delay, code, after_accept))

    def hold_in_queue(self, hold: bool = True) -> None:
        """Keep new messages ``queued`` (not sent, no ``date_sent``) until called with ``False``."""
        with self.state.lock:
            self.state.hold_in_queue = hold



def start_twilio_emulator(account_sid: str | None = None, auth_token: str | None = None, *,
                          port: int | None = None, from_number: str = DEFAULT_FROM) -> TwilioEmulator:
    """Start the emulator on a free loopback port in a background thread."""
    sid, token = account_sid or new_account_sid(), auth_token or new_auth_token()
    server = BackgroundServer(lambda: create_app(sid, token, from_numbers=(from_number,)), port=port,
                              name="twilio-emulator").start()
    return TwilioEmulator(server, server.app[STATE], from_number)
