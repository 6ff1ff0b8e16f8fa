"""Change-notification subscriptions: the validation handshake, real notification POSTs, renew, delete."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from shared.errors import NotFoundError, PermanentError
from shared.ports import EventDraft

UTC = timezone.utc
MAILBOX = "dana@contoso.com"
SECRET = "client-state-7f3a"


def job(day: int) -> dict:
    return {"subject": "Job", "start": {"dateTime": f"2026-10-{day:02d}T09:00:00", "timeZone": "UTC"},
            "end": {"dateTime": f"2026-10-{day:02d}T10:00:00", "timeZone": "UTC"}}


async def subscribe(adapter, receiver, hours: float = 48):
    return await adapter.create_subscription(MAILBOX, receiver.notification_url, receiver.lifecycle_url, SECRET,
                                             datetime.now(UTC) + timedelta(hours=hours))


async def settle(graph) -> None:
    await asyncio.to_thread(graph.wait_idle)


async def test_creating_a_subscription_performs_the_validation_handshake_on_both_urls(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver)

    assert len(receiver.validations) == 2
    assert all(t.startswith("Validation: Testing client application reachability") for t in receiver.validations)
    validations = graph.deliveries("validation")
    assert [d["url"] for d in validations] == [receiver.notification_url, receiver.lifecycle_url]
    assert all(d["status"] == 200 for d in validations)
    assert subscription.resource == f"users/{MAILBOX}/events"
    assert subscription.change_type == "created,updated,deleted"
    assert (subscription.notification_url, subscription.lifecycle_url) == (receiver.notification_url,
                                                                            receiver.lifecycle_url)
    assert subscription.expires_at - datetime.now(UTC) > timedelta(hours=47)
    [stored] = graph.subscriptions()
    assert (stored["id"], stored["clientState"], stored["userId"]) == (subscription.id, SECRET, dana["id"])


@pytest.mark.parametrize("mode", ["wrong-token", "json", "fail"])
async def test_an_endpoint_that_fails_the_handshake_gets_no_subscription(dana, graph, adapter, receiver, mode):
    receiver.mode = mode

    with pytest.raises(PermanentError) as caught:
        await subscribe(adapter, receiver)

    assert caught.value.code == "ValidationError" and caught.value.status == 400
    assert graph.subscriptions() == []


async def test_changes_in_outlook_are_really_posted_to_the_notification_url(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver)

    ours = await adapter.create_event(MAILBOX, EventDraft(subject="Hold", start=datetime(2026, 10, 5, 9, tzinfo=UTC),
                                                          end=datetime(2026, 10, 5, 10, tzinfo=UTC)))
    graph.edit_event(MAILBOX, ours.id, {"subject": "Moved by Dana", **{k: job(6)[k] for k in ("start", "end")}})
    graph.delete_event(MAILBOX, ours.id)
    notifications = await receiver.wait_for("notifications", 3)

    assert [n["changeType"] for n in notifications] == ["created", "updated", "deleted"]
    for n in notifications:
        assert n["subscriptionId"] == subscription.id
        assert n["clientState"] == SECRET
        assert n["resource"] == f"Users/{dana['id']}/Events/{ours.id}"
        assert n["resourceData"]["id"] == ours.id
        assert n["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert n["tenantId"] and n["subscriptionExpirationDateTime"]


async def test_renewing_pushes_the_expiry_out(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver, hours=1)
    wanted = datetime.now(UTC) + timedelta(days=3)

    granted = await adapter.renew_subscription(subscription.id, wanted)

    assert abs(granted - wanted) < timedelta(seconds=1)
    assert list(graph.requests("subscriptions.update")[0]["body"]) == ["expirationDateTime"]  # only the expiry
    with pytest.raises(PermanentError):  # Outlook subscriptions live under 7 days
        await adapter.renew_subscription(subscription.id, datetime.now(UTC) + timedelta(days=8))


async def test_deleting_stops_notifications(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver)

    await adapter.delete_subscription(subscription.id)
    await adapter.delete_subscription(subscription.id)  # already gone is fine
    graph.add_event(MAILBOX, job(7))
    await settle(graph)

    assert receiver.notifications == []
    assert await adapter.list_subscriptions() == []
    with pytest.raises(NotFoundError):
        await adapter.renew_subscription(subscription.id, datetime.now(UTC) + timedelta(days=1))


async def test_an_expired_subscription_cannot_be_renewed(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver)
    graph.expire_subscription(subscription.id)

    with pytest.raises(NotFoundError):
        await adapter.renew_subscription(subscription.id, datetime.now(UTC) + timedelta(days=1))


async def test_lifecycle_events_reach_the_lifecycle_url(dana, graph, adapter, receiver):
    subscription = await subscribe(adapter, receiver)

    graph.send_lifecycle(subscription.id, "reauthorizationRequired")
    graph.send_lifecycle(subscription.id, "missed")
    graph.send_lifecycle(subscription.id, "subscriptionRemoved")
    lifecycle = await receiver.wait_for("lifecycle", 3)

    assert [e["lifecycleEvent"] for e in lifecycle] == ["reauthorizationRequired", "missed", "subscriptionRemoved"]
    assert all(e["subscriptionId"] == subscription.id and e["clientState"] == SECRET for e in lifecycle)
    assert receiver.notifications == []
    assert graph.subscriptions() == []  # removed means gone: Frontdesk must recreate it


async def test_notifications_can_arrive_twice_and_out_of_order(dana, graph, adapter, receiver):
    await subscribe(adapter, receiver)
    made = graph.add_event(MAILBOX, job(5))
    await receiver.wait_for("notifications", 1)

    graph.hold_notifications()
    graph.edit_event(MAILBOX, made["id"], {"subject": "Renamed"})
    graph.delete_event(MAILBOX, made["id"])
    assert graph.release_notifications(order="reverse", times=2) == 2
    notifications = await receiver.wait_for("notifications", 5)

    assert [n["changeType"] for n in notifications] == ["created", "deleted", "deleted", "updated", "updated"]
    assert graph.replay_notifications(1) == 1  # the last one again, after the fact
    assert (await receiver.wait_for("notifications", 6))[-1]["changeType"] == "deleted"


async def test_a_failing_endpoint_gets_the_notification_again(dana, graph, adapter, receiver):
    await subscribe(adapter, receiver)
    receiver.mode = "fail"

    graph.add_event(MAILBOX, job(5))
    await settle(graph)

    attempts = graph.deliveries("notification")
    assert [a["status"] for a in attempts] == [500, 500, 500]
    assert len({a["body"]["value"][0]["resourceData"]["id"] for a in attempts}) == 1
