"""The Graph emulator's aiohttp application: routes plus what every Graph answer has in common.

Every ``/v1.0`` request needs ``Authorization: Bearer <token>`` (401 otherwise), gets ``request-id``
and ``client-request-id`` headers and OData error bodies, may be hit by an injected fault (status,
``Retry-After``, latency), is limited to a few concurrent requests per mailbox like Outlook (429
``MailboxConcurrency``), and is recorded in the request log with its operation name.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from datetime import datetime

from aiohttp import web

from dev.emulators.graph import api, control
from dev.emulators.graph.errors import FAULT_DEFAULTS, GraphError
from dev.emulators.graph.state import DEFAULT_CONFIG, STATE, EmulatorState, state_of
from dev.emulators.graph.times import UTC, format_instant

log = logging.getLogger("dev.emulators.graph")
LOGGED_HEADERS = ("Prefer", "client-request-id", "Content-Type", "Accept", "User-Agent", "If-Match", "Retry-Attempt",
                  "SdkVersion")
_DIAGNOSTIC = json.dumps({"ServerInfo": {"DataCenter": "Local Emulator", "Slice": "E", "Ring": "0",
                                         "ScaleUnit": "000", "RoleInstance": "LOCALHOST"}})


def error_response(error: GraphError, request_id: str, client_request_id: str) -> web.Response:
    body = {"error": {"code": error.code, "message": error.message,
                      "innerError": {"date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                                     "request-id": request_id, "client-request-id": client_request_id}}}
    return web.Response(status=error.status, body=json.dumps(body).encode(), content_type=None,
                        headers={"Content-Type": api.JSON_TYPE, **error.headers})


def check_auth(request: web.Request) -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.",
                         {"WWW-Authenticate": 'Bearer realm="", authorization_uri="https://login.microsoftonline.com/'
                                              'common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"'})
    expected = state_of(request).config["token"]
    if expected and token.strip() != expected:
        raise GraphError(401, "InvalidAuthenticationToken", "Access token validation failure. Invalid audience.")


def take_fault(request: web.Request, operation: str | None) -> control.Fault | None:
    for fault in state_of(request).faults:
        if fault.matches(request.method, request.path, operation):
            if fault.count > 0:
                fault.count -= 1
            fault.hits += 1
            return fault
    return None


def fault_error(fault: control.Fault) -> GraphError:
    code, message = FAULT_DEFAULTS.get(fault.status, ("UnknownError", "The emulator injected a failure."))
    headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
    return GraphError(fault.status, fault.code or code, fault.message or message, headers)


@contextlib.asynccontextmanager
async def mailbox_slot(request: web.Request):
    """Count this request against its mailbox's concurrency limit for as long as it runs."""
    name = request.match_info.get("user")
    if not name:
        yield
        return
    user = state_of(request).tenant.find_user(name)
    key = user.id if user else name.lower()
    in_flight = state_of(request).in_flight
    if in_flight.get(key, 0) >= state_of(request).config["mailbox_concurrency"]:
        raise GraphError(429, "ApplicationThrottled", "Application is over its MailboxConcurrency limit.",
                         {"Retry-After": "1"})
    in_flight[key] = in_flight.get(key, 0) + 1
    try:
        yield
    finally:
        in_flight[key] -= 1


async def logged_body(request: web.Request):
    if request.method not in ("POST", "PATCH", "PUT") or not request.can_read_body:
        return None
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:2000]


@web.middleware
async def graph_protocol(request: web.Request, handler):
    if not request.path.startswith("/v1.0"):
        return await handler(request)
    started = time.perf_counter()
    request_id = str(uuid.uuid4())
    client_request_id = request.headers.get("client-request-id") or request_id
    operation = api.OPERATIONS.get(getattr(request.match_info, "handler", None))
    entry = {"seq": len(state_of(request).requests) + 1, "time": format_instant(datetime.now(UTC)),
             "method": request.method, "path": request.path, "query": request.query_string,
             "operation": operation, "mailbox": request.match_info.get("user"),
             "headers": {h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
             "authorization": request.headers.get("Authorization", "").split(" ")[0] or None,
             "body": await logged_body(request)}
    try:
        check_auth(request)
        async with mailbox_slot(request):  # an injected delay keeps the request in flight, as slowness does
            fault = take_fault(request, operation)
            if fault and fault.latency_ms:
                await asyncio.sleep(fault.latency_ms / 1000)
            if fault and fault.status:
                raise fault_error(fault)
            response = await handler(request)
    except GraphError as error:
        response = error_response(error, request_id, client_request_id)
    except web.HTTPNotFound:
        segment = request.path.rstrip("/").rsplit("/", 1)[-1]
        response = error_response(GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'."),
                                  request_id, client_request_id)
    except web.HTTPMethodNotAllowed:
        response = error_response(GraphError(405, "Request_BadRequest", "Specified HTTP method is not allowed for "
                                                                        "the request target."),
                                  request_id, client_request_id)
    except Exception as exc:  # an emulator bug: answer like Graph's 500, and say where in the log
        log.exception("graph emulator failed on %s %s", request.method, request.path)
        response = error_response(GraphError(500, "ErrorInternalServerError", f"Emulator error: {exc!r}"),
                                  request_id, client_request_id)
    response.headers["request-id"] = request_id
    response.headers["client-request-id"] = client_request_id
    response.headers["x-ms-ags-diagnostic"] = _DIAGNOSTIC
    response.headers.setdefault("Cache-Control", "no-cache")
    if response.status >= 400 or response.body:
        response.headers.setdefault("OData-Version", "4.0")
    entry.update(status=response.status, durationMs=round((time.perf_counter() - started) * 1000, 2),
                 requestId=request_id)
    state_of(request).requests.append(entry)
    return response


def create_app(token: str | None = None, **config) -> web.Application:
    """The Graph emulator as an aiohttp application (state in memory, fresh per call).

    ``token``: the only bearer token accepted (any non-empty one when None); ``config``: overrides
    of :data:`DEFAULT_CONFIG` (also changeable at run time through ``POST /_emulator/config``).
    """
    unknown = set(config) - set(DEFAULT_CONFIG)
    if unknown:
        raise TypeError(f"unknown Graph emulator settings: {', '.join(sorted(unknown))}")
    app = web.Application(middlewares=[control.control_errors, graph_protocol], client_max_size=4 * 1024 * 1024)
    app[STATE] = EmulatorState(defaults={**DEFAULT_CONFIG, **config, "token": token})

    async def close_notifier(app_: web.Application) -> None:
        await app_[STATE].notifier.close()

    app.on_cleanup.append(close_notifier)
    app.add_routes(api.routes)
    app.add_routes(control.routes)
    return app
