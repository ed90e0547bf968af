"""Behaviour 2: titles from an OpenAI-compatible endpoint, never blocking or breaking ticket creation."""

from __future__ import annotations

import pytest

from nephthys.slack.titles import first_words_title
from nephthys.testing.fake_ai import FakeAI
from tests.slack.conftest import TICKET_CHANNEL
from tests.support.server import running

QUESTION = "My GitHub Pages site shows a 404 after I pushed the new build, what did I break?"


def title_model(behaviour: str) -> FakeAI:
    """The fake OpenAI-compatible endpoint, answering (when it answers) with one title."""
    return FakeAI('"GitHub Pages 404 after deploy"', behaviour=behaviour)


async def ask_with_model(desk, behaviour: str):
    model = title_model(behaviour)
    async with running(model.app) as model_url:
        try:
            async with desk(
                hack_club_ai_api_key="sk-test", ai_base_url=f"{model_url}/v1", ai_timeout_seconds=0.5
            ) as d:
                asked, ticket = await d.ask(QUESTION)
                backend = d.posts(TICKET_CHANNEL)
        finally:
            model.release.set()
    return model, ticket, backend


async def test_a_generated_title(desk, team):
    model, ticket, [backend] = await ask_with_model(desk, "good")
    assert ticket["title"] == "GitHub Pages 404 after deploy" and ticket["titleFromAi"] is True
    assert "GitHub Pages 404 after deploy" in backend.args["text"]
    [request] = model.requests
    assert request["authorization"] == "Bearer sk-test"
    assert request["body"]["messages"][-1]["content"] == QUESTION


async def test_a_slow_model_leaves_the_first_words_and_the_ticket_goes_on(desk, team):
    model, ticket, [backend] = await ask_with_model(desk, "slow")
    assert len(model.requests) == 1
    assert ticket["title"] == first_words_title(QUESTION) == "My GitHub Pages site shows a 404 after…"
    assert ticket["titleFromAi"] is False
    assert ticket["ticketTs"] == backend.response["ts"]


@pytest.mark.parametrize("behaviour", ["error", "garbage"])
async def test_a_failing_model_leaves_the_first_words(desk, team, behaviour):
    model, ticket, [backend] = await ask_with_model(desk, behaviour)
    assert len(model.requests) == 1
    assert ticket["title"] == first_words_title(QUESTION)
    assert ticket["ticketTs"] == backend.response["ts"]


async def test_without_a_model_no_call_is_made_and_titles_are_the_first_words(desk, team):
    async with desk() as d:
        _, ticket = await d.ask("   <@U0HELPER01> help!   my <https://example.com|site> is down")
        assert ticket["title"] == "help! my site is down"


@pytest.mark.parametrize("behaviour", ["good", "error"])
async def test_without_a_key_only_an_ai_written_title_is_shown(desk, team, behaviour):
    """API_DESCRIPTIONS=keys: the first words are the question's text, hidden like it (issue 18 §5)."""
    model = title_model(behaviour)
    settings = {"hack_club_ai_api_key": "sk-test", "ai_timeout_seconds": 0.5, "api_descriptions": "keys"}
    async with running(model.app) as model_url, desk(ai_base_url=f"{model_url}/v1", **settings) as d:
        _, ticket = await d.ask(QUESTION)
        shown = await d.api_ticket(ticket["id"])
        listed = (await d.client.get("/api/tickets", params={"status": "open"})).json()
        exported = (await d.client.get("/api/tickets", params={"since": "2000-01-01"})).json()
    expected = "GitHub Pages 404 after deploy" if behaviour == "good" else None
    assert [shown["title"], listed[0]["title"], exported[0]["title"]] == [expected] * 3
    assert "description" not in shown and "GitHub Pages site" not in str([shown, listed, exported])


def test_first_words_title_edge_cases():
    assert first_words_title("") == "(no text)"
    assert first_words_title("word " * 3) == "word word word"
    assert len(first_words_title("x" * 500)) <= 80
