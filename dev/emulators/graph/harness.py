"""Start the Graph emulator in the background and drive it from tests, the demo and benchmarks.

``start_graph_emulator()`` serves a fresh emulator on a free loopback port and returns a
:class:`GraphEmulator` handle whose helpers call the ``/_emulator`` API over HTTP (the same API the
demo and a curious human use), so state only ever changes on the emulator's own event loop.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from dev.serving import BackgroundServer


class GraphEmulator:
    """A running Graph emulator: where it is, plus seed, fault, outbox and notification helpers."""

    def __init__(self, server: BackgroundServer, token: str | None = None):
        self.server = server
        self.token = token
        self.base_url = server.base_url  # e.g. http://127.0.0.1:51234
        self.graph_url = f"{server.base_url}/v1.0"  # what GRAPH__BASE_URL points at
        self._http = httpx.Client(base_url=f"{server.base_url}/_emulator", timeout=30)

    def env(self) -> dict[str, str]:
        """App settings that point Frontdesk's Graph adapter at this emulator."""
        return {"GRAPH__BASE_URL": self.graph_url, "IDENTITY__MODE": "static_token",
                "IDENTITY__STATIC_TOKEN": self.token or "local-graph-token"}

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, path: str, json: Any = None, params: dict | None = None) -> Any:
        response = self._http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            raise RuntimeError(f"graph emulator {method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def stop(self) -> None:
        self._http.close()
        self.server.stop()

    def reset(self) -> None:
        """Forget users, events, subscriptions, outbox, request log, faults and config changes."""
        self._call("POST", "/reset")

    def configure(self, **settings) -> dict:
        """Change emulator settings at run time (see ``dev.emulators.graph.state.DEFAULT_CONFIG``)."""
        return self._call("POST", "/config", json=settings)

    # ------------------------------------------------------------------ users and a person's Outlook

    def add_user(self, user_principal_name: str, display_name: str | None = None, *, time_zone: str = "UTC",
                 id: str | None = None, working_hours: dict | None = None) -> dict:
        spec = {"userPrincipalName": user_principal_name, "displayName": display_name, "timeZone": time_zone,
                "id": id, "workingHours": working_hours}
        return self._call("POST", "/users", json={k: v for k, v in spec.items() if v is not None})

    def add_users(self, user_principal_names: list[str], *, time_zone: str = "UTC") -> list[dict]:
        specs = [{"userPrincipalName": upn, "timeZone": time_zone} for upn in user_principal_names]
        return self._call("POST", "/users", json={"users": specs})["users"]

    def add_event(self, mailbox: str, event: dict) -> dict:
        """Create an event as the mailbox's owner would in Outlook (raw Graph JSON; notifies subscribers)."""
        return self._call("POST", f"/users/{mailbox}/events", json=event)

    def edit_event(self, mailbox: str, event_id: str, changes: dict) -> dict:
        """Change an event as a person would in Outlook (move, rename, show as free...)."""
        return self._call("PATCH", f"/users/{mailbox}/events/{event_id}", json=changes)

    def delete_event(self, mailbox: str, event_id: str) -> None:
        self._call("DELETE", f"/users/{mailbox}/events/{event_id}")

    def events(self, mailbox: str) -> list[dict]:
        """The mailbox's single events and series masters, times in UTC."""
        return self._call("GET", f"/users/{mailbox}/events")

    # ------------------------------------------------------------------ what Frontdesk did

    def outbox(self) -> list[dict]:
        return self._call("GET", "/outbox")

    def clear_outbox(self) -> None:
        self._call("DELETE", "/outbox")

    def requests(self, operation: str | None = None) -> list[dict]:
        """Graph requests received, oldest first; ``operation`` e.g. 'getSchedule', 'events.create'."""
        return self._call("GET", "/requests", params={"operation": operation} if operation else None)

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    # ------------------------------------------------------------------ faults

    def add_fault(self, *, status: int | None = None, path: str = "", method: str | None = None,
                  operation: str | None = None, count: int = 1, retry_after: float | None = None,
                  latency_ms: float = 0, code: str | None = None, message: str | None = None) -> dict:
        """Make the next ``count`` matching Graph requests fail with ``status`` and/or wait ``latency_ms``."""
        spec = {"status": status, "path": path, "method": method, "operation": operation, "count": count,
                "retryAfter": retry_after, "latencyMs": latency_ms, "code": code, "message": message}
        return self._call("POST", "/faults", json={k: v for k, v in spec.items() if v not in (None, "")})

    def faults(self) -> list[dict]:
        return self._call("GET", "/faults")

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # ------------------------------------------------------------------ subscriptions and notifications

    def subscriptions(self) -> list[dict]:
        return self._call("GET", "/subscriptions")

    def send_lifecycle(self, subscription_id: str, lifecycle_event: str) -> None:
        """Send ``reauthorizationRequired``, ``subscriptionRemoved`` or ``missed`` to the lifecycle URL."""
        self._call("POST", f"/subscriptions/{subscription_id}/lifecycle", json={"lifecycleEvent": lifecycle_event})

    def expire_subscription(self, subscription_id: str) -> None:
        self._call("POST", f"/subscriptions/{subscription_id}/expire")

    def hold_notifications(self) -> None:
        """Queue notifications instead of delivering them, until :meth:`release_notifications`."""
        self._call("POST", "/notifications/hold")

    def release_notifications(self, *, order: str = "fifo", times: int = 1, batch: bool = False) -> int:
        """Deliver the held notifications: 'reverse' for out of order, ``times`` > 1 for duplicates."""
        return self._call("POST", "/notifications/release",
                          json={"order": order, "times": times, "batch": batch})["released"]

    def replay_notifications(self, count: int = 1) -> int:
        """Deliver the last ``count`` notifications again (a duplicate delivery, after the fact)."""
        return self._call("POST", "/notifications/replay", json={"count": count})["replayed"]

    def deliveries(self, kind: str | None = None) -> list[dict]:
        """Every HTTP delivery attempt: kind 'validation', 'notification' or 'lifecycle'."""
        return self._call("GET", "/deliveries", params={"kind": kind} if kind else None)

    def clear_deliveries(self) -> None:
        self._call("DELETE", "/deliveries")

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until no notification delivery is in flight (call from a thread other than a receiver's)."""
        deadline = time.monotonic() + timeout
        while not self._call("GET", "/idle")["idle"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"graph emulator still delivering after {timeout:g} s")
            time.sleep(0.02)


def start_graph_emulator(token: str | None = None, **config) -> GraphEmulator:
    """Serve a fresh Graph emulator on a free loopback port (starts in well under a second)."""
    from dev.emulators.graph.app import create_app

    server = BackgroundServer(lambda: create_app(token=token, **config), name="graph-emulator").start()
    return GraphEmulator(server, token)
