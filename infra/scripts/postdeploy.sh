#!/usr/bin/env bash
# azd postdeploy hook: the steps that need the deployed functions, run once after every `azd deploy`.
#  1. The booking widget's function key: created on create_booking and get_booking only (never on cancel or
#     reschedule), stored in Key Vault as widget-function-key, where WIDGET__FUNCTION_KEY's reference reads it.
#     An existing key is kept, so embedded widgets keep working across deployments.
#  2. The first Graph subscriptions: the keeper timer runs every 30 minutes; it is run once now so Outlook
#     changes are followed from the start.
# Needs: az CLI signed in as the person running azd (Contributor on the resource group and Key Vault Secrets
# Officer on the vault; both are granted to AZURE_PRINCIPAL_ID by the Bicep).
set -euo pipefail
: "${AZURE_RESOURCE_GROUP:?}" "${AZURE_FUNCTION_APP_NAME:?}" "${AZURE_KEY_VAULT_NAME:?}"
rg=$AZURE_RESOURCE_GROUP app=$AZURE_FUNCTION_APP_NAME vault=$AZURE_KEY_VAULT_NAME

key=$(az keyvault secret show --vault-name "$vault" --name widget-function-key --query value -o tsv 2>/dev/null || true)
if [ -z "$key" ]; then
  key=$(openssl rand -base64 32 | tr -d '/+=' | cut -c1-40)
  az keyvault secret set --vault-name "$vault" --name widget-function-key --value "$key" --output none
  echo "created the widget function key in Key Vault"
fi
for function in create_booking get_booking; do
  az functionapp function keys set -g "$rg" -n "$app" --function-name "$function" \
    --key-name widget --key-value "$key" --output none
done
echo "widget key set on create_booking and get_booking"

master=$(az functionapp keys list -g "$rg" -n "$app" --query masterKey -o tsv)
curl -fsS -X POST -H "x-functions-key: $master" -H "Content-Type: application/json" -d '{}' \
  "https://$(az functionapp show -g "$rg" -n "$app" --query defaultHostName -o tsv)/admin/functions/keep_subscriptions" \
  && echo "subscription keeper started"
az functionapp restart -g "$rg" -n "$app" --output none  # Key Vault references are read again on restart
