"""Block Kit for tags stays within Slack's limits and follows the transcript."""

from __future__ import annotations

from nephthys.slack import tag_blocks
from nephthys.tags.service import NameProblem, NameRejected, TagView
from nephthys.transcripts import load_transcript


def test_backend_blocks_preselect_the_tickets_tags_and_question_tag():
    transcript = load_transcript("default")
    blocks = tag_blocks.backend_tag_blocks(
        transcript,
        ticket_id=42,
        ticket_tags=[TagView(id=3, name="Auth"), TagView(id=9, name="Billing")],
        question_tag=TagView(id=7, name="Payout?"),
    )
    context, actions = blocks
    assert context["elements"][0]["text"] == "Team tags: *Auth*, *Billing*"
    assert tag_blocks.ticket_id_from_block_id(actions["block_id"]) == 42
    team, question = actions["elements"]
    assert team["type"] == "multi_external_select" and team["min_query_length"] == 0
    assert [o["value"] for o in team["initial_options"]] == ["3", "9"]
    assert question["type"] == "external_select" and question["initial_option"]["value"] == "7"


def test_backend_blocks_of_a_new_ticket_have_empty_selects():
    transcript = load_transcript("flavortown")
    (actions,) = tag_blocks.backend_tag_blocks(transcript, ticket_id=1)
    team, question = actions["elements"]
    assert team["placeholder"]["text"] == transcript.text("backend_team_tags_placeholder")
    assert question["placeholder"]["text"] == transcript.text("backend_question_tag_placeholder")
    assert "initial_options" not in team and "initial_option" not in question


def test_block_ids_that_are_not_ours_give_no_ticket():
    for block_id in [None, "", "ticket_tags", "ticket_tags:x", "other:3"]:
        assert tag_blocks.ticket_id_from_block_id(block_id) is None


def test_modal_and_its_errors_come_from_the_transcript():
    transcript = load_transcript("flavortown")
    modal = tag_blocks.create_modal(transcript, question_tag=False)
    assert modal["title"]["text"] == "New station" and len(modal["title"]["text"]) <= 24
    assert modal["blocks"][0]["element"]["max_length"] == 75
    taken = tag_blocks.name_error(transcript, NameRejected(NameProblem.TAKEN, "Grill"))
    assert taken == "The station “Grill” is already open."
    assert "75" in tag_blocks.name_error(transcript, NameRejected(NameProblem.TOO_LONG, "x" * 80))
