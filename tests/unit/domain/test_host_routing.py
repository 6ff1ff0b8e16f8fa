"""Routing: each policy, fallbacks, round robin ties, and "nobody eligible" as an answer."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from shared.domain.availability import Claim, host_availability
from shared.domain.business import parse_business_config
from shared.domain.routing import HostLoad, RoutingContext, host_loads, pool_hosts, resolve_host
from shared.ports import BusyBlock

UTC = timezone.utc
DANA_CRM = "5d1c3f0e-8a2b-4c6d-9e1f-0a1b2c3d4e01"
MARCUS_CRM = "5d1c3f0e-8a2b-4c6d-9e1f-0a1b2c3d4e03"
SAM_CRM = "5d1c3f0e-8a2b-4c6d-9e1f-0a1b2c3d4e05"


def test_fixed_goes_to_its_host(example_config):
    decision = resolve_host(example_config, "hydro-jetting", RoutingContext(postal_code="60614"))
    assert (decision.host_id, decision.policy) == ("jetter-truck", "fixed")
    assert decision.ok


def test_dynamics_owner_goes_to_the_record_owner(example_config):
    decision = resolve_host(example_config, "hvac-tune-up", RoutingContext(crm_owner_id=MARCUS_CRM.upper()))
    assert (decision.host_id, decision.policy) == ("marcus", "dynamics_owner")
    assert decision.to_dict()["steps"][0]["outcome"] == "chosen"


def test_dynamics_owner_who_lacks_the_skill_falls_back_to_territory(example_config):
    # Dana owns the record but has no HVAC skill; the caller is on the south side.
    decision = resolve_host(example_config, "hvac-tune-up",
                            RoutingContext(crm_owner_id=DANA_CRM, postal_code="60615"),
                            loads={"marcus": HostLoad(3), "luis": HostLoad(1)})
    assert decision.policy == "territory" and decision.host_id == "luis"
    assert [s.policy for s in decision.steps] == ["dynamics_owner", "territory"]
    assert decision.steps[0].outcome == "no_candidates"
    assert any(e.host_id == "dana" and e.reason == "missing_skills" for e in decision.exclusions)


def test_account_team_by_host_id_or_dynamics_id(example_config):
    by_id = resolve_host(example_config, "teams-consult", RoutingContext(account_team=("marcus",)))
    by_crm = resolve_host(example_config, "teams-consult", RoutingContext(account_team=(SAM_CRM,)))
    assert (by_id.host_id, by_id.policy) == ("marcus", "account_team")
    assert (by_crm.host_id, by_crm.policy) == ("sam", "account_team")


def test_account_team_outside_the_event_types_hosts_is_not_used(example_config):
    decision = resolve_host(example_config, "teams-consult", RoutingContext(account_team=("priya",)))
    assert decision.policy == "round_robin"
    assert decision.steps[0].outcome == "no_candidates"
    assert any(e.host_id == "priya" and e.reason == "not_listed" for e in decision.exclusions)


def test_territory_sends_the_caller_to_the_local_technician(example_config):
    decision = resolve_host(example_config, "plumbing-repair", RoutingContext(postal_code="60614"))
    assert (decision.host_id, decision.policy) == ("dana", "territory")
    assert decision.candidates == ("dana",)
    assert {(e.host_id, e.reason) for e in decision.exclusions} >= {("priya", "other_territory"),
                                                                    ("marcus", "missing_skills")}


def test_territory_without_a_postal_code_falls_back_to_round_robin(example_config):
    decision = resolve_host(example_config, "plumbing-repair", RoutingContext())
    assert decision.policy == "round_robin"
    assert decision.steps[0].note == "the booking has no postal code"


def test_skills_picks_among_hosts_with_every_skill(example_config):
    decision = resolve_host(example_config, "emergency-leak")
    assert (decision.host_id, decision.policy) == ("luis", "skills")


def test_round_robin_prefers_fewest_bookings_this_week(example_config):
    loads = {"dana": HostLoad(4), "priya": HostLoad(2), "luis": HostLoad(3)}
    decision = resolve_host(example_config, "plumbing-repair", loads=loads)
    assert decision.host_id == "priya"
    assert "fewest bookings this week (2 vs 3 for luis)" in decision.reason
    assert [r["hostId"] for r in decision.ranking] == ["priya", "luis", "dana"]


def test_round_robin_tie_goes_to_the_least_recently_booked(example_config):
    now = datetime(2026, 3, 4, 12, tzinfo=UTC)
    loads = {"dana": HostLoad(2, now - timedelta(hours=1)), "priya": HostLoad(2, now - timedelta(days=2)),
             "luis": HostLoad(2, now - timedelta(hours=5))}
    decision = resolve_host(example_config, "plumbing-repair", loads=loads)
    assert decision.host_id == "priya"
    assert "least recently booked" in decision.reason


def test_round_robin_full_tie_goes_by_id(example_config):
    decision = resolve_host(example_config, "plumbing-repair")
    assert decision.host_id == "dana"  # dana < luis < priya, nobody booked yet
    assert "first by id" in decision.reason


def test_never_booked_beats_booked_long_ago(example_config):
    loads = {"dana": HostLoad(0, datetime(2020, 1, 1, tzinfo=UTC)), "luis": HostLoad(0), "priya": HostLoad(1)}
    assert resolve_host(example_config, "plumbing-repair", loads=loads).host_id == "luis"


def test_unavailable_candidates_are_skipped_with_the_reason_recorded(example_config):
    decision = resolve_host(example_config, "plumbing-repair", RoutingContext(postal_code="60614"),
                            available={"dana": "daily_limit", "priya": None, "luis": "busy"})
    assert (decision.host_id, decision.policy) == ("priya", "round_robin")
    reasons = {(e.host_id, e.reason) for e in decision.exclusions}
    assert ("dana", "daily_limit") in reasons and ("luis", "busy") in reasons
    assert decision.steps[0].outcome == "none_available"


def test_nobody_eligible_is_an_answer_not_an_exception(example_config):
    decision = resolve_host(example_config, "estimate-call", RoutingContext(), available=[])
    assert decision.host_id is None and not decision.ok and decision.policy is None
    assert decision.reason.startswith("nobody eligible and free for estimate-call")
    assert "the booking names no Dynamics owner" in decision.reason
    assert "fixed to sam: none available" in decision.reason
    json.dumps(decision.to_dict())


def test_the_decision_is_json_for_the_booking_record(example_config):
    decision = resolve_host(example_config, "plumbing-repair", RoutingContext(postal_code="60622"),
                            available=("priya", "luis"), loads={"priya": HostLoad(1, datetime(2026, 3, 2, tzinfo=UTC))})
    record = json.loads(json.dumps(decision.to_dict()))
    assert record["hostId"] == "priya" and record["policy"] == "territory"
    assert record["ranking"] == [{"hostId": "priya", "bookingsThisWeek": 1,
                                  "lastBookedAt": "2026-03-02T00:00:00+00:00"}]
    assert {"eventType", "candidates", "exclusions", "steps", "reason"} <= set(record)


def test_routing_uses_real_availability_at_the_chosen_time(example_config):
    repair = example_config.event_type("plumbing-repair")
    start = datetime(2026, 3, 4, 16, tzinfo=UTC)  # Wednesday 10:00 Chicago
    hosts = pool_hosts(example_config, repair, RoutingContext(postal_code="60614"))
    busy = {"dana": [BusyBlock(start, start + timedelta(hours=1))]}
    free = host_availability(repair, hosts, start, busy, {}, now=start - timedelta(days=1))
    decision = resolve_host(example_config, repair, RoutingContext(postal_code="60614"), available=free)
    assert free == {"dana": "busy", "priya": None, "luis": "outside_working_hours"}  # luis works nights
    assert (decision.host_id, decision.policy) == ("priya", "round_robin")
    assert ("luis", "outside_working_hours") in {(e.host_id, e.reason) for e in decision.exclusions}


def test_pool_hosts_is_everyone_any_policy_could_pick(example_config):
    ids = lambda hosts: [h.id for h in hosts]  # noqa: E731
    assert ids(pool_hosts(example_config, "plumbing-repair", RoutingContext(postal_code="60614"))) == \
        ["dana", "priya", "luis"]
    assert ids(pool_hosts(example_config, "hydro-jetting")) == ["jetter-truck"]
    assert ids(pool_hosts(example_config, "estimate-call")) == ["sam"]


def test_inactive_hosts_are_never_chosen(example_data):
    import copy
    data = copy.deepcopy(example_data)
    data["hosts"][0]["active"] = False
    config = parse_business_config(data)
    decision = resolve_host(config, "plumbing-repair", RoutingContext(postal_code="60614"))
    assert decision.host_id != "dana"
    assert any(e.host_id == "dana" and e.reason == "inactive" for e in decision.exclusions)


def test_host_loads_count_this_local_week_and_the_last_booking_made(example_config):
    now = datetime(2026, 3, 4, 18, tzinfo=UTC)  # Wednesday in Chicago
    made = datetime(2026, 3, 1, 12, tzinfo=UTC)
    bookings = {"dana": [
        Claim(datetime(2026, 3, 2, 6, tzinfo=UTC), datetime(2026, 3, 2, 7, tzinfo=UTC), created_at=made),  # Mon 00:00
        Claim(datetime(2026, 3, 2, 5, 59, tzinfo=UTC), datetime(2026, 3, 2, 6, 30, tzinfo=UTC)),  # Sun 23:59: last week
        Claim(datetime(2026, 3, 9, 4, 30, tzinfo=UTC), datetime(2026, 3, 9, 5, tzinfo=UTC),
              created_at=datetime(2026, 3, 3, 9, tzinfo=UTC)),  # Sun 23:30 CDT: this week
    ], "luis": []}
    loads = host_loads(bookings, now, "America/Chicago")
    assert loads["dana"] == HostLoad(2, datetime(2026, 3, 3, 9, tzinfo=UTC))
    assert loads["luis"] == HostLoad(0, None)


@pytest.mark.parametrize("policy", ["fixed", "dynamics_owner", "account_team", "territory", "skills", "round_robin"])
def test_every_policy_names_itself_when_it_decides(example_config, policy):
    cases = {
        "fixed": ("hydro-jetting", RoutingContext()),
        "dynamics_owner": ("hvac-tune-up", RoutingContext(crm_owner_id=MARCUS_CRM)),
        "account_team": ("teams-consult", RoutingContext(account_team=("dana",))),
        "territory": ("plumbing-repair", RoutingContext(postal_code="60615")),
        "skills": ("water-heater-install", RoutingContext()),
        "round_robin": ("plumbing-repair", RoutingContext(postal_code="99999")),
    }
    event_type, context = cases[policy]
    decision = resolve_host(example_config, event_type, context)
    assert decision.policy == policy and decision.host_id is not None
