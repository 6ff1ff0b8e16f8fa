<#
.SYNOPSIS
    Lets Frontdesk read/write calendars and send mail for the technicians' mailboxes only, using
    Exchange Online RBAC for Applications.

.DESCRIPTION
    Frontdesk calls Microsoft Graph as an application (its managed identity, or an app registration).
    Granting Calendars.ReadWrite / Mail.Send in Entra ID would open every mailbox in the tenant. Instead
    this script grants the Exchange application roles 'Application Calendars.ReadWrite' and
    'Application Mail.Send' scoped to the members of one mail-enabled security group, so the grant covers
    exactly the technicians' (and the sending) mailboxes.

    Grants from Entra ID and from Exchange RBAC add up: leave Calendars.ReadWrite and Mail.Send UNGRANTED
    in Entra ID for this identity, or the scope below restricts nothing.

    Run it as an Exchange Administrator (Organization Management) in PowerShell 7 with the
    ExchangeOnlineManagement module. It is safe to run again: existing objects are reused.

.PARAMETER AppId
    Application (client) id: the managed identity's client id (azd output AZURE_MANAGED_IDENTITY_CLIENT_ID)
    or the app registration's client id.

.PARAMETER ServicePrincipalObjectId
    Object id of the service principal (enterprise application): the managed identity's principal id
    (azd output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID), or the app registration's enterprise app object id.

.PARAMETER MailboxGroup
    Mail-enabled security group whose direct members are the technicians' mailboxes and the mailbox
    Frontdesk sends owner e-mails from. Nested groups are not followed.

.PARAMETER TestMailbox
    A technician's mailbox to verify the result with (should be in scope).

.PARAMETER OutOfScopeMailbox
    A mailbox that must NOT be reachable (for example the CEO's), to prove the restriction.

.EXAMPLE
    ./Grant-ExchangeMailboxAccess.ps1 -AppId $env:AZURE_MANAGED_IDENTITY_CLIENT_ID `
        -ServicePrincipalObjectId $env:AZURE_MANAGED_IDENTITY_PRINCIPAL_ID `
        -MailboxGroup 'frontdesk-technicians@contoso.com' -TestMailbox 'dana@contoso.com' -OutOfScopeMailbox 'ceo@contoso.com'
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)][Guid] $AppId,
    [Parameter(Mandatory = $true)][Guid] $ServicePrincipalObjectId,
    [Parameter(Mandatory = $true)][string] $MailboxGroup,
    [string] $DisplayName = 'Frontdesk',
    [string] $ScopeName = 'Frontdesk technician mailboxes',
    [string] $TestMailbox,
    [string] $OutOfScopeMailbox
)

$ErrorActionPreference = 'Stop'
$Roles = @('Application Calendars.ReadWrite', 'Application Mail.Send')

if (-not (Get-Command Get-ServicePrincipal -ErrorAction SilentlyContinue)) {
    Import-Module ExchangeOnlineManagement
    Connect-ExchangeOnline -ShowBanner:$false
}

# 1. A pointer in Exchange to the Entra service principal.
$principal = Get-ServicePrincipal -Identity $ServicePrincipalObjectId.ToString() -ErrorAction SilentlyContinue
if (-not $principal -and $PSCmdlet.ShouldProcess($DisplayName, 'New-ServicePrincipal')) {
    $principal = New-ServicePrincipal -AppId $AppId.ToString() -ObjectId $ServicePrincipalObjectId.ToString() -DisplayName $DisplayName
}

# 2. The resource scope: direct members of the technicians' group.
$group = Get-DistributionGroup -Identity $MailboxGroup
$filter = "MemberOfGroup -eq '$($group.DistinguishedName)'"
$scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
if (-not $scope -and $PSCmdlet.ShouldProcess($ScopeName, 'New-ManagementScope')) {
    $scope = New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $filter
}
elseif ($scope -and $scope.RecipientFilter -ne $filter) {
    Write-Warning "Scope '$ScopeName' exists with filter '$($scope.RecipientFilter)'; expected '$filter'. Fix it with Set-ManagementScope."
}

# 3. The two application roles, each limited to that scope. Nothing else is granted.
foreach ($role in $Roles) {
    $existing = Get-ManagementRoleAssignment -Role $role -RoleAssignee $ServicePrincipalObjectId.ToString() -ErrorAction SilentlyContinue |
        Where-Object { $_.CustomResourceScope -eq $ScopeName }
    if (-not $existing -and $PSCmdlet.ShouldProcess("$DisplayName -> $role", 'New-ManagementRoleAssignment')) {
        New-ManagementRoleAssignment -App $ServicePrincipalObjectId.ToString() -Role $role -CustomResourceScope $ScopeName |
            Out-Null
    }
}

# 4. Proof. Exchange caches permissions: a fresh grant can take 30 minutes to 2 hours to take effect.
if ($TestMailbox) {
    Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId.ToString() -Resource $TestMailbox |
        Format-Table RoleName, GrantedPermissions, AllowedResourceScope, InScope
}
if ($OutOfScopeMailbox) {
    $outside = Test-ServicePrincipalAuthorization -Identity $ServicePrincipalObjectId.ToString() -Resource $OutOfScopeMailbox
    if ($outside | Where-Object { $_.InScope }) {
        throw "Frontdesk can reach $OutOfScopeMailbox; check the group membership and remove Entra ID grants."
    }
    Write-Host "OK: $OutOfScopeMailbox is out of Frontdesk's reach."
}
