"""Microsoft's Python worker indexes ``function_app.py`` and tells the host what we expect, and nothing heavy loads.

The worker (``azure-functions-runtime``, see tests/worker/requirements.txt for why this package) runs in a
fresh interpreter with the app folder as script root, as under the Functions host; its function metadata is
reduced to a manifest (trigger, route, methods, auth level, schedule, durable client, other bindings) and
compared with the checked-in tests/worker/functions.expected.json and with what the development host indexes.

After adding, removing or changing a function, regenerate the manifest and review its diff:

    .venv/bin/python -m tests.worker.manifest --write
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from tests.unit.test_import_is_light import HEAVY
from tests.worker import manifest

# What the development host must agree with the worker on (otherBindings are the worker's own business).
SHARED_FIELDS = ("trigger", "route", "methods", "authLevel", "schedule", "runOnStartup", "durableClient")
EXTRA_TOP_LEVEL = ("kiota_abstractions",)  # the import-light test's extra top-level names beyond HEAVY


@pytest.fixture(scope="module")
def probe() -> dict:
    return manifest.worker_index()


def heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY + EXTRA_TOP_LEVEL)]


def test_the_worker_loads_every_function_of_the_app(probe):
    assert manifest.init_error(probe) is None, f"the Python worker refuses the app: {manifest.init_error(probe)}"
    assert probe["status"] == "Success"
    assert probe["functions"], "the worker found no function in function_app.py"
    for function in probe["functions"]:
        # What the host needs to route invocations back to this worker and this script.
        assert function["language"] == "python"
        assert function["properties"] == {"worker_indexed": "True"}
        assert Path(function["directory"]) == manifest.ROOT
        assert function["script_file"] == "function_app.py"
        assert function["entry_point"] == function["name"]
        assert set(function["bindings"]) == {b["name"] for b in function["raw_bindings"]}, function["name"]


def test_the_worker_tells_the_host_what_the_manifest_expects(probe):
    lines = manifest.differences(manifest.load_expected(), manifest.from_worker(probe),
                                 expected_label="functions.expected.json", actual_label="the worker's metadata")
    assert not lines, ("the worker's function metadata differs from tests/worker/functions.expected.json:\n  "
                       + "\n  ".join(lines) + f"\nIf the change is intended, regenerate it: {manifest.REGENERATE}")


def test_the_development_host_indexes_what_the_worker_indexes(probe):
    lines = manifest.differences(manifest.from_worker(probe), manifest.from_dev_host(), fields=SHARED_FIELDS,
                                 expected_label="the worker", actual_label="dev/host/loader.py")
    assert not lines, "the development host disagrees with the worker (the worker wins):\n  " + "\n  ".join(lines)


def test_indexing_under_the_worker_imports_no_heavy_sdk(probe):
    assert "function_app" in probe["loaded"], "the probe did not import the app in the worker's process"
    assert heavy(probe["loaded"]) == []


# ------------------------------------------------------------ the check itself can fail

SMALL_APP = '''
"""A two-function app for checking that the worker's verdict reaches the test."""
from typing import Any
import azure.durable_functions as df
import azure.functions as func
{extra_import}

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)


@app.route(route="things/{{id}}", methods=["GET"], auth_level=func.AuthLevel.{auth})
@app.durable_client_input(client_name="client")
async def get_thing(req: func.HttpRequest, client) -> func.HttpResponse:
    return func.HttpResponse("ok")


@app.activity_trigger(input_name="payload")
async def do_thing(payload: {payload}) -> dict:
    return payload
'''


def small_app(folder: Path, *, auth: str = "ANONYMOUS", payload: str = "dict", extra_import: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = SMALL_APP.format(auth=auth, payload=payload, extra_import=extra_import)
    (folder / "function_app.py").write_text(textwrap.dedent(source))
    return folder


def test_a_lost_auth_level_is_reported_by_function_and_field(tmp_path):
    expected = manifest.from_worker(manifest.worker_index(small_app(tmp_path / "before")))
    changed = manifest.from_worker(manifest.worker_index(small_app(tmp_path / "after", auth="FUNCTION")))
    assert expected["get_thing"] == {"trigger": "httpTrigger", "route": "things/{id}", "methods": ["GET"],
                                     "authLevel": "anonymous", "durableClient": "client",
                                     "otherBindings": ["OUT http $return"]}
    assert manifest.differences(expected, changed) == [
        'function get_thing: authLevel is "function" in actual, "anonymous" in expected']


def import_app(folder: Path, module_name: str):
    spec = importlib.util.spec_from_file_location(module_name, folder / "function_app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("payload", ["dict[str, Any]", "dict | None"])
def test_the_worker_and_the_development_host_refuse_a_function_the_worker_cannot_load(tmp_path, payload):
    # A builtin generic or union on a binding parameter: the worker's FunctionLoadError (0 functions on Azure).
    from dev.host.loader import AppLoadError
    refused = manifest.worker_index(small_app(tmp_path, payload=payload))
    assert "cannot load the do_thing function" in (manifest.init_error(refused) or "")
    assert refused["functions"] == []
    with pytest.raises(AppLoadError, match="function do_thing: binding payload has invalid non-type annotation"):
        manifest.from_dev_host(import_app(tmp_path, f"refused_app_{tmp_path.name}"))


def test_the_development_host_loads_what_the_worker_loads_in_the_small_app(tmp_path):
    app_dir = small_app(tmp_path, payload="typing.Dict[str, Any]", extra_import="import typing")
    accepted = manifest.worker_index(app_dir)
    assert manifest.init_error(accepted) is None
    assert manifest.from_dev_host(import_app(app_dir, f"accepted_app_{tmp_path.name}")) == {
        name: {k: v for k, v in entry.items() if k in SHARED_FIELDS}
        for name, entry in manifest.from_worker(accepted).items()}


def test_an_sdk_imported_at_module_level_is_caught(tmp_path):
    loaded = manifest.worker_index(small_app(tmp_path, extra_import="import twilio.rest"))["loaded"]
    assert "twilio.rest" in heavy(loaded)
