// The Frontdesk function app on the Flex Consumption plan (FC1, Linux, Python 3.11).
// Identity first: the user-assigned managed identity reaches storage, Key Vault and Application Insights,
// so the app settings below hold no key, password or connection string. Every setting Frontdesk reads is
// set here explicitly (tests/infra/test_settings_agreement.py fails when the code and this list drift).

@description('Function app name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Resource id of the user-assigned managed identity the app runs as.')
param identityId string

@description('Client id of that identity.')
param identityClientId string

@description('Storage account used by the host, Durable Functions and Frontdesk tables.')
param storageAccountName string

@description('Table service endpoint of that account.')
param tableEndpoint string

@description('Blob container URL that holds the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string (not secret: local auth is disabled).')
param applicationInsightsConnectionString string

@description('Key Vault URI, e.g. https://kv-x.vault.azure.net/ (trailing slash).')
param keyVaultUri string

@description('Names of the secrets in the vault, by role.')
param secretNames object

@description('Python version of the Flex Consumption runtime.')
@allowed(['3.11'])
param pythonVersion string = '3.11'

@description('Always-ready instances for the HTTP functions: Twilio webhooks and Graph validation never meet a cold start.')
@minValue(1)
param alwaysReadyHttpInstances int = 1

@description('Always-ready instances for Durable orchestrations and activities (the hold step is on the caller\'s path). 0 saves cost.')
@minValue(0)
param alwaysReadyDurableInstances int = 1

@description('Upper bound on instances, which also bounds Graph, Dataverse and storage load.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([2048, 4096])
param instanceMemoryMB int = 2048

@description('Concurrent HTTP requests per instance; Frontdesk\'s handlers are async.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

@description('Origins allowed to call the API from a browser (sites embedding the widget, the Dynamics 365 org URL).')
param corsAllowedOrigins array = []

// ---- Frontdesk settings (see docs/SETTINGS.md) ----
param businessConfigPath string
param publicBaseUrl string
param durableTaskHub string
@allowed(['DEBUG', 'INFO', 'WARNING', 'ERROR'])
param logLevel string
param tablePrefix string
@allowed(['managed_identity', 'client_secret'])
param identityMode string
param appRegistrationClientId string
param dataverseUrl string
@allowed(['acs', 'twilio', 'none'])
param smsProvider string
param smsFromNumber string
param smsDefaultRegion string
param acsEndpoint string
param twilioAccountSid string
param twilioVoice string
@allowed(['openai', 'azure', 'none'])
param openAiKind string
param openAiEndpoint string
param openAiModel string
param openAiApiVersion string
@description('The receptionist transfers callers asking for a person here during office hours (E.164); empty: message.')
param voiceTransferNumber string = ''
@description('On-call technician for emergencies (E.164); empty: the earliest emergency time or an urgent message.')
param voiceOnCallNumber string = ''
@description('When someone can take a transferred call, on the business clock (docs/SETTINGS.md).')
param voiceOfficeHours string = 'mon-fri 08:00-17:00'
param webhookUrls string

// ---- Entra ID sign-in for the booking routes (App Service Authentication; docs/SECURITY.md) ----
@description('Turn on App Service Authentication with Entra ID: /api/entra/bookings... then accept signed-in users with the app roles Bookings.Write / Bookings.Cancel. Off: only function keys.')
param entraAuthEnabled bool = false
@description('Application (client) id of Frontdesk\'s API app registration, whose access tokens are accepted (entraAuthEnabled).')
param entraApiClientId string = ''

// ---- Durable backend (docs/ARCHITECTURE.md#capacity-plan) ----
@description('Durable Task Scheduler endpoint (https://...durabletask.io); empty: Durable Functions keeps its task hub in Azure Storage (host.json).')
param durableTaskSchedulerEndpoint string = ''

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // azd finds the deployment target of service `api` by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    // Key Vault references resolve with the same identity (there is no system-assigned one).
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: [
          {
            name: 'http'
            instanceCount: alwaysReadyHttpInstances
          }
          {
            name: 'durable'
            instanceCount: alwaysReadyDurableInstances
          }
        ]
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      cors: {
        allowedOrigins: corsAllowedOrigins
        supportCredentials: false
      }
    }
  }
}

// No FTP and no basic-auth deployments: azd deploys with an Entra ID token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2023-12-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// With the Durable Task Scheduler, the host's storage provider is switched by app settings that override
// host.json (AzureFunctionsJobHost__<path>); the app's code and host.json stay as they are. The scheduler is
// reached with the user-assigned identity (it holds Durable Task Data Contributor on the scheduler).
var durableTaskSchedulerSettings = empty(durableTaskSchedulerEndpoint) ? {} : {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union({
    // ---- Functions host (identity-based storage, Entra-authenticated telemetry) ----
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'

    // ---- Frontdesk ----
    BUSINESS_CONFIG_PATH: businessConfigPath
    PUBLIC_BASE_URL: !empty(publicBaseUrl) ? publicBaseUrl : 'https://${site.properties.defaultHostName}'
    DURABLE_TASK_HUB: durableTaskHub
    LOG_LEVEL: logLevel

    // Local only (Azurite): in Azure tables are reached with the managed identity.
    STORAGE__CONNECTION_STRING: ''
    STORAGE__TABLE_ENDPOINT: tableEndpoint
    STORAGE__TABLE_PREFIX: tablePrefix

    IDENTITY__MODE: identityMode
    IDENTITY__TENANT_ID: tenant().tenantId
    IDENTITY__CLIENT_ID: identityMode == 'managed_identity' ? identityClientId : appRegistrationClientId
    IDENTITY__CLIENT_SECRET: identityMode == 'client_secret' ? '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.identityClientSecret})' : ''
    // Certificate files are not supported by this template (use the managed identity).
    IDENTITY__CERTIFICATE_PATH: ''
    // Local only: a static bearer token for emulators (settings refuse it for real endpoints).
    IDENTITY__STATIC_TOKEN: ''

    GRAPH__BASE_URL: 'https://graph.microsoft.com/v1.0'
    GRAPH__CLIENT_STATE_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.graphClientState})'
    GRAPH__MAX_RETRY_AFTER_SECONDS: '30'
    GRAPH__TIMEOUT_SECONDS: '20'

    DATAVERSE__URL: dataverseUrl
    DATAVERSE__TIMEOUT_SECONDS: '20'
    DATAVERSE__MAX_RETRY_AFTER_SECONDS: '30'
    // Server-side synchronization filters this category out, so Outlook never shows the meeting twice.
    DATAVERSE__APPOINTMENT_CATEGORY: 'Frontdesk'

    SMS__PROVIDER: smsProvider
    SMS__FROM_NUMBER: smsFromNumber
    SMS__DEFAULT_REGION: smsDefaultRegion
    // The key Event Grid's subscription URL carries for ACS SMS events (modules/smsevents.bicep).
    SMS__EVENT_GRID_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.smsEventGridSecret})'
    SMS__CANCEL_CONFIRM_MINUTES: '15'
    ACS__ENDPOINT: acsEndpoint
    // Empty: ACS is called with the managed identity, so no access key exists in settings.
    ACS__ACCESS_KEY: ''

    TWILIO__ACCOUNT_SID: twilioAccountSid
    TWILIO__AUTH_TOKEN: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.twilioAuthToken})'
    // Local only: the Twilio emulator's URL; empty means api.twilio.com.
    TWILIO__API_BASE_URL: ''
    TWILIO__VOICE: twilioVoice

    OPENAI__KIND: openAiKind
    OPENAI__ENDPOINT: openAiEndpoint
    // Azure OpenAI uses the managed identity; only api.openai.com needs a key.
    OPENAI__API_KEY: openAiKind == 'openai' ? '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.openAiApiKey})' : ''
    OPENAI__MODEL: openAiModel
    OPENAI__API_VERSION: openAiApiVersion
    OPENAI__TIMEOUT_SECONDS: '2.5'
    AVAILABILITY__BUSY_CACHE_SECONDS: '10.0'

    // The phone receptionist: a held time lives 5 minutes; the model gets 2 s per turn before the local parser answers.
    VOICE__TRANSFER_NUMBER: voiceTransferNumber
    VOICE__ON_CALL_NUMBER: voiceOnCallNumber
    VOICE__OFFICE_HOURS: voiceOfficeHours
    VOICE__HOLD_SECONDS: '300'
    VOICE__MODEL_BUDGET_SECONDS: '2.0'
    VOICE__EMERGENCY_WITHIN_HOURS: '4.0'

    // Outbound webhooks (HMAC-signed booking events); the signing key lives in the vault.
    WEBHOOKS__URLS: webhookUrls
    WEBHOOKS__SECRET: empty(webhookUrls) ? '' : '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.webhooksSecret})'
    WEBHOOKS__TIMEOUT_SECONDS: '10.0'

    // The booking widget: the sites allowed to frame it are the CORS origins above (one list, one parameter).
    WIDGET__ALLOWED_ORIGINS: join(corsAllowedOrigins, ',')
    // A low-privilege function key named 'widget' on the booking routes; browsers receive it with the widget
    // page, so it is not a secret in the usual sense, but it lives in the vault like every key (docs/WIDGET.md).
    WIDGET__FUNCTION_KEY: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.widgetFunctionKey})'

    // The key signing manage links (/api/manage/{token}) in customers' texts (docs/SECURITY.md).
    MANAGE__LINK_SECRET: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secretNames.manageLinkSecret})'

    // Trust App Service Authentication's principal headers only when the platform is really in front.
    AUTH__EASY_AUTH_ENABLED: entraAuthEnabled ? 'true' : 'false'

    // Retention (docs/SECURITY.md): how long each record is kept; the hourly purge's budget per run.
    RETENTION__CALL_DAYS: '30'
    RETENTION__CLAIM_DAYS: '1'
    RETENTION__BOOKING_DAYS: '365'
    RETENTION__IDEMPOTENCY_DAYS: '30'
    RETENTION__SUBSCRIPTION_DAYS: '30'
    RETENTION__SMS_INTENT_DAYS: '2'
    RETENTION__SMS_INBOUND_DAYS: '2'
    RETENTION__RATELIMIT_DAYS: '1'
    RETENTION__DURABLE_DAYS: '455'
    RETENTION__MAX_ROWS_PER_RUN: '5000'
    RETENTION__MAX_SECONDS_PER_RUN: '120'
  }, durableTaskSchedulerSettings)
}

// App Service Authentication ("EasyAuth") with Entra ID, the Flex Consumption way: the platform validates a
// bearer token before the request reaches the Functions host and hands the caller to the app in
// X-MS-CLIENT-PRINCIPAL headers (stripped from what clients send). Unauthenticated requests still pass
// (AllowAnonymous): the widget, anonymous reads and function-key callers keep working, and the app decides
// per route (/api/entra/... need a signed-in user with the right app role; nothing else reads the headers).
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (entraAuthEnabled) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
      // Webhooks whose callers (Twilio, Microsoft Graph) never hold an Entra token: the platform leaves them
      // alone. Never list a booking route here: excluded paths bypass the module, so nothing vouches for headers.
      excludedPaths: [
        '/api/voice/incoming'
        '/api/voice/turn'
        '/api/voice/status'
        '/api/graph/notifications'
        '/api/graph/lifecycle'
        '/api/health'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraApiClientId
          // v2.0 issuer: the app registration's manifest sets requestedAccessTokenVersion 2 (docs/DEPLOY.md).
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          // v2.0 access tokens carry the client id as audience; v1.0 ones the Application ID URI.
          allowedAudiences: [
            entraApiClientId
            'api://${entraApiClientId}'
          ]
        }
      }
    }
    login: {
      // A token-validating API: no browser sessions, nothing stored.
      tokenStore: {
        enabled: false
      }
    }
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
