"""Numbers as callers say them: "five five five", "oh" for zero, "double seven", "twenty one", "fourteenth".

:func:`numeric_words` rewrites number words in a word list as digit tokens, keeping every other word:
"nine oh five" -> "9 05", "one twenty three main street" -> "1 23 main street", "the fourteenth" ->
"the 14th", "double seven" -> "7 7", "eight hundred" -> "800". Digit tokens are kept as strings so leading
zeros survive. Two words are only numbers in a numeric neighbourhood: "one" ("the first one" keeps it,
"at one" and "one thirty" do not) and "oh"/"o" ("oh, yes" keeps it, "nine oh five" does not).

:func:`digit_runs` then finds runs of digit tokens (joined by "dash"), which is how phone numbers, ZIP
codes and house numbers are read: a run's digits are its tokens' digits concatenated.
"""

from __future__ import annotations

from dataclasses import dataclass

UNITS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
         "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
        "eighty": 80, "ninety": 90}
ORDINAL_UNITS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7,
                 "eighth": 8, "ninth": 9}
ORDINAL_TEENS = {"tenth": 10, "eleventh": 11, "twelfth": 12, "thirteenth": 13, "fourteenth": 14,
                 "fifteenth": 15, "sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
                 "twentieth": 20, "thirtieth": 30}
REPEATS = {"double": 2, "triple": 3}
ZERO_LETTERS = frozenset({"oh", "o"})
NUMBER_WORDS = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | ZERO_LETTERS | {"hundred", "thousand"}
# Words after which a lone "one" is the number one ("at one", "in one hour", "plus one").
_ONE_AFTER = frozenset({"at", "around", "about", "by", "after", "before", "until", "till", "til", "in", "to",
                        "from", "between", "and", "plus", "is", "number", "say", "like", "maybe", "for", "than",
                        "past", "of", "quarter", "half", "code", "zip"})
_NUMERIC_NEXT = frozenset(UNITS) | frozenset(TEENS) | frozenset(TENS) | {"hundred", "thousand", "am", "pm", "oclock",
                                                                          "thirty", "fifteen", "dash", "oh", "o"}


def _suffix(value: int) -> str:
    if value % 100 in (11, 12, 13):
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")


def ordinal(value: int) -> str:
    """14 -> "14th"."""
    return f"{value}{_suffix(value)}"


def _is_digits(word: str) -> bool:
    return word.isdigit()


def _resolve_ambiguous(words: list[str]) -> list[bool]:
    """Which words are numbers, deciding "one" and "oh"/"o" from their neighbours."""
    numeric = [w.isdigit() or w in UNITS and w != "one" or w in TEENS or w in TENS or w in ("hundred", "thousand")
               or w in REPEATS for w in words]
    undecided = [i for i, w in enumerate(words) if w == "one" or w in ZERO_LETTERS]
    changed = True
    while changed:  # until stable: "oh oh oh double zero" resolves from the right, one "oh" per pass
        changed = False
        for i in undecided:
            if numeric[i]:
                continue
            before = words[i - 1] if i else ""
            after = words[i + 1] if i + 1 < len(words) else ""
            number_before = i > 0 and numeric[i - 1]
            number_after = i + 1 < len(words) and numeric[i + 1]
            if words[i] == "one":
                # "... and then oh oh oh one": after "oh oh" (or a number and "oh") a "one" is a digit too
                zeros_before = before in ZERO_LETTERS and i >= 2 and (words[i - 2] in ZERO_LETTERS or numeric[i - 2])
                numeric[i] = (number_before or number_after or before in _ONE_AFTER or zeros_before
                              or after in ("am", "pm", "oclock", "hundred", "thousand", "dash")
                              or _zeros_after_a_group(words, numeric, i))
            else:
                numeric[i] = bool(number_before or number_after or _zeros_after_a_group(words, numeric, i))
            changed = changed or numeric[i]
    return numeric


# Said between the groups of a number ("three one two, and then oh oh oh one").
_GROUP_JOINERS = frozenset({"and", "then", "um", "uh", "dash", "comma"})


def _zeros_after_a_group(words: list[str], numeric: list[bool], i: int) -> bool:
    """ "... two one three and then oh oh oh oh": "oh"s after a number and joiners, two or more in a row or
    one before a digit."""
    if words[i] == "one":
        following = words[i + 1] if i + 1 < len(words) else ""
        if not (following in UNITS or following in ZERO_LETTERS or following.isdigit()):
            return False
        k = i - 1
        while k >= 0 and words[k] in _GROUP_JOINERS:
            k -= 1
        return 0 <= k < i - 1 and numeric[k]
    run_end = i
    while run_end + 1 < len(words) and words[run_end + 1] in ZERO_LETTERS:
        run_end += 1
    run_start = i
    while run_start > 0 and words[run_start - 1] in ZERO_LETTERS:
        run_start -= 1
    following = words[run_end + 1] if run_end + 1 < len(words) else ""
    if run_end == run_start and not (following in UNITS or following in ZERO_LETTERS or following.isdigit()):
        return False  # one "oh" (or "one") counts only before another digit ("and then one oh oh oh")
    k = run_start - 1
    while k >= 0 and words[k] in _GROUP_JOINERS:
        k -= 1
    return k >= 0 and k < run_start - 1 and numeric[k]


def numeric_words(words: list[str]) -> list[str]:
    """``words`` with number words turned into digit tokens (see the module docstring)."""
    numeric = _resolve_ambiguous(words)
    out: list[str] = []
    i = 0
    n = len(words)
    while i < n:
        word = words[i]
        if word in REPEATS and i + 1 < n and (words[i + 1] in UNITS or words[i + 1] in ZERO_LETTERS
                                              or (words[i + 1].isdigit() and len(words[i + 1]) == 1)):
            digit = _unit(words[i + 1])
            out.extend([str(digit)] * REPEATS[word])
            i += 2
            continue
        if word in ORDINAL_UNITS or word in ORDINAL_TEENS:
            value = ORDINAL_UNITS.get(word) or ORDINAL_TEENS[word]
            out.append(ordinal(value))
            i += 1
            continue
        if not numeric[i] or word in REPEATS:
            out.append(word)
            i += 1
            continue
        value, used = _read_number(words, numeric, i)
        if used == 0:
            out.append(word)
            i += 1
            continue
        if isinstance(value, str):
            out.append(value)
        else:
            out.append(str(value))
        i += used
    return _merge_oh_minutes(out)


def _unit(word: str) -> int:
    if word in ZERO_LETTERS:
        return 0
    if word.isdigit():
        return int(word)
    return UNITS[word]


def _read_number(words: list[str], numeric: list[bool], i: int) -> tuple[int | str, int]:
    """One spoken number starting at ``i``: its value (or ordinal text) and how many words it used."""
    n = len(words)
    word = words[i]
    if word.isdigit():
        return word, 1
    if word in ZERO_LETTERS:
        return "0", 1
    value: int
    used: int
    if word in TENS:
        value, used = TENS[word], 1
        if i + 1 < n and words[i + 1] in ORDINAL_UNITS:
            return ordinal(value + ORDINAL_UNITS[words[i + 1]]), 2
        if i + 1 < n and numeric[i + 1] and words[i + 1] in UNITS and UNITS[words[i + 1]] > 0:
            value, used = value + UNITS[words[i + 1]], 2
    elif word in TEENS:
        value, used = TEENS[word], 1
    elif word in UNITS:
        value, used = UNITS[word], 1
    else:  # a bare "hundred"/"thousand"
        return {"hundred": 100, "thousand": 1000}[word], 1
    j = i + used
    if j < n and words[j] == "thousand":
        value, j = value * 1000, j + 1
        rest, rest_used = _tail(words, numeric, j, allow_hundreds=True)
        return value + rest, j - i + rest_used
    if j < n and words[j] == "hundred" and value < 100:
        value, j = value * 100, j + 1
        rest, rest_used = _tail(words, numeric, j, allow_hundreds=False)
        return value + rest, j - i + rest_used
    return value, used


def _tail(words: list[str], numeric: list[bool], j: int, *, allow_hundreds: bool) -> tuple[int, int]:
    """The part after "hundred"/"thousand": tens and teens join, a lone digit only after "and"."""
    n = len(words)
    start = j
    if j < n and words[j] == "and" and j + 1 < n and (words[j + 1] in UNITS or words[j + 1] in TEENS
                                                      or words[j + 1] in TENS):
        j += 1
        lone_digit_ok = True
    else:
        lone_digit_ok = False
    if allow_hundreds and j + 1 < n and words[j] in UNITS and words[j + 1] == "hundred":
        value = UNITS[words[j]] * 100
        rest, used = _tail(words, numeric, j + 2, allow_hundreds=False)
        return value + rest, j + 2 - start + used
    if j < n and words[j] in TENS:
        value = TENS[words[j]]
        if j + 1 < n and words[j + 1] in UNITS and UNITS[words[j + 1]] > 0:
            return value + UNITS[words[j + 1]], j + 2 - start
        return value, j + 1 - start
    if j < n and words[j] in TEENS:
        return TEENS[words[j]], j + 1 - start
    if lone_digit_ok and j < n and words[j] in UNITS:
        return UNITS[words[j]], j + 1 - start
    return 0, 0


def _merge_oh_minutes(tokens: list[str]) -> list[str]:
    """"9 0 5" -> "9 05": a spoken "oh" before one digit, after a number, is a leading zero."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if (tokens[i] == "0" and out and out[-1].isdigit() and i + 1 < len(tokens)
                and len(tokens[i + 1]) == 1 and tokens[i + 1].isdigit()
                and (i + 2 >= len(tokens) or not tokens[i + 2].isdigit())):
            out.append("0" + tokens[i + 1])
            i += 2
            continue
        out.append(tokens[i])
        i += 1
    return out


@dataclass(frozen=True, slots=True)
class DigitRun:
    """Consecutive digit tokens ``tokens[start:end]`` and their digits concatenated."""

    start: int
    end: int
    digits: str
    groups: tuple[str, ...]


def digit_runs(tokens: list[str]) -> list[DigitRun]:
    """Runs of digit tokens in a numeric word list, joined across "dash" (never across other words)."""
    runs: list[DigitRun] = []
    i = 0
    n = len(tokens)
    while i < n:
        if not _is_digits(tokens[i]):
            i += 1
            continue
        start = i
        groups = [tokens[i]]
        i += 1
        while i < n:
            if _is_digits(tokens[i]):
                groups.append(tokens[i])
                i += 1
            elif tokens[i] == "dash" and i + 1 < n and _is_digits(tokens[i + 1]):
                i += 1
            else:
                break
        runs.append(DigitRun(start, i, "".join(groups), tuple(groups)))
    return runs
