"""``DevHost``: one running development host (HTTP server, Durable engine, keys, clock, settings)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from dev.host.clock import DevClock
from dev.host.engine import TERMINAL, Engine
from dev.host.loader import ACTIVITY, ORCHESTRATOR, TIMER, FunctionInfo, index_functions, resolve_app
from dev.host.rpc import DurableApi, client_binding_json
from dev.host.server import HostApp, Keys
from dev.host.store import InstanceStore
from dev.host.worker import Invoker, worker_loop
from dev.ports import listening_socket
from dev.serving import BackgroundServer
from shared.logs import get_logger

log = get_logger("dev.host")

T = TypeVar("T")
TASK_HUB_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,44}$")
MASTER_KEY_SETTING = "DEV_HOST_MASTER_KEY"
HOST_KEY_SETTING = "DEV_HOST_FUNCTION_KEY"
FUNCTION_KEYS_SETTING = "DEV_HOST_FUNCTION_KEYS"


class DevHost:
    """A local stand-in for the Azure Functions host and the Durable extension. See :mod:`dev.host`."""

    def __init__(self, app: Any, *, env: dict[str, str] | None = None, storage_connection_string: str | None = None,
                 task_hub: str | None = None, master_key: str | None = None, host_key: str | None = None,
                 function_keys: dict[str, str | dict[str, str]] | None = None, port: int | None = None,
                 bind: str = "127.0.0.1", route_prefix: str | None = None, clock: DevClock | None = None,
                 host_json: str | Path | None = None, max_sync_workers: int = 16,
                 cors_origins: list[str] | None = None, resume: bool = True, sock: socket.socket | None = None):
        self._target = app
        self.env = dict(env or {})
        self.clock = clock or DevClock()
        self.bind = bind
        # Bound and listening from here on, so nothing else can take the port before the server serves it.
        self._sock = sock or listening_socket(bind, port, fallback=False)
        self.port = self._sock.getsockname()[1]
        self._storage = storage_connection_string
        self._task_hub = task_hub
        self._route_prefix = route_prefix
        self._host_json = Path(host_json) if host_json else None
        self._max_sync_workers = max_sync_workers
        self._cors = cors_origins
        self._resume = resume
        self.master_key = master_key or self._setting(MASTER_KEY_SETTING) or secrets.token_urlsafe(24)
        self.host_key = host_key or self._setting(HOST_KEY_SETTING) or secrets.token_urlsafe(24)
        self.system_key = secrets.token_urlsafe(24)
        configured = function_keys if function_keys is not None else json.loads(
            self._setting(FUNCTION_KEYS_SETTING) or "{}")
        self.function_keys = {name: keys if isinstance(keys, dict) else {"default": keys}
                              for name, keys in configured.items()}
        self.functions: list[FunctionInfo] = []
        self.task_hub: str | None = task_hub
        self.route_prefix = (route_prefix if route_prefix is not None else "api").strip("/")
        self.engine: Engine | None = None
        self._server: BackgroundServer | None = None
        self._http: HostApp | None = None
        self._invoker: Invoker | None = None
        self._store: InstanceStore | None = None
        self._saved_env: dict[str, str | None] | None = None
        self._binding_json: str | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.bind}:{self.port}"

    def url(self, route: str) -> str:
        """Absolute URL of an HTTP trigger route: ``host.url("bookings/42")``."""
        prefix = f"/{self.route_prefix}" if self.route_prefix else ""
        return f"{self.base_url}{prefix}/{route.lstrip('/')}"

    def start(self) -> "DevHost":
        if self._server is not None:
            raise RuntimeError("this development host is already running")
        if self._sock.fileno() == -1:  # started again after a stop: take the same port back
            self._sock = listening_socket(self.bind, self.port, fallback=False)
        self._apply_env()
        try:
            self._prepare()
            self._server = BackgroundServer(self._http.make_app, host=self.bind, name="devhost", sock=self._sock)
            self._server.start(timeout=60)
        except BaseException:
            self._server = None
            self._release()
            raise
        for function in self.functions:
            if function.kind == TIMER and function.run_on_startup:
                asyncio.run_coroutine_threadsafe(self._http.run_function(function), self._server.loop)
        log.info("development host serving %d function(s) at %s (task hub %s)", len(self.functions),
                 self.base_url, self.task_hub)
        return self

    def stop(self) -> None:
        if self._server is not None and self._server.loop is not None and self._server.loop.is_running():
            try:
                self._server.call(self._shutdown(), timeout=30)
            except Exception:
                log.exception("development host did not shut down cleanly")
            self._server.stop()
        self._server = None
        self._release()

    def __enter__(self) -> "DevHost":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _prepare(self) -> None:
        app, folder = resolve_app(self._target)
        self.functions = index_functions(app)
        settings = self._read_host_json(folder)
        http = settings.get("extensions", {}).get("http", {})
        if self._route_prefix is None and "routePrefix" in http:
            self.route_prefix = str(http["routePrefix"]).strip("/")
        durable = any(f.kind in (ORCHESTRATOR, ACTIVITY) or f.client_params for f in self.functions)
        self.task_hub = self._choose_task_hub(settings, required=durable)
        self._invoker = Invoker(self._max_sync_workers)
        connection = self._connection_string()
        if durable:
            if not connection:
                raise ValueError("the app uses Durable Functions: give DevHost a storage_connection_string "
                                 "(or the AzureWebJobsStorage setting)")
            self._store = InstanceStore(connection, self.task_hub)
            self.engine = Engine(self.functions, self._store, self.clock, self._invoker, self._client_json)
        self._binding_json = client_binding_json(self.base_url, self.task_hub, self.system_key)
        api = DurableApi(self.engine, self.task_hub, self.system_key) if self.engine else None
        keys = Keys(self.master_key, {"default": self.host_key}, self.function_keys, self.system_key)
        self._http = HostApp(self.functions, keys, self._invoker, self.route_prefix, lambda: api,
                             self._client_json, self._on_startup, self._on_cleanup, self._cors)

    async def _on_startup(self) -> None:
        if self.engine is not None:
            await self._store.open()
            await self.engine.start(resume=self._resume)

    async def _on_cleanup(self) -> None:
        if self._store is not None:
            await self._store.close()
        # The app's adapters keep clients per event loop; close those on the worker loop, as a worker
        # process would at exit, so no "Unclosed client session" is left behind (they rebuild on use).
        from dev.host.worker import worker_loop
        from shared.adapters import aclose_loop_clients
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(aclose_loop_clients(), worker_loop()))
        # The Durable SDK's client keeps one global aiohttp session on the worker loop as well.
        from azure.durable_functions.models.utils.http_utils import _close_session
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_close_session(), worker_loop()))

    async def _shutdown(self) -> None:
        if self._http is not None:
            for task in list(self._http.background):
                task.cancel()
        if self.engine is not None:
            await self.engine.stop()
        if self._store is not None:
            await self._store.close()

    def _release(self) -> None:
        if self._invoker is not None:
            self._invoker.shutdown()
            self._invoker = None
        self._restore_env()

    # ------------------------------------------------------------------ keys and settings

    def function_key(self, name: str | None = None) -> str:
        """A key for FUNCTION-level routes: the function's own key if it has one, else the host key."""
        keys = self.function_keys.get(name or "", {})
        return next(iter(keys.values())) if keys else self.host_key

    def durable_client_json(self) -> str:
        """The binding JSON a ``durable_client_input`` parameter receives from this host."""
        return self._binding_json or client_binding_json(self.base_url, self.task_hub or "TestHubName",
                                                         self.system_key)

    def _client_json(self, function: FunctionInfo) -> str | None:
        if not function.client_params:
            return None
        for name, binding in function.client_params.items():
            hub = self._resolve(binding.get("task_hub"))
            if hub and hub.lower() != (self.task_hub or "").lower():
                log.warning("function %s binds durable client %s to task hub %s; the development host serves "
                            "only %s", function.name, name, hub, self.task_hub)
        return self._binding_json

    def _choose_task_hub(self, settings: dict, required: bool) -> str:
        try:
            hub = self._task_hub or self._resolve(settings.get("extensions", {}).get("durableTask", {}).get("hubName"))
        except ValueError:
            if required:
                raise
            hub = None
        hub = hub or "TestHubName"
        if not TASK_HUB_PATTERN.match(hub):
            raise ValueError(f"task hub name '{hub}' is invalid: 3-45 letters and digits, starting with a letter")
        return hub

    def _setting(self, name: str) -> str | None:
        return self.env.get(name) or os.environ.get(name)

    def _resolve(self, value: str | None) -> str | None:
        if not value:
            return value
        match = re.fullmatch(r"%([^%]+)%", value.strip())
        if not match:
            return value
        resolved = self._setting(match.group(1))
        if not resolved:
            raise ValueError(f"host.json refers to app setting {match.group(1)}, which is not set")
        return resolved

    def _connection_string(self) -> str | None:
        value = self._storage or self._setting("AzureWebJobsStorage")
        if value and value.strip().lower().rstrip(";") == "usedevelopmentstorage=true":
            from dev.azurite import ACCOUNT, ACCOUNT_KEY
            value = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                     f"TableEndpoint=http://127.0.0.1:10002/{ACCOUNT};")
        return value

    def _read_host_json(self, folder: Path | None) -> dict:
        path = self._host_json or (folder / "host.json" if folder else None)
        if path is None or not path.exists():
            return {}
        return json.loads(path.read_text(encoding="utf-8"))

    def _apply_env(self) -> None:
        self._saved_env = {name: os.environ.get(name) for name in self.env}
        os.environ.update(self.env)
        _reset_app_caches()

    def _restore_env(self) -> None:
        if self._saved_env is None:
            return
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = None
        _reset_app_caches()

    # ------------------------------------------------------------------ helpers for tests and the demo

    def describe_functions(self) -> list[dict]:
        return [f.describe() for f in self.functions]

    def invoke(self, function_name: str, timeout: float = 30.0) -> Any:
        """Run a timer function now (as ``POST /admin/functions/{name}`` does) and return its result."""
        function = self._function(function_name)
        if function.kind != TIMER:
            raise ValueError(f"{function_name} is a {function.trigger_type} function; invoke() runs timer functions")
        return self._running().call(self._http.run_function(function), timeout)

    def get_status(self, instance_id: str, *, show_history: bool = False, show_history_output: bool = False):
        """The instance's ``DurableOrchestrationStatus`` (falsy when unknown), straight from the engine."""
        from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
        payload = self._running().call(self._durable().status(
            instance_id, show_history=show_history, show_history_output=show_history_output))
        return DurableOrchestrationStatus.from_json(payload or "")

    def wait_for_instance(self, instance_id: str, timeout: float = 10.0,
                          until: Callable[[Any], bool] | None = None):
        """Block until the instance finishes (or ``until(status)`` holds); its DurableOrchestrationStatus."""
        return self._running().call(self.wait_for_instance_async(instance_id, timeout, until, _here=True),
                                    timeout + 5)

    async def wait_for_instance_async(self, instance_id: str, timeout: float = 10.0,
                                      until: Callable[[Any], bool] | None = None, _here: bool = False):
        """Async :meth:`wait_for_instance`, usable from any event loop."""
        from azure.durable_functions.models.DurableOrchestrationStatus import DurableOrchestrationStatus
        if until is None:
            predicate = lambda payload: payload["runtimeStatus"] in TERMINAL  # noqa: E731
        else:
            predicate = lambda payload: until(DurableOrchestrationStatus.from_json(payload))  # noqa: E731
        coroutine = self._durable().wait_for(instance_id, predicate, timeout)
        if _here:
            payload = await coroutine
        else:
            payload = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coroutine, self._running().loop))
        return DurableOrchestrationStatus.from_json(payload)

    async def with_client(self, use: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``use(DurableOrchestrationClient)`` on the worker loop (where the SDK's session lives)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._client_call(use), worker_loop()))

    def run_with_client(self, use: Callable[[Any], Awaitable[T]], timeout: float = 30.0) -> T:
        """Blocking :meth:`with_client`."""
        return asyncio.run_coroutine_threadsafe(self._client_call(use), worker_loop()).result(timeout)

    async def _client_call(self, use):
        from azure.durable_functions import DurableOrchestrationClient
        return await use(DurableOrchestrationClient(self.durable_client_json()))

    def _function(self, name: str) -> FunctionInfo:
        found = next((f for f in self.functions if f.name.lower() == name.lower()), None)
        if found is None:
            raise KeyError(f"no function named {name}")
        return found

    def _running(self) -> BackgroundServer:
        if self._server is None:
            raise RuntimeError("the development host is not running")
        if self._server.loop is not None and threading.get_ident() == getattr(self._server._thread, "ident", None):
            raise RuntimeError("blocking DevHost calls cannot run on the host's own loop (e.g. inside an "
                               "`until` predicate); keep predicates to plain checks of the status given")
        return self._server

    def _durable(self) -> Engine:
        if self.engine is None:
            raise RuntimeError("this app has no Durable Functions")
        return self.engine


def _reset_app_caches() -> None:
    """Settings read lazily by the app must see the host's app settings."""
    config = sys.modules.get("shared.config")
    if config is not None and hasattr(config, "reset_settings"):
        config.reset_settings()
