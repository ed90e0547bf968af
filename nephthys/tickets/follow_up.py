"""The asker follow-up's changes: a nudge logged, and the asker's "I still need help".

A ticket waiting on its asker (``waitingOn`` ASKER, since ``waitingSince``) long enough gets one
nudge per wait (nephthys/tasks/asker_follow_up.py). A wait is named by its key, the
``closure_key`` of its ``waitingSince`` (whole milliseconds, as stored): the nudge's buttons
carry it, so an answer acts on the wait it was asked about and on no later one. The nudge's Yes
is a resolve (``resolve_ticket(nudged_wait=...)``); closing a nudge nobody answered is
``close_quiet_ticket(nudged_at=...)``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from nephthys.database.models import (
    Ticket,
    TicketEventKind,
    TicketStatus,
    User,
    UserType,
    WaitingOn,
)
from nephthys.tickets import events, timeline
from nephthys.tickets.core import Change, Outcome, Sessions, _state, closure_key, retried_on_conflict
from nephthys.tickets.events import Event


def wait_key(waiting_since: datetime) -> int:
    """A wait's identity for a button value: its ``waitingSince`` in whole milliseconds."""
    return closure_key(waiting_since)


@retried_on_conflict
async def record_nudge(
    sessions: Sessions, *, ticket_id: int, waiting_since: datetime, at: datetime, msg_ts: str
) -> Change:
    """Log the nudge (NUDGED at ``at``, the job's clock, with its message ``msg_ts``) of the wait
    on the asker that began at ``waiting_since``.

    OUT_OF_DATE when that wait is over (the asker spoke, the ticket closed: the nudge posted for it
    should go); UNCHANGED when the wait has its nudge already; CHANGED when this one is logged.
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.status, Ticket.waiting_on, Ticket.waiting_since, Ticket.nudged_at)
                .where(Ticket.id == ticket_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return Change(Outcome.NOT_FOUND)
        status, waiting_on, since, nudged_at = row
        if status is TicketStatus.CLOSED or waiting_on is not WaitingOn.ASKER or since != waiting_since:
            return Change(Outcome.OUT_OF_DATE, await _state(session, Ticket.id == ticket_id))
        if nudged_at is not None:
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        await events.record_events(
            session, ticket_id=ticket_id, at=at, events=[Event(TicketEventKind.NUDGED, None, msg_ts)]
        )
        await timeline.refresh(session, ticket_id)  # "nudgedAt"
        return Change(Outcome.CHANGED, await _state(session, Ticket.id == ticket_id))


@retried_on_conflict
async def asker_needs_help(
    sessions: Sessions, *, ticket_id: int, asker_slack_id: str, nudged_wait: int, at: datetime | None
) -> Change:
    """The asker answered a nudge "I still need help": the ticket waits on the helpers again.

    On the timeline it is the asker's message (ASKER_MESSAGE at ``at``, the click's
    ``action_ts``, without a Slack message), so the wait and the next response follow as if the
    asker had written. NOT_ALLOWED for anyone but the asker; OUT_OF_DATE when the ticket is
    closed or waits on the asker in a later wait than ``nudged_wait``; UNCHANGED when it already
    waits on the helpers (the asker wrote since, or this answer was given before).
    """
    async with sessions.begin() as session:
        row = (
            await session.execute(
                select(Ticket.status, Ticket.opened_by_id, Ticket.waiting_on, Ticket.waiting_since)
                .where(Ticket.id == ticket_id)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return Change(Outcome.NOT_FOUND)
        status, opened_by_id, waiting_on, waiting_since = row
        actor_id = await session.scalar(select(User.id).where(User.slack_id == asker_slack_id))
        if actor_id is None or actor_id != opened_by_id:
            return Change(Outcome.NOT_ALLOWED, await _state(session, Ticket.id == ticket_id))
        if status is TicketStatus.CLOSED:
            return Change(Outcome.OUT_OF_DATE, await _state(session, Ticket.id == ticket_id))
        if waiting_on is WaitingOn.HELPERS:
            return Change(Outcome.UNCHANGED, await _state(session, Ticket.id == ticket_id))
        if (
            waiting_on is not WaitingOn.ASKER
            or waiting_since is None
            or wait_key(waiting_since) != nudged_wait
        ):
            return Change(Outcome.OUT_OF_DATE, await _state(session, Ticket.id == ticket_id))
        await events.record_events(
            session, ticket_id=ticket_id, at=at, events=[Event(TicketEventKind.ASKER_MESSAGE, actor_id)]
        )
        # As a message from the asker would (record_reply): the thread's last sign of life.
        await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(last_msg_at=func.clock_timestamp(), last_msg_by=UserType.AUTHOR)
        )
        await timeline.refresh(session, ticket_id)
        return Change(Outcome.CHANGED, await _state(session, Ticket.id == ticket_id))
