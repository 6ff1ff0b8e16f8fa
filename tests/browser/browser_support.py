"""Helpers for the browser tests: driving the widget, axe-core, the booking API directly, screenshots."""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "dev" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "docs" / "images"
SERIOUS = ("serious", "critical")
# The keys of this session's widget stack (conftest's ``widget_stack`` installs them; tests call with them).
# Here, not in conftest: ``from conftest import`` picks whichever conftest was imported first.
WIDGET_KEY = "widget-" + secrets.token_urlsafe(18)
DYNAMICS_KEY = "dynamics-" + secrets.token_urlsafe(18)
MANAGE_SECRET = "manage-" + secrets.token_urlsafe(24)  # signs the manage links (tests mint them)
TIME_ZONE = "America/Chicago"
DESKTOP = {"width": 1280, "height": 900}


# ---------------------------------------------------------------- accessibility

def axe_violations(frame) -> list[dict]:
    """Serious and critical axe-core violations on the frame's current document (WCAG 2.x A/AA and best practice)."""
    assert AXE.exists(), "axe-core is missing: run `npm ci --prefix dev` (make setup does)"
    # Evaluated through the DevTools protocol, so the page's own CSP (script-src 'self') is not weakened.
    if not frame.evaluate("() => typeof window.axe === 'object'"):
        frame.evaluate(AXE.read_text(encoding="utf-8"))
    result = frame.evaluate("""() => axe.run(document, {resultTypes: ['violations']})""")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [node["target"] for node in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in SERIOUS]


def assert_accessible(frame, screen: str) -> None:
    violations = axe_violations(frame)
    assert not violations, f"axe-core on the {screen} screen:\n" + json.dumps(violations, indent=1)


# ---------------------------------------------------------------- screenshots

def screenshot(page, name: str, full_page: bool = True) -> None:
    """Save docs/images/<name>.png when FRONTDESK_SCREENSHOTS is set (the docs' pictures come from here)."""
    if os.environ.get("FRONTDESK_SCREENSHOTS"):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


# ---------------------------------------------------------------- the widget

def widget_frame(page, url_part: str = "/api/widget"):
    """The widget's frame inside an embedding page, once it has loaded."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        for frame in page.frames:
            if url_part in frame.url and frame != page.main_frame:
                frame.wait_for_selector("#fd-title")
                return frame
        page.wait_for_timeout(50)
    raise AssertionError(f"no frame with {url_part} in {[f.url for f in page.frames]}")


def choose_service(scope, name: str) -> None:
    scope.get_by_role("button", name=name).first.click()
    scope.locator("#fd-slots button").first.wait_for()


def choose_slot(scope, start_iso: str) -> None:
    """Pick the slot starting at ``start_iso`` (as the availability API renders it in Chicago time)."""
    scope.locator(f'button.fd-day[data-day="{start_iso[:10]}"]').click()
    scope.locator(f'button.fd-slot[data-start="{start_iso}"]').click()
    scope.locator("#fd-step-details").wait_for(state="visible")


def fill_details(scope, **fields: str) -> None:
    for name, value in fields.items():
        scope.locator(f"#fd-{name}").fill(value)


# ---------------------------------------------------------------- the API, as another client would use it

def availability(stack, event_type: str, days: int = 7, time_zone: str = "America/Chicago",
                 postal_code: str | None = None) -> list[dict]:
    start = datetime.now(timezone.utc)
    params = {"eventType": event_type, "start": start.isoformat(), "end": (start + timedelta(days=days)).isoformat(),
              "timeZone": time_zone}
    if postal_code:
        params["postalCode"] = postal_code
    response = httpx.get(stack.url("availability"), params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["slots"]


def book_directly(stack, key: str, event_type: str, start: str, **customer) -> httpx.Response:
    """Book through the API with a function key, the way an integration (or a faster visitor) would."""
    body = {"eventType": event_type, "start": start, "timeZone": "America/Chicago",
            "customer": {"name": "Other Customer", "phone": "+13125550199", **customer},
            "context": {"channel": "api"}}
    return httpx.post(stack.url("bookings"), json=body, timeout=60,
                      headers={"x-functions-key": key, "Idempotency-Key": str(uuid.uuid4())})


def wait_for(predicate, timeout: float = 20.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


# ---------------------------------------------------------------- visitors

_visitors = itertools.count(1)


def open_context(browser, viewport=DESKTOP, **options):
    """A browser context as one visitor: its own cookies and its own address.

    In Azure the front end appends the caller's address to X-Forwarded-For and the booking API limits
    the public widget key per address; here every request comes from 127.0.0.1, so each context
    carries the header itself, as a distinct visitor would arrive.
    """
    address = f"203.0.113.{next(_visitors) % 250 + 1}"
    context = browser.new_context(viewport=viewport, timezone_id=TIME_ZONE, locale="en-US", accept_downloads=True,
                                  extra_http_headers={"X-Forwarded-For": address}, **options)
    context.set_default_timeout(15_000)
    context.visitor_address = address
    return context
