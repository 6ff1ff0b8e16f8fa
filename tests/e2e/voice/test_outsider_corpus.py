"""The receptionist called as outsiders would: the corpus of calls in ``corpus/calls.yaml``, end to end.

Every call is played through signed Twilio webhooks against the session's local stack by a simulated
caller that answers what it is asked from its own facts (``corpus/caller.py``), and judged by what it
left behind: bookings (service, time within the caller's constraints, the time the caller finally
chose, name, ZIP, callback number, confirmation text), messages for the office, transfers. The whole
corpus runs at midday on a weekday; a quarter of it (every fourth call, a different quarter each time)
before opening, in the evening and on a Saturday morning, on the stack's controlled clock, in batches of
45 calls on a freshly reset stack (a small business's calendar on a normal day, with room for every caller).

Asserted: the hard invariants on every call (no repeat booking, no question asked a third time in the
same words, the call ends with an outcome, no hold left behind), and an overall pass rate of at least
the corpus's ``threshold``. The pass rate by category is printed and written to
``<pytest basetemp>/outsider_corpus.json``. ``python -m bench.corpus`` plays the same corpus outside pytest.
"""

from __future__ import annotations

import pytest

from corpus import runner

pytestmark = pytest.mark.slow

CORPUS = runner.load_corpus()
SUMMARIES: list[dict] = []


@pytest.fixture
def report_path(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "outsider_corpus.json"


def test_the_corpus_is_big_and_varied_enough():
    calls = CORPUS["calls"]
    categories = {entry["category"] for entry in calls}
    assert len(calls) >= 150
    assert len(categories) >= 12
    assert CORPUS["threshold"] == 0.95
    assert all(len(runner.sample(calls, part)) >= 30 for part in range(4))


@pytest.mark.parametrize("label, part", [("midday", None), ("before opening", 0), ("evening", 1), ("weekend", 2)])
async def test_outsiders_reach_the_right_outcome(clean_stack, phone, report_path, label, part):
    calls = CORPUS["calls"] if part is None else runner.sample(CORPUS["calls"], part)
    results = await runner.run_corpus(clean_stack, phone, calls, at=runner.TIMES[label],
                                      offset=len(SUMMARIES) * 1000)
    now = results[0].now

    summary = runner.summarize(results, label=f"{label} ({now.astimezone(runner.CHICAGO):%a %H:%M} local)")
    SUMMARIES.append(summary)
    runner.write_report(report_path, SUMMARIES)
    print("\n" + runner.table(summary))
    broken = [f"{result.id}: {result.broken}\n{result.transcript()}" for result in results if result.broken]
    assert not broken, f"hard invariants broken on {len(broken)} calls:\n\n" + "\n\n".join(broken[:5])
    failed = [f"{result.id} ({result.category}): {result.failures}" for result in results if not result.passed]
    assert summary["rate"] >= CORPUS["threshold"], runner.table(summary) + "\n\n" + "\n".join(failed)
