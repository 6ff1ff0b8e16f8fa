"""How the receptionist says times and names, and when the office takes transfers (and its settings)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.dialog import OfficeHoursError, parse_office_hours
from shared.domain.dialog.speech import ordinal, service_name, spoken_choices, spoken_time, with_article

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=CHICAGO)  # a Tuesday


@pytest.mark.parametrize("day, said", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"), (11, "11th"), (12, "12th"),
                                       (13, "13th"), (21, "21st"), (22, "22nd"), (23, "23rd"), (31, "31st")])
def test_ordinals(day, said):
    assert ordinal(day) == said


def test_times_are_said_on_the_business_clock_with_the_day_named():
    thursday_10 = datetime(2026, 12, 3, 16, 0, tzinfo=timezone.utc)  # 10 AM in Chicago
    assert spoken_time(thursday_10, "America/Chicago", NOW) == "Thursday, December 3rd at 10 AM"
    assert spoken_time(datetime(2026, 12, 1, 14, 30, tzinfo=CHICAGO), "America/Chicago", NOW) == "today at 2:30 PM"
    assert spoken_time(datetime(2026, 12, 2, 12, 0, tzinfo=CHICAGO), "America/Chicago", NOW) == \
        "tomorrow, Wednesday, December 2nd at noon"


def test_two_times_on_one_day_name_the_day_once():
    first, second = datetime(2026, 12, 4, 9, tzinfo=CHICAGO), datetime(2026, 12, 4, 13, tzinfo=CHICAGO)
    assert spoken_choices([first, second], "America/Chicago", NOW) == "Friday, December 4th at 9 AM or 1 PM"
    monday = datetime(2026, 12, 7, 8, 30, tzinfo=CHICAGO)
    assert spoken_choices([first, monday], "America/Chicago", NOW) == \
        "Friday, December 4th at 9 AM, or Monday, December 7th at 8:30 AM"


def test_service_names_read_naturally_mid_sentence(config):
    names = {key: with_article(service_name(config.event_type(key))) for key in
             ("plumbing-repair", "estimate-call", "teams-consult", "no-heat", "hvac-tune-up")}
    assert names == {"plumbing-repair": "a plumbing repair visit",
                     "estimate-call": "a phone estimate for a replacement or remodel",
                     "teams-consult": "a video consultation",
                     "no-heat": "a visit for no heat or no cooling",
                     "hvac-tune-up": "a furnace or A/C tune-up"}


def test_office_hours_are_read_on_the_business_clock():
    hours = parse_office_hours("mon-fri 08:00-12:00, 13:00-17:00; sat 09:00-12:00")
    at = lambda *args: datetime(*args, tzinfo=CHICAGO)  # noqa: E731
    assert hours.is_open(at(2026, 12, 1, 8, 0), "America/Chicago")
    assert not hours.is_open(at(2026, 12, 1, 12, 30), "America/Chicago")  # lunch
    assert not hours.is_open(at(2026, 12, 1, 17, 0), "America/Chicago")
    assert hours.is_open(at(2026, 12, 5, 11, 59), "America/Chicago")  # Saturday morning
    assert not hours.is_open(at(2026, 12, 6, 10, 0), "America/Chicago")  # Sunday
    # 4 PM in Chicago is 22:00 UTC: the zone, not UTC, decides.
    assert hours.is_open(datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc), "America/Chicago")
    assert not parse_office_hours("").ever_open
    assert parse_office_hours("fri-mon 10:00-24:00").is_open(at(2026, 12, 6, 23, 59), "America/Chicago")


@pytest.mark.parametrize("text", ["weekdays 9-5", "mon-fri 08:00", "mon-fri 17:00-08:00", "funday 08:00-17:00",
                                  "mon 25:00-26:00"])
def test_unreadable_office_hours_are_refused_with_the_part_named(text):
    with pytest.raises(OfficeHoursError):
        parse_office_hours(text)


def test_voice_settings_name_the_variable_that_is_wrong(monkeypatch):
    from shared.config import SettingsError, load_settings
    monkeypatch.setenv("STORAGE__CONNECTION_STRING", "UseDevelopmentStorage=true")
    monkeypatch.setenv("VOICE__TRANSFER_NUMBER", "312-555-0100")
    monkeypatch.setenv("VOICE__OFFICE_HOURS", "weekdays 9 to 5")
    monkeypatch.setenv("VOICE__MODEL_BUDGET_SECONDS", "20")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    names = {name for name, _ in raised.value.problems}
    assert names == {"VOICE__TRANSFER_NUMBER", "VOICE__OFFICE_HOURS", "VOICE__MODEL_BUDGET_SECONDS"}
    monkeypatch.setenv("VOICE__TRANSFER_NUMBER", "+13125550142")
    monkeypatch.setenv("VOICE__OFFICE_HOURS", "mon-fri 08:00-17:00; sat 09:00-12:00")
    monkeypatch.setenv("VOICE__MODEL_BUDGET_SECONDS", "1.5")
    voice = load_settings().voice
    assert (voice.transfer_number, voice.model_budget_seconds, voice.hold_seconds) == ("+13125550142", 1.5, 300)
