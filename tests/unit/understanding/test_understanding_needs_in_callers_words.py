"""Needs said the way callers say them, for the example plumbing & heating business: a price for new work is
the phone estimate, a heating or cooling symptom is the no-heat / no-cooling visit, home plumbing equipment
(pumps, softeners) is plumbing. Lowercase and unpunctuated, as Twilio delivers speech."""

from __future__ import annotations

import pytest

ESTIMATE = "estimate-call"

ESTIMATES = [
    "i need a phone estimate for a new water heater",
    "can someone come give me a quote on replacing my furnace",
    "how much would it cost to redo the bathroom",
    "yeah hi i'm looking to get a quote for a tankless water heater",
    "what would you charge to put in a new toilet and vanity",
    "i want to get a price on a new ac unit",
    "looking for an estimate to replace the furnace and the central air",
    "can i get a ballpark on a bathroom remodel",
    "we're thinking about a new boiler and want a bid",
    "how much to replace a water heater",
    "do you do free estimates on sump pump installs",
    "i'd like pricing on upgrading to a high efficiency furnace",
]


@pytest.mark.parametrize("text", ESTIMATES)
def test_a_price_for_new_work_is_the_phone_estimate_not_the_install(understand, text):
    u = understand(text, expecting="need")
    assert (u.event_type, u.intent) == (ESTIMATE, "book"), u


@pytest.mark.parametrize("text, event_type", [
    ("how much do you charge to fix a dripping faucet", "plumbing-repair"),  # the price of a repair
    ("how much is a drain cleaning", "drain-cleaning"),
    ("i don't need a quote i just need the toilet fixed", "plumbing-repair"),
    ("water heater burst and there's water everywhere how much will this cost", "emergency-leak"),
])
def test_a_price_asked_of_a_repair_or_an_emergency_stays_that_job(understand, text, event_type):
    assert understand(text, expecting="need").event_type == event_type


NO_HEAT = [
    "my furnace keeps clicking but there's no flame",
    "the heat comes on then shuts off",
    "furnace is blowing cold air",
    "the ac runs but the house won't cool down",
    "the furnace won't stay lit",
    "my heat pump is running but it's not warming up the house",
    "the air conditioner is running but there's no cold air",
    "furnace keeps shutting off after a couple minutes",
    "the boiler is making the radiators cold and there's an error code",
    "the outside unit for the ac isn't running",
    "my central air is frozen up",
    "the furnace has a blinking light and no heat",
    "thermostat says seventy but it's like sixty in here and the furnace runs nonstop",
    "the ac is busted",
    "the furnace needs repair",
]


@pytest.mark.parametrize("text", NO_HEAT)
def test_a_heating_or_cooling_symptom_is_the_repair_visit(understand, text):
    assert understand(text, expecting="need").event_type == "no-heat", text


@pytest.mark.parametrize("text", ["it's time for my yearly furnace tune up", "i want the ac checked before summer",
                                  "can you service my furnace", "annual maintenance on the boiler"])
def test_routine_work_stays_the_tune_up(understand, text):
    assert understand(text, expecting="need").event_type == "hvac-tune-up", text


@pytest.mark.parametrize("text", ["my furnace", "the ac", "something's up with my furnace"])
def test_equipment_alone_leaves_the_choice_to_the_dialog(understand, text):
    u = understand(text, expecting="need")
    assert u.event_type is None and u.service_phrase, u


PUMPS = [
    "my sump pump stopped working",
    "the sump pump keeps running and won't shut off",
    "the ejector pump in the basement is making a grinding noise",
    "need someone to look at our sewage ejector pump",
    "my water softener isn't working",
    "the well pump quit and we have no water",
    "the pump in the sump pit isn't kicking on",
    "i need a battery backup sump pump put in",
    "the sump pump alarm keeps going off",
    "the sump pump isn't kicking on and there's water in the pit",
    "my pump in the basement isn't working",
    "the basement pump is humming but not pumping",
    "our grinder pump alarm is beeping",
]


@pytest.mark.parametrize("text", PUMPS)
def test_pumps_and_water_treatment_are_plumbing(understand, text):
    u = understand(text, expecting="need")
    assert (u.event_type, u.not_offered) == ("plumbing-repair", None), u


@pytest.mark.parametrize("text, event_type", [
    ("i'd like to drop off a water heater part at the shop", "equipment-dropoff"),
    ("can i bring my garbage disposal in to the shop", "equipment-dropoff"),
    ("could someone look at my water heater over a video call", "teams-consult"),
    ("can we do a teams meeting about the furnace", "teams-consult"),
])
def test_how_the_caller_wants_it_outranks_the_thing_for_a_type_that_is_no_visit(understand, text, event_type):
    assert understand(text, expecting="need").event_type == event_type


@pytest.mark.parametrize("text, event_type", [
    ("i own a coffee shop and the sink is leaking", "plumbing-repair"),
    ("can you bring a new faucet with you", "plumbing-repair"),
    ("my water heater is leaking can you call me back", "water-heater-install"),
])
def test_one_stray_word_of_such_a_type_does_not(understand, text, event_type):
    assert understand(text, expecting="need").event_type == event_type


@pytest.mark.parametrize("text, event_type, not_offered", [
    ("the shower only gets lukewarm", "water-heater-install", None),
    ("there's a slab leak i think the floor is warm", "plumbing-repair", None),
    ("my water bill went way up i think there's a leak somewhere", "plumbing-repair", None),
    ("my heat pump is covered in ice", "no-heat", None),
    ("the upstairs is like ninety degrees and downstairs is fine", "no-heat", None),
    ("the vents upstairs aren't blowing anything", "no-heat", None),
    ("the condensate pump on the furnace is leaking", "no-heat", None),
    ("the tankless heater is showing an error code", "water-heater-install", None),
    ("i need a new outlet put in the garage", None, "electrical work"),
    ("the bathroom fan doesn't work", None, "electrical work"),
    ("we need someone to install a ceiling fan", None, "electrical work"),
    ("the floor in the kitchen needs new hardwood floors", None, "carpentry, painting or drywall"),
])
def test_more_needs_as_callers_say_them(understand, text, event_type, not_offered):
    u = understand(text, expecting="need")
    assert (u.event_type, u.not_offered) == (event_type, not_offered), u


@pytest.mark.parametrize("text, event_type", [
    ("the ice maker line is leaking under the fridge", "plumbing-repair"),
    ("the water line to my fridge is leaking", "plumbing-repair"),
    ("the drain behind the washing machine backs up when it drains", "drain-cleaning"),
    ("water comes up out of the laundry drain when the washer empties", "drain-cleaning"),
])
def test_the_plumbing_behind_an_appliance_is_plumbing(understand, text, event_type):
    u = understand(text, expecting="need")
    assert (u.event_type, u.not_offered) == (event_type, None), u


@pytest.mark.parametrize("text", ["my dishwasher won't drain", "the fridge stopped cooling", "the dryer won't spin"])
def test_the_appliance_itself_is_still_not_offered(understand, text):
    assert understand(text, expecting="need").not_offered == "appliance repair"


@pytest.mark.parametrize("text", [
    "it's not a cleaning it's broken",
    "i don't need a new install",
    "actually it's not a tune up, it stopped working",  # "up ... stopped" is no "stopped up" drain
])
def test_work_said_not_to_be_wanted_names_no_service(understand, text):
    assert understand(text, expecting="address").event_type is None


@pytest.mark.parametrize("text", ["my sink is stopped up again", "the basement drain is backed up"])
def test_a_verb_and_its_particle_in_their_own_order_still_name_the_drain(understand, text):
    assert understand(text, expecting="need").event_type == "drain-cleaning"


@pytest.mark.parametrize("text", ["my water heater isn't heating", "water heater stopped heating",
                                  "my water heater isn't working"])
def test_a_water_heater_that_does_not_heat_is_the_water_heater_not_the_furnace(understand, text):
    u = understand(text, expecting="need")
    assert u.event_type == "water-heater-install" and "no_heat" not in u.emergency


@pytest.mark.parametrize("text", ["my furnace isn't heating", "the house isn't heating up"])
def test_a_house_that_does_not_heat_is_still_no_heat(understand, text):
    assert understand(text, expecting="need").event_type == "no-heat"
