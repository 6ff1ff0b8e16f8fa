"""An OpenAI-compatible chat completions emulator for testing the language adapter (OpenAI and Azure OpenAI).

Routes, as the services expose them:

* ``POST /v1/chat/completions`` -- OpenAI; ``Authorization: Bearer <key>`` required.
* ``POST /openai/deployments/{deployment}/chat/completions?api-version=...`` -- Azure OpenAI; ``api-key``
  or ``Authorization: Bearer`` (Entra ID) required, and the ``api-version`` query parameter.

Each request is checked for the shape the openai SDK sends for structured outputs (``model``, a non-empty
``messages`` list of ``{role, content}``, and -- when present -- ``response_format`` of type
``json_schema`` with ``name``, ``schema`` and ``strict: true``); a bad one gets OpenAI's 400 error body
``{"error": {"message", "type": "invalid_request_error", "param", "code"}}``. Every request is recorded.

The answer is whatever the test queued: a JSON object (sent as the message content), a refusal
(``content: null`` plus ``refusal``), raw text (to test invalid output), or a ``finish_reason`` such as
``length``. With nothing queued the model answers ``{}``. Faults add latency and/or an error status.

Test API under ``/_emulator``: ``POST answers`` (``{"content": {...}}`` | ``{"refusal": "..."}`` |
``{"raw": "..."}``, optional ``finish_reason``), ``DELETE answers``, ``POST faults``
(``{"status", "latency", "times", "retry_after"}``), ``DELETE faults``, ``GET requests``, ``POST reset``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dev.serving import BackgroundServer, RunningEmulator

VALID_ROLES = {"system", "developer", "user", "assistant", "tool"}


@dataclass
class Answer:
    """What the next completion says."""

    content: Any = None  # a JSON-serialisable object, sent as the message content
    refusal: str | None = None
    raw: str | None = None  # sent verbatim as the content (e.g. not JSON at all)
    finish_reason: str = "stop"

    def message(self) -> dict[str, Any]:
        if self.refusal is not None:
            return {"role": "assistant", "content": None, "refusal": self.refusal}
        text = self.raw if self.raw is not None else json.dumps(self.content if self.content is not None else {})
        return {"role": "assistant", "content": text, "refusal": None}


@dataclass
class Fault:
    """The next ``times`` requests wait ``latency`` s and, if ``status`` is set, fail with it."""

    status: int | None = None
    latency: float = 0.0
    times: int = 1
    retry_after: float | None = None


@dataclass
class State:
    answers: list[Answer] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def reset(self) -> None:
        with self.lock:
            self.answers.clear()
            self.faults.clear()
            self.requests.clear()

    def take_fault(self) -> Fault | None:
        with self.lock:
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault

    def take_answer(self) -> Answer:
        with self.lock:
            return self.answers.pop(0) if self.answers else Answer(content={})


STATE = web.AppKey("openai_state", State)


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None,
                 error_type: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.param, self.status, self.code, self.type = message, param, status, code, error_type


async def _sleep_unless_gone(request: web.Request, seconds: float) -> None:
    """Wait like a slow service, but stop early once the client has hung up (keeps shutdown quick)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while (remaining := deadline - asyncio.get_running_loop().time()) > 0:
        if request.transport is None or request.transport.is_closing():
            return
        await asyncio.sleep(min(remaining, 0.05))


def _error(status: int, message: str, *, error_type: str = "invalid_request_error", param: str | None = None,
           code: str | None = None, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": error_type, "param": param, "code": code}},
                             status=status, headers={"x-request-id": f"req_{uuid.uuid4().hex}", **(headers or {})})


def _validate(body: Any) -> None:
    """Refuse what OpenAI would refuse in the parts of the request Frontdesk relies on."""
    if not isinstance(body, dict):
        raise BadRequest("We could not parse the JSON body of your request.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise BadRequest("you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("[] is too short - 'messages'", param="messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in VALID_ROLES or "content" not in message:
            raise BadRequest(f"Invalid value for 'messages[{index}]': expected an object with a valid role and "
                             f"content.", param=f"messages[{index}]")
    response_format = body.get("response_format")
    if response_format is None:
        return
    if not isinstance(response_format, dict) or response_format.get("type") not in ("text", "json_object",
                                                                                    "json_schema"):
        raise BadRequest("Invalid value for 'response_format.type'.", param="response_format.type")
    if response_format["type"] == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("schema"),
                                                                                                dict):
            raise BadRequest("Missing required parameter: 'response_format.json_schema'.",
                             param="response_format.json_schema")
        if spec.get("strict") is not True:
            raise BadRequest("Frontdesk's emulator expects strict structured outputs: 'strict' must be true.",
                             param="response_format.json_schema.strict")
        schema = spec["schema"]
        if schema.get("type") == "object" and (schema.get("additionalProperties") is not False
                                               or set(schema.get("required", [])) != set(schema.get("properties", {}))):
            raise BadRequest("Invalid schema for response_format: In strict mode, 'additionalProperties' must be "
                             "false and every property must be required.", param="response_format")


def _completion(model: str, answer: Answer) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": answer.message(), "logprobs": None,
                     "finish_reason": answer.finish_reason}],
        "usage": {"prompt_tokens": 42, "completion_tokens": 12, "total_tokens": 54},
        "system_fingerprint": "fp_emulator",
    }


async def _chat_completions(request: web.Request) -> web.Response:
    state: State = request.app[STATE]
    deployment = request.match_info.get("deployment")
    raw = await request.text()
    try:
        body = json.loads(raw or "null")
    except json.JSONDecodeError:
        body = None
    with state.lock:
        state.requests.append({"path": request.path, "query": dict(request.query),
                               "headers": {k: v for k, v in request.headers.items()
                                           if k.lower() not in ("host", "content-length")},
                               "deployment": deployment, "body": body})
    fault = state.take_fault()
    if fault and fault.latency:
        await _sleep_unless_gone(request, fault.latency)
    auth_error = _check_auth(request, azure=deployment is not None)
    if auth_error is not None:
        return auth_error
    if fault and fault.status:
        headers = {"retry-after": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        kind = "server_error" if fault.status >= 500 else "rate_limit_exceeded" if fault.status == 429 \
            else "invalid_request_error"
        return _error(fault.status, f"The emulator was told to fail with {fault.status}.", error_type=kind,
                      headers=headers)
    try:
        _validate(body)
    except BadRequest as bad:
        return _error(bad.status, bad.message, error_type=bad.type, param=bad.param, code=bad.code)
    answer = state.take_answer()
    return web.json_response(_completion(body["model"] if deployment is None else deployment, answer),
                             headers={"x-request-id": f"req_{uuid.uuid4().hex}",
                                      **({"apim-request-id": str(uuid.uuid4())} if deployment else {})})


def _check_auth(request: web.Request, *, azure: bool) -> web.Response | None:
    bearer = request.headers.get("Authorization", "")
    has_bearer = bearer.lower().startswith("bearer ") and bearer[7:].strip()
    if azure:
        if not request.query.get("api-version"):
            return _error(404, "Resource not found", error_type="invalid_request_error", code="404")
        if not (request.headers.get("api-key") or has_bearer):
            return _error(401, "Access denied due to invalid subscription key or wrong API endpoint.",
                          error_type="invalid_request_error", code="401")
        return None
    if not has_bearer:
        return _error(401, "You didn't provide an API key.", code="invalid_api_key")
    return None


# ---------------------------------------------------------------- the /_emulator API


async def _add_answer(request: web.Request) -> web.Response:
    payload = await request.json()
    answers = payload if isinstance(payload, list) else [payload]
    with request.app[STATE].lock:
        request.app[STATE].answers.extend(Answer(**item) for item in answers)
        return web.json_response({"queued": len(request.app[STATE].answers)})


async def _clear_answers(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        request.app[STATE].answers.clear()
    return web.Response(status=204)


async def _add_fault(request: web.Request) -> web.Response:
    payload = await request.json()
    faults = payload if isinstance(payload, list) else [payload]
    with request.app[STATE].lock:
        request.app[STATE].faults.extend(Fault(**item) for item in faults)
    return web.Response(status=204)


async def _clear_faults(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        request.app[STATE].faults.clear()
    return web.Response(status=204)


async def _requests(request: web.Request) -> web.Response:
    with request.app[STATE].lock:
        return web.json_response(list(request.app[STATE].requests))


async def _reset(request: web.Request) -> web.Response:
    request.app[STATE].reset()
    return web.Response(status=204)


def create_app() -> web.Application:
    """The emulator as an aiohttp app."""
    app = web.Application(client_max_size=1024 * 1024)
    app[STATE] = State()
    app.router.add_post("/v1/chat/completions", _chat_completions)
    app.router.add_post("/openai/deployments/{deployment}/chat/completions", _chat_completions)
    app.router.add_post("/_emulator/answers", _add_answer)
    app.router.add_delete("/_emulator/answers", _clear_answers)
    app.router.add_post("/_emulator/faults", _add_fault)
    app.router.add_delete("/_emulator/faults", _clear_faults)
    app.router.add_get("/_emulator/requests", _requests)
    app.router.add_post("/_emulator/reset", _reset)
    return app


class OpenAIEmulator(RunningEmulator):
    """A running emulator. ``openai_base_url`` is for kind ``openai``; ``base_url`` is the Azure endpoint."""

    @property
    def openai_base_url(self) -> str:
        return self._server.base_url + "/v1"

    def queue_answer(self, content: Any, *, finish_reason: str = "stop") -> None:
        """The next completion's message content is this object, as JSON."""
        self._queue(Answer(content=content, finish_reason=finish_reason))

    def queue_refusal(self, text: str = "I'm sorry, I can't help with that.") -> None:
        self._queue(Answer(refusal=text))

    def queue_raw(self, text: str, *, finish_reason: str = "stop") -> None:
        """The next completion's content is this text verbatim (invalid JSON, say)."""
        self._queue(Answer(raw=text, finish_reason=finish_reason))

    def _queue(self, answer: Answer) -> None:
        with self.state.lock:
            self.state.answers.append(answer)

    def add_fault(self, status: int | None = None, *, latency: float = 0.0, times: int = 1,
                  retry_after: float | None = None) -> None:
        with self.state.lock:
            self.state.faults.append(Fault(status=status, latency=latency, times=times, retry_after=retry_after))

    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)


def start_openai_emulator(port: int | None = None) -> OpenAIEmulator:
    """Start the emulator on a free loopback port (background thread) and return it."""
    server = BackgroundServer(create_app, port=port, name="openai-emulator").start()
    return OpenAIEmulator(server, server.app[STATE])
