"""The main job on the local stack (``make demo``): start everything, check health, place a phone call, and stop.

It starts the local stack (Azurite, the emulators, the development host serving ``function_app``),
asks the app for its health over HTTP as a monitoring probe would and lists the registered functions.
Then it rings the receptionist with the terminal phone (``dev.phone``: signed Twilio webhooks) as a
caller with a leaking sink, prints the conversation, and shows what the call produced where people
look: the technician's Outlook event, the caller's text message, the Dynamics 365 appointment and
the owner's e-mail. Everything shuts down at the end. Exit status 0 means the stack came up healthy
and the call ended in a confirmed booking, which the caller then cancels by texting C twice (two-way SMS).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import textwrap
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo


def fetch_json(url: str) -> tuple[int, dict]:
    """GET ``url`` and return (status, JSON body), treating error statuses as answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def describe_function(info: dict) -> str:
    route = info.get("route")
    if route is not None:
        where = f"{','.join(info.get('methods') or [])} /api/{route} ({info.get('authLevel', '')})"
    else:
        where = info.get("schedule") or ""
    return f"  {info['name']:<28} {info['type']:<22} {where}".rstrip()


def section(title: str) -> None:
    print(f"\n== {title}")


def wrapped(text: str, indent: str = "    ") -> str:
    return textwrap.fill(" ".join(text.split()), width=100, initial_indent=indent, subsequent_indent=indent)


async def place_demo_call(stack) -> tuple[object, list[dict]]:
    """Ring the receptionist as a caller with a leaking sink; the call and its booking sagas' results."""
    from dev.phone import Persona, Phone, call_as
    from shared.services.container import get_services
    from shared.services.voice import CallRecord
    from shared.services.voice.actions import booking_id_of
    caller = Persona(need="hi, um, my kitchen sink is leaking pretty badly", address="2400 north lincoln avenue",
                     postal_code="60614", name="maria gonzalez", when="as soon as possible")
    async with Phone(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"],
                     public_base_url=stack.env["PUBLIC_BASE_URL"]) as phone:
        call = await call_as(phone, caller)
    stored = await get_services().calls.get(call.sid)
    record = CallRecord.model_validate(stored.value)
    results = []
    for key in record.dialog.booked:
        status = await stack.host.wait_for_instance_async(booking_id_of(key), timeout=60)
        output = status.output
        results.append(json.loads(output) if isinstance(output, str) else output)
    from shared.adapters.storage import aclose_loop_clients
    await aclose_loop_clients()
    return call, results


def show_call(stack, call, results: list[dict]) -> bool:
    """Print the transcript and what the call left in Outlook, the SMS outbox, Dynamics and the office inbox."""
    from shared.config import load_business_config
    section("The call (terminal phone -> Twilio webhooks -> the receptionist)")
    for who, line in call.transcript:
        print(wrapped(f"{who.capitalize()}: {line}", "  "))
    webhooks = len(call.exchanges)
    slowest = max(exchange.seconds for exchange in call.exchanges) * 1000
    print(f"  ({webhooks} webhooks, slowest {slowest:.0f} ms)")
    booked = [result for result in results if result.get("outcome") == "confirmed"]
    if not booked:
        print("\nThe call did not end in a booking.")
        return False
    booking = booked[-1]["booking"]
    config = load_business_config(str(stack.business_config_path))
    host = config.host(booking["hostId"])

    section(f"Outlook: {host.display_name}'s calendar ({host.mailbox})")
    for event in stack.graph.events(host.mailbox):
        if event.get("transactionId") == booking["id"]:
            start = datetime.fromisoformat(booking["start"]).astimezone(host.zone)
            print(f"  {event['subject']}")
            print(f"  {start:%A %d %B %Y, %H:%M} ({host.time_zone}), show as {event['showAs']}")
            print(f"  at {event['location']['displayName']}")

    section("Text message to the caller (ACS SMS emulator outbox)")
    for text in stack.acs.outbox():
        print(f"  to {text['to']} from {text['from']}:")
        print(wrapped(text["message"]))

    section("Dynamics 365 appointment (Dataverse emulator)")
    for appointment in stack.dataverse.records("appointments"):
        print(f"  {appointment.get('subject')}")
        print(f"  {appointment.get('scheduledstart')} - {appointment.get('scheduledend')}, "
              f"owner {appointment.get('_ownerid_value')}")
        print(wrapped((appointment.get("description") or "").replace("\n", " / ")[:400]))

    section("E-mail to the owner (Graph sendMail outbox)")
    for mail in stack.graph.outbox():
        print(f"  {mail['subject']}  ->  {', '.join(mail['to'])}")
    return True


def cancel_by_text(stack, call, results: list[dict]) -> bool:
    """The caller changes their mind: texts C, is asked to confirm, texts C again; the visit is cancelled
    everywhere (Outlook, Dynamics, a text back) through the same cancel saga as the API."""
    booking = next((r["booking"] for r in results if r.get("outcome") == "confirmed"), None)
    if booking is None:
        return False
    section("Later, the caller texts C to cancel (Twilio's signed inbound webhook)")
    for body in ("C", "C"):
        answer = stack.twilio.text(call.caller, body)
        print(f"  Caller: {body}")
        for reply in answer["replies"]:
            print(wrapped(f"Frontdesk: {reply}", "  "))
    status = stack.host.wait_for_instance(f"{booking['id']}-cancel", timeout=60)
    cancelled = status is not None and status.runtime_status.value == "Completed"
    mailbox = booking.get("outlookMailbox") or ""
    left = [e for e in stack.graph.events(mailbox) if e.get("transactionId")] if mailbox else []
    print(f"  cancel saga: {status.runtime_status.value if status else 'not started'}; "
          f"Outlook events left for the visit: {len(left)}")
    for appointment in stack.dataverse.records("appointments"):
        print(f"  Dynamics appointment state: {'Canceled' if appointment.get('statecode') == 2 else 'Open'}")
    texts = [t for t in stack.acs.outbox() if t.get("to") == call.caller]
    if texts:
        print(wrapped(f"Text to the caller: {texts[-1]['message']}", "  "))
    return cancelled and not left


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.demo", description=__doc__.split("\n")[0])
    parser.add_argument("--at", metavar="'DAY HH:MM'", type=local_moment, default=None,
                        help="place the call at the next such local time of the business (e.g. 'sat 10:00', "
                             "'wed 07:30'); default: now")
    return parser.parse_args(argv)


def local_moment(text: str) -> datetime:
    """``"wed 07:30"`` -> the next such wall-clock time in the example business's zone (aware UTC)."""
    from zoneinfo import ZoneInfo
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    try:
        day, wall = text.lower().split()
        hour, minute = (int(part) for part in wall.split(":"))
        weekday = days.index(day[:3])
        zone = ZoneInfo("America/Chicago")
        now = datetime.now(zone)
        for ahead in range(8):
            moment = (now + timedelta(days=ahead)).replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment.weekday() == weekday and moment > now:
                return moment.astimezone(timezone.utc)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"{text!r} is not like 'wed 07:30'")


def main(argv: list[str] | None = None) -> int:
    from dev.stack import LocalStack
    from shared.logs import configure_logging

    args = parse_args(argv)
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    started = time.perf_counter()
    with LocalStack(extra_env={"LOG_LEVEL": "WARNING"}) as stack:
        print(f"Local stack up in {time.perf_counter() - started:.1f} s:")
        print(stack.describe())
        if args.at is not None:  # the whole app reads the host's clock (shared.clock)
            stack.host.clock.travel_to(args.at)
            print(f"\nThe clock reads {args.at.astimezone(ZoneInfo('America/Chicago')):%A %H:%M} in Chicago.")
        status, health = fetch_json(stack.host.url("health"))
        print(f"\nGET /api/health -> {status}")
        print(json.dumps(health, indent=2))
        print("\nRegistered functions:")
        for info in stack.host.describe_functions():
            print(describe_function(info))
        call, results = asyncio.run(place_demo_call(stack))
        booked = show_call(stack, call, results)
        cancelled = booked and cancel_by_text(stack, call, results)
    print("\nLocal stack stopped.")
    return 0 if status == 200 and booked and cancelled else 1


if __name__ == "__main__":
    sys.exit(main())
