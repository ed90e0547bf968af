"""Opening a ticket for a question, and the changes to its question (edited text, AI title)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database import raw
from nephthys.database.models import Ticket, TicketStatus, WaitingOn
from nephthys.memory import index as memory_index
from nephthys.sla import clocks as sla_clocks
from nephthys.tickets import events
from nephthys.tickets.core import (
    OpenedTicket,
    Sessions,
    TicketState,
    _find_state,
    _state,
    retried_on_conflict,
)

# The hot path (every question) runs as single statements in autocommit: each one is
# its own transaction, with no BEGIN/COMMIT round trips and no ORM machinery.
# The asker (if known), the question's ticket (if any), and whether default targets apply.
_ASKER_AND_TICKET = """SELECT u.id AS asker_id, u.username IS NOT NULL AS has_username,
              (SELECT t.id FROM "Ticket" t WHERE t."msgTs" = :msg_ts) AS ticket_id,
              -- A new ticket has no tags yet: only the default policy can give it clocks.
              coalesce((SELECT p."firstResponseMinutes" IS NOT NULL OR p."resolutionMinutes" IS NOT NULL
                        FROM "SlaPolicyInUse" p WHERE p.id = 1), false) AS default_targets
       FROM (SELECT 1) AS one LEFT JOIN "User" u ON u."slackId" = :slack_id"""
_NEW_USER = text(
    """INSERT INTO "User" ("slackId", username) VALUES (:slack_id, :username)
       ON CONFLICT ("slackId") DO UPDATE SET "slackId" = EXCLUDED."slackId"
       RETURNING id, username IS NOT NULL AS has_username"""
)


# The CTEs after a ticket's insert (``created``, returning id, "createdAt" and "openedById"): its
# OPENED event and what folding that one event gives, the first-response clock and the resolution's
# first part running (nephthys/tickets/timeline.py). Shared by both opening statements below.
_OPENING_FOLDED = f"""opened AS (
           INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
           SELECT id, 'OPENED', "createdAt", "openedById", :msg_ts FROM created
           {events.ON_CONFLICT}),
       running AS (
           INSERT INTO "TicketSpan" ("ticketId", kind, "startAt", "ticketCreatedAt")
           SELECT id, kind, "createdAt", "createdAt" FROM created,
                  unnest(CAST('{{FIRST_RESPONSE,RESOLUTION}}' AS "TicketSpanKind"[])) AS kind)"""


# One statement: the ticket and its OPENED event, both at the question's ts (``:at``; the
# database's clock when there is none), and what folding that one event gives
# (nephthys/tickets/timeline.py): waiting on the helpers since then, the first-response
# clock and the resolution's first part running, and the ticket's memory row (its question's
# terms, nephthys/memory/index.py) in the same statement. The outer SELECT, like RETURNING, sees
# the table as it was before this insert: the count is of earlier tickets only.
def _new_ticket_sql(*, with_memory: bool = True):
    """The opening statement; ``with_memory=False``: without the memory row (bench/similar.py
    times the difference)."""
    memory = f",\n       {memory_index.NEW_ROW_SQL}" if with_memory else ""
    return text(
        f"""WITH created AS (
           INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgBy", "createdAt",
                                 "waitingOn", "waitingSince")
           VALUES (:title, :description, 'OPEN', :msg_ts, :asker_id, 'AUTHOR',
                   coalesce(CAST(:at AS timestamptz), now()), 'HELPERS', coalesce(CAST(:at AS timestamptz), now()))
           ON CONFLICT ("msgTs") DO NOTHING
           RETURNING id, "createdAt", "openedById"),
       {_OPENING_FOLDED}{memory}
       SELECT id, "createdAt" AS created_at,
              (SELECT count(*) FROM "Ticket" p WHERE p."openedById" = :asker_id) AS previous
       FROM created"""
    )


_NEW_TICKET = _new_ticket_sql()

# The usual question in one round trip: its asker known and no default SLA targets (a new ticket
# then has no clocks), ``_ASKER_AND_TICKET`` and ``_NEW_TICKET`` as one statement. The ticket is
# inserted only then; otherwise the row says why not (no such ticket yet but an unknown asker or
# default targets: the two steps below run as before; the ticket exists: it is read back).
_OPEN_FOR_KNOWN_ASKER = text(
    f"""WITH found AS ({_ASKER_AND_TICKET}),
       created AS (
           INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgBy", "createdAt",
                                 "waitingOn", "waitingSince")
           SELECT CAST(:title AS text), CAST(:description AS text), CAST('OPEN' AS "TicketStatus"), :msg_ts,
                  f.asker_id, CAST('AUTHOR' AS "UserType"), coalesce(CAST(:at AS timestamptz), now()),
                  CAST('HELPERS' AS "WaitingOn"), coalesce(CAST(:at AS timestamptz), now())
           FROM found f
           WHERE f.ticket_id IS NULL AND f.asker_id IS NOT NULL AND NOT f.default_targets
           ON CONFLICT ("msgTs") DO NOTHING
           RETURNING id, "createdAt", "openedById"),
       {_OPENING_FOLDED},
       {memory_index.NEW_ROW_SQL}
       SELECT f.asker_id, f.has_username, f.ticket_id, f.default_targets, c.id, c."createdAt" AS created_at,
              (SELECT count(*) FROM "Ticket" p WHERE p."openedById" = f.asker_id) AS previous
       FROM found f LEFT JOIN created c ON true"""
)


@retried_on_conflict
async def open_ticket(
    sessions: Sessions,
    *,
    msg_ts: str,
    asker_slack_id: str,
    description: str,
    title: str,
    asker_username: str | None = None,
    at: datetime | None = None,
) -> OpenedTicket | None:
    """The ticket for the question ``msg_ts``, created once however often it is asked for.

    ``at``: when the question was asked (its ts), the ticket's ``createdAt`` and its OPENED
    event's instant however late it is stored; None: the database's clock.

    Reads before it writes: a redelivery writes nothing, so it never waits on the
    ticket's other writers (every ticket write also updates the one totals row).
    None when the question's ticket existed but was deleted (with the question) before
    it could be read back: there is no ticket to give a Slack side.
    """
    created = None
    parameters = {
        "title": title,
        "description": description,
        "msg_ts": msg_ts,
        "slack_id": asker_slack_id,
        "at": at,
    } | memory_index.new_row_parameters(title, description)
    async with raw.autocommit(sessions) as connection:
        found = (await connection.execute(_OPEN_FOR_KNOWN_ASKER, parameters)).one()
        asker_id, has_username = found.asker_id, found.has_username
        if found.id is not None:
            created = found
        elif found.ticket_id is None and (asker_id is None or found.default_targets):
            if asker_id is None:
                user = (
                    await connection.execute(
                        _NEW_USER, {"slack_id": asker_slack_id, "username": asker_username}
                    )
                ).one()
                asker_id, has_username = user.id, user.has_username
            parameters = parameters | {"asker_id": asker_id}
            parameters.pop("slack_id")
            if not found.default_targets:
                # No default targets: a new ticket (it has no tags) has no SLA clocks, and the
                # question's Slack side waits on this one statement only (it is posted even
                # while the database drops out right after).
                created = (await connection.execute(_NEW_TICKET, parameters)).one_or_none()
    if found.ticket_id is None and found.default_targets:
        # The ticket and its first clocks (first response and resolution running) in one
        # transaction: a database that drops out between them must not leave a ticket without
        # clocks, which sla-watch would never warn about. The autocommit connection is given
        # back first, so a question never holds two of the pool's connections.
        async with raw.transaction(sessions) as connection:
            created = (await connection.execute(_NEW_TICKET, parameters)).one_or_none()
            if created is not None:
                await sla_clocks.refresh(connection, [created.id])
    if created is not None:
        ticket = TicketState(
            id=created.id,
            title=title,
            description=description,
            status=TicketStatus.OPEN,
            msg_ts=msg_ts,
            ticket_ts=None,
            opened_by_slack_id=asker_slack_id,
            assigned_to_slack_id=None,
            closed_by_slack_id=None,
            waiting_on=WaitingOn.HELPERS,  # as the row was written: asked, nobody answered yet
            waiting_since=created.created_at,
        )
        return OpenedTicket(
            ticket=ticket,
            created=True,
            previous_tickets=created.previous,
            asker_has_username=bool(has_username),
            may_have_clocks=bool(found.default_targets),
        )
    # The question already has its ticket (a redelivery, or a racing worker won).
    async with sessions() as session:
        existing = await _find_state(session, Ticket.msg_ts == msg_ts)
        if existing is None:
            return None
        previous = await _previous_tickets(session, existing.id)
    return OpenedTicket(ticket=existing, created=False, previous_tickets=previous)


@retried_on_conflict
async def update_description(sessions: Sessions, *, msg_ts: str, description: str) -> TicketState | None:
    """The asker edited the question: keep the ticket's description in step."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(Ticket).where(Ticket.msg_ts == msg_ts).values(description=description).returning(Ticket.id)
        )
        if result.scalar_one_or_none() is None:
            return None
        state = await _state(session, Ticket.msg_ts == msg_ts)
        await memory_index.question_changed(
            session, ticket_id=state.id, title=state.title, description=state.description
        )
        return state


@retried_on_conflict
async def set_ai_title(sessions: Sessions, *, ticket_id: int, title: str) -> None:
    """The AI-written title replaces the question's first words (and may be shown without a key)."""
    async with sessions.begin() as session:
        described = await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(title=title, title_from_ai=True)
            .returning(Ticket.description)
        )
        description = described.scalar_one_or_none()
        if description is not None:
            await memory_index.question_changed(
                session, ticket_id=ticket_id, title=title, description=description
            )


async def previous_ticket_count(sessions: Sessions, *, ticket_id: int) -> int:
    """How many tickets the ticket's asker opened before it."""
    async with sessions() as session:
        return await _previous_tickets(session, ticket_id)


_PREVIOUS_TICKETS = text(
    """SELECT count(*) FROM "Ticket" p
       WHERE p."openedById" = (SELECT t."openedById" FROM "Ticket" t WHERE t.id = :ticket_id)
         AND p.id < :ticket_id"""
)


async def previous_ticket_count_in(session: raw.Executor, *, ticket_id: int) -> int:
    """``previous_ticket_count`` in the caller's session or connection (one text statement)."""
    return (await session.execute(_PREVIOUS_TICKETS, {"ticket_id": ticket_id})).scalar() or 0


async def _previous_tickets(session: AsyncSession, ticket_id: int) -> int:
    opener = select(Ticket.opened_by_id).where(Ticket.id == ticket_id).scalar_subquery()
    return (
        await session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.opened_by_id == opener, Ticket.id < ticket_id)
        )
    ) or 0
