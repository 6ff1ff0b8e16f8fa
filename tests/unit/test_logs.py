"""Logging: correlation ids on every record; phones, e-mails and names never in full, whoever ships the record."""

import io
import json
import logging

import pytest

from shared.logs import configure_logging, get_logger, log_context, redact, redact_text


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream)
    yield stream
    logging.getLogger("frontdesk").removeHandler(handler)


def records(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize("phone", ["+15551234567", "+44 20 7946 0958", "(555) 123-4567", "555-123-4567",
                                   "555.123.4567", "5551234567"])
def test_phone_numbers_keep_only_last_two_digits(phone):
    text = redact_text(f"calling {phone} now")
    digits = "".join(c for c in phone if c.isdigit())
    assert digits not in "".join(c for c in text if c.isdigit() or c == " ")
    assert text.endswith(f"{digits[-2:]} now")


@pytest.mark.parametrize("safe", ["2026-11-21T14:30:00+00:00", "booking 3f2b9c1e-0d4a-4b8e-9f00-1234567890ab",
                                  "CA1234567890abcdef1234567890abcdef", "took 125 ms", "zip 60614"])
def test_timestamps_ids_and_small_numbers_are_left_alone(safe):
    assert redact_text(safe) == safe


def test_email_keeps_first_letter_and_domain():
    assert redact_text("mail dana.smith@example.com") == "mail d***@example.com"


def test_correlation_ids_and_sensitive_values_in_json_records(captured):
    log = get_logger("test.booking")
    with log_context(booking_id="bk_1", instance_id="inst-9", sensitive=["Dana Smith", "42 Elm Street"]):
        log.info("booked %s at %s, phone %s", "Dana Smith", "42 elm street", "+15551234567")
    record, = records(captured)
    assert record["booking_id"] == "bk_1" and record["instance_id"] == "inst-9"
    assert "Dana" not in record["message"] and "Smith" not in record["message"]
    assert "Elm" not in record["message"] and "1234567" not in record["message"]
    assert "D*** S***" in record["message"]


def test_context_ends_with_its_scope(captured):
    log = get_logger("test.scope")
    with log_context(call_id="CA1"):
        pass
    log.info("outside")
    assert "call_id" not in records(captured)[0]


def test_redact_marks_values_for_the_rest_of_the_context(captured):
    log = get_logger("test.redact")
    with log_context(call_id="CA2"):
        redact("Jordan Lee")
        log.warning("caller Jordan Lee asked for a callback")
    assert "Jordan" not in records(captured)[0]["message"]


def test_records_shipped_by_other_handlers_are_redacted_too(captured):
    """The Functions worker ships records through its own root handler; redaction must reach it."""
    stream = io.StringIO()
    foreign = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(foreign)
    try:
        logging.getLogger("azure.some.sdk").warning("sending to +15551234567 for bob@example.org")
    finally:
        root.removeHandler(foreign)
    assert "1234567" not in stream.getvalue() and "bob@" not in stream.getvalue()
    assert "b***@example.org" in stream.getvalue()


def test_exception_text_is_redacted(captured):
    log = get_logger("test.exc")
    try:
        raise ValueError("bad number +15551234567")
    except ValueError:
        log.exception("failed")
    record, = records(captured)
    assert "1234567" not in record["exception"] and "ValueError" in record["exception"]
