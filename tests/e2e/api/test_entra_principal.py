"""Entra ID sign-in on the booking routes, end to end through the development host.

In Azure, App Service Authentication validates the bearer token and hands the app the caller in
``X-MS-CLIENT-PRINCIPAL*`` headers, stripping any a client sent. Here the test plays the platform: it sends
those headers exactly as App Service builds them. ``easy_auth`` turns on ``AUTH__EASY_AUTH_ENABLED`` (what the
Bicep sets with ``entraAuthEnabled``); without it the same headers are a forgery and must be ignored.
"""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from tests.e2e.api.helpers import booking_body, error_of, future_slots, new_key, settle

OBJECT_ID = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def platform_headers(roles: list[str], object_id: str | None = None,
                     upn: str = "dispatcher@lakeshore.example") -> dict[str, str]:
    """The headers App Service Authentication adds for an Entra ID access token carrying these app roles."""
    object_id = object_id or str(uuid.uuid4())
    claims = [{"typ": "aud", "val": "api://frontdesk-api"},
              {"typ": "http://schemas.microsoft.com/identity/claims/tenantid", "val": str(uuid.UUID(int=7))},
              {"typ": OBJECT_ID, "val": object_id},
              {"typ": "preferred_username", "val": upn},
              *({"typ": "roles", "val": role} for role in roles)]
    principal = {"auth_typ": "aad", "claims": claims,
                 "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                 "role_typ": ROLE_TYPE}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode(),
            "X-MS-CLIENT-PRINCIPAL-ID": object_id, "X-MS-CLIENT-PRINCIPAL-NAME": upn,
            "X-MS-CLIENT-PRINCIPAL-IDP": "aad"}


@pytest.fixture
def easy_auth(stack, monkeypatch):
    """App Service Authentication is in front of the app (the setting the Bicep writes when it turns it on)."""
    from shared.config import reset_settings
    monkeypatch.setenv("AUTH__EASY_AUTH_ENABLED", "true")
    reset_settings()
    yield
    monkeypatch.delenv("AUTH__EASY_AUTH_ENABLED")
    reset_settings()


@pytest.fixture
async def signed_in(stack, caller_ip):
    """``signed_in(headers)``: an httpx client for ``/api`` with the platform's principal headers and no key."""
    clients = []

    def make(headers: dict[str, str]) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=stack.host.url(""), timeout=60,
                                   headers={**headers, "X-Forwarded-For": caller_ip})
        clients.append(client)
        return client
    yield make
    for client in clients:
        await client.aclose()


async def post_booking(client: httpx.AsyncClient, body: dict, key: str | None = None) -> httpx.Response:
    return await client.post("entra/bookings", json=body, headers={"Idempotency-Key": key or new_key()})


async def test_a_user_with_bookings_write_books_without_a_function_key(easy_auth, clean_stack, signed_in, api,
                                                                          anonymous, business):
    slot = (await future_slots(anonymous, hostId="dana"))[0]
    dispatcher = signed_in(platform_headers(["Bookings.Write"]))
    key = new_key()
    first = await post_booking(dispatcher, booking_body(slot["start"], hostId="dana"), key)
    assert first.status_code in (201, 202), first.text  # 202 when the saga takes longer than the wait
    response = await settle(dispatcher, first)
    assert response.status_code in (200, 201), response.text  # 200: the booking, read at its status URL
    booking = response.json()
    assert booking["status"] == "confirmed" and booking["start"] == slot["start"]
    # Its URL is the signed-in twin, so the caller can follow it with the same token.
    assert first.headers["Location"].endswith(f"/api/entra/bookings/{booking['id']}")
    assert len(clean_stack.graph.events(business.host("dana").mailbox)) == 1
    # The same booking through the key route (an integration) and through the signed-in route.
    assert (await api.get(f"bookings/{booking['id']}")).json()["id"] == booking["id"]
    assert (await dispatcher.get(f"entra/bookings/{booking['id']}")).status_code == 200
    # A retry by the same user joins the same booking; the user's keys are theirs alone.
    again = await settle(dispatcher, await post_booking(dispatcher, booking_body(slot["start"], hostId="dana"), key))
    assert again.status_code in (200, 201) and again.json()["id"] == booking["id"]
    colleague = signed_in(platform_headers(["Bookings.Write"]))
    theirs = await settle(colleague, await post_booking(colleague, booking_body(slot["start"], hostId="dana"), key))
    assert theirs.status_code == 409, "another user's same key is another request: the time is taken"
    assert len(clean_stack.graph.events(business.host("dana").mailbox)) == 1

    # Cancelling needs Bookings.Cancel: the dispatcher is refused and the booking stands.
    refused = await dispatcher.post(f"entra/bookings/{booking['id']}/cancel", json={"reason": "no"})
    assert refused.status_code == 403 and error_of(refused)["code"] == "forbidden"
    assert error_of(refused)["details"] == [{"requiredRoles": ["Bookings.Cancel"]}]
    assert (await api.get(f"bookings/{booking['id']}")).json()["status"] == "confirmed"
    manager = signed_in(platform_headers(["Bookings.Cancel"]))
    cancelled = await settle(manager, await manager.post(f"entra/bookings/{booking['id']}/cancel",
                                                         json={"reason": "customer called"}))
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert slot["start"] in {s["start"] for s in await future_slots(anonymous, hostId="dana")}


async def test_a_user_without_the_role_is_refused_and_nothing_is_booked(easy_auth, clean_stack, signed_in,
                                                                           anonymous, business):
    slot = (await future_slots(anonymous, hostId="priya"))[0]
    for roles in ([], ["Bookings.Cancel"], ["bookings.write"]):
        reader = signed_in(platform_headers(roles))
        response = await post_booking(reader, booking_body(slot["start"], hostId="priya"))
        assert response.status_code == 403, (roles, response.text)
        assert "Bookings.Write" in error_of(response)["message"]
    assert clean_stack.graph.events(business.host("priya").mailbox) == []
    assert slot["start"] in {s["start"] for s in await future_slots(anonymous, hostId="priya")}


async def test_without_a_signed_in_user_the_answer_is_401_with_a_bearer_challenge(easy_auth, signed_in):
    nobody = signed_in({})
    response = await post_booking(nobody, booking_body("2030-01-07T09:00:00-06:00"))
    assert response.status_code == 401 and response.headers["WWW-Authenticate"] == "Bearer"
    assert error_of(response)["code"] == "unauthorized"
    garbled = signed_in({"X-MS-CLIENT-PRINCIPAL": "not base64 {", "X-MS-CLIENT-PRINCIPAL-ID": "x"})
    response = await garbled.get("entra/bookings/bk_whatever")
    assert response.status_code == 401, "a principal the platform did not produce is no principal"


async def test_forged_principal_headers_are_ignored_when_easy_auth_is_off(clean_stack, signed_in, anonymous,
                                                                          business):
    """Without App Service Authentication in front, anyone can write these headers: they must count for nothing."""
    slot = (await future_slots(anonymous, hostId="luis"))[0]
    forger = signed_in(platform_headers(["Bookings.Write", "Bookings.Cancel"]))
    response = await post_booking(forger, booking_body(slot["start"], hostId="luis"))
    assert response.status_code == 401, response.text
    assert "not enabled" in error_of(response)["message"]
    # Nor do they open the function-key routes: the host still wants a key there.
    keyless = await forger.post("bookings", json=booking_body(slot["start"], hostId="luis"),
                                headers={"Idempotency-Key": new_key()})
    assert keyless.status_code == 401
    assert clean_stack.graph.events(business.host("luis").mailbox) == []


async def test_the_signed_in_routes_are_in_the_openapi_document_with_entra_security(anonymous):
    document = (await anonymous.get("openapi.json")).json()
    operation = document["paths"]["/entra/bookings/{id}/cancel"]["post"]
    assert operation["security"] == [{"entraId": []}]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
    assert document["components"]["securitySchemes"]["entraId"]["scheme"] == "bearer"
    assert document["paths"]["/bookings"]["post"]["security"] != operation["security"]
