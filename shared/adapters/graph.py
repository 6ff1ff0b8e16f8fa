"""Outlook calendars, mail and change-notification subscriptions through Microsoft Graph (msgraph-sdk).

:class:`GraphAdapter` implements ``CalendarPort``, ``SubscriptionPort`` and ``MailPort``. It is cheap
to construct (no I/O, no SDK import); the SDK client is built on first use per event loop and shared
(see :mod:`shared.adapters.graph_client`; :func:`warm_up` pays msgraph-sdk's one-off model loading
ahead of time). Every failure surfaces as a :mod:`shared.errors` error carrying Graph's ``request-id``.

Free/busy for a pool comes from ``calendar/getSchedule``: up to 20 mailboxes per request and windows
of at most 61 days per request (Graph refuses 62+), so a 20-host pool over a month is one request.
The alternative, ``calendarView`` per mailbox with paging, is kept (``busy_source="calendar_view"``)
for comparison and for callers that need event ids; docs/PERFORMANCE.md ("Graph free/busy") has
the measurements behind the choice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from shared.adapters.graph_client import RetryPolicy, get_graph_client, translate_error, warm_up
from shared.adapters.graph_convert import (EXPAND_BOOKING_PROPERTY, draft_to_event, from_date_time_time_zone,
                                           is_removed, mail_message, schedule_blocks, show_as_of, to_calendar_event,
                                           to_date_time_time_zone, to_subscription)
from shared.config import Settings, get_settings
from shared.domain.timezones import to_utc
from shared.errors import ExternalServiceError, NotFoundError
from shared.logs import get_logger
from shared.ports import BusyBlock, CalendarEvent, DeltaPage, EventDraft, MailMessage, Subscription

T = TypeVar("T")
log = get_logger(__name__)
__all__ = ["GraphAdapter", "get_graph_adapter", "warm_up"]

SCHEDULE_BATCH = 20  # mailboxes per getSchedule request (Graph's limit)
SCHEDULE_MAX_WINDOW = timedelta(days=61)  # Graph answers ErrorTimeIntervalTooBig past 62 days
PREFER_UTC = 'outlook.timezone="UTC"'
EVENT_FIELDS = ["id", "subject", "start", "end", "showAs", "isCancelled", "transactionId", "location", "changeKey",
                "lastModifiedDateTime", "onlineMeeting", "onlineMeetingUrl", "originalStartTimeZone", "categories",
                "attendees", "type", "seriesMasterId"]
BUSY_FIELDS = ["id", "start", "end", "showAs", "isCancelled"]


class GraphAdapter:
    """Frontdesk's calendar, subscription and mail ports over Microsoft Graph."""

    def __init__(self, settings: Settings, *, busy_source: Literal["schedule", "calendar_view"] = "schedule",
                 page_size: int = 100, concurrency: int = 4, max_retries: int = 3,
                 retry_backoff_seconds: float = 0.5):
        self.settings = settings
        self.busy_source = busy_source
        self.page_size = page_size
        # Outlook allows 4 concurrent requests per app and mailbox; pool reads spread over mailboxes,
        # and this bound keeps a big pool from opening dozens of connections at once.
        self.concurrency = concurrency
        self.retry = RetryPolicy(max_retries=max_retries, max_total_wait=settings.graph.max_retry_after_seconds,
                                 backoff_seconds=retry_backoff_seconds)

    @property
    def client(self):
        return get_graph_client(self.settings, self.retry)

    async def _call(self, action: str, make: Callable[[], Awaitable[T]]) -> T:
        try:
            return await make()
        except ExternalServiceError:
            raise
        except Exception as exc:  # SDK, HTTP and transport errors all become Frontdesk errors here
            error = translate_error(exc, action)
            log.log(logging.INFO if isinstance(error, NotFoundError) else logging.WARNING,
                    "Graph %s failed: status=%s code=%s request_id=%s", action, error.status, error.code,
                    error.request_id)
            raise error from exc

    def _config(self, *, prefer: list[str] | None = None, query=None):
        from kiota_abstractions.base_request_configuration import RequestConfiguration

        config = RequestConfiguration(query_parameters=query)
        for value in prefer or []:
            config.headers.add("Prefer", value)
        return config

    def _user(self, mailbox: str):
        return self.client.users.by_user_id(mailbox)

    # ------------------------------------------------------------------ free/busy

    async def get_busy(self, mailboxes: list[str], start: datetime, end: datetime) -> dict[str, list[BusyBlock]]:
        """Blocks of every mailbox over ``[start, end)``, with ``show_as`` so the domain decides what blocks."""
        start, end = to_utc(start), to_utc(end)
        if end <= start:
            raise ValueError("get_busy needs start < end")
        wanted = list(dict.fromkeys(mailboxes))
        if not wanted:
            return {}
        if self.busy_source == "calendar_view":
            return await self._busy_from_calendar_view(wanted, start, end)
        return await self._busy_from_schedule(wanted, start, end)

    async def _busy_from_schedule(self, mailboxes: list[str], start: datetime, end: datetime) -> dict[str, list[BusyBlock]]:
        windows = split_window(start, end, SCHEDULE_MAX_WINDOW)
        batches = [mailboxes[i:i + SCHEDULE_BATCH] for i in range(0, len(mailboxes), SCHEDULE_BATCH)]
        limit = asyncio.Semaphore(self.concurrency)

        async def one(batch: list[str], window: tuple[datetime, datetime]):
            async with limit:
                return batch, window, await self._get_schedule(batch, *window)

        results = await asyncio.gather(*(one(b, w) for b in batches for w in windows))
        busy: dict[str, set[BusyBlock]] = {m: set() for m in mailboxes}
        by_lower = {m.lower(): m for m in mailboxes}
        for batch, (w_start, w_end), infos in results:
            for info in infos:
                mailbox = by_lower.get((info.schedule_id or "").lower())
                if mailbox is None:
                    continue
                if info.error is not None:
                    # A calendar Frontdesk cannot read must not look free: block the whole window.
                    log.warning("getSchedule could not read a mailbox: %s (%s)",
                                info.error.response_code, info.error.message)
                    busy[mailbox].add(BusyBlock(w_start, w_end, "busy"))
                    continue
                busy[mailbox].update(schedule_blocks(info))
        return {m: sorted(blocks, key=lambda b: (b.start, b.end)) for m, blocks in busy.items()}

    async def _get_schedule(self, batch: list[str], start: datetime, end: datetime):
        from msgraph.generated.users.item.calendar.get_schedule.get_schedule_post_request_body import (
            GetSchedulePostRequestBody)

        body = GetSchedulePostRequestBody(schedules=batch, start_time=to_date_time_time_zone(start),
                                          end_time=to_date_time_time_zone(end),
                                          availability_view_interval=1440)  # the items matter, not the view
        # With application permissions any mailbox may ask for everyone's free/busy; the batch's own
        # mailboxes ask, which spreads Outlook's per-mailbox concurrency limit over the pool. A mailbox
        # that does not exist (a typo in the configuration) cannot ask, so the next one does.
        for caller in batch:
            try:
                response = await self._call("getSchedule", lambda: self._user(caller).calendar.get_schedule.post(
                    body, request_configuration=self._config(prefer=[PREFER_UTC])))
            except NotFoundError:
                continue
            return response.value or [] if response else []
        return [_unreadable(mailbox) for mailbox in batch]

    async def _busy_from_calendar_view(self, mailboxes: list[str], start: datetime,
                                       end: datetime) -> dict[str, list[BusyBlock]]:
        limit = asyncio.Semaphore(self.concurrency)

        async def one(mailbox: str) -> list[BusyBlock]:
            async with limit:
                events = await self._calendar_view(mailbox, start, end, BUSY_FIELDS, expand=False)
            return [BusyBlock(from_date_time_time_zone(e.start), from_date_time_time_zone(e.end),
                              show_as_of(e.show_as), e.id) for e in events if not e.is_cancelled]

        blocks = await asyncio.gather(*(one(m) for m in mailboxes))
        return dict(zip(mailboxes, blocks))

    # ------------------------------------------------------------------ reading events

    async def _calendar_view(self, mailbox: str, start: datetime, end: datetime, fields: list[str], *,
                             expand: bool) -> list:
        from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
            CalendarViewRequestBuilder)

        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=iso(start), end_date_time=iso(end), select=fields, top=self.page_size,
            orderby=["start/dateTime"], expand=[EXPAND_BOOKING_PROPERTY] if expand else None)
        builder = self._user(mailbox).calendar_view
        page = await self._call("calendarView", lambda: builder.get(
            request_configuration=self._config(prefer=[PREFER_UTC], query=query)))
        events = list(page.value or []) if page else []
        while page and page.odata_next_link:
            next_link = page.odata_next_link
            page = await self._call("calendarView", lambda: builder.with_url(next_link).get(
                request_configuration=self._config(prefer=[PREFER_UTC])))
            events.extend(page.value or [] if page else [])
        return events

    async def list_events(self, mailbox: str, start: datetime, end: datetime) -> list[CalendarEvent]:
        """Every event and expanded occurrence overlapping ``[start, end)``, by start."""
        events = await self._calendar_view(mailbox, to_utc(start), to_utc(end), EVENT_FIELDS, expand=True)
        return [to_calendar_event(e, mailbox) for e in events]

    async def get_event(self, mailbox: str, event_id: str) -> CalendarEvent | None:
        """The event as Outlook has it now, or None when it no longer exists."""
        from msgraph.generated.users.item.events.item.event_item_request_builder import EventItemRequestBuilder

        query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
            select=EVENT_FIELDS, expand=[EXPAND_BOOKING_PROPERTY])
        try:
            event = await self._call("get event", lambda: self._user(mailbox).events.by_event_id(event_id).get(
                request_configuration=self._config(prefer=[PREFER_UTC], query=query)))
        except NotFoundError:
            return None
        return to_calendar_event(event, mailbox)

    # ------------------------------------------------------------------ writing events

    async def create_event(self, mailbox: str, draft: EventDraft) -> CalendarEvent:
        """Create the event; retried with the same ``transaction_id``, Graph hands back the first one."""
        event = draft_to_event(draft, creating=True)
        created = await self._call("create event", lambda: self._user(mailbox).events.post(
            event, request_configuration=self._config(prefer=[PREFER_UTC])))
        return to_calendar_event(created, mailbox, booking_id=draft.booking_id)

    async def update_event(self, mailbox: str, event_id: str, draft: EventDraft) -> CalendarEvent:
        """Rewrite the event to say what ``draft`` says (e.g. a hold becoming the confirmed booking)."""
        event = draft_to_event(draft, creating=False)
        updated = await self._call("update event", lambda: self._user(mailbox).events.by_event_id(event_id).patch(
            event, request_configuration=self._config(prefer=[PREFER_UTC])))
        return to_calendar_event(updated, mailbox, booking_id=draft.booking_id)

    async def delete_event(self, mailbox: str, event_id: str) -> None:
        """Delete the event; one already gone is fine (deleting is what the caller wanted)."""
        try:
            await self._call("delete event", lambda: self._user(mailbox).events.by_event_id(event_id).delete())
        except NotFoundError:
            log.info("Graph event to delete was already gone")

    # ------------------------------------------------------------------ delta

    async def delta(self, mailbox: str, start: datetime, end: datetime, delta_link: str | None = None) -> DeltaPage:
        """One delta round over the calendar view: what changed since ``delta_link`` (everything without one)."""
        from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import DeltaRequestBuilder

        builder = self._user(mailbox).calendar_view.delta
        prefer = [PREFER_UTC, f"odata.maxpagesize={self.page_size}"]
        if delta_link:
            page = await self._call("calendarView delta", lambda: builder.with_url(delta_link).get(
                request_configuration=self._config(prefer=prefer)))
        else:
            query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                start_date_time=iso(to_utc(start)), end_date_time=iso(to_utc(end)))
            page = await self._call("calendarView delta", lambda: builder.get(
                request_configuration=self._config(prefer=prefer, query=query)))
        changed: dict[str, CalendarEvent] = {}
        removed: list[str] = []
        while True:
            for event in page.value or [] if page else []:
                if is_removed(event):
                    removed.append(event.id)
                    changed.pop(event.id, None)
                else:
                    changed[event.id] = to_calendar_event(event, mailbox)
                    if event.id in removed:
                        removed.remove(event.id)
            if not page or not page.odata_next_link:
                break
            next_link = page.odata_next_link
            page = await self._call("calendarView delta", lambda: builder.with_url(next_link).get(
                request_configuration=self._config(prefer=prefer)))
        if not page or not page.odata_delta_link:
            raise ExternalServiceError("calendarView delta ended without a deltaLink", service="graph")
        return DeltaPage(changed=tuple(changed.values()), removed_ids=tuple(removed), delta_link=page.odata_delta_link)

    # ------------------------------------------------------------------ mail

    async def send_mail(self, sender_mailbox: str, message: MailMessage) -> None:
        """Send from ``sender_mailbox`` (kept in its Sent Items, so the owner has a record)."""
        from msgraph.generated.users.item.send_mail.send_mail_post_request_body import SendMailPostRequestBody

        body = SendMailPostRequestBody(message=mail_message(message), save_to_sent_items=True)
        await self._call("sendMail", lambda: self._user(sender_mailbox).send_mail.post(body))

    # ------------------------------------------------------------------ subscriptions

    async def create_subscription(self, mailbox: str, notification_url: str, lifecycle_url: str,
                                  client_state: str, expires_at: datetime) -> Subscription:
        """Subscribe to created/updated/deleted events of ``mailbox``; Graph validates both URLs first."""
        from msgraph.generated.models.subscription import Subscription as GraphSubscription

        body = GraphSubscription(change_type="created,updated,deleted", notification_url=notification_url,
                                 lifecycle_notification_url=lifecycle_url or None, resource=f"users/{mailbox}/events",
                                 expiration_date_time=to_utc(expires_at), client_state=client_state,
                                 latest_supported_tls_version="v1_2")
        created = await self._call("create subscription", lambda: self.client.subscriptions.post(body))
        return to_subscription(created, mailbox)

    async def renew_subscription(self, subscription_id: str, expires_at: datetime) -> datetime:
        """Push the expiry out; returns the expiry Graph granted. NotFoundError: it is gone, recreate it."""
        from msgraph.generated.models.subscription import Subscription as GraphSubscription

        body = GraphSubscription(expiration_date_time=to_utc(expires_at))
        renewed = await self._call("renew subscription", lambda: self.client.subscriptions.by_subscription_id(
            subscription_id).patch(body))
        return to_utc(renewed.expiration_date_time)

    async def delete_subscription(self, subscription_id: str) -> None:
        try:
            await self._call("delete subscription",
                             lambda: self.client.subscriptions.by_subscription_id(subscription_id).delete())
        except NotFoundError:
            log.info("Graph subscription to delete was already gone")

    async def list_subscriptions(self) -> list[Subscription]:
        """The app's live subscriptions (for cleaning up ones Frontdesk no longer tracks)."""
        page = await self._call("list subscriptions", lambda: self.client.subscriptions.get())
        found = []
        while page:
            for sub in page.value or []:
                found.append(to_subscription(sub, mailbox_of_resource(sub.resource or "")))
            if not page.odata_next_link:
                break
            next_link = page.odata_next_link
            page = await self._call("list subscriptions",
                                    lambda: self.client.subscriptions.with_url(next_link).get())
        return found


def _unreadable(mailbox: str):
    from msgraph.generated.models.free_busy_error import FreeBusyError
    from msgraph.generated.models.schedule_information import ScheduleInformation

    return ScheduleInformation(schedule_id=mailbox, error=FreeBusyError(
        response_code="ErrorInvalidUser", message="no mailbox of the batch exists"))


def split_window(start: datetime, end: datetime, longest: timedelta) -> list[tuple[datetime, datetime]]:
    """``[start, end)`` cut into consecutive pieces no longer than ``longest``."""
    pieces = []
    while start < end:
        pieces.append((start, min(end, start + longest)))
        start = pieces[-1][1]
    return pieces


def iso(instant: datetime) -> str:
    """An instant for Graph query parameters (UTC, explicit offset)."""
    return to_utc(instant).strftime("%Y-%m-%dT%H:%M:%SZ")


def mailbox_of_resource(resource: str) -> str:
    parts = [p for p in resource.strip("/").split("/") if p]
    return parts[1] if len(parts) >= 2 and parts[0].lower() == "users" else ""


_adapters: dict[int, GraphAdapter] = {}


def get_graph_adapter(settings: Settings | None = None) -> GraphAdapter:
    """The adapter for these settings (the process settings by default); cheap, reuses the shared client."""
    settings = settings or get_settings()
    adapter = _adapters.get(id(settings))
    if adapter is None or adapter.settings is not settings:
        adapter = _adapters[id(settings)] = GraphAdapter(settings)
    return adapter
