"""Telemetry reaches Application Insights with Entra auth and Frontdesk's ids, once, and only in Azure.

The end-to-end tests run the real azure-monitor-opentelemetry distro in a child process (its providers
are process-wide) against a fake ingestion endpoint and a fake App Service managed identity endpoint.
"""

import json
import logging
import os
import subprocess
import sys

import pytest

from bicep_tree import ROOT
from fake_azure_monitor import ACCESS_TOKEN, IDENTITY_HEADER
from shared.telemetry import (BOOKING_OUTCOME, TelemetryError, build_credential, parse_authentication_string,
                              record_event, telemetry_enabled, traced)

CLIENT_ID = "3f0c6a3e-5f0e-4a55-9a55-2d4c1e9a7b11"
INSTRUMENTATION_KEY = "00000000-0000-4000-8000-000000000001"

IN_AZURE = """
import json, logging
from shared.logs import configure_logging, get_logger, log_context
from shared.telemetry import BOOKING_OUTCOME, configure_telemetry, record_event, traced
from shared.config import load_settings

configure_logging("INFO")
first = configure_telemetry(load_settings())
second = configure_telemetry(load_settings())
log = get_logger("frontdesk.booking")
with log_context(call_id="CA-test-1"):
    with traced("booking.confirm", booking_id="b-42", instance_id="i-42", slots=2):
        log.info("texting the caller at %s", "+15551234567")
        record_event(BOOKING_OUTCOME, outcome="confirmed", channel="voice")

from opentelemetry import trace
from opentelemetry._logs import get_logger_provider
trace.get_tracer_provider().force_flush()
get_logger_provider().force_flush()
print(json.dumps({"first": first, "second": second,
                  "propagates": logging.getLogger("frontdesk").propagate}))
"""


def run_child(script: str, env_overrides: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if "__" not in k and not k.startswith(("APPLICATIONINSIGHTS", "IDENTITY_"))}
    env.update({"STORAGE__TABLE_ENDPOINT": "https://stexample.table.core.windows.net/",
                "FUNCTIONS_WORKER_RUNTIME": "python", **env_overrides})
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def exported(fake_monitor, tmp_path_factory):
    recorded, ingestion_url, identity_url, ca_bundle = fake_monitor
    result = run_child(IN_AZURE, {
        "APPLICATIONINSIGHTS_CONNECTION_STRING":
            f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={ingestion_url}/;LiveEndpoint={ingestion_url}/",
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"Authorization=AAD;ClientId={CLIENT_ID}",
        "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
        "IDENTITY_ENDPOINT": identity_url,
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "REQUESTS_CA_BUNDLE": str(ca_bundle),
        "WEBSITE_SITE_NAME": "func-frontdesk-test",
        # The exporter keeps unsent telemetry under the temp dir and resends it on the next start.
        "TMPDIR": str(tmp_path_factory.mktemp("exporter-tmp")),
    })
    return result, recorded


def test_configured_once_per_process(exported):
    result, _ = exported
    assert result["first"] is True and result["second"] is False


def test_ingestion_uses_the_managed_identity_token(exported):
    _, recorded = exported
    assert recorded.token_requests, "the exporter never asked the managed identity endpoint for a token"
    assert {r.get("client_id") for r in recorded.token_requests} == {CLIENT_ID}
    assert all(r.get("resource", "").startswith("https://monitor.azure.com") for r in recorded.token_requests)
    assert recorded.track_authorizations and set(recorded.track_authorizations) == {f"Bearer {ACCESS_TOKEN}"}


def test_logs_carry_the_ids_and_no_personal_data(exported):
    _, recorded = exported
    messages = {m["message"]: m for m in recorded.messages()}
    outcome = messages[BOOKING_OUTCOME]["properties"]
    assert outcome["booking_id"] == "b-42" and outcome["call_id"] == "CA-test-1" and outcome["instance_id"] == "i-42"
    assert outcome["outcome"] == "confirmed" and outcome["channel"] == "voice"
    assert not [key for m in recorded.messages() for key in m.get("properties", {}) if key.startswith("_")]
    texting = next(text for text in messages if text.startswith("texting the caller"))
    assert "5551234567" not in texting and texting.endswith("67")


def test_spans_carry_the_ids_and_the_role_name(exported):
    _, recorded = exported
    span = next(s for s in recorded.spans() if s["name"] == "booking.confirm")
    assert span["properties"]["booking_id"] == "b-42"
    assert span["properties"]["call_id"] == "CA-test-1"
    assert span["properties"]["instance_id"] == "i-42"
    assert span["tags"]["ai.cloud.role"] == "func-frontdesk-test"


def test_frontdesk_records_are_not_sent_twice_through_the_worker(exported):
    result, _ = exported
    assert result["propagates"] is False


NOT_IN_AZURE = """
import json, sys
from shared.telemetry import configure_telemetry
from shared.config import load_settings
configured = configure_telemetry(load_settings())
heavy = sorted(m for m in sys.modules if m.startswith(("azure.monitor", "opentelemetry.sdk")))
print(json.dumps({"configured": configured, "heavy": heavy}))
"""


def test_nothing_is_configured_or_imported_without_a_connection_string():
    result = run_child(NOT_IN_AZURE, {})
    assert result == {"configured": False, "heavy": []}


def test_telemetry_is_enabled_only_by_a_non_empty_connection_string():
    assert telemetry_enabled({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=x"})
    assert not telemetry_enabled({"APPLICATIONINSIGHTS_CONNECTION_STRING": "  "})
    assert not telemetry_enabled({})


def test_authentication_string_selects_the_user_assigned_identity():
    assert parse_authentication_string(f"Authorization=AAD;ClientId={CLIENT_ID}") == {
        "authorization": "AAD", "clientid": CLIENT_ID}
    credential = build_credential({"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": f"Authorization=AAD;ClientId={CLIENT_ID}"})
    assert type(credential).__name__ == "ManagedIdentityCredential"
    assert build_credential({}) is None


@pytest.mark.parametrize("bad", ["Authorization=AAD;ClientId", "Authorization=Key", "nonsense"])
def test_a_malformed_authentication_string_is_refused_with_its_name(bad):
    with pytest.raises(TelemetryError, match="APPLICATIONINSIGHTS_AUTHENTICATION_STRING"):
        build_credential({"APPLICATIONINSIGHTS_AUTHENTICATION_STRING": bad})


class Collect(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    from shared.logs import install_redaction
    install_redaction()
    handler = Collect()
    logger = logging.getLogger("frontdesk.test.telemetry")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, handler.records
    logger.removeHandler(handler)


def test_traced_puts_ids_on_every_log_inside_even_without_the_sdk(collected):
    logger, records = collected
    with traced("booking.hold", booking_id="b-7", call_id="CA-7"):
        logger.info("hold placed")
    logger.info("after the span")
    assert (records[0].booking_id, records[0].call_id) == ("b-7", "CA-7")
    assert not hasattr(records[1], "booking_id")


def test_traced_re_raises_what_fails_inside():
    with pytest.raises(RuntimeError, match="graph down"):
        with traced("booking.confirm", booking_id="b-8"):
            raise RuntimeError("graph down")


def test_record_event_refuses_unknown_events_and_outcomes(collected):
    logger, records = collected
    with pytest.raises(ValueError, match="unknown outcome"):
        record_event(BOOKING_OUTCOME, outcome="confirmd", logger=logger)
    with pytest.raises(ValueError, match="unknown telemetry event"):
        record_event("booking.done", outcome="confirmed", logger=logger)
    record_event(BOOKING_OUTCOME, outcome="conflict", booking_id="b-9", channel="widget", logger=logger)
    assert [(r.getMessage(), r.outcome, r.booking_id, r.channel) for r in records] == [
        (BOOKING_OUTCOME, "conflict", "b-9", "widget")]
