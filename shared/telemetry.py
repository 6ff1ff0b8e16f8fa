"""OpenTelemetry to Application Insights when Frontdesk runs in Azure, plus spans and events that carry its ids.

``configure_telemetry()`` sets up the Azure Monitor OpenTelemetry distro once per process, and only when
``APPLICATIONINSIGHTS_CONNECTION_STRING`` is present (Azure sets it; tests and the local stack never do).
Ingestion is Entra-authenticated: ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` (``Authorization=AAD;
ClientId=<managed identity client id>``) selects the managed identity, because the Application Insights
component refuses instrumentation-key ingestion. Call it from an entry point on first use, never at import.

``traced(name, booking_id=..., call_id=..., instance_id=...)`` opens a span that, like every span and log
record in its scope, carries those ids. Without the SDK configured the OpenTelemetry API hands out no-op
spans, so traced code costs next to nothing locally and in tests.

``record_event(BOOKING_OUTCOME, outcome="confirmed", channel="voice")`` writes the named log records the
Frontdesk workbook (infra/modules/workbook.json) charts; the names and outcomes below are that contract.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from shared.logs import CORRELATION_FIELDS, LOGGER_ROOT, current_correlation, get_logger, install_redaction, log_context, redact_text

CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
AUTHENTICATION_STRING_SETTING = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
SERVICE_NAME = "frontdesk"

# Event names and outcomes the workbook queries (`traces | where message == "booking.outcome"`).
BOOKING_OUTCOME = "booking.outcome"
CALL_ENDED = "call.ended"
BOOKING_OUTCOMES = frozenset({"confirmed", "conflict", "expired", "declined", "failed", "cancelled", "rescheduled"})
CALL_OUTCOMES = frozenset({"booked", "changed", "message_taken", "transferred", "handoff", "after_hours",
                           "emergency", "abandoned", "failed"})
# One per retention run (shared/services/retention.py), with deleted_<kind> counts as dimensions.
RETENTION_RUN = "retention.run"
RETENTION_OUTCOMES = frozenset({"complete", "partial", "failed"})
EVENT_OUTCOMES: dict[str, frozenset[str]] = {BOOKING_OUTCOME: BOOKING_OUTCOMES, CALL_ENDED: CALL_OUTCOMES,
                                             RETENTION_RUN: RETENTION_OUTCOMES}

# Frontdesk serves HTTP through the Functions host, not a Python web framework: those instrumentations stay off.
INSTRUMENTATIONS = {
    "azure_sdk": {"enabled": True},
    "httpx": {"enabled": True},
    "requests": {"enabled": True},
    "urllib": {"enabled": True},
    "urllib3": {"enabled": True},
    "django": {"enabled": False},
    "fastapi": {"enabled": False},
    "flask": {"enabled": False},
    "psycopg2": {"enabled": False},
}

_lock = threading.Lock()
_configured = False
log = get_logger(__name__)


class TelemetryError(Exception):
    """The Application Insights settings are present but unusable (the message says which and why)."""


def telemetry_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """True when this process runs with an Application Insights connection string (that is, in Azure)."""
    environ = os.environ if environ is None else environ
    return bool(environ.get(CONNECTION_STRING_SETTING, "").strip())


def parse_authentication_string(value: str) -> dict[str, str]:
    """``Authorization=AAD;ClientId=abc`` -> ``{"authorization": "AAD", "clientid": "abc"}``."""
    pairs: dict[str, str] = {}
    for part in (p.strip() for p in value.split(";")):
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep or not key.strip() or not val.strip():
            raise TelemetryError(f"{AUTHENTICATION_STRING_SETTING} must look like "
                                 f"'Authorization=AAD;ClientId=<client id>', got a part without a value")
        pairs[key.strip().lower()] = val.strip()
    return pairs


def build_credential(environ: Mapping[str, str] | None = None):
    """The (sync) managed identity credential the exporter authenticates with, or None for key-based ingestion.

    The exporter runs on its own threads with a synchronous pipeline, so it gets its own sync credential
    rather than the process-wide async one the adapters share.
    """
    environ = os.environ if environ is None else environ
    raw = environ.get(AUTHENTICATION_STRING_SETTING, "").strip()
    if not raw:
        return None
    parts = parse_authentication_string(raw)
    if parts.get("authorization", "").upper() != "AAD":
        raise TelemetryError(f"{AUTHENTICATION_STRING_SETTING} supports only Authorization=AAD")
    from azure.identity import ManagedIdentityCredential
    return ManagedIdentityCredential(client_id=parts.get("clientid") or None)


def service_resource(settings=None, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Resource attributes; the role name is the function app's, so host and worker telemetry line up.

    No ``service.namespace``: Application Insights would prefix it to the role name.
    """
    environ = os.environ if environ is None else environ
    attributes = {
        "service.name": environ.get("WEBSITE_SITE_NAME") or SERVICE_NAME,
    }
    if settings is not None:
        attributes["frontdesk.task_hub"] = settings.durable_task_hub
    return attributes


def telemetry_options(settings=None, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The keyword arguments for ``configure_azure_monitor`` (SDK imports happen here, not at module import)."""
    environ = os.environ if environ is None else environ
    from opentelemetry.sdk.resources import Resource
    options: dict[str, Any] = {
        "connection_string": environ[CONNECTION_STRING_SETTING].strip(),
        "logger_name": LOGGER_ROOT,
        "resource": Resource.create(service_resource(settings, environ)),
        "instrumentation_options": INSTRUMENTATIONS,
        "span_processors": [correlation_span_processor()],
    }
    if not environ.get("OTEL_TRACES_SAMPLER"):
        # One organisation's calls and bookings are few: keep every trace rather than the distro's default
        # rate-limited sampler, which can drop the first spans of a cold instance (IT may still override).
        options["sampling_ratio"] = 1.0
    credential = build_credential(environ)
    if credential is not None:
        options["credential"] = credential
    return options


def correlation_span_processor():
    """A span processor that stamps the correlation ids in scope onto every span as it starts.

    That covers spans Frontdesk never opens itself (Azure SDK, httpx, Graph), so a Graph call made while
    booking ``b-123`` is findable by ``customDimensions.booking_id`` like the booking's own log lines.
    """
    from opentelemetry.sdk.trace import SpanProcessor

    class CorrelationSpanProcessor(SpanProcessor):
        def on_start(self, span, parent_context=None) -> None:
            for key, value in current_correlation().items():
                span.set_attribute(key, value)

    return CorrelationSpanProcessor()


class _DropPrivateAttributes(logging.Filter):
    """Keep bookkeeping attributes (``_frontdesk_scrubbed``) out of customDimensions."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in [k for k in vars(record) if k.startswith("_")]:
            delattr(record, key)
        return True


def configure_telemetry(settings=None, *, environ: Mapping[str, str] | None = None) -> bool:
    """Send traces, logs and metrics to Application Insights; True only on the call that configured it.

    Does nothing (False) without a connection string, and nothing on later calls: the OpenTelemetry
    providers are process-wide and configuring them twice would export everything twice.
    """
    global _configured
    environ = os.environ if environ is None else environ
    if not telemetry_enabled(environ):
        return False
    with _lock:
        if _configured:
            return False
        # Records are scrubbed when they are created, before any handler (ours or the exporter's) sees them.
        install_redaction()
        # Functions run on App Service: probing the VM metadata endpoint would only add start-up latency.
        os.environ.setdefault("OTEL_EXPERIMENTAL_RESOURCE_DETECTORS", "azure_app_service")
        options = telemetry_options(settings, environ)
        from azure.monitor.opentelemetry import configure_azure_monitor
        frontdesk_logger = logging.getLogger(LOGGER_ROOT)
        before = set(frontdesk_logger.handlers)
        configure_azure_monitor(**options)
        for handler in set(frontdesk_logger.handlers) - before:
            handler.addFilter(_DropPrivateAttributes())
        # Frontdesk's records now reach Application Insights once, with their ids as customDimensions,
        # instead of a second time (without them) through the Functions worker's root handler.
        frontdesk_logger.propagate = False
        _configured = True
    log.info("telemetry configured", extra={"telemetry_auth": "aad" if "credential" in options else "key"})
    return True


def _span_attribute(value: Any):
    if isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))


@contextlib.contextmanager
def traced(name: str, *, booking_id: str | None = None, call_id: str | None = None,
           instance_id: str | None = None, **attributes: Any) -> Iterator[Any]:
    """A span named ``name`` with the given ids (and those already in scope) on it and on every log inside.

    Extra attributes should be ids and counts, never personal data; string values are redacted anyway.
    Exceptions are recorded on the span and re-raised.
    """
    with log_context(booking_id=booking_id, call_id=call_id, instance_id=instance_id):
        try:
            from opentelemetry import trace
        except ImportError:  # the API ships with the SDKs Frontdesk uses; without it tracing is simply off
            yield None
            return
        span_attributes = {**current_correlation(),
                           **{k: _span_attribute(v) for k, v in attributes.items() if v is not None}}
        tracer = trace.get_tracer(SERVICE_NAME)
        with tracer.start_as_current_span(name, attributes=span_attributes) as span:
            yield span


def record_event(name: str, *, outcome: str, logger: logging.Logger | None = None, **dimensions: Any) -> None:
    """Log the workbook event ``name`` (e.g. ``booking.outcome``) with its outcome and dimensions.

    An unknown event or outcome is a programming error and raises ``ValueError``, so a typo cannot
    silently drop a booking from the dashboard.
    """
    allowed = EVENT_OUTCOMES.get(name)
    if allowed is None:
        raise ValueError(f"unknown telemetry event {name!r}; known: {sorted(EVENT_OUTCOMES)}")
    if outcome not in allowed:
        raise ValueError(f"unknown outcome {outcome!r} for {name}; known: {sorted(allowed)}")
    # Ids go through log_context: the record factory already stamps ids in scope onto the record, and
    # logging refuses an ``extra`` key that would overwrite one.
    ids = {key: dimensions.pop(key) for key in CORRELATION_FIELDS if key in dimensions}
    extra = {"event": name, "outcome": outcome, **{k: v for k, v in dimensions.items() if v is not None}}
    with log_context(**ids):
        (logger or log).info(name, extra=extra)
