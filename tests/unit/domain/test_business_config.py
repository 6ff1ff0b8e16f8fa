"""The business configuration: the example loads, and every mistake names its exact field."""

from __future__ import annotations

import copy
from datetime import date, datetime, timezone

import pytest
import yaml

from shared.config import load_business_config
from shared.domain.business import BusinessConfigError, TimeRange, parse_business_config

UTC = timezone.utc


# ---------------------------------------------------------------- the example

def test_the_example_is_a_realistic_business(example_config):
    config = example_config
    assert config.business.time_zone == "America/Chicago"
    assert {h.kind for h in config.hosts} == {"person", "resource"}
    assert len({h.territory for h in config.hosts if h.territory}) >= 3
    assert {e.location_kind for e in config.event_types} == {"onsite", "phone", "teams"}
    assert any(e.emergency for e in config.event_types)
    assert {p for e in config.event_types for p in e.routing.chain} >= \
        {"fixed", "dynamics_owner", "account_team", "territory", "skills", "round_robin"}
    assert config.blocking_show_as == ("busy", "tentative", "oof")


def test_defaults_fill_in(example_config):
    estimate = example_config.event_type("estimate-call")
    assert estimate.slot_interval_minutes == estimate.duration_minutes == 30  # interval defaults to duration
    assert example_config.host("dana").time_zone == "America/Chicago"  # the business's zone
    assert example_config.host("sam").time_zone == "America/Indiana/Indianapolis"


def test_hours_parse_lunch_breaks_night_shifts_and_day_ranges(example_config):
    dana, luis = example_config.host("dana"), example_config.host("luis")
    assert dana.weekly[0] == (TimeRange(450, 720), TimeRange(750, 990))  # mon 07:30-12:00, 12:30-16:30
    assert dana.weekly[6] == ()  # no Sunday
    assert luis.weekly[4] == (TimeRange(18 * 60, 30 * 60),)  # fri 18:00-06:00 runs into Saturday
    assert str(luis.weekly[4][0]) == "18:00-06:00"
    assert dana.ranges_on(date(2026, 12, 25)) == ()  # Christmas override
    assert dana.is_on_time_off(datetime(2026, 7, 8, 15, tzinfo=UTC))
    assert not dana.is_on_time_off(datetime(2026, 7, 11, 15, tzinfo=UTC))


def test_territories_resolve_exact_codes_before_prefixes(example_config):
    assert example_config.territory_for("60614").key == "north"
    assert example_config.territory_for("60647").key == "north"  # 6064*
    assert example_config.territory_for(" 60622 ").key == "west"
    assert example_config.territory_for("10001") is None
    assert example_config.territory_for(None) is None
    assert [h.id for h in example_config.territory_hosts(example_config.territory_for("60622"))] == \
        ["priya", "marcus"]


def test_service_area(example_config):
    assert example_config.serves("60614") and example_config.serves("60302")
    assert not example_config.serves("46204") and not example_config.serves(None)


def test_days_accept_ranges_lists_and_wrap_around(example_data):
    data = copy.deepcopy(example_data)
    data["hosts"][0]["working_hours"] = [{"days": "fri-mon", "hours": ["09:00-10:00"]},
                                         {"days": ["Wed"], "hours": ["09:00-10:00"]}]
    host = parse_business_config(data).host("dana")
    assert [bool(day) for day in host.weekly] == [True, False, True, False, True, True, True]


# ---------------------------------------------------------------- every error names its field

def _set(path: str, value):
    """A mutation of the example data: set the value at a dotted path with [index] parts."""
    def mutate(data):
        parts = path.replace("[", ".").replace("]", "").split(".")
        node = data
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last = parts[-1]
        if last.isdigit():
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str):
    def mutate(data):
        parts = path.split(".")
        node = data
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        del node[parts[-1]]
    return mutate


CASES = [
    ("duration off the granule", _set("event_types[1].duration_minutes", 92),
     "event_types[1].duration_minutes", "not a multiple of the 5-minute claim granule"),
    ("buffer off the granule", _set("event_types[0].buffer_after_minutes", 7),
     "event_types[0].buffer_after_minutes", "claim granule"),
    ("interval off a coarser granule", _set("claim_granule_minutes", 15),
     "event_types[7].buffer_after_minutes", "15-minute claim granule"),
    ("granule that does not tile an hour", _set("claim_granule_minutes", 7),
     "claim_granule_minutes", "must divide an hour"),
    ("hours off the granule", _set("hosts[1].working_hours[0].hours", ["08:03-12:00"]),
     "hosts[1].working_hours[0].hours[0]", "claim granule"),
    ("unknown host in an event type", _set("event_types[2].routing.hosts", ["jeter-truck"]),
     "event_types[2].routing.hosts[0]", "unknown host 'jeter-truck'"),
    ("unknown host in a territory", _set("territories[2].hosts", ["marcos"]),
     "territories[2].hosts[0]", "unknown host 'marcos'"),
    ("unknown territory on a host", _set("hosts[1].territory", "weast"),
     "hosts[1].territory", "unknown territory 'weast'"),
    ("skill nobody has", _set("event_types[0].routing.skills", ["welding"]),
     "event_types[0].routing.skills[0]", "no host has skill 'welding'"),
    ("overlapping weekly rules", _set("hosts[0].working_hours[0].hours", ["07:30-12:00", "11:30-16:30"]),
     "hosts[0].working_hours[0].hours[1]", "overlaps"),
    ("a night shift running into the next day's hours",
     _set("hosts[2].working_hours", [{"days": "mon", "hours": ["20:00-09:00"]},
                                     {"days": "tue", "hours": ["08:00-17:00"]}]),
     "hosts[2].working_hours[1].hours[0]", "tue 08:00-17:00 overlaps mon 20:00-09:00"),
    ("Sunday night into Monday", _set("hosts[2].working_hours", [{"days": "mon", "hours": ["08:00-17:00"]},
                                                                 {"days": "sun", "hours": ["22:00-09:00"]}]),
     "hosts[2].working_hours[1].hours[0]", "overlaps"),
    ("bad time zone", _set("hosts[4].time_zone", "America/Indianapolis2"),
     "hosts[4].time_zone", "not an IANA time zone"),
    ("bad business time zone", _set("business.time_zone", "Central Standard Time"),
     "business.time_zone", "not an IANA time zone"),
    ("bad hours text", _set("hosts[0].working_hours[1].hours", ["8am-noon"]),
     "hosts[0].working_hours[1].hours[0]", "not a time of day like 08:30"),
    ("impossible time", _set("hosts[0].working_hours[1].hours", ["08:00-25:00"]),
     "hosts[0].working_hours[1].hours[0]", "not a time of day"),
    ("empty range", _set("hosts[0].working_hours[1].hours", ["08:00-08:00"]),
     "hosts[0].working_hours[1].hours[0]", "empty"),
    ("bad day name", _set("hosts[0].working_hours[1].days", "saturday"),
     "hosts[0].working_hours[1].days[0]", "'mon'"),
    ("misspelt field", _set("hosts[0].working_hour", []), "hosts[0].working_hour", "not a known field"),
    ("missing field", _delete("event_types.3.duration_minutes"), "event_types[3].duration_minutes", "required"),
    ("bad location kind", _set("event_types[0].location_kind", "zoom"), "event_types[0].location_kind", "'teams'"),
    ("on-site without an address", _set("event_types[0].required_fields", ["name", "phone"]),
     "event_types[0].required_fields", "must require 'address'"),
    ("unknown required field", _set("event_types[0].required_fields", ["name", "shoe_size"]),
     "event_types[0].required_fields[1]", "'postal_code'"),
    ("fixed with two hosts", _set("event_types[2].routing.hosts", ["jetter-truck", "dana"]),
     "event_types[2].routing.hosts", "exactly one host"),
    ("unknown policy", _set("event_types[0].routing.policy", "lottery"), "event_types[0].routing.policy",
     "'round_robin'"),
    ("fallback repeating the policy", _set("event_types[0].routing.fallback", ["territory"]),
     "event_types[0].routing.fallback[0]", "already tried"),
    ("duplicate host id", _set("hosts[1].id", "dana"), "hosts[1].id", "'dana' is already used by hosts[0]"),
    ("duplicate mailbox", _set("hosts[1].mailbox", "Dana.Reyes@lakeshore-ph.example.com"), "hosts[1].mailbox",
     "already used by hosts[0]"),
    ("duplicate event type", _set("event_types[1].key", "plumbing-repair"), "event_types[1].key", "already used"),
    ("postal code in two territories", _set("territories[1].postal_codes", ["60614"]),
     "territories[1].postal_codes[0]", "already in territory 'north'"),
    ("bad mailbox", _set("hosts[0].mailbox", "dana"), "hosts[0].mailbox", "not a mailbox address"),
    ("bad Dynamics id", _set("hosts[0].dynamics_systemuser_id", "dana"), "hosts[0].dynamics_systemuser_id",
     "not a GUID"),
    ("bad business phone", _set("business.phone", "312-555-0100"), "business.phone", "E.164"),
    ("duplicate override date", _set("hosts[0].date_overrides[1].date", "2026-12-24"),
     "hosts[0].date_overrides[1].date", "already overridden"),
    ("time off ending before it starts", _set("hosts[0].time_off[0].end", "2026-07-01T00:00"),
     "hosts[0].time_off[0].end", "after start"),
    ("zero daily limit", _set("hosts[0].daily_limit", 0), "hosts[0].daily_limit", "greater than or equal to 1"),
    ("unknown showAs", _set("blocking_show_as", ["busy", "away"]), "blocking_show_as[1]", "'tentative'"),
    ("negative notice", _set("event_types[0].minimum_notice_minutes", -5), "event_types[0].minimum_notice_minutes",
     "greater than or equal to 0"),
    ("unknown vocabulary topic", _set("event_types[0].topics", ["leak", "lawn_mowing"]), "event_types[0].topics",
     "unknown topic 'lawn_mowing'"),
    ("work not offered without a name", _set("vocabulary.not_offered", [{"phrases": ["roof"]}]),
     "vocabulary.not_offered[0].name", "required"),
    ("misspelt vocabulary field", _set("vocabulary.mishearing", {}), "vocabulary.mishearing", "not a known field"),
]


@pytest.mark.parametrize("mutate, path, message", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_error_names_its_field_and_says_what_is_wrong(example_data, mutate, path, message):
    data = copy.deepcopy(example_data)
    mutate(data)
    with pytest.raises(BusinessConfigError) as caught:
        parse_business_config(data)
    problems = dict(caught.value.problems)
    assert path in problems, f"expected a problem at {path}, got {caught.value.problems}"
    assert message in problems[path]
    assert path in str(caught.value)


def test_the_loader_adds_the_line_of_the_field(tmp_path, example_data):
    data = copy.deepcopy(example_data)
    data["hosts"][1]["territory"] = "weast"
    path = tmp_path / "business.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(BusinessConfigError) as caught:
        load_business_config(str(path))
    (field, message), = caught.value.problems
    line = int(message.rsplit("line ", 1)[1].rstrip(")"))
    assert field == "hosts[1].territory"
    assert path.read_text().splitlines()[line - 1].strip() == "territory: weast"
    assert str(path) in str(caught.value)


def test_yaml_syntax_errors_say_where(tmp_path):
    path = tmp_path / "business.yaml"
    path.write_text("business:\n  name: [unclosed\nhosts: []\n")
    with pytest.raises(BusinessConfigError, match=r"\(yaml\): line \d+, column \d+"):
        load_business_config(str(path))


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BusinessConfigError, match="cannot read"):
        load_business_config(str(tmp_path / "nope.yaml"))


def test_a_document_that_is_not_a_mapping(tmp_path):
    path = tmp_path / "business.yaml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(BusinessConfigError, match="should be a mapping"):
        load_business_config(str(path))


def test_the_loader_reads_the_configured_path_by_default(monkeypatch, example_path):
    from shared.config import reset_settings
    monkeypatch.setenv("BUSINESS_CONFIG_PATH", str(example_path))
    monkeypatch.setenv("STORAGE__CONNECTION_STRING", "UseDevelopmentStorage=true")
    reset_settings()
    try:
        assert load_business_config().business.name == "Lakeshore Plumbing & Heating"
    finally:
        reset_settings()


def test_event_type_defaults_depend_on_where_it_happens():
    from shared.domain.business import EventType
    onsite = EventType(key="visit", name="Visit", duration_minutes=45)
    call = EventType(key="call", name="Call", duration_minutes=15, location_kind="phone")
    assert onsite.required_fields == ("name", "phone", "address") and onsite.slot_interval_minutes == 45
    assert call.required_fields == ("name", "phone")
