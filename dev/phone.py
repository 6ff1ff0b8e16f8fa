"""The terminal phone: call Frontdesk's receptionist from a terminal (or a test) speaking Twilio's webhook protocol.

It does what Twilio Voice does for a call to the business number: POSTs signed form requests
(``X-Twilio-Signature``, the auth token's HMAC of the URL and the fields) to ``voice/incoming``, runs
the TwiML it gets -- ``<Say>`` is printed, ``<Gather action>`` waits for the caller and posts what
they say as ``SpeechResult`` (nothing at all for silence), ``<Redirect>`` is followed, ``<Dial>``
transfers, ``<Hangup>`` ends -- and posts the status callback (``voice/status``) when the call ends.

Usage::

    python -m dev.phone                                  # starts its own local stack, then rings it
    python -m dev.phone --url http://127.0.0.1:7071 --token <TWILIO__AUTH_TOKEN of that stack>
    python -m dev.phone --script calls.txt               # one caller line per line; an empty line is silence

Type what the caller says; an empty line is silence; ``/hangup`` hangs up. When it started its own stack,
it prints how the call ended (booked, message taken, transferred, abandoned) from the call's record.

From Python (tests, the demo, the benchmark)::

    phone = Phone(stack.host.base_url, auth_token, public_base_url=stack.env["PUBLIC_BASE_URL"])
    call = await phone.call(caller="+13125550188")
    await call.say("my kitchen sink is leaking")        # -> what the receptionist said back
    await call.silence(); await call.hang_up()
    call = await place_call(phone, CallScript(["hi, my sink is leaking", ..., None]))   # None: silence
    call = await call_as(phone, Persona(name="maria gonzalez", when="friday morning"))  # answers what is asked
    call.transcript                                     # [("receptionist", "..."), ("caller", "..."), ...]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

DEFAULT_CALLER = "+13125550188"
DEFAULT_BUSINESS_NUMBER = "+13125550100"
MAX_REDIRECTS = 40  # a receptionist stuck redirecting is a bug; stop rather than loop forever
API_VERSION = "2010-04-01"


class PhoneError(Exception):
    """The receptionist answered something a phone cannot follow (an HTTP error, TwiML it does not know)."""


@dataclass
class Exchange:
    """One webhook: where it went with what, how long the server took, and what it answered."""

    url: str
    params: dict[str, str]
    seconds: float
    status: int
    body: str

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


class Phone:
    """Rings the receptionist at ``base_url`` (the function app), signing requests as Twilio does."""

    def __init__(self, base_url: str, auth_token: str, *, public_base_url: str | None = None,
                 route_prefix: str = "api", account_sid: str | None = None,
                 business_number: str = DEFAULT_BUSINESS_NUMBER, timeout: float = 20.0):
        self.base_url = base_url.rstrip("/")
        self.public_base_url = (public_base_url or base_url).rstrip("/")
        self.prefix = f"/{route_prefix.strip('/')}" if route_prefix else ""
        self.auth_token = auth_token
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.business_number = business_number
        self._http = httpx.AsyncClient(timeout=timeout)

    def url(self, route: str) -> str:
        return f"{self.public_base_url}{self.prefix}/{route}"

    async def call(self, caller: str | None = DEFAULT_CALLER, *, call_sid: str | None = None) -> "Call":
        """Ring the business number from ``caller`` (None: a withheld number) and hear the greeting."""
        call = Call(self, call_sid or "CA" + secrets.token_hex(16), caller)
        await call.ring()
        return call

    def sign(self, url: str, params: dict[str, str]) -> str:
        from twilio.request_validator import RequestValidator
        return RequestValidator(self.auth_token).compute_signature(url, params)

    async def post(self, url: str, params: dict[str, str], *, signature: str | None = "sign") -> httpx.Response:
        """POST ``params`` to the public ``url`` (sent to ``base_url``), signed unless told otherwise."""
        headers = {}
        if signature == "sign":
            headers["X-Twilio-Signature"] = self.sign(url, params)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        parts = urlsplit(url)
        target = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return await self._http.post(target, data=params, headers=headers)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "Phone":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()


@dataclass
class Call:
    """One call in progress: the transcript so far and what the receptionist is waiting for."""

    phone: Phone
    sid: str
    caller: str | None
    transcript: list[tuple[str, str]] = field(default_factory=list)
    state: str = "ringing"  # ringing, listening, redirecting, transferred, ended, hung up
    transferred_to: str | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    _action: str | None = None  # where the next speech (or the dial result) goes
    started: float = field(default_factory=time.monotonic)

    # ------------------------------------------------------------ what a caller does

    async def ring(self) -> list[str]:
        return await self._send(self.phone.url("voice/incoming"), self._params(CallStatus="ringing"))

    async def say(self, text: str, *, follow_redirects: bool = True) -> list[str]:
        """Say ``text`` to a listening receptionist; returns what it said back.

        ``follow_redirects=False`` stops at the first ``<Redirect>`` (the call is then ``redirecting``:
        :meth:`resume` follows it), to act while the receptionist is busy, e.g. hang up mid-hold.
        """
        self._require("listening")
        self.transcript.append(("caller", text))
        return await self._send(self._action, self._params(SpeechResult=text, Confidence="0.91"),
                                follow=follow_redirects)

    async def resume(self) -> list[str]:
        """Follow the redirect a ``follow_redirects=False`` turn stopped at."""
        self._require("redirecting")
        return await self._send(self._action, self._params())

    async def silence(self) -> list[str]:
        """Say nothing until the gather times out (Twilio posts without a SpeechResult)."""
        self._require("listening")
        self.transcript.append(("caller", "(silence)"))
        return await self._send(self._action, self._params())

    async def transfer_ends(self, dial_status: str = "completed") -> list[str]:
        """The transferred leg ended (``no-answer``, ``busy``...): Twilio posts the dial action."""
        self._require("transferred")
        return await self._send(self._action, self._params(DialCallStatus=dial_status))

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio posts the status callback with ``completed``."""
        if self.state == "hung up":
            return
        if self.state != "ended":
            self.transcript.append(("caller", "(hangs up)"))
        self.state = "hung up"
        duration = str(max(1, int(time.monotonic() - self.started)))
        await self._post(self.phone.url("voice/status"), self._params(CallStatus="completed", CallDuration=duration))

    async def retry(self, exchange: Exchange | None = None) -> str:
        """Send a webhook again exactly as before (what Twilio does after a timeout; default: the last one).
        Returns the raw answer."""
        exchange = exchange or self.exchanges[-1]
        response = await self.phone.post(exchange.url, exchange.params)
        return response.text

    # ------------------------------------------------------------ reading the transcript

    @property
    def said(self) -> list[str]:
        """Everything the receptionist said, in order."""
        return [text for who, text in self.transcript if who == "receptionist"]

    @property
    def text(self) -> str:
        return "\n".join(f"{who.capitalize()}: {line}" for who, line in self.transcript)

    @property
    def listening(self) -> bool:
        return self.state == "listening"

    # ------------------------------------------------------------ the protocol

    def _params(self, **extra: str) -> dict[str, str]:
        caller = self.caller or "anonymous"
        params = {"AccountSid": self.phone.account_sid, "ApiVersion": API_VERSION, "CallSid": self.sid,
                  "CallStatus": "in-progress", "Direction": "inbound", "From": caller, "Caller": caller,
                  "To": self.phone.business_number, "Called": self.phone.business_number}
        params.update(extra)
        return params

    def _require(self, state: str) -> None:
        if self.state != state:
            raise PhoneError(f"the call is {self.state}, not {state}")

    async def _post(self, url: str, params: dict[str, str]) -> httpx.Response:
        started = time.perf_counter()
        response = await self.phone.post(url, params)
        self.exchanges.append(Exchange(url, dict(params), time.perf_counter() - started, response.status_code,
                                       response.text))
        return response

    async def _send(self, url: str, params: dict[str, str], *, follow: bool = True) -> list[str]:
        """Post a webhook and run the TwiML it answers, following redirects; the lines said."""
        said: list[str] = []
        for _ in range(MAX_REDIRECTS):
            response = await self._post(url, params)
            if response.status_code != 200:
                raise PhoneError(f"{urlsplit(url).path} answered {response.status_code}: {response.text[:200]}")
            redirect = self._run(response.text, said)
            if redirect is None:
                return said
            if not follow:
                self.state, self._action = "redirecting", redirect
                return said
            url, params = redirect, self._params()
        raise PhoneError(f"more than {MAX_REDIRECTS} redirects in a row")

    def _run(self, twiml: str, said: list[str]) -> str | None:
        """Play a TwiML document; the URL of a redirect to follow, else None (waiting or ended)."""
        try:
            root = ElementTree.fromstring(twiml)
        except ElementTree.ParseError as exc:
            raise PhoneError(f"not TwiML: {twiml[:200]}") from exc
        if root.tag != "Response":
            raise PhoneError(f"TwiML must be a <Response>, got <{root.tag}>")
        for verb in root:
            if verb.tag == "Say":
                self._hear(verb, said)
            elif verb.tag == "Pause":
                continue
            elif verb.tag == "Gather":
                for inner in verb:
                    if inner.tag == "Say":
                        self._hear(inner, said)
                self.state, self._action = "listening", verb.get("action")
                return None
            elif verb.tag == "Redirect":
                return (verb.text or "").strip()
            elif verb.tag == "Dial":
                self.state, self._action = "transferred", verb.get("action")
                self.transferred_to = (verb.text or "").strip() or verb.findtext("Number", "").strip()
                self.transcript.append(("receptionist", f"(transfers the call to {self.transferred_to})"))
                return None
            elif verb.tag == "Hangup":
                self.state = "ended"
                return None
            else:
                raise PhoneError(f"the phone does not know <{verb.tag}>")
        self.state = "ended"  # Twilio hangs up when the document runs out
        return None

    def _hear(self, verb, said: list[str]) -> None:
        text = " ".join((verb.text or "").split())
        if text:
            said.append(text)
            self.transcript.append(("receptionist", text))


@dataclass
class CallScript:
    """What a caller will say, line by line; ``None`` is a silence. ``hang_up``: hang up at the end."""

    lines: list[str | None]
    caller: str | None = DEFAULT_CALLER
    hang_up: bool = True


async def place_call(phone: Phone, script: CallScript) -> Call:
    """Ring, say each line while the receptionist listens, then hang up (if the script says so)."""
    call = await phone.call(script.caller)
    for line in script.lines:
        if not call.listening:
            break
        if line is None:
            await call.silence()
        else:
            await call.say(line)
    if script.hang_up and call.state != "hung up":
        await call.hang_up()
    return call


@dataclass
class Persona:
    """A caller who answers whatever the receptionist asks from their own details (the demo, the benchmark)."""

    need: str = "hi, my kitchen sink is leaking"
    address: str = "2400 north lincoln avenue"
    postal_code: str = "60614"
    name: str = "maria gonzalez"
    when: str = "as soon as possible"
    number: str | None = DEFAULT_CALLER
    note: str = "please call me back"

    def answer(self, prompt: str) -> str:
        """What this caller says to ``prompt`` (the receptionist's last line)."""
        text = prompt.lower()
        if "anything else" in text:
            return "no thanks, that's all"
        if "separate visit" in text or "separate from the one" in text:
            return "no"
        if "how can i help" in text or "what kind of work" in text or "what else can i help" in text:
            return self.need
        if text.startswith("is that ") and " or " in text:
            return text.rsplit(" or ", 1)[1].rstrip("?")  # which service: the last one named
        if "address" in text:
            return f"{self.address} {self.postal_code}"
        if "zip" in text:
            return self.postal_code
        if "your name" in text:
            return self.name
        if "calling from" in text or "call you back at" in text:
            return "yes"
        if "best number" in text:
            return " ".join(char for char in (self.number or "") if char.isdigit())
        if "when would" in text or "what day or time" in text:
            return self.when
        if "shall i book it" in text:
            return "yes, please"
        if "pass along" in text:
            return self.note
        return "the first one"  # which works better / does that work / would either of those work


async def call_as(phone: Phone, persona: Persona, *, max_turns: int = 30,
                  think: Callable[[], float] | None = None) -> Call:
    """Ring as ``persona`` and answer every question until the receptionist ends the call; then hang up.

    ``think`` gives the seconds to wait before each answer (a person listens to the prompt and speaks;
    Twilio's speech recognition adds its own second or two); default: answer at once.
    """
    call = await phone.call(persona.number)
    for _ in range(max_turns):
        if not call.listening:
            break
        if think is not None:
            await asyncio.sleep(think())
        await call.say(persona.answer(call.said[-1]))
    await call.hang_up()
    return call


# ---------------------------------------------------------------- the terminal

async def _converse(phone: Phone, caller: str | None, lines: list[str] | None, *, show_outcome: bool = False) -> None:
    call = await phone.call(caller)
    _print_new(call, 0)
    shown = len(call.transcript)
    while call.listening:
        if lines is not None:
            if not lines:
                break
            text = lines.pop(0)
            print(f"You: {text}")
        else:
            try:
                text = await asyncio.to_thread(input, "You: ")
            except EOFError:
                break
        if text.strip() == "/hangup":
            break
        if text.strip():
            await call.say(text.strip())
        else:
            await call.silence()
        shown = _print_new(call, shown)
    if call.state == "transferred":
        print("(the call was transferred; press Enter to end it)")
    await call.hang_up()
    slowest = max((e.seconds for e in call.exchanges), default=0.0)
    print(f"(call ended: {len(call.exchanges)} webhooks, slowest {slowest * 1000:.0f} ms)")
    if show_outcome:
        print(await outcome_of(call.sid))


async def outcome_of(call_sid: str) -> str:
    """How the call ended, from its record in the local stack's storage (this process runs the app)."""
    from shared.adapters.storage import aclose_loop_clients
    from shared.services.container import get_services
    from shared.services.voice import CallRecord
    try:
        stored = await get_services().calls.get(call_sid)
    finally:
        await aclose_loop_clients()  # the store's clients of this (the phone's) event loop
    if stored is None:
        return "(outcome: unknown -- no record of the call)"
    state = CallRecord.model_validate(stored.value).dialog
    parts = [f"outcome: {(state.outcome or 'none').replace('_', ' ')}"]
    if state.booked:
        parts.append(f"{len(state.booked)} booking{'s' if len(state.booked) > 1 else ''}")
    if state.message_reason:
        parts.append(f"message for the office: {state.message_reason}")
    parts.append(f"{state.turns} caller turns")
    return f"({'; '.join(parts)})"


def _print_new(call: Call, shown: int) -> int:
    for who, text in call.transcript[shown:]:
        if who == "receptionist":
            print(f"Receptionist: {text}")
    return len(call.transcript)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dev.phone", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the function app (e.g. http://127.0.0.1:7071); default: start a local stack")
    parser.add_argument("--token", help="the Twilio auth token the app checks signatures with (TWILIO__AUTH_TOKEN)")
    parser.add_argument("--public-url", help="PUBLIC_BASE_URL of the app, when it differs from --url")
    parser.add_argument("--from", dest="caller", default=DEFAULT_CALLER, help="caller id (E.164); 'anonymous'")
    parser.add_argument("--script", help="a file of caller lines (an empty line is silence)")
    args = parser.parse_args(argv)
    import os
    lines = None
    if args.script:
        with open(args.script, encoding="utf-8") as handle:
            lines = [line.rstrip("\n") for line in handle]
    caller = None if args.caller == "anonymous" else args.caller
    if args.url:
        token = args.token or os.environ.get("TWILIO__AUTH_TOKEN")
        if not token:
            parser.error("--token (or TWILIO__AUTH_TOKEN) is needed to sign requests for a running app")
        return asyncio.run(_ring(args.url, token, args.public_url, caller, lines))
    from dev.stack import LocalStack
    from shared.logs import configure_logging
    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    print("Starting a local stack (Azurite, emulators, the development host)...")
    with LocalStack(extra_env={"LOG_LEVEL": "WARNING"}) as stack:
        return asyncio.run(_ring(stack.host.base_url, stack.env["TWILIO__AUTH_TOKEN"], stack.env["PUBLIC_BASE_URL"],
                                 caller, lines, show_outcome=True))


async def _ring(url: str, token: str, public_url: str | None, caller: str | None, lines: list[str] | None,
                *, show_outcome: bool = False) -> int:
    async with Phone(url, token, public_base_url=public_url) as phone:
        await _converse(phone, caller, lines, show_outcome=show_outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
