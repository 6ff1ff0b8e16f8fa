// Two-way SMS on Azure Communication Services: the ACS resource's Event Grid system topic and one webhook
// subscription delivering SMSReceived and SMSDeliveryReportReceived to Frontdesk (/api/sms/acs/events).
//
// Authentication (docs/SECURITY.md): the endpoint URL carries a random key held in Key Vault
// (SMS__EVENT_GRID_SECRET); Frontdesk refuses every delivery, including the validation handshake, without it.
// Event Grid stores query parameters as secrets and never shows them in the portal or API answers.
//
// The subscription can only be created once the code answers the validation handshake, i.e. after the first
// `azd deploy`: main.bicep creates it when ACS_SMS_EVENTS_ENABLED is true (docs/DEPLOY.md).

@description('Name of the ACS resource in this resource group (empty when communicationServicesId is given).')
param communicationServicesName string = ''

@description('Resource id of an ACS resource deployed elsewhere (takes precedence over communicationServicesName).')
param communicationServicesId string = ''

@description('Tags for every resource.')
param tags object

@description('Public https base URL of the function app (no trailing slash).')
param appBaseUrl string

@secure()
@description('The key in the endpoint URL (same value as SMS__EVENT_GRID_SECRET).')
param eventGridSecret string

@description('System topic name.')
param topicName string

var acsId = !empty(communicationServicesId) ? communicationServicesId : resourceId('Microsoft.Communication/communicationServices', communicationServicesName)

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: topicName
  // Communication Services is a global resource, and so is its system topic.
  location: 'global'
  tags: tags
  properties: {
    source: acsId
    topicType: 'Microsoft.Communication.CommunicationServices'
  }
}

resource smsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = {
  parent: topic
  name: 'frontdesk-sms'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: '${appBaseUrl}/api/sms/acs/events?key=${eventGridSecret}'
        // One event per request: each inbound text is acted on, and acknowledged, on its own.
        maxEventsPerBatch: 1
        preferredBatchSizeInKilobytes: 64
      }
    }
    eventDeliverySchema: 'EventGridSchema'
    filter: {
      includedEventTypes: [
        'Microsoft.Communication.SMSReceived'
        'Microsoft.Communication.SMSDeliveryReportReceived'
      ]
    }
    retryPolicy: {
      // Frontdesk refuses events older than 25 hours as replays, so the retry window stays inside that.
      maxDeliveryAttempts: 30
      eventTimeToLiveInMinutes: 1440
    }
  }
}

output topicId string = topic.id
output subscriptionName string = smsSubscription.name
