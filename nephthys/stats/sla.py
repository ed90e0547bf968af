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

from nephthys.stats.overview import Executor
from nephthys.stats.response_times import use_sort_settings

Grouping = Literal["none", "team_tag", "helper"]
GROUPINGS: tuple[Grouping, ...] = ("none", "team_tag", "helper")
CLOCKS = ("first_response", "next_response", "resolution")
_KINDS = {"FIRST_RESPONSE": "first_response", "NEXT_RESPONSE": "next_response", "RESOLUTION": "resolution"}

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
