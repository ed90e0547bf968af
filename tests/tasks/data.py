"""Hand-built tickets with chosen instants, written straight to the database (triggers keep the totals)."""

from __future__ import annotations

import itertools
from datetime import datetime

from tests.support import postgres

_numbers = itertools.count(1)


async def user_id(db_url: str, slack_id: str, *, helper: bool | None = None) -> int:
    rows = await postgres.fetch(db_url, 'SELECT id FROM "User" WHERE "slackId" = $1', slack_id)
    if rows:
        if helper is not None:
            await postgres.execute(
                db_url, 'UPDATE "User" SET helper = $2 WHERE id = $1', rows[0]["id"], helper
            )
        return rows[0]["id"]
    rows = await postgres.fetch(
        db_url,
        'INSERT INTO "User" ("slackId", helper) VALUES ($1, $2) RETURNING id',
        slack_id,
        bool(helper),
    )
    return rows[0]["id"]


async def add_ticket(
    db_url: str,
    *,
    asker: str,
    created: datetime,
    status: str = "OPEN",
    title: str | None = None,
    assigned_to: str | None = None,
    assigned_at: datetime | None = None,
    closed_by: str | None = None,
    closed_at: datetime | None = None,
    last_msg_at: datetime | None = None,
    last_msg_by: str = "AUTHOR",
    reopened_at: datetime | None = None,
    msg_ts: str | None = None,
) -> dict:
    """Insert one ticket; returns its row."""
    number = next(_numbers)
    msg_ts = msg_ts or f"{int(created.timestamp())}.{number:06d}"
    rows = await postgres.fetch(
        db_url,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId",
                                 "assignedAt", "closedById", "closedAt", "lastMsgAt", "lastMsgBy",
                                 "reopenedAt", "createdAt")
           VALUES ($1, $2, $3::"TicketStatus", $4, $5, $6, $7, $8, $9, $10, $11::"UserType", $12, $13)
           RETURNING *""",
        title or f"Question {number}",
        f"Question {number}, in full",
        status,
        msg_ts,
        await user_id(db_url, asker),
        await user_id(db_url, assigned_to) if assigned_to else None,
        assigned_at,
        await user_id(db_url, closed_by) if closed_by else None,
        closed_at,
        last_msg_at or created,
        last_msg_by,
        reopened_at,
        created,
    )
    return dict(rows[0])


async def add_events(db_url: str, ticket_id: int, *events: tuple[str, datetime, str | None]) -> None:
    """Write a ticket's timeline: (kind, at, actor's Slack id or None for the bot) each. The service
    folds it into the ticket's wait when it starts (nephthys/tickets/support_minutes.py)."""
    for kind, at, actor in events:
        await postgres.execute(
            db_url,
            """INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId")
               VALUES ($1, CAST($2 AS "TicketEventKind"), $3, $4)""",
            ticket_id,
            kind,
            at,
            await user_id(db_url, actor) if actor else None,
        )
