"""The hardening rules IT checks in a review hold in the templates: identity only, TLS 1.2+, no FTP, vault RBAC."""

import re

from pydantic import SecretStr

from azure_settings import EMPTY_IN_AZURE
from bicep_tree import (FUNCTION_APP, INFRA, app_settings, get, key_vault_reference, literal, load, possible_values,
                        properties, text)
from shared.config import ENV_DELIMITER, Settings

MODULES = INFRA / "modules"


def only(path, provider):
    found = load(path).resources_of(provider)
    assert len(found) == 1, f"expected one {provider} in {path.name}"
    return found[0]


def param_default(path, node):
    """A literal, or the default of the module parameter it names."""
    if node.type == "identifier":
        return literal(load(path).params()[text(node)].default)
    return literal(node)


def test_storage_accepts_no_shared_keys_and_only_tls12_https():
    storage = only(MODULES / "storage.bicep", "Microsoft.Storage/storageAccounts")
    props = get(storage.body, "properties")
    assert literal(get(props, "allowSharedKeyAccess")) is False
    assert literal(get(props, "minimumTlsVersion")) == "TLS1_2"
    assert literal(get(props, "supportsHttpsTrafficOnly")) is True
    assert literal(get(props, "allowBlobPublicAccess")) is False
    container = only(MODULES / "storage.bicep", "Microsoft.Storage/storageAccounts/blobServices/containers")
    assert literal(get(container.body, "properties", "publicAccess")) == "None"


def test_function_app_is_https_only_tls12_without_ftp_or_basic_auth():
    site = only(FUNCTION_APP, "Microsoft.Web/sites")
    props = get(site.body, "properties")
    assert literal(get(props, "httpsOnly")) is True
    assert literal(get(props, "siteConfig", "minTlsVersion")) == "1.2"
    assert literal(get(props, "siteConfig", "scmMinTlsVersion")) == "1.2"
    assert literal(get(props, "siteConfig", "ftpsState")) == "Disabled"
    policies = {literal(get(r.body, "name")): literal(get(r.body, "properties", "allow"))
                for r in load(FUNCTION_APP).resources_of("Microsoft.Web/sites/basicPublishingCredentialsPolicies")}
    assert policies == {"ftp": False, "scm": False}


def test_function_app_runs_as_the_user_assigned_identity_only():
    site = only(FUNCTION_APP, "Microsoft.Web/sites")
    assert literal(get(site.body, "identity", "type")) == "UserAssigned"
    props = get(site.body, "properties")
    assert text(get(props, "keyVaultReferenceIdentity")) == "identityId"
    auth = get(props, "functionAppConfig", "deployment", "storage", "authentication")
    assert literal(get(auth, "type")) == "UserAssignedIdentity"
    assert text(get(auth, "userAssignedIdentityResourceId")) == "identityId"


def test_flex_consumption_with_always_ready_http_instances():
    plan = only(FUNCTION_APP, "Microsoft.Web/serverfarms")
    assert literal(get(plan.body, "sku", "name")) == "FC1"
    assert literal(get(plan.body, "sku", "tier")) == "FlexConsumption"
    site = only(FUNCTION_APP, "Microsoft.Web/sites")
    always_ready = get(site.body, "properties", "functionAppConfig", "scaleAndConcurrency", "alwaysReady")
    groups = {literal(get(item, "name")): param_default(FUNCTION_APP, get(item, "instanceCount"))
              for item in always_ready.named_children if item.type == "object"}
    assert groups.get("http", 0) >= 1, "Graph's 10 s validation and callers must never meet a cold start"
    assert "minValue(1)" in re.sub(r"\s", "", FUNCTION_APP.read_text().split("param alwaysReadyHttpInstances")[0][-200:])


def test_host_storage_is_identity_based():
    settings = app_settings()
    assert "AzureWebJobsStorage" not in settings
    assert literal(settings["AzureWebJobsStorage__credential"]) == "managedidentity"
    assert text(settings["AzureWebJobsStorage__clientId"]) == "identityClientId"
    assert text(settings["AzureWebJobsStorage__accountName"]) == "storageAccountName"


def secret_setting_names() -> list[str]:
    """Every setting the code reads whose type is SecretStr: these must never hold a value in Bicep."""
    names = []

    def walk(model, prefix=""):
        for field_name, field in model.model_fields.items():
            annotation = field.annotation
            env = f"{prefix}{field_name.upper()}"
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation, env + ENV_DELIMITER)
            elif SecretStr in getattr(annotation, "__args__", (annotation,)):
                names.append(env)
    walk(Settings)
    return names


def test_the_secret_settings_are_found():
    assert {"TWILIO__AUTH_TOKEN", "GRAPH__CLIENT_STATE_SECRET", "OPENAI__API_KEY", "IDENTITY__CLIENT_SECRET"} <= set(
        secret_setting_names())


def test_every_secret_setting_is_a_key_vault_reference_or_empty():
    settings = app_settings()
    for name in secret_setting_names():
        node = settings[name]
        if name in EMPTY_IN_AZURE:
            assert literal(node) == "", name
            continue
        assert key_vault_reference(node), f"{name} must be @Microsoft.KeyVault(SecretUri=...) in Azure"
        plain = [v for v in possible_values(node) if isinstance(v, str) and v]
        assert not plain, f"{name} can take a plain value {plain}"


def test_key_vault_is_rbac_authorized_with_soft_delete():
    vault = only(MODULES / "keyvault.bicep", "Microsoft.KeyVault/vaults")
    props = get(vault.body, "properties")
    assert literal(get(props, "enableRbacAuthorization")) is True
    assert "accessPolicies" not in properties(props)
    assert literal(get(props, "enableSoftDelete")) is True


def test_key_vault_secrets_are_written_only_from_secure_parameters():
    keyvault = load(MODULES / "keyvault.bicep")
    params = keyvault.params()
    for secret in keyvault.resources_of("Microsoft.KeyVault/vaults/secrets"):
        value = get(secret.body, "properties", "value")
        assert value.type == "identifier" and params[text(value)].secure, f"{secret.symbol} value is not a @secure() param"


def test_application_insights_accepts_only_entra_authenticated_ingestion():
    component = only(MODULES / "monitoring.bicep", "Microsoft.Insights/components")
    assert literal(get(component.body, "properties", "DisableLocalAuth")) is True
    auth = app_settings()["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
    assert text(auth) == "'Authorization=AAD;ClientId=${identityClientId}'"


ROLE_ID = re.compile(r"'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'")
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"


def test_role_assignments_are_deterministic_and_resource_scoped():
    rbac = load(MODULES / "rbac.bicep")
    assignments = rbac.resources_of("Microsoft.Authorization/roleAssignments")
    assert len(assignments) >= 6
    for assignment in assignments:
        name = text(get(assignment.body, "name"))
        assert name.startswith("guid(") and "PrincipalId" in name and "roles." in name, name
        assert get(assignment.body, "scope") is not None, f"{assignment.symbol} must be scoped to one resource"


def test_every_role_definition_id_is_commented_and_none_is_owner():
    lines = (MODULES / "rbac.bicep").read_text().splitlines()
    for index, line in enumerate(lines):
        if ROLE_ID.search(line):
            assert lines[index - 1].strip().startswith("//"), f"role id without a comment: {line.strip()}"
    all_ids = {m for path in INFRA.rglob("*.bicep") for m in ROLE_ID.findall(path.read_text())}
    assert OWNER not in all_ids and USER_ACCESS_ADMINISTRATOR not in all_ids
