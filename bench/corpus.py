"""Outsider corpus benchmark: ``.venv/bin/python -m bench.corpus [--quick] [--times T,...] [--only ID,...] [--json P]``.

It starts the whole local stack and plays the outsider corpus (``tests/e2e/voice/corpus/calls.yaml``:
calls written from how customers of plumbing, HVAC and electrical businesses talk) through signed Twilio
webhooks, with a simulated caller that answers what it is asked, at four fixed local times of the
business (a weekday at midday, before opening, in the evening, a Saturday morning: the stack's clock is
put on each, and the stack is reset between runs and every 45 calls, ``--batch``). It prints the pass rate by category,
the hard invariants (no repeat booking, no question asked a third time in the same words, every call
ends with an outcome, no hold left behind) and the most common failure kinds. ``--quick`` plays a
quarter of the corpus at each time. ``--show`` prints the transcripts of failed calls.
It measures; it never fails (the end-to-end test ``tests/e2e/voice/test_outsider_corpus.py`` asserts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VOICE_TESTS = ROOT / "tests" / "e2e" / "voice"


def _corpus_modules():
    if str(VOICE_TESTS) not in sys.path:
        sys.path.insert(0, str(VOICE_TESTS))
    from corpus import runner
    return runner


async def run(stack, times: list[str], *, quick: bool, only: set[str] | None, concurrency: int,
              show: bool, batch: int) -> list[dict]:
    from dev.phone import Phone
    from shared.adapters.storage import aclose_loop_clients
    runner = _corpus_modules()
    corpus = runner.load_corpus()
    summaries = []
    async with Phone(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"],
                     public_base_url=stack.env["PUBLIC_BASE_URL"]) as phone:
        for number, label in enumerate(times):
            calls = corpus["calls"]
            if only:
                calls = [entry for entry in calls if entry["id"] in only]
            elif quick:
                calls = runner.sample(calls, number % 4)
            await asyncio.to_thread(stack.reset)  # empty calendars, tables and outboxes; real time
            started = time.perf_counter()
            results = await runner.run_corpus(stack, phone, calls, at=runner.TIMES[label], batch=batch,
                                              concurrency=concurrency, offset=number * 1000)
            now = results[0].now
            summary = runner.summarize(results, label=f"{label} ({now.astimezone(runner.CHICAGO):%a %H:%M} local)")
            summary["wall_seconds"] = round(time.perf_counter() - started, 1)
            summaries.append(summary)
            print(runner.table(summary))
            print(f"  wall time {summary['wall_seconds']} s for {len(calls)} calls, {concurrency} at a time\n")
            if show:
                for failed in summary["failed"]:
                    print(f"--- {failed['id']} ({failed['category']}): {failed['problems']}\n{failed['transcript']}\n")
    await aclose_loop_clients()
    return summaries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.corpus", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the corpus at each time")
    parser.add_argument("--times", default="midday,before opening,evening,weekend")
    parser.add_argument("--only", default="", help="comma-separated call ids")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=45,
                        help="calls per freshly reset calendar (0: the whole run on one calendar)")
    parser.add_argument("--show", action="store_true", help="print the transcripts of failed calls")
    parser.add_argument("--json", help="write the summaries here")
    args, _ = parser.parse_known_args(argv)
    from dev.stack import LocalStack
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    times = [label.strip() for label in args.times.split(",") if label.strip()]
    only = {item.strip() for item in args.only.split(",") if item.strip()} or None
    with LocalStack(table_prefix="corpus" + uuid.uuid4().hex[:6], extra_env={"LOG_LEVEL": "WARNING"}) as stack:
        summaries = asyncio.run(run(stack, times, quick=args.quick, only=only, concurrency=args.concurrency,
                                    show=args.show, batch=args.batch))
    total = sum(summary["calls"] for summary in summaries)
    passed = sum(summary["passed"] for summary in summaries)
    print(f"overall: {passed}/{total} calls passed ({passed / max(total, 1):.0%}); hard invariants broken on "
          f"{sum(summary['invariants_broken'] for summary in summaries)} calls")
    if args.json:
        Path(args.json).write_text(json.dumps(summaries, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
