"""One Twilio webhook, end to end: load the call, understand the caller, advance the dialog, act, answer TwiML.

The call's state lives in Table Storage (``services.calls``, keyed by CallSid, saved with its ETag) as a
:class:`CallRecord`: the dialog state, the number of the last turn answered and the TwiML it got. Every
TwiML URL carries the next turn's number (``voice/turn?seq=N``), so:

- a retried webhook (Twilio did not get our answer) carries a number already answered and gets the same
  TwiML back, with nothing done twice;
- two overlapping webhooks of one call cannot both advance it: the second save fails on the ETag and
  that webhook answers with what the first one stored.

When a language model is configured and the local parser is unsure of what the caller said, the turn
answers at once with a short filler ("One moment.") and a redirect, keeping the words on the record
(``pending_speech``); the redirected turn asks the model (within its budget, the parser as fallback) and
goes on. The caller hears the filler instead of silence while the model thinks.

Side effects happen before the save: the saga is started under an instance id derived from the call
(a repeat joins it), confirmation events are idempotent, and a message e-mail could be sent twice only
if two copies of one turn raced to the very end (Twilio retries after a timeout, not concurrently).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared import clock as app_clock
from shared.domain.dialog import (CallState, DialEnded, DialogContext, Heard, HungUp, Listen, Redirect, Silence, Step,
                                  advance, parse_office_hours, start)
from shared.domain.phones import try_e164
from shared.domain.text import without_controls
from shared.errors import ConflictError
from shared.logs import get_logger, log_context, redact
from shared.services.voice.actions import ACTIONS_BUDGET_SECONDS, ActionRunner, booking_id_of
from shared.services.voice.twiml import TurnUrls, apology, hints_for, render
from shared.services.voice.understand import Understander

log = get_logger(__name__)
UTC = timezone.utc

FILLERS = ("One moment.", "Let me see.", "Okay, one second.")
MAX_FEEDBACK = 6  # actions answered by events within one webhook (find -> offer, hold -> pending...)
MAX_SAVE_ATTEMPTS = 4
RESPONSES_KEPT = 4  # turns whose TwiML is kept for retries (Twilio retries the turn it is on), and the greeting
ENDED_STATUSES = {"completed", "busy", "failed", "no-answer", "canceled"}
TELEMETRY_OUTCOME = {"booked": "booked", "changed": "changed", "message_taken": "message_taken",
                     "transferred": "transferred", "abandoned": "abandoned", "failed": "failed"}


class CallRecord(BaseModel):
    """What is stored per call: the dialog, the last answered turn and its TwiML, and bookkeeping."""

    model_config = ConfigDict(extra="ignore")

    dialog: CallState
    answered: int = 0  # the number of the last turn answered (the greeting is turn 0)
    responses: dict[int, str] = Field(default_factory=dict)  # TwiML of the last few turns, by number

    @property
    def twiml(self) -> str:
        """The TwiML of the last turn answered."""
        return self.responses.get(self.answered, "")

    def answer_for(self, seq: int | None) -> str:
        """What turn ``seq`` was answered with (a retry); an older turn than those kept gets the latest."""
        return self.responses.get(seq, self.twiml) if seq is not None else self.twiml

    def answered_with(self, seq: int, twiml: str) -> dict[int, str]:
        kept = {n: text for n, text in self.responses.items() if n == 0 or n > seq - RESPONSES_KEPT}
        return {**kept, seq: twiml}
    outcome_recorded: bool = False
    unsent_messages: list[dict[str, Any]] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)  # the last turn's model time, for diagnosis
    pending_speech: str | None = None  # words waiting for the model (read on the redirect after a filler)


@dataclass(frozen=True, slots=True)
class Webhook:
    """A validated Twilio request: the form fields Frontdesk reads and where to send the next turn."""

    call_sid: str
    urls: TurnUrls
    caller: str | None = None
    called: str | None = None
    speech: str | None = None
    seq: int | None = None
    call_status: str | None = None
    dial_status: str | None = None

    @classmethod
    def from_form(cls, form: dict[str, str], urls: TurnUrls, seq: int | None, default_region: str) -> "Webhook":
        return cls(call_sid=form.get("CallSid", ""), urls=urls, caller=try_e164(form.get("From"), default_region),
                   called=form.get("To"), speech=without_controls(form.get("SpeechResult") or "")[:1000] or None, seq=seq,
                   call_status=(form.get("CallStatus") or "").lower() or None,
                   dial_status=(form.get("DialCallStatus") or "").lower() or None)


class VoiceService:
    """The receptionist behind the three webhooks (see the module docstring).

    ``clock`` (the dialog's "now"), ``options`` (the ``VOICE__*`` settings) and ``language`` (the model
    adapter) start from ``services`` and may be replaced on a running service: the demo and the tests
    use that to place calls at a given hour, with a transfer number, or through another model endpoint.
    """

    def __init__(self, services, *, clock: Callable[[], datetime] | None = None, language: Any = ...):
        self.services = services
        self.settings = services.settings
        self.clock = clock or app_clock.now
        self._options = services.settings.voice
        self._office_hours = parse_office_hours(self._options.office_hours)
        self._language = language
        self._understander: Understander | None = None
        self._warming: asyncio.Task | None = None
        self._warmed_language: Any = None

    # ------------------------------------------------------------ wiring

    @property
    def config(self):
        return self.services.business

    @property
    def options(self):
        """The voice settings in force (``VoiceSettings``)."""
        return self._options

    @options.setter
    def options(self, value) -> None:
        self._office_hours = parse_office_hours(value.office_hours)
        self._options = value
        self._understander = None

    @property
    def language(self):
        return self.services.language if self._language is ... else self._language

    @language.setter
    def language(self, value) -> None:
        self._language = value
        self._understander = None

    @property
    def understander(self) -> Understander:
        if self._understander is None:
            voice, openai = self.options, self.settings.openai
            self._understander = Understander(self.config, language=self.language,
                                              budget_seconds=min(voice.model_budget_seconds, openai.timeout_seconds),
                                              default_region=self.settings.sms.default_region)
        return self._understander

    def context(self, now: datetime) -> DialogContext:
        voice = self.options
        return DialogContext(now=now, config=self.config,
                             office_open=self._office_hours.is_open(now, self.config.business.time_zone),
                             transfer_number=voice.transfer_number, on_call_number=voice.on_call_number,
                             emergency_within=timedelta(hours=voice.emergency_within_hours),
                             texts_enabled=self.settings.sms.provider != "none")

    def service_phrases(self) -> list[str]:
        return [phrase for event_type in self.config.event_types for phrase in event_type.caller_phrases]

    # ------------------------------------------------------------ the webhooks

    async def incoming(self, hook: Webhook, client) -> str:
        """``voice/incoming``: greet a new call (a retried one gets the same greeting back)."""
        self._warm_up_once()
        with log_context(call_id=hook.call_sid):
            stored = await self.services.calls.get(hook.call_sid)
            if stored is not None:
                return CallRecord.model_validate(stored.value).answer_for(0)
            now = self.clock()
            step = start(hook.call_sid, hook.caller, self.context(now))
            twiml = self._render(step, list(step.say), hook.urls, 1)
            record = CallRecord(dialog=step.state, answered=0, responses={0: twiml})
            try:
                await self.services.calls.create(hook.call_sid, record)
            except ConflictError:
                stored = await self.services.calls.get(hook.call_sid)
                return CallRecord.model_validate(stored.value).answer_for(0) if stored else twiml
            log.info("call answered (%s)", "in office hours" if self.context(now).office_open else "after hours")
            return twiml

    async def turn(self, hook: Webhook, client) -> str:
        """``voice/turn``: the caller spoke (or not), a redirect came back, or a transfer ended."""
        with log_context(call_id=hook.call_sid):
            stored = await self.services.calls.get(hook.call_sid)
            if stored is None:
                log.warning("a turn for a call with no state; answering it as a new call")
                return await self.incoming(hook, client)
            record = CallRecord.model_validate(stored.value)
            if hook.seq is not None and hook.seq <= record.answered:
                return record.answer_for(hook.seq)  # Twilio retried a turn we already answered
            redact(record.dialog.details.name, record.dialog.details.address)
            started = time.monotonic()
            now = self.clock()
            ctx = self.context(now)
            seq = (hook.seq if hook.seq is not None else record.answered + 1)
            if self._thinks_first(hook, record, now):
                return await self._filler(hook, record, stored.etag, seq)
            event, reading = await self._event(hook, record, now)
            runner = self._runner(client, now, hook.call_sid, deadline=started + ACTIONS_BUDGET_SECONDS)
            step, lines = await self._advance(record.dialog, event, ctx, runner)
            twiml = self._render(step, lines, hook.urls, seq + 1)
            updated = record.model_copy(update={
                "dialog": step.state, "answered": seq, "responses": record.answered_with(seq, twiml),
                "pending_speech": None,
                "unsent_messages": record.unsent_messages + [*runner.mail_failed],
                "timings_ms": {"model": reading.model_ms} if reading and reading.model_ms is not None else {}})
            saved = await self._save(hook.call_sid, updated, stored.etag)
            if saved is None:
                latest = await self.services.calls.get(hook.call_sid)
                return CallRecord.model_validate(latest.value).answer_for(seq) if latest else twiml
            await self._record_outcome(hook.call_sid, CallRecord.model_validate(saved.value), saved.etag)
            return twiml

    async def status(self, hook: Webhook, client) -> None:
        """``voice/status``: the call ended; let an unconfirmed hold go and record how the call went."""
        if hook.call_status not in ENDED_STATUSES:
            return
        with log_context(call_id=hook.call_sid):
            for _ in range(MAX_SAVE_ATTEMPTS):
                stored = await self.services.calls.get(hook.call_sid)
                if stored is None:
                    return
                record = CallRecord.model_validate(stored.value)
                now = self.clock()
                step, _ = await self._advance(record.dialog, HungUp(), self.context(now),
                                              self._runner(client, now, hook.call_sid))
                updated = record.model_copy(update={"dialog": step.state})
                if record.unsent_messages:
                    updated.unsent_messages = await self._retry_messages(record.unsent_messages)
                try:
                    saved = await self.services.calls.save(hook.call_sid, updated, stored.etag)
                except ConflictError:
                    continue
                await self._record_outcome(hook.call_sid, CallRecord.model_validate(saved.value), saved.etag)
                return
            log.warning("could not record the end of the call: its state kept changing")

    def _warm_up_once(self) -> None:
        """On this process's first call, load what the first real turns would otherwise pay for (msgraph-sdk's
        models, about a second; the parser's date fallback; the model SDK) in the background, while the
        caller listens to the greeting and answers it."""
        with _lock:
            if self._warming is None:
                self._warming = asyncio.get_running_loop().create_task(self._warm_up())
            elif self.language is not None and self._warmed_language is not self.language:
                # a model adapter swapped in later (settings, tests): warm it before its first, budgeted turn
                self._warmed_language = self.language
                asyncio.get_running_loop().create_task(self._warm_language(self.language))

    async def _warm_language(self, language) -> None:
        try:
            if hasattr(language, "warm_up"):
                await language.warm_up()
        except Exception as exc:  # noqa: BLE001 - warming is an optimisation; the turns work without it
            log.warning("language model warm-up failed (%s)", type(exc).__name__)

    async def _warm_up(self) -> None:
        from shared.adapters.graph_client import warm_up as warm_graph
        from shared.domain.understanding import warm_up as warm_parser
        try:
            if self.language is not None and hasattr(self.language, "warm_up"):  # first: its turns are budgeted
                self._warmed_language = self.language
                await self.language.warm_up()
            await asyncio.to_thread(warm_parser)
            await asyncio.to_thread(warm_graph)
        except Exception as exc:  # noqa: BLE001 - warming is an optimisation; the turns work without it
            log.warning("voice warm-up failed (%s); the first turns will be slower", type(exc).__name__)

    def _runner(self, client, now: datetime, call_sid: str, deadline: float | None = None) -> ActionRunner:
        return ActionRunner(self.services, self._availability(), client, now=now, call_sid=call_sid,
                            hold_seconds=self.options.hold_seconds, deadline=deadline)

    # ------------------------------------------------------------ inside a turn

    def _thinks_first(self, hook: Webhook, record: CallRecord, now: datetime) -> bool:
        """Whether this turn's words go to the model, so the caller should hear a filler while it reads them."""
        state = record.dialog
        return bool(hook.speech and not hook.dial_status and isinstance(state.expecting, str)
                    and self.understander.wants_model(hook.speech, now=now, expecting=state.expecting,
                                                      offered=state.offered_starts, carried=state.carried_digits))

    async def _filler(self, hook: Webhook, record: CallRecord, etag: str, seq: int) -> str:
        """Answer with a short filler and a redirect; the redirected turn reads the words with the model."""
        filler = FILLERS[seq % len(FILLERS)]
        twiml = render([filler], Redirect(0), hook.urls, seq + 1, voice=self.settings.twilio.voice)
        updated = record.model_copy(update={"answered": seq, "responses": record.answered_with(seq, twiml),
                                            "pending_speech": hook.speech})
        if await self._save(hook.call_sid, updated, etag) is None:
            latest = await self.services.calls.get(hook.call_sid)
            return CallRecord.model_validate(latest.value).answer_for(seq) if latest else twiml
        return twiml

    async def _event(self, hook: Webhook, record: CallRecord, now: datetime):
        state = record.dialog
        if hook.dial_status:
            return DialEnded(hook.dial_status), None
        speech = hook.speech or record.pending_speech  # words kept for the model while the caller heard a filler
        if not speech:
            return Silence(), None
        reading = await self.understander.read(speech, now=now, expecting=state.expecting,
                                               offered=state.offered_starts, carried=state.carried_digits)
        return Heard(speech, reading.understanding), reading

    async def _advance(self, state: CallState, event, ctx: DialogContext, runner: ActionRunner) -> tuple[Step, list]:
        """Advance the dialog and run its actions, feeding query answers back, until it waits on the caller."""
        step = advance(state, event, ctx)
        lines = list(step.say)
        for _ in range(MAX_FEEDBACK):
            answer = None
            for action in step.actions:
                result = await runner.run(action)
                answer = result if result is not None else answer
            if answer is None:
                break
            step = advance(step.state, answer, ctx)
            lines.extend(step.say)
        return step, lines

    def _render(self, step: Step, lines: list[str], urls: TurnUrls, next_seq: int) -> str:
        hints = ""
        if isinstance(step.then, Listen):
            hints = hints_for(step.then.expecting, self.service_phrases())
        return render(lines, step.then, urls, next_seq, voice=self.settings.twilio.voice, hints=hints)

    async def _save(self, call_sid: str, record: CallRecord, etag: str):
        try:
            return await self.services.calls.save(call_sid, record, etag)
        except ConflictError:
            log.info("another webhook of this call saved first; answering with its TwiML")
            return None

    async def _retry_messages(self, unsent: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Try once more to e-mail messages that failed during the call."""
        from shared.ports import MailMessage
        left = []
        for item in unsent:
            message = MailMessage(to=tuple(item["to"]), subject=item["subject"], body_html=item["bodyHtml"])
            try:
                sender = self.config.business.email or message.to[0]
                await self.services.mail.send_mail(sender, message)
            except Exception as exc:  # noqa: BLE001 - kept on the record for the office to see
                log.error("message e-mail failed again (%s)", type(exc).__name__)
                left.append(item)
        return left

    async def _record_outcome(self, call_sid: str, record: CallRecord, etag: str) -> None:
        """Once per call, when it has ended: the ``call.ended`` telemetry event with its outcome."""
        state = record.dialog
        if not state.ended or record.outcome_recorded or state.outcome is None:
            return
        from shared.telemetry import CALL_ENDED, record_event
        outcome = TELEMETRY_OUTCOME[state.outcome]
        if state.urgent and state.outcome != "booked":
            outcome = "emergency"
        record_event(CALL_ENDED, outcome=outcome, call_id=call_sid, dialog_outcome=state.outcome,
                     bookings=len(state.booked), turns=state.turns)
        try:
            await self.services.calls.save(call_sid, record.model_copy(update={"outcome_recorded": True}), etag)
        except ConflictError:
            pass  # a later webhook of this call saved meanwhile; at worst the event is recorded twice

    def _availability(self):
        from shared.services.availability import get_availability_service
        return get_availability_service(self.services)

    def booking_ids(self, state: CallState) -> list[str]:
        """The booking ids of the holds this call turned into bookings."""
        return [booking_id_of(key) for key in state.booked]


_lock = threading.Lock()
_built: dict[int, VoiceService] = {}


def get_voice_service(services=None) -> VoiceService:
    """The process's voice service for these services (built once; tests may swap its clock or language)."""
    from shared.services.container import get_services
    services = services or get_services()
    with _lock:
        service = _built.get(id(services))
        if service is None or service.services is not services:
            service = _built[id(services)] = VoiceService(services)
        return service


__all__ = ["CallRecord", "VoiceService", "Webhook", "apology", "get_voice_service"]


def reset_voice_services() -> None:
    """Forget the built receptionists (a new worker process starts without any)."""
    _built.clear()
