"""The Microsoft Graph v1.0 routes Frontdesk uses, answered the way Graph answers them.

Users; events CRUD under ``/users/{id|upn}/events`` and ``/calendar/events`` (``transactionId``
deduplication, ``If-Match``); ``calendarView`` with recurring series expanded and paging
(``$top`` / ``Prefer: odata.maxpagesize`` -> ``@odata.nextLink`` with ``$skip``); ``calendarView/delta``
(``$skiptoken`` pages, ``$deltatoken`` rounds, ``@removed``); ``calendar/getSchedule``; ``sendMail``
into the outbox; ``/subscriptions``. Times honour ``Prefer: outlook.timezone``.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import datetime, timedelta

from aiohttp import web

from dev.emulators.graph.errors import GraphError, bad_request
from dev.emulators.graph.notifications import public
from dev.emulators.graph.state import state_of
from dev.emulators.graph.store import Instance, Tenant, User, render_event
from dev.emulators.graph.times import (UTC, TimeFormatError, format_date_time_time_zone, format_instant,
                                       parse_date_time_time_zone, parse_query_instant, parse_prefer, zone_of)

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
APP_ID = "a0c9b1d2-0000-4000-8000-00000000f00d"
_EXPAND = re.compile(r"^singleValueExtendedProperties(?:\(\$filter=id eq '([^']*)'\))?$", re.IGNORECASE)
STATUS_CODES = {"free": "0", "tentative": "1", "busy": "2", "oof": "3", "workingElsewhere": "4", "unknown": "0"}
STATUS_RANK = {"free": 0, "unknown": 0, "workingElsewhere": 1, "tentative": 2, "busy": 3, "oof": 4}

routes = web.RouteTableDef()
OPERATIONS: dict[object, str] = {}  # handler -> operation name for the request log


def operation(name: str):
    def mark(handler):
        OPERATIONS[handler] = name
        return handler
    return mark


# ---------------------------------------------------------------------- request helpers

def tenant_of(request: web.Request) -> Tenant:
    return state_of(request).tenant


def user_of(request: web.Request) -> User:
    return tenant_of(request).user(request.match_info["user"])


def query(request: web.Request) -> dict[str, str]:
    """Query options with case-insensitive names (Graph treats startdatetime and startDateTime alike)."""
    return {k.lower(): v for k, v in request.query.items()}


def preferences(request: web.Request) -> dict[str, str]:
    return parse_prefer(request.headers.getall("Prefer", []))


def response_zone(request: web.Request, applied: list[str]) -> str:
    """The zone of every dateTimeTimeZone in the answer: Prefer outlook.timezone, else UTC."""
    wanted = preferences(request).get("outlook.timezone")
    if not wanted:
        return "UTC"
    try:
        zone_of(wanted)
    except TimeFormatError:
        return "UTC"
    applied.append(f'outlook.timezone="{wanted}"')
    return wanted


async def json_body(request: web.Request) -> dict:
    raw = await request.read()
    content_type = request.headers.get("Content-Type", "")
    if raw and not content_type.lower().startswith("application/json"):
        raise GraphError(415, "UnsupportedMediaType", f"Content-Type '{content_type}' is not supported; "
                                                      "send application/json.")
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload. Please ensure Content-Type "
                                            "header is set and payload is of valid JSON format.") from None
    if not isinstance(body, dict):
        raise GraphError(400, "BadRequest", "The request body must be a JSON object.")
    return body


def action_parameters(body: dict) -> dict:
    """OData action parameters by lower-cased name: Graph matches them case-insensitively, and
    msgraph-sdk sends them PascalCase ("Schedules", "StartTime") while the docs write camelCase."""
    return {k.lower(): v for k, v in body.items()}


def graph_json(request: web.Request, payload: dict, status: int = 200, applied: list[str] | None = None) -> web.Response:
    headers = {"Preference-Applied": ", ".join(applied)} if applied else {}
    return web.Response(status=status, body=json.dumps(payload).encode(), content_type=None,
                        headers={"Content-Type": JSON_TYPE, **headers})


def context_url(request: web.Request, fragment: str) -> str:
    return f"{request.url.origin()}/v1.0/$metadata#{fragment}"


def page_size(request: web.Request, q: dict[str, str], applied: list[str]) -> int:
    """``$top`` wins; otherwise ``Prefer: odata.maxpagesize``; otherwise Outlook's default of 10."""
    config = state_of(request).config
    if "$top" in q:
        try:
            top = int(q["$top"])
        except ValueError:
            raise bad_request(f"Invalid $top value '{q['$top']}'.", "BadRequest") from None
        if top < 1:
            raise bad_request("$top must be at least 1.", "BadRequest")
        return min(top, config["max_page_size"])
    preferred = preferences(request).get("odata.maxpagesize")
    if preferred and preferred.isdigit() and int(preferred) > 0:
        size = min(int(preferred), config["max_page_size"])
        applied.append(f"odata.maxpagesize={size}")
        return size
    return config["default_page_size"]


def shape(request: web.Request, q: dict[str, str], body: dict, inst: Instance) -> dict:
    """Apply ``$expand`` (extended properties) and ``$select`` to one rendered event."""
    if "$expand" in q:
        wanted = expanded_properties(q["$expand"])
        stored = inst.event.fields.get("singleValueExtendedProperties", [])
        matching = [p for p in stored if wanted is None or p["id"].lower() == wanted.lower()]
        if matching:  # Graph leaves the collection out when nothing matches the filter
            body["singleValueExtendedProperties"] = matching
    if "$select" in q:
        selected = {name.strip().lower() for name in q["$select"].split(",") if name.strip()}
        selected |= {"id", "@odata.etag", "singlevalueextendedproperties"}
        body = {k: v for k, v in body.items() if k.lower() in selected}
    return body


def expanded_properties(expand: str) -> str | None:
    match = _EXPAND.match(expand.strip())
    if not match:
        raise bad_request(f"Parsing OData Select and Expand failed: the emulator only expands "
                          f"singleValueExtendedProperties($filter=id eq '...'), not '{expand}'.", "BadRequest")
    return match.group(1)


def refuse_filter(q: dict[str, str]) -> None:
    if "$filter" in q:
        raise bad_request(f"The emulator does not support $filter ('{q['$filter']}').", "ErrorInvalidUrlQueryFilter")


def window(q: dict[str, str]) -> tuple[datetime, datetime]:
    if not q.get("startdatetime") or not q.get("enddatetime"):
        raise bad_request("This request requires a time window specified by the query string parameters "
                          "StartDateTime and EndDateTime.", "ErrorInvalidParameter")
    try:
        start, end = parse_query_instant(q["startdatetime"]), parse_query_instant(q["enddatetime"])
    except TimeFormatError as exc:
        raise bad_request(str(exc), "ErrorInvalidParameter") from None
    if end < start:
        raise bad_request("The value of EndDateTime must be later than the value of StartDateTime.",
                          "ErrorInvalidParameter")
    return start, end


def paged(request: web.Request, q: dict[str, str], items: list, applied: list[str]) -> tuple[list, str | None]:
    size = page_size(request, q, applied)
    skip_text = q.get("$skip", "0") or "0"
    if not skip_text.isdigit():
        raise bad_request(f"Invalid $skip value '{skip_text}'.", "BadRequest")
    skip = int(skip_text)
    chunk = items[skip:skip + size]
    if skip + size >= len(items):
        return chunk, None
    params = {k: v for k, v in request.query.items() if k.lower() not in ("$skip", "$top")}
    params.update({"$top": str(size), "$skip": str(skip + size)})
    return chunk, str(request.url.with_query(params))


# ---------------------------------------------------------------------- users

@routes.get("/v1.0/users/{user}")
@operation("users.get")
async def get_user(request: web.Request) -> web.Response:
    user = user_of(request)
    return graph_json(request, {"@odata.context": context_url(request, "users/$entity"), **user.to_json()})


@routes.get("/v1.0/users/{user}/calendar")
@operation("calendar.get")
async def get_calendar(request: web.Request) -> web.Response:
    user = user_of(request)
    return graph_json(request, {
        "@odata.context": context_url(request, f"users('{user.id}')/calendar/$entity"),
        "id": f"AAMkCAL{user.id.replace('-', '')}", "name": "Calendar", "color": "auto", "isDefaultCalendar": True,
        "canShare": True, "canViewPrivateItems": True, "canEdit": True, "defaultOnlineMeetingProvider": "teamsForBusiness",
        "allowedOnlineMeetingProviders": ["teamsForBusiness"], "isTallyingResponses": True, "isRemovable": False,
        "owner": {"name": user.display_name, "address": user.mail}})


# ---------------------------------------------------------------------- events

@routes.get("/v1.0/users/{user}/events")
@routes.get("/v1.0/users/{user}/calendar/events")
@operation("events.list")
async def list_events(request: web.Request) -> web.Response:
    user, q, applied = user_of(request), query(request), []
    refuse_filter(q)
    zone_name = response_zone(request, applied)
    items, next_link = paged(request, q, tenant_of(request).series_and_singles(user), applied)
    body = {"@odata.context": context_url(request, f"users('{user.id}')/events"),
            "value": [shape(request, q, render_event(i, user, zone_name), i) for i in items]}
    if next_link:
        body["@odata.nextLink"] = next_link
    return graph_json(request, body, applied=applied)


@routes.post("/v1.0/users/{user}/events")
@routes.post("/v1.0/users/{user}/calendar/events")
@operation("events.create")
async def create_event(request: web.Request) -> web.Response:
    user, applied = user_of(request), []
    event, _created = tenant_of(request).create_event(user, await json_body(request))
    # A retried creation with the same transactionId answers 201 with the event already made.
    inst = Instance(event, event.id, event.start, event.end, "seriesMaster" if event.recurrence else "singleInstance")
    body = {"@odata.context": context_url(request, f"users('{user.id}')/events/$entity"),
            **render_event(inst, user, response_zone(request, applied))}
    return graph_json(request, body, status=201, applied=applied)


@routes.get("/v1.0/users/{user}/events/{event_id}")
@routes.get("/v1.0/users/{user}/calendar/events/{event_id}")
@operation("events.get")
async def get_event(request: web.Request) -> web.Response:
    user, q, applied = user_of(request), query(request), []
    inst = tenant_of(request).get_instance(user, request.match_info["event_id"])
    body = {"@odata.context": context_url(request, f"users('{user.id}')/events/$entity"),
            **shape(request, q, render_event(inst, user, response_zone(request, applied)), inst)}
    return graph_json(request, body, applied=applied)


@routes.patch("/v1.0/users/{user}/events/{event_id}")
@routes.patch("/v1.0/users/{user}/calendar/events/{event_id}")
@operation("events.update")
async def update_event(request: web.Request) -> web.Response:
    user, applied = user_of(request), []
    tenant = tenant_of(request)
    event_id = request.match_info["event_id"]
    tenant.update_event(user, event_id, await json_body(request), request.headers.get("If-Match"))
    inst = tenant.get_instance(user, event_id)
    body = {"@odata.context": context_url(request, f"users('{user.id}')/events/$entity"),
            **render_event(inst, user, response_zone(request, applied))}
    return graph_json(request, body, applied=applied)


@routes.delete("/v1.0/users/{user}/events/{event_id}")
@routes.delete("/v1.0/users/{user}/calendar/events/{event_id}")
@operation("events.delete")
async def delete_event(request: web.Request) -> web.Response:
    tenant_of(request).delete_event(user_of(request), request.match_info["event_id"])
    return web.Response(status=204)


# ---------------------------------------------------------------------- calendarView and delta

@routes.get("/v1.0/users/{user}/calendarView")
@routes.get("/v1.0/users/{user}/calendar/calendarView")
@operation("calendarView")
async def calendar_view(request: web.Request) -> web.Response:
    user, q, applied = user_of(request), query(request), []
    refuse_filter(q)
    start, end = window(q)
    zone_name = response_zone(request, applied)
    items, next_link = paged(request, q, tenant_of(request).instances(user, start, end), applied)
    body = {"@odata.context": context_url(request, f"users('{user.id}')/calendarView"),
            "value": [shape(request, q, render_event(i, user, zone_name), i) for i in items]}
    if next_link:
        body["@odata.nextLink"] = next_link
    return graph_json(request, body, applied=applied)


@routes.get("/v1.0/users/{user}/calendarView/delta")
@routes.get("/v1.0/users/{user}/calendarView/delta()")  # msgraph-sdk calls the OData function with ()
@routes.get("/v1.0/users/{user}/calendar/calendarView/delta")
@routes.get("/v1.0/users/{user}/calendar/calendarView/delta()")
@operation("calendarView.delta")
async def calendar_view_delta(request: web.Request) -> web.Response:
    user, q, applied = user_of(request), query(request), []
    tenant = tenant_of(request)
    zone_name = response_zone(request, applied)
    if "$skiptoken" in q:
        page = tenant.delta_pages.pop(q["$skiptoken"], None)
        if page is None:
            raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found or has expired. "
                                                       "Please do a full sync.")
        items, size, delta_token = page
    else:
        if "$deltatoken" in q:
            state = tenant.delta_states.get(q["$deltatoken"])
            if state is None or state.user_id != user.id:
                raise GraphError(410, "SyncStateNotFound", "The sync state generation is not found or has expired. "
                                                           "Please do a full sync.")
            start, end = state.start, state.end
        else:
            if "$select" in q:
                raise bad_request("$select is not supported with calendarView delta.", "BadRequest")
            state = None
            start, end = window(q)
        changes, new_state = tenant.delta_round(user, start, end, state)
        items = [{"@odata.type": "#microsoft.graph.event", "id": c[1], "@removed": {"reason": "deleted"}}
                 if isinstance(c, tuple) else render_event(c, user, zone_name) for c in changes]
        size = page_size(request, q, applied)
        delta_token = tenant.save_delta_state(new_state)
    base = f"{request.url.origin()}{request.path}"
    chunk, rest = items[:size], items[size:]
    body = {"@odata.context": context_url(request, "Collection(event)"), "value": chunk}
    if rest:
        skip_token = uuid.uuid4().hex
        tenant.delta_pages[skip_token] = (rest, size, delta_token)
        body["@odata.nextLink"] = f"{base}?$skiptoken={skip_token}"
    else:
        body["@odata.deltaLink"] = f"{base}?$deltatoken={delta_token}"
    return graph_json(request, body, applied=applied)


# ---------------------------------------------------------------------- getSchedule

@routes.post("/v1.0/users/{user}/calendar/getSchedule")
@operation("getSchedule")
async def get_schedule(request: web.Request) -> web.Response:
    user_of(request)  # the caller's mailbox must exist
    body, applied = action_parameters(await json_body(request)), []
    tenant = tenant_of(request)
    schedules = body.get("schedules")
    if not isinstance(schedules, list) or not schedules:
        raise bad_request("The schedules parameter needs at least one SMTP address.", "ErrorInvalidParameter")
    limit = state_of(request).config["max_schedules"]
    if len(schedules) > limit:
        raise bad_request(f"The number of schedules requested ({len(schedules)}) exceeds the limit of {limit}.",
                          "ErrorInvalidParameter")
    try:
        start, _ = parse_date_time_time_zone(body.get("starttime"))
        end, _ = parse_date_time_time_zone(body.get("endtime"))
    except TimeFormatError as exc:
        raise bad_request(str(exc), "ErrorInvalidParameter") from None
    interval = int(body.get("availabilityviewinterval") or 30)
    if not 5 <= interval <= 1440:
        raise bad_request("availabilityViewInterval must be between 5 and 1440 minutes.", "ErrorInvalidParameter")
    if end <= start:
        raise bad_request("The start time must be earlier than the end time.", "ErrorInvalidParameter")
    days = math.ceil((end - start) / timedelta(days=1))
    if days > 62:
        raise bad_request("The requested time duration specified for FreeBusyViewOptions.TimeWindow is too long. "
                          f"The allowed limit = 62 days; the actual limit = {days} days.", "ErrorTimeIntervalTooBig")
    zone_name = response_zone(request, applied)
    value = [schedule_information(tenant, str(address), start, end, interval, zone_name) for address in schedules]
    payload = {"@odata.context": context_url(request, "Collection(microsoft.graph.scheduleInformation)"),
               "value": value}
    return graph_json(request, payload, applied=applied)


def schedule_information(tenant: Tenant, address: str, start: datetime, end: datetime, interval: int,
                         zone_name: str) -> dict:
    user = tenant.find_user(address)
    if user is None:
        code = "ErrorInvalidSmtpAddress" if "@" not in address else "ErrorMailRecipientNotFound"
        return {"scheduleId": address, "availabilityView": "", "scheduleItems": [],
                "error": {"message": f"The requested user '{address}' is invalid." if "@" in address else
                          f"'{address}' is not a valid SMTP address.", "responseCode": code}}
    instances = tenant.instances(user, start, end)
    items = []
    for inst in instances:
        private = inst.event.fields.get("sensitivity") == "private"
        item = {"isPrivate": private, "status": inst.show_as,
                "start": format_date_time_time_zone(inst.start, zone_name),
                "end": format_date_time_time_zone(inst.end, zone_name)}
        if not private:
            item["subject"] = inst.event.fields.get("subject", "")
            item["location"] = (inst.event.fields.get("location") or {}).get("displayName", "")
        items.append(item)
    slots = math.ceil((end - start) / timedelta(minutes=interval))
    view = []
    for n in range(slots):
        slot_start = start + timedelta(minutes=interval * n)
        slot_end = slot_start + timedelta(minutes=interval)
        overlapping = [i.show_as for i in instances if i.start < slot_end and i.end > slot_start]
        strongest = max(overlapping, key=lambda s: STATUS_RANK.get(s, 0), default="free")
        view.append(STATUS_CODES.get(strongest, "0"))
    return {"scheduleId": address, "availabilityView": "".join(view), "scheduleItems": items,
            "workingHours": {**user.working_hours, "timeZone": {"name": user.time_zone}}}


# ---------------------------------------------------------------------- sendMail

@routes.post("/v1.0/users/{user}/sendMail")
@operation("sendMail")
async def send_mail(request: web.Request) -> web.Response:
    user, body = user_of(request), action_parameters(await json_body(request))
    message = body.get("message")
    if not isinstance(message, dict):
        raise bad_request("The sendMail body needs a message.", "ErrorInvalidRequest")

    def addresses(name: str) -> list[str]:
        return [str((r.get("emailAddress") or {}).get("address") or "") for r in message.get(name) or []]

    to, cc, bcc = addresses("toRecipients"), addresses("ccRecipients"), addresses("bccRecipients")
    if not (to or cc or bcc) or any("@" not in a for a in to + cc + bcc):
        raise bad_request("At least one recipient isn't valid.", "ErrorInvalidRecipients")
    state_of(request).outbox.append({
        "id": str(uuid.uuid4()), "from": user.mail, "sentDateTime": format_instant(datetime.now(UTC)),
        "to": to, "cc": cc, "bcc": bcc, "replyTo": addresses("replyTo"), "subject": message.get("subject", ""),
        "body": message.get("body") or {}, "saveToSentItems": body.get("savetosentitems", True), "message": message})
    return web.Response(status=202)


# ---------------------------------------------------------------------- subscriptions

@routes.post("/v1.0/subscriptions")
@operation("subscriptions.create")
async def create_subscription(request: web.Request) -> web.Response:
    subscription = await state_of(request).notifier.create(await json_body(request), APP_ID)
    return graph_json(request, {"@odata.context": context_url(request, "subscriptions/$entity"),
                                **public(subscription)}, status=201)


@routes.get("/v1.0/subscriptions")
@operation("subscriptions.list")
async def list_subscriptions(request: web.Request) -> web.Response:
    notifier = state_of(request).notifier
    notifier.purge_expired()
    return graph_json(request, {"@odata.context": context_url(request, "subscriptions"),
                                "value": [public(s) for s in notifier.subscriptions.values()]})


@routes.get("/v1.0/subscriptions/{subscription_id}")
@operation("subscriptions.get")
async def get_subscription(request: web.Request) -> web.Response:
    subscription = state_of(request).notifier.get(request.match_info["subscription_id"])
    return graph_json(request, {"@odata.context": context_url(request, "subscriptions/$entity"), **public(subscription)})


@routes.patch("/v1.0/subscriptions/{subscription_id}")
@operation("subscriptions.update")
async def renew_subscription(request: web.Request) -> web.Response:
    subscription = state_of(request).notifier.renew(request.match_info["subscription_id"], await json_body(request))
    return graph_json(request, {"@odata.context": context_url(request, "subscriptions/$entity"), **public(subscription)})


@routes.delete("/v1.0/subscriptions/{subscription_id}")
@operation("subscriptions.delete")
async def delete_subscription(request: web.Request) -> web.Response:
    state_of(request).notifier.delete(request.match_info["subscription_id"])
    return web.Response(status=204)
