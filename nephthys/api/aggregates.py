"""The aggregates dashboards used to build by hand: /api/stats/range, /api/stats/daily, /api/stats/distribution,
/api/stats/response_times, /api/stats/sla.

Each handler parses its parameters once (same date rules as /api/tickets,
``nephthys.api.params``), then reads the figures from ``nephthys.stats`` on the
database's clock. Definitions: docs/api.md and the modules in nephthys/stats/.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from nephthys.api.etag import entity_tag, matches, not_modified
from nephthys.api.params import BadParameter, first, instant, shown, zone
from nephthys.api.responses import JSON, error_response
from nephthys.stats.daily import MAX_DAYS, daily_stats
from nephthys.stats.distribution import METRICS, duration_distribution
from nephthys.stats.hourly import range_stats
from nephthys.stats.memo import AnswerMemo, RememberedAnswer
from nephthys.stats.overview import iso
from nephthys.stats.response_times import GROUPINGS, Grouping, response_times
from nephthys.stats.sla import sla_compliance

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_DAYS = 30
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_DATE, LAST_DATE = date(1000, 1, 1), date(9000, 12, 31)


# ---------------------------------------------------------------- parameters


def date_parameter(request: Request, name: str) -> date | None:
    found = first(request, name)
    if found is None:
        return None
    value = found[1]
    try:
        if not _DATE.fullmatch(value):
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise BadParameter(f"{name}: expected a date like 2026-01-31, got {shown(value)}") from None
    # A day's edges reach a day beyond it and a zone's offset beyond that: keep clear of year 1 and 9999.
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise BadParameter(f"{name}: out of range ({FIRST_DATE} to {LAST_DATE}), got {shown(value)}")
    return parsed


def not_after(since: Any, until: Any) -> None:
    if since > until:
        raise BadParameter(f"since: {since.isoformat()} is after until ({until.isoformat()})")


@dataclass(frozen=True)
class RangeQuery:
    since: datetime | None
    until: datetime | None

    @classmethod
    def read(cls, request: Request) -> RangeQuery:
        query = cls(instant(request, "since", "after"), instant(request, "until", "before"))
        if query.since is not None and query.until is not None:
            not_after(query.since, query.until)
        return query


@dataclass(frozen=True)
class DailyQuery:
    since: date | None
    until: date | None
    zone: ZoneInfo

    @classmethod
    def read(cls, request: Request) -> DailyQuery:
        query = cls(
            date_parameter(request, "since"),
            date_parameter(request, "until"),
            zone(request, "tz", request.app.state.settings.timezone),
        )
        if query.since is not None and query.until is not None:
            not_after(query.since, query.until)
        return query

    def days(self, now: datetime) -> tuple[date, date]:
        """``(first, last)``: ``until`` defaults to today (in the zone), ``since`` to 29 days before ``until``."""
        last = self.until or now.astimezone(self.zone).date()
        start = self.since or last - timedelta(days=DEFAULT_DAYS - 1)
        not_after(start, last)
        if (last - start).days + 1 > MAX_DAYS:
            raise BadParameter(
                f"since: at most {MAX_DAYS} days at once, got {(last - start).days + 1} "
                f"({start.isoformat()} to {last.isoformat()})"
            )
        return start, last


@dataclass(frozen=True)
class DistributionQuery:
    metric: str
    since: datetime | None
    until: datetime | None

    @classmethod
    def read(cls, request: Request) -> DistributionQuery:
        found = first(request, "metric")
        if found is None or found[1] not in METRICS:
            got = shown(found[1]) if found else "nothing"
            raise BadParameter(f"metric: expected hang or resolution, got {got}")
        bounds = RangeQuery.read(request)
        return cls(found[1], bounds.since, bounds.until)


@dataclass(frozen=True)
class ResponseTimesQuery:
    since: datetime | None
    until: datetime | None
    by: Grouping

    @classmethod
    def read(cls, request: Request) -> ResponseTimesQuery:
        found = first(request, "by")
        by = "none" if found is None else found[1]
        if by not in GROUPINGS:
            raise BadParameter(f"by: expected none, team_tag or helper, got {shown(by)}")
        bounds = RangeQuery.read(request)
        return cls(bounds.since, bounds.until, by)  # type: ignore[arg-type]


# ---------------------------------------------------------------- the routes

Compute = Callable[[AsyncConnection, datetime], Awaitable[Any]]
Key = Callable[[datetime], Hashable | None]

# Read first in the answer's snapshot: the data version the memo compares, and the clock.
VERSION_AND_NOW = text('SELECT (SELECT "version" FROM "TicketTotals" WHERE id = 1) AS version, now() AS now')


def _memo(request: Request) -> AnswerMemo:
    state = request.app.state
    if not hasattr(state, "aggregate_memo"):
        state.aggregate_memo = AnswerMemo()
    return state.aggregate_memo


async def _answer(
    request: Request, key: Key, compute: Compute, unchanging: Callable[[Any], Any] | None = None
) -> Response:
    """``compute(connection, now)`` in one read-only snapshot on the database's clock, with an ETag.

    ``key(now)`` names the answer by its resolved parameters (None: not to be
    remembered, e.g. a range ending at "now"). An answer remembered under the
    same key and data version is the exact answer, served again without a query.

    ``unchanging(answer)``: what a weak ETag covers instead of the whole body (an answer not
    remembered, whose "now" alone moves: a poller gets a 304 while the figures stay).
    """
    memo = _memo(request)
    async with request.app.state.engine.connect() as connection:
        connection = await connection.execution_options(isolation_level="REPEATABLE READ")
        async with connection.begin():
            version, now = (await connection.execute(VERSION_AND_NOW)).one()
            try:
                name = key(now)
                answer = memo.lookup(name, version) if name is not None else None
                if answer is None:
                    # One recomputation at a time (each reads up to every ticket): a poll burst after a
                    # ticket change waits for the first and reuses its answer when it is for this version.
                    async with memo.computing:
                        answer = memo.lookup(name, version) if name is not None else None
                        if answer is None:
                            computed = await compute(connection, now)
                            body = orjson.dumps(computed)
                            tag = (
                                entity_tag(body)
                                if unchanging is None
                                else entity_tag(orjson.dumps(unchanging(computed)), weak=True)
                            )
                            answer = RememberedAnswer(version, body, tag)
                            if name is not None and version is not None:
                                memo.remember(name, answer)
            except BadParameter as error:  # a default that only the clock could tell was too wide
                return error_response(400, str(error))
    if matches(request, answer.etag):
        return not_modified(answer.etag)
    return Response(answer.body, media_type=JSON, headers={"ETag": answer.etag})


async def stats_range(request: Request) -> Response:
    try:
        query = RangeQuery.read(request)
    except BadParameter as error:
        return error_response(400, str(error))

    def key(now: datetime) -> Hashable | None:
        # Ending at "now" is a new question each time: not remembered.
        return ("range", query.since, query.until) if query.until is not None else None

    async def compute(connection: AsyncConnection, now: datetime) -> dict:
        since = query.since or EPOCH
        until = query.until or max(now, since)
        return {
            # Summed from the hourly figures: the same answer as overview.window_stats, in a few rows.
            "stats": await range_stats(connection, since, until),
            "since": iso(since),
            "until": iso(until),
        }

    return await _answer(request, key, compute)


async def stats_daily(request: Request) -> Response:
    try:
        query = DailyQuery.read(request)
    except BadParameter as error:
        return error_response(400, str(error))

    def key(now: datetime) -> Hashable:
        return ("daily", query.zone.key, *query.days(now))

    async def compute(connection: AsyncConnection, now: datetime) -> dict:
        start, last = query.days(now)
        return {
            "tz": query.zone.key,
            "days": await daily_stats(
                connection,
                start,
                last,
                query.zone,
                remember=True,
                kept_days_limit=request.app.state.settings.daily_figures_kept,
            ),
        }

    return await _answer(request, key, compute)


async def stats_distribution(request: Request) -> Response:
    try:
        query = DistributionQuery.read(request)
    except BadParameter as error:
        return error_response(400, str(error))

    def key(now: datetime) -> Hashable:
        return ("distribution", query.metric, query.since, query.until)

    async def compute(connection: AsyncConnection, now: datetime) -> dict:
        return await duration_distribution(connection, query.metric, query.since, query.until)  # type: ignore[arg-type]

    return await _answer(request, key, compute)


async def stats_response_times(request: Request) -> Response:
    try:
        query = ResponseTimesQuery.read(request)
    except BadParameter as error:
        return error_response(400, str(error))

    def key(now: datetime) -> Hashable | None:
        # Tagging a ticket, and renaming or deleting a tag, do not move the data version
        # (TicketTotals.version): the team-tag groups are computed for every request.
        if query.by == "team_tag":
            return None
        return ("response_times", query.since, query.until, query.by)

    async def compute(connection: AsyncConnection, now: datetime) -> dict:
        figures = await response_times(connection, since=query.since, until=query.until, by=query.by)
        return {
            "since": iso(query.since) if query.since is not None else None,
            "until": iso(query.until) if query.until is not None else None,
            "by": query.by,
            **figures,
        }

    return await _answer(request, key, compute)


async def stats_sla(request: Request) -> Response:
    try:
        query = ResponseTimesQuery.read(request)  # the same parameters: since, until, by
    except BadParameter as error:
        return error_response(400, str(error))

    def key(now: datetime) -> Hashable | None:
        return None  # running clocks breach as time passes: every answer is for its own "now"

    async def compute(connection: AsyncConnection, now: datetime) -> dict:
        figures = await sla_compliance(connection, now=now, since=query.since, until=query.until, by=query.by)
        return {
            "since": iso(query.since) if query.since is not None else None,
            "until": iso(query.until) if query.until is not None else None,
            "by": query.by,
            "now": iso(now),
            **figures,
        }

    # The ETag leaves out "now": a running clock that breaches changes the figures, and so the tag.
    return await _answer(request, key, compute, lambda answer: {**answer, "now": None})


routes = [
    Route("/api/stats/range", stats_range, methods=["GET"]),
    Route("/api/stats/daily", stats_daily, methods=["GET"]),
    Route("/api/stats/distribution", stats_distribution, methods=["GET"]),
    Route("/api/stats/response_times", stats_response_times, methods=["GET"]),
    Route("/api/stats/sla", stats_sla, methods=["GET"]),
]
