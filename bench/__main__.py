"""Run every benchmark in this package: ``.venv/bin/python -m bench [--quick]``."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main(argv: list[str]) -> int:
    status = 0
    for module in sorted(pkgutil.iter_modules(bench.__path__), key=lambda m: m.name):
        if module.name.startswith("_"):
            continue
        benchmark = importlib.import_module(f"bench.{module.name}")
        if callable(getattr(benchmark, "main", None)):
            print(f"== bench.{module.name}")
            status |= benchmark.main(argv) or 0
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
