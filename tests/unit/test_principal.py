"""Reading App Service Authentication's X-MS-CLIENT-PRINCIPAL headers (shared/services/principal.py)."""

import base64
import json

import pytest

from shared.services.principal import MAX_HEADER_CHARS, PrincipalError, parse_client_principal

ROLE_TYPE = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
OID = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def encoded(payload, pad: bool = True) -> str:
    text = base64.b64encode(json.dumps(payload).encode()).decode()
    return text if pad else text.rstrip("=")


def aad(*claims, role_typ=ROLE_TYPE) -> dict:
    return {"auth_typ": "aad", "name_typ": "name", "role_typ": role_typ,
            "claims": [{"typ": typ, "val": val} for typ, val in claims]}


def test_no_header_is_no_principal():
    assert parse_client_principal({}) is None
    assert parse_client_principal({"X-MS-CLIENT-PRINCIPAL": "  "}) is None


def test_roles_come_from_every_role_claim_whatever_the_header_case():
    payload = aad((OID, "oid-1"), ("name", "Dana"), ("roles", "Bookings.Write"), (ROLE_TYPE, "Bookings.Cancel"))
    principal = parse_client_principal({"x-ms-client-principal": encoded(payload), "X-MS-CLIENT-PRINCIPAL-IDP": "aad"})
    assert principal.id == "oid-1" and principal.name == "Dana" and principal.identity_provider == "aad"
    assert principal.roles == {"Bookings.Write", "Bookings.Cancel"}
    assert principal.has_any_role("Bookings.Cancel") and not principal.has_any_role("bookings.cancel")


def test_the_platform_headers_for_id_and_name_win_and_padding_is_optional():
    payload = aad((OID, "from-claims"), ("roles", "Bookings.Write"))
    principal = parse_client_principal({"X-MS-CLIENT-PRINCIPAL": encoded(payload, pad=False),
                                        "X-MS-CLIENT-PRINCIPAL-ID": "from-header",
                                        "X-MS-CLIENT-PRINCIPAL-NAME": "dana@example.com"})
    assert principal.id == "from-header" and principal.name == "dana@example.com"
    assert principal.identity_provider == "aad", "from auth_typ when the IDP header is absent"


def test_a_principal_without_roles_has_none():
    principal = parse_client_principal({"X-MS-CLIENT-PRINCIPAL": encoded(aad((OID, "x")))})
    assert principal.roles == frozenset() and not principal.has_any_role("Bookings.Write")


@pytest.mark.parametrize("value", ["not base64 {", encoded([1, 2]), encoded({"claims": "roles"}),
                                   encoded(aad(("roles", "Bookings.Write"))),  # no object id anywhere
                                   base64.b64encode(b"\xff\xfe").decode(), "A" * (MAX_HEADER_CHARS + 4)])
def test_what_the_platform_would_never_send_is_refused(value):
    with pytest.raises(PrincipalError):
        parse_client_principal({"X-MS-CLIENT-PRINCIPAL": value})
