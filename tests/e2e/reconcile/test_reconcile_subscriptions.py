"""The subscription keeper and Graph's lifecycle events, driven through the development host's timers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from reconcile_support import (CUSTOMER, book, booking, free_slots, keep_subscriptions, move_in_outlook, services,
                               settle, sms_to, subscription_of)

UTC = timezone.utc


async def record_of(mailbox: str):
    stored = await services().subscriptions.get(mailbox)
    assert stored is not None
    return stored.value


async def test_the_keeper_renews_a_subscription_well_before_it_expires(rstack, business, restore_clock):
    mailbox = business.host("dana").mailbox
    before = await record_of(mailbox)
    quiet = await keep_subscriptions(rstack)  # nothing due yet: nothing renewed
    assert mailbox.lower() in quiet["current"] and quiet["renewed"] == []

    restore_clock.advance(timedelta(hours=40))  # 30 h of the ~70 h left: inside the renewal window
    report = await keep_subscriptions(rstack)

    after = await record_of(mailbox)
    assert mailbox.lower() in report["renewed"] and report["created"] == []
    assert after.subscription_id == before.subscription_id  # renewed, not replaced
    assert after.expires_at > before.expires_at + timedelta(hours=39)
    graph_expiry = datetime.fromisoformat(subscription_of(rstack, mailbox)["expirationDateTime"].replace("Z", "+00:00"))
    assert abs(graph_expiry - after.expires_at) < timedelta(seconds=1)  # what Graph granted is what is kept


async def test_a_subscription_that_ran_out_is_made_again_and_notifications_flow(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[0])
    old = subscription_of(rstack, made.outlook_mailbox)
    rstack.graph.expire_subscription(old["id"])  # Graph forgot it (e.g. the keeper was down for days)
    new_start = made.start + timedelta(hours=3)
    move_in_outlook(rstack, made, new_start)  # nobody is told: there is no subscription
    await settle(rstack)
    assert (await booking(made.id)).start == made.start

    report = await keep_subscriptions(rstack)
    await settle(rstack)

    assert made.outlook_mailbox.lower() in report["created"]
    new = subscription_of(rstack, made.outlook_mailbox)
    assert new["id"] != old["id"] and (await record_of(made.outlook_mailbox)).subscription_id == new["id"]
    assert (await booking(made.id)).start == new_start  # the resync after subscribing caught the move
    rstack.graph.delete_event(made.outlook_mailbox, made.outlook_event_id)
    await settle(rstack)
    assert (await booking(made.id)).status.value == "cancelled"  # and notifications arrive again


async def test_a_missed_lifecycle_event_is_healed_by_a_resync(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[1])
    texts_before = len(sms_to(rstack, CUSTOMER["phone"]))
    subscription = subscription_of(rstack, made.outlook_mailbox)
    rstack.graph.hold_notifications()
    new_start = made.start + timedelta(days=1)
    move_in_outlook(rstack, made, new_start)
    drop_held_notifications(rstack)  # Graph lost the change notification
    await settle(rstack)
    assert (await booking(made.id)).start == made.start

    rstack.graph.send_lifecycle(subscription["id"], "missed")
    await settle(rstack)

    moved = await booking(made.id)
    assert moved.start == new_start and moved.outlook_sync.applied_action == "moved"
    assert len(sms_to(rstack, CUSTOMER["phone"])) == texts_before + 1
    assert (await record_of(made.outlook_mailbox)).last_resync_at is not None


async def test_reauthorization_required_renews_the_subscription(rstack, business):
    mailbox = business.host("priya").mailbox
    before = await record_of(mailbox)
    subscription = subscription_of(rstack, mailbox)

    rstack.graph.send_lifecycle(subscription["id"], "reauthorizationRequired")
    await settle(rstack)

    lifecycle = [d for d in rstack.graph.deliveries("lifecycle")]
    assert lifecycle and all(d["status"] == 202 for d in lifecycle)
    after = await record_of(mailbox)
    assert after.subscription_id == before.subscription_id and after.updated_at > before.updated_at
    assert subscription_of(rstack, mailbox)["id"] == before.subscription_id


async def test_a_removed_subscription_is_made_again_and_the_mailbox_resynced(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[2])
    old = subscription_of(rstack, made.outlook_mailbox)
    rstack.graph.hold_notifications()
    move_in_outlook(rstack, made, made.start + timedelta(hours=4))
    drop_held_notifications(rstack)

    rstack.graph.send_lifecycle(old["id"], "subscriptionRemoved")  # Graph drops it and says so
    await settle(rstack)

    new = subscription_of(rstack, made.outlook_mailbox)
    assert new["id"] != old["id"] and (await record_of(made.outlook_mailbox)).subscription_id == new["id"]
    assert (await booking(made.id)).start == made.start + timedelta(hours=4)


async def test_the_daily_resync_heals_a_change_nobody_was_told_about(rstack, business):
    made = await book(rstack, business, free_slots(business, "dana")[3])
    rstack.graph.hold_notifications()
    rstack.graph.delete_event(made.outlook_mailbox, made.outlook_event_id)
    drop_held_notifications(rstack)
    await settle(rstack)
    assert (await booking(made.id)).status.value == "confirmed"

    await asyncio.to_thread(rstack.host.invoke, "resync_calendars")
    await settle(rstack)

    assert (await booking(made.id)).status.value == "cancelled"


def drop_held_notifications(stack) -> None:
    """Discard what the emulator is holding back: those notifications are never delivered (lost)."""
    from dev.emulators.graph.state import STATE

    async def drop() -> None:
        stack.graph.server.app[STATE].notifier.held = None

    stack.graph.server.call(drop())


async def test_the_keeper_follows_the_configured_hosts_and_clears_strays(rstack, business, tmp_path):
    from shared.config import load_settings
    from shared.services.container import Services
    from shared.services.subscriptions import SubscriptionKeeper, client_state_for, endpoint_urls
    text = open(rstack.business_config_path, encoding="utf-8").read()
    assert "  - id: luis\n" in text
    without_luis = tmp_path / "business.yaml"
    without_luis.write_text(text.replace("  - id: luis\n", "  - id: luis\n    active: false\n"), encoding="utf-8")
    luis = business.host("luis").mailbox.lower()
    now = datetime.now(UTC)

    report = await SubscriptionKeeper(Services(load_settings(business_config_path=str(without_luis)))).keep(now)

    assert report.removed == [luis] and not report.created
    assert all(s["resource"].lower() != f"users/{luis}/events" for s in rstack.graph.subscriptions())
    assert await services().subscriptions.get(luis) is None

    # A stray subscription to Frontdesk's URL that no record knows (a crash between creating and recording).
    settings = services().settings
    notification_url, lifecycle_url = endpoint_urls(settings)
    dana = business.host("dana").mailbox
    await services().graph.create_subscription(dana, notification_url, lifecycle_url,
                                               client_state_for(rstack.env["GRAPH__CLIENT_STATE_SECRET"]),
                                               now + timedelta(hours=10))
    report = await SubscriptionKeeper(services()).keep(now)  # the real configuration: luis is a host again

    assert report.created == [luis] and report.orphans_deleted == 1
    mailboxes = [s["resource"].lower() for s in rstack.graph.subscriptions()]
    assert sorted(mailboxes) == sorted(f"users/{h.mailbox.lower()}/events" for h in business.hosts if h.active)
