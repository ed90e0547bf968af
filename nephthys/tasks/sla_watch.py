"""The SLA watcher (``sla-watch``): warn before a target is missed, post the breach when it is.

Every ``EVERY_SECONDS`` (an interval job under its advisory lock) a run first reads the running
clocks whose next work is due at the job's clock (``nephthys.sla.due.clocks_due``: a range of a
partial index, empty when nothing is due: then the run is that one read), the longest due first, at
most ``per_run`` of them. With work to do it claims the current UTC minute (one "JobRun" row per
job, period ``minute``, moved forward by a conditional upsert), so across instances the work of a
minute is done once; a run finding its minute taken does nothing. The work:

- **Warning**, once a clock has run SLA_WARN_AT of its target (in support minutes): a DM to the
  ticket's assignee; when unassigned, to each subscriber of its team tags; when it has none, in
  the team channel. It says the clock, the ticket (linked) and the support time left.
- **Breach**, once a clock reaches its target: one post in the team channel (SLACK_BTS_CHANNEL)
  mentioning the assignee and the team tags' subscribers, linked to the thread; the ticket's
  backend message is rendered again (its SLA line now says the target was missed). A clock whose
  warning was never sent (the service was down through it) gets only the breach.

After a change of the SLA settings nothing is due until the open and in-progress tickets' clocks
follow the new policy (nephthys/sla/install.py, nephthys/sla/due.py): a warning or a breach is never
posted from a clock of the old one.

Each warning and breach is first logged on the ticket's timeline (SLA_WARNED / SLA_BREACHED with
the clock, ``lifecycle.record_sla_event``): the insert is the claim (a unique index on the clock),
committed before anything is posted, so a restart, a second instance or a repeated run never
posts it twice. A post that fails after its claim is not tried again (never twice beats late):
the run reports it and the heartbeat channel hears of it.

Slack's limits: a run's posts are coalesced, one message per recipient (every warning for that
person, or every breach in the team channel, a line each), spaced ``interval_seconds`` apart; a 429
is waited out by slack_sdk's handler, and what is left waits for the next minute.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from nephthys.database.models import TicketEventKind, TicketSpanKind
from nephthys.sla.clocks import CLOCK_NAMES
from nephthys.sla.due import DueClock, clocks_due
from nephthys.sla.install import recompute_state
from nephthys.slack import flows
from nephthys.slack.client import PostTag
from nephthys.slack.context import NO_TEAM_CHANNEL
from nephthys.slack.mentions import neutralise_mentions
from nephthys.stats import MessageLinks
from nephthys.tasks.schedule import describe_interval
from nephthys.tasks.service_job import ServiceJob
from nephthys.tasks.summary import duration
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import autocommit

log = logging.getLogger(__name__)

NAME = "sla-watch"
EVERY_SECONDS = 30  # twice a minute, so no minute is missed; the minute's claim keeps it to one run
PER_RUN = 40
# Breaches share the team channel (about one post a second); warnings go to people's DMs.
INTERVAL_SECONDS = 1.1
NOTHING_DONE = "warned 0, posted 0 breaches"

_CLAIM_MINUTE = text(
    """INSERT INTO "JobRun" (job, period, "startedAt") VALUES (:job, 'minute', :minute)
       ON CONFLICT (job, period) DO UPDATE
       SET "startedAt" = EXCLUDED."startedAt", "finishedAt" = NULL, outcome = NULL, detail = NULL
       WHERE "JobRun"."startedAt" < EXCLUDED."startedAt"
       RETURNING id"""
)
_FINISH_MINUTE = text(
    """UPDATE "JobRun" SET "finishedAt" = clock_timestamp(), outcome = :outcome, detail = :detail
       WHERE job = :job AND period = 'minute' AND "startedAt" = :minute"""
)


def minute_of(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(second=0, microsecond=0)


@dataclass
class SlaWatch(ServiceJob):
    per_run: int = PER_RUN
    interval_seconds: float = INTERVAL_SECONDS

    def off_reason(self) -> str | None:
        if not self.ctx.channels.bts:
            return NO_TEAM_CHANNEL
        return None

    def schedule(self) -> str:
        share = round(self.ctx.settings.sla_warn_at * 100)
        return (
            f"every minute (checked every {describe_interval(EVERY_SECONDS)}); warns at {share}% of a "
            f"target, posts breaches in the team channel"
        )

    async def run(self, dry_run: bool = False) -> str:
        """Warn and post the breaches due now; returns what it did (or, dry, what it would do)."""
        ctx = self.ctx
        now = self.now()
        if dry_run:
            due = await clocks_due(ctx.sessions, now=now, limit=self.per_run)
            if not due:
                recomputing = await recompute_state(ctx.sessions)
                if recomputing.pending is not None and recomputing.active_done_at is None:
                    return f"nothing acted on until the active tickets' clocks follow the new policy ({recomputing.describe()})"
            return "\n".join(self._would(clock, now) for clock in due) or "nothing due"
        if ctx.channels.bts is None:
            return "off"
        # With nothing due a run is this one read (an empty index range): no claim, nothing written.
        due = await clocks_due(ctx.sessions, now=now, limit=self.per_run)
        if not due:
            return NOTHING_DONE
        minute = minute_of(now)
        async with autocommit(ctx.sessions) as connection:
            claimed = await connection.scalar(_CLAIM_MINUTE, {"job": NAME, "minute": minute})
        if claimed is None:
            return f"minute {minute:%H:%M} UTC already watched"
        outcome, detail = "failed", "the run died"
        try:
            detail = await self._watch(now, due)
            outcome = "done"
            return detail
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"[:500]
            raise
        finally:
            async with autocommit(ctx.sessions) as connection:
                await connection.execute(
                    _FINISH_MINUTE,
                    {"job": NAME, "minute": minute, "outcome": outcome, "detail": detail[:500]},
                )

    def _would(self, clock: DueClock, now: datetime) -> str:
        what = "breach" if clock.breached_at(now) else "warn"
        return f"would {what} #{clock.ticket_id}'s {CLOCK_NAMES[clock.clock].replace('_', ' ')} (due {clock.due_at:%Y-%m-%d %H:%M} UTC)"

    async def _watch(self, now: datetime, due: list[DueClock]) -> str:
        """Claim each due clock's warning or breach (its event), then post them coalesced: one message
        per recipient with every warning for them, one message in the team channel with every breach."""
        ctx = self.ctx
        team_channel = ctx.channels.bts
        assert team_channel is not None  # run() returns "off" without one
        claims = [
            lifecycle.SlaClaim(
                clock.ticket_id,
                clock.clock,
                clock.start_at,
                TicketEventKind.SLA_BREACHED if clock.breached_at(now) else TicketEventKind.SLA_WARNED,
            )
            for clock in due
        ]
        logged = await lifecycle.record_sla_events(ctx.sessions, claims=claims, at=now)
        # recipient -> [(event id, ticket id, line)], in the order the clocks fell due.
        messages: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
        breaches: list[tuple[int, int, str]] = []
        warned = 0
        for clock in due:
            event_id = logged.get((clock.ticket_id, clock.clock))
            if event_id is None:  # another run logged it, or the ticket moved on since the read
                continue
            if clock.breached_at(now):
                breaches.append((event_id, clock.ticket_id, self._breach_text(clock)))
                continue
            warned += 1
            for recipient in self._warning_recipients(clock, team_channel):
                messages[recipient].append((event_id, clock.ticket_id, self._warning_text(clock, now)))
        if breaches:
            messages[team_channel].extend(breaches)
        failed = posts = 0
        notes: list[tuple[int, str]] = []
        for recipient, lines in messages.items():
            if posts and self.interval_seconds:
                await asyncio.sleep(self.interval_seconds)
            posts += 1
            try:
                ts = await ctx.client.post_message(
                    channel=recipient,
                    text="\n".join(line for _, _, line in lines),
                    tag=PostTag("sla", lines[0][1] if len(lines) == 1 else None),
                )
            except Exception as error:
                failed += len(lines)
                tickets = ", ".join(f"#{ticket_id}" for _, ticket_id, _ in lines)
                await ctx.alert(
                    f":warning: SLA warnings or breaches of {tickets} were logged but not posted to {recipient} "
                    f"({flows.describe(error)}); they are not tried again."
                )
                continue
            notes.extend((event_id, ts) for event_id, _, _ in lines)
        await lifecycle.note_sla_messages(ctx.sessions, notes=notes)
        for _, ticket_id, _ in breaches:
            # The clock's state changed (running to breached): its backend message's SLA line says so.
            await flows.show_wait(ctx, ticket_id)
        more = " (more wait for the next minute)" if len(due) >= self.per_run else ""
        failures = f", {failed} not posted" if failed else ""
        return f"warned {warned}, posted {len(breaches)} breaches{failures}{more}"

    def _warning_recipients(self, clock: DueClock, team_channel: str) -> list[str]:
        """The assignee; when unassigned, its team tags' subscribers; when it has none, the team channel."""
        if clock.assignee_slack_id is not None:
            return [clock.assignee_slack_id]
        if clock.subscriber_slack_ids:
            return list(clock.subscriber_slack_ids)
        return [team_channel]

    def _clock_name(self, clock: TicketSpanKind) -> str:
        return self.ctx.transcript.text(f"sla_clock_{CLOCK_NAMES[clock]}")

    def _link_and_title(self, clock: DueClock) -> tuple[str, str]:
        links = MessageLinks(self.ctx.settings.slack_workspace_url, self.ctx.channels.help)
        title = neutralise_mentions(clock.title).replace("|", "¦").replace(">", "›") or "(untitled)"
        return links.question(clock.msg_ts), title

    def _warning_text(self, clock: DueClock, now: datetime) -> str:
        link, title = self._link_and_title(clock)
        left = self.ctx.settings.support_calendar.support_minutes(now, clock.due_at)
        transcript = self.ctx.transcript
        return transcript.text(
            "sla_warning",
            clock=self._clock_name(clock.clock),
            link=link,
            title=title,
            left=duration(left, transcript),
            target=duration(clock.target_minutes, transcript),
        )

    def _breach_text(self, clock: DueClock) -> str:
        link, title = self._link_and_title(clock)
        people = [clock.assignee_slack_id] if clock.assignee_slack_id else []
        people += [s for s in clock.subscriber_slack_ids if s not in people]
        transcript = self.ctx.transcript
        return transcript.text(
            "sla_breach",
            clock=self._clock_name(clock.clock),
            link=link,
            title=title,
            target=duration(clock.target_minutes, transcript),
            people=" ".join(f"<@{person}>" for person in people),
        ).rstrip()
