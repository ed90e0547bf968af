"""Reading tickets: by id or question, those the repair job must finish, and the App Home's lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database import raw
from nephthys.database.models import BotMessage, Ticket, TicketStatus, UserType, WaitingOn
from nephthys.tickets.core import (
    Sessions,
    TicketState,
    _find_state,
    autocommit,
    state_by_id,
    state_from_row,
)


async def ticket_by_id(sessions: Sessions, ticket_id: int) -> TicketState | None:
    # One statement in autocommit on the pooled asyncpg connection (nephthys/database/raw.py):
    # the Slack side reads a ticket this way after most changes.
    async with raw.autocommit(sessions) as connection:
        return await state_by_id(connection, ticket_id)


async def ticket_in(session: AsyncSession, ticket_id: int) -> TicketState | None:
    """``ticket_by_id`` in the caller's session (one snapshot with what else it reads)."""
    return await _find_state(session, Ticket.id == ticket_id)


@dataclass(frozen=True)
class BackendView:
    """What a ticket's backend message shows but its SLA line, read in one statement."""

    ticket: TicketState
    previous_tickets: int  # tickets its asker opened before it
    tags: list[tuple[int, str]]  # its team tags (id, name), in the order they were added
    question_tag: tuple[int, str] | None  # its question tag (id, label)
    question_tag_automatic: bool  # the question tag is the one the model chose


# The state read (core._STATE_BY_ID), the asker's earlier tickets, the team tags and the question
# tag (with its mark, as tags/service.py reads them): one round trip instead of four for every
# reply that moves the ticket's wait (nephthys/slack/flows.py's show_wait).
_BACKEND_VIEW = text(
    """SELECT t.id, t.title, t.description, t.status, t."msgTs", t."ticketTs", opener."slackId" AS opener,
              assignee."slackId" AS assignee, closer."slackId" AS closer, t."closedAt",
              t."questionDeletedAt", t."waitingOn", t."waitingSince",
              (SELECT count(*) FROM "Ticket" p WHERE p."openedById" = t."openedById" AND p.id < t.id)
                  AS previous,
              ARRAY(SELECT g.id FROM tags_on_tickets o JOIN "Tag" g ON g.id = o."tagId"
                    WHERE o."ticketId" = t.id ORDER BY o."assignedAt", g.id) AS tag_ids,
              ARRAY(SELECT g.name FROM tags_on_tickets o JOIN "Tag" g ON g.id = o."tagId"
                    WHERE o."ticketId" = t.id ORDER BY o."assignedAt", g.id) AS tag_names,
              q.id AS question_tag_id, q.label AS question_tag_label,
              s."autoQuestionTagId" IS NOT DISTINCT FROM q.id AS automatic
       FROM "Ticket" t
       JOIN "User" opener ON opener.id = t."openedById"
       LEFT JOIN "User" assignee ON assignee.id = t."assignedToId"
       LEFT JOIN "User" closer ON closer.id = t."closedById"
       LEFT JOIN "QuestionTag" q ON q.id = t."questionTagId"
       LEFT JOIN "TicketSearch" s ON s."ticketId" = t.id
       WHERE t.id = :ticket_id"""
)


async def backend_view(executor: raw.Executor, ticket_id: int) -> BackendView | None:
    """The ticket and what its backend message shows of it (``BackendView``); None if it is gone."""
    row = (await executor.execute(_BACKEND_VIEW, {"ticket_id": ticket_id})).one_or_none()
    if row is None:
        return None
    return BackendView(
        ticket=state_from_row(row),
        previous_tickets=row.previous,
        tags=list(zip(row.tag_ids, row.tag_names, strict=True)),
        question_tag=None if row.question_tag_id is None else (row.question_tag_id, row.question_tag_label),
        question_tag_automatic=row.question_tag_id is not None and bool(row.automatic),
    )


async def ticket_by_msg_ts(sessions: Sessions, msg_ts: str) -> TicketState | None:
    async with sessions() as session:
        return await _find_state(session, Ticket.msg_ts == msg_ts)


async def tickets_needing_repair(
    sessions: Sessions, *, help_channel: str, ticket_channel: str, older_than: datetime, newer_than: datetime
) -> tuple[list[int], list[int]]:
    """Tickets whose Slack side is unfinished, left alone while younger than ``older_than``.

    Returns (unfinished, stale_backend): open tickets lacking a backend message or
    a thread reply, and closed tickets whose backend message is still posted.
    """
    has_thread_reply = (
        select(BotMessage.id)
        .where(BotMessage.ticket_id == Ticket.id, BotMessage.channel_id == help_channel)
        .exists()
    )
    has_backend_message = (
        select(BotMessage.id)
        .where(BotMessage.ticket_id == Ticket.id, BotMessage.channel_id == ticket_channel)
        .exists()
    )
    # When it was last worked on as we saw it: createdAt and reopenedAt are Slack's instants (a
    # question delivered late is older than its handling), lastMsgAt is when we applied a message
    # (at first, when the ticket was stored), so a ticket still being handled is left alone.
    changed_at = func.greatest(Ticket.created_at, Ticket.reopened_at, Ticket.last_msg_at)
    async with sessions() as session:
        unfinished = (
            await session.scalars(
                select(Ticket.id)
                .where(
                    Ticket.status != TicketStatus.CLOSED,
                    changed_at < older_than,
                    changed_at > newer_than,
                    (Ticket.ticket_ts.is_(None)) | ~has_thread_reply,
                )
                .order_by(Ticket.id)
                .limit(200)
            )
        ).all()
        stale_backend = (
            await session.scalars(
                select(Ticket.id)
                .where(
                    Ticket.status == TicketStatus.CLOSED,
                    Ticket.closed_at < older_than,
                    Ticket.closed_at > newer_than,
                    has_backend_message,
                )
                .order_by(Ticket.id)
                .limit(200)
            )
        ).all()
    return list(unfinished), list(stale_backend)


@dataclass(frozen=True)
class AssignedTicket:
    """An unclosed ticket on a helper's desk, as the App Home lists it."""

    id: int
    title: str
    msg_ts: str
    status: TicketStatus
    asker_slack_id: str
    created_at: datetime
    last_msg_by: UserType | None
    tags: tuple[str, ...]
    waiting_on: WaitingOn | None = None
    waiting_since: datetime | None = None


@dataclass(frozen=True)
class AssignedPage:
    tickets: list[AssignedTicket]
    total: int  # every unclosed ticket assigned to the helper, not only this page's


@dataclass(frozen=True)
class AskedTicket:
    """One of an asker's tickets, as their App Home lists it."""

    id: int
    title: str
    msg_ts: str
    status: TicketStatus
    helper_slack_id: str | None  # who is helping (the assignee), or who closed it
    created_at: datetime


# The order of a helper's desk: first the tickets with a running SLA clock, the least time left
# first (the earliest due instant: support minutes left grow with it); then the tickets waiting on
# them (on the helpers: the asker spoke last, or nobody answered yet), then the others; the longest
# wait first within each. A ticket without a wait (written before the timeline existed) counts as
# waiting since it was asked.
_ASSIGNED_ORDER = """{t}sla_due NULLS LAST, (CASE WHEN {t}"waitingOn" = 'HELPERS' THEN 0 ELSE 1 END),
                     coalesce({t}"waitingSince", {t}"createdAt"), {t}id"""

# One statement: the page of tickets, its tags and the total. The partial index
# "Ticket_assigned_unclosed_idx" (migration 0010) finds the helper's unclosed tickets (a desk
# holds tens of them), which are sorted by their wait.
_ASSIGNED_PAGE = text(
    f"""WITH mine AS (
           SELECT t.id, t.title, t."msgTs", t.status, t."openedById", t."createdAt", t."lastMsgBy",
                  t."waitingOn", t."waitingSince",
                  (SELECT min(c."dueAt") FROM "TicketSlaClock" c
                   WHERE c."ticketId" = t.id AND c.state = 'RUNNING') AS sla_due
           FROM "Ticket" t JOIN "User" me ON me.id = t."assignedToId"
           WHERE me."slackId" = :slack_id AND t.status <> 'CLOSED')
       SELECT p.id, p.title, p."msgTs" AS msg_ts, p.status, asker."slackId" AS asker_slack_id,
              p."createdAt" AS created_at, p."lastMsgBy" AS last_msg_by,
              p."waitingOn" AS waiting_on, p."waitingSince" AS waiting_since,
              coalesce((SELECT array_agg(g.name ORDER BY lower(g.name), g.id)
                        FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId"
                        WHERE tt."ticketId" = p.id), '{{}}') AS tags,
              (SELECT count(*) FROM mine) AS total
       FROM (SELECT * FROM mine ORDER BY {_ASSIGNED_ORDER.format(t="")} LIMIT :limit OFFSET :offset) p
       JOIN "User" asker ON asker.id = p."openedById"
       ORDER BY {_ASSIGNED_ORDER.format(t="p.")}"""
)
_ASSIGNED_TOTAL = text(
    """SELECT count(*) FROM "Ticket" t JOIN "User" me ON me.id = t."assignedToId"
       WHERE me."slackId" = :slack_id AND t.status <> 'CLOSED'"""
)


async def assigned_tickets(
    sessions: Sessions, *, helper_slack_id: str, offset: int, limit: int
) -> AssignedPage:
    """The helper's open and in-progress tickets, the tightest SLA clock first, then those waiting on
    them and the longest wait first within each (``_ASSIGNED_ORDER``): ``limit`` of them from
    ``offset``, and how many."""
    async with autocommit(sessions) as connection:
        rows = (
            await connection.execute(
                _ASSIGNED_PAGE, {"slack_id": helper_slack_id, "limit": limit, "offset": max(offset, 0)}
            )
        ).all()
        if rows:
            total = rows[0].total
        else:  # past the last page (or none at all): the count alone
            total = (await connection.execute(_ASSIGNED_TOTAL, {"slack_id": helper_slack_id})).scalar_one()
    tickets = [
        AssignedTicket(
            id=row.id,
            title=row.title,
            msg_ts=row.msg_ts,
            status=TicketStatus(row.status),
            asker_slack_id=row.asker_slack_id,
            created_at=row.created_at,
            last_msg_by=UserType(row.last_msg_by) if row.last_msg_by is not None else None,
            tags=tuple(row.tags),
            waiting_on=WaitingOn(row.waiting_on) if row.waiting_on is not None else None,
            waiting_since=row.waiting_since,
        )
        for row in rows
    ]
    return AssignedPage(tickets=tickets, total=total)


_ASKED = text(
    """SELECT t.id, t.title, t."msgTs" AS msg_ts, t.status, t."createdAt" AS created_at,
              coalesce(assignee."slackId", closer."slackId") AS helper_slack_id
       FROM "Ticket" t
       JOIN "User" asker ON asker.id = t."openedById"
       LEFT JOIN "User" assignee ON assignee.id = t."assignedToId"
       LEFT JOIN "User" closer ON closer.id = t."closedById"
       WHERE asker."slackId" = :slack_id
       ORDER BY t."createdAt" DESC, t.id DESC
       LIMIT :limit"""
)


async def tickets_asked_by(sessions: Sessions, *, slack_id: str, limit: int) -> list[AskedTicket]:
    """The asker's latest ``limit`` tickets, newest first."""
    async with autocommit(sessions) as connection:
        rows = (await connection.execute(_ASKED, {"slack_id": slack_id, "limit": limit})).all()
    return [
        AskedTicket(
            id=row.id,
            title=row.title,
            msg_ts=row.msg_ts,
            status=TicketStatus(row.status),
            helper_slack_id=row.helper_slack_id,
            created_at=row.created_at,
        )
        for row in rows
    ]
