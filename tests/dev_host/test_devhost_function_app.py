"""The real composition root loads on the development host as the Functions host would load it."""

from __future__ import annotations

import httpx

from dev.host import DevHost
from devhost_support import unique_hub


async def test_function_app_module_is_served_with_host_json_settings(azurite, base_env):
    hub = unique_hub("app")
    host = DevHost("function_app", env={"DURABLE_TASK_HUB": hub},
                   storage_connection_string=azurite.connection_string)
    with host:
        assert host.route_prefix == "api", "routePrefix comes from host.json"
        assert host.task_hub == hub, "host.json's %DURABLE_TASK_HUB% is resolved from the app settings"
        assert "health" in {f["name"] for f in host.describe_functions()}
        async with httpx.AsyncClient(timeout=10) as http:
            reply = await http.get(host.url("health"))
        assert reply.status_code == 200, reply.text
        assert reply.json()["checks"]["storage"]["ok"] is True
    again = DevHost("function_app", env={"DURABLE_TASK_HUB": hub}, storage_connection_string=azurite.connection_string)
    with again:  # the same app object is indexed once and reused, as after a host restart
        assert {f["name"] for f in again.describe_functions()} == {f["name"] for f in host.describe_functions()}
