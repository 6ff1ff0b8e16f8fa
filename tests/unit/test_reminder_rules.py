"""When reminders go out (shared/services/reminders.py): the evening before on the customer's clock, lead
times, quiet hours moving a reminder earlier or dropping it when the evening one already went, DST, and
which reminder is next at a given moment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.domain.booking import Booking
from shared.domain.business import Business, BusinessConfigError, EventType
from shared.services.reminders import next_reminder, planned_reminders, quiet_interval, send_key

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
BUSINESS = Business(name="Lakeshore", time_zone="America/Chicago")
REPAIR = EventType(key="repair", name="Repair", duration_minutes=60, location_kind="phone")


def _at(day: date, wall: str, tz: ZoneInfo = CHICAGO) -> datetime:
    return datetime.combine(day, time.fromisoformat(wall), tzinfo=tz).astimezone(UTC)


def _booking(start: datetime, status: str = "confirmed", time_zone: str = "America/Chicago") -> Booking:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return Booking.model_validate({
        "id": "bk_0123456789abcdef01234567", "status": status, "eventTypeKey": "repair", "hostId": "dana",
        "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(), "timeZone": time_zone,
        "customer": {"name": "Jordan Lee", "phone": "+13125550188"}, "context": {"channel": "api"},
        "createdAt": now.isoformat(), "updatedAt": now.isoformat()})


def _local(reminders) -> list[tuple[str, str]]:
    return [(r.kind, r.at.astimezone(CHICAGO).strftime("%a %H:%M")) for r in reminders]


WED = date(2026, 12, 9)


def test_default_is_six_pm_the_evening_before_and_two_hours_before():
    assert _local(planned_reminders(_booking(_at(WED, "14:00")), REPAIR, BUSINESS)) == [
        ("evening_before", "Tue 18:00"), ("2h", "Wed 12:00")]


def test_a_reminder_due_in_quiet_hours_that_the_evening_text_already_covers_is_dropped():
    # 9:00 visit: two hours before is 07:00 (quiet); moved to 20:59 it would follow the 18:00 text: one text.
    assert _local(planned_reminders(_booking(_at(WED, "09:00")), REPAIR, BUSINESS)) == [
        ("evening_before", "Tue 18:00")]


def test_a_reminder_due_in_quiet_hours_is_moved_to_just_before_they_begin():
    only_two_hours = REPAIR.model_copy(update={"reminders": ("2h",)})
    [reminder] = planned_reminders(_booking(_at(WED, "09:00")), only_two_hours, BUSINESS)
    assert _local([reminder]) == [("2h", "Tue 20:59")] and reminder.moved_for_quiet_hours


def test_quiet_hours_are_the_customers_not_the_business():
    # A customer in Los Angeles booked 10:00 their time: two hours before is 08:00 LA, outside quiet hours there.
    la = ZoneInfo("America/Los_Angeles")
    booking = _booking(_at(WED, "10:00", la), time_zone="America/Los_Angeles")
    times = [r.at.astimezone(la).strftime("%a %H:%M") for r in planned_reminders(booking, REPAIR, BUSINESS)]
    assert times == ["Tue 18:00", "Wed 08:00"]


def test_no_quiet_hours_and_no_reminders_configured():
    quiet_free = BUSINESS.model_copy(update={"quiet_hours": None})
    assert _local(planned_reminders(_booking(_at(WED, "09:00")), REPAIR, quiet_free)) == [
        ("evening_before", "Tue 18:00"), ("2h", "Wed 07:00")]
    none = REPAIR.model_copy(update={"reminders": ()})
    assert next_reminder(_booking(_at(WED, "14:00")), none, BUSINESS, _at(WED, "08:00")) == (
        None, "reminders are off for this event type")


def test_the_evening_before_follows_the_wall_clock_across_a_dst_change():
    # Sunday 2026-11-01 Chicago falls back: Monday 10:00's evening before is Sunday 18:00 CST (00:00 UTC).
    [evening, _] = planned_reminders(_booking(_at(date(2026, 11, 2), "10:00")), REPAIR, BUSINESS)
    assert evening.at == datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def test_next_reminder_skips_what_has_passed_and_ends_for_cancelled_or_past_bookings():
    booking = _booking(_at(WED, "14:00"))
    assert next_reminder(booking, REPAIR, BUSINESS, _at(WED, "08:00"))[0].kind == "2h"
    assert next_reminder(booking, REPAIR, BUSINESS, _at(WED, "12:00")) == (None, "no reminder left before the visit")
    assert next_reminder(booking, REPAIR, BUSINESS, _at(WED, "14:00")) == (None, "the visit has begun")
    cancelled = _booking(_at(WED, "14:00"), status="cancelled")
    assert next_reminder(cancelled, REPAIR, BUSINESS, _at(WED, "08:00")) == (None, "the booking is cancelled")


def test_quiet_interval_spans_midnight():
    lo, hi = quiet_interval(_at(WED, "02:00"), "21:00-08:00", "America/Chicago")
    assert (lo, hi) == (_at(WED - timedelta(days=1), "21:00"), _at(WED, "08:00"))
    assert quiet_interval(_at(WED, "20:59"), "21:00-08:00", "America/Chicago") is None


def test_the_send_key_is_stable_and_names_the_start():
    start = _at(WED, "14:00")
    assert send_key("bk_1", "2h", start) == send_key("bk_1", "2h", start) != send_key("bk_1", "2h",
                                                                                       start + timedelta(hours=1))


@pytest.mark.parametrize("bad", ["tomorrow", "0h", "2w", "evening"])
def test_unknown_reminder_specs_are_refused_with_the_field(bad):
    with pytest.raises((BusinessConfigError, ValueError)) as error:
        EventType(key="repair", name="Repair", duration_minutes=60, location_kind="phone", reminders=(bad,))
    assert "reminder" in str(error.value)
