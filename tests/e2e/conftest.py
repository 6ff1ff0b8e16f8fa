"""End-to-end fixtures shared by every e2e test folder: one LocalStack per test session, cleaned per test.

``stack`` is the whole local stack (Azurite, all emulators, the development host serving ``function_app``)
started once per pytest session with a table prefix unique to the session, outbound webhooks pointing
at ``webhook_sink`` (a receiver recording every delivery), and the business's office mailbox seeded in
the Graph emulator (the owner e-mail is sent from it). ``clean_stack`` is the same stack after wiping
what earlier tests left behind: emulator outboxes, request logs, faults and opt-outs, every event in the
host mailboxes, Dataverse appointments, webhook deliveries, and Frontdesk's own table rows (claims,
bookings...). Tests that want to see only their own effects use ``clean_stack``.
"""

from __future__ import annotations

import secrets
import threading
import uuid

import pytest
from aiohttp import web

WEBHOOK_SECRET = "whsec-" + secrets.token_hex(16)


class WebhookSink:
    """A receiver of Frontdesk's outbound webhooks: records deliveries, answers with chosen statuses."""

    def __init__(self):
        self._lock = threading.Lock()
        self._deliveries: list[dict] = []
        self._statuses: list[int] = []
        self.server = None
        self.secret = WEBHOOK_SECRET

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/hooks/{name}", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            status = self._statuses.pop(0) if self._statuses else 204
            self._deliveries.append({"path": request.path, "headers": dict(request.headers), "body": body,
                                     "status": status})
        return web.Response(status=status)

    @property
    def url(self) -> str:
        return f"{self.server.base_url}/hooks/frontdesk"

    def deliveries(self, *, accepted_only: bool = True) -> list[dict]:
        with self._lock:
            return [dict(d) for d in self._deliveries if not accepted_only or d["status"] < 300]

    def answer_next(self, *statuses: int) -> None:
        """Answer the next deliveries with these statuses (e.g. 500, 503) before accepting again."""
        with self._lock:
            self._statuses.extend(statuses)

    def reset(self) -> None:
        with self._lock:
            self._deliveries.clear()
            self._statuses.clear()


@pytest.fixture(scope="session")
def webhook_sink():
    from dev.serving import BackgroundServer
    sink = WebhookSink()
    sink.server = BackgroundServer(sink.make_app, name="webhook-sink").start()
    yield sink
    sink.server.stop()


@pytest.fixture(scope="session")
def stack(webhook_sink):
    """The running LocalStack (seeded from config/business.example.yaml), shared by the session."""
    from dev.stack import LocalStack
    local = LocalStack(table_prefix="e2e" + uuid.uuid4().hex[:8],
                       extra_env={"WEBHOOKS__URLS": webhook_sink.url, "WEBHOOKS__SECRET": webhook_sink.secret})
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="session")
def business(stack):
    """The business configuration the stack was seeded from (hosts, event types, mailboxes)."""
    from shared.config import load_business_config
    return load_business_config(str(stack.business_config_path))


@pytest.fixture
def clean_stack(stack, business, webhook_sink):
    """The session's stack with emulator state and Frontdesk's tables wiped, so a test sees only its own effects."""
    wipe_emulators(stack, business)
    webhook_sink.reset()
    wipe_frontdesk_tables(stack)
    yield stack
    stack.graph.clear_faults()
    stack.dataverse.clear_faults()
    stack.acs.reset()


def wipe_emulators(stack, business) -> None:
    """Forget outboxes, request logs, faults, opt-outs, calendar events and CRM appointments."""
    graph = stack.graph
    graph.clear_faults()
    for host in business.hosts:
        for event in graph.events(host.mailbox):
            graph.delete_event(host.mailbox, event["id"])
    graph.clear_outbox()
    graph.clear_requests()
    # The host runs in this process: forget the busy times it cached from the calendars just wiped.
    from shared.services.availability import forget_cached_busy
    forget_cached_busy()
    graph.clear_deliveries()
    stack.acs.reset()
    stack.twilio.reset()
    stack.dataverse.clear_faults()
    with stack.dataverse.state.lock:
        stack.dataverse.state.tables["appointments"].clear()
        stack.dataverse.state.requests.clear()


def wipe_frontdesk_tables(stack) -> None:
    """Delete every row of the app's own tables (those carrying the stack's table prefix)."""
    from azure.data.tables import TableServiceClient
    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    try:
        for table in service.list_tables():
            if not table.name.startswith(stack.table_prefix):
                continue
            client = service.get_table_client(table.name)
            for entity in client.list_entities(select=["PartitionKey", "RowKey"]):
                client.delete_entity(entity["PartitionKey"], entity["RowKey"])
    finally:
        service.close()
