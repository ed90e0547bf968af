"""Configuration: read once from the environment (and a .env file), validated, passed down.

No other module reads ``os.environ``. A value that is present but malformed stops
start-up with a :class:`ConfigError` whose message is one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar
from zoneinfo import ZoneInfo

from dotenv import dotenv_values

from nephthys.sla.policy import MAX_TARGET_MINUTES, MIN_TARGET_MINUTES, SlaPolicy, SlaTargets
from nephthys.support_calendar import (
    CalendarError,
    SupportCalendar,
    SupportHours,
    parse_clock,
    parse_holidays,
    parse_support_hours,
)

if TYPE_CHECKING:
    from nephthys.transcripts import ProgramChannels

SLACK_DEFAULT_API_BASE_URL = "https://slack.com/api/"

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")

Number = TypeVar("Number", int, float)


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    # Slack credentials; without the bot token and signing secret Slack is off.
    slack_bot_token: str | None = None
    slack_user_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_base_url: str = SLACK_DEFAULT_API_BASE_URL
    slack_workspace_url: str = "https://hackclub.slack.com"
    # Slack channels and people
    slack_help_channel: str | None = None
    slack_ticket_channel: str | None = None
    slack_bts_channel: str | None = None
    slack_heartbeat_channel: str | None = None
    slack_maintainer_id: str | None = None
    # Service
    database_url: str | None = None
    embedded_pgdata: Path = Path(".nephthys/pgdata")
    host: str | None = None
    port: int = 3000
    environment: str = "development"
    program: str = "default"
    app_title: str = "Nephthys"
    base_url: str | None = None
    daily_summary: bool = True
    api_token: str | None = None
    log_level: str = "INFO"
    # Ticket titles from an OpenAI-compatible endpoint
    hack_club_ai_api_key: str | None = None
    ai_base_url: str | None = None
    ai_model: str = "gpt-4o-mini"
    ai_timeout_seconds: float = 3.0
    # A new ticket's question tag chosen by the endpoint from the existing ones (issue 22 §4): set
    # only when the model's stated confidence is at least this.
    ai_question_tags: bool = True
    ai_question_tag_confidence: float = 0.8
    # Closing the loop with the asker (issue 9)
    feedback: bool = True
    resolve_credit_hours: float = 48.0
    # IANA time zone of the help desk's calendar days (/api/stats/daily's default).
    timezone: str = "UTC"
    # Who may read /api/*: "open" (anyone) or "keys" (an API key or API_TOKEN).
    api_access: str = "open"
    # Ticket descriptions: "public" (to every reader) or "keys" (only to requests with a valid key).
    api_descriptions: str = "public"
    # A ticket's status in the API: "lower" (open, the contract's) or "upper" (OPEN, the existing Nephthys's).
    api_status_case: str = "lower"
    # At most this many days of /api/stats/daily kept in "DailyFigures" (nephthys.stats.daily).
    daily_figures_kept: int = 10_000
    # Database connections per instance (docs/deployment.md, "Database connections"): the API's pool,
    # the Slack side's own pool (events, interactions, Slack jobs: never waits on API load), and one
    # more for /health. At most api + slack + 1 connections in all.
    api_database_connections: int = 10
    slack_database_connections: int = 20
    # A response the client has not accepted a piece of for this long is dropped (its transaction ended).
    client_stall_seconds: float = 30.0
    # Streamed /api/tickets answers (exports) at once: overall and per client (address, or key); beyond: 429.
    api_max_streams: int = 4
    api_max_streams_per_client: int = 2
    # Scheduled jobs (nephthys/tasks, docs/jobs.md)
    job_catch_up_hours: float = 6.0
    daily_summary_time: time = time(0, 0)
    summary_waiting_days: int = 5
    stale_ticket_days: int = 0  # 0: stale tickets are not closed
    # The asker follow-up (asker-follow-up): nudge a ticket waiting this many wall-clock hours on
    # its asker (0: off), and close it this many days after an unanswered nudge (0: never).
    asker_nudge_hours: float = 48.0
    asker_close_days: int = 5
    unanswered_alert_minutes: int | None = None  # None: no unanswered alerts
    # Surges (nephthys/memory/surges.py): this many similar tickets opened within the window make
    # one message in the team channel (0: off).
    surge_min_tickets: int = 5
    surge_window_minutes: int = 60
    support_hours: SupportHours | None = None  # None: every minute counts
    support_holidays: frozenset[date] = field(default_factory=frozenset)  # whole local days off
    # SLA targets in support minutes (issue 21; None: no target for that clock), and the share of a
    # target at which its clock warns. A team tag's own targets override them (nephthys/sla/policy.py).
    sla_first_response_minutes: int | None = None
    sla_next_response_minutes: int | None = None
    sla_resolution_minutes: int | None = None
    sla_warn_at: float = 0.75

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def support_calendar(self) -> SupportCalendar:
        """SUPPORT_HOURS, SUPPORT_HOLIDAYS and TIMEZONE: what every support-time clock counts in."""
        return SupportCalendar(ZoneInfo(self.timezone), self.support_hours, self.support_holidays)

    @property
    def sla_policy(self) -> SlaPolicy:
        """SLA_FIRST_RESPONSE_MINUTES, SLA_NEXT_RESPONSE_MINUTES, SLA_RESOLUTION_MINUTES, SLA_WARN_AT."""
        targets = SlaTargets(
            self.sla_first_response_minutes, self.sla_next_response_minutes, self.sla_resolution_minutes
        )
        return SlaPolicy(targets, self.sla_warn_at)

    @property
    def ai_enabled(self) -> bool:
        return bool(self.hack_club_ai_api_key and self.ai_base_url)

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, dotenv_path: str | os.PathLike | None = ".env"
    ) -> Settings:
        """Read settings from ``environ`` over the values of a ``.env`` file."""
        values: dict[str, str] = {}
        if dotenv_path is not None and Path(dotenv_path).is_file():
            values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
        values.update(os.environ if environ is None else environ)
        return cls(**_parse(values))


# What an unset (or blank) variable means: the fields' defaults, written once above.
DEFAULTS = Settings()


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def _program_channels(program: str) -> ProgramChannels:
    """The program's transcript, validated now so a bad one stops start-up; its default channels."""
    from nephthys.transcripts import TranscriptError, load_transcript

    try:
        return load_transcript(program).channels
    except TranscriptError as error:
        raise ConfigError(str(error)) from None


def _timezone(value: str | None) -> str:
    """TIMEZONE: an IANA name zoneinfo knows (UTC when unset)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = value or DEFAULTS.timezone
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(f"TIMEZONE: expected an IANA time zone like Europe/Berlin, got {name!r}") from None
    return name


def _parse(env: Mapping[str, str]) -> dict:
    def get(name: str) -> str | None:
        return _blank_to_none(env.get(name))

    def matching(name: str, pattern: re.Pattern, expected: str) -> str | None:
        value = get(name)
        if value is not None and not pattern.match(value):
            raise ConfigError(f"{name}: expected {expected}, got {value!r}")
        return value

    def prefixed(name: str, prefix: str) -> str | None:
        value = get(name)
        if value is not None and not value.startswith(prefix):
            raise ConfigError(f"{name}: expected a token starting with {prefix!r}")
        return value

    def url(name: str, schemes: tuple[str, ...] = ("http", "https")) -> str | None:
        value = get(name)
        if value is not None and not re.match(rf"^({'|'.join(schemes)})://[^\s]+$", value):
            raise ConfigError(f"{name}: expected a {' or '.join(schemes)} URL, got {value!r}")
        return value

    def boolean(name: str, default: bool) -> bool:
        value = get(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(f"{name}: expected true or false, got {value!r}")

    def choice(name: str, allowed: tuple[str, ...], default: str) -> str:
        value = (get(name) or default).lower()
        if value not in allowed:
            raise ConfigError(f"{name}: expected {' or '.join(allowed)}, got {value!r}")
        return value

    def number(
        name: str, default: Number, kind: Callable[[str], Number], low: Number, high: Number
    ) -> Number:
        value = get(name)
        if value is None:
            return default
        try:
            parsed = kind(value)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(f"{name}: expected {what}, got {value!r}") from None
        # Written so NaN (which compares false with everything) is refused too.
        if not (low <= parsed <= high):
            raise ConfigError(f"{name}: expected a value from {low} to {high}, got {value!r}")
        return parsed

    channel = "a Slack channel id like C0123456789"
    api_base = url("SLACK_API_BASE_URL") or DEFAULTS.slack_api_base_url
    if not api_base.endswith("/"):
        api_base += "/"  # slack_sdk joins method names onto it
    database_url = url("DATABASE_URL", ("postgres", "postgresql", "postgresql+asyncpg"))
    log_level = (get("LOG_LEVEL") or DEFAULTS.log_level).upper()
    if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"LOG_LEVEL: expected DEBUG, INFO, WARNING or ERROR, got {log_level!r}")
    program = get("PROGRAM") or DEFAULTS.program
    if not re.match(r"^[a-z0-9_-]+$", program):
        raise ConfigError(f"PROGRAM: expected a program name like 'default', got {program!r}")
    program_channels = _program_channels(program)
    environment = (get("ENVIRONMENT") or DEFAULTS.environment).lower()
    if environment not in {"development", "production"}:
        raise ConfigError(f"ENVIRONMENT: expected development or production, got {environment!r}")
    # Slack needs both; one without the other is a mistake, not a wish to run without Slack.
    slack_bot_token, slack_signing_secret = prefixed("SLACK_BOT_TOKEN", "xoxb-"), get("SLACK_SIGNING_SECRET")
    if (slack_bot_token is None) != (slack_signing_secret is None):
        given, missing = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")[:: 1 if slack_bot_token else -1]
        raise ConfigError(
            f"{missing}: not set, but {given} is (Slack needs both: set {missing}, "
            f"or unset {given} to run without Slack)"
        )

    return dict(
        slack_bot_token=slack_bot_token,
        slack_user_token=prefixed("SLACK_USER_TOKEN", "xoxp-"),
        slack_signing_secret=slack_signing_secret,
        slack_app_token=prefixed("SLACK_APP_TOKEN", "xapp-"),
        slack_api_base_url=api_base,
        slack_workspace_url=(url("SLACK_WORKSPACE_URL") or DEFAULTS.slack_workspace_url).rstrip("/"),
        slack_help_channel=matching("SLACK_HELP_CHANNEL", _CHANNEL_ID, channel) or program_channels.help,
        slack_ticket_channel=matching("SLACK_TICKET_CHANNEL", _CHANNEL_ID, channel)
        or program_channels.tickets,
        slack_bts_channel=matching("SLACK_BTS_CHANNEL", _CHANNEL_ID, channel) or program_channels.bts,
        slack_heartbeat_channel=matching("SLACK_HEARTBEAT_CHANNEL", _CHANNEL_ID, channel)
        or program_channels.heartbeat,
        slack_maintainer_id=matching("SLACK_MAINTAINER_ID", _USER_ID, "a Slack user id like U0123456789"),
        database_url=database_url,
        embedded_pgdata=Path(get("NEPHTHYS_PGDATA") or DEFAULTS.embedded_pgdata),
        host=get("HOST"),
        port=number("PORT", DEFAULTS.port, int, 1, 65535),
        environment=environment,
        program=program,
        app_title=get("APP_TITLE") or DEFAULTS.app_title,
        base_url=url("BASE_URL"),
        daily_summary=boolean("DAILY_SUMMARY", DEFAULTS.daily_summary),
        api_token=get("API_TOKEN"),
        log_level=log_level,
        hack_club_ai_api_key=get("HACK_CLUB_AI_API_KEY"),
        ai_base_url=url("AI_BASE_URL"),
        ai_model=get("AI_MODEL") or DEFAULTS.ai_model,
        ai_timeout_seconds=number("AI_TIMEOUT_SECONDS", DEFAULTS.ai_timeout_seconds, float, 0.1, 60),
        ai_question_tags=boolean("AI_QUESTION_TAGS", DEFAULTS.ai_question_tags),
        ai_question_tag_confidence=number(
            "AI_QUESTION_TAG_CONFIDENCE", DEFAULTS.ai_question_tag_confidence, float, 0.0, 1.0
        ),
        feedback=boolean("FEEDBACK", DEFAULTS.feedback),
        resolve_credit_hours=number(
            "RESOLVE_CREDIT_HOURS", DEFAULTS.resolve_credit_hours, float, 0, 24 * 365
        ),
        timezone=_timezone(get("TIMEZONE")),
        api_access=choice("API_ACCESS", ("open", "keys"), DEFAULTS.api_access),
        api_descriptions=choice("API_DESCRIPTIONS", ("public", "keys"), DEFAULTS.api_descriptions),
        api_status_case=choice("API_STATUS_CASE", ("lower", "upper"), DEFAULTS.api_status_case),
        daily_figures_kept=number("DAILY_FIGURES_KEPT", DEFAULTS.daily_figures_kept, int, 0, 10_000_000),
        surge_min_tickets=_surge_min_tickets(number),
        surge_window_minutes=number("SURGE_WINDOW_MINUTES", DEFAULTS.surge_window_minutes, int, 1, 24 * 60),
        **_load_settings(number),
        **_job_settings(get, number),
    )


def _surge_min_tickets(number: Callable) -> int:
    found = number("SURGE_MIN_TICKETS", DEFAULTS.surge_min_tickets, int, 0, 1000)
    if found == 1:
        raise ConfigError("SURGE_MIN_TICKETS: expected 0 (off) or 2 and more, got 1 (one ticket is no surge)")
    return found


def _load_settings(number: Callable) -> dict:
    """Database pools, stalled clients and the export cap (docs/deployment.md, "Database connections")."""
    api_connections = number("API_DATABASE_CONNECTIONS", DEFAULTS.api_database_connections, int, 2, 1000)
    max_streams = number("API_MAX_STREAMS", DEFAULTS.api_max_streams, int, 1, 1000)
    if max_streams >= api_connections:
        raise ConfigError(
            f"API_MAX_STREAMS: expected fewer than API_DATABASE_CONNECTIONS ({api_connections}), "
            f"got {max_streams} (each stream holds a connection; the other routes need some left)"
        )
    return dict(
        api_database_connections=api_connections,
        slack_database_connections=number(
            "SLACK_DATABASE_CONNECTIONS", DEFAULTS.slack_database_connections, int, 2, 1000
        ),
        client_stall_seconds=number("CLIENT_STALL_SECONDS", DEFAULTS.client_stall_seconds, float, 0.1, 3600),
        api_max_streams=max_streams,
        api_max_streams_per_client=number(
            "API_MAX_STREAMS_PER_CLIENT", DEFAULTS.api_max_streams_per_client, int, 1, 1000
        ),
    )


def _job_settings(get: Callable[[str], str | None], number: Callable) -> dict:
    """The scheduled jobs' settings (docs/jobs.md)."""

    def parsed(name: str, parse: Callable, default):
        value = get(name)
        if value is None:
            return default
        try:
            return parse(value)
        except CalendarError as error:
            raise ConfigError(f"{name}: {error}") from None

    alert_minutes = number("UNANSWERED_ALERT_MINUTES", 0, int, 0, 100_000)
    return dict(
        job_catch_up_hours=number("JOB_CATCH_UP_HOURS", DEFAULTS.job_catch_up_hours, float, 0, 24 * 7),
        daily_summary_time=parsed("DAILY_SUMMARY_TIME", parse_clock, DEFAULTS.daily_summary_time),
        summary_waiting_days=number("SUMMARY_WAITING_DAYS", DEFAULTS.summary_waiting_days, int, 0, 3650),
        stale_ticket_days=number("STALE_TICKET_DAYS", DEFAULTS.stale_ticket_days, int, 0, 3650),
        asker_nudge_hours=number("ASKER_NUDGE_HOURS", DEFAULTS.asker_nudge_hours, float, 0, 24 * 365),
        asker_close_days=number("ASKER_CLOSE_DAYS", DEFAULTS.asker_close_days, int, 0, 3650),
        unanswered_alert_minutes=alert_minutes or None,
        support_hours=parsed("SUPPORT_HOURS", parse_support_hours, None),
        support_holidays=parsed("SUPPORT_HOLIDAYS", parse_holidays, frozenset()),
        **_sla_settings(number),
    )


def _sla_settings(number: Callable) -> dict:
    """The default SLA targets (whole support minutes; unset: none) and the warning share."""

    def target(name: str) -> int | None:
        return number(name, None, int, MIN_TARGET_MINUTES, MAX_TARGET_MINUTES)

    return dict(
        sla_first_response_minutes=target("SLA_FIRST_RESPONSE_MINUTES"),
        sla_next_response_minutes=target("SLA_NEXT_RESPONSE_MINUTES"),
        sla_resolution_minutes=target("SLA_RESOLUTION_MINUTES"),
        sla_warn_at=number("SLA_WARN_AT", DEFAULTS.sla_warn_at, float, 0.01, 1.0),
    )
