"""Administrators' routes: export and erase one person's data (shared/services/privacy.py; docs/API.md).

``POST privacy/export`` and ``POST privacy/erase`` take ``{"phone": "+13125550188"}``, ``{"email": "..."}`` or
both, in the body (never the URL: a number in a query string ends up in access logs). They need the function
app's admin (master) key (``auth_level=ADMIN``): nobody holding a booking or widget key can read or erase a
customer. Export answers 200 with the JSON; erase answers 200 with what it exported and erased, or 202 when
a booking's saga is still running (ask again once it has finished; nothing done twice).
"""

from __future__ import annotations

import azure.durable_functions as df
import azure.functions as func

from shared.http import HttpError, error_response, json_response, parse_json_body
from shared.logs import get_logger

bp = df.Blueprint()
log = get_logger(__name__)


def _subject(req: func.HttpRequest) -> tuple[str | None, str | None]:
    from shared.services.container import get_services
    from shared.services.privacy import NoSubject, subject_of
    body = parse_json_body(req)
    if not isinstance(body, dict) or set(body) - {"phone", "email"} or not all(
            value is None or isinstance(value, str) for value in body.values()):
        raise HttpError(422, "validation_failed", "Send {\"phone\": \"+1...\"}, {\"email\": \"...\"} or both.",
                        [{"field": "(body)", "message": "an object with phone and/or email strings",
                          "type": "model_type"}])
    try:
        return subject_of(body.get("phone"), body.get("email"), get_services().settings.sms.default_region)
    except NoSubject as exc:
        raise HttpError(422, "validation_failed", "The request is invalid; see details.",
                        [{"field": "(body)", "message": str(exc), "type": "value_error"}]) from None


async def _guarded(action: str, handler) -> func.HttpResponse:
    from shared.errors import ExternalServiceError
    from shared.runtime import ensure_started
    try:
        ensure_started()
        return await handler()
    except HttpError as error:
        return error_response(error.status, error.code, error.message, error.details)
    except ExternalServiceError as error:
        log.warning("%s: %s unavailable (status=%s code=%s)", action, error.service or "a service", error.status,
                    error.code)
        return error_response(503, "service_unavailable", "A service Frontdesk depends on did not answer; try "
                              "again shortly.", [{"service": error.service or "unknown"}], headers={"Retry-After": "5"})
    except Exception:
        log.exception("%s failed", action)
        return error_response(500, "internal_error", "Something went wrong on our side; try again shortly.")


@bp.route(route="privacy/export", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
async def export_personal_data(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Everything Frontdesk holds about a phone number or e-mail address, as JSON."""
    async def handle() -> func.HttpResponse:
        from shared.services.container import get_services
        from shared.services.privacy import find_person
        phone, email = _subject(req)
        person = await find_person(get_services(), client, phone, email)
        return json_response(person.export(), headers={"Cache-Control": "no-store"})
    return await _guarded("export personal data", handle)


@bp.route(route="privacy/erase", methods=["POST"], auth_level=func.AuthLevel.ADMIN)
@bp.durable_client_input(client_name="client")
async def erase_personal_data(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """Export, then erase, what Frontdesk holds about a phone number or e-mail address."""
    async def handle() -> func.HttpResponse:
        from shared.services.container import get_services
        from shared.services.privacy import erase_person
        phone, email = _subject(req)
        report, complete = await erase_person(get_services(), client, phone, email)
        return json_response(report, 200 if complete else 202, headers={"Cache-Control": "no-store"})
    return await _guarded("erase personal data", handle)


def openapi_paths() -> dict:
    """The privacy routes in the OpenAPI document (triggers/openapi.py): sent with the admin (master) key."""
    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def errors(*statuses: int) -> dict:
        return {str(status): {"description": text, "content": {"application/json": {"schema": ref("ErrorResponse")}}}
                for status, text in ((400, "Malformed JSON"), (401, "The admin (master) key is required"),
                                     (413, "The body is larger than 64 KiB"), (415, "The body is not application/json"),
                                     (422, "Neither a usable phone number nor an e-mail address"),
                                     (503, "Storage or the Durable task hub did not answer; see Retry-After"))
                if status in statuses}

    subject = {"type": "object", "additionalProperties": False, "minProperties": 1,
               "properties": {"phone": {"type": "string", "minLength": 1, "maxLength": 40,
                                        "description": "E.164, or national in SMS__DEFAULT_REGION"},
                              "email": {"type": "string", "minLength": 3, "maxLength": 254}}}
    body = {"required": True, "content": {"application/json": {"schema": subject}}}
    answer = {"type": "object", "description": "docs/API.md#privacy-requests-admin"}
    security = [{"functionKey": []}]
    note = "Needs the function app's admin (master) key in x-functions-key; any other key is answered 401."
    return {
        "/privacy/export": {"post": {
            "operationId": "exportPersonalData", "summary": "Everything Frontdesk holds about a phone or e-mail",
            "description": note, "security": security, "requestBody": body,
            "responses": {"200": {"description": "The export",
                                  "content": {"application/json": {"schema": answer}}},
                          **errors(400, 401, 413, 415, 422, 503)}}},
        "/privacy/erase": {"post": {
            "operationId": "erasePersonalData", "summary": "Export, then erase, what Frontdesk holds about a person",
            "description": note, "security": security, "requestBody": body,
            "responses": {"200": {"description": "Erased (the export, what was erased, what is kept)",
                                  "content": {"application/json": {"schema": answer}}},
                          "202": {"description": "Erased except what is still going on (listed under pending)",
                                  "content": {"application/json": {"schema": answer}}},
                          **errors(400, 401, 413, 415, 422, 503)}}},
    }
