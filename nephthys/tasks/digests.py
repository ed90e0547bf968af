"""Tag digests (``tag-digests``): at a tag's digest time, each subscriber gets one DM of its open tickets.

A tag's digest is set with ``nephthys tags digest NAME --at 14:00 --days mon-fri``
(stored with the tag). The period is ``<local date>/<tag name>``: each tag's digest
of a day is claimed and done once. No open tickets: no DM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from nephthys.slack.flows import describe
from nephthys.slack.mentions import neutralise_mentions
from nephthys.stats import MessageLinks
from nephthys.tags import digests
from nephthys.tasks.runner import Occurrence, PeriodicJob
from nephthys.tasks.schedule import DailyAt
from nephthys.tasks.service_job import ServiceJob
from nephthys.tasks.summary import slack_date

log = logging.getLogger(__name__)

NAME = "tag-digests"
LISTED = 30  # tickets listed in one DM; the rest are counted


@dataclass
class TagDigestsJob(ServiceJob):
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.ctx.settings.timezone)

    async def _digests(self) -> list[digests.TagDigest]:
        async with self.ctx.sessions() as session:
            return await digests.tag_digests(session)

    async def occurrences(self, now: datetime) -> list[Occurrence]:
        found = []
        for digest in await self._digests():
            latest = DailyAt(digest.at, self.tz, digest.days).latest(now)
            if latest is not None:
                day, due = latest
                found.append(Occurrence(period=f"{day.isoformat()}/{digest.name}", due=due))
        return found

    async def next_due(self, now: datetime) -> datetime | None:
        upcoming = [DailyAt(d.at, self.tz, d.days).next(now) for d in await self._digests()]
        return min((u for u in upcoming if u is not None), default=None)

    async def periods_for(self, day: date | None, now: datetime) -> list[str]:
        if day is None:
            return [occurrence.period for occurrence in await self.occurrences(now)]
        return [f"{day.isoformat()}/{d.name}" for d in await self._digests() if day.weekday() in d.days]

    async def run(self, period: str, dry_run: bool) -> str:
        _, _, name = period.partition("/")
        ctx = self.ctx
        async with ctx.sessions() as session:
            digest = next((d for d in await digests.tag_digests(session) if d.name == name), None)
            if digest is None:
                return f"tag {name!r} has no digest any more"
            tickets = await digests.open_tickets_tagged(session, tag_id=digest.tag_id)
            people = await digests.subscribers(session, tag_id=digest.tag_id)
        if not tickets:
            return f"{name}: no open tickets, nothing sent"
        links = MessageLinks(ctx.settings.slack_workspace_url, ctx.channels.help)
        lines = [ctx.transcript.text("tag_digest", tag=neutralise_mentions(name), count=str(len(tickets)))]
        for ticket in tickets[:LISTED]:
            title = neutralise_mentions(ticket.title).replace("|", "¦").replace(">", "›") or "(untitled)"
            lines.append(
                ctx.transcript.text(
                    "tag_digest_item",
                    link=links.question(ticket.msg_ts),
                    title=title,
                    created=slack_date(ticket.created_at),
                )
            )
        if len(tickets) > LISTED:
            lines.append(ctx.transcript.text("tag_digest_more", count=str(len(tickets) - LISTED)))
        text = "\n".join(lines)
        if dry_run:
            return f"would DM {len(people)} subscribers of {name}:\n{text}"
        sent = 0
        for person in people:
            try:
                # A user id as the channel posts in the app's DM with that user.
                await ctx.client.post_message(channel=person, text=text)
                sent += 1
            except Exception as error:  # one subscriber's failure must not stop the others
                log.warning("tag digest %s not sent to %s: %s", name, person, describe(error))
        return f"{name}: {len(tickets)} open tickets, sent to {sent} of {len(people)} subscribers"

    def job(self) -> PeriodicJob:
        return PeriodicJob(
            name=NAME,
            schedule=f"each tag's digest time ({self.tz.key}); set with `nephthys tags digest`",
            occurrences=self.occurrences,
            next_due=self.next_due,
            periods_for=self.periods_for,
            run=self.run,
        )
