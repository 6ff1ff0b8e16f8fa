"""The host's HTTP front door: HTTP triggers, the admin API and the Durable HTTP API.

- ``/<routePrefix>/<route>``: HTTP-triggered functions, matched by route template in ASP.NET
  precedence order; 404 unknown route, 405 (with ``Allow``) wrong method, 401 missing or wrong key.
  Keys arrive in the ``code`` query parameter or the ``x-functions-key`` header: FUNCTION level
  accepts the function's own keys, the host keys and the master key; ADMIN only the master key.
- ``POST /admin/functions/{name}`` (master key): run a non-HTTP function now (timers get a
  ``TimerRequest`` with ``past_due`` False); 202. ``GET /admin/functions``: the indexed functions.
  ``GET /admin/host/status``: is the host running.
- ``/runtime/webhooks/durabletask/...`` (system or master key) and ``/durabletask/...`` (loopback):
  the Durable extension's HTTP API (see :mod:`dev.host.rpc`).

A function that raises answers 500 with the error shape of ``shared.http`` and a correlation id, never
a stack trace; the traceback goes to the log with the same id.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import uuid
from typing import Any, Callable

from aiohttp import web
from multidict import CIMultiDict

from dev.host.loader import ALL_METHODS, HTTP, TIMER, FunctionInfo
from dev.host.routing import sort_by_precedence
from dev.host.rpc import RPC_PREFIX, WEBHOOK_PREFIX, DurableApi
from dev.host.worker import Invoker, timer_request
from shared.logs import get_logger, log_context

log = get_logger("dev.host.http")

MAX_BODY_BYTES = 100 * 1024 * 1024  # the Functions host's own request limit


class Keys:
    """The host's secrets: master key, host (default) keys, per-function keys, the Durable system key."""

    def __init__(self, master: str, host_keys: dict[str, str], function_keys: dict[str, dict[str, str]],
                 system_key: str):
        self.master = master
        self.host_keys = host_keys
        self.function_keys = {name.lower(): keys for name, keys in function_keys.items()}
        self.system_key = system_key

    def allows(self, level: str, function_name: str | None, presented: str | None) -> bool:
        if level == "anonymous":
            return True
        if not presented:
            return False
        candidates = [self.master]
        if level == "function":
            candidates += list(self.host_keys.values())
            candidates += list(self.function_keys.get((function_name or "").lower(), {}).values())
        elif level == "system":
            candidates.append(self.system_key)
        return any(hmac.compare_digest(presented.encode(), key.encode()) for key in candidates if key)


def presented_key(request: web.Request) -> str | None:
    return request.query.get("code") or request.headers.get("x-functions-key")


def error_body(status: int, code: str, message: str, details: Any = None,
               headers: dict[str, str] | None = None) -> web.Response:
    """The app's error shape (shared.http.error_response), as an aiohttp response."""
    from shared.http import error_response
    return to_aiohttp(error_response(status, code, message, details, headers))


def to_aiohttp(result: Any) -> web.Response:
    """Turn what an HTTP function returned into the response, through azure-functions' own converter."""
    from azure.functions.http import HttpResponseConverter
    if result is None:
        return web.Response(status=204)
    datum = HttpResponseConverter.encode(result, expected_type=None)
    if datum.type == "string":
        return web.Response(text=datum.value, content_type="text/plain", charset="utf-8")
    value = datum.value
    headers = CIMultiDict((name, header.value) for name, header in value["headers"].items())
    for cookie in value.get("cookies") or []:
        for morsel in cookie.values():
            headers.add("Set-Cookie", morsel.OutputString())
    return web.Response(status=int(value["status_code"].value), body=value["body"].value or b"", headers=headers)


class HostApp:
    """Builds the aiohttp application of one development host."""

    def __init__(self, functions: list[FunctionInfo], keys: Keys, invoker: Invoker, route_prefix: str,
                 durable: Callable[[], DurableApi | None], client_json: Callable[[FunctionInfo], str | None],
                 on_startup: Callable, on_cleanup: Callable, cors_origins: list[str] | None = None):
        self.functions = {f.name.lower(): f for f in functions}
        self.http_routes = sort_by_precedence([(f.route, f) for f in functions if f.kind == HTTP])
        self.keys = keys
        self.invoker = invoker
        self.route_prefix = route_prefix.strip("/")
        self.durable = durable
        self.client_json = client_json
        self.cors_origins = cors_origins
        self._on_startup = on_startup
        self._on_cleanup = on_cleanup
        self.background: set[asyncio.Task] = set()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.on_startup.append(lambda _: self._on_startup())
        app.on_cleanup.append(lambda _: self._on_cleanup())
        # [\s\S]: like the Functions host, a path holding an encoded line break (%0A) still reaches dispatch.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.raw_path.split("?", 1)[0]
        try:
            if self.cors_origins and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
                return self._with_cors(request, web.Response(status=204))
            prefix = f"/{self.route_prefix}/" if self.route_prefix else "/"
            if raw_path.startswith(RPC_PREFIX):
                return await self._durable(request, raw_path[len(RPC_PREFIX):], loopback_only=True)
            if raw_path.startswith(WEBHOOK_PREFIX):
                return await self._durable(request, raw_path[len(WEBHOOK_PREFIX):], loopback_only=False)
            if raw_path.startswith("/admin/"):
                return await self._admin(request, raw_path)
            if raw_path.startswith(prefix) or raw_path.rstrip("/") == prefix.rstrip("/"):
                return self._with_cors(request, await self._trigger(request, raw_path[len(prefix):]))
            return error_body(404, "not_found", "No function serves this path.")
        except web.HTTPException:
            raise
        except Exception:
            correlation = str(uuid.uuid4())
            log.exception("development host failed handling %s %s (correlation id %s)",
                          request.method, raw_path, correlation)
            return error_body(500, "internal_error", "The host failed to handle the request.",
                              [{"correlationId": correlation}])

    # ------------------------------------------------------------- HTTP triggers

    async def _trigger(self, request: web.Request, path: str) -> web.StreamResponse:
        matched: list[tuple[FunctionInfo, dict]] = []
        for template, function in self.http_routes:
            params = template.match(path)
            if params is not None:
                matched.append((function, params))
        if not matched:
            return error_body(404, "not_found", "No function serves this path.")
        method = request.method.upper()
        chosen = next(((f, p) for f, p in matched if f.methods is None or method in f.methods), None)
        if chosen is None:
            allowed = sorted({m for f, _ in matched for m in (f.methods or ALL_METHODS)})
            return error_body(405, "method_not_allowed", f"{method} is not allowed here.",
                              headers={"Allow": ", ".join(allowed)})
        function, params = chosen
        if not self.keys.allows(function.auth_level, function.name, presented_key(request)):
            return error_body(401, "unauthorized", "A valid function key is required (code query parameter or "
                                                   "x-functions-key header).")
        return await self._invoke_http(request, function, params)

    async def _invoke_http(self, request: web.Request, function: FunctionInfo, params: dict) -> web.StreamResponse:
        import azure.functions as func
        body = await request.read()
        http_request = func.HttpRequest(
            method=request.method, url=str(request.url), headers=dict(_joined_headers(request)),
            params={k: request.query.get(k) for k in request.query.keys()}, route_params=params, body=body)
        invocation_id = str(uuid.uuid4())
        with log_context(request_id=invocation_id):
            try:
                result = await self.invoker.call(function, http_request, client_json=self.client_json(function),
                                                invocation_id=invocation_id)
                return to_aiohttp(result)
            except Exception:
                log.exception("function %s failed (correlation id %s)", function.name, invocation_id)
                return error_body(500, "internal_error",
                                  f"The function failed. Quote correlation id {invocation_id} when reporting it.",
                                  [{"correlationId": invocation_id}])

    def _with_cors(self, request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        if not self.cors_origins or not origin:
            return response
        if "*" in self.cors_origins or origin in self.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = "*" if "*" in self.cors_origins else origin
            if request.method == "OPTIONS":
                response.headers["Access-Control-Allow-Methods"] = request.headers.get(
                    "Access-Control-Request-Method", "GET")
                requested = request.headers.get("Access-Control-Request-Headers")
                if requested:
                    response.headers["Access-Control-Allow-Headers"] = requested
        return response

    # ------------------------------------------------------------- admin API

    async def _admin(self, request: web.Request, path: str) -> web.StreamResponse:
        if not self.keys.allows("admin", None, presented_key(request)):
            return error_body(401, "unauthorized", "The master key is required.")
        parts = [p for p in path.split("/") if p]
        if parts == ["admin", "host", "status"] and request.method == "GET":
            return web.json_response({"state": "Running", "processUptime": 0})
        if parts == ["admin", "functions"] and request.method == "GET":
            return web.json_response([f.describe() for f in self.functions.values()])
        if len(parts) == 3 and parts[:2] == ["admin", "functions"]:
            function = self.functions.get(parts[2].lower())
            if function is None:
                return error_body(404, "not_found", f"No function named '{parts[2]}'.")
            if request.method == "GET":
                return web.json_response(function.describe())
            if request.method != "POST":
                return error_body(405, "method_not_allowed", "Use POST to invoke a function.",
                                  headers={"Allow": "GET, POST"})
            raw = await request.read()
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                return error_body(400, "malformed_json", "The request body is not valid JSON.")
            if function.kind == HTTP:
                return error_body(400, "http_function", f"'{function.name}' is an HTTP function; call its route.")
            if function.kind != TIMER:
                return error_body(400, "unsupported_trigger",
                                  f"The development host cannot invoke {function.trigger_type} functions directly.")
            task = asyncio.get_running_loop().create_task(self.run_function(function, payload.get("input")))
            self.background.add(task)
            task.add_done_callback(self.background.discard)
            return web.Response(status=202)
        return error_body(404, "not_found", "Unknown admin API.")

    async def run_function(self, function: FunctionInfo, _input: Any = None) -> Any:
        """Run a timer function now (what the admin API and ``DevHost.invoke`` do)."""
        invocation_id = str(uuid.uuid4())
        with log_context(request_id=invocation_id):
            try:
                return await self.invoker.call(function, timer_request(past_due=False),
                                               client_json=self.client_json(function),
                                               invocation_id=invocation_id)
            except Exception:
                log.exception("function %s failed (correlation id %s)", function.name, invocation_id)
                raise

    # ------------------------------------------------------------- Durable HTTP API

    async def _durable(self, request: web.Request, path: str, loopback_only: bool) -> web.StreamResponse:
        api = self.durable()
        if api is None:
            return web.Response(status=404)
        if loopback_only:
            if not _is_loopback(request.remote):
                return web.Response(status=404)
        elif not self.keys.allows("system", None, presented_key(request)):
            return error_body(401, "unauthorized", "The Durable Functions system key is required.")
        return await api.handle(request, path)


def _joined_headers(request: web.Request):
    seen: dict[str, str] = {}
    for name, value in request.headers.items():
        key = name.lower()
        seen[key] = f"{seen[key]}, {value}" if key in seen else value
    return seen.items()


def _is_loopback(address: str | None) -> bool:
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
