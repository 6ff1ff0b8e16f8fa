"""The receptionist's conversation as a state machine: ``start`` a call, then ``advance`` it event by event.

The flow of a booking: greet -> understand the need (an event type) -> the service address and ZIP
(on-site work; the ZIP decides the territory and whether the business serves it) -> name -> callback
number (the caller id, confirmed) -> e-mail when the event type needs one -> when -> offer two real
times -> hold the chosen one -> read it back -> on yes confirm it -> anything else? -> goodbye.

Around it: anything the caller says fills whatever it carries (a first sentence may give the need,
the address and the time at once); corrections of earlier answers are taken at any point, and a
change that touches an open hold lets it go and holds again; silence or nonsense is reprompted twice,
then a message is taken; emergencies get the earliest emergency time or the on-call number, and a gas
smell gets safety instructions first; an address outside the service area, a request for a person
out of hours (or with no transfer number), and anything the receptionist cannot finish end with a
message to the owner. Every call ends with an outcome: booked, message taken, transferred, abandoned.

Pure: no I/O, no clock (``DialogContext.now``), no randomness. The language model (if any) only fills
the :class:`~shared.domain.understanding.Understanding`; this module alone decides what happens.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from shared.domain.business import EventType
from shared.domain.dialog.model import (Action, BookedJob, BookingsFound, CallState, ChangeUpdate, CheckHold,
                                        ConfirmHold, DialEnded, JoinWaitlist, WaitlistJoined,
                                        DialogContext, Event, FindSlots, Hangup, Heard, Hold, HoldUpdate, HungUp,
                                        Listen, Offer, PlaceHold, Poll, Redirect, ReleaseHold, Silence, SlotsFound,
                                        Stage, Step, TakeMessage, Transfer)
from shared.domain.dialog.offers import beyond_offers, chosen_offer, more_wanted, restates_offers
from shared.domain.dialog.speech import (last_digits, phone_ending, sentence_list, service_name, spoken_choices,
                                         spoken_time, titled, with_article)
from shared.domain.dialog.speech import DAYS as DAY_NAMES
from shared.domain.timezones import wall_to_utc, zone
from shared.domain.understanding import (TimePreference, Understanding, accepts, choose_service, names_work, parse,
                                         service_catalog)
from shared.domain.understanding.schema import WEEKDAY_NAMES as WEEKDAYS
from shared.domain.understanding.acts import asks_about_cost, has_repair_marker
from shared.domain.understanding.numbers import numeric_words
from shared.domain.understanding.services import stem
from shared.domain.understanding.text import clean_words

MAX_REPROMPTS = 2  # silences or nonsense in a row before the receptionist stops asking and changes strategy
MAX_SAME_PROMPT = 2  # a question is said at most this often in the same words; then the strategy changes
MAX_POLLS = 12  # redirects waiting for one saga step (each waits a little on the server) before giving up
MAX_TURNS = 40  # caller turns (speech or silence): a call that gets nowhere ends with a message by then
HEARD_KEPT = 6
GAS_SAFETY = ("If you smell gas, please leave the building now. Don't switch lights or anything electrical on "
              "or off, and don't use a lighter. Once you're outside, call your gas company or 911.")
WATER_TIP = "If you can do it safely, turn off the main water valve."
DETAIL_FIELDS = ("name", "address", "postal_code", "phone", "email")
WATER_SIGNALS = {"flooding", "burst_pipe", "sewage_backup"}
HEAT_SIGNALS = {"no_heat", "no_cooling"}
_BYE = re.compile(r"\b(?:good ?)?bye\b", re.IGNORECASE)  # "no thanks, bye": a no that ends the call
_AGAIN = re.compile(r"\bagain\b|\b(?:same|another) (?:one|thing|job|visit|appointment)\b", re.IGNORECASE)
_EARLIER = re.compile(r"\b(?:earlier|sooner)\b.*\b(?:opens?|comes?|free[sd]?|available|cancel\w*)\b"
                      r"|\bwait ?list\b|\bwaiting list\b", re.IGNORECASE)
_MESSAGE = re.compile(r"\b(?:leave|take) a message\b|^\W*(?:a )?message\W*$", re.IGNORECASE)
_ARE_YOU_HUMAN = re.compile(r"\b(?:is this|am i (?:talking|speaking) (?:to|with)|are you|is that) (?:a |an )?"
                            r"(?:real (?:person|human)|robot|machine|computer|recording|bot|human|person|ai|real)\b",
                            re.IGNORECASE)
_DONT_KNOW = re.compile(r"\b(?:don'?t|do not|dont) (?:know|remember)\b|\bnot sure\b|\bno idea\b|"
                        r"\bcan'?t remember\b|\bcan not remember\b|\bforgot\b", re.IGNORECASE)
# A job somewhere else, said at "anything else?": the address (and ZIP) must be asked again.
_ELSEWHERE = re.compile(r"\b(?:another|other|second|rental|different) (?:place|property|house|home|address|location|"
                        r"unit|building|apartment)\b|\bmy (?:mother|mom|dad|father|parents|sister|brother|daughter|son|"
                        r"grandma|grandmother|grandpa|aunt|uncle|friend|tenant|neighbor|neighbour)(?:'?s)?\b"
                        r"|\b(?:neighbor|neighbour)s?\b|\bthere too\b|\bat my other\b", re.IGNORECASE)
# Words that ask for a message, not a visit, whatever else they name.
_JUST_MESSAGE = re.compile(r"\b(?:(?:take|leave) a message for|just (?:want to |wanna |need to )?(?:leave|take) a "
                           r"message|do(?:n'?t| not) need (?:a visit|anyone|someone|somebody|him|her|them) to come|"
                           r"(?:does|do)(?:n'?t| not) need to come|no need to come)", re.IGNORECASE)
_RETURNING = re.compile(r"\b(?:returning (?:a|your|the|his|her) call|call(?:ing)? (?:you )?back about|"
                        r"(?:someone|somebody) (?:from your office |there )?(?:called|left) me|nobody called me back|"
                        r"no one called me back)", re.IGNORECASE)
_NOTE_FOR_VISIT = re.compile(r"\b(?:leave a note|gate code|side door|back door|text me when|call me when "
                             r"(?:he|she|they)(?:'?s| is| are)? on (?:his|her|their|the) way)", re.IGNORECASE)
_WRONG_NUMBER = re.compile(r"\bwrong number\b|\bdialed the wrong\b|\bmeant to call\b", re.IGNORECASE)
# A question about cost, asked once the job is known: answered, not taken as a request for an estimate.
PRICE_ANSWER = ("I'm not able to quote prices over the phone, but the technician can go over the cost with you "
                "before any work begins.")
# Besides the parser's self-repair markers ("actually", "scratch that", "on second thought"): words that take
# back the work named before ("forget the cleaning", "it's not a tune-up", "I said tune-up but really...").
_TAKE_BACK = re.compile(r"\b(?:not an?|isn'?t an?|forget|really|instead|rather)\b", re.IGNORECASE)
_NOT_OFFERED = "asked for work we don't offer"
_SHORT_THINGS = frozenset({"ac", "hvac", "gfci", "gfi"})
DAYTIME = (7, 20)  # local hours offered to callers who are not in an emergency, when there is a choice


class _Turn:
    """The step being built: lines said and actions asked for so far."""

    def __init__(self, state: CallState, ctx: DialogContext):
        self.state = state
        self.ctx = ctx
        self.say: list[str] = []
        self.actions: list[Action] = []

    def line(self, *texts: str) -> "_Turn":
        self.say.extend(text for text in texts if text)
        return self

    def act(self, action: Action) -> "_Turn":
        self.actions.append(action)
        return self

    def ask(self, stage: Stage, prompt: str, *, timeout: int = 5, remember: str | None = None,
            keep_prompt: bool = False) -> Step:
        """Say ``prompt`` and listen; ``remember`` is the plain question kept for repeats (default: the prompt).

        The guarantee against loops lives here: a question (the plain one, and the exact words) already said
        :data:`MAX_SAME_PROMPT` times in this call is never said again; the receptionist changes strategy
        instead (another wording, a choice, accepting what it has, or a message) -- see :func:`_change_strategy`.
        ``keep_prompt`` leaves the remembered question alone (an aside such as "Sure, take your time.").
        """
        question = remember or prompt
        keys = {question, prompt}
        if any(self.state.asked.get(key, 0) >= MAX_SAME_PROMPT for key in keys):
            return _change_strategy(self, stage)
        for key in keys:
            self.state.asked[key] = self.state.asked.get(key, 0) + 1
        self.state.stage = stage
        if not keep_prompt:
            self.state.prompt = question
        self.say.append(prompt)
        return self._step(Listen(self.state.expecting, timeout))

    def can_ask(self, prompt: str) -> bool:
        return self.state.asked.get(prompt, 0) < MAX_SAME_PROMPT

    def redirect(self, pause: int = 0) -> Step:
        return self._step(Redirect(pause))

    def hangup(self) -> Step:
        self.state.stage = "ended"
        self.state.ended = True
        return self._step(Hangup())

    def transfer(self, number: str) -> Step:
        self.state.stage = "transferring"
        self.state.outcome = "transferred"
        return self._step(Transfer(number))

    def waiting(self) -> Step:
        """A step that only carries actions whose answers come back as events in this same turn."""
        return self._step(Redirect(0))

    def _step(self, then) -> Step:
        return Step(self.state, tuple(self.say), tuple(self.actions), then)


# ---------------------------------------------------------------- entry points

def start(call_sid: str, caller: str | None, ctx: DialogContext) -> Step:
    """A new call: greet with the business name and ask how to help."""
    state = CallState(call_sid=call_sid, caller=caller, started_at=ctx.now)
    turn = _Turn(state, ctx).line(f"Thanks for calling {ctx.config.business.name}.")
    if not ctx.office_open:
        turn.line("Our office is closed right now, but I can book a visit or take a message.")
    return turn.ask("need", "How can I help you today?")


def advance(state: CallState, event: Event, ctx: DialogContext) -> Step:
    """The next step of the call after ``event``."""
    state = state.model_copy(deep=True)
    turn = _Turn(state, ctx)
    if state.ended:
        return turn.hangup() if not isinstance(event, HungUp) else turn._step(Hangup())
    if isinstance(event, HungUp):
        return _hung_up(turn)
    waiting = ("holding", "confirming", "change_moving")  # redirects while a saga works don't count as turns
    if isinstance(event, (Heard, Silence)) and state.stage not in waiting:
        state.turns += 1
        if state.turns > MAX_TURNS:
            return _give_up(turn, ctx, "the call went on without reaching an outcome")
    if isinstance(event, Silence):
        return _silence(turn, ctx)
    if isinstance(event, Heard):
        return _heard(turn, event, ctx)
    if isinstance(event, Poll):
        return _poll(turn, ctx)
    if isinstance(event, SlotsFound):
        if state.mode == "change" and state.change is not None:
            return _changes().slots_found(turn, event, ctx)
        return _slots_found(turn, event, ctx)
    if isinstance(event, HoldUpdate):
        return _hold_update(turn, event, ctx)
    if isinstance(event, DialEnded):
        return _dial_ended(turn, event, ctx)
    if isinstance(event, BookingsFound):
        return _changes().found(turn, event, ctx)
    if isinstance(event, ChangeUpdate):
        return _changes().updated(turn, event, ctx)
    if isinstance(event, WaitlistJoined):
        return _waitlist_joined(turn, event, ctx)
    raise TypeError(f"unknown dialog event {event!r}")


# ---------------------------------------------------------------- what the caller said

def _heard(turn: _Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u = turn.state, _plausible(event, ctx)
    event = Heard(event.text, u)
    if event.text.strip():
        state.heard = (state.heard + [event.text.strip()[:300]])[-HEARD_KEPT:]
    if state.stage in ("holding", "confirming", "change_moving"):
        return _poll(turn, ctx)  # speech while we wait for the saga changes nothing
    if u.gas_smell and not state.gas_warned:
        state.gas_warned = True
        _release(turn)
        state.offers = []
        if state.mode == "change":  # a gas smell while looking up a booking: the emergency comes first
            state.mode, state.change = "booking", None
        _mark_emergency(state, u, ctx)
        turn.line(GAS_SAFETY)
        if ctx.on_call_number:
            return turn.line("I'm connecting you to our on-call technician now.").transfer(ctx.on_call_number)
        turn.line("Once you're safe, I'll get a technician out to you as fast as I can.")
        _absorb(state, u, ctx)
        return _continue(turn, ctx)
    if u.is_emergency and not state.urgent and state.mode == "booking":
        if state.stage == "anything_else" and state.jobs:
            _next_booking(state)  # a new job: "a second visit?" is asked again of it, like of any other
        _release(turn)
        state.offers = []
        _mark_emergency(state, u, ctx)
        turn.line("I'm sorry, that sounds stressful. Let's get someone out to you as fast as we can.")
        if set(u.emergency) & WATER_SIGNALS:
            turn.line(WATER_TIP)
        _absorb(state, u, ctx)
        return _continue(turn, ctx)

    if _ARE_YOU_HUMAN.search(event.text):  # "is this a real person?" is a question, not a request for one
        turn.line(f"I'm the virtual receptionist for {ctx.config.business.name}. I can book a visit, or take a "
                  "message for the office.")
        u = u.model_copy(update={"intent": "inform" if u.intent == "speak_to_person" else u.intent})
        event = Heard(event.text, u)
        if not (u.event_type or u.address or u.name or u.phone or u.times or u.service_phrase):
            return turn.ask(state.stage, state.prompt or "How can I help you today?", keep_prompt=True)
    if state.stage == "need" and state.details.event_type is None and not u.event_type \
            and _WRONG_NUMBER.search(event.text):
        return _goodbye(turn, ctx)
    if u.intent == "speak_to_person":
        return _to_a_person(turn, ctx, "asked to speak with someone")
    if u.intent in ("cancel", "reschedule", "status") and state.stage in ("need", "anything_else") \
            and state.mode != "message":
        return _changes().begin(turn, u.intent, ctx, times=u.times)
    if u.intent == "repeat":
        return turn.ask(state.stage, state.prompt or "How can I help you today?")
    if u.intent == "wait":
        return turn.ask(state.stage, "Sure, take your time.", timeout=10, keep_prompt=True)
    if state.stage == "anything_else" and _changes().cancelled_by_mistake(state, event.text):
        turn.line("I'm sorry about that. I can't undo a cancellation myself, so I'll have the office call you right "
                  "back to put it back.")
        return _to_message(turn, ctx, "cancelled an appointment by mistake on the phone and wants it back",
                           auto_body=True)
    if state.stage != "message" and (u.intent == "goodbye" or _bye(event.text, u, state)):
        return _goodbye(turn, ctx)
    if state.stage in ("need", "anything_else") and _MESSAGE.search(event.text) and not u.event_type:
        return _to_message(turn, ctx, "asked to leave a message", auto_body=False)
    if state.mode == "booking" and (state.hold is None or state.hold.status == "confirmed") \
            and (reason := _only_a_message(event.text)) is not None:
        return _to_message(turn, ctx, reason, auto_body=True)  # their words go with the message
    if state.mode == "change":
        return _changes().heard(turn, event, ctx)
    if state.stage == "anything_else" and state.mode == "booking" and _EARLIER.search(event.text) \
            and state.booked and state.booked[-1] not in state.waitlisted and state.jobs:
        return _join_waitlist(turn)
    elsewhere = state.stage == "anything_else" and bool(state.jobs) and bool(_ELSEWHERE.search(event.text))
    if state.stage == "anything_else" and state.mode == "booking" and (_another_job(u, ctx) or elsewhere):
        last = state.jobs[-1].event_type if state.jobs else None
        _next_booking(state)
        if elsewhere:  # "my rental property's toilet too", "my neighbor needs one too": not this address
            state.details.address = state.details.postal_code = None
            if not u.event_type and last:
                state.details.event_type = last
                _absorb(state, u, ctx)
                return _continue(turn, ctx)
    if (u.not_offered and not u.event_type and state.mode == "booking" and state.details.event_type is None
            and state.stage in ("need", "anything_else")):
        return _not_offered(turn, u.not_offered, ctx)

    if _asks_the_price(state, event):
        turn.line(PRICE_ANSWER)
        return turn.ask(state.stage, state.prompt or "How can I help you today?", keep_prompt=True)

    heard_at = state.stage
    u = _reconsidered_service(state, event, ctx)
    changed = _absorb(state, u, ctx)
    if _offered_after_all(turn, changed, ctx):
        return _continue(turn, ctx)
    if "service" in changed and heard_at not in ("need", "anything_else") and state.mode == "booking":
        turn.line(f"Okay, {with_article(service_name(_event_type(state, ctx)))} then.")
    # Digits of a number said in parts ("three one two... five five five...") are joined with the next ones.
    state.carried_digits = u.partial_digits if heard_at in ("phone", "phone_confirm", "postal_code") else None
    if changed:
        state.misses = 0
        state.fixing = None
    if state.mode == "booking" and state.stage not in ("anything_else", "second_visit") \
            and (step := _apply_changes(turn, changed, ctx)) is not None:
        return step
    handler = _STAGES.get(state.stage)
    if handler is None:
        return _continue(turn, ctx)
    return handler(turn, event, changed, ctx)


def _asks_the_price(state: CallState, event: Heard) -> bool:
    """ "Wait, how much do you charge for a visit?" in the middle of booking a repair: a question, not a switch
    to a phone estimate. At the first question ("how much to replace my water heater?") it is one."""
    u = event.understanding
    return (state.mode == "booking" and bool(state.details.event_type)
            and state.stage not in ("need", "anything_else", "readback", "confirming")
            and not (u.times or u.choice or u.address or u.name or u.phone or _TAKE_BACK.search(event.text))
            and asks_about_cost(" ".join(clean_words(event.text.lower()))))


def _reconsidered_service(state: CallState, event: Heard, ctx: DialogContext) -> Understanding:
    """ "No, it's not a cleaning, it's broken": a caller who takes back the kind of work without naming another
    service means one of the others their first words could mean; the kind now said picks it (as a correction,
    so it replaces the service already taken)."""
    u, details = event.understanding, state.details
    if (state.mode != "booking" or not details.event_type or state.stage in ("need", "anything_else")
            or (u.event_type and u.event_type != details.event_type)
            or not (u.answer == "no" or has_repair_marker(event.text.lower()) or _TAKE_BACK.search(event.text))
            # "neither" or "no actually yes book it" to the times offered is about the times
            or not names_work(event.text, event_types=service_catalog(ctx.config))):
        return u
    catalog = service_catalog(ctx.config)
    among = [t.key for t in _services_meant(details.service_phrase, ctx) if t.key != details.event_type]
    picked = choose_service(event.text, among, event_types=catalog, before=details.service_phrase)
    for kin in _same_trade(details.event_type, ctx):  # "drain cleaning" -> "it's broken": the repair the same people do
        if picked is not None:
            break
        picked = choose_service(event.text, kin, event_types=catalog)
    if picked is None:
        return u
    return u.model_copy(update={"event_type": picked, "corrects": sorted({*u.corrects, "service"})})


def _same_trade(key: str, ctx: DialogContext) -> list[list[str]]:
    """The other services (no emergency ones) that the people who do ``key`` also do, closest first: groups by
    how much the people who do them overlap (the furnace tune-up's techs do the no-heat visits, and only one of
    them plumbing), then the group of every service anybody of them does."""
    config = ctx.config
    doers = {host.id for host in config.eligible_hosts(config.event_type(key))}
    overlap: dict[str, float] = {}
    for t in config.event_types:
        theirs = {host.id for host in config.eligible_hosts(t)}
        if t.key != key and not t.emergency and doers & theirs:
            overlap[t.key] = len(doers & theirs) / len(doers | theirs)
    closest = max(overlap.values(), default=0.0)
    return [[k for k, v in overlap.items() if v == closest], list(overlap)] if overlap else []


def _bye(text: str, u: Understanding, state: CallState) -> bool:
    """A "bye" that ends the call: "no thanks, bye", "okay fine, goodbye" -- but "yes, bye" to a read-back
    or an offer is a yes first (the booking goes ahead)."""
    if not _BYE.search(text):
        return False
    if u.intent == "yes" and state.stage in ("readback", "offer", "phone_confirm"):
        return False
    return u.intent in ("no", "yes", "unknown")


def _plausible(event: Heard, ctx: DialogContext) -> Understanding:
    """The understanding, unless it has a street address with no house number (a reader eager for an address
    takes "can you say that again" for one): then the words are read again without that expectation."""
    u = event.understanding
    if u.address is None or _has_house_number(u.address):
        return u
    again = parse(event.text, now=ctx.now, time_zone=ctx.time_zone,
                  event_types=service_catalog(ctx.config))
    if again.address and not _has_house_number(again.address):
        return again.model_copy(update={"address": None})
    return again


def _has_house_number(address: str) -> bool:
    return any(word.strip(",.").isdigit() for word in address.split())


def _another_job(u: Understanding, ctx: DialogContext) -> bool:
    """After a booking, whether the caller is asking for more work (a plain "yes" is not: it is asked what)."""
    return bool((u.event_type and u.event_type in ctx.config.event_types_by_key) or u.intent in ("book", "emergency")
                or u.not_offered or u.is_emergency)


def _next_booking(state: CallState) -> None:
    """Another job in the same call: keep who and where, forget the last job's service and times. Times
    already booked stay passed, so the same time is never offered (or booked) twice."""
    state.details.event_type = None
    state.details.service_phrase = None
    state.passed = _merge(state.passed, [job.start for job in state.jobs])
    state.times, state.offers, state.hold = [], [], None
    state.urgent, state.signals = False, []
    state.second_visit = False


def _not_offered(turn: _Turn, work: str, ctx: DialogContext) -> Step:
    """Work the business does not do: say so plainly, say what it does, and take a message for the office."""
    names = [with_article(service_name(t)) for t in ctx.config.event_types if not t.emergency][:4]
    turn.line(f"I'm sorry, {work} isn't something we do. We can book {sentence_list(names)}.")
    turn.line("I'll take a message, and someone from the office will call you back.")
    return _to_message(turn, ctx, f"{_NOT_OFFERED} ({work})", auto_body=True)


def _offered_after_all(turn: _Turn, changed: set[str], ctx: DialogContext) -> bool:
    """ "Do you do dishwasher installs?" ... "OK, what about a leaky shower head then": after work we don't do,
    a caller who names work we do is booked, not left with a message (nothing sent yet)."""
    state = turn.state
    if not ("service" in changed and state.mode == "message" and state.outcome is None
            and (state.message_reason or "").startswith(_NOT_OFFERED)):
        return False
    state.mode, state.message_reason, state.message_asked = "booking", None, False
    turn.line(f"Yes, we can do that: {with_article(service_name(_event_type(state, ctx)))}.")
    return True


def _mark_emergency(state: CallState, u: Understanding, ctx: DialogContext) -> None:
    state.urgent = True
    state.signals = sorted(set(state.signals) | set(u.emergency))
    chosen = _emergency_event_type(state, u, ctx)
    if chosen is not None and chosen != state.details.event_type:
        state.details.event_type = chosen
        state.offers = []
    state.details.service_phrase = state.details.service_phrase or u.service_phrase
    state.times = [TimePreference(kind="asap", phrase="as soon as possible")]


def _emergency_event_type(state: CallState, u: Understanding, ctx: DialogContext) -> str | None:
    """Heat or cooling: the event type the caller's words matched (or one for heat); else the emergency one."""
    types = ctx.config.event_types
    signals = set(u.emergency) | set(state.signals)
    if signals & HEAT_SIGNALS and not signals & (WATER_SIGNALS | {"gas_smell"}):
        matched = u.event_type or state.details.event_type
        if matched and matched in ctx.config.event_types_by_key:
            return matched
        word = "heat" if "no_heat" in signals else "cooling"
        for event_type in types:
            if any(word in phrase.lower().split() for phrase in event_type.caller_phrases):
                return event_type.key
    emergency = [event_type.key for event_type in types if event_type.emergency]
    if emergency:
        return emergency[0]
    return u.event_type or state.details.event_type


def _absorb(state: CallState, u: Understanding, ctx: DialogContext) -> set[str]:
    """Take every value the utterance carries; return the fields that changed."""
    details, stage = state.details, state.stage
    corrects = set(u.corrects)
    changed: set[str] = set()

    def welcome(field: str, asked: tuple[str, ...]) -> bool:
        return stage in asked or getattr(details, field) is None or field in corrects or state.fixing == field

    if u.event_type and u.event_type in ctx.config.event_types_by_key and u.event_type != details.event_type:
        if details.event_type is None or "service" in corrects or stage in ("need", "anything_else"):
            if not (state.urgent and ctx.config.event_type(details.event_type or u.event_type).emergency):
                details.event_type = u.event_type
                details.service_phrase = u.service_phrase or details.service_phrase
                changed.add("service")
    elif u.service_phrase and not details.service_phrase:
        details.service_phrase = u.service_phrase
    for field, asked in (("name", ("name",)), ("address", ("address", "anything_else")),
                         ("postal_code", ("postal_code", "address", "anything_else")),
                         ("email", ("email",))):
        value = _with_known_name(details.name, u) if field == "name" else getattr(u, field)
        if value and value != getattr(details, field) and welcome(field, asked):
            setattr(details, field, value)
            changed.add(field)
    if u.address and not u.postal_code and "address" in changed and details.postal_code \
            and stage in ("address", "anything_else") and state.fixing != "address":
        details.postal_code = None  # a new street without a ZIP: ask for the ZIP of the new one (not a fix of it)
    phone = u.phone or (state.caller if u.use_caller_id and state.caller else None)
    if phone and phone != details.phone and welcome("phone", ("phone", "phone_confirm")):
        details.phone = phone
        changed.add("phone")
    # "6 PM? That's too late": the offered time said back while turning it down is no new wish
    # and "as soon as possible" to the offers is a pick of the earliest (``chosen_offer``), not a new search
    restating = bool(state.offers) and (
        u.choice is not None and u.choice.kind == "none" and restates_offers(state.offered_starts, u)
        or bool(u.times) and all(pref.kind == "asap" for pref in u.times))
    if u.times and not restating and (stage in ("time", "offer", "readback") or not state.times
                                      or "time" in corrects):
        if not state.urgent or stage in ("offer", "readback"):
            state.times = _on_the_days_said(list(u.times), state.times, ctx.time_zone) \
                if stage in ("offer", "readback") else list(u.times)
            changed.add("time")
    return changed


def _on_the_days_said(new: list[TimePreference], before: list[TimePreference],
                      time_zone: str) -> list[TimePreference]:
    """ "Something later in the afternoon" or "what about 4?" to Thursday's offers: a time of day alone keeps
    the day asked for."""
    if any(pref.kind not in ("window", "at") or pref.weekdays or _names_a_day(pref.phrase)
           or pref.kind == "window" and (pref.start or pref.first_date) for pref in new):
        return new
    tz = zone(time_zone)
    day = _the_one_day(before, tz)
    if day is None:
        return new
    kept = []
    for pref in new:
        if pref.kind == "at":
            start = wall_to_utc(datetime.combine(day, pref.start.astimezone(tz).time()), tz)
            kept.append(pref.model_copy(update={"start": start, "first_date": day, "last_date": day}))
        else:
            kept.append(pref.model_copy(update={"first_date": day, "last_date": day}))
    return kept + [pref for pref in before if pref.kind == "not"]


_DAY_WORDS = frozenset({"today", "tonight", "tomorrow", "week", "weekend", "monday", "tuesday", "wednesday", "thursday",
                        "friday", "saturday", "sunday", "next", "month"})


def _names_a_day(phrase: str) -> bool:
    return bool(_DAY_WORDS & set(phrase.lower().split())) or bool(re.search(r"\d+(?:st|nd|rd|th)\b", phrase))


def _the_one_day(times: list[TimePreference], tz) -> date | None:
    """The single local day the caller's wishes were about ("Thursday", "Thursday at 3"), if there was one."""
    days = set()
    for pref in times:
        if pref.kind == "at" and pref.start is not None:
            days.add(pref.start.astimezone(tz).date())
        elif pref.kind == "window" and pref.first_date and pref.first_date == pref.last_date:
            days.add(pref.first_date)
        elif pref.kind in ("window", "at"):
            return None
    return days.pop() if len(days) == 1 else None


def _with_known_name(known: str | None, u: Understanding) -> str | None:
    """The name said, completed from the one already known when only a part was said ("my last name is Hill")."""
    if not (u.name and u.name_part and known and len(known.split()) >= 2):
        return u.name
    parts = known.split()
    part = u.name_part
    if _likeness(u.name, parts[0]) > _likeness(u.name, parts[-1]) + 0.2:
        part = "first"  # "no, it's John, J O H N" to "Jon Smith": the first name was spelled
    elif _likeness(u.name, parts[-1]) > _likeness(u.name, parts[0]) + 0.2:
        part = "last"
    return " ".join(parts[:-1] + [u.name]) if part == "last" else " ".join([u.name] + parts[1:])


def _likeness(a: str, b: str) -> float:
    from difflib import SequenceMatcher
    return SequenceMatcher(None, a.lower(), b.lower()).ratio()


_NOT_THAT_NAME = re.compile(r"(?:it'?s |its |it is )?([a-z'-]{2,})(?: with an? [a-z])?,? not ([a-z'-]{2,})\b",
                            re.IGNORECASE)


def _name_put_right(known: str | None, text: str) -> str | None:
    """ "It's John with an H, not Jon": the known name with the word after "not" replaced."""
    match = _NOT_THAT_NAME.search(text)
    if not known or match is None:
        return None
    right, wrong = match.group(1), match.group(2).lower()
    parts = known.split()
    if wrong not in [p.lower() for p in parts] or right.lower() == wrong:
        return None
    return " ".join(right.capitalize() if p.lower() == wrong else p for p in parts)


def _apply_changes(turn: _Turn, changed: set[str], ctx: DialogContext) -> Step | None:
    """A change that touches the times on offer or the hold: let the hold go and search (or hold) again."""
    state = turn.state
    if not state.offers and (state.hold is None or state.hold.status == "confirmed"):
        return None  # nothing on offer; a confirmed booking is never re-booked by a change
    if changed & {"time", "service"}:
        _release(turn)
        state.offers = []
        return _continue(turn, ctx)
    if changed & set(DETAIL_FIELDS) and state.hold is not None and state.hold.status in ("placing", "held"):
        if changed & {"postal_code"} and not _served(state, ctx):
            return _out_of_area(turn, ctx)
        if _missing(state, ctx):
            _release(turn)
            state.offers = []
            return _continue(turn, ctx)
        turn.line("Thanks, I'll update that.")
        return _place_hold(turn, Offer(start=state.hold.start, end=state.hold.end), ctx)
    return None


# ---------------------------------------------------------------- stage handlers

def _need(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    state, u = turn.state, event.understanding
    if state.stage == "anything_else" and not changed:
        if u.answer == "no" or u.intent in ("no", "goodbye"):
            return _goodbye(turn, ctx)
        if u.answer == "yes" and u.intent == "yes":
            return turn.ask("anything_else", "Sure. What else can I help you with?")
    if u.intent == "question":
        turn.line("I can't answer that one myself, but I can book a visit, or take a message so someone from "
                  "the office calls you back.")
        return turn.ask(state.stage, "What can I help you with?")
    if state.details.event_type is None:
        candidates = _services_meant(u.service_phrase or state.details.service_phrase, ctx)
        answering = state.prompt.startswith("Is that ")
        if len(candidates) == 1 and answering and u.answer == "yes" and not u.corrects:
            state.details.event_type = candidates[0].key  # "Is that a visit for no heat or no cooling?" "Yes."
            return _continue(turn, ctx)
        if 1 <= len(candidates) <= 3:
            # The answer to "Is that A or B?" ("it's broken", "the repair one") picks among what was offered; so
            # does the kind of need said with the thing ("my furnace is making a banging noise": a repair).
            picked = choose_service(event.text, [t.key for t in candidates], event_types=service_catalog(ctx.config),
                                    before=state.details.service_phrase if answering else None,
                                    answering=answering)
            if picked is not None:
                state.details.event_type = picked
                return _continue(turn, ctx)
        if 1 <= len(candidates) <= 3:
            options = sentence_list([with_article(service_name(t)) for t in candidates])
            return _miss(turn, ctx, f"Is that {options}?")
        if changed or u.intent in ("book", "inform", "yes"):
            names = [with_article(service_name(t)) for t in ctx.config.event_types if not t.emergency][:3]
            return _miss(turn, ctx, f"What kind of work do you need? For example, {sentence_list(names)}?")
        return _miss(turn, ctx, "Sorry, I didn't quite get that.")
    return _continue(turn, ctx)


def _anything_else(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    """After a booking. Only a new job (named, or "I need to book something else") starts another booking; a
    plain "yes" is asked what else, and nothing said here books the job just booked again."""
    state, u = turn.state, event.understanding
    if _AGAIN.search(event.text) and state.jobs and not u.event_type:  # "book it again": the same job, asked as such
        last = state.jobs[-1]
        _next_booking(state)
        state.details.event_type = last.event_type
        return _continue(turn, ctx)
    if state.details.event_type is None or "service" in changed:
        return _need(turn, event, changed, ctx)
    if u.answer == "no" or u.intent in ("no", "goodbye"):
        return _goodbye(turn, ctx)
    if u.intent == "question":
        return _need(turn, event, changed, ctx)
    if u.answer == "yes" or u.intent == "yes":
        return turn.ask("anything_else", "Sure. What else can I help you with?")
    return _miss(turn, ctx, "Sorry, is there anything else I can help you with?")


def _second_visit(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    """The caller asked again for a job this call already booked: a second visit only on their word."""
    state, u = turn.state, event.understanding
    if "address" in changed or "service" in changed:
        return _continue(turn, ctx)  # another place or another job: not the same one
    if u.answer == "yes" or u.intent == "yes":
        state.second_visit = True
        return _continue(turn, ctx)
    if u.answer == "no" or u.intent == "no":
        state.details.event_type = None
        state.details.service_phrase = None
        state.times = []
        return turn.ask("anything_else", "Okay, that visit stays as booked. Is there anything else I can help you "
                                         "with?")
    return _miss(turn, ctx, "Sorry, do you need a second, separate visit?")


def _services_meant(phrase: str | None, ctx: DialogContext) -> list[EventType]:
    """Event types the caller's words could mean when they fit several ("a clogged drain": a repair or a
    drain cleaning?): those sharing a distinctive word with them, in configuration order."""
    if not phrase:
        return []
    said = _distinctive(phrase)
    return [event_type for event_type in ctx.config.event_types if not event_type.emergency and said & {
        word for text in (*event_type.caller_phrases, event_type.name) for word in _distinctive(text)}]


def _distinctive(text: str) -> set[str]:
    """The stems of a phrase's long words, and of short ones that are things ("AC", "A/C")."""
    words = clean_words(text.lower().replace("a/c", "ac"))
    return {stem(word) for word in words if len(word) > 3 or word in _SHORT_THINGS}


def _field(field: str, retry: str):
    def handler(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
        if field in changed or getattr(turn.state.details, field):
            return _continue(turn, ctx)
        if changed:
            return _continue(turn, ctx)
        if event.understanding.event_type == turn.state.details.event_type is not None:
            # More about the same job ("the heat is on but it's blowing cold"): understood, so no "Sorry".
            turn.line("Got it.")
            return _continue(turn, ctx)
        return _miss(turn, ctx, retry)
    return handler


def _phone_confirm(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    state, u = turn.state, event.understanding
    if "phone" in changed:
        return _continue(turn, ctx)
    if u.answer == "yes" or u.use_caller_id:
        state.details.phone = state.caller
        return _continue(turn, ctx)
    if u.partial_digits or _digit_words(event.text) >= 4:  # another number, not (yet) understood whole
        state.caller_id_declined = True
        return turn.ask("phone", "Sorry, I didn't get all of that number. Could you say it again, with the area "
                                 "code?")
    if u.answer == "no":
        state.caller_id_declined = True
        return turn.ask("phone", "What's the best number to reach you?")
    if changed:
        return _continue(turn, ctx)
    return _miss(turn, ctx, "Sorry, is the number you're calling from the best one to reach you?")


_DIGIT_WORDS = {"zero", "oh", "o", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "double",
                "triple", "ten", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
                "hundred"}


def _digit_words(text: str) -> int:
    """How many words of ``text`` are digits or number words (a phone number said in words has ten or so)."""
    return sum(1 for word in re.findall(r"[a-z]+|\d", text.lower()) if word.isdigit() or word in _DIGIT_WORDS)


def _time(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    if "time" in changed or turn.state.times:
        return _continue(turn, ctx)
    u = event.understanding
    if u.answer == "yes" or u.intent == "yes":  # "sure, anytime"
        turn.state.times = [TimePreference(kind="any", phrase="any time")]
        return _continue(turn, ctx)
    if changed:
        return _continue(turn, ctx)
    return _miss(turn, ctx, "Sorry, what day and time would work for you? For example, tomorrow morning.")


def _offer(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    state, u = turn.state, event.understanding
    offers = state.offers
    choice = u.choice
    if (picked := chosen_offer(offers, u)) is not None:
        return _place_hold(turn, picked, ctx)
    more = more_wanted(event.text) if choice is not None and choice.kind == "none" \
        and restates_offers(state.offered_starts, u) else None
    if more == "earlier" and state.urgent:
        return _nothing_sooner(turn, ctx)
    if more is not None:  # "anything later?", "what else do you have?": look again now
        offered = state.offered_starts
        state.passed = _merge(state.passed, offered)
        state.offers = []
        state.times = beyond_offers(state.times, more, offered, ctx.now, ctx.time_zone)
        return _find_slots(turn, ctx)
    if (choice is not None and choice.kind == "none") or u.answer == "no" or u.intent == "no":
        state.passed = _merge(state.passed, state.offered_starts)
        state.offers = []
        return turn.ask("time", "No problem. What day or time would work better?")
    if len(offers) > 1 and (u.answer == "yes" or u.intent == "yes"):
        return turn.ask("offer", f"Which one: {spoken_choices(state.offered_starts, ctx.time_zone, ctx.now)}?")
    if changed:
        return _continue(turn, ctx)
    return _miss(turn, ctx, "Sorry, which time works for you?")


_FIX_PROMPTS = {"name": "Sorry about that. What's the right name?",
                "address": "Sorry about that. What's the right address?",
                "postal_code": "Sorry about that. What's the right ZIP code?",
                "phone": "Sorry about that. What's the best number to reach you?",
                "email": "Sorry about that. What's the right e-mail address?"}


def _nothing_sooner(turn: _Turn, ctx: DialogContext) -> Step:
    """An emergency caller asks for sooner than the earliest time there is: say so, and put them through to the
    on-call technician when there is one, rather than offer a later time as if it were sooner."""
    if ctx.on_call_number:
        return turn.line("That's the earliest time on the schedule, so I'm connecting you to our on-call technician "
                         "now.").transfer(ctx.on_call_number)
    return turn.ask("offer", "I'm sorry, that's the earliest I have. Shall I hold it for you?")


def _readback(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    state, u = turn.state, event.understanding
    hold = state.hold
    if hold is None or hold.status != "held":
        return _continue(turn, ctx)
    if (step := _fix_named_detail(turn, event, changed, ctx)) is not None:
        return step
    other = chosen_offer(state.offers, u) if len(state.offers) > 1 else None
    if other is not None and other.start != hold.start:  # "actually, the later one instead"
        return _place_hold(turn, other, ctx)
    if u.answer == "yes" or u.intent == "yes":
        hold.status = "confirming"
        state.polls = 0
        state.stage = "confirming"
        return turn.act(ConfirmHold(hold.key)).line("Great, I'm booking that now.").redirect()
    if u.answer == "no" or u.intent == "no":
        _release(turn)
        state.passed = _merge(state.passed, [hold.start])
        state.offers = []
        return turn.ask("time", "No problem, I've let that time go. What day or time would work better?")
    return _miss(turn, ctx, "Sorry, shall I book it? Please say yes or no.")


def _fix_named_detail(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step | None:
    """ "Wait, the address is wrong": a detail said to be wrong with no new value is put right while the time
    stays held -- the house number alone when that is all that was said ("it's 2410, not 2400"), else by
    asking for it -- instead of taking the "no" as a "no" to the time."""
    state, u = turn.state, event.understanding
    if changed:
        return None
    renamed = _name_put_right(state.details.name, event.text)
    wrong = [field for field in u.corrects if field in _FIX_PROMPTS] or (["name"] if renamed else [])
    if not wrong:
        return None
    hold = state.hold
    if wrong[0] == "name" and renamed:
        state.details.name = renamed
        turn.line("Thanks, I'll update that.")
        return _place_hold(turn, Offer(start=hold.start, end=hold.end), ctx)
    if wrong[0] == "address" and (fixed := _house_number_fixed(state.details.address, event.text)):
        state.details.address = fixed
        turn.line("Thanks, I'll update that.")
        return _place_hold(turn, Offer(start=hold.start, end=hold.end), ctx)
    state.fixing = wrong[0]
    return turn.ask(wrong[0], _FIX_PROMPTS[wrong[0]])


def _house_number_fixed(address: str | None, text: str) -> str | None:
    """ "It's 2410, not 2400": the address with its house number replaced, when the words say only that."""
    if not address or not (old := re.match(r"\d+", address)):
        return None
    numbers = [w for w in numeric_words(clean_words(text.lower())) if w.isdigit()]
    new = [n for n in numbers if n != old.group(0)]
    if len(new) != 1 or len(numbers) > 2:
        return None
    return new[0] + address[old.end():]


def _only_a_message(text: str) -> str | None:
    """Why the caller wants a message instead of a visit, if they do: "take a message for Marcus", "I'm
    returning a call", "the gate code is 4412" (a note for a visit already booked)."""
    if _JUST_MESSAGE.search(text):
        return "asked to leave a message"
    if _RETURNING.search(text):
        return "returning a call from the office, or asking about a message left"
    if _NOTE_FOR_VISIT.search(text):
        return "a note for a visit already booked"
    return None


def _zip_unknown(turn: _Turn, ctx: DialogContext) -> Step:
    """A caller who doesn't know the ZIP: the technicians and the service area go by it, so the office calls
    back to finish the booking (with the street and the job in the message) instead of asking again."""
    turn.line("No problem. Someone from the office will call you back to finish booking the visit.")
    return _to_message(turn, ctx, "wants a visit but did not know the ZIP code of the address", auto_body=True)


def _message(turn: _Turn, event: Heard, changed: set[str], ctx: DialogContext) -> Step:
    state = turn.state
    text = event.text.strip()
    if text:
        state.message_body = text[:1000]
    return _send_message(turn, ctx)


_STAGES = {
    "need": _need, "anything_else": _anything_else, "second_visit": _second_visit,
    "address": _field("address", "Sorry, what's the street address where you need us?"),
    "postal_code": lambda turn, event, changed, ctx: (
        _zip_unknown(turn, ctx) if not changed and _DONT_KNOW.search(event.text)
        else _field("postal_code", "Sorry, what's the five-digit ZIP code?")(turn, event, changed, ctx)),
    "name": _field("name", "Sorry, could I get your name?"),
    "phone": _field("phone", "Sorry, what's the best number to reach you, with the area code?"),
    "email": _field("email", "Sorry, what's your e-mail address? You can spell it out."),
    "phone_confirm": _phone_confirm,
    "time": _time,
    "offer": _offer,
    "readback": _readback,
    "message": _message,
}


# ---------------------------------------------------------------- what to ask next

def _missing(state: CallState, ctx: DialogContext) -> str | None:
    """The next thing to collect for a booking, or None when everything is there."""
    details = state.details
    if details.event_type is None:
        return "need"
    event_type = ctx.config.event_type(details.event_type)
    required = set(event_type.required_fields)
    if "address" in required and not details.address:
        return "address"
    needs_zip = "postal_code" in required or (event_type.location_kind == "onsite"
                                              and bool(ctx.config.business.service_area))
    if needs_zip and not details.postal_code:
        return "postal_code"
    if not details.name:
        return "name"
    if not details.phone:
        return "phone_confirm" if state.caller and not state.caller_id_declined else "phone"
    if "email" in required and not details.email:
        return "email"
    if not state.times:
        return "time"
    return None


def _continue(turn: _Turn, ctx: DialogContext) -> Step:
    """Ask for what is missing next, or, when nothing is, look for times."""
    state = turn.state
    if state.mode == "message":
        return _continue_message(turn, ctx)
    if state.details.postal_code and not _served(state, ctx):
        return _out_of_area(turn, ctx)
    if (job := _same_job(state)) is not None:
        return _ask_second_visit(turn, job, ctx)
    missing = _missing(state, ctx)
    if missing is None:
        return _find_slots(turn, ctx)
    prompts = {
        "need": "How can I help you today?",
        "address": "What's the address where you need us?",
        "postal_code": "And what's the ZIP code there?",
        "name": "Can I get your name, please?",
        "phone_confirm": f"Is the number you're calling from, ending in {last_digits(state.caller)}, the best "
                         "one to reach you?",
        "phone": "What's the best number to reach you?",
        "email": "What e-mail address should we use? You can spell it out.",
        "time": "When would be a good time for us?",
    }
    if missing == "time" and _event_type(state, ctx).location_kind == "onsite":
        prompts["time"] = "When would be a good time for us to come out?"
    return turn.ask(missing, prompts[missing])


def _same_job(state: CallState) -> BookedJob | None:
    """A booking of this call for the job now asked for (same service, same place), unless the caller has
    already said it is a second, separate visit."""
    details = state.details
    if state.second_visit or details.event_type is None:
        return None
    return next((job for job in state.jobs if job.event_type == details.event_type
                 and _place(job.address) == _place(details.address)), None)


def _place(address: str | None) -> str:
    return re.sub(r"[^a-z0-9]", "", (address or "").lower())


def _ask_second_visit(turn: _Turn, job: BookedJob, ctx: DialogContext) -> Step:
    event_type = ctx.config.event_type(job.event_type)
    when = spoken_time(job.start, ctx.time_zone, ctx.now)
    return turn.ask("second_visit", f"You're already booked for {with_article(service_name(event_type))} {_on(when)}. "
                                    "Do you need a second, separate visit?")


def _on(when: str) -> str:
    """``today at 2 PM`` / ``on Thursday, March 12th at 2 PM``."""
    return when if when.startswith(("today", "tomorrow")) else f"on {when}"


def _find_slots(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    state.stage = "time"
    return turn.act(FindSlots(state.details.event_type, tuple(state.times), state.details.postal_code,
                              tuple(state.passed), state.urgent)).waiting()


def _slots_found(turn: _Turn, event: SlotsFound, ctx: DialogContext) -> Step:
    state = turn.state
    if event.failed:
        turn.line("I'm sorry, I can't reach the schedule right now.")
        return _to_message(turn, ctx, "could not read the schedule to book", auto_body=True)
    nots = [pref for pref in state.times if pref.kind == "not"]
    slots = [slot for slot in event.slots  # never a time declined, booked or ruled out, whoever found it
             if slot.start not in state.passed and accepts(nots, slot.start, ctx.time_zone)]
    if not state.urgent or any(pref.kind in ("at", "window") for pref in state.times):
        slots = _daytime(slots, ctx) or slots  # an emergency caller who says "tomorrow" means the day, not 12 AM
    if not slots:
        if state.urgent:
            return _urgent_without_time(turn, ctx)
        turn.line("I'm sorry, I don't have any open times that soon.")
        return _to_message(turn, ctx, "no open times for the requested service", auto_body=True)
    if state.urgent:
        earliest = slots[0]
        if earliest.start - ctx.now > ctx.emergency_within and ctx.on_call_number:
            return _urgent_without_time(turn, ctx)
        state.offers = [earliest]
        when = spoken_time(earliest.start, ctx.time_zone, ctx.now)
        return turn.ask("offer", f"The earliest I can get a technician there is {when}. Shall I hold that for you?")
    state.offers = _two_offers(slots)
    choices = spoken_choices(state.offered_starts, ctx.time_zone, ctx.now)
    if not event.matched and any(pref.kind in ("at", "window", "not") for pref in state.times):
        turn.line(_why_not(state, ctx))
        question = "Would that work?" if len(state.offers) == 1 else "Would either of those work?"
        return turn.ask("offer", f"The closest I have {'is' if len(state.offers) == 1 else 'are'} {choices}. "
                                 f"{question}")
    if len(state.offers) == 1:
        return turn.ask("offer", f"I have {choices}. Does that work?")
    return turn.ask("offer", f"I have {choices}. Which works better?")


def _daytime(slots: list[Offer], ctx: DialogContext) -> list[Offer]:
    """Times a non-urgent caller would take: a night-shift slot at 2 AM fits "Friday morning" but is not
    what a receptionist offers unless there is nothing else."""
    tz = zone(ctx.time_zone)
    return [slot for slot in slots if DAYTIME[0] <= slot.start.astimezone(tz).hour < DAYTIME[1]]


def _two_offers(slots: list[Offer]) -> list[Offer]:
    """The earliest fitting time and a real alternative: two hours or more later (else simply the next one)."""
    first = slots[0]
    later = next((slot for slot in slots[1:] if (slot.start - first.start).total_seconds() >= 2 * 3600), None)
    second = later or (slots[1] if len(slots) > 1 else None)
    return [first] + ([second] if second else [])


def _why_not(state: CallState, ctx: DialogContext) -> str:
    """Why the times offered are not the ones asked for: closed on every day asked, or nothing open then."""
    asked = _asked_weekdays(state.times, ctx)
    closed = _closed_weekdays(state, ctx)
    if asked and asked <= closed:
        days = sentence_list([DAY_NAMES[day] + "s" for day in sorted(asked)]).replace(" or ", " and ")
        if any(host.weekly[day] for host in ctx.config.hosts for day in asked):  # others work then: not "closed"
            return f"We don't do {with_article(service_name(_event_type(state, ctx)))} on {days}."
        return f"We're closed on {days}."
    wish = _wish(state.times)
    return f"I don't have anything {wish}." if wish else "I don't have anything open that fits."


def _asked_weekdays(times: list[TimePreference], ctx: DialogContext) -> set[int]:
    """The local weekdays (0 = Monday) the caller's wanted times fall on; empty when not bounded to some."""
    tz = zone(ctx.time_zone)
    days: set[int] = set()
    for pref in (p for p in times if p.kind in ("at", "window")):
        if pref.weekdays:
            days |= {WEEKDAYS.index(day) for day in pref.weekdays}
        elif pref.kind == "at" and pref.start is not None:
            days.add(pref.start.astimezone(tz).weekday())
        elif pref.first_date and pref.last_date and (pref.last_date - pref.first_date).days < 7:
            days |= {(pref.first_date + timedelta(days=n)).weekday()
                     for n in range((pref.last_date - pref.first_date).days + 1)}
        else:
            return set()
    return days


def _closed_weekdays(state: CallState, ctx: DialogContext) -> set[int]:
    """Weekdays on which nobody who can do the job works."""
    event_type = _event_type(state, ctx, default=None)
    hosts = ctx.config.eligible_hosts(event_type) if event_type is not None else ctx.config.hosts
    return {day for day in range(7) if not any(host.weekly[day] for host in hosts)}


# Words a wish can be said back in; anything else ("whenever the tenant's home") is not repeated to the caller.
_SAYABLE = frozenset("""
a an the this next coming following on at in of or and to from after before between until by around about early late
mid middle end start beginning week weekend weekends weekday weekdays day days morning mornings afternoon afternoons
evening evenings night tonight today tomorrow noon midnight lunch am pm oclock o'clock half quarter past
monday tuesday wednesday thursday friday saturday sunday mondays tuesdays wednesdays thursdays fridays saturdays
sundays january february march april may june july august september october november december
""".split())


def _wish(times: list[TimePreference]) -> str:
    positives = [titled(pref.phrase) for pref in times if pref.kind in ("at", "window")]
    if not all(_sayable(phrase) for phrase in positives):
        return "at the times you mentioned"
    # "3:30" alone reads "I don't have anything at 3:30"; "after 3 on Thursday" and "Friday" read as said.
    return sentence_list([f"at {phrase}" if phrase[:1].isdigit() else phrase for phrase in positives])


def _sayable(phrase: str) -> bool:
    return all(word in _SAYABLE or word[:1].isdigit() for word in re.findall(r"[a-z0-9':]+", phrase.lower()))


def _urgent_without_time(turn: _Turn, ctx: DialogContext) -> Step:
    if ctx.on_call_number:
        return turn.line("I'm connecting you to our on-call technician now.").transfer(ctx.on_call_number)
    turn.line("I can't get a technician out right away, so I'm flagging this as urgent for the office.")
    return _to_message(turn, ctx, "emergency with no technician free soon", auto_body=True)


# ---------------------------------------------------------------- holds

def _place_hold(turn: _Turn, offer: Offer, ctx: DialogContext) -> Step:
    state = turn.state
    previous = state.hold
    replaces = previous.key if previous is not None and previous.status in ("placing", "held") else None
    if replaces:
        turn.act(ReleaseHold(replaces))
    state.attempts += 1
    key = f"{state.call_sid}/{state.attempts}"
    state.hold = Hold(key=key, event_type=state.details.event_type, start=offer.start, end=offer.end,
                      replaces=replaces if previous is not None and previous.start == offer.start else None)
    state.stage = "holding"
    state.polls = 0
    turn.line("One moment while I hold that time for you.")
    return turn.act(_hold_action(state)).waiting()


def _hold_action(state: CallState) -> PlaceHold:
    hold = state.hold
    notes = "Booked by phone with Frontdesk's receptionist."
    if state.details.service_phrase:
        notes += f" Caller said: {state.details.service_phrase}."
    if state.callback_note:
        notes += f" The caller gave another callback number we could not read: \"{state.callback_note}\"."
    if state.urgent:
        notes += " URGENT: " + ", ".join(signal.replace("_", " ") for signal in state.signals) + "."
    return PlaceHold(hold.key, hold.event_type, hold.start, state.details.model_copy(), notes, hold.replaces)


def _poll(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    hold = state.hold
    if state.stage == "change_moving" and state.change is not None and state.change.running:
        return _changes().poll(turn, ctx)
    if state.stage in ("holding", "confirming") and hold is not None:
        if state.stage == "holding" and not hold.started:
            return turn.act(_hold_action(state)).waiting()
        return turn.act(CheckHold(hold.key, confirming=state.stage == "confirming")).waiting()
    asking = state.stage in _STAGES or (state.stage.startswith("change_") and state.stage != "change_moving")
    return turn.ask(state.stage if asking else "need", state.prompt or "How can I help you today?")


def _hold_update(turn: _Turn, event: HoldUpdate, ctx: DialogContext) -> Step:
    state = turn.state
    hold = state.hold
    if hold is None or event.key != hold.key or state.stage not in ("holding", "confirming"):
        return _poll(turn, ctx)
    if event.status in ("pending", "deferred") or (event.status == "held" and state.stage == "confirming"):
        hold.started = hold.started or event.status != "deferred"
        state.polls += 1
        if state.polls > MAX_POLLS:
            turn.line("I'm sorry, this is taking longer than it should.")
            if state.stage == "holding":
                _release(turn)
            return _to_message(turn, ctx, "the booking system was too slow to hold a time", auto_body=True)
        if state.polls % 4 == 0:
            turn.line("Still working on it, thanks for your patience.")
        return turn.redirect()
    if event.status == "held" and state.stage == "holding":
        hold.status, hold.started = "held", True
        state.polls = 0
        return turn.ask("readback", _readback_text(state, ctx))
    if event.status == "confirmed" and state.stage == "confirming":
        hold.status = "confirmed"
        state.booked.append(hold.key)
        state.jobs.append(BookedJob(event_type=hold.event_type, address=state.details.address, start=hold.start))
        state.passed = _merge(state.passed, [hold.start])
        state.outcome = "booked"
        state.offers = []
        when = spoken_time(hold.start, ctx.time_zone, ctx.now)
        texting = (f" We'll text a confirmation to {phone_ending(state.details.phone)}."
                   if ctx.texts_enabled and state.details.phone else "")
        turn.line(f"You're all set for {when}.{texting}")
        return turn.ask("anything_else", "Is there anything else I can help you with?")
    if event.status in ("lost", "expired", "released"):
        if event.status == "lost":  # another caller has it now; a lapsed hold's time may well be free again
            state.passed = _merge(state.passed, [hold.start])
        state.hold = None
        state.offers = []
        turn.line("I'm sorry, that time was just taken." if event.status == "lost"
                  else "I'm sorry, that hold ran out before it was confirmed.")
        return _find_slots(turn, ctx)
    state.hold = None
    turn.line("I'm sorry, I couldn't book that time.")
    return _to_message(turn, ctx, f"booking failed ({event.reason or 'unknown reason'})", auto_body=True)


def _readback_text(state: CallState, ctx: DialogContext) -> str:
    hold, details = state.hold, state.details
    event_type = _event_type(state, ctx)
    when = spoken_time(hold.start, ctx.time_zone, ctx.now)
    parts = [f"I'm holding {when} for you. That's {with_article(service_name(event_type))}"]
    if event_type.location_kind == "onsite" and details.address:
        parts.append(f" at {details.address}")
    elif event_type.location_kind == "phone":
        parts.append(", by phone")
    elif event_type.location_kind == "teams":
        parts.append(", on Microsoft Teams")
    parts.append(f", for {details.name}, and we'll reach you at {phone_ending(details.phone)}.")
    return "".join(parts) + " Shall I book it?"


def _release(turn: _Turn) -> None:
    """Let an open hold go (a confirmed or confirming one stays the caller's)."""
    hold = turn.state.hold
    if hold is not None and hold.status in ("placing", "held"):
        turn.act(ReleaseHold(hold.key))
        hold.status = "released"
    if hold is not None and hold.status == "released":
        turn.state.hold = None


# ---------------------------------------------------------------- messages, people, endings

def _served(state: CallState, ctx: DialogContext) -> bool:
    event_type = _event_type(state, ctx, default=None)
    if event_type is not None and event_type.location_kind != "onsite":
        return True
    return ctx.config.serves(state.details.postal_code)


def _out_of_area(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    _release(turn)
    state.offers = []
    zip_code = " ".join(state.details.postal_code or "")
    turn.line(f"I'm sorry, we don't cover the {zip_code} area. I'll pass your details to the office so someone "
              "can call you back and point you to someone nearby.")
    return _to_message(turn, ctx, f"outside the service area (ZIP {state.details.postal_code})", auto_body=True)


def _to_a_person(turn: _Turn, ctx: DialogContext, reason: str) -> Step:
    state = turn.state
    if ctx.transfer_number and ctx.office_open:
        _release(turn)
        return turn.line("Sure, I'll connect you now. One moment.").transfer(ctx.transfer_number)
    if ctx.office_open:
        turn.line("Everyone is busy right now, so I'll take a message and have someone call you back.")
    else:
        turn.line("The office is closed right now, so I'll take a message and someone will call you back.")
    _release(turn)
    return _to_message(turn, ctx, reason, auto_body=False)


def _to_message(turn: _Turn, ctx: DialogContext, reason: str, *, auto_body: bool) -> Step:
    """Switch to taking a message; ``auto_body`` skips asking what to pass along (the reason says it)."""
    state = turn.state
    state.mode = "message"
    state.offers = []
    state.message_reason = state.message_reason or reason
    if auto_body:
        state.message_asked = True
    return _continue_message(turn, ctx)


def _continue_message(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    details = state.details
    if not details.name:
        return turn.ask("name", "Can I get your name, please?")
    if not details.phone:
        if state.caller and not state.caller_id_declined:
            return turn.ask("phone_confirm", f"Should they call you back at {phone_ending(state.caller)}?")
        return turn.ask("phone", "What's the best number to call you back on?")
    if not state.message_asked:
        state.message_asked = True
        return turn.ask("message", "What would you like me to pass along?", timeout=8)
    return _send_message(turn, ctx)


def _send_message(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    turn.act(TakeMessage(state.message_reason or "caller asked for a call back", state.urgent,
                         state.details.model_copy(), state.caller, state.message_body, tuple(state.heard)))
    if state.outcome is None:
        state.outcome = "message_taken"
    name = f", {state.details.name.split()[0]}" if state.details.name else ""
    callback = state.details.phone or state.caller
    soon = " as soon as possible" if state.urgent else ""
    turn.line(f"Thanks{name}. I've passed that along, and someone will call you back{soon} at "
              f"{phone_ending(callback)}.")
    return _goodbye(turn, ctx)


def _goodbye(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    _release(turn)
    if state.outcome is None:
        state.outcome = "abandoned"
    return turn.line(f"Thanks for calling {ctx.config.business.name}. Goodbye.").hangup()


def _dial_ended(turn: _Turn, event: DialEnded, ctx: DialogContext) -> Step:
    """A transfer that connected ends the call; one nobody answered becomes a message."""
    state = turn.state
    if state.stage != "transferring" or event.status in ("completed", "answered"):
        return turn.hangup()
    state.outcome = None
    turn.line("I'm sorry, nobody could pick up just now.")
    reason = "emergency: the on-call number did not answer" if state.urgent else "asked for a person; nobody answered"
    return _to_message(turn, ctx, reason, auto_body=state.urgent)


def _hung_up(turn: _Turn) -> Step:
    state = turn.state
    if state.hold is not None and state.hold.status in ("placing", "held"):
        turn.act(ReleaseHold(state.hold.key))
        state.hold.status = "released"
    if state.outcome is None:
        state.outcome = "abandoned"
    state.stage = "ended"
    state.ended = True
    return turn._step(Hangup())


def _silence(turn: _Turn, ctx: DialogContext) -> Step:
    state = turn.state
    if state.stage in ("holding", "confirming", "change_moving"):
        return _poll(turn, ctx)
    if state.stage == "anything_else":
        return _goodbye(turn, ctx)
    if state.stage == "message":
        return _send_message(turn, ctx)
    return _miss(turn, ctx, "Sorry, I didn't catch that.")


def _miss(turn: _Turn, ctx: DialogContext, retry: str) -> Step:
    """Reprompt (at most twice in a row), then stop asking: the stage's last resort (see :func:`_last_resort`)."""
    state = turn.state
    state.misses += 1
    if state.misses > MAX_REPROMPTS:
        return _last_resort(turn, state.stage)
    if "?" in retry:  # a question of its own ("What kind of work do you need? For example...")
        return turn.ask(state.stage, retry, timeout=6)
    return turn.ask(state.stage, f"{retry} {state.prompt}".strip(), timeout=6, remember=state.prompt or None)


def _alternatives(state: CallState, stage: str, ctx: DialogContext) -> list[tuple[Stage, str]]:
    """Other ways to ask what ``stage`` asks, for when its usual words have been said twice."""
    if stage == "need" or (stage == "anything_else" and state.details.event_type is None):
        names = [with_article(service_name(t)) for t in ctx.config.event_types if not t.emergency][:5]
        return [("need", f"I can book {sentence_list(names)}, or take a message for the office. Which would "
                         "you like?")]
    return {
        "address": [("address", "Please tell me the house number and the street, for example 12 Main Street.")],
        "postal_code": [("postal_code", "Please say the five digits of the ZIP code, one at a time.")],
        "name": [("name", "Who should I put this under? Your first name is fine.")],
        "phone_confirm": [("phone", "What number should we call? Please say all ten digits, with the area code.")],
        "phone": [("phone", "Please say the number slowly, all ten digits, starting with the area code.")],
        "email": [("email", "Please spell the e-mail address letter by letter, like j o e at example dot com.")],
        "time": [("time", "Would a weekday morning or afternoon suit you? Or I can find the earliest open time.")],
        "offer": [("offer", "Please say the first one, the second one, or neither.")],
        "readback": [("readback", "Should I go ahead and book that time? Please say yes or no.")],
        "second_visit": [("second_visit", "Is this another visit, separate from the one you just booked? Yes or "
                                          "no?")],
    }.get(stage, [])


def _change_strategy(turn: _Turn, stage: Stage) -> Step:
    """``stage``'s question has been said twice already: ask it another way, else take the last resort."""
    for alt_stage, text in _alternatives(turn.state, stage, turn.ctx):
        if turn.can_ask(text):
            return turn.ask(alt_stage, text, timeout=6)
    return _last_resort(turn, stage)


def _last_resort(turn: _Turn, stage: str) -> Step:
    """When asking again would go round in circles: accept what the call has, or end it with an outcome.

    Never asks the same thing again, so a call always ends: times fall back to the earliest open one (once),
    an unreadable callback number to the caller id (with the caller's words noted for the office), a
    question after a booking to goodbye, a message to sending it; anything else becomes a message."""
    state, ctx = turn.state, turn.ctx
    if state.mode == "booking" and stage == "time" and not any(p.kind in ("any", "asap") for p in state.times):
        state.times = [TimePreference(kind="any", phrase="any time")]
        state.misses = 0
        turn.line("I'll look for the earliest open time.")
        return _continue(turn, ctx)
    if state.mode == "booking" and stage in ("phone_confirm", "phone") and state.caller:
        if stage == "phone" or state.caller_id_declined:
            said = next((text for text in reversed(state.heard) if any(ch.isdigit() for ch in text)
                         or len(text.split()) > 3), None)
            state.callback_note = said
            turn.line("I'll use the number you're calling from for now, and pass on the number you said to "
                      "the office.")
        else:
            turn.line("I'll use the number you're calling from.")
        state.details.phone = state.caller
        state.misses = 0
        return _continue(turn, ctx)
    if stage in ("anything_else", "second_visit") and state.outcome == "booked":
        return _goodbye(turn, ctx)
    if stage == "message" or (state.mode == "message" and state.message_asked and (state.details.phone
                                                                                     or state.caller)):
        return _send_message(turn, ctx)
    if stage == "time":
        return _give_up(turn, ctx, "could not find a time that suits the caller",
                        "I'm sorry I couldn't find a time that works. I'll have someone from the office call you "
                        "back to set one up.")
    return _give_up(turn, ctx, "the receptionist could not understand the caller")


def _give_up(turn: _Turn, ctx: DialogContext, reason: str,
             said: str = "I'm sorry, I'm having trouble understanding. I'll have someone from the office call you "
                         "back.") -> Step:
    """End the call with a message for the office, sent now with everything heard (no more questions)."""
    state = turn.state
    callback = state.details.phone or state.caller
    _release(turn)
    if callback is None:
        turn.line("I'm sorry, I'm having trouble understanding. Please try calling again.")
        return _goodbye(turn, ctx)
    state.mode = "message"
    state.message_reason = state.message_reason or reason
    state.message_asked = True
    turn.line(said)
    turn.act(TakeMessage(reason, state.urgent, state.details.model_copy(), state.caller, None, tuple(state.heard)))
    state.outcome = state.outcome or "message_taken"
    return _goodbye(turn, ctx)


# ---------------------------------------------------------------- small helpers

def _event_type(state: CallState, ctx: DialogContext, default: object = ...) -> EventType:
    key = state.details.event_type
    if key is None or key not in ctx.config.event_types_by_key:
        if default is ...:
            raise LookupError("no event type chosen yet")
        return default  # type: ignore[return-value]
    return ctx.config.event_type(key)


def _join_waitlist(turn: _Turn) -> Step:
    """After a confirmed booking: "let me know if something earlier opens up" (once per booking)."""
    state = turn.state
    key, job = state.booked[-1], state.jobs[-1]
    state.waitlisted.append(key)
    return turn.act(JoinWaitlist(key, job.event_type, job.start, state.details.model_copy())).waiting()


def _waitlist_joined(turn: _Turn, event: WaitlistJoined, ctx: DialogContext) -> Step:
    state = turn.state
    if state.stage != "anything_else":
        return _poll(turn, ctx)
    if event.ok:
        turn.line(f"Sure. If an earlier time opens up, we'll text {phone_ending(state.details.phone)}, and you can "
                  "reply YES to take it. Your booking stays as it is until then.")
    else:
        turn.line("I'm sorry, I couldn't put you on the list for an earlier time just now. Your booking stays as "
                  "it is.")
    return turn.ask("anything_else", "Is there anything else I can help you with?")


def _changes():
    """The calls about an existing booking (imported late: that module builds on this one)."""
    from shared.domain.dialog import changes
    return changes


def _merge(existing: list[datetime], more: list[datetime]) -> list[datetime]:
    return list(dict.fromkeys([*existing, *more]))[-50:]
