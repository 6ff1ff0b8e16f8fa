"""Fixtures of the reconciliation end-to-end tests (the stack itself comes from tests/e2e/conftest.py).

``rstack`` is the session's stack, cleaned, with every host mailbox subscribed by the real keeper (its
timer function run on the development host). Subscriptions live only for the test: before cleaning
and after the test every Graph subscription is expired, so wiping calendars between tests (and other
folders' tests) never turns into notifications for this app.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from reconcile_support import expire_all_subscriptions, keep_subscriptions, settle


@pytest.fixture
async def unsubscribed(stack):
    """No Graph subscription is live and nothing from an earlier test is still running."""
    expire_all_subscriptions(stack)
    await settle(stack)
    yield stack


@pytest.fixture
async def rstack(unsubscribed, clean_stack, business):
    """The clean stack with every active host mailbox subscribed (and resynced) by the keeper."""
    report = await keep_subscriptions(clean_stack)
    assert not report["failed"], report
    assert len(report["created"]) == len([h for h in business.hosts if h.active]), report
    yield clean_stack
    expire_all_subscriptions(clean_stack)
    await settle(clean_stack)
    clean_stack.graph.configure(duplicate_deliveries=1)


@pytest.fixture
def restore_clock(stack):
    """Put the development host's clock back to real time after a test moved it forward."""
    yield stack.host.clock
    stack.host.clock.freeze(datetime.now(timezone.utc))
    stack.host.clock.unfreeze()
