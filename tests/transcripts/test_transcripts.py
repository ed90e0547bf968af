"""Transcripts: every program loads, texts differ per program, bad transcripts stop start-up."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import resources

import pytest

from nephthys.config import ConfigError, Settings
from nephthys.transcripts import (
    TEXT_PLACEHOLDERS,
    TranscriptError,
    available_programs,
    load_transcript,
    validate_program,
)
from nephthys.transcripts import transcript as transcript_module

SAMPLE_VALUES = {
    "user": "<@UASKER>",
    "helper": "<@UHELPER>",
    "closer": "<@UCLOSER>",
    "reopener": "<@UREOPENER>",
    "tagger": "<@UTAGGER>",
    "backend_link": "https://slack.example/archives/CTICKETS/p1",
    "thread_link": "https://slack.example/archives/CHELP/p2",
    "question_link": "https://slack.example/archives/CHELP/p3",
    "title": "Cannot log in",
    "question": "I cannot log in",
    "previous_tickets": "3",
    "macro": "nope",
    "suggestion": "faq",
    "available": "`?faq`, `?resolve`",
    "tags": "*Auth*",
    "tag": "Auth",
    "name": "Auth",
    "max_length": "75",
    "count": "12",
    "rating": "Not well",
    "comment": "the link was broken",
    "assignee": "<@UASSIGNEE>",
    # the scheduled jobs' texts
    "date": "2026-10-25",
    "change": "(+3)",
    "closed": "4",
    "in_progress": "2",
    "still_open": "1",
    "duration": "1h 05m",
    "helpers": "<@UHELPER> (3)",
    "days": "5",
    "link": "https://slack.example/archives/CHELP/p4",
    "created": "2026-10-25",
    "last_reply": "2026-10-26",
    "waited": "45m",
    "subscribers": "<@USUB>",
    "since": "14:02",  # Slack's date token in use; its {date_short_pretty} would trip the brace check
    # the team's memory
    "answer": "Log out and in again.",
    "query": "invalid_token",
    "id": "42",
}
# The App Home's placeholders.
SAMPLE_VALUES.update(
    {
        "channel": "CHELP",
        "page": "2",
        "pages": "5",
        "total": "1,024",
        "open": "31",
        "in_progress": "52",
        "closed": "941",
        "new": "40",
        "new_change": "+3",
        "closed_change": "−2",
        "hang": "25m",
        "resolution": "2h 5m",
        "link": "https://slack.example/archives/CHELP/p4",
        "age": "3h 20m",
        "rank": "4",
        "asker": "<@UASKER>",
        "last_spoke": "the asker spoke last",
        "users": "<@UHELPER>, <@UOTHER>",
        "label": "Payout range",
        "week": "3",
        "month": "11",
        "all_time": "120",
        "day": "1",
        "minutes": "25m",
        "status": "Open",
    }
)
# My stats' ratings.
SAMPLE_VALUES.update({"great": "12", "okay": "3", "not_good": "1"})
# SLA targets (sla-watch, the backend message, the summary, the Team tags modal).
SAMPLE_VALUES.update(
    {
        "clock": "First response",
        "left": "12m",
        "target": "30m",
        "people": "<@UASSIGNEE> <@USUB>",
        "compliance": "87%",
        "met": "7",
        "breached": "1",
        "running": "2",
        "targets": "first response 30, resolution 480",
        "low": "1",
        "high": "525600",
    }
)


def render_all(program: str) -> dict[str, str]:
    transcript = load_transcript(program)
    return {
        key: transcript.text(key, **{name: SAMPLE_VALUES[name] for name in allowed})
        for key, allowed in TEXT_PLACEHOLDERS.items()
    }


def test_the_shipped_programs_are_the_default_and_at_least_two_more():
    programs = available_programs()
    assert "default" in programs
    assert len(programs) >= 3


@pytest.mark.parametrize("program", available_programs())
def test_every_program_renders_every_text_without_leftover_braces(program):
    texts = render_all(program)
    assert set(texts) == set(TEXT_PLACEHOLDERS)
    for key, text in texts.items():
        assert text.strip(), key
        assert "{" not in text and "}" not in text, (key, text)


def test_switching_program_changes_every_text():
    default = render_all("default")
    for program in available_programs():
        if program == "default":
            continue
        other = render_all(program)
        same = sorted(key for key in TEXT_PLACEHOLDERS if default[key] == other[key])
        assert same == [], f"{program} repeats the default for {same}"
        assert load_transcript(program).program_name != load_transcript("default").program_name
        assert load_transcript(program).faq_link != load_transcript("default").faq_link


def test_program_values_fill_every_text():
    transcript = load_transcript("flavortown")
    assert transcript.faq_link in transcript.text("faq_macro", user="<@U1>")
    assert transcript.program_name in transcript.text("helpers_only", user="<@U1>")


def test_text_needs_exactly_the_listed_placeholders():
    transcript = load_transcript("default")
    with pytest.raises(TypeError, match="missing: closer"):
        transcript.text("resolved", user="<@U1>")
    with pytest.raises(TypeError, match="unexpected: colour"):
        transcript.text("resolve_button", colour="red")
    with pytest.raises(KeyError):
        transcript.text("no_such_text")


def test_redirect_macros_are_declared_by_the_program():
    identity = load_transcript("identity")
    verify = identity.redirect_macro("idv")
    assert verify is not None and verify.name == "verify" and verify.resolves is True
    assert identity.redirect_macro("email").resolves is False
    assert identity.redirect_macro("shipping") is None
    text = identity.redirect_text(verify, user="<@U9>")
    assert text.startswith("<@U9>") and identity.faq_link in text
    assert load_transcript("default").redirect_macros == ()


def test_program_channels_are_defaults_that_settings_override():
    settings = Settings.from_env({"PROGRAM": "identity"}, dotenv_path=None)
    channels = load_transcript("identity").channels
    assert settings.slack_help_channel == channels.help
    assert settings.slack_ticket_channel == channels.tickets
    assert settings.slack_bts_channel == channels.bts
    assert settings.slack_heartbeat_channel == channels.heartbeat
    overridden = Settings.from_env(
        {"PROGRAM": "identity", "SLACK_HELP_CHANNEL": "C0OVERRIDE"}, dotenv_path=None
    )
    assert overridden.slack_help_channel == "C0OVERRIDE"
    assert overridden.slack_ticket_channel == channels.tickets
    assert Settings.from_env({}, dotenv_path=None).slack_help_channel is None


def test_unknown_program_is_one_line_naming_it():
    with pytest.raises(TranscriptError) as caught:
        validate_program("nosuchprogram")
    message = str(caught.value)
    assert "\n" not in message and "'nosuchprogram'" in message and "default" in message
    with pytest.raises(ConfigError, match="PROGRAM 'nosuchprogram': unknown program"):
        Settings.from_env({"PROGRAM": "nosuchprogram"}, dotenv_path=None)


def test_start_up_stops_with_one_line_for_an_unknown_program(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "nephthys", "db", "status"],
        env={"PROGRAM": "nosuchprogram", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "nosuchprogram" in lines[0], result.stderr


def default_data() -> dict:
    source = resources.files("nephthys.transcripts") / "programs" / "default.toml"
    return tomllib.loads(source.read_text(encoding="utf-8"))


def parse(data: dict):
    return transcript_module._parse("broken", data)


def one_line_error(data: dict) -> str:
    with pytest.raises(TranscriptError) as caught:
        parse(data)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("PROGRAM 'broken': ")
    return message


def test_the_default_data_parses_as_is():
    assert parse(default_data()).program == "broken"


def test_a_missing_text_is_named():
    data = default_data()
    del data["texts"]["resolved_stale"]
    assert "missing text 'resolved_stale'" in one_line_error(data)


def test_a_placeholder_not_allowed_for_its_key_is_named():
    data = default_data()
    data["texts"]["resolved"] = "Resolved by {helper}"
    message = one_line_error(data)
    assert "text 'resolved'" in message and "{helper}" in message and "{closer}" in message


@pytest.mark.parametrize("bad", ["{user!r}", "{user:>10}", "{0}", "{}", "{user.name}", "{user", "oops }"])
def test_malformed_placeholders_are_refused(bad):
    data = default_data()
    data["texts"]["resolved"] = f"Resolved {bad}"
    assert "text 'resolved'" in one_line_error(data)


def test_literal_braces_are_allowed():
    data = default_data()
    data["texts"]["resolved"] = "Resolved {{like this}} by {closer}"
    assert parse(data).text("resolved", user="u", closer="c") == "Resolved {like this} by c"


def test_unknown_text_keys_and_sections_are_refused():
    data = default_data()
    data["texts"]["resolvd"] = "typo"
    assert "unknown text 'resolvd'" in one_line_error(data)
    data = default_data()
    data["colours"] = {}
    assert "unknown section 'colours'" in one_line_error(data)


def test_program_fields_and_channels_are_checked():
    data = default_data()
    data["program"]["faq_link"] = "not a link"
    assert "faq_link" in one_line_error(data)
    data = default_data()
    del data["program"]["owner"]
    assert "owner" in one_line_error(data)
    data = default_data()
    data["channels"] = {"help": "general"}
    assert "[channels] help" in one_line_error(data)
    data = default_data()
    data["channels"] = {"lobby": "C0123"}
    assert "lobby" in one_line_error(data)


def test_redirect_macros_are_checked():
    data = default_data()
    data["macros"] = [{"name": "ask", "text": "Ask {helper}"}]
    assert "macro 'ask'" in one_line_error(data)
    data["macros"] = [{"name": "Ask Me", "text": "hi"}]
    assert "macro name" in one_line_error(data)
    data["macros"] = [{"name": "a", "text": "x"}, {"name": "b", "aliases": ["a"], "text": "y"}]
    assert "declared twice" in one_line_error(data)
    data["macros"] = [{"name": "a", "text": "x", "resolves": "yes"}]
    assert "resolves" in one_line_error(data)
    data["macros"] = [{"name": "a", "text": "hi {user} see {faq_link}", "resolves": True}]
    assert parse(data).redirect_macros[0].resolves is True


def test_texts_slack_limits_in_length_are_checked_with_the_program_filled_in():
    data = default_data()
    data["texts"]["modal_submit"] = "x" * 25
    assert "text 'modal_submit': Slack shows at most 24 characters here, got 25" in one_line_error(data)
    data = default_data()
    data["program"]["name"] = "A very long program name indeed"
    data["texts"]["create_tag_modal_title"] = "{program_name}"
    assert "create_tag_modal_title" in one_line_error(data)
    data["texts"]["create_tag_modal_title"] = "New tag"
    assert parse(data).text("create_tag_modal_title") == "New tag"
