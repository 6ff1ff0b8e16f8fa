// Key Vault (Azure RBAC authorization) holding every secret Frontdesk uses. The function app reads them
// through Key Vault references resolved with its managed identity; no secret is ever an app setting value.
// A secret is written only when a value is passed, so secrets set directly in the vault (rotation, or IT
// that keeps secrets out of deployments) are never overwritten by an empty parameter.

@description('Key Vault name (3-24 characters).')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Purge protection keeps deleted secrets recoverable for 90 days; it cannot be turned off again.')
param enablePurgeProtection bool = true

@description('Names of the secrets in the vault, by role.')
param secretNames object

@secure()
@description('Graph change-notification clientState secret.')
param graphClientState string

@secure()
@description('Twilio auth token.')
param twilioAuthToken string

@secure()
@description('OpenAI API key (only with OPENAI__KIND=openai).')
param openAiApiKey string

@secure()
@description('App registration client secret (only with IDENTITY__MODE=client_secret).')
param identityClientSecret string

@secure()
@description('Webhook signing key (only with WEBHOOKS__URLS).')
param webhooksSecret string

@secure()
@description('Manage-link signing key (MANAGE__LINK_SECRET).')
param manageLinkSecret string

@secure()
@description('Key in the Event Grid subscription URL for ACS SMS events (SMS__EVENT_GRID_SECRET).')
param smsEventGridSecret string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    // Azure RBAC instead of access policies: access is a role assignment, visible and auditable like any other.
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // ARM only accepts true or an absent property here, never false.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource graphClientStateSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(graphClientState)) {
  parent: vault
  name: secretNames.graphClientState
  properties: {
    value: graphClientState
    contentType: 'text/plain'
  }
}

resource twilioAuthTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(twilioAuthToken)) {
  parent: vault
  name: secretNames.twilioAuthToken
  properties: {
    value: twilioAuthToken
    contentType: 'text/plain'
  }
}

resource openAiApiKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(openAiApiKey)) {
  parent: vault
  name: secretNames.openAiApiKey
  properties: {
    value: openAiApiKey
    contentType: 'text/plain'
  }
}

resource identityClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(identityClientSecret)) {
  parent: vault
  name: secretNames.identityClientSecret
  properties: {
    value: identityClientSecret
    contentType: 'text/plain'
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri

resource webhooksSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhooksSecret)) {
  parent: vault
  name: secretNames.webhooksSecret
  properties: {
    value: webhooksSecret
    contentType: 'text/plain'
  }
}

resource manageLinkSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(manageLinkSecret)) {
  parent: vault
  name: secretNames.manageLinkSecret
  properties: {
    value: manageLinkSecret
    contentType: 'text/plain'
  }
}

resource smsEventGridSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(smsEventGridSecret)) {
  parent: vault
  name: secretNames.smsEventGridSecret
  properties: {
    value: smsEventGridSecret
    contentType: 'text/plain'
  }
}
