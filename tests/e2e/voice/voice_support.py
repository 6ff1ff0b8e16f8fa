"""Helpers of the voice end-to-end tests: setting the receptionist's hour and options, reading what a call did.

A call's effects are read where a person would see them: the host's Outlook calendar (Graph emulator),
the caller's text messages (ACS emulator), Dynamics appointments (Dataverse emulator), the office's
inbox (the Graph emulator's sendMail outbox) and the call's own record in Table Storage.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

UTC = timezone.utc
CHICAGO = ZoneInfo("America/Chicago")
OFFICE = "office@lakeshore-ph.example.com"
DANA = "dana.reyes@lakeshore-ph.example.com"
PRIYA = "priya.natarajan@lakeshore-ph.example.com"
MARCUS = "marcus.bell@lakeshore-ph.example.com"
LUIS = "luis.ortega@lakeshore-ph.example.com"
SAM = "sam.whitfield@lakeshore-ph.example.com"
CALLER = "+13125550188"
TRANSFER = "+13125550142"
ON_CALL = "+13125550199"


def next_local(weekday: str | None, wall: str, *, after: datetime | None = None) -> datetime:
    """The next Chicago wall-clock ``wall`` ("09:00") on ``weekday`` (any day when None) after ``after`` (now),
    in an ordinary week (no technician's holiday hours ahead: ``local_times.ordinary_days``)."""
    from local_times import WEEKDAYS, next_wall
    if weekday is not None:
        return next_wall(weekday, wall, after=after)
    return min(next_wall(day, wall, after=after) for day in WEEKDAYS)


class Receptionist:
    """The running voice service, adjusted for one test and restored afterwards."""

    def __init__(self, service, stack):
        self.service = service
        self.stack = stack
        self._saved = (service.clock, service.options, service._language)
        # Tests rewrite Outlook between calls; the availability service's seconds-long busy cache must not
        # carry one test's calendar into the next.
        from shared.services.availability import get_availability_service
        get_availability_service(service.services).cache.clear()

    def at(self, weekday: str | None, wall: str) -> datetime:
        """Make the stack's "now" the next ``weekday`` at ``wall`` (Chicago), moving on in real time.

        The whole app reads the development host's clock (``shared.clock``): the receptionist, the booking
        saga's timers, availability and minimum notice all agree on the hour the test chose.
        """
        return self.stack.host.clock.travel_to(next_local(weekday, wall))

    def configure(self, **options) -> None:
        """Change ``VOICE__*`` options, e.g. ``transfer_number=TRANSFER``."""
        self.service.options = self.service.options.model_copy(update=options)

    def use_model(self, *, budget: float = 2.0) -> None:
        """Read callers through the OpenAI emulator (kind ``openai``) with a budget of ``budget`` seconds."""
        from pydantic import SecretStr

        from shared.adapters.language import OpenAILanguage
        from shared.config import OpenAISettings
        settings = self.service.settings.model_copy(update={"openai": OpenAISettings(
            kind="openai", endpoint=self.stack.openai.openai_base_url, api_key=SecretStr("sk-emulator"),
            model="gpt-4o-mini", timeout_seconds=5.0)})
        self.service.language = OpenAILanguage(settings)
        self.configure(model_budget_seconds=budget)
        import openai  # noqa: F401 - the SDK loaded, as in a worker that has answered calls before: a first
        # import (seconds on a busy machine) cannot be cut short by the model's budget

    def restore(self) -> None:
        clock, options, language = self._saved
        self.stack.host.clock.reset()
        self.service.clock = clock
        self.service.options = options
        self.service.language = language
        self.stack.openai.reset()


# ---------------------------------------------------------------- what a call left behind

def services():
    from shared.services.container import get_services
    return get_services()


async def record_of(call):
    """The call's stored record (``CallRecord``): dialog state, outcome, last TwiML."""
    from shared.services.voice import CallRecord
    stored = await services().calls.get(call.sid)
    return CallRecord.model_validate(stored.value) if stored else None


def booking_id(key: str) -> str:
    from shared.services.voice.actions import booking_id_of
    return booking_id_of(key)


async def sagas_of(call) -> list[str]:
    """Booking ids of every hold the call placed (booked or not)."""
    record = await record_of(call)
    attempts = record.dialog.attempts if record else 0
    return [booking_id(f"{call.sid}/{n}") for n in range(1, attempts + 1)]


async def settle(stack, call, timeout: float = 20.0) -> list[dict]:
    """Wait until every saga the call started has finished; their SagaResult outputs, in order."""
    import json
    results = []
    for instance in await sagas_of(call):
        status = await stack.host.wait_for_instance_async(instance, timeout=timeout)
        if not status:
            continue
        assert status.runtime_status.value == "Completed", (instance, status.runtime_status, status.output)
        output = status.output
        results.append(json.loads(output) if isinstance(output, str) else output)
    return results


async def stored_booking(booking_id_: str):
    stored = await services().bookings.get(booking_id_)
    return stored.value if stored else None


def local(instant: datetime | str) -> datetime:
    if isinstance(instant, str):
        instant = datetime.fromisoformat(instant.replace("Z", "+00:00"))
    return instant.astimezone(CHICAGO)


def graph_time(value: dict) -> datetime:
    """A Graph ``dateTimeTimeZone`` (the emulator answers in UTC) as an aware instant."""
    assert value["timeZone"] == "UTC"
    return datetime.fromisoformat(value["dateTime"][:26]).replace(tzinfo=UTC)


def events(stack, mailbox: str, *, frontdesk_only: bool = True) -> list[dict]:
    """Events in ``mailbox``: Frontdesk's own (with a transactionId) unless told otherwise."""
    found = stack.graph.events(mailbox)
    return [event for event in found if event.get("transactionId") or not frontdesk_only]


def texts_to(stack, number: str = CALLER) -> list[dict]:
    return [message for message in stack.acs.outbox() if message.get("to") == number]


def office_mail(stack, *, subject_has: str = "") -> list[dict]:
    return [mail for mail in stack.graph.outbox()
            if OFFICE in mail.get("to", []) and subject_has in mail.get("subject", "")]


def messages_for_office(stack) -> list[dict]:
    """E-mails of messages taken by the receptionist (not booking notifications)."""
    return [mail for mail in stack.graph.outbox() if mail.get("subject", "").startswith(("Call back", "URGENT"))]


def appointments(stack) -> list[dict]:
    return stack.dataverse.records("appointments")


def said(call) -> str:
    return " ".join(call.said)


def spoken_day(instant: datetime) -> str:
    """How the receptionist names a day: ``Wednesday, November 25th``."""
    moment = local(instant)
    suffix = "th" if 10 <= moment.day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(moment.day % 10, "th")
    return f"{moment.strftime('%A')}, {moment.strftime('%B')} {moment.day}{suffix}"


def spoken_clock(instant: datetime) -> str:
    """How the receptionist says a time of day: ``10 AM``, ``2:30 PM``, ``noon``."""
    moment = local(instant)
    if (moment.hour, moment.minute) == (12, 0):
        return "noon"
    hour = moment.hour % 12 or 12
    suffix = "AM" if moment.hour < 12 else "PM"
    return f"{hour} {suffix}" if moment.minute == 0 else f"{hour}:{moment.minute:02d} {suffix}"


async def eventually(check, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``check()`` (sync) until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


def restart_host(stack):
    """Lose the worker mid-flight: a new development host resumes from storage (see LocalStack.restart_host)."""
    return stack.restart_host()


