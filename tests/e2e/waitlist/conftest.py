"""Fixtures of the waitlist end-to-end tests (the stack itself comes from tests/e2e/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
async def _close_clients_of_the_test_loop():
    """Stores read from the test's own event loop get per-loop clients; close them with the loop."""
    yield
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
