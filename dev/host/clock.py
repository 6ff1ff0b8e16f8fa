"""The development host's clock: real time by default, frozen or moved forward by tests.

Durable timers, ``OrchestratorStarted`` timestamps (hence ``context.current_utc_datetime``) and retry
delays all read this clock, so a test can make a five-minute hold expire with
``host.clock.advance(timedelta(minutes=5))`` instead of waiting. Moving the clock notifies listeners
synchronously: when :meth:`advance` returns, every timer that became due has been delivered.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class DevClock:
    """Aware-UTC time with an offset that tests control; thread-safe."""

    def __init__(self, start: datetime | None = None, *, frozen: bool = False):
        self._lock = threading.Lock()
        self._offset = timedelta(0)
        self._frozen_at: datetime | None = None
        self._listeners: list[Callable[[], None]] = []
        if start is not None or frozen:
            self._frozen_at = _aware(start) if start is not None else utc_now()
            if start is not None and not frozen:
                self._offset = self._frozen_at - utc_now()
                self._frozen_at = None

    def now(self) -> datetime:
        with self._lock:
            base = self._frozen_at if self._frozen_at is not None else utc_now()
            return base + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self, at: datetime | None = None) -> datetime:
        """Stop time (at ``at`` or now); only :meth:`advance` moves it until :meth:`unfreeze`."""
        with self._lock:
            current = (self._frozen_at if self._frozen_at is not None else utc_now()) + self._offset
            self._frozen_at = _aware(at) if at is not None else current
            self._offset = timedelta(0)
            moved = self._frozen_at
        self._notify()
        return moved

    def unfreeze(self) -> None:
        """Let time flow again from the current instant."""
        with self._lock:
            if self._frozen_at is None:
                return
            self._offset = self._frozen_at + self._offset - utc_now()
            self._frozen_at = None
        self._notify()

    def advance(self, delta: timedelta) -> datetime:
        """Jump forward; due durable timers fire before this returns."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += delta
        self._notify()
        return self.now()

    def travel_to(self, moment: datetime) -> datetime:
        """Make "now" ``moment`` (forward or back) and let time flow from there (a frozen clock stays frozen).

        For choosing the hour a test or the demo runs at. Going back never fires a timer early (timers
        simply wait longer); going forward fires the due ones before this returns, as :meth:`advance` does.
        Returns ``moment`` itself (not :meth:`now`, which has already moved on by some microseconds).
        """
        moment = _aware(moment)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at, self._offset = moment, timedelta(0)
            else:
                self._offset = moment - utc_now()
        self._notify()
        return moment

    def reset(self) -> None:
        """Back to real time, flowing."""
        with self._lock:
            self._frozen_at, self._offset = None, timedelta(0)
        self._notify()

    def seconds_until(self, moment: datetime) -> float | None:
        """Real seconds until ``moment`` is reached, or None if only :meth:`advance` can get there."""
        remaining = (moment - self.now()).total_seconds()
        if remaining <= 0:
            return 0.0
        return None if self.frozen else remaining

    def subscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("clock instants must be timezone-aware")
    return moment.astimezone(timezone.utc)
