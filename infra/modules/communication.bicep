// Azure Communication Services for SMS confirmations. Phone numbers cannot be bought from a template:
// acquire one in the portal (docs/DEPLOY.md) and set SMS_FROM_NUMBER. Frontdesk authenticates with its
// managed identity, so no ACS access key is ever copied into settings.

@description('Communication Services resource name.')
param name string

@description('Tags for every resource.')
param tags object

@description('Where ACS stores data at rest, e.g. United States, Europe, UK, Australia.')
param dataLocation string = 'United States'

resource acs 'Microsoft.Communication/communicationServices@2023-04-01' = {
  name: name
  // Communication Services is a global resource; dataLocation decides where its data lives.
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

output id string = acs.id
output name string = acs.name
output endpoint string = 'https://${acs.properties.hostName}'
