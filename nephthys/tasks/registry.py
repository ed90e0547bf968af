"""Every scheduled job of a Slack service, wired in one place (the scheduler and `nephthys jobs` share it)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from nephthys.tasks.asker_follow_up import EVERY_SECONDS as FOLLOW_UP_EVERY_SECONDS
from nephthys.tasks.asker_follow_up import NAME as FOLLOW_UP_NAME
from nephthys.tasks.asker_follow_up import AskerFollowUp
from nephthys.tasks.digests import TagDigestsJob
from nephthys.tasks.memory_answers import EVERY_SECONDS as MEMORY_ANSWERS_EVERY_SECONDS
from nephthys.tasks.memory_answers import NAME as MEMORY_ANSWERS_NAME
from nephthys.tasks.memory_answers import MemoryAnswers
from nephthys.tasks.scheduler import Job
from nephthys.tasks.sla_watch import EVERY_SECONDS as SLA_WATCH_EVERY_SECONDS
from nephthys.tasks.sla_watch import NAME as SLA_WATCH_NAME
from nephthys.tasks.sla_watch import SlaWatch
from nephthys.tasks.stale import StaleTicketsJob
from nephthys.tasks.summary import DailySummaryJob
from nephthys.tasks.unanswered import EVERY_SECONDS as ALERTS_EVERY_SECONDS
from nephthys.tasks.unanswered import NAME as ALERTS_NAME
from nephthys.tasks.unanswered import UnansweredAlerts

if TYPE_CHECKING:
    from nephthys.slack.app import SlackService


def add_scheduled_jobs(service: SlackService) -> None:
    """Add the unanswered alerts, the SLA watcher, the memory's answers from Slack and the asker
    follow-up (interval jobs) and the periodic jobs to the service's scheduler."""
    ctx, scheduler = service.ctx, service.scheduler
    scheduler.catch_up = timedelta(hours=ctx.settings.job_catch_up_hours)
    heartbeat = ctx.heartbeat
    if heartbeat is not None:
        scheduler.notify = heartbeat.post
    alerts = UnansweredAlerts(ctx)
    scheduler.jobs.append(
        Job(
            ALERTS_NAME,
            ALERTS_EVERY_SECONDS,
            alerts.run,
            off_reason=alerts.off_reason(),
            schedule=alerts.schedule(),
            dry_run=lambda: alerts.run(dry_run=True),
        )
    )
    sla_watch = SlaWatch(ctx)
    scheduler.jobs.append(
        Job(
            SLA_WATCH_NAME,
            SLA_WATCH_EVERY_SECONDS,
            sla_watch.run,
            off_reason=sla_watch.off_reason(),
            schedule=sla_watch.schedule(),
            dry_run=lambda: sla_watch.run(dry_run=True),
        )
    )
    memory_answers = MemoryAnswers(ctx)
    scheduler.jobs.append(
        Job(
            MEMORY_ANSWERS_NAME,
            MEMORY_ANSWERS_EVERY_SECONDS,
            memory_answers.run,
            schedule=memory_answers.schedule(),
            dry_run=lambda: memory_answers.run(dry_run=True),
        )
    )
    follow_up = AskerFollowUp(ctx)
    scheduler.jobs.append(
        Job(
            FOLLOW_UP_NAME,
            FOLLOW_UP_EVERY_SECONDS,
            follow_up.run,
            off_reason=follow_up.off_reason(),
            schedule=follow_up.schedule(),
            dry_run=lambda: follow_up.run(dry_run=True),
        )
    )
    scheduler.periodic.extend(
        [DailySummaryJob(ctx).job(), StaleTicketsJob(ctx).job(), TagDigestsJob(ctx).job()]
    )
