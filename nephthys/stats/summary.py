"""The daily summary's figures: one local calendar day, the day before it, and the last 14 days.

Definitions (the API's, from ``nephthys.stats.overview``; docs/jobs.md says the same):

- A day is the window ``[local midnight, next local midnight)`` in TIMEZONE, so a
  day across a daylight-saving change is 23 or 25 hours long. Its figures are
  ``window_stats`` of that window: new tickets by their status now, tickets closed
  in the day, tickets assigned in the day and still in progress, mean hang time
  (all the day's new tickets with ``assignedAt``) and mean resolution time.
- First response: the median (``p50``) of the first responses of the day's new tickets, in
  support minutes, as ``/api/stats/response_times`` over the day (``nephthys.stats.response_times``);
  for the day and the day before.
- Top helpers: the windowed helpers leaderboard (helpers only, by tickets closed
  in the day, ties by user id), the first three.
- Tickets worth a look: OPEN tickets whose last message was not a helper's
  (the API's "unanswered") and is older than ``waiting_days`` before ``now``,
  oldest ``lastMsgAt`` first (ties by id).
- The 14-day series, per local day: tickets created, tickets closed (``closedAt``
  in the day), and tickets open at the day's end: created before it and not
  closed before it (``closedAt`` is cleared by a reopen, so a ticket closed and
  later reopened counts as open from its first close; the history is not kept).

Everything else is read in one statement (one snapshot): the open-at-end counts come
from the trigger-kept totals minus what was created or closed after each day's end,
so only the last 14 days of rows are touched, whatever the table's size. The first
responses are one more statement per day, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import text

from nephthys.database.models import TicketSpanKind
from nephthys.sla.clocks import CLOCK_NAMES
from nephthys.stats.overview import Executor, _floats, _leaderboard_json, _param, _window_counts, _window_json
from nephthys.stats.response_times import response_times
from nephthys.stats.sla import sla_compliance
from nephthys.tasks.schedule import local_day

CHART_DAYS = 14
WORTH_A_LOOK_SHOWN = 5


@dataclass(frozen=True)
class WaitingTicket:
    id: int
    title: str
    msg_ts: str
    created_at: datetime
    last_msg_at: datetime | None
    tags: list[str]


@dataclass(frozen=True)
class DayCounts:
    day: date
    new: int
    closed: int
    open_at_end: int


@dataclass(frozen=True)
class DailySummary:
    day: date
    figures: dict  # window_stats of the day
    previous: dict  # window_stats of the day before
    top_helpers: list[dict]  # {id, slack_id, count, username}, at most 3
    waiting: list[WaitingTicket]  # at most WORTH_A_LOOK_SHOWN
    waiting_total: int
    series: list[DayCounts]  # CHART_DAYS days, oldest first, ending with ``day``
    # Median first response of the day's (and the day before's) new tickets, support minutes.
    first_response_p50: float | None = None
    previous_first_response_p50: float | None = None
    # SLA (nephthys/stats/sla.py): the day's new tickets' compliance per clock that had targets,
    # and the breaches posted that day (at most WORTH_A_LOOK_SHOWN, and how many in all).
    sla: dict = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    breaches_total: int = 0


@dataclass(frozen=True)
class Breach:
    ticket_id: int
    title: str
    msg_ts: str
    clock: str  # first_response, next_response, resolution


_WAITING_WHERE = """t.status = 'OPEN' AND t."lastMsgBy" IS DISTINCT FROM 'HELPER'
                    AND t."lastMsgAt" < CAST(:waiting_before AS timestamptz)"""

_SUMMARY_SQL = f"""SELECT json_build_object(
    'day', {_window_json(_param("day_start"), _param("day_end"))},
    'previous', {_window_json(_param("previous_start"), _param("day_start"))},
    'top', {_leaderboard_json(_window_counts(_param("day_start"), _param("day_end")))},
    'waiting', (SELECT coalesce(json_agg(w ORDER BY w.last_msg_at, w.id), '[]'::json) FROM (
        SELECT t.id, t.title, t."msgTs" AS msg_ts,
               (extract(epoch FROM t."createdAt") * 1000)::bigint AS created_ms,
               (extract(epoch FROM t."lastMsgAt") * 1000)::bigint AS last_msg_ms,
               t."lastMsgAt" AS last_msg_at,
               (SELECT coalesce(json_agg(g.name ORDER BY g.name), '[]'::json)
                FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId" WHERE tt."ticketId" = t.id) AS tags
        FROM "Ticket" t WHERE {_WAITING_WHERE}
        ORDER BY t."lastMsgAt", t.id LIMIT {WORTH_A_LOOK_SHOWN}) w),
    'waiting_total', (SELECT count(*) FROM "Ticket" t WHERE {_WAITING_WHERE}),
    'series', (SELECT json_agg(json_build_array(
            (SELECT count(*) FROM "Ticket" c WHERE c."createdAt" >= b.s AND c."createdAt" < b.e),
            (SELECT count(*) FROM "Ticket" c WHERE c."closedAt" >= b.s AND c."closedAt" < b.e))
            ORDER BY b.s)
        FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) AS b(s, e)),
    'created_after', (SELECT count(*) FROM "Ticket" c WHERE c."createdAt" >= CAST(:day_end AS timestamptz)),
    'closed_after', (SELECT count(*) FROM "Ticket" c WHERE c."closedAt" >= CAST(:day_end AS timestamptz)),
    'totals', (SELECT json_build_object('tickets', s.open + s."inProgress" + s.closed,
                                        'with_closed_at', s."resolutionCount")
               FROM "TicketTotals" s WHERE s.id = 1)
)::text"""


def _from_ms(milliseconds: int | None) -> datetime | None:
    if milliseconds is None:
        return None
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


async def daily_summary(
    executor: Executor, *, day: date, tz: ZoneInfo, now: datetime, waiting_days: int
) -> DailySummary:
    """The figures of local ``day`` (and the day before, and the 14 days to it) as seen at ``now``."""
    day_start, day_end = local_day(day, tz)
    previous_start, _ = local_day(day - timedelta(days=1), tz)
    days = [day - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]
    windows = [local_day(d, tz) for d in days]
    params = {
        "day_start": day_start,
        "day_end": day_end,
        "previous_start": previous_start,
        "waiting_before": now - timedelta(days=waiting_days),
        "starts": [start for start, _ in windows],
        "ends": [end for _, end in windows],
        "top": 3,
    }
    raw = orjson.loads((await executor.execute(text(_SUMMARY_SQL), params)).scalar_one())
    sla = await sla_compliance(executor, now=now, since=day_start, until=day_end)
    breach_rows = (
        await executor.execute(
            _BREACHES, {"day_start": day_start, "day_end": day_end, "limit": WORTH_A_LOOK_SHOWN}
        )
    ).all()
    first_response = (await response_times(executor, since=day_start, until=day_end))["first_response"]
    previous_first_response = (await response_times(executor, since=previous_start, until=day_start))[
        "first_response"
    ]
    totals = raw["totals"] or {"tickets": 0, "with_closed_at": 0}
    # Walk back from the day's end: what existed then is what exists now, less what came after.
    created_after, closed_after = raw["created_after"], raw["closed_after"]
    counts = [(int(new), int(closed)) for new, closed in raw["series"]]
    open_at_end: list[int] = []
    for new, closed in reversed(counts):
        open_at_end.append((totals["tickets"] - created_after) - (totals["with_closed_at"] - closed_after))
        created_after += new
        closed_after += closed
    open_at_end.reverse()
    series = [
        DayCounts(day=d, new=new, closed=closed, open_at_end=opened)
        for d, (new, closed), opened in zip(days, counts, open_at_end, strict=True)
    ]
    waiting = [
        WaitingTicket(
            id=w["id"],
            title=w["title"],
            msg_ts=w["msg_ts"],
            created_at=_from_ms(w["created_ms"]),  # type: ignore[arg-type]
            last_msg_at=_from_ms(w["last_msg_ms"]),
            tags=list(w["tags"]),
        )
        for w in raw["waiting"]
    ]
    day_figures = _floats(raw["day"])
    day_figures.pop("helpers_leaderboard", None)
    previous = _floats(raw["previous"])
    previous.pop("helpers_leaderboard", None)
    return DailySummary(
        day=day,
        figures=day_figures,
        previous=previous,
        top_helpers=raw["top"],
        waiting=waiting,
        waiting_total=int(raw["waiting_total"]),
        series=series,
        first_response_p50=first_response["p50"],
        previous_first_response_p50=previous_first_response["p50"],
        sla={clock: figures for clock, figures in sla.items() if figures["with_target"]},
        breaches=[
            Breach(row.id, row.title, row.msg_ts, CLOCK_NAMES[TicketSpanKind(row.clock)])
            for row in breach_rows
        ],
        breaches_total=breach_rows[0].total if breach_rows else 0,
    )


# The breaches sla-watch posted during the day (SLA_BREACHED events), in the order they came.
_BREACHES = text(
    """SELECT t.id, t.title, t."msgTs" AS msg_ts, e."slaClock" AS clock, count(*) OVER () AS total
       FROM "TicketEvent" e JOIN "Ticket" t ON t.id = e."ticketId"
       WHERE e.kind = 'SLA_BREACHED' AND e.at >= CAST(:day_start AS timestamptz) AND e.at < CAST(:day_end AS timestamptz)
       ORDER BY e.at, e.id LIMIT :limit"""
)
