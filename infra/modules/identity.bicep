// The one user-assigned managed identity Frontdesk runs as: storage, Key Vault, Application Insights,
// Graph, Dataverse and ACS all see this identity, so access is granted (and revoked) in one place.

@description('Name of the user-assigned managed identity.')
param name string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
