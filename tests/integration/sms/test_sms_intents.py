"""At-most-once texts: the production senders (ACS and Twilio) with their intent store on Azurite, against the
emulators, when the gateway's answer is lost after it accepted the text (the worker "died" in between).

A retry with the same key must not text the customer a second time, and must still report the message the
gateway accepted; a refusal (nothing sent) must not stop the next attempt from sending.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.errors import PermanentError, ThrottledError, TransientError

CUSTOMER = "+14155552671"
KEY = "booking:bk_1:created:bk_1:sms"


@pytest.fixture
async def intents(base_env):
    from shared.adapters.sms_intents import SmsIntentStore
    from shared.config import load_settings
    return SmsIntentStore(load_settings())


def _posts(twilio) -> list[dict]:
    return [r for r in twilio.requests() if r["method"] == "POST"]


# ---------------------------------------------------------------- ACS: repeatability id from the key

async def test_acs_lost_answer_then_retry_sends_one_text_and_reports_the_first_message(acs, acs_sender, intents):
    acs.fault(500, after_accept=True, times=2)  # sent, then the answers (and the SDK retry's) are lost

    with pytest.raises(TransientError):
        await acs_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)
    [sent] = acs.outbox()
    assert (await intents.get(KEY)).status == "sending"  # the outcome was never recorded

    receipt = await acs_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)

    assert len(acs.outbox()) == 1  # ACS recognised the repeated request and sent nothing
    assert receipt.message_id == sent["messageId"]
    stored = await intents.get(KEY)
    assert (stored.status, stored.message_id) == ("accepted", sent["messageId"])
    # First attempt, the SDK's own retry, then ours: it was ACS, not a local guess, that said "already sent".
    assert len(acs.requests()) == 3

    again = await acs_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)
    assert again.message_id == sent["messageId"] and len(acs.requests()) == 3  # recorded: no request at all


async def test_acs_retry_reuses_the_same_repeatability_id_and_first_sent(acs, acs_sender, intents):
    acs.fault(503, after_accept=True, times=2)
    with pytest.raises(TransientError):
        await acs_sender.send_sms(CUSTOMER, "Moved to Fri 9 am", key=KEY)
    await acs_sender.send_sms(CUSTOMER, "Moved to Fri 9 am", key=KEY)

    with acs.state.lock:
        [(repeat_id, seen)] = list(acs.state.repeatability.items())
    stored = await intents.get(KEY)
    assert repeat_id == stored.request_id  # derived from the key, so every process computes the same id
    assert seen["firstSent"] == stored.first_sent


async def test_acs_refusal_forgets_the_intent_so_the_next_attempt_sends(acs, acs_sender, intents):
    acs.fault(429, retry_after=30)  # refused before sending: nothing went out

    with pytest.raises(ThrottledError):
        await acs_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    assert acs.outbox() == [] and await intents.get(KEY) is None

    receipt = await acs_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    assert [m["messageId"] for m in acs.outbox()] == [receipt.message_id]


async def test_acs_repeat_after_its_tracking_window_is_not_sent_blindly(acs, acs_sender, intents):
    acs.fault(500, after_accept=True, times=2)
    with pytest.raises(TransientError):
        await acs_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    with acs.state.lock:
        acs.state.repeatability_window = timedelta(0)  # as if the retry came more than 5 minutes later

    with pytest.raises(PermanentError) as refused:
        await acs_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)

    assert refused.value.status == 412 and refused.value.code == "RepeatabilityExpired"
    assert len(acs.outbox()) == 1  # one text, even though nobody can tell the first one was sent
    assert (await intents.get(KEY)).status == "sending"  # kept: no later attempt may send blindly either


async def test_acs_texts_with_different_keys_both_go_out(acs, acs_sender):
    await acs_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    await acs_sender.send_sms(CUSTOMER, "Moved", key=KEY.replace("created", "rescheduled"))
    assert [m["message"] for m in acs.outbox()] == ["Confirmed", "Moved"]


# ---------------------------------------------------------------- Twilio: look the message up first

async def test_twilio_lost_answer_then_retry_finds_the_message_instead_of_sending(twilio, twilio_sender, intents):
    twilio.fault(500, after_accept=True)

    with pytest.raises(TransientError):
        await twilio_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)
    [sent] = twilio.outbox()

    receipt = await twilio_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)

    assert len(twilio.outbox()) == 1 and len(_posts(twilio)) == 1  # found, not sent again
    assert receipt.message_id == sent["sid"]
    [lookup] = [r for r in twilio.requests() if r["method"] == "GET"]
    assert lookup["query"]["To"] == CUSTOMER and lookup["query"]["From"] == twilio.from_number
    assert "DateSent>" in lookup["query"]
    assert (await intents.get(KEY)).message_id == sent["sid"]


async def test_twilio_finds_a_message_still_queued(twilio, twilio_sender):
    twilio.hold_in_queue()  # accepted, not yet sent: it has no sent date for DateSent to match
    twilio.fault(500, after_accept=True)
    with pytest.raises(TransientError):
        await twilio_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)

    receipt = await twilio_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)

    [sent] = twilio.outbox()
    assert receipt.message_id == sent["sid"] and len(_posts(twilio)) == 1


async def test_twilio_sends_when_the_earlier_attempt_never_reached_it(twilio, twilio_sender, intents):
    await twilio_sender.send_sms(CUSTOMER, "Confirmed: Thu 2 pm", key=KEY)  # another text to the same number
    moved_key = KEY.replace("created", "rescheduled")
    # The worker recorded the intent for the second text and died before calling Twilio.
    await intents.begin(moved_key, to=CUSTOMER, body="Moved to Fri 9 am", provider="twilio")

    receipt = await twilio_sender.send_sms(CUSTOMER, "Moved to Fri 9 am", key=moved_key)

    assert [m["body"] for m in twilio.outbox()] == ["Confirmed: Thu 2 pm", "Moved to Fri 9 am"]
    assert receipt.message_id == twilio.outbox()[1]["sid"]  # a text with another body was not taken for it


async def test_twilio_refusal_forgets_the_intent(twilio, twilio_sender, intents):
    twilio.fault(429)
    with pytest.raises(ThrottledError):
        await twilio_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    assert await intents.get(KEY) is None

    await twilio_sender.send_sms(CUSTOMER, "Confirmed", key=KEY)
    assert len(twilio.outbox()) == 1
    assert [r["method"] for r in twilio.requests()] == ["POST", "POST"]  # fresh: no lookup needed
