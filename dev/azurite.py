"""Start and stop Azurite (the real Table/Queue/Blob emulator) on free loopback ports, in memory.

Azurite is installed by ``make setup`` into ``dev/node_modules`` (pinned in ``dev/package.json``).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dev.ports import free_port, wait_for_port

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
    """Start Azurite with in-memory persistence on three free loopback ports."""
    if not AZURITE_BIN.exists():
        raise RuntimeError(f"Azurite is not installed at {AZURITE_BIN}; run `make setup` first")
    ports = [free_port() for _ in range(3)]
    workdir = tempfile.mkdtemp(prefix="frontdesk-azurite-")
    command = [str(AZURITE_BIN), "--inMemoryPersistence", "--silent", "--skipApiVersionCheck",
               "--disableTelemetry", "--loose",
               "--blobHost", "127.0.0.1", "--blobPort", str(ports[0]),
               "--queueHost", "127.0.0.1", "--queuePort", str(ports[1]),
               "--tableHost", "127.0.0.1", "--tablePort", str(ports[2])]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True, cwd=workdir)
    azurite = Azurite(process, *ports, workdir)
    try:
        for port in ports:
            wait_for_port(port, timeout=timeout)
    except TimeoutError:
        error = process.stderr.read().decode(errors="replace") if process.poll() is not None else ""
        azurite.stop()
        raise RuntimeError(f"Azurite did not start: {error.strip() or 'timed out'}") from None
    return azurite
