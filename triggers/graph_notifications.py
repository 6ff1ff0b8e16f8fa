"""``POST /api/graph/notifications`` and ``POST /api/graph/lifecycle``: Microsoft Graph calling Frontdesk.

Both are anonymous at the Functions level (Graph cannot send a function key); what authenticates a
notification is its ``clientState`` (compared in constant time with the one derived from
``GRAPH__CLIENT_STATE_SECRET``) together with a subscription id Frontdesk recorded. A request whose
items all fail that check gets 403 with one generic message and changes nothing; an attacker learns
neither which part failed nor whether a subscription exists.

- Validation handshake (GET or POST with ``?validationToken=``): the URL-decoded token is echoed as
  ``text/plain`` with 200, before anything else, as Graph requires within 10 seconds (an empty, oversized
  or control-character token is 400). GET is only the handshake: without a token it is 405, ``Allow: POST``.
  A POST is the handshake only when its body is empty (as Graph sends it); with a body it is notifications.
- Change notifications: every ``updated`` / ``deleted`` item gets ONE ``reconcile_event`` orchestration
  whose instance id is derived from the mailbox, the event and the change's identity, so a repeated
  delivery finds its instance already there (the SDK raises; that counts as done). ``created`` items are
  acknowledged and dropped: a new event is never a change to a booking Frontdesk made. Starting an
  orchestration is what persists a notification: a lone change starts its reconcile directly, a batch
  starts one ``reconcile_batch`` carrying all of them (one write, however large the batch). The endpoint
  answers 202 as soon as that is stored, and 503 only when nothing could be (Graph then delivers again).
- Lifecycle notifications start ``subscription_lifecycle`` (renew / recreate and resync / resync).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import datetime, timezone

import azure.durable_functions as df
import azure.functions as func

from shared import clock
from shared.http import HttpError, error_response, http_error_response, json_response, parse_json_body
from shared.logs import get_logger
from shared.runtime import ensure_started

bp = df.Blueprint()
log = get_logger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # Graph batches notifications; 100 of them are about 60 KB
MAX_VALIDATION_TOKEN = 2048
RECONCILED_CHANGES = ("updated", "deleted")
LIFECYCLE_EVENTS = ("reauthorizationRequired", "subscriptionRemoved", "missed")
_EVENT_IN_RESOURCE = re.compile(r"/events/([^/]+)$", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
REJECTED = "The notification was rejected."


# ---------------------------------------------------------------------- the handshake

def handshake(token: str) -> func.HttpResponse:
    """Echo Graph's validation token exactly, as plain text (never HTML, so it cannot script a browser)."""
    if not token or len(token) > MAX_VALIDATION_TOKEN or _CONTROL.search(token):
        return error_response(400, "invalid_validation_token", "The validation token is not acceptable.")
    return func.HttpResponse(token, status_code=200, mimetype="text/plain", charset="utf-8",
                             headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


# ---------------------------------------------------------------------- authenticating items

async def mailboxes_of(store, subscription_ids: set[str]) -> dict[str, str | None]:
    """The mailbox each subscription id was recorded for (None: not one of ours), looked up concurrently."""
    async def one(subscription_id: str) -> str | None:
        stored = await store.find_by_subscription_id(subscription_id)
        return stored.value.mailbox if stored else None

    ids = sorted(subscription_ids)
    return dict(zip(ids, await asyncio.gather(*(one(i) for i in ids))))


def _subscription_id(item: dict) -> str | None:
    value = item.get("subscriptionId")
    return value if isinstance(value, str) and 0 < len(value) <= 200 and not _CONTROL.search(value) else None


async def authentic_items(body: object, services) -> tuple[list[tuple[dict, str]], int]:
    """The items whose clientState and subscription id are ours, each with its mailbox; and how many were not."""
    from shared.services.subscriptions import client_state_matches, expected_client_state

    items = body.get("value") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise HttpError(400, "invalid_notification", "The body must be {\"value\": [notifications]}.")
    expected = expected_client_state(services.settings)
    # The secret is checked first, for every item, so forged items never cost a storage read.
    signed = [item for item in items if isinstance(item, dict)
              and client_state_matches(item.get("clientState"), expected) and _subscription_id(item)]
    mailboxes = await mailboxes_of(services.subscriptions, {_subscription_id(item) for item in signed})
    good = [(item, mailboxes[_subscription_id(item)]) for item in signed if mailboxes[_subscription_id(item)]]
    return good, len(items) - len(good)


def event_id_of(item: dict) -> str | None:
    data = item.get("resourceData")
    event_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(event_id, str) or not event_id:
        match = _EVENT_IN_RESOURCE.search(str(item.get("resource") or ""))
        event_id = match.group(1) if match else None
    if not event_id or len(event_id) > 512 or _CONTROL.search(event_id):
        return None
    return event_id


def etag_of(item: dict) -> str | None:
    data = item.get("resourceData")
    etag = data.get("@odata.etag") if isinstance(data, dict) else None
    return etag if isinstance(etag, str) and etag else None


# ---------------------------------------------------------------------- answering

def _answer(what: str, counts: dict[str, int], ignored: int, started_at: float) -> func.HttpResponse:
    persisted = counts.get("started", 0) + counts.get("duplicate", 0)
    log.info("%ss: %s in %.0f ms", what, {**counts, "ignored": ignored},
             (time.perf_counter() - started_at) * 1000)
    if counts.get("failed") and persisted == 0:
        return error_response(503, "not_persisted", "The notifications could not be stored; send them again.",
                              headers={"Retry-After": "5"})
    return json_response({"accepted": persisted}, 202)


async def receive(req: func.HttpRequest, what: str) -> func.HttpResponse | list[tuple[dict, str]]:
    """What both endpoints do first: the handshake's answer, a rejection, or the authentic items (with mailbox)."""
    from shared.services.container import get_services
    ensure_started()
    token = req.params.get("validationToken")
    if token is not None:
        answer = handshake(token)  # an unusable token is 400 whatever else the request carries
        if answer.status_code != 200 or req.method != "POST" or not (req.get_body() or b"").strip():
            return answer  # Graph's handshake POST has an empty body; one with a body is notifications
    if req.method != "POST":
        return error_response(405, "method_not_allowed", "POST notifications here.", headers={"Allow": "POST"})
    try:
        items, rejected = await authentic_items(parse_json_body(req, MAX_BODY_BYTES), get_services())
    except HttpError as error:
        return http_error_response(error)
    except Exception as exc:  # storage unreachable: nothing persisted, so Graph must deliver again
        log.error("%s could not be checked: %s", what, type(exc).__name__)
        return error_response(503, "not_persisted", "The notifications could not be stored; send them again.",
                              headers={"Retry-After": "5"})
    if rejected:
        log.warning("rejected %d %s item(s): wrong clientState or unknown subscription", rejected, what)
    if not items and rejected:
        return error_response(403, "forbidden", REJECTED)
    return items


# ---------------------------------------------------------------------- the endpoints

@bp.route(route="graph/notifications", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def graph_notifications(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Graph change notifications for the hosts' calendars: one reconcile orchestration per changed event."""
    from shared.services.reconcile import reconcile_instance_id
    started_at = time.perf_counter()
    items = await receive(req, "graph notification")
    if isinstance(items, func.HttpResponse):
        return items
    received_at = clock.now()
    starts: dict[str, dict] = {}
    ignored = 0
    for item, mailbox in items:
        change_type = item.get("changeType")
        event_id = event_id_of(item)
        if change_type not in RECONCILED_CHANGES or event_id is None:
            ignored += 1
            continue
        instance_id = reconcile_instance_id(mailbox, event_id, change_type, etag_of(item), received_at)
        starts.setdefault(instance_id, {"mailbox": mailbox, "eventId": event_id, "changeType": change_type,
                                        "subscriptionId": item.get("subscriptionId")})
    return _answer("graph notification", await persist(client, starts), ignored, started_at)


async def persist(client: df.DurableOrchestrationClient, starts: dict[str, dict]) -> dict[str, int]:
    """Start the changes' reconcile orchestrations: directly for one, through one ``reconcile_batch`` for more.

    A batch is persisted by a single start (fast however many it carries; the batch's orchestration then
    starts each change's own), so the endpoint's answer time does not grow with Graph's batch size.
    """
    from shared.services.reconcile import batch_instance_id, start_once, start_reconciles
    if len(starts) <= 1:
        return await start_reconciles(client, starts)
    outcome = await start_once(client, "reconcile_batch", batch_instance_id(list(starts)), {"starts": starts})
    return {outcome: len(starts)}


@bp.route(route="graph/lifecycle", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def graph_lifecycle(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Graph lifecycle notifications: reauthorizationRequired, subscriptionRemoved, missed."""
    from shared.services.reconcile import start_once
    started_at = time.perf_counter()
    items = await receive(req, "lifecycle notification")
    if isinstance(items, func.HttpResponse):
        return items
    minute = clock.now().strftime("%Y%m%d%H%M")
    starts: dict[str, dict] = {}
    ignored = 0
    for item, mailbox in items:
        event = item.get("lifecycleEvent")
        if event not in LIFECYCLE_EVENTS:
            ignored += 1
            continue
        key = hashlib.sha256(f"{item['subscriptionId']}\n{event}".encode()).hexdigest()[:20]
        starts.setdefault(f"lifecycle-{key}-{minute}", {"subscriptionId": item["subscriptionId"], "mailbox": mailbox,
                                                        "lifecycleEvent": event})
    outcomes = await asyncio.gather(*(start_once(client, "subscription_lifecycle", instance_id, payload)
                                      for instance_id, payload in starts.items()))
    counts = {state: outcomes.count(state) for state in ("started", "duplicate", "failed")}
    return _answer("lifecycle notification", counts, ignored, started_at)
