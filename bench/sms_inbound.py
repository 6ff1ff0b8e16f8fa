"""Response time of the inbound SMS webhooks (Twilio allows 15 s; Event Grid 30 s; aim: under 300 ms).

    .venv/bin/python -m bench.sms_inbound [--rounds 30] [--quick]

Starts the whole local stack, books one visit for a customer through ``POST /api/bookings``, points the Twilio
emulator's "A message comes in" webhook and an Event Grid subscription (validation handshake) at the app,
then times, client side, each signed request until its answer:

- ``twilio HELP``: signature, dedupe claim, opt-out keyword check, TwiML reply (no booking lookup);
- ``twilio free text``: as above plus the phone index lookup, the booking read and the owner's e-mail (Graph
  sendMail on the emulator);
- ``twilio R``: lookup and the manage link;
- ``twilio repeat``: a MessageSid already handled (the dedupe answer);
- ``acs free text``: one Event Grid event with the URL key, handled as above, plus the reply sent as a text
  through ACS.

Each request carries a new message id (except ``repeat``). A warm-up request of each kind is not counted. The
figures are recorded in docs/PERFORMANCE.md under "Inbound texts".
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone

PHONE = "+13125550188"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


async def book(stack) -> None:
    import httpx
    now = stack.host.clock.now()
    headers = {"x-functions-key": stack.host.function_key()}
    async with httpx.AsyncClient(base_url=stack.host.url(""), timeout=120, headers=headers) as api:
        slots = (await api.get("availability", params={
            "eventType": "plumbing-repair", "start": (now + timedelta(days=2)).isoformat(),
            "end": (now + timedelta(days=9)).isoformat()})).json()["slots"]
        body = {"eventType": "plumbing-repair", "start": slots[0]["start"], "timeZone": "America/Chicago",
                "customer": {"name": "Bench Customer", "phone": PHONE, "address": "100 Bench Street, Chicago, IL",
                             "postalCode": "60614"}}
        response = await api.post("bookings", json=body, headers={"Idempotency-Key": secrets.token_hex(8)})
        while response.status_code == 202:
            await asyncio.sleep(0.3)
            response = await api.get(response.json()["statusUrl"])
        assert response.status_code in (200, 201), response.text
        await stack.host.wait_for_instance_async(response.json()["id"], timeout=60)


async def measure(stack, rounds: int) -> dict[str, list[float]]:
    import httpx

    from dev.emulators.twilio_rest import signed_post_headers
    twilio_url = stack.host.url("sms/twilio/incoming")
    acs_url = stack.host.url(f"sms/acs/events?key={stack.env['SMS__EVENT_GRID_SECRET']}")
    token = stack.twilio.auth_token
    results: dict[str, list[float]] = {}
    repeat_sid = "SM" + uuid.uuid4().hex

    def twilio_form(body: str, sid: str | None = None) -> dict[str, str]:
        return {"MessageSid": sid or "SM" + uuid.uuid4().hex, "AccountSid": stack.twilio.account_sid,
                "From": PHONE, "To": stack.twilio.from_number, "Body": body, "NumMedia": "0"}

    def acs_event(body: str) -> list[dict]:
        return [{"id": str(uuid.uuid4()), "eventType": "Microsoft.Communication.SMSReceived",
                 "subject": "/phonenumber/18005550100", "eventTime": datetime.now(timezone.utc).isoformat(),
                 "dataVersion": "1.0", "metadataVersion": "1",
                 "data": {"messageId": f"Incoming_{uuid.uuid4()}", "from": PHONE, "to": stack.acs.from_number,
                          "message": body, "receivedTimestamp": datetime.now(timezone.utc).isoformat()}}]

    kinds = {
        "twilio HELP": lambda: ("twilio", twilio_form("HELP")),
        "twilio free text": lambda: ("twilio", twilio_form("Please use the side door")),
        "twilio R": lambda: ("twilio", twilio_form("R")),
        "twilio repeat (already handled)": lambda: ("twilio", twilio_form("Please use the side door", repeat_sid)),
        "acs free text (Event Grid)": lambda: ("acs", acs_event("Please use the side door")),
    }
    async with httpx.AsyncClient(timeout=60) as client:
        for name, make in kinds.items():
            samples = []
            for n in range(rounds + 1):
                gateway, payload = make()
                started = time.perf_counter()
                if gateway == "twilio":
                    response = await client.post(twilio_url, data=payload,
                                                 headers=signed_post_headers(token, twilio_url, payload))
                else:
                    response = await client.post(acs_url, json=payload, headers={"aeg-event-type": "Notification"})
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (name, response.status_code, response.text)
                if n:  # the first of each kind warms up
                    samples.append(elapsed * 1000)
            results[name] = samples
    return results


def report(results: dict[str, list[float]]) -> None:
    print("| request | samples | median | p95 | max |")
    print("|---|---|---|---|---|")
    for name, samples in results.items():
        print(f"| {name} | {len(samples)} | {statistics.median(samples):.0f} ms | {percentile(samples, 0.95):.0f} ms "
              f"| {max(samples):.0f} ms |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sms_inbound", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="measured requests of each kind (default 30)")
    parser.add_argument("--quick", action="store_true", help="3 of each (a smoke run)")
    args, _ = parser.parse_known_args(argv)
    from dev.stack import LocalStack
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    env = {"DURABLE_TASK_HUB": "benchsms", "LOG_LEVEL": "WARNING"}
    with LocalStack(table_prefix="bench" + uuid.uuid4().hex[:6], extra_env=env) as stack:
        stack.twilio.set_sms_url(stack.host.url("sms/twilio/incoming"))
        events_url = stack.host.url(f"sms/acs/events?key={stack.env['SMS__EVENT_GRID_SECRET']}")
        assert stack.acs.subscribe(events_url)["created"]
        asyncio.run(book(stack))
        report(asyncio.run(measure(stack, 3 if args.quick else args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
