"""/slack/events under hostile input: the signature first, over the raw bytes; a malformed body is a
400 only once it is signed; what the database would refuse is cleaned or refused with a 4xx; only an
outage is a 503; no traceback in the log."""

from __future__ import annotations

import json
import logging

import pytest

from nephthys.utils.body_limit import MAX_BODY_BYTES
from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, TICKET_CHANNEL
from tests.support.slack import event_callback, question, signed_headers

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
