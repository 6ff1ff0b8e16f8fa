"""When the caller wants the visit: dates, times of day and exclusions, relative to "now" in the business zone.

Reads the numeric word list of an utterance (see ``numbers.numeric_words``) with a small grammar of
regular expressions, in priority order, each consuming the words it reads:

* "as soon as possible", "first available", "any time", "whenever";
* days: "today", "tonight", "tomorrow", "the day after tomorrow", weekdays ("Thursday", "this Friday",
  "next Monday", "Tuesday next week", "Mondays"), weeks ("this week", "next week", "early next week",
  "later this week", "the week after next"), weekends, "in two days", "within three days", calendar
  dates ("the 14th", "December 3rd", "3rd of December 2026", "12/3");
* times of day: "at 10", "10:30", "ten thirty", "half past nine", "quarter to four", "noon", "3 p m",
  "after 3", "before noon", "between 2 and 4", "from 9 to 11", parts of the day ("morning",
  "late afternoon", "tonight", "lunchtime");
* negations: "not Monday", "anything but Friday", "I can't do mornings", "Tuesday doesn't work".
* the problem's history is not a preference: "since this morning", "for two days", "the heat went out
  Saturday night" (see ``history``).

Mentions are grouped into clauses (split at "or", "and", "but" and negations) and each clause becomes
:class:`TimePreference` objects (see ``schema``). Rules, so the dialog can rely on them:

* Weeks start on Monday. A bare weekday is its next occurrence after today ("Thursday" said on a
  Thursday is next week's); "this Thursday" may be today; "next Thursday" is Thursday of next week.
* An hour without am/pm is read as business hours: 7-11 morning, 12 noon, 1-6 afternoon, unless a part
  of the day says otherwise ("8 in the evening").
* A time with no day is its next occurrence; a date with no year is its next occurrence.
* Windows that have begun are clipped to start now; local times that do not exist (the spring-forward
  gap) move forward by the gap, ambiguous ones are the first occurrence (``timezones.wall_to_utc``).

``dateparser`` is used only as a fallback for a calendar date written in a form the grammar does not know
(a month name next to a number it did not read); it is imported lazily (its first use costs ~0.25 s, see
:func:`warm_up`) and its answer is accepted only when it lies within the next year.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Iterable
from zoneinfo import ZoneInfo

from shared.domain.timezones import wall_to_utc
from shared.domain.understanding.history import PAST_OR_DURATION, since_spans, told_as_history
from shared.domain.understanding.patterns import LazyPattern, rx
from shared.domain.understanding.schema import DAY_PART_HOURS, WEEKDAY_NAMES, TimePreference

WEEKDAYS = {name: index for index, name in enumerate(WEEKDAY_NAMES)}
MONTHS = {"january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
          "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9,
          "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12}
_WD = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")"
_ORD = r"(?:[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)"
_DAY = r"(?:[1-9]|[12][0-9]|3[01])(?:st|nd|rd|th)?"
_YEAR = r"(?:20[2-9][0-9]|20 [2-9][0-9])"
_HOUR = r"(?:[01]?[0-9]|2[0-3])"
CLOCK = (r"(?:noon|midday|midnight"
         r"|(?:half|quarter) (?:past|after|to|till|til|of) " + _HOUR +
         r"|[1-5]?[0-9] minutes? (?:past|after|to|till|til|of) " + _HOUR +
         r"|(?:5|10|20|25) (?:past|after) " + _HOUR +
         r"|" + _HOUR + r":[0-5][0-9]"
         r"|[1-9][0-5][0-9](?= (?:am|pm)(?!\S))|1[0-2][0-5][0-9](?= (?:am|pm)(?!\S))"
         r"|" + _HOUR + r"(?: [0-5][0-9](?!\S))?"
         r")(?: (?:am|pm))?(?: oclock)?")
_DAY_PART = r"(?:(?P<mod>early|late|mid) )?(?P<part>mornings?|afternoons?|evenings?|nights?)"
MORNING, AFTERNOON, EVENING = DAY_PART_HOURS["morning"], DAY_PART_HOURS["afternoon"], DAY_PART_HOURS["evening"]


@dataclass(frozen=True, slots=True)
class Clock:
    """A time of day as said: ``certain`` when the hour is already 0-23 (am/pm, 24-hour, noon)."""

    hour: int
    minute: int
    certain: bool

    def resolve(self, part: str | None) -> time:
        """The wall-clock time, reading an uncertain hour with the part of day or business hours."""
        if self.certain:
            return time(self.hour, self.minute)
        hour = self.hour % 12
        if part == "morning":
            return time(hour, self.minute)
        if part in ("afternoon", "evening") or 1 <= self.hour <= 6:
            return time(hour + 12, self.minute)
        return time(12 if self.hour == 12 else hour, self.minute)


def read_clock(text: str) -> Clock | None:
    """The :class:`Clock` of a string matched by ``CLOCK`` ("half past 9", "2:30 pm", "10 30")."""
    words = text.split()
    meridiem = None
    if words and words[-1] == "oclock":
        words = words[:-1]
    if words and words[-1] in ("am", "pm"):
        meridiem = words.pop()
    if not words:
        return None
    first = words[0]
    if first in ("noon", "midday"):
        return Clock(12, 0, True)
    if first == "midnight":
        return Clock(0, 0, True)
    hour: int
    minute = 0
    if len(words) >= 3 and words[-2] in ("past", "after", "to", "till", "til", "of"):
        base = int(words[-1])
        offset = 30 if first == "half" else 15 if first == "quarter" else int(first)
        if offset >= 60:
            return None
        if words[-2] in ("past", "after"):
            hour, minute = base, offset
        else:  # "quarter to 1" is 12:45, "ten to 12" 11:50
            hour, minute = (base - 1 if base > 1 else 12 if base == 1 else 23), 60 - offset
    elif ":" in first:
        hour_text, minute_text = first.split(":", 1)
        hour, minute = int(hour_text), int(minute_text)
    elif len(first) >= 3 and first.isdigit():
        hour, minute = int(first[:-2]), int(first[-2:])
    elif first.isdigit():
        hour = int(first)
        if len(words) >= 2 and words[1].isdigit():
            minute = int(words[1])
    else:
        return None
    if hour > 23 or minute > 59:
        return None
    if meridiem:
        if hour > 12 or hour == 0:
            return None
        return Clock(hour % 12 + (12 if meridiem == "pm" else 0), minute, True)
    if hour == 0 or hour > 12:
        return Clock(hour, minute, True)
    return Clock(hour, minute, False)


@dataclass(slots=True)
class Mention:
    """One piece of a time expression, located at words ``[start, end)``."""

    start: int
    end: int
    first: date | None = None            # a local date range, inclusive
    last: date | None = None
    day_named: bool = False              # a specific day was said ("today", "Thursday") rather than implied
    weekdays: frozenset[int] = frozenset()
    at: Clock | None = None
    after: Clock | None = None
    before: Clock | None = None
    part: str | None = None
    part_bounds: tuple[time, time | None] | None = None
    asap: bool = False
    any: bool = False
    not_before: datetime | None = None   # "in two hours"
    borrowed: bool = False               # copied from a neighbouring clause ("Thursday or Friday afternoon")
    negated: bool = False                # in a clause the caller excluded ("not Monday")
    bare_weekday: int | None = None      # a weekday said alone ("Monday"): excluded, it means every Monday
    open_end: bool = False               # "any time after the 15th": from ``first`` on, no last day
    weeks_out: bool = False              # "in two weeks": a weekday said with it falls in that week
    month_named: bool = False            # "in April": a weekday said with it is every such day of it


@dataclass(slots=True)
class Clause:
    mentions: list[Mention] = field(default_factory=list)
    negated: bool = False
    marker: int | None = None  # where the negation (or the week out it narrows) began, for the phrase

    @property
    def start(self) -> int:
        starts = [m.start for m in self.mentions if not m.borrowed]
        if self.marker is not None:
            starts.append(self.marker)
        return min(starts)

    @property
    def end(self) -> int:
        return max(m.end for m in self.mentions if not m.borrowed)


@dataclass(slots=True)
class Context:
    now: datetime
    tz: ZoneInfo
    today: date
    expecting: str | None
    ordinals_are_choices: bool


class _Scan:
    """The words of an utterance, with those already read masked out."""

    def __init__(self, words: list[str]):
        self.words = words
        self.masked = list(words)
        self._text: str | None = None
        self._starts: list[int] = []

    def _refresh(self) -> None:
        starts = []
        position = 0
        for word in self.masked:
            starts.append(position)
            position += len(word) + 1
        self._starts = starts
        self._text = " ".join(self.masked)

    def find(self, pattern: LazyPattern) -> list[tuple[re.Match[str], int, int]]:
        """Every match of ``pattern`` in the unread words, with the word span each covers."""
        if self._text is None:
            self._refresh()
        assert self._text is not None
        found = []
        for match in pattern.finditer(self._text):
            if match.end() == match.start():
                continue
            first = bisect_right(self._starts, match.start()) - 1
            last = bisect_left(self._starts, match.end())
            found.append((match, first, last))
        return found

    def consume(self, first: int, last: int) -> None:
        for i in range(first, last):
            self.masked[i] = "_"
        self._text = None


_ASAP = rx(r"as soon as (?:possible|you can|you could|we can|can be|you are able)|asap|(?:at )?(?:the )?soonest"
           r"(?: possible| available| you can| you have)?|(?:the )?earliest(?: possible| available| you have| time"
           r"| opening| slot| appointment| you can)?|(?:the )?(?:1st|next) (?:available|opening|open slot)"
           r"|right away|straight away|immediately|right now|as early as possible|the sooner the better"
           r"|the earlier the better"
           r"|sooner rather than later|urgent(?:ly)?|as quickly as possible|as fast as possible|asap please")
_FIRST_THING = rx(r"1st thing(?: in the morning)?")
_ANY = rx(r"any ?time|whenever(?: works| is good| you can)?|any day(?: works| is fine)?|i am flexible|flexible"
          r"|(?:it )?does not matter|i do not care|whatever works|whatever is (?:open|available|easiest|best|soonest)"
          r"|anything works|any time is fine|i am (?:free|available) all (?:day|week)|wide open|no preference")
_IN_HOURS = rx(r"in (?:(?P<n>[1-9]|1[0-2]) hours?|(?:an|1) hour|half an hour|(?P<m>[1-5]?[05]) minutes"
               r"|a couple (?:of )?hours|a few hours|an hour or (?:2|so))")
_DAY_AFTER = rx(r"(?:the )?day after tomorrow")
_TONIGHT = rx(r"tonight|this evening|later tonight")
_THIS_PART = rx(r"this (?P<part>morning|afternoon)|later today|today|this day")
_TOMORROW = rx(r"tomorrow(?: (?P<part>morning|afternoon|evening|night))?")
_WEEK_AFTER_NEXT = rx(r"(?:the )?week after next")
_WEEK = rx(r"(?:(?P<mod>early|earlier|late|later|beginning of|start of|middle of|mid|end of|the end of|"
           r"the beginning of|the start of|the middle of|first part of|the 1st part of|latter part of) )?"
           r"(?:(?:in|during|on|for) )?(?P<which>this|next|the following|the|coming|the coming) week(?!end)"
           r"|(?P<later>later|sometime later|earlier) (?:this|in the) week")
_WEEKEND = rx(r"(?:(?P<which>this|next|the|on the|over the|this coming|coming) )?(?P<plural>weekends?)"
              r"(?P<after_next> after next)?")
_WEEKDAYS_ONLY = rx(r"(?:on |any |during the )?(?:a )?weekdays?|during the week|monday (?:to|through|thru) friday")
_MONTH_REL = rx(r"(?:(?P<mod>end of|the end of|later|early|beginning of|the beginning of) )?"
                r"(?P<which>this|next|the) month")
# A month by name needs a word before it ("in April", "early May"): "may" and "march" are verbs too.
_MONTHS = r"(?:january|february|march|april|may|june|july|august|september|october|november|december)"
_NAMED_MONTH = rx(r"(?:(?:in|during|sometime in|some time in|for) )?(?P<mod>early|late|mid|middle of|end of|the end of"
                  r"|beginning of|the beginning of|start of|the start of) (?P<mon>" + _MONTHS + r")"
                  r"|(?:in|during|sometime in|some time in|for) (?P<mon2>" + _MONTHS + r")")
_WD_NEXT_WEEK = rx(r"next week(?: on)? (?P<wd>" + _WD + r")|(?P<wd2>" + _WD + r")(?: of)? next week"
                   r"|(?P<wd3>" + _WD + r") after next|(?P<wd4>" + _WD + r") (?:of )?this week")
_WEEK_FROM_DAY = rx(r"(?:a|1|one) week from (?:this |next |on )?(?P<wd>" + _WD + r")")
_WEEKDAY = rx(r"(?:(?P<q>this coming|this|next|coming|on|following|the following|by) )?(?P<wd>" + _WD + r")"
              r"(?P<plural>s)?")
_IN_DAYS = rx(r"(?:in|about) (?:(?P<n>[1-9]|[12][0-9]|30)|a|an|a couple(?: of)?|couple(?: of)?|a few|few)"
              r" (?P<unit>days?|weeks?)(?: time)?(?: from (?:now|today))?"
              r"|(?:(?P<n2>[1-9]|[12][0-9]|30)|a|one|a couple(?: of)?|couple(?: of)?|a few|few) (?P<unit2>days?|weeks?)"
              r" from (?:today|now)"
              r"|in a day or (?:2|so)")
_WITHIN = rx(r"(?:within|in|over|during|sometime in|sometime over)(?: the)? (?:next|coming)"
             r" (?:(?P<n>[1-9]|1[0-4])|a few|few|a couple(?: of)?|couple(?: of)?) days"
             r"|within (?:(?P<n2>[1-9]|1[0-4])|a few|a couple(?: of)?) days"
             r"|(?:the )?next (?:(?P<n3>[1-9]|1[0-4])|few|couple(?: of)?) days")
_MONTH_DAY = rx(r"(?:on )?(?P<mon>" + _MONTH + r") (?:the )?(?P<day>" + _DAY + r")(?: (?P<year>" + _YEAR + r"))?")
_DAY_MONTH = rx(r"(?:on )?(?:the )?(?P<day>" + _DAY + r") (?:of )?(?P<mon>" + _MONTH + r")(?: (?P<year>"
                + _YEAR + r"))?")
_NUMERIC_DATE = rx(r"(?:on )?(?P<m>1[0-2]|0?[1-9])/(?P<d>3[01]|[12][0-9]|0?[1-9])(?:/(?P<y>(?:20)?[2-9][0-9]))?"
                   r"|(?:on )?(?P<iy>20[2-9][0-9]) dash (?P<im>1[0-2]|0[1-9]) dash (?P<id>3[01]|[12][0-9]|0[1-9])")
_WEEK_OF_MONTH = rx(r"(?:in |during )?(?:the )?(?P<n>1st|2nd|3rd|4th|last) week (?:of|in) (?P<mon>" + _MONTH + r")")
_DAY_OF_MONTH = rx(r"(?:(?P<on>on )(?:the )?|the )(?P<day>" + _ORD + r")(?P<next> of next month| of the month"
                   r"| of this month)?")
_BETWEEN = rx(r"(?:between|from|sometime between|anywhere between) (?P<a>" + CLOCK + r") (?:and|to|till|til|until"
              r"|through|dash) (?P<b>" + CLOCK + r")|(?P<a2>" + CLOCK + r") (?:to|till|til|until|dash) (?P<b2>"
              + CLOCK + r")")
_AFTER = rx(r"(?:any ?time |sometime |anytime )?(?:after|not before|no earlier than|starting at|starting from"
            r"|from|later than|at or after) (?P<a>" + CLOCK + r")(?: on)?")
_BEFORE = rx(r"(?:any ?time |sometime )?(?:before|by|until|till|til|up to|no later than|not after|not later than"
             r"|earlier than|at the latest by) (?P<a>" + CLOCK + r")(?: at the latest)?")
_PART = rx(r"(?:in the |this |during the |on |any |in )?" + _DAY_PART)
_LUNCH = rx(r"(?:around |at |over |during )?(?:lunch ?time|lunch)")
_AFTER_WORK = rx(r"(?P<edge>after|before) (?P<what>work|school|lunch)")
_BUSY_UNTIL = rx(r"(?:i|we) (?:work|am at work|am working|am busy|are busy|am out|am not home|are not home|get off"
                 r"|get home|will be home|will not be home|get back|will be back|am back|am stuck at work)"
                 r"(?: work)?(?: until| till| til| at| by| around| after)? (?P<a>" + CLOCK + r")")
_AT = rx(r"(?:(?P<prep>at|around|about|say|how about|what about|maybe|is|for|like|or|and|can you do|could you do"
         r"|can we do|could we do|does|do|let us do|let us say|make it|is there anything at) )?(?P<a>" + CLOCK + r")"
         r"(?P<ish> ish)?")
_NEG_BEFORE = rx(r"not|except(?: for)?|but not|other than|anything but|apart from|excluding|can not do|can not make"
                 r"|(?:i|we) (?:work|have work|am working|are working|am at work|are at work|have to work)(?: on)?"
                 r"|i am (?:gone|away|out of town|not home)(?: on)?|(?:i|we) (?:have|got) (?:plans|something)(?: on)?"
                 r"|(?:i|we) (?:have|got|have got) (?:a|an|my|the) (?:[a-z]+ )?(?:appointment|meeting|dentist"
                 r"|doctor|class|shift|interview|flight)(?: appointment)?(?: on| at)?"
                 r"(?: it)?|can not|could not|will not be able to do|unable to do|i am busy|busy|i am not available"
                 r"|not available|unavailable|avoid|no")
_NEG_AFTER = rx(r"(?:is |are |that )?(?:does not|do not|will not|would not|is not going to|are not going to"
                r"|is not|are not) (?:work|good|great|possible|an option|going to work)(?: for (?:me|us))?"
                r"|(?:is|are) (?:no good|bad|tough|difficult|out|full|booked)(?: for (?:me|us))?|no good"
                r"|i can not(?: do (?:it|that))?|i am (?:busy|working|away|out|not (?:home|available|around))"
                r"|we are (?:busy|away|out|not (?:home|available|around))|(?:is|are) not available"
                r"|(?:i|we) (?:have|got|have got) (?:a|an|my|the|another|other) (?:[a-z]+ )?(?:appointment|meeting"
                r"|class|shift|commitment|thing|game|event|flight|interview)|(?:i|we) (?:have|got) plans")
# Only right after a day: "Monday's out", "Friday's a no go" ("come out Friday" is no negation).
_NEG_RIGHT_AFTER = rx(r"out|(?:is )?(?:a )?no go")
_NEG_BRIDGE = frozenset({"on", "in", "the", "this", "next", "at", "do", "it", "make", "that", "any", "for", "until",
                         "till", "a", "an", "during", "come", "out", "by"})
_SUBJECTS = frozenset({"i", "we"})
_WELCOMED = frozenset({"is", "works", "would", "good", "fine", "better", "ok", "okay", "great", "perfect"})
_SEPARATORS = frozenset({"or", "but", "and", "otherwise", "else", "alternatively", "also", "instead", "then"})


def _wd_next_occurrence(today: date, weekday: int, *, include_today: bool) -> date:
    ahead = (weekday - today.weekday()) % 7
    if ahead == 0 and not include_today:
        ahead = 7
    return today + timedelta(days=ahead)


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _weekday_date(qualifier: str | None, weekday: int, today: date) -> date:
    """The date a caller means by "[qualifier] <weekday>" (module docstring: weeks start on Monday)."""
    if qualifier in ("next", "the following", "following"):
        return _monday(today) + timedelta(days=7 + weekday)
    if qualifier == "this":
        this_week = _monday(today) + timedelta(days=weekday)
        return this_week if this_week >= today else _wd_next_occurrence(today, weekday, include_today=False)
    return _wd_next_occurrence(today, weekday, include_today=False)


def _next_day_of_month(today: date, day: int, *, months_ahead: int = 0) -> date | None:
    year, month = today.year, today.month
    for step in range(months_ahead, months_ahead + 13):
        y, m = year + (month - 1 + step) // 12, (month - 1 + step) % 12 + 1
        try:
            candidate = date(y, m, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    return None


def _calendar_date(today: date, month: int, day: int, year: int | None) -> date | None:
    """The date said, in the year said, else its next occurrence (February 29th: the next leap year)."""
    years = [year] if year is not None else range(today.year, today.year + 9)
    for candidate_year in years:
        try:
            candidate = date(candidate_year, month, day)
        except ValueError:
            continue
        if year is not None or candidate >= today:
            return candidate
    return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    digits = text.replace(" ", "")
    return int(digits) if len(digits) == 4 else 2000 + int(digits)


def _day_number(text: str) -> int:
    return int(re.match(r"\d+", text).group(0))  # type: ignore[union-attr]


def _clock_of(match: re.Match[str], group: str) -> Clock | None:
    text = match.group(group)
    return read_clock(text) if text else None


def _part_name(word: str) -> str:
    word = word.rstrip("s")
    return "evening" if word == "night" else word


_PART_BOUNDS: dict[tuple[str, str | None], tuple[time, time | None]] = {
    ("morning", None): MORNING, ("morning", "early"): (time(0, 0), time(9, 0)),
    ("morning", "mid"): (time(9, 0), time(11, 0)), ("morning", "late"): (time(10, 0), time(12, 0)),
    ("afternoon", None): AFTERNOON, ("afternoon", "early"): (time(12, 0), time(14, 0)),
    ("afternoon", "mid"): (time(13, 0), time(16, 0)), ("afternoon", "late"): (time(15, 0), time(17, 0)),
    ("evening", None): EVENING, ("evening", "early"): (time(17, 0), time(19, 0)),
    ("evening", "mid"): (time(18, 0), time(20, 0)), ("evening", "late"): (time(19, 0), None),
}


def _part_bounds(part: str, modifier: str | None) -> tuple[time, time | None]:
    """Wall-clock bounds of "[early|mid|late] morning/afternoon/evening"."""
    return _PART_BOUNDS[(part, modifier)]


def find_mentions(words: list[str], ctx: Context) -> tuple[list[Mention], _Scan]:
    """Every time-related mention in ``words`` (numeric view), in order of appearance."""
    words = [_without_ish(word) for word in words]  # "noonish", "fiveish": about then
    scan = _Scan(words)
    # the problem's history ("since this morning", "for two days") is not when to come: never read
    for _, i, j in scan.find(PAST_OR_DURATION):
        scan.consume(i, j)
    for span in since_spans(words):
        scan.consume(*span)
    today = ctx.today
    mentions: list[Mention] = []

    def add(match_span: tuple[int, int], **values) -> Mention:
        mention = Mention(match_span[0], match_span[1], **values)
        mentions.append(mention)
        scan.consume(*match_span)
        return mention

    def days(first: date, last: date | None = None, **values) -> dict:
        return {"first": first, "last": last or first, **values}

    for match, i, j in scan.find(_FIRST_THING):
        add((i, j), asap=True, part="morning", part_bounds=MORNING)
    for match, i, j in scan.find(_ASAP):
        add((i, j), asap=True)
    for match, i, j in scan.find(_IN_HOURS):
        text = match.group(0)
        if match.group("n"):
            delta = timedelta(hours=int(match.group("n")))
        elif match.group("m"):
            delta = timedelta(minutes=int(match.group("m")))
        elif "half" in text:
            delta = timedelta(minutes=30)
        elif "couple" in text:
            delta = timedelta(hours=2)
        elif "few" in text:
            delta = timedelta(hours=3)
        else:
            delta = timedelta(hours=1)
        add((i, j), not_before=ctx.now + delta)
    for match, i, j in scan.find(_ANY):
        add((i, j), any=True)
    _relative_day_mentions(scan, today, add, days)
    for match, i, j in scan.find(_DAY_AFTER):
        add((i, j), **days(today + timedelta(days=2)), day_named=True)
    for match, i, j in scan.find(_TONIGHT):
        add((i, j), **days(today), day_named=True, part="evening", part_bounds=EVENING)
    for match, i, j in scan.find(_TOMORROW):
        part = match.group("part")
        extra = {"part": _part_name(part), "part_bounds": DAY_PART_HOURS[_part_name(part)]} if part else {}
        add((i, j), **days(today + timedelta(days=1)), day_named=True, **extra)
    for match, i, j in scan.find(_THIS_PART):
        part = match.group("part")
        extra = {"part": part, "part_bounds": DAY_PART_HOURS[part]} if part else {}
        if match.group(0) == "later today":
            extra["not_before"] = ctx.now + timedelta(hours=1)
        add((i, j), **days(today), day_named=True, **extra)
    _week_mentions(scan, today, add, days)
    for match, i, j in scan.find(_WD_NEXT_WEEK):
        name = match.group("wd") or match.group("wd2") or match.group("wd3") or match.group("wd4")
        if match.group("wd3"):
            day = _weekday_date("next", WEEKDAYS[name], today) + timedelta(days=7)
        elif match.group("wd4"):
            day = _weekday_date("this", WEEKDAYS[name], today)
        else:
            day = _weekday_date("next", WEEKDAYS[name], today)
        add((i, j), **days(day), day_named=True)
    for match, i, j in scan.find(_WEEK_FROM_DAY):  # "a week from Tuesday": the Tuesday after next
        day = _weekday_date(None, WEEKDAYS[match.group("wd")], today) + timedelta(days=7)
        add((i, j), **days(day), day_named=True)
    for match, i, j in scan.find(_WEEKDAY):
        weekday = WEEKDAYS[match.group("wd")]
        if match.group("plural"):
            add((i, j), weekdays=frozenset({weekday}))
        elif match.group("q") == "by":  # "by Friday": any day until then
            add((i, j), **days(today, _weekday_date(None, weekday, today)))
        else:
            mention = add((i, j), **days(_weekday_date(match.group("q"), weekday, today)), day_named=True)
            if match.group("q") in (None, "on"):
                mention.bare_weekday = weekday
    _calendar_mentions(scan, ctx, add, days)
    mentions.extend(_dateparser_mentions(scan, ctx))
    _bounded_days(mentions, scan.words, today)
    _clock_mentions(scan, ctx, add)
    mentions.sort(key=lambda m: m.start)
    return _without_history(mentions, words), scan


_JOINING = frozenset({"at", "in", "the", "around", "about", "on", "of"})


def _without_history(mentions: list[Mention], words: list[str]) -> list[Mention]:
    """``mentions`` (in order) less the runs of them that tell when the trouble happened.

    A run is mentions said together ("Saturday night", "around 3 this afternoon"), so the whole time is
    judged by the words around it rather than a part by its neighbour.
    """
    kept: list[Mention] = []
    run: list[Mention] = []
    for mention in [*mentions, None]:
        if run and (mention is None or not _said_together(run[-1], mention, words)):
            if not told_as_history(words, run[0].start, max(m.end for m in run)):
                kept.extend(run)
            run = []
        if mention is not None:
            run.append(mention)
    return kept


def _said_together(before: Mention, after: Mention, words: list[str]) -> bool:
    return all(word in _JOINING for word in words[before.end:after.start]) and after.start - before.end <= 2


def _without_ish(word: str) -> str:
    stem = word[:-3] if word.endswith("ish") and len(word) > 3 else word
    return stem if stem != word and (stem in ("noon", "midday") or stem.isdigit() or ":" in stem) else word


_OPEN_LAST = date(9000, 1, 1)  # the last day of an open-ended range ("after the 15th"); never reaches a preference
_FROM_ON = (("no", "earlier", "than"), ("not", "before"), ("starting", "from"), ("starting",), ("from",),
            ("beginning",), ("as", "of"), ("sometime", "after"), ("any", "time", "after"), ("anytime", "after"),
            ("after",))
_UNTIL = (("no", "later", "than"), ("not", "after"), ("before",), ("by",), ("until",), ("till",))


def _bounded_days(mentions: list[Mention], words: list[str], today: date) -> None:
    """ "any time after the 15th", "no earlier than Tuesday", "before the 20th": a day said as a bound."""
    for mention in mentions:
        if mention.first is None or mention.last is None or mention.weekdays:
            continue
        before = tuple(words[max(0, mention.start - 3):mention.start])
        lead = next((b for b in _FROM_ON + _UNTIL if before[-len(b):] == b), None)
        if lead is None:
            continue
        if lead in _FROM_ON:
            first = mention.last + timedelta(days=1) if lead[-1] == "after" else mention.first
            mention.first, mention.last, mention.open_end = first, _OPEN_LAST, True
        else:
            last = mention.first - timedelta(days=1) if lead[-1] == "before" else mention.last
            if last < today:
                continue
            mention.first, mention.last = today, last
        mention.start -= len(lead)
        mention.day_named = False


def _relative_day_mentions(scan: _Scan, today: date, add, days) -> None:
    """ "in two days", "a week from today", "within three days" (before "today" is read on its own)."""
    for match, i, j in scan.find(_IN_DAYS):
        text = match.group(0)
        unit = match.group("unit") or match.group("unit2") or ""
        if text.startswith("in a day or"):
            add((i, j), **days(today + timedelta(days=1), today + timedelta(days=2)))
            continue
        number = match.group("n") or match.group("n2")
        count = int(number) if number else 2 if "couple" in text else 3 if "few" in text else 1
        weeks = unit.startswith("week")
        span = count * (7 if weeks else 1)
        if "couple" in text or "few" in text:
            add((i, j), **days(today + timedelta(days=span), today + timedelta(days=span + 1)), weeks_out=weeks)
        else:
            add((i, j), **days(today + timedelta(days=span)), day_named=True, weeks_out=weeks)
    for match, i, j in scan.find(_WITHIN):
        text = match.group(0)
        number = match.group("n") or match.group("n2") or match.group("n3")
        count = int(number) if number else 2 if "couple" in text else 3
        add((i, j), **days(today, today + timedelta(days=count)))


def _week_mentions(scan: _Scan, today: date, add, days) -> None:
    monday = _monday(today)
    sunday = monday + timedelta(days=6)
    for match, i, j in scan.find(_WEEKDAYS_ONLY):
        add((i, j), weekdays=frozenset(range(5)))
    for match, i, j in scan.find(_WEEK_AFTER_NEXT):
        add((i, j), **days(monday + timedelta(days=14), monday + timedelta(days=20)))
    for match, i, j in scan.find(_WEEK):
        if match.group("later"):
            if match.group("later") == "earlier":
                add((i, j), **days(today, max(today, monday + timedelta(days=2))))
            else:
                add((i, j), **days(min(today + timedelta(days=1), sunday), sunday))
            continue
        which = match.group("which")
        modifier = (match.group("mod") or "").replace("the ", "")
        next_week = which in ("next", "the following") or which in ("coming", "the coming") and not modifier
        base = monday + timedelta(days=7) if next_week else monday
        if modifier in ("early", "earlier", "beginning of", "start of", "1st part of", "first part of"):
            first, last = base, base + timedelta(days=2)
        elif modifier in ("middle of", "mid"):
            first, last = base + timedelta(days=1), base + timedelta(days=3)
        elif modifier in ("late", "later", "end of", "latter part of"):
            first, last = base + timedelta(days=3), base + timedelta(days=6)
        else:
            first, last = base, base + timedelta(days=6)
        first = max(first, today)
        if last < first:
            last = first
        add((i, j), **days(first, last))
    for match, i, j in scan.find(_WEEKEND):
        if match.group("plural") == "weekends":
            add((i, j), weekdays=frozenset({5, 6}))
            continue
        saturday = monday + timedelta(days=5)
        if match.group("which") == "next":
            saturday += timedelta(days=7)
        if match.group("after_next"):  # "the weekend after next"
            saturday += timedelta(days=7 if saturday >= today else 14)
        first = max(saturday, today)
        add((i, j), **days(first, saturday + timedelta(days=1)))
    for match, i, j in scan.find(_MONTH_REL):
        first_of_this = today.replace(day=1)
        if match.group("which") == "next":
            first = (first_of_this + timedelta(days=32)).replace(day=1)
        else:
            first = today
        last = (first.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        modifier = (match.group("mod") or "").replace("the ", "")
        if modifier in ("end of", "later"):
            first = max(first, last - timedelta(days=6))
        elif modifier in ("early", "beginning of"):
            last = min(last, first.replace(day=1) + timedelta(days=9))
            first = max(first, today)
        if last >= first:
            add((i, j), **days(first, last))


def _calendar_mentions(scan: _Scan, ctx: Context, add, days) -> None:
    today = ctx.today
    for match, i, j in scan.find(_WEEK_OF_MONTH):
        month = MONTHS[match.group("mon")]
        year = today.year if month >= today.month else today.year + 1
        first_day = date(year, month, 1)
        last_day = (first_day + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        which = match.group("n")
        start = last_day - timedelta(days=6) if which == "last" else first_day + timedelta(days=7 * (int(which[0]) - 1))
        end = min(start + timedelta(days=6), last_day)
        if end >= today:
            add((i, j), **days(max(start, today), end))
    for pattern in (_MONTH_DAY, _DAY_MONTH):
        for match, i, j in scan.find(pattern):
            day = _calendar_date(today, MONTHS[match.group("mon")], _day_number(match.group("day")),
                                 _year(match.group("year")))
            if day is not None:
                add((i, j), **days(day), day_named=True)
    for match, i, j in scan.find(_NUMERIC_DATE):
        if match.group("iy"):
            day = _calendar_date(today, int(match.group("im")), int(match.group("id")), int(match.group("iy")))
            if day is not None:
                add((i, j), **days(day), day_named=True)
            continue
        year = match.group("y")
        full_year = None if not year else int(year) if len(year) == 4 else 2000 + int(year)
        day = _calendar_date(today, int(match.group("m")), int(match.group("d")), full_year)
        if day is not None:
            add((i, j), **days(day), day_named=True)
    for match, i, j in scan.find(_DAY_OF_MONTH):
        number = _day_number(match.group("day"))
        if ctx.ordinals_are_choices and not match.group("on") and not match.group("next") and number <= 5:
            continue
        following = scan.words[j] if j < len(scan.words) else ""
        if following in ("one", "option", "choice", "slot", "time", "thing", "available", "opening", "floor",
                         "street", "avenue", "st", "ave", "place", "road", "drive", "week", "weekend", "month",
                         "thought", "thoughts"):
            continue
        if match.group("next") == " of next month":
            day = _next_day_of_month(today, number, months_ahead=1)
        else:
            day = _next_day_of_month(today, number)
        if day is not None:
            add((i, j), **days(day), day_named=True)
    for match, i, j in scan.find(_NAMED_MONTH):  # "sometime in April", "early May" (after its dates are read)
        span = _named_month(today, MONTHS[match.group("mon") or match.group("mon2")], match.group("mod"))
        if span is not None:
            add((i, j), **days(*span), month_named=True)


def _named_month(today: date, month: int, modifier: str | None) -> tuple[date, date] | None:
    """The days of the next ``month`` (this one from today), or of its early, middle or late part."""
    year = today.year if month >= today.month else today.year + 1
    first = date(year, month, 1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    modifier = (modifier or "").replace("the ", "")
    if modifier in ("early", "beginning of", "start of"):
        last = first + timedelta(days=9)
    elif modifier in ("mid", "middle of"):
        first, last = first + timedelta(days=9), first + timedelta(days=19)
    elif modifier in ("late", "end of"):
        first = last - timedelta(days=9)
    first = max(first, today)
    return (first, last) if last >= first else None


def _clock_mentions(scan: _Scan, ctx: Context, add) -> None:
    for match, i, j in scan.find(_BETWEEN):
        first = _clock_of(match, "a") or _clock_of(match, "a2")
        second = _clock_of(match, "b") or _clock_of(match, "b2")
        if first is None or second is None:
            continue
        first_pm = (match.group("b") or match.group("b2") or "").endswith("pm")
        if not first.certain and second.certain and first_pm and first.hour <= second.hour - 12:
            first = Clock(first.hour % 12 + 12, first.minute, True)
        add((i, j), after=first, before=second)
    for match, i, j in scan.find(_BUSY_UNTIL):  # "I work until five": free after five
        clock = _clock_of(match, "a")
        if clock is not None:
            add((i, j), after=clock)
    for match, i, j in scan.find(_AFTER_WORK):
        hour = {"work": 17, "school": 15, "lunch": 13}[match.group("what")]
        if match.group("edge") == "after":
            add((i, j), after=Clock(hour, 0, True))
        else:
            add((i, j), before=Clock(12 if hour == 13 else hour, 0, True))
    for match, i, j in scan.find(_AFTER):
        clock = _clock_of(match, "a")
        if clock is not None:
            add((i, j), after=clock)
    for match, i, j in scan.find(_BEFORE):
        clock = _clock_of(match, "a")
        if clock is not None:
            add((i, j), before=clock)
    for match, i, j in scan.find(_LUNCH):
        add((i, j), after=Clock(11, 0, True), before=Clock(13, 30, True))
    for match, i, j in scan.find(_PART):
        part = _part_name(match.group("part"))
        add((i, j), part=part, part_bounds=_part_bounds(part, match.group("mod")))
    bare_ok = ctx.expecting in ("time", "choice")
    last_at_end = -1
    for match, i, j in scan.find(_AT):
        clock = _clock_of(match, "a")
        if clock is None:
            continue
        prep = match.group("prep")
        listed = prep in ("or", "and") and i == last_at_end + 1  # "at 10 or 11"
        strong = listed or prep in _STRONG_PREPOSITIONS or bool(match.group("ish"))
        counted = i > 0 and scan.words[i - 1] in ("number", "option", "choice")  # "option 2" is not 2 o'clock
        if counted and not prep:
            continue
        if strong or _clock_is_plausible(match.group("a")) or (bare_ok and _lone_number(scan, i, j)):
            # "or"/"and" stay outside the mention: they separate clauses.
            add((i + 1 if prep in ("or", "and") else i, j), at=clock)
            last_at_end = j - 1


_STRONG_PREPOSITIONS = frozenset({"at", "around", "about", "say", "how about", "what about", "maybe", "can you do",
                                  "could you do", "can we do", "could we do", "let us do", "let us say", "make it",
                                  "is there anything at"})


def _clock_is_plausible(text: str) -> bool:
    """A clock said with am/pm, minutes or a word like "noon" is a time even without "at" before it."""
    return bool(re.search(r"am|pm|oclock|:|noon|midday|midnight|half|quarter|past|minutes|\d \d", text))


def _lone_number(scan: _Scan, i: int, j: int) -> bool:
    """The utterance is essentially just this number ("2", "ten thirty please")."""
    others = [w for k, w in enumerate(scan.masked) if (k < i or k >= j) and w != "_"]
    return all(not w.isdigit() for w in others) and len(others) <= 4


def _dateparser_mentions(scan: _Scan, ctx: Context) -> list[Mention]:
    """A month name with numbers the grammar could not read ("December 03"): ask ``dateparser``, once.

    Only the month and the numbers (and "of"/"the") right next to it are passed, so dateparser never
    guesses from unrelated words; its answer counts only if it falls within the next year.
    """
    words = scan.masked
    for k, word in enumerate(words):
        if word not in MONTHS:
            continue
        first, last = k, k + 1
        while first > 0 and _date_word(words[first - 1]):
            first -= 1
        while last < len(words) and _date_word(words[last]):
            last += 1
        if not any(words[n][0].isdigit() for n in range(first, last)):
            continue
        day = _dateparser_date(" ".join(words[first:last]), ctx)
        if day is None:
            return []
        scan.consume(first, last)
        return [Mention(first, last, first=day, last=day, day_named=True)]
    return []


def _date_word(word: str) -> bool:
    return word in ("of", "the") or bool(re.fullmatch(r"\d{1,4}(?:st|nd|rd|th)?", word))


def _dateparser_settings(ctx: Context) -> dict:
    local_now = ctx.now.astimezone(ctx.tz).replace(tzinfo=None)
    return {"PREFER_DATES_FROM": "future", "RELATIVE_BASE": local_now, "TIMEZONE": str(ctx.tz.key),
            "RETURN_AS_TIMEZONE_AWARE": False, "REQUIRE_PARTS": ["day", "month"], "DATE_ORDER": "MDY"}


def _dateparser_date(fragment: str, ctx: Context) -> date | None:
    import dateparser  # lazily: ~0.1 s to import and ~0.15 s for its first parse

    try:
        parsed = dateparser.parse(fragment, languages=["en"], settings=_dateparser_settings(ctx))
    except Exception:  # noqa: BLE001 - a fallback must never break the turn
        return None
    if parsed is None:
        return None
    day = parsed.date()
    if not (ctx.today <= day <= ctx.today + timedelta(days=366)):
        return None
    return day


def warm_up() -> None:
    """Import ``dateparser`` and run one parse, so the fallback never costs a caller the cold start."""
    import dateparser

    dateparser.parse("3rd of december", languages=["en"], settings={"PREFER_DATES_FROM": "future"})


# ---------------------------------------------------------------- clauses -> preferences

def group_clauses(mentions: list[Mention], scan: _Scan) -> list[Clause]:
    """Split mentions at "or"/"and"/"but" and at negations; mark negated clauses."""
    words = scan.words
    masked = scan.masked
    neg_before = [(i, j) for _, i, j in scan.find(_NEG_BEFORE) if _is_negation_word(words, i)]
    starts = {m.start for m in mentions}
    # "I can't" before a day negates that day; after one ("Monday I can't") it negates the day before.
    ends = {m.end for m in mentions}
    # "Monday is no good for me next week": right after a day, the negation is about that day
    neg_after = [(i, j) for _, i, j in scan.find(_NEG_AFTER) if i in ends or not _leads_to(j, starts, masked)]
    neg_after += [(i, j) for _, i, j in scan.find(_NEG_RIGHT_AFTER) if i in ends]  # "Monday's out"
    clauses: list[Clause] = []
    current = Clause()
    previous_end = 0
    previous: Mention | None = None
    for mention in mentions:
        separated = any(words[k] in _SEPARATORS for k in range(previous_end, mention.start)) or any(
            previous is not None and i == previous_end and j <= mention.start for i, j in neg_after) or (
            # "any day but Monday, I'm off in the afternoons": a new sentence ends what was excluded
            # and "I work nights so afternoons are best" (but "so any time after that" stays with what it follows)
            current.negated and any(words[k] in _SUBJECTS or words[k] == "so" and not mention.any
                                    for k in range(previous_end, mention.start)))
        marker = _negation_before(masked, neg_before, mention.start, previous_end)
        if marker is not None and previous is not None and any(i == previous_end <= marker for i, _ in neg_after) \
                and mention.end < len(words) and words[mention.end] in _WELCOMED:
            marker = None  # "Monday I can't, Tuesday is fine": the "can't" was Monday's
        if marker is None and previous is not None and (previous.any or previous.weekdays and previous.first is None) \
                and any(
                words[k] in ("but", "except") for k in range(previous_end, mention.start)):
            marker = previous_end  # "any day but Friday"
        # "not this week, next week": a second day after a negated one is the alternative, not more negation
        contrast = current.negated and mention.first is not None and (
            any(m.first is not None for m in current.mentions)
            # "I work Mondays next week": the weekday is out every week; "next week" is when they want it
            or mention.bare_weekday is None and all(_day_only(m) for m in current.mentions))
        # "I work Tuesdays and Thursdays", "not Monday or Friday": a day listed after an excluded day is excluded too
        listed = (current.negated and marker is None and not contrast and _day_only(mention)
                  and all(_day_only(m) for m in current.mentions)
                  and {words[k] for k in range(previous_end, mention.start)} <= {"and", "or", "nor", "_"})
        if listed or (marker is None and not current.negated and _narrows(current, mention, words, previous_end)):
            current.mentions.append(mention)
            previous_end, previous = mention.end, mention
            continue
        if current.mentions and (separated or marker is not None or contrast):
            clauses.append(current)
            current = Clause()
        if marker is not None and not current.mentions:
            current.negated, current.marker = True, marker
        current.mentions.append(mention)
        previous_end = mention.end
        previous = mention
    if current.mentions:
        clauses.append(current)
    for index, clause in enumerate(clauses):
        limit = clauses[index + 1].start if index + 1 < len(clauses) else len(words)
        for i, _ in neg_after:
            if clause.end <= i < limit and i - clause.end <= 3 and not any(
                    words[k] in _SEPARATORS for k in range(clause.end, i)):
                clause.negated = True
    return clauses


_ALTERNATIVE_WORDS = frozenset({"or", "otherwise", "else", "alternatively", "instead"})


def _narrows(clause: Clause, mention: Mention, words: list[str], previous_end: int) -> bool:
    """Whether a bare "after 9" / "not before 9" said after a time narrows it ("mornings, but not before 9",
    "a morning, but not too early, like after 9") rather than offers another ("Thursday or after 3")."""
    bound_only = (mention.after or mention.before) and not (
        mention.first or mention.weekdays or mention.part or mention.at or mention.asap or mention.any
        or mention.not_before or mention.bare_weekday is not None)
    if not bound_only or not clause.mentions or any(words[k] in _ALTERNATIVE_WORDS
                                                    for k in range(previous_end, mention.start)):
        return False
    parts = [m.part for m in clause.mentions if m.part]
    part = parts[-1] if parts else None
    bound = mention.after or mention.before
    if bound.resolve(part) != bound.resolve(None):  # "morning, and after 3" is not 3 AM
        return False
    lo, hi = DAY_PART_HOURS[part] if part else (time(0, 0), None)
    for m in [*clause.mentions, mention]:
        if m.after:
            lo = max(lo, m.after.resolve(part))
        if m.before:
            before = m.before.resolve(part)
            hi = before if hi is None else min(hi, before)
    return hi is None or lo < hi


def _day_only(mention: Mention) -> bool:
    return bool(mention.weekdays or mention.bare_weekday is not None) and not (
        mention.at or mention.after or mention.before or mention.part)


def _leads_to(j: int, starts: set[int], masked: list[str]) -> bool:
    k = j
    while k < len(masked) and k - j <= 3:
        if k in starts:
            return True
        if masked[k] not in _NEG_BRIDGE:
            return False
        k += 1
    return False


def _is_negation_word(words: list[str], i: int) -> bool:
    if words[i] != "no":
        return True
    following = words[i + 1] if i + 1 < len(words) else ""
    return following in ("mondays", "tuesdays", "wednesdays", "thursdays", "fridays", "saturdays", "sundays",
                         "weekends", "mornings", "afternoons", "evenings", "nights")


def _negation_before(masked: list[str], markers: list[tuple[int, int]], start: int, floor: int) -> int | None:
    """The start of a negation ("not", "can't do") that governs the mention beginning at ``start``."""
    for i, j in markers:
        if floor <= i and j <= start and start - j <= 4 and all(
                masked[b] in _NEG_BRIDGE or masked[b] == "_" for b in range(j, start)):
            return i
    return None


def distribute(clauses: list[Clause]) -> None:
    """Share days and times between alternatives said together.

    "Thursday or Friday afternoon": a day-only clause takes the times of day of the clause after it.
    "tomorrow at 10 or 11": a time-only clause takes the days of the clause before it.
    """
    for index in range(len(clauses) - 2, -1, -1):
        clause, following = clauses[index], clauses[index + 1]
        if clause.negated != following.negated:
            continue
        if _has_days(clause) and not _has_times(clause) and _has_days(following) and _has_times(following):
            clause.mentions.extend(replace(m, borrowed=True) for m in following.mentions
                                   if m.first is None and not m.weekdays and (m.part or m.after or m.before or m.at))
    for index in range(1, len(clauses)):
        clause, previous = clauses[index], clauses[index - 1]
        if clause.negated != previous.negated:
            continue
        if _has_times(clause) and not _has_days(clause) and _has_days(previous) and _has_times(previous):
            # the day only: "tomorrow morning or at 3" is 3 PM tomorrow, not 3 in the morning
            clause.mentions.extend(replace(m, borrowed=True, **_FACET_FIELDS["time"]) for m in previous.mentions
                                   if not m.borrowed and (m.first is not None or m.weekdays))


def _has_days(clause: Clause) -> bool:
    return any(m.first is not None or m.weekdays for m in clause.mentions)


def _has_times(clause: Clause) -> bool:
    return any(m.at or m.after or m.before or m.part for m in clause.mentions)


def preferences(clauses: list[Clause], words: list[str], ctx: Context) -> list[TimePreference]:
    prefs: list[TimePreference] = []
    for clause in clauses:
        prefs.extend(_clause_preferences(clause, words, ctx))
    return _dedupe(prefs)


def _dedupe(prefs: Iterable[TimePreference]) -> list[TimePreference]:
    seen: set[tuple] = set()
    out = []
    for pref in prefs:
        key = (pref.kind, pref.start, pref.end, tuple(pref.weekdays), pref.after, pref.before)
        if key not in seen:
            seen.add(key)
            out.append(pref)
    return out


def _clause_preferences(clause: Clause, words: list[str], ctx: Context) -> list[TimePreference]:
    mentions = clause.mentions
    if clause.negated:  # "not Monday", "I work Tuesdays": that weekday, every week
        mentions = [replace(m, first=None, last=None, weekdays=frozenset({m.bare_weekday}))
                    if m.bare_weekday is not None else m for m in mentions]
    phrase = " ".join(words[clause.start:clause.end])
    part_mention = next((m for m in reversed(mentions) if m.part), None)
    part = part_mention.part if part_mention else None
    if part_mention and any(m.end == part_mention.start and (m.after or m.before) and not m.part for m in mentions):
        part_mention = replace(part_mention, part_bounds=None)  # "after ten in the morning": it says am, not noon
    after = _latest([m.after.resolve(part) for m in mentions if m.after])
    before = _earliest([m.before.resolve(part) for m in mentions if m.before])
    if after and before and before <= after and before.hour < 12:
        before = time(before.hour + 12, before.minute)  # "between 5 and 7" is 5 to 7 pm, not 5 pm to 7 am
    if part_mention and part_mention.part_bounds:
        low, high = part_mention.part_bounds
        after = max(after, low) if after else (low if low != time(0, 0) else None)
        before = min(before, high) if before and high else (before or high)
    ats = [m.at.resolve(part) for m in mentions if m.at]
    ranges = [(m.first, m.last, m.day_named) for m in mentions if m.first is not None and m.last is not None]

    ranges = _intersect_week_and_weekday(ranges)
    weekdays = sorted(set().union(*(m.weekdays for m in mentions)))
    not_before = max((m.not_before for m in mentions if m.not_before), default=None)
    kind = "not" if clause.negated else "window"
    out: list[TimePreference] = []
    if any(m.asap for m in mentions) and not clause.negated:
        out.append(TimePreference(kind="asap", phrase=phrase))
    if ats:
        out.extend(_at_preferences(ats, ranges, weekdays, kind, phrase, part, ctx))
    elif ranges or weekdays or after or before or not_before:
        if ranges:
            for first, last, _named in ranges:
                window = _window(kind, phrase, first, last, weekdays, after, before, part, not_before, ctx)
                if window:
                    out.append(window)
        else:
            window = _window(kind, phrase, None, None, weekdays, after, before, part, not_before, ctx)
            if window:
                out.append(window)
    if not out and any(m.any for m in mentions) and not clause.negated:
        out.append(TimePreference(kind="any", phrase=phrase))
    return out


def _intersect_week_and_weekday(ranges: list[tuple[date, date, bool]]) -> list[tuple[date, date, bool]]:
    """ "next week, Thursday" -> just that Thursday, when a named day falls inside a range said with it."""
    days = [r for r in ranges if r[0] == r[1] and r[2]]
    spans = [r for r in ranges if r[0] != r[1]]
    if days and spans and all(any(s[0] <= d[0] <= s[1] for s in spans) for d in days):
        return days
    return ranges


def _latest(values: list[time]) -> time | None:
    return max(values) if values else None


def _earliest(values: list[time]) -> time | None:
    return min(values) if values else None


def _at_preferences(ats: list[time], ranges, weekdays, kind, phrase, part, ctx: Context) -> list[TimePreference]:
    out = []
    for at in ats:
        one_minute_later = (datetime.combine(ctx.today, at) + timedelta(minutes=1)).time()
        if ranges and kind == "window":
            for first, last, _named in ranges:
                if first == last:
                    start = wall_to_utc(datetime.combine(first, at), ctx.tz)
                    out.append(TimePreference(kind="at", phrase=phrase, start=start, day_part=part, first_date=first,
                                              last_date=first))
                else:
                    window = _window(kind, phrase, first, last, weekdays, at, one_minute_later, part, None, ctx)
                    if window:
                        out.append(window)
        elif ranges:
            for first, last, _named in ranges:
                window = _window(kind, phrase, first, last, weekdays, at, one_minute_later, part, None, ctx)
                if window:
                    out.append(window)
        elif weekdays or kind == "not":
            window = _window(kind, phrase, None, None, weekdays, at, one_minute_later, part, None, ctx)
            if window:
                out.append(window)
        else:
            start = wall_to_utc(datetime.combine(ctx.today, at), ctx.tz)
            if start <= ctx.now:
                start = wall_to_utc(datetime.combine(ctx.today + timedelta(days=1), at), ctx.tz)
            day = start.astimezone(ctx.tz).date()
            out.append(TimePreference(kind="at", phrase=phrase, start=start, day_part=part, first_date=day,
                                      last_date=day))
    return out


def _window(kind: str, phrase: str, first: date | None, last: date | None, weekdays: list[int],
            after: time | None, before: time | None, part: str | None, not_before: datetime | None,
            ctx: Context) -> TimePreference | None:
    if after and before and before <= after:
        after = before = None
    start = end = None
    if first is not None and last is not None:
        start = wall_to_utc(datetime.combine(first, after or time(0, 0)), ctx.tz)
        end = (wall_to_utc(datetime.combine(last, before), ctx.tz) if before
               else wall_to_utc(datetime.combine(last + timedelta(days=1), time(0, 0)), ctx.tz))
    if last == _OPEN_LAST:
        end, last = None, None
    if not_before is not None and (start is None or not_before > start):
        start = not_before
    if kind == "window" and start is not None and end is not None and start < ctx.now < end:
        start = ctx.now
    if start is not None and end is not None and end <= start:
        return None
    first_date = start.astimezone(ctx.tz).date() if start is not None else first
    last_date = last
    if last_date is not None and end is not None:
        last_date = min(last_date, (end - timedelta(microseconds=1)).astimezone(ctx.tz).date())
    return TimePreference(kind=kind, phrase=phrase, start=start, end=end,
                          weekdays=[WEEKDAY_NAMES[d] for d in weekdays], after=after, before=before, day_part=part,
                          first_date=first_date, last_date=last_date)


def parse_times(words: list[str], ctx: Context,
                repair_at: int | None = None) -> tuple[list[TimePreference], list[Mention], _Scan]:
    """Time preferences in ``words`` (numeric view), with the mentions they came from.

    ``repair_at`` is where the words after a self-repair begin ("Thursday at 3, no wait, 4"): a day or a
    time of day said there replaces the one said before, and what was not repeated stays.
    """
    mentions, scan = find_mentions(words, ctx)
    if repair_at is not None:
        mentions = _after_repair(mentions, repair_at)
    if not mentions:
        return [], [], scan
    clauses = group_clauses(mentions, scan)
    _weekdays_in_the_week_out(clauses)
    for clause in clauses:
        for mention in clause.mentions:
            mention.negated = clause.negated
    distribute(clauses)
    return _bounds_on_the_days(preferences(clauses, words, ctx), words), mentions, scan


def _bounds_on_the_days(prefs: list[TimePreference], words: list[str]) -> list[TimePreference]:
    """ "Next week but not Monday, and not before ten": a bare bound said beside days narrows them (it was an
    alternative of its own, any day after ten, so today at 11 was offered). "Thursday or after 3" stays two."""
    if "or" in words:
        return prefs
    dated = [p for p in prefs if p.kind == "window" and (p.first_date or p.weekdays)]
    bounds = [p for p in prefs if p.kind == "window" and (p.after or p.before)
              and not (p.first_date or p.weekdays or p.day_part or p.last_date)]
    if not dated or not bounds:
        return prefs
    after = max((b.after for b in bounds if b.after), default=None)
    before = min((b.before for b in bounds if b.before), default=None)
    narrowed = []
    for pref in dated:
        lo = max(filter(None, (pref.after, after)), default=None)
        hi = min(filter(None, (pref.before, before)), default=None)
        if lo and hi and lo >= hi:
            return prefs
        narrowed.append(pref.model_copy(update={"after": lo, "before": hi,
                                                "phrase": f"{pref.phrase} {' '.join(b.phrase for b in bounds)}"}))
    return [p for p in prefs if p not in dated and p not in bounds] + narrowed


def _weekdays_in_the_week_out(clauses: list[Clause]) -> None:
    """ "In two weeks, a Tuesday or Thursday": the weekdays fall in the week two weeks out (not this week's or
    next week's), and the week out is said by them rather than offered beside them as a day of its own; "in
    April, a Tuesday": any Tuesday of April."""
    anchor: Mention | None = None
    for clause in clauses:
        if clause.negated:
            continue
        out = [m for m in clause.mentions if (m.weeks_out or m.month_named) and m.first is not None]
        if out:
            anchor = out[-1]
        bare = [m for m in clause.mentions if m.bare_weekday is not None and not m.borrowed]
        if anchor is None or not bare:
            continue
        for mention in bare:
            if anchor.month_named:  # "in April, on a Tuesday": the Tuesdays of April
                mention.first, mention.last = anchor.first, anchor.last
                mention.weekdays = frozenset({mention.bare_weekday})
            else:
                mention.first = mention.last = _monday(anchor.first) + timedelta(days=mention.bare_weekday)
            mention.bare_weekday = None
        if out:
            clause.marker = min(m.start for m in out)  # the phrase still reads "in two weeks on a Tuesday"
        clause.mentions = [m for m in clause.mentions if m not in out] or clause.mentions


def _facets(mention: Mention) -> set[str]:
    facets = set()
    if mention.first is not None or mention.weekdays:
        facets.add("day")
    if mention.at or mention.after or mention.before or mention.part:
        facets.add("time")
    if mention.asap or mention.any or mention.not_before:
        facets.add("when")
    return facets


_FACET_FIELDS = {"day": {"first": None, "last": None, "weekdays": frozenset()},
                 "time": {"at": None, "after": None, "before": None, "part": None, "part_bounds": None},
                 "when": {"asap": False, "any": False, "not_before": None}}


def _after_repair(mentions: list[Mention], repair_at: int) -> list[Mention]:
    """Mentions after the repair, and what earlier mentions said that the repair did not replace."""
    repaired = set().union(*(_facets(m) for m in mentions if m.start >= repair_at))
    kept = []
    for mention in mentions:
        facets = _facets(mention)
        if mention.start >= repair_at or not facets & repaired:
            kept.append(mention)
        elif facets - repaired:  # "tomorrow morning, actually afternoon": tomorrow stays
            cleared = {name: value for facet in facets & repaired for name, value in _FACET_FIELDS[facet].items()}
            kept.append(replace(mention, **cleared))
    return kept


def local_context(now: datetime, tz: ZoneInfo, expecting: str | None, ordinals_are_choices: bool) -> Context:
    return Context(now=now, tz=tz, today=now.astimezone(tz).date(), expecting=expecting,
                   ordinals_are_choices=ordinals_are_choices)
