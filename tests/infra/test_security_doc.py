"""docs/SECURITY.md accounts for every table Frontdesk keeps and every HTTP route it serves."""

import re

import pytest

from bicep_tree import ROOT

SECURITY = (ROOT / "docs" / "SECURITY.md").read_text()
TABLES = ("claims", "bookings", "calls", "subscriptions", "optouts", "smsintents", "smsinbound", "ratelimits",
          "waitlist", "privacyindex")
ROUTES = ("voice/incoming", "voice/turn", "voice/status", "event-types", "availability", "bookings/{id}/cancel",
          "bookings/{id}/reschedule", "graph/notifications", "graph/lifecycle", "widget", "openapi.json", "health")


@pytest.mark.parametrize("table", TABLES)
def test_each_table_says_what_it_holds_and_for_how_long(table):
    row = re.search(rf"^\| Table `{table}` \|(.+)$", SECURITY, re.M)
    assert row, f"docs/SECURITY.md has no row for table {table}"
    what, personal, kept = [cell.strip() for cell in row.group(1).split("|")[:3]]
    assert what and personal and kept


@pytest.mark.parametrize("route", ROUTES)
def test_each_route_says_who_may_call_it(route):
    assert f"{route}`" in SECURITY or f"{route}," in SECURITY or f" {route} " in SECURITY


def test_redaction_and_retention_of_logs_are_stated():
    assert "redacted" in SECURITY and "logRetentionInDays" in SECURITY
