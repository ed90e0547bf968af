"""SLA compliance over tickets created in a period: per clock, how many had a target, met it, missed it.

Definitions (docs/api.md says the same in prose; the clocks are nephthys/sla/clocks.py's):

- The tickets are those created in ``[since, until)`` (either bound may be open); per clock
  (first response, next response, resolution) those whose clock of that kind has a target
  (``with_target``): its latest clock as the ticket's last change left it ("TicketSlaClock").
- At ``now`` (the database's clock) each such ticket is, for that clock, exactly one of:
  ``breached``: its clock took more than its target (finished, or paused past it), runs past
  its due instant, or an earlier clock of the kind (a next response) was breached; ``met``: its
  clock stopped within its target; ``running``: it runs or is paused, within its target.
- ``compliance`` = met / (met + breached), null when both are 0.
- ``p50``, ``p90``: of the support minutes taken by the clocks that stopped (met or breached;
  percentile_cont, linear interpolation), null when none did.
- Groups (``by``): ``team_tag``, per team tag on the ticket now (a ticket with two tags counts
  in both; untagged tickets in none); ``helper``, per the ticket's assignee now (unassigned
  tickets in none).

Tickets needing attention now (``SLA_TICKET_FILTERS``: ``/api/tickets?sla=``; ``sla_attention``:
the dashboard's list, /api/sla/attention), at the database's clock:

- ``breached``: a ticket with a clock past its target (running past its due instant, stopped or
  paused beyond it, or an earlier next response breached); the dashboard lists the open and
  in-progress ones whose running clock is past its due instant (the ones an answer can still help),
  the most recently breached first;
- ``at_risk``: a ticket with a running clock past its warning point and none breached; the
  dashboard lists them the soonest due first.

How it stays fast (migration 0026): each clock kind is one range of the index on (kind,
"ticketCreatedAt") that includes every column read, so the totals never touch the table; the
three kinds run side by side, under the sort settings of /api/stats/response_times (SET LOCAL:
call inside a transaction).
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text

from nephthys.sla.odometer import odometer
from nephthys.stats.overview import Executor, MessageLinks, iso
from nephthys.stats.response_times import use_sort_settings
from nephthys.support_calendar import SupportCalendar

Grouping = Literal["none", "team_tag", "helper"]
GROUPINGS: tuple[Grouping, ...] = ("none", "team_tag", "helper")
CLOCKS = ("first_response", "next_response", "resolution")
_KINDS = {"FIRST_RESPONSE": "first_response", "NEXT_RESPONSE": "next_response", "RESOLUTION": "resolution"}

# A clock of "TicketSlaClock" b past its target at the database's clock.
_BREACHED_AT_NOW = (
    """(b."missedBefore" OR b.state = 'BREACHED' OR (b.state = 'RUNNING' AND b."dueAt" <= now()))"""
)
# The tickets each /api/tickets?sla= filter keeps, as a condition on ``j."ticketId"``.
SLA_TICKET_FILTERS = {
    "breached": """j."ticketId" IN (
        SELECT b."ticketId" FROM "TicketSlaClock" b WHERE b.state = 'BREACHED' OR b."missedBefore"
        UNION SELECT b."ticketId" FROM "TicketSlaClock" b WHERE b.state = 'RUNNING' AND b."dueAt" <= now())""",
    "at_risk": f"""j."ticketId" IN (
        SELECT c."ticketId" FROM "TicketSlaClock" c
        WHERE c.state = 'RUNNING' AND c."dueAt" > now() AND c."warnAt" <= now()
          AND NOT EXISTS (SELECT 1 FROM "TicketSlaClock" b WHERE b."ticketId" = c."ticketId" AND {_BREACHED_AT_NOW}))""",
}

_BREACHED = """(c."missedBefore" OR c.state = 'BREACHED' OR (c.state = 'RUNNING' AND c."dueAt" <= CAST(:now AS timestamptz)))"""
_FIGURES = f"""count(*) AS with_target,
    count(*) FILTER (WHERE c.state = 'MET' AND NOT {_BREACHED}) AS met,
    count(*) FILTER (WHERE {_BREACHED}) AS breached,
    count(*) FILTER (WHERE c.state IN ('RUNNING', 'PAUSED') AND NOT {_BREACHED}) AS running,
    percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY c.minutes)
        FILTER (WHERE c.state IN ('MET', 'BREACHED')) AS percentiles"""
_GROUPS = {
    "team_tag": (
        'tt."tagId" AS k, min(g.name) AS tag_name, NULL AS slack_id, NULL AS username',
        'JOIN tags_on_tickets tt ON tt."ticketId" = c."ticketId" JOIN "Tag" g ON g.id = tt."tagId"',
        'tt."tagId"',
    ),
    "helper": (
        't."assignedToId" AS k, NULL AS tag_name, min(u."slackId") AS slack_id, min(u.username) AS username',
        'JOIN "Ticket" t ON t.id = c."ticketId" JOIN "User" u ON u.id = t."assignedToId"',
        't."assignedToId"',
    ),
}


@functools.cache
def _sql(by: Grouping, bounded_below: bool, bounded_above: bool) -> str:
    period = "".join(
        [
            ' AND c."ticketCreatedAt" >= CAST(:since AS timestamptz)' if bounded_below else "",
            ' AND c."ticketCreatedAt" < CAST(:until AS timestamptz)' if bounded_above else "",
        ]
    )
    if by == "none":
        # One branch per kind, each one range of the covering index (kind, ticketCreatedAt) read alone,
        # the three side by side under one Parallel Append (the settings below).
        return " UNION ALL ".join(
            f"""SELECT '{kind}' AS kind, {_FIGURES} FROM "TicketSlaClock" c
                WHERE c.kind = '{kind}'{period}"""
            for kind in _KINDS
        )
    columns, join, key = _GROUPS[by]
    return f"""SELECT c.kind::text AS kind, {columns}, {_FIGURES} FROM "TicketSlaClock" c {join}
               WHERE true{period} GROUP BY c.kind, {key}"""


def _clock(row: Any | None) -> dict[str, Any]:
    if row is None:
        return {
            "with_target": 0,
            "met": 0,
            "breached": 0,
            "running": 0,
            "compliance": None,
            "p50": None,
            "p90": None,
        }
    decided = row.met + row.breached
    p50, p90 = row.percentiles if row.percentiles is not None else (None, None)
    return {
        "with_target": row.with_target,
        "met": row.met,
        "breached": row.breached,
        "running": row.running,
        "compliance": row.met / decided if decided else None,
        "p50": p50,
        "p90": p90,
    }


async def sla_compliance(
    executor: Executor,
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Grouping = "none",
) -> dict[str, Any]:
    """``{first_response, next_response, resolution}`` (each ``{with_target, met, breached, running,
    compliance, p50, p90}``) over tickets created in ``[since, until)`` at ``now``, and ``groups``
    when ``by`` is not ``none`` (module docstring)."""
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {GROUPINGS}, got {by!r}")
    params = {"since": since, "until": until, "now": now}
    bounds = (since is not None, until is not None)
    await use_sort_settings(executor)
    rows = (await executor.execute(text(_sql("none", *bounds)), params)).all()
    totals = {name: _clock(None) for name in CLOCKS}
    for row in rows:
        totals[_KINDS[row.kind]] = _clock(row if row.with_target else None)
    if by == "none":
        return totals
    groups: dict[int, dict[str, Any]] = {}
    for row in (await executor.execute(text(_sql(by, *bounds)), params)).all():
        if row.k not in groups:
            name = (
                {"team_tag": row.tag_name}
                if by == "team_tag"
                else {"helper": {"id": row.k, "slack_id": row.slack_id, "username": row.username}}
            )
            groups[row.k] = {**name, **{clock: _clock(None) for clock in CLOCKS}}
        groups[row.k][_KINDS[row.kind]] = _clock(row)
    order = (lambda k: (groups[k]["team_tag"], k)) if by == "team_tag" else (lambda k: k)
    return {**totals, "groups": [groups[k] for k in sorted(groups, key=order)]}


# --- the tickets needing attention now (the dashboard) -------------------------------------------

# Running clocks past their due instant, by "TicketSlaClock_running_dueAt_idx" (the latest due first).
_BREACHED_RUNNING = """FROM "TicketSlaClock" c WHERE c.state = 'RUNNING' AND c."dueAt" <= now()"""
# At risk: /api/tickets?sla=at_risk's running clocks (the soonest due first).
_AT_RISK_RUNNING = f"""FROM "TicketSlaClock" c
    WHERE c.state = 'RUNNING' AND c."dueAt" > now() AND c."warnAt" <= now()
      AND NOT EXISTS (SELECT 1 FROM "TicketSlaClock" b WHERE b."ticketId" = c."ticketId" AND {_BREACHED_AT_NOW})"""
_ATTENTION = text(
    f"""SELECT (SELECT count(DISTINCT c."ticketId") {_BREACHED_RUNNING}) AS breached,
               (SELECT count(DISTINCT c."ticketId") {_AT_RISK_RUNNING}) AS at_risk"""
)
_ATTENTION_CLOCKS = {
    "breached": text(
        f"""SELECT c."ticketId" AS id, c.kind::text AS kind, c."dueAt" AS due_at {_BREACHED_RUNNING}
            ORDER BY c."dueAt" DESC, c."ticketId" LIMIT :rows"""
    ),
    "at_risk": text(
        f"""SELECT c."ticketId" AS id, c.kind::text AS kind, c."dueAt" AS due_at {_AT_RISK_RUNNING}
            ORDER BY c."dueAt", c."ticketId" LIMIT :rows"""
    ),
}
_ATTENTION_TICKETS = text(
    """SELECT t.id, t.title, t."titleFromAi" AS title_from_ai, t."msgTs" AS msg_ts, t.status::text AS status
       FROM "Ticket" t WHERE t.id = ANY(CAST(:ids AS int[]))"""
)


async def sla_attention(
    executor: Executor,
    *,
    now: datetime,
    links: MessageLinks,
    calendar: SupportCalendar,
    limit: int,
    with_descriptions: bool,
) -> dict[str, Any]:
    """``{"breached", "at_risk", "tickets"}``: how many tickets are so now (``now``: the database's clock,
    read in the same snapshot), and up to ``limit`` of each, breached ones first (module docstring).

    Each ticket: ``id``, ``title`` (null without descriptions when it is the question's words, as
    /api/unanswered), ``link``, ``state`` (breached or at_risk), its tightest such clock (``clock``,
    ``due_at``) and that clock's support ``minutes_left`` (negative once breached).
    """
    counts = (await executor.execute(_ATTENTION)).one()
    meter = odometer(calendar)
    reading = meter.seconds(now)
    chosen: list[tuple[str, int, str, datetime]] = []
    for state in ("breached", "at_risk"):
        # A ticket may have two such clocks: read twice the rows wanted, keep each ticket's first.
        rows = (await executor.execute(_ATTENTION_CLOCKS[state], {"rows": 2 * limit})).all()
        seen: set[int] = set()
        for row in rows:
            if row.id not in seen and len(seen) < limit:
                seen.add(row.id)
                chosen.append((state, row.id, row.kind, row.due_at))
    ids = sorted({ticket_id for _, ticket_id, _, _ in chosen})
    found = {ticket.id: ticket for ticket in (await executor.execute(_ATTENTION_TICKETS, {"ids": ids})).all()}
    tickets = []
    for state, ticket_id, kind, due_at in chosen:
        ticket = found.get(ticket_id)
        if ticket is None or ticket.status == "CLOSED":
            continue
        tickets.append(
            {
                "id": ticket_id,
                "title": ticket.title if with_descriptions or ticket.title_from_ai else None,
                "link": links.question(ticket.msg_ts),
                "state": state,
                "clock": _KINDS[kind],
                "due_at": iso(due_at),
                "minutes_left": round((meter.seconds(due_at) - reading) / 60, 2) + 0.0,
            }
        )
    return {"breached": counts.breached, "at_risk": counts.at_risk, "tickets": tickets}
