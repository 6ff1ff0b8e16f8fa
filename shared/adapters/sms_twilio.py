"""Texts through Twilio Programmable Messaging (the ``twilio`` library's REST ``Client``).

The library's own async HTTP client (``AsyncTwilioHttpClient``, aiohttp) is used with
``messages.create_async`` rather than running the sync client in a thread: a booking fans out SMS, mail and
CRM calls in parallel, and a thread per text would tie up the worker's small default thread pool for the
length of a slow Twilio call; the async client also pools connections per event loop. The base class is
extended only to (a) give the aiohttp session a real timeout, (b) send Basic auth as a header (aiohttp
deprecates the helper the library uses) and (c) remember the last response's ``Twilio-Request-Id`` and
``Retry-After``, which ``TwilioRestException`` drops and support needs.

No automatic retries: Twilio's Messages API has no idempotency key, so a retried POST after a lost answer
could text the customer twice. Failures are classified and the caller (the Durable activity) decides:
21610 (recipient texted STOP) -> :class:`OptedOutError`; 21211 / 21614 and other 4xx -> :class:`PermanentError`;
429 -> :class:`ThrottledError`; 5xx, timeouts and connection errors -> :class:`TransientError`.
``Client.api.base_url`` points the client at the local emulator when ``TWILIO__API_BASE_URL`` is set.

At most once across attempts: before an attempt whose earlier outcome was never recorded, the sender calls
:meth:`TwilioSmsGateway.find_accepted`, which lists the account's messages to the recipient from our number
sent since the intent's day (``To``, ``From``, ``DateSent>``), then the newest ones not sent yet (a queued
message has no sent date, so no ``DateSent`` filter finds it), and takes one created at or after the intent
(less a minute of clock skew) whose body hashes to the intent's. Only when Twilio has none is the text sent.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.errors import (ExternalServiceError, ForbiddenError, OptedOutError, PermanentError, ThrottledError,
                           TransientError)
from shared.logs import get_logger, mask_phone
from shared.ports import SmsReceipt

logger = get_logger(__name__)

SERVICE = "twilio"
MAX_BODY_LENGTH = 1600
OPTED_OUT_CODES = frozenset({21610})  # "Attempt to send to unsubscribed recipient"
LOOKUP_PAGE = 50  # newest messages to one recipient read per lookup; a retry follows its attempt closely
CLOCK_SKEW = timedelta(minutes=1)  # between our clock (the intent's time) and Twilio's (date_created)
NOT_SENT_YET = frozenset({"accepted", "scheduled", "queued", "sending"})

# The last response seen in this task: the twilio exception does not carry headers.
_last_response: contextvars.ContextVar[Any] = contextvars.ContextVar("frontdesk_twilio_last_response", default=None)


def classify_twilio_error(status: int, code: int | None, message: str, *, request_id: str | None = None,
                          retry_after: float | None = None) -> ExternalServiceError:
    """A Twilio REST failure as Frontdesk's error: opted out, permanent, throttled or transient."""
    kwargs = {"service": SERVICE, "status": status, "code": str(code) if code else None, "request_id": request_id}
    if code in OPTED_OUT_CODES:
        return OptedOutError(f"recipient has opted out of texts: {message}", **kwargs)
    if status == 429:
        return ThrottledError(f"Twilio is throttling texts: {message}", retry_after=retry_after, **kwargs)
    if status in (401, 403):
        return ForbiddenError(f"Twilio refused Frontdesk's credentials: {message}", **kwargs)
    if status == 408 or status >= 500:
        return TransientError(f"Twilio failed: {message}", **kwargs)
    return PermanentError(f"Twilio refused the text: {message}", **kwargs)


def _http_client_class():
    from aiohttp import ClientSession, ClientTimeout
    from twilio.http.async_http_client import AsyncTwilioHttpClient

    class RecordingAsyncHttpClient(AsyncTwilioHttpClient):
        """Twilio's aiohttp client with a session timeout and the last response kept for error reports."""

        def __init__(self, timeout: float):
            super().__init__(pool_connections=False)
            self._timeout_seconds = timeout
            self.session = ClientSession(timeout=ClientTimeout(total=timeout))

        async def request(self, method, url, params=None, data=None, headers=None, auth=None, timeout=None,
                          allow_redirects=False):
            if auth is not None:  # aiohttp deprecates its BasicAuth helper; send the header ourselves
                headers = {**(headers or {}), "Authorization": _basic_authorization(*auth)}
            # An explicit timeout=None would switch the session's timeout off, so always pass one.
            response = await super().request(method, url, params=params, data=data, headers=headers, auth=None,
                                             timeout=timeout or self._timeout_seconds,
                                             allow_redirects=allow_redirects)
            _last_response.set(response)
            return response

    return RecordingAsyncHttpClient


def _basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")


def _header(response: Any, name: str) -> str | None:
    headers = getattr(response, "headers", None) or {}
    return headers.get(name) or headers.get(name.lower())


class TwilioSmsGateway:
    """Sends one text per call with ``messages.create_async``; one client per event loop, reused."""

    name = "twilio"
    max_body_length = MAX_BODY_LENGTH

    def __init__(self, account_sid: str, auth_token: str, from_number: str, *, api_base_url: str | None = None,
                 status_callback: str | None = None, timeout: float = 15.0):
        self._account_sid = account_sid
        self._auth_token = auth_token
        self._from = from_number
        self._api_base_url = api_base_url.rstrip("/") if api_base_url else None
        self._status_callback = status_callback
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None

    async def send(self, to: str, body: str, *, tag: str | None = None, intent=None) -> SmsReceipt:
        """Text ``to`` (E.164). Twilio has no tag field; ``tag`` is only logged for correlation.

        Twilio has no idempotency key, so ``intent`` changes nothing here: see :meth:`find_accepted`."""
        from aiohttp import ClientError
        from twilio.base import values
        from twilio.base.exceptions import TwilioRestException
        client = self._client_for_loop()
        _last_response.set(None)
        try:
            message = await client.messages.create_async(
                to=to, from_=self._from, body=body,
                status_callback=self._status_callback or values.unset)
        except TwilioRestException as exc:
            response = _last_response.get()
            raise classify_twilio_error(exc.status, exc.code if exc.code != exc.status else None,
                                        _plain_message(exc.msg), request_id=_header(response, "Twilio-Request-Id"),
                                        retry_after=_seconds(_header(response, "Retry-After"))) from exc
        except asyncio.TimeoutError as exc:
            # The text may or may not have been queued; the caller decides whether a duplicate is acceptable.
            raise TransientError(f"Twilio did not answer within {self._timeout:g} s", service=SERVICE) from exc
        except ClientError as exc:
            raise TransientError(f"Twilio could not be reached: {type(exc).__name__}", service=SERVICE) from exc
        request_id = _header(_last_response.get(), "Twilio-Request-Id")
        logger.info("Twilio accepted a text for %s (message %s, request %s, tag %s)", mask_phone(to), message.sid,
                    request_id, tag)
        return SmsReceipt(message_id=message.sid, to=to, provider="twilio")

    async def find_accepted(self, to: str, intent) -> SmsReceipt | None:
        """The message an earlier attempt of ``intent`` got Twilio to accept, or ``None`` if Twilio has none."""
        from aiohttp import ClientError
        from twilio.base.exceptions import TwilioRestException
        client = self._client_for_loop()
        since = intent.first_sent - CLOCK_SKEW
        try:
            sent = await client.messages.list_async(to=to, from_=self._from, date_sent_after=f"{since:%Y-%m-%d}",
                                                    limit=LOOKUP_PAGE, page_size=LOOKUP_PAGE)
            match = _matching(sent, intent, since)
            if match is None:
                newest = await client.messages.list_async(to=to, from_=self._from, limit=LOOKUP_PAGE,
                                                          page_size=LOOKUP_PAGE)
                match = _matching([m for m in newest if m.status in NOT_SENT_YET], intent, since)
        except TwilioRestException as exc:
            raise classify_twilio_error(exc.status, exc.code if exc.code != exc.status else None,
                                        _plain_message(exc.msg)) from exc
        except (asyncio.TimeoutError, ClientError) as exc:
            raise TransientError(f"Twilio could not be searched: {type(exc).__name__}", service=SERVICE) from exc
        if match is None:
            logger.info("Twilio has no earlier text for %s since the intent; sending", mask_phone(to))
            return None
        logger.info("Twilio already accepted this text for %s (message %s); not sending again", mask_phone(to),
                    match.sid)
        return SmsReceipt(message_id=match.sid, to=to, provider="twilio")

    async def aclose(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.http_client.close()

    def _client_for_loop(self):
        # aiohttp sessions belong to the loop that made them: the Functions worker has one loop for the
        # process, so the client is built once; a new loop (tests) gets a new client.
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._loop, self._client = loop, self._build_client()
        return self._client

    def _build_client(self):
        from twilio.rest import Client
        client = Client(self._account_sid, self._auth_token, http_client=_http_client_class()(self._timeout))
        if self._api_base_url:
            # An edge/region (TWILIO_EDGE / TWILIO_REGION) would rewrite the emulator's host name.
            client.edge = client.region = None
            client.api.base_url = self._api_base_url
        return client


def _matching(messages, intent, since: datetime):
    """The first message created since ``since`` whose body is the intent's text."""
    for message in messages:
        created = message.date_created
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        if created is not None and created < since:
            continue
        if intent.same_text(message.body or ""):
            return message
    return None


def _plain_message(msg: str | None) -> str:
    # The library prefixes Twilio's message with its own "Unable to create record: ".
    return (msg or "").split(": ", 1)[-1] if msg and msg.startswith("Unable to") else (msg or "")


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
