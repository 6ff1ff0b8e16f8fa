// The Durable Task Scheduler: a managed Durable Functions backend with far more orchestration throughput than
// the Azure Storage task hub and its own dashboard (docs/ARCHITECTURE.md#capacity-plan). Deployed only with
// durableBackend = 'DurableTaskScheduler'. Access is by identity only: the app's user-assigned identity holds
// Durable Task Data Contributor on this one scheduler; there is no key or connection secret.

@description('Scheduler name (3-64 letters, digits and hyphens).')
param name string

@description('Azure region (Durable Task Scheduler must be available there).')
param location string

@description('Tags for every resource.')
param tags object

@description('Task hub name: the app\'s DURABLE_TASK_HUB (host.json hubName), so the app finds its hub.')
param taskHubName string

@description('Consumption: billed per action, up to 500 actions/s. Dedicated: capacity units of 2,000 actions/s each.')
@allowed(['Consumption', 'Dedicated'])
param skuName string = 'Consumption'

@description('Capacity units (Dedicated only; 3 also gives high availability).')
@minValue(1)
@maxValue(3)
param capacity int = 1

@description('Principal id of the function app\'s user-assigned managed identity.')
param appPrincipalId string

var roles = {
  // Durable Task Data Contributor: all data operations on the scheduler's task hubs (start, query, purge...).
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // The app reaches the scheduler over the internet from Flex Consumption's changing addresses; access is
    // decided by Entra ID and the role below, and an empty list would deny everyone.
    ipAllowlist: [
      '0.0.0.0/0'
    ]
    sku: skuName == 'Dedicated' ? {
      name: 'Dedicated'
      capacity: capacity
    } : {
      name: 'Consumption'
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
}

resource appDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, appPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
