"""Frontdesk's SMS port: one sender, chosen by settings, that respects and remembers opt-outs.

``create_sms_sender(settings, opt_outs)`` returns an :class:`SmsPort`:

- ``SMS__PROVIDER=acs`` (default): Azure Communication Services (:mod:`shared.adapters.sms_acs`);
- ``SMS__PROVIDER=twilio``: Twilio Messaging (:mod:`shared.adapters.sms_twilio`);
- ``SMS__PROVIDER=none``: texts nothing and says so (``status="skipped"``).

Every text goes the same way: the number is normalised to E.164 in the business's region (an invalid
number is a :class:`PermanentError` before any request); the opt-out store is asked first, and a recipient
who opted out gets :class:`OptedOutError` without the gateway being called; when the gateway reports an
opt-out, it is recorded so the next text is refused locally. Personal data never reaches a log line in
full: numbers are masked, bodies are not logged.

At most once: a text sent with a ``key`` (the booking, the change and the channel) is recorded as an intent
in Table Storage (:mod:`shared.adapters.sms_intents`) before the gateway is called and marked accepted after.
A later attempt for the same key sends nothing when the intent is accepted; when its outcome was never
recorded (the worker died between the gateway's accept and the record), ACS is asked again with the same
repeatability id and first-sent time, which it answers without sending, and Twilio is first searched for the
message (:meth:`TwilioSmsGateway.find_accepted`). A refusal from the gateway (a 4xx answer: nothing was sent)
forgets the intent, so the next attempt starts afresh; an unknown outcome (timeout, 5xx) keeps it.
"""

from __future__ import annotations

import re
from typing import Protocol

from shared.config import Settings, SettingsError, is_loopback_url
from shared.errors import ExternalServiceError, OptedOutError, PermanentError
from shared.logs import get_logger, mask_phone
from shared.ports import SmsPort, SmsReceipt

# Refusals that do not prove nothing was sent: ACS no longer tracks the first attempt (412) or saw the id
# with another request. The intent is kept so that no later attempt sends blindly.
OUTCOME_UNKNOWN_CODES = frozenset({"RepeatabilityExpired", "RepeatabilityConflict"})

logger = get_logger(__name__)

# E.164, a 5-6 digit short code, or an alphanumeric sender id (1-11 characters, at least one letter).
_SENDER = re.compile(r"^(\+[1-9]\d{6,14}|\d{5,6}|(?=.*[A-Za-z])[A-Za-z0-9 +\-_&]{1,11})$")


class SmsGateway(Protocol):
    """One provider's way of handing a text to its network (the adapters in sms_acs / sms_twilio)."""

    name: str
    max_body_length: int

    async def send(self, to: str, body: str, *, tag: str | None = None, intent=None) -> SmsReceipt: ...

    async def aclose(self) -> None: ...


class IntentStore(Protocol):
    """What the sender needs of :class:`shared.adapters.sms_intents.SmsIntentStore`."""

    async def begin(self, key: str, *, to: str, body: str, provider: str): ...

    async def settle(self, intent, message_id: str) -> None: ...

    async def discard(self, intent) -> None: ...


class OptOutLookup(Protocol):
    """What the sender needs of :class:`shared.adapters.optouts.OptOutStore`."""

    async def is_opted_out(self, e164: str) -> bool: ...

    async def record_opt_out(self, e164: str, source: str) -> bool: ...


def normalise_recipient(to: str, default_region: str) -> str:
    """``to`` in E.164, or :class:`PermanentError` saying why it cannot be texted."""
    from shared.domain.phones import InvalidPhoneNumber, to_e164
    try:
        return to_e164(to, default_region)
    except InvalidPhoneNumber as exc:
        raise PermanentError(f"cannot text this number: {exc}", service="sms", code="InvalidPhoneNumber") from None


def check_body(body: str, max_length: int) -> None:
    if not isinstance(body, str) or not body.strip():
        raise PermanentError("cannot send an empty text message", service="sms", code="EmptyBody")
    if len(body) > max_length:
        raise PermanentError(f"text message is {len(body)} characters; the gateway takes at most {max_length}",
                             service="sms", code="BodyTooLong")


class SmsSender:
    """The :class:`SmsPort`: normalise, check opt-outs, send through the gateway, remember new opt-outs."""

    def __init__(self, gateway: SmsGateway, opt_outs: OptOutLookup, *, default_region: str = "US",
                 intents: IntentStore | None = None):
        self.gateway = gateway
        self._opt_outs = opt_outs
        self._region = default_region
        self._intents = intents

    @property
    def provider(self) -> str:
        return self.gateway.name

    async def send_sms(self, to: str, body: str, *, tag: str | None = None, key: str | None = None) -> SmsReceipt:
        """Text ``to``; with ``key`` (the same on every retry of one notification) at most once."""
        e164 = normalise_recipient(to, self._region)
        check_body(body, self.gateway.max_body_length)
        if await self._opt_outs.is_opted_out(e164):
            logger.info("not texting %s: opted out (remembered)", mask_phone(e164))
            raise OptedOutError("recipient has opted out of texts (STOP); not sent", service=self.gateway.name,
                                code="OptedOut")
        if key is None or self._intents is None:
            return await self._send(e164, body, tag, None)
        return await self._send_once(e164, body, tag, key)

    async def _send_once(self, e164: str, body: str, tag: str | None, key: str) -> SmsReceipt:
        intent = await self._intents.begin(key, to=e164, body=body, provider=self.gateway.name)
        if intent.status == "accepted":
            logger.info("text %s for %s was already accepted (message %s); not sent again", intent.request_id,
                        mask_phone(e164), intent.message_id)
            return SmsReceipt(message_id=intent.message_id or "", to=e164, provider=self.gateway.name)
        if not intent.fresh:
            logger.warning("text %s for %s: an earlier attempt's outcome was not recorded; checking before sending",
                           intent.request_id, mask_phone(e164))
            find = getattr(self.gateway, "find_accepted", None)
            found = await find(e164, intent) if find is not None else None
            if found is not None:
                await self._intents.settle(intent, found.message_id)
                return found
        try:
            receipt = await self._send(e164, body, tag, intent)
        except ExternalServiceError as exc:
            refused = isinstance(exc, OptedOutError) or (
                exc.status is not None and exc.status < 500 and exc.code not in OUTCOME_UNKNOWN_CODES)
            if refused:  # the gateway answered no: nothing went out, so a later attempt may send
                await self._intents.discard(intent)
            raise
        await self._intents.settle(intent, receipt.message_id)
        return receipt

    async def _send(self, e164: str, body: str, tag: str | None, intent) -> SmsReceipt:
        try:
            return await self.gateway.send(e164, body, tag=tag, intent=intent)
        except OptedOutError:
            await self._remember_opt_out(e164)
            raise

    async def _remember_opt_out(self, e164: str) -> None:
        try:
            await self._opt_outs.record_opt_out(e164, f"{self.gateway.name}:send")
        except ExternalServiceError as exc:
            # The opt-out itself is what the caller must hear about; the gateway will refuse again next time.
            logger.warning("could not remember the opt-out of %s: %s", mask_phone(e164), exc)

    async def aclose(self) -> None:
        await self.gateway.aclose()


class NoSmsSender:
    """``SMS__PROVIDER=none``: validates the number, texts nothing, and reports the text as skipped."""

    provider = "none"

    def __init__(self, *, default_region: str = "US"):
        self._region = default_region

    async def send_sms(self, to: str, body: str, *, tag: str | None = None, key: str | None = None) -> SmsReceipt:
        e164 = normalise_recipient(to, self._region)
        logger.info("SMS disabled (SMS__PROVIDER=none): not texting %s", mask_phone(e164))
        return SmsReceipt(message_id="", to=e164, provider="none", status="skipped")

    async def aclose(self) -> None:
        return None


def create_sms_sender(settings: Settings, opt_outs: OptOutLookup | None = None, *,
                      default_region: str | None = None, intents: IntentStore | None = None) -> SmsPort:
    """The SMS sender the settings ask for. ``opt_outs`` and ``intents`` default to the Table Storage stores.

    Raises :class:`SettingsError` naming each missing or unsafe setting.
    """
    provider = settings.sms.provider
    default_region = default_region or settings.sms.default_region
    if provider == "none":
        return NoSmsSender(default_region=default_region)
    gateway = build_acs_gateway(settings) if provider == "acs" else build_twilio_gateway(settings)
    if opt_outs is None:
        from shared.adapters.optouts import OptOutStore
        opt_outs = OptOutStore(settings)
    if intents is None:
        from shared.adapters.sms_intents import SmsIntentStore
        intents = SmsIntentStore(settings)
    return SmsSender(gateway, opt_outs, default_region=default_region, intents=intents)


def build_acs_gateway(settings: Settings):
    from shared.adapters.sms_acs import AcsSmsGateway
    endpoint = str(settings.acs.endpoint).rstrip("/") if settings.acs.endpoint else None
    _require(settings, [("ACS__ENDPOINT", endpoint)], endpoint_names=[("ACS__ENDPOINT", endpoint)])
    if settings.acs.access_key is not None:
        return AcsSmsGateway(endpoint, settings.sms.from_number, access_key=settings.acs.access_key.get_secret_value())
    from shared.adapters.credentials import get_credential
    return AcsSmsGateway(endpoint, settings.sms.from_number, credential=get_credential(settings.identity))


def build_twilio_gateway(settings: Settings):
    from shared.adapters.sms_twilio import TwilioSmsGateway
    twilio = settings.twilio
    base_url = str(twilio.api_base_url).rstrip("/") if twilio.api_base_url else None
    _require(settings, [("TWILIO__ACCOUNT_SID", twilio.account_sid), ("TWILIO__AUTH_TOKEN", twilio.auth_token)],
             endpoint_names=[("TWILIO__API_BASE_URL", base_url)])
    # Twilio posts each text's delivery status here (triggers/sms_inbound.py); without a public URL, nowhere.
    callback = (f"{str(settings.public_base_url).rstrip('/')}/api/sms/twilio/status"
                if settings.public_base_url else None)
    return TwilioSmsGateway(twilio.account_sid, twilio.auth_token.get_secret_value(), settings.sms.from_number,
                            api_base_url=base_url, status_callback=callback)


def _require(settings: Settings, required: list[tuple[str, object]],
             endpoint_names: list[tuple[str, str | None]]) -> None:
    """Raise :class:`SettingsError` for missing values, a bad sender, or credentials sent over plain http."""
    provider = settings.sms.provider
    problems = [(name, f"is required when SMS__PROVIDER={provider}") for name, value in required if not value]
    sender = settings.sms.from_number
    if not sender:
        problems.append(("SMS__FROM_NUMBER", f"is required when SMS__PROVIDER={provider}"))
    elif not _SENDER.match(sender):
        problems.append(("SMS__FROM_NUMBER", "must be E.164 (+15551234567), a short code or an alphanumeric sender id"))
    for name, url in endpoint_names:
        # Access keys and auth tokens must never cross the network unencrypted.
        if url and url.startswith("http://") and not is_loopback_url(url):
            problems.append((name, "must use https (plain http is only allowed for local emulators)"))
    if problems:
        raise SettingsError(problems)
