"""Browser test fixtures: the local stack set up for the widget, the outside world, and Debian's Chromium.

- ``outside``: a customer's web site and a Dynamics 365 form page (``tests/browser/browser_world.py``), on
  ``http://localhost`` ports, so they are other origins than the function app (``http://127.0.0.1``).
- ``widget_stack``: the whole LocalStack (Azurite, emulators, the development host serving
  ``function_app``) with the widget's settings: a function key named ``widget`` (and one named
  ``dynamics``) on the booking routes, ``WIDGET__FUNCTION_KEY`` and ``WIDGET__ALLOWED_ORIGINS`` naming the
  two outside origins. One per session, in a child process, reached over HTTP (``stack_process.py``).
- ``browser``: Chromium from Debian (``/usr/bin/chromium``, installed by ``.ci/run``; Playwright never
  downloads a browser here), launched once per session; ``page`` is a fresh context per test in
  Chicago's time zone that fails the test on any script error or Content-Security-Policy violation.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from browser_support import DYNAMICS_KEY, MANAGE_SECRET, WIDGET_KEY, open_context
from browser_world import OutsideWorld

CHROMIUM = Path(os.environ.get("FRONTDESK_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BOOKING_FUNCTIONS = ("create_booking", "get_booking")


@pytest.fixture(scope="session")
def outside():
    world = OutsideWorld().start()
    yield world
    world.stop()


@pytest.fixture(scope="session")
def widget_stack(outside):
    """The local stack serving the widget, with the widget's key and the outside origins allowed.

    It runs in a child process (``stack_process.py``): a second LocalStack in this process would share
    its environment and cached settings with the e2e suite's.
    """
    from stack_process import RemoteStack
    keys = {name: {"widget": WIDGET_KEY, "dynamics": DYNAMICS_KEY} for name in BOOKING_FUNCTIONS}
    env = {
        "DURABLE_TASK_HUB": "frontdesk",  # host.json names the hub by this setting; LocalStack leaves it unset
        "DEV_HOST_FUNCTION_KEYS": json.dumps(keys),
        "WIDGET__FUNCTION_KEY": WIDGET_KEY,
        "WIDGET__ALLOWED_ORIGINS": f"{outside.site_origin}, {outside.crm_origin}",
        "MANAGE__LINK_SECRET": MANAGE_SECRET,
    }
    stack = RemoteStack(env, table_prefix="br" + uuid.uuid4().hex[:8]).start()
    outside.widget_base = stack.base_url
    outside.dataverse_records = stack.dataverse.records
    yield stack
    stack.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread while it
# lives, and the async tests that xdist sends to the same worker afterwards need the thread to be free.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: run `apt-get install -y chromium` "
                    "(.ci/run does), or point FRONTDESK_CHROMIUM at a Chromium binary.")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageProblems:
    """Script errors and CSP refusals seen while a test ran (either fails the test)."""

    def __init__(self):
        self.items: list[str] = []

    def console(self, message) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused to" in text):
            self.items.append(f"console: {text}")

    def page_error(self, error) -> None:
        self.items.append(f"page error: {error}")


@pytest.fixture
def page(browser, widget_stack):
    context = open_context(browser)
    problems = PageProblems()
    page = context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    page.problems = problems
    page.visitor_address = context.visitor_address
    yield page
    context.close()
    assert not problems.items, "\n".join(problems.items)
