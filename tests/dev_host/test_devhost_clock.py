"""The development host's clock: real time by default, frozen and advanced by tests."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from dev.host import DevClock


def test_real_time_by_default_and_advance_adds_an_offset():
    clock = DevClock()
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 1
    clock.advance(timedelta(hours=2))
    assert timedelta(hours=1, minutes=59) < clock.now() - datetime.now(timezone.utc) < timedelta(hours=2, minutes=1)


def test_frozen_time_moves_only_when_advanced_and_flows_again_after_unfreeze():
    start = datetime(2026, 3, 8, 9, 30, tzinfo=timezone.utc)
    clock = DevClock(start, frozen=True)
    time.sleep(0.02)
    assert clock.now() == start and clock.seconds_until(start + timedelta(seconds=1)) is None
    assert clock.advance(timedelta(minutes=5)) == start + timedelta(minutes=5)
    clock.unfreeze()
    time.sleep(0.02)
    assert clock.now() > start + timedelta(minutes=5)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))


def test_listeners_hear_every_move():
    heard = []
    clock = DevClock()
    clock.subscribe(lambda: heard.append(clock.now()))
    clock.freeze()
    clock.advance(timedelta(seconds=1))
    clock.unfreeze()
    assert len(heard) == 3


def test_travel_goes_back_and_forth_and_flows_from_there():
    clock = DevClock()
    saturday = datetime(2031, 3, 8, 16, 0, tzinfo=timezone.utc)
    assert abs((clock.travel_to(saturday) - saturday).total_seconds()) < 1
    earlier = datetime(2027, 1, 6, 13, 30, tzinfo=timezone.utc)
    assert abs((clock.travel_to(earlier) - earlier).total_seconds()) < 1  # back in time too
    time.sleep(0.02)
    assert clock.now() > earlier and not clock.frozen
    clock.reset()
    assert abs((clock.now() - datetime.now(timezone.utc)).total_seconds()) < 1


def test_a_frozen_clock_stays_frozen_where_it_travelled():
    clock = DevClock(frozen=True)
    moment = datetime(2030, 11, 3, 7, 30, tzinfo=timezone.utc)
    clock.travel_to(moment)
    time.sleep(0.02)
    assert clock.now() == moment and clock.frozen
