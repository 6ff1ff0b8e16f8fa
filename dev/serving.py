"""Run an aiohttp application on a loopback port in a background thread (emulators, the dev host).

Tests and the demo start servers once per session this way; each server has its own event loop,
so a slow handler in one never stalls another.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

from aiohttp import web

from dev.ports import listening_socket


class BackgroundServer:
    """An aiohttp app served from its own thread and event loop until :meth:`stop`.

    The listening socket is taken when the server is made (``sock`` if given, else ``port`` or a free one,
    see :func:`dev.ports.listening_socket`), so :attr:`port` is the server's from the first moment.
    """

    def __init__(self, make_app: Callable[[], web.Application], port: int | None = None,
                 host: str = "127.0.0.1", name: str = "server", *, sock: socket.socket | None = None):
        self._make_app = make_app
        self.host = host
        self._sock = sock or listening_socket(host, port)
        self.port = self._sock.getsockname()[1]
        self.name = name
        self.loop: asyncio.AbstractEventLoop | None = None
        self.app: web.Application | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "BackgroundServer":
        self._thread = threading.Thread(target=self._run, name=f"{self.name}:{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError(f"{self.name} did not start within {timeout:g} s")
        if self._error:
            raise RuntimeError(f"{self.name} failed to start") from self._error
        return self

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._runner.cleanup())
        self.loop.close()

    async def _serve(self) -> None:
        self.app = self._make_app()
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    def call(self, coro, timeout: float = 30.0):
        """Run a coroutine on the server's loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        if self.loop and self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(timeout=10)
        self._sock.close()  # never started, or already closed by the runner: either way the port is free

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class RunningEmulator:
    """What every emulator handle shares: its background server and the state its app keeps.

    Subclasses add the emulator's own seeding, fault and outbox helpers on top of ``state``.
    """

    def __init__(self, server: BackgroundServer, state):
        self._server = server
        self.state = state

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def reset(self) -> None:
        self.state.reset()

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
