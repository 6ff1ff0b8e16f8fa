"""Fixtures for the scheduling core: the example business configuration and small builders."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "business.example.yaml"


@pytest.fixture(scope="session")
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture(scope="session")
def example_data() -> dict:
    """The example configuration as parsed YAML (tests copy it before changing it)."""
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def example_config():
    from shared.config import load_business_config
    return load_business_config(str(EXAMPLE))
