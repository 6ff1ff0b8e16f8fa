"""The development host: a local stand-in for the Azure Functions host and the Durable extension.

It indexes a function app exactly as the Python worker does (``app.get_functions()``, once per app
object), serves its HTTP triggers, provides the Durable client binding and the Durable extension's
HTTP API, and runs orchestrations in-process by replaying the real ``azure-functions-durable`` SDK
against histories in the extension's JSON format, persisted in Table Storage (Azurite). Production
code never imports it.

Python API::

    from dev.host import DevHost, DevClock

    host = DevHost(
        "function_app",                       # module name, module, FunctionApp/DFApp, or a factory returning one
        env={"STORAGE__TABLE_PREFIX": "t1"},  # app settings, applied to os.environ while the host runs
        storage_connection_string=azurite.connection_string,   # else the AzureWebJobsStorage setting
        task_hub="frontdesk",                 # else host.json's durableTask.hubName (%SETTING% resolved)
        master_key="...", host_key="...",     # generated when omitted (or DEV_HOST_MASTER_KEY / _FUNCTION_KEY)
        function_keys={"bookings": "..."},    # per-function keys (or DEV_HOST_FUNCTION_KEYS as JSON)
        port=None, route_prefix=None,         # free port; host.json's routePrefix, else "api"
        clock=None, resume=True,              # a DevClock; resume unfinished instances found in storage
        cors_origins=None, max_sync_workers=16)
    host.start()            # or `with DevHost(...) as host:`; host.stop()
    host.base_url           # http://127.0.0.1:<port>;  host.url("bookings/42") -> .../api/bookings/42
    host.master_key; host.function_key(name=None); host.system_key
    host.clock.advance(timedelta(minutes=5))   # due durable timers fire before this returns
    host.clock.freeze(); host.clock.unfreeze()
    host.invoke("renew_subscriptions")         # run a timer function now, return its result
    host.wait_for_instance(instance_id, timeout=10, until=None)   # -> DurableOrchestrationStatus
    await host.wait_for_instance_async(...)    # the same from an async test
    host.get_status(instance_id, show_history=True)
    await host.with_client(lambda client: client.start_new("saga", None, payload))
    host.run_with_client(lambda client: client.raise_event(iid, "confirm", True))
    host.durable_client_json()                 # what a durable_client_input parameter receives
    host.describe_functions()

Use ``with_client``/``run_with_client`` rather than building a ``DurableOrchestrationClient`` on your own
event loop: the SDK keeps one global aiohttp session, and the host's worker loop owns it.

CLI (serves until Ctrl+C)::

    python -m dev.host --app function_app --port 7071 [--settings local.settings.json] [--azurite]

HTTP surface: ``/<routePrefix>/<route>`` (templates ``{id}``, ``{id?}``, ``{id:int}``, ``{*rest}``; 404,
405 with ``Allow``, 401 without a valid key in ``code`` or ``x-functions-key``; a raising function
answers 500 with ``{"error": {...}}`` and a correlation id), ``POST /admin/functions/{name}`` (master
key; runs a timer function, 202), ``GET /admin/functions``, ``GET /admin/host/status``, the Durable
API under ``/runtime/webhooks/durabletask/`` (system key) and ``/durabletask/`` (the loopback
``rpcBaseUrl`` the client binding points at).

Faithful to production on purpose, including its sharp edges:

- ``DurableOrchestrationClient.raise_event`` double-encodes: a dict raised arrives in
  ``wait_for_external_event`` as its JSON text (azure-functions-durable-python#295); start inputs and
  activity inputs arrive decoded. ``get_status().input_`` is the JSON text of the input.
- An event raised before the orchestrator waits is buffered (the SDK keeps the last one per name);
  an event for an unknown instance answers 404 (the SDK raises), for a finished one 410.
- ``*_with_retry`` retries run as DTFx does: one durable timer per failed attempt, delay
  ``first * backoff ** (attempt - 1)`` capped by the max interval; after the retry timeout no further
  attempt is made and, as in Azure, the orchestrator is never resumed (a warning is logged).
- Activities run at least once: after a restart every scheduled, unfinished activity runs again.
- Timers fire by the host clock; a cancelled timer never fires. Durable entities and ``call_http``
  fail the orchestration with a clear message. Only one host may serve a task hub at a time.
- Timer triggers fire only on demand (admin API, ``invoke``) or at start with ``run_on_startup``.
"""

from dev.host.clock import DevClock
from dev.host.host import DevHost

__all__ = ["DevHost", "DevClock"]
