"""The emulator's own API under ``/_emulator``: seed users, act as a person editing in Outlook, read
the outbox, the request log and the notification deliveries, inject faults, drive subscriptions.

No authentication and no request logging here: these calls are the test's, not Frontdesk's.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import asdict, dataclass, field

from aiohttp import web

from dev.emulators.graph.errors import GraphError, bad_request
from dev.emulators.graph.notifications import public
from dev.emulators.graph.state import state_of
from dev.emulators.graph.store import Instance, render_event

routes = web.RouteTableDef()
_fault_ids = itertools.count(1)


@dataclass
class Fault:
    """The next ``count`` Graph requests matching ``method``/``path``/``operation`` fail or slow down."""

    path: str = ""  # regular expression searched in the request path
    method: str | None = None
    operation: str | None = None
    count: int = 1  # -1: every matching request until cleared
    status: int | None = None
    retry_after: float | None = None
    latency_ms: float = 0
    code: str | None = None
    message: str | None = None
    id: int = field(default_factory=lambda: next(_fault_ids))
    hits: int = 0

    def matches(self, method: str, path: str, operation: str | None) -> bool:
        return (self.count != 0 and (self.method is None or self.method.upper() == method)
                and (self.operation is None or self.operation == operation)
                and (not self.path or re.search(self.path, path) is not None))


async def body_of(request: web.Request) -> dict:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise bad_request("The body must be JSON.") from None
    if not isinstance(body, dict):
        raise bad_request("The body must be a JSON object.")
    return body


def ok(payload, status: int = 200) -> web.Response:
    return web.json_response(payload, status=status)


@web.middleware
async def control_errors(request: web.Request, handler):
    if not request.path.startswith("/_emulator"):
        return await handler(request)
    try:
        return await handler(request)
    except GraphError as exc:
        return ok({"error": {"code": exc.code, "message": exc.message}}, status=exc.status)


# ---------------------------------------------------------------------- state

@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    await state_of(request).reset()
    return ok({"reset": True})


@routes.get("/_emulator/config")
async def get_config(request: web.Request) -> web.Response:
    return ok({k: v for k, v in state_of(request).config.items() if k != "token"})


@routes.post("/_emulator/config")
async def set_config(request: web.Request) -> web.Response:
    config = state_of(request).config
    changes = await body_of(request)
    unknown = sorted(set(changes) - set(config))
    if unknown:
        raise bad_request(f"Unknown settings: {', '.join(unknown)}.")
    config.update(changes)
    return ok({k: v for k, v in config.items() if k != "token"})


@routes.post("/_emulator/users")
async def add_users(request: web.Request) -> web.Response:
    body = await body_of(request)
    tenant = state_of(request).tenant
    created = []
    for spec in body.get("users") or [body]:
        upn = spec.get("userPrincipalName") or spec.get("mail")
        if not upn:
            raise bad_request("A user needs a userPrincipalName.")
        if tenant.find_user(upn) or (spec.get("id") and tenant.find_user(spec["id"])):
            raise GraphError(409, "Conflict", f"A user '{upn}' already exists.")
        created.append(tenant.add_user(upn, spec.get("displayName"), id=spec.get("id"), mail=spec.get("mail"),
                                       time_zone=spec.get("timeZone") or "UTC",
                                       working_hours=spec.get("workingHours")))
    users = [{**u.to_json(), "timeZone": u.time_zone} for u in created]
    return ok({"users": users} if "users" in body else users[0], status=201)


@routes.get("/_emulator/users")
async def list_users(request: web.Request) -> web.Response:
    return ok([{**u.to_json(), "timeZone": u.time_zone} for u in state_of(request).tenant.users.values()])


# ---------------------------------------------------------------------- a person using Outlook

@routes.get("/_emulator/users/{user}/events")
async def dump_events(request: web.Request) -> web.Response:
    tenant = state_of(request).tenant
    user = tenant.user(request.match_info["user"])
    return ok([render_event(inst, user, "UTC") for inst in tenant.series_and_singles(user)])


@routes.post("/_emulator/users/{user}/events")
async def person_creates(request: web.Request) -> web.Response:
    tenant = state_of(request).tenant
    user = tenant.user(request.match_info["user"])
    event, _ = tenant.create_event(user, await body_of(request))
    inst = Instance(event, event.id, event.start, event.end, "seriesMaster" if event.recurrence else "singleInstance")
    return ok(render_event(inst, user, "UTC"), status=201)


@routes.patch("/_emulator/users/{user}/events/{event_id}")
async def person_edits(request: web.Request) -> web.Response:
    tenant = state_of(request).tenant
    user = tenant.user(request.match_info["user"])
    tenant.update_event(user, request.match_info["event_id"], await body_of(request))
    return ok(render_event(tenant.get_instance(user, request.match_info["event_id"]), user, "UTC"))


@routes.delete("/_emulator/users/{user}/events/{event_id}")
async def person_deletes(request: web.Request) -> web.Response:
    tenant = state_of(request).tenant
    tenant.delete_event(tenant.user(request.match_info["user"]), request.match_info["event_id"])
    return web.Response(status=204)


# ---------------------------------------------------------------------- what happened

@routes.get("/_emulator/outbox")
async def outbox(request: web.Request) -> web.Response:
    return ok(state_of(request).outbox)


@routes.delete("/_emulator/outbox")
async def clear_outbox(request: web.Request) -> web.Response:
    state_of(request).outbox.clear()
    return web.Response(status=204)


@routes.get("/_emulator/requests")
async def requests_log(request: web.Request) -> web.Response:
    wanted = request.query.get("operation")
    return ok([r for r in state_of(request).requests if not wanted or r["operation"] == wanted])


@routes.delete("/_emulator/requests")
async def clear_requests(request: web.Request) -> web.Response:
    state_of(request).requests.clear()
    return web.Response(status=204)


@routes.get("/_emulator/deliveries")
async def deliveries(request: web.Request) -> web.Response:
    wanted = request.query.get("kind")
    return ok([d for d in state_of(request).notifier.deliveries if not wanted or d["kind"] == wanted])


@routes.delete("/_emulator/deliveries")
async def clear_deliveries(request: web.Request) -> web.Response:
    state_of(request).notifier.deliveries.clear()
    return web.Response(status=204)


@routes.get("/_emulator/idle")
async def idle(request: web.Request) -> web.Response:
    notifier = state_of(request).notifier
    return ok({"idle": notifier.idle(), "held": len(notifier.held or [])})


# ---------------------------------------------------------------------- faults

@routes.post("/_emulator/faults")
async def add_fault(request: web.Request) -> web.Response:
    spec = await body_of(request)
    allowed = {"path", "method", "operation", "count", "status", "retryAfter", "latencyMs", "code", "message"}
    if set(spec) - allowed:
        raise bad_request(f"Unknown fault fields: {', '.join(sorted(set(spec) - allowed))}.")
    if not spec.get("status") and not spec.get("latencyMs"):
        raise bad_request("A fault needs a status, a latencyMs, or both.")
    fault = Fault(path=spec.get("path", ""), method=spec.get("method"), operation=spec.get("operation"),
                  count=int(spec.get("count", 1)), status=spec.get("status"), retry_after=spec.get("retryAfter"),
                  latency_ms=float(spec.get("latencyMs") or 0), code=spec.get("code"), message=spec.get("message"))
    state_of(request).faults.append(fault)
    return ok(asdict(fault), status=201)


@routes.get("/_emulator/faults")
async def list_faults(request: web.Request) -> web.Response:
    return ok([asdict(f) for f in state_of(request).faults])


@routes.delete("/_emulator/faults")
async def clear_faults(request: web.Request) -> web.Response:
    state_of(request).faults.clear()
    return web.Response(status=204)


# ---------------------------------------------------------------------- subscriptions and notifications

@routes.get("/_emulator/subscriptions")
async def subscriptions(request: web.Request) -> web.Response:
    notifier = state_of(request).notifier
    notifier.purge_expired()
    return ok([{**public(s), "userId": s["_userId"]} for s in notifier.subscriptions.values()])


@routes.post("/_emulator/subscriptions/{subscription_id}/lifecycle")
async def lifecycle(request: web.Request) -> web.Response:
    body = await body_of(request)
    state_of(request).notifier.lifecycle(request.match_info["subscription_id"], body.get("lifecycleEvent", ""))
    return ok({"sent": body.get("lifecycleEvent")}, status=202)


@routes.post("/_emulator/subscriptions/{subscription_id}/expire")
async def expire(request: web.Request) -> web.Response:
    state_of(request).notifier.expire(request.match_info["subscription_id"])
    return ok({"expired": request.match_info["subscription_id"]})


@routes.post("/_emulator/notifications/hold")
async def hold(request: web.Request) -> web.Response:
    state_of(request).notifier.hold()
    return ok({"holding": True})


@routes.post("/_emulator/notifications/release")
async def release(request: web.Request) -> web.Response:
    body = await body_of(request)
    order = body.get("order", "fifo")
    if order not in ("fifo", "reverse"):
        raise bad_request("order is 'fifo' or 'reverse'.")
    released = state_of(request).notifier.release(order, int(body.get("times", 1)), bool(body.get("batch", False)))
    return ok({"released": released})


@routes.post("/_emulator/notifications/replay")
async def replay(request: web.Request) -> web.Response:
    body = await body_of(request)
    return ok({"replayed": state_of(request).notifier.replay(int(body.get("count", 1)))})
