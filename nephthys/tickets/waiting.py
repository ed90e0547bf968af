"""Reads for the scheduled jobs: tickets gone quiet, tickets waiting for a helper, a tag's open tickets."""

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
            FROM "Ticket" t WHERE t.status IN ('OPEN', 'IN_PROGRESS')
              AND coalesce(t."lastMsgAt", t."createdAt") < CAST(:quiet_before AS timestamptz)) q
        WHERE quiet_since < CAST(:quiet_before AS timestamptz)
        ORDER BY quiet_since, id LIMIT CAST(:limit AS int)"""
)


async def quiet_tickets(sessions: Sessions, *, quiet_before: datetime, limit: int) -> list[QuietTicket]:
    """Tickets not closed whose thread has seen nothing since before ``quiet_before``, quietest first."""
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
