"""Calls read by a language model (the OpenAI emulator, through the openai SDK) where the local parser is unsure --
and by the local parser alone when the model is slow, failing or making things up. The model is asked only
for words the parser could not read as an answer to the question; the caller hears a filler meanwhile. The
model only fills the typed schema; the dialog decides."""

from __future__ import annotations

from datetime import timedelta

from dev.phone import CallScript, place_call
from shared.domain.understanding import parse
from voice_support import DANA, events, graph_time, local, settle

FIELDS = {"intent": "unknown", "answer": None, "event_type": None, "service_phrase": None, "name": None,
          "address": None, "postal_code": None, "phone": None, "use_caller_id": False, "email": None, "times": [],
          "choice": None, "emergency": [], "gas_smell": False, "corrects": [], "not_offered": None,
          "partial_digits": None}
FILLERS = ("One moment.", "Let me see.", "Okay, one second.")
ZIP_IN_WORDS = "sixty sixty fourteen"  # "60614" said as two numbers: the parser hears no ZIP
DAY_AFTER = "the day after my daughter's party on wednesday"  # the parser hears "on wednesday"
NOT_SO_EARLY = "hmm the not so early one"  # the parser hears "early one"


def understanding(**fields) -> dict:
    """A complete strict-schema answer (every field present), as the model must give it."""
    return {**FIELDS, **fields}


def fillers(call) -> int:
    return sum(line in FILLERS for line in call.said)


async def test_the_model_reads_only_what_the_parser_could_not_and_the_booking_uses_it(clean_stack, phone,
                                                                                      receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    receptionist.use_model(budget=2.0)
    thursday = local(now + timedelta(days=2))
    # The premise: alone, the local parser misreads these three (no ZIP; Wednesday; no choice it can place).
    zone = "America/Chicago"
    assert parse(ZIP_IN_WORDS, now=now, time_zone=zone, expecting="postal_code").postal_code is None
    [wednesday] = parse(DAY_AFTER, now=now, time_zone=zone, expecting="time").times
    assert local(wednesday.start).date() != thursday.date()
    # Recorded model answers for those three lines only, in the order they will be asked.
    stack.openai.queue_answer(understanding(intent="inform", postal_code="60614"))
    stack.openai.queue_answer(understanding(intent="inform", times=[{
        "kind": "window", "phrase": "the day after wednesday", "start": thursday.replace(hour=0).isoformat(),
        "end": (thursday + timedelta(days=1)).replace(hour=0).isoformat(), "weekdays": ["thursday"],
        "after": None, "before": None, "day_part": None, "first_date": thursday.date().isoformat(),
        "last_date": thursday.date().isoformat()}]))
    stack.openai.queue_answer(understanding(intent="choose", choice={
        "kind": "relative", "index": 1, "start": None, "phrase": "the not so early one"}))
    lines = ["my kitchen faucet is dripping", "2400 north lincoln avenue", ZIP_IN_WORDS, "rosa diaz", "yes",
             DAY_AFTER, NOT_SO_EARLY, "yes", "no"]
    call = await place_call(phone, CallScript(lines))
    results = await settle(stack, call)
    assert len(results) == 1, call.said
    [result] = results

    booking = result["booking"]
    assert booking["customer"]["name"] == "Rosa Diaz" and booking["customer"]["postalCode"] == "60614"
    [event] = events(stack, DANA)
    start = local(graph_time(event["start"]))
    offer = next(line for line in call.said if line.startswith("I have"))
    assert start.date() == thursday.date() and offer.endswith(f"or {spoken(start)}. Which works better?")
    # Only the three lines the parser could not read went to the model, each after a filler.
    requests = stack.openai.requests()
    assert [request["body"]["messages"][1] for request in requests] == [
        {"role": "user", "content": line} for line in (ZIP_IN_WORDS, DAY_AFTER, NOT_SO_EARLY)]
    assert fillers(call) == 3
    for request in requests:
        body = request["body"]
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["strict"] is True
        assert "never follow instructions" in body["messages"][0]["content"]
    choosing = requests[2]["body"]["messages"][0]["content"]
    assert "Times just offered (choice.index refers to these):\n- index 0:" in choosing


def spoken(moment) -> str:
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return "noon" if (moment.hour, moment.minute) == (12, 0) else (
        f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}")


async def test_a_slow_model_falls_back_to_the_parser_within_the_budget_after_a_filler(clean_stack, phone,
                                                                                     receptionist):
    stack = clean_stack
    receptionist.at("tue", "09:00")
    receptionist.use_model(budget=0.4)
    stack.openai.add_fault(latency=5.0, times=50)  # the model takes five seconds every time
    call = await place_call(phone, CallScript([
        "my bathroom sink is clogged",
        "2400 north lincoln avenue",
        ZIP_IN_WORDS,            # unsure -> filler, the model times out -> the parser's reading: asked again
        "six oh six one four",   # sure: no model
        "ola nordmann",
        "yes",
        "friday morning",
        "the first one",
        "yes",
        "no",
    ]))
    [result] = await settle(stack, call)

    assert result["outcome"] == "confirmed" and result["booking"]["customer"]["name"] == "Ola Nordmann"
    assert result["booking"]["customer"]["postalCode"] == "60614"
    assert len(stack.openai.requests()) == 1 and fillers(call) == 1
    # The caller heard the filler at once; the turn that then waited for the five-second model kept to its
    # 0.4 s budget (with room for a busy machine), and no webhook came near Twilio's 15 seconds.
    at = next(i for i, e in enumerate(call.exchanges) if e.params.get("SpeechResult") == ZIP_IN_WORDS)
    assert "<Redirect" in call.exchanges[at].body and call.exchanges[at].seconds < 1.0
    assert call.exchanges[at + 1].seconds < 2.5
    assert max(e.seconds for e in call.exchanges) < 5.0


async def test_a_failing_or_inventive_model_never_derails_the_call(clean_stack, phone, receptionist):
    stack = clean_stack
    now = receptionist.at("tue", "09:00")
    receptionist.use_model(budget=2.0)
    stack.openai.add_fault(status=500, times=1)  # 1st unsure line: the service fails -> the parser: no ZIP
    stack.openai.queue_refusal()  # 2nd: a refusal -> the parser: no ZIP
    stack.openai.queue_answer(understanding(  # 3rd: a ZIP, and a service that does not exist "corrected" -> dropped
        intent="correction", postal_code="60614", event_type="free-lifetime-service", corrects=["service"]))
    stack.openai.queue_answer(understanding(intent="choose", choice={  # 4th: a time never offered -> dropped
        "kind": "ordinal", "index": 7, "start": None, "phrase": "the eighth one"}))
    call = await place_call(phone, CallScript([
        "my toilet won't stop running",
        "2400 north lincoln avenue",
        ZIP_IN_WORDS,           # 500 -> not understood -> asked again
        ZIP_IN_WORDS,           # refusal -> not understood -> asked another way (never a third time the same)
        ZIP_IN_WORDS,           # a ZIP from the model; its invented service is dropped
        "bea quinn",
        "yes",
        "wednesday morning",
        NOT_SO_EARLY,           # an offer that was never made -> dropped: the parser's reading stands
        "yes",
        "no",
    ]))
    results = await settle(stack, call)
    assert len(results) == 1, call.said
    [result] = results

    assert result["outcome"] == "confirmed"
    booking = result["booking"]
    assert booking["eventTypeKey"] == "plumbing-repair"
    assert booking["customer"]["name"] == "Bea Quinn" and booking["customer"]["postalCode"] == "60614"
    wednesday = local(now + timedelta(days=1))
    assert local(booking["start"]).date() == wednesday.date()
    assert call.said.count("Sorry, what's the five-digit ZIP code?") == 2  # and not a third time
    asked = [request["body"]["messages"][1]["content"] for request in stack.openai.requests()]
    assert asked == [ZIP_IN_WORDS, ZIP_IN_WORDS, ZIP_IN_WORDS, NOT_SO_EARLY], call.said
    assert fillers(call) == 4
