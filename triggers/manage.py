"""``/api/manage/{token}``: the customer's own page for one booking, opened from the link in their texts.

The token (shared/services/manage_links.py) is the only credential: these routes are anonymous, rate
limited per caller address like the widget's, and every use re-reads the booking, so a cancelled booking's
link only says it was cancelled and an expired or altered one says nothing about any booking.

- ``GET manage/{token}``: the page (``web/manage/index.html`` with the widget's style sheet and its own
  script), rendered on the server so the booking or the "no longer valid" message shows without script;
  the script adds Reschedule (open times of the same event type, the customer's technician first) and
  Cancel (with a confirm step).
- ``GET manage/{token}/booking``: what the page shows, as JSON (never the customer's name, phone, notes).
- ``GET manage/{token}/availability?from=YYYY-MM-DD``: a week of open times from that local date.
- ``POST manage/{token}/cancel``, ``POST manage/{token}/reschedule`` (``{"start": ...}``): the existing
  cancel and reschedule sagas, under the same instance ids as ``/api/bookings/{id}/...``, so a double click
  joins the first request's saga instead of acting twice.
- ``GET manage-assets/{name}``: the page's script and style sheet.

A bad token is a 404 (``link_invalid``), one past its time a 410 (``link_expired``), a cancelled booking a 410
(``booking_cancelled``) for the booking and its changes; cancelling again answers 200 (it is cancelled).
"""

from __future__ import annotations

import functools
import html
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared import clock
from shared.http import HttpError, error_response, json_response, parse_json_body
from shared.logs import get_logger, log_context
from triggers import booking_api as api
from triggers import widget

bp = df.Blueprint()
log = get_logger(__name__)

MANAGE_DIR = Path(__file__).resolve().parent.parent / "web" / "manage"
PAGE = "index.html"
ACTIONS = "actions.html"
WINDOW_DAYS = 7  # one page of open times
WRITES_PER_MINUTE = 6.0  # cancel / reschedule per caller address, like the widget's bookings ...
WRITE_BURST = 10  # ... and their burst
HEADERS = {**widget.BASE_HEADERS, "Referrer-Policy": "no-referrer",  # the URL is the credential
           "Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
INVALID = ("link_invalid", "This link is not valid.")
EXPIRED = ("link_expired", "This link is no longer valid: the appointment it was for is over.")
CANCELLED = ("booking_cancelled", "This appointment was cancelled.")


# ---------------------------------------------------------------- the token -> the booking

@dataclass(frozen=True)
class Opened:
    """A link that was checked: its verdict and, only when ``ok`` or ``cancelled``, the booking."""

    verdict: str  # ok | cancelled | expired | invalid
    booking: Any = None


async def open_link(token: str) -> Opened:
    """Check the token's signature and expiry, then the booking as stored now (shared/services/manage_links.py)."""
    from shared.services import manage_links
    services = api._services()
    secret = manage_links.secret_of(services.settings)
    if secret is None:
        return Opened("invalid")
    now = clock.now()
    try:
        claims = manage_links.read(secret, token, now)
    except manage_links.InvalidLink as bad:
        log.info("manage link refused (%s)", bad.reason)
        return Opened("expired" if bad.reason == "expired" else "invalid")
    stored = await services.bookings.get(claims.booking_id)
    booking = stored.value if stored is not None else None
    verdict = manage_links.judge(booking.status.value if booking else None, booking.end if booking else None, now)
    if verdict == "unknown":
        return Opened("invalid")
    return Opened(verdict, booking if verdict in ("ok", "cancelled") else None)


def refusal(opened: Opened) -> HttpError:
    code, message = {"expired": EXPIRED, "cancelled": CANCELLED}.get(opened.verdict, INVALID)
    return HttpError(404 if opened.verdict == "invalid" else 410, code, message)


async def usable(req: func.HttpRequest) -> Any:
    """The booking a valid link opens, or the HTTP error saying why not (no detail of any booking)."""
    opened = await open_link(req.route_params.get("token", ""))
    if opened.verdict != "ok":
        raise refusal(opened)
    return opened.booking


# ---------------------------------------------------------------- what the customer sees

def first_name(display_name: str) -> str:
    return (display_name.split() or [display_name])[0]


def masked_address(address: str | None) -> str | None:
    """Only the street number (``2400 N Lincoln Ave`` -> ``2400 ...``): enough for the customer to recognise,
    nothing for whoever a link was forwarded to (docs/SECURITY.md)."""
    if not address:
        return None
    head = address.split()[0].rstrip(",")
    return f"{head} \u2026 (address on file)" if any(ch.isdigit() for ch in head) else "The address on file"


def booking_view(booking, config) -> dict[str, Any]:
    """The booking as the manage page shows it: no name, phone, e-mail, notes; the address masked."""
    from shared.domain.timezones import render
    from shared.services.notifications import display_phone, format_time, format_when
    zone = config.business.time_zone
    event_type = config.event_types_by_key.get(booking.event_type_key)
    host = config.hosts_by_id.get(booking.host_id)
    kind = event_type.location_kind if event_type else None
    where = {"onsite": masked_address(booking.customer.address), "phone": "By phone",
             "teams": "Microsoft Teams"}.get(kind)
    return {
        "status": booking.status.value,
        "reference": booking.id,
        "service": event_type.name if event_type else booking.event_type_key,
        "start": render(booking.start, zone),
        "end": render(booking.end, zone),
        "timeZone": zone,
        "when": f"{format_when(booking.start, zone)} - {format_time(booking.end, zone)}",
        "technician": first_name(host.display_name) if host and host.kind == "person" else None,
        "where": where,
        "business": {"name": config.business.name, "phone": display_phone(config.business.phone)},
        "canReschedule": event_type is not None,
        "canCancel": True,
    }


# ---------------------------------------------------------------- the page

@functools.cache
def manage_assets() -> dict[str, widget.Asset]:
    return {path.name: widget._load(path) for path in sorted(MANAGE_DIR.iterdir())
            if path.is_file() and path.suffix in (".js", ".css")}


@functools.cache
def actions_markup() -> str:
    """The reschedule and cancel steps, added to the page only for a link that may change its booking."""
    return (MANAGE_DIR / ACTIONS).read_text(encoding="utf-8")


@functools.cache
def page_template() -> str:
    """The page with its asset URLs (relative to ``/api/manage/{token}``) filled in."""
    text = (MANAGE_DIR / PAGE).read_text(encoding="utf-8")
    style = widget.assets()["widget.css"]
    text = text.replace("{{asset:widget.css}}", f"../widget/widget.css?v={style.version}")
    for name, asset in manage_assets().items():
        text = text.replace("{{asset:%s}}" % name, f"../manage-assets/{name}?v={asset.version}")
    return text


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _call_us(config, words: str = "Call us at") -> str:
    from shared.services.notifications import display_phone
    phone = display_phone(config.business.phone) if config else None
    return f"{words} {_e(phone)}." if phone else "please call us."


def page_body(opened: Opened, config) -> tuple[str, str]:
    """(title, the ``<main>``'s inner HTML) for a checked link; every value escaped."""
    business = f'<p class="fd-muted">{_e(config.business.name)}</p>' if config else ""
    if opened.verdict == "ok":
        view = booking_view(opened.booking, config)
        rows = [("Service", view["service"]), ("When", view["when"]), ("Technician", view["technician"]),
                ("Where", view["where"]), ("Reference", view["reference"])]
        listing = "".join(f"<dt>{_e(label)}</dt><dd id=\"fd-{label.lower()}\">{_e(value)}</dd>"
                          for label, value in rows if value)
        return "Your appointment", (
            f'<header class="fd-head"><h1 id="fd-title" tabindex="-1">Your appointment</h1>{business}</header>'
            f'<dl class="fd-receipt" id="fd-booking">{listing}</dl>'
            '<div id="fd-actions" class="fd-actions" hidden>'
            '<button type="button" id="fd-reschedule" class="fd-button fd-primary">Reschedule</button>'
            '<button type="button" id="fd-cancel" class="fd-button fd-secondary">Cancel appointment</button></div>'
            '<p id="fd-status" class="fd-status" role="status" aria-live="polite"></p>'
            '<div id="fd-alert" class="fd-alert" role="alert" hidden><p id="fd-alert-text"></p></div>'
            f'<noscript><p class="fd-alert">Changing your appointment here needs JavaScript. {_call_us(config)}'
            '</p></noscript>' + actions_markup())
    if opened.verdict == "cancelled":
        return "Appointment cancelled", (
            f'<header class="fd-head"><h1 id="fd-title">This appointment was cancelled</h1>{business}</header>'
            f'<p>There is nothing more to change with this link. To book again, {_call_us(config, "call us at")}'
            '</p>')
    return "Link no longer valid", (
        f'<header class="fd-head"><h1 id="fd-title">This link is no longer valid</h1>{business}</header>'
        f'<p>It may have expired or been copied incompletely. {_call_us(config)}</p>')


def render_page(opened: Opened, config) -> bytes:
    title, body = page_body(opened, config)
    data = {"state": opened.verdict,
            "booking": booking_view(opened.booking, config) if opened.verdict == "ok" else None}
    config_json = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return (page_template().replace("{{title}}", _e(title)).replace("{{content}}", body)
            .replace("{{config}}", config_json).encode("utf-8"))


def page_headers() -> dict[str, str]:
    return {**HEADERS, "Content-Security-Policy": widget.content_security_policy(()).replace(
        "frame-ancestors 'self'", "frame-ancestors 'none'"),
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin"}


@bp.route(route="manage/{token}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def manage_page(req: func.HttpRequest) -> func.HttpResponse:
    """The customer's page for the booking the link names (or why the link does not work)."""
    from shared.config import SettingsError
    from shared.runtime import ensure_started
    try:
        ensure_started()
        await api.check_read_limit(req)
        opened = await open_link(req.route_params.get("token", ""))
        config = api._services().business
    except api.RateLimited as error:
        return error_response(429, error.code, error.message, error.details,
                              headers={"Retry-After": str(error.retry_after)})
    except SettingsError:
        log.error("manage page: app settings invalid (GET /api/health names them)")
        return error_response(503, "not_configured", "This page is not available right now.")
    except Exception:  # storage unreachable...: a clear answer, never a stack trace
        log.exception("manage page failed")
        return error_response(503, "service_unavailable", "This page is not available right now; try again "
                              "shortly.", headers={"Retry-After": "5"})
    status = {"ok": 200, "cancelled": 200, "expired": 410}.get(opened.verdict, 404)
    return widget.text_response(req, render_page(opened, config), widget.CONTENT_TYPES[".html"], page_headers(),
                                status=status)


@bp.route(route="manage-assets/{asset}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def manage_asset(req: func.HttpRequest) -> func.HttpResponse:
    """The manage page's script or style sheet, by name."""
    asset = manage_assets().get(req.route_params.get("asset") or "")
    if asset is None:
        return error_response(404, "not_found", "No such file.", headers=widget.BASE_HEADERS)
    return widget.serve_asset(req, asset, ())


# ---------------------------------------------------------------- JSON: the booking and its open times

@bp.route(route="manage/{token}/booking", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def manage_booking(req: func.HttpRequest) -> func.HttpResponse:
    """The booking as the page shows it."""
    async def handle() -> func.HttpResponse:
        await api.check_read_limit(req)
        booking = await usable(req)
        return json_response(booking_view(booking, api._services().business), headers=HEADERS)
    return await api.guarded("manage booking", handle)


def window_start(req: func.HttpRequest, zone: str, now: datetime) -> date:
    """The ``from`` local date (default: today in the business's zone); 422 when it is not a date."""
    from shared.domain.timezones import in_zone
    today = in_zone(now, zone).date()
    raw = (req.params.get("from") or "").strip()
    if not raw:
        return today
    try:
        chosen = date.fromisoformat(raw)
    except ValueError:
        raise HttpError(422, "validation_failed", "The request is invalid; see details.",
                        [{"field": "from", "message": "should be a date such as 2026-03-02", "type": "date"}]) from None
    return max(chosen, today)


@bp.route(route="manage/{token}/availability", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def manage_availability(req: func.HttpRequest) -> func.HttpResponse:
    """A week of open times for the booking's event type; each says whether it is with the same technician."""
    async def handle() -> func.HttpResponse:
        from shared.domain.routing import RoutingContext
        from shared.domain.timezones import render, wall_to_utc
        from shared.domain.timezones import zone as zone_info
        await api.check_read_limit(req)
        booking = await usable(req)
        service = api._availability()
        zone = service.config.business.time_zone
        now = clock.now()
        first = window_start(req, zone, now)
        tz = zone_info(zone)
        start = wall_to_utc(datetime.combine(first, datetime.min.time()), tz)
        end = wall_to_utc(datetime.combine(first + timedelta(days=WINDOW_DAYS), datetime.min.time()), tz)
        context = RoutingContext(postal_code=booking.customer.postal_code, crm_owner_id=booking.context.owner_id)
        try:
            result = await service.slots(booking.event_type_key, start, end, context=context,
                                         exclude_booking_id=booking.id)
        except LookupError:
            raise retired(booking) from None
        slots = [{"start": render(slot.start, zone), "end": render(slot.end, zone),
                  "sameTechnician": booking.host_id in slot.host_ids}
                 for slot in result.slots if slot.start != booking.start]
        return json_response({"timeZone": zone, "from": first.isoformat(),
                              "to": (first + timedelta(days=WINDOW_DAYS - 1)).isoformat(), "slots": slots},
                             headers=HEADERS)
    return await api.guarded("manage availability", handle)


def retired(booking) -> HttpError:
    return HttpError(409, "event_type_retired", "This service can no longer be booked online; please call us.",
                     [{"eventType": booking.event_type_key}])


# ---------------------------------------------------------------- JSON: cancel and reschedule

_write_limiter: list = []


async def check_write_limit(req: func.HttpRequest) -> None:
    """Cancel and reschedule per caller address, shared by every instance like the widget's bookings."""
    if not _write_limiter:
        _write_limiter.append(api._rate_limiter("manage-writes", WRITES_PER_MINUTE / 60, WRITE_BURST))
    wait = await _write_limiter[0].check(api.caller_ip(req))
    if wait > 0:
        raise api.RateLimited(wait)


async def settled(run: api.SagaRun, booking_id: str) -> dict[str, Any] | None:
    """The saga's result once it ended, or None while it still runs (the caller answers 202)."""
    status = await run.wait()
    if status is None or api._runtime(status) not in api.TERMINAL:
        return None
    result = api.saga_output(status)
    if api._runtime(status) != "Completed" or result is None:
        log.error("manage: saga %s ended %s without a result", run.instance_id, api._runtime(status))
        raise HttpError(503, "change_failed", "That did not work; nothing was changed. Try again shortly.")
    return result


def pending() -> func.HttpResponse:
    return json_response({"status": "pending"}, 202, headers={**HEADERS, "Retry-After": "1"})


async def current_view(booking_id: str, extra: dict[str, Any] | None = None) -> func.HttpResponse:
    services = api._services()
    stored = await services.bookings.get(booking_id)
    if stored is None:
        raise HttpError(404, *INVALID)
    return json_response({**booking_view(stored.value, services.business), **(extra or {})}, headers=HEADERS)


@bp.route(route="manage/{token}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def manage_cancel(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Cancel the booking through the cancel saga (the customer is texted; Outlook and Dynamics follow)."""
    async def handle() -> func.HttpResponse:
        from shared.services.contracts import CANCEL_SAGA, CancelInput, cancel_instance_id
        await check_write_limit(req)
        opened = await open_link(req.route_params.get("token", ""))
        if opened.verdict == "cancelled":
            return json_response({"status": "cancelled"}, headers=HEADERS)  # a second click: already done
        if opened.verdict != "ok":
            raise refusal(opened)
        booking = opened.booking
        with log_context(booking_id=booking.id):
            run = api.SagaRun(client, cancel_instance_id(booking.id))  # the API's id: one cancel, however asked
            payload = CancelInput(booking_id=booking.id, reason="cancelled by the customer (manage link)",
                                  requested_at=clock.now()).model_dump(mode="json", by_alias=True)
            await run.start_or_join(CANCEL_SAGA, payload, restart_finished=True)
            result = await settled(run, booking.id)
            if result is None:
                return pending()
            if result.get("outcome") != "cancelled":
                raise HttpError(503, "change_failed", "The appointment could not be cancelled; try again shortly.")
            log.info("booking cancelled through its manage link")
            return json_response({"status": "cancelled"}, headers=HEADERS)
    return await api.guarded("manage cancel", handle)


@bp.route(route="manage/{token}/reschedule", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def manage_reschedule(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Move the booking to an open time through the reschedule saga (the new time is held before the old is
    released; the customer's technician keeps it when free)."""
    async def handle() -> func.HttpResponse:
        from shared.services import manage_links
        from shared.services.api_models import RescheduleRequest
        from shared.services.contracts import RESCHEDULE_SAGA, RescheduleInput, reschedule_instance_id
        await check_write_limit(req)
        body = api.validated(RescheduleRequest, parse_json_body(req))
        if body.host_id is not None:
            raise HttpError(422, "validation_failed", "The request is invalid; see details.",
                            [{"field": "hostId", "message": "is chosen for you", "type": "extra_forbidden"}])
        booking = await usable(req)
        services = api._services()
        with log_context(booking_id=booking.id):
            event_type = services.business.event_types_by_key.get(booking.event_type_key)
            if event_type is None:
                raise retired(booking)
            if body.start != booking.start:
                not_now = api.check_time(event_type, body.start)
                if not_now is not None:
                    raise HttpError(409, "slot_unavailable", "That time cannot be booked now; choose another.",
                                    [not_now])
                # The API's instance id for the same move: a double click (or the API) joins this saga.
                run = api.SagaRun(client, reschedule_instance_id(booking.id, body.start, booking.version))
                payload = RescheduleInput(booking_id=booking.id, start=body.start,
                                          requested_at=clock.now()).model_dump(mode="json", by_alias=True)
                await run.start_or_join(RESCHEDULE_SAGA, payload, restart_finished=True)
                result = await settled(run, booking.id)
                if result is None:
                    return pending()
                if result.get("outcome") == "conflict":
                    raise HttpError(409, "slot_unavailable", "That time was just taken; choose another.")
                if result.get("outcome") != "rescheduled":
                    raise HttpError(503, "change_failed", "The appointment could not be moved; it is still at "
                                    "its old time. Try again shortly.")
                log.info("booking moved through its manage link")
            stored = await services.bookings.get(booking.id)
            moved = stored.value if stored else booking
            link = manage_links.link_for(services.settings, moved)
            # The link of the new time (its expiry follows the appointment); the page switches to it.
            return await current_view(booking.id, {"manageUrl": link} if link else None)
    return await api.guarded("manage reschedule", handle)


# ---------------------------------------------------------------- the OpenAPI document (triggers/openapi.py)

def openapi_paths() -> dict[str, Any]:
    """The manage routes in the OpenAPI document: anonymous, the token in the path is the credential."""
    texts = {400: "Malformed JSON", 404: "The link is not valid (altered, unknown, or never a confirmed booking)",
             409: "The time is not available (or the service is no longer offered); choose another",
             410: "The link has expired (link_expired) or the booking was cancelled (booking_cancelled)",
             413: "The body is larger than 64 KiB", 415: "The body is not application/json",
             422: "Invalid input; details name the field", 429: "Too many requests from this address; see Retry-After",
             503: "The change could not be made now; nothing changed; try again"}

    def errors(*statuses: int) -> dict[str, Any]:
        schema = {"$ref": "#/components/schemas/ErrorResponse"}
        return {str(s): {"description": texts[s], "content": {"application/json": {"schema": schema}}}
                for s in statuses}

    def ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
        return {"200": {"description": description, "content": {"application/json": {"schema": schema}}}}

    token = {"name": "token", "in": "path", "required": True, "description": "the manage token from the text",
             "schema": {"type": "string", "minLength": 1, "maxLength": 240, "pattern": "^[A-Za-z0-9_-]+$"}}
    view = {"type": "object", "description": "docs/API.md#manage-links: no name, phone, e-mail or notes",
            "properties": {"status": {"type": "string"}, "reference": {"type": "string"},
                           "service": {"type": "string"}, "start": {"type": "string"}, "end": {"type": "string"},
                           "timeZone": {"type": "string"}, "when": {"type": "string"},
                           "technician": {"type": ["string", "null"]}, "where": {"type": ["string", "null"]},
                           "manageUrl": {"type": "string", "description": "after a move: the new time's link"}}}
    pending = {"202": {"description": "Still being made; send the same request again (it joins the same change)",
                       "content": {"application/json": {"schema": {"type": "object"}}}}}
    html_page = {"description": "HTML", "content": {"text/html": {"schema": {"type": "string"}}}}
    common = {"security": [], "parameters": [token]}
    return {
        "/manage/{token}": {"get": {
            "operationId": "managePage", "summary": "The customer's page for the booking (HTML)", **common,
            "responses": {"200": html_page, "404": html_page, "410": html_page, **errors(429, 503)}}},
        "/manage/{token}/booking": {"get": {
            "operationId": "manageBooking", "summary": "The booking as the manage page shows it", **common,
            "responses": {**ok("The booking", view), **errors(404, 410, 429, 503)}}},
        "/manage/{token}/availability": {"get": {
            "operationId": "manageAvailability", "summary": "A week of open times for the booking's service",
            "security": [], "parameters": [token, {"name": "from", "in": "query", "required": False,
                                                   "description": "first local date (default today)",
                                                   "schema": {"type": "string", "format": "date"}}],
            "responses": {**ok("Open times; sameTechnician marks the customer's own technician", {"type": "object"}),
                          **errors(404, 409, 410, 422, 429, 503)}}},
        "/manage/{token}/cancel": {"post": {
            "operationId": "manageCancel", "summary": "Cancel the booking (the cancel saga)", **common,
            "responses": {**ok("Cancelled (also when it already was)", {"type": "object"}), **pending,
                          **errors(404, 410, 429, 503)}}},
        "/manage/{token}/reschedule": {"post": {
            "operationId": "manageReschedule", "summary": "Move the booking to an open time (the reschedule saga)",
            **common, "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["start"], "additionalProperties": False,
                "properties": {"start": {"type": "string", "format": "date-time"}}}}}},
            "responses": {**ok("Moved", view), **pending, **errors(400, 404, 409, 410, 413, 415, 422, 429, 503)}}},
        "/manage-assets/{asset}": {"get": {
            "operationId": "manageAsset", "summary": "The manage page's script and style sheet", "security": [],
            "parameters": [{"name": "asset", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the file"}, "304": {"description": "not modified"},
                          "404": {"description": "no such file"}}}},
    }
