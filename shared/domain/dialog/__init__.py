"""The voice receptionist's conversation: a pure state machine (``machine``) over a typed call state (``model``).

Usage (the voice service does this once per webhook)::

    step = start(call_sid, caller_id, ctx)              # greeting
    step = advance(state, Heard(text, understanding), ctx)
    # execute step.actions; a query's answer (SlotsFound, HoldUpdate) is fed back with advance();
    # say step.say, then step.then: Listen / Redirect / Transfer / Hangup

``speech`` says times and numbers the way a receptionist would; ``hours`` reads office hours.
"""

from shared.domain.dialog.hours import OfficeHours, OfficeHoursError, parse_office_hours
from shared.domain.dialog.machine import MAX_POLLS, MAX_REPROMPTS, MAX_SAME_PROMPT, MAX_TURNS, advance, start
from shared.domain.dialog.model import (Action, BookedJob, BookingsFound, CallState, Change, ChangeBooking,
                                        ChangeUpdate, FindBookings, FoundBooking, JoinWaitlist, LockSelfService,
                                        WaitlistJoined, zip_digest)
from shared.domain.dialog.model import (CheckHold, ConfirmHold, Details, DialEnded,
                                        DialogContext, Event, FindSlots, Hangup, Heard, Hold, HoldUpdate, HungUp,
                                        Listen, Offer, PlaceHold, Poll, Redirect, ReleaseHold, Silence, SlotsFound,
                                        Step, TakeMessage, Transfer)

__all__ = ["Action", "BookedJob", "BookingsFound", "Change", "ChangeBooking", "ChangeUpdate", "FindBookings",
           "FoundBooking", "JoinWaitlist", "LockSelfService", "WaitlistJoined", "zip_digest", "CallState", "CheckHold", "ConfirmHold", "Details",
           "DialEnded", "DialogContext",
           "Event", "FindSlots", "Hangup", "Heard", "Hold", "HoldUpdate", "HungUp", "Listen", "MAX_POLLS",
           "MAX_REPROMPTS", "MAX_SAME_PROMPT", "MAX_TURNS", "Offer", "OfficeHours", "OfficeHoursError", "PlaceHold",
           "Poll", "Redirect", "ReleaseHold", "Silence", "SlotsFound", "Step", "TakeMessage", "Transfer", "advance",
           "parse_office_hours", "start"]
