"""Fixtures of the two-way SMS end-to-end tests: the local stack with both gateways pointed at the app.

``sms_stack`` is ``clean_stack`` with Twilio's "A message comes in" webhook set to ``/api/sms/twilio/incoming``
and an Event Grid subscription on the ACS emulator to ``/api/sms/acs/events?key=<SMS__EVENT_GRID_SECRET>``
(created through the validation handshake, as Azure creates it). The booking helpers are the saga tests'.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "saga"))  # saga_support: booking through the saga
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sms_support import acs_events_url  # noqa: E402 - needs the path above


@pytest.fixture
def sms_stack(clean_stack):
    stack = clean_stack
    stack.twilio.set_sms_url(stack.host.url("sms/twilio/incoming"))
    created = stack.acs.subscribe(acs_events_url(stack))
    assert created["created"], created
    return stack


@pytest.fixture
def config(business):
    return business


@pytest.fixture(autouse=True)
async def _close_clients_of_the_test_loop():
    """Stores read from the test's own event loop get per-loop clients; close them with the loop."""
    yield
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
