"""A simulated caller: answers what the receptionist asks, from its own facts, as a person on the phone would.

It does not know how the receptionist works. After each turn it reads the receptionist's last words,
sorts the question with plain keyword rules (what's the problem, the address, the ZIP, the name, is this
number best, which number, when, which of these times, shall I book it, anything else, the e-mail...) and
answers from the call's facts in the corpus (``calls.yaml``): ``first`` (the first sentence),
``answers`` (what it says to each kind of question, in order when asked again), ``timing`` (which times it
can take), ``also`` (a second job it brings up when asked "anything else"). Offered times are heard and
checked against its timing: it takes one that fits, or declines and says again what it needs. Asked the
same thing again it rephrases; confused, it says "sorry?". It hangs up when the receptionist ends the call
or after ``MAX_TURNS`` of its own turns (a dialog that never ends is a failure, not a hang).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from .timing import Offer, hear_offers, violations

MAX_TURNS = 40

# How a person says which kind of job it is when asked to choose (not the business's service names).
JOB_WORDS = {
    "plumbing-repair": "it's a repair, something's broken or leaking",
    "drain-cleaning": "the drain needs cleaning out",
    "hydro-jetting": "it's the main sewer line",
    "water-heater-install": "i think the water heater needs replacing",
    "hvac-tune-up": "just a tune up, a checkup",
    "no-heat": "it's not working, it needs fixing",
    "emergency-leak": "it's an emergency, water everywhere",
    "estimate-call": "no, i just want a price over the phone",
    "teams-consult": "a video call",
    "equipment-dropoff": "i want to drop something off at the shop",
}
ORDINALS = ("the first one", "the second one", "the third one", "the fourth one")
# What a person says when told the time they asked for is not possible and offered the nearest instead.
NEAREST_WORDS = ("don't have", "do not have", "closest", "nearest", "earliest", "closed", "not open",
                 "next available", "no openings", "nothing", "isn't available", "not available", "fully booked")


@dataclass
class Job:
    """One thing the caller wants done: how they open, their answers, the times they can take."""

    first: str
    answers: dict[str, list[str]]
    timing: dict | None = None
    flexible: bool = False
    fallback: dict | None = None


@dataclass
class Heard:
    """What the caller noticed during the call, for the checks afterwards."""

    offers: list[list[Offer]] = field(default_factory=list)  # every set of times offered, in order
    chosen: list[Offer] = field(default_factory=list)  # the offers it said yes to, in order
    kinds: list[str] = field(default_factory=list)  # how it understood each question
    confirmed: int = 0  # read-backs it agreed to
    gave_up: bool = False


class Caller:
    """Answers the receptionist's questions from one corpus entry."""

    def __init__(self, entry: dict, *, now: datetime):
        self.entry = entry
        self.now = now
        self.jobs = [_job(entry)] + ([_job(entry["also"], base=entry)] if entry.get("also") else [])
        self.job_index = 0
        self.asked: dict[str, int] = {}
        self.heard = Heard()
        self.booked_jobs = 0
        self.declines = 0

    @property
    def job(self) -> Job:
        return self.jobs[self.job_index]

    # ------------------------------------------------------------ the conversation

    def opening(self) -> str | None:
        """The first thing said after the greeting (``None``: silence)."""
        return self.job.first

    def reply(self, turn: list[str]) -> str | None:
        """What to say to the receptionist's latest turn (its lines since the caller last spoke)."""
        text = " ".join(turn)
        last = (turn[-1] if turn else "").lower()
        low = text.lower()
        if _any(low, ("you're all set", "you are all set", "is booked", "you're booked", "all booked")):
            self.booked_jobs = max(self.booked_jobs, self.job_index + 1)
        kind = classify(last, low)
        self.heard.kinds.append(kind)
        count = self.asked.get(kind, 0)
        self.asked[kind] = count + 1
        answer = getattr(self, f"_on_{kind}", self._on_other)(text, last, count)
        return answer

    # ------------------------------------------------------------ answers by kind of question

    def _say(self, kind: str, count: int, default: str | None = None) -> str | None:
        """The caller's ``count``-th answer to ``kind`` (the last one again, rephrased, when asked more)."""
        options = self.job.answers.get(kind) or self.jobs[0].answers.get(kind)
        if not options:
            return default
        if count < len(options):
            return options[count]
        again = options[-1]
        if again is None:
            return None
        return ("um " if count % 2 else "i said ") + again

    def _on_need(self, text, last, count):
        if self.booked_jobs > self.job_index and self.job_index + 1 >= len(self.jobs):
            return "oh, nothing else, that's all thanks"  # its job is booked and it has no other
        if count == 0 and self.job.answers.get("need") is None:
            return self.job.first or "i need someone to come out"
        return self._say("need", count, self.job.first)

    def _on_address(self, text, last, count):
        return self._say("address", count)

    def _on_zip(self, text, last, count):
        return self._say("zip", count)

    def _on_name(self, text, last, count):
        return self._say("name", count)

    def _on_spell(self, text, last, count):
        return self._say("spell", count, _spell(self.entry["facts"]["name"]))

    def _on_number_ok(self, text, last, count):
        return self._say("number_ok", count, "yes")

    def _on_number(self, text, last, count):
        return self._say("number", count, "the one i'm calling from")

    def _on_email(self, text, last, count):
        return self._say("email", count, "i don't really use email")

    def _on_note(self, text, last, count):
        return self._say("note", count, "just have someone call me back please")

    def _on_when(self, text, last, count):
        return self._say("when", count, "whenever you have")

    def _on_anything_else(self, text, last, count):
        if self.job_index + 1 < len(self.jobs) and self.booked_jobs > self.job_index:
            self.job_index += 1
            self.asked = {"anything_else": self.asked.get("anything_else", 0)}
            return self.job.first
        return self._say("anything_else", count, "no that's it thanks")

    def _on_second_visit(self, text, last, count):
        """"You're already booked ... Do you need a second, separate visit?": only if it wants one."""
        return self._say("second_visit", count, "no, just the one visit")

    def _on_yes_no(self, text, last, count):
        return self._say("yes_no", count, "yes")

    def _on_check(self, text, last, count):
        """"Did you say 6 0 6 1 4?": yes when it matches what the caller knows, else the right value."""
        facts = self.entry["facts"]
        digits = re.sub(r"\D", "", last)
        for value in (facts.get("zip"), facts.get("callback"), facts.get("house")):
            if value and digits and re.sub(r"\D", "", str(value)).endswith(digits[-4:]):
                return "yes"
        name = facts.get("name", "").lower()
        if name and any(part in last for part in name.split()):
            return "yes"
        return "yes" if count == 0 else "no"

    def _on_service(self, text, last, count):
        """"Is that a tune-up or a repair?": the caller says, in its own words, which kind of job it is."""
        expect = self.entry.get("expect", {})
        services = expect.get("also_service") if self.job_index else expect.get("service")
        default = JOB_WORDS.get((services or [""])[0], "i'm not sure, " + (self.job.first or "it's a repair"))
        return self._say("service", count, default)

    def _on_what_else(self, text, last, count):
        """"What else can I help you with?" after a "yes": the next job, or nothing more."""
        if self.job_index + 1 < len(self.jobs) and self.booked_jobs > self.job_index:
            return self._on_anything_else(text, last, 0)
        return ("oh, nothing else, that's all thanks", "nothing, i'm all set", "that's it, bye")[min(count, 2)]

    def _on_offers(self, text, last, count):
        offers = hear_offers(text, self.now)
        if offers:
            self.heard.offers.append(offers)
        elif self.heard.offers:  # "say the first one, the second one, or neither": the last times heard
            offers = self.heard.offers[-1]
        fitting = [offer for offer in offers if not violations(offer.start, self.job.timing, self.now)]
        if not fitting and self.job.flexible and _any(text.lower(), NEAREST_WORDS):
            fitting = [offer for offer in offers if not violations(offer.start, self.job.fallback, self.now)]
        scripted = self.job.answers.get("pick")
        if scripted and count < len(scripted):
            index = self.entry.get("expect", {}).get("offer", 1) - 1
            if 0 <= index < len(offers):
                self.heard.chosen.append(offers[index])
            return scripted[count]
        if not fitting:
            self.declines += 1
            if len(offers) == 1 and self.declines > 2:
                return "no"
            if not hear_offers(text, self.now) or self.declines > 2:
                return "neither"
            return self._say("decline", self.declines - 1,
                             "no, none of those work for me. " + (self._say("when", 0) or "another time"))
        # Callers don't all take the earliest time: spread them (deterministically) so they rarely collide.
        choice = fitting[sum(map(ord, self.entry["id"])) % len(fitting)]
        self.heard.chosen.append(choice)
        return _pick_phrase(self.entry["id"], choice, offers, is_question="?" in last)

    def _on_confirm(self, text, last, count):
        scripted = self.job.answers.get("confirm")
        if scripted and count < len(scripted):
            answer = scripted[count]
        else:
            answer = self._readback_problem(text) or "yes please"
        if answer and answer.split()[0] in ("yes", "yeah", "yep", "sure", "correct", "perfect"):
            self.heard.confirmed += 1
        return answer

    def _readback_problem(self, text: str) -> str | None:
        """A person corrects a read-back that has their name or ZIP wrong."""
        facts = self.entry["facts"]
        low = text.lower()
        name = facts.get("name", "").lower()
        if name and name not in low and " for " in low:
            return f"no, the name is {name}"
        return None

    def _on_other(self, text, last, count):
        if count == 0:
            return "sorry?"
        if count == 1:
            return self._say("other", 0, "sorry, what was that?")
        return self._say("need", 0, self.job.first)


# ---------------------------------------------------------------- sorting questions

def classify(last: str, turn: str) -> str:
    """The kind of question in the receptionist's last line (``turn``: everything it just said)."""
    if _any(last, ("what else can i", "what else do you", "what else would")):
        return "what_else"
    if _any(last, ("anything else", "something else i can", "anything more", "else can i help")):
        return "anything_else"
    if _any(last, ("second, separate", "separate visit", "another visit", "second visit", "already booked")):
        return "second_visit"
    if _any(last, ("shall i book", "should i book", "book it?", "go ahead and book", "want me to book",
                   "shall i go ahead", "should i go ahead")):
        return "confirm"
    if _TIMES.search(last) and _any(last, ("which", "work", "would", "prefer", "?", "like")):
        return "offers"
    if _any(last, ("the first one", "the second one", "neither", "either of those", "one of those")):
        return "offers"
    if _any(last, ("is that right", "is that correct", "does that sound right", "sound good", "confirm")) \
            and not _any(last, ("number ending", "calling from")):
        return "confirm"
    if _any(last, ("e-mail", "email")):
        return "email"
    if "spell" in last:
        return "spell"
    if _any(last, ("address", "where do you need", "street", "where are you located", "where is the")):
        return "address"
    if _any(last, ("zip", "postal")):
        return "zip"
    if _any(last, ("did you say", "i heard", "was that")) or re.search(r"\bis that \d", last):
        return "check"
    if "name" in last:
        return "name"
    if _any(last, ("ending in", "calling from", "best one to reach", "call you back at", "reach you at",
                   "this number", "text you at")):
        return "number_ok"
    if _any(last, ("number", "reach you")):
        return "number"
    if _any(last, ("when would", "what day", "what time", "good time", "when works", "when is good", "prefer",
                   "day or time", "when do you", "when can", "when should", "what days", "what times",
                   "suit you", "earliest open")):
        return "when"
    if _any(last, ("pass along", "message", "anything you'd like", "anything to add", "tell them")):
        return "note"
    if re.search(r"\bis (?:that|it) (?:a |an |the )?[a-z]", last) and " or " in last:
        return "service"
    if _any(last, ("how can i help", "what can i help", "what kind of", "what's the problem", "what is the problem",
                   "going on", "what do you need", "what service", "describe", "what seems", "what happened",
                   "what's wrong", "tell me about", "what type of", "what else can i help", "help you with")):
        return "need"
    if _any(last, ("are you safe", "is everyone", "shut off", "turned off", "are you outside", "right?", "okay?",
                   "ok?", "can you", "do you", "is it", "are you", "is there")):
        return "yes_no"
    return "other"


_TIMES = re.compile(r"\b\d{1,2}(?::\d{2})?\s*[ap]\.?m\b|\bnoon\b", re.IGNORECASE)


def _any(text: str, words) -> bool:
    return any(word in text for word in words)


def _spell(name: str) -> str:
    last = name.split()[-1]
    return f"{last.lower()}, " + " ".join(last.lower())


def _pick_phrase(call_id: str, choice: Offer, offers: list[Offer], *, is_question: bool) -> str:
    """How this caller says which time it takes (varied by caller, always unambiguous)."""
    style = sum(map(ord, call_id)) % 5
    same_time = [offer for offer in offers if offer.said.lower() == choice.said.lower()]
    if len(offers) == 1:
        return ("yes that works", "yeah that's fine", "sure, that works", "ok yeah let's do that", "perfect")[style]
    if style == 0 and choice.position < len(ORDINALS):
        return ORDINALS[choice.position]
    if style == 1 and len(same_time) == 1:
        return f"{choice.said.lower()} please"
    if style == 2 and len(same_time) == 1:
        return f"um the {choice.said.lower()} one"
    if style == 3:
        return f"{choice.day_said.lower()} at {choice.said.lower()} works for me"
    return ("let's do the first one", "the second", "the third one")[min(choice.position, 2)] if choice.position < 3 \
        else f"{choice.day_said.lower()} at {choice.said.lower()}"


def _job(spec: dict, *, base: dict | None = None) -> Job:
    answers = {key: (value if isinstance(value, list) else [value])
               for key, value in (spec.get("answers") or {}).items()}
    if spec.get("when") and "when" not in answers:  # a second job says its timing at the top level
        answers["when"] = [spec["when"]]
    if base is not None:  # a second job: the caller's details stay the same
        inherited = {key: value for key, value in (base.get("answers") or {}).items()
                     if key in ("address", "zip", "name", "spell", "number_ok", "number", "email")}
        answers = {**{k: (v if isinstance(v, list) else [v]) for k, v in inherited.items()}, **answers}
    return Job(first=spec.get("first"), answers=answers, timing=spec.get("timing"),
               flexible=bool(spec.get("flexible")), fallback=spec.get("fallback"))
