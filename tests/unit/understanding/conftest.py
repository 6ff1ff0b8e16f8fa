"""Fixtures for the language-understanding tests: the example business's event types, a parse helper."""

from __future__ import annotations

import pytest

from understanding_corpus import CHICAGO, NOW, example_catalog, instant


@pytest.fixture(scope="session")
def catalog() -> tuple:
    """``(key, phrases)`` of the example business's event types (config/business.example.yaml)."""
    return example_catalog()


@pytest.fixture(scope="session")
def understand(catalog):
    """``understand(text, expecting=..., now="2025-03-06 10:00", offered=[...])`` -> Understanding."""
    from shared.domain.understanding import parse

    def run(text: str, expecting=None, now: str = NOW, offered=(), time_zone: str = CHICAGO):
        return parse(text, now=instant(now), time_zone=time_zone, expecting=expecting, event_types=catalog,
                     offered=[instant(o) for o in offered])

    return run
