"""Helpers of the two-way SMS end-to-end tests."""

from __future__ import annotations


def acs_events_url(stack, key: str | None = None) -> str:
    """The Event Grid subscription's endpoint: the app's ACS events route with its key (or another one)."""
    return stack.host.url(f"sms/acs/events?key={key if key is not None else stack.env['SMS__EVENT_GRID_SECRET']}")
