"""The in-process Durable orchestration engine: replays the real azure-functions-durable SDK.

Each orchestration instance is an actor that handles one message at a time (a start, an activity
result, a fired timer, a raised event, a sub-orchestration outcome, a terminate). Handling a message
is an *episode*, as in the Durable Task Framework:

1. the history so far (``IsPlayed``) plus ``OrchestratorStarted`` (the host clock's time) and the new
   event go to the registered orchestrator function as the orchestration-trigger JSON, exactly as the
   Durable extension sends it (replay schema V2, upgradable to V3 for long timers);
2. the SDK answers with its ``OrchestratorState`` (actions, isDone, output, error, customStatus);
3. the engine does what the extension's out-of-process shim does with those actions: it schedules
   new activities, timers and sub-orchestrations with DTFx's sequential event ids, retries failed
   ``*_with_retry`` calls through a durable timer exactly like DTFx's RetryInterceptor (first
   interval, backoff coefficient, max interval, max attempts, retry timeout), completes, fails or
   continues the instance as new;
4. the new history events, the new state and the consumed inbox row are committed to Table Storage
   in one transaction, and only then do activities run and timers get armed.

Activities, timer firings and sub-orchestration outcomes are re-derived from storage after a restart
(pending work is re-dispatched, at least once, as Durable promises), so they are kept in memory only;
messages a client handed over (start, raised events, terminate, suspend, resume) are written to the
instance's inbox in storage first. Everything here runs on the host's server loop; user code runs on
the worker loop or in the thread pool, never on this loop.
"""

from __future__ import annotations

import asyncio
import copy
import heapq
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from azure.durable_functions.models.history import HistoryEventType as T

from dev.host import history as h
from dev.host.clock import DevClock
from dev.host.loader import ACTIVITY, ORCHESTRATOR, FunctionInfo
from dev.host.store import ConcurrentUpdate, InstanceStore, PayloadTooLarge, from_iso, iso, new_inbox_key
from dev.host.worker import Invoker, activity_input, activity_output, orchestration_context
from shared.logs import get_logger, log_context

log = get_logger("dev.host.engine")

TERMINAL = frozenset({"Completed", "Failed", "Terminated", "Canceled"})
ACTIVE = frozenset({"Pending", "Running", "Suspended", "ContinuedAsNew"})
OUT_OF_PROC_MARKER = "$OutOfProcData$:"
CONTEXT_SETTINGS = {
    # What the Durable extension (Azure Storage backend) advertises to out-of-process SDKs.
    "upperSchemaVersion": 1,
    "upperSchemaVersionNew": 2,
    "maximumShortTimerDuration": "6.00:00:00",
    "longRunningTimerIntervalDuration": "3.00:00:00",
    "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
}
_ACTION_NAMES = {0: "CallActivity", 1: "CallActivityWithRetry", 2: "CallSubOrchestrator",
                 3: "CallSubOrchestratorWithRetry", 4: "ContinueAsNew", 5: "CreateTimer",
                 6: "WaitForExternalEvent", 7: "CallEntity", 8: "CallHttp", 9: "SignalEntity",
                 10: "ScheduledSignalEntity"}
_BAD_INSTANCE_ID = re.compile(r"[/\\#?\x00-\x1f\x7f]")


class OrchestratorNotFound(ValueError):
    """Starting an orchestrator the app does not define (the RPC API answers 400)."""


class InstanceExists(Exception):
    """Starting an instance id that is still running (the RPC API answers 409)."""


class InvalidInstanceId(ValueError):
    """An instance id Table Storage (and so the Durable extension) cannot store."""


def new_shim() -> dict:
    """The extension-side bookkeeping of one execution (persisted with the instance)."""
    return {"nextId": 0, "actions": [], "pending": {}, "retries": {}, "waits": {}}


@dataclass
class Instance:
    id: str
    name: str
    version: str
    execution_id: str
    status: str
    input: Any
    created: datetime
    updated: datetime
    output: Any = None
    custom_status: Any = None
    parent: dict | None = None
    history: list[dict] = field(default_factory=list)
    shim: dict = field(default_factory=new_shim)
    inbox: list[tuple[str | None, dict]] = field(default_factory=list)
    etag: str | None = None
    processing: bool = False

    def state(self, **changes) -> dict:
        values = {"instanceId": self.id, "name": self.name, "version": self.version,
                  "executionId": self.execution_id, "status": self.status, "input": self.input,
                  "output": self.output, "customStatus": self.custom_status, "createdTime": iso(self.created),
                  "lastUpdatedTime": iso(self.updated), "parent": self.parent, "shim": self.shim,
                  "historyLength": len(self.history)}
        values.update(changes)
        return values

    @classmethod
    def from_stored(cls, stored) -> "Instance":
        s = stored.state
        return cls(id=s["instanceId"], name=s["name"], version=s.get("version") or "", execution_id=s["executionId"],
                   status=s["status"], input=s.get("input"), created=from_iso(s["createdTime"]),
                   updated=from_iso(s["lastUpdatedTime"]), output=s.get("output"), custom_status=s.get("customStatus"),
                   parent=s.get("parent"), history=stored.history, shim=s.get("shim") or new_shim(),
                   inbox=list(stored.inbox), etag=stored.etag)


@dataclass
class Episode:
    """What one message turns into: events to append, state changes, and work to do after the commit."""

    events: list[dict] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    new_inbox: list[tuple[str, dict]] = field(default_factory=list)
    activities: list[int] = field(default_factory=list)
    timers: list[tuple[datetime, int]] = field(default_factory=list)
    children: list[int] = field(default_factory=list)
    parent_outcome: tuple[str, Any, str] | None = None
    old_execution: str | None = None


def message(event: dict, execution_id: str | None = None) -> dict:
    return {"executionId": execution_id, "event": event}


def missing_function_message(name: str, kind: str, known: list[str]) -> str:
    listed = ", ".join(f"'{n}'" for n in sorted(known)) or "(none)"
    return (f"The function '{name}' doesn't exist, is disabled, or is not an {kind} function. Additional info: "
            f"The following are the known {kind} functions: {listed}.")


def validate_instance_id(instance_id: str) -> None:
    if not instance_id or len(instance_id) > 256 or _BAD_INSTANCE_ID.search(instance_id):
        raise InvalidInstanceId(f"Instance ID '{instance_id}' is invalid: it must be 1-256 characters without "
                                f"'/', '\\', '#', '?' or control characters.")
    if instance_id.startswith("@"):
        raise InvalidInstanceId("Orchestration instance ids must not start with @")


def parse_fire_at(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def flatten_actions(actions: list) -> list[dict]:
    """The atomic actions in the order the extension's shim invokes them (compound ones expanded)."""
    flat: list[dict] = []

    def walk(action: dict) -> None:
        if action.get("actionType") in (11, 12):
            for child in action.get("compoundActions") or []:
                walk(child)
        else:
            flat.append(action)

    for group in actions or []:
        for action in (group if isinstance(group, list) else [group]):
            walk(action)
    return flat


def signature(action: dict) -> str:
    kind = action.get("actionType")
    name = action.get("functionName") or action.get("externalEventName") or ""
    return f"{_ACTION_NAMES.get(kind, kind)}:{name}" if name else str(_ACTION_NAMES.get(kind, kind))


def retry_delay(record: dict, now: datetime) -> timedelta | None:
    """DTFx RetryInterceptor.ComputeNextDelay: None when the retry timeout has expired."""
    options = record["options"]
    timeout_ms = options.get("retryTimeoutInMilliseconds")
    if timeout_ms is not None and now >= from_iso(record["firstAttempt"]) + timedelta(milliseconds=timeout_ms):
        return None
    delay_ms = float(options.get("firstRetryIntervalInMilliseconds", 0)) * \
        float(options.get("backoffCoefficient", 1) or 1) ** (record["attempts"] - 1)
    maximum = options.get("maxRetryIntervalInMilliseconds")
    if maximum is not None and delay_ms >= float(maximum):
        delay_ms = float(maximum)
    if delay_ms <= 0:
        return None
    return timedelta(milliseconds=delay_ms)


class Engine:
    """Runs the task hub's orchestrations; every method runs on the host's server loop."""

    def __init__(self, functions: list[FunctionInfo], store: InstanceStore, clock: DevClock, invoker: Invoker,
                 client_json: Callable[[FunctionInfo], str | None]):
        self.orchestrators = {f.name: f for f in functions if f.kind == ORCHESTRATOR}
        self.activities = {f.name: f for f in functions if f.kind == ACTIVITY}
        self.store = store
        self.clock = clock
        self.invoker = invoker
        self._client_json = client_json
        self._instances: dict[str, Instance] = {}
        self._loading: dict[str, asyncio.Future] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._timers: list[tuple[datetime, int, str, str, int]] = []
        self._timer_seq = itertools.count()
        self._tasks: set[asyncio.Task] = set()
        self._stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._wake: asyncio.Event | None = None
        self._change: asyncio.Event | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self, resume: bool = True) -> None:
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._change = asyncio.Event()
        self.clock.subscribe(self._on_clock_moved)
        self._spawn(self._timer_loop())
        if resume:
            await self._recover()

    async def stop(self) -> None:
        self._stopping = True
        self.clock.unsubscribe(self._on_clock_moved)
        tasks = [task for task in self._tasks if task is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coro) -> asyncio.Task:
        task = self.loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not self._stopping:
            log.error("development host background task failed", exc_info=task.exception())

    # ----------------------------------------------------------------- client operations (the RPC API)

    async def start_new(self, name: str, instance_id: str | None, input_value: Any, version: str = "") -> str:
        if name not in self.orchestrators:
            raise OrchestratorNotFound(missing_function_message(name, "orchestrator", list(self.orchestrators)))
        instance_id = instance_id or uuid.uuid4().hex
        validate_instance_id(instance_id)
        async with self._lock_for(instance_id):
            existing = await self._get(instance_id)
            if existing is not None and existing.status not in TERMINAL:
                raise InstanceExists(f"An Orchestration instance with the status {existing.status} already exists.")
            if existing is not None:
                await self._remove(existing)
            await self._create(instance_id, name, input_value, version or "", parent=None)
        return instance_id

    async def status(self, instance_id: str, *, show_history: bool = False, show_history_output: bool = False,
                     show_input: bool = True) -> dict | None:
        inst = await self._get(instance_id)
        if inst is None:
            return None
        payload = self._payload(inst.state(), show_input)
        if show_history:
            payload["historyEvents"] = h.status_history(inst.history, show_input, show_history_output)
        return payload

    async def query(self, *, prefix: str | None = None, created_from: datetime | None = None,
                    created_to: datetime | None = None, statuses: set[str] | None = None,
                    show_input: bool = True) -> list[dict]:
        found = []
        for state in await self.store.list_states():
            created = from_iso(state["createdTime"])
            if prefix and not state["instanceId"].startswith(prefix):
                continue
            if created_from and created < created_from or created_to and created > created_to:
                continue
            if statuses and state["status"] not in statuses:
                continue
            found.append(self._payload(state, show_input))
        found.sort(key=lambda p: (p["createdTime"], p["instanceId"]))
        return found

    async def raise_event(self, instance_id: str, name: str, value: Any) -> str:
        """'accepted', 'not_found' or 'gone' (the instance already finished)."""
        inst = await self._get(instance_id)
        if inst is None:
            return "not_found"
        if inst.status in TERMINAL:
            return "gone"
        event = h.event(T.EVENT_RAISED, self.clock.now(), Name=name, Input=json.dumps(value))
        await self._deliver(instance_id, message(event), durable=True)
        return "accepted"

    async def control(self, instance_id: str, operation: str, reason: str | None) -> str:
        """terminate / suspend / resume: 'accepted', 'not_found' or 'gone'."""
        inst = await self._get(instance_id)
        if inst is None:
            return "not_found"
        if inst.status in TERMINAL:
            return "gone"
        kind = {"terminate": T.EXECUTION_TERMINATED, "suspend": T.EXECUTION_SUSPENDED,
                "resume": T.EXECUTION_RESUMED}[operation]
        await self._deliver(instance_id, message(h.event(kind, self.clock.now(), Input=reason)), durable=True)
        return "accepted"

    async def restart(self, instance_id: str, new_instance_id: bool) -> str | None:
        inst = await self._get(instance_id)
        if inst is None:
            return None
        return await self.start_new(inst.name, uuid.uuid4().hex if new_instance_id else instance_id,
                                    inst.input, inst.version)

    async def purge(self, instance_id: str, *, terminal_only: bool = True) -> str:
        """'deleted', 'not_found' or 'not_terminal' (the single-instance API refuses running instances)."""
        async with self._lock_for(instance_id):
            inst = await self._get(instance_id)
            if inst is None:
                return "not_found"
            if terminal_only and inst.status not in TERMINAL:
                return "not_terminal"
            await self._remove(inst)
            return "deleted"

    async def purge_by(self, created_from: datetime, created_to: datetime | None,
                       statuses: set[str] | None) -> int:
        """Purge every instance created in ``[created_from, created_to]`` with one of ``statuses``.

        As the Azure Storage backend does (``AzureTableTrackingStore.PurgeInstanceHistoryAsync``): only the
        terminal statuses of the filter count, and a filter left empty by that (or none at all) purges every
        instance in the range, running ones included. Callers must name the terminal statuses they mean.
        """
        wanted = {status for status in statuses or () if status in TERMINAL} or None
        deleted = 0
        for payload in await self.query(created_from=created_from, created_to=created_to, statuses=wanted):
            if await self.purge(payload["instanceId"], terminal_only=False) == "deleted":
                deleted += 1
        return deleted

    async def wait_for(self, instance_id: str, predicate: Callable[[dict], bool], timeout: float) -> dict:
        """The instance's status payload once ``predicate`` holds; TimeoutError otherwise."""
        deadline = self.loop.time() + timeout
        while True:
            changed = self._change
            payload = await self.status(instance_id)
            if payload is not None and predicate(payload):
                return payload
            remaining = deadline - self.loop.time()
            if remaining <= 0:
                state = payload["runtimeStatus"] if payload else "not found"
                raise TimeoutError(f"instance {instance_id} did not reach the expected state in {timeout:g} s "
                                   f"(it is {state})")
            try:
                await asyncio.wait_for(changed.wait(), min(remaining, 1.0))
            except asyncio.TimeoutError:
                pass

    # ----------------------------------------------------------------- instances and inboxes

    def _lock_for(self, instance_id: str) -> asyncio.Lock:
        return self._locks.setdefault(instance_id, asyncio.Lock())

    async def _get(self, instance_id: str) -> Instance | None:
        inst = self._instances.get(instance_id)
        if inst is not None:
            return inst
        loading = self._loading.get(instance_id)
        if loading is not None:
            return await asyncio.shield(loading)
        future = self.loop.create_future()
        self._loading[instance_id] = future
        try:
            stored = await self.store.load(instance_id)
            # Created here while the row was being read (a status read racing a start of the same id): that
            # instance is the one being processed; registering a second copy of it would strand both.
            inst = self._instances.get(instance_id) or (Instance.from_stored(stored) if stored is not None else None)
            if inst is not None:
                self._instances[instance_id] = inst
            future.set_result(inst)
            return inst
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved here so an unawaited failure is not reported twice
            raise
        finally:
            del self._loading[instance_id]

    async def _create(self, instance_id: str, name: str, input_value: Any, version: str, parent: dict | None) -> None:
        now = self.clock.now()
        inst = Instance(id=instance_id, name=name, version=version, execution_id=uuid.uuid4().hex,
                        status="Pending", input=input_value, created=now, updated=now, parent=parent)
        start = (new_inbox_key(), self._start_message(inst, now))
        inst.etag = await self.store.create(instance_id, inst.state(), [start])
        inst.inbox.append(start)
        self._instances[instance_id] = inst
        self._changed()
        self._kick(inst)

    def _start_message(self, inst: Instance, now: datetime) -> dict:
        input_json = json.dumps(inst.input) if inst.input is not None else None
        return message(h.execution_started(now, inst.id, inst.execution_id, inst.name, input_json, inst.version,
                                           inst.parent), inst.execution_id)

    async def _remove(self, inst: Instance) -> None:
        await self.store.delete_rows(inst.id)
        self._instances.pop(inst.id, None)
        self._changed()

    async def _deliver(self, instance_id: str, msg: dict, *, durable: bool) -> bool:
        if self._stopping:
            return False
        inst = await self._get(instance_id)
        if inst is None:
            log.info("message for unknown instance %s dropped", instance_id)
            return False
        key = await self.store.append_inbox(instance_id, msg) if durable else None
        inst.inbox.append((key, msg))
        self._kick(inst)
        return True

    def _kick(self, inst: Instance) -> None:
        if not inst.processing and not self._stopping:
            inst.processing = True
            self._spawn(self._drain(inst))

    def _next_message(self, inst: Instance):
        if not inst.inbox:
            return None
        if inst.status in TERMINAL:
            return inst.inbox[0]
        if not inst.history:
            return next((item for item in inst.inbox if item[1]["event"]["EventType"] in
                         (T.EXECUTION_STARTED, T.EXECUTION_TERMINATED)), None)
        if inst.status == "Suspended":
            return next((item for item in inst.inbox if item[1]["event"]["EventType"] in
                         (T.EXECUTION_RESUMED, T.EXECUTION_TERMINATED)), None)
        return inst.inbox[0]

    async def _drain(self, inst: Instance) -> None:
        failures = 0
        try:
            while not self._stopping and self._instances.get(inst.id) is inst:
                item = self._next_message(inst)
                if item is None:
                    return
                try:
                    with log_context(instance_id=inst.id):
                        await self._handle(inst, item)
                    failures = 0
                except ConcurrentUpdate:
                    if self._instances.get(inst.id) is not inst:
                        # Restarted under the same id (start_new over a finished instance) while this execution
                        # made its last commit: the new execution is processed, this one is over.
                        log.info("instance %s was restarted while its previous execution ended", inst.id)
                        return
                    log.error("instance %s changed in storage underneath this host (is another host serving "
                              "task hub table %s?); it is no longer processed here", inst.id, self.store.table_name)
                    self._instances.pop(inst.id, None)
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    failures += 1
                    log.exception("orchestration step of %s failed (attempt %d); retrying", inst.id, failures)
                    if failures >= 5:
                        log.error("giving up on instance %s until the host restarts", inst.id)
                        return
                    await asyncio.sleep(0.2 * failures)
        finally:
            inst.processing = False

    def _is_stale(self, inst: Instance, msg: dict) -> bool:
        event = msg["event"]
        kind = event["EventType"]
        if inst.status in TERMINAL:
            return True
        if msg.get("executionId") and msg["executionId"] != inst.execution_id:
            return True
        if kind == T.EXECUTION_STARTED:
            return bool(inst.history)
        if kind in (T.TASK_COMPLETED, T.TASK_FAILED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                    T.SUB_ORCHESTRATION_INSTANCE_FAILED):
            return str(event["TaskScheduledId"]) not in inst.shim["pending"]
        if kind == T.TIMER_FIRED:
            return str(event["TimerId"]) not in inst.shim["pending"]
        return False

    async def _handle(self, inst: Instance, item: tuple[str | None, dict]) -> None:
        key, msg = item
        kind = msg["event"]["EventType"]
        if self._is_stale(inst, msg):
            if key:
                await self.store.delete_row(inst.id, key)
            inst.inbox.remove(item)
            return
        now = self.clock.now()
        if kind == T.EXECUTION_TERMINATED:
            episode = self._terminate(inst, msg["event"], now)
        elif kind in (T.EXECUTION_SUSPENDED, T.EXECUTION_RESUMED):
            episode = Episode(events=[msg["event"]], changes={
                "status": "Suspended" if kind == T.EXECUTION_SUSPENDED else "Running"})
        else:
            episode = await self._run_episode(inst, msg["event"], now)
        try:
            await self._commit(inst, item, episode, now)
        except PayloadTooLarge as exc:
            # Azure would spill large payloads to blobs; here the instance fails with a clear reason instead.
            failed = Episode(events=[h.orchestrator_started(now), msg["event"]], changes={"shim": inst.shim})
            self._fail(inst, failed, str(exc), now)
            failed.events.append(h.orchestrator_completed(now))
            await self._commit(inst, item, failed, now)

    # ----------------------------------------------------------------- one episode

    async def _run_episode(self, inst: Instance, event: dict, now: datetime) -> Episode:
        shim = copy.deepcopy(inst.shim)
        episode = Episode()
        reactions: list[dict] = []
        self._react(inst, shim, event, now, reactions, episode)
        new_events = [h.orchestrator_started(now), event]
        state = await self._replay(inst, h.played(inst.history) + new_events)
        actions = flatten_actions(state.get("actions"))
        error = state.get("error")
        if not error:
            error = self._check_determinism(shim, actions, bool(state.get("isDone")))
        decisions: list[dict] = []
        if not error:
            error = self._schedule_new_actions(inst, shim, actions, now, decisions, episode)
        episode.events = new_events + reactions + decisions
        episode.changes = {"shim": shim, "customStatus": state.get("customStatus"), "status": "Running"}
        continue_as_new = next((a for a in actions if a.get("actionType") == 4), None)
        if error:
            self._fail(inst, episode, error, now)
        elif state.get("isDone") and continue_as_new is not None:
            self._continue_as_new(inst, episode, shim, continue_as_new, now)
        elif state.get("isDone"):
            output = state.get("output")
            episode.events.append(h.event(T.EXECUTION_COMPLETED, now, OrchestrationStatus="Completed",
                                          Result=json.dumps(output)))
            episode.changes.update(status="Completed", output=output)
            episode.parent_outcome = ("completed", json.dumps(output), "")
        if episode.events:
            episode.events.append(h.orchestrator_completed(now))
        return episode

    def _react(self, inst: Instance, shim: dict, event: dict, now: datetime, reactions: list[dict],
               episode: Episode) -> None:
        """What the extension's C# side does with a completion before the SDK sees it: retries."""
        kind = event["EventType"]
        if kind in (T.TASK_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED):
            shim["pending"].pop(str(event["TaskScheduledId"]), None)
            shim["retries"].pop(str(event["TaskScheduledId"]), None)
        elif kind in (T.TASK_FAILED, T.SUB_ORCHESTRATION_INSTANCE_FAILED):
            shim["pending"].pop(str(event["TaskScheduledId"]), None)
            record = shim["retries"].pop(str(event["TaskScheduledId"]), None)
            if record is not None:
                delay = retry_delay(record, now)
                if delay is None:
                    log.warning("retry timeout of %s expired after %d attempts: like the real Durable extension, "
                                "no further attempt is made and the waiting orchestrator is never resumed",
                                record["name"], record["attempts"])
                    return
                timer_id = self._allocate(shim)
                fire_at = now + delay
                reactions.append(h.event(T.TIMER_CREATED, now, timer_id, FireAt=h.timestamp(fire_at)))
                shim["pending"][str(timer_id)] = {"kind": "timer", "fireAt": iso(fire_at)}
                shim["retries"][str(timer_id)] = record
                episode.timers.append((fire_at, timer_id))
        elif kind == T.TIMER_FIRED:
            shim["pending"].pop(str(event["TimerId"]), None)
            record = shim["retries"].pop(str(event["TimerId"]), None)
            if record is not None and record["attempts"] < record["max"]:
                record["attempts"] += 1
                task_id = self._allocate(shim)
                shim["retries"][str(task_id)] = record
                reactions.append(self._schedule(inst, shim, task_id, record["call"], now, episode))

    async def _replay(self, inst: Instance, events: list[dict]) -> dict:
        """Run the orchestrator function on this history; its OrchestratorState as a dict."""
        function = self.orchestrators.get(inst.name)
        if function is None:
            return {"isDone": False, "actions": [],
                    "error": missing_function_message(inst.name, "orchestrator", list(self.orchestrators))}
        body = json.dumps({"history": events, "instanceId": inst.id, "isReplaying": len(events) > 2,
                           "parentInstanceId": inst.parent["instanceId"] if inst.parent else None,
                           "input": inst.input, **CONTEXT_SETTINGS})
        arguments = Invoker.arguments(function, orchestration_context(body), self._client_json(function),
                                      str(uuid.uuid4()))
        try:
            raw = await self.loop.run_in_executor(self.invoker.pool, lambda: function.user_function(**arguments))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            return self._state_from_failure(inst, exc)
        return json.loads(raw)

    @staticmethod
    def _state_from_failure(inst: Instance, exc: Exception) -> dict:
        text = str(exc)
        if OUT_OF_PROC_MARKER in text:
            head, _, data = text.partition(OUT_OF_PROC_MARKER)
            try:
                state = json.loads(data)
            except ValueError:
                state = {}
            state.setdefault("error", head.strip())
            log.info("orchestrator %s (%s) raised: %s", inst.name, inst.id, state["error"])
            return state
        log.warning("orchestrator %s (%s) crashed outside the SDK", inst.name, inst.id, exc_info=exc)
        return {"isDone": False, "actions": [], "error": f"{type(exc).__name__}: {exc}"}

    @staticmethod
    def _check_determinism(shim: dict, actions: list[dict], done: bool) -> str | None:
        recorded = shim["actions"]
        for index, (old_signature, _) in enumerate(recorded):
            if index >= len(actions):
                if done:
                    return (f"Non-Deterministic workflow detected: a previous execution scheduled {old_signature} "
                            f"(action {index}) but the replay completed without scheduling it. Was a change made to "
                            f"the orchestrator code after this instance had already started running?")
                return None
            if signature(actions[index]) != old_signature:
                return (f"Non-Deterministic workflow detected: a previous execution scheduled {old_signature} as "
                        f"action {index} but the replay scheduled {signature(actions[index])}. Was a change made "
                        f"to the orchestrator code after this instance had already started running?")
        return None

    def _schedule_new_actions(self, inst: Instance, shim: dict, actions: list[dict], now: datetime,
                              decisions: list[dict], episode: Episode) -> str | None:
        recorded = shim["actions"]
        for index, action in enumerate(actions[:len(recorded)]):
            timer_id = recorded[index][1]
            if action.get("actionType") == 5 and action.get("isCanceled") and timer_id is not None:
                # A cancelled timer still fires in DTFx, but the SDK ignores it; dropping it saves an episode.
                shim["pending"].pop(str(timer_id), None)
        for action in actions[len(recorded):]:
            kind = action.get("actionType")
            event_id = None
            if kind in (0, 1, 2, 3):
                name = action.get("functionName")
                if kind in (2, 3) and name not in self.orchestrators:
                    return missing_function_message(name, "orchestrator", list(self.orchestrators))
                if kind in (2, 3) and action.get("instanceId") and \
                        action["instanceId"] in (inst.id, (inst.parent or {}).get("instanceId")):
                    return "The instance ID of a sub-orchestration must be different than the instance ID of a parent."
                call = {"kind": "activity" if kind in (0, 1) else "suborch", "name": name,
                        "input": action.get("input"), "instanceId": action.get("instanceId"),
                        "version": action.get("version") or ""}
                event_id = self._allocate(shim)
                if kind in (1, 3):
                    options = action.get("retryOptions") or {}
                    shim["retries"][str(event_id)] = {
                        "name": name, "call": call, "options": options, "attempts": 1,
                        "max": int(options.get("maxNumberOfAttempts", 1)), "firstAttempt": iso(now)}
                decisions.append(self._schedule(inst, shim, event_id, call, now, episode))
            elif kind == 5:
                event_id = self._allocate(shim)
                fire_at = parse_fire_at(action["fireAt"])
                decisions.append(h.event(T.TIMER_CREATED, now, event_id, FireAt=h.timestamp(fire_at)))
                if not action.get("isCanceled"):
                    shim["pending"][str(event_id)] = {"kind": "timer", "fireAt": iso(fire_at)}
                    episode.timers.append((fire_at, event_id))
            elif kind == 6:
                name = action.get("externalEventName")
                shim["waits"][name] = shim["waits"].get(name, 0) + 1
            elif kind != 4:
                return (f"the development host does not support {_ACTION_NAMES.get(kind, kind)} actions "
                        f"(durable entities and call_http)")
            recorded.append([signature(action), event_id])
        return None

    def _schedule(self, inst: Instance, shim: dict, event_id: int, call: dict, now: datetime,
                  episode: Episode) -> dict:
        if call["kind"] == "activity":
            shim["pending"][str(event_id)] = {"kind": "activity", "name": call["name"], "input": call["input"]}
            episode.activities.append(event_id)
            return h.event(T.TASK_SCHEDULED, now, event_id, Name=call["name"], Version="",
                           Input=json.dumps(call["input"]))
        child_id = call["instanceId"] or f"{inst.execution_id}:{event_id}"
        shim["pending"][str(event_id)] = {"kind": "suborch", "name": call["name"], "input": call["input"],
                                          "instanceId": child_id, "version": call["version"]}
        episode.children.append(event_id)
        return h.event(T.SUB_ORCHESTRATION_INSTANCE_CREATED, now, event_id, Name=call["name"], Version=call["version"],
                       InstanceId=child_id, Input=json.dumps(call["input"]))

    @staticmethod
    def _allocate(shim: dict) -> int:
        event_id = shim["nextId"]
        shim["nextId"] += 1
        return event_id

    def _fail(self, inst: Instance, episode: Episode, error: str, now: datetime) -> None:
        output = f"Orchestrator function '{inst.name}' failed: {error}"
        episode.events.append(h.event(T.EXECUTION_COMPLETED, now, OrchestrationStatus="Failed",
                                      Result=json.dumps(output),
                                      FailureDetails={"ErrorType": "OrchestrationFailureException",
                                                      "ErrorMessage": error}))
        episode.changes.update(status="Failed", output=output)
        episode.activities.clear()
        episode.timers.clear()
        episode.children.clear()
        episode.parent_outcome = ("failed", output, error)
        log.info("orchestration %s (%s) failed: %s", inst.name, inst.id, error)

    def _continue_as_new(self, inst: Instance, episode: Episode, shim: dict, action: dict, now: datetime) -> None:
        """A new execution: fresh history, new input, unconsumed raised events carried over (as DTFx does)."""
        carried = self._unconsumed_events(inst.history + episode.events, shim["waits"])
        new_execution = uuid.uuid4().hex
        successor = Instance(id=inst.id, name=inst.name, version=inst.version, execution_id=new_execution,
                             status="ContinuedAsNew", input=action.get("input"), created=inst.created, updated=now,
                             parent=inst.parent)
        episode.new_inbox = [(new_inbox_key(), self._start_message(successor, now))]
        episode.new_inbox += [(new_inbox_key(), message(h.event(T.EVENT_RAISED, now, Name=e["Name"], Input=e["Input"])))
                              for e in carried]
        episode.events = []
        episode.changes = {"status": "ContinuedAsNew", "executionId": new_execution, "input": action.get("input"),
                           "shim": new_shim(), "history": [], "output": None,
                           "customStatus": episode.changes.get("customStatus")}
        episode.activities.clear()
        episode.timers.clear()
        episode.children.clear()
        episode.old_execution = inst.execution_id

    @staticmethod
    def _unconsumed_events(events: list[dict], waits: dict[str, int]) -> list[dict]:
        raised = [e for e in events if e["EventType"] == T.EVENT_RAISED]
        carried = []
        for name in dict.fromkeys(e["Name"] for e in raised):
            same = [e for e in raised if e["Name"] == name]
            surplus = len(same) - waits.get(name, 0)
            if surplus > 0:
                carried += same[-surplus:]
        return sorted(carried, key=lambda e: e["Timestamp"])

    def _terminate(self, inst: Instance, event: dict, now: datetime) -> Episode:
        reason = event.get("Input")
        episode = Episode(events=[h.orchestrator_started(now), event,
                                  h.event(T.EXECUTION_COMPLETED, now, OrchestrationStatus="Terminated",
                                          Result=json.dumps(reason)), h.orchestrator_completed(now)],
                          changes={"status": "Terminated", "output": reason})
        episode.parent_outcome = ("failed", f"Orchestration '{inst.name}' was terminated: {reason}", reason or "")
        return episode

    # ----------------------------------------------------------------- commit and what follows

    async def _commit(self, inst: Instance, item: tuple[str | None, dict], episode: Episode, now: datetime) -> None:
        changes = dict(episode.changes)
        new_history = changes.pop("history", None)
        execution_id = changes.pop("executionId", inst.execution_id)
        history_after = new_history if new_history is not None else inst.history + episode.events
        state = inst.state(**changes, executionId=execution_id, lastUpdatedTime=iso(now), historyLength=len(history_after))
        written = episode.events if new_history is None else []
        key = item[0]
        inst.etag = await self.store.commit(inst.id, inst.etag, state, written, len(inst.history),
                                            [key] if key else [], episode.new_inbox)
        for name, value in changes.items():
            setattr(inst, _ATTRIBUTES.get(name, name), value)
        inst.execution_id = execution_id
        inst.history = history_after
        inst.updated = now
        inst.inbox.remove(item)
        inst.inbox.extend(episode.new_inbox)
        self._after_commit(inst, episode)

    def _after_commit(self, inst: Instance, episode: Episode) -> None:
        pending = inst.shim["pending"]
        for task_id in episode.activities:
            self._spawn(self._run_activity(inst.id, inst.execution_id, task_id, pending[str(task_id)]))
        for fire_at, timer_id in episode.timers:
            self._arm(fire_at, inst.id, inst.execution_id, timer_id)
        for task_id in episode.children:
            self._spawn(self._start_child(inst, task_id, pending[str(task_id)]))
        if episode.parent_outcome and inst.parent:
            self._spawn(self._notify_parent(inst, *episode.parent_outcome))
        if episode.old_execution:
            old = episode.old_execution
            self._spawn(self.store.delete_rows(inst.id, lambda key: key.startswith(f"h-{old}-")))
        if inst.status in TERMINAL:
            log.info("orchestration %s (%s) is %s", inst.name, inst.id, inst.status)
        self._changed()

    def _changed(self) -> None:
        changed, self._change = self._change, asyncio.Event()
        changed.set()

    async def _run_activity(self, instance_id: str, execution_id: str, task_id: int, info: dict) -> None:
        name = info["name"]
        function = self.activities.get(name)
        with log_context(instance_id=instance_id):
            if function is None:
                reason = f"Activity function '{name}' failed: " + missing_function_message(
                    name, "activity", list(self.activities))
                event = h.event(T.TASK_FAILED, self.clock.now(), TaskScheduledId=task_id, Reason=reason,
                                Details=json.dumps({"ClassName": "FunctionFailedException", "Message": reason}))
            else:
                try:
                    value = await self.invoker.call(function, activity_input(info["input"]),
                                                    client_json=self._client_json(function))
                    event = h.event(T.TASK_COMPLETED, self.clock.now(), TaskScheduledId=task_id,
                                    Result=activity_output(value))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("activity %s failed: %s: %s", name, type(exc).__name__, exc, exc_info=exc)
                    remote = f"Result: Failure\nException: {type(exc).__name__}: {exc}"
                    event = h.event(T.TASK_FAILED, self.clock.now(), TaskScheduledId=task_id,
                                    Reason=f"Activity function '{name}' failed: {remote}",
                                    Details=json.dumps({"ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc."
                                                                     "RpcException", "Message": remote}))
        await self._deliver(instance_id, message(event, execution_id), durable=False)

    async def _start_child(self, parent: Instance, task_id: int, info: dict) -> None:
        child_id = info["instanceId"]
        link = {"instanceId": parent.id, "executionId": parent.execution_id, "taskScheduledId": task_id,
                "name": parent.name}
        async with self._lock_for(child_id):
            existing = await self._get(child_id)
            if existing is not None and _same_link(existing.parent, link):
                if existing.status in TERMINAL:  # finished while the parent was not listening (restart)
                    outcome = ("completed", json.dumps(existing.output), "") if existing.status == "Completed" \
                        else ("failed", existing.output, str(existing.output))
                    await self._notify_parent(existing, *outcome)
                return
            if existing is not None and existing.status not in TERMINAL:
                reason = f"An orchestration with instance ID '{child_id}' already exists."
                event = h.event(T.SUB_ORCHESTRATION_INSTANCE_FAILED, self.clock.now(), TaskScheduledId=task_id,
                                Reason=reason, Details=reason)
                await self._deliver(parent.id, message(event, parent.execution_id), durable=False)
                return
            if existing is not None:
                await self._remove(existing)
            await self._create(child_id, info["name"], info["input"], info["version"], parent=link)

    async def _notify_parent(self, child: Instance, outcome: str, result: Any, details: str) -> None:
        link = child.parent
        now = self.clock.now()
        if outcome == "completed":
            event = h.event(T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, now, TaskScheduledId=link["taskScheduledId"],
                            Result=result)
        else:
            event = h.event(T.SUB_ORCHESTRATION_INSTANCE_FAILED, now, TaskScheduledId=link["taskScheduledId"],
                            Reason=result, Details=details)
        await self._deliver(link["instanceId"], message(event, link["executionId"]), durable=False)

    # ----------------------------------------------------------------- timers

    def _arm(self, fire_at: datetime, instance_id: str, execution_id: str, timer_id: int) -> None:
        heapq.heappush(self._timers, (fire_at, next(self._timer_seq), instance_id, execution_id, timer_id))
        self._wake.set()

    async def _timer_loop(self) -> None:
        while True:
            self._wake.clear()
            await self.fire_due_timers()
            wait = None
            if self._timers:
                wait = self.clock.seconds_until(self._timers[0][0])
            try:
                await asyncio.wait_for(self._wake.wait(), None if wait is None else min(wait, 30.0))
            except asyncio.TimeoutError:
                pass

    async def fire_due_timers(self) -> int:
        now = self.clock.now()
        fired = 0
        while self._timers and self._timers[0][0] <= now:
            fire_at, _, instance_id, execution_id, timer_id = heapq.heappop(self._timers)
            event = h.event(T.TIMER_FIRED, now, TimerId=timer_id, FireAt=h.timestamp(fire_at))
            await self._deliver(instance_id, message(event, execution_id), durable=False)
            fired += 1
        return fired

    def _on_clock_moved(self) -> None:
        if self.loop is None or self._stopping or self.loop.is_closed():
            return
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return
        try:
            asyncio.run_coroutine_threadsafe(self._clock_moved(), self.loop).result(timeout=30)
        except Exception:
            log.exception("firing due timers after the clock moved failed")

    async def _clock_moved(self) -> None:
        await self.fire_due_timers()
        self._wake.set()  # the timer loop re-plans: the clock may flow again, or run at another pace

    # ----------------------------------------------------------------- recovery

    async def _recover(self) -> None:
        """Resume every unfinished instance of the task hub: inboxes, activities, timers, children."""
        resumed = 0
        for state in await self.store.list_states():
            if state["status"] not in ACTIVE:
                continue
            inst = await self._get(state["instanceId"])
            if inst is None:
                continue
            resumed += 1
            for key, info in inst.shim["pending"].items():
                task_id = int(key)
                if info["kind"] == "activity":
                    self._spawn(self._run_activity(inst.id, inst.execution_id, task_id, info))
                elif info["kind"] == "timer":
                    self._arm(from_iso(info["fireAt"]), inst.id, inst.execution_id, task_id)
                else:
                    self._spawn(self._start_child(inst, task_id, info))
            if inst.inbox:
                self._kick(inst)
        if resumed:
            log.info("resumed %d unfinished orchestration instance(s) from %s", resumed, self.store.table_name)

    @staticmethod
    def _payload(state: dict, show_input: bool) -> dict:
        return {"name": state["name"], "instanceId": state["instanceId"], "runtimeStatus": state["status"],
                "input": state.get("input") if show_input else None, "customStatus": state.get("customStatus"),
                "output": state.get("output"), "createdTime": h.status_time(from_iso(state["createdTime"])),
                "lastUpdatedTime": h.status_time(from_iso(state["lastUpdatedTime"]))}


_ATTRIBUTES = {"customStatus": "custom_status", "executionId": "execution_id"}


def _same_link(existing: dict | None, link: dict) -> bool:
    return bool(existing) and all(existing.get(k) == link[k] for k in ("instanceId", "executionId", "taskScheduledId"))
