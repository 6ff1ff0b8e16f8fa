"""Fixtures for the dialog tests: the example business's configuration and a ``world`` to run calls in
(``dialog_world.World``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialog_world import World

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def config():
    from shared.config import load_business_config
    return load_business_config(str(ROOT / "config" / "business.example.yaml"))


@pytest.fixture
def world(config):
    def make(**kwargs) -> World:
        return World(config, **kwargs)
    return make
