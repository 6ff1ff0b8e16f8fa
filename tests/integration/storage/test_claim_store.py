"""Claims against real Table Storage (Azurite): nobody can book time someone else holds."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.claims import granule_span, granules
from shared.ports import ClaimedInterval

UTC = timezone.utc
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def slot(start_hour: float, minutes: int = 60, before: int = 0, after: int = 0) -> list[datetime]:
    start = DAY + timedelta(hours=start_hour)
    return granules(start, start + timedelta(minutes=minutes), timedelta(minutes=before), timedelta(minutes=after))


async def test_a_free_time_is_won_and_an_overlapping_claim_loses_on_the_shared_granules(claim_store, now):
    first = slot(9, 60, after=15)  # padded 09:00-10:15
    second = slot(10, 60, before=15)  # padded 09:45-11:00

    won = await claim_store.claim("dana", first, "bk-a", "hold", now + timedelta(minutes=5), now=now)
    lost = await claim_store.claim("dana", second, "bk-b", "hold", now + timedelta(minutes=5), now=now)

    assert won.won and not won.conflicts
    assert not lost.won
    assert lost.conflicts == (at(9, 45), at(9, 50), at(9, 55), at(10), at(10, 5), at(10, 10))
    claims = await claim_store.list_claims("dana", at(0), at(23), now=now)
    assert claims == [ClaimedInterval("bk-a", "hold", at(9), at(10, 15), now + timedelta(minutes=5))]


async def test_adjacent_times_and_other_hosts_do_not_conflict(claim_store, now):
    assert (await claim_store.claim("dana", slot(9), "bk-a", "booking", now=now)).won
    assert (await claim_store.claim("dana", slot(10), "bk-b", "booking", now=now)).won
    assert (await claim_store.claim("lee", slot(9), "bk-c", "booking", now=now)).won

    dana = await claim_store.list_claims("dana", at(0), at(23), now=now)
    assert [(c.holder_id, c.start, c.end) for c in dana] == [("bk-a", at(9), at(10)), ("bk-b", at(10), at(11))]
    assert [(c.holder_id, c.start) for c in await claim_store.list_claims("lee", at(0), at(23), now=now)] == [
        ("bk-c", at(9))]


async def test_claiming_again_is_idempotent_and_refreshes_the_hold(claim_store, now):
    granules_ = slot(9)
    first = await claim_store.claim("dana", granules_, "bk-a", "hold", now + timedelta(minutes=5), now=now)
    # The activity ran twice (Durable is at-least-once): the second run must not lose to the first.
    again = await claim_store.claim("dana", granules_, "bk-a", "hold", now + timedelta(minutes=10), now=now)

    assert first.won and again.won
    assert await claim_store.list_claims("dana", at(0), at(23), now=now) == [
        ClaimedInterval("bk-a", "hold", at(9), at(10), now + timedelta(minutes=10))]


async def test_a_repeated_hold_never_downgrades_a_confirmed_booking(claim_store, now):
    await claim_store.claim("dana", slot(9), "bk-a", "hold", now + timedelta(minutes=5), now=now)
    assert (await claim_store.confirm("dana", "bk-a", slot(9), now=now)).won
    assert (await claim_store.claim("dana", slot(9), "bk-a", "hold", now + timedelta(minutes=5), now=now)).won

    later = now + timedelta(hours=1)
    assert [(c.kind, c.expires_at) for c in await claim_store.list_claims("dana", at(0), at(23), now=later)] == [
        ("booking", None)]
    assert not (await claim_store.claim("dana", slot(9), "bk-b", "hold", later + timedelta(minutes=5), now=later)).won


async def test_release_deletes_only_the_holders_own_rows(claim_store, now):
    await claim_store.claim("dana", slot(9), "bk-a", "booking", now=now)

    assert await claim_store.release("dana", "bk-b", slot(9)) == 0  # not theirs to release
    assert [c.holder_id for c in await claim_store.list_claims("dana", at(0), at(23), now=now)] == ["bk-a"]
    assert (await claim_store.claim("dana", slot(9), "bk-b", "hold", now + timedelta(minutes=5), now=now)).conflicts

    assert await claim_store.release("dana", "bk-a", slot(8, 180)) == 12  # extra, unclaimed granules are fine
    assert await claim_store.release("dana", "bk-a", slot(9)) == 0  # releasing twice is fine
    assert await claim_store.list_claims("dana", at(0), at(23), now=now) == []
    assert (await claim_store.claim("dana", slot(9), "bk-b", "hold", now + timedelta(minutes=5), now=now)).won


async def test_an_expired_hold_can_be_taken_over_and_its_holder_can_no_longer_confirm(claim_store, now):
    expiry = now + timedelta(minutes=5)
    await claim_store.claim("dana", slot(9), "bk-a", "hold", expiry, now=now)

    before_expiry = await claim_store.claim("dana", slot(9, 30), "bk-b", "hold", expiry, now=now + timedelta(minutes=4))
    after = now + timedelta(minutes=6)
    taken = await claim_store.claim("dana", slot(9, 30), "bk-b", "hold", after + timedelta(minutes=5), now=after)
    confirm_late = await claim_store.confirm("dana", "bk-a", slot(9), now=after)

    assert not before_expiry.won
    assert taken.won
    assert not confirm_late.won and confirm_late.conflicts == tuple(slot(9, 30))
    # Nothing of bk-a's failed confirmation was left behind, and its lapsed hold is not listed.
    assert [(c.holder_id, c.start, c.end) for c in await claim_store.list_claims("dana", at(0), at(23), now=after)] == [
        ("bk-b", at(9), at(9, 30))]


async def test_fifty_concurrent_takers_of_an_expired_hold_leave_exactly_one_winner(claim_store, now):
    await claim_store.claim("dana", slot(9), "bk-old", "hold", now + timedelta(minutes=5), now=now)
    later = now + timedelta(minutes=10)

    outcomes = await asyncio.gather(*(
        claim_store.claim("dana", slot(9), f"bk-{n}", "hold", later + timedelta(minutes=5), now=later)
        for n in range(50)))

    winners = [n for n, outcome in enumerate(outcomes) if outcome.won]
    assert len(winners) == 1
    assert [c.holder_id for c in await claim_store.list_claims("dana", at(0), at(23), now=later)] == [
        f"bk-{winners[0]}"]


async def test_a_confirmed_booking_is_never_taken_over(claim_store, now):
    await claim_store.claim("dana", slot(9), "bk-a", "hold", now + timedelta(minutes=5), now=now)
    await claim_store.confirm("dana", "bk-a", slot(9), now=now)
    much_later = now + timedelta(days=30)

    outcome = await claim_store.claim("dana", slot(9), "bk-b", "hold", much_later, now=much_later)

    assert not outcome.won and len(outcome.conflicts) == 12


async def test_list_claims_leaves_out_lapsed_holds_and_merges_runs_per_holder(claim_store, now):
    await claim_store.claim("dana", slot(8), "bk-lapsing", "hold", now + timedelta(minutes=1), now=now)
    await claim_store.claim("dana", slot(9), "bk-a", "booking", now=now)
    await claim_store.claim("dana", slot(10), "bk-a", "booking", now=now)  # a second claim, contiguous
    await claim_store.claim("dana", slot(11), "bk-b", "hold", now + timedelta(hours=1), now=now)

    assert [(c.holder_id, c.start, c.end) for c in
            await claim_store.list_claims("dana", at(8), at(12), now=now + timedelta(minutes=2))] == [
        ("bk-a", at(9), at(11)), ("bk-b", at(11), at(12))]
    # A window starting inside a granule still sees that granule.
    window = await claim_store.list_claims("dana", at(10, 57), at(11, 1), now=now)
    assert [(c.holder_id, c.start, c.end) for c in window] == [("bk-a", at(10, 55), at(11)),
                                                               ("bk-b", at(11), at(11, 5))]


async def test_a_claim_over_a_hundred_granules_is_won_whole_or_left_no_trace(claim_store, now):
    long_job = slot(6, 12 * 60)  # 144 granules: more than one transaction can carry
    assert len(long_job) == 144
    assert (await claim_store.claim("dana", long_job, "bk-long", "booking", now=now)).won
    assert [(c.holder_id, c.start, c.end) for c in await claim_store.list_claims("dana", at(0), at(23), now=now)] == [
        ("bk-long", at(6), at(18))]

    # Another long claim whose second transaction meets a booking must undo its first one.
    await claim_store.claim("lee", slot(16), "bk-late", "booking", now=now)
    outcome = await claim_store.claim("lee", long_job, "bk-long-2", "hold", now + timedelta(minutes=5), now=now)

    assert not outcome.won and outcome.conflicts == tuple(slot(16))
    assert [(c.holder_id, c.start, c.end) for c in await claim_store.list_claims("lee", at(0), at(23), now=now)] == [
        ("bk-late", at(16), at(17))]
    assert (await claim_store.claim("lee", slot(6), "bk-early", "booking", now=now)).won


async def test_releasing_and_confirming_over_a_hundred_granules(claim_store, now):
    long_job = slot(6, 12 * 60)
    await claim_store.claim("dana", long_job, "bk-long", "hold", now + timedelta(minutes=5), now=now)
    assert (await claim_store.confirm("dana", "bk-long", long_job, now=now)).won
    assert {c.kind for c in await claim_store.list_claims("dana", at(0), at(23), now=now)} == {"booking"}

    assert await claim_store.release("dana", "bk-long", long_job) == 144
    assert await claim_store.list_claims("dana", at(0), at(23), now=now) == []


async def test_move_claims_the_new_time_before_letting_go_of_the_old(claim_store, now):
    await claim_store.claim("dana", slot(9), "bk-a", "booking", now=now)
    await claim_store.claim("dana", slot(12), "bk-b", "booking", now=now)

    moved = await claim_store.move("bk-a", old_host_id="dana", old_granules=slot(9), new_host_id="dana",
                                   new_granules=slot(9.5), now=now)
    blocked = await claim_store.move("bk-a", old_host_id="dana", old_granules=slot(9.5), new_host_id="dana",
                                     new_granules=slot(11.5), now=now)
    to_lee = await claim_store.move("bk-b", old_host_id="dana", old_granules=slot(12), new_host_id="lee",
                                    new_granules=slot(12), now=now)

    assert moved.won and not blocked.won and to_lee.won
    assert [(c.holder_id, c.start, c.end) for c in await claim_store.list_claims("dana", at(0), at(23), now=now)] == [
        ("bk-a", at(9, 30), at(10, 30))]
    assert [c.holder_id for c in await claim_store.list_claims("lee", at(0), at(23), now=now)] == ["bk-b"]


async def test_unaligned_granules_and_holds_without_expiry_are_refused(claim_store, now):
    with pytest.raises(ValueError, match="granule"):
        await claim_store.claim("dana", [at(9, 2)], "bk-a", "hold", now + timedelta(minutes=5), now=now)
    with pytest.raises(ValueError, match="expiry"):
        await claim_store.claim("dana", slot(9), "bk-a", "hold", None, now=now)
    assert await claim_store.list_claims("dana", at(0), at(23), now=now) == []


async def test_two_hundred_simultaneous_attempts_leave_one_winner_per_slot_and_no_overlap(claim_store, now):
    """The contention scenario: a handful of overlapping slots across three hosts, 200 callers at once."""
    hosts = ["dana", "lee", "sam"]
    slots = {  # name -> (start, end, buffer before, buffer after)
        "9:00": (at(9), at(10), timedelta(0), timedelta(minutes=15)),
        "9:30": (at(9, 30), at(10, 30), timedelta(0), timedelta(minutes=15)),
        "10:15": (at(10, 15), at(11, 15), timedelta(minutes=10), timedelta(0)),
        "13:00": (at(13), at(14), timedelta(minutes=15), timedelta(minutes=15)),
        "15:02": (at(15, 2), at(15, 47), timedelta(0), timedelta(0)),  # off the grid: rounded outward
    }
    attempts = [(random.Random(n).choice(hosts), random.Random(n * 7 + 1).choice(sorted(slots)), f"bk-{n}")
                for n in range(200)]
    expiry = now + timedelta(minutes=5)

    async def attempt(host: str, name: str, holder: str):
        start, end, before, after = slots[name]
        outcome = await claim_store.claim(host, granules(start, end, before, after), holder, "hold", expiry, now=now)
        return host, name, holder, outcome

    results = await asyncio.gather(*(attempt(*a) for a in attempts))

    winners = [(host, name, holder) for host, name, holder, outcome in results if outcome.won]
    per_slot: dict[tuple[str, str], list[str]] = {}
    for host, name, holder in winners:
        per_slot.setdefault((host, name), []).append(holder)
    assert all(len(holders) == 1 for holders in per_slot.values()), per_slot

    def blocked(name: str) -> tuple[datetime, datetime]:
        return granule_span(*slots[name])

    for host in hosts:
        won = sorted(blocked(name) for h, name, _ in winners if h == host)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(won, won[1:])), (host, won)
        # What storage holds is exactly the winners' claims.
        listed = await claim_store.list_claims(host, at(0), at(23), now=now)
        assert sorted((c.start, c.end) for c in listed) == won
    # Every loser lost to a winner on its own host whose time overlaps the loser's.
    for host, name, holder, outcome in results:
        if not outcome.won:
            start, end = blocked(name)
            assert any(h == host and blocked(n)[0] < end and start < blocked(n)[1] for h, n, _ in winners), holder
    # Slots that overlap nothing else always find their winner.
    for host in hosts:
        if any(h == host and n in ("13:00", "15:02") for h, n, _ in attempts):
            assert {n for h, n, _ in winners if h == host} >= {n for h, n, _ in attempts
                                                                if h == host and n in ("13:00", "15:02")}
