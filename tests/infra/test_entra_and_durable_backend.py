"""The two switches IT flips for years of running: Entra ID sign-in on the booking routes, and the Durable backend.

`entraAuthEnabled` must produce App Service Authentication (authsettingsV2) that lets the widget, anonymous reads
and function-key callers through, and tell the app to trust the principal headers exactly when it is on.
`durableBackend = 'DurableTaskScheduler'` must deploy a scheduler and task hub reached with the managed identity
and point the host at it through app settings only (host.json and the code unchanged); Azure Storage stays the
default. Checked on the tree-sitter syntax tree: there is no Bicep CLI offline, so what Azure would reject at
deployment time beyond structure (API schema validation) is not caught here.
"""

import json
import re

from azure_settings import DURABLE_TASK_SCHEDULER_SETTINGS
from bicep_tree import (FUNCTION_APP, INFRA, ROOT, app_settings, conditional_app_settings, get, literal, load,
                        possible_values, properties, text)

MAIN = INFRA / "main.bicep"
DURABLE = INFRA / "modules" / "durabletask.bicep"
DURABLE_TASK_DATA_CONTRIBUTOR = "0ad04412-c4d5-4796-b79c-f76d14c8d402"


def module_params(symbol: str) -> dict:
    for node in load(MAIN).root.named_children:
        if node.type == "module_declaration" and text(node.named_children[0]) == symbol:
            body = node.named_children[-1]
            condition = None
            if body.type == "if_statement":
                condition, body = body.named_children[0], body.named_children[-1]
            return {"condition": condition, "params": properties(get(body, "params"))}
    raise AssertionError(f"main.bicep has no module {symbol}")


def one(path, provider, name=None):
    found = [r for r in load(path).resources_of(provider)
             if name is None or literal(get(r.body, "name")) == name]
    assert len(found) == 1, f"expected one {provider} {name or ''} in {path.name}"
    return found[0]


def strings(node) -> list[str]:
    return [literal(item) for item in node.named_children if item.type == "string"]


def app_routes() -> set[str]:
    """Every HTTP route the app declares (``route="..."`` in triggers/), as /api/... paths."""
    found = set()
    for path in (ROOT / "triggers").glob("*.py"):
        found |= {"/api/" + route for route in re.findall(r'route="([^"]+)"', path.read_text())}
    found |= {"/api/entra/" + route for route in
              re.findall(r'route=PREFIX \+ "([^"]+)"', (ROOT / "triggers" / "entra_bookings.py").read_text())}
    return found


# ---------------------------------------------------------------- Entra ID (App Service Authentication)

def test_entra_sign_in_is_a_main_parameter_off_by_default_and_reaches_the_function_app():
    params = load(MAIN).params()
    assert params["entraAuthEnabled"].type == "bool" and literal(params["entraAuthEnabled"].default) is False
    assert params["entraApiClientId"].type == "string"
    api = module_params("api")["params"]
    assert text(api["entraAuthEnabled"]) == "entraAuthEnabled"
    assert text(api["entraApiClientId"]) == "entraApiClientId"


def test_the_parameter_deploys_authsettings_v2_that_lets_anonymous_and_key_callers_through():
    auth = one(FUNCTION_APP, "Microsoft.Web/sites/config", "authsettingsV2")
    assert text(auth.condition) == "(entraAuthEnabled)", "App Service Authentication only when the parameter is on"
    assert text(get(auth.body, "parent")) == "site"
    props = get(auth.body, "properties")
    assert literal(get(props, "platform", "enabled")) is True
    validation = get(props, "globalValidation")
    # AllowAnonymous: the widget, event-types/availability and function-key scripts carry no token.
    assert literal(get(validation, "unauthenticatedClientAction")) == "AllowAnonymous"
    assert literal(get(validation, "requireAuthentication")) is False
    assert literal(get(props, "httpSettings", "requireHttps")) is True
    assert literal(get(props, "login", "tokenStore", "enabled")) is False


def test_entra_id_validates_tokens_of_the_api_app_registration_in_this_tenant():
    aad = get(one(FUNCTION_APP, "Microsoft.Web/sites/config", "authsettingsV2").body,
              "properties", "identityProviders", "azureActiveDirectory")
    assert literal(get(aad, "enabled")) is True
    assert text(get(aad, "registration", "clientId")) == "entraApiClientId"
    issuer = text(get(aad, "registration", "openIdIssuer"))
    assert "environment().authentication.loginEndpoint" in issuer and "tenant().tenantId" in issuer
    assert issuer.endswith("/v2.0'")
    audiences = [text(item) for item in get(aad, "validation", "allowedAudiences").named_children]
    assert audiences == ["entraApiClientId", "'api://${entraApiClientId}'"]
    assert "clientSecretSettingName" not in properties(get(aad, "registration")), "validating tokens needs no secret"


def test_only_the_webhooks_are_excluded_and_never_a_booking_route():
    validation = get(one(FUNCTION_APP, "Microsoft.Web/sites/config", "authsettingsV2").body,
                     "properties", "globalValidation")
    excluded = strings(get(validation, "excludedPaths"))
    routes = app_routes()
    assert {"/api/voice/incoming", "/api/voice/turn", "/api/voice/status", "/api/graph/notifications",
            "/api/graph/lifecycle"} <= set(excluded)
    assert set(excluded) <= routes, f"excluded paths that are not routes: {sorted(set(excluded) - routes)}"
    # Excluded paths get no principal headers and no stripping: a booking route there would trust forgeries.
    assert not [path for path in excluded if "booking" in path or "/entra/" in path]
    assert "/api/entra/bookings" in routes and "/api/entra/bookings/{id}/cancel" in routes


def test_the_app_trusts_principal_headers_exactly_when_the_platform_is_in_front():
    setting = app_settings()["AUTH__EASY_AUTH_ENABLED"]
    assert setting.type == "ternary_expression"
    assert text(setting.named_children[0]) == "entraAuthEnabled", "the same parameter that deploys authsettingsV2"
    assert possible_values(setting) == ["true", "false"]


def test_the_setting_values_bicep_writes_parse_as_the_app_reads_them(monkeypatch):
    from shared.config import AuthSettings
    assert AuthSettings.model_validate({"easy_auth_enabled": "true"}).easy_auth_enabled is True
    assert AuthSettings.model_validate({"easy_auth_enabled": "false"}).easy_auth_enabled is False
    assert AuthSettings().easy_auth_enabled is False, "headers are ignored unless a deployment says otherwise"


# ---------------------------------------------------------------- Durable Task Scheduler

def test_durable_backend_is_a_choice_with_azure_storage_the_default():
    params = load(MAIN).params()
    backend = params["durableBackend"]
    assert literal(backend.default) == "AzureStorage"
    source = MAIN.read_text()
    allowed = source.split("param durableBackend")[0].rsplit("@allowed(", 1)[1].split(")")[0]
    assert re.findall(r"'([^']+)'", allowed) == ["AzureStorage", "DurableTaskScheduler"]
    assert literal(params["durableTaskSchedulerSku"].default) == "Consumption"


def test_the_scheduler_module_is_deployed_only_for_the_scheduler_backend():
    module = module_params("durableTask")
    assert text(module["condition"]) == "(durableBackend == 'DurableTaskScheduler')"
    assert load(MAIN).modules()["durableTask"] == "modules/durabletask.bicep"
    # The task hub is the one the app already names (DURABLE_TASK_HUB -> host.json hubName).
    assert text(module["params"]["taskHubName"]) == "durableTaskHub"
    assert text(module_params("api")["params"]["durableTaskHub"]) == "durableTaskHub"
    assert text(module["params"]["appPrincipalId"]) == "identity.outputs.principalId"
    endpoint = text(module_params("api")["params"]["durableTaskSchedulerEndpoint"])
    assert endpoint == "durableBackend == 'DurableTaskScheduler' ? durableTask.outputs.endpoint : ''"


def test_scheduler_and_task_hub_accept_identity_based_access_only():
    scheduler = one(DURABLE, "Microsoft.DurableTask/schedulers")
    props = get(scheduler.body, "properties")
    assert strings(get(props, "ipAllowlist")), "an empty allow list denies every caller"
    sku = get(props, "sku")
    assert sku.type == "ternary_expression"
    assert [literal(get(branch, "name")) for branch in sku.named_children[1:]] == ["Dedicated", "Consumption"]
    hub = one(DURABLE, "Microsoft.DurableTask/schedulers/taskHubs")
    assert text(get(hub.body, "parent")) == "scheduler" and text(get(hub.body, "name")) == "taskHubName"
    assert "listKeys" not in DURABLE.read_text() and "secure()" not in DURABLE.read_text()


def test_the_app_identity_holds_durable_task_data_contributor_on_the_scheduler_only():
    assignment = one(DURABLE, "Microsoft.Authorization/roleAssignments")
    assert text(get(assignment.body, "scope")) == "scheduler"
    role = text(get(assignment.body, "properties", "roleDefinitionId"))
    assert "roles.durableTaskDataContributor" in role
    roles = load(DURABLE).variables()["roles"]
    assert literal(properties(roles)["durableTaskDataContributor"]) == DURABLE_TASK_DATA_CONTRIBUTOR
    assert text(get(assignment.body, "properties", "principalId")) == "appPrincipalId"
    assert literal(get(assignment.body, "properties", "principalType")) == "ServicePrincipal"
    name = text(get(assignment.body, "name"))
    assert name == "guid(scheduler.id, appPrincipalId, roles.durableTaskDataContributor)", "stable on redeploy"


def test_the_host_is_pointed_at_the_scheduler_by_app_settings_only_when_it_is_deployed():
    conditional = conditional_app_settings()
    assert set(conditional) == {"durableTaskSchedulerSettings"}
    variable = load(FUNCTION_APP).variables()["durableTaskSchedulerSettings"]
    condition, when_empty, _ = variable.named_children
    assert text(condition) == "empty(durableTaskSchedulerEndpoint)" and properties(when_empty) == {}
    settings = conditional["durableTaskSchedulerSettings"]
    assert set(settings) == set(DURABLE_TASK_SCHEDULER_SETTINGS), "explained in tests/infra/azure_settings.py"
    prefix = "AzureFunctionsJobHost__extensions__durableTask__storageProvider__"
    assert literal(settings[prefix + "type"]) == "azureManaged"
    connection_name = literal(settings[prefix + "connectionStringName"])
    assert connection_name == "DURABLE_TASK_SCHEDULER_CONNECTION_STRING" and connection_name in settings
    connection = text(settings[connection_name])
    assert connection == ("'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;"
                          "ClientID=${identityClientId}'"), "the user-assigned identity, no key"
    # None of these may also be set unconditionally, or Azure Storage would no longer be the default.
    assert not set(settings) & set(app_settings())


def test_the_overridden_keys_exist_in_host_json_which_keeps_azure_storage():
    host = json.loads((ROOT / "host.json").read_text())
    durable = host["extensions"]["durableTask"]
    assert durable["storageProvider"]["type"] == "AzureStorage" and durable["hubName"] == "%DURABLE_TASK_HUB%"
    for name in conditional_app_settings()["durableTaskSchedulerSettings"]:
        if name.startswith("AzureFunctionsJobHost__"):
            *path, _leaf = name.split("__")[1:]
            node = host
            for key in path:
                assert key in node, f"{name}: host.json has no {key}"
                node = node[key]


def test_the_extension_bundle_includes_the_scheduler_provider():
    # Microsoft.Azure.WebJobs.Extensions.DurableTask.AzureManaged (type azureManaged) is in bundle 4.32.0+.
    bundle = json.loads((ROOT / "host.json").read_text())["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    low, high = re.fullmatch(r"\[([\d.]+),\s*([\d.]+)\)", bundle["version"]).groups()
    assert tuple(map(int, low.split("."))) >= (4, 32, 0) and high.startswith("5.")


def test_azd_can_set_both_switches_and_read_the_scheduler_endpoint():
    given = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    for name in ("entraAuthEnabled", "entraApiClientId", "durableBackend", "durableTaskSchedulerSku"):
        assert name in given
    assert "DURABLE_TASK_SCHEDULER_ENDPOINT" in load(MAIN).outputs()
