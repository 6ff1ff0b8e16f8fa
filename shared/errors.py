"""Errors the rest of Frontdesk understands, raised by adapters in place of SDK exceptions.

Adapters translate SDK and HTTP failures into these, keeping the service's request id so support
can trace a failure with Microsoft, Twilio or Azure. ``retryable`` tells activities and retry
policies whether trying again can help.
"""

from __future__ import annotations


class ExternalServiceError(Exception):
    """A call to an outside service failed."""

    retryable = False

    def __init__(self, message: str, *, service: str = "", status: int | None = None,
                 code: str | None = None, request_id: str | None = None):
        self.service = service
        self.status = status
        self.code = code
        self.request_id = request_id
        detail = ", ".join(f"{k}={v}" for k, v in (("status", status), ("code", code), ("request_id", request_id)) if v)
        super().__init__(f"{service + ': ' if service else ''}{message}{' (' + detail + ')' if detail else ''}")


class NotFoundError(ExternalServiceError):
    """The resource does not exist (any more)."""


class ConflictError(ExternalServiceError):
    """The write conflicts with the resource's current state (ETag mismatch, duplicate)."""


class ForbiddenError(ExternalServiceError):
    """Frontdesk is not allowed to do this: a permission or consent is missing."""


class ThrottledError(ExternalServiceError):
    """The service asked Frontdesk to slow down for longer than it is willing to wait."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class TransientError(ExternalServiceError):
    """A failure that may pass (5xx, timeout, connection reset)."""

    retryable = True


class PermanentError(ExternalServiceError):
    """A failure that will not pass by retrying (bad request, unsubscribed number)."""


class OptedOutError(PermanentError):
    """The recipient has opted out of text messages (STOP); never text them again unasked."""
