"""Emulator fidelity: the ACS SMS and Twilio REST wire details Frontdesk relies on, checked with raw requests."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from dev.emulators.acs_sms import new_access_key, signed_headers

CUSTOMER = "+14155552671"


def _send_body(acs, to=CUSTOMER, **extra) -> bytes:
    return json.dumps({"from": acs.from_number, "smsRecipients": [{"to": to, **extra}], "message": "hi",
                       "smsSendOptions": {"enableDeliveryReport": False}}).encode()


def _post_signed(acs, body: bytes, *, path: str = "/sms?api-version=2021-03-07") -> httpx.Response:
    url = f"{acs.endpoint}{path}"
    return httpx.post(url, content=body, headers=signed_headers(acs.access_key, "POST", url, body))


def test_acs_accepts_a_correctly_signed_raw_request(acs):
    response = _post_signed(acs, _send_body(acs))

    assert response.status_code == 202
    [item] = response.json()["value"]
    assert item["successful"] is True and item["httpStatusCode"] == 202 and item["messageId"].startswith("Outgoing_")
    assert response.headers["MS-CV"]


SEND_PATH = "/sms?api-version=2021-03-07"


@pytest.mark.parametrize("forgery", ["wrong key", "body changed", "stale date", "future date", "other path",
                                     "other host", "no signature"])
def test_acs_refuses_forged_or_stale_signatures_with_401(acs, forgery):
    now = datetime.now(timezone.utc)
    signed_body = sent_body = _send_body(acs)
    signed_url = sent_url = f"{acs.endpoint}{SEND_PATH}"
    key, date = acs.access_key, now
    if forgery == "wrong key":
        key = new_access_key()
    elif forgery == "body changed":
        sent_body = _send_body(acs, to="+14155552672")
    elif forgery == "stale date":
        date = now - timedelta(minutes=16)
    elif forgery == "future date":
        date = now + timedelta(minutes=16)
    elif forgery == "other path":
        signed_url = f"{acs.endpoint}/sms?api-version=2099-01-01"
    elif forgery == "other host":
        signed_url = f"https://contoso.communication.azure.com{SEND_PATH}"
    headers = signed_headers(key, "POST", signed_url, signed_body, date=date)
    if forgery == "no signature":
        headers.pop("Authorization")

    response = httpx.post(sent_url, content=sent_body, headers=headers)

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "Denied", "message": "Denied by the resource provider."}}
    assert acs.outbox() == []
    assert acs.requests()[-1]["authorized"] is False


def _imf(moment: datetime) -> str:
    from email.utils import format_datetime
    return format_datetime(moment, usegmt=True)


def test_acs_answers_each_recipient_separately_and_honours_repeatability(acs):
    body = json.dumps({"from": acs.from_number, "message": "hi", "smsRecipients": [
        {"to": CUSTOMER, "repeatabilityRequestId": "5a1f1c2e-6d2a-4a8e-9c55-3c7f2b0f0a11",
         "repeatabilityFirstSent": _imf(datetime.now(timezone.utc))},
        {"to": "+112345678901"},
    ]}).encode()

    first = _post_signed(acs, body).json()["value"]
    again = _post_signed(acs, body).json()["value"]

    assert first[0]["successful"] and first[0]["repeatabilityResult"] == "accepted"
    assert first[1] == {"to": "+112345678901", "httpStatusCode": 400, "successful": False,
                        "errorMessage": "Invalid To phone number format."}
    assert again[0]["messageId"] == first[0]["messageId"]  # the repeated request is answered, not re-sent
    assert [m["to"] for m in acs.outbox()] == [CUSTOMER]


REPEAT_ID = "0b5e7d4c-1f2a-4c3b-8d9e-112233445566"


def _repeatable(acs, *, message="hi", first_sent=None, repeat_id=REPEAT_ID) -> dict:
    body = json.dumps({"from": acs.from_number, "message": message, "smsRecipients": [
        {"to": CUSTOMER, "repeatabilityRequestId": repeat_id,
         "repeatabilityFirstSent": first_sent or _imf(datetime.now(timezone.utc))}]}).encode()
    response = _post_signed(acs, body)
    assert response.status_code == 202
    return response.json()["value"][0]


def test_acs_repeatability_refuses_a_reused_id_for_another_message(acs):
    first = _repeatable(acs)
    other = _repeatable(acs, message="a different text")

    assert first["successful"] and first["repeatabilityResult"] == "accepted"
    assert (other["httpStatusCode"], other["successful"], other["repeatabilityResult"]) == (400, False, "rejected")
    assert [m["message"] for m in acs.outbox()] == ["hi"]


def test_acs_repeatability_outside_its_five_minute_window_is_412(acs):
    stale = _repeatable(acs, first_sent=_imf(datetime.now(timezone.utc) - timedelta(minutes=6)))
    fresh = _repeatable(acs, first_sent=_imf(datetime.now(timezone.utc) - timedelta(minutes=4)),
                        repeat_id="0b5e7d4c-1f2a-4c3b-8d9e-aabbccddeeff")

    assert (stale["httpStatusCode"], stale["repeatabilityResult"]) == (412, "rejected")
    assert fresh["successful"] and len(acs.outbox()) == 1


@pytest.mark.parametrize(("repeat_id", "first_sent"), [("not-a-guid", None), (REPEAT_ID, "yesterday")])
def test_acs_repeatability_with_malformed_headers_is_400(acs, repeat_id, first_sent):
    item = _repeatable(acs, repeat_id=repeat_id, first_sent=first_sent)
    assert (item["httpStatusCode"], item["repeatabilityResult"]) == (400, "rejected") and acs.outbox() == []


def test_acs_after_accept_fault_sends_and_loses_the_answer(acs):
    acs.fault(500, after_accept=True)
    response = _post_signed(acs, _send_body(acs))
    assert response.status_code == 500 and len(acs.outbox()) == 1


def test_acs_opt_out_api_and_inbound_stop_start(acs):
    def check():
        body = json.dumps({"from": acs.from_number, "recipients": [{"to": CUSTOMER}]}).encode()
        response = _post_signed(acs, body, path="/sms/optouts:check?api-version=2025-09-17")
        assert response.status_code == 200
        return response.json()["value"][0]["isOptedOut"]

    assert check() is False
    assert httpx.post(f"{acs.base_url}/_emulator/inbound",
                      json={"from": CUSTOMER, "to": acs.from_number, "message": " stop "}).json()["keyword"] == "STOP"
    assert check() is True
    assert acs.events("SMSReceived")[0]["data"]["message"] == " stop "
    acs.inbound(CUSTOMER, "UNSTOP")
    assert check() is False


def test_acs_fault_api_over_http(acs):
    assert httpx.post(f"{acs.base_url}/_emulator/faults", json={"status": 429, "retryAfter": 2}).status_code == 201
    response = _post_signed(acs, _send_body(acs))
    assert response.status_code == 429 and response.headers["Retry-After"] == "2"
    assert response.json()["error"]["code"] == "TooManyRequests"
    assert _post_signed(acs, _send_body(acs)).status_code == 202
    assert len(httpx.get(f"{acs.base_url}/_emulator/outbox").json()) == 1


def _twilio_post(twilio, data: dict, *, auth=None, account=None) -> httpx.Response:
    account = account or twilio.account_sid
    return httpx.post(f"{twilio.base_url}/2010-04-01/Accounts/{account}/Messages.json", data=data,
                      auth=auth or (twilio.account_sid, twilio.auth_token))


def test_twilio_creates_a_message_resource(twilio):
    response = _twilio_post(twilio, {"To": CUSTOMER, "From": twilio.from_number, "Body": "hi",
                                     "StatusCallback": "https://example.org/status"})

    assert response.status_code == 201
    message = response.json()
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert (message["status"], message["to"], message["from"], message["direction"]) == (
        "queued", CUSTOMER, twilio.from_number, "outbound-api")
    assert message["date_created"].endswith("+0000")
    assert response.headers["Twilio-Request-Id"].startswith("RQ")
    assert twilio.outbox()[0]["status_callback"] == "https://example.org/status"


@pytest.mark.parametrize(("auth", "header"), [
    (("ACwrong", "token"), None), ("right-sid-wrong-token", None), (None, "Bearer abc"), (None, "Basic !!!")])
def test_twilio_refuses_bad_credentials_with_its_error_json(twilio, auth, header):
    if auth == "right-sid-wrong-token":
        auth = (twilio.account_sid, "0" * 32)
    url = f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    data = {"To": CUSTOMER, "From": twilio.from_number, "Body": "hi"}
    response = httpx.post(url, data=data, auth=auth) if auth else httpx.post(url, data=data,
                                                                              headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json() == {"code": 20003, "message": "Authenticate",
                               "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    assert twilio.outbox() == []


@pytest.mark.parametrize(("data", "code"), [
    ({"To": "+15551234"}, 21211),
    ({"To": ""}, 21604),
    ({"From": ""}, 21603),
    ({"Body": ""}, 21602),
    ({"Body": "x" * 1601}, 21617),
    ({"From": "+14155559999"}, 21606),
])
def test_twilio_validation_errors_use_twilio_codes(twilio, data, code):
    response = _twilio_post(twilio, {"To": CUSTOMER, "From": twilio.from_number, "Body": "hi", **data})
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["more_info"] == f"https://www.twilio.com/docs/errors/{code}"


def test_twilio_stop_and_start_keywords_govern_21610(twilio):
    message = {"To": CUSTOMER, "From": twilio.from_number, "Body": "hi"}
    assert httpx.post(f"{twilio.base_url}/_emulator/inbound",
                      json={"From": CUSTOMER, "Body": "unsubscribe"}).json()["keyword"] == "STOP"
    refused = _twilio_post(twilio, message)
    assert refused.status_code == 400 and refused.json()["code"] == 21610
    assert refused.json()["message"] == "Attempt to send to unsubscribed recipient"
    twilio.inbound(CUSTOMER, "START")
    assert _twilio_post(twilio, message).status_code == 201


def test_twilio_other_accounts_url_is_not_found(twilio):
    response = _twilio_post(twilio, {"To": CUSTOMER, "From": twilio.from_number, "Body": "hi"},
                            account="AC" + "0" * 32)
    assert response.status_code == 404 and response.json()["code"] == 20404


def test_emulators_start_in_well_under_a_second():
    import time
    from dev.emulators.acs_sms import start_acs_sms_emulator
    from dev.emulators.twilio_rest import start_twilio_emulator
    for start in (start_acs_sms_emulator, start_twilio_emulator):
        began = time.perf_counter()
        emulator = start()
        elapsed = time.perf_counter() - began
        emulator.stop()
        assert elapsed < 0.5


def _twilio_list(twilio, **params) -> httpx.Response:
    return httpx.get(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json", params=params,
                     auth=(twilio.account_sid, twilio.auth_token))


def test_twilio_lists_messages_newest_first_filtered_by_to_from_and_sent_date(twilio):
    other = "+14155552672"
    for to, body in [(CUSTOMER, "first"), (other, "elsewhere"), (CUSTOMER, "second")]:
        assert _twilio_post(twilio, {"To": to, "From": twilio.from_number, "Body": body}).status_code == 201
    today = datetime.now(timezone.utc).date()

    page = _twilio_list(twilio, To=CUSTOMER, From=twilio.from_number, **{"DateSent>": today.isoformat()}).json()

    assert [m["body"] for m in page["messages"]] == ["second", "first"]
    assert all(m["status"] == "sent" and m["date_sent"] for m in page["messages"])
    assert page["page"] == 0 and page["next_page_uri"] is None
    assert _twilio_list(twilio, To=CUSTOMER, DateSent=(today + timedelta(days=1)).isoformat()).json()["messages"] == []
    assert _twilio_list(twilio, To=CUSTOMER, **{"DateSent<": (today - timedelta(days=1)).isoformat()}
                        ).json()["messages"] == []
    later = (datetime.now(timezone.utc) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert _twilio_list(twilio, **{"DateSent>": later}).json()["messages"] == []  # an instant, as the library sends
    two = _twilio_list(twilio, PageSize=2).json()
    assert len(two["messages"]) == 2 and two["next_page_uri"]
    assert [m["body"] for m in httpx.get(f"{twilio.base_url}{two['next_page_uri']}",
                                         auth=(twilio.account_sid, twilio.auth_token)).json()["messages"]] == ["first"]
    assert _twilio_list(twilio).status_code == 200
    assert httpx.get(f"{twilio.base_url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json").status_code == 401


def test_twilio_queued_messages_have_no_sent_date_to_filter_on(twilio):
    twilio.hold_in_queue()
    _twilio_post(twilio, {"To": CUSTOMER, "From": twilio.from_number, "Body": "waiting"})
    today = datetime.now(timezone.utc).date().isoformat()

    assert _twilio_list(twilio, To=CUSTOMER, **{"DateSent>": today}).json()["messages"] == []
    [queued] = _twilio_list(twilio, To=CUSTOMER).json()["messages"]
    assert (queued["status"], queued["date_sent"]) == ("queued", None)
