"""Index a function app the way the Python worker does: find the app, call ``get_functions()`` once.

``get_functions()`` may only be called once per app object (it records function names and fails on
the second call), so the indexed functions are cached per app object: a second :class:`DevHost` on
the same app (a host restart in a test) reuses them. Each function becomes a :class:`FunctionInfo`
holding what the host needs: its kind, trigger parameter, route, methods, auth level and the
durable-client parameters to fill with the extension's binding JSON.
"""

from __future__ import annotations

import collections.abc
import importlib
import inspect
import json
import os
import threading
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from dev.host.routing import RouteTemplate, compile_route
from shared.logs import get_logger

log = get_logger("dev.host.loader")

HTTP, TIMER, ORCHESTRATOR, ACTIVITY, ENTITY, OTHER = "http", "timer", "orchestrator", "activity", "entity", "other"
_KINDS = {"httpTrigger": HTTP, "timerTrigger": TIMER, "orchestrationTrigger": ORCHESTRATOR,
          "activityTrigger": ACTIVITY, "entityTrigger": ENTITY}
AUTH_LEVELS = ("anonymous", "function", "admin")
ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE"})

_index_lock = threading.Lock()
_indexed: dict[int, tuple[Any, list]] = {}


class AppLoadError(Exception):
    """The function app cannot be indexed (the worker would refuse it too)."""


@dataclass
class FunctionInfo:
    """Everything the host needs to invoke one function."""

    name: str
    kind: str
    trigger_type: str
    trigger_param: str
    user_function: Callable[..., Any]
    is_async: bool
    bindings: list[dict]
    client_params: dict[str, dict] = field(default_factory=dict)
    output_params: list[str] = field(default_factory=list)
    unsupported_inputs: list[str] = field(default_factory=list)
    wants_context: bool = False
    route: RouteTemplate | None = None
    methods: frozenset[str] | None = None
    auth_level: str = "function"
    schedule: str | None = None
    run_on_startup: bool = False
    directory: str = ""

    def describe(self) -> dict:
        """A short public description (the admin API's function listing)."""
        info: dict[str, Any] = {"name": self.name, "type": self.trigger_type}
        if self.kind == HTTP:
            info.update(route=self.route.template, methods=sorted(self.methods or ALL_METHODS),
                        authLevel=self.auth_level)
        if self.kind == TIMER:
            info["schedule"] = self.schedule
        return info


def resolve_app(target: Any) -> tuple[Any, Path | None]:
    """The app object and its folder from a module name, module, app object or zero-argument factory."""
    from azure.functions import FunctionRegister
    if isinstance(target, str):
        try:
            target = importlib.import_module(target)
        except ImportError as exc:
            raise AppLoadError(f"cannot import the function app module '{target}': {exc}") from exc
    if isinstance(target, types.ModuleType):
        apps = [value for value in vars(target).values() if isinstance(value, FunctionRegister)]
        if not apps:
            raise AppLoadError(f"module '{target.__name__}' defines no FunctionApp/DFApp instance")
        if len(apps) > 1:
            raise AppLoadError(f"module '{target.__name__}' defines {len(apps)} function apps; the worker "
                               f"accepts exactly one")
        folder = Path(target.__file__).resolve().parent if getattr(target, "__file__", None) else None
        return apps[0], folder
    if isinstance(target, FunctionRegister):
        return target, _folder_of(target)
    if callable(target):
        return resolve_app(target())
    raise AppLoadError(f"not a function app, module or factory: {target!r}")


def index_functions(app: Any) -> list[FunctionInfo]:
    """Index ``app`` (``get_functions()`` at most once per app object) into FunctionInfo records."""
    with _index_lock:
        entry = _indexed.get(id(app))
        if entry is None or entry[0] is not app:
            try:
                functions = app.get_functions()
            except ValueError as exc:
                raise AppLoadError(f"the function app failed indexing: {exc}") from exc
            entry = _indexed[id(app)] = (app, functions)
    infos = [_describe(function) for function in entry[1]]
    _check_unique_routes(infos)
    return infos


def _folder_of(app: Any) -> Path | None:
    module = inspect.getmodule(type(app))
    for builder in getattr(app, "_function_builders", [])[:1]:
        module = inspect.getmodule(builder._function._func) or module
    path = getattr(module, "__file__", None)
    return Path(path).resolve().parent if path else None


def _bindings(function) -> list[dict]:
    return [json.loads(raw) for raw in function.get_raw_bindings()]


def _describe(function) -> FunctionInfo:
    name = function.get_function_name()
    trigger = function.get_trigger()
    bindings = _bindings(function)
    trigger_dict = json.loads(json.dumps(trigger.get_dict_repr(), default=_enum_value))
    trigger_type = trigger_dict["type"]
    kind = _KINDS.get(trigger_type, OTHER)
    user_function = function.get_user_function()
    parameters = inspect.signature(user_function).parameters
    _check_loadable(name, user_function, {b.get("name") for b in bindings})
    info = FunctionInfo(
        name=name, kind=kind, trigger_type=trigger_type, trigger_param=trigger_dict["name"],
        user_function=user_function, is_async=inspect.iscoroutinefunction(user_function), bindings=bindings,
        wants_context="context" in parameters and trigger_dict["name"] != "context",
        directory=os.path.dirname(getattr(function, "function_script_file", "") or ""))
    for binding in bindings:
        binding_name, binding_type = binding.get("name"), binding.get("type")
        if binding is trigger_dict or binding_name == info.trigger_param or binding_name == "$return":
            continue
        if binding_type == "durableClient":
            info.client_params[binding_name] = {"task_hub": binding.get("taskHub"),
                                                "connection_name": binding.get("connectionName")}
        elif str(binding.get("direction")).lower() in ("out", "1", "bindingdirection.out"):
            info.output_params.append(binding_name)
            log.info("function %s: output binding %s (%s) is not supported by the development host; writes "
                     "to it are discarded", name, binding_name, binding_type)
        else:
            info.unsupported_inputs.append(binding_name)
            log.info("function %s: input binding %s (%s) is not supported by the development host; it "
                     "receives None", name, binding_name, binding_type)
    if kind == HTTP:
        info.route = compile_route(trigger_dict.get("route") or name)
        methods = trigger_dict.get("methods")
        info.methods = frozenset(m.upper() for m in methods) if methods else None
        info.auth_level = str(trigger_dict.get("authLevel") or "function").lower()
        if info.auth_level not in AUTH_LEVELS:
            raise AppLoadError(f"function {name}: unknown auth level '{info.auth_level}'")
    elif kind == TIMER:
        info.schedule = trigger_dict.get("schedule")
        info.run_on_startup = bool(trigger_dict.get("runOnStartup"))
    elif kind == ENTITY:
        log.info("function %s: durable entities are not supported by the development host", name)
    elif kind == OTHER:
        log.info("function %s: %s triggers are not fired by the development host; invoke it through "
                 "POST /admin/functions/%s", name, trigger_type, name)
    return info


def _check_loadable(name: str, user_function, bound: set) -> None:
    """Refuse what Microsoft's Python worker refuses when it loads a function (its FunctionLoadError)."""
    unbound = set(inspect.signature(user_function).parameters) - bound - {"context"}
    if unbound:
        raise AppLoadError(f"function {name}: parameters {sorted(unbound)} are declared in Python but not in "
                           f"the function decorators")
    try:
        hints = typing.get_type_hints(user_function)  # as the worker does: a name it cannot resolve fails the load
    except Exception as exc:
        raise AppLoadError(f"function {name}: cannot resolve its annotations: {exc}") from exc
    for parameter in sorted(bound & set(hints)):
        # The worker accepts classes and typing-module generics only: dict[str, Any] or X | None fail the load.
        hint = hints[parameter]
        generic = (isinstance(hint, (typing._GenericAlias, typing._SpecialGenericAlias))  # type: ignore[attr-defined]
                   and typing.get_origin(hint) not in (typing.Union, tuple, typing.ClassVar, collections.abc.Callable))
        if not isinstance(hint, type) and not generic:
            raise AppLoadError(f"function {name}: binding {parameter} has invalid non-type annotation {hint!r} "
                               f"(the Python worker refuses to load it; annotate it with a class, e.g. dict)")


def _enum_value(value):
    return getattr(value, "value", str(value))


def _check_unique_routes(infos: list[FunctionInfo]) -> None:
    seen: dict[tuple, str] = {}
    for info in infos:
        if info.kind != HTTP:
            continue
        shape = tuple(s.literal.lower() if s.literal else "{}" for s in info.route.segments)
        for method in sorted(info.methods or ALL_METHODS):
            other = seen.get((shape, method))
            if other and _same_template(info, other, infos):
                raise AppLoadError(f"functions {other} and {info.name} both serve {method} "
                                   f"/{info.route.template}")
            seen[(shape, method)] = info.name


def _same_template(info: FunctionInfo, other_name: str, infos: list[FunctionInfo]) -> bool:
    other = next(i for i in infos if i.name == other_name)
    return other.route.template.lower() == info.route.template.lower()
