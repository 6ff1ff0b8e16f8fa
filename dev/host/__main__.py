"""``python -m dev.host``: serve a function app on the development host until Ctrl+C.

Reads app settings from ``local.settings.json`` (``Values``, plus ``Host.LocalHttpPort`` and
``Host.CORS``) like Core Tools does; ``--azurite`` starts an in-memory Azurite and points every
``UseDevelopmentStorage=true`` setting at it.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dev.host", description=__doc__.splitlines()[0])
    parser.add_argument("--app", default="function_app", help="module defining the function app")
    parser.add_argument("--port", type=int, default=None, help="HTTP port (default: local settings, else 7071)")
    parser.add_argument("--bind", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--settings", default="local.settings.json", help="local settings file (optional)")
    parser.add_argument("--storage", default=None, help="storage connection string for the task hub")
    parser.add_argument("--task-hub", default=None, help="task hub name (default: host.json)")
    parser.add_argument("--azurite", action="store_true", help="start an in-memory Azurite for this session")
    return parser.parse_args(argv)


def read_local_settings(path: Path) -> tuple[dict[str, str], dict]:
    if not path.exists():
        return {}, {}
    document = json.loads(path.read_text(encoding="utf-8"))
    values = {name: str(value) for name, value in (document.get("Values") or {}).items()}
    return values, document.get("Host") or {}


def main(argv: list[str] | None = None) -> int:
    from dev.host import DevHost
    from shared.logs import configure_logging

    args = parse_args(argv)
    configure_logging("INFO", json_output=False, stream=sys.stderr)
    env, host_settings = read_local_settings(Path(args.settings))
    azurite = None
    if args.azurite:
        from dev.azurite import start_azurite
        azurite = start_azurite()
        env = {name: azurite.connection_string if value.strip().lower().rstrip(";") == "usedevelopmentstorage=true"
               else value for name, value in env.items()}
        env.setdefault("AzureWebJobsStorage", azurite.connection_string)
    cors = host_settings.get("CORS")
    host = DevHost(args.app, env=env, storage_connection_string=args.storage, task_hub=args.task_hub,
                   port=args.port or int(host_settings.get("LocalHttpPort") or 7071), bind=args.bind,
                   cors_origins=[o.strip() for o in cors.split(",")] if cors else None)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        host.start()
        print(f"Development host at {host.base_url} (task hub {host.task_hub})")
        print(f"  master key: {host.master_key}\n  function key: {host.host_key}")
        for function in host.describe_functions():
            where = f"{function.get('methods')} {host.url(function['route'])}" if "route" in function else ""
            print(f"  {function['name']}: {function['type']} {where}".rstrip())
        print("Ctrl+C to stop.")
        stop.wait()
    finally:
        host.stop()
        if azurite is not None:
            azurite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
