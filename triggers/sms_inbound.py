"""Inbound SMS webhooks (routes under /api): texts customers send, and carriers' delivery reports.

- ``POST sms/twilio/incoming``: Twilio's "A message comes in" webhook. ``POST sms/twilio/status``: the status
  callback of every text Frontdesk sends through Twilio. Both are authenticated exactly like the voice
  webhooks, by ``X-Twilio-Signature`` over the public URL and the form (triggers/voice.py ``verified_form``);
  the answer to a text is TwiML: ``<Response><Message>..</Message></Response>`` or an empty ``<Response/>``.
- ``POST sms/acs/events?key=<secret>``: the Event Grid subscription on the ACS resource
  (``Microsoft.Communication.SMSReceived`` and ``SMSDeliveryReportReceived``, Event Grid schema). The secret
  (``SMS__EVENT_GRID_SECRET``, held in Key Vault and written into the subscription's endpoint URL by the
  Bicep) is compared in constant time before the body is read; the subscription validation handshake
  (``Microsoft.EventGrid.SubscriptionValidationEvent`` -> ``{"validationResponse": code}``) needs it too, so
  nobody else can point a subscription here. Events older than Event Grid's retry window are refused.
  Replies to ACS texts go out through the SMS port (ACS has no reply-in-the-answer).

A forged, unsigned or replayed request gets 403 and changes nothing; a message or event delivered twice is
acted on once (shared/services/sms_inbound.py and its ledger). The keyword logic lives in
shared/services/sms_inbound.py; these functions only check, parse and answer.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime, timedelta
from xml.sax.saxutils import escape

import azure.durable_functions as df
import azure.functions as func

from shared.logs import get_logger, mask_phone

bp = df.Blueprint()
log = get_logger(__name__)

MAX_EVENT_BODY_BYTES = 1024 * 1024  # Event Grid batches are at most 1 MB
# Event Grid retries a delivery for up to 24 hours (the default event time-to-live); anything older is a replay.
MAX_EVENT_AGE = timedelta(hours=25)
VALIDATION_EVENT = "Microsoft.EventGrid.SubscriptionValidationEvent"
SMS_RECEIVED = "Microsoft.Communication.SMSReceived"
DELIVERY_REPORT = "Microsoft.Communication.SMSDeliveryReportReceived"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _services():
    from shared.services.container import get_services
    return get_services()


def twiml(reply: str | None) -> func.HttpResponse:
    """TwiML answering a text: one ``<Message>`` or nothing."""
    from triggers.voice import twiml_response
    if not reply:
        return twiml_response(EMPTY_TWIML)
    return twiml_response(f'<?xml version="1.0" encoding="UTF-8"?><Response><Message>{escape(reply)}'
                          f'</Message></Response>')


def _sender_e164(raw: str | None) -> str | None:
    """The sender in E.164, or None for a short code, an alphanumeric id or garbage (nobody to look up)."""
    from shared.domain.phones import InvalidPhoneNumber, to_e164
    if not raw or not raw.startswith("+"):
        return None
    try:
        return to_e164(raw, _services().settings.sms.default_region)
    except InvalidPhoneNumber:
        return None


def _offer_answerer(client):
    """Take a YES to a waitlist offer through the offer's orchestration (``waitlist.handle_waitlist_reply``)."""
    async def answer_offer(sender: str, text: str) -> str | None:
        from shared.services import waitlist
        return await waitlist.handle_waitlist_reply(_services(), sender, text, client)
    return answer_offer


def _cancel_starter(client):
    """Start the cancel saga exactly as ``POST /api/bookings/{id}/cancel`` does (same instance id and input)."""
    async def start_cancel(booking, reason: str) -> None:
        from shared import clock
        from shared.services.contracts import CANCEL_SAGA, CancelInput, cancel_instance_id
        from triggers.booking_api import SagaRun
        payload = CancelInput(booking_id=booking.id, reason=reason, notify_customer=True,
                              requested_at=clock.now()).model_dump(mode="json", by_alias=True)
        await SagaRun(client, cancel_instance_id(booking.id)).start_or_join(CANCEL_SAGA, payload,
                                                                             restart_finished=True)
    return start_cancel


# ---------------------------------------------------------------- Twilio

@bp.route(route="sms/twilio/incoming", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def sms_twilio_incoming(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """A customer texted the business's Twilio number."""
    from shared import clock
    from shared.runtime import ensure_started
    from shared.services.sms_inbound import InboundSms, InboundText
    from triggers.voice import Refused, refused_response, verified_form
    ensure_started()
    try:
        form = verified_form(req, required="MessageSid")
    except Refused as error:
        return refused_response(error)
    sender = _sender_e164(form.get("From"))
    if sender is None:
        log.info("text %s from a sender that is not a phone number; ignored", form["MessageSid"])
        return twiml(None)
    message = InboundText("twilio", form["MessageSid"], sender, form.get("Body", ""), clock.now())
    try:
        reply = await InboundSms(_services()).receive(message, _cancel_starter(client), _offer_answerer(client))
    except Exception:
        log.exception("inbound text from %s could not be handled", mask_phone(sender))
        return func.HttpResponse(status_code=500)
    return twiml(reply)


@bp.route(route="sms/twilio/status", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
async def sms_twilio_status(req: func.HttpRequest) -> func.HttpResponse:
    """Twilio's status callback for a text Frontdesk sent (queued, sent, delivered, undelivered, failed)."""
    from shared.runtime import ensure_started
    from shared.services.sms_inbound import InboundSms, twilio_report
    from triggers.voice import Refused, refused_response, verified_form
    ensure_started()
    try:
        form = verified_form(req, required="MessageSid")
    except Refused as error:
        return refused_response(error)
    report = twilio_report(form["MessageSid"], form.get("MessageStatus") or form.get("SmsStatus") or "",
                           form.get("ErrorCode"))
    try:
        await InboundSms(_services()).report(report)
    except Exception:
        log.exception("Twilio status callback for %s could not be recorded", report.message_id)
        return func.HttpResponse(status_code=500)
    return func.HttpResponse(status_code=204)


# ---------------------------------------------------------------- ACS through Event Grid

def _event_grid_key_ok(req: func.HttpRequest) -> bool:
    secret = _services().settings.sms.event_grid_secret
    expected = secret.get_secret_value() if secret is not None else ""
    given = req.params.get("key") or ""
    if not expected or expected.startswith("@Microsoft.KeyVault("):
        log.error("SMS__EVENT_GRID_SECRET is not set: every ACS event delivery is refused")
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def _parse_events(req: func.HttpRequest) -> list[dict] | None:
    body = req.get_body() or b""
    if len(body) > MAX_EVENT_BODY_BYTES:
        return None
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(events, dict):
        events = [events]
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        return None
    return events


def _event_time(event: dict) -> datetime | None:
    from shared.domain.booking import as_utc
    try:
        return as_utc(datetime.fromisoformat(str(event.get("eventTime", "")).replace("Z", "+00:00")))
    except ValueError:
        return None


def _json(body: dict, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


@bp.route(route="sms/acs/events", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def sms_acs_events(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Event Grid delivers ACS SMS events (and, once, the subscription validation handshake)."""
    from shared import clock
    from shared.http import error_response
    from shared.runtime import ensure_started
    ensure_started()
    if not _event_grid_key_ok(req):
        log.warning("ACS event delivery refused: wrong or missing key")
        return error_response(403, "forbidden", "invalid key")
    events = _parse_events(req)
    if events is None:
        return error_response(400, "bad_request", "the body is not an Event Grid event array")
    validation = next((e for e in events if e.get("eventType") == VALIDATION_EVENT), None)
    if validation is not None:
        code = (validation.get("data") or {}).get("validationCode")
        if not isinstance(code, str) or not code:
            return error_response(400, "bad_request", "validationCode is missing")
        log.info("Event Grid subscription validated")
        return _json({"validationResponse": code})
    now = clock.now()
    fresh = [e for e in events if (_event_time(e) or now - 2 * MAX_EVENT_AGE) > now - MAX_EVENT_AGE]
    if events and not fresh:
        log.warning("ACS event delivery refused: every event is older than %s (a replay)", MAX_EVENT_AGE)
        return error_response(403, "forbidden", "events too old")
    try:
        for event in fresh:
            await _acs_event(event, client)
    except Exception:
        log.exception("ACS event could not be handled; Event Grid will retry")
        return func.HttpResponse(status_code=500)
    return func.HttpResponse(status_code=200)


async def _acs_event(event: dict, client) -> None:
    from shared import clock
    from shared.services.sms_inbound import InboundSms, InboundText, acs_report
    data = event.get("data") or {}
    kind = event.get("eventType")
    inbound = InboundSms(_services())
    if kind == DELIVERY_REPORT:
        if data.get("messageId"):
            await inbound.report(acs_report(data["messageId"], data.get("deliveryStatus", ""),
                                            data.get("deliveryStatusDetails")))
        return
    if kind != SMS_RECEIVED:
        log.info("ignored Event Grid event of type %s", kind)
        return
    sender = _sender_e164(data.get("from"))
    message_id = data.get("messageId") or event.get("id")
    if sender is None or not message_id:
        log.info("ACS text %s without a phone number sender; ignored", message_id)
        return
    message = InboundText("acs", str(message_id), sender, str(data.get("message") or ""),
                          _event_time(event) or clock.now())
    reply = await inbound.receive(message, _cancel_starter(client), _offer_answerer(client))
    if reply:
        await _reply_by_acs(sender, reply, message.message_id)


async def _reply_by_acs(to: str, body: str, message_id: str) -> None:
    """Send the answer to an ACS text through the SMS port, once per inbound message (keyed)."""
    from shared.errors import ExternalServiceError, OptedOutError
    try:
        await _services().sms.send_sms(to, body, tag="sms-reply", key=f"sms-reply:acs:{message_id}")
    except OptedOutError:
        log.info("no reply to %s: opted out", mask_phone(to))
    except ExternalServiceError as exc:
        # The text was acted on; only the answer is lost. Event Grid must not re-deliver (and re-act).
        log.warning("reply to %s not sent: %s", mask_phone(to), type(exc).__name__)
