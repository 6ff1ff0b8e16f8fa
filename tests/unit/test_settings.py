"""Settings: friendly errors that name the variable; static tokens refused for real services."""

import pytest

from shared.config import Settings, SettingsError, load_settings, setting_names

LOCAL = {"STORAGE__CONNECTION_STRING": "UseDevelopmentStorage=true"}


def env(monkeypatch, **values):
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_minimal_local_settings_load_with_defaults(monkeypatch):
    env(monkeypatch, **LOCAL)
    settings = load_settings()
    assert settings.graph.base_url.host == "graph.microsoft.com"
    assert settings.identity.mode == "managed_identity"
    assert settings.sms.provider == "acs"


def test_missing_storage_names_both_ways_in(monkeypatch):
    env(monkeypatch)
    with pytest.raises(SettingsError) as info:
        load_settings()
    (name, message), = info.value.problems
    assert name == "STORAGE"
    assert "STORAGE__CONNECTION_STRING" in message and "STORAGE__TABLE_ENDPOINT" in message


def test_bad_value_names_the_nested_variable(monkeypatch):
    env(monkeypatch, GRAPH__BASE_URL="not a url", OPENAI__TIMEOUT_SECONDS="99", **LOCAL)
    with pytest.raises(SettingsError) as info:
        load_settings()
    names = {name for name, _ in info.value.problems}
    assert names == {"GRAPH__BASE_URL", "OPENAI__TIMEOUT_SECONDS"}
    assert "GRAPH__BASE_URL" in str(info.value)


def test_client_secret_mode_lists_what_is_missing(monkeypatch):
    env(monkeypatch, IDENTITY__MODE="client_secret", IDENTITY__TENANT_ID="t", **LOCAL)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert "IDENTITY__CLIENT_ID" in message and "IDENTITY__CLIENT_SECRET" in message
    assert "IDENTITY__TENANT_ID" not in message.split("needs", 1)[1]


def test_static_token_refused_against_real_graph(monkeypatch):
    env(monkeypatch, IDENTITY__MODE="static_token", IDENTITY__STATIC_TOKEN="x", **LOCAL)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "GRAPH__BASE_URL" in str(info.value)


def test_static_token_allowed_against_loopback(monkeypatch):
    env(monkeypatch, IDENTITY__MODE="static_token", IDENTITY__STATIC_TOKEN="x",
        GRAPH__BASE_URL="http://127.0.0.1:8123/v1.0", DATAVERSE__URL="http://localhost:8124", **LOCAL)
    assert load_settings().identity.static_token.get_secret_value() == "x"


def test_secrets_never_appear_in_repr_or_errors(monkeypatch):
    env(monkeypatch, TWILIO__AUTH_TOKEN="supersecret-token", GRAPH__BASE_URL="bad", **LOCAL)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "supersecret-token" not in str(info.value)
    env(monkeypatch, TWILIO__AUTH_TOKEN="supersecret-token", **LOCAL)
    assert "supersecret-token" not in repr(load_settings())


def test_setting_names_cover_nested_groups():
    names = setting_names(Settings)
    assert "GRAPH__BASE_URL" in names and "STORAGE__CONNECTION_STRING" in names
    assert "BUSINESS_CONFIG_PATH" in names
    assert len(names) == len(set(names))
