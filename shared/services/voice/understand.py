"""The language step of a turn: the local parser, and a language model only where the parser is unsure.

The local parser (``shared.domain.understanding.parse``) always runs first: it takes well under a
millisecond. When a model is configured (``OPENAI__KIND``) *and* the parser's reading does not answer what
was asked (:func:`unsure`: nothing usable, or no name when a name was asked, no number when a number was
asked, digits only partly heard...), the model fills the same :class:`Understanding` schema (strict
structured outputs) within ``VOICE__MODEL_BUDGET_SECONDS`` (never more than ``OPENAI__TIMEOUT_SECONDS``);
the voice service says a short filler first, so the caller never waits in silence. A timeout, an error, a
refusal or an answer that does not fit the schema falls back to the parser's reading in the same turn.
A model answer is checked against what the call knows (event type keys, the times actually offered)
and anything it made up is dropped. The model fills data only: the dialog decides what happens.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.business import BusinessConfig
from shared.domain.timezones import zone
from shared.domain.understanding import Understanding, parse, service_catalog
from shared.domain.understanding.acts import is_instruction_attempt
from shared.domain.understanding.text import clean_words, split_email
from shared.errors import ExternalServiceError
from shared.logs import get_logger

log = get_logger(__name__)

ASKED = {
    "need": "what the caller needs (the service)", "name": "the caller's name",
    "address": "the street address where the work is needed", "postal_code": "the ZIP code",
    "phone": "a callback phone number", "email": "an e-mail address", "time": "when the caller is available",
    "choice": "which of the offered times the caller wants", "confirm": "a yes or no to the read-back",
}


@dataclass(frozen=True, slots=True)
class Reading:
    """What one utterance meant, and who read it (``model``, ``parser``, or ``parser`` after a model failure)."""

    understanding: Understanding
    source: str
    model_ms: float | None = None


CONTROL_INTENTS = {"speak_to_person", "cancel", "reschedule", "status", "question", "repeat", "wait", "goodbye",
                   "emergency"}


# Words that bend a time or a choice ("the day AFTER the 12th", "BUT not too early", "the NOT so early one");
# when the parser's phrases leave them out, it read only part of what the caller meant.
_BENDING = re.compile(r"\b(?:after|before|but|except|not|unless|until|between|week of|day after|day before)\b")


def unsure(u: Understanding, expecting: str | None, text: str = "") -> bool:
    """Whether the parser's reading leaves the question unanswered, so that a model may read it better.

    Sure: a request the dialog acts on whatever was asked (a person, repeat, wait, goodbye, an emergency),
    or the thing that was asked for. Unsure: nothing usable, digits only partly heard, or not what was
    asked. Free text (a message to pass along, ``expecting`` None) never needs the model.
    """
    if expecting is None or (text and _aimed_at_the_machine(text)):
        return False  # free text, or words aimed at the machine: nothing a model should read
    if u.intent in CONTROL_INTENTS or u.is_emergency or u.corrects:
        return False
    if u.intent == "unknown" or u.partial_digits:
        return True
    answered = {
        "need": bool(u.event_type or u.not_offered) or u.answer is not None,  # "no" to "anything else?"
        "name": bool(u.name),
        "address": bool(u.address),
        "postal_code": bool(u.postal_code),
        "phone": bool(u.phone or u.use_caller_id),
        "email": bool(u.email),
        "time": bool(u.times) or u.answer is not None,
        "choice": u.choice is not None or u.answer is not None or bool(u.times),
        "confirm": u.answer is not None or bool(u.phone or u.use_caller_id),
    }
    if not answered.get(expecting, True):
        return True
    return expecting in ("time", "choice") and _left_out(text, u)


def _aimed_at_the_machine(text: str) -> bool:
    """"Ignore previous instructions...": read by the parser as nothing, and never handed to a model."""
    return is_instruction_attempt(" ".join(clean_words(split_email(text)[0])))


def _left_out(text: str, u: Understanding) -> bool:
    """Whether words that change a time's meaning were said outside every phrase the parser read."""
    said = set(_BENDING.findall(text.lower()))
    if not said:
        return False
    read = " ".join([pref.phrase for pref in u.times] + ([u.choice.phrase] if u.choice else [])).lower()
    return any(word not in read for word in said)


class Understander:
    """Turns a caller's words into an :class:`Understanding` (see the module docstring)."""

    def __init__(self, config: BusinessConfig, *, language=None, budget_seconds: float = 2.0,
                 default_region: str = "US"):
        self.config = config
        self.language = language
        self.budget_seconds = budget_seconds
        self.default_region = default_region
        self.catalog = service_catalog(config)  # the business's vocabulary and the work it does not offer

    def local(self, text: str, *, now: datetime, expecting: str | None, offered: Sequence[datetime] = (),
              carried: str | None = None) -> Understanding:
        """The local parser's reading (``carried``: digits of a number the caller began on the last turn)."""
        return parse(text, now=now, time_zone=self.config.business.time_zone, expecting=expecting,
                     event_types=self.catalog, offered=offered, default_region=self.default_region,
                     carried_digits=carried)

    def wants_model(self, text: str, *, now: datetime, expecting: str | None, offered: Sequence[datetime] = (),
                    carried: str | None = None) -> bool:
        """Whether this utterance will be sent to the model (one is configured and the parser is unsure)."""
        if self.language is None or not text.strip():
            return False
        return unsure(self.local(text, now=now, expecting=expecting, offered=offered, carried=carried), expecting,
                      text)

    async def read(self, text: str, *, now: datetime, expecting: str | None, offered: Sequence[datetime] = (),
                   carried: str | None = None) -> Reading:
        local = self.local(text, now=now, expecting=expecting, offered=offered, carried=carried)
        if self.language is None or not text.strip() or not unsure(local, expecting, text):
            return Reading(local, "parser")
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.budget_seconds):
                answer = await self.language.extract(self.instructions(now, expecting, offered), text, Understanding,
                                                     timeout=self.budget_seconds)
        except (ExternalServiceError, TimeoutError) as exc:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("language model unavailable after %.0f ms (%s); the local parser answers", elapsed,
                     type(exc).__name__)
            return Reading(local, "parser-fallback", elapsed)
        elapsed = (time.perf_counter() - started) * 1000
        checked = self.checked(answer, local, offered)
        log.info("parser unsure (%s); the model read it in %.0f ms", expecting, elapsed)
        return Reading(checked, "model" if checked is not local else "parser-fallback", elapsed)

    def checked(self, answer: Understanding, local: Understanding, offered: Sequence[datetime]) -> Understanding:
        """The model's answer without what it cannot know: unknown services, times that were never offered."""
        if answer.intent == "unknown" and local.intent != "unknown":
            return local
        changes: dict = {}
        if answer.event_type and answer.event_type not in self.config.event_types_by_key:
            changes["event_type"] = local.event_type
        choice = answer.choice
        if choice is not None:
            index_ok = choice.index is None or 0 <= choice.index < len(offered)
            start_ok = choice.start is None or choice.start in offered
            if not (index_ok and start_ok):
                changes["choice"] = local.choice
        return answer.model_copy(update=changes) if changes else answer

    def instructions(self, now: datetime, expecting: str | None, offered: Sequence[datetime]) -> str:
        """What the model is told: the business, the local time, what was just asked, the services, the offers."""
        time_zone = self.config.business.time_zone
        local_now = now.astimezone(zone(time_zone))
        services = "\n".join(f"- {t.key}: {t.name}" + (f" ({', '.join(t.caller_phrases)})" if t.caller_phrases else "")
                             for t in self.config.event_types)
        offers = "\n".join(f"- index {i}: {start.astimezone(zone(time_zone)).isoformat()}"
                           for i, start in enumerate(offered)) or "- none"
        return (
            f"You read one utterance of a caller to {self.config.business.name}'s phone receptionist and fill the "
            f"response schema with what it says.\n"
            f"Now: {local_now.strftime('%A')} {local_now.isoformat()} (time zone {time_zone}); read relative "
            f"dates like 'tomorrow' or 'Thursday afternoon' on this clock and write instants in ISO 8601 with the "
            f"offset.\n"
            f"The receptionist just asked for: {ASKED.get(expecting or '', 'anything the caller wants')}.\n"
            f"Services (event_type must be one of these keys, else null; work none of them covers goes in "
            f"not_offered):\n{services}\n"
            f"Times just offered (choice.index refers to these):\n{offers}"
        )
