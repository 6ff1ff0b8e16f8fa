"""History events in the JSON shape the Durable extension sends to out-of-process SDKs.

Field names and ``EventType`` numbers are DurableTask.Core's (``HistoryEventType`` of the Python SDK):
``EventId``, ``IsPlayed``, ``Timestamp``, ``Name``, ``Input``, ``Result``, ``TaskScheduledId``,
``FireAt``, ``TimerId``, ``Reason``, ``Details``, ``OrchestrationInstance``, ... Timestamps are
ISO 8601 UTC with a ``Z``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from azure.durable_functions.models.history import HistoryEventType as T

COMPLETIONS = {T.TASK_COMPLETED, T.TASK_FAILED, T.TIMER_FIRED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
               T.SUB_ORCHESTRATION_INSTANCE_FAILED}
# Events the status API leaves out of showHistory (the extension folds them into their completions).
_HIDDEN_IN_STATUS = {T.ORCHESTRATOR_STARTED, T.ORCHESTRATOR_COMPLETED, T.TASK_SCHEDULED,
                     T.SUB_ORCHESTRATION_INSTANCE_CREATED}


def timestamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def status_time(moment: datetime) -> str:
    """The status API's createdTime / lastUpdatedTime format (``ToString("s") + "Z"``)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def event(kind: T, now: datetime, event_id: int = -1, **fields: Any) -> dict:
    return {"EventType": int(kind), "EventId": event_id, "IsPlayed": False, "Timestamp": timestamp(now), **fields}


def orchestrator_started(now: datetime) -> dict:
    return event(T.ORCHESTRATOR_STARTED, now)


def orchestrator_completed(now: datetime) -> dict:
    return event(T.ORCHESTRATOR_COMPLETED, now)


def execution_started(now: datetime, instance_id: str, execution_id: str, name: str, input_json: str | None,
                      version: str = "", parent: dict | None = None) -> dict:
    parent_instance = None
    if parent:
        parent_instance = {"Name": parent.get("name"), "TaskScheduleId": parent["taskScheduledId"],
                           "OrchestrationInstance": {"InstanceId": parent["instanceId"],
                                                     "ExecutionId": parent["executionId"]}}
    return event(T.EXECUTION_STARTED, now, OrchestrationInstance={"InstanceId": instance_id,
                                                                  "ExecutionId": execution_id},
                 ParentInstance=parent_instance, Name=name, Version=version, Input=input_json, Tags=None)


def played(events: list[dict]) -> list[dict]:
    return [{**e, "IsPlayed": True} for e in events]


def status_history(events: list[dict], show_input: bool, show_output: bool) -> list[dict]:
    """The ``historyEvents`` of a status query: readable names, scheduled details folded in."""
    scheduled: dict[int, dict] = {}
    shown: list[dict] = []
    for e in events:
        kind = T(e["EventType"])
        if kind in (T.TASK_SCHEDULED, T.SUB_ORCHESTRATION_INSTANCE_CREATED):
            scheduled[e["EventId"]] = e
        if kind in _HIDDEN_IN_STATUS:
            continue
        item: dict[str, Any] = {"EventType": _pascal(kind.name), "Timestamp": e["Timestamp"]}
        origin = scheduled.get(e.get("TaskScheduledId"), {}) if kind in COMPLETIONS else {}
        if origin:
            item["FunctionName"] = origin.get("Name")
            item["ScheduledTime"] = origin.get("Timestamp")
            if kind in (T.SUB_ORCHESTRATION_INSTANCE_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_FAILED):
                item["InstanceId"] = origin.get("InstanceId")
        if kind == T.EXECUTION_STARTED:
            item["FunctionName"] = e.get("Name")
            if show_input:
                item["Input"] = e.get("Input")
        elif kind == T.EVENT_RAISED:
            item["Name"] = e.get("Name")
            if show_input:
                item["Input"] = e.get("Input")
        elif kind in (T.TIMER_CREATED, T.TIMER_FIRED):
            item["FireAt"] = e.get("FireAt")
            if kind == T.TIMER_FIRED:
                item["TimerId"] = e.get("TimerId")
        elif kind in (T.TASK_FAILED, T.SUB_ORCHESTRATION_INSTANCE_FAILED):
            item["Reason"] = e.get("Reason")
            item["Details"] = e.get("Details")
        elif kind in (T.EXECUTION_COMPLETED, T.EXECUTION_TERMINATED):
            item["OrchestrationStatus"] = e.get("OrchestrationStatus", "Terminated")
            if show_output:
                item["Result"] = e.get("Result", e.get("Input"))
        if kind in (T.TASK_COMPLETED, T.SUB_ORCHESTRATION_INSTANCE_COMPLETED) and show_output:
            item["Result"] = e.get("Result")
        shown.append(item)
    return shown


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
