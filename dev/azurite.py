"""Start and stop Azurite (the real Table/Queue/Blob emulator) on free loopback ports, in memory.

Azurite is installed by ``make setup`` into ``dev/node_modules`` (pinned in ``dev/package.json``).
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


AZURITE_BIN = Path(__file__).resolve().parent / "node_modules" / ".bin" / "azurite"
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key: public, documented, and accepted by Azurite only.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    """A running Azurite process and how to reach it."""

    process: subprocess.Popen
    blob_port: int
    queue_port: int
    table_port: int
    workdir: str

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{ACCOUNT};"
                f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{ACCOUNT};"
                f"TableEndpoint=http://127.0.0.1:{self.table_port}/{ACCOUNT};")

    @property
    def table_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.table_port}/{ACCOUNT}"

    def stop(self) -> None:
        """Stop Azurite and remove its scratch folder."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> "Azurite":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_azurite(timeout: float = 30.0) -> Azurite:
    """Start Azurite with in-memory persistence on loopback ports it picks itself.

    Azurite is asked for port 0 on each service and says which port it got ("... successfully listening
    at http://127.0.0.1:PORT"), so there is no moment in which another process could take a port chosen
    for it (tests start several stacks at once).
    """
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}; run `make setup` first")
    workdir = tempfile.mkdtemp(prefix="frontdesk-azurite-")
    command = [str(AZURITE_BIN), "--inMemoryPersistence", "--silent", "--skipApiVersionCheck",
               "--disableTelemetry", "--loose",
               "--blobHost", "127.0.0.1", "--blobPort", "0",
               "--queueHost", "127.0.0.1", "--queuePort", "0",
               "--tableHost", "127.0.0.1", "--tablePort", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, cwd=workdir)
    ports, output = _listening_ports(process, timeout)
    if set(ports) != set(SERVICES):
        Azurite(process, 0, 0, 0, workdir).stop()
        raise RuntimeError(f"Azurite did not start: {''.join(output).strip() or 'timed out'}")
    return Azurite(process, ports["Blob"], ports["Queue"], ports["Table"], workdir)


SERVICES = ("Blob", "Queue", "Table")
_LISTENING = re.compile(r"Azurite (Blob|Queue|Table) service is successfully listening at http://[^:]+:(\d+)")


def _listening_ports(process: subprocess.Popen, timeout: float) -> tuple[dict[str, int], list[str]]:
    """Read Azurite's start-up lines until every service says its port (or it exits, or time is up).

    The reader thread goes on reading until Azurite exits, so its output pipe never fills up.
    """
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in iter(process.stdout.readline, ""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, name="azurite-output", daemon=True).start()
    ports: dict[str, int] = {}
    output: list[str] = []
    deadline = time.monotonic() + timeout
    while len(ports) < len(SERVICES):
        try:
            line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        output.append(line)
        if match := _LISTENING.search(line):
            ports[match.group(1)] = int(match.group(2))
    return ports, output
