"""Fixtures of the privacy end-to-end tests: HTTP clients with each kind of key, and a terminal phone.

The stack itself (``stack``, ``clean_stack``) comes from ``tests/e2e/conftest.py``.
"""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
async def api(stack):
    """``/api`` with the host's default function key (a booking integration)."""
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.function_key(),
                                          "X-Forwarded-For": "203.0.113.77"}) as client:
        yield client


@pytest.fixture
async def admin(stack):
    """``/api`` with the function app's master (admin) key, as IT answering a privacy request."""
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.master_key}) as client:
        yield client


@pytest.fixture
async def phone(stack):
    from dev.phone import Phone
    async with Phone(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"],
                     public_base_url=stack.env["PUBLIC_BASE_URL"]) as handset:
        yield handset


@pytest.fixture(autouse=True)
async def _close_clients_of_the_test_loop(stack):
    """Stores read from the test's own event loop get per-loop clients; close them with the loop. The clock too."""
    yield
    stack.host.clock.reset()
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
