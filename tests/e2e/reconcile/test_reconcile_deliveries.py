"""How Graph delivers: repeated, out of order, forged, and the validation handshake, against the real endpoint."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx

from shared.services.reconcile import reconcile_instance_id

from reconcile_support import (CUSTOMER, appointment, book, booking, claims_of, client_state, free_slots,
                               move_in_outlook, on_a_later_day, reconcile_outputs, settle, sms_to, subscription_of)

UTC = timezone.utc


async def test_repeated_deliveries_of_one_change_apply_it_once(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[0])
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))
    rstack.graph.clear_deliveries()
    rstack.graph.configure(duplicate_deliveries=3)  # every notification POSTed three times
    new_start = made.start + timedelta(hours=2)

    move_in_outlook(rstack, made, new_start)
    await settle(rstack)
    rstack.graph.replay_notifications(1)  # and once more, after everything was handled
    await settle(rstack)

    moved = await booking(made.id)
    assert moved.start == new_start
    answered = [d["status"] for d in rstack.graph.deliveries("notification") if d["status"] is not None]
    assert len(answered) >= 4 and set(answered) == {202}  # three copies and a replay, each accepted
    texts = sms_to(rstack, CUSTOMER["phone"])[texts_before:]
    assert len(texts) == 1, texts  # one text for one move
    assert len(await claims_of(moved)) == 1


async def test_notifications_out_of_order_end_with_what_outlook_says_last(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[1])
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))
    first, last = made.start + timedelta(days=1), made.start + timedelta(days=2, hours=1)
    rstack.graph.hold_notifications()
    move_in_outlook(rstack, made, first)
    move_in_outlook(rstack, made, last)

    assert rstack.graph.release_notifications(order="reverse") == 2
    await settle(rstack)

    moved = await booking(made.id)
    assert moved.start == last  # the second move, although its notification came first
    assert [c.start for c in await claims_of(moved)] == [moved.padded[0]]  # nothing left at the first time
    assert appointment(rstack, made.id)["scheduledstart"].startswith(last.strftime("%Y-%m-%dT%H:%M"))
    texts = sms_to(rstack, CUSTOMER["phone"])[texts_before:]
    assert len(texts) == 1, texts


async def test_a_forged_client_state_is_rejected_and_changes_nothing(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[2])
    await settle(rstack)  # the echoes of Frontdesk's own writes are reconciled before the forged ones arrive
    since = datetime.now(UTC)
    texts_before = len(rstack.acs.outbox())
    subscription = subscription_of(rstack, made.outlook_mailbox)

    def notification(client_state: str, subscription_id: str) -> dict:
        return {"value": [{"subscriptionId": subscription_id, "clientState": client_state, "changeType": "deleted",
                           "resource": f"Users/x/Events/{made.outlook_event_id}",
                           "resourceData": {"id": made.outlook_event_id, "@odata.etag": 'W/"forged"'},
                           "tenantId": "t"}]}

    async with httpx.AsyncClient(timeout=10) as http:
        url = rstack.host.url("graph/notifications")
        forged = await http.post(url, json=notification("guessed-" + client_state(rstack)[:10], subscription["id"]))
        unknown = await http.post(url, json=notification(client_state(rstack), "00000000-0000-0000-0000-000000000000"))
        missing = await http.post(url, json={"value": [{"subscriptionId": subscription["id"], "changeType": "deleted",
                                                        "resourceData": {"id": made.outlook_event_id}}]})
    await settle(rstack)

    assert forged.status_code == unknown.status_code == missing.status_code == 403
    assert forged.json() == unknown.json() == missing.json()  # no hint which part failed
    assert forged.json()["error"]["message"] == "The notification was rejected."
    assert (await booking(made.id)).status.value == "confirmed"
    # None of the three started anything; a late echo of Frontdesk's own confirm write may still be
    # reconciled on a busy machine, and it must find nothing to do.
    forged_ids = {reconcile_instance_id(made.outlook_mailbox, made.outlook_event_id, "deleted", etag, at)
                  for etag in ('W/"forged"', None) for at in (since, datetime.now(UTC))}
    started = await rstack.host.with_client(lambda client: client.get_status_by(created_time_from=since))
    assert not [status.instance_id for status in started if status.instance_id in forged_ids]
    assert [o["action"] for o in await reconcile_outputs(rstack, since)] in ([], ["unchanged"])
    assert len(rstack.acs.outbox()) == texts_before


async def test_the_validation_handshake_echoes_the_decoded_token_as_plain_text(rstack, business):
    token = "Validation: Testing client application reachability for subscription Request-Id: 9f+a/b=c"
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [await http.post(rstack.host.url(route), params={"validationToken": token}, content=b"")
                   for route in ("graph/notifications", "graph/lifecycle")]
        answers.append(await http.get(rstack.host.url("graph/notifications"), params={"validationToken": token}))
    for answer in answers:
        assert answer.status_code == 200 and answer.text == token
        assert answer.headers["content-type"].startswith("text/plain")
    # Graph itself checked both URLs of every subscription the keeper made, and got its token back.
    validations = rstack.graph.deliveries("validation")
    assert len(validations) >= 2 * len(rstack.graph.subscriptions())
    assert all(d["status"] == 200 for d in validations)
    assert len(rstack.graph.subscriptions()) == len([h for h in business.hosts if h.active])


async def test_a_malformed_notification_body_is_a_clear_400(rstack):
    async with httpx.AsyncClient(timeout=10) as http:
        url = rstack.host.url("graph/notifications")
        broken = await http.post(url, content=b"{not json", headers={"content-type": "application/json"})
        shapeless = await http.post(url, json={"notifications": []})
    assert broken.status_code == 400 and broken.json()["error"]["code"] == "malformed_json"
    assert shapeless.status_code == 400 and shapeless.json()["error"]["code"] == "invalid_notification"


async def test_a_batch_in_one_post_reconciles_every_event_in_it(rstack, business):
    slots = free_slots(business, "dana")
    first = await book(rstack, business, slots[3])
    second = await book(rstack, business, on_a_later_day(slots, slots[3]))
    rstack.graph.clear_deliveries()
    rstack.graph.hold_notifications()
    move_in_outlook(rstack, first, first.start + timedelta(hours=1))
    rstack.graph.delete_event(second.outlook_mailbox, second.outlook_event_id)

    assert rstack.graph.release_notifications(batch=True, times=2) == 1  # one POST with both, delivered twice
    await settle(rstack)

    posts = rstack.graph.deliveries("notification")
    assert len(posts) == 2 and all(len(p["body"]["value"]) == 2 and p["status"] == 202 for p in posts)
    assert (await booking(first.id)).start == first.start + timedelta(hours=1)
    assert (await booking(second.id)).status.value == "cancelled"
    texts = [t for t in rstack.acs.outbox() if "has moved to" in t["message"] or "has been cancelled" in t["message"]]
    assert len(texts) == 2, texts
