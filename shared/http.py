"""HTTP helpers shared by the triggers: JSON responses, the error shape, and safe body parsing.

Errors always have the shape ``{"error": {"code", "message", "details"}}`` and never carry a
stack trace. Bodies are size-checked before they are parsed.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

MAX_JSON_BODY_BYTES = 64 * 1024


class HttpError(Exception):
    """An error that maps straight onto an HTTP answer."""

    def __init__(self, status: int, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> func.HttpResponse:
    """A camelCase JSON answer (payloads are built camelCase by their producers)."""
    return func.HttpResponse(json.dumps(payload, default=str, separators=(",", ":")), status_code=status,
                             mimetype="application/json", headers=headers)


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> func.HttpResponse:
    """The one error shape of the HTTP surface."""
    body = {"error": {"code": code, "message": message, "details": details if details is not None else []}}
    return json_response(body, status, headers)


def http_error_response(error: HttpError) -> func.HttpResponse:
    return error_response(error.status, error.code, error.message, error.details)


def parse_json_body(req: func.HttpRequest, max_bytes: int = MAX_JSON_BODY_BYTES) -> Any:
    """The request's JSON body, or :class:`HttpError` 413/415/400 with a clear message."""
    body = req.get_body() or b""
    if len(body) > max_bytes:
        raise HttpError(413, "payload_too_large", f"The request body is larger than {max_bytes} bytes.")
    content_type = (req.headers.get("content-type") or "application/json").split(";")[0].strip().lower()
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise HttpError(415, "unsupported_media_type", "Send the body as application/json.")
    try:
        return json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        position = getattr(exc, "pos", None)
        raise HttpError(400, "malformed_json", "The request body is not valid JSON.",
                        [{"position": position}] if position is not None else []) from None
