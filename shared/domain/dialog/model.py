"""What the conversation state machine works with: the call's state, what happens to it, and what it asks for.

* :class:`CallState` -- everything the receptionist knows about one call (JSON, stored per CallSid).
* Events -- what the machine reacts to: the caller speaking (an
  :class:`~shared.domain.understanding.Understanding`) or staying silent, a redirect poll, the results
  of actions it asked for (slots found, hold status), a transfer ending, and the caller hanging up.
* Actions -- what the trigger must do for it: :class:`FindSlots`, :class:`PlaceHold`, :class:`CheckHold`,
  :class:`ConfirmHold`, :class:`ReleaseHold`, :class:`TakeMessage`. Queries answer with an event.
* :class:`Step` -- the machine's answer: the new state, lines to say, actions, and how the turn ends
  (:class:`Listen`, :class:`Redirect`, :class:`Transfer` or :class:`Hangup`).

A hold is named by its ``key`` (``<CallSid>/<attempt>``); the service derives the booking id (the saga's
instance id) from it, so the machine stays free of storage details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.booking import UtcDatetime
from shared.domain.business import BusinessConfig
from shared.domain.understanding import Expecting, TimePreference, Understanding

Stage = Literal["need", "address", "postal_code", "name", "phone_confirm", "phone", "email", "time", "offer",
                "holding", "readback", "confirming", "anything_else", "second_visit", "message", "transferring",
                "ended", "change_lookup", "change_which", "change_verify", "change_confirm", "change_time",
                "change_offer", "change_moving"]
Mode = Literal["booking", "message", "change"]
Outcome = Literal["booked", "changed", "message_taken", "transferred", "abandoned", "failed"]
ChangeIntent = Literal["cancel", "reschedule", "status"]
LookupKind = Literal["caller_id", "reference", "phone", "name_zip"]
HoldStatus = Literal["placing", "held", "confirming", "confirmed", "released"]

# What each listening stage asks the parser to expect.
EXPECTING: dict[str, Expecting | None] = {
    "need": "need", "address": "address", "postal_code": "postal_code", "name": "name", "phone_confirm": "confirm",
    "phone": "phone", "email": "email", "time": "time", "offer": "choice", "readback": "confirm",
    "anything_else": "need", "second_visit": "confirm", "message": None,
    "change_lookup": None, "change_which": "choice", "change_verify": "postal_code", "change_confirm": "confirm",
    "change_time": "time", "change_offer": "choice",
}


class _State(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class Details(_State):
    """What the caller told us about themselves and the job."""

    event_type: str | None = None
    service_phrase: str | None = None
    name: str | None = None
    address: str | None = None
    postal_code: str | None = None
    phone: str | None = None
    email: str | None = None


class Offer(_State):
    """A time read out to the caller (aware UTC)."""

    start: UtcDatetime
    end: UtcDatetime


class BookedJob(_State):
    """A booking this call made: what, where and when (a second one for the same job needs the caller's word)."""

    event_type: str
    address: str | None = None
    start: UtcDatetime


class Hold(_State):
    """The hold placed (or being placed) for the caller's chosen time."""

    key: str
    event_type: str
    start: UtcDatetime
    end: UtcDatetime
    status: HoldStatus = "placing"
    started: bool = False  # the saga was started (a deferred placement is retried on the next poll)
    replaces: str | None = None  # key of an earlier hold of this call that must end first


class FoundBooking(_State):
    """An upcoming booking of the caller's, as the receptionist may use it (never the address)."""

    booking_id: str
    event_type: str
    start: UtcDatetime
    end: UtcDatetime
    status: str
    version: int = 0
    technician: str | None = None  # the host's first name
    zip_digest: str | None = None  # see :func:`zip_digest`: checks a ZIP said without keeping the booking's
    locked: bool = False  # phone self-service is locked (wrong ZIP codes)


class Change(_State):
    """A call about an existing booking: what the caller wants, what was found and what was verified.

    ``identified``: how the booking was found (the caller id, its reference, a number said); ``verified``:
    a second factor (the ZIP code of the service address, or the reference on top of the caller id) was
    given for the chosen booking. Nothing is changed before it is.
    """

    intent: ChangeIntent
    identified: LookupKind | None = None
    lookups: list[str] = Field(default_factory=list)  # lookups done, by kind
    said_name: str | None = None  # the name the booking is under, said to look it up with its ZIP code
    bookings: list[FoundBooking] = Field(default_factory=list)
    chosen: str | None = None
    verified: bool = False
    zip_misses: int = 0
    new_start: UtcDatetime | None = None
    new_end: UtcDatetime | None = None
    running: bool = False  # the cancel or reschedule saga has been asked for
    done: list[str] = Field(default_factory=list)  # booking ids changed in this call (never changed twice)

    @property
    def booking(self) -> "FoundBooking | None":
        return next((found for found in self.bookings if found.booking_id == self.chosen), None)


def zip_digest(booking_id: str, postal_code: str | None) -> str | None:
    """A booking's ZIP code as the call state keeps it: salted by the booking id, first five digits only."""
    import hashlib
    digits = "".join(ch for ch in (postal_code or "") if ch.isdigit())[:5]
    if len(digits) != 5:
        return None
    return hashlib.sha256(f"{booking_id}|{digits}".encode()).hexdigest()[:32]


class CallState(_State):
    """One call, as stored between webhooks."""

    call_sid: str
    caller: str | None = None  # caller id in E.164, when Twilio gave a usable one
    started_at: UtcDatetime
    stage: Stage = "need"
    mode: Mode = "booking"
    details: Details = Field(default_factory=Details)
    caller_id_declined: bool = False
    times: list[TimePreference] = Field(default_factory=list)
    urgent: bool = False
    signals: list[str] = Field(default_factory=list)
    gas_warned: bool = False
    offers: list[Offer] = Field(default_factory=list)
    passed: list[UtcDatetime] = Field(default_factory=list)  # starts declined or lost: not offered again
    hold: Hold | None = None
    attempts: int = 0
    misses: int = 0
    polls: int = 0
    turns: int = 0
    prompt: str = ""
    heard: list[str] = Field(default_factory=list)  # the caller's last few utterances (for a message)
    message_reason: str | None = None
    message_body: str | None = None
    message_asked: bool = False
    outcome: Outcome | None = None
    booked: list[str] = Field(default_factory=list)  # hold keys that became bookings
    jobs: list[BookedJob] = Field(default_factory=list)  # what those bookings were, to tell a repeat from a new job
    second_visit: bool = False  # the caller confirmed that this job is a second, separate visit
    asked: dict[str, int] = Field(default_factory=dict)  # question -> times said this call (never a third time)
    callback_note: str | None = None  # another number the caller said that could not be read, for the office
    carried_digits: str | None = None  # digits of a phone number or ZIP said so far, joined with the next ones
    change: Change | None = None  # a call about an existing booking (cancel, move, when is it)
    waitlisted: list[str] = Field(default_factory=list)  # hold keys whose booking is on the waitlist for earlier
    fixing: str | None = None  # a detail the caller said was wrong at the read-back, asked for again
    ended: bool = False

    @property
    def expecting(self) -> Expecting | None:
        return EXPECTING.get(self.stage)

    @property
    def offered_starts(self) -> list[datetime]:
        return [offer.start for offer in self.offers]


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class Heard:
    """The caller said something (``text``), understood as ``understanding``."""

    text: str
    understanding: Understanding


@dataclass(frozen=True, slots=True)
class Silence:
    """The caller said nothing before the gather timed out."""


@dataclass(frozen=True, slots=True)
class Poll:
    """A redirect came back: time to look at an orchestration the machine is waiting for."""


@dataclass(frozen=True, slots=True)
class SlotsFound:
    """The answer to :class:`FindSlots`: offered times in order, and whether they fit the caller's words."""

    slots: tuple[Offer, ...]
    matched: bool = True
    failed: bool = False  # the schedule could not be read


HoldOutcome = Literal["pending", "deferred", "held", "confirmed", "lost", "expired", "released", "failed"]


@dataclass(frozen=True, slots=True)
class HoldUpdate:
    """Where the hold named ``key`` stands (the answer to :class:`PlaceHold` and :class:`CheckHold`)."""

    key: str
    status: HoldOutcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class DialEnded:
    """A transfer ended; ``status`` is Twilio's DialCallStatus (completed, answered, busy, no-answer, failed...)."""

    status: str


@dataclass(frozen=True, slots=True)
class HungUp:
    """The call ended (Twilio's status callback)."""


@dataclass(frozen=True, slots=True)
class BookingsFound:
    """The answer to :class:`FindBookings`: the upcoming bookings found (soonest first)."""

    kind: str
    bookings: tuple[FoundBooking, ...]
    failed: bool = False


ChangeStatus = Literal["pending", "done", "conflict", "failed"]


@dataclass(frozen=True, slots=True)
class ChangeUpdate:
    """Where a cancel or a move of ``booking_id`` stands (the answer to :class:`ChangeBooking`)."""

    booking_id: str
    status: ChangeStatus
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class WaitlistJoined:
    """The answer to :class:`JoinWaitlist`."""

    key: str
    ok: bool


Event = Union[Heard, Silence, Poll, SlotsFound, HoldUpdate, DialEnded, HungUp, BookingsFound, ChangeUpdate,
              WaitlistJoined]


# ---------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class FindSlots:
    """Ask the availability engine for times of ``event_type`` fitting ``times`` (answered by SlotsFound)."""

    event_type: str
    times: tuple[TimePreference, ...]
    postal_code: str | None = None
    exclude: tuple[datetime, ...] = ()
    urgent: bool = False
    booking_id: str | None = None  # a move: that booking's routing, its own time not counted as taken


@dataclass(frozen=True, slots=True)
class PlaceHold:
    """Start the booking saga for ``start`` awaiting confirmation (answered by HoldUpdate)."""

    key: str
    event_type: str
    start: datetime
    details: Details
    notes: str
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class CheckHold:
    """Read the saga's custom status for the hold ``key`` (answered by HoldUpdate).

    ``confirming``: the caller said yes, so a saga still ``held`` is still pending (the event is on its way).
    """

    key: str
    confirming: bool = False


@dataclass(frozen=True, slots=True)
class ConfirmHold:
    """The caller said yes: raise the confirmation to the saga."""

    key: str


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    """The caller let the time go (no, a change, a hang-up): raise the decline to the saga."""

    key: str


@dataclass(frozen=True, slots=True)
class TakeMessage:
    """E-mail the owner: who called, how to call back, why, and what they said."""

    reason: str
    urgent: bool
    details: Details
    caller: str | None
    body: str | None
    heard: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FindBookings:
    """Find the caller's upcoming bookings by ``kind`` (answered by :class:`BookingsFound`): the caller id
    or a number said (E.164, through the hashed phone index), a booking reference (its id), or a name and ZIP
    code (``name|zip``, through the hashed name-and-ZIP index)."""

    kind: LookupKind
    value: str


@dataclass(frozen=True, slots=True)
class ChangeBooking:
    """Cancel ``booking_id``, or move it to ``start`` (answered by :class:`ChangeUpdate`); ``version`` is the
    booking's version when found (the move's saga id, as the API's). ``first``: ask for it; else read how
    the saga asked for earlier stands."""

    kind: Literal["cancel", "reschedule"]
    booking_id: str
    version: int
    start: datetime | None = None
    first: bool = True
    was: datetime | None = None  # the booking's time when found (the owner's e-mail says what changed)


@dataclass(frozen=True, slots=True)
class LockSelfService:
    """Wrong ZIP codes: lock ``booking_id``'s phone self-service for a while and tell the owner."""

    booking_id: str
    caller: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class JoinWaitlist:
    """"Let me know if something earlier opens up": put the booking of hold ``key`` (confirmed) on the waitlist
    for an earlier time before ``start`` (answered by :class:`WaitlistJoined`)."""

    key: str
    event_type: str
    start: datetime
    details: Details


Action = Union[FindSlots, PlaceHold, CheckHold, ConfirmHold, ReleaseHold, TakeMessage, FindBookings, ChangeBooking,
               LockSelfService, JoinWaitlist]


# ---------------------------------------------------------------- how a turn ends


@dataclass(frozen=True, slots=True)
class Listen:
    """Gather the caller's speech; ``expecting`` tells the parser what was asked."""

    expecting: Expecting | None
    timeout_seconds: int = 5


@dataclass(frozen=True, slots=True)
class Redirect:
    """Come straight back (after ``pause_seconds``) to read an orchestration's progress."""

    pause_seconds: int = 0


@dataclass(frozen=True, slots=True)
class Transfer:
    number: str


@dataclass(frozen=True, slots=True)
class Hangup:
    pass


Ending = Union[Listen, Redirect, Transfer, Hangup]


@dataclass(frozen=True, slots=True)
class Step:
    """The machine's answer to one event."""

    state: CallState
    say: tuple[str, ...] = ()
    actions: tuple[Action, ...] = ()
    then: Ending = field(default_factory=Hangup)


@dataclass(frozen=True, slots=True)
class DialogContext:
    """What the machine needs to know about the world for one event (never stored)."""

    now: datetime
    config: BusinessConfig
    office_open: bool = True
    transfer_number: str | None = None
    on_call_number: str | None = None
    emergency_within: timedelta = timedelta(hours=4)
    texts_enabled: bool = True

    @property
    def time_zone(self) -> str:
        return self.config.business.time_zone
