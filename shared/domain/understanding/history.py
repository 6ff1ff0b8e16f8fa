"""The problem's own history: when it began and how long it has gone on, which sound like times but aren't.

Callers describe the trouble before they say when they want us: "no hot water since this morning",
"the furnace quit last night", "it's been leaking for two days", "the heat went out Saturday night",
"this morning the breaker tripped again". Read as preferences, those offered this morning's slots to
someone whose water went cold at 6 AM, or next Saturday to someone whose heat failed last Saturday.

Two readings, both on the numeric word list (see ``numbers.numeric_words``):

* :data:`PAST_OR_DURATION` and :func:`since_spans` find phrases that can only be about the past or a
  duration ("since ...", "last night", "yesterday", "two days ago", "for the past week", "all night");
  ``times`` masks them before it reads anything.
* :func:`told_as_history` says whether a time that could be past ("this morning", "Saturday night",
  "around 3") is the moment something happened: right after a verb of breaking down ("stopped working
  this morning", "noticed it on Sunday"), or opening the sentence that tells it ("this morning the heat
  went out"). Words that can only mean the future ("tomorrow", "next", "in two days") never are.
"""

from __future__ import annotations

from shared.domain.understanding.patterns import rx
from shared.domain.understanding.schema import WEEKDAY_NAMES

_WD = "(?:" + "|".join(WEEKDAY_NAMES) + ")"
_UNIT = r"(?:minutes?|hours?|days?|nights?|weeks?|months?|years?)"
_AMOUNT = r"(?:[1-9][0-9]?|a|an|a couple(?: of)?|couple(?: of)?|a few|few|several)"
_ROUGHLY = r"(?:about |around |almost |nearly |over |like |at least |more than |going on )?"

PAST_OR_DURATION = rx(
    r"last (?:night|evening|weekend|week|month|time|" + _WD + r")(?: (?:morning|afternoon|evening|night))?"
    r"(?! of| in)"
    r"|yesterday(?: (?:morning|afternoon|evening|night))?"
    r"|the other (?:day|night|week)"
    r"|earlier (?:today|this (?:morning|afternoon|week))"
    r"|this past (?:weekend|week|" + _WD + r")"
    r"|" + _AMOUNT + " " + _UNIT + " ago"
    r"|(?:for|over) " + _ROUGHLY + r"(?:the )?(?:past|last) (?:" + _AMOUNT + " )?" + _UNIT +
    r"|for " + _ROUGHLY + _AMOUNT + " " + _UNIT + r"(?! from)"
    r"|all (?:night|day)(?: long)?|overnight")

# Words that can continue "since ...": "since about 6 this morning", "since last Tuesday night".
_SINCE_TAIL = frozenset({
    "this", "last", "the", "yesterday", "today", "morning", "afternoon", "evening", "night", "weekend", "week",
    "month", "about", "around", "like", "early", "late", "at", "on", "noon", "am", "pm", "o'clock", "earlier",
    "or", "lunch", "lunchtime", "breakfast", "dinner", "day", "days", "ago", "couple", "few", "of", "a",
    "before", "past", *WEEKDAY_NAMES})
_SINCE_TAIL_MAX = 6

# Verbs that tell what went wrong, and when: "the heat went out Saturday night".
_BREAKDOWN_VERBS = frozenset({
    "started", "began", "happened", "noticed", "broke", "quit", "died", "failed", "stopped", "went", "gave",
    "cut", "burst", "flooded", "leaked", "clogged", "backed", "tripped", "blew", "popped", "cracked", "froze",
    "overflowed", "shut", "conked", "crapped", "sprang", "sprung"})
# Words that may stand between such a verb and its time: "stopped working around 3", "noticed it on Sunday".
_BRIDGE = frozenset({"it", "that", "up", "out", "off", "down", "working", "again", "just", "sometime", "like",
                     "around", "about", "at", "on", "in", "the", "early", "late", "leaking", "running",
                     "dripping", "making", "noise", "me"})
_BRIDGE_MAX = 3
# Words a sentence may open with before its time: "so this morning the furnace quit".
_OPENERS = frozenset({"so", "well", "yeah", "yes", "um", "uh", "okay", "ok", "hi", "hello", "and", "hey", "oh",
                      "basically", "actually", "like"})
_TELLING_REACH = 5
# Who or what a sentence that tells the trouble is about, right after its opening time ("Friday it broke").
_SUBJECTS = frozenset({"the", "my", "our", "it", "we", "i", "that", "this", "a", "her", "his", "their", "water",
                       "power", "heat", "everything", "there", "someone", "somebody"})
# Words after a time that make it a wish, whatever came before: "backed up, Thursday morning would be great".
_WISHED = frozenset({"works", "work", "would", "good", "fine", "better", "best", "suits", "ok", "okay", "please",
                     "if", "is", "great", "perfect", "preferably", "ideally"})
# Times that can only be ahead of us: never the moment something happened.
_ONLY_AHEAD = frozenset({"tomorrow", "next", "coming", "following", "in", "within", "after", "before", "by",
                         "until", "till", "asap", "soon", "soonest", "available", "tonight", "later"})


def since_spans(words: list[str]) -> list[tuple[int, int]]:
    """Word spans ``[start, end)`` of "since ..." ("since about 6 this morning", "ever since last Tuesday")."""
    spans = []
    for i, word in enumerate(words):
        if word == "since":
            j = i + 1
            while j < len(words) and j - i <= _SINCE_TAIL_MAX and _continues_since(words[j]):
                j += 1
            spans.append((i - 1 if i and words[i - 1] == "ever" else i, j))
    return spans


def told_as_history(words: list[str], start: int, end: int) -> bool:
    """Whether the time at words ``[start, end)`` is when the trouble happened, not when to come."""
    said = words[start:end]
    if any(word in _ONLY_AHEAD for word in said) or (end < len(words) and words[end] in _WISHED):
        return False
    return _after_breakdown_verb(words, start) or _opens_the_telling(words, start, end)


def _after_breakdown_verb(words: list[str], start: int) -> bool:
    i = start - 1
    while i >= 0 and start - i <= _BRIDGE_MAX + 1 and words[i] in _BRIDGE:
        i -= 1
    return i >= 0 and start - i <= _BRIDGE_MAX + 1 and words[i] in _BREAKDOWN_VERBS


def _opens_the_telling(words: list[str], start: int, end: int) -> bool:
    if any(word not in _OPENERS for word in words[:start]) or end >= len(words) or words[end] not in _SUBJECTS:
        return False
    return any(word in _BREAKDOWN_VERBS for word in words[end:end + _TELLING_REACH])


def _continues_since(word: str) -> bool:
    return word in _SINCE_TAIL or word[:1].isdigit()
