"""Emulator fidelity: what the adapter sends on the wire, and what Dataverse answers to it.

Also the coexistence with server-side synchronization: Frontdesk's appointments stay out of Outlook
(Frontdesk writes the Outlook event itself) while people's own CRM appointments still sync.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from shared.adapters.dataverse import appointment_id_for
from shared.ports import AppointmentDraft, Regarding

START = datetime(2026, 4, 1, 9, 0, tzinfo=timezone.utc)
HEADERS = {"Authorization": "Bearer anything", "OData-Version": "4.0", "OData-MaxVersion": "4.0",
           "Accept": "application/json"}


async def process_token(settings, environment_url: str) -> str:
    """The token the process credential hands out for Dataverse (what the adapter must send)."""
    from shared.adapters.credentials import get_credential
    return (await get_credential(settings.identity).get_token(f"{environment_url}/.default")).token


def draft(booking_id="bk-7", **overrides) -> AppointmentDraft:
    return AppointmentDraft(**{"booking_id": booking_id, "subject": "Boiler service", "start": START,
                               "end": START + timedelta(hours=2), **overrides})


async def test_the_adapter_sends_what_dataverse_expects(crm, dataverse, dataverse_settings):
    lead = dataverse.seed_record("leads", fullname="Sam Lee")
    await crm.upsert_appointment(draft(regarding=Regarding("lead", lead)))

    (request,) = dataverse.requests()
    assert request["method"] == "PATCH"
    assert request["path"] == f"/api/data/v9.2/appointments({appointment_id_for('bk-7')})"
    assert "activityid" in request["query"]["$select"]
    headers = request["headers"]
    assert headers["Authorization"] == f"Bearer {await process_token(dataverse_settings, dataverse.base_url)}"
    assert headers["OData-Version"] == "4.0" and headers["OData-MaxVersion"] == "4.0"
    assert "return=representation" in headers["Prefer"]
    assert "Microsoft.Dynamics.CRM.lookuplogicalname" in headers["Prefer"]
    assert headers["Content-Type"].startswith("application/json")
    assert "If-Match" not in headers and "If-None-Match" not in headers  # an upsert: create or update
    assert json.loads(request["body"])["regardingobjectid_lead@odata.bind"] == f"/leads({lead})"


async def test_plain_upsert_answers_204_with_the_entity_id(dataverse):
    record_id = str(uuid.uuid4())
    url = f"{dataverse.api_url}/appointments({record_id})"
    body = {"subject": "x", "scheduledstart": "2026-04-01T09:00:00Z", "scheduledend": "2026-04-01T10:00:00Z"}
    async with httpx.AsyncClient() as client:
        created = await client.patch(url, json=body, headers=HEADERS)
        updated = await client.patch(url, json={"subject": "y"}, headers={**HEADERS, "Prefer": "return=representation"})
    assert created.status_code == 204 and created.content == b""
    assert created.headers["OData-EntityId"] == url
    assert created.headers["OData-Version"] == "4.0" and created.headers["x-ms-service-request-id"]
    assert updated.status_code == 200 and updated.headers["Preference-Applied"] == "return=representation"
    assert updated.json()["subject"] == "y" and updated.json()["@odata.etag"].startswith('W/"')


async def test_if_match_star_prevents_create_and_if_none_match_star_prevents_update(dataverse):
    record_id = str(uuid.uuid4())
    url = f"{dataverse.api_url}/appointments({record_id})"
    body = {"subject": "x", "scheduledstart": "2026-04-01T09:00:00Z", "scheduledend": "2026-04-01T10:00:00Z"}
    async with httpx.AsyncClient() as client:
        no_create = await client.patch(url, json=body, headers={**HEADERS, "If-Match": "*"})
        create_only = await client.patch(url, json=body, headers={**HEADERS, "If-None-Match": "*"})
        no_update = await client.patch(url, json=body, headers={**HEADERS, "If-None-Match": "*"})
        stale = await client.patch(url, json=body, headers={**HEADERS, "If-Match": 'W/"1"'})
    assert no_create.status_code == 404
    assert no_create.json()["error"] == {"code": "0x80040217",
                                         "message": f"appointment With Id = {record_id} Does Not Exist"}
    assert create_only.status_code == 204
    assert no_update.status_code == 412
    assert no_update.json()["error"]["message"] == "A record with matching key values already exists."
    assert stale.status_code == 412


async def test_binding_errors_look_like_dataverse(dataverse):
    url = f"{dataverse.api_url}/appointments({uuid.uuid4()})"
    missing = str(uuid.uuid4())
    async with httpx.AsyncClient() as client:
        to_missing = await client.patch(url, json={"subject": "x", "regardingobjectid_contact@odata.bind":
                                                   f"/contacts({missing})"}, headers=HEADERS)
        undeclared = await client.patch(url, json={"regardingobjectid_pizza@odata.bind": f"/leads({missing})"},
                                        headers=HEADERS)
        unknown_column = await client.patch(url, json={"subjekt": "x"}, headers=HEADERS)
    assert to_missing.status_code == 404
    assert to_missing.json()["error"] == {"code": "0x80040217",
                                          "message": f"contact With Id = {missing} Does Not Exist"}
    assert undeclared.status_code == 400 and "undeclared property 'regardingobjectid_pizza'" in \
        undeclared.json()["error"]["message"]
    assert unknown_column.status_code == 400 and "'subjekt' does not exist" in unknown_column.json()["error"]["message"]
    assert dataverse.records("appointments") == []


async def test_no_token_is_401_with_a_bearer_challenge(dataverse):
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{dataverse.api_url}/appointments({uuid.uuid4()})",
                                    headers={"OData-Version": "4.0"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")


async def test_select_and_lookup_annotations_on_read(crm, dataverse):
    account = dataverse.seed_record("accounts", name="Contoso")
    appointment = await crm.upsert_appointment(draft(regarding=Regarding("account", account)))
    url = f"{dataverse.api_url}/appointments({appointment.id})"
    async with httpx.AsyncClient() as client:
        plain = await client.get(url, params={"$select": "subject,_regardingobjectid_value"}, headers=HEADERS)
        annotated = await client.get(url, params={"$select": "_regardingobjectid_value"}, headers={
            **HEADERS, "Prefer": 'odata.include-annotations="*"'})
        bad_select = await client.get(url, params={"$select": "nope"}, headers=HEADERS)
    assert set(plain.json()) == {"@odata.context", "@odata.etag", "subject", "_regardingobjectid_value", "activityid"}
    assert annotated.json()["_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "account"
    assert bad_select.status_code == 400


async def test_a_cancelled_appointment_is_read_only(crm, dataverse):
    appointment = await crm.upsert_appointment(draft())
    await crm.cancel_appointment(appointment.id)
    async with httpx.AsyncClient() as client:
        edit = await client.patch(f"{dataverse.api_url}/appointments({appointment.id})", json={"subject": "z"},
                                  headers=HEADERS)
        bad_status = await client.patch(f"{dataverse.api_url}/appointments({appointment.id})",
                                        json={"statecode": 3, "statuscode": 4}, headers=HEADERS)
    assert edit.status_code == 400 and "read-only" in edit.json()["error"]["message"]
    assert bad_status.status_code == 400


# ---------------------------------------------------------------- server-side synchronization


async def test_frontdesk_appointments_stay_out_of_outlook_while_peoples_own_still_sync(crm, dataverse):
    # Dana's mailbox syncs appointments; her sync filter leaves out category "Frontdesk" (docs/DYNAMICS.md).
    dana = dataverse.add_systemuser("Dana Tech", mailbox_act_sync=True, sync_filter_exclude_categories=("Frontdesk",))
    booked = await crm.upsert_appointment(draft(owner_systemuser_id=dana))
    own_id = str(uuid.uuid4())
    async with httpx.AsyncClient() as client:  # an appointment Dana makes herself in Dynamics
        made = await client.patch(f"{dataverse.api_url}/appointments({own_id})", headers=HEADERS, json={
            "subject": "Team lunch", "scheduledstart": "2026-04-02T12:00:00Z", "scheduledend": "2026-04-02T13:00:00Z",
            "ownerid@odata.bind": f"/systemusers({dana})"})
        assert made.status_code == 204

    pushed = {item["activityid"] for item in dataverse.exchange_sync()}
    assert own_id in pushed
    assert booked.id not in pushed  # Frontdesk already put this one in Outlook: no second meeting


async def test_without_the_sync_filter_change_the_booking_would_land_in_outlook_twice(crm, dataverse):
    lee = dataverse.add_systemuser("Lee Tech", mailbox_act_sync=True)  # default filter: all my appointments
    booked = await crm.upsert_appointment(draft(owner_systemuser_id=lee))
    assert booked.id in {item["activityid"] for item in dataverse.exchange_sync()}


@pytest.mark.parametrize("allow_drafts, pushed", [(True, False), (False, True)])
async def test_draft_appointments_are_held_back_only_when_the_org_allows_drafts(dataverse, allow_drafts, pushed):
    kim = dataverse.add_systemuser("Kim", mailbox_act_sync=True)
    dataverse.set_org_setting("AllowSaveAsDraftAppointment", allow_drafts)
    draft_id = str(uuid.uuid4())
    async with httpx.AsyncClient() as client:
        response = await client.patch(f"{dataverse.api_url}/appointments({draft_id})", headers=HEADERS, json={
            "subject": "Quote visit", "isdraft": True, "scheduledstart": "2026-04-03T08:00:00Z",
            "scheduledend": "2026-04-03T09:00:00Z", "ownerid@odata.bind": f"/systemusers({kim})"})
        assert response.status_code == 204
    assert (draft_id in {item["activityid"] for item in dataverse.exchange_sync()}) is pushed
