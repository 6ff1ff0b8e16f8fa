"""Texting through Azure Communication Services: the real azure-communication-sms SDK against the ACS emulator."""

from __future__ import annotations

import pytest

from shared.errors import OptedOutError, PermanentError, ThrottledError, TransientError

CUSTOMER = "+14155552671"
CUSTOMER_NATIONAL = "(415) 555-2671"


async def test_text_lands_in_the_outbox_in_e164_with_its_body_and_tag(acs, acs_sender):
    receipt = await acs_sender.send_sms(CUSTOMER_NATIONAL, "Your plumber comes Thu 2 pm. Reply STOP to opt out.",
                                        tag="booking-42")

    [sent] = acs.outbox()
    assert sent["to"] == CUSTOMER
    assert sent["from"] == acs.from_number
    assert sent["message"] == "Your plumber comes Thu 2 pm. Reply STOP to opt out."
    assert sent["tag"] == "booking-42"
    assert sent["enableDeliveryReport"] is True
    assert receipt.message_id == sent["messageId"] and receipt.message_id.startswith("Outgoing_")
    assert (receipt.to, receipt.provider, receipt.status) == (CUSTOMER, "acs", "accepted")
    assert all(request["authorized"] for request in acs.requests(path=None))


async def test_recipient_on_the_acs_opt_out_list_is_refused_remembered_and_not_asked_again(acs, acs_sender, opt_outs):
    acs.inbound(CUSTOMER, "Stop")  # the customer texted STOP to the business number

    with pytest.raises(OptedOutError):
        await acs_sender.send_sms(CUSTOMER, "Reminder: tomorrow 9 am")
    assert acs.outbox() == []
    assert acs.requests("/sms") == []  # the opt-out check answered; nothing was sent
    assert await opt_outs.is_opted_out(CUSTOMER)

    calls_before = len(acs.requests(path=None))
    with pytest.raises(OptedOutError, match="remembered|opted out"):
        await acs_sender.send_sms(CUSTOMER, "Another reminder")
    assert len(acs.requests(path=None)) == calls_before  # refused from the store: no provider request at all


async def test_start_clears_the_remembered_opt_out(acs, acs_sender, opt_outs):
    acs.inbound(CUSTOMER, "STOP")
    with pytest.raises(OptedOutError):
        await acs_sender.send_sms(CUSTOMER, "first")

    acs.inbound(CUSTOMER, "START")
    assert await opt_outs.apply_inbound(CUSTOMER, "START", provider="acs") == "opt_in"

    await acs_sender.send_sms(CUSTOMER, "welcome back")
    assert [m["message"] for m in acs.outbox()] == ["welcome back"]


async def test_invalid_number_is_permanent_and_makes_no_request(acs, acs_sender):
    with pytest.raises(PermanentError, match="cannot text this number") as caught:
        await acs_sender.send_sms("555-1234", "hello")
    assert not caught.value.retryable
    assert acs.requests(path=None) == []


async def test_empty_or_oversized_body_is_permanent_and_makes_no_request(acs, acs_sender):
    with pytest.raises(PermanentError, match="empty"):
        await acs_sender.send_sms(CUSTOMER, "   ")
    with pytest.raises(PermanentError, match="2048"):
        await acs_sender.send_sms(CUSTOMER, "x" * 2049)
    assert acs.requests(path=None) == []


@pytest.mark.parametrize(("status", "error"), [(500, TransientError), (503, TransientError)])
async def test_server_errors_are_retryable(acs, acs_sender, status, error):
    acs.fault(status, times=None)  # every send fails, including the SDK's own retry

    with pytest.raises(error) as caught:
        await acs_sender.send_sms(CUSTOMER, "hello")
    assert caught.value.retryable and caught.value.status == status
    assert caught.value.request_id  # the MS-CV correlation vector, for Microsoft support
    assert len(acs.requests("/sms")) == 2  # one try and one SDK retry
    assert acs.outbox() == []


async def test_throttling_with_a_long_retry_after_is_handed_back_to_the_caller(acs, acs_sender):
    acs.fault(429, times=None, retry_after=30)

    with pytest.raises(ThrottledError) as caught:
        await acs_sender.send_sms(CUSTOMER, "hello")
    assert caught.value.retryable
    assert caught.value.retry_after == 30
    assert len(acs.requests("/sms")) == 1  # not slept on inside the call


async def test_one_transient_failure_is_retried_by_the_sdk_without_a_duplicate_text(acs, acs_sender):
    acs.fault(503, times=1)

    receipt = await acs_sender.send_sms(CUSTOMER, "hello")

    assert [m["messageId"] for m in acs.outbox()] == [receipt.message_id]
    assert [r["status"] for r in acs.requests("/sms")] == [503, 202]


async def test_a_wrong_access_key_is_a_permanent_credentials_error(acs, sms_settings, opt_outs):
    from dev.emulators.acs_sms import new_access_key
    from shared.adapters.sms import create_sms_sender
    from shared.errors import ForbiddenError
    sender = create_sms_sender(sms_settings({**acs.env(), "ACS__ACCESS_KEY": new_access_key()}), opt_outs)
    try:
        with pytest.raises(ForbiddenError) as caught:
            await sender.send_sms(CUSTOMER, "hello")
    finally:
        await sender.aclose()
    assert caught.value.status == 401 and not caught.value.retryable
    assert acs.outbox() == []
    assert [r["authorized"] for r in acs.requests(path=None)] == [False, False]  # opt-out check, then send


async def test_opt_out_unseen_by_the_check_shows_in_the_delivery_report(acs, acs_settings, opt_outs):
    """With the opt-out check off (or unavailable), ACS accepts the text and its delivery report says blocked."""
    from shared.adapters.sms import SmsSender
    from shared.adapters.sms_acs import AcsSmsGateway, blocked_recipient
    gateway = AcsSmsGateway(acs.endpoint, acs.from_number, access_key=acs.access_key, check_opt_outs=False)
    sender = SmsSender(gateway, opt_outs)
    acs.opt_out(CUSTOMER)
    try:
        receipt = await sender.send_sms(CUSTOMER, "hello", tag="booking-7")
    finally:
        await sender.aclose()

    assert receipt.status == "accepted"  # that is what the service answers
    assert acs.outbox() == []  # ... but the phone never gets it
    [report] = acs.events("SMSDeliveryReportReceived")
    assert report["data"]["messageId"] == receipt.message_id and report["data"]["tag"] == "booking-7"
    assert blocked_recipient(report) == CUSTOMER
    await opt_outs.record_opt_out(blocked_recipient(report), "acs:delivery-report")
    assert await opt_outs.is_opted_out(CUSTOMER)


async def test_opt_out_check_failure_does_not_stop_the_text(acs, acs_sender):
    acs.fault(500, path="/sms/optouts:check")

    await acs_sender.send_sms(CUSTOMER, "still sent")

    assert [m["message"] for m in acs.outbox()] == ["still sent"]


async def test_per_recipient_failures_inside_a_202_are_classified_and_keep_the_request_id(acs, acs_sender):
    acs.fault(503, per_recipient=True, message="ServiceUnavailable")
    with pytest.raises(TransientError) as transient:
        await acs_sender.send_sms(CUSTOMER, "hello")
    assert transient.value.request_id and transient.value.status == 503

    acs.fault(400, per_recipient=True, message="Invalid To phone number format.")
    with pytest.raises(PermanentError, match="Invalid To phone number format") as permanent:
        await acs_sender.send_sms(CUSTOMER, "hello")
    assert not isinstance(permanent.value, OptedOutError)

    acs.fault(400, per_recipient=True, message="Recipient has opted out.")
    with pytest.raises(OptedOutError):
        await acs_sender.send_sms(CUSTOMER, "hello")
    assert acs.outbox() == []
