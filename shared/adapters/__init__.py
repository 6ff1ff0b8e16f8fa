"""Real implementations of the ports in ``shared.ports``, each built on the official SDK (imported lazily).

Adapters keep one client per process and event loop. ``aclose_loop_clients()`` closes those of the
running loop for every adapter module that has been loaded; hosts call it before their loop ends.
"""

import sys

_CLIENT_MODULES = ("shared.adapters.storage", "shared.adapters.graph_client", "shared.adapters.dataverse",
                   "shared.adapters.language", "shared.services.webhooks", "shared.services.container")


async def aclose_loop_clients() -> None:
    """Close every loaded adapter's clients that belong to the running event loop."""
    for name in _CLIENT_MODULES:
        module = sys.modules.get(name)
        closer = getattr(module, "aclose_loop_clients", None)
        if closer is not None:
            await closer()
