"""Who and where: the caller's name, service address, ZIP code, callback number and e-mail, as spoken.

Works on the numeric word list (``numbers.numeric_words``), so "five five five oh one hundred" is
already "5 5 5 0 100" and "one twenty three main street" is "1 23 main street". Each finder returns the
value and the word span it read, so the parser can keep those digits away from the time grammar (a
phone number is not "5:55"). Phone numbers go through ``shared.domain.phones`` (``phonenumbers``) in the
business's region; ZIP codes are US five-digit or ZIP+4.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.domain.phones import try_e164
from shared.domain.understanding.numbers import DigitRun, digit_runs
from shared.domain.understanding.patterns import lazy

STREET_SUFFIXES = {
    "street": "Street", "st": "St", "avenue": "Avenue", "ave": "Ave", "av": "Ave", "road": "Road", "rd": "Rd",
    "drive": "Drive", "dr": "Dr", "lane": "Lane", "ln": "Ln", "boulevard": "Boulevard", "blvd": "Blvd",
    "court": "Court", "ct": "Ct", "way": "Way", "place": "Place", "pl": "Pl", "terrace": "Terrace",
    "parkway": "Parkway", "pkwy": "Pkwy", "circle": "Circle", "cir": "Cir", "highway": "Highway", "hwy": "Hwy",
    "trail": "Trail", "square": "Square", "loop": "Loop", "plaza": "Plaza", "alley": "Alley",
    "crescent": "Crescent", "row": "Row", "pike": "Pike", "path": "Path", "point": "Point",
    "expressway": "Expressway", "freeway": "Freeway", "cove": "Cove", "run": "Run", "walk": "Walk",
}
DIRECTIONS = {"north": "North", "south": "South", "east": "East", "west": "West", "n": "N", "s": "S", "e": "E",
              "w": "W", "northeast": "Northeast", "northwest": "Northwest", "southeast": "Southeast",
              "southwest": "Southwest", "ne": "NE", "nw": "NW", "se": "SE", "sw": "SW"}
UNIT_WORDS = {"apartment": "Apt", "apt": "Apt", "unit": "Unit", "suite": "Suite", "ste": "Suite", "number": "#",
              "floor": "Floor", "fl": "Floor", "building": "Building", "bldg": "Building", "lot": "Lot"}
STATES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA", "colorado": "CO",
    "connecticut": "CT", "delaware": "DE", "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID",
    "illinois": "IL", "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY", "north carolina": "NC",
    "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR", "pennsylvania": "PA",
    "rhode island": "RI", "south carolina": "SC", "south dakota": "SD", "tennessee": "TN", "texas": "TX",
    "utah": "UT", "vermont": "VT", "virginia": "VA", "washington": "WA", "west virginia": "WV",
    "wisconsin": "WI", "wyoming": "WY", "district of columbia": "DC",
}
_STATE_CODES = {code.lower(): code for code in STATES.values()} | {"ill": "IL", "calif": "CA", "mass": "MA"}
# Two-letter codes that are also everyday words stay words unless a ZIP follows.
_AMBIGUOUS_CODES = frozenset({"in", "or", "me", "hi", "ok", "oh", "de", "pa", "ma", "la", "al", "co", "id", "ne",
                              "wa", "mo", "ms", "md", "ct", "va", "sc", "nc"})
_ADDRESS_STOP = frozenset({"and", "my", "is", "zip", "code", "postal", "phone", "number", "call", "name", "please",
                           "thanks", "thank", "you", "i", "it", "we", "the", "but", "so", "email", "tomorrow",
                           "today", "at", "for", "that", "this", "on", "by", "can", "could", "would", "will",
                           "am", "pm", "oclock", "days", "day", "hours", "hour", "minutes", "weeks", "week",
                           "dollars", "bucks", "people", "times", "degrees", "percent", "years", "months",
                           "yes", "yeah", "no", "okay", "ok", "cross", "near", "between", "off", "next",
                           "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
                           "morning", "afternoon", "evening", "tonight", "actually", "sorry", "or", "if",
                           *UNIT_WORDS})  # "4410 north kedzie unit 2": the street ends where the unit begins
_NOT_AFTER_NUMBER = frozenset({"am", "pm", "oclock", "days", "day", "hours", "hour", "minutes", "minute", "weeks",
                               "week", "dollars", "bucks", "people", "times", "degrees", "percent", "years",
                               "months", "or", "and", "to", "of", "in", "dash", "plus", "ish", "past", "after",
                               "before", "at", "is", "thirty", "kids", "gallons", "gallon", "foot", "feet"})
_ADDRESS_ANCHOR = lazy(r"(?:address is|address|live at|i am at|we are at|located at|come to|come out to"
                       r"|over to|out to|house is at|home is at|should be|is actually|supposed to be|needs to be)$")
_ADDRESS_PREAMBLE = lazy(r"^(?:(?:yes|yeah|sure|okay|ok|so|it is|its|the address is|my address is|address is"
                         r"|the service address is|i live at|i am at|we are at|i am located at|located at"
                         r"|we live at|it is at|the house is at|you can come to|come to|that is|that would be"
                         r"|i am in|we are in|it is in|in"
                         r"|it would be|the address|address|our address is|at)\s+)+")


@dataclass(frozen=True, slots=True)
class Found:
    """A value read from the words ``[start, end)``."""

    value: str
    start: int
    end: int


# ---------------------------------------------------------------- phone numbers

# Words callers put between the groups of a number ("area code 312 and then 555 ...").
_PHONE_JOINERS = frozenset({"and", "then", "area", "code", "is", "the", "rest", "dash", "uh", "um", "so", "it"})


def find_phone(words: list[str], default_region: str, *, expecting: str | None) -> Found | None:
    """The last callback number said, in E.164 (``None`` if no run of digits is a valid number)."""
    found = None
    minimum = 7 if expecting == "phone" else 10
    runs = digit_runs(words)
    for first in range(len(runs)):
        if found is not None and runs[first].start < found.end:
            continue  # part of the number already read ("312 and then 310 1276" is not "310 1276")
        plus = runs[first].start > 0 and words[runs[first].start - 1] == "plus"
        digits = ""
        for last in range(first, len(runs)):
            if last > first and not all(w in _PHONE_JOINERS for w in words[runs[last - 1].end:runs[last].start]):
                break
            digits += runs[last].digits
            if len(digits) > 15:
                break
            if len(digits) < minimum:
                continue
            e164 = _phone_of(digits, plus, default_region) or (
                _nanp_shaped(digits, plus, default_region) if expecting == "phone" else None)
            if e164:
                found = Found(e164, runs[first].start - (1 if plus else 0), runs[last].end)
                break
    return _with_repaired_ending(words, runs, found, default_region) if found is not None else None


# Words between a number and the digits that put its end right: "8900, no wait, make that 8901".
_DIGIT_REPAIR = frozenset({"sorry", "no", "wait", "mean", "actually", "make", "rather", "correction", "oops"})
_DIGIT_REPAIR_FILLER = frozenset({"i", "that", "it", "the", "last", "but", "um", "uh", "oh", "not", "is", "its",
                                  "should", "be", "digits", "part", "end", "ending", "in", "with"})


def _with_repaired_ending(words: list[str], runs: list[DigitRun], found: Found, region: str) -> Found:
    """The number with its last digits said again after a repair ("773 202 8900, sorry, 8901")."""
    later = [run for run in runs if run.start >= found.end]
    if not later:
        return found
    between = words[found.end:later[0].start]
    if not any(w in _DIGIT_REPAIR for w in between) or any(
            w not in _DIGIT_REPAIR and w not in _DIGIT_REPAIR_FILLER for w in between):
        return found
    fix = later[0].digits
    national = found.value[-10:] if found.value.startswith("+1") else None
    if national is None or not 1 <= len(fix) <= 7:
        return found
    repaired = _phone_of(national[:-len(fix)] + fix, False, region) or _nanp_shaped(
        national[:-len(fix)] + fix, False, region)
    return Found(repaired, found.start, later[0].end) if repaired else found


def _nanp_shaped(digits: str, plus: bool, region: str) -> str | None:
    """A ten-digit North American number the numbering plan allows in shape (NXX NXX XXXX) though not
    assigned (a "555" area code): asked for a number, a caller who says one means it; reading it back
    beats asking a fourth time."""
    if region not in ("US", "CA") or plus and not digits.startswith("1"):
        return None
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789" and digits[1:3] != "11":
        return "+1" + digits
    return None


def _phone_of(digits: str, plus: bool, region: str) -> str | None:
    candidates = [("+" if plus else "") + digits]
    if not plus and len(digits) > 11:
        candidates += [digits[:10], digits[:11], digits[-10:]]
    for candidate in candidates:
        e164 = try_e164(candidate, region)
        if e164:
            return e164
    return None


_CALLER_ID = lazy(r"(?<!\S)(?:this (?:number|one|phone|line|cell)|the (?:number|one|phone) (?:i am|i m) "
                  r"(?:calling|on)|(?:number|one|phone) i am calling (?:from|on|with)|same number"
                  r"|the number you (?:have|see|got)"
                  r"|the number i called (?:from|on|with)|caller id|the one i called (?:from|on)|this cell"
                  r"|the one (?:i am|that i am) on|use this|the number (?:that )?(?:shows|showed) up"
                  r"|number i am (?:on|using))(?!\S)")


def says_use_caller_id(text: str) -> bool:
    """ "You can use this number", "the one I'm calling from"."""
    return bool(_CALLER_ID.search(text))


# ---------------------------------------------------------------- ZIP codes

def find_postal_code(words: list[str], *, expecting: str | None,
                     taken: set[int] | frozenset[int] = frozenset()) -> Found | None:
    """A US ZIP (``60614`` or ``60614-1234``) said after an anchor ("zip code is"), or when one was asked for."""
    found = None
    for run in digit_runs(words):
        if run.start in taken:
            continue
        anchored = any(words[k] in ("zip", "zipcode", "postal", "postcode") for k in range(max(0, run.start - 4),
                                                                                           run.start))
        if not (anchored or expecting in ("postal_code", "address")):
            continue
        zip_code = _zip_of(run, words)
        if zip_code:
            found = Found(zip_code, run.start, run.end)
    return found


def _zip_of(run: DigitRun, words: list[str]) -> str | None:
    digits = run.digits
    if len(digits) == 5:
        return digits
    if len(digits) == 9 and (run.groups[0] == digits[:5] or "dash" in words[run.start:run.end]
                             or all(len(g) == 1 for g in run.groups)):
        return f"{digits[:5]}-{digits[5:]}"
    return None


# ---------------------------------------------------------------- street addresses

def find_address(words: list[str], *, expecting: str | None) -> tuple[Found | None, Found | None]:
    """A street address ("1234 North Lake Shore Drive Apt 5, Chicago IL 60614") and the ZIP in it."""
    for run in digit_runs(words):
        unit = None
        if run.start > 0 and words[run.start - 1] in UNIT_WORDS and len(run.groups) >= 2:
            # "apartment 5, 400 west main": the first group is the unit, the rest the house number
            unit = f"{UNIT_WORDS[words[run.start - 1]]} {run.groups[0]}"
            run = DigitRun(run.start + 1, run.end, "".join(run.groups[1:]), run.groups[1:])
        if len(run.digits) > 6 or run.end >= len(words):
            continue
        following = words[run.end]
        if following in _NOT_AFTER_NUMBER or not following.isalpha() and not _is_ordinal(following):
            continue
        anchored = bool(_ADDRESS_ANCHOR.search(" ".join(words[max(0, run.start - 4):run.start]))) or (
            following in DIRECTIONS and len(run.digits) >= 3)  # "at 2030 west montrose": a street, suffix or not
        found = _address_from(words, run, require_suffix=expecting != "address" and not anchored)
        if found:
            if unit:
                address, postal = found
                head, _, tail = address.value.partition(", ")
                found = (Found(f"{head} {unit}" + (f", {tail}" if tail else ""), address.start, address.end), postal)
            return found
    if expecting == "address":
        return _free_form_address(words), None
    return None, None


def _is_ordinal(word: str) -> bool:
    return bool(re.fullmatch(r"\d+(?:st|nd|rd|th)", word))


def _address_from(words: list[str], run: DigitRun, *, require_suffix: bool) -> tuple[Found, Found | None] | None:
    street: list[str] = []
    k = run.end
    suffix_at = None
    while k < len(words) and len(street) < 6:
        word = words[k]
        if word in STREET_SUFFIXES and street:
            street.append(STREET_SUFFIXES[word])
            suffix_at = k
            k += 1
            break
        if word in _ADDRESS_STOP or not (word.isalpha() or _is_ordinal(word)):
            break
        street.append(DIRECTIONS.get(word) or _title(word))
        k += 1
    if not street or (require_suffix and suffix_at is None):
        return None
    if k < len(words) and words[k] in DIRECTIONS and suffix_at is not None:
        street.append(DIRECTIONS[words[k]])
        k += 1
    parts = [f"{run.digits} {' '.join(street)}"]
    k, unit = _unit(words, k)
    if unit:
        parts[0] += f" {unit}"
    k, city, state = _city_and_state(words, k)
    postal = None
    if k < len(words) and words[k].isdigit():
        zip_run = next((r for r in digit_runs(words) if r.start == k), None)
        zip_code = _zip_of(zip_run, words) if zip_run else None
        if zip_code:
            postal = Found(zip_code, zip_run.start, zip_run.end)
            k = zip_run.end
        elif unit and re.fullmatch(r"\d{5}", words[k]):  # "unit 2 60614": the unit's digits ran into the ZIP's
            postal = Found(words[k], k, k + 1)
            k += 1
    tail = ", ".join(p for p in (city, " ".join(x for x in (state, postal.value if postal else None) if x)) if p)
    text = parts[0] + (f", {tail}" if tail else "")
    return Found(text, run.start, k), postal


def _unit(words: list[str], k: int) -> tuple[int, str | None]:
    if k + 1 < len(words) and words[k] in UNIT_WORDS:
        label = UNIT_WORDS[words[k]]
        ident = words[k + 1]
        if ident.isdigit() or _is_ordinal(ident) or (len(ident) <= 2 and ident.isalpha() and ident not in
                                                     ("is", "in", "it", "at", "on", "my", "or", "and", "to")):
            k += 2
            # "apartment 4 b" -> 4B
            if ident.isdigit() and k < len(words) and len(words[k]) == 1 and words[k].isalpha() \
                    and words[k] not in ("a", "i"):
                ident += words[k]
                k += 1
            return k, f"{label} {ident.upper()}" if label != "#" else f"#{ident.upper()}"
    return k, None


def _city_and_state(words: list[str], k: int) -> tuple[int, str | None, str | None]:
    """ "in Chicago Illinois", "Evanston IL": up to three city words, then a state, before any ZIP."""
    begin = k
    if k < len(words) and words[k] == "in":
        k += 1
    city_words: list[str] = []
    state = None
    while k < len(words):
        three, two, word = " ".join(words[k:k + 3]), " ".join(words[k:k + 2]), words[k]
        if three in STATES or two in STATES:
            name = three if three in STATES else two
            state, k = STATES[name], k + len(name.split())
            break
        if city_words and (word in STATES or word in _STATE_CODES and (
                word not in _AMBIGUOUS_CODES or k + 1 < len(words) and words[k + 1].isdigit())):
            state, k = STATES.get(word) or _STATE_CODES[word], k + 1
            break
        spelled = word + words[k + 1] if k + 1 < len(words) and len(word) == 1 and len(words[k + 1]) == 1 else ""
        if city_words and spelled in _STATE_CODES:  # "i l" spelled out
            state, k = _STATE_CODES[spelled], k + 2
            break
        if word in _ADDRESS_STOP or not word.isalpha() or len(city_words) == 3:
            break
        city_words.append(_title(word))
        k += 1
    ends_cleanly = (state is not None or k >= len(words) or words[k].isdigit()
                    or words[k] in ("and", "zip", "my", "please", "thanks", "thank", "okay"))
    if city_words and not ends_cleanly:
        return begin, None, None  # the words after the street run on into something else
    return k, " ".join(city_words) or None, state


def _free_form_address(words: list[str]) -> Found | None:
    """Whatever was said when an address was asked for ("the blue house on elm"), tidied."""
    text = " ".join(words)
    preamble = _ADDRESS_PREAMBLE.match(text)
    skipped = len(preamble.group(0).split()) if preamble else 0
    body = list(words[skipped:])
    for stop in ("zip", "zipcode", "postal"):  # the ZIP is read on its own
        if stop in body:
            body = body[:body.index(stop)]
    while body and body[-1] in ("please", "thanks", "thank", "you", "okay"):
        body.pop()
    if not body or len(body) > 14 or not any(w.isalpha() and len(w) > 2 for w in body):
        return None
    if all(w in _ADDRESS_STOP or w in ("i", "do", "not", "know", "why", "what") for w in body):
        return None
    return Found(_title_phrase(body), skipped, skipped + len(body))


_SMALL_WORDS = frozenset({"a", "an", "the", "of", "and", "on", "at", "by", "in", "to", "for", "with", "near", "off"})


def _title_phrase(words: list[str]) -> str:
    """ "the blue house on the corner of elm" -> "The Blue House on the Corner of Elm" (small words stay small)."""
    return " ".join(w if (w in _SMALL_WORDS and i) or not w.isalpha() else _title(w) for i, w in enumerate(words))


# ---------------------------------------------------------------- names

NOT_NAMES = frozenset("""
a an the and or but so if then than that this these those it its i me my mine we us our you your he she they them
is am are was were be been being do does did have has had will would can could should may might must shall
not no yes yeah yep yup sure okay ok fine good great well just really very actually also too here there where when
what who why how which calling call looking trying wondering having getting going coming needing hoping interested
about at in on for with from by to of as up out down off over under again still only even
leaking flooding broken busted calling emergency urgent available free busy home ready new old
sorry thanks thank please hello hi hey bye goodbye morning afternoon evening tonight today tomorrow
monday tuesday wednesday thursday friday saturday sunday week weekend next last first second
plumber plumbing heater furnace sink toilet drain pipe water heat gas leak appointment service estimate
one two three four five six seven eight nine ten twenty thirty
customer homeowner tenant landlord owner manager calling regarding concerning
right wrong correct fine perfect gonna going done fixed stuck cold hot
afraid glad happy sad worried scared here there
got get gets said say says put wrote written typed heard misspelled messed mixed took spelt incorrect mistake
instead ask asking tell never mind nevermind forget think guess believe suppose maybe probably
""".split())
_STRONG_NAME_ANCHOR = lazy(r"(?<!\S)(?:my (?:full )?name is|my names|name is|the name is|name s|call me"
                           r"|you can call me|my (?:first|1st) name is|(?:first|1st) name is|(?:first|1st) name"
                           r"|under (?:my |the |our )?(?:[a-z]+ )?name(?: of| is)?|under the name(?: of)?"
                           r"|ask for|asking for)(?!\S)")
_FIRST_NAME_ANCHOR = lazy(r"(?<!\S)(?:first|1st) name(?: is)?(?!\S)")
_WEAK_NAME_ANCHOR = lazy(r"(?<!\S)(?:this is|it is|i am|speaking with|you are speaking with|you are talking to"
                         r"|you are talking with)(?!\S)")
_LAST_NAME_ANCHOR = lazy(r"(?<!\S)(?:(?:my |and my |and )?last name is|surname is|last name)(?!\S)")
_NAME_STOP = frozenset({"and", "my", "i", "calling", "from", "at", "with", "the", "is", "number", "phone", "about",
                        "because", "so", "but", "we", "our", "to", "for", "in", "on", "here", "speaking", "please",
                        "thanks", "thank", "you", "yes", "no", "yeah", "okay", "ok", "sir", "maam", "a", "an",
                        "just", "again", "that", "this", "calling", "call", "also", "actually", "sorry", "last",
                        "first", "name", "spelled", "spell", "it", "its", "like", "um", "uh", "who", "calling",
                        "address", "live", "need", "want", "would", "have", "had", "can", "could", "am", "are",
                        "was", "do", "did", "will", "of", "by", "as", "if", "or", "then", "there", "your", "again",
                        "back", "later", "anytime", "whenever", "tomorrow", "today", "after", "before", "around",
                        "when", "any", "on", "up", "now", "please"})
_NAME_PREAMBLE = lazy(r"^(?:(?:yes|yeah|yep|sure|okay|ok|hi|hello|hey|oh|well|so|it is|this is|its|my name is"
                      r"|name is|i am|the name is|my full name is|sorry|actually|of course)\s+)+")
MAX_NAME_WORDS = 4


def find_name(words: list[str], *, expecting: str | None) -> str | None:
    """The caller's name: after "my name is" / "this is" / "call me", or the whole answer when asked."""
    text = " ".join(words)
    surname_ends = {m.end() for m in _LAST_NAME_ANCHOR.finditer(text)}
    starts = [m.end() for m in _STRONG_NAME_ANCHOR.finditer(text) if m.end() not in surname_ends]
    name = None
    for end in reversed(starts):
        name = _name_after(words, _word_index(text, end), strict=False)
        if name:
            break
    if not name:
        for match in _WEAK_NAME_ANCHOR.finditer(text):
            candidate = _name_after(words, _word_index(text, match.end()), strict=True)
            if candidate and not (match.group(0) == "it is" and expecting != "name"):
                name = candidate
    if not name and expecting == "name":
        name = _bare_name(words)
    if name:
        name = _name_going_on(words, name)
        name = _with_surname_said_first(words, text, name)
        said = name.split()  # "bob uh bob martinez": a name started again is said once
        name = " ".join(w for i, w in enumerate(said) if i == 0 or w.lower() != said[i - 1].lower())
    last = next((_name_after(words, _word_index(text, m.end()), strict=False)
                 for m in _LAST_NAME_ANCHOR.finditer(text)), None)
    if last and name and last.lower() not in name.lower():
        name = f"{name} {last}"
    elif last and not name:
        name = last
    spelled = _spelled(words)
    if spelled and expecting == "name":
        if not name:
            name = spelled
        elif spelled.lower() not in name.lower().split():
            name = f"{name} {spelled}" if len(name.split()) == 1 else name
    return name


# Words between a name and its spelling: "Katherine with a K", "Bob, that's B O B".
_SPELLING_WORDS = frozenset({"with", "a", "an", "that", "is", "its", "it", "spelled", "like", "as", "in"})


def _name_going_on(words: list[str], name: str) -> str:
    """The name, carried on past its own spelling: "Bob, B O B, Smith" is Bob Smith, and "Katherine with a K,
    Katherine Olsen" is Katherine Olsen."""
    said = name.lower().split()
    runs = _name_runs(words)
    at = next((k for k, run in enumerate(runs) if [w for _, w in run] == said), None)
    if at is None or at + 1 == len(runs):
        return name
    after = [w for _, w in runs[at + 1]]
    between = words[runs[at][-1][0] + 1:runs[at + 1][0][0]]
    if not any(len(w) == 1 for w in between) or any(len(w) > 1 and w not in _SPELLING_WORDS for w in between):
        return name
    if after[0] == said[0]:
        return " ".join(_title(w) for w in after)
    if len(said) == 1:
        return " ".join(_title(w) for w in said + after[:MAX_NAME_WORDS - 1])
    return name


def _with_surname_said_first(words: list[str], text: str, name: str) -> str:
    """ "Nguyen, N G U Y E N, first name Linh" is Linh Nguyen: one name word before "first name" is the last."""
    anchor = _FIRST_NAME_ANCHOR.search(text)
    if anchor is None or len(name.split()) != 1:
        return name
    before = [run for run in _name_runs(words[:_word_index(text, anchor.start())])]
    if len(before) == 1 and len(before[0]) == 1 and before[0][0][1] != name.lower():
        return f"{name} {_title(before[0][0][1])}"
    return name


# Words that end one name and begin its correction ("jon smith sorry smyth", "it's hill not hall").
_NAME_REPAIR = frozenset({"sorry", "actually", "no", "not", "mean", "meant", "rather", "correction", "oops"})
_NAME_CUE = lazy(r"(?<!\S)(?:name|names|spelled|spell|spelling|spells)(?!\S)")
_FIRST_NAME_CUE = lazy(r"(?<!\S)(?:first|1st) name(?!\S)")  # numbers are read first: "first" is "1st"
_LAST_NAME_CUE = lazy(r"(?<!\S)(?:last name|surname|family name)(?!\S)")


def find_name_correction(words: list[str], *, expecting: str | None) -> tuple[str, str | None] | None:
    """A name said with its spelling or as a correction of itself: (name, part). ``part`` is "last" or "first"
    when only that part was said (the rest is the name known before), else None.

    - "no it's hill h i l l anna hill" -> ("Anna Hill", None): the spelled letters make a word, and the name
      said with that word is the name;
    - "jon smith sorry smyth s m y t h" -> ("Jon Smyth", None): after "sorry" one word replaces the part of
      the name it sounds like (the last name here, "jon sorry john smith" the first);
    - "the last name is spelled o k o n k w o" -> ("Okonkwo", "last").
    At the read-back (``expecting`` "confirm") only a spelled name or an anchored one ("my last name is")
    counts: a bare word there is more likely "sounds good" than a name.
    """
    text = " ".join(words)
    spelled = _spelled(words)
    runs = _name_runs(words)
    if expecting not in ("confirm", "name"):
        return None
    if expecting == "confirm" and not spelled and not _NAME_CUE.search(text):
        return None
    target = None
    if spelled:
        key = spelled.lower()
        with_it = [run for run in runs if key in [w for _, w in run] or _sounds_like(key, run[-1][1])]
        target = max(with_it, key=len) if with_it else [(len(words), key)]
        if len(target) == 1 and target[0][1] != key:
            target = [(target[0][0], key)]
        elif len(target) > 1:  # the spelling decides how the word it spells is written
            target = [(i, key if _respelled(key, w) and w == target[-1][1] else w) for i, w in target]
    elif runs:
        target = runs[-1]
    if not target:
        return None
    before = [run for run in runs if run[-1][0] < target[0][0] and len(run) >= 2]
    if len(target) == 1 and before and _repair_between(words, before[-1][-1][0], target[0][0]):
        earlier = [w for _, w in before[-1]]
        word = target[0][1]
        last_like = _similarity(word, earlier[-1]) >= _similarity(word, earlier[0])
        merged = earlier[:-1] + [word] if last_like else [word] + earlier[1:]
        return " ".join(_title(w) for w in merged), None
    if expecting == "name" and not spelled:
        return None  # a name said plainly when asked: find_name reads it
    part = None
    if len(target) == 1:
        if _FIRST_NAME_CUE.search(text):
            part = "first"
        elif _LAST_NAME_CUE.search(text) or expecting == "confirm":
            part = "last"
    return " ".join(_title(w) for _, w in target), part


def _name_runs(words: list[str]) -> list[list[tuple[int, str]]]:
    """Runs of words that could be a name (no small or everyday words, no single letters), with positions."""
    runs: list[list[tuple[int, str]]] = []
    run: list[tuple[int, str]] = []
    for i, word in enumerate(words + [""]):
        ok = bool(re.fullmatch(r"[a-z][a-z'\-]+", word)) and (
            word in NAME_WORDS or not (word in _NAME_STOP or word in NOT_NAMES or word in _NAME_REPAIR))
        if ok and len(run) < MAX_NAME_WORDS:
            run.append((i, word))
            continue
        if run:
            runs.append(run)
        run = [(i, word)] if ok else []
    return runs


def _respelled(spelled: str, heard: str) -> bool:
    """Whether the spelled letters say how the heard word is written ("smyth" for "smith"); "dsouza" does not
    undo the apostrophe of "d'souza"."""
    plain = heard.replace("'", "").replace("-", "")
    return plain != spelled and _sounds_like(spelled, heard)


def _repair_between(words: list[str], end: int, start: int) -> bool:
    return any(w in _NAME_REPAIR for w in words[end + 1:start])


def _similarity(a: str, b: str) -> float:
    from difflib import SequenceMatcher
    return SequenceMatcher(None, a, b).ratio() + (0.5 if a[:1] == b[:1] else 0.0)


def _sounds_like(a: str, b: str) -> bool:
    """ "smyth" ~ "smith", "hill" ~ "hil": one spelled, one heard -- same start, mostly the same letters."""
    return a[:1] == b[:1] and _similarity(a, b) >= 1.2


def _word_index(text: str, char: int) -> int:
    return len(text[:char].split())


# First names that are also everyday words; after a name anchor they are names.
NAME_WORDS = frozenset({"will", "mark", "grace", "hope", "rose", "bill", "sue", "art", "jack", "frank", "joy", "dawn",
                        "summer", "june", "april", "may", "drew", "pat", "ray", "faith", "amber", "ivy", "lily",
                        "daisy", "rich", "chase", "hunter", "carter", "mason", "page", "sunny", "star", "penny",
                        "holly", "robin", "crystal", "angel", "jay", "ken", "gene", "guy", "don", "miles"})


def _name_after(words: list[str], k: int, *, strict: bool) -> str | None:
    """Up to four name words from ``k``; ``strict`` (after "this is", "I am") refuses everyday words."""
    taken: list[str] = []
    while k < len(words) and len(taken) < MAX_NAME_WORDS:
        word = words[k]
        if not re.fullmatch(r"[a-z][a-z'\-]*", word) or len(word) == 1:  # single letters are spelling
            break
        if word not in NAME_WORDS and (word in _NAME_STOP or word in NOT_NAMES):
            if taken:
                break
            return None
        if strict and not taken and word not in NAME_WORDS and (
                word.endswith("ing") or word.endswith("ed") and len(word) > 4 or word.endswith("ly")):
            return None
        taken.append(word)
        k += 1
    return " ".join(_title(w) for w in taken) if taken else None


def _bare_name(words: list[str]) -> str | None:
    text = " ".join(words)
    preamble = _NAME_PREAMBLE.match(text)
    k = len(preamble.group(0).split()) if preamble else 0
    if k < len(words) and words[k] in ("why", "what", "who", "how", "i", "no", "not", "do", "can", "we"):
        return None
    return _name_after(words, k, strict=False)


def _spelled(words: list[str]) -> str | None:
    """ "s m i t h" -> "Smith" (a run of at least three single letters)."""
    best: list[str] = []
    run: list[str] = []
    for word in words + [""]:
        if len(word) == 1 and word.isalpha():
            run.append(word)
            continue
        if len(run) >= 3 and len(run) > len(best):
            best = run
        run = []
    return _title("".join(best)) if best else None


def _title(word: str) -> str:
    return "-".join("'".join(part[:1].upper() + part[1:] for part in chunk.split("'")) for chunk in word.split("-"))


# ---------------------------------------------------------------- e-mail

_SPOKEN_EMAIL = lazy(r"(?<!\S)(?P<local>[a-z0-9]+(?: (?:dot|period|underscore|dash|hyphen) [a-z0-9]+)*) at "
                     r"(?P<domain>[a-z0-9]+(?: (?:dash|hyphen) [a-z0-9]+)*(?: (?:dot|period) [a-z0-9]+)+)(?!\S)")
_EMAIL_SHAPE = lazy(r"^[a-z0-9._%+-]{1,64}@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,12}$")
_NOT_LOCAL = frozenset({"me", "us", "you", "him", "her", "them", "is", "it", "that", "this", "there", "here", "be"})


def find_email(words: list[str], typed: str | None) -> Found | None:
    """An e-mail address typed ("dana@example.com") or spoken ("dana dot lee at example dot com")."""
    if typed and _EMAIL_SHAPE.match(typed):
        return Found(typed, 0, 0)
    text = " ".join(words)
    found = None
    for match in _SPOKEN_EMAIL.finditer(text):
        local_words = match.group("local").split()
        while local_words and local_words[0] in ("is", "email", "mail", "address", "my", "it"):
            local_words = local_words[1:]
        if not local_words or " ".join(local_words) in _NOT_LOCAL:
            continue
        address = f"{_join_spoken(local_words)}@{_join_spoken(match.group('domain').split())}"
        if _EMAIL_SHAPE.match(address):
            start = _word_index(text, match.start())
            found = Found(address, start, start + len(match.group(0).split()))
    return found


def _join_spoken(words: list[str]) -> str:
    symbols = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}
    return "".join(symbols.get(w, w) for w in words)
