// Every Azure role Frontdesk's identity holds, each scoped to the single resource that needs it.
// Names are guid(scope, principal, role) so a redeployment finds the same assignment instead of failing
// with RoleAssignmentExists. Graph and Dataverse access are not Azure roles: see docs/DEPLOY.md.

@description('Principal id (object id) of the function app\'s user-assigned managed identity.')
param appPrincipalId string

@description('Object id of the person or pipeline running azd; may read Key Vault secrets so azd can keep the generated Graph clientState stable. Empty: no human access.')
param deployerPrincipalId string = ''

param storageAccountName string
param applicationInsightsName string
param keyVaultName string

@description('Communication Services resource name; empty when ACS is not deployed.')
param communicationServicesName string = ''

// Built-in role definition ids (the same in every tenant).
var roles = {
  // Storage Blob Data Owner: the Functions host (AzureWebJobsStorage: leases, keys, Durable large messages)
  // and the Flex Consumption deployment package container.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Storage Queue Data Contributor: Durable Functions control and work-item queues.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Storage Table Data Contributor: Durable history/instances tables and Frontdesk's tables (claims, bookings, calls).
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // Monitoring Metrics Publisher: Entra-authenticated telemetry ingestion (local auth is disabled).
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  // Key Vault Secrets User: read secret values (Key Vault references); cannot list, write or delete.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // Key Vault Secrets Officer: read and write secret values (the deployer's postdeploy hook writes the widget key).
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Contributor: ACS has no narrower built-in role that authorizes sending SMS with Entra ID,
  // so it is granted on the one Communication Services resource only.
  contributor: 'b24988ac-6180-42a0-ab88-20f7382dd24c'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource acs 'Microsoft.Communication/communicationServices@2023-04-01' existing = if (!empty(communicationServicesName)) {
  name: communicationServicesName
}

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource tableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, appPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, appPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, appPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource smsSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(communicationServicesName)) {
  name: guid(acs.id, appPrincipalId, roles.contributor)
  scope: acs
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.contributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Lets azd's $(secretOrRandomPassword ...) read the existing Graph clientState on re-provision, so the
// secret (and every live Graph subscription that echoes it) survives `azd provision`, and lets the
// postdeploy hook (infra/scripts/postdeploy.sh) store the widget's function key.
resource deployerSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(vault.id, deployerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
  }
}
