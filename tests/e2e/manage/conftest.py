"""Fixtures of the manage link's end-to-end tests: an integration that books, and the customer who only has a link.

The stack itself (``stack``, ``clean_stack``, ``business``) comes from ``tests/e2e/conftest.py``. Each test
gets its own caller address, so the per-address limits never couple tests to each other.
"""

from __future__ import annotations

import itertools

import httpx
import pytest

_addresses = itertools.count(1)


@pytest.fixture
def caller_ip() -> str:
    return f"192.0.2.{next(_addresses) % 250 + 1}"


@pytest.fixture
async def api(stack, caller_ip):
    """``/api`` with the host's default function key: the integration that makes the booking."""
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.function_key(),
                                          "X-Forwarded-For": caller_ip}) as client:
        yield client


@pytest.fixture
async def customer(stack, caller_ip):
    """No key at all: whoever holds the link from the text."""
    async with httpx.AsyncClient(timeout=60, headers={"X-Forwarded-For": caller_ip}) as client:
        yield client


@pytest.fixture(autouse=True)
async def _close_clients_of_the_test_loop():
    """Stores read from the test's own event loop get per-loop clients; close them with the loop."""
    yield
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
