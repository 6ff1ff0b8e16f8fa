"""A small world around the pure dialog machine: the example business, the slot engine on empty calendars,
and holds that succeed (or are lost) as a test says. Every step's state is round-tripped through JSON, as
the service stores it between webhooks. (Its own module, not conftest: ``from conftest import`` picks whichever
conftest was imported first when several test folders run together.)"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from shared.domain.availability import find_slots
from shared.domain.dialog import (CallState, CheckHold, DialogContext, FindSlots, Heard, HoldUpdate, Listen,
                                  PlaceHold, Poll, Redirect, Silence, advance, start)
from shared.domain.dialog.offers import fitting, widened
from shared.domain.understanding import parse, search_window, service_catalog

ROOT = Path(__file__).resolve().parents[3]
CHICAGO = ZoneInfo("America/Chicago")
# Tuesday 10 March 2026, 9:00 in Chicago.
TUESDAY_9AM = datetime(2026, 3, 10, 9, 0, tzinfo=CHICAGO).astimezone(timezone.utc)
CALLER = "+13125550188"


class World:
    """Runs a call through the machine the way the voice service does, with a simulated schedule."""

    def __init__(self, config, *, now: datetime = TUESDAY_9AM, caller: str | None = CALLER, **context):
        self.config = config
        self.ctx = DialogContext(now=now, config=config, **context)
        self.catalog = service_catalog(config)
        self.lost: set[datetime] = set()  # starts whose hold will be lost to another caller
        self.actions: list = []
        self.said: list[str] = []
        self.step = None
        self.step = self._settle(start("CA0001", caller, self.ctx))

    @property
    def state(self) -> CallState:
        return self.step.state

    def say(self, text: str | None) -> list[str]:
        """The caller speaks (None: silence); the lines said back."""
        if text is None:
            event = Silence()
        else:
            u = parse(text, now=self.ctx.now, time_zone=self.config.business.time_zone,
                      expecting=self.state.expecting, event_types=self.catalog, offered=self.state.offered_starts,
                      carried_digits=self.state.carried_digits)
            event = Heard(text, u)
        return self.event(event)

    def event(self, event) -> list[str]:
        before = len(self.said)
        self.step = self._settle(advance(self.state, event, self.ctx))
        return self.said[before:]

    def _settle(self, step):
        """Run actions, feed answers back and follow redirects, as the service and Twilio would."""
        for _ in range(40):
            self.said.extend(step.say)
            state = CallState.model_validate_json(step.state.model_dump_json())  # stored between webhooks
            step = self.step = type(step)(state, step.say, step.actions, step.then)
            self.actions.extend(step.actions)
            answer = None
            for action in step.actions:
                answer = self._answer(action) or answer
            if answer is not None:
                step = advance(step.state, answer, self.ctx)
                continue
            if isinstance(step.then, Redirect):
                step = advance(step.state, Poll(), self.ctx)
                continue
            return step
        raise AssertionError("the dialog kept going without waiting for the caller")

    def _answer(self, action):
        if isinstance(action, FindSlots):  # what the voice service does, on empty calendars
            event_type = self.config.event_type(action.event_type)
            horizon = min(event_type.maximum_advance, timedelta(days=14))
            lo, _ = search_window(list(action.times), self.ctx.now, horizon)
            slots = find_slots(event_type, self.config.eligible_hosts(event_type), {}, {}, self.ctx.now,
                               self.ctx.now + horizon, self.ctx.now)
            tz = self.config.business.time_zone
            return (fitting(action.times, slots, action.exclude, tz)
                    or widened(action.times, slots, action.exclude, lo, tz))
        if isinstance(action, PlaceHold):
            return HoldUpdate(action.key, "pending")
        if isinstance(action, CheckHold):
            hold = self.state_hold(action.key)
            if hold is not None and hold.start in self.lost:
                return HoldUpdate(action.key, "lost")
            return HoldUpdate(action.key, "confirmed" if action.confirming else "held")
        return None

    def state_hold(self, key):
        hold = self.step.state.hold if self.step is not None else None
        return hold if hold is not None and hold.key == key else None

    def of(self, kind) -> list:
        return [action for action in self.actions if isinstance(action, kind)]

    @property
    def listening(self) -> bool:
        return isinstance(self.step.then, Listen)
