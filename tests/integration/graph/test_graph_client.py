"""The Graph client's cost and sharing: nothing heavy at import, warm-up once, one client per loop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys, time
import shared.adapters.graph as graph
loaded_on_import = sorted(m for m in sys.modules if m.startswith(("msgraph", "kiota")))
first = graph.warm_up()
second = graph.warm_up()
print(json.dumps({"loaded_on_import": loaded_on_import, "first": first, "second": second}))
"""


def test_importing_the_adapter_loads_no_sdk_and_warm_up_pays_the_model_loading_once():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])

    assert probe["loaded_on_import"] == []
    assert probe["second"] < probe["first"] / 5, "the second warm-up finds the models already loaded"


async def test_adapters_share_one_client_per_event_loop(graph_settings):
    from shared.adapters.graph import GraphAdapter, get_graph_adapter

    settings = graph_settings()
    first, second = GraphAdapter(settings), GraphAdapter(settings)

    assert first.client is second.client
    assert get_graph_adapter(settings) is get_graph_adapter(settings)


def test_the_adapter_offers_every_method_of_its_ports_with_the_same_parameters():
    import inspect

    from shared.adapters.graph import GraphAdapter
    from shared.ports import CalendarPort, MailPort, SubscriptionPort

    for port in (CalendarPort, SubscriptionPort, MailPort):
        for name, method in vars(port).items():
            if callable(method) and not name.startswith("_"):
                ours = getattr(GraphAdapter, name)
                assert inspect.iscoroutinefunction(ours), name
                assert list(inspect.signature(ours).parameters) == list(inspect.signature(method).parameters), name
