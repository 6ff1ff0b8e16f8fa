"""The settings the code reads, local.settings.sample.json and the Bicep app settings agree exactly.

This is the test that fails loudly when a new setting is added to shared/config.py but not to
infra/modules/functionapp.bicep (or the other way round).
"""

import json

import pytest

from azure_settings import AZURE_HOST_SETTINGS, EMPTY_IN_AZURE, LOCAL_HOST_SETTINGS_IN_AZURE
from bicep_tree import FUNCTION_APP, INFRA, ROOT, NotLiteral, app_settings, get, literal, load, properties, text
from dev.settings_doc import HOST_SETTINGS
from shared.config import load_settings, reset_settings, setting_names

CODE = set(setting_names())
SAMPLE = set(json.loads((ROOT / "local.settings.sample.json").read_text())["Values"])


def describe(names) -> str:
    return ", ".join(sorted(names)) or "-"


def test_sample_file_lists_the_settings_the_code_reads_plus_host_settings():
    sample_code = SAMPLE - set(HOST_SETTINGS)
    assert sample_code == CODE, (
        f"add to local.settings.sample.json: {describe(CODE - sample_code)}; "
        f"remove from it: {describe(sample_code - CODE)}")


def test_bicep_sets_every_setting_the_code_reads_and_nothing_unexplained():
    bicep = set(app_settings())
    bicep_code = bicep - set(AZURE_HOST_SETTINGS)
    assert bicep_code == CODE, (
        f"set in infra/modules/functionapp.bicep (appsettings): {describe(CODE - bicep_code)}; "
        f"set there but read by no code (remove, or explain in tests/infra/azure_settings.py): "
        f"{describe(bicep_code - CODE)}")


def test_host_settings_of_azure_are_all_set():
    assert set(AZURE_HOST_SETTINGS) <= set(app_settings())


def test_every_local_host_setting_has_an_azure_counterpart_decided():
    assert set(LOCAL_HOST_SETTINGS_IN_AZURE) == set(HOST_SETTINGS)
    assert not set(HOST_SETTINGS) & set(app_settings()), "Flex Consumption sets these differently (see azure_settings.py)"


def test_local_only_settings_are_empty_in_azure():
    settings = app_settings()
    assert set(EMPTY_IN_AZURE) <= CODE, "EMPTY_IN_AZURE names a setting the code no longer reads"
    not_empty = {name: text(settings[name]) for name in EMPTY_IN_AZURE if literal(settings[name]) != ""}
    assert not not_empty


def test_runtime_is_python_311_in_function_app_config():
    site = next(r for r in load(FUNCTION_APP).resources_of("Microsoft.Web/sites"))
    runtime = get(site.body, "properties", "functionAppConfig", "runtime")
    assert literal(get(runtime, "name")) == "python"
    version = get(runtime, "version")
    param = load(FUNCTION_APP).params()[text(version)] if version.type == "identifier" else None
    assert literal(param.default if param else version) == "3.11"


def azure_value(name: str):
    """The value Bicep gives a setting: a literal, or the default of the main.bicep parameter feeding it."""
    node = app_settings()[name]
    if node.type != "identifier":
        return literal(node)
    module_param = text(node)
    if module_param not in load(FUNCTION_APP).params():
        return NotLiteral
    main = load(INFRA / "main.bicep")
    for declaration in main.root.named_children:
        if declaration.type == "module_declaration" and literal(declaration.named_children[1]) == "modules/functionapp.bicep":
            arg = properties(get(declaration.named_children[-1], "params")).get(module_param)
            if arg is None:
                return NotLiteral
            if arg.type == "identifier" and text(arg) in main.params():
                default = main.params()[text(arg)].default
                return literal(default) if default is not None else NotLiteral
            return literal(arg)
    return NotLiteral


# Stand-ins for values only known once deployed (endpoints, ids), so the rest can be validated.
DEPLOYED = {
    "STORAGE__TABLE_ENDPOINT": "https://stexample.table.core.windows.net/",
    "PUBLIC_BASE_URL": "https://func-frontdesk-example.azurewebsites.net",
    "ACS__ENDPOINT": "https://acs-example.communication.azure.com",
}


def test_azure_values_and_defaults_are_valid_settings(monkeypatch):
    for name in CODE:
        monkeypatch.delenv(name, raising=False)
    env = {}
    for name in CODE:
        value = azure_value(name)
        if isinstance(value, str) and not value.startswith("@Microsoft.KeyVault"):
            env[name] = value
        elif name in DEPLOYED:
            env[name] = DEPLOYED[name]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    try:
        settings = load_settings()
    finally:
        reset_settings()
    assert settings.identity.mode == "managed_identity"
    assert str(settings.graph.base_url).startswith("https://graph.microsoft.com/")
    assert settings.storage.connection_string is None


@pytest.mark.parametrize("name", sorted(EMPTY_IN_AZURE))
def test_deploy_doc_explains_each_setting_left_empty_in_azure(name):
    assert name in (ROOT / "docs" / "DEPLOY.md").read_text()
