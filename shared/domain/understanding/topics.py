"""Linking the built-in vocabulary to one business's event types: which job words mean which event type.

An event type lists the topics it covers in the configuration (``event_types[].topics: [toilet, drain]``);
for the topics nobody listed, the rules below decide, so a configuration that says nothing still works:

1. a topic goes to the event type whose own words (name, description, caller phrases, skills) use the
   topic's things and phrases the most -- an emergency type only when no other type fits;
2. a topic of a trade the business works in (one of its event types got a topic of that trade, or names
   the trade: "plumbing", "HVAC", "electrical"...) goes to that trade's main event type (the one with the
   most topics of the trade): a plumber who never wrote "sump pump" still fixes one;
3. any other topic is work the business does not offer, said back by its trade ("electrical work") or by
   its own name ("appliance repair"), as are the business's ``vocabulary.not_offered`` entries.

``vocabulary.builtin: false`` turns the built-in topics off (only the business's own words count), and
``vocabulary.mishearings`` adds speech-recognition fixes to the built-in ones.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from shared.domain.understanding import vocabulary as builtin
from shared.domain.understanding.services import Catalog, Entry, content_stems, undo_mishearings
from shared.domain.understanding.text import plain_words as clean_words


def catalog(event_types: tuple, settings: Any = None) -> Catalog:
    """The :class:`Catalog` of a business (see the module docstring)."""
    use_builtin = getattr(settings, "builtin", True)
    mishearings = _mishearings(settings, use_builtin)
    topics = {**builtin.TOPICS, **builtin.NOT_OFFERED} if use_builtin else {}
    links = _links(event_types, topics, mishearings)
    entries = []
    for event_type in event_types:
        mine = [topics[name] for name, key in links.items() if key == event_type.key]
        entries.append(Entry(event_type.key, event_type.name,
                             owner=(event_type.name, *getattr(event_type, "caller_phrases", ())),
                             things=tuple(t for topic in mine for t in topic.things),
                             says=tuple(s for topic in mine for s in topic.says),
                             emergency=bool(getattr(event_type, "emergency", False)),
                             remote=getattr(event_type, "location_kind", "onsite") != "onsite"))
    for name, topic in topics.items():
        if name not in links:
            label = builtin.TRADE_LABELS.get(topic.trade, topic.label)
            entries.append(Entry(None, label, things=topic.things, says=topic.says))
    for item in getattr(settings, "not_offered", ()) or ():
        entries.append(Entry(None, item.name, owner=tuple(item.phrases) or (item.name,)))
    return Catalog(tuple(entries), mishearings)


def _mishearings(settings: Any, use_builtin: bool) -> tuple:
    pairs = dict(builtin.MISHEARINGS) if use_builtin else {}
    pairs.update(getattr(settings, "mishearings", None) or {})
    out = []
    for heard, meant in pairs.items():
        heard_words, meant_words = tuple(heard.lower().split()), tuple(meant.lower().split())
        if heard_words and meant_words and heard_words != meant_words:
            out.append((heard_words, meant_words))
    # longest first, so "circuit brake her" wins over "brake her"
    return tuple(sorted(out, key=lambda pair: -len(pair[0])))


def _links(event_types: tuple, topics: dict, mishearings: tuple) -> dict[str, str]:
    """topic name -> event type key, by the three rules of the module docstring."""
    links: dict[str, str] = {}
    for event_type in event_types:
        for name in getattr(event_type, "topics", None) or ():
            if name in topics:
                links.setdefault(name, event_type.key)
    texts = {event_type.key: _stems_of(_describing_words(event_type), mishearings) for event_type in event_types}
    # Work usually not offered is linked only by the event type's own name and caller phrases ("Appliance
    # repair"), never by a stray word of its description ("the jetter truck" is not car repair).
    own_texts = {event_type.key: _stems_of(_own_words(event_type), mishearings) for event_type in event_types}
    emergency = {event_type.key for event_type in event_types if getattr(event_type, "emergency", False)}
    for name, topic in topics.items():
        if name in links:
            continue
        phrase_stems = [_stems_of(p.split(), mishearings) for p in (*topic.things, *topic.says)]
        scored = []
        for index, event_type in enumerate(event_types):
            text = (own_texts if name in builtin.NOT_OFFERED else texts)[event_type.key]
            covered = {s for p in phrase_stems if p and _contains(text, p) for s in p}
            if covered:  # an emergency type only when nothing else fits; then more words; then config order
                scored.append((event_type.key in emergency, -len(covered), index, event_type.key))
        if scored:
            links[name] = min(scored)[3]
    trades = _trades(event_types, topics, links)
    for name, topic in topics.items():
        if name not in links and topic.trade in trades:
            links[name] = trades[topic.trade]
    return links


def _trades(event_types: tuple, topics: dict, links: dict[str, str]) -> dict[str, str]:
    """trade -> its main event type, for every trade the business works in."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for name, key in links.items():
        counts[topics[name].trade][key] += 1
    emergency = {event_type.key for event_type in event_types if getattr(event_type, "emergency", False)}
    main: dict[str, str] = {}
    for trade, words in builtin.TRADE_WORDS.items():
        order = {event_type.key: index for index, event_type in enumerate(event_types)}
        ranked = sorted(counts.get(trade, {}).items(), key=lambda kv: (kv[0] in emergency, -kv[1], order[kv[0]]))
        if ranked:
            main[trade] = ranked[0][0]
            continue
        for event_type in event_types:
            said = set(_describing_words(event_type))
            if event_type.key not in emergency and any(set(w.split()) <= said for w in words):
                main[trade] = event_type.key
                break
    return {trade: key for trade, key in main.items() if trade in builtin.TRADE_LABELS}


def _describing_words(event_type: Any) -> list[str]:
    routing = getattr(event_type, "routing", None)
    skills = " ".join(getattr(routing, "skills", ()) or ()).replace("_", " ")
    text = " ".join([event_type.key.replace("-", " ").replace("_", " "), event_type.name,
                     getattr(event_type, "description", "") or "", skills,
                     *(getattr(event_type, "caller_phrases", ()) or ())])
    return clean_words(text.lower().replace("/", " ").replace("-", " ").replace(",", " "))


def _own_words(event_type: Any) -> list[str]:
    text = " ".join([event_type.name, *(getattr(event_type, "caller_phrases", ()) or ())])
    return clean_words(text.lower().replace("/", " ").replace("-", " ").replace(",", " "))


def _stems_of(words: list[str], mishearings: tuple) -> list[str]:
    return [s for _, s in content_stems(undo_mishearings(clean_words(" ".join(words)), mishearings))]


def _contains(text: list[str], phrase: list[str]) -> bool:
    """All the phrase's stems, next to each other and in order, in the describing text."""
    n = len(phrase)
    return any(text[i:i + n] == phrase for i in range(len(text) - n + 1))
