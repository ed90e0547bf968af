"""Hand-built rows for API and statistics tests, with every timestamp given explicitly."""

from __future__ import annotations

import itertools
from datetime import datetime

from tests.support import postgres

_message_ts = itertools.count(1)
# add_ticket's default wait: the one the ticket's columns tell (see add_ticket).
FROM_COLUMNS = "from columns"


async def add_user(url: str, slack_id: str, *, helper: bool = False, username: str | None = None) -> int:
    rows = await postgres.fetch(
        url,
        'INSERT INTO "User" ("slackId", helper, username) VALUES ($1, $2, $3) RETURNING id',
        slack_id,
        helper,
        username,
    )
    return rows[0]["id"]


async def add_ticket(
    url: str,
    *,
    opened_by: int,
    created_at: datetime,
    status: str = "OPEN",
    assigned_to: int | None = None,
    assigned_at: datetime | None = None,
    closed_by: int | None = None,
    closed_at: datetime | None = None,
    reopened_by: int | None = None,
    last_msg_at: datetime | None = None,
    last_msg_by: str | None = "AUTHOR",
    msg_ts: str | None = None,
    title: str = "A question",
    description: str = "Details of the question",
    waiting_on: str | None = FROM_COLUMNS,
    waiting_since: datetime | None = None,
) -> int:
    """A ticket row as written. Its wait ("waitingOn", which the timeline keeps) is by default what
    its columns tell: nobody once closed, the asker after a helper's last message, else the
    helpers, since its last message; ``waiting_since`` defaults to that last message."""
    msg_ts = msg_ts or f"1600000000.{next(_message_ts):06d}"
    last_msg_at = last_msg_at if last_msg_at is not None else created_at
    if waiting_on == FROM_COLUMNS:
        waiting_on = None if status == "CLOSED" else "ASKER" if last_msg_by == "HELPER" else "HELPERS"
    if waiting_on is not None and waiting_since is None:
        waiting_since = last_msg_at
    rows = await postgres.fetch(
        url,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId",
               "assignedAt", "closedById", "closedAt", "reopenedById", "lastMsgAt", "lastMsgBy", "createdAt",
               "waitingOn", "waitingSince")
           VALUES ($1, $2, $3::"TicketStatus", $4, $5, $6, $7, $8, $9, $10, $11, $12::"UserType", $13,
                   $14::"WaitingOn", $15)
           RETURNING id""",
        title,
        description,
        status,
        msg_ts,
        opened_by,
        assigned_to,
        assigned_at,
        closed_by,
        closed_at,
        reopened_by,
        last_msg_at,
        last_msg_by,
        created_at,
        waiting_on,
        waiting_since if waiting_on is not None else None,
    )
    return rows[0]["id"]


async def add_tag(url: str, name: str, *ticket_ids: int) -> int:
    rows = await postgres.fetch(url, 'INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', name)
    tag_id = rows[0]["id"]
    for ticket_id in ticket_ids:
        await postgres.execute(
            url, 'INSERT INTO tags_on_tickets ("ticketId", "tagId") VALUES ($1, $2)', ticket_id, tag_id
        )
    return tag_id


async def database_now(url: str) -> datetime:
    return (await postgres.fetch(url, "SELECT now() AS now"))[0]["now"]


async def every_page(client, *, limit: int, **params) -> list[dict]:
    """/api/tickets read by keyset pages of ``limit``: straight from the stored rows.

    Neither the service's copy of the active tickets nor the export's blocks answer a
    page, so tests compare their answers with this.
    """
    tickets, cursor = [], None
    while True:
        query = {"limit": limit, **params, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/tickets", params=query)
        assert page.status_code == 200
        tickets += page.json()
        if "link" not in page.headers:
            return tickets
        cursor = page.headers["link"].split("cursor=")[1].split(">")[0].split("&")[0]
