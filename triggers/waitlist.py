"""``POST /api/waitlist``: put a customer on the short waitlist for an event type (function key).

The body is :class:`shared.services.waitlist.WaitlistRequest` (camelCase JSON), validated like the booking
API's: 422 with each field's problem, 404 for an unknown ``bookingId``, 201 with the entry (its id, the
window, when it expires). Joining again with the same number and event type replaces the entry. What
happens next (freed slots offered by text, first YES wins) is in :mod:`shared.services.waitlist`.
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared import clock
from shared.http import HttpError, json_response, parse_json_body
from triggers.booking_api import guarded, validated

bp = df.Blueprint()


def entry_view(entry: dict) -> dict:
    """The entry as the API shows it: no copy of the customer's details beyond a masked number."""
    from shared.logs import mask_phone
    return {"entryId": entry["entryId"], "eventType": entry["eventType"], "phone": mask_phone(entry["phone"]),
            "windowStart": entry["windowStart"], "windowEnd": entry["windowEnd"], "timeZone": entry["timeZone"],
            "bookingId": entry.get("bookingId"), "expiresAt": entry["expiresAt"]}


@bp.route(route="waitlist", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
async def join_waitlist(req: func.HttpRequest) -> func.HttpResponse:
    """Join the waitlist: be texted when a time in the window opens up (an earlier one, with a booking)."""
    async def handle() -> func.HttpResponse:
        from shared.services import waitlist
        from shared.services.container import get_services
        request = validated(waitlist.WaitlistRequest, parse_json_body(req))
        try:
            entry = await waitlist.join_waitlist(get_services(), request, clock.now())
        except waitlist.WaitlistError as exc:
            code = "not_found" if exc.status == 404 else "validation_failed"
            raise HttpError(exc.status, code, str(exc), [{"field": exc.field, "message": str(exc),
                                                         "type": code}]) from None
        return json_response(entry_view(entry), status=201)
    return await guarded("join waitlist", handle)
