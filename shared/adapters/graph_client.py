"""The process's msgraph-sdk client, its retry policy, and how Graph failures become Frontdesk errors.

One ``GraphServiceClient`` per (Graph URL, identity, event loop), built on first use: its httpx
connection pool belongs to one loop, and the Functions worker has one loop while tests have many.
The client's pipeline is the SDK's default one with two changes:

* the retry handler is :class:`GraphRetryHandler`: it retries 429 and 5xx a bounded number of times,
  honours ``Retry-After``, and gives up (returning the 429 to the caller) as soon as honouring it would
  push the total wait past ``GRAPH__MAX_RETRY_AFTER_SECONDS``; the SDK's own handler waits without a
  cap and never retries 500;
* every request carries a ``client-request-id``, so a failure can be traced with Microsoft support.

POSTs are retried too: a 429 or 503 was not processed, event creation is idempotent through
``transactionId``, and what else Frontdesk POSTs (sendMail, getSchedule, a subscription) is at worst
repeated, which its callers already tolerate (activities run at least once; notifications are
deduplicated).

msgraph-sdk is imported lazily here: its first response deserialisation loads about 1,300 model
modules (about a second), so :func:`warm_up` exists for paths that must not pay that on first use.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from shared.config import Settings
from shared.errors import (ConflictError, ExternalServiceError, ForbiddenError, NotFoundError, PermanentError,
                           ThrottledError, TransientError)
from shared.logs import get_logger

SERVICE = "graph"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
log = get_logger(__name__)

_lock = threading.Lock()
_clients: "weakref.WeakKeyDictionary[object, dict[tuple, object]]" = weakref.WeakKeyDictionary()
_loopless: dict[tuple, object] = {}


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before an error reaches the caller."""

    max_retries: int = 3  # attempts after the first, for 429 and 5xx alike
    max_total_wait: float = 30.0  # seconds of Retry-After / backoff one call may spend waiting
    backoff_seconds: float = 0.5  # first backoff when the service gives no Retry-After; doubles


def retry_after_seconds(value: str | None) -> float | None:
    """A ``Retry-After`` header (seconds or an HTTP date) in seconds, or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - time.time())


def _middleware_classes():
    from kiota_http.middleware.middleware import BaseMiddleware

    class GraphRetryHandler(BaseMiddleware):
        """Retries 429/5xx with Retry-After honoured, within a total wait budget (see module doc)."""

        def __init__(self, policy: RetryPolicy):
            super().__init__()
            self.policy = policy

        async def send(self, request, transport):
            waited = 0.0
            attempt = 0
            while True:
                response = await super().send(request, transport)
                if response.status_code not in RETRY_STATUSES or attempt >= self.policy.max_retries:
                    return response
                delay = retry_after_seconds(response.headers.get("Retry-After"))
                if delay is None:
                    delay = self.policy.backoff_seconds * (2 ** attempt) * (1 + random.random() / 4)
                if waited + delay > self.policy.max_total_wait:
                    return response  # the caller turns it into ThrottledError / TransientError
                await response.aclose()
                await asyncio.sleep(delay)
                waited += delay
                attempt += 1
                request.headers["Retry-Attempt"] = str(attempt)

    class ClientRequestIdHandler(BaseMiddleware):
        """Gives every request its own ``client-request-id`` (the SDK does so only for graph.microsoft.com)."""

        async def send(self, request, transport):
            if "client-request-id" not in request.headers:
                request.headers["client-request-id"] = str(uuid.uuid4())
            return await super().send(request, transport)

    return GraphRetryHandler, ClientRequestIdHandler


def build_client(settings: Settings, credential, policy: RetryPolicy):
    """A GraphServiceClient for ``settings.graph.base_url`` whose token goes only to that host."""
    import httpx
    from kiota_authentication_azure.azure_identity_authentication_provider import AzureIdentityAuthenticationProvider
    from kiota_http.kiota_client_factory import KiotaClientFactory
    from kiota_http.middleware import RetryHandler
    from msgraph import GraphServiceClient
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph.graph_request_adapter import options as graph_options
    from msgraph_core import GraphClientFactory
    from msgraph_core.middleware import GraphTelemetryHandler
    from msgraph_core.middleware.options import GraphTelemetryHandlerOption

    base_url = str(settings.graph.base_url).rstrip("/")
    parts = urlsplit(base_url)
    # Real Graph wants the resource's .default scope; the emulator ignores it. Plain http is accepted by
    # the SDK for localhost / 127.0.0.1 / ::1 only, which is exactly where the emulator runs.
    scopes = [f"{parts.scheme}://{parts.hostname}/.default"]
    auth = AzureIdentityAuthenticationProvider(credential, scopes=scopes, allowed_hosts=[parts.hostname])

    retry_handler, client_request_id = _middleware_classes()
    middleware = [retry_handler(policy) if isinstance(m, RetryHandler) else m
                  for m in KiotaClientFactory.get_default_middleware(graph_options)]
    middleware.insert(0, client_request_id())
    middleware.append(GraphTelemetryHandler(options=graph_options[GraphTelemetryHandlerOption.get_key()]))
    timeout = httpx.Timeout(settings.graph.timeout_seconds, connect=min(10.0, settings.graph.timeout_seconds))
    http_client = httpx.AsyncClient(base_url=base_url, timeout=timeout, http2=parts.scheme == "https")
    http_client = GraphClientFactory.create_with_custom_middleware(middleware, client=http_client)
    request_adapter = GraphRequestAdapter(auth, client=http_client)
    request_adapter.base_url = base_url
    return GraphServiceClient(request_adapter=request_adapter)


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def get_graph_client(settings: Settings, policy: RetryPolicy):
    """The shared GraphServiceClient for these settings on the running event loop."""
    from shared.adapters.credentials import get_credential

    credential = get_credential(settings.identity)  # one per identity, so its id names the identity
    key = (str(settings.graph.base_url), id(credential), settings.graph.timeout_seconds, policy)
    loop = _running_loop()
    with _lock:
        clients = _clients.setdefault(loop, {}) if loop is not None else _loopless
        client = clients.get(key)
        if client is None:
            client = clients[key] = build_client(settings, credential, policy)
        return client


def warm_up() -> float:
    """Load the Graph models Frontdesk deserialises (about a second, once per process); returns seconds."""
    started = time.perf_counter()
    from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
    from msgraph.generated.models.event import Event
    from msgraph.generated.models.subscription import Subscription
    from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_response import GetSchedulePostResponse
    from msgraph.generated.users.item.calendar_view.delta.delta_get_response import DeltaGetResponse

    factory = JsonParseNodeFactory()
    samples = {
        Event: b'{"id":"x","start":{"dateTime":"2026-01-01T00:00:00","timeZone":"UTC"},"showAs":"busy"}',
        Subscription: b'{"id":"x","expirationDateTime":"2026-01-01T00:00:00Z"}',
        GetSchedulePostResponse: b'{"value":[{"scheduleId":"a@b.c","scheduleItems":[]}]}',
        DeltaGetResponse: b'{"value":[],"@odata.deltaLink":"x"}',
    }
    for model, payload in samples.items():
        factory.get_root_parse_node("application/json", payload).get_object_value(model)
    return time.perf_counter() - started


# ---------------------------------------------------------------------- errors

def _header(headers, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def translate_error(exc: BaseException, action: str) -> ExternalServiceError:
    """A Graph/SDK/transport failure as the matching :mod:`shared.errors` error (request ids kept)."""
    import httpx
    from kiota_abstractions.api_error import APIError

    if isinstance(exc, ExternalServiceError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{action} timed out", service=SERVICE, code="Timeout")
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"{action} could not reach Graph ({type(exc).__name__})", service=SERVICE,
                              code="TransportError")
    if not isinstance(exc, APIError):
        return PermanentError(f"{action} failed: {type(exc).__name__}: {exc}", service=SERVICE)

    status = exc.response_status_code
    headers = exc.response_headers
    main = getattr(exc, "error", None)
    code = getattr(main, "code", None)
    message = getattr(main, "message", None) or exc.message or "Graph returned an error"
    inner = getattr(main, "inner_error", None)
    request_id = _header(headers, "request-id") or getattr(inner, "request_id", None)
    client_request_id = _header(headers, "client-request-id") or getattr(inner, "client_request_id", None)
    text = f"{action}: {message}" + (f" [client-request-id {client_request_id}]" if client_request_id else "")
    details = dict(service=SERVICE, status=status, code=code, request_id=request_id)
    if status == 404:
        return NotFoundError(text, **details)
    if status in (409, 412):
        return ConflictError(text, **details)
    if status in (401, 403):
        return ForbiddenError(text, **details)
    if status == 429:
        return ThrottledError(text, retry_after=retry_after_seconds(_header(headers, "Retry-After")), **details)
    if status is not None and status >= 500:
        return TransientError(text, **details)
    return PermanentError(text, **details)
