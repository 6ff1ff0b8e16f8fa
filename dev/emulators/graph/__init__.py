"""A Microsoft Graph emulator: the Outlook calendar, mail and change-notification surface Frontdesk uses.

``create_app()`` builds the aiohttp application; ``start_graph_emulator()`` serves one in the
background and returns a :class:`GraphEmulator` handle (``graph_url`` for ``GRAPH__BASE_URL``,
``env()``, and helpers for everything below). Test infrastructure only: production never imports it.

Graph (``/v1.0``, bearer token required): ``users/{id|upn}``, ``.../events`` and ``.../calendar/events``
(CRUD, ``transactionId``, ``If-Match``, ``$select``, ``$expand=singleValueExtendedProperties``),
``.../calendarView`` (+ ``/delta``), ``.../calendar/getSchedule``, ``.../sendMail``, ``/subscriptions``.

Control (``/_emulator``, no auth, not logged):

==========================================  ===============================================================
``POST reset`` / ``GET|POST config``        forget everything / read or change settings (``state.DEFAULT_CONFIG``)
``POST users`` / ``GET users``              seed users (``{"userPrincipalName", "timeZone", ...}`` or ``{"users": [...]}``)
``POST|PATCH|DELETE users/{u}/events[/id]`` a person using Outlook: create, move/edit, delete (notifies)
``GET users/{u}/events``                    the mailbox's events, times in UTC
``GET|DELETE outbox``                       mail sent through sendMail
``GET|DELETE requests[?operation=]``        the Graph request log (method, path, headers, body, status)
``POST|GET|DELETE faults``                  ``{"status", "retryAfter", "latencyMs", "path"|"operation", "method", "count"}``
``GET subscriptions``                       live subscriptions
``POST subscriptions/{id}/lifecycle``       ``{"lifecycleEvent": "reauthorizationRequired"|"subscriptionRemoved"|"missed"}``
``POST subscriptions/{id}/expire``          let it run out now
``POST notifications/hold|release|replay``  queue deliveries; release ``{"order": "reverse", "times": 2}``; replay last N
``GET|DELETE deliveries[?kind=]``           every validation / notification / lifecycle POST and its answer
``GET idle``                                whether deliveries are still in flight
==========================================  ===============================================================
"""

from dev.emulators.graph.app import create_app
from dev.emulators.graph.harness import GraphEmulator, start_graph_emulator

__all__ = ["GraphEmulator", "create_app", "start_graph_emulator"]
