"""Loopback ports for the local stack and tests, without a window in which another process can take them.

A server of the local stack gets its port by :func:`listening_socket`: the socket is bound (to port 0,
so the OS picks a free one, or to a preferred port) and already listening when the caller learns the
number, and it is the very socket the server then serves on. Nothing else can bind that port in between,
which ``bind, close, hand the number on`` could not promise: with several test workers and emulators
starting at once another process would sometimes take the port first (``EADDRINUSE``).

Azurite is a separate Node process that cannot be handed a socket; ``dev.azurite`` retries with new
ports when it loses a race instead.
"""

from __future__ import annotations

import errno
import socket
import time


def listening_socket(host: str = "127.0.0.1", port: int | None = None, *, fallback: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; with ``port`` None (or taken, when ``fallback``) a free one.

    ``port`` is a preference (``make dev`` asks for 7071): when another process holds it and ``fallback``
    is true, the OS picks a free port instead, so two local stacks can run side by side.
    """
    if port:
        try:
            return _listen(host, port)
        except OSError as exc:
            if not fallback or exc.errno != errno.EADDRINUSE:
                raise
    return _listen(host, 0)


def _listen(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As every server does: a restarted server takes its port back although connections it accepted
        # are still open or in TIME_WAIT. Safe here because the socket listens at once: no other socket
        # can bind a port that one listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now: only for addresses that must refuse connections (dead endpoints).

    Never start a server on it: by the time it binds, another process may have taken the port.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, host: str = "127.0.0.1", timeout: float = 20.0) -> None:
    """Block until something accepts connections on ``host:port`` or raise ``TimeoutError``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listening on {host}:{port} after {timeout:g} s") from None
            time.sleep(0.05)
