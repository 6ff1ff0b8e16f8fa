"""Fixtures for the Dynamics 365 tests: one Dataverse emulator per session, clean state and settings per test."""

from __future__ import annotations

import pytest

TOKEN = "dataverse-test-token"


@pytest.fixture(scope="session")
def dataverse_emulator():
    """The Dataverse emulator on a loopback port, shared by the session (state is reset for every test)."""
    from dev.emulators.dataverse import start_dataverse_emulator
    emulator = start_dataverse_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def dataverse(dataverse_emulator):
    """The emulator, emptied (records, faults, request log, org settings) before the test."""
    dataverse_emulator.reset()
    return dataverse_emulator


@pytest.fixture
def dataverse_settings(dataverse):
    """Valid settings pointing Dynamics at the emulator with a static token (no environment involved)."""
    from shared.config import load_settings
    return load_settings(storage={"connection_string": "UseDevelopmentStorage=true"},
                         identity={"mode": "static_token", "static_token": TOKEN},
                         graph={"base_url": "http://127.0.0.1:9/v1.0"},
                         dataverse={"url": dataverse.base_url, "timeout_seconds": 5})


@pytest.fixture
def crm(dataverse_settings):
    """The real Dataverse adapter, waiting out at most 3 s of Retry-After in total."""
    from shared.adapters.dataverse import DataverseCrm
    return DataverseCrm(dataverse_settings, max_retry_after_seconds=3.0)
