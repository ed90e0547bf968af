"""Response times in support minutes: first response, next response and resolution, over tickets created in a period.

Definitions (docs/api.md says the same in prose; the spans are nephthys/tickets/timeline.py's):

- The tickets are those created in ``[since, until)`` (either bound may be open).
- ``first_response``: each ticket's FIRST_RESPONSE span once it has ended (the question to
  the first helper message); ``next_response``: every ended NEXT_RESPONSE span (an asker
  message that made the ticket wait on the helpers again, to the next helper message);
  ``resolution``: one value per closed ticket, "Ticket"."resolutionMinutes" (the sum of
  its RESOLUTION parts: the question to its last closure, less the time it waited on the
  asker and the time it spent closed before a reopen). A running span, and an open
  ticket's resolution, do not count until they end.
- Every value is in support minutes under the installed support calendar (SUPPORT_HOURS,
  SUPPORT_HOLIDAYS, TIMEZONE); the service recounts them at start-up when the calendar
  changed (nephthys/tickets/support_minutes.py), so a new calendar applies to all history.
- Per measure: ``count``; ``mean`` (arithmetic); ``p50``, ``p90``, ``p95`` by linear
  interpolation between the closest ranks (PostgreSQL's ``percentile_cont``); every
  figure but ``count`` is ``None`` when ``count`` is 0.
- Groups (``by``): ``team_tag``, per team tag on the ticket now (a ticket with two tags
  counts in both; untagged tickets in none); ``helper``, per person who gave the first
  response (first response), the response (each next response) or is credited with the
  closure (resolution: "Ticket"."closedById", the credit rule's closer). A span whose person
  is unknown (a deleted user) is in no group. A group lists all three measures, with
  ``count`` 0 for a measure it has none of.

How it stays fast (migration 0021): each measure reads one covering index (the ended spans
by kind and ticket creation time with their minutes, person and ticket; the closed tickets by
creation time with their resolution and closer), never the tables. The three measures are
three aggregates under one Parallel Append, so each sorts its values for ``percentile_cont``
(all three fractions from one sort) in its own process, with enough ``work_mem`` to sort in
memory; a year at a million tickets is about a million values per measure.
"""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import text

from nephthys.stats.overview import Executor

Grouping = Literal["none", "team_tag", "helper"]
GROUPINGS: tuple[Grouping, ...] = ("none", "team_tag", "helper")
MEASURES = ("first_response", "next_response", "resolution")
PERCENTILES = (0.5, 0.9, 0.95)
PERCENTILE_KEYS = tuple(f"p{round(fraction * 100)}" for fraction in PERCENTILES)

# Sorting a year of one measure (~1M float8 values, ~40 MB as tuplesort holds them) in memory
# rather than in temporary files: set for the statement's transaction only, per process.
SORT_MEMORY = "64MB"
# Three aggregates, one per measure: the leader and two workers take one each.
PARALLEL_SETTINGS = {
    "work_mem": SORT_MEMORY,
    "max_parallel_workers_per_gather": "2",
    "parallel_setup_cost": "0",
    "parallel_tuple_cost": "0",
    "min_parallel_index_scan_size": "0",
}

_FRACTIONS = f"ARRAY[{', '.join(str(fraction) for fraction in PERCENTILES)}]::float8[]"


def _period(column: str, bounded_below: bool, bounded_above: bool) -> str:
    return "".join(
        [
            f" AND {column} >= CAST(:since AS timestamptz)" if bounded_below else "",
            f" AND {column} < CAST(:until AS timestamptz)" if bounded_above else "",
        ]
    )


def _values(measure: str, key: str | None, bounded_below: bool, bounded_above: bool) -> str:
    """``(value, key)`` rows of one measure over the period; ``key`` an SQL expression naming the group."""
    if measure == "resolution":
        key_sql = {None: "NULL::int", "team_tag": 'tt."tagId"', "helper": 't."closedById"'}[key]
        join = ' JOIN tags_on_tickets tt ON tt."ticketId" = t.id' if key == "team_tag" else ""
        return f"""SELECT t."resolutionMinutes" AS v, {key_sql} AS k FROM "Ticket" t{join}
                   WHERE t."resolutionMinutes" IS NOT NULL{_period('t."createdAt"', bounded_below, bounded_above)}"""
    kind = measure.upper()
    key_sql = {None: "NULL::int", "team_tag": 'tt."tagId"', "helper": 's."actorId"'}[key]
    join = ' JOIN tags_on_tickets tt ON tt."ticketId" = s."ticketId"' if key == "team_tag" else ""
    return f"""SELECT s.minutes AS v, {key_sql} AS k FROM "TicketSpan" s{join}
               WHERE s.kind = '{kind}' AND s."endAt" IS NOT NULL{_period('s."ticketCreatedAt"', bounded_below, bounded_above)}"""


def _figures(value: str) -> str:
    return (
        f"count(*) AS n, avg({value}) AS mean, "
        f"percentile_cont({_FRACTIONS}) WITHIN GROUP (ORDER BY {value}) AS percentiles"
    )


@functools.cache
def _totals_sql(bounded_below: bool, bounded_above: bool) -> str:
    """One row per measure (``m`` its position in MEASURES): each aggregate its own branch of one Append."""
    branches = [
        f"SELECT {position} AS m, {_figures('x.v')} FROM ({_values(measure, None, bounded_below, bounded_above)}) x"
        for position, measure in enumerate(MEASURES)
    ]
    return "\nUNION ALL\n".join(branches)


# Each group's name in the same statement (one snapshot): a tag's name, or a person's user object.
_GROUP_NAMES = {
    "team_tag": ("g.name AS tag_name, NULL AS slack_id, NULL AS username", 'JOIN "Tag" g ON g.id = x.k'),
    "helper": ('NULL AS tag_name, u."slackId" AS slack_id, u.username', 'JOIN "User" u ON u.id = x.k'),
}


@functools.cache
def _groups_sql(by: Grouping, bounded_below: bool, bounded_above: bool) -> str:
    """One row per measure and group (``k``: the tag's or the person's id) with its name; no key, no group."""
    branches = [
        f"""SELECT {position} AS m, x.k, {_figures("x.v")}
            FROM ({_values(measure, by, bounded_below, bounded_above)}) x WHERE x.k IS NOT NULL GROUP BY x.k"""
        for position, measure in enumerate(MEASURES)
    ]
    names, join = _GROUP_NAMES[by]
    return f"""SELECT x.m, x.k, x.n, x.mean, x.percentiles, {names}
               FROM ({" UNION ALL ".join(branches)}) x {join}"""


def _measure(count: int, mean: float | None, percentiles: list[float] | None) -> dict[str, Any]:
    if not count:
        return {"count": 0, "mean": None, **dict.fromkeys(PERCENTILE_KEYS)}
    assert percentiles is not None
    return {"count": count, "mean": mean, **dict(zip(PERCENTILE_KEYS, percentiles, strict=True))}


def _empty() -> dict[str, Any]:
    return _measure(0, None, None)


async def _use_parallel_sorts(executor: Executor) -> None:
    """Let this transaction sort each measure in memory, one measure per process (SET LOCAL: this transaction only)."""
    for name, value in PARALLEL_SETTINGS.items():
        await executor.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})


async def response_times(
    executor: Executor,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Grouping = "none",
) -> dict[str, Any]:
    """``{first_response, next_response, resolution}`` (each ``{count, mean, p50, p90, p95}``) over
    tickets created in ``[since, until)``, and ``groups`` when ``by`` is not ``none``.

    Call inside a transaction (the API's read-only snapshot): the sort settings are local to it.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {GROUPINGS}, got {by!r}")
    params = {"since": since, "until": until}
    bounds = (since is not None, until is not None)
    await _use_parallel_sorts(executor)
    totals: dict[str, Any] = {measure: _empty() for measure in MEASURES}
    for row in await executor.execute(text(_totals_sql(*bounds)), params):
        totals[MEASURES[row.m]] = _measure(row.n, row.mean, row.percentiles)
    if by == "none":
        return totals
    groups: dict[int, dict[str, Any]] = {}
    for row in await executor.execute(text(_groups_sql(by, *bounds)), params):
        if row.k not in groups:
            name = (
                {"team_tag": row.tag_name}
                if by == "team_tag"
                else {"helper": {"id": row.k, "slack_id": row.slack_id, "username": row.username}}
            )
            groups[row.k] = {**name, **{measure: _empty() for measure in MEASURES}}
        groups[row.k][MEASURES[row.m]] = _measure(row.n, row.mean, row.percentiles)
    # Team tags by name, people by id.
    order = (lambda k: (groups[k]["team_tag"], k)) if by == "team_tag" else (lambda k: k)
    return {**totals, "groups": [groups[k] for k in sorted(groups, key=order)]}
