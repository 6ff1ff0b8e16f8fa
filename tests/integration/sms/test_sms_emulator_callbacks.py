"""Emulator fidelity, the other way round: the gateways calling the app. A small receiver stands in for the app
and checks what a real one would: Twilio's signature on inbound texts and status callbacks, TwiML replies sent
back, Event Grid's validation handshake, event shape, at-least-once delivery and retries."""

from __future__ import annotations

import json
import threading

import httpx
import pytest
from aiohttp import web

CUSTOMER = "+14155552671"


class Receiver:
    """Records every request; answers with what the test queued (status, body), else 200 and an empty body."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.answers: list[tuple[int, str, str]] = []
        self.server = None

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        return app

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self.lock:
            self.requests.append({"path": request.path_qs, "headers": dict(request.headers), "body": body})
            answer = self.answers.pop(0) if self.answers else None
        if answer is None and request.headers.get("aeg-event-type") == "SubscriptionValidation":
            code = json.loads(body)[0]["data"]["validationCode"]
            return web.json_response({"validationResponse": code})
        status, text, mimetype = answer or (200, "", "text/plain")
        return web.Response(status=status, text=text, content_type=mimetype)

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"


@pytest.fixture(scope="module")
def receiver_server():
    from dev.serving import BackgroundServer
    receiver = Receiver()
    receiver.server = BackgroundServer(receiver.make_app, name="sms-receiver").start()
    yield receiver
    receiver.server.stop()


@pytest.fixture
def receiver(receiver_server):
    with receiver_server.lock:
        receiver_server.requests.clear()
        receiver_server.answers.clear()
    return receiver_server


@pytest.fixture(autouse=True)
def _disconnect(twilio_emulator, acs_emulator):
    """The session's emulators keep webhooks across resets (as the real services do): drop this module's."""
    yield
    twilio_emulator.set_sms_url(None)
    httpx.delete(f"{acs_emulator.base_url}/_emulator/subscriptions").raise_for_status()


def _form(request: dict) -> dict[str, str]:
    from urllib.parse import parse_qsl
    return dict(parse_qsl(request["body"].decode()))


# ---------------------------------------------------------------- Twilio

def test_twilio_posts_a_signed_inbound_text_and_sends_the_twiml_reply(twilio, receiver):
    from twilio.request_validator import RequestValidator
    twilio.set_sms_url(receiver.url("/api/sms/twilio/incoming"))
    receiver.answers.append((200, "<Response><Message>Hi &amp; thanks</Message></Response>", "text/xml"))

    answer = twilio.text(CUSTOMER, "hello")

    [request] = receiver.requests
    form = _form(request)
    assert form["From"] == CUSTOMER and form["To"] == twilio.from_number and form["Body"] == "hello"
    assert form["MessageSid"] == answer["sid"] and form["AccountSid"] == twilio.account_sid
    validator = RequestValidator(twilio.auth_token)
    assert validator.validate(receiver.url("/api/sms/twilio/incoming"), form, request["headers"]["X-Twilio-Signature"])
    assert not RequestValidator("other-token").validate(receiver.url("/api/sms/twilio/incoming"), form,
                                                        request["headers"]["X-Twilio-Signature"])
    assert answer["replies"] == ["Hi & thanks"]
    [reply] = twilio.outbox()
    assert reply["to"] == CUSTOMER and reply["from"] == twilio.from_number and reply["body"] == "Hi & thanks"


def test_twilio_stop_reaches_the_webhook_with_its_opt_out_type_and_no_reply_goes_out(twilio, receiver):
    twilio.set_sms_url(receiver.url("/sms"))
    receiver.answers.append((200, "<Response><Message>Bye</Message></Response>", "text/xml"))
    answer = twilio.text(CUSTOMER, "STOP")
    assert _form(receiver.requests[0])["OptOutType"] == "STOP"
    assert answer["keyword"] == "STOP" and answer["replies"] == [] and twilio.outbox() == []


def test_twilio_redelivers_the_same_message_and_reports_status_to_the_callback(twilio, receiver):
    twilio.set_sms_url(receiver.url("/sms"))
    first = twilio.text(CUSTOMER, "C")
    twilio.redeliver(first["sid"])
    assert [_form(r)["MessageSid"] for r in receiver.requests] == [first["sid"], first["sid"]]

    message = httpx.post(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
                         auth=(twilio.account_sid, twilio.auth_token),
                         data={"To": CUSTOMER, "From": twilio.from_number, "Body": "Your visit is confirmed",
                               "StatusCallback": receiver.url("/status")}).json()
    assert twilio.report_status(message["sid"], "undelivered", 30006) == {"posted": True, "status": 200}
    callback = receiver.requests[-1]
    form = _form(callback)
    assert callback["path"] == "/status"
    assert (form["MessageSid"], form["MessageStatus"], form["ErrorCode"]) == (message["sid"], "undelivered", "30006")
    from twilio.request_validator import RequestValidator
    assert RequestValidator(twilio.auth_token).validate(receiver.url("/status"), form,
                                                        callback["headers"]["X-Twilio-Signature"])


# ---------------------------------------------------------------- ACS through Event Grid

def test_a_subscription_needs_the_validation_handshake(acs, receiver):
    assert acs.subscribe(receiver.url("/events?key=k"))["created"] is True
    [handshake] = receiver.requests
    assert handshake["headers"]["aeg-event-type"] == "SubscriptionValidation"
    [event] = json.loads(handshake["body"])
    assert event["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent" and event["data"]["validationCode"]

    receiver.answers.append((403, "no", "text/plain"))
    assert acs.subscribe(receiver.url("/other"), name="refused")["created"] is False
    receiver.answers.append((200, json.dumps({"validationResponse": "wrong"}), "application/json"))
    assert acs.subscribe(receiver.url("/other"), name="wrong-code")["created"] is False


def test_inbound_texts_and_delivery_reports_are_delivered_as_event_grid_events(acs, receiver):
    acs.subscribe(receiver.url("/events?key=k"))
    receiver.requests.clear()
    acs.text(CUSTOMER, "Running late")
    [request] = receiver.requests
    assert request["path"] == "/events?key=k" and request["headers"]["aeg-event-type"] == "Notification"
    [event] = json.loads(request["body"])
    assert event["eventType"] == "Microsoft.Communication.SMSReceived"
    assert (event["data"]["from"], event["data"]["to"], event["data"]["message"]) == (
        CUSTOMER, acs.from_number, "Running late")
    assert event["data"]["messageId"].startswith("Incoming_") and event["topic"] and event["eventTime"]

    acs.mark_undeliverable(CUSTOMER, "Unreachable destination: landline")
    from dev.emulators.acs_sms import signed_headers
    url = f"{acs.endpoint}/sms?api-version=2021-03-07"
    body = json.dumps({"from": acs.from_number, "smsRecipients": [{"to": CUSTOMER}], "message": "hi",
                       "smsSendOptions": {"enableDeliveryReport": True}}).encode()
    assert httpx.post(url, content=body, headers=signed_headers(acs.access_key, "POST", url, body)).status_code == 202
    assert acs.outbox() == []  # accepted, never delivered
    receiver.requests.clear()
    receiver.answers.append((503, "busy", "text/plain"))  # the first attempt fails: the event stays pending
    assert [d["status"] for d in acs.deliver_events()] == [503]
    assert [d["status"] for d in acs.deliver_events()] == [200]
    assert acs.deliver_events() == []  # delivered: nothing pending
    report = json.loads(receiver.requests[-1]["body"])[0]
    assert report["eventType"] == "Microsoft.Communication.SMSDeliveryReportReceived"
    assert report["data"]["deliveryStatus"] == "Failed"
    assert report["data"]["deliveryStatusDetails"] == "Unreachable destination: landline"
    assert [d["status"] for d in acs.deliver_events(report["id"])] == [200]  # at least once: again on demand
    assert json.loads(receiver.requests[-1]["body"])[0]["id"] == report["id"]
