"""The process's adapters, chosen from settings and built on first use (one set per settings object).

``get_services()`` gives the activities and triggers everything they talk to. Tests and the local
stack change settings through the environment and call ``reset_services()``; nothing is built at
import time and each adapter is only built when first asked for.
"""

from __future__ import annotations

import functools
import threading
from datetime import timedelta

from shared.config import Settings, get_settings, load_business_config

_lock = threading.Lock()


class Services:
    """Lazily built adapters and configuration for one ``Settings``."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @functools.cached_property
    def business(self):
        """The validated business configuration (``shared.domain.business.BusinessConfig``)."""
        return load_business_config(self.settings.business_config_path)

    @functools.cached_property
    def graph(self):
        """Calendar, mail and subscription ports over Microsoft Graph."""
        from shared.adapters.graph import GraphAdapter
        return GraphAdapter(self.settings)

    @property
    def calendar(self):
        return self.graph

    @property
    def mail(self):
        return self.graph

    @functools.cached_property
    def crm(self):
        """The Dynamics 365 port, or ``None`` when Dynamics is not configured."""
        from shared.adapters.dataverse import get_crm
        return get_crm(self.settings)

    @functools.cached_property
    def opt_outs(self):
        from shared.adapters.optouts import OptOutStore
        return OptOutStore(self.settings)

    @functools.cached_property
    def sms(self):
        from shared.adapters.sms import create_sms_sender
        return create_sms_sender(self.settings, self.opt_outs)

    @functools.cached_property
    def language(self):
        """The language-model port, or ``None`` when no model is configured."""
        from shared.adapters.language import get_language
        return get_language(self.settings)

    @functools.cached_property
    def claims(self):
        from shared.adapters.stores import ClaimStore
        return ClaimStore(self.settings, granule=timedelta(minutes=self.business.claim_granule_minutes))

    @functools.cached_property
    def bookings(self):
        from shared.adapters.stores import BookingStore
        return BookingStore(self.settings)

    @functools.cached_property
    def calls(self):
        from shared.adapters.stores import CallStore
        return CallStore(self.settings)

    @functools.cached_property
    def subscriptions(self):
        from shared.adapters.stores import SubscriptionStore
        return SubscriptionStore(self.settings)


_services: dict[int, Services] = {}


def get_services(settings: Settings | None = None) -> Services:
    """The services for these settings (the process settings by default), built once and reused."""
    settings = settings or get_settings()
    with _lock:
        services = _services.get(id(settings))
        if services is None or services.settings is not settings:
            services = _services[id(settings)] = Services(settings)
        return services


def reset_services() -> None:
    """Forget every built service (after the settings changed)."""
    with _lock:
        _services.clear()


async def aclose_loop_clients() -> None:
    """Close the SMS gateways' clients (they belong to the loop that used them; rebuilt on next use)."""
    with _lock:
        built = list(_services.values())
    for services in built:
        sender = services.__dict__.get("sms")
        if sender is not None and hasattr(sender, "aclose"):
            await sender.aclose()
