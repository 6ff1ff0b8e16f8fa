"""The settings model, docs/SETTINGS.md and local.settings.sample.json name exactly the same settings."""

from dev.settings_doc import DOC, HOST_SETTINGS, describe_settings, render_doc, sample_names
from shared.config import setting_names


def test_sample_file_lists_exactly_the_settings_the_code_reads():
    assert sample_names() == set(setting_names()) | set(HOST_SETTINGS)


def test_settings_doc_is_current():
    assert DOC.read_text() == render_doc(), "run `python -m dev.settings_doc` and commit docs/SETTINGS.md"


def test_every_setting_is_described():
    undocumented = [name for name, _, text in describe_settings() if not text]
    assert not undocumented
