"""Fixtures for the SMS tests: one ACS and one Twilio emulator per session, Azurite for remembered opt-outs."""

from __future__ import annotations

import pytest

@pytest.fixture(scope="session")
def acs_emulator():
    """The ACS SMS emulator on a loopback port, shared by the session (reset for every test)."""
    from dev.emulators.acs_sms import start_acs_sms_emulator
    emulator = start_acs_sms_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="session")
def twilio_emulator():
    """The Twilio REST emulator on a loopback port, shared by the session (reset for every test)."""
    from dev.emulators.twilio_rest import start_twilio_emulator
    emulator = start_twilio_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def acs(acs_emulator):
    """The ACS emulator with an empty outbox, request log, opt-out list and no faults."""
    acs_emulator.reset()
    return acs_emulator


@pytest.fixture
def twilio(twilio_emulator):
    """The Twilio emulator with an empty outbox, request log, opt-out list and no faults."""
    twilio_emulator.reset()
    return twilio_emulator


@pytest.fixture
def sms_settings(base_env, monkeypatch):
    """Build settings from ``base_env`` (Azurite, a fresh table prefix) plus the given SMS variables."""
    from shared.config import load_settings

    def build(env: dict[str, str]):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return load_settings()

    return build


@pytest.fixture
def acs_settings(sms_settings, acs):
    return sms_settings(acs.env())


@pytest.fixture
def twilio_settings(sms_settings, twilio):
    return sms_settings(twilio.env())


@pytest.fixture
async def opt_outs(base_env):
    """The real opt-out store on Azurite, in this test's own table."""
    from shared.adapters.optouts import OptOutStore
    from shared.adapters.storage import get_table_service
    from shared.config import load_settings
    settings = load_settings()
    yield OptOutStore(settings)
    # The table client of this test's event loop dies with the loop; close its connections first.
    await get_table_service(settings).close()


@pytest.fixture
async def acs_sender(acs_settings, opt_outs):
    """The production ACS sender (as the factory builds it) against the emulator."""
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(acs_settings, opt_outs)
    yield sender
    await sender.aclose()


@pytest.fixture
async def twilio_sender(twilio_settings, opt_outs):
    """The production Twilio sender (as the factory builds it) against the emulator."""
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(twilio_settings, opt_outs)
    yield sender
    await sender.aclose()
