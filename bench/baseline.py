"""The baseline: how existing Nephthys serves the API, over the same database.

    python bench/baseline.py --database-url postgresql://postgres@127.0.0.1:5432/nephthys_bench --port 3901

Existing Nephthys (Prisma, ``nephthys/utils/stats.py``) answers ``/api/stats_v2``
by loading every ticket and aggregating in Python, and ``/api/tickets`` by
loading every matching ticket with its people and tags and returning one JSON
list. This app does the same, honestly rather than slowly:

- asyncpg records instead of Prisma models (far cheaper per row), only the
  columns the statistics need, and every ticket loaded ONCE per request (the
  original loads them again for each of its five sections);
- a pool of 5 connections, Prisma's default for 2 CPUs (``2 × cpus + 1``);
- the definitions of issue 3 (hang time = assignedAt − createdAt, half-open
  windows ending now, helpers' leaderboards, oldest unanswered ticket), so both
  services compute the same numbers.
"""

from __future__ import annotations

import argparse
import contextlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import fmean

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

STATS_COLUMNS = """SELECT id, status::text AS status, "createdAt", "assignedAt", "closedAt", "closedById",
       "lastMsgAt", "lastMsgBy"::text AS "lastMsgBy", "msgTs"
FROM "Ticket" """

TICKETS_QUERY = """SELECT t.id, t.title, t.description, t.status::text AS status, t."createdAt", t."msgTs",
       ob.id AS ob_id, ob."slackId" AS ob_slack, cb.id AS cb_id, cb."slackId" AS cb_slack,
       ab.id AS ab_id, ab."slackId" AS ab_slack, rb.id AS rb_id, rb."slackId" AS rb_slack
FROM "Ticket" t
JOIN "User" ob ON ob.id = t."openedById"
LEFT JOIN "User" cb ON cb.id = t."closedById"
LEFT JOIN "User" ab ON ab.id = t."assignedToId"
LEFT JOIN "User" rb ON rb.id = t."reopenedById"
"""

STATUSES = {"open": "OPEN", "closed": "CLOSED", "in_progress": "IN_PROGRESS"}


@dataclass(frozen=True)
class Config:
    database_url: str
    workspace_url: str
    help_channel: str


def minutes(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds() / 60


def mean_or_none(values: list[float]) -> float | None:
    return fmean(values) if values else None


def leaderboard(closers: Counter, helpers: dict[int, str]) -> list[dict]:
    entries = [(user_id, count) for user_id, count in closers.items() if user_id in helpers and count > 0]
    entries.sort(key=lambda entry: (-entry[1], entry[0]))
    return [{"id": user_id, "slack_id": helpers[user_id], "count": count} for user_id, count in entries]


def overall_stats(tickets: list, helpers: dict[int, str], now: datetime, config: Config) -> dict:
    by_status = Counter(ticket["status"] for ticket in tickets)
    hang_all = [minutes(t["assignedAt"], t["createdAt"]) for t in tickets if t["assignedAt"]]
    hang_unresolved = [
        minutes(t["assignedAt"], t["createdAt"])
        for t in tickets
        if t["assignedAt"] and t["status"] != "CLOSED"
    ]
    resolution = [minutes(t["closedAt"], t["createdAt"]) for t in tickets if t["closedAt"]]
    closers = Counter(t["closedById"] for t in tickets if t["closedById"] is not None)
    unanswered = [
        t
        for t in tickets
        if t["status"] == "OPEN" and t["lastMsgBy"] != "HELPER" and t["lastMsgAt"] is not None
    ]
    oldest = min(unanswered, key=lambda t: (t["lastMsgAt"], t["id"]), default=None)
    mean_hang_all = mean_or_none(hang_all)
    return {
        "tickets_total": len(tickets),
        "tickets_open": by_status["OPEN"],
        "tickets_closed": by_status["CLOSED"],
        "tickets_in_progress": by_status["IN_PROGRESS"],
        "helpers_leaderboard": leaderboard(closers, helpers),
        "mean_hang_time_minutes_unresolved": mean_or_none(hang_unresolved),
        "mean_hang_time_minutes_all": mean_hang_all,
        "mean_resolution_time_minutes": mean_or_none(resolution),
        "oldest_unanswered_ticket": None
        if oldest is None
        else {
            "id": oldest["id"],
            "created_at": oldest["createdAt"].isoformat(),
            "age_minutes": minutes(now, oldest["createdAt"]),
            "link": f"{config.workspace_url}/archives/{config.help_channel}/p{oldest['msgTs'].replace('.', '')}",
        },
        "mean_hang_time_minutes": mean_hang_all,
    }


def window_stats(tickets: list, helpers: dict[int, str], start: datetime, end: datetime) -> dict:
    def within(instant: datetime | None) -> bool:
        return instant is not None and start <= instant < end

    created = [t for t in tickets if within(t["createdAt"])]
    closed = [t for t in tickets if t["status"] == "CLOSED" and within(t["closedAt"])]
    closers = Counter(
        t["closedById"] for t in tickets if t["closedById"] is not None and within(t["closedAt"])
    )
    return {
        "new_tickets_total": len(created),
        "new_tickets_now_closed": sum(1 for t in created if t["status"] == "CLOSED"),
        "new_tickets_still_open": sum(1 for t in created if t["status"] == "OPEN"),
        "new_tickets_in_progress": sum(1 for t in created if t["status"] == "IN_PROGRESS"),
        "closed_today": len(closed),
        "closed_today_from_today": sum(1 for t in closed if within(t["createdAt"])),
        "assigned_today_in_progress": sum(
            1 for t in tickets if t["status"] == "IN_PROGRESS" and within(t["assignedAt"])
        ),
        "helpers_leaderboard": leaderboard(closers, helpers),
        "mean_hang_time_minutes_unresolved": mean_or_none(
            [
                minutes(t["assignedAt"], t["createdAt"])
                for t in created
                if t["assignedAt"] and t["status"] != "CLOSED"
            ]
        ),
        "mean_hang_time_minutes_all": mean_or_none(
            [minutes(t["assignedAt"], t["createdAt"]) for t in created if t["assignedAt"]]
        ),
        "mean_resolution_time_minutes": mean_or_none(
            [minutes(t["closedAt"], t["createdAt"]) for t in created if t["closedAt"]]
        ),
    }


async def stats_v2(request: Request) -> JSONResponse:
    pool: asyncpg.Pool = request.app.state.pool
    now = datetime.now(UTC)
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        tickets = await connection.fetch(STATS_COLUMNS)
        helpers = {row["id"]: row["slackId"] for row in await connection.fetch(
            'SELECT id, "slackId" FROM "User" WHERE helper'
        )}  # fmt: skip
    day, week = timedelta(days=1), timedelta(days=7)
    return JSONResponse(
        {
            "all_time": overall_stats(tickets, helpers, now, request.app.state.config),
            "past_24h": window_stats(tickets, helpers, now - day, now),
            "past_24h_previous": window_stats(tickets, helpers, now - 2 * day, now - day),
            "past_7d": window_stats(tickets, helpers, now - week, now),
            "past_7d_previous": window_stats(tickets, helpers, now - 2 * week, now - week),
        }
    )


def parse_instant(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def user_json(user_id: int | None, slack_id: str | None) -> dict | None:
    return None if user_id is None else {"id": user_id, "slack_id": slack_id}


async def tickets_list(request: Request) -> JSONResponse:
    params = request.query_params
    status = params.get("status")
    if status is not None and status.lower() not in STATUSES:
        return JSONResponse({"error": f"Invalid status parameter: {status}"}, status_code=400)
    bounds = {}
    for name, keys in {"since": ("since", "after"), "until": ("until", "before")}.items():
        raw = next((params[key] for key in keys if params.get(key)), None)
        if raw is not None:
            try:
                bounds[name] = parse_instant(raw)
            except ValueError:
                return JSONResponse({"error": f"{name} is not a valid ISO datetime: {raw}"}, status_code=400)
    if (status is None or status.lower() == "closed") and not bounds:
        return JSONResponse(
            {"error": "Provided filters are too broad", "tip": "filter by status or a date range"},
            status_code=400,
        )
    conditions, args = [], []
    if status is not None:
        args.append(STATUSES[status.lower()])
        conditions.append(f't.status = ${len(args)}::"TicketStatus"')
    if "since" in bounds:
        args.append(bounds["since"])
        conditions.append(f't."createdAt" >= ${len(args)}')
    if "until" in bounds:
        args.append(bounds["until"])
        conditions.append(f't."createdAt" <= ${len(args)}')
    query = TICKETS_QUERY + " WHERE " + " AND ".join(conditions) + ' ORDER BY t."createdAt", t.id'
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as connection, connection.transaction(readonly=True):
        rows = await connection.fetch(query, *args)
        # Like Prisma's `include`: the related tags in a second query, joined up in Python.
        tag_rows = await connection.fetch(
            """SELECT tt."ticketId", tag.name FROM tags_on_tickets tt JOIN "Tag" tag ON tag.id = tt."tagId"
               WHERE tt."ticketId" = ANY($1::int[])""",
            [row["id"] for row in rows],
        )
    tags: dict[int, list[str]] = {}
    for tag_row in tag_rows:
        tags.setdefault(tag_row["ticketId"], []).append(tag_row["name"])
    return JSONResponse(
        [
            {
                "id": row["id"],
                "title": row["title"],
                "description": row["description"],
                "status": row["status"].lower(),
                "opened_by": user_json(row["ob_id"], row["ob_slack"]),
                "closed_by": user_json(row["cb_id"], row["cb_slack"]),
                "assigned_to": user_json(row["ab_id"], row["ab_slack"]),
                "reopened_by": user_json(row["rb_id"], row["rb_slack"]),
                "tags": tags.get(row["id"], []),
                "created_at": row["createdAt"].isoformat(),
                "message_ts": row["msgTs"],
            }
            for row in rows
        ]
    )


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"healthy": True})


def create_app(config: Config) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        app.state.config = config
        app.state.pool = await asyncpg.create_pool(
            config.database_url, min_size=1, max_size=5, server_settings={"timezone": "UTC"}
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    routes = [
        Route("/health", health),
        Route("/api/stats_v2", stats_v2),
        Route("/api/tickets", tickets_list),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The baseline API: load everything, aggregate in Python.")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--port", type=int, default=3901)
    parser.add_argument("--workspace-url", default="https://hackclub.slack.com")
    parser.add_argument("--help-channel", default="C0HELP00001")
    args = parser.parse_args(argv)
    config = Config(args.database_url, args.workspace_url.rstrip("/"), args.help_channel)
    uvicorn.run(create_app(config), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
