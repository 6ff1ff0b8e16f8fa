"""Callers as they really talk to Lakeshore Plumbing & Heating (config/business.example.yaml), checked by what the
receptionist would do with them: which service, "we don't do that", which offered times fit, yes or no, the
number to call back.

These utterances were written as customers say them (symptoms, half sentences, changes of mind, numbers in
words, speech-recognition output in lowercase without punctuation), not from the parser's patterns. "Now" is
Thursday 6 March 2025, 10:00 in Chicago.
"""

from __future__ import annotations

import pytest

from shared.domain.understanding import accepts, constraints
from understanding_corpus import CHICAGO, instant

NEEDS = [
    # (what the caller said, the event type, or the work not offered)
    ("yeah hi um so my breaker keeps flipping off every time i run the microwave", None, "electrical work"),
    ("hey there i got no hot water since this morning", "water-heater-install", None),
    ("the upstairs toilet wont stop running", "plumbing-repair", None),
    ("water's dripping from the ceiling in the downstairs bathroom", "plumbing-repair", None),
    ("our air conditioner is running but its just blowing hot air", "no-heat", None),
    ("i think my sump pump died", "plumbing-repair", None),
    ("garbage disposal is jammed and it just hums", "plumbing-repair", None),
    ("need somebody to look at my furnace its not kicking on", "no-heat", None),
    ("the pilot light on my water heater keeps going out", "water-heater-install", None),
    ("i'd like to get my ac serviced before it gets hot", "hvac-tune-up", None),
    ("my washing machine is leaking all over the laundry room", None, "appliance repair"),
    ("the fridge stopped making ice", None, "appliance repair"),
    ("there's a wasp nest right by my front door", None, "pest control"),
    ("somebody backed into my garage door and now it won't close", None, "garage doors"),
    ("my roof is leaking into the attic every time it rains", None, "roofing"),
    ("half the lights in the house went out", None, "electrical work"),
    ("can you guys install an ev charger in my garage", None, "electrical work"),
    ("the outlet in the bathroom doesn't have any power", None, "electrical work"),
    ("my dishwasher won't drain there's like an inch of water sitting in the bottom", None, "appliance repair"),
    # speech-recognition output: lowercase, no punctuation, homophones
    ("my fossette in the kitchen wont stop dripping", "plumbing-repair", None),
    ("the brake her keeps tripping in the basement", None, "electrical work"),
    ("water heaters leeking from the bottom", "water-heater-install", None),
    ("furnaces blowing cold air", "no-heat", None),
    ("my a c is not cooling at all", "no-heat", None),
    ("toilets clogged again", "plumbing-repair", None),
    ("the thermostat screen went blank and the heat wont come on", "no-heat", None),
    ("theres water coming up out of the floor drain in the basement", "drain-cleaning", None),
    ("tree roots in the sewer line again probably", "hydro-jetting", None),
]


@pytest.mark.parametrize("text,event_type,not_offered", NEEDS, ids=[n[0][:40] for n in NEEDS])
def test_the_need_is_recognised_from_everyday_words(understand, text, event_type, not_offered):
    u = understand(text, expecting="need")
    assert (u.event_type, u.not_offered) == (event_type, not_offered), u
    assert u.intent in ("book", "emergency")
    if not_offered:
        assert u.service_phrase  # the caller's own words, to read back


def test_gas_by_the_stove_is_an_emergency_not_appliance_repair(understand):
    u = understand("i smell gas by the stove", expecting="need")
    assert u.intent == "emergency" and u.gas_smell
    assert u.not_offered is None


TIMES = [
    # (what the caller said, slots that must be offered, slots that must not)
    ("anytime early next week is good", ["2025-03-10 09:00", "2025-03-11 14:00"],
     ["2025-03-07 09:00", "2025-03-08 09:00", "2025-03-13 09:00"]),
    ("not monday though i'm at work", ["2025-03-11 09:00", "2025-03-07 15:00"],
     ["2025-03-10 09:00", "2025-03-17 14:00"]),
    ("sometime next week, mornings are better", ["2025-03-11 09:00", "2025-03-14 08:00"],
     ["2025-03-11 14:00", "2025-03-07 09:00"]),
    ("saturday morning if you have anything", ["2025-03-08 09:00"], ["2025-03-08 14:00", "2025-03-07 09:00"]),
    ("in three days", ["2025-03-09 10:00"], ["2025-03-08 10:00", "2025-03-10 10:00"]),
    ("i can do any afternoon except wednesday", ["2025-03-11 14:00", "2025-03-14 13:00"],
     ["2025-03-12 14:00", "2025-03-11 09:00"]),
    ("end of next week would be best", ["2025-03-14 10:00", "2025-03-13 15:00"], ["2025-03-10 10:00", "2025-03-07 10:00"]),
    ("any time after the 15th", ["2025-03-17 10:00", "2025-03-25 10:00"], ["2025-03-14 10:00", "2025-03-15 10:00"]),
    ("before lunch on tuesday", ["2025-03-11 10:00"], ["2025-03-11 13:00", "2025-03-12 10:00"]),
    ("i get off work at 4 so anytime after that", ["2025-03-07 16:30"], ["2025-03-07 15:00", "2025-03-07 09:00"]),
    ("weekends are best for me", ["2025-03-08 10:00", "2025-03-16 10:00"], ["2025-03-10 10:00"]),
    ("no mornings please", ["2025-03-07 14:00"], ["2025-03-07 09:00"]),
    ("how about the week after next", ["2025-03-18 10:00"], ["2025-03-11 10:00", "2025-03-25 10:00"]),
    ("the fourteenth in the afternoon", ["2025-03-14 14:00"], ["2025-03-14 09:00", "2025-03-13 14:00"]),
    ("between ten and two", ["2025-03-07 11:00", "2025-03-07 13:30"], ["2025-03-07 14:30", "2025-03-07 09:00"]),
    ("tomorrow no wait saturday", ["2025-03-08 10:00"], ["2025-03-07 10:00"]),
    ("a week from tuesday", ["2025-03-18 10:00"], ["2025-03-11 10:00"]),
    ("i work tuesdays and thursdays", ["2025-03-10 10:00", "2025-03-12 10:00"],
     ["2025-03-11 10:00", "2025-03-13 10:00", "2025-03-18 10:00"]),
    ("no earlier than ten in the morning", ["2025-03-07 10:00", "2025-03-07 15:00"], ["2025-03-07 08:30"]),
    ("late afternoon is better, after 3", ["2025-03-07 15:30"], ["2025-03-07 13:00"]),
]


@pytest.mark.parametrize("text,fit,unfit", TIMES, ids=[t[0][:40] for t in TIMES])
def test_the_callers_timing_constrains_the_offers(understand, text, fit, unfit):
    prefs = understand(text, expecting="time").times
    assert prefs, text
    assert [accepts(prefs, instant(s), CHICAGO) for s in fit] == [True] * len(fit)
    assert [accepts(prefs, instant(s), CHICAGO) for s in unfit] == [False] * len(unfit)


def test_the_summary_of_preferences_names_what_was_excluded(understand):
    summary = constraints(understand("next week after lunch, just not monday", expecting="time").times)
    assert summary.excluded_weekdays == {"monday"}
    assert (summary.earliest_date.isoformat(), summary.latest_date.isoformat()) == ("2025-03-10", "2025-03-16")
    assert summary.earliest_time.strftime("%H:%M") == "13:00"


ANSWERS = [
    ("uh no wait yeah go ahead and book it", "yes"),
    ("yes actually no hold off on that", "no"),
    ("yeah no that won't work", "no"),
    ("no... actually yes, book it", "yes"),
    ("hmm nah on second thought sure let's do it", "yes"),
    ("sure sounds good", "yes"),
]


@pytest.mark.parametrize("text,answer", ANSWERS)
def test_the_last_word_decides_yes_or_no(understand, text, answer):
    assert understand(text, expecting="confirm").answer == answer


OFFERED = ("2025-03-07 09:00", "2025-03-07 15:00", "2025-03-10 11:00")


@pytest.mark.parametrize("text,index", [
    ("the second one no the first", 0),
    ("uh the first one actually the last one", 2),
    ("the three o'clock one", 1),
    ("give me the monday one", 2),
])
def test_the_choice_is_the_final_one_said(understand, text, index):
    u = understand(text, expecting="choice", offered=OFFERED)
    assert u.choice is not None and u.choice.index == index


PHONES = [
    ("it's seven seven three, five five five, oh one four two", "+17735550142"),
    ("three one two double five five one two one two", "+13125551212"),
    ("area code three one two and then five five five triple seven oh", "+13125557770"),
    ("seven seven three five five five no sorry seven oh eight five five five two two two two", "+17085552222"),
    ("my cell is eight four seven, five five five, twenty one hundred", "+18475552100"),
    ("oh it's five five five, two one two, three four five six", "+15552123456"),  # unassigned area code, asked for
    # the last digits said again after a repair replace the number's end
    ("seven seven three two oh two eight nine oh oh, no sorry, eight nine oh one", "+17732028901"),
    ("773 202 8900 but actually wait make that 8901", "+17732028901"),
    ("three one two five five five oh one four two no oh one four three", "+13125550143"),
    ("773 202 8900 and my wife is 708 555 1234", "+17085551234"),  # a second number is not a repair
]


@pytest.mark.parametrize("text,phone", PHONES)
def test_a_callback_number_in_words(understand, text, phone):
    assert understand(text, expecting="phone").phone == phone


def test_a_number_given_over_two_turns(understand):
    first = understand("yeah it's three one two five five five", expecting="phone")
    assert first.phone is None and first.partial_digits == "312555"
    from shared.domain.understanding import parse
    second = parse("zero one four two", now=instant("2025-03-06 10:00"), time_zone=CHICAGO, expecting="phone",
                   carried_digits=first.partial_digits)
    assert second.phone == "+13125550142"


@pytest.mark.parametrize("text,expecting,address,postal", [
    ("twenty one hundred north clark", "address", "2100 North Clark", None),
    ("fourteen twenty two west belmont avenue", "address", "1422 West Belmont Avenue", None),
    ("one oh five east ohio street chicago six oh six one one", "address", "105 East Ohio Street, Chicago, 60611",
     "60611"),
    ("six oh six one four", "postal_code", None, "60614"),
    ("my zip is six zero six two two", "postal_code", None, "60622"),
    ("I'm a renter, the landlord said to call, it's 2400 north lincoln ave unit 2 60614", "address",
     "2400 North Lincoln Ave Unit 2, 60614", "60614"),
])
def test_addresses_and_zip_codes_in_words(understand, text, expecting, address, postal):
    u = understand(text, expecting=expecting)
    assert (u.address, u.postal_code) == (address, postal)


@pytest.mark.parametrize("text, fields, address", [
    ("the address should be 2410 north lincoln", ["address"], "2410 North Lincoln"),
    ("the address is actually 2410 north lincoln", ["address"], "2410 North Lincoln"),
    ("you got my name wrong", ["name"], None),
    ("you spelled my name wrong", ["name"], None),
    ("that's the wrong number", ["phone"], None),
])
def test_a_detail_said_to_be_wrong_at_the_readback(understand, text, fields, address):
    u = understand(text, expecting="confirm")
    assert (u.corrects, u.address, u.name) == (fields, address, None)


@pytest.mark.parametrize("text", ["how about Wednesday morning instead", "Wednesday morning"])
def test_another_day_at_the_offers_is_no_pick_of_one_of_them(understand, text):
    u = understand(text, expecting="choice", offered=("2025-03-06 11:00", "2025-03-06 13:00"))
    assert u.choice is None and u.times and u.times[0].first_date.isoformat() == "2025-03-12"


@pytest.mark.parametrize("text, index", [("the Thursday one", 0), ("the Friday one", 1), ("the 1 o'clock", 1),
                                         ("the morning one", 0)])
def test_an_offer_picked_by_what_it_is(understand, text, index):
    u = understand(text, expecting="choice", offered=("2025-03-06 11:00", "2025-03-07 13:00"))
    assert u.choice is not None and u.choice.index == index


@pytest.mark.parametrize("text", ["6 pm? that's way too late, is there anybody sooner", "is there anything sooner",
                                  "that's too early for me", "6 pm? that's ten hours, is there nobody sooner"])
def test_turning_an_offer_down_for_its_time_picks_none(understand, text):
    u = understand(text, expecting="choice", offered=("2025-03-06 18:00",))
    assert u.choice is not None and u.choice.kind == "none"


def test_asking_when_the_plumber_comes_is_about_a_booking_not_a_new_one(understand):
    assert understand("hi I'm calling to check what time my plumber is coming tomorrow", expecting="need").intent \
        == "status"


@pytest.mark.parametrize("text", [
    "hi, I've got someone coming at ten this morning, something came up, can we do this afternoon instead?",
    "I'm calling about my appointment on Tuesday, I need to move it to later in the week",
    "I got a plumber coming tomorrow, can we push it back an hour?",
    "hey I have a plumber coming Tuesday, can we make it Wednesday instead, same time?",
])
def test_a_visit_already_booked_and_a_change_asked_of_it_is_a_move(understand, text):
    assert understand(text, expecting="need").intent == "reschedule"


@pytest.mark.parametrize("text", ["my sink is leaking, can someone come later today",
                                  "I need an appointment for my toilet instead of my sink"])
def test_a_new_job_with_timing_words_is_still_a_booking(understand, text):
    assert understand(text, expecting="need").intent == "book"


@pytest.mark.parametrize("text", ["9:30 is no good, I have a dentist at 9:30",
                                  "no, I leave at 7:30, he'd need to be there before that, what about after 5:30?"])
def test_an_offered_time_turned_down_by_its_time_is_not_picked(understand, text):
    u = understand(text, expecting="choice", offered=("2025-03-07 07:30", "2025-03-07 09:30"))
    assert u.choice is None or u.choice.kind == "none"


@pytest.mark.parametrize("text, weekday", [("fri", 4), ("thu morning", 3), ("wed", 2), ("mon afternoon", 0)])
def test_short_day_names(understand, text, weekday):
    [pref] = understand(text, expecting="time").times
    assert pref.first_date.weekday() == weekday


@pytest.mark.parametrize("text, intent", [("is my appointment still on for tmrw", "status"),
                                          ("i want to move tomorrow to friday", "reschedule"),
                                          ("is the owner there", "speak_to_person")])
def test_what_callers_about_a_booking_or_a_person_say(understand, text, intent):
    assert understand(text, expecting="need").intent == intent


@pytest.mark.parametrize("text, name", [("sam i think", "Sam"), ("bob uh bob martinez", "Bob Martinez")])
def test_a_name_said_with_hesitation(understand, text, name):
    assert understand(text, expecting="name").name == name


@pytest.mark.parametrize("text, address, postal", [
    ("my toilet is running at 2030 west montrose 60625", "2030 West Montrose, 60625", "60625"),
    ("4410 north kedzie unit 2, 60625", "4410 North Kedzie Unit 2, 60625", "60625"),
])
def test_an_address_without_a_street_suffix(understand, text, address, postal):
    u = understand(text, expecting="need" if "toilet" in text else "address")
    assert (u.address, u.postal_code) == (address, postal)
