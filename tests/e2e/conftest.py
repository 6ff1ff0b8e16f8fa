"""End-to-end fixtures shared by every e2e test folder: one LocalStack per test session, cleaned per test.

``stack`` is the whole local stack (Azurite, all emulators, the development host serving ``function_app``)
started once per pytest session with a table prefix unique to the session, outbound webhooks pointing
at ``webhook_sink`` (a receiver recording every delivery), and the business's office mailbox seeded in
the Graph emulator (the owner e-mail is sent from it). ``clean_stack`` is the same stack reset
(``LocalStack.reset``): the host restarted so nothing an earlier test started is still running, then
emulator outboxes, request logs, faults and opt-outs, every event in the mailboxes, Dataverse
appointments, webhook deliveries and Frontdesk's own table rows wiped, and the clock back on real time.
Tests that want to see only their own effects use ``clean_stack``.
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
def clean_stack(stack, webhook_sink):
    """The session's stack reset to a state the test can name (see ``LocalStack.reset``): nothing running,
    empty tables, calendars and outboxes, the clock on real time; webhook deliveries forgotten too."""
    stack.reset()
    webhook_sink.reset()
    yield stack
    # The app's clock is this process's: tests that run next in the same worker without a stack (integration
    # tests of the SMS gateways' time windows, say) must not inherit the hour this test travelled to.
    stack.host.clock.reset()
    stack.graph.clear_faults()
    stack.dataverse.clear_faults()
    stack.acs.reset()


@pytest.fixture
def local_time(request, clean_stack):
    """Run the test at a named local time of the business (``tests/e2e/local_times.py``): parametrize it
    ``indirect`` with names from ``local_times.ALL``. The stack's clock (which the whole app reads) jumps
    there and flows on; the value is that instant (aware UTC), or the real now for ``real``."""
    from local_times import resolve
    moment = resolve(request.param)
    if moment is None:
        return clean_stack.host.clock.now()
    return clean_stack.host.clock.travel_to(moment)

