"""The function manifest: what Microsoft's Python worker tells the host about each function of the app.

``worker_index()`` runs tests/worker/worker_probe.py in a clean interpreter with the environment the host
gives the worker; ``from_worker()`` and ``from_dev_host()`` reduce the worker's metadata and the development
host's index to the same manifest shape; ``differences()`` says, one line per function and field, how two
manifests differ.

Regenerate the checked-in manifest after adding, removing or changing a function (review the diff):

    .venv/bin/python -m tests.worker.manifest --write
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = Path(__file__).with_name("functions.expected.json")
PROBE = Path(__file__).with_name("worker_probe.py")
REGENERATE = ".venv/bin/python -m tests.worker.manifest --write"
# What the Functions host assumes when an HTTP trigger names no route or auth level.
DEFAULT_AUTH_LEVEL = "function"
DURABLE_CLIENT = "durableClient"


def host_environment(app_dir: Path) -> dict[str, str]:
    """The variables the host starts the worker with, and no app settings (indexing must read none)."""
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TZ") if name in os.environ}
    env.update({
        "AzureWebJobsScriptRoot": str(app_dir),
        "FUNCTIONS_WORKER_RUNTIME": "python",
        # The <=3.12 worker indexes during worker init only with this flag; the 3.13+ library always does.
        "PYTHON_ENABLE_INIT_INDEXING": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def worker_index(app_dir: Path = ROOT, timeout: float = 120) -> dict[str, Any]:
    """The worker's answer for ``app_dir``: init status, functions' metadata and modules indexing loaded."""
    done = subprocess.run([sys.executable, "-I", str(PROBE), str(app_dir)], cwd=app_dir, env=host_environment(app_dir),
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        hint = "\nThe worker is not installed: make setup" if "azure_functions_runtime" in done.stderr else ""
        raise RuntimeError(f"the worker probe crashed (exit {done.returncode}):\n{done.stderr[-4000:]}{hint}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def init_error(probe: dict[str, Any]) -> str | None:
    """The worker's reason for refusing the app, or None when its init succeeded."""
    init = probe["init"]
    if init.get("status") == "Success":
        return None
    return init.get("exception", {}).get("message") or "worker init failed without a message"


def _entry(name: str, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    """One manifest entry from a function's raw bindings (the JSON the worker sends as ``raw_bindings``)."""
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise ValueError(f"function {name}: {len(triggers)} trigger bindings")
    trigger = triggers[0]
    entry: dict[str, Any] = {"trigger": trigger["type"]}
    if trigger["type"] == "httpTrigger":
        methods = trigger.get("methods")
        entry.update(route=trigger.get("route") or name,
                     methods=sorted(str(m).upper() for m in methods) if methods else None,
                     authLevel=str(trigger.get("authLevel") or DEFAULT_AUTH_LEVEL).lower())
    elif trigger["type"] == "timerTrigger":
        entry.update(schedule=trigger.get("schedule"), runOnStartup=bool(trigger.get("runOnStartup")))
    clients = sorted(b["name"] for b in bindings if b.get("type") == DURABLE_CLIENT)
    if clients:
        entry["durableClient"] = clients[0] if len(clients) == 1 else clients
    others = sorted(f"{str(b.get('direction', 'IN')).upper()} {b.get('type')} {b.get('name')}"
                    for b in bindings if b is not trigger and b.get("type") != DURABLE_CLIENT)
    if others:
        entry["otherBindings"] = others
    return entry


def from_worker(probe: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The manifest of the worker's function metadata."""
    functions = sorted(probe["functions"], key=lambda f: f["name"])
    return {f["name"]: _entry(f["name"], f["raw_bindings"]) for f in functions}


def from_dev_host(target: Any = "function_app") -> dict[str, dict[str, Any]]:
    """The manifest of what the development host indexes (its interpretation, not its raw bindings)."""
    from dev.host.loader import HTTP, TIMER, index_functions, resolve_app
    app, _ = resolve_app(target)
    manifest = {}
    for info in sorted(index_functions(app), key=lambda i: i.name):
        entry: dict[str, Any] = {"trigger": info.trigger_type}
        if info.kind == HTTP:
            entry.update(route=info.route.template, methods=sorted(info.methods) if info.methods else None,
                         authLevel=info.auth_level)
        elif info.kind == TIMER:
            entry.update(schedule=info.schedule, runOnStartup=info.run_on_startup)
        clients = sorted(info.client_params)
        if clients:
            entry["durableClient"] = clients[0] if len(clients) == 1 else clients
        manifest[info.name] = entry
    return manifest


def differences(expected: dict, actual: dict, *, fields: tuple[str, ...] | None = None,
                expected_label: str = "expected", actual_label: str = "actual") -> list[str]:
    """One line per missing/extra function and per differing field (only ``fields`` when given)."""
    lines = [f"function {name}: in {expected_label} but not in {actual_label}"
             for name in sorted(set(expected) - set(actual))]
    lines += [f"function {name}: in {actual_label} but not in {expected_label}"
              for name in sorted(set(actual) - set(expected))]
    for name in sorted(set(expected) & set(actual)):
        keys = fields or sorted(set(expected[name]) | set(actual[name]))
        for key in keys:
            want, got = expected[name].get(key), actual[name].get(key)
            if want != got:
                lines.append(f"function {name}: {key} is {json.dumps(got)} in {actual_label}, "
                             f"{json.dumps(want)} in {expected_label}")
    return lines


def dumps(manifest: dict[str, dict[str, Any]]) -> str:
    """One function per line, sorted, so a change shows as a one-line diff."""
    rows = [f"  {json.dumps(name)}: {json.dumps(entry, sort_keys=True)}" for name, entry in sorted(manifest.items())]
    return "{\n" + ",\n".join(rows) + "\n}\n"


def load_expected() -> dict[str, dict[str, Any]]:
    return json.loads(EXPECTED.read_text(encoding="utf-8"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {EXPECTED.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    probe = worker_index()
    refused = init_error(probe)
    if refused:
        print(f"the worker refuses the app: {refused}", file=sys.stderr)
        return 1
    manifest = from_worker(probe)
    if args.write:
        EXPECTED.write_text(dumps(manifest), encoding="utf-8")
        print(f"wrote {len(manifest)} functions to {EXPECTED.relative_to(ROOT)}")
        return 0
    lines = differences(load_expected(), manifest, expected_label="functions.expected.json", actual_label="the worker")
    print("\n".join(lines) or f"the worker's {len(manifest)} functions match {EXPECTED.name}")
    return 1 if lines else 0


if __name__ == "__main__":
    sys.exit(main())
