"""Calls about an existing booking: cancel it, move it, or ask when it is (and whether the technician is coming).

The flow: find the caller's upcoming bookings (by the caller id; else by the booking reference from the
confirmation text, or the number they booked with) -> several: ask which -> verify -> act.

What each way of being found allows (docs/SECURITY.md, "Changes by phone"):

* the caller id alone, or the reference: read the booking back (day, time, service, technician's first
  name, status -- never the address);
* a change (cancel, move) needs a second factor for the chosen booking: the ZIP code of the service
  address (or, found by the caller id, the booking's reference). A number said (calling from another
  phone) is not a factor at all: the ZIP code comes before anything is read back. Found by a name and
  ZIP code, the ZIP code is the factor (it was part of the lookup);
* three wrong ZIP codes lock the booking's phone self-service for a while (:class:`LockSelfService`,
  which also tells the owner) and the call becomes a message.

A cancel is read back and confirmed ("Cancel your plumbing repair on Tuesday at 10 AM?"), then runs the
cancel saga; a move offers real times for that booking (its routing, the current technician first) and,
on the caller's yes, runs the reschedule saga, which holds the new time before it lets the old one go.
Pure, like the rest of the machine; the voice service's action runner does the I/O.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from shared.domain.dialog import machine as m
from shared.domain.dialog.model import (BookingsFound, Change, ChangeBooking, ChangeUpdate, DialogContext,
                                        FindBookings, FindSlots, FoundBooking, Heard, LockSelfService, Offer, Step,
                                        SlotsFound, zip_digest)
from shared.domain.dialog.offers import beyond_offers, chosen_offer, more_wanted, restates_offers
from shared.domain.dialog.speech import phone_ending, service_name, spoken_choices, spoken_time
from shared.domain.understanding import TimePreference, accepts, parse

MAX_ZIP_MISSES = 3
MAX_LOOKUPS = 3  # caller id, then at most two things said (a reference, a number) before a message
LOCKED_LINE = ("For your security, changes to that appointment by phone are paused for now. I'll take a message "
               "and someone from the office will call you back.")
_HEX_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
              "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "ate": "8", "nine": "9",
              "a": "a", "ay": "a", "b": "b", "be": "b", "bee": "b", "c": "c", "see": "c", "sea": "c", "d": "d",
              "dee": "d", "e": "e", "f": "f", "ef": "f", "k": "k", "kay": "k"}
_REFERENCE = re.compile(r"bk([0-9a-f]{24})")
_UNDER = re.compile(r"^(?:(?:it'?s|it is|that'?s|the appointment is|it should be)\s+)?(?:under\s+)?(?:the name\s+)?"
                    r"(?:of\s+)?", re.IGNORECASE)


def spoken_reference(text: str) -> str | None:
    """The booking reference in the caller's words (``bk_`` and 24 hex digits, read out or spelt), else None."""
    words = re.findall(r"[a-z0-9]+", text.lower().replace("_", " "))
    squashed = "".join(_HEX_WORDS.get(word, word if len(word) > 1 and word.isalnum() else word)
                       for word in words if word not in ("underscore", "dash", "my", "reference", "is", "ref",
                                                         "number", "it", "the", "s", "its"))
    found = _REFERENCE.search(squashed)
    return f"bk_{found.group(1)}" if found else None


# ---------------------------------------------------------------- entry

def begin(turn: m._Turn, intent: str, ctx: DialogContext, times: Sequence[TimePreference] = ()) -> Step:
    """The caller asked about an existing booking: look for theirs (caller id first). ``times``: what they said
    about when, kept for a move ("can we do this afternoon instead?")."""
    state = turn.state
    m._release(turn)
    state.offers = []
    state.times = list(times) if intent == "reschedule" else []
    state.mode = "change"
    previous = state.change
    state.change = Change(intent=intent, done=previous.done if previous else [])
    if state.caller:
        return _lookup(turn, "caller_id", state.caller)
    return _ask_reference(turn, "Sure. Do you have the booking reference from your confirmation text? It starts with "
                                "B K. Or tell me the phone number you booked with.")


def _lookup(turn: m._Turn, kind: str, value: str) -> Step:
    change = turn.state.change
    change.lookups.append(kind)
    turn.state.stage = "change_lookup"
    return turn.act(FindBookings(kind, value)).waiting()


def _ask_reference(turn: m._Turn, prompt: str) -> Step:
    return turn.ask("change_lookup", prompt, timeout=8)


def found(turn: m._Turn, event: BookingsFound, ctx: DialogContext) -> Step:
    """The answer to a lookup."""
    state, change = turn.state, turn.state.change
    if change is None or state.stage != "change_lookup":
        return m._poll(turn, ctx)
    if event.failed:
        turn.line("I'm sorry, I can't reach the schedule right now.")
        return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; the schedule could not be read",
                             auto_body=True)
    upcoming = [item for item in event.bookings if item.start > ctx.now and item.status == "confirmed"
                and item.booking_id not in change.done]
    if not upcoming:
        return _none_found(turn, event.kind, ctx)
    change.identified = event.kind
    change.verified = event.kind == "name_zip"  # the ZIP code was said to find it
    change.bookings = upcoming[:4]
    if len(change.bookings) == 1:
        change.chosen = change.bookings[0].booking_id
        return _next(turn, ctx)
    return _ask_which(turn, ctx)


def _none_found(turn: m._Turn, kind: str, ctx: DialogContext) -> Step:
    change = turn.state.change
    if len(change.lookups) >= MAX_LOOKUPS:
        turn.line("I'm sorry, I couldn't find that appointment.")
        return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; no booking found", auto_body=True)
    change.said_name = None
    if kind == "caller_id":
        return _ask_reference(turn, "I don't see an upcoming appointment under the number you're calling from. If "
                                    "you have the booking reference from your confirmation text, please read it to "
                                    "me. It starts with B K. Or tell me the phone number or the name you booked "
                                    "with.")
    return _ask_reference(turn, "I couldn't find an upcoming appointment for that. Could you read me the reference, "
                                "or the phone number or name you booked with?")


def _ask_which(turn: m._Turn, ctx: DialogContext) -> Step:
    state, change = turn.state, turn.state.change
    state.offers = [Offer(start=item.start, end=item.end) for item in change.bookings]  # "the first one", "Friday"
    if not change.identified == "phone":  # a number said alone reads nothing back, not even which days
        listed = m.sentence_list([f"{_service(item, ctx)} {m._on(_when(item, ctx))}" for item in change.bookings])
        listed = listed.replace(" or ", " and ")
        return turn.ask("change_which", f"I see {len(change.bookings)} upcoming appointments: {listed}. Which one "
                                        "is this about?")
    change.chosen = change.bookings[0].booking_id  # verified below before anything is said or changed
    return _next(turn, ctx)


def _next(turn: m._Turn, ctx: DialogContext) -> Step:
    """The booking is chosen: verify what must be, then read it back, confirm a cancel, or look for times."""
    state, change = turn.state, turn.state.change
    booking = change.booking
    state.offers = []
    if booking.locked:
        turn.line(LOCKED_LINE)
        return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; phone self-service is locked",
                             auto_body=True)
    if change.intent == "status" and change.identified in ("caller_id", "reference"):
        return _read_back(turn, ctx)
    if not change.verified:
        if booking.zip_digest is None:  # no ZIP on file (not on-site): only the reference can be the factor
            if change.identified == "reference":
                change.verified = True
                return _next(turn, ctx)
            return _ask_reference(turn, "For your security, please read me the booking reference from your "
                                        "confirmation text. It starts with B K.")
        return turn.ask("change_verify", "For your security, what's the ZIP code of the address where the "
                                         "appointment is?")
    if change.intent == "status":
        return _read_back(turn, ctx)
    if change.intent == "cancel":
        return turn.ask("change_confirm", f"Cancel your {_service(booking, ctx)} {m._on(_when(booking, ctx))}?")
    if change.new_start is None:
        # what was said about the new time when asking to move ("this afternoon instead"), less the words that
        # only described the visit as booked ("my plumber coming Tuesday")
        state.times = [p for p in state.times if p.kind == "not" or not accepts([p], booking.start, ctx.time_zone)]
        if any(p.kind in ("at", "window", "asap") for p in state.times):
            return _find(turn)
        state.times = []
        return turn.ask("change_time", "When would you like to move it to?")
    return _confirm_move(turn, ctx)


def _read_back(turn: m._Turn, ctx: DialogContext) -> Step:
    change = turn.state.change
    booking = change.booking
    who = f" with {booking.technician}" if booking.technician else ""
    turn.line(f"Your {_service(booking, ctx)} is {m._on(_when(booking, ctx))}{who}. It's confirmed, and "
              f"{'they' if not booking.technician else booking.technician} will be there.")
    return _after(turn, ctx)


def _after(turn: m._Turn, ctx: DialogContext) -> Step:
    """Back to helping with anything else (a new booking or another change)."""
    state = turn.state
    state.mode = "booking"
    return turn.ask("anything_else", "Is there anything else I can help you with?")


# ---------------------------------------------------------------- what the caller said

_KEEP_IT = re.compile(r"\b(?:leave it|keep it|keep the (?:original|old|same|one I have)|as it is|as is|never ?mind"
                      r"|forget it|don'?t (?:move|change|cancel) it|do not (?:move|change|cancel) it|leave the "
                      r"appointment)\b", re.IGNORECASE)


_MOVE_INSTEAD = re.compile(r"\b(?:move|reschedule|push|different (?:time|day)|another (?:time|day)|change the "
                           r"(?:time|day|date))\b", re.IGNORECASE)
_TAKE_BACK_CANCEL = re.compile(r"\b(?:didn'?t mean|did not mean|by mistake|put it back|undo|un-?cancel"
                               r"|take (?:that|it) back|shouldn'?t have cancel)", re.IGNORECASE)


def cancelled_by_mistake(state, text: str) -> bool:
    """ "Wait, no, I didn't mean to, can you put it back?" right after a cancel made in this call."""
    return bool(state.change and state.change.intent == "cancel" and state.change.done
                and _TAKE_BACK_CANCEL.search(text))


def heard(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u, change = turn.state, event.understanding, turn.state.change
    if change.intent == "cancel" and state.stage == "change_confirm" and _MOVE_INSTEAD.search(event.text):
        u = u.model_copy(update={"intent": "reschedule"})  # "actually wait, can I just move it instead?"
    if u.intent in ("cancel", "reschedule", "status") and u.intent != change.intent \
            and state.stage not in ("change_lookup", "change_verify"):
        change.intent = u.intent  # "actually, just cancel it"
        change.new_start = None
        if change.chosen is not None:
            return _next(turn, ctx)
    if state.stage in ("change_confirm", "change_time", "change_offer") and _KEEP_IT.search(event.text):
        state.offers = []
        turn.line("Okay, your appointment stays as it is.")  # "never mind, leave it where it is"
        return _after(turn, ctx)
    handler = {"change_lookup": _heard_lookup, "change_which": _heard_which, "change_verify": _heard_zip,
               "change_confirm": _heard_confirm, "change_time": _heard_time,
               "change_offer": _heard_offer}.get(state.stage)
    if handler is None:
        return m._poll(turn, ctx)
    return handler(turn, event, ctx)


def _heard_lookup(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    u, change = event.understanding, turn.state.change
    reference = spoken_reference(event.text)
    if change.chosen is not None and change.booking is not None:  # asked for the reference as the second factor
        if reference == change.chosen:
            change.verified = True
            return _next(turn, ctx)
        if reference or u.answer == "no":
            turn.line("I'm sorry, that doesn't match this appointment.")
            return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; could not verify the booking",
                                 auto_body=True)
        return m._miss(turn, ctx, "Sorry, please read me the reference, letter by letter.")
    if reference:
        return _lookup(turn, "reference", reference)
    if u.phone:
        return _lookup(turn, "phone", u.phone)
    if u.answer == "no" or u.intent == "no":
        return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; has no reference", auto_body=True)
    name = u.name or parse(_UNDER.sub("", event.text.strip()), now=ctx.now, time_zone=ctx.time_zone,
                           expecting="name").name
    if name:
        change.said_name = name
        if u.postal_code:
            return _lookup(turn, "name_zip", f"{name}|{u.postal_code}")
        return turn.ask("change_verify", "And what's the ZIP code of the address where the appointment is?")
    return m._miss(turn, ctx, "Sorry, I didn't get that. Please read the reference letter by letter, or say the "
                              "phone number or the name you booked with.")


def _heard_which(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    u, change = event.understanding, turn.state.change
    index = None
    choice = u.choice
    if choice is not None and choice.kind != "none":
        if choice.start is not None:
            index = next((i for i, item in enumerate(change.bookings) if item.start == choice.start), None)
        if index is None and choice.index is not None and 0 <= choice.index < len(change.bookings):
            index = choice.index
    if index is None:
        index = _named(event.text, change.bookings, ctx)
    if index is None:
        return m._miss(turn, ctx, "Sorry, which appointment: the first one or the second one?")
    change.chosen = change.bookings[index].booking_id
    return _next(turn, ctx)


def _named(text: str, bookings: list[FoundBooking], ctx: DialogContext) -> int | None:
    """The booking whose service or weekday the caller named ("the drain cleaning", "the Friday one")."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    hits = [i for i, item in enumerate(bookings)
            if words & {w for w in _service(item, ctx).lower().split() if len(w) > 3}
            or m.DAY_NAMES[item.start.astimezone(m.zone(ctx.time_zone)).weekday()].lower() in words]
    return hits[0] if len(hits) == 1 else None


def _heard_zip(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u, change = turn.state, event.understanding, turn.state.change
    booking = change.booking
    said = u.postal_code or spoken_reference(event.text)
    if said is None:
        return m._miss(turn, ctx, "Sorry, what's the five-digit ZIP code?")
    if booking is None:  # looking it up by the name said and this ZIP code
        if not u.postal_code:
            return _lookup(turn, "reference", said)
        return _lookup(turn, "name_zip", f"{change.said_name}|{u.postal_code}")
    if said == booking.booking_id or zip_digest(booking.booking_id, said) == booking.zip_digest:
        change.verified = True
        state.misses = 0
        return _next(turn, ctx)
    change.zip_misses += 1
    if change.zip_misses >= MAX_ZIP_MISSES:
        booking.locked = True
        turn.act(LockSelfService(booking.booking_id, state.caller, "three wrong ZIP codes by phone"))
        turn.line("I'm sorry, that doesn't match our records. " + LOCKED_LINE)
        return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; ZIP code did not match three times "
                                        "(phone self-service locked)", auto_body=True)
    if change.zip_misses == 1:
        return turn.ask("change_verify", "That doesn't match what we have. Please say the five digits of the ZIP "
                                         "code again.")
    return turn.ask("change_verify", "That still doesn't match. Please try the ZIP code once more, one digit at a "
                                     "time.")


def _heard_confirm(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u, change = turn.state, event.understanding, turn.state.change
    booking = change.booking
    if u.answer == "yes" or u.intent == "yes":
        if not change.verified or booking.booking_id in change.done:  # never without the second factor
            return _next(turn, ctx)
        change.running = True
        state.stage = "change_moving"
        state.polls = 0
        start = change.new_start if change.intent == "reschedule" else None
        turn.line("One moment." if change.intent == "cancel" else "One moment while I move it.")
        return turn.act(ChangeBooking(change.intent, booking.booking_id, booking.version, start,
                                      was=booking.start)).waiting()
    if u.answer == "no" or u.intent == "no":
        if change.intent == "reschedule" and change.new_start is not None:
            state.passed = m._merge(state.passed, [change.new_start])
            change.new_start = change.new_end = None
            state.times = []
            return turn.ask("change_time", "No problem. What day or time would work better?")
        turn.line("Okay, your appointment stays as booked.")
        return _after(turn, ctx)
    return m._miss(turn, ctx, "Sorry, please say yes or no.")


def _heard_time(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u = turn.state, event.understanding
    if u.times:
        state.times = list(u.times)
    elif u.answer == "yes" or "earliest" in event.text.lower() or "anytime" in event.text.lower():
        state.times = [TimePreference(kind="any", phrase="any time")]
    if not state.times:
        return m._miss(turn, ctx, "Sorry, what day and time would work for you? For example, Thursday morning.")
    return _find(turn)


def _find(turn: m._Turn) -> Step:
    state, booking = turn.state, turn.state.change.booking
    state.stage = "change_time"
    exclude = tuple(m._merge(state.passed, [booking.start]))
    return turn.act(FindSlots(booking.event_type, tuple(state.times), None, exclude,
                              booking_id=booking.booking_id)).waiting()


def slots_found(turn: m._Turn, event: SlotsFound, ctx: DialogContext) -> Step:
    state, change = turn.state, turn.state.change
    if event.failed:
        turn.line("I'm sorry, I can't reach the schedule right now.")
        return m._to_message(turn, ctx, "wants to move an appointment; the schedule could not be read",
                             auto_body=True)
    nots = [pref for pref in state.times if pref.kind == "not"]
    slots = [slot for slot in event.slots if slot.start not in state.passed and slot.start != change.booking.start
             and accepts(nots, slot.start, ctx.time_zone)]
    slots = m._daytime(slots, ctx) or slots
    if not slots:
        turn.line("I'm sorry, I don't have any other open times for that soon.")
        return m._to_message(turn, ctx, "wants to move an appointment; no open times", auto_body=True)
    state.offers = m._two_offers(slots)
    choices = spoken_choices(state.offered_starts, ctx.time_zone, ctx.now)
    lead = "I have" if event.matched else "The closest I have"
    verb = "" if event.matched else (" is" if len(state.offers) == 1 else " are")
    question = "Does that work?" if len(state.offers) == 1 else "Which works better?"
    return turn.ask("change_offer", f"{lead}{verb} {choices}. {question}")


def _heard_offer(turn: m._Turn, event: Heard, ctx: DialogContext) -> Step:
    state, u, change = turn.state, event.understanding, turn.state.change
    offers, choice = state.offers, u.choice
    if (picked := chosen_offer(offers, u)) is not None:
        change.new_start, change.new_end = picked.start, picked.end
        return _confirm_move(turn, ctx)
    more = more_wanted(event.text) if choice is not None and choice.kind == "none" \
        and restates_offers(state.offered_starts, u) else None
    if (choice is not None and choice.kind == "none") or u.answer == "no" or u.intent == "no" or u.times:
        offered = state.offered_starts
        state.passed = m._merge(state.passed, offered)
        state.offers = []
        if more is not None:  # "anything later?": look again now
            state.times = beyond_offers(state.times, more, offered, ctx.now, ctx.time_zone)
            return _find(turn)
        if u.times:
            state.times = list(u.times)
            return _find(turn)
        state.times = []
        return turn.ask("change_time", "No problem. What day or time would work better?")
    return m._miss(turn, ctx, "Sorry, which time works for you?")


def _confirm_move(turn: m._Turn, ctx: DialogContext) -> Step:
    change = turn.state.change
    booking = change.booking
    turn.state.offers = []
    old = _when(booking, ctx)
    new = spoken_time(change.new_start, ctx.time_zone, ctx.now)
    return turn.ask("change_confirm", f"Move your {_service(booking, ctx)} from {old} to {new}?")


# ---------------------------------------------------------------- the saga's answer

def poll(turn: m._Turn, ctx: DialogContext) -> Step:
    """A redirect while the cancel or reschedule saga runs: ask how it stands."""
    change = turn.state.change
    booking = change.booking
    start = change.new_start if change.intent == "reschedule" else None
    return turn.act(ChangeBooking(change.intent, booking.booking_id, booking.version, start, first=False,
                                  was=booking.start)).waiting()


def updated(turn: m._Turn, event: ChangeUpdate, ctx: DialogContext) -> Step:
    state, change = turn.state, turn.state.change
    if change is None or state.stage != "change_moving" or change.chosen != event.booking_id:
        return m._poll(turn, ctx)
    booking = change.booking
    if event.status == "pending":
        state.polls += 1
        if state.polls > m.MAX_POLLS:
            turn.line("I'm sorry, this is taking longer than it should.")
            return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; the change did not finish in time",
                                 auto_body=True)
        if state.polls % 4 == 0:
            turn.line("Still working on it, thanks for your patience.")
        return turn.redirect()
    change.running = False
    if event.status == "done":
        change.done.append(booking.booking_id)
        state.outcome = "changed"
        texting = f" We'll text a confirmation to {phone_ending(state.caller)}." if ctx.texts_enabled else ""
        if change.intent == "cancel":
            turn.line(f"Done. Your {_service(booking, ctx)} {m._on(_when(booking, ctx))} is cancelled.{texting}")
        else:
            new = spoken_time(change.new_start, ctx.time_zone, ctx.now)
            turn.line(f"You're all set. Your {_service(booking, ctx)} is now {m._on(new)}.{texting}")
        return _after(turn, ctx)
    if event.status == "conflict" and change.intent == "reschedule":
        state.passed = m._merge(state.passed, [change.new_start])
        change.new_start = change.new_end = None
        turn.line("I'm sorry, that time was just taken. Your appointment is still at its old time.")
        return _find(turn)
    turn.line("I'm sorry, I couldn't make that change. Your appointment is as it was.")
    return m._to_message(turn, ctx, f"wants to {_wants(change.intent)}; the change failed "
                                    f"({event.reason or 'unknown reason'})", auto_body=True)


# ---------------------------------------------------------------- small helpers

def _service(booking: FoundBooking, ctx: DialogContext) -> str:
    event_type = ctx.config.event_types_by_key.get(booking.event_type)
    return service_name(event_type) if event_type is not None else "appointment"


def _when(booking: FoundBooking, ctx: DialogContext) -> str:
    return spoken_time(booking.start, ctx.time_zone, ctx.now)


def _wants(intent: str) -> str:
    return {"cancel": "cancel an appointment", "reschedule": "move an appointment",
            "status": "check on an appointment"}[intent]
