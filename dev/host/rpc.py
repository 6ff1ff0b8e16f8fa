"""The Durable extension's HTTP API, as ``DurableOrchestrationClient`` calls it.

Served twice, like the real host: unauthenticated under ``/durabletask/`` for the loopback RPC
endpoint (the client binding's ``rpcBaseUrl``), and under ``/runtime/webhooks/durabletask/`` with
the extension's system key for the public management URLs (``statusQueryGetUri`` and friends).
Routes, verbs, status codes and bodies follow the extension's ``HttpApiHandler``:

- ``POST orchestrators/{name}[/{instanceId}]``: 202 + management payload; 400 unknown orchestrator or
  bad JSON; 409 when the instance id is still running;
- ``GET instances/{id}``: 200 done/failed, 202 running/pending, 404 unknown (empty body);
- ``GET instances/`` (filters, ``top``, ``x-ms-continuation-token``), ``DELETE instances/`` (purge by
  ``createdTimeFrom`` (required), ``createdTimeTo`` (default now) and ``runtimeStatus``: 200
  ``{"instancesDeleted": n}`` or 404 when nothing matched; as on Azure Storage, only terminal statuses
  filter, and no terminal status at all purges running instances too);
- ``DELETE instances/{id}``: 200 ``{"instancesDeleted": 1}``, 404, 412 not finished;
- ``POST instances/{id}/raiseEvent/{event}``: 202, 404, 410 finished, 400 not JSON;
- ``POST instances/{id}/terminate|suspend|resume``: 202, 404, 410; ``restart``: 202; ``rewind``: 501.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from aiohttp import web

from dev.host.engine import TERMINAL, Engine, InstanceExists, InvalidInstanceId, OrchestratorNotFound
from dev.host.store import PayloadTooLarge

RPC_PREFIX = "/durabletask/"
WEBHOOK_PREFIX = "/runtime/webhooks/durabletask/"
DEFAULT_PAGE = 100
_MISSING = object()


def management_urls(origin: str, instance_id: str, task_hub: str, system_key: str) -> dict[str, str]:
    """The extension's HttpManagementPayload for one instance."""
    prefix = f"{origin}{WEBHOOK_PREFIX}instances/{quote(instance_id, safe='')}"
    query = f"taskHub={quote(task_hub)}&connection=Storage&code={quote(system_key)}"
    return {
        "id": instance_id,
        "statusQueryGetUri": f"{prefix}?{query}",
        "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{query}",
        "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{query}",
        "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{query}",
        "purgeHistoryDeleteUri": f"{prefix}?{query}",
        "restartPostUri": f"{prefix}/restart?{query}",
        "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{query}",
        "resumePostUri": f"{prefix}/resume?reason={{text}}&{query}",
    }


def client_binding_json(origin: str, task_hub: str, system_key: str) -> str:
    """The JSON string the extension passes for a ``durable_client_input`` parameter."""
    base = f"{origin}{WEBHOOK_PREFIX.rstrip('/')}"
    management = management_urls(origin, "INSTANCEID", task_hub, system_key)
    creation = f"{base}/orchestrators/{{functionName}}[/{{instanceId}}]"
    return json.dumps({
        "taskHubName": task_hub,
        "creationUrls": {
            "createNewInstancePostUri": f"{creation}?code={system_key}",
            "createAndWaitOnNewInstancePostUri":
                f"{creation}?timeout={{timeoutInSeconds}}&pollingInterval={{intervalInSeconds}}&code={system_key}",
        },
        "managementUrls": management,
        "baseUrl": base,
        "requiredQueryStringParameters": f"code={system_key}",
        "rpcBaseUrl": f"{origin}{RPC_PREFIX}",
        "httpBaseUrl": "",
        "maxGrpcMessageSizeInBytes": 0,
        "grpcHttpClientTimeout": "00:01:40",
    })


def _error(status: int, message: str, exception: str | None = None, kind: str = "System.ArgumentException"):
    """ASP.NET's HttpError body, minus the stack trace."""
    body = {"Message": message}
    if exception is not None:
        body.update(ExceptionMessage=exception, ExceptionType=kind)
    return web.json_response(body, status=status)


def _flag(request: web.Request, name: str, default: bool) -> bool:
    value = request.query.get(name)
    return default if value is None else value.strip().lower() == "true"


def _instant(request: web.Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    date, sep, rest = value.partition("-")
    if sep and date.isdigit() and len(date) < 4:
        value = f"{int(date):04d}-{rest}"  # the SDK's strftime writes year 1 (DateTime.MinValue) as "1-01-01..."
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


class DurableApi:
    """aiohttp handlers for the Durable HTTP API, bound to one engine and task hub."""

    def __init__(self, engine: Engine, task_hub: str, system_key: str):
        self.engine = engine
        self.task_hub = task_hub
        self.system_key = system_key

    async def handle(self, request: web.Request, path: str) -> web.StreamResponse:
        """``path`` is what follows the API prefix, still URL-encoded."""
        hub = request.query.get("taskHub")
        if hub and hub.lower() != self.task_hub.lower():
            return _error(400, f"Task hub '{hub}' is not served by this development host (it serves "
                               f"'{self.task_hub}').")
        parts = [unquote(part) for part in path.strip("/").split("/")] if path.strip("/") else []
        method = request.method
        if parts[:1] == ["orchestrators"] and 2 <= len(parts) <= 3:
            if method != "POST":
                return web.Response(status=404)
            return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
        if parts[:1] == ["entities"]:
            return _error(501, "Durable entities are not supported by the development host.")
        if parts[:1] != ["instances"]:
            return web.Response(status=404)
        if len(parts) == 1:
            if method == "GET":
                return await self._list(request)
            if method == "DELETE":
                return await self._purge_by(request)
            return web.Response(status=404)
        instance_id = parts[1]
        if len(parts) == 2:
            if method == "GET":
                return await self._status(request, instance_id)
            if method == "DELETE":
                return await self._purge(instance_id)
            return web.Response(status=404)
        if method != "POST":
            return web.Response(status=404)
        operation = parts[2].lower()
        if operation == "raiseevent" and len(parts) == 4:
            return await self._raise(request, instance_id, parts[3])
        if len(parts) != 3:
            return web.Response(status=404)
        if operation in ("terminate", "suspend", "resume"):
            outcome = await self.engine.control(instance_id, operation, request.query.get("reason"))
            return web.Response(status={"accepted": 202, "not_found": 404, "gone": 410}[outcome])
        if operation == "restart":
            return await self._restart(request, instance_id)
        if operation == "rewind":
            return _error(501, "Rewind is not supported by the underlying storage provider.")
        return web.Response(status=404)

    async def _start(self, request: web.Request, name: str, instance_id: str | None) -> web.StreamResponse:
        raw = await request.text()
        value = None
        if raw:
            try:
                value = json.loads(raw)
            except ValueError as exc:
                return _error(400, "Invalid JSON content", str(exc), "Newtonsoft.Json.JsonReaderException")
        try:
            instance_id = await self.engine.start_new(name, instance_id, value, request.query.get("version") or "")
        except (OrchestratorNotFound, InvalidInstanceId, PayloadTooLarge) as exc:
            return _error(400, "One or more of the arguments submitted is incorrect", str(exc))
        except InstanceExists as exc:
            return _error(409, str(exc), str(exc), "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException")
        timeout, interval = request.query.get("timeout"), request.query.get("pollingInterval")
        if timeout and interval:
            return await self._wait_or_check(request, instance_id, float(timeout))
        return self._check_status_response(request, instance_id)

    def _check_status_response(self, request: web.Request, instance_id: str) -> web.Response:
        payload = management_urls(_origin(request), instance_id, self.task_hub, self.system_key)
        payload.pop("rewindPostUri")
        return web.json_response(payload, status=202, headers={"Location": payload["statusQueryGetUri"],
                                                               "Retry-After": "10"})

    async def _wait_or_check(self, request: web.Request, instance_id: str, timeout: float) -> web.Response:
        try:
            status = await self.engine.wait_for(instance_id, lambda p: p["runtimeStatus"] in TERMINAL, timeout)
        except TimeoutError:
            return self._check_status_response(request, instance_id)
        if status["runtimeStatus"] == "Completed":
            return web.json_response(status["output"], status=200)
        return web.json_response(status, status=200)

    async def _status(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        status = await self.engine.status(instance_id, show_history=_flag(request, "showHistory", False),
                                          show_history_output=_flag(request, "showHistoryOutput", False),
                                          show_input=_flag(request, "showInput", True))
        if status is None:
            return web.Response(status=404)
        runtime = status["runtimeStatus"]
        if runtime in ("Running", "Pending", "ContinuedAsNew", "Suspended"):
            return web.json_response(status, status=202, headers={"Location": str(request.url), "Retry-After": "5"})
        failed_code = 500 if _flag(request, "returnInternalServerErrorOnFailure", False) else 200
        return web.json_response(status, status=failed_code if runtime == "Failed" else 200)

    async def _list(self, request: web.Request) -> web.StreamResponse:
        try:
            statuses = {s.strip() for s in request.query.get("runtimeStatus", "").split(",") if s.strip()}
            found = await self.engine.query(prefix=request.query.get("instanceIdPrefix"),
                                            created_from=_instant(request, "createdTimeFrom"),
                                            created_to=_instant(request, "createdTimeTo"),
                                            statuses=statuses or None, show_input=_flag(request, "showInput", True))
            size = int(request.query.get("top") or DEFAULT_PAGE)
            start = _decode_token(request.headers.get("x-ms-continuation-token"))
        except ValueError as exc:
            return _error(400, "One or more of the arguments submitted is incorrect", str(exc))
        page = found[start:start + size]
        headers = {}
        if start + size < len(found):
            headers["x-ms-continuation-token"] = base64.b64encode(str(start + size).encode()).decode()
        return web.json_response(page, headers=headers)

    async def _purge(self, instance_id: str) -> web.StreamResponse:
        outcome = await self.engine.purge(instance_id)
        if outcome == "not_found":
            return web.Response(status=404)
        if outcome == "not_terminal":
            return web.json_response("Only orchestrations in a terminal state can be purged, but the orchestration "
                                     f"with instance ID {instance_id} is still running", status=412)
        return web.json_response({"instancesDeleted": 1})

    async def _purge_by(self, request: web.Request) -> web.StreamResponse:
        try:
            created_from = _instant(request, "createdTimeFrom")
            # The extension defaults to its own "now"; here that is the host clock that stamps createdTime.
            created_to = _instant(request, "createdTimeTo") or self.engine.clock.now()
        except ValueError as exc:
            return _error(400, "One or more of the arguments submitted is incorrect", str(exc))
        if created_from is None:
            return web.json_response("Please provide value for 'createdTimeFrom' parameter.", status=400)
        statuses = {s.strip() for s in request.query.get("runtimeStatus", "").split(",") if s.strip()}
        deleted = await self.engine.purge_by(created_from, created_to, statuses or None)
        if not deleted:
            return web.Response(status=404)
        return web.json_response({"instancesDeleted": deleted})

    async def _raise(self, request: web.Request, instance_id: str, event_name: str) -> web.StreamResponse:
        status = await self.engine.status(instance_id, show_input=False)
        if status is None:
            return web.Response(status=404)
        if status["runtimeStatus"] in TERMINAL:
            return web.Response(status=410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        try:
            value = json.loads(await request.text())
        except ValueError as exc:
            return _error(400, "Invalid JSON content", str(exc), "Newtonsoft.Json.JsonReaderException")
        outcome = await self.engine.raise_event(instance_id, event_name, value)
        return web.Response(status={"accepted": 202, "not_found": 404, "gone": 410}[outcome])

    async def _restart(self, request: web.Request, instance_id: str) -> web.StreamResponse:
        try:
            new_id = await self.engine.restart(instance_id, _flag(request, "restartWithNewInstanceId", True))
        except InstanceExists as exc:
            return _error(409, "A non-terminal instance with this instance ID already exists.", str(exc))
        except (OrchestratorNotFound, InvalidInstanceId) as exc:
            return _error(400, "InstanceId does not match a valid orchestration instance.", str(exc))
        if new_id is None:
            return web.Response(status=404)
        return self._check_status_response(request, new_id)


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _decode_token(token: str | None) -> int:
    if not token:
        return 0
    return int(base64.b64decode(token.encode()).decode())
