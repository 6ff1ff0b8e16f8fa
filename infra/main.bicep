// Frontdesk in one resource group: `azd up` provisions this and deploys the function app (service `api`).
// Identity first and least privilege: one user-assigned managed identity, no shared keys, Key Vault (RBAC)
// references for every secret, Entra-only telemetry. docs/DEPLOY.md walks through the steps outside Azure
// (Graph permissions scoped with Exchange RBAC for Applications, the Dataverse application user, Twilio).
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of every resource (Flex Consumption must be available there).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group name; empty: rg-<environmentName>.')
param resourceGroupName string = ''

@description('Object id of the person or pipeline running azd (AZURE_PRINCIPAL_ID); may read Key Vault secrets so re-provisioning keeps the generated Graph clientState. Empty: no human access to secrets.')
param principalId string = ''

// ---- Secrets: passed once into Key Vault, never into an app setting ----

@secure()
@description('Graph change-notification clientState. azd generates it on first provision and reads it back from Key Vault afterwards, so it stays stable.')
param graphClientStateSecret string

@secure()
@description('HMAC key signing the manage links in customers\' texts. azd generates it on first provision and reads it back from Key Vault afterwards, so links already sent keep working.')
param manageLinkSecret string

@secure()
@description('Key in the Event Grid subscription URL for ACS SMS events (SMS__EVENT_GRID_SECRET). azd generates it on first provision and reads it back from Key Vault afterwards.')
param smsEventGridSecret string

@secure()
@description('Twilio auth token (validates X-Twilio-Signature, authenticates Twilio REST). Required: azd prompts when TWILIO_AUTH_TOKEN is not set.')
param twilioAuthToken string

@secure()
@description('OpenAI API key, only for OPENAI__KIND=openai. Empty: the vault keeps whatever it already holds.')
param openAiApiKey string = ''

@secure()
@description('App registration client secret, only for identityMode=client_secret. Empty: the vault keeps whatever it already holds.')
param appRegistrationClientSecret string = ''

@secure()
@description('HMAC-SHA256 key signing outbound webhook deliveries (at least 16 characters), only with webhookUrls. Empty: the vault keeps whatever it already holds.')
param webhooksSecret string = ''

// ---- Frontdesk settings ----

@description('Business configuration file inside the deployed package (hosts, mailboxes, event types).')
param businessConfigPath string = 'config/business.example.yaml'

@description('Public https base URL when the app sits behind a custom domain or Front Door; empty: the app\'s own hostname.')
param publicBaseUrl string = ''

@description('Durable Functions task hub name.')
param durableTaskHub string = 'frontdesk'

@allowed(['DEBUG', 'INFO', 'WARNING', 'ERROR'])
param logLevel string = 'INFO'

@description('Prefix of Frontdesk\'s table names.')
param tablePrefix string = 'frontdesk'

@description('How Frontdesk authenticates to Graph and Dataverse: the managed identity (recommended) or an app registration with a client secret in Key Vault.')
@allowed(['managed_identity', 'client_secret'])
param identityMode string = 'managed_identity'

@description('Client id of the app registration (identityMode=client_secret only).')
param appRegistrationClientId string = ''

@description('Dataverse environment URL, e.g. https://contoso.crm.dynamics.com; empty disables Dynamics 365.')
param dataverseUrl string = ''

@allowed(['acs', 'twilio', 'none'])
param smsProvider string = 'acs'

@description('Sender number for SMS confirmations, E.164 (an ACS number, or the Twilio number).')
param smsFromNumber string = ''

@description('Region (ISO 3166 alpha-2) assumed for phone numbers given without a country code.')
param smsDefaultRegion string = 'US'

@description('Deploy an Azure Communication Services resource for SMS.')
param deployCommunicationServices bool = true

@description('Where ACS keeps data at rest.')
param communicationDataLocation string = 'United States'

@description('Create the Event Grid subscription for inbound texts and delivery reports (two-way SMS on ACS). Needs the code deployed (its validation handshake): true from the second provision on (docs/DEPLOY.md).')
param acsSmsEventsEnabled bool = false

@description('Resource id of an ACS resource not deployed by this template (deployCommunicationServices false), for the SMS event subscription.')
param communicationServicesId string = ''

@description('Twilio account SID (AC...), not a secret.')
param twilioAccountSid string = ''

param twilioVoice string = 'Polly.Joanna'

@description('Number callers are transferred to when they ask for a person during office hours (E.164); empty takes a message.')
param voiceTransferNumber string = ''

@description('On-call number for emergencies (E.164); empty offers the earliest emergency slot instead.')
param voiceOnCallNumber string = ''

@description('When the office answers transfers, e.g. "mon-fri 08:00-17:00" in the business time zone.')
param voiceOfficeHours string = 'mon-fri 08:00-17:00'

@allowed(['openai', 'azure', 'none'])
param openAiKind string = 'none'

@description('Azure OpenAI resource endpoint (openAiKind=azure) or OpenAI-compatible base URL.')
param openAiEndpoint string = ''

param openAiModel string = 'gpt-4o-mini'

param openAiApiVersion string = '2024-10-21'

@description('Comma-separated https URLs that receive signed booking events (created, rescheduled, cancelled); empty disables webhooks.')
param webhookUrls string = ''

@description('Comma-separated origins allowed to call the API from browsers (sites embedding the widget, the Dynamics 365 org URL).')
param corsAllowedOrigins string = ''

// ---- Entra ID sign-in for the booking routes (docs/SECURITY.md, docs/DYNAMICS.md) ----

@description('Turn on App Service Authentication with Entra ID: /api/entra/bookings... accept signed-in users holding the app roles Bookings.Write / Bookings.Cancel (function keys keep working on /api/bookings...). Needs entraApiClientId.')
param entraAuthEnabled bool = false

@description('Application (client) id of Frontdesk\'s API app registration (exposes the app roles; requestedAccessTokenVersion 2). Only with entraAuthEnabled.')
param entraApiClientId string = ''

// ---- Capacity ----

@minValue(1)
param alwaysReadyHttpInstances int = 1

@minValue(0)
param alwaysReadyDurableInstances int = 1

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

// ---- Durable backend (docs/ARCHITECTURE.md#capacity-plan). Nothing in the app changes between the two. ----

@description('Where Durable Functions keeps orchestrations: the storage account\'s task hub (default), or a Durable Task Scheduler deployed here and reached with the managed identity.')
@allowed(['AzureStorage', 'DurableTaskScheduler'])
param durableBackend string = 'AzureStorage'

@description('Durable Task Scheduler SKU (durableBackend=DurableTaskScheduler): Consumption (per action, up to 500 actions/s) or Dedicated (capacity units of 2,000 actions/s).')
@allowed(['Consumption', 'Dedicated'])
param durableTaskSchedulerSku string = 'Consumption'

@description('Capacity units of a Dedicated scheduler (3 adds high availability).')
@minValue(1)
@maxValue(3)
param durableTaskSchedulerCapacity int = 1

@description('Key Vault purge protection (recommended; turn off only for throwaway environments, it cannot be undone).')
param enablePurgeProtection bool = true

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName, application: 'frontdesk' }
var functionAppName = 'func-frontdesk-${resourceToken}'
var deploymentContainerName = 'app-package-${take(resourceToken, 8)}'
// One place names the secrets: the vault writes them and the app settings reference them.
var secretNames = {
  graphClientState: 'graph-client-state'
  twilioAuthToken: 'twilio-auth-token'
  openAiApiKey: 'openai-api-key'
  identityClientSecret: 'identity-client-secret'
  webhooksSecret: 'webhooks-secret'
  widgetFunctionKey: 'widget-function-key'
  manageLinkSecret: 'manage-link-secret'
  smsEventGridSecret: 'sms-event-grid-secret'
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-frontdesk-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    retentionInDays: logRetentionInDays
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: 'kv-${resourceToken}'
    location: location
    tags: tags
    enablePurgeProtection: enablePurgeProtection
    secretNames: secretNames
    graphClientState: graphClientStateSecret
    twilioAuthToken: twilioAuthToken
    openAiApiKey: openAiApiKey
    identityClientSecret: appRegistrationClientSecret
    webhooksSecret: webhooksSecret
    manageLinkSecret: manageLinkSecret
    smsEventGridSecret: smsEventGridSecret
  }
}

module communication 'modules/communication.bicep' = if (deployCommunicationServices) {
  name: 'communication'
  scope: rg
  params: {
    name: 'acs-${resourceToken}'
    tags: tags
    dataLocation: communicationDataLocation
  }
}

module durableTask 'modules/durabletask.bicep' = if (durableBackend == 'DurableTaskScheduler') {
  name: 'durabletask'
  scope: rg
  params: {
    name: 'dts-${resourceToken}'
    location: location
    tags: tags
    taskHubName: durableTaskHub
    skuName: durableTaskSchedulerSku
    capacity: durableTaskSchedulerCapacity
    appPrincipalId: identity.outputs.principalId
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    appPrincipalId: identity.outputs.principalId
    deployerPrincipalId: principalId
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    communicationServicesName: deployCommunicationServices ? communication.outputs.name : ''
  }
}

module api 'modules/functionapp.bicep' = {
  name: 'api'
  scope: rg
  // Roles first, so the app's first start can already read storage, Key Vault and send telemetry.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultUri: keyVault.outputs.uri
    secretNames: secretNames
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    alwaysReadyDurableInstances: alwaysReadyDurableInstances
    maximumInstanceCount: maximumInstanceCount
    corsAllowedOrigins: empty(corsAllowedOrigins) ? [] : split(replace(corsAllowedOrigins, ' ', ''), ',')
    businessConfigPath: businessConfigPath
    publicBaseUrl: publicBaseUrl
    durableTaskHub: durableTaskHub
    logLevel: logLevel
    tablePrefix: tablePrefix
    identityMode: identityMode
    appRegistrationClientId: appRegistrationClientId
    dataverseUrl: dataverseUrl
    smsProvider: smsProvider
    smsFromNumber: smsFromNumber
    smsDefaultRegion: smsDefaultRegion
    acsEndpoint: deployCommunicationServices ? communication.outputs.endpoint : ''
    twilioAccountSid: twilioAccountSid
    twilioVoice: twilioVoice
    voiceTransferNumber: voiceTransferNumber
    voiceOnCallNumber: voiceOnCallNumber
    voiceOfficeHours: voiceOfficeHours
    openAiKind: openAiKind
    openAiEndpoint: openAiEndpoint
    openAiModel: openAiModel
    openAiApiVersion: openAiApiVersion
    webhookUrls: webhookUrls
    entraAuthEnabled: entraAuthEnabled
    entraApiClientId: entraApiClientId
    // Referencing the module's output also makes the app wait for the scheduler and its role assignment.
    durableTaskSchedulerEndpoint: durableBackend == 'DurableTaskScheduler' ? durableTask.outputs.endpoint : ''
  }
}

// Two-way SMS: ACS's inbound texts and delivery reports reach the app through Event Grid (a key in the URL).
// A system topic lives with its source: in this resource group, or in the external ACS resource's.
var acsSubscriptionId = empty(communicationServicesId) ? subscription().subscriptionId : split(communicationServicesId, '/')[2]
var acsResourceGroupName = empty(communicationServicesId) ? rg.name : split(communicationServicesId, '/')[4]

module smsEvents 'modules/smsevents.bicep' = if (acsSmsEventsEnabled && (deployCommunicationServices || !empty(communicationServicesId))) {
  name: 'smsevents'
  scope: resourceGroup(acsSubscriptionId, acsResourceGroupName)
  params: {
    topicName: 'evgt-acs-${resourceToken}'
    tags: tags
    communicationServicesName: deployCommunicationServices ? communication.outputs.name : ''
    communicationServicesId: communicationServicesId
    appBaseUrl: !empty(publicBaseUrl) ? publicBaseUrl : api.outputs.uri
    eventGridSecret: smsEventGridSecret
  }
}

// ---- Outputs (azd writes them into .azure/<env>/.env) ----
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_URI string = api.outputs.uri
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output SERVICE_API_ENDPOINTS array = [api.outputs.uri]
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName
output AZURE_WORKBOOK_ID string = monitoring.outputs.workbookId
output DURABLE_TASK_SCHEDULER_ENDPOINT string = durableBackend == 'DurableTaskScheduler' ? durableTask.outputs.endpoint : ''
output AZURE_COMMUNICATION_SERVICES_ENDPOINT string = deployCommunicationServices ? communication.outputs.endpoint : ''
// Paste these into the Twilio number's Voice configuration (docs/DEPLOY.md).
output TWILIO_VOICE_WEBHOOK_URL string = '${api.outputs.uri}/api/voice/incoming'
output TWILIO_STATUS_CALLBACK_URL string = '${api.outputs.uri}/api/voice/status'
