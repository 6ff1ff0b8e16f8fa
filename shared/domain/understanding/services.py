"""Which service the caller needs: matching their words to the business's event types.

Each event type comes with the words callers use for it (``EventType.caller_phrases`` plus its name).
Words are compared after light stemming ("leaking" ~ "leak", "clogged" ~ "clog", "pipes" ~ "pipe")
and without small words ("my", "is", "the"), on word boundaries only. A phrase matches when all its
words occur close together in any order ("pipe burst" ~ "the pipe has burst"); a longer phrase beats a
shorter one ("water heater is leaking" is the water heater, not a plain leak). When no phrase matches
whole, single distinctive words count, weighted by how few event types share them; a tie between two
types leaves the type unknown (the dialog asks) while the caller's words are still reported.
A phrase right after "not"/"no"/"without" does not count ("it's not leaking").
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

_SMALL = frozenset({"a", "an", "the", "is", "are", "was", "were", "my", "our", "your", "of", "for", "to", "it",
                    "its", "this", "that", "i", "me", "we", "in", "on", "at", "with", "and", "has", "have", "had",
                    "been", "be", "just", "really", "very", "so", "some", "kind", "bit", "little", "again", "also",
                    "seems", "think", "got", "get", "gotten", "keeps", "keep", "kept", "started", "start"})
_NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "none"})
# Words too common to identify a service on their own.
_GENERIC = frozenset({"much", "what", "when", "need", "with", "come", "main", "line", "check", "work", "working",
                      "water", "service", "new", "out", "look", "please", "time", "price", "call", "visit",
                      "repair", "fix", "broke", "broken", "problem", "issue", "help", "someone", "there",
                      "house", "home", "going", "done", "install", "installation", "replace", "replacement",
                      "not", "how", "down", "back", "up", "off", "phone", "video", "teams", "consultation",
                      "appointment", "estimate"})
WINDOW_SLACK = 2
FULL_MATCH_WEIGHT = 10.0
GENERIC_WEIGHT = 1.0   # a generic word in a whole-phrase match ("how much")
TIE_BREAK = 0.1        # a generic word seen alongside a distinctive one ("furnace ... working")
SCATTERED = 0.9        # "water heater is leaking everywhere" is not quite "water everywhere"
# Symptoms whose negation means their absence ("it's not leaking"); "it's not draining" is a symptom itself.
_ABSENCE_STEMS = frozenset({"leak", "drip", "flood", "emergenc", "burst", "clog", "smell", "gas"})


def stem(word: str) -> str:
    """A light, symmetric stem: plural, -ing, -ed and -y endings and doubled consonants go, as does a final e."""
    w = word
    if len(w) > 4 and w.endswith("ies"):
        w = w[:-3] + "y"
    elif len(w) > 5 and w.endswith("ing"):
        w = w[:-3]
    elif len(w) > 4 and w.endswith("ed"):
        w = w[:-2]
    elif len(w) > 4 and (w.endswith("ches") or w.endswith("shes") or w[-3:] in ("ses", "xes", "zes")):
        w = w[:-2]
    elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        w = w[:-1]
    if len(w) > 4 and w.endswith("y") and w[-2] not in "aeiou":
        w = w[:-1]
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        w = w[:-1]
    if len(w) > 3 and w.endswith("e"):
        w = w[:-1]
    return w


@functools.cache
def _generic_stems() -> frozenset[str]:
    return frozenset(stem(w) for w in _GENERIC)


def content_stems(words: Iterable[str]) -> list[tuple[int, str]]:
    """(position, stem) of the words that carry meaning."""
    return [(i, stem(w)) for i, w in enumerate(words) if w not in _SMALL]


@dataclass(frozen=True, slots=True)
class _Phrase:
    stems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _Catalog:
    keys: tuple[str, ...]
    phrases: tuple[tuple[_Phrase, ...], ...]
    spread: dict[str, int]  # stem -> how many event types use it


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    key: str | None
    phrase: str
    start: int
    end: int


def catalog_of(event_types: Sequence[Any]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(key, phrases)`` pairs from ``EventType`` objects (name + caller phrases) or ready-made pairs."""
    out = []
    for item in event_types:
        if isinstance(item, tuple):
            key, phrases = item
            out.append((key, tuple(phrases)))
        else:
            out.append((item.key, (item.name, *item.caller_phrases)))
    return tuple(out)


@functools.lru_cache(maxsize=32)
def _compile(catalog: tuple[tuple[str, tuple[str, ...]], ...]) -> _Catalog:
    keys, phrase_sets, spread = [], [], {}
    for key, phrases in catalog:
        compiled = []
        seen_stems: set[str] = set()
        for phrase in phrases:
            words = "".join(c if c.isalnum() else " " for c in phrase.lower()).split()
            stems = tuple(s for _, s in content_stems(words))
            if stems:
                compiled.append(_Phrase(stems))
                seen_stems.update(stems)
        keys.append(key)
        phrase_sets.append(tuple(compiled))
        for s in seen_stems:
            spread[s] = spread.get(s, 0) + 1
    return _Catalog(tuple(keys), tuple(phrase_sets), spread)


def match_service(words: list[str], catalog: tuple[tuple[str, tuple[str, ...]], ...]) -> ServiceMatch | None:
    """The event type the words ask for (``key`` None when two fit equally), or ``None`` if none fits."""
    if not catalog or not words:
        return None
    compiled = _compile(catalog)
    stems = content_stems(words)
    if not stems:
        return None
    positions: dict[str, list[int]] = {}
    for index, (_, s) in enumerate(stems):
        positions.setdefault(s, []).append(index)
    scores: list[tuple[float, int, int]] = []  # (score, first word, last word) per event type
    for phrases in compiled.phrases:
        hits = [(_phrase_weight(phrase, hit), hit) for phrase in phrases
                if (hit := _full_match(phrase, stems, positions, words))]
        best = (0.0, 0, 0)
        if hits:  # the best phrase scores; the caller's words are all the phrases of this type they used
            best = (max(score for score, _ in hits), min(h[0] for _, h in hits), max(h[1] for _, h in hits))
        else:
            best = _partial_score(phrases, stems, positions, compiled.spread, words)
        scores.append(best)
    top = max(score for score, _, _ in scores)
    if top <= 0.0:
        return None
    winners = [i for i, (score, _, _) in enumerate(scores) if score == top]
    first = min(scores[i][1] for i in winners)
    last = max(scores[i][2] for i in winners)
    key = compiled.keys[winners[0]] if len(winners) == 1 else None
    return ServiceMatch(key, " ".join(words[first:last + 1]), first, last + 1)


def _phrase_weight(phrase: _Phrase, hit: tuple[int, int, bool]) -> float:
    """Whole-phrase matches count by their words; a phrase of only generic words ("how much") counts for
    little, and one said out of order or with words in between a little less than one said as written."""
    per_word = GENERIC_WEIGHT if set(phrase.stems) <= _generic_stems() else FULL_MATCH_WEIGHT
    return per_word * len(phrase.stems) * (1.0 if hit[2] else SCATTERED)


def _full_match(phrase: _Phrase, stems: list[tuple[int, str]], positions: dict[str, list[int]],
                words: list[str]) -> tuple[int, int, bool] | None:
    """(first word, last word, said as written) when all the phrase's stems occur close together, any order."""
    needed = set(phrase.stems)
    if not needed.issubset(positions):
        return None
    width = len(phrase.stems) + WINDOW_SLACK
    for anchor in positions[phrase.stems[0]]:
        low, high = max(0, anchor - width + 1), min(len(stems), anchor + width)
        window = {s for _, s in stems[low:high]}
        if needed <= window:
            members = [i for i in range(low, high) if stems[i][1] in needed]
            first, last = stems[min(members)][0], stems[max(members)][0]
            if _negated(words, first, phrase):
                continue
            as_written = any(tuple(s for _, s in stems[i:i + len(phrase.stems)]) == phrase.stems
                             for i in range(low, high))
            return first, last, as_written
    return None


def _negated(words: list[str], first: int, phrase: _Phrase) -> bool:
    if phrase.stems[0] in _NEGATORS or not set(phrase.stems) & _ABSENCE_STEMS:
        return False
    before = words[max(0, first - 2):first]
    return any(w in _NEGATORS for w in before)


def _partial_score(phrases: tuple[_Phrase, ...], stems: list[tuple[int, str]], positions: dict[str, list[int]],
                   spread: dict[str, int], words: list[str]) -> tuple[float, int, int]:
    generic = _generic_stems()
    used = {s for phrase in phrases for s in phrase.stems if s in positions}
    distinctive = {s for s in used if len(s) >= 4 and s not in generic}
    if not distinctive:
        return (0.0, 0, 0)
    members = [stems[i][0] for s in distinctive for i in positions[s]]
    if distinctive & _ABSENCE_STEMS and all(any(w in _NEGATORS for w in words[max(0, m - 2):m]) for m in members):
        return (0.0, 0, 0)
    score = sum(1.0 / spread[s] for s in distinctive) + TIE_BREAK * len(used - distinctive)
    return (score, min(members), max(members))
