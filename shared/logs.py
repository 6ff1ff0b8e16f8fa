"""Structured logging with correlation ids and redaction of personal data.

Use ``get_logger(__name__)`` everywhere and put correlation ids into scope with
``log_context(booking_id=..., call_id=..., instance_id=...)``; every record logged inside that
scope carries them. Personal data never reaches a log line in full: :class:`RedactionFilter`
masks phone numbers and e-mail addresses anywhere in a message, and masks names and addresses
that code marks as sensitive with ``log_context(sensitive=[...])`` or ``redact(...)``.
``configure_logging()`` installs the redaction (a log record factory) and, locally, a JSON
handler; entry points call it (triggers on first use, the development host, tests), never import.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone

LOGGER_ROOT = "frontdesk"
CORRELATION_FIELDS = ("call_id", "booking_id", "instance_id", "request_id", "host_id")

_correlation: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("frontdesk_correlation", default={})
_sensitive: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("frontdesk_sensitive", default=())

# Phone numbers: E.164 (+ and 7-15 digits), North American style (555) 123-4567 / 555.123.4567 /
# 555-123-4567, and bare runs of 10-15 digits. Timestamps (2026-11-21) and GUIDs do not match
# because the groups are fixed 3-3-4 and bounded by non-word characters.
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+\d[\d\s().-]{5,18}\d"
    r"|\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}"
    r"|\d{10,15}"
    r")(?![\w])"
)
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")


def mask_phone(text: str) -> str:
    """Keep only the last two digits of a phone number: ``+1********67``."""
    digits = re.sub(r"\D", "", text)
    prefix = "+" if text.startswith("+") else ""
    return prefix + "*" * max(len(digits) - 2, 0) + digits[-2:]


def mask_word(value: str) -> str:
    """``Dana Smith`` -> ``D*** S***``: enough to recognise in support, not to identify."""
    return " ".join(part[0] + "***" for part in value.split() if part)


def redact_text(text: str, sensitive: Iterable[str] = ()) -> str:
    """Mask phones, e-mail addresses and the given sensitive values (names, addresses) in ``text``."""
    for value in sorted({v for v in sensitive if v and len(v.strip()) > 1}, key=len, reverse=True):
        text = re.sub(re.escape(value), mask_word(value), text, flags=re.IGNORECASE)
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: mask_phone(m.group(0)), text)


@contextlib.contextmanager
def log_context(*, sensitive: Iterable[str | None] = (), **ids: str | None) -> Iterator[None]:
    """Attach correlation ids (and values to mask) to every record logged in this scope."""
    merged = {**_correlation.get(), **{k: str(v) for k, v in ids.items() if v is not None}}
    id_token = _correlation.set(merged)
    sens_token = _sensitive.set(_sensitive.get() + tuple(v for v in sensitive if v))
    try:
        yield
    finally:
        _correlation.reset(id_token)
        _sensitive.reset(sens_token)


def redact(*values: str | None) -> None:
    """Mark values (a caller's name, a street address) as sensitive for the rest of this context."""
    _sensitive.set(_sensitive.get() + tuple(v for v in values if v))


def current_correlation() -> dict[str, str]:
    """The correlation ids in scope (for passing into orchestrations and outbound calls)."""
    return dict(_correlation.get())


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the message once, mask personal data in it, and attach the correlation ids in scope."""
    if getattr(record, "_frontdesk_scrubbed", False):
        return record
    sensitive = _sensitive.get()
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not lose the record
        message = f"{record.msg!r} {record.args!r}"
    record.msg = redact_text(message, sensitive)
    record.args = None
    for key, value in _correlation.get().items():
        if not hasattr(record, key):
            setattr(record, key, value)
    if record.exc_info and not record.exc_text:
        record.exc_text = redact_text(logging.Formatter().formatException(record.exc_info), sensitive)
        record.exc_info = None
    record._frontdesk_scrubbed = True
    return record


class RedactionFilter(logging.Filter):
    """A handler filter that scrubs records which bypassed the record factory."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, correlation ids and extra fields."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._STANDARD and not key.startswith("_"):
                payload[key] = redact_text(str(value), _sensitive.get()) if isinstance(value, str) else value
        if record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, default=str)


def get_logger(name: str) -> logging.Logger:
    """A logger under the ``frontdesk`` hierarchy."""
    return logging.getLogger(name if name.startswith(LOGGER_ROOT) else f"{LOGGER_ROOT}.{name}")


def install_redaction() -> None:
    """Scrub every log record of the process at creation, whichever handler later ships it.

    A record factory is used rather than a logger filter because the Functions worker ships
    records through its own handler on the root logger, which logger filters never see.
    Records are only created for enabled levels, so disabled debug logging costs nothing.
    """
    factory = logging.getLogRecordFactory()
    if getattr(factory, "_frontdesk", False):
        return

    def scrubbing_factory(*args, **kwargs):
        return scrub_record(factory(*args, **kwargs))

    scrubbing_factory._frontdesk = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbing_factory)


def configure_logging(level: str = "INFO", *, json_output: bool = True, stream=None) -> logging.Handler | None:
    """Install redaction, set Frontdesk's level and (outside Azure) print records as JSON lines.

    In Azure the worker's own handler ships records to Application Insights, so no handler is added
    there (``stream=None`` and ``FUNCTIONS_WORKER_RUNTIME`` set); locally records go to stderr.
    """
    install_redaction()
    root = logging.getLogger(LOGGER_ROOT)
    root.setLevel(level)
    for old in [h for h in root.handlers if getattr(h, "_frontdesk", False)]:
        root.removeHandler(old)
    if stream is None and os.environ.get("FUNCTIONS_WORKER_RUNTIME"):
        return None
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if json_output else logging.Formatter("%(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactionFilter())
    handler._frontdesk = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
    return handler
