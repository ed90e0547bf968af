"""A new ticket's question tag chosen by the AI endpoint from the existing ones (issue 22 §4), over
signed Slack requests, the fake Slack and the fake OpenAI-compatible endpoint."""

from __future__ import annotations

import json

from nephthys.memory import question_tag
from nephthys.testing.fake_ai import FakeAI
from tests.slack.conftest import HEARTBEAT_CHANNEL, HELP_CHANNEL, HELPER, STRANGER, TICKET_CHANNEL, eventually
from tests.slack.test_tag_surfaces import on_backend, question_select
from tests.support.server import running
from tests.support.slack import block_actions, question

AUTOMATIC = "(chosen automatically)"


def is_tag_request(body: dict) -> bool:
    return body["messages"][0]["content"] == question_tag.PROMPT


def model_answering(tag_answer: str) -> FakeAI:
    """Titles get a title; the question-tag request gets ``tag_answer``."""
    return FakeAI(lambda body: tag_answer if is_tag_request(body) else "A short title")


def choice(tag: str | None, confidence: float) -> str:
    return json.dumps({"tag": tag, "confidence": confidence})


def ai_settings(model_url: str, **more) -> dict:
    return {
        "hack_club_ai_api_key": "sk-test",
        "ai_base_url": f"{model_url}/v1",
        "ai_timeout_seconds": 2,
    } | more


async def question_tags(d, *labels: str) -> dict[str, int]:
    found = {}
    for label in labels:
        [row] = await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', label)
        found[label] = row["id"]
    return found


async def memory_row(d, ticket_id: int):
    [row] = await d.fetch('SELECT * FROM "TicketSearch" WHERE "ticketId" = $1', ticket_id)
    return row


def backend_text(d, ticket: dict) -> str:
    return json.dumps(d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])["blocks"])


def tag_requests(model: FakeAI) -> list[dict]:
    return [r["body"] for r in model.requests if is_tag_request(r["body"])]


async def test_a_confident_choice_of_an_existing_tag_is_set_and_marked_once(desk, team):
    model = model_answering(choice("Deadlines", 0.93))
    async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
        tags = await question_tags(d, "Deadlines", "Payouts")
        asked, ticket = await d.ask("Is the deadline for the summer program extended?")
        ticket = await d.ticket(asked["ts"])
        assert ticket["questionTagId"] == tags["Deadlines"]
        assert (await memory_row(d, ticket["id"]))["autoQuestionTagId"] == tags["Deadlines"]
        assert f"Question tag: *Deadlines* {AUTOMATIC}" in backend_text(d, ticket)
        # The model was offered the existing labels and the question, and nothing else of the desk.
        [request] = tag_requests(model)
        offered = request["messages"][1]["content"]
        assert "- Deadlines\n- Payouts" in offered and "summer program" in offered
        # Nothing of it reaches the asker.
        assert all(AUTOMATIC not in p.args["text"] for p in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]))
        # A redelivered question (a retry, a second instance) does not ask again.
        assert (await d.deliver.event(asked)).status_code == 200
        await d.settle()
        assert len(tag_requests(model)) == 1


async def test_a_tag_that_does_not_exist_sets_nothing(desk, team):
    # A made-up tag; a label alone, not the JSON asked for; no confidence; a confidence out of range.
    answers = [
        choice("Deadline extensions", 0.99),
        "Deadlines",
        '{"tag": "Deadlines"}',
        choice("Deadlines", 7),
    ]
    for n, answer in enumerate(answers):
        model = model_answering(answer)
        async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
            if n == 0:
                await question_tags(d, "Deadlines")
            asked, _ = await d.ask(f"Is the deadline extended? ({n})", user=STRANGER)
            ticket = await d.ticket(asked["ts"])
            assert len(tag_requests(model)) == 1 and ticket["questionTagId"] is None
            assert (await memory_row(d, ticket["id"]))["autoQuestionTagId"] is None
            assert AUTOMATIC not in backend_text(d, ticket)
            assert [p for p in d.posts(HEARTBEAT_CHANNEL) if "question tag" in p.args["text"]] == []


async def test_a_choice_below_the_confidence_setting_sets_nothing(desk, team):
    model = model_answering(choice("Deadlines", 0.7))
    async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
        await question_tags(d, "Deadlines")
        asked, _ = await d.ask("Is the deadline extended?")
        assert len(tag_requests(model)) == 1
        assert (await d.ticket(asked["ts"]))["questionTagId"] is None
    # The threshold is the operator's: at 0.6 the same answer is confident enough.
    model = model_answering(choice("deadlines", 0.7))  # a label's case does not matter
    async with (
        running(model.app) as model_url,
        desk(**ai_settings(model_url, ai_question_tag_confidence=0.6)) as d,
    ):
        asked, _ = await d.ask("Is the deadline really extended?", user=STRANGER)
        [deadlines] = await d.fetch('SELECT id FROM "QuestionTag" WHERE label = $1', "Deadlines")
        assert (await d.ticket(asked["ts"]))["questionTagId"] == deadlines["id"]


async def test_an_error_or_a_timeout_sets_nothing_and_says_so_once(desk, team):
    model = FakeAI(behaviour="error")
    async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
        await question_tags(d, "Deadlines")
        for asker, text in ((STRANGER, "Is the deadline extended?"), (HELPER, "When is the deadline?")):
            asked, _ = await d.ask(text, user=asker)
            assert (await d.ticket(asked["ts"]))["questionTagId"] is None
        assert len(tag_requests(model)) == 2
        notes = [p for p in d.posts(HEARTBEAT_CHANNEL) if "No question tag was chosen" in p.args["text"]]
        assert len(notes) == 1  # once, not per ticket

    model = model_answering(choice("Deadlines", 0.99))
    model.behaviour, model.slow_when = "slow", is_tag_request  # the title answers; the tag never does
    async with (
        running(model.app) as model_url,
        desk(**ai_settings(model_url, ai_timeout_seconds=0.3)) as d,
    ):
        asked, ticket = await d.ask("Is the deadline extended again?", user=STRANGER)
        model.release.set()
        assert ticket["ticketTs"] is not None  # the backend message did not wait for the model
        assert (await d.ticket(asked["ts"]))["questionTagId"] is None
        notes = [p for p in d.posts(HEARTBEAT_CHANNEL) if "No question tag was chosen" in p.args["text"]]
        assert len(notes) == 2 and "TimeoutError" in notes[1].args["text"]  # (the same fake Slack)


async def test_a_helpers_earlier_choice_is_never_overwritten(desk, team):
    model = model_answering(choice("Deadlines", 0.99))
    model.behaviour, model.slow_when = "slow", is_tag_request
    async with running(model.app) as model_url, desk(**ai_settings(model_url, ai_timeout_seconds=10)) as d:
        tags = await question_tags(d, "Deadlines", "Payouts")
        asked = question(HELP_CHANNEL, STRANGER, "Is the deadline extended?")
        assert (await d.deliver.event(asked)).status_code == 200

        async def model_asked() -> bool:
            return bool(tag_requests(model))

        await eventually(model_asked)
        # While the model thinks, a helper picks a tag: theirs stays.
        ticket = await d.ticket(asked["ts"])
        backend = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        pick = question_select(ticket["id"], (tags["Payouts"], "Payouts"))
        assert (
            await d.deliver.action(block_actions(HELPER, pick, channel=TICKET_CHANNEL, message=backend))
        ).status_code == 200

        async def helper_chose() -> bool:
            return (await d.ticket(asked["ts"]))["questionTagId"] == tags["Payouts"]

        await eventually(helper_chose)
        model.release.set()
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        assert ticket["questionTagId"] == tags["Payouts"]
        assert (await memory_row(d, ticket["id"]))["autoQuestionTagId"] is None
        assert AUTOMATIC not in backend_text(d, ticket)


async def test_a_helper_removes_or_changes_the_automatic_tag_like_any_other(desk, team):
    model = model_answering(choice("Deadlines", 0.95))
    async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
        tags = await question_tags(d, "Deadlines", "Payouts")
        first, ticket = await d.ask("Is the deadline extended?")
        assert AUTOMATIC in backend_text(d, ticket)
        # Changed: the helper's tag, no longer marked.
        await on_backend(d, ticket, HELPER, question_select(ticket["id"], (tags["Payouts"], "Payouts")))
        assert (await d.ticket(first["ts"]))["questionTagId"] == tags["Payouts"]
        assert (await memory_row(d, ticket["id"]))["autoQuestionTagId"] is None
        assert AUTOMATIC not in backend_text(d, ticket)

        second, ticket = await d.ask("Is the deadline extended for the winter one?", user=STRANGER)
        assert AUTOMATIC in backend_text(d, ticket)
        # Kept as it is by a helper (the same tag chosen again): theirs now, no longer marked.
        await on_backend(d, ticket, HELPER, question_select(ticket["id"], (tags["Deadlines"], "Deadlines")))
        assert (await d.ticket(second["ts"]))["questionTagId"] == tags["Deadlines"]
        assert AUTOMATIC not in backend_text(d, ticket)

        third, ticket = await d.ask("Has the deadline moved?", user=STRANGER)
        assert AUTOMATIC in backend_text(d, ticket)
        # Removed.
        await on_backend(d, ticket, HELPER, question_select(ticket["id"], None))
        assert (await d.ticket(third["ts"]))["questionTagId"] is None
        assert AUTOMATIC not in backend_text(d, ticket)
        # Someone who is not a helper changes nothing.
        fourth, ticket = await d.ask("Deadline extension for the autumn?", user=HELPER)
        await on_backend(d, ticket, STRANGER, question_select(ticket["id"], None))
        assert (await d.ticket(fourth["ts"]))["questionTagId"] == tags["Deadlines"]
        assert AUTOMATIC in backend_text(d, ticket)


async def test_without_an_ai_endpoint_nothing_is_sent_anywhere(desk, team):
    model = model_answering(choice("Deadlines", 0.99))
    async with running(model.app) as model_url:
        async with desk() as d:  # not configured
            await question_tags(d, "Deadlines")
            asked, ticket = await d.ask("Is the deadline extended?")
            assert (await d.ticket(asked["ts"]))["questionTagId"] is None
            assert (await memory_row(d, ticket["id"]))["questionTagAskedAt"] is None
        async with desk(**ai_settings(model_url, ai_question_tags=False)) as d:  # configured, tags off
            asked, _ = await d.ask("Is the deadline extended again?", user=STRANGER)
            assert (await d.ticket(asked["ts"]))["questionTagId"] is None
            assert tag_requests(model) == []  # titles only
        assert model.requests and all(not is_tag_request(r["body"]) for r in model.requests)
    # Nor is the model asked when there is no question tag to choose from.
    model = model_answering(choice("Deadlines", 0.99))
    async with running(model.app) as model_url, desk(**ai_settings(model_url)) as d:
        await d.fetch('DELETE FROM "QuestionTag"')
        await d.ask("Is the deadline extended?", user=HELPER)
        assert tag_requests(model) == []
