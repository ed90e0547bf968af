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
  closure (resolution: "Ticket"."closedById", the credit rule's closer; not when that is the
  asker, who closed their own question). A span whose person is unknown (a deleted user) is
  in no group. A group lists all three measures, with
  ``count`` 0 for a measure it has none of.

How it stays fast (migration 0021): each measure is read from one covering index alone, never
the tables, and handed to ``percentile_cont`` already sorted (its sort then makes one pass,
and the one sort yields all three percentiles): over a long period the index ordered by
minutes (per helper, by person and minutes) is read with the rows outside the period skipped;
over a short one the period's range of the index by creation time is read and its few rows
sorted. The planner chooses by the period's size, on a plan made for the values asked
(``plan_cache_mode``). The three measures are three aggregates under one Parallel Append: the
leader and two workers take one each. Team-tag groups join the tags and sort per tag.
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

# Settings for the statement's transaction only (SET LOCAL), what the plans above rely on:
SORT_SETTINGS = {
    # Sorting a year of one measure (~1M float8 values, ~40 MB as tuplesort holds them) in memory,
    # not in temporary files; per process.
    "work_mem": "64MB",
    # The three measures in three processes (one Gather over a Parallel Append of the three
    # aggregates, which the planner chooses with its default costs once a measure has a few
    # thousand values); a server set to 0 would run them one after the other.
    "max_parallel_workers_per_gather": "2",
    # A plan for the period asked: a generic plan cached for a month would sort a year.
    "plan_cache_mode": "force_custom_plan",
}
_SET_LOCAL = text(
    "SELECT " + ", ".join(f"set_config('{name}', :v{i}, true)" for i, name in enumerate(SORT_SETTINGS))
)
_FRACTIONS = f"ARRAY[{', '.join(str(fraction) for fraction in PERCENTILES)}]::float8[]"


def _period(column: str, bounded_below: bool, bounded_above: bool) -> str:
    return "".join(
        [
            f" AND {column} >= CAST(:since AS timestamptz)" if bounded_below else "",
            f" AND {column} < CAST(:until AS timestamptz)" if bounded_above else "",
        ]
    )


def _values(measure: str, key: str | None, bounded_below: bool, bounded_above: bool) -> str:
    """``(v, k)`` rows of one measure over the period, ordered by (k, v); ``k`` names the group.

    In order, because ``percentile_cont`` sorts its values however they come, and a sort that
    finds them sorted already is one pass (PostgreSQL's qsort checks first). Over a short
    period the planner reads the period's range of the creation-time index and sorts the few
    rows; over a long one it reads the index ordered by minutes and skips the rows outside.
    """
    if measure == "resolution":
        value, created, source = 't."resolutionMinutes"', 't."createdAt"', '"Ticket" t'
        where = 't."resolutionMinutes" IS NOT NULL'
        ticket, person = "t.id", 't."closedById"'
        if key == "helper":  # an asker who closed their own question is no helper
            where += ' AND t."closedById" <> t."openedById"'
    else:
        value, created, source = "s.minutes", 's."ticketCreatedAt"', '"TicketSpan" s'
        where = f"""s.kind = '{measure.upper()}' AND s."endAt" IS NOT NULL"""
        ticket, person = 's."ticketId"', 's."actorId"'
    where += _period(created, bounded_below, bounded_above)
    if key is None:
        return f"SELECT {value} AS v, NULL::int AS k FROM {source} WHERE {where} ORDER BY {value}"
    if key == "team_tag":
        source += f' JOIN tags_on_tickets tt ON tt."ticketId" = {ticket}'
        group = 'tt."tagId"'
    else:
        group = person
    return f"SELECT {value} AS v, {group} AS k FROM {source} WHERE {where} AND {group} IS NOT NULL ORDER BY {group}, {value}"


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
            FROM ({_values(measure, by, bounded_below, bounded_above)}) x GROUP BY x.k"""
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


async def use_sort_settings(executor: Executor) -> None:
    """This transaction's settings for the measures' statements (SET LOCAL: this transaction only)."""
    await executor.execute(_SET_LOCAL, {f"v{i}": value for i, value in enumerate(SORT_SETTINGS.values())})


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
    await use_sort_settings(executor)
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
