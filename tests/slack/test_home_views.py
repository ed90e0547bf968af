"""The App Home's views as pure functions: plain data in, Block Kit out, within Slack's limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nephthys.database.models import FeedbackRating, TicketStatus, UserType
from nephthys.slack.home import (
    assigned,
    common,
    dashboard,
    my_questions,
    my_stats,
    question_tags,
    search,
    team_tags,
)
from nephthys.slack.home.common import View, page_of
from nephthys.stats.home import (
    BoardPlace,
    DashboardFigures,
    HelperFigures,
    HelperRatings,
    QuestionTagFigures,
    WindowFigures,
    leaderboard,
)
from nephthys.tags.service import TagView, TagWithSubscribers
from nephthys.tickets.lifecycle import AskedTicket, AssignedTicket
from nephthys.transcripts import available_programs, load_transcript

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def link(ts: str) -> str:
    return f"https://x.slack.com/archives/C1/p{ts.replace('.', '')}"


def all_programs():
    return [load_transcript(program) for program in available_programs()]


def assigned_tickets(n: int) -> list[AssignedTicket]:
    return [
        AssignedTicket(
            id=i,
            title=f"Question {i} <!here> with a | pipe",
            msg_ts=f"1700000000.{i:06d}",
            status=TicketStatus.IN_PROGRESS,
            asker_slack_id="UASKER",
            created_at=NOW - timedelta(hours=i),
            last_msg_by=UserType.AUTHOR if i % 2 else UserType.HELPER,
            tags=("Auth", "Billing"),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("transcript", all_programs(), ids=lambda t: t.program_name)
def test_every_view_stays_inside_100_blocks_at_its_fullest(transcript):
    header = common.header_blocks(
        transcript,
        title="Nephthys",
        views=common.HELPER_VIEWS,
        current=View.ASSIGNED,
        notice="notice",
        extra=search.search_actions(transcript),
    )
    page = page_of(2, total=1000, size=assigned.PAGE_SIZE)
    full = assigned.blocks(
        transcript, assigned_tickets(assigned.PAGE_SIZE), total=1000, page=page, now=NOW, thread_link=link
    )
    assert len(header) + len(full) <= common.MAX_BLOCKS
    tags = [TagWithSubscribers(TagView(i, f"Tag {i}"), tuple(f"U{j}" for j in range(40))) for i in range(500)]
    tag_page = page_of(3, total=len(tags), size=team_tags.PAGE_SIZE)
    tag_blocks = team_tags.blocks(
        transcript, tags, viewer_slack_id="U1", helper=True, admin=True, page=tag_page
    )
    assert len(header) + len(tag_blocks) <= common.MAX_BLOCKS
    counted = [QuestionTagFigures(i, f"Q {i}", 1, 2, 3) for i in range(500)]
    question_page = page_of(1, total=len(counted), size=question_tags.PAGE_SIZE)
    question_blocks = question_tags.blocks(transcript, counted, helper=True, admin=True, page=question_page)
    assert len(header) + len(question_blocks) <= common.MAX_BLOCKS
    asked = [
        AskedTicket(i, f"Q{i}", f"1700000000.{i:06d}", TicketStatus.CLOSED, "UHELPER", NOW) for i in range(50)
    ]
    mine = my_questions.blocks(transcript, asked, help_channel="C1", thread_link=link)
    assert len(header) + len(mine) <= common.MAX_BLOCKS


def test_assigned_ticket_quotes_its_title_and_marks_waiting_on_the_viewer():
    transcript = load_transcript("default")
    [ticket] = assigned_tickets(2)[1:]
    blocks = assigned.ticket_blocks(transcript, ticket, now=NOW, thread_link=link)
    text = blocks[0]["text"]["text"]
    assert (
        "<!here>" not in text and "@\u2060here" in text and "|Question 1 @\u2060here with a ¦ pipe>" in text
    )
    assert transcript.text("app_home_last_spoke_asker") in text
    assert "1h 0m" in text
    assert blocks[0]["accessory"] == {
        "type": "button",
        "action_id": common.RESOLVE_BUTTON,
        "text": {"type": "plain_text", "text": transcript.text("resolve_button"), "emoji": True},
        "value": "1",
        "style": "primary",
    }
    assert blocks[1]["elements"][0]["text"] == transcript.text(
        "app_home_assigned_tags", tags="*Auth*, *Billing*"
    )


def test_pages_are_clamped_and_the_pager_links_its_neighbours():
    assert page_of(0, total=32, size=15) == common.Page(1, 3, 15)
    assert page_of(99, total=32, size=15) == common.Page(3, 3, 15)
    assert page_of(1, total=0, size=15) == common.Page(1, 1, 15)
    transcript = load_transcript("default")
    assert common.pager_blocks(transcript, View.ASSIGNED, common.Page(1, 1, 15)) == []
    middle = common.pager_blocks(transcript, View.ASSIGNED, common.Page(2, 3, 15))
    assert [e["value"] for e in middle[1]["elements"]] == ["assigned:1", "assigned:3"]
    assert common.parse_view_and_page("team_tags:4") == (View.TEAM_TAGS, 4)
    assert common.parse_view_and_page("nope:x") == (None, 1)
    assert common.parse_view_and_page("assigned:99999999999") == (View.ASSIGNED, 1)


def test_a_non_helper_sees_no_tag_buttons_and_a_helper_no_admin_ones():
    transcript = load_transcript("default")
    tags = [TagWithSubscribers(TagView(1, "Auth"), ("U1",))]
    page = page_of(1, total=1, size=team_tags.PAGE_SIZE)
    stranger = team_tags.blocks(transcript, tags, viewer_slack_id="U9", helper=False, admin=False, page=page)
    assert "accessory" not in stranger[-1] and "team_tags_create" not in str(stranger)
    helper = team_tags.blocks(transcript, tags, viewer_slack_id="U1", helper=True, admin=False, page=page)
    assert helper[-1]["accessory"]["action_id"] == "team_tag_unsubscribe"
    assert "team_tag_delete" not in str(helper) and "team_tag_rename" not in str(helper)
    admin = team_tags.blocks(transcript, tags, viewer_slack_id="U9", helper=True, admin=True, page=page)
    assert admin[-1]["block_id"] == "team_tag_admin:1" and "team_tags_create" in str(admin)


def test_dashboard_and_my_stats_read_like_a_report():
    transcript = load_transcript("default")
    entries = [{"id": i, "slack_id": f"U{i}", "count": 20 - i} for i in range(1, 13)]
    window = WindowFigures(10, 7, 4, 6, 25.0, 125.0)
    figures = DashboardFigures(
        now=NOW,
        tickets_total=1234,
        tickets_open=3,
        tickets_in_progress=5,
        tickets_closed=1226,
        mean_hang_minutes=25.4,
        mean_resolution_minutes=None,
        oldest_unanswered=None,
        day=window,
        week=window,
        all_time_board=leaderboard(entries, viewer_slack_id="U12"),
        week_board=leaderboard([], viewer_slack_id="U12"),
    )
    blocks = dashboard.blocks(transcript, figures)
    summary = blocks[0]["text"]["text"].splitlines()
    assert summary[0] == transcript.text(
        "app_home_dashboard_totals", total="1,234", open="3", in_progress="5", closed="1,226"
    )
    assert summary[1] == transcript.text(
        "app_home_dashboard_day", new="10", new_change="+3", closed="4", closed_change="−2"
    )
    assert summary[3] == transcript.text("app_home_dashboard_means", hang="25m", resolution="–")
    assert summary[4] == transcript.text("app_home_dashboard_no_oldest")
    assert blocks[3]["elements"][0]["text"] == transcript.text(
        "app_home_leaderboard_you", rank="12", count="8"
    )
    assert blocks[-1]["elements"][0]["text"] == transcript.text("app_home_leaderboard_empty")

    own = HelperFigures(
        day=BoardPlace(1, 3),
        week=BoardPlace(5, 2),
        month=BoardPlace(9, 2),
        all_time=BoardPlace(40, None),
        mean_first_response_minutes=135,
        in_progress=2,
        ratings=NO_RATINGS,
    )
    lines = my_stats.blocks(transcript, own)[1]["text"]["text"].splitlines()
    assert lines[1] == transcript.text(
        "app_home_my_stats_ranks",
        day="#3",
        week="#2",
        month="#2",
        all_time=transcript.text("app_home_unranked"),
    )
    assert lines[2] == transcript.text("app_home_my_stats_first_response", minutes="2h 15m")


NO_RATINGS = HelperRatings(
    all_time={rating: 0 for rating in FeedbackRating}, month={rating: 0 for rating in FeedbackRating}
)


def my_stats_with(ratings: HelperRatings) -> HelperFigures:
    nowhere = BoardPlace(0, None)
    return HelperFigures(
        day=nowhere,
        week=nowhere,
        month=nowhere,
        all_time=nowhere,
        mean_first_response_minutes=None,
        in_progress=0,
        ratings=ratings,
    )


@pytest.mark.parametrize("transcript", all_programs(), ids=lambda t: t.program_name)
def test_my_stats_shows_the_viewers_ratings_or_a_friendly_line(transcript):
    blocks = my_stats.blocks(transcript, my_stats_with(NO_RATINGS))
    assert blocks[-1]["block_id"] == my_stats.RATINGS_BLOCK
    assert blocks[-1]["text"]["text"] == transcript.text("app_home_my_stats_no_ratings")

    # All time: 1,200 great + 30 okay + 4 not good = 1,234; the last 30 days: 7 + 0 + 1 = 8.
    ratings = HelperRatings(
        all_time={FeedbackRating.GREAT: 1200, FeedbackRating.OKAY: 30, FeedbackRating.NOT_GOOD: 4},
        month={FeedbackRating.GREAT: 7, FeedbackRating.OKAY: 0, FeedbackRating.NOT_GOOD: 1},
    )
    lines = my_stats.blocks(transcript, my_stats_with(ratings))[-1]["text"]["text"].splitlines()
    assert lines == [
        transcript.text(
            "app_home_my_stats_ratings_all_time", great="1,200", okay="30", not_good="4", total="1,234"
        ),
        transcript.text("app_home_my_stats_ratings_month", great="7", okay="0", not_good="1", total="8"),
    ]
    # Rated long ago, nothing in the last 30 days: still the figures, not the friendly line.
    old_only = HelperRatings(all_time=ratings.all_time, month=NO_RATINGS.month)
    lines = my_stats.blocks(transcript, my_stats_with(old_only))[-1]["text"]["text"].splitlines()
    assert lines[1] == transcript.text(
        "app_home_my_stats_ratings_month", great="0", okay="0", not_good="0", total="0"
    )
    assert all(line != transcript.text("app_home_my_stats_no_ratings") for line in lines)


def test_with_feedback_off_my_stats_promises_no_ratings_but_keeps_those_given():
    transcript = load_transcript("default")
    off = my_stats.blocks(transcript, my_stats_with(NO_RATINGS), feedback_offered=False)
    assert [b.get("block_id") for b in off[1:]] == ["my_stats"]
    rated = HelperRatings(
        all_time={FeedbackRating.GREAT: 1, FeedbackRating.OKAY: 0, FeedbackRating.NOT_GOOD: 0},
        month=NO_RATINGS.month,
    )
    kept = my_stats.blocks(transcript, my_stats_with(rated), feedback_offered=False)
    assert kept[-1]["text"]["text"].splitlines()[0] == transcript.text(
        "app_home_my_stats_ratings_all_time", great="1", okay="0", not_good="0", total="1"
    )


def test_durations_and_changes_as_people_say_them():
    assert [common.duration(m) for m in (None, 0.4, 59.6, 61, 60 * 24 * 3 + 125)] == [
        "–",
        "0m",
        "1h 0m",
        "1h 1m",
        "3d 2h",
    ]
    assert [common.change(a, b) for a, b in ((3, 1), (1, 3), (2, 2))] == ["+2", "−2", "±0"]
