"""TwiML for one turn, built with the twilio library: lines said, then listen, redirect, transfer or hang up.

Everything said before a ``<Gather>`` is nested inside it, so a caller who already knows the answer can
speak over the prompt (barge-in). A ``<Gather>`` posts back even when the caller said nothing
(``actionOnEmptyResult``): that is how silence reaches the dialog. Every URL carries the turn's sequence
number, which is how a retried webhook is told from a new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.domain.dialog import Hangup, Listen, Redirect, Transfer

LANGUAGE = "en-US"
HINTS_LIMIT = 1000  # characters of speech hints; Twilio takes a few hundred phrases
DIAL_TIMEOUT_SECONDS = 25
CONFIRM_HINTS = ("yes", "no", "that's right", "book it")
CHOICE_HINTS = ("the first one", "the second one", "either", "neither", "the earlier one", "the later one")


@dataclass(frozen=True, slots=True)
class TurnUrls:
    """Absolute webhook URLs as Twilio must call them (the signature covers the exact URL)."""

    base: str  # e.g. https://frontdesk.example.com/api

    def turn(self, seq: int) -> str:
        return f"{self.base}/voice/turn?seq={seq}"


def hints_for(expecting: str | None, service_phrases: Sequence[str]) -> str:
    """Speech hints for what was just asked: service words for the need, yes/no for confirmations..."""
    if expecting == "confirm":
        phrases: Sequence[str] = CONFIRM_HINTS
    elif expecting == "choice":
        phrases = CHOICE_HINTS + CONFIRM_HINTS
    elif expecting == "need":
        phrases = tuple(service_phrases) + ("emergency", "speak to someone")
    else:
        phrases = ()
    text = ""
    for phrase in dict.fromkeys(p.strip().replace(",", " ") for p in phrases if p.strip()):
        if len(text) + len(phrase) + 1 > HINTS_LIMIT:
            break
        text = f"{text},{phrase}" if text else phrase
    return text


def render(lines: Sequence[str], then, urls: TurnUrls, seq: int, *, voice: str, hints: str = "") -> str:
    """The TwiML document for a turn whose next webhook is number ``seq``."""
    from twilio.twiml.voice_response import VoiceResponse
    response = VoiceResponse()
    if isinstance(then, Listen):
        gather = response.gather(input="speech", action=urls.turn(seq), method="POST", speech_timeout="auto",
                                 timeout=then.timeout_seconds, language=LANGUAGE, action_on_empty_result=True,
                                 hints=hints or None)
        for line in lines:
            gather.say(line, voice=voice, language=LANGUAGE)
        return str(response)
    for line in lines:
        response.say(line, voice=voice, language=LANGUAGE)
    if isinstance(then, Redirect):
        if then.pause_seconds:
            response.pause(length=then.pause_seconds)
        response.redirect(urls.turn(seq), method="POST")
    elif isinstance(then, Transfer):
        response.dial(then.number, action=urls.turn(seq), method="POST", timeout=DIAL_TIMEOUT_SECONDS)
    elif isinstance(then, Hangup):
        response.hangup()
    else:
        raise TypeError(f"unknown turn ending {then!r}")
    return str(response)


def apology(voice: str) -> str:
    """What a caller hears when a turn fails outright: an apology and a clean hang-up, never silence."""
    from twilio.twiml.voice_response import VoiceResponse
    response = VoiceResponse()
    response.say("I'm sorry, something went wrong on our side. Please call again in a few minutes.", voice=voice,
                 language=LANGUAGE)
    response.hangup()
    return str(response)
