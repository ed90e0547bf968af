"""Block Kit for tags stays within Slack's limits and follows the transcript."""

from __future__ import annotations

from nephthys.slack import tag_blocks
from nephthys.tags.service import NameProblem, NameRejected, TagView
from nephthys.transcripts import load_transcript


def test_backend_blocks_offer_every_tag_and_preselect_the_tickets():
    transcript = load_transcript("default")
    tags = [TagView(id=n, name=f"Tag {n}") for n in range(1, 131)]
    blocks = tag_blocks.backend_tag_blocks(
        transcript,
        ticket_id=42,
        all_tags=tags,
        ticket_tags=[tags[2], tags[120]],
        question_tag=TagView(id=7, name="Payout?"),
    )
    context, actions = blocks
    assert "*Tag 3*" in context["elements"][0]["text"] and "Team tags" in context["elements"][0]["text"]
    assert tag_blocks.ticket_id_from_block_id(actions["block_id"]) == 42
    team, question = actions["elements"]
    assert team["type"] == "multi_static_select" and len(team["options"]) == 100  # Slack's limit
    assert [o["value"] for o in team["initial_options"]] == ["3"]  # the 121st is not an option
    assert question["type"] == "external_select" and question["initial_option"]["value"] == "7"


def test_backend_blocks_without_tags_have_only_the_question_select():
    blocks = tag_blocks.backend_tag_blocks(
        load_transcript("flavortown"), ticket_id=1, all_tags=[], ticket_tags=[], question_tag=None
    )
    assert len(blocks) == 1
    (question,) = blocks[0]["elements"]
    assert question["placeholder"]["text"] == load_transcript("flavortown").text(
        "backend_question_tag_placeholder"
    )
    assert "initial_option" not in question


def test_block_ids_that_are_not_ours_give_no_ticket():
    for block_id in [None, "", "ticket_tags", "ticket_tags:x", "other:3"]:
        assert tag_blocks.ticket_id_from_block_id(block_id) is None


def test_home_section_shows_subscriptions_and_create_buttons_for_helpers_only():
    transcript = load_transcript("identity")
    tags = [TagView(id=1, name="Auth"), TagView(id=2, name="Billing")]
    helper = tag_blocks.team_tags_home_blocks(transcript, tags=tags, subscribed_ids={2}, is_helper=True)
    buttons = {b["accessory"]["value"]: b["accessory"] for b in helper if b.get("accessory")}
    assert (
        buttons["1"]["action_id"] == tag_blocks.SUBSCRIBE_BUTTON and buttons["1"]["text"]["text"] == "Follow"
    )
    assert (
        buttons["2"]["action_id"] == tag_blocks.UNSUBSCRIBE_BUTTON
        and buttons["2"]["text"]["text"] == "Unfollow"
    )
    assert any(b.get("block_id") == "team_tags_create" for b in helper)
    other = tag_blocks.team_tags_home_blocks(transcript, tags=[], subscribed_ids=set(), is_helper=False)
    assert not any(b.get("block_id") == "team_tags_create" for b in other)
    assert other[-1]["text"]["text"] == transcript.text("app_home_no_team_tags")


def test_modal_and_its_errors_come_from_the_transcript():
    transcript = load_transcript("flavortown")
    modal = tag_blocks.create_modal(transcript, question_tag=False)
    assert modal["title"]["text"] == "New station" and len(modal["title"]["text"]) <= 24
    assert modal["blocks"][0]["element"]["max_length"] == 75
    taken = tag_blocks.name_error(transcript, NameRejected(NameProblem.TAKEN, "Grill"))
    assert taken == "The station “Grill” is already open."
    assert "75" in tag_blocks.name_error(transcript, NameRejected(NameProblem.TOO_LONG, "x" * 80))
