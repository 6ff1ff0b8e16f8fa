"""Fixtures for the language-model tests: one OpenAI-compatible emulator per session, settings per test."""

from __future__ import annotations

import pytest

API_KEY = "sk-emulator-test"
STATIC_TOKEN = "entra-token-for-the-emulator"


@pytest.fixture(scope="session")
def openai_emulator():
    """The OpenAI-compatible emulator on a loopback port, shared by the session (reset for every test)."""
    from dev.emulators.openai_compat import start_openai_emulator
    emulator = start_openai_emulator()
    yield emulator
    emulator.stop()


@pytest.fixture
def llm(openai_emulator):
    """The emulator with no queued answers, faults or recorded requests."""
    openai_emulator.reset()
    return openai_emulator


@pytest.fixture
def make_language_settings(llm):
    """Build settings for the language adapter: ``make_language_settings(kind="azure", api_key=None, ...)``."""
    from shared.config import load_settings

    def make(kind: str = "openai", **openai_overrides):
        endpoint = llm.openai_base_url if kind == "openai" else llm.base_url
        openai = {"kind": kind, "endpoint": endpoint, "api_key": API_KEY, "model": "gpt-4o-mini",
                  "timeout_seconds": 2.5, **openai_overrides}
        return load_settings(storage={"connection_string": "UseDevelopmentStorage=true"},
                             identity={"mode": "static_token", "static_token": STATIC_TOKEN},
                             graph={"base_url": "http://127.0.0.1:9/v1.0"}, openai=openai)

    return make


@pytest.fixture
async def language(make_language_settings):
    """The real language adapter (kind openai) pointed at the emulator, warmed up as the app does at start."""
    from shared.adapters.language import OpenAILanguage
    adapter = OpenAILanguage(make_language_settings())
    await adapter.warm_up()
    return adapter
