"""Fixtures of the voice end-to-end tests: a terminal phone ringing the session's LocalStack, and the dial knobs.

The stack (``stack``, ``clean_stack``, ``business``) comes from ``tests/e2e/conftest.py``. ``phone`` is
:class:`dev.phone.Phone` signing with the stack's Twilio auth token. ``receptionist`` adjusts the running
voice service the way a deployment's settings would -- the hour it believes it is (office hours,
"tomorrow", the night shift), its ``VOICE__*`` options (transfer and on-call numbers), and the language
model it uses -- and puts everything back after the test.
"""

from __future__ import annotations

import pytest

from voice_support import Receptionist


@pytest.fixture
async def phone(stack):
    from dev.phone import Phone
    async with Phone(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"],
                     public_base_url=stack.env["PUBLIC_BASE_URL"]) as handset:
        yield handset


@pytest.fixture
def receptionist(clean_stack):
    from shared.services.voice import get_voice_service
    service = get_voice_service()
    control = Receptionist(service, clean_stack)
    yield control
    control.restore()


@pytest.fixture(autouse=True)
async def _close_clients_of_the_test_loop():
    """Stores read from the test's own event loop get per-loop clients; close them with the loop."""
    yield
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
