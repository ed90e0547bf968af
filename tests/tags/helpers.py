"""Rows for tag tests, written straight to PostgreSQL (the lifecycle is tested elsewhere)."""

from __future__ import annotations

from datetime import datetime

from tests.support import postgres


async def add_user(url: str, slack_id: str, *, helper: bool = True) -> int:
    rows = await postgres.fetch(
        url,
        'INSERT INTO "User" ("slackId", username, helper) VALUES ($1, $1, $2) RETURNING id',
        slack_id,
        helper,
    )
    return rows[0]["id"]


async def add_ticket(
    url: str,
    *,
    opened_by: int,
    msg_ts: str,
    status: str = "OPEN",
    created_at: datetime | None = None,
    title: str = "A question",
) -> int:
    rows = await postgres.fetch(
        url,
        'INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "createdAt") '
        'VALUES ($1, $1, $2::"TicketStatus", $3, $4, COALESCE($5, now())) RETURNING id',
        title,
        status,
        msg_ts,
        opened_by,
        created_at,
    )
    return rows[0]["id"]
