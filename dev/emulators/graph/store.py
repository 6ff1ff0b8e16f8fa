"""The emulator's in-memory Microsoft 365 tenant: users, their calendars, change tracking.

Events are kept with UTC instants plus the zone names they were written in; occurrences of
recurring series are computed on read. Every write bumps a tenant-wide change sequence, which is
what calendarView delta rounds and change notifications are built from. Nothing here speaks HTTP.
"""

from __future__ import annotations

import base64
import copy
import html
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from dev.emulators.graph import recurrence as rec
from dev.emulators.graph.errors import GraphError, bad_request, invalid_user, item_not_found
from dev.emulators.graph.times import (UTC, TimeFormatError, format_date_time_time_zone, format_instant,
                                       parse_date_time_time_zone)

TENANT_ID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SHOW_AS = ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown")
# Every property of microsoft.graph.event; anything else in a request body is refused like Graph's
# OData reader refuses it (which is how a snake_case or misspelt property is caught).
EVENT_PROPERTIES = frozenset("""
allowNewTimeProposals attachments attendees body bodyPreview calendar cancelledOccurrences categories changeKey
createdDateTime end exceptionOccurrences extensions hasAttachments hideAttendees iCalUId id importance instances
isAllDay isCancelled isDraft isOnlineMeeting isOrganizer isReminderOn lastModifiedDateTime location locations
multiValueExtendedProperties onlineMeeting onlineMeetingProvider onlineMeetingUrl organizer originalEndTimeZone
originalStart originalStartTimeZone recurrence reminderMinutesBeforeStart responseRequested responseStatus
sensitivity seriesMasterId showAs singleValueExtendedProperties start subject transactionId type webLink
""".split())
WRITABLE = frozenset("""
allowNewTimeProposals attendees body categories hideAttendees importance isAllDay isOnlineMeeting isReminderOn
location locations onlineMeetingProvider recurrence reminderMinutesBeforeStart responseRequested sensitivity showAs
subject transactionId
""".split())
_TAGS = re.compile(r"<[^>]+>")


def new_item_id(prefix: str = "AAMkAD") -> str:
    """An opaque Exchange-looking id (letters and digits, ending in '=')."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(58)) + "AAA="


def new_change_key() -> str:
    return base64.b64encode(secrets.token_bytes(12)).decode()


def occurrence_id(master_id: str, day: date) -> str:
    token = base64.urlsafe_b64encode(f"{master_id}|{day.isoformat()}".encode()).decode().rstrip("=")
    return f"AAMkOC{token}"


def parse_occurrence_id(item_id: str) -> tuple[str, date] | None:
    if not item_id.startswith("AAMkOC"):
        return None
    token = item_id[6:]
    try:
        master, day = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode().rsplit("|", 1)
        return master, date.fromisoformat(day)
    except (ValueError, UnicodeDecodeError):
        return None


@dataclass
class User:
    id: str
    user_principal_name: str
    display_name: str
    mail: str
    time_zone: str = "UTC"
    working_hours: dict = field(default_factory=lambda: {
        "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
        "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000"})

    def to_json(self) -> dict:
        return {"id": self.id, "userPrincipalName": self.user_principal_name, "displayName": self.display_name,
                "mail": self.mail, "businessPhones": [], "givenName": self.display_name.split(" ")[0],
                "surname": " ".join(self.display_name.split(" ")[1:]) or None, "jobTitle": None,
                "mobilePhone": None, "officeLocation": None, "preferredLanguage": "en-US"}


@dataclass
class Event:
    id: str
    user_id: str
    fields: dict
    start: datetime
    end: datetime
    start_zone: str
    end_zone: str
    created: datetime
    modified: datetime
    change_key: str
    seq: int
    ical_uid: str
    cancelled_dates: set[date] = field(default_factory=set)
    online_meeting: dict | None = None

    @property
    def recurrence(self) -> dict | None:
        return self.fields.get("recurrence")

    @property
    def etag(self) -> str:
        return f'W/"{self.change_key}"'


@dataclass(frozen=True)
class Instance:
    """What a calendar view shows: a single event, or one occurrence of a series."""

    event: Event
    id: str
    start: datetime
    end: datetime
    kind: str  # singleInstance | occurrence | seriesMaster
    day: date | None = None

    @property
    def show_as(self) -> str:
        return self.event.fields.get("showAs", "busy")


@dataclass
class DeltaState:
    user_id: str
    start: datetime
    end: datetime
    seq: int
    known: frozenset[str]


ChangeListener = Callable[[User, str, str, str], None]  # (user, item id, changeType, etag)


class Tenant:
    """All users, events and change tracking of one emulated tenant."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self._names: dict[str, str] = {}
        self.events: dict[str, Event] = {}
        self.seq = 0
        self.listeners: list[ChangeListener] = []
        self.delta_states: dict[str, DeltaState] = {}
        self.delta_pages: dict[str, tuple[list[dict], int, str]] = {}

    # ------------------------------------------------------------------ users

    def add_user(self, user_principal_name: str, display_name: str | None = None, *, id: str | None = None,
                 mail: str | None = None, time_zone: str = "UTC", working_hours: dict | None = None) -> User:
        user = User(id=id or str(uuid.uuid4()), user_principal_name=user_principal_name,
                    display_name=display_name or user_principal_name.split("@")[0].title(),
                    mail=mail or user_principal_name, time_zone=time_zone)
        if working_hours:
            user.working_hours = working_hours
        self.users[user.id] = user
        for name in (user.id, user.user_principal_name, user.mail):
            self._names[name.lower()] = user.id
        return user

    def find_user(self, name: str) -> User | None:
        user_id = self._names.get(name.lower())
        return self.users.get(user_id) if user_id else None

    def user(self, name: str) -> User:
        user = self.find_user(name)
        if user is None:
            raise invalid_user(name)
        return user

    # ------------------------------------------------------------------ writes

    def _bump(self) -> int:
        self.seq += 1
        return self.seq

    def _notify(self, user: User, item_id: str, change_type: str, etag: str) -> None:
        for listener in list(self.listeners):
            listener(user, item_id, change_type, etag)

    def create_event(self, user: User, body: dict) -> tuple[Event, bool]:
        """Store a new event; (event, False) when ``transactionId`` names one already created."""
        check_properties(body)
        transaction_id = body.get("transactionId")
        if transaction_id:
            for event in self.events.values():
                if event.user_id == user.id and event.fields.get("transactionId") == transaction_id:
                    return event, False
        if not body.get("start") or not body.get("end"):
            raise GraphError(400, "ErrorInvalidRequest", "Your request can't be completed. The event needs a start "
                                                         "and an end.")
        now = datetime.now(UTC)
        event = Event(id=new_item_id(), user_id=user.id, fields={}, start=now, end=now, start_zone="UTC",
                      end_zone="UTC", created=now, modified=now, change_key=new_change_key(), seq=self._bump(),
                      ical_uid="040000008200E00074C5B7101A82E008" + secrets.token_hex(28).upper())
        event.fields.update({"showAs": "busy", "subject": "", "categories": [], "attendees": [],
                             "body": {"contentType": "html", "content": ""}})
        apply_changes(event, body)
        self.events[event.id] = event
        self._notify(user, event.id, "created", event.etag)
        return event, True

    def update_event(self, user: User, item_id: str, patch: dict, if_match: str | None = None) -> Event:
        check_properties(patch)
        event = self._own_event(user, item_id)
        if if_match and if_match != "*" and if_match != event.etag:
            raise GraphError(412, "ErrorIrresolvableConflict",
                             "The send or update operation could not be performed because the change key passed in "
                             "the request does not match the current change key for the item.")
        if "transactionId" in patch and patch["transactionId"] != event.fields.get("transactionId"):
            raise bad_request("The transactionId of an event cannot be changed once it is set.",
                              "ErrorInvalidPropertyUpdateSentAsMeetingRequest")
        candidate = replace(event, fields=copy.deepcopy(event.fields))
        apply_changes(candidate, patch)  # on a copy: a refused PATCH changes nothing, as in Graph
        event.fields, event.start, event.end = candidate.fields, candidate.start, candidate.end
        event.start_zone, event.end_zone, event.online_meeting = (candidate.start_zone, candidate.end_zone,
                                                                  candidate.online_meeting)
        event.modified = datetime.now(UTC)
        event.change_key = new_change_key()
        event.seq = self._bump()
        self._notify(user, event.id, "updated", event.etag)
        return event

    def delete_event(self, user: User, item_id: str) -> None:
        if parse_occurrence_id(item_id):  # deleting one occurrence cancels it in its series
            occurrence = self._occurrence(user, item_id)
            occurrence.event.cancelled_dates.add(occurrence.day)
            occurrence.event.seq = self._bump()
            self._notify(user, item_id, "deleted", occurrence.event.etag)
            return
        event = self._own_event(user, item_id)
        del self.events[event.id]
        self._bump()
        self._notify(user, event.id, "deleted", event.etag)

    def _own_event(self, user: User, item_id: str) -> Event:
        event = self.events.get(item_id)
        if event is None or event.user_id != user.id:
            raise item_not_found()
        return event

    # ------------------------------------------------------------------ reads

    def _occurrence(self, user: User, item_id: str) -> Instance:
        master_id, day = parse_occurrence_id(item_id)
        master = self._own_event(user, master_id)
        for inst in self._expand(master, datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC),
                                 limit_day=day):
            if inst.id == item_id:
                return inst
        raise item_not_found()

    def get_instance(self, user: User, item_id: str) -> Instance:
        if parse_occurrence_id(item_id):
            return self._occurrence(user, item_id)
        event = self._own_event(user, item_id)
        return Instance(event, event.id, event.start, event.end, "seriesMaster" if event.recurrence else "singleInstance")

    def series_and_singles(self, user: User) -> list[Instance]:
        """What ``/events`` lists: single events and series masters, never occurrences."""
        found = [Instance(e, e.id, e.start, e.end, "seriesMaster" if e.recurrence else "singleInstance")
                 for e in self.events.values() if e.user_id == user.id]
        return sorted(found, key=lambda inst: (inst.start, inst.id))

    def instances(self, user: User, start: datetime, end: datetime) -> list[Instance]:
        """What ``calendarView`` shows for ``[start, end)``: singles and expanded occurrences, by start."""
        found: list[Instance] = []
        for event in self.events.values():
            if event.user_id != user.id:
                continue
            if event.recurrence:
                found.extend(self._expand(event, start, end))
            elif event.start < end and (event.end > start or (event.start == event.end and event.start >= start)):
                found.append(Instance(event, event.id, event.start, event.end, "singleInstance"))
        return sorted(found, key=lambda inst: (inst.start, inst.id))

    def _expand(self, event: Event, start: datetime, end: datetime, limit_day: date | None = None) -> list[Instance]:
        duration = event.end - event.start
        found = []
        for day, occ_start, occ_end in rec.occurrences(event.start, duration, event.recurrence, start, end,
                                                       event.start_zone, frozenset(event.cancelled_dates)):
            if limit_day is not None and day != limit_day:
                if day > limit_day:
                    break
                continue
            found.append(Instance(event, occurrence_id(event.id, day), occ_start, occ_end, "occurrence", day))
        return found

    # ------------------------------------------------------------------ delta

    def delta_round(self, user: User, start: datetime, end: datetime, state: DeltaState | None) -> tuple[list, DeltaState]:
        """The changes since ``state`` (everything when None): (instances and removed ids, the new state)."""
        current = {inst.id: inst for inst in self.instances(user, start, end)}
        if state is None:
            changes: list = list(current.values())
        else:
            removed = sorted(state.known - current.keys())
            changes = [("removed", item_id) for item_id in removed]
            changes += [inst for inst in current.values() if inst.event.seq > state.seq or inst.id not in state.known]
        return changes, DeltaState(user.id, start, end, self.seq, frozenset(current))

    def save_delta_state(self, state: DeltaState) -> str:
        token = secrets.token_urlsafe(24)
        self.delta_states[token] = state
        return token


def check_properties(body: dict) -> None:
    if not isinstance(body, dict):
        raise GraphError(400, "RequestBodyRead", "The request body must be a JSON object.")
    for name in body:
        if name.startswith("@odata.") or name in EVENT_PROPERTIES:
            continue
        raise GraphError(400, "RequestBodyRead",
                         f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to only "
                         "use property names that are defined by the type or mark the type as open type.")


def apply_changes(event: Event, body: dict) -> None:
    """Apply a create or PATCH body to an event, validating what Graph validates."""
    try:
        if "start" in body:
            event.start, event.start_zone = parse_date_time_time_zone(body["start"])
        if "end" in body:
            event.end, event.end_zone = parse_date_time_time_zone(body["end"])
        if body.get("recurrence"):
            rec.validate(body["recurrence"])
    except TimeFormatError as exc:
        unknown_zone = "TimeZone value" in str(exc)
        raise bad_request(str(exc), "TimeZoneNotSupportedException" if unknown_zone else "ErrorInvalidRequest") from None
    if event.end < event.start:
        raise bad_request("The end time of the event must be later than or equal to its start time.",
                          "ErrorInvalidRequest")
    if "showAs" in body and body["showAs"] not in SHOW_AS:
        raise GraphError(400, "RequestBodyRead", f"Requested value '{body['showAs']}' was not found.")
    for name in WRITABLE & body.keys():
        event.fields[name] = body[name]
    if "singleValueExtendedProperties" in body:
        merge_extended_properties(event, body["singleValueExtendedProperties"] or [])
    if event.fields.get("isOnlineMeeting") and event.online_meeting is None:
        if event.fields.get("onlineMeetingProvider", "teamsForBusiness") in ("teamsForBusiness", None):
            event.fields["onlineMeetingProvider"] = "teamsForBusiness"
            event.online_meeting = {"joinUrl": "https://teams.microsoft.com/l/meetup-join/19%3ameeting_"
                                               f"{secrets.token_urlsafe(16)}%40thread.v2/0"}
    elif not event.fields.get("isOnlineMeeting"):
        event.online_meeting = None


def merge_extended_properties(event: Event, properties: list[dict]) -> None:
    stored = {p["id"].lower(): p for p in event.fields.get("singleValueExtendedProperties", [])}
    for prop in properties:
        if not isinstance(prop, dict) or not prop.get("id"):
            raise bad_request("A singleValueExtendedProperty needs an id.", "ErrorInvalidExtendedProperty")
        stored[prop["id"].lower()] = {"id": prop["id"], "value": prop.get("value")}
    event.fields["singleValueExtendedProperties"] = list(stored.values())


def render_event(inst: Instance, user: User, zone_name: str) -> dict:
    """An event (or occurrence) as Graph's JSON, with times in ``zone_name``."""
    event, fields = inst.event, inst.event.fields
    content = (fields.get("body") or {}).get("content") or ""
    body = {
        "@odata.etag": event.etag,
        "id": inst.id,
        "createdDateTime": format_instant(event.created),
        "lastModifiedDateTime": format_instant(event.modified),
        "changeKey": event.change_key,
        "categories": fields.get("categories", []),
        "originalStartTimeZone": event.start_zone,
        "originalEndTimeZone": event.end_zone,
        "iCalUId": event.ical_uid,
        "reminderMinutesBeforeStart": fields.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": fields.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": fields.get("subject", ""),
        "bodyPreview": html.unescape(_TAGS.sub("", content)).strip()[:255],
        "importance": fields.get("importance", "normal"),
        "sensitivity": fields.get("sensitivity", "normal"),
        "isAllDay": fields.get("isAllDay", False),
        "isCancelled": False,
        "isOrganizer": True,
        "responseRequested": fields.get("responseRequested", True),
        "seriesMasterId": event.id if inst.kind == "occurrence" else None,
        "showAs": fields.get("showAs", "busy"),
        "type": inst.kind,
        "webLink": f"https://outlook.office365.com/owa/?itemid={inst.id}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": bool(fields.get("isOnlineMeeting", False)),
        "onlineMeetingProvider": fields.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": fields.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": fields.get("hideAttendees", False),
        "responseStatus": {"response": "organizer", "time": "0001-01-01T00:00:00Z"},
        "body": {"contentType": (fields.get("body") or {}).get("contentType", "html"), "content": content},
        "start": format_date_time_time_zone(inst.start, zone_name),
        "end": format_date_time_time_zone(inst.end, zone_name),
        "location": location_of(fields),
        "locations": fields.get("locations") or ([location_of(fields)] if fields.get("location") else []),
        "recurrence": fields.get("recurrence") if inst.kind == "seriesMaster" else None,
        "attendees": [attendee_of(a) for a in fields.get("attendees", [])],
        "organizer": {"emailAddress": {"name": user.display_name, "address": user.mail}},
        "onlineMeeting": event.online_meeting,
    }
    if fields.get("transactionId"):  # Graph returns it only when an app set it
        body["transactionId"] = fields["transactionId"]
    return body


def location_of(fields: dict) -> dict:
    location = dict(fields.get("location") or {})
    location.setdefault("displayName", "")
    location.setdefault("locationType", "default")
    location.setdefault("uniqueIdType", "unknown")
    return location


def attendee_of(attendee: dict) -> dict:
    return {"type": attendee.get("type", "required"),
            "status": {"response": "none", "time": "0001-01-01T00:00:00Z"},
            "emailAddress": dict(attendee.get("emailAddress") or {})}

