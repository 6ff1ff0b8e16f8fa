"""Texting through Twilio: the real twilio library (async client) against the Twilio REST emulator."""

from __future__ import annotations

import pytest

from shared.errors import ForbiddenError, OptedOutError, PermanentError, ThrottledError, TransientError

CUSTOMER = "+14155552671"


async def test_text_lands_in_the_outbox_in_e164_with_its_body(twilio, twilio_sender):
    receipt = await twilio_sender.send_sms("415.555.2671", "Booked: Thu 2 pm with Dana. Reply STOP to opt out.")

    [sent] = twilio.outbox()
    assert (sent["to"], sent["from"], sent["body"]) == (
        CUSTOMER, twilio.from_number, "Booked: Thu 2 pm with Dana. Reply STOP to opt out.")
    assert (receipt.message_id, receipt.to, receipt.provider, receipt.status) == (
        sent["sid"], CUSTOMER, "twilio", "accepted")
    assert [r["authorized"] for r in twilio.requests()] == [True]


async def test_unsubscribed_recipient_21610_is_opted_out_remembered_and_not_sent_again(twilio, twilio_sender,
                                                                                        opt_outs):
    twilio.inbound(CUSTOMER, "STOP")

    with pytest.raises(OptedOutError) as caught:
        await twilio_sender.send_sms(CUSTOMER, "Reminder")
    assert caught.value.code == "21610" and caught.value.status == 400
    assert caught.value.request_id.startswith("RQ")  # Twilio-Request-Id, for Twilio support
    assert await opt_outs.is_opted_out(CUSTOMER)

    with pytest.raises(OptedOutError):
        await twilio_sender.send_sms("(415) 555-2671", "Another reminder")
    assert len(twilio.requests()) == 1  # the second refusal came from the store, not from Twilio


async def test_start_lets_texts_through_again(twilio, twilio_sender, opt_outs):
    twilio.inbound(CUSTOMER, "STOP")
    with pytest.raises(OptedOutError):
        await twilio_sender.send_sms(CUSTOMER, "first")

    twilio.inbound(CUSTOMER, "START")
    await opt_outs.apply_inbound(CUSTOMER, "start", provider="twilio")
    await twilio_sender.send_sms(CUSTOMER, "second")

    assert [m["body"] for m in twilio.outbox()] == ["second"]


async def test_invalid_number_is_permanent_without_a_request(twilio, twilio_sender):
    with pytest.raises(PermanentError, match="cannot text this number"):
        await twilio_sender.send_sms("1-800-FLOWERS", "hello")
    assert twilio.requests() == []


async def test_body_over_twilios_limit_is_refused_before_sending(twilio, twilio_sender):
    with pytest.raises(PermanentError, match="1600"):
        await twilio_sender.send_sms(CUSTOMER, "x" * 1601)
    assert twilio.requests() == []


async def test_invalid_to_reported_by_twilio_21211_is_permanent(twilio, twilio_sender):
    # A number valid by our rules that the gateway still refuses: the gateway's answer decides.
    twilio.fault(400, code=21211)
    with pytest.raises(PermanentError) as caught:
        await twilio_sender.send_sms(CUSTOMER, "hello")
    assert caught.value.code == "21211" and not caught.value.retryable
    assert not isinstance(caught.value, OptedOutError)


@pytest.mark.parametrize(("status", "error"), [(429, ThrottledError), (500, TransientError), (503, TransientError)])
async def test_throttling_and_server_errors_are_retryable_and_not_retried_inside(twilio, twilio_sender, status, error):
    twilio.fault(status, retry_after=7 if status == 429 else None)

    with pytest.raises(error) as caught:
        await twilio_sender.send_sms(CUSTOMER, "hello")
    assert caught.value.retryable and caught.value.status == status
    if status == 429:
        assert caught.value.retry_after == 7
    assert len(twilio.requests()) == 1  # no blind retry: Twilio has no idempotency key for messages
    assert twilio.outbox() == []


async def test_wrong_auth_token_is_a_credentials_error(twilio, sms_settings, opt_outs):
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(sms_settings({**twilio.env(), "TWILIO__AUTH_TOKEN": "0" * 32}), opt_outs)
    try:
        with pytest.raises(ForbiddenError) as caught:
            await sender.send_sms(CUSTOMER, "hello")
    finally:
        await sender.aclose()
    assert caught.value.status == 401 and caught.value.code == "20003"
    assert twilio.outbox() == []


async def test_unreachable_twilio_is_transient(twilio, sms_settings, opt_outs):
    from dev.ports import free_port
    from shared.adapters.sms import create_sms_sender
    dead = f"http://127.0.0.1:{free_port()}"
    sender = create_sms_sender(sms_settings({**twilio.env(), "TWILIO__API_BASE_URL": dead}), opt_outs)
    try:
        with pytest.raises(TransientError, match="could not be reached"):
            await sender.send_sms(CUSTOMER, "hello")
    finally:
        await sender.aclose()


async def test_slow_twilio_times_out_as_transient(twilio, opt_outs):
    from shared.adapters.sms import SmsSender
    from shared.adapters.sms_twilio import TwilioSmsGateway
    gateway = TwilioSmsGateway(twilio.account_sid, twilio.auth_token, twilio.from_number,
                               api_base_url=twilio.base_url, timeout=0.3)
    sender = SmsSender(gateway, opt_outs)
    twilio.fault(0, delay=1.0)  # answers normally, but only after a second
    try:
        with pytest.raises(TransientError, match="did not answer within 0.3 s"):
            await sender.send_sms(CUSTOMER, "hello")
    finally:
        await sender.aclose()
