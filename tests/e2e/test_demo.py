"""`make demo` as a newcomer runs it: a fresh local stack in its own process, one call, a confirmed booking,
then the caller cancelling it by text.

Run at a fixed local time (before opening on a Wednesday, so the caller hears the office is closed and
is still booked) and on the real clock, whatever hour CI starts at.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("at", ["wed 07:30", None], ids=["before-opening", "real"])
def test_the_demo_books_the_call_and_shows_where_it_landed(at):
    command = [sys.executable, "-m", "dev.demo", *(["--at", at] if at else [])]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "GET /api/health -> 200" in out
    assert "You're all set for" in out
    for section in ("== Outlook:", "== Text message", "== Dynamics 365 appointment", "== E-mail to the owner"):
        assert section in out
    # Then the caller cancels by texting C twice: gone from Outlook, cancelled in Dynamics, told by text.
    after = out.split("Later, the caller texts C to cancel", 1)[1]
    assert "Reply C again to confirm cancelling" in after
    assert "Outlook events left for the visit: 0" in after and "Dynamics appointment state: Canceled" in after
    assert "has been cancelled" in after
    if at:
        assert "The clock reads Wednesday 07:30 in Chicago." in out
        assert "Our office is closed right now" in out


def test_a_time_the_demo_cannot_read_is_a_clear_usage_error():
    done = subprocess.run([sys.executable, "-m", "dev.demo", "--at", "someday"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and "is not like 'wed 07:30'" in done.stderr
