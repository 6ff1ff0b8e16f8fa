"""Texts through Azure Communication Services (azure-communication-sms, async client).

Authentication: the resource's access key (HMAC-signed requests) when ``ACS__ACCESS_KEY`` is set, otherwise
the process's managed identity (Entra ID). The client is built as ``SmsClient(endpoint, credential)``:
``from_connection_string`` would force https (useless against the local emulator), and the endpoint must
not end in a slash because the HMAC policy signs the host taken from it.

How ACS tells us about opt-outs: the send API *accepts* a message to a recipient who texted STOP (202,
``successful``) and only the delivery report says "Failed" / "Sender blocked for given recipient.". So
before sending, this adapter asks the Opt-Out Management API (``POST /sms/optouts:check``) and turns a
listed recipient into :class:`OptedOutError` without texting; :func:`blocked_recipient` reads the delivery
report for the cases the check could not see. The check is best effort: if it fails, the text is sent
anyway (ACS still blocks the recipient).

Retries: the SDK retries once (no delay) on 5xx and on 429 with a short Retry-After; that is safe because
each recipient carries a ``repeatabilityRequestId`` which makes the service answer a repeated request
without sending twice. Anything longer is left to the caller (the Durable activity's retry policy).

Across attempts (at most once): the SDK's ``send()`` makes a new random repeatability id and first-sent time
on every call, which protects only its own in-call retries. When the sender passes an intent
(:mod:`shared.adapters.sms_intents`), the request is built here with the intent's deterministic id and its
first-sent time, through the SDK's generated client (the public ``send()`` cannot take them), so a Durable
retry after a crash repeats the very same request and ACS answers it with the first answer. ACS tracks
repeatable requests for 5 minutes: a repeat older than that is refused with 412, which this adapter reports
as a permanent ``RepeatabilityExpired`` error instead of sending blindly.
"""

from __future__ import annotations

import asyncio
import contextvars
from email.utils import format_datetime
from typing import Any

from shared.errors import (ExternalServiceError, ForbiddenError, OptedOutError, PermanentError, ThrottledError,
                           TransientError)
from shared.logs import get_logger, mask_phone
from shared.ports import SmsReceipt

logger = get_logger(__name__)

SERVICE = "acs-sms"
OPT_OUT_API_VERSION = "2025-09-17"
MAX_BODY_LENGTH = 2048
BLOCKED_DETAILS = "Sender blocked for given recipient"
_OPT_OUT_WORDS = ("opted out", "opt-out", "optout", "blocked", "unsubscribed")

# Headers of the last ACS response in this task: the SDK's send() returns only the per-recipient results.
_last_headers: contextvars.ContextVar[Any] = contextvars.ContextVar("frontdesk_acs_last_headers", default=None)


def _remember_headers(pipeline_response) -> None:
    _last_headers.set(pipeline_response.http_response.headers)


def blocked_recipient(event: dict) -> str | None:
    """The recipient an ACS delivery report (Event Grid ``SMSDeliveryReportReceived``) says has blocked us."""
    data = event.get("data") or {}
    if event.get("eventType", "").endswith("SMSDeliveryReportReceived") and data.get("deliveryStatus") == "Failed":
        if BLOCKED_DETAILS.lower() in (data.get("deliveryStatusDetails") or "").lower():
            return data.get("to")
    return None


def _repeatability_code(result) -> str | None:
    """Name ACS's refusals of a repeated request: they do not say whether the first attempt was sent."""
    if getattr(result, "repeatability_result", None) != "rejected":
        return None
    if result.http_status_code == 412:
        return "RepeatabilityExpired"
    return "RepeatabilityConflict"


def _request_id(headers: Any) -> str | None:
    if headers is None:
        return None
    return headers.get("MS-CV") or headers.get("x-ms-request-id") or headers.get("x-ms-client-request-id")


def _retry_after(headers: Any) -> float | None:
    try:
        return float(headers.get("Retry-After")) if headers is not None and headers.get("Retry-After") else None
    except ValueError:
        return None


def classify_status(status: int, message: str, *, request_id: str | None = None, code: str | None = None,
                    retry_after: float | None = None) -> ExternalServiceError:
    """An ACS failure (whole request or one recipient) as Frontdesk's error: permanent or retryable."""
    kwargs = {"service": SERVICE, "status": status, "code": code, "request_id": request_id}
    lowered = (message or "").lower()
    if status == 400 and any(word in lowered for word in _OPT_OUT_WORDS):
        return OptedOutError(f"recipient has opted out of texts: {message}", **kwargs)
    if status == 429:
        return ThrottledError(f"ACS is throttling texts: {message}", retry_after=retry_after, **kwargs)
    if status in (401, 403):
        return ForbiddenError(f"ACS refused Frontdesk's credentials: {message}", **kwargs)
    if status == 408 or status >= 500:
        return TransientError(f"ACS failed: {message}", **kwargs)
    return PermanentError(f"ACS refused the text: {message}", **kwargs)


def _retry_policy(max_retries: int, max_retry_after: float):
    from azure.core.pipeline.policies import AsyncRetryPolicy

    class CappedRetryPolicy(AsyncRetryPolicy):
        """Retries like azure-core, but never sleeps a long Retry-After inside a call: that is the caller's job."""

        def is_retry(self, settings, response):
            wait = self.get_retry_after(response)
            if wait is not None and wait > max_retry_after:
                return False
            return super().is_retry(settings, response)

    return CappedRetryPolicy(retry_total=max_retries, retry_backoff_factor=0.5, retry_backoff_max=2)


class AcsSmsGateway:
    """Sends one text per call with the async ``SmsClient``; one client per event loop, reused."""

    name = "acs"
    max_body_length = MAX_BODY_LENGTH

    def __init__(self, endpoint: str, from_number: str, *, access_key: str | None = None, credential=None,
                 max_retries: int = 1, max_retry_after: float = 5.0, timeout: float = 15.0,
                 check_opt_outs: bool = True, delivery_reports: bool = True):
        if access_key is None and credential is None:
            raise ValueError("an ACS access key or an Entra ID credential is required")
        self._endpoint = endpoint.rstrip("/")
        self._from = from_number
        self._access_key = access_key
        self._credential = credential
        self._max_retries = max_retries
        self._max_retry_after = max_retry_after
        self._timeout = timeout
        self._check_opt_outs = check_opt_outs
        self._delivery_reports = delivery_reports
        self._loop: asyncio.AbstractEventLoop | None = None
        self._clients: tuple[Any, Any] | None = None

    @property
    def auth(self) -> str:
        """``access-key`` (HMAC-signed requests) or ``entra-id`` (the managed identity's token)."""
        return "access-key" if self._access_key is not None else "entra-id"

    async def send(self, to: str, body: str, *, tag: str | None = None, intent=None) -> SmsReceipt:
        """Text ``to`` (E.164); raise :class:`OptedOutError`, :class:`PermanentError` or a retryable error.

        With an ``intent``, its repeatability id and first-sent time make a repeat of this text a no-op at ACS.
        """
        if self._check_opt_outs and await self.provider_says_opted_out(to):
            raise OptedOutError("recipient has opted out of texts from this number (ACS opt-out list)",
                                service=SERVICE, code="OptedOut")
        from azure.core.exceptions import AzureError, HttpResponseError
        sms_client, _ = self._clients_for_loop()
        _last_headers.set(None)
        try:
            if intent is None:
                results = await sms_client.send(from_=self._from, to=to, message=body,
                                                enable_delivery_report=self._delivery_reports, tag=tag)
            else:
                results = await self._send_repeatable(sms_client, to, body, tag, intent)
        except HttpResponseError as exc:
            raise self._error_from_response(exc) from exc
        except AzureError as exc:  # connection refused, reset, timeout
            raise TransientError(f"ACS could not be reached: {type(exc).__name__}", service=SERVICE) from exc
        except asyncio.TimeoutError as exc:
            raise TransientError("ACS did not answer in time", service=SERVICE) from exc
        result = results[0]
        headers = _last_headers.get()
        request_id = _request_id(headers)
        if not result.successful:
            raise classify_status(result.http_status_code, result.error_message or "", request_id=request_id,
                                  code=_repeatability_code(result), retry_after=_retry_after(headers))
        if getattr(result, "repeatability_result", None) and intent is not None and not intent.fresh:
            logger.info("ACS answered a repeated text for %s with its first answer (message %s)", mask_phone(to),
                        result.message_id)
        logger.info("ACS accepted a text for %s (message %s, request %s)", mask_phone(to), result.message_id,
                    request_id)
        return SmsReceipt(message_id=result.message_id, to=to, provider="acs")

    async def _send_repeatable(self, sms_client, to: str, body: str, tag: str | None, intent) -> list:
        """One recipient's send with the intent's repeatability id and first-sent time (IMF-fixdate)."""
        from azure.communication.sms._generated.models import SendMessageRequest, SmsRecipient, SmsSendOptions
        recipient = SmsRecipient(to=to, repeatability_request_id=intent.request_id,
                                 repeatability_first_sent=format_datetime(intent.first_sent, usegmt=True))
        request = SendMessageRequest(from_property=self._from, sms_recipients=[recipient], message=body,
                                     sms_send_options=SmsSendOptions(enable_delivery_report=self._delivery_reports,
                                                                     tag=tag))
        # The generated client is what the public send() calls; only the repeatability fields differ.
        return await sms_client._sms_service_client.sms.send(request, cls=lambda _pr, result, _h: result.value)

    async def provider_says_opted_out(self, to: str) -> bool:
        """Ask the Opt-Out Management API whether ``to`` opted out of this sender; False when it cannot tell."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest
        _, pipeline = self._clients_for_loop()
        request = HttpRequest("POST", f"{self._endpoint}/sms/optouts:check",
                              params={"api-version": OPT_OUT_API_VERSION},
                              json={"from": self._from, "recipients": [{"to": to}]})
        try:
            response = await pipeline.send_request(request)
            if response.status_code != 200:
                logger.warning("ACS opt-out check answered %s for %s (request %s); sending anyway",
                               response.status_code, mask_phone(to), _request_id(response.headers))
                return False
            items = response.json().get("value") or []
        except (AzureError, ValueError, asyncio.TimeoutError) as exc:
            logger.warning("ACS opt-out check failed for %s (%s); sending anyway", mask_phone(to), type(exc).__name__)
            return False
        return any(item.get("isOptedOut") is True for item in items if item.get("to") == to)

    async def aclose(self) -> None:
        clients, self._clients, self._loop = self._clients, None, None
        if clients is not None:
            for client in clients:
                await client.close()

    def _error_from_response(self, exc) -> ExternalServiceError:
        headers = exc.response.headers if exc.response is not None else None
        code = getattr(getattr(exc, "error", None), "code", None)
        message = getattr(getattr(exc, "error", None), "message", None) or exc.reason or str(exc)
        return classify_status(exc.status_code or 0, message, request_id=_request_id(headers), code=code,
                               retry_after=_retry_after(headers))

    def _clients_for_loop(self):
        # aiohttp sessions belong to the loop that made them: the Functions worker has one loop for the
        # process, so the clients are built once; a new loop (tests) gets new clients.
        loop = asyncio.get_running_loop()
        if self._clients is None or self._loop is not loop:
            self._loop, self._clients = loop, self._build_clients()
        return self._clients

    def _auth_credential(self):
        if self._access_key is not None:
            from azure.core.credentials import AzureKeyCredential
            return AzureKeyCredential(self._access_key)
        return self._credential

    def _build_clients(self):
        from azure.communication.sms.aio import SmsClient
        from azure.core import AsyncPipelineClient
        from azure.core.pipeline import policies
        # The SDK has no opt-out client yet; its own authentication policy signs our opt-out check the same way.
        from azure.communication.sms._shared.auth_policy_utils import get_authentication_policy
        credential = self._auth_credential()
        transport_options = {"connection_timeout": self._timeout, "read_timeout": self._timeout}
        sms_client = SmsClient(self._endpoint, credential,
                               retry_policy=_retry_policy(self._max_retries, self._max_retry_after),
                               raw_response_hook=_remember_headers, **transport_options)
        pipeline = AsyncPipelineClient(
            base_url=self._endpoint,
            policies=[policies.HeadersPolicy(), policies.UserAgentPolicy(sdk_moniker="frontdesk-acs-optouts"),
                      _retry_policy(0, 0),
                      get_authentication_policy(self._endpoint, credential, decode_url=True, is_async=True),
                      policies.NetworkTraceLoggingPolicy()],
            **transport_options)
        return sms_client, pipeline
