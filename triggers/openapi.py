"""``GET /api/openapi.json``: an OpenAPI 3.1 document describing every JSON route of the app.

Schemas are the pydantic models' own JSON schemas (``BookingRequest``, ``Booking``, the models in
``shared.services.api_models``), so the document cannot drift from what the code validates and
returns. The document is built once per process, on first request.
"""

from __future__ import annotations

import functools
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.http import json_response

bp = df.Blueprint()

JSON = "application/json"
ERROR_CODES = {
    400: "Malformed JSON, or a missing or invalid Idempotency-Key",
    401: "A function key is required (x-functions-key header or code query parameter)",
    403: "Graph notifications with a wrong clientState or an unknown subscription",
    404: "No such booking",
    405: "A GET without validationToken: only Graph's handshake uses GET; POST notifications (see Allow)",
    409: "The time is taken or not available now; `error.alternatives` lists the nearest open slots",
    413: "The body is larger than 64 KiB",
    415: "The body is not application/json",
    422: "The request is invalid; `error.details` lists each field path and message",
    429: "Too many anonymous reads from this address; see Retry-After",
    503: "A service Frontdesk depends on (Outlook, storage) did not answer, or nothing could be persisted; "
         "see Retry-After",
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {JSON: {"schema": schema}}}
    if headers:
        response["headers"] = headers
    return response


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(status): _json(_ref("ErrorResponse"), ERROR_CODES[status]) for status in statuses}


def _query(name: str, description: str, required: bool = False, example: str | None = None,
           **schema: Any) -> dict[str, Any]:
    """A query parameter; ``schema`` holds the same constraints the server's model checks (lengths, pattern)."""
    parameter = {"name": name, "in": "query", "required": required, "description": description,
                 "schema": {"type": "string", **schema}}
    if example:
        parameter["example"] = example
    return parameter


def _plain(max_length: int, min_length: int = 0) -> dict[str, Any]:
    """A text without control characters (shared.domain.text.PlainText), of these lengths."""
    from shared.domain.text import PLAIN_PATTERN
    return {"minLength": min_length, "maxLength": max_length, "pattern": PLAIN_PATTERN}


BOOKING_ID = {"name": "id", "in": "path", "required": True, "description": "the booking id (bk_...)",
              "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}}
LOCATION = {"Location": {"description": "the booking's URL (GET bookings/{id})", "schema": {"type": "string"}}}
RETRY_AFTER = {"Retry-After": {"description": "seconds", "schema": {"type": "integer"}}}
FUNCTION_KEY = [{"functionKey": []}, {"functionKeyQuery": []}]
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": True,
                   "description": "1-200 printable ASCII characters without spaces (a UUID is ideal); a retry with "
                                  "the same key and body gets the same answer, the same key with another body a 422",
                   "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]{1,200}$"}}
# A query instant: ISO 8601 with an offset, or a date (local midnight in timeZone), 1970 to 3000 (else 422).
INSTANT = {"anyOf": [{"format": "date-time"}, {"format": "date"}]}
# What follows from a booking: the stateful phase of a schemathesis run (and a reader) uses these links.
BOOKING_LINKS = {
    "GetBooking": {"operationId": "getBooking", "parameters": {"id": "$response.body#/id"}},
    "CancelBooking": {"operationId": "cancelBooking", "parameters": {"id": "$response.body#/id"}},
    "RescheduleBooking": {"operationId": "rescheduleBooking", "parameters": {"id": "$response.body#/id"}},
}


def _paths(event_type_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    pending = _json(_ref("PendingResponse"), "Still being worked on; poll statusUrl", {**LOCATION, **RETRY_AFTER})
    return {
        "/event-types": {"get": {
            "operationId": "listEventTypes", "summary": "The event types that can be booked", "security": [],
            "responses": {"200": _json(_ref("EventTypesResponse"), "The configured event types"), **_errors(429)},
        }},
        "/availability": {"get": {
            "operationId": "getAvailability", "summary": "Offered slots of an event type in a window",
            "description": "Live Outlook free/busy (cached for seconds) and Frontdesk's holds (always live). "
                           "A date without a time means local midnight in timeZone (the business's zone when "
                           "omitted); the window defaults to a week from now and spans at most 31 days.",
            "security": [],
            "parameters": [
                _query("eventType", "an event type key (GET event-types)", True, "plumbing-repair",
                       **({"enum": list(event_type_keys)} if event_type_keys else _plain(100, 1))),
                _query("start", "ISO 8601 with offset, or a date", example="2026-03-02", **INSTANT),
                _query("end", "ISO 8601 with offset, or a date (its end)", example="2026-03-06", **INSTANT),
                _query("timeZone", "IANA zone the slots are shown in", example="America/Chicago", maxLength=64),
                _query("hostId", "only this host (one that takes the event type)", **_plain(100, 1)),
                _query("postalCode", "the customer's postal code (narrows a territory-routed pool)", **_plain(20)),
            ],
            "responses": {"200": _json(_ref("AvailabilityResponse"), "The offered slots"),
                          **_errors(422, 429, 503)},
        }},
        "/bookings": {"post": {
            "operationId": "createBooking", "summary": "Book a time (idempotent per Idempotency-Key)",
            "security": FUNCTION_KEY,
            "parameters": [IDEMPOTENCY_KEY],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("BookingRequest")}}},
            "responses": {"201": {**_json(_ref("Booking"), "Booked and confirmed", LOCATION), "links": BOOKING_LINKS},
                          "202": pending,
                          **_errors(400, 401, 409, 413, 415, 422, 503)},
        }},
        "/bookings/{id}": {"get": {
            "operationId": "getBooking", "summary": "A booking; also the status URL of a pending request",
            "security": FUNCTION_KEY, "parameters": [BOOKING_ID],
            "responses": {"200": _json(_ref("Booking"), "The booking"), "202": pending,
                          **_errors(401, 404, 409, 422)},
        }},
        "/bookings/{id}/cancel": {"post": {
            "operationId": "cancelBooking", "summary": "Cancel a booking (idempotent)",
            "security": FUNCTION_KEY, "parameters": [BOOKING_ID],
            "requestBody": {"required": False, "content": {JSON: {"schema": _ref("CancelRequest")}}},
            "responses": {"200": _json(_ref("Booking"), "The cancelled booking"), "202": pending,
                          **_errors(400, 401, 404, 409, 413, 415, 422, 503)},
        }},
        "/bookings/{id}/reschedule": {"post": {
            "operationId": "rescheduleBooking", "summary": "Move a confirmed booking to another offered time",
            "security": FUNCTION_KEY, "parameters": [BOOKING_ID],
            "requestBody": {"required": True, "content": {JSON: {"schema": _ref("RescheduleRequest")}}},
            "responses": {"200": _json(_ref("Booking"), "The moved booking"), "202": pending,
                          **_errors(400, 401, 404, 409, 413, 415, 422, 503)},
        }},
        "/health": {"get": {
            "operationId": "health", "summary": "Are the settings valid and is storage reachable?", "security": [],
            "responses": {"200": _json(_ref("Health"), "Healthy"), "503": _json(_ref("Health"), "Unhealthy")},
        }},
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "security": [],
            "responses": {"200": {"description": "OpenAPI 3.1", "content": {JSON: {"schema": {"type": "object"}}}}},
        }},
        "/graph/notifications": _graph_route("graphNotifications", "Microsoft Graph change notifications "
                                             "(called by Graph): one reconcile orchestration per changed event"),
        "/graph/lifecycle": _graph_route("graphLifecycle", "Microsoft Graph lifecycle notifications (called by "
                                         "Graph): reauthorization, missed changes, removed subscriptions"),
        "/sms/acs/events": {"post": {
            "operationId": "acsSmsEvents", "security": [],
            "summary": "ACS SMS events through Event Grid (called by Event Grid): texts received, delivery reports",
            "description": "Authenticated by the subscription's key in the URL (SMS__EVENT_GRID_SECRET). The "
                           "subscription validation handshake is answered with its validationResponse; events "
                           "older than 25 hours are refused as replays; a repeated event changes nothing. 500 "
                           "asks Event Grid to deliver again later.",
            "parameters": [_query("key", "the subscription's secret", True, **_plain(200, 1))],
            "requestBody": {"required": True, "content": {JSON: {"schema": {
                "type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "string"}, "eventType": {"type": "string"}, "eventTime": {"type": "string"},
                    "data": {"type": "object"}}}}}}},
            "responses": {"200": {"description": "handled (the handshake answers {validationResponse})",
                                  "content": {JSON: {"schema": {"type": "object", "properties": {
                                      "validationResponse": {"type": "string"}}}}}},
                          **_errors(400, 403),
                          "500": {"description": "not handled this time: Event Grid delivers it again later"}},
        }},
    }


def _graph_route(operation_id: str, summary: str) -> dict[str, Any]:
    """Graph's webhook: the validationToken handshake (either verb) and the notification batches (POST).

    GET exists only for the handshake, so its token is required: a GET without one is answered 405 with
    ``Allow: POST`` (listed). A token that is empty, over 2048 characters or holds a control character is 400.
    """
    handshake = {"200": {"description": "the URL-decoded validationToken echoed as text/plain",
                         "content": {"text/plain": {"schema": {"type": "string"}}}}}
    allow = {"Allow": {"description": "POST", "schema": {"type": "string"}}}
    token_schema = {"minLength": 1, "maxLength": 2048, "pattern": r"^[^\x00-\x1f\x7f]*$"}
    return {
        "get": {"operationId": operation_id + "Handshake", "summary": "Subscription validation handshake",
                "security": [],
                "parameters": [_query("validationToken", "Graph's subscription handshake token", True,
                                      **token_schema)],
                "responses": {**handshake, **_errors(400),
                              "405": _json(_ref("ErrorResponse"), ERROR_CODES[405], allow)}},
        "post": {"operationId": operation_id, "summary": summary, "security": [],
                 "parameters": [_query("validationToken", "present only on Graph's subscription handshake",
                                       **token_schema)],
                 "description": "Each item's clientState and subscriptionId are checked; answered within "
                                "seconds after the work is persisted. With validationToken and no body, this is "
                                "Graph's subscription handshake (200, the token echoed); a body makes it "
                                "notifications whatever the query says.",
                 "requestBody": {"required": False, "content": {JSON: {"schema": _ref("GraphNotificationBatch")}}},
                 "responses": {**handshake,
                               "202": _json(_ref("GraphAccepted"), "accepted and persisted"),
                               **_errors(400, 403, 413, 415, 503)}},
    }


def _extra_schemas() -> dict[str, Any]:
    """Schemas of routes whose bodies are not pydantic models of ours."""
    return {
        "Health": {"type": "object", "properties": {"status": {"enum": ["ok", "unhealthy"]},
                                                    "checks": {"type": "object"}}, "required": ["status", "checks"]},
        "GraphAccepted": {"type": "object", "properties": {"accepted": {"type": "integer", "minimum": 0}},
                          "required": ["accepted"]},
        "GraphNotificationBatch": {"type": "object", "required": ["value"], "properties": {"value": {
            "type": "array", "items": {
                "type": "object", "properties": {"subscriptionId": {"type": "string"}, "clientState": {"type": "string"},
                                                 "changeType": {"type": "string"}, "resource": {"type": "string"},
                                                 "lifecycleEvent": {"type": "string"}}}}}},
    }


def _with_entra_twins(paths: dict[str, Any]) -> dict[str, Any]:
    """The key routes' ``/entra/...`` twins for callers signed in with Entra ID (triggers/entra_bookings.py)."""
    from triggers.entra_bookings import openapi_paths
    return {**paths, **openapi_paths(paths)}


def _admin_paths() -> dict[str, Any]:
    """The admin key's privacy routes (triggers/admin.py)."""
    from triggers.admin import openapi_paths
    return openapi_paths()


def _manage_paths() -> dict[str, Any]:
    """The manage link's routes (triggers/manage.py)."""
    from triggers.manage import openapi_paths
    return openapi_paths()


def _waitlist_paths() -> dict[str, Any]:
    """The waitlist's route (triggers/waitlist.py)."""
    from triggers.waitlist import openapi_paths
    return openapi_paths()


def openapi_document() -> dict[str, Any]:
    """The whole document, for the configured event types (built once per set of them)."""
    from shared.services.container import get_services
    return _document(tuple(sorted(get_services().business.event_types_by_key)))


@functools.cache
def _document(event_type_keys: tuple[str, ...]) -> dict[str, Any]:
    from pydantic.json_schema import models_json_schema

    from shared.domain.booking import Booking
    from shared.services.api_models import (AvailabilityResponse, CancelRequest, ErrorResponse, EventTypesResponse,
                                            PendingResponse, RescheduleRequest)
    from shared.services.contracts import BookingRequest
    from triggers.entra_bookings import ENTRA_SCHEME

    models = [(BookingRequest, "validation"), (CancelRequest, "validation"), (RescheduleRequest, "validation"),
              (Booking, "serialization"), (EventTypesResponse, "serialization"),
              (AvailabilityResponse, "serialization"), (PendingResponse, "serialization"),
              (ErrorResponse, "serialization")]
    _, definitions = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = {**definitions.get("$defs", {}), **_extra_schemas()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Frontdesk booking API", "version": "1.0.0",
                 "description": "Event types, availability and bookings for the business's Microsoft 365 calendars. "
                                "JSON is camelCase; times are ISO 8601 with an offset; errors are "
                                "{\"error\": {\"code\", \"message\", \"details\"}}. See docs/API.md."},
        "servers": [{"url": "/api"}],
        "paths": {**_with_entra_twins(_paths(event_type_keys)), **_admin_paths(), **_manage_paths(),
                  **_waitlist_paths()},
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"},
                "functionKeyQuery": {"type": "apiKey", "in": "query", "name": "code"},
                "entraId": ENTRA_SCHEME,
            },
        },
    }


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    """The OpenAPI document of the app's JSON routes."""
    return json_response(openapi_document(), headers={"Cache-Control": "public, max-age=300"})
