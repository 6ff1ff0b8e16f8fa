"""A name put right at the read-back ("...for Anna Hall. Shall I book it?") or when asked: spelled letters make
the word, the name said with it is the name, and "sorry X" replaces the part of the name X sounds like."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("text, name", [
    ("no it's hill h i l l anna hill", "Anna Hill"),
    ("jon smith sorry smyth s m y t h", "Jon Smyth"),
    ("no the name is wrong it's anna hill", "Anna Hill"),
    ("that's not my name it's john smith", "John Smith"),
    ("almost it's maria gonzales g o n z a l e s", "Maria Gonzales"),
    ("no no it's d'souza d s o u z a priya d'souza", "Priya D'Souza"),
    ("the name's wrong it should be kevin o'brien", "Kevin O'Brien"),
])
def test_a_whole_name_corrected_at_the_readback(understand, text, name):
    u = understand(text, expecting="confirm")
    assert (u.intent, u.name, u.name_part, u.corrects) == ("correction", name, None, ["name"]), u
    assert u.answer != "yes"


@pytest.mark.parametrize("text, name, part", [
    ("the last name is spelled o k o n k w o", "Okonkwo", "last"),
    ("no my last name is hill", "Hill", "last"),
    ("it's spelled s m y t h", "Smyth", "last"),
    ("my first name is spelled k a t e", "Kate", "first"),
])
def test_only_part_of_the_name_corrected_says_which_part(understand, text, name, part):
    u = understand(text, expecting="confirm")
    assert (u.intent, u.name, u.name_part, u.corrects) == ("correction", name, part, ["name"]), u


@pytest.mark.parametrize("text", ["yes", "yes that's right", "sounds good go ahead", "yep book it",
                                  "yes please", "perfect thank you"])
def test_a_plain_yes_at_the_readback_is_no_name(understand, text):
    u = understand(text, expecting="confirm")
    assert (u.answer, u.name, u.corrects) == ("yes", None, []), u


@pytest.mark.parametrize("text, name", [
    ("jon smith sorry smyth", "Jon Smyth"),
    ("jon sorry john smith", "John Smith"),
    ("it's anna hill h i l l", "Anna Hill"),
    ("my name is chris o k o n k w o", "Chris Okonkwo"),
    ("maria gonzalez g o n z a l e z", "Maria Gonzalez"),
])
def test_a_name_spelled_or_put_right_when_asked(understand, text, name):
    assert understand(text, expecting="name").name == name


@pytest.mark.parametrize("text, name", [
    ("it's Bob, B O B, Smith", "Bob Smith"),
    ("my name is Katherine with a K, Katherine Olsen", "Katherine Olsen"),
    ("you can put it under my wife's name, Susan Wright", "Susan Wright"),
    ("Nguyen, N G U Y E N, first name Linh", "Linh Nguyen"),
    ("my first name is Linh and my last name is Nguyen", "Linh Nguyen"),
    ("first name Linh last name Nguyen", "Linh Nguyen"),
    ("Bob Smith, that's S M I T H", "Bob Smith"),
])
def test_a_whole_name_said_around_its_spelling_or_in_parts_when_asked(understand, text, name):
    u = understand(text, expecting="name")
    assert (u.name, u.name_part) == (name, None), u


@pytest.mark.parametrize("text, name", [
    ("rosie's diner, ask for carla", "Carla"),
    ("tell them to ask for jake", "Jake"),
    ("no call me instead, it's 312 555 0199", None),
    ("oh ok never mind", None),
    ("I'm asking for a plumber", None),
])
def test_words_around_a_name_are_not_a_name(understand, text, name):
    assert understand(text, expecting="name").name == name


@pytest.mark.parametrize("text", ["this is joseph price", "my name is tim price", "it's ann quote"])
def test_a_surname_that_is_also_a_word_names_no_service(understand, text):
    u = understand(text, expecting="name")
    assert u.name and u.event_type is None and u.intent != "question"
