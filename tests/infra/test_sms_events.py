"""The Bicep wires two-way SMS on ACS: an Event Grid system topic on the ACS resource and one webhook subscription
to /api/sms/acs/events carrying the Key Vault-held key the app checks, for exactly the two SMS event types."""

import json
import re

from bicep_tree import INFRA, app_settings, get, literal, load, text

MODULE = INFRA / "modules" / "smsevents.bicep"


def _only(provider: str):
    [resource] = load(MODULE).resources_of(provider)
    return resource


def test_the_system_topic_is_on_the_communication_services_resource():
    topic = _only("Microsoft.EventGrid/systemTopics")
    props = get(topic.body, "properties")
    assert literal(get(props, "topicType")) == "Microsoft.Communication.CommunicationServices"
    assert text(get(props, "source")) == "acsId"
    assert literal(get(topic.body, "location")) == "global"
    # An ACS resource deployed elsewhere is taken by id.
    assert "communicationServicesId" in load(MODULE).params()


def test_the_subscription_posts_both_sms_events_to_the_keyed_endpoint_in_event_grid_schema():
    subscription = _only("Microsoft.EventGrid/systemTopics/eventSubscriptions")
    props = get(subscription.body, "properties")
    destination = get(props, "destination")
    assert literal(get(destination, "endpointType")) == "WebHook"
    endpoint = text(get(destination, "properties", "endpointUrl"))
    assert endpoint == "'${appBaseUrl}/api/sms/acs/events?key=${eventGridSecret}'"
    assert load(MODULE).params()["eventGridSecret"].secure
    types = [literal(node) for node in get(props, "filter", "includedEventTypes").named_children]
    assert set(types) == {"Microsoft.Communication.SMSReceived", "Microsoft.Communication.SMSDeliveryReportReceived"}
    assert literal(get(props, "eventDeliverySchema")) == "EventGridSchema"
    # Events older than the app's replay window (25 h) are refused, so retries must end before it.
    assert literal(get(props, "retryPolicy", "eventTimeToLiveInMinutes")) <= 24 * 60


def test_the_route_and_key_match_what_the_app_serves_and_checks():
    from bicep_tree import ROOT
    from triggers.sms_inbound import MAX_EVENT_AGE
    source = (ROOT / "triggers" / "sms_inbound.py").read_text()
    routes = set(re.findall(r'@bp\.route\(route="([^"]+)"', source))
    assert routes == {"sms/acs/events", "sms/twilio/incoming", "sms/twilio/status"}
    assert 'req.params.get("key")' in source  # the query parameter the subscription URL carries
    assert MAX_EVENT_AGE.total_seconds() > 24 * 3600
    setting = text(app_settings()["SMS__EVENT_GRID_SECRET"])
    assert "@Microsoft.KeyVault(" in setting and "secretNames.smsEventGridSecret" in setting


def test_main_creates_the_subscription_only_when_asked_and_with_the_same_secret():
    main = load(INFRA / "main.bicep")
    assert main.modules()["smsEvents"] == "modules/smsevents.bicep"
    params = main.params()
    assert params["smsEventGridSecret"].secure
    assert literal(params["acsSmsEventsEnabled"].default) is False  # the handshake needs the code deployed
    source = (INFRA / "main.bicep").read_text()
    block = source[source.index("module smsEvents"):]
    block = block[:block.index("\n}\n")]
    assert "eventGridSecret: smsEventGridSecret" in block and "acsSmsEventsEnabled" in block
    keyvault = load(INFRA / "modules" / "keyvault.bicep")
    secrets = [r for r in keyvault.resources_of("Microsoft.KeyVault/vaults/secrets")
               if text(get(r.body, "name")) == "secretNames.smsEventGridSecret"]
    assert len(secrets) == 1
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    assert re.fullmatch(r"\$\(secretOrRandomPassword \$\{AZURE_KEY_VAULT_NAME\} sms-event-grid-secret\)",
                        parameters["smsEventGridSecret"]["value"])
    assert parameters["acsSmsEventsEnabled"]["value"] == "${ACS_SMS_EVENTS_ENABLED=false}"
