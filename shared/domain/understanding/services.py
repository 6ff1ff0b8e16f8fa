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

from shared.domain.understanding.vocabulary import COST_WORDS, ESTIMATE_WORDS, NEW_WORK, TRADE_LABELS

_SMALL = frozenset({"a", "an", "the", "is", "are", "was", "were", "my", "our", "your", "of", "for", "to", "it",
                    "its", "this", "that", "i", "me", "we", "in", "on", "at", "with", "and", "has", "have", "had",
                    "been", "be", "just", "really", "very", "so", "some", "kind", "bit", "little", "again", "also",
                    "seems", "think", "got", "get", "gotten", "keeps", "keep", "kept", "started", "start",
                    "will", "would", "does", "do", "did", "can", "could", "not", "there", "making", "any", "all",
                    "some", "he", "she", "they", "them", "their", "s", "like", "from"})
_NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "none", "forget"})
# Words too common to identify a service on their own.
_GENERIC = frozenset({"much", "what", "when", "need", "with", "come", "main", "line", "check", "work", "working",
                      "water", "service", "new", "out", "look", "please", "time", "price", "call", "visit",
                      "repair", "fix", "broke", "broken", "problem", "issue", "help", "someone", "there",
                      "house", "home", "going", "done", "install", "installation", "replace", "replacement",
                      "not", "how", "down", "back", "up", "off", "phone", "video", "teams", "consultation",
                      "appointment", "estimate"})
WINDOW_SLACK = 2
# A phrase with one of these ("stopped up", "backed up", "heat went out") is a verb and its particle: it holds
# only in its own order ("it's not a tune up, it stopped working" says no "stopped up").
_PARTICLES = frozenset({"up", "down", "back", "off", "out", "over"})
FULL_MATCH_WEIGHT = 10.0
THING_WEIGHT = 20.0     # a named fixture or appliance decides more than a symptom
OWNER_NOT_OFFERED_WEIGHT = 16.0  # an owner who lists work they don't do means it ("solar panels" is not a panel)
OWNER_WEIGHT = 12.0     # the business's own words beat the built-in ones
SAYS_WEIGHT = FULL_MATCH_WEIGHT
EMERGENCY_BONUS = 100.0
NOT_OFFERED_MARGIN = 5.0  # work not offered must beat every offered match clearly (a message ends the booking)
GENERIC_WEIGHT = 1.0   # a generic word in a whole-phrase match ("how much")
TIE_BREAK = 0.1        # a generic word seen alongside a distinctive one ("furnace ... working")
SCATTERED = 0.9        # "water heater is leaking everywhere" is not quite "water everywhere"
# Symptoms whose negation means their absence ("it's not leaking"); "it's not draining" is a symptom itself.
# So do routine-work and new-work words: "it's not a tune up, it's broken" is no tune-up, "not a cleaning" no
# cleaning, "I don't need a new install" no install.
_ABSENCE_STEMS = frozenset({"leak", "drip", "flood", "emergenc", "burst", "clog", "smell", "gas",
                            "tun", "tuneup", "maintenanc", "checkup", "inspection",
                            "clean", "flush", "snak", "jet", "hydrojet", "install", "installation", "replacement"})


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
    weight: float = FULL_MATCH_WEIGHT  # per stem: a thing counts double, the business's own words a little more
    builtin_says: bool = False         # a built-in symptom: counts only whole, never word by word


@dataclass(frozen=True, slots=True)
class Entry:
    """One thing the catalog can recognise: an event type (``key``) or work not offered (``key`` None).

    ``owner`` are the business's own words (event type name, ``caller_phrases``, its ``not_offered``
    phrases); ``things`` and ``says`` come from the built-in or configured vocabulary (see ``vocabulary``).
    """

    key: str | None
    label: str
    owner: tuple[str, ...] = ()
    things: tuple[str, ...] = ()
    says: tuple[str, ...] = ()
    emergency: bool = False  # an emergency event type: in an emergency, it wins whenever its words fit
    estimate: bool = False   # the business's estimate / quote type: an estimate word outranks the thing named
    remote: bool = False     # not a visit (a call, a video, a drop-off at the shop): said how, it outranks the thing


@dataclass(frozen=True, slots=True)
class Catalog:
    """What callers may ask for at one business, and the speech-recognition errors to undo first."""

    entries: tuple[Entry, ...]
    mishearings: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = ()


@dataclass(frozen=True, slots=True)
class _Compiled:
    keys: tuple[str | None, ...]
    labels: tuple[str, ...]
    emergency: tuple[bool, ...]
    phrases: tuple[tuple[_Phrase, ...], ...]
    spread: dict[str, int]  # stem -> how many entries use it
    estimate: int | None    # the entry of the estimate / quote event type, if the business has one
    remote: frozenset[int]  # entries of the other event types that are no visit (phone, video, drop-off)
    mishearings: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]
    first_words: frozenset[str]
    by_first_stem: dict[str, tuple[tuple[int, _Phrase], ...]]  # a phrase's first stem -> (entry, phrase)
    partial_stems: tuple[frozenset[str], ...]                  # per entry: stems that count word by word


@dataclass(frozen=True, slots=True)
class ServiceMatch:
    key: str | None
    phrase: str
    start: int
    end: int
    not_offered: str | None = None  # what the caller needs that the business does not do
    estimate: bool = False          # the caller asked what new work would cost: the estimate / quote type


def catalog_of(event_types: Any) -> Catalog:
    """A :class:`Catalog` from a ready one, a ``BusinessConfig``, ``EventType`` objects or ``(key, phrases)`` pairs.

    Event types and configurations get the built-in trade vocabulary (``vocabulary.TOPICS``) linked to
    their event types and the built-in list of work not offered (see :func:`build_catalog`).
    """
    if isinstance(event_types, Catalog):
        return event_types
    remembered = _BY_IDENTITY.get(id(event_types))
    if remembered is not None and remembered[0] is event_types:
        return remembered[1]
    built = _catalog_of(event_types)
    if len(_BY_IDENTITY) >= 16:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[id(event_types)] = (event_types, built)  # keeps the source alive, so its id stays its own
    return built


# The dialog passes the same configuration objects on every turn; hashing pydantic models costs ~50 us.
_BY_IDENTITY: dict[int, tuple[Any, Catalog]] = {}


def _catalog_of(event_types: Any) -> Catalog:
    if hasattr(event_types, "event_types"):  # a BusinessConfig
        return build_catalog(tuple(event_types.event_types), getattr(event_types, "vocabulary", None))
    items = tuple(event_types)
    if not items:
        return Catalog(())
    if all(isinstance(item, tuple) for item in items):
        return Catalog(tuple(Entry(key, key, owner=tuple(phrases)) for key, phrases in items))
    return build_catalog(items, None)


def build_catalog(event_types: tuple, vocabulary: Any = None) -> Catalog:
    """The catalog of a business (cached: the same configuration objects give the same catalog)."""
    try:
        return _build_cached(event_types, vocabulary)
    except TypeError:  # unhashable stand-ins: build without the cache
        return _build(event_types, vocabulary)


@functools.lru_cache(maxsize=16)
def _build_cached(event_types: tuple, vocabulary: Any) -> Catalog:
    return _build(event_types, vocabulary)


def _build(event_types: tuple, vocabulary: Any) -> Catalog:
    from shared.domain.understanding import topics as linking  # the linking rules live with the vocabulary
    return linking.catalog(event_types, vocabulary)


@functools.lru_cache(maxsize=32)
def _compile(catalog: Catalog) -> _Compiled:
    keys, labels, phrase_sets, spread = [], [], [], {}
    for entry in catalog.entries:
        compiled: list[_Phrase] = []
        seen_stems: set[str] = set()
        owner_weight = OWNER_WEIGHT if entry.key is not None else OWNER_NOT_OFFERED_WEIGHT
        for texts, weight in ((entry.things, THING_WEIGHT), (entry.owner, owner_weight), (entry.says, SAYS_WEIGHT)):
            for phrase in texts:
                stems = tuple(s for _, s in content_stems(_phrase_words(phrase, catalog.mishearings)))
                if not stems or texts is not entry.owner and set(stems) <= _generic_stems():
                    continue  # a built-in phrase of only everyday words ("come on") would match anything
                compiled.append(_Phrase(stems, weight, builtin_says=texts is entry.says))
                if texts is not entry.says:
                    seen_stems.update(stems)
        keys.append(entry.key)
        labels.append(entry.label)
        phrase_sets.append(tuple(compiled))
        for s in seen_stems:
            spread[s] = spread.get(s, 0) + 1
    first_words = frozenset(heard[0] for heard, _ in catalog.mishearings)
    by_first_stem: dict[str, list[tuple[int, _Phrase]]] = {}
    for index, phrases in enumerate(phrase_sets):
        for phrase in phrases:
            by_first_stem.setdefault(phrase.stems[0], []).append((index, phrase))
    partial = tuple(frozenset(s for phrase in phrases if _counts_word_by_word(phrase) for s in phrase.stems)
                    for phrases in phrase_sets)
    estimate = next((i for i, e in enumerate(catalog.entries) if e.key is not None and
                     (e.estimate or is_estimate_type(e.owner))), None)
    return _Compiled(tuple(keys), tuple(labels), tuple(e.emergency for e in catalog.entries), tuple(phrase_sets),
                     spread, estimate, frozenset(i for i, e in enumerate(catalog.entries)
                                                 if e.remote and e.key is not None and i != estimate),
                     catalog.mishearings, first_words,
                     {stem_: tuple(pairs) for stem_, pairs in by_first_stem.items()}, partial)


def is_estimate_type(own_words: Iterable[str]) -> bool:
    """Whether an event type's own words (name, caller phrases) make it the estimate / quote type."""
    said = {w for text in own_words for w in text.lower().replace("/", " ").replace("-", " ").split()}
    return bool(said & _ESTIMATE_SINGLE)


_ESTIMATE_SINGLE = frozenset(w for w in ESTIMATE_WORDS if " " not in w)
_ESTIMATE_PAIRS = frozenset(tuple(w.split()) for w in ESTIMATE_WORDS if " " in w)
_COST_SINGLE = frozenset(w for w in COST_WORDS if " " not in w)
_COST_PHRASES = tuple(tuple(w.split()) for w in COST_WORDS if " " in w)
_NEW_SINGLE = frozenset(w for w in NEW_WORK if " " not in w)
_NEW_PHRASES = tuple(tuple(w.split()) for w in NEW_WORK if " " in w)


def _said(words: list[str], singles: frozenset[str], phrases: tuple = ()) -> int | None:
    """Where the first of ``singles`` or ``phrases`` is said, not right after a negation ("not a quote")."""
    for i, word in enumerate(words):
        hit = word in singles or any(tuple(words[i:i + len(p)]) == p for p in phrases)
        if hit and not any(w in _NEGATORS or w in ("dont", "don't") for w in words[max(0, i - 3):i]):
            return i
    return None


def _estimate_wanted(words: list[str]) -> tuple[int, bool] | None:
    """(where, strong) when the caller asks what a job would cost: an estimate word is strong ("a quote on
    replacing my furnace"); a cost word ("how much would it cost") is weak: it counts for new work or alone."""
    at = _said(words, _ESTIMATE_SINGLE, tuple(_ESTIMATE_PAIRS))
    if at is not None:
        return at, True
    at = _said(words, _COST_SINGLE, _COST_PHRASES)
    if at is not None:
        return at, False
    return None


def _counts_word_by_word(phrase: _Phrase) -> bool:
    """Only the business's own words and one-word things count word by word ("plans" is no "maintenance plan")."""
    return phrase.weight in (OWNER_WEIGHT, OWNER_NOT_OFFERED_WEIGHT) or len(phrase.stems) == 1 and not \
        phrase.builtin_says


def _phrase_words(phrase: str, mishearings) -> list[str]:
    """A vocabulary phrase read the way caller words are (contractions opened, mishearings undone)."""
    from shared.domain.understanding.text import plain_words  # text imports numbers only; no cycle
    return undo_mishearings(plain_words(phrase.replace("/", " ").replace("-", " ")), mishearings)


def undo_mishearings(words: list[str], mishearings) -> list[str]:
    """``words`` with every heard sequence of ``mishearings`` replaced by what was meant."""
    return _undo(words, mishearings, None)[0]


def _undo(words: list[str], mishearings, first_words: frozenset[str] | None) -> tuple[list[str], list[tuple[int, int]]]:
    """The words with mishearings undone, and each new word's span in the original words."""
    if not mishearings or first_words is not None and not first_words.intersection(words):
        return words, [(i, i + 1) for i in range(len(words))]
    by_first = _by_first_word(mishearings)
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        for heard, meant in by_first.get(words[i], ()):
            if tuple(words[i:i + len(heard)]) == heard:
                out.extend(meant)
                spans.extend([(i, i + len(heard))] * len(meant))
                i += len(heard)
                break
        else:
            out.append(words[i])
            spans.append((i, i + 1))
            i += 1
    return out, spans


def warm_up(catalog: Catalog) -> None:
    """Compile ``catalog`` now rather than on a caller's first turn."""
    _compile(catalog)


@functools.lru_cache(maxsize=16)
def _by_first_word(mishearings: tuple) -> dict[str, tuple]:
    index: dict[str, list] = {}
    for heard, meant in mishearings:  # already longest first
        index.setdefault(heard[0], []).append((heard, meant))
    return {word: tuple(pairs) for word, pairs in index.items()}


_TRADE_LABELS = frozenset(TRADE_LABELS.values())


def match_service(words: list[str], catalog: Any, *, emergency: bool = False) -> ServiceMatch | None:
    """The event type the words ask for (``key`` None when two fit equally, or when the work is not offered:
    then ``not_offered`` names it), or ``None`` if nothing fits. In an ``emergency`` an emergency event type
    whose words fit wins, and only a whole trade the business lacks is "not offered" (gas by the stove is
    not appliance repair; sparks at a plumber's are electrical work)."""
    if not catalog or not words:
        return None
    compiled = _compile(catalog_of(catalog))
    heard, spans = _undo(words, compiled.mishearings, compiled.first_words)
    stems = content_stems(heard)
    if not stems:
        return None
    positions: dict[str, list[int]] = {}
    for index, (_, s) in enumerate(stems):
        positions.setdefault(s, []).append(index)
    hits_of: dict[int, list] = {}
    for stem_ in positions:  # only phrases that start with a word said can match (an index, not a scan)
        for index, phrase in compiled.by_first_stem.get(stem_, ()):
            hit = _full_match(phrase, stems, positions, heard)
            if hit:
                hits_of.setdefault(index, []).append((_phrase_weight(phrase, hit), hit, phrase))
    scores: list[tuple[float, int, int]] = []  # (score, first word, last word) per entry
    for index in range(len(compiled.keys)):
        if index in hits_of:
            scores.append(_combined(hits_of[index], stems))
        elif compiled.partial_stems[index].isdisjoint(positions):
            scores.append((0.0, 0, 0))
        else:
            scores.append(_partial_score(compiled.partial_stems[index], stems, positions, compiled.spread, heard))
    offered = [i for i, key in enumerate(compiled.keys) if key is not None]
    declined = [i for i, key in enumerate(compiled.keys) if key is None]
    best_offered = max((scores[i][0] for i in offered), default=0.0)
    best_declined = max((scores[i][0] for i in declined), default=0.0)
    if emergency:
        urgent = [i for i in offered if compiled.emergency[i] and scores[i][0] >= FULL_MATCH_WEIGHT]
        if urgent:
            scores = [(score + EMERGENCY_BONUS if i in urgent else score, a, b) for i, (score, a, b) in enumerate(scores)]
            best_offered = max(scores[i][0] for i in offered)
    if emergency:  # only a whole trade the business lacks ("electrical work" for sparks at a plumber's) stays
        declined = [i for i in declined if compiled.labels[i] in _TRADE_LABELS]
        best_declined = max((scores[i][0] for i in declined), default=0.0)
    if best_declined >= FULL_MATCH_WEIGHT and best_declined > best_offered + NOT_OFFERED_MARGIN:
        winner = max(declined, key=lambda i: scores[i][0])
        first, last = spans[scores[winner][1]][0], spans[scores[winner][2]][1]
        return ServiceMatch(None, " ".join(words[first:last]), first, last, not_offered=compiled.labels[winner])
    top = best_offered
    estimate = _estimate_choice(compiled, heard, spans, scores, offered, emergency, words)
    if estimate is not None:
        return estimate
    remote = _remote_choice(compiled, hits_of, scores, spans, emergency, words)
    if remote is not None:
        return remote
    if top <= 0.0:
        return None
    winners = [i for i in offered if scores[i][0] == top]
    first = spans[min(scores[i][1] for i in winners)][0]
    last = spans[max(scores[i][2] for i in winners)][1]
    keys = {compiled.keys[i] for i in winners}
    key = compiled.keys[winners[0]] if len(keys) == 1 else None
    return ServiceMatch(key, " ".join(words[first:last]), first, last)


def _estimate_choice(compiled: _Compiled, heard: list[str], spans: list, scores: list, offered: list[int],
                     emergency: bool, words: list[str]) -> ServiceMatch | None:
    """The estimate / quote type when the caller asks for a price of new work: an estimate word outranks the
    thing named ("a quote on a new water heater" is the estimate, not the install); never in an emergency."""
    index = compiled.estimate
    if index is None or emergency or any(compiled.emergency[i] and scores[i][0] > 0 for i in offered):
        return None
    wanted = _estimate_wanted(heard)
    if wanted is None:
        return None
    at, strong = wanted
    others = [scores[i] for i in offered if i != index and scores[i][0] > 0]
    if not strong and others and _said(heard, _NEW_SINGLE, _NEW_PHRASES) is None:
        return None  # "how much to fix a dripping faucet": the price of a repair, asked of the repair
    last = max([at] + [b for _, _, b in others] + ([scores[index][2]] if scores[index][0] > 0 else []))
    first, end = spans[at][0], spans[min(last, len(spans) - 1)][1]
    return ServiceMatch(compiled.keys[index], " ".join(words[first:end]), first, end, estimate=True)


def _remote_choice(compiled: _Compiled, hits_of: dict, scores: list, spans: list, emergency: bool,
                   words: list[str]) -> ServiceMatch | None:
    """An event type that is no visit, when the caller says how in its own words ("drop off a water heater part
    at the shop", "look at it on a video call"): the how outranks the thing named; never in an emergency."""
    if emergency or not compiled.remote:
        return None
    # two of its own words at least ("drop off", "bring ... shop"): one ("shop", "bring") is too easily said
    said = [i for i in compiled.remote
            if len({s for _, _, phrase in hits_of.get(i, ()) if phrase.weight == OWNER_WEIGHT for s in phrase.stems}) >= 2]
    if not said:
        return None
    best = max(said, key=lambda i: scores[i][0])
    first, last = spans[scores[best][1]][0], spans[scores[best][2]][1]
    return ServiceMatch(compiled.keys[best], " ".join(words[first:last]), first, last)


def _combined(hits: list, stems: list[tuple[int, str]]) -> tuple[float, int, int]:
    """Every word the entry's phrases cover counts once, at the best weight a phrase gives it: "toilet" +
    "keeps running", "pilot light ... keeps going out" + "water heater" add up, overlapping phrases do not."""
    per_word: dict[int, float] = {}
    for weight, (first, last, _), phrase in hits:
        share = weight / len(phrase.stems)
        wanted = set(phrase.stems)
        for word, stem_ in stems:
            if first <= word <= last and stem_ in wanted and per_word.get(word, 0.0) < share:
                per_word[word] = share
    return sum(per_word.values()), min(per_word), max(per_word)


def _phrase_weight(phrase: _Phrase, hit: tuple[int, int, bool]) -> float:
    """Whole-phrase matches count by their words; a phrase of only generic words ("how much") counts for
    little, and one said out of order or with words in between a little less than one said as written."""
    if set(phrase.stems) <= _generic_stems():
        weight = GENERIC_WEIGHT * len(phrase.stems)
    else:
        weight = phrase.weight * len(phrase.stems)
    return weight * (1.0 if hit[2] else SCATTERED)


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
            if _PARTICLES.intersection(phrase.stems) and not _in_order(phrase.stems, [s for _, s in stems[low:high]]):
                continue
            as_written = any(tuple(s for _, s in stems[i:i + len(phrase.stems)]) == phrase.stems
                             for i in range(low, high))
            return first, last, as_written
    return None


def _in_order(wanted: tuple[str, ...], said: list[str]) -> bool:
    """Whether ``wanted`` occurs in ``said`` in its own order, other words allowed between."""
    remaining = iter(said)
    return all(any(s == w for s in remaining) for w in wanted)


def _negated(words: list[str], first: int, phrase: _Phrase) -> bool:
    if phrase.stems[0] in _NEGATORS or not set(phrase.stems) & _ABSENCE_STEMS:
        return False
    before = words[max(0, first - 2):first]
    return any(w in _NEGATORS for w in before)


def _partial_score(eligible: frozenset[str], stems: list[tuple[int, str]], positions: dict[str, list[int]],
                   spread: dict[str, int], words: list[str]) -> tuple[float, int, int]:
    generic = _generic_stems()
    used = {s for s in eligible if s in positions}
    distinctive = {s for s in used if len(s) >= 4 and s not in generic}
    if not distinctive:
        return (0.0, 0, 0)
    members = [stems[i][0] for s in distinctive for i in positions[s]]
    if distinctive & _ABSENCE_STEMS and all(any(w in _NEGATORS for w in words[max(0, m - 2):m]) for m in members):
        return (0.0, 0, 0)
    score = sum(1.0 / spread[s] for s in distinctive) + TIE_BREAK * len(used - distinctive)
    return (score, min(members), max(members))
