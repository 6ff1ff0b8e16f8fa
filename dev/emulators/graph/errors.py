"""Graph's OData error answers: ``{"error": {"code", "message", "innerError": {"request-id", "date", ...}}}``."""

from __future__ import annotations


class GraphError(Exception):
    """An error answer the emulator sends with Graph's status, code and message."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def invalid_user(name: str) -> GraphError:
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{name}' is invalid.")


# What Graph says for each status when a fault is injected without a code of its own.
FAULT_DEFAULTS = {
    400: ("ErrorInvalidRequest", "The request is invalid."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("ErrorAccessDenied", "Access is denied. Check credentials and try again."),
    404: ("ErrorItemNotFound", "The specified object was not found in the store."),
    409: ("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key "
                                       "passed in the request does not match the current change key for the item."),
    412: ("ErrorIrresolvableConflict", "The send or update operation could not be performed because the change key "
                                       "passed in the request does not match the current change key for the item."),
    429: ("ApplicationThrottled", "Application is over its MailboxConcurrency limit."),
    500: ("ErrorInternalServerError", "An internal server error occurred. The operation failed."),
    502: ("BadGateway", "The server received an invalid response from an upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
    504: ("GatewayTimeout", "The gateway did not receive a timely response from the upstream server."),
}
