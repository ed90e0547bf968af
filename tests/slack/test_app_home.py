"""The App Home end to end: signed events and clicks in, views.publish on the fake Slack out.

Every view, paging to the last ticket, the remembered view, coalescing and ordering of renders,
the loading and error views, every permission refusal and the live refresh.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from nephthys.slack.home import common, my_stats
from nephthys.slack.home.common import View
from nephthys.slack.home.publisher import LIVE_EVERY_SECONDS
from nephthys.stats import home as home_stats
from nephthys.transcripts import load_transcript
from tests.api.data import add_ticket
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, eventually
from tests.support.slack import BOT_TOKEN, app_home_opened, block_actions, button, view_submission

DEFAULT = load_transcript("default")
TITLE = "Help Desk HQ"


# ---------------------------------------------------------------- helpers


def home_of(d, user: str) -> list[dict]:
    return d.slack.views_published[user]["blocks"]


def publishes(d, user: str) -> list:
    return d.slack.calls_to("views.publish", user_id=user)


def texts(blocks: list[dict]) -> str:
    """Every text of the blocks, one string (sections, contexts, headers, buttons)."""
    found: list[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") in {"mrkdwn", "plain_text"} and isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(blocks)
    return "\n".join(found)


def header_views(blocks: list[dict]) -> list[str]:
    header = next(b for b in blocks if b.get("block_id") == common.HEADER_BLOCK)
    return [element["value"] for element in header["elements"]]


def notice(blocks: list[dict]) -> str | None:
    block = next((b for b in blocks if b.get("block_id") == common.NOTICE_BLOCK), None)
    return None if block is None else block["elements"][0]["text"]


def element(blocks: list[dict], action_id: str, value: str | None = None) -> dict:
    for block in blocks:
        candidates = block.get("elements", []) if block.get("type") == "actions" else [block.get("accessory")]
        for candidate in candidates:
            if (
                candidate
                and candidate.get("action_id") == action_id
                and value in (None, candidate.get("value"))
            ):
                return candidate
    raise AssertionError(f"no {action_id} ({value}) in the view")


async def open_home(d, user: str) -> list[dict]:
    response = await d.deliver.event(app_home_opened(user, view=d.slack.views_published.get(user)))
    assert response.status_code == 200, response.text
    await d.settle()
    return home_of(d, user)


async def click(d, user: str, action: dict) -> list[dict]:
    payload = block_actions(user, action, view=d.slack.views_published.get(user) or {"id": "V0HOME"})
    response = await d.deliver.action(payload)
    assert response.status_code == 200, response.text
    await d.settle()
    return home_of(d, user)


async def switch(d, user: str, view: View) -> list[dict]:
    return await click(d, user, button(f"{common.VIEW_BUTTON}:{view.value}", value=view.value))


async def seed_assigned(d, helper: str, count: int) -> None:
    """``count`` in-progress tickets assigned to ``helper``, all older than anything asked later."""
    [asker] = await d.fetch(
        """INSERT INTO "User" ("slackId") VALUES ($1)
           ON CONFLICT ("slackId") DO UPDATE SET "slackId" = EXCLUDED."slackId" RETURNING id""",
        ASKER,
    )
    [me] = await d.fetch('SELECT id FROM "User" WHERE "slackId" = $1', helper)
    await d.fetch(
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId",
                                 "assignedAt", "createdAt", "lastMsgBy")
           SELECT 'Seeded question ' || i, 'seeded', 'IN_PROGRESS', '1700000000.' || lpad(i::text, 6, '0'),
                  $1, $2, now() - make_interval(hours => 1000 - i) + interval '5 minutes',
                  now() - make_interval(hours => 1000 - i), 'HELPER'
           FROM generate_series(1, $3) AS i""",
        asker["id"],
        me["id"],
        count,
    )


# ---------------------------------------------------------------- every view


async def test_a_helper_sees_the_dashboard_with_the_apis_figures(desk, team):
    async with desk(app_title=TITLE) as d:
        asked, ticket = await d.ask("How do I deploy?")
        await d.reply(asked, HELPER, "Like this.")
        await d.click_resolve(ticket["id"], HELPER, message=d.thread_reply_message(asked))
        await d.ask("Is the API down?")

        blocks = await open_home(d, HELPER)
        assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": TITLE, "emoji": True}}
        assert header_views(blocks) == ["dashboard", "assigned", "team_tags", "question_tags", "my_stats"]
        current = element(blocks, f"{common.VIEW_BUTTON}:dashboard")
        assert current.get("style") == "primary"

        api = (await d.client.get("/api/stats_v2")).json()
        summary = next(b for b in blocks if b.get("block_id") == "dashboard_summary")["text"]["text"]
        all_time = api["all_time"]
        assert summary.splitlines()[0] == DEFAULT.text(
            "app_home_dashboard_totals",
            total=str(all_time["tickets_total"]),
            open=str(all_time["tickets_open"]),
            in_progress=str(all_time["tickets_in_progress"]),
            closed=str(all_time["tickets_closed"]),
        )
        assert (all_time["tickets_total"], all_time["tickets_closed"]) == (2, 1)
        day = api["past_24h"]
        assert summary.splitlines()[1] == DEFAULT.text(
            "app_home_dashboard_day",
            new=str(day["new_tickets_total"]),
            new_change=f"+{day['new_tickets_total']}",
            closed=str(day["closed_today"]),
            closed_change=f"+{day['closed_today']}",
        )
        # The oldest unanswered ticket, linked to its thread as the API links it.
        assert all_time["oldest_unanswered_ticket"]["link"] in summary
        text = texts(blocks)
        assert DEFAULT.text("app_home_leaderboard_row", rank="1", user=f"<@{HELPER}>", count="1") in text
        assert DEFAULT.text("app_home_leaderboard_all_time") in text
        assert DEFAULT.text("app_home_leaderboard_week") in text


async def test_the_dashboards_leaderboards_show_helpers_names_or_else_their_mention(desk, team):
    async with desk() as d:
        for helper in (HELPER, HELPER_2):
            asked, ticket = await d.ask(f"A question for {helper}")
            await d.reply(asked, helper, "Like this.")
            await d.click_resolve(ticket["id"], helper, message=d.thread_reply_message(asked))
        await d.fetch('UPDATE "User" SET username = $1 WHERE "slackId" = $2', "Helper <One>", HELPER)
        await d.fetch('UPDATE "User" SET username = NULL WHERE "slackId" = $1', HELPER_2)

        def rows(blocks: list[dict]) -> list[str]:
            return [line for line in texts(blocks).splitlines() if line.startswith(("1. ", "2. "))]

        named = DEFAULT.text("app_home_leaderboard_row", rank="1", user="Helper ‹One›", count="1")
        by_mention = DEFAULT.text("app_home_leaderboard_row", rank="2", user=f"<@{HELPER_2}>", count="1")
        # The all-time board and the week's, each: the name as the API gives it, made safe; else the mention.
        assert rows(await open_home(d, HELPER)) == [named, by_mention] * 2
        api = (await d.client.get("/api/stats_v2")).json()["all_time"]["helpers_leaderboard"]
        assert [entry["username"] for entry in api] == ["Helper <One>", None]
        # A rename shows the next time the Home is drawn.
        await d.fetch('UPDATE "User" SET username = $1 WHERE "slackId" = $2', "Helper Two", HELPER_2)
        renamed = DEFAULT.text("app_home_leaderboard_row", rank="2", user="Helper Two", count="1")
        assert rows(await open_home(d, HELPER_2)) == [named, renamed] * 2


async def test_an_asker_sees_their_questions_newest_first_and_how_to_ask(desk, team):
    async with desk() as d:
        first, first_ticket = await d.ask("First <!channel> question")
        await d.reply(first, HELPER, "Answer.")
        await d.click_resolve(first_ticket["id"], ASKER, message=d.thread_reply_message(first))
        _, second_ticket = await d.ask("Second question")
        # A title that quotes a broadcast mention (an AI title might): shown without pinging anyone.
        await d.fetch(
            'UPDATE "Ticket" SET title = $1 WHERE id = $2', "Help <!channel> me", first_ticket["id"]
        )

        blocks = await open_home(d, ASKER)
        assert header_views(blocks) == ["my_questions"]
        text = texts(blocks)
        assert DEFAULT.text("app_home_how_to_ask", channel=HELP_CHANNEL) in text
        rows = [b for b in blocks if str(b.get("block_id", "")).startswith("asked:")]
        assert [row["block_id"] for row in rows] == [
            f"asked:{second_ticket['id']}",
            f"asked:{first_ticket['id']}",
        ]
        newest, oldest = rows[0]["text"]["text"], rows[1]["text"]["text"]
        assert "Second question" in newest and DEFAULT.text("app_home_status_open") in newest
        assert DEFAULT.text("app_home_nobody_yet") in newest
        assert DEFAULT.text("app_home_status_closed") in oldest and f"<@{HELPER}>" in oldest
        assert "<!channel>" not in oldest and "@\u2060channel" in oldest  # quoted without pinging
        assert DEFAULT.text("app_home_reopen_hint") in text  # on the closed one
        assert f"/archives/{HELP_CHANNEL}/p{first['ts'].replace('.', '')}" in oldest  # linked to its thread

        stranger = await open_home(d, STRANGER)
        assert DEFAULT.text("app_home_my_questions_empty", channel=HELP_CHANNEL) in texts(stranger)


async def test_assigned_to_me_pages_to_the_last_ticket_and_resolves_through_the_lifecycle(desk, team):
    async with desk() as d:
        await seed_assigned(d, HELPER, 31)
        asked, ticket = await d.ask("The newest one")
        await d.reply(asked, HELPER, "On it")

        blocks = await switch(d, HELPER, View.ASSIGNED)
        assert DEFAULT.text("app_home_assigned_title", count="32") in texts(blocks)
        assert DEFAULT.text("app_home_page", page="1", pages="3") in texts(blocks)
        first_page = [b["block_id"] for b in blocks if str(b.get("block_id", "")).startswith("assigned:")]
        assert len(first_page) == 15
        assert "|Seeded question 1>" in texts(blocks)  # oldest first

        seen = set(first_page)
        for page in (2, 3):
            blocks = await click(d, HELPER, element(blocks, f"{common.PAGE_BUTTON}:next"))
            assert DEFAULT.text("app_home_page", page=str(page), pages="3") in texts(blocks)
            seen |= {b["block_id"] for b in blocks if str(b.get("block_id", "")).startswith("assigned:")}
            assert len(blocks) <= common.MAX_BLOCKS
        assert len(seen) == 32  # every ticket reachable, the last page included
        last = next(b for b in blocks if b.get("block_id") == f"assigned:{ticket['id']}")
        assert "The newest one" in last["text"]["text"]
        assert DEFAULT.text("app_home_last_spoke_helper") in last["text"]["text"]
        assert f"<@{ASKER}>" in last["text"]["text"]
        with pytest.raises(AssertionError):
            element(blocks, f"{common.PAGE_BUTTON}:next")  # no next on the last page
        previous = element(blocks, f"{common.PAGE_BUTTON}:previous")
        assert previous["value"] == "assigned:2"

        # Resolve: the lifecycle closes it and the thread gets its closing message.
        await click(d, HELPER, last["accessory"])
        await eventually(lambda: _closed(d, asked["ts"]))
        closing = [m for m in d.slack.messages(HELP_CHANNEL, thread_ts=asked["ts"]) if m.get("bot_id")]
        assert any("resolved" in m["text"].lower() or f"<@{HELPER}>" in m["text"] for m in closing[1:])
        await d.settle()
        after = home_of(d, HELPER)
        assert DEFAULT.text("app_home_assigned_title", count="31") in texts(after)
        assert DEFAULT.text("app_home_page", page="3", pages="3") in texts(after)  # stays on the page shown
        assert not any(b.get("block_id") == f"assigned:{ticket['id']}" for b in after)

        # A forged page number lands on a real page; a forged ticket id resolves nothing.
        forged = await click(d, HELPER, button(f"{common.PAGE_BUTTON}:next", value="assigned:999999"))
        assert DEFAULT.text("app_home_page", page="3", pages="3") in texts(forged)
        await click(d, HELPER, button(common.RESOLVE_BUTTON, value="1; DROP TABLE"))
        assert (await d.fetch("SELECT count(*) AS n FROM \"Ticket\" WHERE status = 'CLOSED'"))[0]["n"] == 1

        # A helper with nothing assigned sees the friendly empty state.
        empty = await switch(d, HELPER_2, View.ASSIGNED)
        assert DEFAULT.text("app_home_assigned_empty") in texts(empty)


async def _closed(d, msg_ts: str) -> bool:
    return (await d.ticket(msg_ts))["status"] == "CLOSED"


async def test_team_tags_question_tags_and_my_stats(desk, team):
    async with desk() as d:
        [auth] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        await d.fetch('INSERT INTO "Tag" (name) VALUES ($1)', "Billing")
        [payout] = await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Payout range")
        await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1)', "Unused")
        asked, ticket = await d.ask("What's the payout?")
        await d.reply(asked, HELPER, "Here.")
        await d.fetch('UPDATE "Ticket" SET "questionTagId" = $1 WHERE id = $2', payout["id"], ticket["id"])
        await d.click_resolve(ticket["id"], HELPER, message=d.thread_reply_message(asked))

        blocks = await switch(d, HELPER, View.TEAM_TAGS)
        row = next(b for b in blocks if b.get("block_id") == f"team_tag:{auth['id']}")
        assert DEFAULT.text("app_home_tag_no_subscribers") in row["text"]["text"]
        blocks = await click(d, HELPER, row["accessory"])  # subscribe
        row = next(b for b in blocks if b.get("block_id") == f"team_tag:{auth['id']}")
        assert DEFAULT.text("app_home_tag_subscribers", users=f"<@{HELPER}>") in row["text"]["text"]
        assert not any(
            str(b.get("block_id", "")).startswith("team_tag_admin:") for b in blocks
        )  # not an admin

        blocks = await switch(d, HELPER, View.QUESTION_TAGS)
        assert DEFAULT.text(
            "app_home_question_tag_row", label="Payout range", week="1", month="1", all_time="1"
        ) in texts(blocks)
        assert DEFAULT.text(
            "app_home_question_tag_row", label="Unused", week="0", month="0", all_time="0"
        ) in texts(blocks)
        element(blocks, "question_tag_create")  # helpers create question tags
        assert not any(str(b.get("block_id", "")).startswith("question_tag_admin:") for b in blocks)

        blocks = await switch(d, HELPER, View.MY_STATS)
        stats = next(b for b in blocks if b.get("block_id") == "my_stats")["text"]["text"]
        assert DEFAULT.text("app_home_my_stats_closed", day="1", week="1", month="1", all_time="1") in stats
        assert (
            DEFAULT.text("app_home_my_stats_ranks", day="#1", week="#1", month="#1", all_time="#1") in stats
        )
        assert DEFAULT.text("app_home_my_stats_in_progress", count="0") in stats
        helper_2 = await switch(d, HELPER_2, View.MY_STATS)
        unranked = DEFAULT.text("app_home_unranked")
        assert DEFAULT.text(
            "app_home_my_stats_ranks", day=unranked, week=unranked, month=unranked, all_time=unranked
        ) in texts(helper_2)


async def seed_feedback(d) -> None:
    """Hand-built closed tickets and the askers' ratings of them, days away from every window's edge."""
    [asker] = await d.fetch(
        """INSERT INTO "User" ("slackId") VALUES ($1)
           ON CONFLICT ("slackId") DO UPDATE SET "slackId" = EXCLUDED."slackId" RETURNING id""",
        ASKER,
    )
    helper, helper_2 = [
        (await d.fetch('SELECT id FROM "User" WHERE "slackId" = $1', slack_id))[0]["id"]
        for slack_id in (HELPER, HELPER_2)
    ]
    now = datetime.now(UTC)

    def ago(days: int) -> datetime:
        return now - timedelta(days=days)

    # (status, assigned to, closed by, rating, rated days ago)
    rows = [
        ("CLOSED", helper, helper, "GREAT", 2),  # HELPER: great, in the last 30 days
        ("CLOSED", helper, helper, "GREAT", 40),  # HELPER: great, older
        ("CLOSED", helper, helper, "NOT_GOOD", 5),  # HELPER: not good, in the last 30 days
        ("CLOSED", helper, helper, "OKAY", 60),  # HELPER: okay, older
        ("CLOSED", helper, helper, None, 0),  # HELPER: closed, never rated
        ("CLOSED", helper, helper_2, "OKAY", 3),  # taken by HELPER, closed (credited) by HELPER_2
        ("CLOSED", helper_2, helper_2, "NOT_GOOD", 50),  # HELPER_2's own
        ("OPEN", helper, helper, "GREAT", 1),  # rated, then reopened: counts for nobody
    ]
    for i, (status, assigned, closed_by, rating, days) in enumerate(rows):
        ticket = await add_ticket(
            d.db_url,
            opened_by=asker["id"],
            status=status,
            created_at=ago(days + 1),
            assigned_to=assigned,
            assigned_at=ago(days + 1),
            closed_by=closed_by,
            closed_at=ago(days) if status == "CLOSED" else None,
            msg_ts=f"1690000000.{i:06d}",
        )
        if rating is not None:
            await d.fetch(
                """INSERT INTO "Feedback" ("ticketId", "createdById", rating, "createdAt")
                   VALUES ($1, $2, $3::"FeedbackRating", $4)""",
                ticket,
                asker["id"],
                rating,
                ago(days),
            )


def ratings_line(key: str, *, great: int, okay: int, not_good: int) -> str:
    return DEFAULT.text(
        key, great=str(great), okay=str(okay), not_good=str(not_good), total=str(great + okay + not_good)
    )


def ratings_of(blocks: list[dict]) -> str:
    return next(b for b in blocks if b.get("block_id") == my_stats.RATINGS_BLOCK)["text"]["text"]


async def test_my_stats_shows_the_ratings_of_the_viewers_closed_tickets(desk, team):
    async with desk() as d:
        before = await switch(d, HELPER, View.MY_STATS)
        assert ratings_of(before) == DEFAULT.text("app_home_my_stats_no_ratings")

        await seed_feedback(d)
        # HELPER closed rows 1-5: great 2 (2 and 40 days ago), not good 1 (5 days), okay 1 (60 days), one
        # unrated; the okay on the ticket HELPER_2 closed is HELPER_2's; the reopened ticket's is nobody's.
        blocks = await switch(d, HELPER, View.MY_STATS)
        assert ratings_of(blocks).splitlines() == [
            ratings_line("app_home_my_stats_ratings_all_time", great=2, okay=1, not_good=1),
            ratings_line("app_home_my_stats_ratings_month", great=1, okay=0, not_good=1),
        ]
        # HELPER_2: okay 3 days ago (credited for closing), not good 50 days ago.
        blocks = await switch(d, HELPER_2, View.MY_STATS)
        assert ratings_of(blocks).splitlines() == [
            ratings_line("app_home_my_stats_ratings_all_time", great=0, okay=1, not_good=1),
            ratings_line("app_home_my_stats_ratings_month", great=0, okay=1, not_good=0),
        ]

        # A rating changes no ticket (nothing memoised on the tickets' version may hide it): the
        # unrated ticket HELPER closed is rated great now, and the next render counts it.
        await d.fetch(
            """INSERT INTO "Feedback" ("ticketId", "createdById", rating)
               SELECT t.id, t."openedById", 'GREAT' FROM "Ticket" t
               WHERE t."msgTs" = '1690000000.000004'"""
        )
        blocks = await switch(d, HELPER, View.MY_STATS)
        assert ratings_of(blocks).splitlines() == [
            ratings_line("app_home_my_stats_ratings_all_time", great=3, okay=1, not_good=1),
            ratings_line("app_home_my_stats_ratings_month", great=2, okay=0, not_good=1),
        ]


async def test_with_feedback_off_my_stats_shows_only_ratings_given_before(desk, team):
    async with desk(feedback=False) as d:
        blocks = await switch(d, HELPER, View.MY_STATS)
        assert not any(b.get("block_id") == my_stats.RATINGS_BLOCK for b in blocks)
        assert DEFAULT.text("app_home_my_stats_no_ratings") not in texts(blocks)
        await seed_feedback(d)
        blocks = await switch(d, HELPER, View.MY_STATS)
        assert ratings_of(blocks).splitlines()[0] == ratings_line(
            "app_home_my_stats_ratings_all_time", great=2, okay=1, not_good=1
        )


async def test_my_stats_ratings_agree_with_the_feedback_api(desk, team):
    async with desk() as d:
        await seed_feedback(d)
        since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        everything = (await d.client.get("/api/stats/feedback")).json()
        month = (await d.client.get("/api/stats/feedback", params={"since": since})).json()
        assert {h["slack_id"] for h in everything["helpers"]} == {HELPER, HELPER_2}

        for viewer in (HELPER, HELPER_2):
            all_time_entry = next(h for h in everything["helpers"] if h["slack_id"] == viewer)
            month_entry = next(
                (h for h in month["helpers"] if h["slack_id"] == viewer),
                {"great": 0, "okay": 0, "not_good": 0},
            )
            blocks = await switch(d, viewer, View.MY_STATS)
            assert ratings_of(blocks).splitlines() == [
                ratings_line(
                    "app_home_my_stats_ratings_all_time",
                    great=all_time_entry["great"],
                    okay=all_time_entry["okay"],
                    not_good=all_time_entry["not_good"],
                ),
                ratings_line(
                    "app_home_my_stats_ratings_month",
                    great=month_entry["great"],
                    okay=month_entry["okay"],
                    not_good=month_entry["not_good"],
                ),
            ]


# ---------------------------------------------------------------- remembering, coalescing, ordering


async def test_the_view_last_chosen_is_remembered_across_restarts(desk, team):
    async with desk() as d:
        await open_home(d, HELPER)
        await switch(d, HELPER, View.QUESTION_TAGS)
        rows = await d.fetch('SELECT "appHomeLastView" FROM "User" WHERE "slackId" = $1', HELPER)
        assert rows[0]["appHomeLastView"] == "question_tags"
    d.slack.reset_calls()
    async with desk() as d:  # a new instance: nothing in memory
        blocks = await open_home(d, HELPER)
        assert element(blocks, f"{common.VIEW_BUTTON}:question_tags").get("style") == "primary"
        assert DEFAULT.text("app_home_question_tags_title") in texts(blocks)


async def test_repeated_opens_are_coalesced_and_each_publish_passes_the_last_hash(desk, team):
    async with desk() as d:
        responses = await asyncio.gather(*(d.deliver.event(app_home_opened(HELPER)) for _ in range(6)))
        assert all(r.status_code == 200 for r in responses)
        await d.settle()
        assert len(publishes(d, HELPER)) == 1
        await open_home(d, HELPER)  # moments later: coalesced too
        assert len(publishes(d, HELPER)) == 1

        first_hash = d.slack.views_published[HELPER]["hash"]
        await switch(d, HELPER, View.MY_STATS)
        [_, second] = publishes(d, HELPER)
        assert second.args["hash"] == first_hash and second.ok


async def test_the_home_state_kept_per_person_is_bounded_least_recently_seen_first(desk, team):
    """Issue 18: every person who ever opened the Home stayed in the publisher's memory."""
    people = [f"U0PERSON{index:03d}" for index in range(12)]
    for person in people:
        team.add_user(person, name=person.lower())
    async with desk() as d:
        home = d.service.ctx.home
        home.max_people = 5
        for person in people:
            blocks = await open_home(d, person)
            assert DEFAULT.text("app_home_my_questions_title") in texts(blocks), person
            assert home.people_remembered() <= 5
        assert home.people_remembered() == 5
        # The most recent are remembered: a repeat moments later is coalesced.
        await open_home(d, people[-1])
        assert len(publishes(d, people[-1])) == 1
        # A forgotten person is served as a new one: their Home is published again (with the hash of the
        # view Slack's event showed, as for anyone this instance has not seen).
        await open_home(d, people[0])
        [first, again] = publishes(d, people[0])
        assert again.ok and again.args["hash"] != first.args.get("hash")
        assert home.people_remembered() == 5


async def test_an_older_render_never_overwrites_a_newer_one(desk, team, monkeypatch):
    async with desk() as d:
        d.service.ctx.home.loading_after = 60  # no loading view in this test
        await switch(d, HELPER, View.ASSIGNED)
        release = asyncio.Event()
        real = home_stats.dashboard_figures

        async def slow_dashboard(*args, **kwargs):
            await release.wait()
            return await real(*args, **kwargs)

        monkeypatch.setattr(home_stats, "dashboard_figures", slow_dashboard)
        before = len(publishes(d, HELPER))
        # The dashboard is asked for first and takes long; My stats is asked for after it.
        await d.deliver.action(
            block_actions(HELPER, button("home_view:dashboard", value="dashboard"), view={"id": "V1"})
        )
        await d.deliver.action(
            block_actions(HELPER, button("home_view:my_stats", value="my_stats"), view={"id": "V1"})
        )
        await eventually(lambda: _published_count_is(d, HELPER, before + 1))
        release.set()
        await d.settle()
        assert len(publishes(d, HELPER)) == before + 1  # the dashboard's render was dropped
        assert DEFAULT.text("app_home_my_stats_title") in texts(home_of(d, HELPER))


async def _published_count_is(d, user: str, count: int) -> bool:
    return len(publishes(d, user)) == count


async def test_a_hash_conflict_drops_the_render_and_the_next_goes_through(desk, team):
    async with desk() as d:
        await open_home(d, HELPER)
        # Someone else (another instance) publishes this person's Home meanwhile.
        async with httpx.AsyncClient(base_url=d.slack.base_url) as other:
            answer = await other.post(
                "views.publish",
                headers={"Authorization": f"Bearer {BOT_TOKEN}"},
                json={"user_id": HELPER, "view": {"type": "home", "blocks": []}},
            )
            assert answer.json()["ok"]
        await switch(d, HELPER, View.MY_STATS)
        assert publishes(d, HELPER)[-1].args.get("hash") and not publishes(d, HELPER)[-1].ok  # hash_conflict
        assert home_of(d, HELPER) == []  # theirs stays
        blocks = await switch(d, HELPER, View.MY_STATS)
        assert DEFAULT.text("app_home_my_stats_title") in texts(blocks)


async def test_a_slow_view_shows_loading_first(desk, team):
    async with desk() as d:
        d.service.ctx.home.loading_after = 0
        await open_home(d, HELPER)
        loading, final = publishes(d, HELPER)
        assert DEFAULT.text("app_home_loading") in texts(loading.args["view"]["blocks"])
        assert final.args["hash"]  # the real view replaces the loading one it follows
        assert "dashboard_summary" in [b.get("block_id") for b in home_of(d, HELPER)]


async def test_a_failure_publishes_an_error_view_whose_retry_works(desk, team, monkeypatch):
    async with desk() as d:
        failures = iter([RuntimeError("the database is on fire")])
        real = home_stats.dashboard_figures

        async def failing_once(*args, **kwargs):
            error = next(failures, None)
            if error is not None:
                raise error
            return await real(*args, **kwargs)

        monkeypatch.setattr(home_stats, "dashboard_figures", failing_once)
        blocks = await open_home(d, HELPER)
        assert DEFAULT.text("app_home_error") in texts(blocks)
        retry = element(blocks, common.RETRY_BUTTON)
        assert retry["value"] == "dashboard:1"
        blocks = await click(d, HELPER, retry)
        assert "dashboard_summary" in [b.get("block_id") for b in blocks]


# ---------------------------------------------------------------- who may do what


async def test_permission_refusals_and_forged_values(desk, team):
    async with desk() as d:
        [auth] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        [question] = await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Payout")

        # Someone who is not a helper cannot subscribe (a forged click), nor open a helper's view.
        await open_home(d, STRANGER)
        blocks = await click(d, STRANGER, button("team_tag_subscribe", value=str(auth["id"])))
        assert await d.fetch("SELECT * FROM user_tag_subscriptions") == []
        assert notice(blocks) == DEFAULT.text("app_home_helpers_only")
        blocks = await switch(d, STRANGER, View.DASHBOARD)
        assert header_views(blocks) == ["my_questions"] and "dashboard_summary" not in str(blocks)
        assert notice(blocks) == DEFAULT.text("app_home_helpers_only")
        remembered = await d.fetch(
            'SELECT "appHomeLastView" FROM "User" WHERE "slackId" = $1 AND "appHomeLastView" IS NOT NULL',
            STRANGER,
        )
        assert remembered == []  # a refused view is not remembered
        blocks = await click(d, STRANGER, button("home_view:nonsense", value="nonsense"))
        assert header_views(blocks) == ["my_questions"]

        # A helper who is not an admin cannot delete, rename or merge tags (forged clicks), nor
        # submit the admin modals.
        await open_home(d, HELPER)
        for action_id, value, view in [
            ("team_tag_delete", auth["id"], "team_tags"),
            ("team_tag_rename", auth["id"], "team_tags"),
            ("question_tag_delete", question["id"], "question_tags"),
            ("question_tag_merge", question["id"], "question_tags"),
        ]:
            blocks = await click(d, HELPER, button(action_id, value=str(value)))
            assert notice(blocks) == DEFAULT.text("app_home_admins_only"), action_id
            assert element(blocks, f"{common.VIEW_BUTTON}:{view}").get("style") == "primary"
        assert d.slack.views_opened == []
        assert [r["name"] for r in await d.fetch('SELECT name FROM "Tag"')] == ["Auth"]
        assert [r["label"] for r in await d.fetch('SELECT label FROM "QuestionTag"')] == ["Payout"]
        rename = await d.deliver.action(
            view_submission(
                HELPER,
                callback_id="team_tag_rename_modal",
                private_metadata=str(auth["id"]),
                values={"name": {"name_input": {"type": "plain_text_input", "value": "Hacked"}}},
            )
        )
        assert rename.json()["errors"]["name"] == DEFAULT.text("app_home_admins_only")
        assert [r["name"] for r in await d.fetch('SELECT name FROM "Tag"')] == ["Auth"]

        # The admin buttons are not even shown to them.
        blocks = await switch(d, HELPER, View.TEAM_TAGS)
        assert "team_tag_delete" not in str(blocks) and "team_tag_rename" not in str(blocks)
        assert "team_tags_create" not in str(blocks)


async def test_admins_rename_and_delete_team_tags_merge_and_delete_question_tags(desk, team):
    async with desk(slack_maintainer_id=HELPER_2) as d:
        [auth] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Auth")
        [billing] = await d.fetch('INSERT INTO "Tag" (name) VALUES ($1) RETURNING id', "Billing")
        [payout] = await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Payout")
        [pay] = await d.fetch('INSERT INTO "QuestionTag" (label) VALUES ($1) RETURNING id', "Pay range")
        asked, ticket = await d.ask("How much?")
        await d.fetch('UPDATE "Ticket" SET "questionTagId" = $1 WHERE id = $2', pay["id"], ticket["id"])

        blocks = await switch(d, HELPER_2, View.TEAM_TAGS)  # the maintainer is always an admin
        await click(d, HELPER_2, element(blocks, "team_tag_rename", str(auth["id"])))
        [opened] = d.slack.views_opened
        assert opened["view"]["callback_id"] == "team_tag_rename_modal"
        assert opened["view"]["blocks"][0]["element"]["initial_value"] == "Auth"
        clash = await d.deliver.action(
            view_submission(
                HELPER_2,
                callback_id="team_tag_rename_modal",
                private_metadata=str(auth["id"]),
                values={"name": {"name_input": {"type": "plain_text_input", "value": "billing"}}},
            )
        )
        assert clash.json()["errors"]["name"] == DEFAULT.text("tag_name_taken", name="Billing")
        renamed = await d.deliver.action(
            view_submission(
                HELPER_2,
                callback_id="team_tag_rename_modal",
                private_metadata=str(auth["id"]),
                values={"name": {"name_input": {"type": "plain_text_input", "value": "Accounts"}}},
            )
        )
        assert renamed.status_code == 200 and not renamed.content
        await d.settle()
        blocks = home_of(d, HELPER_2)
        delete = element(blocks, "team_tag_delete", str(billing["id"]))
        assert delete["confirm"]["text"]["text"] == DEFAULT.text("app_home_delete_confirm", name="Billing")
        await click(d, HELPER_2, delete)
        assert [r["name"] for r in await d.fetch('SELECT name FROM "Tag"')] == ["Accounts"]

        blocks = await switch(d, HELPER_2, View.QUESTION_TAGS)
        await click(d, HELPER_2, element(blocks, "question_tag_merge", str(pay["id"])))
        assert d.slack.views_opened[-1]["view"]["callback_id"] == "question_tag_merge_modal"
        merge_values = {
            "merge_target": {
                "ticket_question_tag": {
                    "type": "external_select",
                    "selected_option": {
                        "text": {"type": "plain_text", "text": "Payout"},
                        "value": str(payout["id"]),
                    },
                }
            }
        }
        merged = await d.deliver.action(
            view_submission(
                HELPER_2,
                callback_id="question_tag_merge_modal",
                private_metadata=str(pay["id"]),
                values=merge_values,
            )
        )
        assert merged.status_code == 200
        await d.settle()
        assert (await d.ticket(asked["ts"]))["questionTagId"] == payout["id"]
        assert [r["label"] for r in await d.fetch('SELECT label FROM "QuestionTag"')] == ["Payout"]
        assert DEFAULT.text(
            "app_home_question_tag_row", label="Payout", week="1", month="1", all_time="1"
        ) in texts(home_of(d, HELPER_2))
        blocks = home_of(d, HELPER_2)
        await click(d, HELPER_2, element(blocks, "question_tag_delete", str(payout["id"])))
        assert await d.fetch('SELECT label FROM "QuestionTag"') == []
        assert (await d.ticket(asked["ts"]))["questionTagId"] is None


# ---------------------------------------------------------------- live refresh


async def test_assigned_homes_refresh_live_debounced_per_person(desk, team):
    async with desk(home_live_every=LIVE_EVERY_SECONDS) as d:
        await switch(d, HELPER, View.ASSIGNED)
        await switch(d, HELPER_2, View.DASHBOARD)
        helper_2_publishes = len(publishes(d, HELPER_2))
        asked, ticket = await d.ask("Live question")
        before = len(publishes(d, HELPER))

        await d.reply(asked, HELPER, "Mine")  # a new assignment: published at once
        assert len(publishes(d, HELPER)) == before + 1
        mine = next(b for b in home_of(d, HELPER) if b.get("block_id") == f"assigned:{ticket['id']}")
        assert DEFAULT.text("app_home_last_spoke_helper") in mine["text"]["text"]

        # The asker replies twice within the next 5 seconds: one more publish, at the end of them.
        for text in ("Thanks", "Still broken though"):
            response = await d.deliver.event(_reply(asked, ASKER, text))
            assert response.status_code == 200
        await d.settle()
        assert len(publishes(d, HELPER)) == before + 2
        mine = next(b for b in home_of(d, HELPER) if b.get("block_id") == f"assigned:{ticket['id']}")
        assert DEFAULT.text("app_home_last_spoke_asker") in mine["text"]["text"]  # waiting on the helper

        # A helper whose Home shows something else is left alone.
        assert len(publishes(d, HELPER_2)) == helper_2_publishes

        # Closing it (the asker resolves) takes it off the helper's Home.
        await d.click_resolve(ticket["id"], ASKER, message=d.thread_reply_message(asked))
        await d.settle()
        assert DEFAULT.text("app_home_assigned_empty") in texts(home_of(d, HELPER))


def _reply(asked: dict, user: str, text: str) -> dict:
    from tests.support.slack import thread_reply

    return thread_reply(HELP_CHANNEL, user, text, thread_ts=asked["ts"], parent_user_id=asked["user"])


async def test_a_ticket_taken_over_leaves_the_previous_helpers_home(desk, team):
    async with desk() as d:
        await switch(d, HELPER, View.ASSIGNED)
        await switch(d, HELPER_2, View.ASSIGNED)
        asked, ticket = await d.ask("Who takes it?")
        await d.reply(asked, HELPER, "Me first")
        assert any(b.get("block_id") == f"assigned:{ticket['id']}" for b in home_of(d, HELPER))

        await d.reply(asked, HELPER_2, "I'll take it from here")
        assert await d.slack_id((await d.ticket(asked["ts"]))["assignedToId"]) == HELPER_2
        assert DEFAULT.text("app_home_assigned_empty") in texts(home_of(d, HELPER))
        assert any(b.get("block_id") == f"assigned:{ticket['id']}" for b in home_of(d, HELPER_2))
