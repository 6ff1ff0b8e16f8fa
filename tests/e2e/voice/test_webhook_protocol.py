"""Twilio's side of the line: signatures, retried webhooks, and two callers racing for the same time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from dev.phone import CallScript, Phone, place_call
from voice_support import SAM, events, graph_time, record_of, services, settle, texts_to


async def test_forged_unsigned_or_misaddressed_requests_get_403_and_change_nothing(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await phone.call()
    await call.say("my sink is leaking")
    before = await record_of(call)
    url = call.exchanges[-1].url
    turn = dict(call.exchanges[-1].params, SpeechResult="yes")

    forged = await phone.post(url, turn, signature="bm90LWEtc2lnbmF0dXJl")
    unsigned = await phone.post(url, turn, signature=None)
    elsewhere = await phone.post(url, turn, signature=phone.sign(url.replace("127.0.0.1", "evil.example.com"), turn))
    tampered_params = dict(turn)
    signature = phone.sign(url, tampered_params)
    tampered_params["SpeechResult"] = "cancel everything"
    tampered = await phone.post(url, tampered_params, signature=signature)
    other_token = Phone(stack.host.base_url, "not-the-auth-token", public_base_url=stack.env["PUBLIC_BASE_URL"])
    try:
        wrong_key = await other_token.post(phone.url("voice/incoming"), {"CallSid": "CAforged", "From": "+13125550100"})
    finally:
        await other_token.aclose()

    huge = dict(turn, SpeechResult="blah " * 8000)
    oversized = await phone.post(url, huge)
    assert oversized.status_code == 413

    for response in (forged, unsigned, elsewhere, tampered, wrong_key):
        assert response.status_code == 403, response.text
        assert "<Response>" not in response.text and response.json()["error"]["code"] == "forbidden"
    after = await record_of(call)
    assert after.answered == before.answered and after.dialog == before.dialog
    assert await services().calls.get("CAforged") is None
    await call.hang_up()


async def test_a_retried_webhook_gets_the_same_twiml_and_nothing_happens_twice(clean_stack, phone, receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my toilet is clogged",
        "2400 north lincoln avenue 60614",
        "ren adler",
        "yes",
        "thursday morning",
        "the first one",
        "yes",
    ], hang_up=False))
    yes = next(e for e in reversed(call.exchanges) if e.params.get("SpeechResult") == "yes")
    greeting = call.exchanges[0]

    assert await call.retry(yes) == yes.body  # Twilio timed out on "yes" and sent it again
    assert await call.retry(greeting) == greeting.body  # ... or on the incoming call itself
    assert await call.retry() == call.exchanges[-1].body
    await call.say("no thanks")
    results = await settle(stack, call)

    assert [r["outcome"] for r in results] == ["confirmed"]
    assert len(events(stack, "dana.reyes@lakeshore-ph.example.com")) == 1
    assert len(texts_to(stack)) == 1


async def test_two_callers_racing_for_the_same_time_never_both_get_it(clean_stack, phone, receptionist):
    """Sam is the only estimator: both callers hear the same earliest time, both pick it at once. One holds it;
    the other hears it was just taken, is offered other times and books one of those."""
    stack = clean_stack
    lines = ["hi, I'd like an estimate for a bathroom remodel", None, "yes", "as soon as possible"]
    first = await phone.call("+13125550111")
    second = await phone.call("+13125550122")
    for name, call in (("ada first", first), ("bo second", second)):
        for line in lines:
            await call.say(name if line is None else line)
    assert first.said[-1] == second.said[-1]  # the same two times on offer

    await asyncio.gather(first.say("the first one"), second.say("the first one"))
    taken = [call for call in (first, second) if "I'm sorry, that time was just taken." in call.said]
    assert len(taken) == 1
    [loser] = taken
    winner = second if loser is first else first
    assert winner.said[-1].endswith("Shall I book it?")
    await loser.say("the first one")
    await asyncio.gather(winner.say("yes"), loser.say("yes"))
    for call in (winner, loser):
        await call.say("no")
    outcomes = [r["outcome"] for call in (first, second) for r in await settle(stack, call)]

    assert sorted(outcomes) == ["confirmed", "confirmed", "conflict"]
    mine = events(stack, SAM)
    assert len(mine) == 2
    (a_start, a_end), (b_start, b_end) = sorted((graph_time(e["start"]), graph_time(e["end"])) for e in mine)
    assert a_end + timedelta(minutes=10) <= b_start  # no overlap, the 10-minute buffer kept
    assert {t["to"] for t in texts_to(stack, "+13125550111") + texts_to(stack, "+13125550122")} == {
        "+13125550111", "+13125550122"}


async def test_a_status_callback_for_an_unknown_call_is_accepted_and_ignored(clean_stack, phone):
    response = await phone.post(phone.url("voice/status"), {"CallSid": "CAunknown", "CallStatus": "completed",
                                                            "From": "+13125550188"})
    assert response.status_code == 204
    assert await services().calls.get("CAunknown") is None


async def test_control_characters_in_a_speech_result_are_heard_as_spaces_and_the_call_books(clean_stack, phone,
                                                                                            receptionist):
    """Speech results are taken whatever they hold: NUL, CR/LF or bidi controls in a signed webhook never reach a
    booking, an e-mail or Dynamics, and the caller is served as if they were spaces."""
    receptionist.at("tue", "09:00")
    call = await place_call(phone, CallScript([
        "my kitchen sink\x00 is leaking", "2400 north lincoln avenue\r\n60614", "dana\u202e white\x1b[31m",
        "yes", "thursday morning", "the first one", "yes", "no"]))
    [result] = await settle(clean_stack, call)
    assert result["outcome"] == "confirmed"
    booking = result["booking"]
    assert booking["customer"]["name"].startswith("Dana") and "\x00" not in str(booking)
    assert all(ord(ch) >= 32 and ch not in "\u202e\x1b" for ch in booking["customer"]["address"])
