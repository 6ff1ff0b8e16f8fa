"""The test tree itself: pytest imports test modules by their file name (no packages), so two test files with
the same name in different folders stop the whole run with 'import file mismatch'. It happened twice in one
day as new areas landed; this names the clash before a run does. For the same reason no test imports from
``conftest``: with several folders in one run, ``conftest`` is whichever of them was imported first."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def test_no_two_test_modules_share_a_file_name():
    where = defaultdict(list)
    for path in TESTS.rglob("*.py"):
        if path.name != "conftest.py" and "node_modules" not in path.parts:
            where[path.name].append(str(path.relative_to(TESTS)))
    clashes = {name: paths for name, paths in where.items() if len(paths) > 1}
    assert not clashes, f"rename one of each: {clashes}"


def test_no_test_imports_from_a_conftest():
    importing = [str(path.relative_to(TESTS)) for path in TESTS.rglob("*.py") if "node_modules" not in path.parts
                 and re.search(r"^\s*(?:from conftest import|import conftest)", path.read_text(), re.M)]
    assert not importing, f"move what they import into a uniquely named helper module: {importing}"
