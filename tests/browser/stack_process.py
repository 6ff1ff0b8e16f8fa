"""Run a LocalStack in a process of its own for the browser tests, and talk to it over HTTP.

The development host applies its app settings to the process environment and the app caches settings
and adapters per process, so two LocalStacks in one pytest process (the e2e suite's and this one, when
pytest-xdist gives both to one worker) would read each other's settings. The browser tests only ever
reach the stack over HTTP anyway -- the browser through the function app, the tests through the
emulators' ``/_emulator`` APIs -- so they run it in a child process:

    python tests/browser/stack_process.py   # reads {"env": {...}, "tablePrefix": "..."} on stdin's first line,
                                             # prints {"host": ..., "graph": ..., "dataverse": ...} when ready,
                                             # stops when stdin closes

:class:`RemoteStack` starts it and offers what the tests need: ``url()``, ``graph`` (the Graph emulator's
own HTTP harness) and ``dataverse`` (seed and read rows).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from types import SimpleNamespace

import httpx

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90


class RemoteDataverse:
    """The Dataverse emulator's test API, over HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self._http = httpx.Client(base_url=f"{base_url}/_emulator", timeout=30)

    def seed_record(self, entity_set: str, **columns) -> str:
        response = self._http.post("/seed", json={entity_set: [columns]})
        response.raise_for_status()
        return response.json()[entity_set][0]

    def records(self, entity_set: str) -> list[dict]:
        response = self._http.get(f"/records/{entity_set}")
        response.raise_for_status()
        return response.json()

    def record(self, entity_set: str, record_id: str) -> dict | None:
        key = {"appointments": "activityid", "contacts": "contactid", "leads": "leadid"}.get(entity_set)
        return next((row for row in self.records(entity_set) if str(row.get(key, "")).lower() == record_id.lower()),
                    None)

    def close(self) -> None:
        self._http.close()


class RemoteStack:
    """A LocalStack running in a child process (see the module docstring)."""

    def __init__(self, env: dict[str, str], table_prefix: str):
        self._env = env
        self._table_prefix = table_prefix
        self._process: subprocess.Popen | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="frontdesk-browser-stack-", suffix=".log", delete=False)
        self.base_url = ""
        self.graph = None
        self.dataverse: RemoteDataverse | None = None

    def start(self) -> "RemoteStack":
        self._process = subprocess.Popen([sys.executable, str(Path(__file__).resolve())], cwd=str(ROOT),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self._process.stdin.write(json.dumps({"env": self._env, "tablePrefix": self._table_prefix}) + "\n")
        self._process.stdin.flush()
        ready = self._read_ready_line()
        from dev.emulators.graph import GraphEmulator
        self.base_url = ready["host"]
        self.graph = GraphEmulator(SimpleNamespace(base_url=ready["graph"]), ready["graphToken"])
        self.dataverse = RemoteDataverse(ready["dataverse"])
        return self

    def _read_ready_line(self) -> dict:
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(self._process.stdout.readline()), daemon=True)
        reader.start()
        reader.join(START_TIMEOUT_SECONDS)
        if not line or not line[0].strip():
            self.stop()
            raise RuntimeError(f"the browser tests' stack did not start; its log:\n{self.log()[-4000:]}")
        return json.loads(line[0])

    def url(self, route: str) -> str:
        return f"{self.base_url}/api/{route.lstrip('/')}"

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.dataverse is not None:
            self.dataverse.close()
        if self.graph is not None:
            self.graph._http.close()
        if self._process is not None and self._process.poll() is None:
            self._process.stdin.close()  # the child stops its stack when its stdin closes
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def serve() -> None:
    """The child: start the stack with the given settings, say where it is, run until stdin closes."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import signal
    from dev.stack import LocalStack
    # Stopped from outside (a CI timeout): still stop Azurite and the servers on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    request = json.loads(sys.stdin.readline())
    stack = LocalStack(table_prefix=request["tablePrefix"], extra_env=request["env"]).start()
    try:
        print(json.dumps({"host": stack.host.base_url, "graph": stack.graph.base_url, "graphToken": stack.graph.token,
                          "dataverse": stack.dataverse.base_url}), flush=True)
        sys.stdin.read()
    finally:
        stack.stop()


if __name__ == "__main__":
    serve()
