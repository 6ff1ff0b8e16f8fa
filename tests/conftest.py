"""Session-wide test infrastructure: Azurite once per test process, isolated settings per test."""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def azurite():
    """A real Azurite (in memory, free loopback ports) shared by this test process."""
    from dev.azurite import start_azurite
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture
def table_prefix() -> str:
    """A table-name prefix unique to one test, so tests never see each other's rows."""
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def base_env(azurite, table_prefix, monkeypatch) -> dict[str, str]:
    """Minimal valid app settings pointing at Azurite, applied to the environment for this test."""
    from shared.config import reset_settings
    env = {
        "STORAGE__CONNECTION_STRING": azurite.connection_string,
        "STORAGE__TABLE_PREFIX": table_prefix,
        "IDENTITY__MODE": "static_token",
        "IDENTITY__STATIC_TOKEN": "local-test-token",
        "GRAPH__BASE_URL": "http://127.0.0.1:9/v1.0",
        "BUSINESS_CONFIG_PATH": str(ROOT / "config" / "business.example.yaml"),
    }
    for name in [n for n in os.environ if "__" in n and n.split("__")[0] in
                 {"STORAGE", "IDENTITY", "GRAPH", "DATAVERSE", "SMS", "ACS", "TWILIO", "OPENAI", "WEBHOOKS",
                  "VOICE", "WIDGET"}]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    yield env
    reset_settings()
