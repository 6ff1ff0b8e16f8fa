"""A small Durable Functions app used only by the development host's tests.

``make_app()`` builds a fresh ``DFApp`` every call (``get_functions()`` works once per app object), so a
test can start a second host on the same task hub to simulate a restart. State the tests inspect
(attempt counters, concurrency peaks, timer ticks) lives at module level, shared by all instances.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

from shared.http import HttpError, http_error_response, json_response, parse_json_body

_lock = threading.Lock()
ATTEMPTS: dict[str, int] = defaultdict(int)
TICKS: list[dict] = []
GATES: dict[str, int] = defaultdict(int)
FICKLE = {"activity": "greet"}
_running = {"now": 0, "peak": 0}


def count_attempt(token: str) -> int:
    with _lock:
        ATTEMPTS[token] += 1
        return ATTEMPTS[token]


class BackoffRetryOptions(df.RetryOptions):
    """RetryOptions carrying the extension's optional fields (the JS SDK sends them; Python's does not)."""

    def __init__(self, first_ms: int, attempts: int, backoff: float, max_interval_ms: int | None = None,
                 timeout_ms: int | None = None):
        super().__init__(first_ms, attempts)
        self.extra = {"backoffCoefficient": backoff}
        if max_interval_ms is not None:
            self.extra["maxRetryIntervalInMilliseconds"] = max_interval_ms
        if timeout_ms is not None:
            self.extra["retryTimeoutInMilliseconds"] = timeout_ms

    def to_json(self):
        return {**super().to_json(), **self.extra}


def make_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    _http_functions(app)
    _durable_starters(app)
    _orchestrators(app)
    _activities(app)
    return app


def _http_functions(app: df.DFApp) -> None:
    @app.route(route="hello/{name?}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def hello(req: func.HttpRequest) -> str:
        return f"hello {req.route_params.get('name') or 'world'}"

    @app.route(route="items/{id:int}", methods=["GET", "PUT"])
    async def item_by_id(req: func.HttpRequest) -> func.HttpResponse:
        return json_response({"by": "id", "id": req.route_params["id"], "method": req.method,
                              "query": dict(req.params), "header": req.headers.get("x-test"),
                              "body": req.get_body().decode()})

    @app.route(route="items/{name:alpha}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def item_by_name(req: func.HttpRequest) -> func.HttpResponse:
        return json_response({"by": "name", "name": req.route_params["name"]})

    @app.route(route="files/{*path}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def files(req: func.HttpRequest) -> func.HttpResponse:
        return json_response({"path": req.route_params.get("path")})

    @app.route(route="secret", methods=["GET"], auth_level=func.AuthLevel.ADMIN)
    def secret(req: func.HttpRequest) -> str:
        return "admins only"

    @app.route(route="keyed", methods=["GET"])
    def keyed(req: func.HttpRequest) -> str:
        return "keyed ok"

    @app.route(route="echo", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return json_response({"got": req.get_json()})

    @app.route(route="parse", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    def parse(req: func.HttpRequest) -> func.HttpResponse:
        try:
            return json_response({"got": parse_json_body(req)})
        except HttpError as error:
            return http_error_response(error)

    @app.route(route="boom", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    async def boom(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("kaboom: internal detail /srv/secret.py")

    @app.timer_trigger(schedule="0 0 3 * * *", arg_name="timer", run_on_startup=False)
    def nightly(timer: func.TimerRequest) -> None:
        TICKS.append({"past_due": timer.past_due})


def _durable_starters(app: df.DFApp) -> None:
    @app.route(route="start/{name}/{instance?}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @app.durable_client_input(client_name="client")
    async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        body = req.get_body()
        payload = json.loads(body) if body else None
        try:
            instance_id = await client.start_new(req.route_params["name"], req.route_params.get("instance"), payload)
        except Exception as exc:  # unknown orchestrator or a duplicate id: the SDK raises a bare Exception
            return json_response({"error": {"code": "start_failed", "message": str(exc), "details": []}}, 400)
        return client.create_check_status_response(req, instance_id)

    @app.route(route="run/{name}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @app.durable_client_input(client_name="client")
    async def run_and_wait(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
        return await client.wait_for_completion_or_create_check_status_response(req, instance_id, 5000, 50)

    @app.route(route="status/{instance}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    @app.durable_client_input(client_name="client")
    async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        found = await client.get_status(req.route_params["instance"], show_history=True, show_input=True)
        if not found:
            return json_response({"error": {"code": "not_found", "message": "no such instance", "details": []}}, 404)
        return json_response({"runtimeStatus": found.runtime_status.value, "customStatus": found.custom_status,
                              "output": found.output})


def _orchestrators(app: df.DFApp) -> None:
    @app.orchestration_trigger(context_name="context")
    def sequence(context: df.DurableOrchestrationContext):
        names = context.get_input()
        greetings = []
        for name in names:
            greetings.append((yield context.call_activity("greet", name)))
        return greetings

    @app.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext):
        count = context.get_input()
        results = yield context.task_all([context.call_activity("slow_square", n) for n in range(count)])
        return {"squares": [r["square"] for r in results], "peak": max(r["peak"] for r in results)}

    @app.orchestration_trigger(context_name="context")
    def retried(context: df.DurableOrchestrationContext):
        spec = context.get_input()
        options = BackoffRetryOptions(spec["first_ms"], spec["attempts"], spec.get("backoff", 1),
                                      spec.get("max_interval_ms"), spec.get("timeout_ms"))
        return (yield context.call_activity_with_retry("flaky", options, spec))

    @app.orchestration_trigger(context_name="context")
    def approval(context: df.DurableOrchestrationContext):
        deadline = context.current_utc_datetime + timedelta(hours=1)
        timeout = context.create_timer(deadline)
        answer = context.wait_for_external_event("approval")
        context.set_custom_status("waiting")
        winner = yield context.task_any([answer, timeout])
        if winner == answer:
            timeout.cancel()
            return {"outcome": "approved", "answer": answer.result,
                    "decided_at": context.current_utc_datetime.isoformat()}
        return {"outcome": "timed out", "decided_at": context.current_utc_datetime.isoformat()}

    @app.orchestration_trigger(context_name="context")
    def early_event(context: df.DurableOrchestrationContext):
        context.set_custom_status("sleeping")
        yield context.create_timer(context.current_utc_datetime + timedelta(hours=2))
        context.set_custom_status("listening")
        return (yield context.wait_for_external_event("go"))

    @app.orchestration_trigger(context_name="context")
    def both_events(context: df.DurableOrchestrationContext):
        context.set_custom_status("waiting")
        first, second = yield context.task_all([context.wait_for_external_event("first"),
                                                context.wait_for_external_event("second")])
        return [first, second]

    @app.orchestration_trigger(context_name="context")
    def parent(context: df.DurableOrchestrationContext):
        name = context.get_input()
        result = yield context.call_sub_orchestrator("child", name, f"{context.instance_id}-child")
        return {"child": result, "parent": context.instance_id}

    @app.orchestration_trigger(context_name="context")
    def child(context: df.DurableOrchestrationContext):
        greeting = yield context.call_activity("greet", context.get_input())
        return {"greeting": greeting, "my_parent": context.parent_instance_id}

    @app.orchestration_trigger(context_name="context")
    def parent_with_retry(context: df.DurableOrchestrationContext):
        token = context.get_input()
        return (yield context.call_sub_orchestrator_with_retry("flaky_child", df.RetryOptions(20, 3), token))

    @app.orchestration_trigger(context_name="context")
    def flaky_child(context: df.DurableOrchestrationContext):
        token = context.get_input()
        attempt = yield context.call_activity("count", token)
        if attempt < 2:
            raise ValueError(f"child attempt {attempt} failed")
        return f"child succeeded on attempt {attempt}"

    @app.orchestration_trigger(context_name="context")
    def counter(context: df.DurableOrchestrationContext):
        state = context.get_input()
        if state["n"] < state["until"]:
            yield context.call_activity("greet", f"round {state['n']}")
            context.continue_as_new({**state, "n": state["n"] + 1})
            return None
        return {"final": state["n"], "rounds_seen_by_this_execution": len(context.histories)}

    @app.orchestration_trigger(context_name="context")
    def reporter(context: df.DurableOrchestrationContext):
        context.set_custom_status({"stage": "waiting for go"})
        yield context.wait_for_external_event("go")
        context.set_custom_status({"stage": "done"})
        return "reported"

    @app.orchestration_trigger(context_name="context")
    def explode(context: df.DurableOrchestrationContext):
        yield context.call_activity("greet", "before the failure")
        raise ValueError("the saga broke: slot no longer free")

    @app.orchestration_trigger(context_name="context")
    def catch_failure(context: df.DurableOrchestrationContext):
        try:
            yield context.call_activity("fail_always", "no luck")
        except Exception as exc:
            return {"caught": str(exc)}
        return {"caught": None}

    @app.orchestration_trigger(context_name="context")
    def waiter(context: df.DurableOrchestrationContext):
        return (yield context.wait_for_external_event("never"))

    @app.orchestration_trigger(context_name="context")
    def sleepy(context: df.DurableOrchestrationContext):
        context.set_custom_status("napping")
        return (yield context.call_activity("nap", context.get_input()))

    @app.orchestration_trigger(context_name="context")
    def long_nap(context: df.DurableOrchestrationContext):
        context.set_custom_status("napping")
        yield context.create_timer(context.current_utc_datetime + timedelta(days=10))
        return context.current_utc_datetime.isoformat()

    @app.orchestration_trigger(context_name="context")
    def fickle(context: df.DurableOrchestrationContext):
        # Reads a module global: exactly the non-determinism the Durable docs forbid.
        first = yield context.call_activity(FICKLE["activity"], "x")
        context.set_custom_status("waiting")
        yield context.wait_for_external_event("go")
        return first

    @app.orchestration_trigger(context_name="context")
    def restartable(context: df.DurableOrchestrationContext):
        token = context.get_input()
        first = yield context.call_activity("greet", "first step")
        gated = yield context.call_activity("gate", token)
        resumed = yield context.wait_for_external_event("resume")
        return [first, gated, resumed]


def _activities(app: df.DFApp) -> None:
    @app.activity_trigger(input_name="name")
    def greet(name: str) -> str:
        return f"Hello {name}"

    @app.activity_trigger(input_name="n")
    async def slow_square(n: int) -> dict:
        with _lock:
            _running["now"] += 1
            _running["peak"] = max(_running["peak"], _running["now"])
        try:
            await asyncio.sleep(0.3)
            return {"square": n * n, "peak": _running["peak"]}
        finally:
            with _lock:
                _running["now"] -= 1

    @app.activity_trigger(input_name="spec")
    def flaky(spec: dict) -> str:
        attempt = count_attempt(spec["token"])
        if attempt <= spec["failures"]:
            raise ConnectionError(f"attempt {attempt} failed")
        return f"succeeded on attempt {attempt}"

    @app.activity_trigger(input_name="seconds")
    def nap(seconds: float) -> str:
        time.sleep(seconds)  # a blocking activity, as sync SDK calls are
        return "rested"

    @app.activity_trigger(input_name="token")
    def count(token: str) -> int:
        return count_attempt(token)

    @app.activity_trigger(input_name="reason")
    def fail_always(reason: str) -> None:
        raise PermissionError(f"refused: {reason}")

    @app.activity_trigger(input_name="token")
    async def gate(token: str) -> str:
        with _lock:
            GATES[token] += 1
            attempt = GATES[token]
        if attempt == 1:
            await asyncio.sleep(3600)  # the host is stopped while this first attempt hangs
        return f"gate passed on attempt {attempt}"
