"""Everything one running Graph emulator holds, reachable from any handler as ``state_of(request)``."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from dev.emulators.graph.notifications import Notifier
from dev.emulators.graph.store import Tenant

DEFAULT_CONFIG = {
    "token": None,  # None: any non-empty bearer token is accepted
    "allow_http_notification_urls": True,  # Graph insists on https; loopback receivers are http
    "max_subscription_minutes": 10080,  # Outlook resources: under 7 days
    "validation_timeout_seconds": 10.0,
    "delivery_timeout_seconds": 3.0,  # Graph gives an endpoint about 3 s to answer a notification
    "delivery_attempts": 3,
    "delivery_retry_delay_seconds": 0.2,
    "duplicate_deliveries": 1,
    "mailbox_concurrency": 4,  # Outlook: 4 concurrent requests per app per mailbox
    "default_page_size": 10,
    "max_page_size": 1000,
    "max_schedules": 20,
}


@dataclass
class EmulatorState:
    """The tenant, its subscriptions, and what tests read back (outbox, request log, faults)."""

    defaults: dict
    config: dict = field(default_factory=dict)
    tenant: Tenant = field(default_factory=Tenant)
    notifier: Notifier | None = None
    outbox: list[dict] = field(default_factory=list)
    requests: list[dict] = field(default_factory=list)
    faults: list = field(default_factory=list)
    in_flight: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config = dict(self.defaults)
        self.notifier = Notifier(self.tenant, self.config)

    async def reset(self) -> None:
        """Forget everything, as if the emulator had just started."""
        await self.notifier.close()
        self.config.clear()
        self.config.update(self.defaults)
        self.tenant = Tenant()
        self.notifier = Notifier(self.tenant, self.config)
        self.outbox.clear()
        self.requests.clear()
        self.faults.clear()
        self.in_flight.clear()


STATE = web.AppKey("graph_emulator_state", EmulatorState)


def state_of(request: web.Request) -> EmulatorState:
    return request.app[STATE]
