"""Servers of the local stack own their ports from the moment they are made: nobody can take them in between.

The first release picked a free port, closed it and handed the number on; with several test workers
and emulators starting at once, another process sometimes took the port first (EADDRINUSE) and a whole
worker's tests errored. These tests start servers the way the stack does, many at once, and check the
window is gone, and that a preferred port that is busy (``make dev`` run twice) falls back to a free one.
"""

from __future__ import annotations

import errno
import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from aiohttp import web

from dev.azurite import start_azurite
from dev.ports import listening_socket
from dev.serving import BackgroundServer


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"port {request.url.port}")


def hello_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/", hello)
    return app


def test_a_server_owns_its_port_before_it_starts():
    server = BackgroundServer(hello_app, name="early")
    with socket.socket() as thief, pytest.raises(OSError) as taken:
        thief.bind(("127.0.0.1", server.port))
    assert taken.value.errno == errno.EADDRINUSE
    with server.start():
        assert httpx.get(server.base_url).text == f"port {server.port}"


def test_many_servers_and_azurites_started_at_once_all_come_up_on_distinct_ports():
    def start_server(_):
        return BackgroundServer(hello_app, name="many").start()

    with ThreadPoolExecutor(8) as pool:
        azurites = list(pool.map(lambda _: start_azurite(), range(3)))
        servers = list(pool.map(start_server, range(24)))
    try:
        ports = [s.port for s in servers] + [p for a in azurites for p in (a.blob_port, a.queue_port, a.table_port)]
        assert len(set(ports)) == len(ports)
        for server in servers:
            assert httpx.get(server.base_url).text == f"port {server.port}"
        for azurite in azurites:  # each answers as Azurite's table service (its own, not another's)
            response = httpx.get(f"{azurite.table_endpoint}/Tables", headers={"Accept": "application/json"})
            assert response.status_code in (200, 403) and "x-ms-request-id" in response.headers
            assert azurite.process.poll() is None
    finally:
        for server in servers:
            server.stop()
        for azurite in azurites:
            azurite.stop()


def test_a_busy_preferred_port_falls_back_to_a_free_one_and_a_stopped_server_gives_its_port_back():
    with BackgroundServer(hello_app, name="first") as first:
        second_sock = listening_socket("127.0.0.1", first.port)  # as `make dev` asks for 7071 a second time
        with BackgroundServer(hello_app, name="second", sock=second_sock) as second:
            assert second.port != first.port
            assert httpx.get(second.base_url).text == f"port {second.port}"
        port = first.port
    again = listening_socket("127.0.0.1", port, fallback=False)  # free again at once, despite TIME_WAIT
    again.close()
