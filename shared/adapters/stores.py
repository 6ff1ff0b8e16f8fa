"""Frontdesk's own state in Table Storage: claims, bookings, call state and Graph subscriptions.

The stores live in ``store_*.py`` next to this module; import them from here. Each takes the
:class:`~shared.config.Settings` and gets its table client from
:func:`shared.adapters.storage.get_table_service` on use (one per event loop), so a store object is
cheap, holds no connection and can be built once per process by the composition root.
"""

from __future__ import annotations

from shared.adapters.store_bookings import BookingStore
from shared.adapters.store_calls import CallStore
from shared.adapters.store_claims import ClaimStore
from shared.adapters.store_subscriptions import SubscriptionStore

__all__ = ["BookingStore", "CallStore", "ClaimStore", "SubscriptionStore"]
