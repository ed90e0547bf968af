"""Closing and reopening: a resolve (button, macro, a nudge's Yes), a reopen, the jobs' quiet close."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from nephthys.database.models import Ticket, TicketEventKind, TicketStatus, User, WaitingOn
from nephthys.memory import index as memory_index
from nephthys.tickets import events, timeline
from nephthys.tickets.core import (
    DEFAULT_CREDIT_WINDOW,
    Change,
    Outcome,
    Sessions,
    _state,
    closure_key,
    retried_on_conflict,
)
from nephthys.tickets.events import Event


def _instant(at: datetime | None):
    """``at``, or the time the row lock was granted when there is no Slack instant."""
    return at if at is not None else func.clock_timestamp()


@dataclass(frozen=True)
class _Locked:
    """A ticket's row, locked, and who is acting on it."""

    status: TicketStatus
    assigned_to_id: int | None
    ticket_ts: str | None
    closed_at: datetime | None
    reopened_at: datetime | None
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
                Ticket.reopened_at,
                Ticket.last_msg_at,
                func.now(),
            )
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
        )
    ).one_or_none()
    if row is None:
        return Change(Outcome.NOT_FOUND)
    status, opened_by_id, assigned_to_id, ticket_ts, closed_at, reopened_at, last_msg_at, now = row
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
        reopened_at=reopened_at,
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
    at: datetime | None = None,
    msg_ts: str | None = None,
    nudged_wait: int | None = None,
) -> Change:
    """Close the ticket, if the resolver is its asker or a helper and it is not closed yet.

    ``at``: the closing click's ``action_ts`` or the macro message's ts (``msg_ts``), the
    ticket's ``closedAt`` and its CLOSED event's instant (by the resolver); None: the
    database's clock. A macro message that closed the ticket once is UNCHANGED if it comes
    again (replayed work), even after a reopen.

    Credit (``closedBy``): the assigned helper when the thread's last message is younger
    than ``credit_window`` (a colleague closing an active thread does not take its
    credit), or when the asker resolves; otherwise the resolving helper.

    ``nudged_wait`` (the asker follow-up's Yes, nephthys/tickets/follow_up.py): the key of the
    wait on the asker the nudge was posted for. Only the asker may answer it (NOT_ALLOWED), and
    only while the ticket has not been reopened since that wait began (OUT_OF_DATE).
    """
    async with sessions.begin() as session:
        locked = await _lock_and_authorise(
            session, ticket_id=ticket_id, actor_slack_id=resolver_slack_id, credit_window=credit_window
        )
        if isinstance(locked, Change):
            return locked
        if nudged_wait is not None and not locked.actor_is_asker:
            return Change(Outcome.NOT_ALLOWED, await _state(session, Ticket.id == ticket_id))
        if locked.status is TicketStatus.CLOSED:
            return Change(
                Outcome.UNCHANGED,
                await _state(session, Ticket.id == ticket_id),
                actor_is_helper=locked.actor_is_helper,
            )
        if (
            nudged_wait is not None
            and locked.reopened_at is not None
            and closure_key(locked.reopened_at) > nudged_wait
        ):
            # Closed and reopened since the nudge: its Yes answered a question asked of another opening.
            return Change(Outcome.OUT_OF_DATE, await _state(session, Ticket.id == ticket_id))
        assignee_earns_it = locked.assigned_to_id is not None and (
            locked.recently_active or locked.actor_is_asker
        )
        closer_id = locked.assigned_to_id if assignee_earns_it else locked.actor_id
        logged = await events.record_events(
            session,
            ticket_id=ticket_id,
            at=at,
            events=[Event(TicketEventKind.CLOSED, locked.actor_id, msg_ts)],
        )
        if not logged:  # this macro message closed it once already (replayed work): not again
            return Change(
                Outcome.UNCHANGED,
                await _state(session, Ticket.id == ticket_id),
                actor_is_helper=locked.actor_is_helper,
            )
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(status=TicketStatus.CLOSED, closed_by_id=closer_id, closed_at=_instant(at))
        )
        await timeline.refresh(session, ticket_id)
        await memory_index.closed_or_reopened(session, ticket_id=ticket_id)
        return Change(
            Outcome.CHANGED,
            await _state(session, Ticket.id == ticket_id),
            actor_is_helper=locked.actor_is_helper,
        )


@retried_on_conflict
async def reopen_ticket(
    sessions: Sessions,
    *,
    ticket_id: int,
    reopener_slack_id: str,
    closure: int | None = None,
    at: datetime | None = None,
    msg_ts: str | None = None,
) -> Change:
    """Reopen a closed ticket (its asker or a helper): open again, with a new backend message to come.

    ``at``: the Re-open click's ``action_ts`` or the macro message's ts (``msg_ts``), the
    ticket's ``reopenedAt`` and its REOPENED event's instant; None: the database's clock.

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
        logged = await events.record_events(
            session,
            ticket_id=ticket_id,
            at=at,
            events=[Event(TicketEventKind.REOPENED, locked.actor_id, msg_ts)],
        )
        if not logged:  # this macro message reopened it once already (replayed work): not again
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(
                status=TicketStatus.OPEN,
                closed_by_id=None,
                closed_at=None,
                reopened_by_id=locked.actor_id,
                reopened_at=_instant(at),
                # The old backend message was removed when the ticket closed; the
                # new one's ts is set when it is posted (the repair job sees the gap).
                ticket_ts=None,
            )
        )
        await timeline.refresh(session, ticket_id)
        await memory_index.closed_or_reopened(session, ticket_id=ticket_id)
        ticket = await _state(session, Ticket.id == ticket_id)
    return Change(Outcome.CHANGED, ticket, previous_ticket_ts=locked.ticket_ts)


@retried_on_conflict
async def close_quiet_ticket(
    sessions: Sessions,
    *,
    ticket_id: int,
    quiet_since: datetime,
    at: datetime | None = None,
    nudged_at: datetime | None = None,
) -> Change:
    """Close a ticket waiting on its asker that nobody wrote in since ``quiet_since`` (the
    stale-tickets job; the asker follow-up, for a nudge nobody answered).

    ``at``: the job's clock (no Slack instant exists), the ``closedAt`` and the CLOSED event's
    instant, by the bot; None: the database's clock. ``nudged_at``: the asker follow-up's nudge,
    which must still be the nudge of the ticket's current wait on the asker ("nudgedAt").

    Credited to its assignee when it has one, to nobody otherwise. UNCHANGED when it is closed
    already, waits on the helpers (no job closes a question the team owes an answer), or saw a
    message (``lastMsgAt``) or a reopen since ``quiet_since``.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(
                    Ticket.status,
                    Ticket.assigned_to_id,
                    Ticket.last_msg_at,
                    Ticket.reopened_at,
                    Ticket.waiting_on,
                    Ticket.nudged_at,
                )
                .where(Ticket.id == ticket_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return Change(Outcome.NOT_FOUND)
        status, assigned_to_id, last_msg_at, reopened_at, waiting_on, current_nudge = row
        heard_since = any(at is not None and at >= quiet_since for at in (last_msg_at, reopened_at))
        waits_on_asker = waiting_on is WaitingOn.ASKER and (nudged_at is None or current_nudge == nudged_at)
        if status is TicketStatus.CLOSED or heard_since or not waits_on_asker:
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(status=TicketStatus.CLOSED, closed_by_id=assigned_to_id, closed_at=_instant(at))
        )
        await events.record_events(
            session, ticket_id=ticket_id, at=at, events=[Event(TicketEventKind.CLOSED, None)]
        )
        await timeline.refresh(session, ticket_id)
        await memory_index.closed_or_reopened(session, ticket_id=ticket_id)
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
