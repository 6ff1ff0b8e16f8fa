"""`import function_app` defines functions and nothing more: no SDK clients, no network, no settings read."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("msgraph", "kiota", "azure.data.tables", "azure.identity", "azure.communication", "twilio", "openai",
         "azure.monitor", "opentelemetry.sdk", "dev", "tests")

PROBE = f"""
import json, os, sys, time
for name in list(os.environ):
    if "__" in name: del os.environ[name]
started = time.perf_counter()
import function_app
elapsed = time.perf_counter() - started
loaded = sorted(m for m in sys.modules if m.split('.')[0] in {{'msgraph','kiota_abstractions','twilio','openai','dev','tests'}}
                or m.startswith({HEAVY!r}))
print(json.dumps({{"elapsed": elapsed, "loaded": loaded, "functions": len(function_app.app.get_functions())}}))
"""


def test_importing_the_app_loads_no_sdk_and_reads_no_settings():
    # No settings in the environment: importing must still succeed, because nothing is read yet.
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["loaded"] == []
    assert probe["functions"] >= 1
