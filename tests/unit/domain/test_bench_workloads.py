"""The benchmark measures real answers: its workloads give exactly the reference's slots."""

from __future__ import annotations

import random
from datetime import timedelta

from bench.availability import EVENT, START, make_busy, make_host, make_query
from shared.domain.availability import find_slots
from slot_reference import reference_slots


def test_the_single_host_workload_is_answered_correctly():
    rng = random.Random(7)
    host = make_host(0)
    busy = {host.id: make_busy(rng, 30, 40)}
    end = START + timedelta(days=30)
    slots = find_slots(EVENT, [host], busy, {}, START, end, START)
    assert len(slots) > 100  # a realistic month: busy, but with plenty left to offer
    assert {s.start: list(s.host_ids) for s in slots} == reference_slots(EVENT, [host], busy, {}, START, end, START)


def test_the_pool_workload_is_answered_correctly():
    rng = random.Random(7)
    hosts = [make_host(index) for index in range(6)]
    busy = {host.id: make_busy(rng, 30, 40) for host in hosts}
    end = START + timedelta(days=30)
    slots = find_slots(EVENT, hosts, busy, {}, START, end, START)
    assert any(len(s.host_ids) > 1 for s in slots) and any(len(s.host_ids) < 6 for s in slots)
    assert {s.start: list(s.host_ids) for s in slots} == reference_slots(EVENT, hosts, busy, {}, START, end, START)


def test_after_hours_busy_events_leave_the_offer_unchanged():
    quiet, noisy = make_query(1, 30, 0)(), make_query(1, 30, 400, evening=True)()
    assert quiet == noisy and quiet
