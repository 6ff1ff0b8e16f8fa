"""Cold start: what a fresh worker pays before it can answer, and its memory.

    .venv/bin/python -m bench.cold_start [--runs 15] [--quick]

Each run is a new Python process (as a new Functions worker is) that imports ``function_app`` and
indexes it with ``app.get_functions()``; it reports wall time and peak resident memory (ru_maxrss).
A second series also pays msgraph-sdk's first-use cost (``shared.adapters.graph.warm_up()``), which
Frontdesk keeps off the voice path. Medians and p95 over the runs; figures in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import json, resource, time
started = time.perf_counter()
import function_app
function_app.app.get_functions()
imported = time.perf_counter() - started
warm = None
if {warm}:
    from shared.adapters.graph import warm_up
    warm_started = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - warm_started
print(json.dumps({{"import_s": imported, "warm_s": warm,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def run_probe(warm: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", PROBE.format(warm=warm)], cwd=ROOT, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def report(label: str, samples: list[dict]) -> None:
    imports = [s["import_s"] * 1000 for s in samples]
    rss = [s["rss_mib"] for s in samples]
    line = (f"{label:<28} import+index median {statistics.median(imports):7.1f} ms  p95 {p95(imports):7.1f} ms"
            f"  peak RSS median {statistics.median(rss):6.1f} MiB")
    warms = [s["warm_s"] * 1000 for s in samples if s["warm_s"] is not None]
    if warms:
        line += f"  msgraph warm-up median {statistics.median(warms):7.1f} ms"
    print(line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="3 runs (a smoke run)")
    args, _ = parser.parse_known_args(argv)
    runs = 3 if args.quick else args.runs
    run_probe(False)  # the first run also fills the OS page cache and writes .pyc files
    report("import function_app", [run_probe(False) for _ in range(runs)])
    report("import + msgraph warm-up", [run_probe(True) for _ in range(max(3, runs // 3))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
