"""The booking routes for callers signed in with Entra ID: ``/api/entra/bookings...`` (docs/SECURITY.md).

Why separate routes: the Functions host checks function keys before the app runs, and an identity that App
Service Authentication verified does not satisfy ``AuthLevel.FUNCTION`` (Azure/azure-functions-host#11394);
the Python worker is not told which key a request carried, so the app cannot verify function keys itself.
So the key routes (``/api/bookings...``, FUNCTION level) stay exactly as they are for the widget and scripts,
and these twins are ANONYMOUS to the host and authorised here, by the caller's app roles:

- ``POST entra/bookings`` and ``POST entra/bookings/{id}/reschedule``: ``Bookings.Write``;
- ``POST entra/bookings/{id}/cancel``: ``Bookings.Cancel``;
- ``GET entra/bookings/{id}``: either role.

The caller comes from App Service Authentication's ``X-MS-CLIENT-PRINCIPAL`` headers, trusted only when
``AUTH__EASY_AUTH_ENABLED`` says the platform is in front (it strips those headers from clients); otherwise
every request here is a 401 whatever headers it carries. No principal: 401 with ``WWW-Authenticate: Bearer``;
a principal without the role: 403. The handlers are the key routes' own, so answers, sagas and idempotency
are the same; a signed-in user's ``Idempotency-Key`` is scoped to that user (``user:<object id>``).
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.http import HttpError
from shared.logs import get_logger, log_context
from triggers.booking_api import _cancel_booking, _create_booking, _get_booking, _reschedule_booking, guarded

bp = df.Blueprint()
log = get_logger(__name__)

WRITE_ROLE = "Bookings.Write"  # book and reschedule (and read what was booked)
CANCEL_ROLE = "Bookings.Cancel"  # cancel (and read)
PREFIX = "entra/"


class SignInRequired(HttpError):
    def __init__(self, message: str):
        super().__init__(401, "unauthorized", message)


def signed_in_caller(req: func.HttpRequest, *roles: str):
    """The verified caller holding one of ``roles``; 401 when there is none to trust, 403 without the role."""
    from shared.services.container import get_services
    from shared.services.principal import PrincipalError, parse_client_principal
    if not get_services().settings.auth.easy_auth_enabled:
        # Without App Service Authentication in front, X-MS-CLIENT-PRINCIPAL is whatever the client wrote.
        raise SignInRequired("Entra ID sign-in is not enabled on this deployment (App Service Authentication "
                             "is off); use a function key on /api/bookings.")
    try:
        principal = parse_client_principal(req.headers)
    except PrincipalError as error:
        log.warning("ignoring a client principal App Service Authentication did not produce: %s", error)
        principal = None
    if principal is None or principal.identity_provider not in ("aad", ""):
        raise SignInRequired("Sign in with Entra ID: send an access token for Frontdesk's API "
                             "(Authorization: Bearer ...).")
    if not principal.has_any_role(*roles):
        log.info("caller %s lacks the app role %s", principal.id, " or ".join(roles))
        raise HttpError(403, "forbidden", f"Your account does not have the app role {' or '.join(roles)} on "
                        "Frontdesk; ask IT to assign it.", [{"requiredRoles": list(roles)}])
    return principal


async def as_signed_in(req: func.HttpRequest, action: str, roles: tuple[str, ...],
                       handler: Callable[[Any], Awaitable[func.HttpResponse]]) -> func.HttpResponse:
    """Authorise, then run ``handler(principal)`` with the key routes' error handling."""
    async def run() -> func.HttpResponse:
        principal = signed_in_caller(req, *roles)
        with log_context(principal_id=principal.id):
            return await handler(principal)
    response = await guarded(action, run)
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


@bp.route(route=PREFIX + "bookings", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def create_booking_signed_in(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST bookings`` for a signed-in user with Bookings.Write."""
    return await as_signed_in(req, "create booking", (WRITE_ROLE,),
                              lambda principal: _create_booking(req, client, scope=f"user:{principal.id}"))


@bp.route(route=PREFIX + "bookings/{id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def get_booking_signed_in(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``GET bookings/{id}`` for a signed-in user with either role."""
    return await as_signed_in(req, "get booking", (WRITE_ROLE, CANCEL_ROLE), lambda _: _get_booking(req, client))


@bp.route(route=PREFIX + "bookings/{id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def cancel_booking_signed_in(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST bookings/{id}/cancel`` for a signed-in user with Bookings.Cancel."""
    return await as_signed_in(req, "cancel booking", (CANCEL_ROLE,), lambda _: _cancel_booking(req, client))


@bp.route(route=PREFIX + "bookings/{id}/reschedule", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@bp.durable_client_input(client_name="client")
async def reschedule_booking_signed_in(req: func.HttpRequest,
                                       client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST bookings/{id}/reschedule`` for a signed-in user with Bookings.Write."""
    return await as_signed_in(req, "reschedule booking", (WRITE_ROLE,), lambda _: _reschedule_booking(req, client))


# ---------------------------------------------------------------- OpenAPI

ENTRA_SECURITY = [{"entraId": []}]
ENTRA_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An Entra ID access token for Frontdesk's API app registration, validated by App "
                               "Service Authentication (only when IT turned it on: entraAuthEnabled)."}
ROLE_BY_PATH = {"/bookings": {"post": WRITE_ROLE}, "/bookings/{id}": {"get": f"{WRITE_ROLE} or {CANCEL_ROLE}"},
                "/bookings/{id}/cancel": {"post": CANCEL_ROLE}, "/bookings/{id}/reschedule": {"post": WRITE_ROLE}}


def openapi_paths(key_paths: dict[str, Any]) -> dict[str, Any]:
    """The ``/entra/...`` twins of the key routes' OpenAPI path items: same bodies and answers, Entra security."""
    from triggers.openapi import _errors
    twins = {}
    for path, methods in ROLE_BY_PATH.items():
        item = {}
        for method, role in methods.items():
            operation = copy.deepcopy(key_paths[path][method])
            operation["operationId"] += "SignedIn"
            operation["summary"] += f" (signed in with Entra ID, app role {role})"
            operation["security"] = ENTRA_SECURITY
            responses = {**operation["responses"], **_errors(401, 403)}
            responses["401"]["description"] = ("No Entra ID sign-in (or App Service Authentication is off on "
                                               "this deployment)")
            responses["403"]["description"] = f"Signed in, but without the app role {role}"
            operation["responses"] = responses
            item[method] = operation
        twins["/" + PREFIX + path.lstrip("/")] = item
    return twins
