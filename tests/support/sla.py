"""/api/stats/sla computed again, independently, from the tickets' logged events.

Nothing here reads the spans, the stored clocks or the minutes the service stores: each ticket's
events are replayed by the issue's words (section 1), its targets are the strictest of its tags'
(``nephthys.sla.policy.strictest``, a plain function) over the default, every interval is measured
and every due instant found with the Python ``SupportCalendar``, and each clock is judged at the
route's ``now``. Percentiles as PostgreSQL's ``percentile_cont`` (linear interpolation at rank p·(n−1)).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nephthys.sla.policy import SlaTargets, strictest
from nephthys.support_calendar import SupportCalendar
from tests.support import postgres

CLOCKS = ("first_response", "next_response", "resolution")


@dataclass
class Replayed:
    created: datetime
    first_end: datetime | None = None
    closed_at: datetime | None = None  # the last closure, when closed now
    nexts: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    resolution_done: float = 0.0
    resolution_since: datetime | None = None  # running: waiting on the helpers since
    is_open: bool = True


def replay(events: list[tuple[str, datetime]], calendar: SupportCalendar) -> Replayed:
    minutes = calendar.support_minutes
    created = next(at for kind, at in events if kind == "OPENED")
    r = Replayed(created, resolution_since=created)
    on_helpers, asked_again = True, None
    for kind, at in events:
        if not r.is_open:
            if kind == "REOPENED":
                r.is_open, on_helpers, r.closed_at = True, True, None
                r.resolution_done, r.resolution_since = 0.0, at
                asked_again = at if r.first_end is not None else None
            continue
        if kind == "HELPER_MESSAGE":
            if r.first_end is None:
                r.first_end = at
            elif asked_again is not None:
                r.nexts.append((asked_again, at))
            asked_again = None
            if on_helpers:
                assert r.resolution_since is not None
                r.resolution_done += minutes(r.resolution_since, at)
                r.resolution_since, on_helpers = None, False
        elif kind == "ASKER_MESSAGE" and not on_helpers:
            on_helpers, r.resolution_since = True, at
            asked_again = at if r.first_end is not None else None
        elif kind == "CLOSED":
            if on_helpers and r.resolution_since is not None:
                r.resolution_done += minutes(r.resolution_since, at)
            r.resolution_since, asked_again, r.is_open, r.closed_at = None, None, False, at
    if asked_again is not None:
        r.nexts.append((asked_again, None))
    return r


def judge(r: Replayed, targets: SlaTargets, now: datetime, calendar: SupportCalendar) -> dict[str, tuple]:
    """Per clock with a target: (outcome: met|breached|running, minutes taken when stopped or None)."""
    minutes = calendar.support_minutes
    judged: dict[str, tuple] = {}

    def running(start: datetime, done: float, target: int) -> tuple:
        due = calendar.add_support_time(start, timedelta(minutes=target - done))
        return ("breached" if now >= due else "running", None)

    if targets.first_response is not None:
        target = targets.first_response
        end = r.first_end or r.closed_at
        if end is not None:
            taken = minutes(r.created, end)
            judged["first_response"] = ("breached" if taken > target else "met", taken)
        else:
            judged["first_response"] = running(r.created, 0.0, target)
    if targets.next_response is not None and r.nexts:
        target = targets.next_response
        *earlier, (start, end) = r.nexts
        missed = any(e is not None and minutes(s, e) > target for s, e in earlier)
        if end is not None:
            taken = minutes(start, end)
            outcome = "breached" if taken > target or missed else "met"
            judged["next_response"] = (outcome, taken)
        else:
            outcome, _ = running(start, 0.0, target)
            judged["next_response"] = ("breached" if missed else outcome, None)
    if targets.resolution is not None:
        target = targets.resolution
        if not r.is_open:
            taken = r.resolution_done
            judged["resolution"] = ("breached" if taken > target else "met", taken)
        elif r.resolution_since is not None:
            judged["resolution"] = running(r.resolution_since, r.resolution_done, target)
        elif r.resolution_done >= target:  # paused past its target
            judged["resolution"] = ("breached", r.resolution_done)
        else:
            judged["resolution"] = ("running", None)
    return judged


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _figures(judged: list[tuple]) -> dict[str, Any]:
    met = sum(1 for outcome, _ in judged if outcome == "met")
    breached = sum(1 for outcome, _ in judged if outcome == "breached")
    taken = [t for _, t in judged if t is not None]
    return {
        "with_target": len(judged),
        "met": met,
        "breached": breached,
        "running": len(judged) - met - breached,
        "compliance": met / (met + breached) if met + breached else None,
        "p50": _percentile(taken, 0.5),
        "p90": _percentile(taken, 0.9),
    }


async def expected_sla(
    db_url: str, calendar: SupportCalendar, default: SlaTargets, now: datetime, by: str = "none"
) -> dict[str, Any]:
    events: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    for row in await postgres.fetch(
        db_url, 'SELECT "ticketId", kind::text AS kind, at FROM "TicketEvent" ORDER BY "ticketId", at, id'
    ):
        events[row["ticketId"]].append((row["kind"], row["at"]))
    tags: dict[int, list[tuple[str, SlaTargets]]] = defaultdict(list)
    for row in await postgres.fetch(
        db_url,
        """SELECT tt."ticketId", g.name, g."slaFirstResponseMinutes" AS f, g."slaNextResponseMinutes" AS n,
                  g."slaResolutionMinutes" AS r FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId\"""",
    ):
        tags[row["ticketId"]].append((row["name"], SlaTargets(row["f"], row["n"], row["r"])))
    assignees = {
        row["id"]: row["slackId"]
        for row in await postgres.fetch(
            db_url, 'SELECT t.id, u."slackId" FROM "Ticket" t JOIN "User" u ON u.id = t."assignedToId"'
        )
    }
    per_group: dict[Any, dict[str, list[tuple]]] = defaultdict(lambda: {clock: [] for clock in CLOCKS})
    for ticket_id, logged in events.items():
        targets = strictest([t for _, t in tags[ticket_id]], default)
        judged = judge(replay(logged, calendar), targets, now, calendar)
        keys = (
            [None]
            if by == "none"
            else [name for name, _ in tags[ticket_id]]
            if by == "team_tag"
            else ([assignees[ticket_id]] if ticket_id in assignees else [])
        )
        for key in keys:
            for clock, outcome in judged.items():
                per_group[key][clock].append(outcome)
    return {
        key: {clock: _figures(outcomes) for clock, outcomes in clocks.items()}
        for key, clocks in per_group.items()
    }
