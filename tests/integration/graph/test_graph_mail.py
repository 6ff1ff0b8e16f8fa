"""Owner notifications by mail through Graph's sendMail."""

from __future__ import annotations

import pytest

from shared.errors import PermanentError
from shared.ports import MailMessage

MAILBOX = "dana@contoso.com"


async def test_send_mail_lands_in_the_outbox_with_the_right_recipients(dana, graph, adapter):
    await adapter.send_mail(MAILBOX, MailMessage(
        to=("owner@contoso.com", "office@contoso.com"), subject="New booking: Tue 14 Jul 09:00",
        body_html="<p>Water heater repair for J. Doe</p>", reply_to=("bookings@contoso.com",)))

    [sent] = graph.outbox()
    assert sent["from"] == MAILBOX
    assert sent["to"] == ["owner@contoso.com", "office@contoso.com"]
    assert sent["replyTo"] == ["bookings@contoso.com"]
    assert sent["subject"] == "New booking: Tue 14 Jul 09:00"
    assert sent["body"] == {"contentType": "html", "content": "<p>Water heater repair for J. Doe</p>"}
    assert sent["saveToSentItems"] is True
    assert [r["status"] for r in graph.requests("sendMail")] == [202]


async def test_an_invalid_recipient_is_a_permanent_error_and_nothing_is_sent(dana, graph, adapter):
    with pytest.raises(PermanentError) as caught:
        await adapter.send_mail(MAILBOX, MailMessage(to=("not-an-address",), subject="s", body_html="b"))

    assert caught.value.code == "ErrorInvalidRecipients"
    assert graph.outbox() == []


async def test_a_message_without_recipients_never_reaches_graph(dana, graph, adapter):
    with pytest.raises(ValueError):
        await adapter.send_mail(MAILBOX, MailMessage(to=(), subject="s", body_html="b"))
    assert graph.requests() == []
