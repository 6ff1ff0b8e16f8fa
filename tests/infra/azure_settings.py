"""The decisions behind the function app's settings in Azure, shared by the infra tests and named in docs/DEPLOY.md.

When the code gains a setting, tests/infra/test_settings_agreement.py fails until infra/modules/functionapp.bicep
sets it (and local.settings.sample.json lists it). A setting that only makes sense locally is still set in
Azure, explicitly to an empty string, and listed in EMPTY_IN_AZURE with the reason.
"""

# Read by the Functions host in Azure (not by Frontdesk's code); set by functionapp.bicep.
AZURE_HOST_SETTINGS = {
    "AzureWebJobsStorage__accountName": "host and Durable storage, reached with the managed identity",
    "AzureWebJobsStorage__credential": "always 'managedidentity'",
    "AzureWebJobsStorage__clientId": "which managed identity (the user-assigned one)",
    "APPLICATIONINSIGHTS_CONNECTION_STRING": "names the Application Insights component (not a secret: local auth is off)",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=<identity>: Entra-authenticated ingestion",
}

# The local host's settings (dev.settings_doc.HOST_SETTINGS) and what replaces each in Azure.
LOCAL_HOST_SETTINGS_IN_AZURE = {
    "AzureWebJobsStorage": "AzureWebJobsStorage__accountName/__credential/__clientId (no connection string)",
    "FUNCTIONS_WORKER_RUNTIME": "functionAppConfig.runtime (Flex Consumption rejects it as an app setting)",
    "AzureWebJobsFeatureFlags": "not needed: worker indexing is on by default for Python v2 apps",
}

# Settings the code reads that are set to '' in Azure, and why.
EMPTY_IN_AZURE = {
    "STORAGE__CONNECTION_STRING": "Azurite locally; in Azure tables are reached with the managed identity (STORAGE__TABLE_ENDPOINT)",
    "IDENTITY__STATIC_TOKEN": "a bearer token for local emulators only; settings refuse it for real endpoints",
    "IDENTITY__CERTIFICATE_PATH": "certificate credentials are not supported by the template; use the managed identity",
    "TWILIO__API_BASE_URL": "points Twilio REST at the local emulator; empty means api.twilio.com",
    "ACS__ACCESS_KEY": "ACS is called with the managed identity, so no access key is needed",
}

# Set only with durableBackend = 'DurableTaskScheduler' (functionapp.bicep merges them with union()): read by the
# Functions host, not by Frontdesk's code; they override host.json's storage provider.
DURABLE_TASK_SCHEDULER_SETTINGS = {
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__type": "azureManaged: the scheduler's provider",
    "AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName":
        "names the setting below",
    "DURABLE_TASK_SCHEDULER_CONNECTION_STRING": "Endpoint=<scheduler>;Authentication=ManagedIdentity;ClientID=<identity>",
}
