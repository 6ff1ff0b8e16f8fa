"""A small Dataverse (Dynamics 365) Web API emulator: appointments and the records they are regarding.

It speaks the parts of ``{environment}/api/data/v9.2/`` that Frontdesk relies on, the way Dataverse does:

* Bearer token required (401 with ``WWW-Authenticate`` otherwise), ``OData-Version: 4.0`` on answers,
  ``x-ms-service-request-id`` / ``REQ_ID`` request ids, OData error bodies ``{"error": {"code", "message"}}``.
* ``PATCH {set}({id})`` is an upsert: it creates the row when it is missing. ``If-Match: *`` prevents the
  create (404), ``If-None-Match: *`` prevents the update (412), ``If-Match: W/"n"`` is optimistic concurrency.
  The answer is ``204`` with ``OData-EntityId``; with ``Prefer: return=representation`` it is ``201`` (created)
  or ``200`` (updated) with the row, honouring ``$select`` (``Preference-Applied`` is echoed).
* ``<nav>@odata.bind`` for the appointment's regarding (lead, contact, account, opportunity, incident,
  msdyn_workorder) and owner (systemuser): the target must exist, else ``404`` ``0x80040217``
  "``lead With Id = ... Does Not Exist``", which is what Dataverse answers for a missing bound record.
  Unknown navigation properties and columns are ``400`` ``0x80060888`` like the real service.
* Lookups read back as ``_regardingobjectid_value`` / ``_ownerid_value``; with
  ``Prefer: odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"`` (or ``"*"``) each carries
  ``@Microsoft.Dynamics.CRM.lookuplogicalname``.
* Appointments start Scheduled/Busy (statecode 3, statuscode 5); statuscode must belong to statecode;
  Completed and Canceled appointments are read-only except for their state (the documented rule; the
  error code of that refusal is an approximation).
* Service protection: injected faults answer ``429`` with ``Retry-After`` (seconds) and ``0x80072322``.

Server-side synchronization is modelled just enough to test how Frontdesk coexists with it: a seeded
systemuser may have a mailbox with appointment sync on (``mailbox_act_sync``) and a sync filter that
excludes appointments by ``category`` (``sync_filter_exclude_categories``); ``GET /_emulator/exchange-sync``
lists the appointments server-side sync would push to that user's Outlook (owner = user, filter matches,
and -- when ``AllowSaveAsDraftAppointment`` is on -- not a draft).

Test API under ``/_emulator``: ``POST seed``, ``POST faults`` / ``DELETE faults``, ``GET requests`` /
``DELETE requests``, ``GET records/{set}``, ``GET exchange-sync``, ``POST org-settings``, ``POST reset``.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from dev.serving import BackgroundServer, RunningEmulator

API_PREFIX = "/api/data/v9.2"

# entity set -> (logical name, primary key column)
ENTITY_SETS: dict[str, tuple[str, str]] = {
    "appointments": ("appointment", "activityid"),
    "leads": ("lead", "leadid"),
    "contacts": ("contact", "contactid"),
    "accounts": ("account", "accountid"),
    "opportunities": ("opportunity", "opportunityid"),
    "incidents": ("incident", "incidentid"),
    "msdyn_workorders": ("msdyn_workorder", "msdyn_workorderid"),
    "systemusers": ("systemuser", "systemuserid"),
}
LOGICAL_TO_SET = {logical: entity_set for entity_set, (logical, _) in ENTITY_SETS.items()}

# appointment navigation property -> (lookup column, allowed target entity sets)
APPOINTMENT_NAVIGATION = {
    **{f"regardingobjectid_{logical}": ("regardingobjectid", {LOGICAL_TO_SET[logical]})
       for logical in ("lead", "contact", "account", "opportunity", "incident", "msdyn_workorder")},
    "ownerid": ("ownerid", {"systemusers"}),
}
APPOINTMENT_COLUMNS = {
    "activityid", "subject", "description", "location", "scheduledstart", "scheduledend", "statecode",
    "statuscode", "isdraft", "category", "subcategory", "prioritycode", "isalldayevent",
    "scheduleddurationminutes", "createdon", "modifiedon", "versionnumber",
    "_regardingobjectid_value", "_ownerid_value",
}
APPOINTMENT_DATETIMES = {"scheduledstart", "scheduledend"}
# statecode -> allowed statuscodes (Open, Completed, Canceled, Scheduled)
APPOINTMENT_STATES = {0: {1, 2}, 1: {3}, 2: {4}, 3: {5, 6}}
APPOINTMENT_DEFAULT_STATUS = {0: 1, 1: 3, 2: 4, 3: 5}
CLOSED_STATES = {1, 2}

LOOKUP_ANNOTATION = "Microsoft.Dynamics.CRM.lookuplogicalname"
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
KEY_SEGMENT = re.compile(r"^(?P<set>[A-Za-z_][A-Za-z0-9_]*)(?:\((?P<key>[^)]*)\))?$")
BIND_VALUE = re.compile(r"^/?(?:.*/api/data/v9\.\d/)?(?P<set>[A-Za-z_][A-Za-z0-9_]*)\((?P<key>[^)]*)\)$")

# The application user the emulator pretends Frontdesk authenticates as (WhoAmI, default owner).
APP_USER_ID = "a1b2c3d4-0000-4000-8000-00000000f00d"
BUSINESS_UNIT_ID = "b0000000-0000-4000-8000-000000000001"
ORGANIZATION_ID = "c0000000-0000-4000-8000-000000000001"


class ODataError(Exception):
    """An error answer in Dataverse's shape."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@dataclass
class Fault:
    """An injected failure: the next ``times`` matching requests wait ``latency`` s and/or answer ``status``."""

    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    times: int = 1
    method: str | None = None
    path_contains: str | None = None
    code: str | None = None
    message: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return ((self.method is None or self.method.upper() == method)
                and (self.path_contains is None or self.path_contains in path))


@dataclass
class State:
    """Everything the emulator holds; guarded by one lock (handlers and test helpers run on different threads)."""

    token: str | None = None
    tables: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    org_settings: dict[str, Any] = field(default_factory=dict)
    version: int = 1000
    lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tables = {entity_set: {} for entity_set in ENTITY_SETS}
            self.requests = []
            self.faults = []
            self.org_settings = {"AllowSaveAsDraftAppointment": False}
            self.tables["systemusers"][APP_USER_ID] = {
                "systemuserid": APP_USER_ID, "fullname": "# Frontdesk (application user)",
                "mailbox_act_sync": False, "sync_filter_exclude_categories": []}

    def next_version(self) -> int:
        self.version += 1
        return self.version

    # ---------------------------------------------------------------- seeding and inspection

    def seed(self, payload: dict[str, list[dict[str, Any]]]) -> dict[str, list[str]]:
        """Insert rows per entity set (the primary key is generated when absent); returns the ids."""
        created: dict[str, list[str]] = {}
        with self.lock:
            for entity_set, rows in payload.items():
                if entity_set not in ENTITY_SETS:
                    raise ValueError(f"unknown entity set {entity_set!r}; known: {sorted(ENTITY_SETS)}")
                _, key = ENTITY_SETS[entity_set]
                for row in rows:
                    record = dict(row)
                    record_id = str(record.get(key) or uuid.uuid4()).lower()
                    record[key] = record_id
                    if entity_set == "systemusers":
                        record.setdefault("mailbox_act_sync", False)
                        record.setdefault("sync_filter_exclude_categories", [])
                    self.tables[entity_set][record_id] = record
                    created.setdefault(entity_set, []).append(record_id)
        return created

    def add_fault(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.matches(method, path):
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def records(self, entity_set: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(row) for row in self.tables.get(entity_set, {}).values()]

    def exchange_sync(self) -> list[dict[str, str]]:
        """Appointments server-side sync would push to an owner's Exchange calendar right now."""
        pushed = []
        with self.lock:
            drafts_held_back = bool(self.org_settings.get("AllowSaveAsDraftAppointment"))
            users = self.tables["systemusers"]
            for appointment in self.tables["appointments"].values():
                owner = users.get(appointment.get("_ownerid_value") or "")
                if not owner or not owner.get("mailbox_act_sync"):
                    continue
                if appointment.get("category") in set(owner.get("sync_filter_exclude_categories") or ()):
                    continue
                if drafts_held_back and appointment.get("isdraft"):
                    continue
                pushed.append({"activityid": appointment["activityid"], "mailbox_owner": owner["systemuserid"]})
        return pushed


STATE = web.AppKey("dataverse_state", State)


# ---------------------------------------------------------------- helpers


async def _sleep_unless_gone(request: web.Request, seconds: float) -> None:
    """Wait like a slow service, but stop early once the client has hung up (keeps shutdown quick)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(min(remaining, 0.05))


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_key(entity_set: str, key: str) -> str:
    key = key.strip().strip("'")
    if not GUID.match(key):
        raise ODataError(400, "0x80060888", f"Bad Request - Error in query syntax. '{key}' is not a valid key "
                                            f"for the entity set '{entity_set}'.")
    return key.lower()


def _resolve_segment(segment: str) -> tuple[str, str | None]:
    match = KEY_SEGMENT.match(segment)
    if not match or match.group("set") not in ENTITY_SETS:
        raise ODataError(404, "0x8006088a", f"Resource not found for the segment '{segment.split('(')[0]}'.")
    entity_set = match.group("set")
    key = match.group("key")
    return entity_set, (_parse_key(entity_set, key) if key is not None else None)


def _normalise_datetime(column: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ODataError(400, "0x80060888", f"Cannot convert the literal '{value}' to the expected type "
                                            f"'Edm.DateTimeOffset' of '{column}'.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ODataError(400, "0x80060888", f"Cannot convert the literal '{value}' to the expected type "
                                            f"'Edm.DateTimeOffset' of '{column}'.") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _prefer(request: web.Request) -> dict[str, str]:
    """The Prefer header as {preference: value}; several headers and comma-separated lists both work."""
    prefs: dict[str, str] = {}
    for header in request.headers.getall("Prefer", []):
        for part in re.split(r",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", header):
            name, _, value = part.strip().partition("=")
            if name:
                prefs[name.strip().lower()] = value.strip().strip('"')
    return prefs


def _wants_lookup_annotation(prefs: dict[str, str]) -> bool:
    wanted = prefs.get("odata.include-annotations", "")
    return any(item.strip() in ("*", LOOKUP_ANNOTATION) for item in wanted.split(","))


def _select(entity_set: str, request: web.Request) -> list[str] | None:
    raw = request.query.get("$select")
    if not raw:
        return None
    columns = [c.strip() for c in raw.split(",") if c.strip()]
    if entity_set == "appointments":
        unknown = [c for c in columns if c not in APPOINTMENT_COLUMNS]
        if unknown:
            raise ODataError(400, "0x80060888", f"Could not find a property named '{unknown[0]}' on type "
                                                f"'Microsoft.Dynamics.CRM.appointment'.")
    return columns


def _is_internal_column(column: str) -> bool:
    # Emulator bookkeeping (lookup targets' logical names, the server-side sync model) never goes on the wire.
    return column.endswith("_logicalname") or column.startswith("mailbox_") or column.startswith("sync_filter_")


def _represent(base: str, entity_set: str, row: dict[str, Any], select: list[str] | None,
               annotate: bool) -> dict[str, Any]:
    _, key = ENTITY_SETS[entity_set]
    body: dict[str, Any] = {
        "@odata.context": f"{base}{API_PREFIX}/$metadata#{entity_set}/$entity",
        "@odata.etag": f'W/"{row.get("versionnumber", 0)}"',
    }
    columns = select if select is not None else [c for c in row if not _is_internal_column(c)]
    for column in columns:
        body[column] = row.get(column)
        if annotate and column in ("_regardingobjectid_value", "_ownerid_value") and row.get(column):
            body[f"{column}@{LOOKUP_ANNOTATION}"] = row.get(column.removeprefix("_").removesuffix("_value")
                                                            + "_logicalname")
    body[key] = row[key]
    return body


def _error_response(error: ODataError, request_id: str) -> web.Response:
    headers = {"OData-Version": "4.0", "x-ms-service-request-id": request_id, "REQ_ID": request_id,
               **error.headers}
    if error.status == 401:
        return web.Response(status=401, headers=headers)
    return web.json_response({"error": {"code": error.code, "message": error.message}}, status=error.status,
                             headers=headers, content_type="application/json")


# ---------------------------------------------------------------- the Web API


def _check_token(state: State, request: web.Request, base: str) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or (state.token is not None and token.strip() != state.token):
        raise ODataError(401, "", "", headers={
            "WWW-Authenticate": f'Bearer authorization_uri=https://login.microsoftonline.com/common/oauth2/'
                                f'authorize, resource_id={base}/'})


def _apply_body(state: State, entity_set: str, row: dict[str, Any], body: dict[str, Any], creating: bool) -> None:
    """Validate and apply a create/update body to ``row`` (mutated in place)."""
    if entity_set != "appointments":
        for column, value in body.items():
            if "@" not in column:
                row[column] = value
        return
    changes: dict[str, Any] = {}
    for name, value in body.items():
        if name.endswith("@odata.bind"):
            changes.update(_bind(state, name.removesuffix("@odata.bind"), value))
            continue
        if "@" in name:
            continue  # other instance annotations are ignored, as Dataverse does
        if name not in APPOINTMENT_COLUMNS or name.startswith("_") or name in ("createdon", "modifiedon",
                                                                                "versionnumber"):
            if name in APPOINTMENT_NAVIGATION or name.startswith("regardingobjectid"):
                raise ODataError(400, "0x80060888", f"An undeclared property '{name}' which only has property "
                                                    f"annotations in the payload but no property value was found "
                                                    f"in the payload. In OData, only declared navigation "
                                                    f"properties and declared named streams can be represented as "
                                                    f"properties without values.")
            raise ODataError(400, "0x80060888", f"The property '{name}' does not exist on type "
                                                f"'Microsoft.Dynamics.CRM.appointment'. Make sure to only use "
                                                f"property names that are defined by the type.")
        if name in APPOINTMENT_DATETIMES and value is not None:
            value = _normalise_datetime(name, value)
        changes[name] = value
    if "activityid" in changes and changes["activityid"] and str(changes["activityid"]).lower() != row["activityid"]:
        raise ODataError(400, "0x80040203", "The activityid in the body does not match the key in the URL.")
    changes.pop("activityid", None)

    state_change = {k: changes.pop(k) for k in ("statecode", "statuscode") if k in changes}
    if not creating and row.get("statecode") in CLOSED_STATES and changes:
        raise ODataError(400, "0x80040203", "This appointment is closed (Completed or Canceled) and is "
                                            "read-only; only its status can be changed.")
    row.update(changes)
    if creating:
        row.setdefault("statecode", 3)
        row.setdefault("statuscode", 5)
        row.setdefault("isdraft", False)
    if state_change:
        statecode = state_change.get("statecode", row["statecode"])
        statuscode = state_change.get("statuscode", APPOINTMENT_DEFAULT_STATUS.get(statecode))
        if statecode not in APPOINTMENT_STATES or statuscode not in APPOINTMENT_STATES[statecode]:
            raise ODataError(400, "0x80040203", f"{statuscode} is not a valid status code for state code "
                                                f"{statecode} on appointment with Id {row['activityid']}.")
        row["statecode"], row["statuscode"] = statecode, statuscode
    start, end = row.get("scheduledstart"), row.get("scheduledend")
    if start and end and end < start:
        raise ODataError(400, "0x80040203", "The scheduled end of the appointment is before its start.")


def _bind(state: State, navigation: str, value: Any) -> dict[str, Any]:
    """Resolve ``<navigation>@odata.bind`` to the lookup columns, checking that the target exists."""
    if navigation not in APPOINTMENT_NAVIGATION:
        raise ODataError(400, "0x80060888", f"An undeclared property '{navigation}' which only has property "
                                            f"annotations in the payload but no property value was found in the "
                                            f"payload. In OData, only declared navigation properties and declared "
                                            f"named streams can be represented as properties without values.")
    column, allowed_sets = APPOINTMENT_NAVIGATION[navigation]
    if value is None:
        return {f"_{column}_value": None, f"{column}_logicalname": None}
    match = BIND_VALUE.match(str(value))
    if not match or match.group("set") not in allowed_sets:
        raise ODataError(400, "0x80060888", f"The value '{value}' of '{navigation}@odata.bind' does not identify "
                                            f"a record of {', '.join(sorted(allowed_sets))}.")
    entity_set = match.group("set")
    target_id = _parse_key(entity_set, match.group("key"))
    logical, _ = ENTITY_SETS[entity_set]
    if target_id not in state.tables[entity_set]:
        raise ODataError(404, "0x80040217", f"{logical} With Id = {target_id} Does Not Exist")
    return {f"_{column}_value": target_id, f"{column}_logicalname": logical}


async def _handle_api(request: web.Request) -> web.StreamResponse:
    state: State = request.app[STATE]
    base = f"{request.scheme}://{request.host}"
    request_id = str(uuid.uuid4())
    body_text = await request.text()
    with state.lock:
        state.requests.append({
            "method": request.method, "path": request.path, "query": dict(request.query),
            "headers": {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")},
            "body": body_text})
    try:
        fault = state.take_fault(request.method, request.path)
        if fault and fault.latency:
            await _sleep_unless_gone(request, fault.latency)
        _check_token(state, request, base)
        if fault and fault.status:
            raise _fault_error(fault)
        response = _dispatch(state, request, base, body_text)
    except ODataError as error:
        return _error_response(error, request_id)
    response.headers["OData-Version"] = "4.0"
    response.headers["x-ms-service-request-id"] = request_id
    response.headers["REQ_ID"] = request_id
    return response


def _fault_error(fault: Fault) -> ODataError:
    headers = {}
    if fault.status == 429:
        headers["Retry-After"] = f"{fault.retry_after if fault.retry_after is not None else 1:g}"
        return ODataError(429, fault.code or "0x80072322", fault.message or
                          "Number of requests exceeded the limit of 6000 over time window of 300 seconds.", headers)
    if fault.retry_after is not None:
        headers["Retry-After"] = f"{fault.retry_after:g}"
    return ODataError(fault.status, fault.code or ("0x80040216" if fault.status >= 500 else "0x80040220"),
                      fault.message or ("An unexpected error occurred." if fault.status >= 500
                                        else "Principal user is missing a required privilege."), headers)


def _dispatch(state: State, request: web.Request, base: str, body_text: str) -> web.Response:
    path = request.match_info.get("tail", "")
    if path in ("", "/"):
        return web.json_response({"@odata.context": f"{base}{API_PREFIX}/$metadata",
                                  "value": [{"name": s, "kind": "EntitySet", "url": s} for s in ENTITY_SETS]})
    if path == "WhoAmI" or path == "WhoAmI()":
        return web.json_response({
            "@odata.context": f"{base}{API_PREFIX}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
            "BusinessUnitId": BUSINESS_UNIT_ID, "UserId": APP_USER_ID, "OrganizationId": ORGANIZATION_ID})
    if "/" in path:
        raise ODataError(404, "0x8006088a", f"Resource not found for the segment '{path.split('/')[-1]}'.")
    entity_set, key = _resolve_segment(path)
    prefs = _prefer(request)
    method = request.method
    if method == "GET":
        return _get(state, request, base, entity_set, key, prefs)
    body = _parse_body(body_text) if method in ("PATCH", "POST") else {}
    with state.lock:
        if method == "PATCH" and key is not None:
            return _upsert(state, request, base, entity_set, key, body, prefs)
        if method == "POST" and key is None:
            new_key = str(body.get(ENTITY_SETS[entity_set][1]) or uuid.uuid4()).lower()
            if new_key in state.tables[entity_set]:
                raise ODataError(412, "0x80040237", "A record with matching key values already exists.")
            return _upsert(state, request, base, entity_set, new_key, body, prefs, post=True)
        if method == "DELETE" and key is not None:
            if state.tables[entity_set].pop(key, None) is None:
                raise ODataError(404, "0x80040217", f"{ENTITY_SETS[entity_set][0]} With Id = {key} Does Not Exist")
            return web.Response(status=204)
    raise ODataError(405, "0x80060888", f"The HTTP method '{method}' is not allowed on this resource.")


def _parse_body(body_text: str) -> dict[str, Any]:
    try:
        body = json.loads(body_text or "{}")
    except json.JSONDecodeError as exc:
        raise ODataError(400, "0x80060888", f"Invalid JSON. {exc.msg} at position {exc.pos}.") from None
    if not isinstance(body, dict):
        raise ODataError(400, "0x80060888", "The request body must be a JSON object.")
    return body


def _get(state: State, request: web.Request, base: str, entity_set: str, key: str | None,
         prefs: dict[str, str]) -> web.Response:
    select = _select(entity_set, request)
    annotate = _wants_lookup_annotation(prefs)
    headers = {"Preference-Applied": f'odata.include-annotations="{prefs["odata.include-annotations"]}"'} \
        if "odata.include-annotations" in prefs else {}
    with state.lock:
        if key is None:
            rows = list(state.tables[entity_set].values())
            top = request.query.get("$top")
            if top and top.isdigit():
                rows = rows[: int(top)]
            value = [_represent(base, entity_set, row, select, annotate) for row in rows]
            for item in value:
                item.pop("@odata.context", None)
            return web.json_response({"@odata.context": f"{base}{API_PREFIX}/$metadata#{entity_set}",
                                      "value": value}, headers=headers)
        row = state.tables[entity_set].get(key)
        if row is None:
            raise ODataError(404, "0x80040217", f"{ENTITY_SETS[entity_set][0]} With Id = {key} Does Not Exist")
        headers["ETag"] = f'W/"{row.get("versionnumber", 0)}"'
        return web.json_response(_represent(base, entity_set, row, select, annotate), headers=headers)


def _upsert(state: State, request: web.Request, base: str, entity_set: str, key: str, body: dict[str, Any],
            prefs: dict[str, str], post: bool = False) -> web.Response:
    _, key_column = ENTITY_SETS[entity_set]
    existing = state.tables[entity_set].get(key)
    if_match = request.headers.get("If-Match", "").strip()
    if_none_match = request.headers.get("If-None-Match", "").strip()
    logical = ENTITY_SETS[entity_set][0]
    if if_match and existing is None:
        raise ODataError(404, "0x80040217", f"{logical} With Id = {key} Does Not Exist")
    if if_match and if_match != "*" and if_match != f'W/"{existing.get("versionnumber", 0)}"':
        raise ODataError(412, "0x80060882",
                         "The version of the existing record doesn't match the RowVersion property provided.")
    if if_none_match == "*" and existing is not None:
        raise ODataError(412, "0x80040237", "A record with matching key values already exists.")

    creating = existing is None
    row = {key_column: key} if creating else dict(existing)
    _apply_body(state, entity_set, row, body, creating)
    row["versionnumber"] = state.next_version()
    row["modifiedon"] = _now()
    if creating:
        row["createdon"] = row["modifiedon"]
        if entity_set == "appointments" and not row.get("_ownerid_value"):
            row["_ownerid_value"], row["ownerid_logicalname"] = APP_USER_ID, "systemuser"
        if entity_set == "appointments":
            row.setdefault("_regardingobjectid_value", None)
    state.tables[entity_set][key] = row

    entity_url = f"{base}{API_PREFIX}/{entity_set}({key})"
    headers = {"OData-EntityId": entity_url, "ETag": f'W/"{row["versionnumber"]}"'}
    if prefs.get("return") == "representation":
        select = _select(entity_set, request)
        headers["Preference-Applied"] = "return=representation"
        return web.json_response(_represent(base, entity_set, row, select, _wants_lookup_annotation(prefs)),
                                 status=201 if creating else 200, headers=headers)
    if post:
        headers["Location"] = entity_url
    return web.Response(status=204, headers=headers)


# ---------------------------------------------------------------- the /_emulator API


async def _seed(request: web.Request) -> web.Response:
    try:
        created = request.app[STATE].seed(await request.json())
    except (ValueError, AttributeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    return web.json_response(created)


async def _add_fault(request: web.Request) -> web.Response:
    payload = await request.json()
    faults = payload if isinstance(payload, list) else [payload]
    for item in faults:
        request.app[STATE].add_fault(Fault(**item))
    return web.json_response({"faults": len(request.app[STATE].faults)})


async def _clear_faults(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        request.app[STATE].faults.clear()
    return web.Response(status=204)


async def _requests(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        return web.json_response(list(request.app[STATE].requests))


async def _clear_requests(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        request.app[STATE].requests.clear()
    return web.Response(status=204)


async def _records(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].records(request.match_info["set"]))


async def _exchange_sync(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].exchange_sync())


async def _org_settings(request: web.Request) -> web.Response:
    state: State = request.app[STATE]
    with state.lock:
        state.org_settings.update(await request.json())
        return web.json_response(state.org_settings)


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.Response(status=204)


def create_app(token: str | None = None) -> web.Application:
    """The emulator as an aiohttp app. ``token``: the only bearer token accepted (any non-empty one if None)."""
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[STATE] = State(token=token)
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", _handle_api)
    app.router.add_post("/_emulator/seed", _seed)
    app.router.add_post("/_emulator/faults", _add_fault)
    app.router.add_delete("/_emulator/faults", _clear_faults)
    app.router.add_get("/_emulator/requests", _requests)
    app.router.add_delete("/_emulator/requests", _clear_requests)
    app.router.add_get("/_emulator/records/{set}", _records)
    app.router.add_get("/_emulator/exchange-sync", _exchange_sync)
    app.router.add_post("/_emulator/org-settings", _org_settings)
    app.router.add_post("/_emulator/reset", _reset)
    return app


# ---------------------------------------------------------------- running it


class DataverseEmulator(RunningEmulator):
    """A running emulator: ``base_url`` is the environment URL (what ``DATAVERSE__URL`` is set to)."""

    @property
    def api_url(self) -> str:
        return self._server.base_url + API_PREFIX

    def seed(self, **rows_by_set: list[dict[str, Any]]) -> dict[str, list[str]]:
        """``seed(leads=[{...}], systemusers=[{...}])`` -> ids per entity set."""
        return self.state.seed(rows_by_set)

    def seed_record(self, entity_set: str, **columns: Any) -> str:
        """Insert one row and return its id, e.g. ``seed_record("leads", fullname="Dana Smith")``."""
        return self.state.seed({entity_set: [columns]})[entity_set][0]

    def add_systemuser(self, fullname: str = "Technician", *, mailbox_act_sync: bool = False,
                       sync_filter_exclude_categories: tuple[str, ...] = (), systemuserid: str | None = None) -> str:
        return self.seed_record("systemusers", fullname=fullname, mailbox_act_sync=mailbox_act_sync,
                                sync_filter_exclude_categories=list(sync_filter_exclude_categories),
                                **({"systemuserid": systemuserid} if systemuserid else {}))

    def inject_fault(self, status: int | None = None, *, retry_after: float | None = None, latency: float = 0.0,
                     times: int = 1, method: str | None = None, path_contains: str | None = None,
                     code: str | None = None, message: str | None = None) -> None:
        self.state.add_fault(Fault(status=status, retry_after=retry_after, latency=latency, times=times,
                                   method=method, path_contains=path_contains, code=code, message=message))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    def records(self, entity_set: str) -> list[dict[str, Any]]:
        return self.state.records(entity_set)

    def record(self, entity_set: str, record_id: str) -> dict[str, Any] | None:
        with self.state.lock:
            row = self.state.tables[entity_set].get(record_id.lower())
            return dict(row) if row else None

    def set_org_setting(self, name: str, value: Any) -> None:
        with self.state.lock:
            self.state.org_settings[name] = value

    def exchange_sync(self) -> list[dict[str, str]]:
        return self.state.exchange_sync()


def start_dataverse_emulator(token: str | None = None, port: int | None = None) -> DataverseEmulator:
    """Start the emulator on a free loopback port (background thread) and return it."""
    server = BackgroundServer(lambda: create_app(token), port=port, name="dataverse-emulator").start()
    return DataverseEmulator(server, server.app[STATE])
