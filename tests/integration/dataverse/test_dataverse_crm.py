"""The Dynamics 365 adapter against the Dataverse emulator: what CRM users and the booking saga rely on."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta, timezone

import pytest

from shared.adapters.dataverse import DataverseCrm, appointment_id_for
from shared.errors import ForbiddenError, NotFoundError, ThrottledError, TransientError
from shared.ports import AppointmentDraft, Regarding

START = datetime(2026, 3, 5, 15, 0, tzinfo=timezone.utc)


def draft(booking_id: str = "bk-1001", **overrides) -> AppointmentDraft:
    values = dict(booking_id=booking_id, subject="Leaking tap - D. Smith", start=START,
                  end=START + timedelta(hours=1), location="12 Elm Street",
                  description="Kitchen tap drips; customer home after 2 pm.",
                  routing_decision="territory 981: Dana (fewest bookings this week) over Lee (busy)")
    values.update(overrides)
    return AppointmentDraft(**values)


def patches(dataverse) -> list[dict]:
    return [r for r in dataverse.requests() if r["method"] == "PATCH"]


async def test_booking_creates_an_appointment_regarding_the_lead_owned_by_the_host(crm, dataverse):
    lead = dataverse.seed_record("leads", fullname="Dana Smith")
    host = dataverse.add_systemuser("Dana Tech")

    appointment = await crm.upsert_appointment(draft(regarding=Regarding("lead", lead), owner_systemuser_id=host))

    assert appointment.id == appointment_id_for("bk-1001")
    assert appointment.regarding == Regarding("lead", lead)
    assert appointment.owner_systemuser_id == host
    assert (appointment.start, appointment.end) == (START, START + timedelta(hours=1))
    assert appointment.state == "scheduled"
    assert "Kitchen tap drips" in appointment.description
    assert "Routing decision: territory 981: Dana" in appointment.description
    stored = dataverse.record("appointments", appointment.id)
    assert stored["_regardingobjectid_value"] == lead and stored["regardingobjectid_logicalname"] == "lead"
    assert stored["_ownerid_value"] == host
    assert stored["scheduledstart"] == "2026-03-05T15:00:00Z"
    assert stored["category"] == "Frontdesk"


@pytest.mark.parametrize("entity, entity_set", [("contact", "contacts"), ("account", "accounts"),
                                                ("opportunity", "opportunities"), ("incident", "incidents"),
                                                ("msdyn_workorder", "msdyn_workorders")])
async def test_every_regarding_kind_is_linked(crm, dataverse, entity, entity_set):
    record = dataverse.seed_record(entity_set, name=f"a {entity}")
    appointment = await crm.upsert_appointment(draft(regarding=Regarding(entity, record)))
    assert appointment.regarding == Regarding(entity, record)


async def test_without_a_mapped_host_the_appointment_belongs_to_frontdesk(crm, dataverse):
    appointment = await crm.upsert_appointment(draft())
    assert appointment.owner_systemuser_id == await crm.who_am_i()


async def test_a_retried_create_leaves_one_appointment(crm, dataverse):
    first = await crm.upsert_appointment(draft())
    again, concurrent = await asyncio.gather(crm.upsert_appointment(draft()), crm.upsert_appointment(draft()))

    assert first.id == again.id == concurrent.id
    assert len(dataverse.records("appointments")) == 1
    other = await crm.upsert_appointment(draft(booking_id="bk-1002"))
    assert other.id != first.id and len(dataverse.records("appointments")) == 2


async def test_reschedule_moves_the_same_appointment(crm, dataverse):
    first = await crm.upsert_appointment(draft())
    later = START + timedelta(days=1, hours=2)

    moved = await crm.upsert_appointment(draft(start=later, end=later + timedelta(minutes=90)))

    assert moved.id == first.id
    assert len(dataverse.records("appointments")) == 1
    read = await crm.get_appointment(first.id)
    assert (read.start, read.end) == (later, later + timedelta(minutes=90))


async def test_cancel_sets_canceled_state_and_status_once(crm, dataverse):
    appointment = await crm.upsert_appointment(draft())

    await crm.cancel_appointment(appointment.id)

    stored = dataverse.record("appointments", appointment.id)
    assert (stored["statecode"], stored["statuscode"]) == (2, 4)
    assert (await crm.get_appointment(appointment.id)).state == "cancelled"
    cancel_patch = patches(dataverse)[-1]
    assert cancel_patch["headers"]["If-Match"] == "*"  # never re-creates a deleted appointment
    writes_before = len(patches(dataverse))
    await crm.cancel_appointment(appointment.id)  # a retried activity
    assert len(patches(dataverse)) == writes_before


async def test_cancelling_an_appointment_that_never_existed_is_not_found(crm, dataverse):
    with pytest.raises(NotFoundError):
        await crm.cancel_appointment(appointment_id_for("never-booked"))
    assert dataverse.records("appointments") == []


async def test_reading_a_missing_appointment_gives_none(crm):
    assert await crm.get_appointment(appointment_id_for("nothing-here")) is None


async def test_regarding_a_missing_record_is_a_clear_error_and_creates_nothing(crm, dataverse):
    missing_lead = "0b6f2f47-1111-4c8e-9d8e-2f7b9c1d0a11"
    with pytest.raises(NotFoundError) as info:
        await crm.upsert_appointment(draft(regarding=Regarding("lead", missing_lead)))
    assert f"lead {missing_lead} does not exist in Dynamics" in str(info.value)
    assert info.value.code == "0x80040217" and info.value.request_id
    assert dataverse.records("appointments") == []


async def test_an_unmapped_owner_is_named_in_the_error(crm, dataverse):
    with pytest.raises(NotFoundError, match="systemuser 5f1c0000-0000-4000-8000-000000000abc does not exist"):
        await crm.upsert_appointment(draft(owner_systemuser_id="5f1c0000-0000-4000-8000-000000000abc"))


async def test_service_protection_429_is_waited_out_as_retry_after_asks(crm, dataverse):
    dataverse.inject_fault(429, retry_after=1, method="PATCH")
    started = time.perf_counter()

    appointment = await crm.upsert_appointment(draft())

    elapsed = time.perf_counter() - started
    assert 1.0 <= elapsed < 2.5
    assert len(patches(dataverse)) == 2
    assert dataverse.record("appointments", appointment.id) is not None


async def test_a_retry_after_beyond_the_cap_fails_fast_as_throttled(dataverse_settings, dataverse):
    crm = DataverseCrm(dataverse_settings, max_retry_after_seconds=2.0)
    dataverse.inject_fault(429, retry_after=120, method="PATCH")
    started = time.perf_counter()

    with pytest.raises(ThrottledError) as info:
        await crm.upsert_appointment(draft())

    assert time.perf_counter() - started < 1.0
    assert info.value.retry_after == 120 and info.value.retryable
    assert info.value.code == "0x80072322"
    assert len(patches(dataverse)) == 1


async def test_throttling_that_never_ends_gives_up_after_the_allowed_retries(dataverse_settings, dataverse):
    crm = DataverseCrm(dataverse_settings, max_throttle_retries=2)
    dataverse.inject_fault(429, retry_after=0, times=10, method="PATCH")
    with pytest.raises(ThrottledError):
        await crm.upsert_appointment(draft())
    assert len(patches(dataverse)) == 3


async def test_a_server_error_is_transient_and_not_retried_here(crm, dataverse):
    dataverse.inject_fault(500, method="PATCH")
    with pytest.raises(TransientError) as info:
        await crm.upsert_appointment(draft())
    assert info.value.retryable and info.value.status == 500 and info.value.request_id
    assert len(patches(dataverse)) == 1
    assert dataverse.records("appointments") == []


async def test_a_slow_dataverse_times_out_as_transient(dataverse, dataverse_settings):
    settings = dataverse_settings.model_copy(update={
        "dataverse": dataverse_settings.dataverse.model_copy(update={"timeout_seconds": 0.3})})
    dataverse.inject_fault(latency=1.0)
    started = time.perf_counter()
    with pytest.raises(TransientError, match="did not answer within 0.3 s"):
        await DataverseCrm(settings).get_appointment(appointment_id_for("bk-1001"))
    assert time.perf_counter() - started < 1.5


async def test_an_unreachable_dataverse_is_transient(dataverse_settings):
    from dev.ports import free_port
    settings = dataverse_settings.model_copy(update={
        "dataverse": dataverse_settings.dataverse.model_copy(update={"url": f"http://127.0.0.1:{free_port()}"})})
    with pytest.raises(TransientError, match="could not reach Dataverse"):
        await DataverseCrm(settings).get_appointment(appointment_id_for("bk-1001"))


async def test_a_refused_token_is_forbidden(dataverse_settings):
    from dev.emulators.dataverse import start_dataverse_emulator
    with start_dataverse_emulator(token="the-only-valid-token") as strict:
        settings = dataverse_settings.model_copy(update={
            "dataverse": dataverse_settings.dataverse.model_copy(update={"url": strict.base_url})})
        with pytest.raises(ForbiddenError, match="refused Frontdesk's token") as info:
            await DataverseCrm(settings).upsert_appointment(draft())
        assert info.value.status == 401
        assert strict.records("appointments") == []


async def test_a_missing_privilege_is_forbidden(crm, dataverse):
    dataverse.inject_fault(403, code="0x80040220",
                           message="Principal user is missing prvCreateActivity privilege", method="PATCH")
    with pytest.raises(ForbiddenError, match="prvCreateActivity"):
        await crm.upsert_appointment(draft())


def test_appointment_ids_are_stable_per_booking():
    assert appointment_id_for("bk-1") == appointment_id_for("bk-1") != appointment_id_for("bk-2")
