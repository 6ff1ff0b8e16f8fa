"""The booking API at fixed local times of the business's day (before opening, mid-morning, lunch, 16:55 just
before closing, Saturday, the Sunday of a DST change) and on the real clock.

A widget opened at any hour must offer the earliest times the rules allow -- never one inside the minimum
notice, never one in the past -- and book the first of them; a time that has just become too soon is
refused with the reason, not booked.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from helpers import REPAIR, book, booking_body, instant, slots
from local_times import ALL

NOTICE = timedelta(minutes=120)  # plumbing-repair's minimum notice in config/business.example.yaml


@pytest.mark.parametrize("local_time", ALL, indirect=True)
async def test_the_first_offered_time_keeps_the_notice_and_is_booked(local_time, clean_stack, api, anonymous,
                                                                     business):
    from shared.domain.availability import find_slots
    offered = await slots(anonymous, REPAIR, hostId="dana", start=local_time.isoformat(),
                          end=(local_time + timedelta(days=4)).isoformat())
    assert offered, "four days always hold an open time for Dana"
    first = instant(offered[0]["start"])
    assert first >= local_time + NOTICE
    assert all(instant(slot["start"]) >= first for slot in offered)
    # The calendars are empty: the first time offered is the first the slot rules allow at this instant (on the
    # flowing clock the API was asked a moment later: now + notice may have crossed a half hour in between).
    def first_allowed(now):
        return find_slots(business.event_type(REPAIR), [business.host("dana")], window_start=local_time,
                          window_end=local_time + timedelta(days=4), now=now)[0].start
    assert first in {first_allowed(local_time), first_allowed(local_time + timedelta(seconds=30))}

    response = await book(api, booking_body(offered[0]["start"], hostId="dana"))
    assert response.status_code in (200, 201), response.text  # 200: answered 202 first, then polled
    assert response.json()["status"] == "confirmed"
    [event] = clean_stack.graph.events(business.host("dana").mailbox)
    assert instant(event["start"]["dateTime"] + "+00:00") == first


@pytest.mark.parametrize("local_time", ["before-opening", "mid-morning", "lunch"], indirect=True)
async def test_a_time_inside_the_notice_is_409_with_later_alternatives(local_time, clean_stack, api, business):
    from shared.domain.availability import find_slots
    # A real start on Dana's grid and hours that lies inside the notice at this hour (or else none exists).
    day = [s.start for s in find_slots(business.event_type(REPAIR), [business.host("dana")],
                                       window_start=local_time, window_end=local_time + timedelta(days=3),
                                       now=local_time - NOTICE)]
    too_soon = [start for start in day if start < local_time + NOTICE]
    if not too_soon:
        pytest.skip("no working time of Dana's lies inside the notice at this hour")
    response = await book(api, booking_body(too_soon[0].isoformat(), hostId="dana"))
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    assert error["code"] == "slot_unavailable" and error["details"][0]["type"] == "too_soon"
    assert error["alternatives"] and all(instant(s["start"]) >= local_time + NOTICE for s in error["alternatives"])
    assert clean_stack.graph.events(business.host("dana").mailbox) == []
