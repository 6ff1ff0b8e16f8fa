"""The main job on the local stack (``make demo``): start everything, show what runs, and stop.

It starts the local stack (Azurite, the emulators, the development host serving ``function_app``),
asks the app for its health over HTTP as a monitoring probe would, lists the registered functions,
and shuts everything down. Exit status 0 means the stack came up healthy.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request


def fetch_json(url: str) -> tuple[int, dict]:
    """GET ``url`` and return (status, JSON body), treating error statuses as answers."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def describe_function(info: dict) -> str:
    route = info.get("route")
    if route is not None:
        where = f"{','.join(info.get('methods') or [])} /api/{route} ({info.get('authLevel', '')})"
    else:
        where = info.get("schedule") or ""
    return f"  {info['name']:<28} {info['type']:<22} {where}".rstrip()


def main() -> int:
    from dev.stack import LocalStack
    from shared.logs import configure_logging

    configure_logging("WARNING", json_output=False, stream=sys.stderr)
    started = time.perf_counter()
    with LocalStack() as stack:
        print(f"Local stack up in {time.perf_counter() - started:.1f} s:")
        print(stack.describe())
        status, health = fetch_json(stack.host.url("health"))
        print(f"\nGET /api/health -> {status}")
        print(json.dumps(health, indent=2))
        print("\nRegistered functions:")
        for info in stack.host.describe_functions():
            print(describe_function(info))
    print("\nLocal stack stopped.")
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
