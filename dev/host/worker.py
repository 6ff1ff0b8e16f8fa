"""Invoke user functions the way the Python worker does.

Arguments are built with azure-functions' own converters (the same ones the worker uses), async
functions run on the worker's event loop and sync functions in a thread pool. The worker loop is
process-wide, like the single Python worker process: azure-functions-durable keeps one global aiohttp
session for ``DurableOrchestrationClient``, which must always be used from the same event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dev.host.loader import FunctionInfo

_worker_lock = threading.Lock()
_worker_loop: asyncio.AbstractEventLoop | None = None


def worker_loop() -> asyncio.AbstractEventLoop:
    """The process-wide loop async user functions run on (started on first use, never stopped)."""
    global _worker_loop
    with _worker_lock:
        if _worker_loop is None:
            ready = threading.Event()
            loop = asyncio.new_event_loop()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            threading.Thread(target=run, name="devhost-worker-loop", daemon=True).start()
            ready.wait(10)
            _worker_loop = loop
        return _worker_loop


class InvocationContext:
    """What the worker passes to a ``context: func.Context`` parameter."""

    def __init__(self, function: FunctionInfo, invocation_id: str):
        self._function = function
        self._invocation_id = invocation_id
        self._tls = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def function_name(self) -> str:
        return self._function.name

    @property
    def function_directory(self) -> str:
        return self._function.directory

    @property
    def thread_local_storage(self):
        return self._tls

    @property
    def trace_context(self):
        return _TraceContext()

    @property
    def retry_context(self):
        return None


class _TraceContext:
    trace_parent = ""
    trace_state = ""
    attributes: dict = {}


class _DiscardedOut:
    """Stands in for an output binding the development host does not implement."""

    def __init__(self):
        self._value = None

    def set(self, value) -> None:
        self._value = value

    def get(self):
        return self._value


class Invoker:
    """Runs user functions: async on the worker loop, sync in this host's thread pool."""

    def __init__(self, max_sync_workers: int = 16):
        self.pool = ThreadPoolExecutor(max_workers=max_sync_workers, thread_name_prefix="devhost-sync")
        self._loop = worker_loop()

    async def call(self, function: FunctionInfo, trigger_value: Any, *, client_json: str | None = None,
                   invocation_id: str | None = None) -> Any:
        """Invoke ``function`` from any event loop and return what it returned (or raise what it raised)."""
        kwargs = self.arguments(function, trigger_value, client_json, invocation_id or str(uuid.uuid4()))
        context = contextvars.copy_context()  # correlation ids in scope follow the call into user code
        if function.is_async:
            future = asyncio.run_coroutine_threadsafe(_in_context(context, function.user_function, kwargs), self._loop)
            return await asyncio.wrap_future(future)
        call = functools.partial(context.run, function.user_function, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self.pool, call)

    @staticmethod
    def arguments(function: FunctionInfo, trigger_value: Any, client_json: str | None,
                  invocation_id: str) -> dict[str, Any]:
        kwargs: dict[str, Any] = {function.trigger_param: trigger_value}
        for name in function.client_params:
            kwargs[name] = client_json
        for name in function.output_params:
            kwargs[name] = _DiscardedOut()
        for name in function.unsupported_inputs:
            kwargs[name] = None
        if function.wants_context:
            kwargs["context"] = InvocationContext(function, invocation_id)
        return kwargs

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


async def _in_context(context: contextvars.Context, user_function, kwargs: dict) -> Any:
    for variable, value in context.items():
        variable.set(value)  # this task runs in its own copy of the context, so nothing leaks out
    return await user_function(**kwargs)


def timer_request(past_due: bool = False):
    """A TimerRequest decoded from the JSON the host sends for a timer trigger."""
    from azure.functions import meta
    from azure.functions.timer import TimerRequestConverter
    body = json.dumps({"Schedule": {"AdjustForDST": True}, "ScheduleStatus": None, "IsPastDue": past_due})
    return TimerRequestConverter.decode(meta.Datum(body, "json"), trigger_metadata=None)


def activity_input(serialized: str):
    """The value an activity receives for the input the orchestrator serialised (df_dumps JSON)."""
    from azure.functions import meta
    from azure.functions.durable_functions import ActivityTriggerConverter
    return ActivityTriggerConverter.decode(meta.Datum(serialized, "json"), trigger_metadata=None)


def activity_output(value: Any) -> str:
    """The serialized activity result the worker hands back to the extension."""
    from azure.functions.durable_functions import ActivityTriggerConverter
    return ActivityTriggerConverter.encode(value, expected_type=None).value


def orchestration_context(body: str):
    from azure.functions import meta
    from azure.functions.durable_functions import OrchestrationTriggerConverter
    return OrchestrationTriggerConverter.decode(meta.Datum(body, "string"), trigger_metadata=None)
