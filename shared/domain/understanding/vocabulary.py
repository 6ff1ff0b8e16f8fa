"""How customers of the trades describe what they need: the built-in vocabulary the receptionist starts from.

Callers name things and symptoms, not event types: "the breaker keeps tripping", "my ac is blowing warm
air", "toilet keeps running". Each :data:`TOPICS` entry is one kind of job in one trade (plumbing, hvac,
electrical) with

* ``things`` -- the fixtures, appliances and parts callers name ("faucet", "water heater", "breaker box");
  a thing decides the job more than a symptom does (a dishwasher that won't drain is about the dishwasher);
* ``says`` -- symptoms and everyday phrasings ("keeps tripping", "blowing warm air", "won't flush").

:data:`NOT_OFFERED` is the same for work a plumbing, HVAC or electrical business usually does *not* do
(appliance repair, roofing, pest control, a car...): unless a business links such a topic to one of its
event types, a caller who clearly describes it hears that this is not a service offered.

:data:`MISHEARINGS` are speech-recognition errors (Twilio's results are lowercase, unpunctuated and full of
homophones): word sequences heard -> what was meant, applied before matching services only.

The business configuration extends all of this (``vocabulary`` and ``event_types[].topics`` /
``caller_phrases`` in ``config/business.example.yaml``); :mod:`shared.domain.understanding.services` builds
the catalog the parser matches against. Pure data; importing it costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Topic:
    """One kind of job: its trade, a name to say back, the things callers name and what they say."""

    trade: str
    label: str
    things: tuple[str, ...]
    says: tuple[str, ...] = ()


def _t(trade: str, label: str, things: str, says: str = "") -> Topic:
    return Topic(trade, label, tuple(p.strip() for p in things.split(",") if p.strip()),
                 tuple(p.strip() for p in says.split(",") if p.strip()))


TRADE_LABELS = {"plumbing": "plumbing", "hvac": "heating and cooling", "electrical": "electrical work"}
# Words in an event type's name, description or skills that say which trade it belongs to.
TRADE_WORDS = {
    "plumbing": ("plumbing", "plumber", "plumbers", "pipe", "drain", "sewer", "water heater", "leak", "toilet"),
    "hvac": ("hvac", "heating", "cooling", "furnace", "air conditioning", "a/c", "ac", "heat", "boiler"),
    "electrical": ("electrical", "electrician", "electric", "wiring", "breaker", "panel", "outlet"),
}

# Fixtures that leak as often as they clog: both topics know them, so the symptom decides.
_FIXTURES = "sink, sinks, kitchen sink, bathroom sink, laundry sink, utility sink, tub, bathtub, shower"
# How callers say a machine broke: counted only next to the machine ("the furnace died"), never alone.
_BROKE = ("died", "quit", "stopped", "broke", "broke down", "broken", "went out", "dead",
          "is out", "gave out", "crapped out", "conked out", "on the fritz", "acting up",
          # and how they ask for the fix: "the furnace ... the repair one", "the ac needs fixing"
          # ("not working", "won't start": "not", "will", "start" are small words; the thing alone is no symptom)
          "needs repair", "repair", "fix", "fixing", "fixed", "busted", "malfunctioning", "messed up",
          "shuts off", "shutting off", "turns off", "cuts out", "cuts off", "keeps cycling", "error code",
          "blinking", "flashing")


def _broke(*machines: str) -> str:
    return ", ".join(f"{machine} {verb}" for machine in machines for verb in _BROKE)

# Equipment a tune-up and a repair share: the symptom (or "tune-up") decides, else the dialog asks which.
_HVAC_EQUIPMENT = "furnace, furnaces, boiler, heat pump, ac, a c, air conditioner, air conditioning, central air"

TOPICS: dict[str, Topic] = {
    # ---------------------------------------------------------------- plumbing
    "leak": _t("plumbing", "a leak",
               "pipe, pipes, plumbing, water line, supply line, shutoff valve, shut off valve, valve, hose bib, "
               "spigot, outdoor faucet, water meter, pex, copper pipe, slab leak, water bill, "
               # the plumbing behind an appliance is plumbing ("the ice maker line is leaking")
               "ice maker line, ice maker water line, fridge water line, refrigerator water line, dishwasher "
               "supply line, washer hoses, washing machine hoses",
               _FIXTURES + ", leak, leaking, leaky, leaks, leek, leaking water, dripping, drips, water stain, wet spot, puddle, "
               "water under the sink, water on the floor, ceiling is wet, ceiling stain, water coming through "
               "the ceiling, pinhole leak, low water pressure, no water pressure, water pressure, banging pipes, "
               "pipes are banging, pipes rattle, pipe is sweating"),
    "faucet": _t("plumbing", "a faucet",
                 "faucet, faucets, fossette, fosset, fausset, fawcett, tap, taps, spout, shower head, showerhead, "
                 "shower valve, shower handle, mixing valve, kitchen faucet, bathroom faucet",
                 "dripping faucet, faucet drips, faucet is dripping, won't shut off, will not turn off, "
                 "no water from the faucet, low pressure in the shower"),
    "toilet": _t("plumbing", "a toilet",
                 "toilet, toilets, commode, toilette, toilet bowl, toilet tank, flapper, fill valve, flush valve, "
                 "wax ring",
                 "keeps running, running toilet, toilet keeps running, won't flush, will not flush, does not flush, "
                 "weak flush, overflowing, overflowed, toilet overflow, keeps refilling, phantom flush, rocking "
                 "toilet, wobbly toilet"),
    "drain": _t("plumbing", "a clogged drain",
                "shower drain, floor drain, drain pipe, p trap, laundry drain, washer drain, washing machine drain, "
                "standpipe, stand pipe, washer box",
                _FIXTURES + ", drain, drains, clog, clogged, clogs, clogged up, stopped up, plugged up, backed up, backing up, slow drain, "
                "draining slow, drains slowly, won't drain, will not drain, not draining, doesn't drain, standing "
                "water, gurgling, snake the drain, snaked, hair clog"),
    "disposal": _t("plumbing", "a garbage disposal",
                   "garbage disposal, disposal, disposer, garbage disposer, in sink erator, insinkerator, "
                   "garbage disposable",
                   "disposal is jammed, disposal hums, humming disposal"),
    "water_heater": _t("plumbing", "a water heater",
                       "water heater, hot water heater, water heaters, hot water tank, water tank, tankless, "
                       "tankless heater, tank less, water hitter, hot water heat, expansion tank, anode rod",
                       "no hot water, not getting hot water, hot water runs out, hot water ran out, lukewarm water, "
                       "water is not hot, water isn't hot, only cold water, lukewarm, only gets lukewarm, not hot enough, "
                       "water is not hot enough, hot water doesn't last, banging noise, making a banging noise, "
                       "popping noise, rumbling, tank is leaking, pilot light keeps going out, not heating, "
                       "isn't heating, stopped heating, won't heat, doesn't heat, not heating the "
                       "water"),
    "sewer": _t("plumbing", "a sewer line",
                "sewer, sewer line, sewer main, main line, main drain, septic, septic tank, cleanout, lateral",
                "sewer backup, sewage, sewer smell, smells like sewage, smells like sewer, tree roots, roots in the "
                "line, every drain is backing up"),
    "sump_pump": _t("plumbing", "a sump pump",
                    "sump pump, sump, some pump, ejector pump, sewage pump, sewage ejector, well pump, backflow, "
                    "backflow preventer, battery backup pump, backup pump, pump, basement pump, sump pit, "
                    "grinder pump, lift pump, lift station, utility pump, laundry pump, pressure tank, well tank, "
                    "softener, water conditioner, iron filter, water treatment",
                    "pump won't turn on, pump keeps running, not pumping, won't pump, water in the pit, pit is "
                    "full, pump alarm, float switch, float is stuck, salt tank"),
    "gas_line": _t("plumbing", "a gas line",
                   "gas line, gas pipe, gas piping, gas valve, gas hookup, gas shutoff",
                   "run a gas line, hook up gas"),
    "fixture_install": _t("plumbing", "installing a fixture",
                          "new toilet, new faucet, new sink, vanity, new shower, bathtub install, water softener, "
                          "water filter, reverse osmosis, filtration system",
                          "replace my faucet, replace the toilet"),
    # ---------------------------------------------------------------- heating and cooling
    "heating": _t("hvac", "heating",
                  "furnace, furnaces, furnace's, furness, heater, heaters, heating, heat, boiler, boilers, radiator, "
                  "radiators, baseboard heat, baseboard heater, heat pump, heating system, forced air, the heat, "
                  "pilot light, igniter, blower motor",
                  "no heat, won't kick on, will not kick on, won't turn on, not turning on, heat won't come on, not "
                  "heating, isn't heating, not getting warm, blowing cold air, blowing cold, cold air coming out, "
                  "house is cold, freezing in here, cold in the house, keeps shutting off, short cycling, "
                  "heat quit, no heating, clicking, keeps clicking, clicks, no flame, won't ignite, not "
                  "igniting, won't stay lit, pilot keeps going out, ignitor, comes on then shuts off, shuts off, "
                  "turns on and off, turns off after, runs for a minute, not warming up, won't warm up, "
                  "no warm air, not blowing warm, not blowing hot, lukewarm air, cool air, "
                  "cold air, blowing cold, running nonstop, "
                  "temperature never reaches, never gets warm, can't get warm, radiators are cold, "
                  "radiator is cold, boiler is leaking, "
                  + _broke("furnace", "heater", "boiler", "heat", "heat pump", "heating", "heating system")),
    "cooling": _t("hvac", "air conditioning",
                  "ac, a c, a see, a/c, air conditioner, air conditioners, air conditioning, air condition, air "
                  "conditioner's, central air, cooling, cooling system, condenser, compressor, outside unit, "
                  "outdoor unit, mini split, ductless, evaporator coil, coil, heat pump, condensate pump, condensate line, "
                  "condensate drain, drain pan, drip pan",
                  "blowing warm air, blowing hot air, blowing warm, blows warm air, blows hot air, not cooling, "
                  "isn't cooling, won't cool, will not cool, no cold air, not blowing cold, not blowing cold air, "
                  "warm air, hot air, frozen up, freezing up, iced up, ice on the lines, leaking water inside, "
                  "house won't cool down, too hot in the house, not cold, no ac, no air conditioning, no cooling, no air, "
                  "won't cool down, not cooling down, doesn't cool, "
                  "runs all day, running nonstop, never shuts off, warm in the house, not cold air, "
                  "outside unit is not running, condenser not running, unit is frozen, "
                  "water leaking from the unit, clicking, covered in ice, iced over, ice on the, frozen, "
                  + _broke("ac", "air conditioner", "air conditioning", "central air", "heat pump",  # not "cooling": a fridge stops cooling too
                           "condenser", "compressor", "outside unit", "mini split")),
    "thermostat": _t("hvac", "a thermostat",
                     "thermostat, thermostats, thermo stat, nest thermostat, ecobee, smart thermostat",
                     "thermostat is blank, thermostat screen is blank, thermostat not working"),
    "ducts": _t("hvac", "ducts and airflow",
                "duct, ducts, ductwork, duct work, vent, vents, air vents, air "
                "handler, air filter, furnace filter",
                "no air coming out, weak airflow, poor air flow, one room is cold, one room is hot, uneven "
                "temperature, duct cleaning, upstairs is hot, upstairs is too hot, hot upstairs, upstairs degrees, "
                "upstairs is warm, upstairs never cools, not blowing anything, nothing coming out of the vents"),
    "hvac_maintenance": _t("hvac", "a tune-up",
                           "tune up, tuneup, tune-up, maintenance, annual service, annual maintenance, checkup, "
                           "check up, inspection, precision tune up, seasonal service, maintenance plan, "
                           + _HVAC_EQUIPMENT,
                           "service my furnace, service my ac, clean the furnace, clean my ac, check my furnace, "
                           "get ready for winter, get ready for summer, before summer, before winter"),
    "air_quality": _t("hvac", "indoor air quality",
                      "humidifier, dehumidifier, air purifier, air cleaner, uv light, air scrubber, erv, hrv",
                      "air is too dry, too humid"),
    # ---------------------------------------------------------------- electrical
    "breaker": _t("electrical", "a breaker or panel",
                  "breaker, breakers, circuit breaker, brake her, break her, braker, breaker box, breaker panel, "
                  "electrical panel, electric panel, panel, fuse, fuses, fuse box, main breaker, sub panel, subpanel",
                  "keeps tripping, trips, tripped, tripping, keeps flipping, blew a fuse, blown fuse, fuse "
                  "blew, panel upgrade, upgrade my panel, 200 amp, 100 amp, service upgrade"),
    "outlets": _t("electrical", "outlets",
                  "outlet, outlets, out let, socket, sockets, receptacle, receptacles, gfci, gfi, g f c "
                  "i, ground fault, usb outlet, 240 outlet, dryer outlet",
                  "outlets are dead, outlet is dead, dead outlet, dead outlets, half my outlets, outlets stopped "
                  "working, no power to, outlet doesn't work, outlet is hot, outlet sparks, warm outlet, reset "
                  "button"),
    "lighting": _t("electrical", "lights and wiring",
                   "light, lights, light fixture, light fixtures, light switch, light switches, dimmer, ceiling "
                   "fan, ceiling fans, chandelier, recessed lights, can lights, wiring, wires, wire, electrical, "
                   "electric, electricity, electrical wiring, knob and tube, aluminum wiring, doorbell, exhaust fan, "
                   "bathroom fan, bath fan, vent fan",
                   "lights flickering, flickering lights, lights are flickering, lights flicker, lights dim, "
                   "lights keep going out, buzzing, buzzing sound, half the house has no power, part of the house "
                   "has no power, lost power, no power, power is out, power went out, hang a light, install a "
                   "ceiling fan, rewire, rewiring"),
    "ev_charger": _t("electrical", "an EV charger",
                     "ev charger, electric car charger, car charger, charger for my tesla, tesla charger, level 2 "
                     "charger, level two charger, charging station, electric vehicle charger",
                     "charge my car, install a charger"),
    "generator": _t("electrical", "a generator",
                    "generator, standby generator, whole house generator, generac, transfer switch",
                    "hook up a generator"),
    "electrician": _t("electrical", "electrical work",
                      "electrician, electricians, electrical work, electrical problem, electrical issue",
                      "need an electrician"),
}

NOT_OFFERED: dict[str, Topic] = {
    "appliance": _t("other", "appliance repair",
                    "dishwasher, dish washer, dishwashers, washing machine, clothes washer, dryer, clothes "
                    "dryer, refrigerator, fridge, freezer, ice maker, icemaker, oven, stove, cooktop, stovetop, "
                    "microwave, appliance, appliances, wine cooler, trash compactor, washer and dryer, washer dryer",
                    "appliance repair, won't spin, not spinning, not cooling the food, fridge not cooling, refrigerator not "
                    "cooling, freezer not cooling, fridge not cold, freezer not freezing, not drying, won't dry, "
                    "won't heat up food"),
    "roofing": _t("other", "roofing",
                  "roof, roofs, roofing, roofer, shingle, shingles, gutter, gutters, downspout, downspouts, skylight, "
                  "flashing, soffit",
                  "roof is leaking, leaking roof, roof leak, missing shingles"),
    "pest": _t("other", "pest control",
               "mice, mouse, rat, rats, rodent, rodents, roach, roaches, cockroach, cockroaches, ants, termite, "
               "termites, bed bugs, bedbugs, wasp, wasps, bees, hornets, raccoon, raccoons, squirrel, squirrels, "
               "bugs, exterminator, pest, pests, pest control",
               "infestation, exterminate"),
    "auto": _t("other", "car repair",
               "car, cars, my truck, vehicle, engine, transmission, brakes, my brakes, tire, tires, "
               "flat tire, mechanic, oil change, check engine light, car battery",
               "won't start, car won't start"),
    "landscaping": _t("other", "landscaping",
                      "lawn, landscaping, landscaper, tree trimming, tree removal, hedges, mowing, snow removal",
                      "mow my lawn, cut the grass, trim the trees"),
    "locksmith": _t("other", "locksmith work",
                    "locksmith, door lock, locks, deadbolt",
                    "locked out, lost my keys, rekey, re key"),
    "pool": _t("other", "pool and spa service",
               "swimming pool, pool pump, pool heater, pool filter, pool service, hot tub, spa, jacuzzi",
               "open the pool, close the pool"),
    "garage_door": _t("other", "garage doors",
                      "garage door, garage doors, garage door opener, overhead door",
                      "garage door won't open, garage door won't close"),
    "cleaning": _t("other", "cleaning",
                   "house cleaning, maid, maid service, carpet cleaning, window cleaning, cleaning lady",
                   "clean my house, clean the carpets"),
    "electronics": _t("other", "computer, TV or internet service",
                      "internet, wifi, wi fi, router, modem, cable tv, television, tv, computer, laptop, printer",
                      "internet is down, wifi is down"),
    "chimney": _t("other", "chimney work",
                  "chimney, chimney sweep, chimney cleaning, wood stove",
                  "sweep the chimney"),
    "carpentry": _t("other", "carpentry, painting or drywall",
                    "drywall, sheetrock, painting, paint, painter, cabinets, countertops, new flooring, laminate flooring, hardwood floors, "
                    "tile floor, deck, fence, siding, handyman",
                    "patch the drywall, paint the"),
}

# How callers ask for a price rather than a visit. An event type whose own name or caller phrases use
# ESTIMATE_WORDS is the business's estimate / quote type; a caller who says one of them ("a quote on
# replacing my furnace") wants that type, whatever thing they name. COST_WORDS ("how much would it cost")
# ask for an estimate when the job is new work (NEW_WORK) or no job is named; a price of a repair
# ("how much to fix a dripping faucet") stays the repair.
ESTIMATE_WORDS = ("estimate", "estimates", "quote", "quotes", "quoted", "bid", "bids", "ballpark", "pricing",
                  "free estimate", "price quote", "written estimate", "proposal")
COST_WORDS = ("how much", "cost", "costs", "charge", "price", "prices", "what would you charge",
              "what do you charge", "what would it run", "what it would run")
NEW_WORK = ("new", "replace", "replacing", "replacement", "install", "installing", "installation", "put in",
            "remodel", "remodeling", "redo", "redoing", "renovate", "renovating", "renovation", "upgrade",
            "upgrading", "swap out", "convert", "converting", "addition")

# Heard -> meant (lowercase word sequences). Applied to the caller's words before services are matched.
MISHEARINGS: dict[str, str] = {
    "brake her": "breaker", "break her": "breaker", "braker": "breaker", "brakers": "breakers",
    "break or": "breaker", "circuit brake her": "circuit breaker", "fuse bucks": "fuse box",
    "fossette": "faucet", "fosset": "faucet", "fausset": "faucet", "fawcett": "faucet", "faucette": "faucet",
    "fossit": "faucet", "fosette": "faucet", "leek": "leak", "leeks": "leaks", "leeking": "leaking",
    "leaky's": "leaky", "furness": "furnace", "furnaces": "furnace", "furnace's": "furnace",
    "water hitter": "water heater", "water heaters": "water heater", "hot water heaters": "hot water heater",
    "a see": "ac", "a sea": "ac", "ac's": "ac", "air condition": "air conditioner", "air conditioners": "air conditioner",
    "toy let": "toilet", "toilette": "toilet", "toilet's": "toilet", "some pump": "sump pump",
    "thermo stat": "thermostat", "out let": "outlet", "out lets": "outlets", "tank less": "tankless",
    "garbage disposable": "garbage disposal", "disposable": "disposal", "in sink erator": "insinkerator",
    "dish washer": "dishwasher", "drane": "drain", "drains's": "drains", "boyler": "boiler", "g f c i": "gfci",
    "g f i": "gfi", "h vac": "hvac", "hvac's": "hvac", "sewer's": "sewer", "heater's": "heater",
    "pipe's": "pipe", "sink's": "sink", "breaker's": "breaker", "panel's": "panel", "drain's": "drain",
}
