"""Fixtures of the booking API's end-to-end tests: HTTP clients against the session's LocalStack.

The stack itself (``stack``, ``clean_stack``, ``business``) comes from ``tests/e2e/conftest.py``.
Each test gets its own caller address (``X-Forwarded-For``), so the per-address rate limit of
anonymous reads never couples tests to each other.
"""

from __future__ import annotations

import itertools

import httpx
import pytest

_addresses = itertools.count(1)


@pytest.fixture
def caller_ip() -> str:
    number = next(_addresses)
    return f"203.0.113.{number % 250 + 1}" if number < 250 else f"198.51.100.{number % 250 + 1}"


@pytest.fixture
async def api(stack, caller_ip):
    """An httpx client for ``/api`` presenting the host's default function key (a server integration)."""
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"x-functions-key": stack.host.function_key(),
                                          "X-Forwarded-For": caller_ip}) as client:
        yield client


@pytest.fixture
async def anonymous(stack, caller_ip):
    """An httpx client for ``/api`` without any key (a browser reading availability)."""
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                 headers={"X-Forwarded-For": caller_ip}) as client:
        yield client
