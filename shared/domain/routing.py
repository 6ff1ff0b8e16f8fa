"""Routing: which host takes a booking, and a record of why.

An event type's ``routing`` names a policy and fallbacks (``shared.domain.business.Routing``). Each
policy picks candidates among the eligible hosts (active, listed by the event type if it lists any,
having every required skill); candidates not free at the chosen time are dropped; round robin then
picks one: fewest bookings in the current week, then least recently booked, then host id. If a policy
leaves nobody, the next fallback is tried. "Nobody eligible" is a decision with ``host_id=None`` and a
reason, never an exception.

Example::

    from shared.domain.routing import RoutingContext, resolve_host, host_loads

    decision = resolve_host(config, "plumbing-repair", RoutingContext(postal_code="60614"),
                            available=slot.host_ids,             # or host_availability(...) for reasons
                            loads=host_loads(bookings_by_host, now, config.business.time_zone))
    decision.host_id            # "dana", or None
    decision.to_dict()          # JSON for the booking record and the Dynamics appointment

:func:`pool_hosts` gives the hosts whose calendars an availability query must read for a context.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from shared.domain.availability import REASONS as AVAILABILITY_REASONS
from shared.domain.business import BusinessConfig, EventType, Host, RoutingPolicy
from shared.domain.timezones import to_utc, zone

UTC = timezone.utc
_NEVER = datetime.min.replace(tzinfo=UTC)

REASONS: dict[str, str] = {
    "inactive": "host is inactive",
    "not_listed": "not among the event type's hosts",
    "missing_skills": "lacks a required skill",
    "not_owner": "does not own the caller's Dynamics record",
    "not_on_account_team": "not on the booking's account team",
    "other_territory": "does not serve the caller's postal code",
    "not_available": "not free at the requested time",
}


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """What the booking tells routing about the caller."""

    postal_code: str | None = None
    crm_owner_id: str | None = None  # systemuserid owning the caller's Dynamics record
    account_team: tuple[str, ...] = ()  # host ids or systemuserids named by the booking


@dataclass(frozen=True, slots=True)
class HostLoad:
    """Round robin's inputs for one host."""

    bookings_this_week: int = 0
    last_booked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Exclusion:
    host_id: str
    reason: str  # a key of REASONS, or an availability reason (busy, time_off, daily_limit, ...)
    detail: str = ""
    policy: str | None = None  # the policy step that excluded it (None: not eligible at all)

    def to_dict(self) -> dict[str, Any]:
        return {"hostId": self.host_id, "reason": self.reason, "detail": self.detail, "policy": self.policy}


@dataclass(frozen=True, slots=True)
class PolicyStep:
    """One policy tried: its candidates, those free, and what came of it."""

    policy: RoutingPolicy
    candidates: tuple[str, ...]
    available: tuple[str, ...]
    outcome: str  # "chosen" | "no_candidates" | "none_available"
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "candidates": list(self.candidates), "available": list(self.available),
                "outcome": self.outcome, "note": self.note}


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The answer to "who takes it, and why?", JSON-serialisable with :meth:`to_dict`."""

    event_type: str
    host_id: str | None
    policy: RoutingPolicy | None  # the policy that chose (None when nobody)
    candidates: tuple[str, ...]  # that policy's candidates (or the last one tried)
    exclusions: tuple[Exclusion, ...]
    steps: tuple[PolicyStep, ...]
    reason: str
    ranking: tuple[dict[str, Any], ...] = field(default_factory=tuple)  # round robin order of the free candidates

    @property
    def ok(self) -> bool:
        return self.host_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {"eventType": self.event_type, "hostId": self.host_id, "policy": self.policy,
                "candidates": list(self.candidates), "exclusions": [e.to_dict() for e in self.exclusions],
                "steps": [s.to_dict() for s in self.steps], "ranking": list(self.ranking), "reason": self.reason}


# ---------------------------------------------------------------- entry points

def resolve_host(config: BusinessConfig, event_type: EventType | str, context: RoutingContext | None = None, *,
                 available: Mapping[str, str | None] | Iterable[str] | None = None,
                 loads: Mapping[str, HostLoad] | None = None) -> RoutingDecision:
    """Choose the host for a booking of ``event_type`` and record why.

    ``available``: ``None`` ignores availability; an iterable of host ids (a slot's ``host_ids``) are
    the free ones; a mapping host id -> ``None`` or a reason (``availability.host_availability``)
    records why each busy host was passed over. ``loads`` feed round robin (:func:`host_loads`).
    """
    if isinstance(event_type, str):
        event_type = config.event_type(event_type)
    context = context or RoutingContext()
    loads = loads or {}
    why_busy = _availability(available)
    eligible, exclusions = _eligible(config, event_type)
    steps: list[PolicyStep] = []
    candidates: tuple[str, ...] = ()
    for policy in event_type.routing.chain:
        picked, dropped, note = _candidates(policy, config, event_type, eligible, context)
        candidates = tuple(host.id for host in picked)
        exclusions += [Exclusion(host_id, reason, detail, policy) for host_id, reason, detail in dropped]
        free = []
        for host in picked:
            why = why_busy(host.id)
            if why is None:
                free.append(host)
            else:
                exclusions.append(Exclusion(host.id, why, _describe(why), policy))
        if not picked:
            steps.append(PolicyStep(policy, (), (), "no_candidates", note))
            continue
        if not free:
            steps.append(PolicyStep(policy, candidates, (), "none_available", note))
            continue
        ranked = sorted(free, key=lambda host: _round_robin_key(host, loads))
        chosen = ranked[0]
        ranking = tuple(_rank_entry(host, loads) for host in ranked)
        steps.append(PolicyStep(policy, candidates, tuple(h.id for h in free), "chosen", note))
        return RoutingDecision(event_type.key, chosen.id, policy, candidates, _dedupe(exclusions), tuple(steps),
                               _why_chosen(policy, chosen, ranked, loads, note), ranking)
    tried = ", ".join(f"{s.policy} ({_step_summary(s)})" for s in steps)
    return RoutingDecision(event_type.key, None, None, candidates, _dedupe(exclusions), tuple(steps),
                           f"nobody eligible and free for {event_type.key}: tried {tried}")


def pool_hosts(config: BusinessConfig, event_type: EventType | str,
               context: RoutingContext | None = None) -> tuple[Host, ...]:
    """Every host any policy of the chain could pick for this context, in configuration order.

    Availability for a pooled event type is computed over these hosts; :func:`resolve_host` then picks
    among the free ones at the chosen slot, in policy order.
    """
    if isinstance(event_type, str):
        event_type = config.event_type(event_type)
    context = context or RoutingContext()
    eligible, _ = _eligible(config, event_type)
    chosen: set[str] = set()
    for policy in event_type.routing.chain:
        picked, _, _ = _candidates(policy, config, event_type, eligible, context)
        chosen.update(host.id for host in picked)
    return tuple(host for host in config.hosts if host.id in chosen)


def host_loads(bookings_by_host: Mapping[str, Iterable[Any]], now: datetime, time_zone: str) -> dict[str, HostLoad]:
    """Round robin's loads from each host's active bookings (anything with ``start`` and maybe ``created_at``).

    The week is the business's local week (Monday 00:00 to Monday 00:00) containing ``now``; a
    booking counts in the week it takes place. "Last booked" is when the booking was made.
    """
    tz = zone(time_zone)
    local_now = to_utc(now).astimezone(tz)
    monday = (local_now - timedelta(days=local_now.weekday())).date()
    week_start = datetime(monday.year, monday.month, monday.day, tzinfo=tz).astimezone(UTC)
    following = monday + timedelta(days=7)
    week_end = datetime(following.year, following.month, following.day, tzinfo=tz).astimezone(UTC)
    loads: dict[str, HostLoad] = {}
    for host_id, bookings in bookings_by_host.items():
        count, last = 0, None
        for booking in bookings:
            start = to_utc(booking.start)
            if week_start <= start < week_end:
                count += 1
            made = getattr(booking, "created_at", None) or start
            made = to_utc(made)
            if made <= to_utc(now) and (last is None or made > last):
                last = made
        loads[host_id] = HostLoad(count, last)
    return loads


# ---------------------------------------------------------------- policies

def _eligible(config: BusinessConfig, event_type: EventType) -> tuple[list[Host], list[Exclusion]]:
    listed = set(event_type.routing.hosts)
    needed = event_type.routing.skills
    eligible: list[Host] = []
    excluded: list[Exclusion] = []
    for host in config.hosts:
        if listed and host.id not in listed:
            excluded.append(Exclusion(host.id, "not_listed", REASONS["not_listed"]))
        elif not host.active:
            excluded.append(Exclusion(host.id, "inactive", REASONS["inactive"]))
        elif missing := [skill for skill in needed if skill not in host.skills]:
            excluded.append(Exclusion(host.id, "missing_skills", "lacks " + ", ".join(missing)))
        else:
            eligible.append(host)
    return eligible, excluded


def _candidates(policy: RoutingPolicy, config: BusinessConfig, event_type: EventType, eligible: list[Host],
                context: RoutingContext) -> tuple[list[Host], list[tuple[str, str, str]], str]:
    """The eligible hosts ``policy`` picks, the eligible ones it passes over (id, reason, detail), a note."""
    if policy == "fixed":
        wanted = event_type.routing.hosts[0]
        picked = [host for host in eligible if host.id == wanted]
        return picked, _others(eligible, picked, "not_listed", f"the event type is fixed to {wanted}"), \
            f"fixed to {wanted}" + ("" if picked else " (not eligible)")
    if policy == "dynamics_owner":
        owner = (context.crm_owner_id or "").lower()
        if not owner:
            return [], [], "the booking names no Dynamics owner"
        picked = [host for host in eligible if host.dynamics_systemuser_id == owner]
        note = f"Dynamics owner {owner}" + ("" if picked else " is not an eligible host")
        return picked, _others(eligible, picked, "not_owner", REASONS["not_owner"]), note
    if policy == "account_team":
        team = {member.lower() for member in context.account_team}
        if not team:
            return [], [], "the booking names no account team"
        picked = [host for host in eligible if host.id in team or (host.dynamics_systemuser_id or "") in team]
        note = f"account team of {len(team)}" + ("" if picked else " has no eligible host")
        return picked, _others(eligible, picked, "not_on_account_team", REASONS["not_on_account_team"]), note
    if policy == "territory":
        if not context.postal_code:
            return [], [], "the booking has no postal code"
        territory = config.territory_for(context.postal_code)
        if territory is None:
            return [], [], f"no territory serves {context.postal_code}"
        serving = {host.id for host in config.territory_hosts(territory)}
        picked = [host for host in eligible if host.id in serving]
        note = f"territory {territory.key} ({context.postal_code})"
        return picked, _others(eligible, picked, "other_territory", f"not in territory {territory.key}"), note
    if policy == "skills":
        return list(eligible), [], "has " + ", ".join(event_type.routing.skills)
    return list(eligible), [], f"{len(eligible)} eligible"  # round_robin


def _others(eligible: list[Host], picked: list[Host], reason: str, detail: str) -> list[tuple[str, str, str]]:
    chosen = {host.id for host in picked}
    return [(host.id, reason, detail) for host in eligible if host.id not in chosen]


def _availability(available: Mapping[str, str | None] | Iterable[str] | None) -> Callable[[str], str | None]:
    """host id -> ``None`` when free (or availability is not considered), else why not.

    A host missing from a mapping was not checked, so it is not offered as free.
    """
    if available is None:
        return lambda host_id: None
    if isinstance(available, Mapping):
        reasons = dict(available)
        return lambda host_id: reasons.get(host_id, "not_available")
    free = set(available)
    return lambda host_id: None if host_id in free else "not_available"


def _describe(reason: str) -> str:
    return REASONS.get(reason) or AVAILABILITY_REASONS.get(reason, reason)


def _round_robin_key(host: Host, loads: Mapping[str, HostLoad]) -> tuple:
    load = loads.get(host.id, HostLoad())
    return load.bookings_this_week, load.last_booked_at or _NEVER, host.id


def _rank_entry(host: Host, loads: Mapping[str, HostLoad]) -> dict[str, Any]:
    load = loads.get(host.id, HostLoad())
    return {"hostId": host.id, "bookingsThisWeek": load.bookings_this_week,
            "lastBookedAt": load.last_booked_at.isoformat() if load.last_booked_at else None}


def _why_chosen(policy: str, chosen: Host, ranked: list[Host], loads: Mapping[str, HostLoad], note: str) -> str:
    head = f"{policy}: {note}" if note else policy
    if len(ranked) == 1:
        return f"{head}; {chosen.id} was the only free candidate"
    runner_up = ranked[1]
    mine, theirs = _round_robin_key(chosen, loads), _round_robin_key(runner_up, loads)
    if mine[0] != theirs[0]:
        why = f"fewest bookings this week ({mine[0]} vs {theirs[0]} for {runner_up.id})"
    elif mine[1] != theirs[1]:
        why = f"least recently booked (before {runner_up.id})"
    else:
        why = f"tie on bookings and last booking; first by id before {runner_up.id}"
    return f"{head}; {chosen.id} chosen from {len(ranked)} free candidates: {why}"


def _step_summary(step: PolicyStep) -> str:
    outcome = step.outcome.replace("_", " ")
    if step.outcome == "no_candidates" and step.note:
        return step.note
    return f"{step.note}: {outcome}" if step.note else outcome


def _dedupe(exclusions: list[Exclusion]) -> tuple[Exclusion, ...]:
    seen: set[tuple[str, str, str | None]] = set()
    kept = []
    for exclusion in exclusions:
        key = (exclusion.host_id, exclusion.reason, exclusion.policy)
        if key not in seen:
            seen.add(key)
            kept.append(exclusion)
    return tuple(kept)
