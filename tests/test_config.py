"""Settings are read once, validated, and a malformed value names its variable."""

import inspect
import re
from pathlib import Path

import pytest

import nephthys.config as config_module
from nephthys.config import ConfigError, Settings


def settings(**env) -> Settings:
    return Settings.from_env(env, dotenv_path=None)


def test_defaults_need_nothing_set():
    s = settings()
    assert s.port == 3000 and s.database_url is None and s.program == "default"
    assert s.slack_api_base_url == "https://slack.com/api/"
    assert not s.slack_enabled and s.daily_summary is True


def test_slack_is_enabled_by_the_bot_token_and_signing_secret():
    s = settings(SLACK_BOT_TOKEN="xoxb-1", SLACK_SIGNING_SECRET="secret", SLACK_HELP_CHANNEL="C0123HELP")
    assert s.slack_enabled and s.slack_help_channel == "C0123HELP"


def test_the_slack_api_base_url_always_ends_with_a_slash():
    assert settings(SLACK_API_BASE_URL="http://127.0.0.1:9000/api").slack_api_base_url == (
        "http://127.0.0.1:9000/api/"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PORT": "abc"}, "PORT: expected a whole number, got 'abc'"),
        ({"PORT": "70000"}, "PORT: expected a value from 1 to 65535, got '70000'"),
        ({"AI_TIMEOUT_SECONDS": "nan"}, "AI_TIMEOUT_SECONDS: expected a value from 0.1 to 60"),
        ({"AI_TIMEOUT_SECONDS": "inf"}, "AI_TIMEOUT_SECONDS: expected a value from 0.1 to 60"),
        ({"SLACK_HELP_CHANNEL": "#help"}, "SLACK_HELP_CHANNEL: expected a Slack channel id like C0123456789"),
        ({"SLACK_TICKET_CHANNEL": "tickets"}, "SLACK_TICKET_CHANNEL: expected a Slack channel id"),
        ({"SLACK_MAINTAINER_ID": "C123"}, "SLACK_MAINTAINER_ID: expected a Slack user id"),
        ({"SLACK_BOT_TOKEN": "xoxp-1"}, "SLACK_BOT_TOKEN: expected a token starting with 'xoxb-'"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL: expected a postgres or postgresql"),
        ({"DAILY_SUMMARY": "maybe"}, "DAILY_SUMMARY: expected true or false, got 'maybe'"),
        ({"SLACK_API_BASE_URL": "not a url"}, "SLACK_API_BASE_URL: expected a http or https URL"),
        ({"PROGRAM": "Summer Of Making"}, "PROGRAM: expected a program name"),
        ({"FEEDBACK": "sometimes"}, "FEEDBACK: expected true or false, got 'sometimes'"),
        ({"RESOLVE_CREDIT_HOURS": "two days"}, "RESOLVE_CREDIT_HOURS: expected a number, got 'two days'"),
        ({"RESOLVE_CREDIT_HOURS": "-1"}, "RESOLVE_CREDIT_HOURS: expected a value from 0 to 8760"),
        ({"ASKER_NUDGE_HOURS": "two days"}, "ASKER_NUDGE_HOURS: expected a number, got 'two days'"),
        ({"ASKER_NUDGE_HOURS": "-1"}, "ASKER_NUDGE_HOURS: expected a value from 0 to 8760"),
        ({"ASKER_CLOSE_DAYS": "1.5"}, "ASKER_CLOSE_DAYS: expected a whole number, got '1.5'"),
        ({"TIMEZONE": "Mars/Olympus_Mons"}, "TIMEZONE: expected an IANA time zone like Europe/Berlin"),
        ({"TIMEZONE": "../../etc/passwd"}, "TIMEZONE: expected an IANA time zone"),
        ({"API_ACCESS": "closed"}, "API_ACCESS: expected open or keys, got 'closed'"),
        ({"API_DESCRIPTIONS": "private"}, "API_DESCRIPTIONS: expected public or keys, got 'private'"),
        ({"API_STATUS_CASE": "title"}, "API_STATUS_CASE: expected lower or upper, got 'title'"),
        ({"SLA_FIRST_RESPONSE_MINUTES": "30m"}, "SLA_FIRST_RESPONSE_MINUTES: expected a whole number"),
        ({"SLA_NEXT_RESPONSE_MINUTES": "0"}, "SLA_NEXT_RESPONSE_MINUTES: expected a value from 1 to 525600"),
        ({"SLA_RESOLUTION_MINUTES": "1e9"}, "SLA_RESOLUTION_MINUTES: expected a whole number"),
        ({"SLA_WARN_AT": "75%"}, "SLA_WARN_AT: expected a number, got '75%'"),
        ({"SLA_WARN_AT": "1.5"}, "SLA_WARN_AT: expected a value from 0.01 to 1.0"),
    ],
)
def test_a_malformed_value_names_the_variable(env, message):
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_timezone_is_an_iana_name_and_utc_by_default():
    assert settings().timezone == "UTC"
    assert settings(TIMEZONE="America/New_York").timezone == "America/New_York"


def test_api_access_and_descriptions_default_to_what_the_contract_shows():
    assert (settings().api_access, settings().api_descriptions) == ("open", "public")
    assert settings(API_ACCESS="Keys", API_DESCRIPTIONS="KEYS").api_access == "keys"


def test_api_status_case_is_lower_unless_set_to_upper():
    assert settings().api_status_case == "lower"
    assert settings(API_STATUS_CASE="Upper").api_status_case == "upper"
    assert settings(API_STATUS_CASE="").api_status_case == "lower"


def test_blank_values_count_as_unset():
    assert settings(PORT="", SLACK_HELP_CHANNEL="  ").port == 3000


def test_the_environment_wins_over_a_dotenv_file(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("PORT=4000\nAPP_TITLE=From dotenv\n")
    s = Settings.from_env({"PORT": "5000"}, dotenv_path=dotenv)
    assert s.port == 5000 and s.app_title == "From dotenv"


def test_every_variable_read_is_documented_in_env_example():
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    documented = {line.split("=")[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line}
    read = set(re.findall(r'\w\("([A-Z][A-Z0-9_]+)"', inspect.getsource(config_module._parse)))
    assert read and read - documented == set()


def test_feedback_and_resolve_credit_defaults():
    defaults = settings()
    assert defaults.feedback is True and defaults.resolve_credit_hours == 48
    chosen = settings(FEEDBACK="false", RESOLVE_CREDIT_HOURS="2.5")
    assert chosen.feedback is False and chosen.resolve_credit_hours == 2.5


def test_the_asker_follow_up_is_on_by_default_and_zero_turns_each_part_off():
    defaults = settings()
    assert (defaults.asker_nudge_hours, defaults.asker_close_days) == (48, 5)
    chosen = settings(ASKER_NUDGE_HOURS="0", ASKER_CLOSE_DAYS="0")
    assert (chosen.asker_nudge_hours, chosen.asker_close_days) == (0, 0)
    assert settings(ASKER_NUDGE_HOURS="1.5").asker_nudge_hours == 1.5


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SLACK_BOT_TOKEN": "xoxb-1"},
            "SLACK_SIGNING_SECRET: not set, but SLACK_BOT_TOKEN is (Slack needs both: set "
            "SLACK_SIGNING_SECRET, or unset SLACK_BOT_TOKEN to run without Slack)",
        ),
        (
            {"SLACK_SIGNING_SECRET": "secret", "SLACK_BOT_TOKEN": " "},
            "SLACK_BOT_TOKEN: not set, but SLACK_SIGNING_SECRET is (Slack needs both: set "
            "SLACK_BOT_TOKEN, or unset SLACK_SIGNING_SECRET to run without Slack)",
        ),
    ],
)
def test_a_half_set_slack_configuration_names_what_is_missing(env, message):
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert str(raised.value) == message


def test_environment_is_development_or_production_and_nothing_else():
    assert settings().environment == "development"
    assert settings(ENVIRONMENT="Production").environment == "production"
    with pytest.raises(ConfigError) as raised:
        settings(ENVIRONMENT="prod")
    assert str(raised.value) == "ENVIRONMENT: expected development or production, got 'prod'"


def test_env_example_promises_nothing_about_environment_that_the_code_does_not_do():
    example = (Path(__file__).resolve().parents[1] / ".env.example").read_text()
    [described] = [line for line in example.splitlines() if line.startswith("# development or production")]
    assert "logging" not in described  # production changes no logging


def test_database_pools_stall_bound_and_stream_caps_have_documented_defaults():
    s = settings()
    assert (s.api_database_connections, s.slack_database_connections) == (10, 20)
    assert s.client_stall_seconds == 30.0
    assert (s.api_max_streams, s.api_max_streams_per_client) == (4, 2)
    s = settings(API_DATABASE_CONNECTIONS="6", SLACK_DATABASE_CONNECTIONS="30", CLIENT_STALL_SECONDS="2.5",
                 API_MAX_STREAMS="5", API_MAX_STREAMS_PER_CLIENT="1")  # fmt: skip
    assert (s.api_database_connections, s.slack_database_connections, s.client_stall_seconds) == (6, 30, 2.5)
    assert (s.api_max_streams, s.api_max_streams_per_client) == (5, 1)


@pytest.mark.parametrize(
    "env, message",
    [
        ({"API_MAX_STREAMS": "10"}, "API_MAX_STREAMS: expected fewer than API_DATABASE_CONNECTIONS (10)"),
        ({"API_DATABASE_CONNECTIONS": "1"}, "API_DATABASE_CONNECTIONS: expected a value from 2"),
        ({"CLIENT_STALL_SECONDS": "0"}, "CLIENT_STALL_SECONDS: expected a value from 0.1"),
        ({"API_MAX_STREAMS_PER_CLIENT": "two"}, "API_MAX_STREAMS_PER_CLIENT: expected a whole number"),
    ],
)
def test_pool_and_stream_settings_are_checked(env, message):
    with pytest.raises(ConfigError) as raised:
        settings(**env)
    assert str(raised.value).startswith(message)
