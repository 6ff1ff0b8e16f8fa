"""The workbook charts what Frontdesk actually writes, and azd finds everything it needs."""

import json
import re

import yaml

from bicep_tree import FUNCTION_APP, INFRA, ROOT, get, load
from shared.logs import CORRELATION_FIELDS
from shared.telemetry import BOOKING_OUTCOME, CALL_ENDED

WORKBOOK = json.loads((INFRA / "modules" / "workbook.json").read_text())
QUERIES = {item["name"]: item["content"] for item in WORKBOOK["items"] if item["type"] == 3}
PARAMETERS = {p["name"] for item in WORKBOOK["items"] if item["type"] == 9 for p in item["content"]["parameters"]}


def test_workbook_is_a_notebook_over_application_insights():
    assert WORKBOOK["version"] == "Notebook/1.0"
    assert WORKBOOK["fallbackResourceIds"] == ["__APPLICATION_INSIGHTS_ID__"]
    monitoring = (INFRA / "modules" / "monitoring.bicep").read_text()
    assert "replace(loadTextContent('workbook.json'), '__APPLICATION_INSIGHTS_ID__', appInsights.id)" in monitoring
    for content in QUERIES.values():
        assert content["version"] == "KqlItem/1.0"
        assert content["resourceType"] == "microsoft.insights/components"
        assert content["timeContextFromParameter"] == "TimeRange"


def test_workbook_shows_calls_bookings_by_outcome_failures_and_latency():
    assert {"calls", "bookings-by-outcome", "failures", "latency"} <= set(QUERIES)
    assert "/api/voice/incoming" in QUERIES["calls"]["query"]
    assert f'message == "{BOOKING_OUTCOME}"' in QUERIES["bookings-by-outcome"]["query"]
    assert "customDimensions.outcome" in QUERIES["bookings-by-outcome"]["query"]
    assert f'message == "{CALL_ENDED}"' in QUERIES["calls-by-ending"]["query"]
    assert "success == false" in QUERIES["failures"]["query"]
    assert "percentile(duration, 95)" in QUERIES["latency"]["query"]


def test_one_booking_or_call_can_be_traced_by_its_ids():
    query = QUERIES["trace-one"]["query"]
    for field in ("booking_id", "call_id", "instance_id"):
        assert field in CORRELATION_FIELDS
        assert f"customDimensions.{field}" in query


def test_queries_only_use_declared_parameters_and_are_balanced():
    for name, content in QUERIES.items():
        query = content["query"]
        assert set(re.findall(r"\{(\w+)\}", query)) <= PARAMETERS, name
        assert query.count("(") == query.count(")"), name
        assert query.count('"') % 2 == 0, name


def test_azure_yaml_deploys_this_folder_as_the_python_function_app():
    config = yaml.safe_load((ROOT / "azure.yaml").read_text())
    assert config["infra"] == {"provider": "bicep", "path": "infra", "module": "main"}
    assert config["services"] == {"api": {"project": ".", "language": "python", "host": "function"}}
    site = load(FUNCTION_APP).resources_of("Microsoft.Web/sites")[0]
    assert "'azd-service-name': 'api'" in get(site.body, "tags").text.decode()


def test_outputs_are_what_azd_and_the_deploy_doc_expect():
    outputs = set(load(INFRA / "main.bicep").outputs())
    assert {"AZURE_LOCATION", "AZURE_TENANT_ID", "AZURE_RESOURCE_GROUP", "AZURE_FUNCTION_APP_NAME",
            "AZURE_FUNCTION_URI", "SERVICE_API_NAME", "SERVICE_API_ENDPOINTS", "AZURE_KEY_VAULT_NAME",
            "AZURE_MANAGED_IDENTITY_CLIENT_ID", "AZURE_MANAGED_IDENTITY_PRINCIPAL_ID",
            "TWILIO_VOICE_WEBHOOK_URL", "TWILIO_STATUS_CALLBACK_URL"} <= outputs
    deploy = (ROOT / "docs" / "DEPLOY.md").read_text()
    for name in ("AZURE_MANAGED_IDENTITY_CLIENT_ID", "TWILIO_VOICE_WEBHOOK_URL", "TWILIO_STATUS_CALLBACK_URL"):
        assert name in deploy


def test_the_deployment_package_leaves_infra_tests_and_dev_tools_behind():
    ignored = {line.strip().rstrip("/") for line in (ROOT / ".funcignore").read_text().splitlines()}
    assert {"infra", "tests", "dev", "docs", "local.settings.json", "azure.yaml"} <= ignored


def test_exchange_rbac_script_grants_only_the_two_scoped_application_roles():
    script = (INFRA / "scripts" / "Grant-ExchangeMailboxAccess.ps1").read_text()
    assert "New-ManagementScope" in script and "New-ManagementRoleAssignment" in script
    assert "New-ServicePrincipal" in script and "Test-ServicePrincipalAuthorization" in script
    roles = set(re.findall(r"'(Application [A-Za-z.]+)'", script))
    assert roles == {"Application Calendars.ReadWrite", "Application Mail.Send"}
    assert "-CustomResourceScope" in script


def test_host_keeps_durable_distributed_tracing_on_and_queues_responsive():
    durable = json.loads((ROOT / "host.json").read_text())["extensions"]["durableTask"]
    assert durable["tracing"] == {"distributedTracingEnabled": True, "version": "V2"}
    assert durable["storageProvider"]["type"] == "AzureStorage"
    assert durable["hubName"] == "%DURABLE_TASK_HUB%"
