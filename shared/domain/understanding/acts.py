"""What the caller is doing with their words: yes or no, picking an offered time, correcting, asking for a
person, reporting an emergency -- and recognising text that tries to instruct the system.

Everything here reads the cleaned, numeric word list joined by spaces (see ``text`` and ``numbers``), with
regular expressions matched on word boundaries. Order matters and is documented where it is decided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from shared.domain.understanding.patterns import lazy, rx
from shared.domain.understanding.times import Mention


# ---------------------------------------------------------------- text that tries to instruct the system

_INJECTION = rx(r"(?:ignore|disregard|forget|skip|bypass) (?:all |any |the |your |my |of |previous |prior |above "
                r"|earlier |those |these |other |every |system |safety )*(?:instructions?|prompts?|rules|directions"
                r"|messages|commands|guidelines|programming|policies|policy|context)"
                r"|system prompt|you are now|from now on you|act as (?:a|an|my|the|if)|pretend (?:to be|you are|that)"
                r"|jailbreak|developer mode|dev mode|new instructions|override (?:the |your |all )?(?:instructions"
                r"|rules|system|settings)|as an ai|role ?play|prompt injection|admin mode|sudo")


def is_instruction_attempt(text: str) -> bool:
    """Caller text addressed to the machine rather than the business ("ignore previous instructions...")."""
    return bool(_INJECTION.search(text))


# ---------------------------------------------------------------- yes / no

_YES_PHRASES = rx(r"no problem|no worries|not a problem|no doubt|why not|you bet|you got it|of course|sure thing"
                  r"|yes please|yes|yeah|yep|yup|yes ma?am|yes sir|sure|certainly|absolutely|definitely|exactly"
                  r"|affirmative|correct|that is correct|that is right|that is it|that is fine|that is good|"
                  r"that is perfect|that is great|sounds (?:good|great|perfect|fine|right|about right)|perfect"
                  r"|works for me|that works|that will work|that would work|that should work|it works|either works"
                  r"|go ahead|please do|do it|book it|let us do it|let us do that|i will take it|i will take that"
                  r"|i would take it|take it|confirm(?:ed)?|i confirm|please book|book me|lock it in|bingo|lovely"
                  r"|excellent|awesome|great|cool|i guess so|i think so|that is me|right on|you are right")
_WEAK_YES = rx(r"ok|okay|all right|fine|good|right|works|i guess|that one|mhm")
_NO_STRONG = rx(r"(?:that |it |this |those |these |neither )?(?:does not|do not|will not|would not|is not going to"
                r"|can not|could not) work(?: for me| for us)?|not (?:really|quite|right|correct|good|okay|ok|fine"
                r"|great|ideal|possible|at all)|(?:that is|it is|this is) (?:wrong|not right|incorrect|not correct"
                r"|not it|not me)|wrong|incorrect|no way|i do not think so|absolutely not|definitely not|of course "
                r"not|negative|nope|nah|no thanks|no thank you|neither|none of (?:them|those|these)|i can not make "
                r"(?:it|that)|never mind|nevermind|that is not (?:good|going to work)|not for me|i would rather not"
                r"|i do not want (?:it|that)|i am not available|hold off(?: on (?:it|that))?|do not (?:book|schedule)"
                r"(?: it| that| anything)?|not (?:yet|right now)|let me think about it|i will pass|pass on (?:it|that)"
                r"|forget (?:it|that)|maybe (?:later|another time)")
_NO_BARE = rx(r"no")
_DISCOURSE = frozenset({"oh", "ah", "well", "actually", "sorry", "but", "hmm", "yes", "yeah", "wait", "um", "uh"})
_NOT_YES_AFTER = lazy(r"(?<!\S)(?:not|no|never) $")


def yes_or_no(text: str) -> str | None:
    """ "yes", "no" or ``None``; a clear refusal ("that doesn't work") wins over a polite "yeah"."""
    words = text.split()
    if not words:
        return None
    yes_at = _first_yes(text)
    no_match = _NO_STRONG.search(text)
    no_at = no_match.start() if no_match and not _inside_yes_phrase(text, no_match.start()) else None
    bare = _bare_no(text, words)
    if no_at is not None:
        return "no"
    if bare is not None and (yes_at is None or bare < yes_at or _yeah_no(text)):
        return "no"
    if yes_at is not None:
        return "yes"
    return None


def _inside_yes_phrase(text: str, position: int) -> bool:
    return any(m.start() <= position < m.end() for m in _YES_PHRASES.finditer(text))


def _first_yes(text: str) -> int | None:
    if text == "please":
        return 0
    for match in _YES_PHRASES.finditer(text):
        if not _NOT_YES_AFTER.search(text[:match.start()]):
            return match.start()
    words = text.split()
    for match in _WEAK_YES.finditer(text):
        word_index = len(text[:match.start()].split())
        leading = all(w in _DISCOURSE for w in words[:word_index])
        if (leading or len(words) <= 3) and not _NOT_YES_AFTER.search(text[:match.start()]):
            following = text[match.end():].split()[:1]
            if match.group(0) == "right" and following and following[0] in ("away", "now", "there", "here", "side"):
                continue
            if match.group(0) == "good" and following and following[0] in ("morning", "afternoon", "evening", "day"):
                continue
            return match.start()
    return None


def _bare_no(text: str, words: list[str]) -> int | None:
    """A lone "no" counts when it opens the answer, closes it, or follows "yeah" ("yeah no")."""
    for match in _NO_BARE.finditer(text):
        if _inside_yes_phrase(text, match.start()):
            continue
        index = len(text[:match.start()].split())
        following = words[index + 1] if index + 1 < len(words) else ""
        if following in ("one", "heat", "hot", "water", "power", "air", "cooling", "ac", "gas", "later", "earlier",
                         "more", "longer", "idea", "preference", "problem", "worries", "rush", "hurry", "matter",
                         "mornings", "afternoons", "evenings", "nights", "weekends", "mondays", "tuesdays",
                         "wednesdays", "thursdays", "fridays", "saturdays", "sundays"):
            continue
        if all(w in _DISCOURSE for w in words[:index]) or index == len(words) - 1:
            return match.start()
    return None


def _yeah_no(text: str) -> bool:
    return bool(re.search(r"(?<!\S)(?:yeah|yes) no(?!\S)", text))


# ---------------------------------------------------------------- intents

_PERSON = rx(r"(?:speak|talk|talking|speaking|connect me|put me through|transfer me) (?:to|with) (?:a |an |the |your |"
             r"some |somebody|someone|anyone)?(?:real |live |actual )?(?:person|human|human being|somebody|someone"
             r"|representative|rep|agent|operator|manager|owner|receptionist|dispatcher|anyone|anybody|staff"
             r"|technician|tech|plumber|office|people|dana|sam|marcus)|(?:real|live|actual) (?:person|human)|"
             r"operator|representative|(?:transfer|connect) me|put me through|human please|a human"
             r"|can i talk to (?!you)\S+|can i speak (?:to|with) (?!you)\S+"
             r"|is (?:the|your) (?:owner|manager|boss|office manager|dispatcher) (?:there|in|around|available)")
_CANCEL = rx(r"cancel(?:l?ing|l?ed)?(?: (?:my|the|our|this|that|an)? ?(?:appointment|booking|visit|service call"
             r"|reservation|it))?|call off (?:my|the) (?:appointment|visit)|do not need (?:the|my) (?:appointment"
             r"|visit) anymore")
_RESCHEDULE = rx(r"re ?schedul(?:e|ing)|move (?:tomorrow|today|it|that|the (?:visit|appointment))(?: s)? to"
                 r"|(?:move|change|push|switch|shift|bump) (?:my|the|our) (?:appointment|booking"
                 r"|visit|service call|reservation)|(?:move|change) (?:the )?(?:time|date|day) of (?:my|the) "
                 r"(?:appointment|visit)|different time for my (?:appointment|visit)")
_STATUS = rx(r"when(?: is| are)? (?:my|our|the) (?:appointment|visit|booking|service call|technician|tech|plumber)"
             r"|what time is (?:my|our|the) (?:appointment|visit|booking)|(?:is|are) (?:the|my|our|your) "
             r"(?:technician|tech|plumber|electrician|guy|guys|crew) (?:still )?coming|still coming (?:today|tomorrow)"
             r"|check on (?:my|our|the) (?:appointment|visit|booking)|when (?:are|will) (?:you|they|the technician"
             r"|the tech|the plumber|he|she) (?:be )?(?:coming|here|arrive|arriving|get here|show up)"
             r"|do (?:i|we) (?:still )?have an appointment|confirm (?:my|our) (?:appointment|visit|booking)"
             r"|is (?:my|our|the) (?:appointment|visit|booking) still (?:on|happening|good|scheduled|booked|set)"
             r"|what time (?:my|our|the) (?:technician|tech|plumber|electrician|guy|appointment|visit|crew)"
             r"|what time (?:is|are|will) (?:my|our|the) (?:technician|tech|plumber|electrician|guy|crew)"
             r" (?:coming|arriving|getting here|be here|showing up)")
# A visit already booked, and a change asked of it: together they are a move, whatever words are used.
_EXISTING_VISIT = rx(r"(?:i|we) (?:have|got|have got|ve got) (?:a |an |the |my |someone |somebody )?(?:[a-z]+ )?"
                     r"(?:plumber|technician|tech|guy|someone|somebody|appointment|visit|service call)"
                     r"(?: [a-z0-9:]+){0,4} (?:coming|scheduled|booked|set up)"
                     r"|(?:my|our) (?:appointment|visit|booking|service call)|(?:my|our|the) (?:plumber|technician|tech"
                     r"|guy) (?:is )?coming|(?:can|could) the guy come")
_MOVE_IT = rx(r"(?:move|push|change|switch|shift|bump|make|reschedule) (?:it|that|this|him|her|them)"
              r"|instead|earlier|later|come earlier|come later|different (?:time|day)|same time")
_BOOK = rx(r"book|booking|schedule|scheduling|appointment|set up|setup|come (?:out|by|over|take a look|look|fix"
           r"|and)|send (?:someone|somebody|a tech|a technician|a plumber|out|over)|need (?:a|an|someone|somebody"
           r"|help|service|a plumber|to get)|get (?:someone|somebody|a plumber|a tech)|have (?:someone|somebody)"
           r"|looking for (?:a|someone|somebody|help)|service call|make an appointment|come to (?:my|the) house"
           r"|fix (?:it|my|the)|take a look|repair|install|replace|quote|estimate|sign up|reserve")
# What it costs: "how much do you charge", "is there a service fee", "what's this going to cost me".
_COST = (r"how much|what (?:do you|does it|would it|will it|does that|does a visit|would that|will that|would this"
         r"|will this) (?:charge|cost)|(?:do|would|will) (?:you|it) (?:charge|cost)|(?:it|that|this) (?:is )?going to"
         r" cost|what is the (?:cost|price|charge|fee|rate)|(?:service|trip|call out|callout|diagnostic) (?:fee|charge)"
         r"|is there a (?:fee|charge)|prices?|pricing|rates?|your (?:rates?|fees?|prices?)")
_ASKS_COST = rx(_COST)
_QUESTION_TOPIC = rx(_COST + r"|your hours|what are your|are you open|are you guys open|open on"
                     r"|business hours|hours of operation|what hours|do you (?:guys |all |folks )?(?:service|serve"
                     r"|cover|come to|work in|go to|do|offer|take|accept|handle|have a (?:warranty|guarantee))"
                     r"|service area|where are you|where is your|are you licensed|insured|warranty|credit cards?"
                     r"|how long (?:does|will|would)|what is the wait")
_QUESTION_START = lazy(r"^(?:what|when|where|how|who|which|why|do you|does|are you|is it|is there|can you "
                       r"tell|could you tell|i was wondering|i have a question|quick question|just wondering)")
_REPEAT = rx(r"repeat(?: that| it)?|say (?:that|it) again|come again|what was that|pardon(?: me)?|sorry what|excuse "
             r"me|i did not (?:catch|hear|get|understand) (?:that|you|it)|one more time|what did you say"
             r"|can you say (?:that|it) (?:again|slower)|what|huh|sorry")
_WAIT = rx(r"hold on|hang on|one (?:moment|sec|second|minute)|just a (?:moment|sec|second|minute)|give me a "
           r"(?:moment|sec|second|minute)|wait a (?:moment|sec|second|minute)|let me (?:check|see|find|look|get)"
           r"|bear with me")
_GOODBYE = rx(r"bye|goodbye|good bye|bye bye|that is all|that is it|nothing else|have a (?:good|nice|great) "
              r"(?:day|one|night|evening)|talk to you later|i am all set|all set|thanks bye|thank you bye")


def asks_about_cost(text: str) -> bool:
    """Whether the (clean, space-separated) words ask what the work costs."""
    return bool(_ASKS_COST.search(text))


def intent_cues(text: str) -> set[str]:
    """Every intent the words hint at, before the parser ranks them."""
    cues = set()
    for name, pattern in (("speak_to_person", _PERSON), ("cancel", _CANCEL), ("reschedule", _RESCHEDULE),
                          ("status", _STATUS), ("book", _BOOK), ("wait", _WAIT), ("goodbye", _GOODBYE)):
        if pattern.search(text):
            cues.add(name)
    if _EXISTING_VISIT.search(text) and _MOVE_IT.search(text):
        cues.add("reschedule")  # "I've got a plumber coming tomorrow, can we push it back an hour?"
    if _QUESTION_TOPIC.search(text):
        cues.add("question")
    elif _QUESTION_START.search(text):
        cues.add("question_form")  # "do you have anything tomorrow?" is booking, "what?" is not
    if _REPEAT.fullmatch(text) or (_REPEAT.search(text) and len(text.split()) <= 6
                                   and not re.search(r"\d", text)):
        cues.add("repeat")
    if text in ("sorry", "what", "huh", "sorry what", "excuse me", "pardon", "pardon me"):
        cues.add("repeat")
    return cues


# ---------------------------------------------------------------- emergencies

_SIGNALS = (
    ("gas_smell", rx(r"(?:smell|smells|smelling|odor|odour|stink|stinks|whiff) (?:of |like )?(?:natural )?gas"
                     r"|gas (?:smell|odor|odour|leak|leaking|is leaking|smells)|leaking gas|rotten eggs?"
                     r"|smell(?:s|ing)? (?:something )?like (?:rotten )?eggs?|hissing (?:sound )?(?:from|at|near)"
                     r" (?:the )?gas|gas line (?:is )?(?:broken|leaking|hissing|damaged)")),
    ("carbon_monoxide", rx(r"carbon monoxide|co (?:detector|alarm|detectors|alarms)(?: is| are)?(?: going off"
                           r"| beeping| went off| sounding)?|co poisoning")),
    ("burst_pipe", rx(r"(?:burst|busted|broken|broke|exploded|split|cracked|ruptured|bursting) (?:water |main |copper |"
                      r"pvc |supply |frozen )?(?:pipe|pipes|line|main|water line|supply line)|(?:pipe|pipes|line|main)"
                      r" (?:has |have |just |is |are )?(?:burst|bursted|busted|broke|exploded|split|ruptured|"
                      r"bursting|blew|blown)|water main break|pipe break")),
    ("flooding", rx(r"flood|flooded|flooding|floods|water (?:is )?everywhere|water all over|standing water|inches of"
                    r" water|(?:basement|kitchen|bathroom|floor|house) is (?:full of water|under water|underwater)"
                    r"|water (?:is )?(?:pouring|gushing|spraying|shooting|rushing|coming) (?:in|out|through|from|"
                    r"down|everywhere|into)|ceiling is (?:leaking|dripping|caving)|water coming through the ceiling"
                    r"|can not (?:shut|turn) (?:off )?the water|water will not (?:stop|shut off)")),
    ("sewage_backup", rx(r"sewage|sewer(?: line| main)? (?:is )?(?:backing up|backed up|backup|coming up)|raw sewage"
                         r"|sewer water")),
    ("no_heat", rx(r"no heat|no heating|heat (?:is |went |has gone |has been )?(?:out|off|not working|gone|dead)"
                   r"|heat (?:is )?not (?:coming on|working|turning on)|heat (?:stopped|died|quit)"
                   r"|furnace (?:is |has |just )?(?:out|died|dead|broke|broken|not working|stopped|quit|went out|"
                   r"is not working|will not (?:turn on|start|come on|kick on|light)|not turning on|blowing cold)"
                   r"|(?<!water )heater (?:is )?(?:not working|broke|broken|died|out)"
                   r"|boiler (?:is )?(?:out|down|broken|dead|not working)|no (?:heat|warm air)")),
    ("no_cooling", rx(r"(?:ac|air conditioning|air conditioner|a c|cooling|central air) (?:it |that )?(?:is |has |"
                      r"just )?(?:out|"
                      r"died|dead|broke|broken|not working|stopped|quit|not cooling|blowing (?:hot|warm) air)"
                      r"|no (?:ac|air conditioning|cooling|cold air|air)")),
    ("freezing", rx(r"freezing|frozen|below zero|below freezing|(?:so|very|really|super|too) cold (?:in here|inside"
                    r"|in the house|in my house)|it is (?:so |very |really |super |too )?cold in (?:here|the house)"
                    r"|pipes? (?:are |is |might |could |will )?(?:freeze|freezing|frozen)|zero degrees"
                    r"|(?:\d{1,2}|negative \d+|minus \d+) degrees (?:in|inside)")),
    ("electrical_hazard", rx(r"sparks?|sparking|electrical fire|exposed wires?|live wires?|water (?:in|on|near) "
                             r"(?:the )?(?:outlet|outlets|panel|breaker|electrical)|getting shocked|electrocuted")),
    ("fire_or_smoke", rx(r"fire|on fire|smoke|smoking|burning smell|smell(?:s)? (?:like )?burning|flames?")),
    ("declared_emergency", rx(r"emergency|emergencies|911|9 1 1|life or death|dangerous")),
)
_SIGNAL_NEGATORS = frozenset({"not", "no", "never", "without", "nothing", "none", "non", "isnt"})


def emergency_signals(text: str) -> list[str]:
    """Emergency signals in the words, in the schema's order, ignoring negated ones ("not an emergency")."""
    words = text.split()
    found = []
    for name, pattern in _SIGNALS:
        for match in pattern.finditer(text):
            index = len(text[:match.start()].split())
            before = words[max(0, index - 3):index]
            starts_negative = match.group(0).startswith("no ")
            if not starts_negative and any(w in _SIGNAL_NEGATORS for w in before):
                continue
            if name == "fire_or_smoke" and re.search(r"(?<!\S)(?:smoke (?:detector|alarm)s? (?:battery|chirp)"
                                                     r"|fire (?:place|pit)|fireplace)", text):
                continue
            found.append(name)
            break
    return found


# ---------------------------------------------------------------- choices among offered times

_CHOICE_NONE = rx(r"neither(?: one| of them| of those| works| time works)?|none of (?:them|those|these)(?: work)?"
                  r"|not (?:those|them|either|either one)|those do not work|(?:something|anything) else|another "
                  r"(?:time|day|option)|other (?:times|days|options)|different (?:time|day)|something later"
                  r"|something earlier|anything later|anything earlier|what else|any other (?:times|days|openings)"
                  r"|(?:any|something|anything) (?:a (?:bit|little) )?(?:later|earlier|sooner)|another day"
                  r"|(?:anybody|anyone|somebody|someone|nothing|nobody|no one) (?:a (?:bit|little) )?(?:later|earlier"
                  r"|sooner)"
                  r"|(?:way |much |a bit |a little )?too (?:late|early|soon|far out|far away)")
_CHOICE_ANY = rx(r"either(?: one| 1| is fine| works| of them| time| is good| is ok| is okay)?|whichever(?: one)?"
                 r"(?: is (?:1st|earlier|earliest|sooner|soonest))?|any of (?:them|those)|both (?:work|are fine|are "
                 r"good|are ok|are okay)|i do not mind|i do not care|you (?:pick|choose|decide)|up to you|your choice"
                 r"|(?:it )?does not matter(?: to me)?|whatever is (?:1st|earliest|soonest|easiest|sooner)")
_CHOICE_ORDINAL = rx(r"(?P<pre>the |that |option |number |choice )?(?P<n>1st|2nd|3rd|4th|5th|last|latter|former"
                     r"|final)(?P<post> (?:one|1|option|choice|time|slot|appointment|opening|offer))?")
_CHOICE_NUMBER = rx(r"(?:option|number|choice) (?P<n>[1-5])")
_CHOICE_RELATIVE = rx(r"(?P<pre>the )?(?P<r>later|earlier|sooner|soonest|earliest|latest|early|late|1st available)"
                      r"(?P<post> (?:one|1|time|option|slot|appointment|opening))?")
_ORDINAL_INDEX = {"1st": 0, "2nd": 1, "3rd": 2, "4th": 3, "5th": 4, "former": 0}


@dataclass(frozen=True, slots=True)
class Picked:
    kind: str
    index: int | None
    phrase: str
    consumed_times: bool = False


def pick_offered(text: str, mentions: list[Mention], offered_local: list[datetime], *, expecting: str | None,
                 tz: ZoneInfo) -> Picked | None:
    """Which offered time the caller chose, if they chose one (see ``Choice``)."""
    in_choice = expecting == "choice" or (bool(offered_local) and expecting in (None, "confirm"))
    short = len(text.split()) <= 5
    count = len(offered_local)
    none = _CHOICE_NONE.search(text)
    if none and (in_choice or offered_local):
        return Picked("none", None, none.group(0))
    for match in _CHOICE_NUMBER.finditer(text):
        index = int(match.group("n")) - 1
        if not offered_local or index < count:
            return Picked("ordinal", index, match.group(0))
    for match in _CHOICE_ORDINAL.finditer(text):
        word = match.group("n")
        if not (match.group("post") or in_choice and (match.group("pre") or short)):
            continue
        if word in ("last", "latter", "final"):
            index = count - 1 if count else None
        else:
            index = _ORDINAL_INDEX[word]
            if offered_local and index >= count:
                continue
        return Picked("ordinal", index, match.group(0).strip())
    # "9:30 is no good", "no, I leave at 7:30": the time said is the one turned down
    refused = text.split()[:1] in (["no"], ["nope"], ["nah"]) or any(m.negated for m in mentions)
    by_time = None if refused else _pick_by_time(mentions, offered_local, tz)
    if by_time is not None and (in_choice or offered_local):
        return by_time
    for match in _CHOICE_RELATIVE.finditer(text):
        if not (match.group("post") or (in_choice and (match.group("pre") or short))):
            continue
        word = match.group("r")
        if not offered_local:
            return Picked("relative", None, match.group(0).strip())
        ordered = sorted(range(count), key=lambda i: offered_local[i])
        later = word in ("later", "latest", "late")
        return Picked("relative", ordered[-1] if later else ordered[0], match.group(0).strip())
    anything = _CHOICE_ANY.search(text)
    if anything and (in_choice or offered_local):
        index = min(range(count), key=lambda i: offered_local[i]) if count else None
        return Picked("any", index, anything.group(0))
    return None


def _same_clock(offered: datetime, clock) -> bool:
    """An offered start said as a clock time; "3" (no am/pm) matches 3:00 and 15:00."""
    if offered.minute != clock.minute:
        return False
    return offered.hour == clock.hour if clock.certain else offered.hour % 12 == clock.hour % 12


def _pick_by_time(mentions: list[Mention], offered_local: list[datetime], tz: ZoneInfo) -> Picked | None:
    """ "the 3 pm", "the Thursday one", "the morning one": the one offered time that fits what was said."""
    if not offered_local or not mentions:
        return None
    candidates = list(range(len(offered_local)))
    kinds = []
    unmet = False  # "Wednesday morning" when only today's morning was offered: another time, not a pick
    for mention in mentions:
        if mention.negated:
            continue
        if mention.at is not None:
            clock = mention.at
            matching = [i for i in candidates if _same_clock(offered_local[i], clock)]
            if matching:
                candidates, kinds = matching, kinds + ["time"]
            # a bare "1" is as likely "the Thursday one" as one o'clock
            unmet = unmet or not matching and (clock.certain or (clock.hour, clock.minute) != (1, 0))
        if mention.first is not None and mention.last is not None:
            matching = [i for i in candidates if mention.first <= offered_local[i].date() <= mention.last]
            if not matching and mention.bare_weekday is not None:  # "the Tuesday one" said on a Tuesday
                matching = [i for i in candidates if offered_local[i].weekday() == mention.bare_weekday]
            if matching:
                candidates, kinds = matching, kinds + ["day"]
            unmet = unmet or not matching
        if mention.weekdays:
            matching = [i for i in candidates if offered_local[i].weekday() in mention.weekdays]
            if matching:
                candidates, kinds = matching, kinds + ["day"]
            unmet = unmet or not matching
        if mention.part_bounds is not None and mention.at is None:
            low, high = mention.part_bounds
            matching = [i for i in candidates if low <= offered_local[i].time() and (high is None
                                                                                     or offered_local[i].time() < high)]
            if matching:
                candidates, kinds = matching, kinds + ["time"]
            unmet = unmet or not matching
    if len(candidates) == 1 and kinds and not unmet:
        kind = "time" if "time" in kinds else "day"
        return Picked(kind, candidates[0], "", consumed_times=True)
    return None


# ---------------------------------------------------------------- corrections

_REPAIR = rx(r"actually|i meant|i mean|sorry|no wait|wait|scratch that|correction|make (?:it|that)|change (?:it|that)"
             r"(?: to)?|rather|oops|let me correct (?:that|myself)|i said|instead|not quite|i misspoke|my bad"
             r"|on (?:second|2nd) thought|(?:i )?changed my mind|come to think of it|hang on|hold on|no no")
# A bare "no" between two values ("Thursday, no, Friday", "the second one no the first") repairs the first.
_VALUE_WORDS = frozenset({"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "one",
                          "am", "pm", "morning", "afternoon", "evening", "tomorrow", "today", "tonight", "1st", "2nd",
                          "3rd", "4th", "5th", "last", "earlier", "later", "oclock", "noon", "week", "weekend"})
_FIELD_CHANGE = rx(r"(?:change|correct|fix|update|wrong|change the|that is the wrong) (?:my |the )?(?P<f>name|number|"
                   r"phone number|phone|address|street|zip code|zip|postal code|email|e mail|time|day|date|service)"
                   r"|(?:my |the )(?P<g>name|number|phone number|phone|address|zip code|zip|email|time|day|date)"
                   r" (?:is|was) (?:wrong|not right|incorrect|off)"
                   r"|(?:the |my )?(?P<k>street number|house number) is"
                   r"|(?:got|have|had|spelled|wrote|put down|typed|heard) (?:my |the )(?P<h>name|number|phone number"
                   r"|phone|address|street|zip code|zip|email) (?:wrong|incorrect|wrong way)")
_FIELD_WORDS = {"street number": "address", "house number": "address", "name": "name", "number": "phone",
                "phone number": "phone", "phone": "phone", "address": "address",
                "street": "address", "zip code": "postal_code", "zip": "postal_code", "postal code": "postal_code",
                "email": "email", "e mail": "email", "time": "time", "day": "time", "date": "time",
                "service": "service"}


def repair_tail(words: list[str]) -> int | None:
    """Index just after the last self-repair marker ("Tuesday, I mean Wednesday"), if any."""
    text = " ".join(words)
    last = None
    for match in _REPAIR.finditer(text):
        last = len(text[:match.end()].split())
    for i in range(1, len(words) - 1):
        previous = words[i - 1]
        if words[i] == "no" and (previous in _VALUE_WORDS or previous.isdigit()) and (last is None or i + 1 > last):
            last = i + 1
    return last


def has_repair_marker(text: str) -> bool:
    return bool(_REPAIR.search(text))


def fields_named_for_change(text: str) -> list[str]:
    """ "my address is wrong", "change the time": fields the caller wants to correct without a new value yet."""
    fields = []
    for match in _FIELD_CHANGE.finditer(text):
        name = _FIELD_WORDS[match.group("f") or match.group("g") or match.group("h") or match.group("k")]
        if name not in fields:
            fields.append(name)
    return fields
