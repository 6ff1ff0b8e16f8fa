"""The parser imports no SDK and loads ``dateparser`` only when its date fallback is needed (import time is
measured by bench/understanding.py, not asserted here, because the machine is shared)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys
import shared.domain.understanding as u
from datetime import datetime, timezone
now = datetime(2025, 3, 6, 16, tzinfo=timezone.utc)
u.parse("tomorrow at 10, my number is 312 555 0100", now=now, time_zone="America/Chicago", expecting="time")
after_parse = "dateparser" in sys.modules
u.parse("december 03", now=now, time_zone="America/Chicago", expecting="time")
print(json.dumps({"after_parse": after_parse, "after_fallback": "dateparser" in sys.modules,
                  "heavy": sorted(m for m in sys.modules
                                  if m.split(".")[0] in ("openai", "azure", "twilio", "msgraph"))}))
"""


def test_importing_and_parsing_loads_no_sdk_and_dateparser_only_for_the_fallback():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, check=True)
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    assert probe["heavy"] == []
    assert probe["after_parse"] is False
    assert probe["after_fallback"] is True
