"""The SMS sender the settings choose: ACS by default, Twilio as the alternative, or none; bad settings named."""

from __future__ import annotations

import logging

import pytest

from shared.config import SettingsError

CUSTOMER = "+14155552671"


async def test_acs_is_chosen_by_settings_and_texts_through_acs_only(acs, twilio, acs_settings, opt_outs):
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(acs_settings, opt_outs)
    try:
        receipt = await sender.send_sms(CUSTOMER, "via acs")
    finally:
        await sender.aclose()
    assert receipt.provider == "acs"
    assert len(acs.outbox()) == 1 and twilio.outbox() == []


async def test_twilio_is_chosen_by_settings_and_texts_through_twilio_only(acs, twilio, twilio_settings, opt_outs):
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(twilio_settings, opt_outs)
    try:
        receipt = await sender.send_sms(CUSTOMER, "via twilio")
    finally:
        await sender.aclose()
    assert receipt.provider == "twilio"
    assert len(twilio.outbox()) == 1 and acs.outbox() == []


async def test_provider_none_sends_nothing_and_says_so(acs, twilio, sms_settings):
    from shared.adapters.sms import create_sms_sender
    from shared.errors import PermanentError
    sender = create_sms_sender(sms_settings({"SMS__PROVIDER": "none"}))

    receipt = await sender.send_sms("(415) 555-2671", "nobody gets this")

    assert (receipt.status, receipt.provider, receipt.to, receipt.message_id) == ("skipped", "none", CUSTOMER, "")
    assert acs.requests(path=None) == [] and twilio.requests() == []
    with pytest.raises(PermanentError):
        await sender.send_sms("not a number", "still validated")


async def test_default_opt_out_store_comes_from_the_settings(acs, acs_settings, opt_outs):
    # (opt_outs is only requested so that this test's table connection is closed afterwards.)
    from shared.adapters.optouts import OptOutStore
    from shared.adapters.sms import create_sms_sender
    from shared.errors import OptedOutError
    await OptOutStore(acs_settings).record_opt_out(CUSTOMER, "test")
    sender = create_sms_sender(acs_settings)
    try:
        with pytest.raises(OptedOutError):
            await sender.send_sms(CUSTOMER, "hello")
    finally:
        await sender.aclose()
    assert acs.requests(path=None) == []


async def test_national_numbers_are_read_in_the_business_region(acs, acs_settings, opt_outs):
    from shared.adapters.sms import create_sms_sender
    sender = create_sms_sender(acs_settings, opt_outs, default_region="GB")
    try:
        receipt = await sender.send_sms("020 7946 0958", "Your engineer arrives at 10")
    finally:
        await sender.aclose()
    assert receipt.to == "+442079460958" == acs.outbox()[0]["to"]


@pytest.mark.parametrize(("env", "names"), [
    ({"SMS__PROVIDER": "acs"}, {"ACS__ENDPOINT", "SMS__FROM_NUMBER"}),
    ({"SMS__PROVIDER": "twilio", "SMS__FROM_NUMBER": "+14155550100"}, {"TWILIO__ACCOUNT_SID", "TWILIO__AUTH_TOKEN"}),
    ({"SMS__PROVIDER": "acs", "ACS__ENDPOINT": "https://x.communication.azure.com", "SMS__FROM_NUMBER": "555 0100"},
     {"SMS__FROM_NUMBER"}),
    ({"SMS__PROVIDER": "acs", "ACS__ENDPOINT": "http://x.communication.azure.com", "SMS__FROM_NUMBER": "+18005550100",
      "ACS__ACCESS_KEY": "a2V5"}, {"ACS__ENDPOINT"}),
    ({"SMS__PROVIDER": "twilio", "SMS__FROM_NUMBER": "+14155550100", "TWILIO__ACCOUNT_SID": "AC1",
      "TWILIO__AUTH_TOKEN": "t", "TWILIO__API_BASE_URL": "http://api.example.org"}, {"TWILIO__API_BASE_URL"}),
])
def test_missing_or_unsafe_settings_are_named(sms_settings, env, names):
    from shared.adapters.sms import create_sms_sender
    with pytest.raises(SettingsError) as caught:
        create_sms_sender(sms_settings(env), opt_outs=object())
    assert {name for name, _ in caught.value.problems} == names


def test_acs_without_an_access_key_uses_the_managed_identity(sms_settings):
    from shared.adapters.credentials import get_credential
    from shared.adapters.sms import create_sms_sender
    settings = sms_settings({"SMS__PROVIDER": "acs", "ACS__ENDPOINT": "https://x.communication.azure.com",
                             "SMS__FROM_NUMBER": "+18005550100"})
    sender = create_sms_sender(settings, opt_outs=object())
    assert sender.gateway.auth == "entra-id"
    assert sender.gateway._credential is get_credential(settings.identity)  # the process-wide one, not a new one


async def test_logs_never_carry_a_full_phone_number_or_the_message(acs, twilio, twilio_settings, opt_outs, caplog):
    from shared.adapters.sms import create_sms_sender
    from shared.errors import OptedOutError
    sender = create_sms_sender(twilio_settings, opt_outs)
    twilio.opt_out(CUSTOMER)
    caplog.set_level(logging.DEBUG)
    frontdesk_logger = logging.getLogger("frontdesk")
    frontdesk_logger.addHandler(caplog.handler)  # in case logging was configured not to propagate
    try:
        with pytest.raises(OptedOutError):
            await sender.send_sms(CUSTOMER, "Secret gate code 4242")
        await sender.send_sms("+14155552699", "Secret gate code 4242")
    finally:
        frontdesk_logger.removeHandler(caplog.handler)
        await sender.aclose()
    frontdesk = [r.getMessage() for r in caplog.records if r.name.startswith("frontdesk")]
    assert any("opt-out recorded" in line for line in frontdesk)
    assert any("accepted a text" in line for line in frontdesk)
    text = "\n".join(frontdesk)
    assert "4155552671" not in text and "4155552699" not in text and "4242" not in text
