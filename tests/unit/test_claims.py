"""Granule math and claim planning: overlapping times always collide, neighbours never do (when aligned)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.domain.claims import (GranuleClaim, ceil_to_granule, chunked, floor_to_granule, granule_runs,
                                  granule_span, granules, padded_interval, plan_claim)

UTC = timezone.utc
FIVE = timedelta(minutes=5)
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute, second=second)


# ---------------------------------------------------------------- examples

def test_an_hour_with_buffers_claims_its_padded_interval_in_five_minute_granules():
    claimed = granules(at(9), at(10), timedelta(minutes=15), timedelta(minutes=10))
    assert claimed[0] == at(8, 45) and claimed[-1] == at(10, 5)
    assert len(claimed) == 17
    assert all(b - a == FIVE for a, b in zip(claimed, claimed[1:]))


def test_unaligned_intervals_are_rounded_outward():
    assert granules(at(9, 2), at(9, 13)) == [at(9), at(9, 5), at(9, 10)]
    assert granule_span(at(9, 2), at(9, 13)) == (at(9), at(9, 15))
    assert granules(at(9, 4, 59), at(9, 5, 1)) == [at(9), at(9, 5)]


def test_granules_are_aligned_to_the_utc_epoch_whatever_the_offset_of_the_input():
    chicago = timezone(timedelta(hours=-6))
    local = datetime(2026, 3, 2, 3, 2, tzinfo=chicago)  # 09:02 UTC
    assert granules(local, local + timedelta(minutes=10)) == [at(9), at(9, 5), at(9, 10)]
    assert all(g.tzinfo == UTC for g in granules(local, local + timedelta(minutes=10)))
    # A 7-minute granule does not divide an hour: alignment is to the epoch, not to the hour.
    seven = timedelta(minutes=7)
    assert (floor_to_granule(at(9), seven) - datetime(1970, 1, 1, tzinfo=UTC)) % seven == timedelta(0)


def test_floor_and_ceil():
    assert floor_to_granule(at(9, 7)) == at(9, 5)
    assert ceil_to_granule(at(9, 7)) == at(9, 10)
    assert ceil_to_granule(at(9, 10)) == at(9, 10)


def test_bad_intervals_are_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="after start"):
        granules(at(10), at(10))
    with pytest.raises(ValueError, match="aware"):
        granules(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 10))
    with pytest.raises(ValueError, match="negative"):
        padded_interval(at(9), at(10), timedelta(minutes=-5))
    with pytest.raises(ValueError, match="positive"):
        granules(at(9), at(10), granule=timedelta(0))


def test_runs_merge_consecutive_granules_only():
    assert granule_runs([at(9, 5), at(9), at(9, 10), at(10), at(9, 5)]) == [(at(9), at(9, 15)), (at(10), at(10, 5))]


def test_chunks_stay_within_a_transaction():
    items = list(range(250))
    assert [len(c) for c in chunked(items, 100)] == [100, 100, 50]
    assert [x for c in chunked(items, 100) for x in c] == items


# ---------------------------------------------------------------- planning a claim

NOW = at(8)


def test_plan_creates_free_granules_and_refreshes_the_holders_own_hold():
    existing = {at(9): GranuleClaim("bk-a", "hold", NOW + FIVE)}
    plan = plan_claim([at(9), at(9, 5)], existing, "bk-a", "hold", NOW)
    assert plan.won and plan.actions == {at(9): "refresh", at(9, 5): "create"}


def test_plan_takes_over_only_lapsed_holds_of_others():
    existing = {at(9): GranuleClaim("bk-old", "hold", NOW - FIVE), at(9, 5): GranuleClaim("bk-old", "hold", NOW)}
    plan = plan_claim([at(9), at(9, 5)], existing, "bk-new", "hold", NOW)
    assert plan.won and plan.actions == {at(9): "takeover", at(9, 5): "takeover"}  # expiry == now has lapsed

    live = {at(9): GranuleClaim("bk-old", "hold", NOW + timedelta(seconds=1))}
    assert plan_claim([at(9)], live, "bk-new", "hold", NOW).conflicts == (at(9),)


def test_plan_never_takes_a_booking_and_never_downgrades_its_own():
    booked = {at(9): GranuleClaim("bk-a", "booking")}
    assert plan_claim([at(9), at(9, 5)], booked, "bk-b", "hold", NOW + timedelta(days=365)).conflicts == (at(9),)
    assert plan_claim([at(9)], booked, "bk-a", "hold", NOW).actions == {at(9): "keep"}


def test_plan_reports_every_blocking_granule_and_writes_nothing():
    existing = {at(9, 5): GranuleClaim("x", "booking"), at(9, 15): GranuleClaim("y", "hold", NOW + FIVE)}
    plan = plan_claim(granules(at(9), at(9, 30)), existing, "bk-b", "hold", NOW)
    assert not plan.won and plan.conflicts == (at(9, 5), at(9, 15)) and plan.actions == {}


# ---------------------------------------------------------------- properties

BASE = datetime(2026, 1, 1, tzinfo=UTC)
buffers = st.integers(min_value=0, max_value=120)
seconds = st.integers(min_value=0, max_value=48 * 3600)
second_lengths = st.integers(min_value=1, max_value=12 * 3600)


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


units = st.integers(min_value=0, max_value=600)  # counts of 5-minute granules
aligned_claims = st.tuples(units, st.integers(min_value=1, max_value=150), st.integers(0, 24), st.integers(0, 24))


@settings(max_examples=400, deadline=None)
@given(aligned_claims, aligned_claims)
def test_aligned_padded_intervals_overlap_iff_their_granules_intersect(a, b):
    def claim(start_units, length_units, before_units, after_units):
        start = BASE + start_units * FIVE
        args = (start, start + length_units * FIVE, before_units * FIVE, after_units * FIVE)
        return padded_interval(*args), set(granules(*args))

    (pa, ga), (pb, gb) = claim(*a), claim(*b)
    assert _overlap(pa, pb) == bool(ga & gb)


@settings(max_examples=400, deadline=None)
@given(st.tuples(seconds, second_lengths, buffers, buffers), st.tuples(seconds, second_lengths, buffers, buffers))
def test_unaligned_intervals_that_overlap_always_share_a_granule(a, b):
    def claim(start_s, length_s, before_min, after_min):
        start = BASE + timedelta(seconds=start_s)
        args = (start, start + timedelta(seconds=length_s), timedelta(minutes=before_min), timedelta(minutes=after_min))
        return padded_interval(*args), set(granules(*args))

    (pa, ga), (pb, gb) = claim(*a), claim(*b)
    if _overlap(pa, pb):
        assert ga & gb


@settings(max_examples=300, deadline=None)
@given(seconds, second_lengths, buffers, buffers, st.sampled_from([1, 5, 10, 15]))
def test_granules_cover_the_padded_interval_exactly_rounded_outward(start_s, length_s, before, after, size):
    granule = timedelta(minutes=size)
    start = BASE + timedelta(seconds=start_s)
    end = start + timedelta(seconds=length_s)
    claimed = granules(start, end, timedelta(minutes=before), timedelta(minutes=after), granule)
    padded_start, padded_end = padded_interval(start, end, timedelta(minutes=before), timedelta(minutes=after))
    assert claimed[0] <= padded_start < claimed[0] + granule
    assert claimed[-1] < padded_end <= claimed[-1] + granule
    assert all(b - a == granule for a, b in zip(claimed, claimed[1:]))
    assert granule_runs(claimed, granule) == [granule_span(start, end, timedelta(minutes=before),
                                                           timedelta(minutes=after), granule)]
