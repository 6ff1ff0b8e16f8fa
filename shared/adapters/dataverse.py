"""Dynamics 365 appointments through the Dataverse Web API (the ``CrmPort`` adapter).

Plain Web API calls with httpx and an Entra ID token for ``{DATAVERSE__URL}/.default`` from the process's
credential. Microsoft's Python SDK (PowerPlatform-Dataverse-Client) was considered and not used: it pulls in
pandas and requests (aiohttp for async) -- heavy for a Functions cold start --, resolves entity sets and
choice labels through metadata requests, retries on its own, and has no primary-key upsert with
``If-None-Match`` or ``Prefer: return=representation``, which are exactly what this adapter needs.

What Dataverse is sent, and why:

* The appointment's ``activityid`` is a UUID derived from the booking id, and it is written with
  ``PATCH appointments(<id>)``: an upsert, so a retried activity rewrites the same row instead of making a
  second one, and a reschedule is the same call. ``Prefer: return=representation`` returns the row
  (``201`` created / ``200`` updated) so no second read is needed.
* ``regardingobjectid_<entity>@odata.bind`` and ``ownerid@odata.bind`` link the lead/contact/account/
  opportunity/case/work order and the host's systemuser; a missing one is ``NotFoundError`` naming it.
* ``category = "Frontdesk"`` marks the row as Frontdesk's: server-side synchronization is configured to
  leave such appointments out of Exchange, because Frontdesk writes the Outlook event itself (see
  ``docs/DYNAMICS.md``).
* Cancel sets statecode 2 (Canceled) with statuscode 4 (Canceled) under ``If-Match: *`` so a deleted
  appointment is never re-created; a cancelled appointment is read-only, so it is read first.
* 429 (service protection limits) is waited out as ``Retry-After`` asks, up to a cap, then
  ``ThrottledError``; 5xx and network failures are ``TransientError``; everything keeps the
  ``x-ms-service-request-id`` for support.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
import weakref
from datetime import datetime, timezone
from typing import Any

from shared.config import Settings
from shared.errors import (ConflictError, ExternalServiceError, ForbiddenError, NotFoundError, PermanentError,
                           ThrottledError, TransientError)
from shared.logs import get_logger, log_context
from shared.ports import Appointment, AppointmentDraft, Regarding

log = get_logger(__name__)

SERVICE = "dataverse"
API_PATH = "/api/data/v9.2"
FRONTDESK_CATEGORY = "Frontdesk"
# Fixed namespace for deriving appointment ids from booking ids (uuid5); changing it orphans every appointment.
APPOINTMENT_NAMESPACE = uuid.UUID("6f1d6c1e-3b0a-5e53-9a53-5d0f0b7e2f41")
LOOKUP_ANNOTATION = "Microsoft.Dynamics.CRM.lookuplogicalname"
SELECT = ("activityid,subject,scheduledstart,scheduledend,location,description,statecode,statuscode,"
          "_regardingobjectid_value,_ownerid_value")
REGARDING_SETS = {"lead": "leads", "contact": "contacts", "account": "accounts", "opportunity": "opportunities",
                  "incident": "incidents", "msdyn_workorder": "msdyn_workorders"}
STATE_NAMES = {0: "open", 1: "completed", 2: "cancelled", 3: "scheduled"}
CANCELED_STATE, CANCELED_STATUS = 2, 4
SUBJECT_MAX = 200  # appointment.subject MaxLength
_MISSING_RECORD = re.compile(r"^(?P<entity>\w+) With Id = (?P<id>[0-9a-fA-F-]{36}) Does Not Exist")

_lock = threading.Lock()
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, Any]]" = weakref.WeakKeyDictionary()


def appointment_id_for(booking_id: str) -> str:
    """The Dynamics appointment id of a booking: the same booking always gives the same id."""
    return str(uuid.uuid5(APPOINTMENT_NAMESPACE, f"frontdesk-booking:{booking_id}"))


def _http_client(timeout: float):
    """The shared httpx client of this event loop (connections are pooled per loop)."""
    import httpx
    loop = asyncio.get_running_loop()
    with _lock:
        per_loop = _clients.setdefault(loop, {})
        client = per_loop.get(timeout)
        if client is None:
            client = per_loop[timeout] = httpx.AsyncClient(timeout=httpx.Timeout(timeout),
                                                           headers={"User-Agent": "Frontdesk"})
        return client


def _odata_time(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("appointment times must be timezone-aware")
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)


def _description(draft: AppointmentDraft) -> str:
    parts = [draft.description.strip()]
    if draft.routing_decision.strip():
        parts.append(f"Routing decision: {draft.routing_decision.strip()}")
    return "\n\n".join(part for part in parts if part)


def _appointment_body(draft: AppointmentDraft, category: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": draft.subject[:SUBJECT_MAX],
        "scheduledstart": _odata_time(draft.start),
        "scheduledend": _odata_time(draft.end),
        "location": draft.location,
        "description": _description(draft),
        "category": category,
    }
    if draft.regarding is not None:
        entity_set = REGARDING_SETS[draft.regarding.entity]
        body[f"regardingobjectid_{draft.regarding.entity}@odata.bind"] = f"/{entity_set}({draft.regarding.id})"
    if draft.owner_systemuser_id:
        body["ownerid@odata.bind"] = f"/systemusers({draft.owner_systemuser_id})"
    return body


def _appointment_from(row: dict[str, Any]) -> Appointment:
    regarding = None
    regarding_id = row.get("_regardingobjectid_value")
    regarding_entity = row.get(f"_regardingobjectid_value@{LOOKUP_ANNOTATION}")
    if regarding_id and regarding_entity in REGARDING_SETS:
        regarding = Regarding(entity=regarding_entity, id=regarding_id)
    owner_id = row.get("_ownerid_value")
    owner_is_user = row.get(f"_ownerid_value@{LOOKUP_ANNOTATION}", "systemuser") == "systemuser"
    return Appointment(
        id=row["activityid"],
        subject=row.get("subject") or "",
        start=_parse_time(row["scheduledstart"]),
        end=_parse_time(row["scheduledend"]),
        state=STATE_NAMES.get(row.get("statecode"), "open"),
        location=row.get("location"),
        description=row.get("description") or "",
        regarding=regarding,
        owner_systemuser_id=owner_id if owner_id and owner_is_user else None,
    )


def _retry_after_seconds(response) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "1")), 0.0)
    except ValueError:
        return 1.0


def _service_error(response) -> tuple[str | None, str]:
    try:
        error = response.json().get("error") or {}
    except ValueError:
        error = {}
    return (error.get("code") or None), (error.get("message") or response.reason_phrase or "no details")


def _request_id(response) -> str | None:
    return response.headers.get("x-ms-service-request-id") or response.headers.get("REQ_ID")


def _error_for(response, operation: str) -> ExternalServiceError:
    """Translate a failed Dataverse answer into Frontdesk's error (keeping code and request id)."""
    status = response.status_code
    code, message = _service_error(response)
    details = {"service": SERVICE, "status": status, "code": code, "request_id": _request_id(response)}
    missing = _MISSING_RECORD.match(message)
    if status == 404 and missing:
        return NotFoundError(f"{operation}: {missing['entity']} {missing['id']} does not exist in Dynamics",
                             **details)
    if status == 404:
        return NotFoundError(f"{operation}: {message}", **details)
    if status in (409, 412):
        return ConflictError(f"{operation}: {message}", **details)
    if status in (401, 403):
        hint = ("Dataverse refused Frontdesk's token; check the application user and its security role"
                if status == 401 else message)
        return ForbiddenError(f"{operation}: {hint}", **details)
    if status >= 500:
        return TransientError(f"{operation}: {message}", **details)
    return PermanentError(f"{operation}: {message}", **details)


class DataverseCrm:
    """``CrmPort`` on the Dataverse Web API. Cheap to build; the HTTP client and credential are shared."""

    def __init__(self, settings: Settings, *, category: str = FRONTDESK_CATEGORY,
                 max_retry_after_seconds: float = 30.0, max_throttle_retries: int = 3):
        if settings.dataverse.url is None:
            raise ValueError("DATAVERSE__URL is not set: Dynamics 365 is disabled")
        self._environment = str(settings.dataverse.url).rstrip("/")
        self._api = self._environment + API_PATH
        self._scope = f"{self._environment}/.default"
        self._timeout = settings.dataverse.timeout_seconds
        self._identity = settings.identity
        self._category = category
        self._max_retry_after = max_retry_after_seconds
        self._max_throttle_retries = max_throttle_retries

    # ---------------------------------------------------------------- CrmPort

    async def upsert_appointment(self, draft: AppointmentDraft) -> Appointment:
        appointment_id = appointment_id_for(draft.booking_id)
        with log_context(booking_id=draft.booking_id):
            response = await self._send(
                "PATCH", f"appointments({appointment_id})", operation="write the Dynamics appointment",
                json=_appointment_body(draft, self._category), params={"$select": SELECT},
                headers={"Prefer": f'return=representation,odata.include-annotations="{LOOKUP_ANNOTATION}"'})
            log.info("Dynamics appointment %s %s", appointment_id,
                     "created" if response.status_code == 201 else "updated")
        return _appointment_from(response.json())

    async def cancel_appointment(self, appointment_id: str) -> None:
        current = await self.get_appointment(appointment_id)
        if current is None:
            raise NotFoundError(f"cancel the Dynamics appointment: appointment {appointment_id} does not exist",
                                service=SERVICE, status=404)
        if current.state == "cancelled":
            return  # already done (activities run at least once); a cancelled appointment is read-only anyway
        # If-Match: * turns the upsert into update-only, so an appointment deleted meanwhile is not re-created.
        await self._send("PATCH", f"appointments({appointment_id})", operation="cancel the Dynamics appointment",
                         json={"statecode": CANCELED_STATE, "statuscode": CANCELED_STATUS},
                         headers={"If-Match": "*"})
        log.info("Dynamics appointment %s cancelled", appointment_id)

    async def get_appointment(self, appointment_id: str) -> Appointment | None:
        try:
            response = await self._send(
                "GET", f"appointments({appointment_id})", operation="read the Dynamics appointment",
                params={"$select": SELECT}, headers={"Prefer": f'odata.include-annotations="{LOOKUP_ANNOTATION}"'})
        except NotFoundError:
            return None
        return _appointment_from(response.json())

    async def who_am_i(self) -> str:
        """The systemuser id Frontdesk acts as (a cheap health check of URL, token and application user)."""
        response = await self._send("GET", "WhoAmI", operation="ask Dataverse who Frontdesk is")
        return response.json()["UserId"]

    # ---------------------------------------------------------------- HTTP

    async def _send(self, method: str, path: str, *, operation: str, json: dict | None = None,
                    params: dict | None = None, headers: dict | None = None):
        """One Web API call, waiting out 429s as the service asks (up to the cap); raises on failure."""
        waited = 0.0
        for attempt in range(self._max_throttle_retries + 1):
            response = await self._send_once(method, path, operation, json, params, headers)
            if response.status_code != 429:
                break
            retry_after = _retry_after_seconds(response)
            if attempt == self._max_throttle_retries or waited + retry_after > self._max_retry_after:
                code, message = _service_error(response)
                raise ThrottledError(f"{operation}: Dynamics is throttling Frontdesk ({message})",
                                     retry_after=retry_after, service=SERVICE, status=429, code=code,
                                     request_id=_request_id(response))
            log.warning("Dataverse throttled %s %s; retrying in %.1f s", method, path.split("(")[0], retry_after)
            await asyncio.sleep(retry_after)
            waited += retry_after
        if response.is_success:
            return response
        raise _error_for(response, operation)

    async def _send_once(self, method: str, path: str, operation: str, json: dict | None, params: dict | None,
                         headers: dict | None):
        import httpx
        from shared.adapters.credentials import get_credential
        token = await get_credential(self._identity).get_token(self._scope)
        request_headers = {
            "Authorization": f"Bearer {token.token}",
            "Accept": "application/json",
            "OData-MaxVersion": "4.0",
            "OData-Version": "4.0",
            **(headers or {}),
        }
        try:
            return await _http_client(self._timeout).request(method, f"{self._api}/{path}", json=json,
                                                             params=params, headers=request_headers)
        except httpx.TimeoutException as exc:
            raise TransientError(f"{operation}: Dataverse did not answer within {self._timeout:g} s",
                                 service=SERVICE) from exc
        except httpx.TransportError as exc:
            raise TransientError(f"{operation}: could not reach Dataverse ({type(exc).__name__})",
                                 service=SERVICE) from exc


def get_crm(settings: Settings) -> DataverseCrm | None:
    """The Dynamics adapter for these settings, or ``None`` when Dynamics is not configured."""
    if settings.dataverse.url is None:
        return None
    return DataverseCrm(settings, category=settings.dataverse.appointment_category,
                        max_retry_after_seconds=settings.dataverse.max_retry_after_seconds)
