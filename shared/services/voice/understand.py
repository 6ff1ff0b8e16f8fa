"""The language step of a turn: the local parser, or a language model under a strict budget with the parser as fallback.

The local parser (``shared.domain.understanding.parse``) always runs: it takes well under a millisecond.
When a model is configured (``OPENAI__KIND``), it fills the same :class:`Understanding` schema within
``VOICE__MODEL_BUDGET_SECONDS`` (never more than ``OPENAI__TIMEOUT_SECONDS``); a timeout, an error, a
refusal or an answer that does not fit the schema falls back to the parser's reading in the same turn.
A model answer is checked against what the call knows (event type keys, the times actually offered)
and anything it made up is dropped. The model fills data only: the dialog decides what happens.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.domain.business import BusinessConfig
from shared.domain.timezones import zone
from shared.domain.understanding import Understanding, parse, service_catalog
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


class Understander:
    """Turns a caller's words into an :class:`Understanding` (see the module docstring)."""

    def __init__(self, config: BusinessConfig, *, language=None, budget_seconds: float = 2.0,
                 default_region: str = "US"):
        self.config = config
        self.language = language
        self.budget_seconds = budget_seconds
        self.default_region = default_region
        self.catalog = service_catalog(config.event_types)

    async def read(self, text: str, *, now: datetime, expecting: str | None,
                   offered: Sequence[datetime] = ()) -> Reading:
        time_zone = self.config.business.time_zone
        local = parse(text, now=now, time_zone=time_zone, expecting=expecting, event_types=self.catalog,
                      offered=offered, default_region=self.default_region)
        if self.language is None or not text.strip():
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
        return Reading(self.checked(answer, local, offered), "model", elapsed)

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
        services = "\n".join(f"- {key}: {', '.join(phrases)}" for key, phrases in self.catalog)
        offers = "\n".join(f"- index {i}: {start.astimezone(zone(time_zone)).isoformat()}"
                           for i, start in enumerate(offered)) or "- none"
        return (
            f"You read one utterance of a caller to {self.config.business.name}'s phone receptionist and fill the "
            f"response schema with what it says.\n"
            f"Now: {local_now.strftime('%A')} {local_now.isoformat()} (time zone {time_zone}); read relative "
            f"dates like 'tomorrow' or 'Thursday afternoon' on this clock and write instants in ISO 8601 with the "
            f"offset.\n"
            f"The receptionist just asked for: {ASKED.get(expecting or '', 'anything the caller wants')}.\n"
            f"Services (event_type must be one of these keys, else null):\n{services}\n"
            f"Times just offered (choice.index refers to these):\n{offers}"
        )
