"""What a caller said, cleaned up for reading: speech-to-text quirks, contractions and filler words.

Speech-to-text hands over lowercase text without punctuation, "p m" for "pm", "a.m." with dots, "o'clock"
in three spellings, contractions with and without apostrophes ("can't", "cant"), and hesitations ("um",
"uh", "like", "you know"). :func:`clean_words` turns any of that into a list of plain lowercase words and
digit tokens ("2:30", "14th", "12/3"), with "uh huh" / "mm hmm" read as "yes". Typed e-mail addresses are
lifted out first (:func:`split_email`) because the clean-up would break them apart.
"""

from __future__ import annotations

import re
import unicodedata

from shared.domain.understanding.numbers import NUMBER_WORDS

MAX_CHARS = 600  # a spoken turn is a sentence or two; anything longer is cut, never parsed slowly

_EMAIL = re.compile(r"[a-z0-9._%+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})+")
_TOKEN = re.compile(r"\d+(?:[:/]\d+)*(?:st|nd|rd|th)?|[a-z]+(?:'[a-z]+)*")

_CONTRACTIONS = {
    "i'm": "i am", "im": "i am", "i've": "i have", "ive": "i have", "i'd": "i would", "i'll": "i will",
    "it's": "it is", "its": "it is", "that's": "that is", "thats": "that is", "what's": "what is",
    "whats": "what is", "there's": "there is", "theres": "there is", "here's": "here is", "who's": "who is",
    "where's": "where is", "name's": "name is", "he's": "he is", "she's": "she is", "let's": "let us",
    "lets": "let us", "you're": "you are", "youre": "you are", "we're": "we are", "they're": "they are",
    "theyre": "they are", "won't": "will not", "wont": "will not", "can't": "can not", "cant": "can not",
    "cannot": "can not", "don't": "do not", "dont": "do not", "doesn't": "does not", "doesnt": "does not",
    "didn't": "did not", "didnt": "did not", "isn't": "is not", "isnt": "is not", "aren't": "are not",
    "arent": "are not", "wasn't": "was not", "wasnt": "was not", "weren't": "were not", "wouldn't": "would not",
    "wouldnt": "would not", "couldn't": "could not", "couldnt": "could not", "shouldn't": "should not",
    "haven't": "have not", "havent": "have not", "hasn't": "has not", "hasnt": "has not", "ain't": "is not",
    "gonna": "going to", "wanna": "want to", "gotta": "got to", "kinda": "kind of", "sorta": "sort of",
    "o'clock": "oclock", "tmrw": "tomorrow", "tmr": "tomorrow", "tomorow": "tomorrow", "tommorow": "tomorrow",
    "tommorrow": "tomorrow", "2morrow": "tomorrow", "tues": "tuesday", "weds": "wednesday",
    "thurs": "thursday", "thur": "thursday", "thu": "thursday", "fri": "friday", "wed": "wednesday",
    "mon": "monday", "tue": "tuesday", "okey": "okay", "alright": "all right",
    "e-mail": "email", "ya": "yeah", "ma'am": "maam", "yah": "yeah", "yea": "yeah",
}
_SUFFIXES = (("n't", " not"), ("'ll", " will"), ("'re", " are"), ("'ve", " have"), ("'d", " would"), ("'s", ""))
# Pairs speech-to-text splits apart.
_JOIN = {("a", "c"): "ac", ("h", "vac"): "hvac", ("e", "mail"): "email", ("o", "clock"): "oclock",
         ("mm", "hmm"): "yes", ("uh", "huh"): "yes", ("mhm",): "yes", ("mm", "hm"): "yes",
         ("a", "s", "a", "p"): "asap", ("c", "o"): "co"}
_FILLERS = frozenset({"um", "umm", "ummm", "uhm", "uh", "uhh", "er", "erm", "ah", "ahh", "hmm", "hm", "mmm", "eh"})
_LIKE_KEEPERS = frozenset({"would", "i", "we", "you", "they", "looks", "look", "looked", "feels", "feel", "felt",
                           "sounds", "sound", "something", "anything", "nothing", "not", "more", "just", "do",
                           "did", "smells", "smell", "seems", "seem"})


def split_email(text: str) -> tuple[str, str | None]:
    """The text without a typed e-mail address, and that address (lowercase) if there was one."""
    lowered = _prepare(text)
    match = _EMAIL.search(lowered)
    if not match:
        return lowered, None
    return lowered[:match.start()] + " " + lowered[match.end():], match.group(0).strip(".")


def _prepare(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "")[:MAX_CHARS].lower()
    return text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")


def clean_words(prepared: str) -> list[str]:
    """Plain words and digit tokens of an utterance already passed through :func:`split_email`."""
    text = re.sub(r"\b([ap])\s?\.\s?m\b\.?", r" \1m ", prepared)       # a.m. / p. m.
    text = re.sub(r"(\d)\s?([ap])m\b", r"\1 \2m", text)                 # 3pm -> 3 pm
    text = re.sub(r"(?<=\d)\s?-\s?(?=\d)", " dash ", text)              # 312-555 / 60614-1234
    text = text.replace("#", " number ").replace("&", " and ").replace("+", " plus ").replace("@", " at ")
    text = re.sub(r"o\s?'\s?clock|o\s+clock\b", " oclock ", text)
    words: list[str] = []
    for token in _TOKEN.findall(text):
        words.extend(_expand(token))
    return _drop_fillers(_join_split_words(_meridiem(words)))


def plain_words(text: str) -> list[str]:
    """A quick :func:`clean_words` for configured phrases: lowercase words, contractions opened, nothing else."""
    words: list[str] = []
    for token in _TOKEN.findall(text.lower().replace("\u2019", "'")):
        words.extend(_expand(token))
    return words


def _expand(token: str) -> list[str]:
    if token in _CONTRACTIONS:
        return _CONTRACTIONS[token].split()
    if "'" in token:
        for suffix, replacement in _SUFFIXES:
            if token.endswith(suffix):
                base = token[: -len(suffix)]
                base = {"wo": "will", "ca": "can", "sha": "shall"}.get(base, base)
                return (base + replacement).split()
        return [token]  # a name such as o'brien keeps its apostrophe
    return [token]


def _meridiem(words: list[str]) -> list[str]:
    """"3 p m" -> "3 pm" (only after a number-like word, so "a" stays an article)."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if (words[i] in ("a", "p") and i + 1 < len(words) and words[i + 1] == "m" and out
                and (out[-1][0].isdigit() or out[-1] in _NUMBERISH)):
            out.append(words[i] + "m")
            i += 2
            continue
        out.append(words[i])
        i += 1
    return out


_NUMBERISH = NUMBER_WORDS | {"oclock", "noon"}


def _spelling_around(words: list[str], i: int, length: int) -> bool:
    """Single letters on either side: the letters belong to a spelled word ("j a c k"), not to "a c"."""
    before = words[i - 1] if i else ""
    after = words[i + length] if i + length < len(words) else ""
    return len(before) == 1 or len(after) == 1


def _join_split_words(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        for pattern, joined in _JOIN.items():
            if tuple(words[i:i + len(pattern)]) == pattern:
                if pattern == ("c", "o") and words[i + 2:i + 3] not in (["detector"], ["alarm"], ["detectors"],
                                                                        ["alarms"], ["poisoning"]):
                    continue
                if len(pattern[0]) == 1 and _spelling_around(words, i, len(pattern)):
                    continue
                out.append(joined)
                i += len(pattern)
                break
        else:
            out.append(words[i])
            i += 1
    return out


def _drop_fillers(words: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        following = words[i + 1] if i + 1 < len(words) else ""
        previous = out[-1] if out else ""
        if word in _FILLERS:
            i += 1
            continue
        if word == "like" and previous not in _LIKE_KEEPERS and following not in ("to", "that", "this", "it"):
            i += 1
            continue
        if word == "you" and following == "know" and previous not in ("do", "did", "if", "would", "you", "will"):
            i += 2
            continue
        if word in ("kind", "sort") and following == "of" and previous not in ("what", "which", "any", "some",
                                                                                "the", "a", "that", "this"):
            i += 2
            continue
        if word in ("well", "so") and not out:
            i += 1
            continue
        out.append(word)
        i += 1
    return out
