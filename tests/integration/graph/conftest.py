"""Fixtures for the Graph tests: one emulator per session (reset per test), adapters built from
explicit settings against it, and a tiny webhook receiver that Graph notifications are POSTed to."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiohttp import web

MAILBOX = "dana@contoso.com"


def pytest_collection_modifyitems(items):
    # msgraph-sdk's generated code warns about its own deprecated classes when first imported.
    here = __file__.rsplit("/", 1)[0]
    for item in items:
        if str(item.fspath).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:msgraph.*"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning:kiota_abstractions.*"))


@pytest.fixture(scope="session", autouse=True)
def graph_models_loaded():
    """Pay msgraph-sdk's one-off model loading (about a second) before the first test, not inside it."""
    from shared.adapters.graph_client import warm_up
    return warm_up()


@pytest.fixture(scope="session")
def graph_emulator():
    """The Graph emulator on a loopback port, shared by the session."""
    from dev.emulators.graph import start_graph_emulator
    emulator = start_graph_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def graph(graph_emulator):
    """The emulator, emptied: no users, events, subscriptions, faults, outbox or request log."""
    graph_emulator.reset()
    return graph_emulator


@pytest.fixture
def graph_settings(graph):
    """Build valid settings pointing Graph at the emulator (keyword overrides for the graph group)."""
    from shared.config import load_settings

    def build(**graph_overrides):
        return load_settings(
            storage={"connection_string": "UseDevelopmentStorage=true"},
            identity={"mode": "static_token", "static_token": "local-graph-token"},
            graph={"base_url": graph.graph_url, **graph_overrides})

    return build


@pytest.fixture
def make_adapter(graph_settings):
    """A GraphAdapter against the emulator; backoff kept short so retry tests stay fast."""
    from shared.adapters.graph import GraphAdapter

    def build(graph_overrides: dict | None = None, **options):
        options.setdefault("retry_backoff_seconds", 0.05)
        return GraphAdapter(graph_settings(**(graph_overrides or {})), **options)

    return build


@pytest.fixture
def adapter(make_adapter):
    return make_adapter()


@pytest.fixture
def dana(graph):
    """A technician's mailbox, in Pacific time like her Outlook."""
    return graph.add_user(MAILBOX, "Dana Scully", time_zone="Pacific Standard Time")


class Receiver:
    """A webhook endpoint like Frontdesk's: answers the validation handshake and records notifications.

    ``mode`` changes how it answers: "ok", "wrong-token" (echoes something else), "json" (echoes the
    token as JSON), "fail" (500 to everything).
    """

    def __init__(self):
        self.mode = "ok"
        self.validations: list[str] = []
        self.raw_validation_queries: list[str] = []
        self.content_types: list[str] = []
        self.notifications: list[dict] = []
        self.lifecycle: list[dict] = []
        self.server = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/api/graph/notifications", self._handle)
        app.router.add_post("/api/graph/lifecycle", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.Response:
        if self.mode == "fail":
            return web.Response(status=500)
        token = request.query.get("validationToken")
        self.content_types.append(request.headers.get("Content-Type", ""))
        if token is not None:
            self.validations.append(token)
            self.raw_validation_queries.append(request.rel_url.raw_query_string)
            if self.mode == "wrong-token":
                return web.Response(text="not-the-token", content_type="text/plain")
            if self.mode == "json":
                return web.json_response({"token": token})
            return web.Response(text=token, content_type="text/plain")
        body = await request.json()
        target = self.lifecycle if request.path.endswith("lifecycle") else self.notifications
        target.extend(body["value"])
        return web.Response(status=202)

    @property
    def notification_url(self) -> str:
        return f"{self.server.base_url}/api/graph/notifications"

    @property
    def lifecycle_url(self) -> str:
        return f"{self.server.base_url}/api/graph/lifecycle"

    async def wait_for(self, what: str, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(getattr(self, what)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} {what}, got {len(getattr(self, what))}")
            await asyncio.sleep(0.02)
        return getattr(self, what)


@pytest.fixture(scope="session")
def receiver_server():
    from dev.serving import BackgroundServer
    receiver = Receiver()
    receiver.server = BackgroundServer(receiver.app, name="graph-receiver").start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def receiver(receiver_server):
    """The session's receiver, emptied and answering normally."""
    receiver_server.mode = "ok"
    receiver_server.validations.clear()
    receiver_server.raw_validation_queries.clear()
    receiver_server.content_types.clear()
    receiver_server.notifications.clear()
    receiver_server.lifecycle.clear()
    return receiver_server
