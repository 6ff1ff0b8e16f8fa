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


def openapi_paths() -> dict:
    """``POST /waitlist`` in the OpenAPI document (triggers/openapi.py); the customer schema is the booking's."""
    from shared.services.waitlist import WaitlistRequest
    schema = WaitlistRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)  # Customer is already a component (BookingRequest uses it)

    def error(text: str) -> dict:
        return {"description": text,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}

    entry = {"type": "object", "required": ["entryId", "eventType", "windowStart", "windowEnd", "expiresAt"],
             "properties": {"entryId": {"type": "string"}, "eventType": {"type": "string"},
                            "phone": {"type": "string", "description": "masked: +1********77"},
                            "windowStart": {"type": "string", "format": "date-time"},
                            "windowEnd": {"type": "string", "format": "date-time"},
                            "timeZone": {"type": "string"}, "bookingId": {"type": ["string", "null"]},
                            "expiresAt": {"type": "string", "format": "date-time"}}}
    return {"/waitlist": {"post": {
        "operationId": "joinWaitlist",
        "summary": "Be texted when a time in a window opens up (an earlier one than a booking: it is moved)",
        "description": "docs/API.md#waitlist. One entry per phone number and event type; joining again replaces it.",
        "security": [{"functionKey": []}, {"functionKeyQuery": []}],
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": {"201": {"description": "On the waitlist",
                              "content": {"application/json": {"schema": entry}}},
                      "400": error("Malformed JSON"), "401": error("A function key is required"),
                      "404": error("No such booking (bookingId)"), "413": error("The body is too large"),
                      "415": error("The body is not application/json"),
                      "422": error("Invalid: see details (window, event type, missing customer fields, booking)"),
                      "503": error("Storage did not answer; see Retry-After")}}}}
