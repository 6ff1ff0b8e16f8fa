"""The booking HTTP API: event types, availability, bookings, cancel and reschedule (routes under /api).

Reads (``GET event-types``, ``GET availability``) are anonymous and rate limited per caller IP.
Bookings are protected by function keys (``x-functions-key``; docs/API.md explains keys, Entra ID
and idempotency). The triggers stay thin: validate, start or join a saga, wait a few seconds, and
render what happened:

- ``POST bookings`` needs an ``Idempotency-Key``. The booking id, which is also the saga's instance
  id, is ``booking_id_for(client, key)``: a retried request joins the same saga and gets the same
  answer; the same key with a different body is a 422. Answers: 201 + ``Location`` with the booking,
  202 + status URL while the saga still runs, 409 + ``alternatives`` when the time is taken or not
  offered, 422 when the request is invalid (including a past time, one beyond the maximum advance
  or one that is not a start time of the event type).
- ``GET bookings/{id}`` is the booking, and the status URL of a request still being worked on
  (202 until the saga ends, then the request's final answer).
- ``POST bookings/{id}/cancel`` and ``/reschedule`` start their sagas and answer like ``POST bookings``
  (200 with the booking when done).

Every error is ``{"error": {"code", "message", "details"}}`` (shared/http.py); never a stack trace.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from shared import clock
from shared.http import HttpError, error_response, json_response, parse_json_body
from shared.logs import get_logger, log_context
from shared.services.contracts import decoded

bp = df.Blueprint()
log = get_logger(__name__)
UTC = timezone.utc

WAIT_SECONDS = 5.0  # how long a write waits for its saga before answering 202
ALTERNATIVES = 5  # slots offered with a 409
READS_PER_SECOND = 10.0  # anonymous read rate per caller IP ...
READ_BURST = 60  # ... and the burst it may spend at once
WIDGET_BOOKINGS_PER_MINUTE = 6.0  # writes with the public widget key, per caller IP ...
WIDGET_BOOKING_BURST = 10  # ... and their burst
TERMINAL = {"Completed", "Failed", "Terminated", "Canceled"}
BOOKED = ("confirmed", "held", "rescheduled", "cancelled")  # saga outcomes that leave a booking to show
BOOKING_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")  # shared.domain.booking.Booking.id


# ---------------------------------------------------------------- rate limiting (anonymous reads, widget writes)

def _rate_limiter(name: str, rate: float, burst: int):
    """A limit shared by every instance (token buckets in Table Storage: shared/adapters/store_ratelimits.py)."""
    from shared.adapters.store_ratelimits import Limit, SharedRateLimiter, table_buckets
    return SharedRateLimiter(Limit(name, rate, burst), table_buckets)


_limiters: dict[str, Any] = {}


def rate_limiter(name: str):
    """``reads`` or ``widget-writes``, built on first use (no SDK import at module import)."""
    limiter = _limiters.get(name)
    if limiter is None:
        rate, burst = {"reads": (READS_PER_SECOND, READ_BURST),
                       "widget-writes": (WIDGET_BOOKINGS_PER_MINUTE / 60, WIDGET_BOOKING_BURST)}[name]
        limiter = _limiters.setdefault(name, _rate_limiter(name, rate, burst))
    return limiter


def caller_ip(req: func.HttpRequest) -> str:
    """The caller's address: the last X-Forwarded-For entry (added by Azure's front end, so not forgeable
    by the client, who can only prepend), without a port; ``unknown`` when there is none (local host)."""
    forwarded = (req.headers.get("x-forwarded-for") or "").split(",")[-1].strip()
    if forwarded.count(":") == 1:  # IPv4 with a port; bare IPv6 has several colons
        forwarded = forwarded.split(":")[0]
    return forwarded.strip("[]") or "unknown"


async def check_read_limit(req: func.HttpRequest) -> None:
    wait = await rate_limiter("reads").check(caller_ip(req))
    if wait > 0:
        raise RateLimited(wait)


async def check_widget_write_limit(req: func.HttpRequest) -> None:
    """The widget's key is public (it is in the page), so its writes are limited per caller like reads."""
    if is_widget_key(req):
        wait = await rate_limiter("widget-writes").check(caller_ip(req))
        if wait > 0:
            raise RateLimited(wait)


class RateLimited(HttpError):
    def __init__(self, retry_after: float):
        super().__init__(429, "rate_limited", "Too many requests from this address; slow down.",
                         [{"retryAfterSeconds": max(1, round(retry_after + 0.5))}])
        self.retry_after = max(1, round(retry_after + 0.5))


# ---------------------------------------------------------------- who is calling

def presented_key(req: func.HttpRequest) -> str | None:
    return req.headers.get("x-functions-key") or req.params.get("code") or None


def is_widget_key(req: func.HttpRequest) -> bool:
    """Whether the caller used the widget's public function key (``WIDGET__FUNCTION_KEY``)."""
    import hmac
    key = presented_key(req)
    secret = _services().settings.widget.function_key
    return bool(key and secret and hmac.compare_digest(key.encode(), secret.get_secret_value().encode()))


def client_id(req: func.HttpRequest) -> str:
    """The scope of idempotency keys: ``widget``, the function key the caller presented (hashed), or ``anonymous``.

    The Python worker is not told the key's *name*, so the key's hash stands for it: one key per
    integration means one idempotency scope per integration (docs/API.md). The raw key is never stored.
    """
    if is_widget_key(req):
        return "widget"
    key = presented_key(req)
    if key:
        return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]
    return "anonymous"


# ---------------------------------------------------------------- plumbing

def _services():
    from shared.services.container import get_services
    return get_services()


def _availability():
    from shared.services.availability import get_availability_service
    return get_availability_service(_services())


def _now() -> datetime:
    return clock.now()


def base_url(req: func.HttpRequest) -> str:
    """``https://host/api`` from the request's own URL (the route prefix is whatever the host uses)."""
    url = req.url.split("?", 1)[0]
    for marker in ("/bookings", "/availability", "/event-types"):
        index = url.find(marker)
        if index >= 0:
            return url[:index]
    return url.rstrip("/")


def booking_url(req: func.HttpRequest, booking_id: str) -> str:
    return f"{base_url(req)}/bookings/{booking_id}"


async def guarded(action: str, handler: Callable[[], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    """Run a handler; every failure becomes the API's error shape (never a stack trace)."""
    from shared.errors import ExternalServiceError, ThrottledError
    from shared.runtime import ensure_started
    try:
        ensure_started()
        return await handler()
    except RateLimited as error:
        return error_response(error.status, error.code, error.message, error.details,
                              headers={"Retry-After": str(error.retry_after)})
    except HttpError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except ExternalServiceError as error:
        retry_after = getattr(error, "retry_after", None) if isinstance(error, ThrottledError) else None
        log.warning("%s: %s unavailable (status=%s code=%s request_id=%s)", action, error.service or "a service",
                    error.status, error.code, error.request_id)
        return error_response(503, "service_unavailable",
                              "A service Frontdesk depends on did not answer; try again shortly.",
                              [{"service": error.service or "unknown"}],
                              headers={"Retry-After": str(max(1, round(retry_after or 5)))})
    except Exception:
        log.exception("%s failed", action)
        return error_response(500, "internal_error", "Something went wrong on our side; try again shortly.")


def validated(model, data: Any, prefix: str = "", context: dict | None = None):
    """``model`` validated from ``data``, or a 422 listing each field path and what is wrong with it."""
    from shared.services.api_models import validation_details
    if not isinstance(data, dict):
        raise HttpError(422, "validation_failed", "The request body must be a JSON object.",
                        [{"field": prefix or "(body)", "message": "should be a JSON object", "type": "model_type"}])
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise HttpError(422, "validation_failed", "The request is invalid; see details.",
                        validation_details(exc, prefix)) from None


def unknown_event_type(key: str, field: str = "eventType") -> HttpError:
    known = sorted(_services().business.event_types_by_key)
    return HttpError(422, "unknown_event_type", f"There is no event type {key!r}.",
                     [{"field": field, "message": "is not a configured event type", "type": "unknown_event_type",
                       "known": known}])


def unknown_host(host_id: str | None) -> HttpError:
    return HttpError(422, "unknown_host", f"Host {host_id!r} does not take this event type.",
                     [{"field": "hostId", "message": "is not a host of this event type", "type": "unknown_host"}])


# ---------------------------------------------------------------- GET event-types

@bp.route(route="event-types", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def event_types(req: func.HttpRequest) -> func.HttpResponse:
    """The configured event types: what can be booked, for how long, and which customer fields it needs."""
    async def handle() -> func.HttpResponse:
        from shared.services.api_models import BusinessView, EventTypesResponse, EventTypeView
        await check_read_limit(req)
        config = _services().business
        body = EventTypesResponse(business=BusinessView.of(config.business),
                                  event_types=[EventTypeView.of(t, config) for t in config.event_types])
        return json_response(body.model_dump(mode="json", by_alias=True),
                             headers={"Cache-Control": "public, max-age=60"})
    return await guarded("event types", handle)


# ---------------------------------------------------------------- GET availability

@bp.route(route="availability", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def availability(req: func.HttpRequest) -> func.HttpResponse:
    """Offered slots of an event type in a window, shown in the requested zone."""
    async def handle() -> func.HttpResponse:
        from shared.domain.routing import RoutingContext
        from shared.domain.timezones import render
        from shared.services.api_models import AvailabilityQuery, AvailabilityResponse, SlotView
        from shared.services.availability import UnknownEventType, UnknownHost
        await check_read_limit(req)
        service = _availability()
        business_zone = service.config.business.time_zone
        now = _now()
        query = validated(AvailabilityQuery, dict(req.params), context={"business_zone": business_zone, "now": now})
        start, end = query.window(now)
        time_zone = query.time_zone or business_zone
        try:
            result = await service.slots(query.event_type, start, end, host_id=query.host_id,
                                         context=RoutingContext(postal_code=query.postal_code))
        except UnknownEventType:
            raise unknown_event_type(query.event_type) from None
        except UnknownHost:
            raise unknown_host(query.host_id) from None
        body = AvailabilityResponse(event_type=query.event_type, time_zone=time_zone,
                                    start=render(start, time_zone), end=render(end, time_zone),
                                    slots=[SlotView.of(slot, time_zone) for slot in result.slots])
        return json_response(body.model_dump(mode="json", by_alias=True), headers={"Cache-Control": "no-store"})
    return await guarded("availability", handle)


# ---------------------------------------------------------------- sagas: start or join, wait, answer

class SagaRun:
    """One saga instance as the API sees it: started or joined, then waited for."""

    def __init__(self, client: df.DurableOrchestrationClient, instance_id: str):
        self.client = client
        self.instance_id = instance_id

    async def status(self, show_input: bool = False):
        status = await self.client.get_status(self.instance_id, show_input=show_input)
        return status if status else None

    async def start(self, orchestrator: str, payload: dict[str, Any], fingerprint: str | None = None):
        """Start the saga; if it was started concurrently under the same id, join it (same fingerprint) or 422."""
        try:
            await self.client.start_new(orchestrator, self.instance_id, payload)
        except Exception as exc:  # the SDK raises a bare Exception carrying the extension's answer
            existing = await self.status(show_input=True)
            if existing is None:
                raise
            log.info("saga %s was started concurrently (%s); joining it", self.instance_id, type(exc).__name__)
            check_same_request(saga_input(existing).get("fingerprint"), fingerprint)

    async def start_or_join(self, orchestrator: str, payload: dict[str, Any], *, restart_finished: bool = False):
        """Start the saga unless this instance id already exists (then join it).

        ``restart_finished`` starts afresh over a finished instance: a cancel or move asked again after an
        earlier attempt ended without changing the booking (a move that did happen changed the booking's
        version, hence the instance id).
        """
        existing = await self.status()
        if existing is not None and not (restart_finished and _runtime(existing) in TERMINAL
                                         and not _made_its_change(existing)):
            return
        await self.start(orchestrator, payload)

    async def wait(self, timeout: float = WAIT_SECONDS):
        """The instance's status once it ends (or waits for a confirmation), or the last one seen at ``timeout``."""
        deadline = time.monotonic() + timeout
        delay = 0.1  # most sagas take a few hundred ms; then back off so waiting requests cost little
        while True:
            status = await self.status()
            if status is not None and (_runtime(status) in TERMINAL or _stage(status) == "held"):
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return status
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 1.5, 1.0)


def _made_its_change(status) -> bool:
    """Whether a finished cancel or move did what it was asked: a second click that finds it so joins it
    (answers its result) instead of starting the change over an instance that has only just ended."""
    output = saga_output(status) if _runtime(status) == "Completed" else None
    return bool(output) and output.get("outcome") in ("cancelled", "rescheduled")


def check_same_request(stored_fingerprint: str | None, fingerprint: str | None) -> None:
    """422 when an Idempotency-Key comes back with a different request than the one it was first used for."""
    if fingerprint is None or stored_fingerprint in (None, fingerprint):
        return
    raise HttpError(422, "idempotency_key_reused",
                    "This Idempotency-Key was already used for a different request; use a new key.",
                    [{"field": "Idempotency-Key", "message": "already used with another body",
                      "type": "idempotency_key_reused"}])


def _runtime(status) -> str | None:
    value = getattr(status, "runtime_status", None)
    return getattr(value, "value", value)


def _stage(status) -> str | None:
    custom = decoded(getattr(status, "custom_status", None))
    return custom.get("stage") if isinstance(custom, dict) else None


def saga_input(status) -> dict[str, Any]:
    value = decoded(getattr(status, "input_", None))
    return value if isinstance(value, dict) else {}


def saga_output(status) -> dict[str, Any] | None:
    value = decoded(getattr(status, "output", None))
    return value if isinstance(value, dict) else None


async def answer(req: func.HttpRequest, booking_id: str, status, *, done_status: int,
                 alternatives_for: Callable[[], Awaitable[list]] | None) -> func.HttpResponse:
    """Render a saga's state as the API's answer (see the module docstring)."""
    from shared.services.api_models import PendingResponse
    if status is None or _runtime(status) not in TERMINAL:
        pending = PendingResponse(booking_id=booking_id, stage=_stage(status) if status else None,
                                  status_url=booking_url(req, booking_id))
        return json_response(pending.model_dump(mode="json", by_alias=True), 202,
                             headers={"Location": booking_url(req, booking_id), "Retry-After": "1"})
    result = saga_output(status)
    if _runtime(status) != "Completed" or result is None:
        log.error("saga for %s ended %s without a result", booking_id, _runtime(status))
        return error_response(500, "booking_failed", "The request could not be completed; nothing was booked "
                              "for it. Try again with a new Idempotency-Key.", [{"bookingId": booking_id}])
    outcome = result.get("outcome")
    if outcome in ("confirmed", "rescheduled", "cancelled") or (outcome == "held" and result.get("booking")):
        return await _booking_answer(req, booking_id, result, done_status)
    if outcome in ("conflict", "expired", "declined"):
        conflict = result.get("conflict") or {}
        alternatives = await alternatives_for() if alternatives_for else []
        code = {"conflict": "slot_unavailable", "expired": "hold_expired", "declined": "declined"}[outcome]
        message = {"conflict": "That time is no longer available; here are the nearest open times.",
                   "expired": "The hold expired before it was confirmed.",
                   "declined": "The hold was declined."}[outcome]
        return conflict_response(code, message, alternatives,
                                 [{"bookingId": booking_id, "reason": conflict.get("reason") or result.get("reason"),
                                   **({"hostIds": conflict["hostIds"]} if conflict.get("hostIds") else {})}])
    if outcome == "invalid":
        return error_response(422, "booking_invalid", result.get("reason") or "The request is invalid.",
                              [{"bookingId": booking_id, "reason": result.get("reason")}])
    if outcome == "not_found":
        return error_response(404, "not_found", f"There is no booking {booking_id}.")
    # A booking saga's answer is final for its Idempotency-Key; cancel and reschedule start afresh when retried.
    again = "with a new Idempotency-Key" if done_status == 201 else "shortly"
    return error_response(503, "booking_failed", f"The request could not be completed and was rolled back; try "
                          f"again {again}.", [{"bookingId": booking_id, "reason": result.get("reason")}],
                          headers={"Retry-After": "5"})


async def _booking_answer(req: func.HttpRequest, booking_id: str, result: dict[str, Any],
                          done_status: int) -> func.HttpResponse:
    from shared.domain.booking import Booking
    from shared.services.api_models import booking_view
    stored = await _services().bookings.get(result.get("bookingId") or booking_id)
    if stored is not None:
        booking = stored.value
    elif result.get("booking"):
        booking = Booking.model_validate(result["booking"])
    else:
        return error_response(500, "booking_failed", "The booking was made but could not be read back; "
                              "GET it again shortly.", [{"bookingId": booking_id}])
    headers = {"Location": booking_url(req, booking.id)} if done_status == 201 else None
    return json_response(booking_view(booking), done_status, headers=headers)


def conflict_response(code: str, message: str, alternatives: list, details: list) -> func.HttpResponse:
    """409 in the error shape, with ``alternatives``: the offered slots nearest the requested time."""
    body = {"error": {"code": code, "message": message, "details": details, "alternatives": alternatives}}
    return json_response(body, 409)


def alternatives_finder(event_type: str, near: datetime, time_zone: str | None, *, host_id: str | None = None,
                        postal_code: str | None = None, owner_id: str | None = None,
                        account_team: tuple[str, ...] = (), exclude_booking_id: str | None = None):
    """A callable giving the rendered alternatives (an empty list if they cannot be read right now)."""
    async def find() -> list[dict[str, Any]]:
        from shared.domain.routing import RoutingContext
        from shared.errors import ExternalServiceError
        from shared.services.api_models import SlotView
        service = _availability()
        zone_name = time_zone or service.config.business.time_zone
        context = RoutingContext(postal_code=postal_code, crm_owner_id=owner_id, account_team=account_team)
        try:
            slots = await service.alternatives(event_type, near, count=ALTERNATIVES, host_id=host_id,
                                               context=context, exclude_booking_id=exclude_booking_id)
        except (ExternalServiceError, LookupError) as exc:
            log.warning("alternatives for %s unavailable: %s", event_type, type(exc).__name__)
            return []
        return [SlotView.of(slot, zone_name).model_dump(mode="json", by_alias=True) for slot in slots]
    return find


def finder_for_request(request: dict[str, Any], exclude_booking_id: str | None = None):
    """Alternatives for a ``BookingRequest`` (as JSON), for the same customer and context."""
    from shared.services.contracts import BookingRequest
    parsed = BookingRequest.model_validate(request)
    return alternatives_finder(parsed.event_type, parsed.start, parsed.time_zone, host_id=parsed.host_id,
                               postal_code=parsed.customer.postal_code, owner_id=parsed.context.owner_id,
                               account_team=parsed.account_team, exclude_booking_id=exclude_booking_id)


def check_time(event_type, start: datetime, *, host_id: str | None = None, context=None, field: str = "start"):
    """Structural checks of a requested start: 422 for a time that is never bookable, 409 for one not
    available now (too soon, time off), both with a clear reason; None when the saga should decide."""
    from shared.services.availability import UnknownHost
    service = _availability()
    try:
        verdict = service.check_request_time(event_type, start, host_id=host_id, context=context)
    except UnknownHost:
        raise unknown_host(host_id) from None
    messages = {
        "past": "is in the past",
        "beyond_advance": f"is more than {event_type.maximum_advance_days} days ahead (the maximum advance)",
        "not_a_start_time": "is not a start time of this event type (off the slot grid or outside working hours)",
        "too_soon": f"is sooner than the minimum notice of {event_type.minimum_notice_minutes} minutes",
        "time_off": "falls in the host's time off",
    }
    if verdict == "ok":
        return None
    detail = {"field": field, "message": messages[verdict], "type": verdict}
    if verdict in ("past", "beyond_advance", "not_a_start_time"):
        raise HttpError(422, "time_not_bookable", f"The requested time {messages[verdict]}.", [detail])
    return detail


# ---------------------------------------------------------------- POST bookings

@bp.route(route="bookings", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def create_booking(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Book a time: validate, start (or join) the booking saga, and answer within a few seconds."""
    return await guarded("create booking", lambda: _create_booking(req, client))


def idempotency_key(req: func.HttpRequest) -> str:
    from shared.services.api_models import IDEMPOTENCY_KEY
    key = (req.headers.get("idempotency-key") or "").strip()
    if not key:
        raise HttpError(400, "missing_idempotency_key", "Send an Idempotency-Key header (e.g. a UUID) so a "
                        "retried request never books twice.",
                        [{"field": "Idempotency-Key", "message": "is required", "type": "missing"}])
    if not IDEMPOTENCY_KEY.match(key):
        raise HttpError(400, "invalid_idempotency_key", "The Idempotency-Key must be 1-200 printable ASCII "
                        "characters without spaces.",
                        [{"field": "Idempotency-Key", "message": "1-200 printable ASCII characters, no spaces",
                          "type": "pattern"}])
    return key


async def _create_booking(req: func.HttpRequest, client, scope: str | None = None) -> func.HttpResponse:
    """``scope``: the idempotency scope when the caller is known otherwise (a signed-in user); else by key."""
    from shared.domain.routing import RoutingContext
    from shared.services.contracts import BOOKING_SAGA, BookingRequest, SagaInput, booking_id_for, fingerprint
    await check_widget_write_limit(req)
    key = idempotency_key(req)
    body = parse_json_body(req)
    request = validated(BookingRequest, body)
    services = _services()
    try:
        event_type = services.business.event_type(request.event_type)
    except KeyError:
        raise unknown_event_type(request.event_type) from None
    check_booking_request(request, event_type)
    scope = scope or client_id(req)
    booking_id = booking_id_for(scope, key)
    as_json = request.model_dump(mode="json", by_alias=True)
    request_print = fingerprint(as_json)
    with log_context(booking_id=booking_id):
        run = SagaRun(client, booking_id)
        existing = await run.status(show_input=True)
        if existing is not None:
            check_same_request(saga_input(existing).get("fingerprint"), request_print)
        else:
            # Only a new request is judged on time: a retry of an accepted one gets that one's answer.
            context = RoutingContext(postal_code=request.customer.postal_code,
                                     crm_owner_id=request.context.owner_id, account_team=request.account_team)
            not_now = check_time(event_type, request.start, host_id=request.host_id, context=context)
            if not_now is not None:
                return conflict_response("slot_unavailable", "That time cannot be booked now; here are the "
                                         "nearest open times.", await finder_for_request(as_json)(), [not_now])
            scoped_key = f"{scope}/{key}"
            record = await services.bookings.reserve_idempotency_key(scoped_key, booking_id, request_print,
                                                                     now=_now())
            check_same_request(record.fingerprint, request_print)
            payload = SagaInput(booking_id=booking_id, request=request, idempotency_key=scoped_key,
                                fingerprint=request_print, requested_at=_now()).model_dump(mode="json", by_alias=True)
            await run.start(BOOKING_SAGA, payload, request_print)
            log.info("booking saga started for event type %s", request.event_type)
        status = await run.wait()
        return await answer(req, booking_id, status, done_status=201, alternatives_for=finder_for_request(as_json))


def check_booking_request(request, event_type) -> None:
    """What the models cannot know: the event type's required fields, the host, the confirmation mode."""
    from shared.services.api_models import customer_field
    details = []
    for name in event_type.required_fields:
        if not getattr(request.customer, name, None):
            details.append({"field": f"customer.{customer_field(name)}",
                            "message": f"is required for {event_type.name}", "type": "missing"})
    if request.confirmation != "immediate":
        details.append({"field": "confirmation", "message": "must be 'immediate' through the API (holds awaiting "
                        "confirmation are for the phone receptionist)", "type": "literal_error"})
    if request.time_zone is not None:
        from shared.domain.timezones import UnknownTimeZoneError, windows_to_iana
        try:
            windows_to_iana(request.time_zone)
        except UnknownTimeZoneError:
            details.append({"field": "timeZone", "message": "is not an IANA time zone such as America/Chicago",
                            "type": "time_zone"})
    if details:
        raise HttpError(422, "validation_failed", "The request is invalid; see details.", details)


# ---------------------------------------------------------------- GET bookings/{id}

@bp.route(route="bookings/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_booking(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """The booking; while its request is still being worked on, 202 (this is the status URL)."""
    return await guarded("get booking", lambda: _get_booking(req, client))


async def _get_booking(req: func.HttpRequest, client) -> func.HttpResponse:
    from shared.services.api_models import booking_view
    booking_id = req.route_params.get("id", "")
    if not _plausible_id(booking_id):
        return error_response(404, "not_found", "There is no such booking.")
    run = SagaRun(client, booking_id)
    status = await run.status(show_input=True)
    if status is not None:
        result = saga_output(status) or {}
        ended_without_booking = _runtime(status) in TERMINAL and result.get("outcome") not in BOOKED
        if _runtime(status) not in TERMINAL or ended_without_booking:
            # The status URL of a request: pending, or the request's final answer (409, 422...).
            request = saga_input(status).get("request")
            finder = finder_for_request(request) if isinstance(request, dict) else None
            return await answer(req, booking_id, status, done_status=200, alternatives_for=finder)
    stored = await _services().bookings.get(booking_id)
    if stored is not None:
        return json_response(booking_view(stored.value))
    return error_response(404, "not_found", f"There is no booking {booking_id}.")


def _plausible_id(booking_id: str) -> bool:
    """Whether ``booking_id`` could name a booking at all (anything else is a 404 without a storage read)."""
    return bool(BOOKING_ID.fullmatch(booking_id))


async def _active_booking(booking_id: str):
    stored = await _services().bookings.get(booking_id) if _plausible_id(booking_id) else None
    if stored is None:
        raise HttpError(404, "not_found", f"There is no booking {booking_id}.")
    return stored.value


def _optional_body(req: func.HttpRequest) -> Any:
    return parse_json_body(req) if (req.get_body() or b"").strip() else {}


# ---------------------------------------------------------------- POST bookings/{id}/cancel

@bp.route(route="bookings/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_booking(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Cancel a booking (idempotent: cancelling a cancelled booking answers it as it is)."""
    return await guarded("cancel booking", lambda: _cancel_booking(req, client))


async def _cancel_booking(req: func.HttpRequest, client) -> func.HttpResponse:
    from shared.domain.booking import BookingStatus
    from shared.services.api_models import CancelRequest, booking_view
    from shared.services.contracts import CANCEL_SAGA, CancelInput, cancel_instance_id
    body = validated(CancelRequest, _optional_body(req))
    booking = await _active_booking(req.route_params.get("id", ""))
    with log_context(booking_id=booking.id):
        if booking.status is BookingStatus.CANCELLED:
            return json_response(booking_view(booking))
        if booking.status is not BookingStatus.CONFIRMED and booking.status is not BookingStatus.HELD:
            raise HttpError(409, "booking_not_active", f"The booking is {booking.status.value}; there is nothing "
                            "to cancel.", [{"status": booking.status.value}])
        run = SagaRun(client, cancel_instance_id(booking.id))
        payload = CancelInput(booking_id=booking.id, reason=body.reason, notify_customer=body.notify_customer,
                              requested_at=_now()).model_dump(mode="json", by_alias=True)
        await run.start_or_join(CANCEL_SAGA, payload, restart_finished=True)
        status = await run.wait()
        return await answer(req, booking.id, status, done_status=200, alternatives_for=None)


# ---------------------------------------------------------------- POST bookings/{id}/reschedule

@bp.route(route="bookings/{id}/reschedule", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def reschedule_booking(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Move a confirmed booking to another offered time (and maybe another host)."""
    return await guarded("reschedule booking", lambda: _reschedule_booking(req, client))


async def _reschedule_booking(req: func.HttpRequest, client) -> func.HttpResponse:
    from shared.domain.booking import BookingStatus
    from shared.services.api_models import RescheduleRequest, booking_view
    from shared.services.contracts import RESCHEDULE_SAGA, RescheduleInput, reschedule_instance_id
    body = validated(RescheduleRequest, parse_json_body(req))
    booking = await _active_booking(req.route_params.get("id", ""))
    with log_context(booking_id=booking.id):
        if booking.status is not BookingStatus.CONFIRMED:
            raise HttpError(409, "booking_not_confirmed", f"Only a confirmed booking can be moved; this one is "
                            f"{booking.status.value}.", [{"status": booking.status.value}])
        try:
            event_type = _services().business.event_type(booking.event_type_key)
        except KeyError:
            raise HttpError(409, "event_type_retired", "This booking's event type is no longer offered; cancel "
                            "and book again.", [{"eventType": booking.event_type_key}]) from None
        if body.start == booking.start and body.host_id in (None, booking.host_id):
            return json_response(booking_view(booking))
        finder = alternatives_finder(event_type.key, body.start, booking.time_zone, host_id=body.host_id,
                                     postal_code=booking.customer.postal_code, owner_id=booking.context.owner_id,
                                     exclude_booking_id=booking.id)
        not_now = check_time(event_type, body.start, host_id=body.host_id)
        if not_now is not None:
            return conflict_response("slot_unavailable", "That time cannot be booked now; here are the nearest "
                                     "open times.", await finder(), [not_now])
        run = SagaRun(client, reschedule_instance_id(booking.id, body.start, booking.version, body.host_id))
        payload = RescheduleInput(booking_id=booking.id, start=body.start, host_id=body.host_id,
                                  requested_at=_now()).model_dump(mode="json", by_alias=True)
        await run.start_or_join(RESCHEDULE_SAGA, payload, restart_finished=True)
        status = await run.wait()
        return await answer(req, booking.id, status, done_status=200, alternatives_for=finder)
