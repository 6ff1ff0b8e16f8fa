"""Process start-up on first use: logging with redaction and, in Azure, telemetry. Never at import.

Every trigger calls :func:`ensure_started` before doing anything else; the first call in a worker
configures logging at the configured level and, when Application Insights is configured, the
OpenTelemetry distro; later calls cost a flag check. A broken telemetry setting is logged and
tolerated: Frontdesk keeps answering calls without telemetry rather than failing them.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_started = False


def ensure_started() -> None:
    """Configure logging (and telemetry in Azure) once per process."""
    global _started
    if _started:
        return
    with _lock:
        if _started:
            return
        from shared.config import SettingsError, get_settings
        from shared.logs import configure_logging, get_logger
        try:
            settings = get_settings()
            level = settings.log_level
        except SettingsError:
            settings, level = None, "INFO"  # health reports the problem; logging must still work
        configure_logging(level)
        if os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
            from shared.telemetry import TelemetryError, configure_telemetry
            try:
                configure_telemetry(settings)
            except TelemetryError as exc:
                get_logger(__name__).error("telemetry not configured: %s", exc)
        _started = True
