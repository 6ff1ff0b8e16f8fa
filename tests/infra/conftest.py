"""Fixtures for the infra and telemetry tests: a fake Application Insights with a fake managed identity."""

from __future__ import annotations

import pytest

from fake_azure_monitor import Recorded, TlsBackgroundServer, create_app, write_self_signed_certificate
from dev.serving import BackgroundServer


@pytest.fixture(scope="session")
def fake_monitor(tmp_path_factory):
    """``(recorded, ingestion_url, identity_url, ca_bundle)``: ingestion over TLS, the identity endpoint over http."""
    recorded = Recorded()
    cert, key = write_self_signed_certificate(tmp_path_factory.mktemp("monitor-tls"))
    ingestion = TlsBackgroundServer(lambda: create_app(recorded), cert, key, name="fake-ingestion").start()
    identity = BackgroundServer(lambda: create_app(recorded), name="fake-identity").start()
    yield recorded, ingestion.base_url, f"{identity.base_url}/msi/token", cert
    ingestion.stop()
    identity.stop()
