"""Which of the services the receptionist offered the caller means, when they answer by describing the need.

When the caller's words fit several event types ("my furnace": a tune-up, or a visit for no heat?), the dialog
asks "Is that a furnace or A/C tune-up or a visit for no heat or no cooling?". Callers rarely repeat a name
back; they say what they need: "it's broken", "it's not working it needs fixing", "the repair one", "no it's
not a tune up". :func:`choose_service` reads such an answer against the offered event types:

1. an ordinal ("the first one", "the second", "the last one");
2. the answer read alone names one of them ("the tune up");
3. the *kind* of need said -- repair, routine maintenance, new work, a price -- matches the kind of exactly one
   of them (an event type's kind comes from its own key, name and caller phrases: "No heat / no cooling" is a
   repair, "Furnace or A/C tune-up" maintenance, "Water heater replacement" new work, "Phone estimate" a
   price); a kind word said negated ("it's not a tune up") does not count;
4. the earlier words and the answer read together ("furnace" + "it died") name one of them.

Pure and fast, like the parser; ``None`` when the answer does not decide (the dialog asks its own way).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from shared.domain.understanding import services
from shared.domain.understanding.services import Catalog, catalog_of, is_estimate_type
from shared.domain.understanding.text import clean_words

# What a caller says for each kind of need (words as the parser cleans them: contractions opened).
_SAID = {
    "repair": ("not working", "broken", "broke", "busted", "fix", "fixed", "fixing", "repair", "repaired",
               "repairs", "needs work", "not heating", "not cooling", "no heat", "no cooling", "no air",
               "no cold air", "no hot air", "no warm air", "stopped", "quit", "died", "dead", "not turning on",
               "not come on", "not turn on", "not kick on", "not start", "does not work", "not blowing",
               "went out", "acting up", "malfunctioning", "something is wrong", "problem", "not running",
               "leaking", "shuts off", "shutting off", "keeps shutting", "cold air", "warm air", "no flame",
               "is out", "emergency", "not a tune up", "not maintenance", "not a checkup", "not routine",
               "cracked", "crack", "split", "grinding", "banging", "rattling", "squealing", "noise", "noisy"),
    "maintenance": ("tune up", "tuneup", "maintenance", "check up", "checkup", "routine", "annual", "yearly",
                    "once a year", "inspection", "inspected", "servicing", "serviced", "just a check",
                    "cleaning and check", "seasonal", "clean and check", "check it over", "before winter",
                    "before summer"),
    "install": ("new one", "a new", "brand new", "replace", "replaced", "replacing", "replacement", "install",
                "installed", "installing", "installation", "put in", "swap it out"),
    "estimate": ("estimate", "quote", "price", "pricing", "how much", "bid", "ballpark", "cost"),
}
# The words in an event type's key, name and caller phrases that give its kind (first kind found wins).
_KIND_WORDS = (
    ("maintenance", frozenset({"tune", "tuneup", "maintenance", "checkup", "inspection", "annual", "seasonal"})),
    ("install", frozenset({"install", "installation", "replacement", "replace", "new"})),
    ("repair", frozenset({"repair", "repairs", "fix", "broke", "broken", "no", "not", "emergency", "leak",
                          "burst", "out"})),
)
_NEGATORS = frozenset({"not", "no", "never", "without", "forget"})
_ORDINALS = {"first": 0, "1st": 0, "former": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2}
_LAST = frozenset({"last", "latter"})


def choose_service(text: str, among: Sequence[str], *, event_types: Any, before: str | None = None,
                   answering: bool = True) -> str | None:
    """The key of the event type in ``among`` (the ones offered, in the order said) the caller's answer
    ``text`` picks, or ``None``. ``before`` are the caller's earlier words for the need (``service_phrase``);
    ``event_types`` is what :func:`parse` takes (a ``service_catalog(config)`` preferably). With ``answering``
    False the text is the need itself, not an answer to "A or B?": only the kind of need said counts (no ordinals:
    "my first floor sink")."""
    among = [key for key in among if key]
    if not among or not text or not text.strip():
        return None
    words = clean_words(text.lower())
    if not words:
        return None
    catalog = catalog_of(event_types)
    ordinal = _ordinal(words, len(among)) if answering else None
    if ordinal is not None:
        return among[ordinal]
    alone = services.match_service(words, catalog) if answering else None  # the need itself was read already
    if alone is not None and alone.key in among:
        return alone.key
    kinds = _kinds_of(catalog)
    said = _kinds_said(words)
    for kind in said:
        fitting = [key for key in among if kinds.get(key) == kind]
        if len(fitting) == 1:
            return fitting[0]
    if before:
        together = services.match_service(clean_words(f"{before} {text}".lower()), catalog)
        if together is not None and together.key in among:
            return together.key
    return None


def names_work(text: str, *, event_types: Any) -> bool:
    """Whether ``text`` says a kind of work ("it's broken", "just a cleaning") or a service by itself, as a
    caller taking back the work they asked for must ("no actually yes book it" says neither)."""
    words = clean_words((text or "").lower())
    return bool(words) and (bool(_kinds_said(words)) or services.match_service(words, catalog_of(event_types))
                            is not None)


def _ordinal(words: list[str], count: int) -> int | None:
    """"the first one", "the second", "the last one": only in a short answer about the options themselves."""
    if len(words) > 6:
        return None
    for word in words:
        if word in _ORDINALS and _ORDINALS[word] < count:
            return _ORDINALS[word]
        if word in _LAST:
            return count - 1
    return None


def _kinds_said(words: list[str]) -> list[str]:
    """The kinds of need the words say, not negated, the last said first ("not a tune up, it's broken")."""
    found: list[tuple[int, str]] = []
    for kind, phrases in _SAID.items():
        for phrase in phrases:
            parts = phrase.split()
            for i in range(len(words) - len(parts) + 1):
                if words[i:i + len(parts)] != parts:
                    continue
                if parts[0] not in _NEGATORS and _NEGATORS.intersection(words[max(0, i - 3):i]):
                    continue  # "it's not a tune up": no tune-up; "not broken": no repair
                found.append((i, kind))
    order: list[str] = []
    for _, kind in sorted(found, reverse=True):
        if kind not in order:
            order.append(kind)
    return order


@functools.lru_cache(maxsize=16)
def _kinds_of(catalog: Catalog) -> dict[str, str]:
    """event type key -> its kind (estimate, maintenance, install, repair), when its own words say one."""
    kinds: dict[str, str] = {}
    for entry in catalog.entries:
        if entry.key is None:
            continue
        if entry.estimate or is_estimate_type(entry.owner):
            kinds[entry.key] = "estimate"
            continue
        said = set(clean_words(" ".join((entry.key, entry.label, *entry.owner)).lower()
                               .replace("-", " ").replace("/", " ")))
        for kind, marks in _KIND_WORDS:
            if said & marks:
                kinds[entry.key] = kind
                break
    return kinds
