"""Every change to a ticket: open, reply, assign, resolve, reopen, delete.

Each function takes the ids it needs, runs in one transaction and returns what
changed, so the caller (a Slack listener, a macro, a scheduled job) can do its
Slack side effects after the commit. Concurrent calls on one ticket serialise on
the ticket's row lock (``SELECT … FOR UPDATE``) or on a conditional update, so
two helpers replying at once, a resolve during a reply, or two resolves at once
end in one consistent state.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ParamSpec, TypeVar

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from nephthys.database.models import BotMessage, Ticket, TicketStatus, User, UserType

Sessions = async_sessionmaker[AsyncSession]
log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# deadlock_detected, serialization_failure: PostgreSQL rolled the transaction back; run it again.
RETRYABLE_SQLSTATES = {"40P01", "40001"}
ATTEMPTS = 4


def retried_on_conflict(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Run the whole transaction again when PostgreSQL aborted it to break a deadlock."""

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return await function(*args, **kwargs)
            except DBAPIError as error:
                sqlstate = getattr(error.orig, "sqlstate", None)
                if sqlstate not in RETRYABLE_SQLSTATES or attempt == ATTEMPTS:
                    raise
                log.info(
                    "%s: transaction aborted (%s), attempt %d; retrying", function.__name__, sqlstate, attempt
                )
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    return wrapper


@dataclass(frozen=True)
class TicketState:
    """A ticket as the Slack side needs it after a change."""

    id: int
    title: str
    description: str
    status: TicketStatus
    msg_ts: str
    ticket_ts: str | None
    opened_by_slack_id: str
    assigned_to_slack_id: str | None
    closed_by_slack_id: str | None
    # When it was last closed (its closure: a closing message's buttons act on that closure only).
    closed_at: datetime | None = None
    # The asker deleted the question and the ticket was kept (someone else had written).
    question_deleted: bool = False


@dataclass(frozen=True)
class OpenedTicket:
    ticket: TicketState
    created: bool  # False when the question already had its ticket (a redelivery)
    previous_tickets: int  # tickets the asker opened before this one
    asker_has_username: bool = True  # False: worth asking users.info once


@dataclass(frozen=True)
class ReplyRecorded:
    ticket: TicketState
    by: UserType
    assigned: bool  # this reply (a helper's) assigned the ticket
    # Who held the ticket before this reply took it (their App Home loses it); None if nobody else.
    previous_assignee_slack_id: str | None = None


class Outcome(enum.StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"  # already in the wanted state: nothing to post
    NOT_ALLOWED = "not_allowed"
    NOT_FOUND = "not_found"
    # A closing message's button for an earlier closure than the ticket's current one.
    OUT_OF_DATE = "out_of_date"


@dataclass(frozen=True)
class Change:
    outcome: Outcome
    ticket: TicketState | None = None
    # A reopen clears the backend message; this is the one it replaced.
    previous_ticket_ts: str | None = None
    # Whether the person acting is a helper (a resolve that credits someone else tells them).
    actor_is_helper: bool = False

    @property
    def changed(self) -> bool:
        return self.outcome is Outcome.CHANGED

    @property
    def found_ticket(self) -> TicketState:
        """The ticket, which every outcome but NOT_FOUND carries."""
        if self.ticket is None:
            raise LookupError(f"a {self.outcome.value!r} change carries no ticket")
        return self.ticket


@dataclass(frozen=True)
class PostedMessage:
    channel_id: str
    ts: str


@dataclass(frozen=True)
class DeletedTicket:
    ticket_id: int
    bot_messages: list[PostedMessage]


@dataclass(frozen=True)
class KeptTicket:
    """The question was deleted but its ticket stays (someone else wrote in it, or a helper has it)."""

    ticket: TicketState
    newly_marked: bool  # False: this deletion was already recorded (a redelivery)


# A resolve credits the assignee while the thread's last message is younger than this
# (RESOLVE_CREDIT_HOURS); callers pass the setting.
DEFAULT_CREDIT_WINDOW = timedelta(hours=48)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def closure_key(closed_at: datetime) -> int:
    """A closure's identity for a button value: its ``closedAt`` in whole milliseconds (as stored)."""
    return (closed_at - _EPOCH) // timedelta(milliseconds=1)


# ---------------------------------------------------------------- users


@retried_on_conflict
async def upsert_user(
    sessions: Sessions, *, slack_id: str, username: str | None = None, helper: bool | None = None
) -> int:
    """The user's id, creating the row if needed; a known username or helper flag is kept current."""
    async with sessions.begin() as session:
        return await _upsert_user(session, slack_id=slack_id, username=username, helper=helper)


async def _upsert_user(
    session: AsyncSession, *, slack_id: str, username: str | None = None, helper: bool | None = None
) -> int:
    # Read first and write only what changes: every write to "User" also touches the
    # one ticket-totals row (migration 0003), which all ticket writers queue on.
    row = (
        await session.execute(select(User.id, User.username, User.helper).where(User.slack_id == slack_id))
    ).one_or_none()
    if row is not None:
        changes: dict = {}
        if username is not None and row.username != username:
            changes["username"] = username
        if helper is not None and row.helper != helper:
            changes["helper"] = helper
        if changes:
            await session.execute(update(User).where(User.id == row.id).values(**changes))
        return row.id
    values: dict = {"slack_id": slack_id}
    if username is not None:
        values["username"] = username
    if helper is not None:
        values["helper"] = helper
    statement = insert(User).values(**values)
    # Someone else inserted it meanwhile: take theirs, with our values.
    statement = statement.on_conflict_do_update(
        index_elements=[User.slack_id],
        set_={User.__table__.c.slackId: statement.excluded.slackId}
        | ({User.__table__.c.username: username} if username is not None else {})
        | ({User.__table__.c.helper: helper} if helper is not None else {}),
    )
    return (await session.execute(statement.returning(User.id))).scalar_one()


async def user_needs_username(sessions: Sessions, *, slack_id: str) -> bool:
    """True when we do not know this user's name yet (so users.info is worth a call)."""
    async with sessions() as session:
        username = await session.scalar(select(User.username).where(User.slack_id == slack_id))
    return username is None


@retried_on_conflict
async def set_helper(sessions: Sessions, *, slack_id: str, helper: bool) -> None:
    """Mark a user as a helper (joined the team channel) or not (left it)."""
    async with sessions.begin() as session:
        await _upsert_user(session, slack_id=slack_id, helper=helper)


_UNMAKE_HELPERS = text(
    """UPDATE "User" SET helper = false
       WHERE helper AND NOT ("slackId" = ANY(CAST(:members AS text[])))"""
)
_MAKE_HELPERS = text(
    """INSERT INTO "User" ("slackId", helper)
       SELECT member, true FROM unnest(CAST(:members AS text[])) AS member
       ON CONFLICT ("slackId") DO UPDATE SET helper = true WHERE NOT "User".helper"""
)


@retried_on_conflict
async def sync_helpers(sessions: Sessions, *, member_ids: set[str]) -> tuple[int, int]:
    """Make exactly ``member_ids`` the helpers; returns (added, removed). Two statements, however many."""
    members = sorted(member_ids)
    async with sessions.begin() as session:
        # The session's connection: its results are cursor results, which have a rowcount.
        connection = await session.connection()
        removed = await connection.execute(_UNMAKE_HELPERS, {"members": members})
        added = await connection.execute(_MAKE_HELPERS, {"members": members})
    return added.rowcount or 0, removed.rowcount or 0


async def is_helper(sessions: Sessions, *, slack_id: str) -> bool:
    async with sessions() as session:
        return bool(await session.scalar(select(User.helper).where(User.slack_id == slack_id)))


# ---------------------------------------------------------------- tickets


# The hot path (every question) runs as single statements in autocommit: each one is
# its own transaction, with no BEGIN/COMMIT round trips and no ORM machinery.
_ASKER_AND_TICKET = text(
    """SELECT u.id AS asker_id, u.username IS NOT NULL AS has_username,
              (SELECT t.id FROM "Ticket" t WHERE t."msgTs" = :msg_ts) AS ticket_id
       FROM (SELECT 1) AS one LEFT JOIN "User" u ON u."slackId" = :slack_id"""
)
_NEW_USER = text(
    """INSERT INTO "User" ("slackId", username) VALUES (:slack_id, :username)
       ON CONFLICT ("slackId") DO UPDATE SET "slackId" = EXCLUDED."slackId"
       RETURNING id, username IS NOT NULL AS has_username"""
)
# The subquery in RETURNING sees the table as it was before this insert: earlier tickets only.
_NEW_TICKET = text(
    """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "lastMsgBy")
       VALUES (:title, :description, 'OPEN', :msg_ts, :asker_id, 'AUTHOR')
       ON CONFLICT ("msgTs") DO NOTHING
       RETURNING id, (SELECT count(*) FROM "Ticket" p WHERE p."openedById" = :asker_id) AS previous"""
)


@contextlib.asynccontextmanager
async def autocommit(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """A connection from the sessions' pool on which each statement commits by itself."""
    async with sessions.kw["bind"].connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


@retried_on_conflict
async def open_ticket(
    sessions: Sessions,
    *,
    msg_ts: str,
    asker_slack_id: str,
    description: str,
    title: str,
    asker_username: str | None = None,
) -> OpenedTicket | None:
    """The ticket for the question ``msg_ts``, created once however often it is asked for.

    Reads before it writes: a redelivery writes nothing, so it never waits on the
    ticket's other writers (every ticket write also updates the one totals row).
    None when the question's ticket existed but was deleted (with the question) before
    it could be read back: there is no ticket to give a Slack side.
    """
    async with autocommit(sessions) as connection:
        found = (
            await connection.execute(_ASKER_AND_TICKET, {"msg_ts": msg_ts, "slack_id": asker_slack_id})
        ).one()
        if found.ticket_id is None:
            asker_id, has_username = found.asker_id, found.has_username
            if asker_id is None:
                user = (
                    await connection.execute(
                        _NEW_USER, {"slack_id": asker_slack_id, "username": asker_username}
                    )
                ).one()
                asker_id, has_username = user.id, user.has_username
            created = (
                await connection.execute(
                    _NEW_TICKET,
                    {"title": title, "description": description, "msg_ts": msg_ts, "asker_id": asker_id},
                )
            ).one_or_none()
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
                )
                return OpenedTicket(
                    ticket=ticket,
                    created=True,
                    previous_tickets=created.previous,
                    asker_has_username=bool(has_username),
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
        return await _state(session, Ticket.msg_ts == msg_ts)


@retried_on_conflict
async def set_ai_title(sessions: Sessions, *, ticket_id: int, title: str) -> None:
    """The AI-written title replaces the question's first words (and may be shown without a key)."""
    async with sessions.begin() as session:
        await session.execute(
            update(Ticket).where(Ticket.id == ticket_id).values(title=title, title_from_ai=True)
        )


@retried_on_conflict
async def record_reply(sessions: Sessions, *, thread_ts: str, author_slack_id: str) -> ReplyRecorded | None:
    """A message in a ticket's thread: who spoke last, and a helper's reply takes the ticket.

    None when ``thread_ts`` is not a ticket's question.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.id, Ticket.status, Ticket.assigned_at, User.slack_id, _ASSIGNEE.c.slackId)
                .join(User, User.id == Ticket.opened_by_id)
                .outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == Ticket.assigned_to_id)
                .where(Ticket.msg_ts == thread_ts)
                .with_for_update(of=Ticket)
            )
        ).one_or_none()
        if row is None:
            return None
        ticket_id, status, assigned_at, opener_slack_id, previous_assignee = row
        author = (
            await session.execute(select(User.id, User.helper).where(User.slack_id == author_slack_id))
        ).one_or_none()
        helper_id = author.id if author is not None and author.helper else None
        if author_slack_id == opener_slack_id:
            by = UserType.AUTHOR
        elif helper_id is not None:
            by = UserType.HELPER
        else:
            by = UserType.OTHER
        # The time the row lock was granted (not the transaction's start), so replies that
        # queued on the lock are stamped in the order they were applied.
        values: dict = {"last_msg_at": func.clock_timestamp(), "last_msg_by": by}
        assigned = False
        # The asker's own replies never assign, even when the asker is a helper.
        assigning_helper_id = helper_id if by is UserType.HELPER else None
        if assigning_helper_id is not None and status is not TicketStatus.CLOSED:
            values.update(assigned_to_id=assigning_helper_id, status=TicketStatus.IN_PROGRESS)
            if assigned_at is None:
                values["assigned_at"] = func.clock_timestamp()
            assigned = True
        await session.execute(update(Ticket).where(Ticket.id == ticket_id).values(**values))
        ticket = await _state(session, Ticket.id == ticket_id)
    moved_from = previous_assignee if assigned and previous_assignee != ticket.assigned_to_slack_id else None
    return ReplyRecorded(ticket=ticket, by=by, assigned=assigned, previous_assignee_slack_id=moved_from)


@dataclass(frozen=True)
class _Locked:
    """A ticket's row, locked, and who is acting on it."""

    status: TicketStatus
    assigned_to_id: int | None
    ticket_ts: str | None
    closed_at: datetime | None
    # The thread's last message is younger than the credit window asked for.
    recently_active: bool
    actor_id: int
    actor_is_asker: bool
    actor_is_helper: bool


async def _lock_and_authorise(
    session: AsyncSession, *, ticket_id: int, actor_slack_id: str, credit_window: timedelta
) -> _Locked | Change:
    """The shared opening of resolve and reopen: lock the row, load it, check the actor.

    Returns the locked row, or the Change to answer with: NOT_FOUND, or NOT_ALLOWED when
    the actor is neither the ticket's asker nor a helper.
    """
    row = (
        await session.execute(
            select(
                Ticket.status,
                Ticket.opened_by_id,
                Ticket.assigned_to_id,
                Ticket.ticket_ts,
                Ticket.closed_at,
                Ticket.last_msg_at,
                func.now(),
            )
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
        )
    ).one_or_none()
    if row is None:
        return Change(Outcome.NOT_FOUND)
    status, opened_by_id, assigned_to_id, ticket_ts, closed_at, last_msg_at, now = row
    actor = (
        await session.execute(select(User.id, User.helper).where(User.slack_id == actor_slack_id))
    ).one_or_none()
    is_asker = actor is not None and actor.id == opened_by_id
    if actor is None or not (is_asker or actor.helper):
        return Change(Outcome.NOT_ALLOWED, await _state(session, Ticket.id == ticket_id))
    return _Locked(
        status=status,
        assigned_to_id=assigned_to_id,
        ticket_ts=ticket_ts,
        closed_at=closed_at,
        recently_active=last_msg_at is not None and now - last_msg_at < credit_window,
        actor_id=actor.id,
        actor_is_asker=is_asker,
        actor_is_helper=bool(actor.helper),
    )


@retried_on_conflict
async def resolve_ticket(
    sessions: Sessions,
    *,
    ticket_id: int,
    resolver_slack_id: str,
    credit_window: timedelta = DEFAULT_CREDIT_WINDOW,
) -> Change:
    """Close the ticket, if the resolver is its asker or a helper and it is not closed yet.

    Credit (``closedBy``): the assigned helper when the thread's last message is younger
    than ``credit_window`` (a colleague closing an active thread does not take its
    credit), or when the asker resolves; otherwise the resolving helper.
    """
    async with sessions.begin() as session:
        locked = await _lock_and_authorise(
            session, ticket_id=ticket_id, actor_slack_id=resolver_slack_id, credit_window=credit_window
        )
        if isinstance(locked, Change):
            return locked
        if locked.status is TicketStatus.CLOSED:
            return Change(
                Outcome.UNCHANGED,
                await _state(session, Ticket.id == ticket_id),
                actor_is_helper=locked.actor_is_helper,
            )
        assignee_earns_it = locked.assigned_to_id is not None and (
            locked.recently_active or locked.actor_is_asker
        )
        closer_id = locked.assigned_to_id if assignee_earns_it else locked.actor_id
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(status=TicketStatus.CLOSED, closed_by_id=closer_id, closed_at=func.clock_timestamp())
        )
        return Change(
            Outcome.CHANGED,
            await _state(session, Ticket.id == ticket_id),
            actor_is_helper=locked.actor_is_helper,
        )


@retried_on_conflict
async def reopen_ticket(
    sessions: Sessions, *, ticket_id: int, reopener_slack_id: str, closure: int | None = None
) -> Change:
    """Reopen a closed ticket (its asker or a helper): open again, with a new backend message to come.

    ``closure`` (a closing message's button): act only if the ticket is still closed by
    that closure (:func:`closure_key` of its ``closedAt``); a later one is OUT_OF_DATE.
    """
    async with sessions.begin() as session:
        locked = await _lock_and_authorise(
            session,
            ticket_id=ticket_id,
            actor_slack_id=reopener_slack_id,
            credit_window=DEFAULT_CREDIT_WINDOW,
        )
        if isinstance(locked, Change):
            return locked
        if locked.status is not TicketStatus.CLOSED:
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        if closure is not None and (locked.closed_at is None or closure_key(locked.closed_at) != closure):
            return Change(Outcome.OUT_OF_DATE, await _state(session, Ticket.id == ticket_id))
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(
                status=TicketStatus.OPEN,
                closed_by_id=None,
                closed_at=None,
                reopened_by_id=locked.actor_id,
                reopened_at=func.clock_timestamp(),
                # The old backend message was removed when the ticket closed; the
                # new one's ts is set when it is posted (the repair job sees the gap).
                ticket_ts=None,
            )
        )
        ticket = await _state(session, Ticket.id == ticket_id)
    return Change(Outcome.CHANGED, ticket, previous_ticket_ts=locked.ticket_ts)


@retried_on_conflict
async def close_quiet_ticket(sessions: Sessions, *, ticket_id: int, quiet_since: datetime) -> Change:
    """Close a ticket nobody wrote in since ``quiet_since`` (the stale-tickets job).

    Credited to its assignee when it has one, to nobody otherwise. UNCHANGED when it
    is closed already, or saw a message (``lastMsgAt``) or a reopen since then.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.status, Ticket.assigned_to_id, Ticket.last_msg_at, Ticket.reopened_at)
                .where(Ticket.id == ticket_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return Change(Outcome.NOT_FOUND)
        status, assigned_to_id, last_msg_at, reopened_at = row
        heard_since = any(at is not None and at >= quiet_since for at in (last_msg_at, reopened_at))
        if status is TicketStatus.CLOSED or heard_since:
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(status=TicketStatus.CLOSED, closed_by_id=assigned_to_id, closed_at=func.clock_timestamp())
        )
        return Change(Outcome.CHANGED, await _state(session, Ticket.id == ticket_id))


@retried_on_conflict
async def note_thread_activity(sessions: Sessions, *, ticket_id: int, at: datetime) -> None:
    """The thread saw a message at ``at`` that the service missed: it is not quiet (who spoke is unknown)."""
    async with sessions.begin() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, (Ticket.last_msg_at.is_(None)) | (Ticket.last_msg_at < at))
            .values(last_msg_at=at)
        )


@retried_on_conflict
async def delete_ticket(sessions: Sessions, *, msg_ts: str) -> DeletedTicket | None:
    """The question was deleted: the ticket goes; returns the bot messages to remove from Slack."""
    async with sessions.begin() as session:
        ticket_id = await session.scalar(select(Ticket.id).where(Ticket.msg_ts == msg_ts).with_for_update())
        if ticket_id is None:
            return None
        return await _delete_locked_ticket(session, ticket_id)


async def _delete_locked_ticket(session: AsyncSession, ticket_id: int) -> DeletedTicket:
    """Delete a ticket whose row this transaction holds; returns the bot messages to remove from Slack."""
    rows = (
        await session.execute(
            select(BotMessage.channel_id, BotMessage.ts)
            .where(BotMessage.ticket_id == ticket_id)
            .order_by(BotMessage.id)
        )
    ).all()
    # BotMessage, tag and feedback rows cascade with the ticket.
    await session.execute(delete(Ticket).where(Ticket.id == ticket_id))
    return DeletedTicket(
        ticket_id=ticket_id, bot_messages=[PostedMessage(channel_id=r.channel_id, ts=r.ts) for r in rows]
    )


@retried_on_conflict
async def question_deleted(
    sessions: Sessions, *, msg_ts: str, others_wrote: bool
) -> DeletedTicket | KeptTicket | None:
    """The asker deleted the question: the ticket goes, unless its thread holds someone's work.

    Kept when ``others_wrote`` (someone besides the asker and the bot wrote in the thread,
    as Slack shows it), when a helper is assigned, or when the ticket's last message was
    someone else's: its status, assignee and credit stay, and ``questionDeletedAt`` is set
    once. Otherwise deleted as :func:`delete_ticket`. None when there is no such ticket.
    The row lock orders this against a reply being recorded: whichever commits first is
    seen by the other.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.id, Ticket.assigned_to_id, Ticket.last_msg_by, Ticket.question_deleted_at)
                .where(Ticket.msg_ts == msg_ts)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        ticket_id, assigned_to_id, last_msg_by, deleted_at = row
        keep = others_wrote or assigned_to_id is not None or last_msg_by in (UserType.HELPER, UserType.OTHER)
        if keep:
            if deleted_at is None:
                await session.execute(
                    update(Ticket).where(Ticket.id == ticket_id).values(question_deleted_at=func.now())
                )
            return KeptTicket(
                ticket=await _state(session, Ticket.id == ticket_id), newly_marked=deleted_at is None
            )
        return await _delete_locked_ticket(session, ticket_id)


# ---------------------------------------------------------------- bot messages


_CLAIM_BACKEND_MESSAGE = text(
    """WITH claimed AS (
           UPDATE "Ticket" SET "ticketTs" = :ts
           WHERE id = :ticket_id AND ("ticketTs" IS NULL OR "ticketTs" = :ts) AND status <> 'CLOSED'
           RETURNING id)
       INSERT INTO "BotMessage" (ts, "channelId", "ticketId")
       SELECT :ts, :channel_id, id FROM claimed
       ON CONFLICT (ts, "channelId") DO UPDATE SET ts = EXCLUDED.ts
       RETURNING "ticketId" """
)
_RECORD_BOT_MESSAGE = text(
    """INSERT INTO "BotMessage" (ts, "channelId", "ticketId")
       SELECT :ts, :channel_id, id FROM "Ticket" WHERE id = :ticket_id
       ON CONFLICT (ts, "channelId") DO UPDATE SET ts = EXCLUDED.ts
       RETURNING "ticketId" """
)


@retried_on_conflict
async def record_backend_message(sessions: Sessions, *, ticket_id: int, channel_id: str, ts: str) -> bool:
    """Make ``ts`` the ticket's backend message, unless it already has one or is closed or gone.

    False means the caller's message is surplus (posted twice by racing workers,
    or for a ticket that closed or vanished meanwhile) and should be deleted.
    One statement: the ticket's ``ticketTs`` and its BotMessage row, together. Recording the
    same ``ts`` again is True: a retry whose first attempt committed but lost its answer (the
    database dropped the connection) must not take its own message for a surplus one.
    """
    async with autocommit(sessions) as connection:
        result = await connection.execute(
            _CLAIM_BACKEND_MESSAGE, {"ts": ts, "ticket_id": ticket_id, "channel_id": channel_id}
        )
        return result.one_or_none() is not None


@retried_on_conflict
async def record_bot_message(sessions: Sessions, *, ticket_id: int, channel_id: str, ts: str) -> bool:
    """Remember a message the bot posted for a ticket; False if the ticket is gone."""
    try:
        async with autocommit(sessions) as connection:
            result = await connection.execute(
                _RECORD_BOT_MESSAGE, {"ts": ts, "ticket_id": ticket_id, "channel_id": channel_id}
            )
            return result.one_or_none() is not None
    except IntegrityError:  # the ticket was deleted between the read and the insert (foreign key)
        return False


@retried_on_conflict
async def forget_bot_message(sessions: Sessions, *, channel_id: str, ts: str) -> None:
    async with sessions.begin() as session:
        await session.execute(
            delete(BotMessage).where(BotMessage.channel_id == channel_id, BotMessage.ts == ts)
        )


async def bot_messages(
    sessions: Sessions, *, ticket_id: int, channel_id: str | None = None
) -> list[PostedMessage]:
    """The messages the bot posted for a ticket (in one channel when given), oldest first."""
    statement = select(BotMessage.channel_id, BotMessage.ts).where(BotMessage.ticket_id == ticket_id)
    if channel_id is not None:
        statement = statement.where(BotMessage.channel_id == channel_id)
    async with sessions() as session:
        rows = (await session.execute(statement.order_by(BotMessage.id))).all()
    return [PostedMessage(channel_id=row.channel_id, ts=row.ts) for row in rows]


# ---------------------------------------------------------------- reading


async def ticket_by_id(sessions: Sessions, ticket_id: int) -> TicketState | None:
    async with sessions() as session:
        return await _find_state(session, Ticket.id == ticket_id)


async def ticket_by_msg_ts(sessions: Sessions, msg_ts: str) -> TicketState | None:
    async with sessions() as session:
        return await _find_state(session, Ticket.msg_ts == msg_ts)


async def previous_ticket_count(sessions: Sessions, *, ticket_id: int) -> int:
    """How many tickets the ticket's asker opened before it."""
    async with sessions() as session:
        return await _previous_tickets(session, ticket_id)


async def _previous_tickets(session: AsyncSession, ticket_id: int) -> int:
    opener = select(Ticket.opened_by_id).where(Ticket.id == ticket_id).scalar_subquery()
    return (
        await session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(Ticket.opened_by_id == opener, Ticket.id < ticket_id)
        )
    ) or 0


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
    changed_at = func.coalesce(Ticket.reopened_at, Ticket.created_at)
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


# Built once, so the statement is the same object shape each time and SQLAlchemy's compiled cache hits.
_OPENER = User.__table__.alias("opener")
_ASSIGNEE = User.__table__.alias("assignee")
_CLOSER = User.__table__.alias("closer")


async def _state(session: AsyncSession, where) -> TicketState:
    """The ticket, which the caller knows exists (it holds the row's lock, or just wrote it)."""
    state = await _find_state(session, where)
    if state is None:
        raise LookupError("ticket not found")
    return state


async def _find_state(session: AsyncSession, where) -> TicketState | None:
    opener, assignee, closer = _OPENER, _ASSIGNEE, _CLOSER
    row = (
        await session.execute(
            select(
                Ticket.id,
                Ticket.title,
                Ticket.description,
                Ticket.status,
                Ticket.msg_ts,
                Ticket.ticket_ts,
                opener.c.slackId,
                assignee.c.slackId,
                closer.c.slackId,
                Ticket.closed_at,
                Ticket.question_deleted_at,
            )
            .join(opener, opener.c.id == Ticket.opened_by_id)
            .outerjoin(assignee, assignee.c.id == Ticket.assigned_to_id)
            .outerjoin(closer, closer.c.id == Ticket.closed_by_id)
            .where(where)
        )
    ).one_or_none()
    if row is None:
        return None
    return TicketState(
        id=row[0],
        title=row[1],
        description=row[2],
        status=row[3],
        msg_ts=row[4],
        ticket_ts=row[5],
        opened_by_slack_id=row[6],
        assigned_to_slack_id=row[7],
        closed_by_slack_id=row[8],
        closed_at=row[9],
        question_deleted=row[10] is not None,
    )


# ---------------------------------------------------------------- the App Home's reads


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


# One statement: the page of tickets, its tags and the total, served by the partial index
# "Ticket_assigned_unclosed_idx" (migration 0010).
_ASSIGNED_PAGE = text(
    """WITH mine AS (
           SELECT t.id, t.title, t."msgTs", t.status, t."openedById", t."createdAt", t."lastMsgBy"
           FROM "Ticket" t JOIN "User" me ON me.id = t."assignedToId"
           WHERE me."slackId" = :slack_id AND t.status <> 'CLOSED')
       SELECT p.id, p.title, p."msgTs" AS msg_ts, p.status, asker."slackId" AS asker_slack_id,
              p."createdAt" AS created_at, p."lastMsgBy" AS last_msg_by,
              coalesce((SELECT array_agg(g.name ORDER BY lower(g.name), g.id)
                        FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId"
                        WHERE tt."ticketId" = p.id), '{}') AS tags,
              (SELECT count(*) FROM mine) AS total
       FROM (SELECT * FROM mine ORDER BY "createdAt", id LIMIT :limit OFFSET :offset) p
       JOIN "User" asker ON asker.id = p."openedById"
       ORDER BY p."createdAt", p.id"""
)
_ASSIGNED_TOTAL = text(
    """SELECT count(*) FROM "Ticket" t JOIN "User" me ON me.id = t."assignedToId"
       WHERE me."slackId" = :slack_id AND t.status <> 'CLOSED'"""
)


async def assigned_tickets(
    sessions: Sessions, *, helper_slack_id: str, offset: int, limit: int
) -> AssignedPage:
    """The helper's open and in-progress tickets, oldest first: ``limit`` of them from ``offset``, and how many."""
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


@dataclass(frozen=True)
class Viewer:
    """Who is looking at the App Home: what they may see and do, and the view they last chose."""

    slack_id: str
    helper: bool
    admin: bool
    last_view: str | None


async def viewer(sessions: Sessions, *, slack_id: str, maintainer_id: str | None) -> Viewer:
    """The person's roles and remembered view (a stranger: neither helper nor admin, no view).

    Admins are users with ``User.admin``, and always the maintainer (SLACK_MAINTAINER_ID).
    """
    async with sessions() as session:
        row = (
            await session.execute(
                select(User.helper, User.admin, User.app_home_last_view).where(User.slack_id == slack_id)
            )
        ).one_or_none()
    is_maintainer = maintainer_id is not None and slack_id == maintainer_id
    if row is None:
        return Viewer(slack_id=slack_id, helper=False, admin=is_maintainer, last_view=None)
    return Viewer(
        slack_id=slack_id,
        helper=bool(row.helper),
        admin=bool(row.admin) or is_maintainer,
        last_view=row.app_home_last_view,
    )


async def remember_home_view(sessions: Sessions, *, slack_id: str, view: str) -> None:
    """Remember the App Home view the person chose (their row is created if needed)."""
    async with autocommit(sessions) as connection:
        await connection.execute(
            text(
                """INSERT INTO "User" ("slackId", "appHomeLastView") VALUES (:slack_id, :view)
                   ON CONFLICT ("slackId") DO UPDATE SET "appHomeLastView" = EXCLUDED."appHomeLastView"
                   WHERE "User"."appHomeLastView" IS DISTINCT FROM EXCLUDED."appHomeLastView" """
            ),
            {"slack_id": slack_id, "view": view},
        )


@retried_on_conflict
async def set_admin(sessions: Sessions, *, slack_id: str, admin: bool) -> bool:
    """Grant or remove admin rights (``nephthys users admin``); True when that changed something.

    Removing never creates the user: someone Nephthys has not met is not an admin already.
    """
    async with sessions.begin() as session:
        if admin:
            user = User.id == await _upsert_user(session, slack_id=slack_id)
        else:
            user = User.slack_id == slack_id
        result = await session.execute(
            update(User).where(user, User.admin.is_distinct_from(admin)).values(admin=admin)
        )
        return bool(getattr(result, "rowcount", 0))
