// Log Analytics + Application Insights with Entra-only ingestion, and the Frontdesk workbook.
// Local (instrumentation-key) authentication is disabled: only an identity holding Monitoring Metrics
// Publisher on this component can write telemetry, so the connection string alone grants nothing.

@description('Log Analytics workspace name.')
param logAnalyticsName string

@description('Application Insights component name.')
param applicationInsightsName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Days Log Analytics keeps telemetry (Frontdesk logs are redacted; see docs/SECURITY.md).')
@minValue(30)
@maxValue(730)
param retentionInDays int = 30

@description('Display name of the Frontdesk workbook.')
param workbookDisplayName string = 'Frontdesk operations'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // Readers need permission on the workspace or the resource; no shared workspace keys are used.
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
    RetentionInDays: retentionInDays
  }
}

// A workbook's resource name must be a GUID; deriving it from the component keeps redeployments idempotent.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'frontdesk-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: workbookDisplayName
    category: 'workbook'
    version: 'Notebook/1.0'
    sourceId: appInsights.id
    // The workbook's queries run against this component; the placeholder keeps workbook.json valid JSON.
    serializedData: replace(loadTextContent('workbook.json'), '__APPLICATION_INSIGHTS_ID__', appInsights.id)
  }
}

output applicationInsightsId string = appInsights.id
output applicationInsightsName string = appInsights.name
// Not a secret: with local auth disabled it only names the component and its ingestion endpoint.
output connectionString string = appInsights.properties.ConnectionString
output workspaceId string = workspace.id
output workbookId string = workbook.id
