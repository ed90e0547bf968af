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
        ({"TIMEZONE": "Mars/Olympus_Mons"}, "TIMEZONE: expected an IANA time zone like Europe/Berlin"),
        ({"TIMEZONE": "../../etc/passwd"}, "TIMEZONE: expected an IANA time zone"),
        ({"API_ACCESS": "closed"}, "API_ACCESS: expected open or keys, got 'closed'"),
        ({"API_DESCRIPTIONS": "private"}, "API_DESCRIPTIONS: expected public or keys, got 'private'"),
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
