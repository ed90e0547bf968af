"""Reads for the scheduled jobs: tickets gone quiet, tickets waiting for a helper, tickets to follow up
with their asker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from nephthys.tickets.lifecycle import Sessions


@dataclass(frozen=True)
class QuietTicket:
    id: int
    msg_ts: str
    quiet_since: datetime


@dataclass(frozen=True)
class WaitingTicket:
    id: int
    title: str
    msg_ts: str
    opened_at: datetime  # created, or reopened
    asker_slack_id: str
    alert_period: str  # the ticket's alert claim for this opening (JobRun period)
    subscriber_slack_ids: list[str]


# The last sign of life in a thread: a message someone wrote (lastMsgAt), a reopen,
# or the bot's own messages (BotMessage ts is the message's Unix time).
_LAST_ACTIVITY = """greatest(
    t."lastMsgAt", t."reopenedAt", t."createdAt",
    (SELECT to_timestamp(max(split_part(b.ts, '.', 1)::bigint)) FROM "BotMessage" b WHERE b."ticketId" = t.id))"""

_QUIET = text(
    f"""SELECT id, "msgTs", quiet_since FROM (
            SELECT t.id, t."msgTs", {_LAST_ACTIVITY} AS quiet_since
            FROM "Ticket" t WHERE t.status IN ('OPEN', 'IN_PROGRESS') AND t."waitingOn" = 'ASKER'
              AND coalesce(t."lastMsgAt", t."createdAt") < CAST(:quiet_before AS timestamptz)) q
        WHERE quiet_since < CAST(:quiet_before AS timestamptz)
        ORDER BY quiet_since, id LIMIT CAST(:limit AS int)"""
)


async def quiet_tickets(sessions: Sessions, *, quiet_before: datetime, limit: int) -> list[QuietTicket]:
    """Tickets waiting on their asker whose thread has seen nothing since before ``quiet_before``,
    quietest first (a ticket waiting on the helpers is never stale: the team owes it an answer)."""
    async with sessions() as session:
        rows = (await session.execute(_QUIET, {"quiet_before": quiet_before, "limit": limit})).all()
    return [QuietTicket(id=r.id, msg_ts=r.msgTs, quiet_since=r.quiet_since) for r in rows]


ALERT_JOB = "unanswered-alerts"
_OPENED_AT = 'coalesce(t."reopenedAt", t."createdAt")'
_ALERT_PERIOD = f"""'ticket ' || t.id || ' opened ' || (extract(epoch FROM {_OPENED_AT}) * 1000)::bigint"""

_WAITING = text(
    f"""SELECT t.id, t.title, t."msgTs", {_OPENED_AT} AS opened_at, u."slackId" AS asker, {_ALERT_PERIOD} AS period,
               (SELECT coalesce(array_agg(DISTINCT s."slackId" ORDER BY s."slackId"), '{{}}')
                FROM tags_on_tickets tt
                JOIN user_tag_subscriptions us ON us."tagId" = tt."tagId"
                JOIN "User" s ON s.id = us."userId"
                WHERE tt."ticketId" = t.id) AS subscribers
        FROM "Ticket" t JOIN "User" u ON u.id = t."openedById"
        WHERE t.status = 'OPEN'
          AND {_OPENED_AT} < CAST(:opened_before AS timestamptz)
          AND {_OPENED_AT} >= CAST(:opened_after AS timestamptz)
          AND NOT EXISTS (SELECT 1 FROM "JobRun" r WHERE r.job = '{ALERT_JOB}' AND r.period = {_ALERT_PERIOD}
                          AND r.outcome = 'done')
        ORDER BY opened_at, t.id LIMIT CAST(:limit AS int)"""
)


async def tickets_waiting_for_a_helper(
    sessions: Sessions, *, opened_before: datetime, opened_after: datetime, limit: int
) -> list[WaitingTicket]:
    """OPEN tickets (no helper reply since they were opened) opened in ``[opened_after, opened_before)``
    and not yet alerted for this opening, oldest first."""
    params = {"opened_before": opened_before, "opened_after": opened_after, "limit": limit}
    async with sessions() as session:
        rows = (await session.execute(_WAITING, params)).all()
    return [
        WaitingTicket(
            id=r.id,
            title=r.title,
            msg_ts=r.msgTs,
            opened_at=r.opened_at,
            asker_slack_id=r.asker,
            alert_period=r.period,
            subscriber_slack_ids=list(r.subscribers),
        )
        for r in rows
    ]


@dataclass(frozen=True)
class FollowUpTicket:
    """A ticket waiting on its asker that the asker follow-up has work for."""

    id: int
    msg_ts: str
    asker_slack_id: str
    waiting_since: datetime  # the current wait on the asker began
    nudged_at: datetime | None  # this wait's nudge; None: not nudged yet (the work is the nudge)
    nudge_ts: str | None  # the nudge's message


# Each half is one range of a partial index (migration 0022): waits on the asker not nudged, by
# their start; nudged tickets, by their nudge. With nothing due both ranges are empty.
_FOLLOW_UP = text(
    """WITH due AS (
            (SELECT t.id, t."waitingSince" AS due_since FROM "Ticket" t
              WHERE t."waitingOn" = 'ASKER' AND t."nudgedAt" IS NULL
                AND t."waitingSince" >= CAST(:nudge_after AS timestamptz)
                AND t."waitingSince" < CAST(:nudge_before AS timestamptz)
              ORDER BY t."waitingSince" LIMIT CAST(:limit AS int))
            UNION ALL
            (SELECT t.id, t."nudgedAt" FROM "Ticket" t
              WHERE t."nudgedAt" < CAST(:close_before AS timestamptz)
                AND coalesce(t."lastMsgAt", '-infinity') < CAST(:close_before AS timestamptz)
              ORDER BY t."nudgedAt" LIMIT CAST(:limit AS int)))
        SELECT t.id, t."msgTs", u."slackId" AS asker, t."waitingSince" AS waiting_since,
               t."nudgedAt" AS nudged_at, n."msgTs" AS nudge_ts
        FROM due
        JOIN "Ticket" t ON t.id = due.id
        JOIN "User" u ON u.id = t."openedById"
        LEFT JOIN LATERAL (
            SELECT e."msgTs" FROM "TicketEvent" e
            WHERE e."ticketId" = t.id AND e.at = t."nudgedAt" AND e.kind = 'NUDGED'
            ORDER BY e.id LIMIT 1) n ON true
        ORDER BY due.due_since, t.id LIMIT CAST(:limit AS int)"""
)


async def tickets_to_follow_up(
    sessions: Sessions,
    *,
    nudge_before: datetime,
    nudge_after: datetime,
    close_before: datetime | None,
    limit: int,
) -> list[FollowUpTicket]:
    """Tickets waiting on their asker that the asker follow-up has work for, the longest due first:

    - due a nudge: the wait began in ``[nudge_after, nudge_before)`` and has no nudge yet;
    - due a close: the wait was nudged, and that nudge and the thread's last message are older than
      ``close_before`` (None: never due).
    """
    params = {
        "nudge_before": nudge_before,
        "nudge_after": nudge_after,
        "close_before": close_before,
        "limit": limit,
    }
    async with sessions() as session:
        # One statement, one snapshot: autocommit spares the BEGIN and ROLLBACK round trips of a run
        # that, most of the time, finds nothing.
        connection = await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        rows = (await connection.execute(_FOLLOW_UP, params)).all()
    return [
        FollowUpTicket(
            id=r.id,
            msg_ts=r.msgTs,
            asker_slack_id=r.asker,
            waiting_since=r.waiting_since,
            nudged_at=r.nudged_at,
            nudge_ts=r.nudge_ts,
        )
        for r in rows
    ]
