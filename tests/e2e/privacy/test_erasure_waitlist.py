"""Erasure of a waitlisted customer who was offered a freed time, end to end on the local stack.

Someone else's booking is cancelled through the cancel saga and its time is texted to the waitlisted
customer (the ``waitlist-offer:<cancelled booking>`` orchestration). While the offer is open an erasure
waits for it (202: the offer still needs to recognise the number's YES); once it has expired the erasure
deletes the entry and the rows naming the offer, keeps only the entry's id in the offer, purges the
offer orchestration's history, and no table, blob or queue in Azurite holds the customer any more. A
customer who took the time by YES is found through the booking it made (its saga a sub-orchestration of
the offer, whose history carries their booking request) and through the offer texted to them.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path

from privacy_support import scan_azurite

# The reminder tests' helpers: booking and cancelling through the sagas, the frozen clock, the outbox.
_SUPPORT = Path(__file__).resolve().parents[1] / "reminders" / "reminder_support.py"
if "reminder_support" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("reminder_support", _SUPPORT)
    sys.modules["reminder_support"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["reminder_support"])
from reminder_support import (CHICAGO, book, cancel, decoded, eventually, freeze_at, local,  # noqa: E402
                              next_monday_morning, services, texts_to)

NAME = "Ottoline Brackenbury"
PHONE = "+13125550142"
STREET = "918 West Larkspur Terrace"
TRACES = ["ottoline", "brackenbury", PHONE, "3125550142", "larkspur"]


async def offered(stack, api):
    """Book another customer's Wednesday 2 PM, put ours on the waitlist, cancel: the offer id once texted."""
    monday = freeze_at(stack, next_monday_morning())
    wednesday = monday.astimezone(CHICAGO).date() + timedelta(days=2)
    cancelled_id = await book(stack, local(wednesday, "14:00"))  # another customer's booking
    joined = await api.post("waitlist", json={
        "eventType": "plumbing-repair", "windowStart": local(wednesday, "08:00").isoformat(),
        "windowEnd": local(wednesday, "18:00").isoformat(), "timeZone": "America/Chicago",
        "customer": {"name": NAME, "phone": PHONE, "address": f"{STREET}, Chicago, IL", "postalCode": "60614"}})
    assert joined.status_code == 201, joined.text
    assert (await cancel(stack, cancelled_id))["outcome"] == "cancelled"
    [offer_text] = await eventually(lambda: texts_to(stack, PHONE, "opened up"))
    assert "Reply YES" in offer_text
    from shared.services.waitlist import offer_instance_id
    return offer_instance_id(cancelled_id)


async def test_a_waitlisted_customer_offered_a_time_is_erased_once_the_offer_has_closed(clean_stack, api, admin):
    stack = clean_stack
    offer_id = await offered(stack, api)
    before = scan_azurite(stack.azurite.connection_string, TRACES)
    assert {place.split("/")[0] for place in before} >= {f"table {stack.table_prefix}waitlist"}

    # While the offer is open, the erasure waits for it (the offer still has to recognise this number).
    midway = await admin.post("privacy/erase", json={"phone": PHONE})
    assert midway.status_code == 202, midway.text
    assert offer_id in {item.get("offerId") or item.get("instanceId") for item in midway.json()["pending"]}
    found = midway.json()["export"]
    assert [o["offerId"] for o in found["waitlistOffers"]] == [offer_id]
    assert found["waitlistOffers"][0]["entries"][0]["customer"]["name"] == NAME
    assert offer_id in {i["instanceId"] for i in found["durableInstances"]}

    # 31 minutes on, nobody said YES: the offer expired. Asked again, the erasure completes.
    stack.host.clock.advance(timedelta(minutes=31))
    ended = await stack.host.wait_for_instance_async(offer_id, timeout=30)
    assert ended.runtime_status.value == "Completed"
    erased = await admin.post("privacy/erase", json={"phone": PHONE})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["pending"] == [] and report["erased"]["waitlistOffers"] == 1
    assert report["erased"]["durableInstances"] >= 1
    assert not stack.host.get_status(offer_id)

    assert scan_azurite(stack.azurite.connection_string, TRACES) == []
    after = (await admin.post("privacy/export", json={"phone": PHONE})).json()
    assert after["waitlist"] == [] and after["waitlistOffers"] == [] and after["durableInstances"] == []


async def test_a_waitlisted_customer_who_took_the_time_is_erased_with_the_booking_and_the_offer(
        clean_stack, api, admin):
    from shared.services.waitlist import handle_waitlist_reply
    stack = clean_stack
    offer_id = await offered(stack, api)
    said = await stack.host.with_client(lambda client: handle_waitlist_reply(services(), PHONE, "YES", client))
    assert "If you were first" in said
    ended = await stack.host.wait_for_instance_async(offer_id, timeout=30)
    assert decoded(ended.output)["outcome"] == "taken"
    before = scan_azurite(stack.azurite.connection_string, TRACES)
    assert any("DevHost" in place for place in before) and any("bookings" in place for place in before)

    erased = await admin.post("privacy/erase", json={"phone": PHONE})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    [booking] = report["export"]["bookings"]  # the booking the YES made
    assert booking["customer"]["name"] == NAME and report["erased"]["bookings"] == 1
    kinds = {i["instanceId"]: i["kind"] for i in report["export"]["durableInstances"]}
    assert kinds[offer_id] == "waitlistOffer" and kinds[booking["id"]] == "saga" and "reminders" in kinds.values()
    assert not stack.host.get_status(offer_id) and not stack.host.get_status(booking["id"])

    assert scan_azurite(stack.azurite.connection_string, TRACES) == []
    skeleton = (await services().bookings.get(booking["id"])).value
    assert skeleton.status.value == "confirmed" and skeleton.customer.name == "[erased]"
