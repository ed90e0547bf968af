"""`nephthys jobs list|run` and `nephthys tags digest`: the scheduled jobs, by hand, with the service's settings."""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from nephthys.config import ConfigError, Settings
from nephthys.tasks.schedule import describe_interval

if TYPE_CHECKING:
    from nephthys.tasks.scheduler import Job

OK_STATUSES = {"done", "already done", "dry run"}


SLACK_OFF = "needs Slack: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set"


def slack_off_reason(settings: Settings) -> str | None:
    """Why the Slack service (and so every job but the API's own) would not run here; None when it would."""
    if not settings.slack_enabled:
        return SLACK_OFF
    # The settings already hold the program's channels where no SLACK_*_CHANNEL is set.
    for name, channel in (
        ("SLACK_HELP_CHANNEL", settings.slack_help_channel),
        ("SLACK_TICKET_CHANNEL", settings.slack_ticket_channel),
    ):
        if channel is None:
            return f"{name} is not set (`nephthys serve` refuses to start)"
    return None


@asynccontextmanager
async def _service(settings: Settings, url: str) -> AsyncIterator:
    """A Slack service built as `serve` builds it, never started: its jobs and their context.

    Built on any configuration, so the jobs can be listed and dry-run with only a database: a
    missing channel is left empty (``slack_off_reason`` says why those jobs are off), and with
    Slack off nothing is posted, not even to the heartbeat channel.
    """
    import aiohttp

    from nephthys.database.engine import create_engine, session_factory
    from nephthys.slack.app import SlackService, channels_for
    from nephthys.slack.client import SlackClient
    from nephthys.slack.context import Channels, SlackContext
    from nephthys.slack.heartbeat import Heartbeat
    from nephthys.transcripts import load_transcript

    if not settings.slack_signing_secret:
        # Only to build Bolt's app object; this process never receives a request.
        settings = dataclasses.replace(settings, slack_signing_secret="unused-by-the-jobs-command")
    engine = create_engine(url)
    http = aiohttp.ClientSession()
    try:
        transcript = load_transcript(settings.program)
        try:
            channels = channels_for(settings, transcript)
        except ConfigError:
            channels = Channels(
                help=settings.slack_help_channel or "",
                tickets=settings.slack_ticket_channel or "",
                bts=settings.slack_bts_channel,
                heartbeat=settings.slack_heartbeat_channel,
            )
        client = SlackClient(settings, http)
        ctx = SlackContext(
            settings=settings,
            sessions=session_factory(engine),
            client=client,
            transcript=transcript,
            channels=channels,
            heartbeat=Heartbeat(client, channels.heartbeat if settings.slack_bot_token else None),
        )
        yield SlackService(ctx, http)
    finally:
        await http.close()
        await engine.dispose()


def _local(instant: datetime | None, tz: ZoneInfo) -> str:
    return "-" if instant is None else instant.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def _interval_jobs(service) -> list[Job]:
    """The Slack service's interval jobs, then the API's own (run by every instance, Slack on or off)."""
    from nephthys.tasks import memory_reindex, sla_recompute, ticket_json

    return [
        *service.scheduler.jobs,
        ticket_json.job(service.ctx.sessions),
        memory_reindex.job(service.ctx.sessions),
        sla_recompute.job(service.ctx.sessions),
    ]


def _off(job_name: str, own_reason: str | None, slack_reason: str | None) -> str | None:
    from nephthys.tasks import memory_reindex, sla_recompute, ticket_json

    if job_name in (ticket_json.NAME, memory_reindex.NAME, sla_recompute.NAME):
        return None  # the API's job: every instance runs it, Slack on or off
    return slack_reason or own_reason


async def list_jobs(settings: Settings, url: str, *, now: datetime | None = None) -> list[str]:
    """One line per job: on or off (and why), schedule, last run, next run."""
    from nephthys.tasks.runner import last_run

    now = now or datetime.now(UTC)
    tz = ZoneInfo(settings.timezone)
    slack_reason = slack_off_reason(settings)
    lines = []
    async with _service(settings, url) as service:
        sessions = service.ctx.sessions
        for periodic in service.scheduler.periodic:
            off = _off(periodic.name, periodic.off_reason, slack_reason)
            last = await last_run(sessions, periodic.name)
            last_text = (
                "never"
                if last is None
                else f"{_local(last.started_at, tz)} {last.outcome or 'unfinished'} ({last.period})"
            )
            next_text = "-" if off else _local(await periodic.next_due(now), tz)
            lines.append(
                f"{periodic.name}: {'off (' + off + ')' if off else 'on'}; {periodic.schedule}; "
                f"last run: {last_text}; next run: {next_text}"
            )
        for job in _interval_jobs(service):
            off = _off(job.name, job.off_reason, slack_reason)
            every = describe_interval(job.every_seconds)
            first = describe_interval(
                job.every_seconds if job.first_after_seconds is None else job.first_after_seconds
            )
            last = await last_run(sessions, job.name)
            last_text = (
                "not recorded (interval job)"
                if last is None
                else f"{_local(last.started_at, tz)} {last.outcome or 'unfinished'} ({last.period})"
            )
            next_text = "-" if off else f"{first} after start-up, then every {every}"
            now_text = "" if job.progress is None else f"; now: {await job.progress()}"
            lines.append(
                f"{job.name}: {'off (' + off + ')' if off else 'on'}; {job.schedule or 'every ' + every}; "
                f"last run: {last_text}; next run: {next_text}{now_text}"
            )
    return lines


def _dry_run_refusal(name: str, own_reason: str | None) -> str | None:
    """Why a dry run of an off job is refused: only its own setting. Slack being off, or a channel
    missing, does not stop a dry run: it posts nothing and needs only the database."""
    from nephthys.slack.context import NO_TEAM_CHANNEL

    if own_reason is None or own_reason == NO_TEAM_CHANNEL:
        return None
    return f"{name} is off: {own_reason}"


async def run_job(
    settings: Settings, url: str, *, name: str, day: date | None, dry_run: bool, force: bool
) -> tuple[int, list[str]]:
    """Run one job now, in the foreground; (exit code, lines to print)."""
    from nephthys.tasks.runner import run_period
    from nephthys.tasks.scheduler import run_exclusively

    slack_reason = slack_off_reason(settings)
    now = datetime.now(UTC)
    async with _service(settings, url) as service:
        periodic = {job.name: job for job in service.scheduler.periodic}
        interval = {job.name: job for job in _interval_jobs(service)}
        known = sorted([*periodic, *interval])
        if name not in known:
            return 2, [f"no job called {name!r}; jobs: {', '.join(known)}"]
        if name in interval and day is not None:
            return 2, [f"--date applies to daily jobs ({', '.join(sorted(periodic))}), not {name}"]
        own_reason = (periodic[name] if name in periodic else interval[name]).off_reason
        if dry_run:
            refused = _dry_run_refusal(name, own_reason)
            if refused is not None:
                return 1, [refused]
        else:
            off = _off(name, own_reason, slack_reason)
            if off is not None:
                dry = " (a --dry-run needs only the database)" if off == slack_reason else ""
                return 1, [f"{name} is off: {off}{dry}"]
        if name in periodic:
            job = periodic[name]
            periods = await job.periods_for(day, now)
            if not periods:
                return 0, [f"{name}: nothing to do for {day or 'now'}"]
            lines, code = [], 0
            for period in periods:
                if dry_run:
                    lines.append(f"{name} {period} (dry run, nothing posted):\n{await job.run(period, True)}")
                    continue
                result = await run_period(
                    service.ctx.sessions,
                    name,
                    period,
                    functools.partial(job.run, period, False),
                    force=force,
                )
                if result.status.value == "already done":
                    lines.append(f"{name} {period}: already done (--force does it again)")
                else:
                    lines.append(
                        f"{name} {period}: {result.status.value}"
                        + (f": {result.detail}" if result.detail else "")
                    )
                if result.status.value not in OK_STATUSES:
                    code = 1
            return code, lines
        interval_job = interval[name]
        if dry_run:
            if interval_job.dry_run is None:
                return 2, [f"{name} has no dry run (run it without --dry-run)"]
            return 0, [f"{name} (dry run, nothing posted):\n{await interval_job.dry_run()}"]
        ran = await run_exclusively(service.ctx.sessions, interval_job)
        return (0, [f"{name}: done"]) if ran else (1, [f"{name}: another instance is running it"])


async def set_tag_digest(
    url: str, *, name: str, at: str | None, days: str | None, off: bool
) -> tuple[int, str]:
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.support_calendar import CalendarError, describe_days, parse_clock, parse_days
    from nephthys.tags.digests import set_digest

    try:
        clock = None if off else parse_clock(at or "")
        weekdays = None if off else parse_days(days or "daily")
    except CalendarError as error:
        return 2, f"nephthys tags digest: {error}"
    engine = create_engine(url)
    try:
        async with session_factory(engine).begin() as session:
            found = await set_digest(session, name=name, at=clock, days=weekdays)
    finally:
        await engine.dispose()
    if not found:
        return 1, f"no team tag called {name!r}"
    if clock is None or weekdays is None:
        return 0, f"{name}: no digest"
    return 0, f"{name}: digest {describe_days(weekdays)} at {clock:%H:%M}"


async def set_tag_sla(
    url: str, *, name: str, first: str | None, next_: str | None, resolution: str | None, off: bool
) -> tuple[int, str]:
    """``nephthys tags sla``: a team tag's own SLA targets (the App Home's Team tags view does the same)."""
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.sla.policy import SlaTargets, TargetError, parse_target
    from nephthys.tags.service import set_tag_sla as set_targets
    from nephthys.tags.service import tag_id_named

    try:
        targets = SlaTargets() if off else SlaTargets(*(parse_target(v) for v in (first, next_, resolution)))
    except TargetError as error:
        return 2, f"nephthys tags sla: {error}"
    engine = create_engine(url, pool_size=1)
    try:
        async with session_factory(engine).begin() as session:
            tag_id = await tag_id_named(session, name=name)
            tickets = None if tag_id is None else await set_targets(session, tag_id=tag_id, targets=targets)
    finally:
        await engine.dispose()
    if tickets is None:
        return 1, f"no team tag called {name!r}"
    described = (
        "no targets of its own (the defaults apply)" if off else f"{targets.describe()} support minutes"
    )
    return 0, f"{name}: {described}; {tickets} tickets re-evaluated"


async def create_team_tag(url: str, *, name: str) -> tuple[int, str]:
    """The App Home's "create a tag", from the command line: the same rules (nephthys/tags/service.py)."""
    from nephthys.database.engine import create_engine, session_factory
    from nephthys.tags.service import NameProblem, NameRejected, create_tag

    engine = create_engine(url, pool_size=1)
    try:
        async with session_factory(engine).begin() as session:
            created = await create_tag(session, name=name)
    finally:
        await engine.dispose()
    if isinstance(created, NameRejected):
        reason = {
            NameProblem.EMPTY: "a tag needs a name",
            NameProblem.TOO_LONG: f"a tag's name is at most {created.max_length} characters",
            NameProblem.TAKEN: f"a team tag called {created.name!r} exists (names are compared ignoring case)",
        }[created.problem]
        return 1, f"nephthys tags create: {reason}"
    return (
        0,
        f"created the team tag {created.name!r}; `nephthys tags digest {created.name!r} --at HH:MM` gives it a digest",
    )


def _on_database(url: str, work):
    """Run ``work()`` (a coroutine) on ``url``; a database that cannot be reached is one line, exit 1."""
    from nephthys.cli import _run_db

    return _run_db(work, url)


def _database(settings: Settings):
    from nephthys.cli import command_database

    return command_database(settings)


def cmd_jobs_list(settings: Settings, args: argparse.Namespace) -> int:
    with _database(settings) as url:
        try:
            lines = _on_database(url, lambda: list_jobs(settings, url))
        except ConfigError as error:  # e.g. no help channel: the jobs cannot even be built
            print(f"nephthys: configuration error: {error}", file=sys.stderr)
            return 2
    for line in lines:
        print(line)
    return 0


def cmd_jobs_run(settings: Settings, args: argparse.Namespace) -> int:
    day = None
    if args.date:
        try:
            day = date.fromisoformat(args.date)
        except ValueError:
            print(f"nephthys jobs run: --date: expected YYYY-MM-DD, got {args.date!r}", file=sys.stderr)
            return 2
    with _database(settings) as url:
        try:
            code, lines = _on_database(
                url,
                lambda: run_job(
                    settings, url, name=args.name, day=day, dry_run=args.dry_run, force=args.force
                ),
            )
        except ConfigError as error:
            code, lines = 2, [f"nephthys: configuration error: {error}"]
    for line in lines:
        print(line, file=sys.stdout if code == 0 else sys.stderr)
    return code


def cmd_tags_create(settings: Settings, args: argparse.Namespace) -> int:
    with _database(settings) as url:
        code, line = _on_database(url, lambda: create_team_tag(url, name=args.name))
    print(line, file=sys.stdout if code == 0 else sys.stderr)
    return code


def cmd_tags_digest(settings: Settings, args: argparse.Namespace) -> int:
    if not args.off and not args.at:
        print("nephthys tags digest: give --at HH:MM (and --days), or --off", file=sys.stderr)
        return 2
    with _database(settings) as url:
        code, line = _on_database(
            url, lambda: set_tag_digest(url, name=args.name, at=args.at, days=args.days, off=args.off)
        )
    print(line, file=sys.stdout if code == 0 else sys.stderr)
    return code


def cmd_tags_sla(settings: Settings, args: argparse.Namespace) -> int:
    given = [args.first, args.next, args.resolution]
    if args.off == any(value is not None for value in given):
        print(
            "nephthys tags sla: give --first, --next and/or --resolution (support minutes), or --off",
            file=sys.stderr,
        )
        return 2
    with _database(settings) as url:
        code, line = _on_database(
            url,
            lambda: set_tag_sla(
                url,
                name=args.name,
                first=args.first,
                next_=args.next,
                resolution=args.resolution,
                off=args.off,
            ),
        )
    print(line, file=sys.stdout if code == 0 else sys.stderr)
    return code


def add_job_commands(commands) -> None:
    """`jobs list`, `jobs run NAME [--date] [--dry-run] [--force]`, `tags digest NAME --at --days | --off`,
    `tags sla NAME --first --next --resolution | --off`."""
    jobs = commands.add_parser("jobs", help="the scheduled jobs: list them, run one now")
    job_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    listing = job_commands.add_parser("list", help="each job: on or off, schedule, last and next run")
    listing.set_defaults(handler=cmd_jobs_list)
    run = job_commands.add_parser("run", help="run one job now, in the foreground")
    run.add_argument(
        "name",
        help="daily-summary, stale-tickets, asker-follow-up, tag-digests, unanswered-alerts, slack-repair, …",
    )
    run.add_argument("--date", help="the local day a daily job covers (YYYY-MM-DD; default: as if run now)")
    run.add_argument("--dry-run", action="store_true", help="print what it would post; post nothing")
    run.add_argument("--force", action="store_true", help="do it again even if that period is done")
    run.set_defaults(handler=cmd_jobs_run)

    tags = commands.add_parser("tags", help="team tags")
    tag_commands = tags.add_subparsers(dest="tags_command", required=True)
    create = tag_commands.add_parser("create", help="create a team tag, as an admin does in the App Home")
    create.add_argument("name", help="the team tag's name (up to 75 characters; unique, ignoring case)")
    create.set_defaults(handler=cmd_tags_create)
    digest = tag_commands.add_parser("digest", help="a tag's daily digest of open tickets to its subscribers")
    digest.add_argument("name", help="the team tag's name")
    digest.add_argument("--at", help="local time of day in TIMEZONE, HH:MM")
    digest.add_argument("--days", default="daily", help="days like mon-fri or mon,wed,fri (default: daily)")
    digest.add_argument("--off", action="store_true", help="no digest for this tag")
    digest.set_defaults(handler=cmd_tags_digest)
    sla = tag_commands.add_parser(
        "sla", help="a tag's own SLA targets, in support minutes (strictest tag wins)"
    )
    sla.add_argument("name", help="the team tag's name")
    sla.add_argument("--first", help="first response target (support minutes)")
    sla.add_argument("--next", help="next response target (support minutes)")
    sla.add_argument("--resolution", help="resolution target (support minutes)")
    sla.add_argument("--off", action="store_true", help="remove the tag's own targets")
    sla.set_defaults(handler=cmd_tags_sla)
    for sub in (listing, run, create, digest, sla):
        # As in nephthys/cli.py: the old flag is accepted and changes nothing (the database is serve's).
        sub.add_argument("--embedded", action="store_true", help=argparse.SUPPRESS)
