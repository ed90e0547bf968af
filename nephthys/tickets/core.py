"""What every ticket change shares: the outcomes it returns, the ticket as the Slack side sees it,
the retry on a deadlock, autocommit connections and the ticket's read-back."""

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

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from nephthys.database import raw
from nephthys.database.models import Ticket, TicketStatus, User, UserType, WaitingOn

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
    # Whom it waits on and since when (nephthys/tickets/timeline.py); None once closed.
    waiting_on: WaitingOn | None = None
    waiting_since: datetime | None = None


@dataclass(frozen=True)
class OpenedTicket:
    ticket: TicketState
    created: bool  # False when the question already had its ticket (a redelivery)
    previous_tickets: int  # tickets the asker opened before this one
    asker_has_username: bool = True  # False: worth asking users.info once
    # False: created without SLA clocks (no default targets, and a new ticket has no tags), so its
    # first backend message has no SLA line to read.
    may_have_clocks: bool = True


@dataclass(frozen=True)
class ReplyRecorded:
    ticket: TicketState
    by: UserType
    assigned: bool  # this reply (a helper's) assigned the ticket
    # Who held the ticket before this reply took it (their App Home loses it); None if nobody else.
    previous_assignee_slack_id: str | None = None
    # This reply changed whom the ticket waits on, or since when (its backend message says it).
    waiting_changed: bool = False


@dataclass(frozen=True)
class MacroRecorded:
    """A helper's macro on the timeline (``record_helper_macro``)."""

    logged: bool  # False: the ticket is gone, or this macro was logged before
    waiting_changed: bool = False  # it changed whom the ticket waits on, or since when


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


@contextlib.asynccontextmanager
async def autocommit(sessions: Sessions) -> AsyncIterator[AsyncConnection]:
    """A connection from the sessions' pool on which each statement commits by itself."""
    async with sessions.kw["bind"].connect() as connection:
        yield await connection.execution_options(isolation_level="AUTOCOMMIT")


# Built once, so the statement is the same object shape each time and SQLAlchemy's compiled cache hits.
_OPENER = User.__table__.alias("opener")
_ASSIGNEE = User.__table__.alias("assignee")
_CLOSER = User.__table__.alias("closer")


# ``_find_state``'s read as one text statement, for the hot path's raw connections (nephthys/database/raw.py).
_STATE_BY_ID = text(
    """SELECT t.id, t.title, t.description, t.status, t."msgTs", t."ticketTs", opener."slackId" AS opener,
              assignee."slackId" AS assignee, closer."slackId" AS closer, t."closedAt",
              t."questionDeletedAt", t."waitingOn", t."waitingSince"
       FROM "Ticket" t
       JOIN "User" opener ON opener.id = t."openedById"
       LEFT JOIN "User" assignee ON assignee.id = t."assignedToId"
       LEFT JOIN "User" closer ON closer.id = t."closedById"
       WHERE t.id = :ticket_id"""
)


async def state_by_id(executor: raw.Executor, ticket_id: int) -> TicketState | None:
    """The ticket as the Slack side needs it, read in one statement on any executor."""
    row = (await executor.execute(_STATE_BY_ID, {"ticket_id": ticket_id})).one_or_none()
    return None if row is None else state_from_row(row)


def state_from_row(row) -> TicketState:
    """A ticket from a row whose first columns are ``_STATE_BY_ID``'s, in its order."""
    return TicketState(
        id=row[0],
        title=row[1],
        description=row[2],
        status=TicketStatus(row[3]),
        msg_ts=row[4],
        ticket_ts=row[5],
        opened_by_slack_id=row[6],
        assigned_to_slack_id=row[7],
        closed_by_slack_id=row[8],
        closed_at=row[9],
        question_deleted=row[10] is not None,
        waiting_on=None if row[11] is None else WaitingOn(row[11]),
        waiting_since=row[12],
    )


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
                Ticket.waiting_on,
                Ticket.waiting_since,
            )
            .join(opener, opener.c.id == Ticket.opened_by_id)
            .outerjoin(assignee, assignee.c.id == Ticket.assigned_to_id)
            .outerjoin(closer, closer.c.id == Ticket.closed_by_id)
            .where(where)
        )
    ).one_or_none()
    # The ORM row holds the enums already; state_from_row's conversions leave them as they are.
    return None if row is None else state_from_row(row)
