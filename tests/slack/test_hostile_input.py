"""/slack/events under hostile input: the signature first, over the raw bytes; a malformed body is a
400 only once it is signed; what the database would refuse is cleaned or refused with a 4xx; only an
outage is a 503; no traceback in the log."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import pytest

from nephthys.slack import messages, tag_blocks
from nephthys.slack.home import common as home_common
from nephthys.slack.home import team_tags as home_team_tags
from nephthys.slack.messages import RESOLVE_ACTION
from nephthys.transcripts import load_transcript
from nephthys.utils.body_limit import MAX_BODY_BYTES
from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, TICKET_CHANNEL
from tests.support.slack import (
    block_actions,
    button,
    event_callback,
    plain_text_value,
    question,
    radio_buttons_value,
    signed_headers,
    thread_reply,
    view_submission,
)

DEFAULT = load_transcript("default")

MALFORMED_BODIES = [
    (b"{not json", "application/json"),
    (b"null", "application/json"),
    (b"[1, 2, 3]", "application/json"),
    (b'"a string"', "application/json"),
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded"),
    (b"payload=null", "application/x-www-form-urlencoded"),
    (b"\xff\xfe not utf-8", "application/json"),
]


def no_traceback(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(record.exc_info for record in caplog.records)


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
async def test_an_unsigned_or_wrongly_signed_malformed_body_gets_401_and_no_traceback(
    desk, team, caplog, body, content_type
):
    caplog.set_level(logging.INFO)
    async with desk() as d:
        unsigned = await d.client.post("/slack/events", content=body, headers={"Content-Type": content_type})
        wrong = await d.deliver.post(body, content_type=content_type, secret="not-the-secret")
        assert [unsigned.status_code, wrong.status_code] == [401, 401]
        await d.settle()
        assert no_traceback(caplog)
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []


@pytest.mark.parametrize(("body", "content_type"), MALFORMED_BODIES)
async def test_a_signed_malformed_body_gets_400_and_no_traceback(desk, team, caplog, body, content_type):
    caplog.set_level(logging.INFO)
    async with desk() as d:
        response = await d.deliver.post(body, content_type=content_type)
        assert response.status_code == 400
        await d.settle()
        assert no_traceback(caplog)
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []


@pytest.mark.parametrize("timestamp", [b"abc", b"1e9", b"-1", b"", "１２３".encode()])
async def test_a_timestamp_that_is_not_a_number_gets_401_never_500(desk, team, caplog, timestamp):
    async with desk() as d:
        body = json.dumps(event_callback(question(HELP_CHANNEL, ASKER, "when?"))).encode()
        headers: dict[str, str | bytes] = {**signed_headers(body, d.deliver.signing_secret)}
        headers["X-Slack-Request-Timestamp"] = timestamp
        headers["Content-Type"] = "application/json"
        response = await d.client.post("/slack/events", content=body, headers=headers)
        assert response.status_code == 401
        assert no_traceback(caplog)


async def test_a_signed_envelope_without_an_event_is_refused_and_claims_nothing(desk, team):
    async with desk() as d:
        envelope = event_callback(question(HELP_CHANNEL, ASKER, "where is my event?"))
        del envelope["event"]
        response = await d.deliver.envelope(envelope)
        assert response.status_code == 400
        await d.settle()
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []


async def test_an_event_id_that_is_not_a_string_is_refused_logged_and_told(desk, team, caplog):
    async with desk() as d:
        envelope = event_callback(question(HELP_CHANNEL, ASKER, "numbered"))
        envelope["event_id"] = 12345
        response = await d.deliver.envelope(envelope)
        assert 400 <= response.status_code < 500
        await d.settle()
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        [told] = [c for c in d.posts(HEARTBEAT_CHANNEL) if "refused" in c.args["text"]]
        assert "event_id" in told.args["text"]
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == 1 and no_traceback(caplog)


async def test_nul_characters_and_lone_surrogates_are_cleaned_and_the_question_becomes_a_ticket(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "PLACEHOLDER")
        raw = json.dumps(event_callback(asked)).replace("PLACEHOLDER", "nul\\u0000here and \\ud800 alone")
        response = await d.deliver.post(raw.encode(), content_type="application/json")
        assert response.status_code == 200, response.text
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        assert ticket is not None
        assert ticket["description"] == "nulhere and \ufffd alone"
        [event] = await d.fetch('SELECT * FROM "SlackEvent"')
        assert event["processedAt"] is not None
        [backend] = d.posts(TICKET_CHANNEL)
        assert "nulhere and \ufffd alone" in backend.args["text"]


async def test_a_streamed_body_over_the_limit_gets_413_from_slack_events(desk, team):
    async def streamed():
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    async with desk() as d:
        response = await d.client.post("/slack/events", content=streamed())
        assert response.status_code == 413
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []


async def test_an_event_the_database_refuses_for_its_content_is_a_4xx_told_once_not_a_503(desk, team, caplog):
    async with desk() as d:
        # JSON's NaN parses in Python but jsonb refuses it: no cleaning makes this storable.
        envelope = event_callback(question(HELP_CHANNEL, ASKER, "not a number"), event_id="Ev0NOTANUM1")
        raw = json.dumps(envelope).replace('"type": "message"', '"type": "message", "score": NaN', 1)
        assert "NaN" in raw
        response = await d.deliver.post(raw.encode(), content_type="application/json")
        assert 400 <= response.status_code < 500
        await d.settle()
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        [told] = [c for c in d.posts(HEARTBEAT_CHANNEL) if "Ev0NOTANUM1" in c.args["text"]]
        assert "refused" in told.args["text"]
        assert len([r for r in caplog.records if "Ev0NOTANUM1" in r.getMessage()]) == 1
        assert no_traceback(caplog)


ODD_SIGNED_BODIES = [
    b"",
    b"{}",
    b'{"type": 5}',
    b'{"type": "block_actions"}',
    b'{"type": "block_actions", "actions": "x", "user": 3}',
    b'{"type": "view_submission", "view": null}',
    b'{"type": "event_callback", "event": {}, "event_id": "Ev0ODD00001"}',
    b'{"type": "event_callback", "event": {"type": "message"}, "event_id": "Ev0ODD00002"}',
    b'{"type": "event_callback", "event": {"type": "message", "channel": "C0HELP0001", "user": 7, "ts": 1},'
    b' "event_id": "Ev0ODD00003"}',
]


@pytest.mark.parametrize("body", ODD_SIGNED_BODIES)
async def test_a_signed_body_of_an_odd_shape_is_never_a_500(desk, team, caplog, body):
    async with desk() as d:
        response = await d.deliver.post(body, content_type="application/json")
        assert response.status_code < 500, response.text
        await d.settle()
        assert await d.fetch('SELECT * FROM "Ticket"') == []


# ---------------------------------------------------------------- issue 18, section 4


def alerts(d) -> list[str]:
    """What the heartbeat channel was told (a failure there means a listener raised)."""
    return [c.args["text"] for c in d.posts(HEARTBEAT_CHANNEL) if "could not be handled" in c.args["text"]]


@pytest.mark.parametrize("digits", [4301, 5000])
async def test_a_timestamp_of_thousands_of_digits_gets_401_and_no_traceback(desk, team, caplog, digits):
    async with desk() as d:
        body = json.dumps(event_callback(question(HELP_CHANNEL, ASKER, "when?"))).encode()
        timestamp = "9" * digits
        unsigned = {"X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + "0" * 64}
        signed = signed_headers(body, d.deliver.signing_secret, timestamp=timestamp)
        for headers in (unsigned, signed):
            response = await d.client.post(
                "/slack/events", content=body, headers={**headers, "Content-Type": "application/json"}
            )
            assert response.status_code == 401, response.text
        assert no_traceback(caplog)


def nested(depth: int) -> str:
    return '{"type": "block_actions", "deep": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [150, 100_000])
async def test_a_signed_body_nested_too_deep_gets_400_and_no_traceback(desk, team, caplog, depth):
    caplog.set_level(logging.INFO)
    async with desk() as d:
        as_json = await d.deliver.post(nested(depth).encode(), content_type="application/json")
        as_form = await d.deliver.post(
            urlencode({"payload": nested(depth)}).encode(), content_type="application/x-www-form-urlencoded"
        )
        assert [as_json.status_code, as_form.status_code] == [400, 400]
        await d.settle()
        assert no_traceback(caplog)
        assert alerts(d) == []


@pytest.mark.parametrize("missing", ["ts", "user"])
async def test_a_message_event_without_ts_or_user_is_ignored_without_a_traceback(desk, team, caplog, missing):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "where is my ts?")
        del asked[missing]
        body = json.dumps(event_callback(asked)).encode()  # not mirrored in the fake: it has no ts
        response = await d.deliver.post(body, content_type="application/json")
        assert response.status_code < 500, response.text
        await d.settle()
        assert no_traceback(caplog)
        assert alerts(d) == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []


async def test_a_thread_reply_with_a_numeric_ts_is_ignored_without_a_traceback(desk, team, caplog):
    async with desk() as d:
        asked, ticket = await d.ask()
        reply = thread_reply(HELP_CHANNEL, HELPER, "here", thread_ts=asked["ts"], parent_user_id=ASKER)
        reply["ts"] = 17
        response = await d.deliver.post(
            json.dumps(event_callback(reply)).encode(), content_type="application/json"
        )
        assert response.status_code < 500
        await d.settle()
        assert no_traceback(caplog) and alerts(d) == []
        assert await d.ticket(asked["ts"]) == ticket


# Values the app never writes: non-ASCII digits (read by int() as digits, or refused by it with a
# ValueError), and numbers past PostgreSQL's integer.
UNREADABLE_NUMBERS = ["²", "١٢", "１２", "2147483648", "99999999999", "1" * 5000, "-1", " 1", "0"]


@pytest.mark.parametrize("value", UNREADABLE_NUMBERS)
async def test_a_resolve_button_whose_value_is_not_a_ticket_id_is_out_of_date(desk, team, caplog, value):
    async with desk() as d:
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "on it")
        before = await d.ticket(asked["ts"])
        payload = block_actions(
            HELPER,
            button(RESOLVE_ACTION, value=value, text="Resolve"),
            channel=HELP_CHANNEL,
            message=d.thread_reply_message(asked),
        )
        response = await d.deliver.action(payload)
        assert response.status_code == 200, response.text
        await d.settle()
        assert await d.ticket(asked["ts"]) == before
        assert [e["text"] for e in d.slack.ephemerals if e["user"] == HELPER] == [
            DEFAULT.text("button_unreadable", user=f"<@{HELPER}>")
        ]
        assert no_traceback(caplog) and alerts(d) == []


def arabic_indic(number: int) -> str:
    return "".join(chr(0x0660 + int(digit)) for digit in str(number))


@pytest.mark.parametrize(
    "kind", ["arabic-indic block_id", "int32 block_id", "int32 option", "superscript option"]
)
async def test_a_tag_select_with_an_unreadable_number_changes_nothing_and_says_so(desk, team, caplog, kind):
    async with desk() as d:
        asked, ticket = await d.ask()
        [tag] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        block_id = {
            "arabic-indic block_id": f"{tag_blocks.TICKET_TAGS_BLOCK}:{arabic_indic(ticket['id'])}",
            "int32 block_id": f"{tag_blocks.TICKET_TAGS_BLOCK}:4294967296",
        }.get(kind, tag_blocks.ticket_tags_block_id(ticket["id"]))
        value = {"int32 option": "4294967296", "superscript option": "²"}.get(kind, str(tag["id"]))
        action = {
            "type": "multi_external_select",
            "action_id": tag_blocks.TEAM_TAGS_SELECT,
            "block_id": block_id,
            "selected_options": [{"text": {"type": "plain_text", "text": "Auth"}, "value": value}],
            "action_ts": "1700000000.000001",
        }
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        response = await d.deliver.action(
            block_actions(HELPER, action, channel=TICKET_CHANNEL, message=backend)
        )
        assert response.status_code == 200, response.text
        await d.settle()
        assert await d.fetch("SELECT * FROM tags_on_tickets") == []
        assert [e["text"] for e in d.slack.ephemerals if e["user"] == HELPER] == [
            DEFAULT.text("button_unreadable", user=f"<@{HELPER}>")
        ]
        assert no_traceback(caplog) and alerts(d) == []


@pytest.mark.parametrize("metadata", ["²", "١", "99999999999", "2147483648"])
async def test_a_feedback_modal_whose_metadata_is_not_a_ticket_id_is_refused_in_the_modal(
    desk, team, caplog, metadata
):
    async with desk() as d:
        values = {
            messages.FEEDBACK_RATING_BLOCK: {messages.FEEDBACK_RATING_INPUT: radio_buttons_value("GREAT")},
            messages.FEEDBACK_COMMENT_BLOCK: {messages.FEEDBACK_COMMENT_INPUT: plain_text_value(None)},
        }
        payload = view_submission(
            ASKER, callback_id=messages.FEEDBACK_MODAL, private_metadata=metadata, values=values
        )
        response = await d.deliver.action(payload)
        assert response.status_code == 200, response.text
        assert response.json() == {
            "response_action": "errors",
            "errors": {messages.FEEDBACK_RATING_BLOCK: DEFAULT.text("feedback_ticket_gone")},
        }
        await d.settle()
        assert await d.fetch('SELECT * FROM "Feedback"') == []
        assert no_traceback(caplog) and alerts(d) == []


@pytest.mark.parametrize("value", ["²", "١", "2147483648", "99999999999"])
async def test_app_home_buttons_with_unreadable_numbers_change_nothing_and_say_so(desk, team, caplog, value):
    async with desk(slack_maintainer_id=HELPER) as d:  # the maintainer is an admin
        [tag] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        for action_id in (
            home_common.RESOLVE_BUTTON,
            home_team_tags.DELETE_BUTTON,
            tag_blocks.SUBSCRIBE_BUTTON,
        ):
            payload = block_actions(HELPER, button(action_id, value=value), view={"id": "V0FAKEVIEW1"})
            response = await d.deliver.action(payload)
            assert response.status_code == 200, response.text
            await d.settle()
            notice = json.dumps(d.slack.views_published[HELPER])
            assert json.dumps(DEFAULT.text("button_unreadable", user=f"<@{HELPER}>"))[1:-1] in notice
        assert [r["id"] for r in await d.fetch('SELECT id FROM "Tag"')] == [tag["id"]]
        assert no_traceback(caplog) and alerts(d) == []
        page = await d.deliver.action(
            block_actions(
                HELPER, button(home_common.PAGE_BUTTON + ":next", value="dashboard:²"), view={"id": "V1"}
            )
        )
        assert page.status_code == 200
        await d.settle()
        assert no_traceback(caplog) and alerts(d) == []


@pytest.mark.parametrize(
    "mention", ["<!CHANNEL>", "<!Here>", "<!channel >", "<!subteam^s0123abc>", "<! everyone|x>"]
)
async def test_broadcast_mentions_in_any_case_or_spacing_are_not_reposted(desk, team, mention):
    async with desk() as d:
        asked, ticket = await d.ask(f"help {mention} please")
        [backend] = d.posts(TICKET_CHANNEL)
        # The line saying whom the ticket waits on is the bot's own, with Slack's date token
        # (<!date^…>, no mention) as its only "<!"; everything else repeats what the asker wrote.
        blocks = backend.args.get("blocks") or []
        [waiting] = [b for b in blocks if b.get("block_id") == messages.WAITING_BLOCK]
        assert json.dumps(waiting).count("<!") == json.dumps(waiting).count("<!date^") == 1
        reposted = json.dumps([backend.args.get("text"), [b for b in blocks if b is not waiting]])
        assert "<!" not in reposted and "< !" not in reposted
        assert "help" in reposted
