"""The ``/_emulator`` test API the two SMS emulators (ACS and Twilio) share.

Both keep the same kind of state (a lock, an outbox, a request log, opt-outs as (sender, recipient)
pairs, injected faults, a ``receive`` for inbound texts and a ``reset``); only the shape of an inbound
text and of a fault differ, so those two are passed in.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web


def add_control_routes(app: web.Application, state_key: web.AppKey, *,
                       make_fault: Callable[[dict[str, Any]], Any],
                       read_inbound: Callable[[dict[str, Any]], tuple[str | None, str | None, str]],
                       deliver_inbound: Callable[[Any], Awaitable[dict]] | None = None) -> None:
    """Register outbox, requests, inbound, opt-outs, faults and reset under ``/_emulator``.

    ``deliver_inbound(state)``, when given, is awaited after an inbound text is received: it calls the app's
    webhook the way the gateway does (Twilio's signed form, Event Grid's events) and its result is added to
    the answer.
    """

    def state_of(request: web.Request):
        return request.app[state_key]

    async def get_outbox(request: web.Request) -> web.Response:
        state = state_of(request)
        with state.lock:
            return web.json_response(list(state.outbox))

    async def get_requests(request: web.Request) -> web.Response:
        state = state_of(request)
        with state.lock:
            return web.json_response(list(state.requests))

    async def post_inbound(request: web.Request) -> web.Response:
        state = state_of(request)
        sender, to, body = read_inbound(await request.json())
        keyword = state.receive(sender, to or next(iter(state.from_numbers)), body)
        delivered = await deliver_inbound(state) if deliver_inbound is not None else {}
        return web.json_response({**delivered, "keyword": keyword})

    async def get_opt_outs(request: web.Request) -> web.Response:
        state = state_of(request)
        with state.lock:
            return web.json_response([{"from": sender, "to": to} for sender, to in sorted(state.opt_outs)])

    async def post_opt_out(request: web.Request) -> web.Response:
        payload = await request.json()
        state = state_of(request)
        with state.lock:
            state.opt_outs.add((payload.get("from") or next(iter(state.from_numbers)), payload["to"]))
        return web.json_response({"ok": True}, status=201)

    async def delete_opt_outs(request: web.Request) -> web.Response:
        state = state_of(request)
        with state.lock:
            state.opt_outs.clear()
        return web.Response(status=204)

    async def post_fault(request: web.Request) -> web.Response:
        fault = make_fault(await request.json())
        state = state_of(request)
        with state.lock:
            state.faults.append(fault)
        return web.json_response({"ok": True}, status=201)

    async def delete_faults(request: web.Request) -> web.Response:
        state = state_of(request)
        with state.lock:
            state.faults.clear()
        return web.Response(status=204)

    async def post_reset(request: web.Request) -> web.Response:
        state_of(request).reset()
        return web.Response(status=204)

    router = app.router
    router.add_get("/_emulator/outbox", get_outbox)
    router.add_get("/_emulator/requests", get_requests)
    router.add_post("/_emulator/inbound", post_inbound)
    router.add_get("/_emulator/optouts", get_opt_outs)
    router.add_post("/_emulator/optouts", post_opt_out)
    router.add_delete("/_emulator/optouts", delete_opt_outs)
    router.add_post("/_emulator/faults", post_fault)
    router.add_delete("/_emulator/faults", delete_faults)
    router.add_post("/_emulator/reset", post_reset)
