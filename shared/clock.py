"""The app's one source of "now": every piece of Frontdesk that needs the current instant asks :func:`now`.

In Azure it is the system clock. The local stack (``dev.stack``) runs the app in the same process as the
development host and points this seam at the host's controlled clock (``dev.host.clock.DevClock``), so
that the receptionist's office hours, "tomorrow", minimum notice, the booking API's windows and Durable
timers all agree on one instant that a test or the demo chose. Orchestrators never read it: they use
``context.current_utc_datetime``, which the host derives from the same clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime


def system_now() -> datetime:
    """The real time, aware UTC."""
    return datetime.now(UTC)


_source: Callable[[], datetime] = system_now


def now() -> datetime:
    """The current instant (aware UTC) as the app should see it."""
    return _source()


def use_clock(source: Callable[[], datetime] | None) -> None:
    """Read "now" from ``source`` from here on (``None``: the system clock again). For the local stack."""
    global _source
    _source = source or system_now
