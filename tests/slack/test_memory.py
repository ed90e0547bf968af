"""The team's memory over signed Slack requests and the fake Slack: similar past tickets in the
backend thread (issue 22 §1) and ``?search`` (§2)."""

from __future__ import annotations

from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, STRANGER, TICKET_CHANNEL
from tests.support.slack import question


async def resolved(d, text: str, answer: str, *, user: str = ASKER) -> dict:
    """A question a helper answered in its thread and then resolved with ``?resolve``."""
    asked, ticket = await d.ask(text, user=user)
    await d.reply(asked, HELPER, answer)
    await d.reply(asked, HELPER, "?resolve")
    assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
    return asked


def similar_posts(d, backend_ts: str) -> list:
    return [post for post in d.posts(TICKET_CHANNEL, thread_ts=backend_ts)]


async def test_a_rephrased_question_gets_its_original_linked_in_the_backend_thread(desk, team):
    async with desk() as d:
        original = await resolved(
            d, "Is the deadline for the summer program extended?", "Yes, to August 31st.\nDetails…"
        )
        await resolved(d, "My payout has been pending for three weeks", "Payouts go out on the 1st.")

        asked, ticket = await d.ask("was the dedline extnded??", user=STRANGER)
        [post] = similar_posts(d, ticket["ticketTs"])
        text = post.args["text"]
        assert original["ts"].replace(".", "") in text  # the original's thread, linked
        assert "Is the deadline for the summer program extended?" in text
        assert f"<@{HELPER}>" in text and "Yes, to August 31st." in text and "Details" not in text
        assert "payout" not in text.lower()
        # Helpers only: nothing of it in the question's thread.
        assert all("August" not in p.args["text"] for p in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]))
        # Recorded with the ticket's messages: it goes when the ticket closes.
        assert post.response["ts"] in {m["ts"] for m in await d.bot_messages(ticket["id"], TICKET_CHANNEL)}


async def test_an_unrelated_question_gets_nothing(desk, team):
    async with desk() as d:
        await resolved(d, "Is the deadline for the summer program extended?", "Yes, to August 31st.")
        _, ticket = await d.ask("Where is the venue for the London meetup?", user=STRANGER)
        assert similar_posts(d, ticket["ticketTs"]) == []
        # Nor does a question like an open ticket or one closed without a helper's answer.
        await d.ask("My payout has been pending for three weeks")
        _, again = await d.ask("payout still pending after 3 weeks", user=STRANGER)
        assert similar_posts(d, again["ticketTs"]) == []


async def test_every_script_finds_its_original(desk, team):
    pairs = [
        (
            "Мой заказ из магазина всё ещё не отправлен",
            "Заказы отправляются в течение двух недель.",
            "заказ из магазина не отправлен уже месяц",
        ),
        ("لم أتلقَّ المنحة حتى الآن", "تُرسل المنح في بداية كل شهر.", "متى أتلقى المنحة؟"),
        ("मेरे कोडिंग घंटे डैशबोर्ड पर नहीं दिख रहे हैं", "एक्सटेंशन में API key डालें।", "डैशबोर्ड पर मेरे घंटे नहीं दिख रहे"),
        ("提交后项目消失了", "项目在审核中会暂时隐藏。", "我的项目提交后消失了"),
        (
            "プロジェクトの審査状況を教えてください",
            "審査には通常一週間かかります。",
            "審査状況を知りたいです",
        ),
        (
            'Login fails with {"error": "invalid_token"}',
            "Your session token expired: log in again.",
            "getting invalid_token when I log in 🙏",
        ),
        (
            "My build job dies with status=failed code=137",
            "Exit code 137: out of memory.",
            "build killed 😭 status=failed code=137",
        ),
    ]
    async with desk() as d:
        originals = [await resolved(d, text, answer) for text, answer, _ in pairs]
        for original, (_, answer, rephrased) in zip(originals, pairs, strict=True):
            _, ticket = await d.ask(rephrased, user=STRANGER)
            [post] = similar_posts(d, ticket["ticketTs"])
            assert original["ts"].replace(".", "") in post.args["text"], rephrased
            assert answer.split("。")[0].split(".")[0] in post.args["text"]


async def test_a_redelivered_question_posts_its_similar_tickets_once(desk, team):
    async with desk() as d:
        await resolved(d, "Is the deadline for the summer program extended?", "Yes, to August 31st.")
        asked = question(HELP_CHANNEL, STRANGER, "was the deadline extended?")
        assert (await d.deliver.event(asked, event_id="Ev0SIMILAR1")).status_code == 200
        await d.settle()
        for retry in (1, 2):
            assert (await d.deliver.redeliver(retry_num=retry)).status_code == 200
        await d.settle()
        ticket = await d.ticket(asked["ts"])
        assert len(similar_posts(d, ticket["ticketTs"])) == 1


async def test_search_answers_the_helper_privately_with_links_and_status(desk, team):
    async with desk() as d:
        original = await resolved(
            d, "Is the deadline for the summer program extended?", "Yes, to August 31st."
        )
        asked, _ = await d.ask("How do I link Hackatime?")
        await d.reply(asked, HELPER, "?search deadline")
        [answer] = d.slack.calls_to("chat.postEphemeral", ok=True, user=HELPER)
        assert answer.args["thread_ts"] == asked["ts"]
        assert original["ts"].replace(".", "") in answer.args["text"] and "Closed" in answer.args["text"]
        assert d.posts(HELP_CHANNEL, thread_ts=asked["ts"])[-1].args["text"] != answer.args["text"]

        await d.reply(asked, HELPER, "?search zzzqqq")
        assert (
            "No ticket matches"
            in d.slack.calls_to("chat.postEphemeral", ok=True, user=HELPER)[-1].args["text"]
        )
        await d.reply(asked, HELPER, "?search")
        assert (
            "?search invalid_token"
            in d.slack.calls_to("chat.postEphemeral", ok=True, user=HELPER)[-1].args["text"]
        )
        # Not a helper: the asker's ?search is refused, and finds nothing for them.
        await d.reply(asked, ASKER, "?search deadline")
        assert (
            d.slack.calls_to("chat.postEphemeral", ok=True, user=ASKER)[-1].args["text"]
            != answer.args["text"]
        )


async def test_app_home_search_opens_a_modal_whose_results_only_the_helper_sees(desk, team):
    from nephthys.slack.home import search
    from tests.slack.test_app_home import click, element, open_home
    from tests.support.slack import view_submission

    async with desk() as d:
        original = await resolved(
            d, "Is the deadline for the summer program extended?", "Yes, to August 31st."
        )
        blocks = await open_home(d, HELPER)
        await click(d, HELPER, element(blocks, search.SEARCH_BUTTON))
        [opened] = d.slack.views_opened
        assert opened["view"]["callback_id"] == search.SEARCH_MODAL

        values = {search.WORDS_BLOCK: {search.WORDS_INPUT: {"type": "plain_text_input", "value": "dedline"}}}
        response = await d.deliver.action(
            view_submission(HELPER, callback_id=search.SEARCH_MODAL, values=values)
        )
        assert response.status_code == 200
        answer = response.json()
        assert answer["response_action"] == "update"
        results = next(b for b in answer["view"]["blocks"] if b.get("block_id") == search.RESULTS_BLOCK)
        assert (
            original["ts"].replace(".", "") in results["text"]["text"] and "Closed" in results["text"]["text"]
        )
        # Nothing was posted anywhere: the results are in the helper's modal alone.
        assert not [c for c in d.slack.calls_to("chat.postMessage", ok=True) if "dedline" in c.args["text"]]

        # An asker has no Search button, and a forged submission finds nothing for them.
        assert all(b.get("block_id") != search.SEARCH_BLOCK for b in await open_home(d, ASKER))
        response = await d.deliver.action(
            view_submission(ASKER, callback_id=search.SEARCH_MODAL, values=values)
        )
        refused = next(
            b for b in response.json()["view"]["blocks"] if b.get("block_id") == search.RESULTS_BLOCK
        )
        assert original["ts"].replace(".", "") not in refused["text"]["text"]


async def test_a_surge_is_posted_once_in_the_team_channel_and_updated_as_it_grows(desk, team):
    from tests.slack.conftest import BTS_CHANNEL

    askers = [f"U0SURGE{n:03}" for n in range(7)]
    for asker in askers:
        team.add_user(asker, name=asker.lower())
    rephrasings = [
        "Is the deadline extended?",
        "was the deadline extended??",
        "deadline extended or not?",
        "is the dedline extended",
        "Has the deadline been extended?",
        "deadline extended? 🙏",
    ]
    async with desk(surge_min_tickets=5, surge_window_minutes=60) as d:
        tickets = []
        for asker, text in zip(askers, rephrasings[:4], strict=False):
            tickets.append((await d.ask(text, user=asker))[1])
            await d.ask("Where is the venue for the meetup?", user=STRANGER) if len(tickets) == 2 else None
        assert d.posts(BTS_CHANNEL) == []  # four are no surge yet

        tickets.append((await d.ask(rephrasings[4], user=askers[4]))[1])
        [post] = d.posts(BTS_CHANNEL)
        assert "5 questions like “Is the deadline extended?” in the last 60 minutes" in post.args["text"]
        for ticket in tickets:
            assert ticket["msgTs"].replace(".", "") in post.args["text"]
        assert "venue" not in post.args["text"]

        tickets.append((await d.ask(rephrasings[5], user=askers[5]))[1])
        assert len(d.posts(BTS_CHANNEL)) == 1  # one message per surge
        [update] = d.slack.calls_to("chat.update", ok=True, channel=BTS_CHANNEL)
        assert update.args["ts"] == post.response["ts"] and "6 questions like" in update.args["text"]
        [surge] = await d.fetch('SELECT * FROM "Surge"')
        assert surge["tickets"] == 6 and surge["ts"] == post.response["ts"]


async def test_a_burst_of_similar_questions_makes_one_surge_whose_message_ends_showing_them_all(desk, team):
    """Questions handled at once: one surge, one post, and its updates (fewer than one per question
    while they overlap) end on the surge as it is: every ticket counted, the newest linked."""
    import asyncio

    from nephthys.slack.memory import SURGE_LINKS_SHOWN
    from tests.slack.conftest import BTS_CHANNEL

    askers = [f"U0BURST{n:03}" for n in range(24)]
    for asker in askers:
        team.add_user(asker, name=asker.lower())
    async with desk(surge_min_tickets=3, surge_window_minutes=60) as d:
        for asker in askers[:3]:  # the surge and its message exist first
            await d.ask(f"How do I get my project deployed before the deadline? ({asker})", user=asker)
        [post] = d.posts(BTS_CHANNEL)
        burst = [
            question(HELP_CHANNEL, asker, f"How do I get my project deployed before the deadline? ({asker})")
            for asker in askers[3:]
        ]
        responses = await asyncio.gather(*(d.deliver.event(asked) for asked in burst))
        assert {response.status_code for response in responses} == {200}
        await d.settle()

        assert len(d.posts(BTS_CHANNEL)) == 1
        [surge] = await d.fetch('SELECT * FROM "Surge"')
        assert surge["tickets"] == len(askers) and surge["ts"] == post.response["ts"]
        updates = d.slack.calls_to("chat.update", ok=True, channel=BTS_CHANNEL)
        assert 1 <= len(updates) <= len(burst)
        last = updates[-1].args["text"]
        assert f"{len(askers)} questions like" in last
        shown = surge["ticketIds"][-SURGE_LINKS_SHOWN:]  # the newest to join, in the order they joined
        newest = await d.fetch('SELECT "msgTs" FROM "Ticket" WHERE id = ANY($1)', shown)
        assert len(newest) == SURGE_LINKS_SHOWN
        for row in newest:
            assert row["msgTs"].replace(".", "") in last


# ---------------------------------------------------------------- the drafted answer (§4)


async def test_a_drafted_answer_is_sent_by_a_helpers_click_as_their_message(desk, team):
    from nephthys.slack.memory import DRAFT_SEND_ACTION, DRAFT_TEXT_BLOCK
    from nephthys.testing.fake_ai import FakeAI
    from tests.slack.conftest import HELPER_2
    from tests.support.server import running
    from tests.support.slack import block_actions

    model = FakeAI("Yes: it moved to August 31st [1].")
    async with (
        running(model.app) as model_url,
        desk(hack_club_ai_api_key="sk-test", ai_base_url=f"{model_url}/v1", ai_timeout_seconds=2) as d,
    ):
        original = await resolved(
            d, "Is the deadline for the summer program extended?", "Yes, to August 31st."
        )
        model.requests.clear()  # the titles' requests
        asked, ticket = await d.ask("was the dedline extnded??", user=STRANGER)
        # Grounded in the similar ticket's answer, and nothing else of the desk.
        drafting = [r for r in model.requests if "Past answers" in r["body"]["messages"][1]["content"]]
        [request] = drafting
        assert "Yes, to August 31st." in request["body"]["messages"][1]["content"]
        [_, draft] = similar_posts(d, ticket["ticketTs"])
        shown = next(b for b in draft.args["blocks"] if b.get("block_id") == DRAFT_TEXT_BLOCK)["text"]["text"]
        assert "August 31st" in shown and original["ts"].replace(".", "") in shown  # [1] is linked
        assert all("August" not in p.args["text"] for p in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]))

        held = next(
            m
            for m in d.slack.messages(TICKET_CHANNEL, thread_ts=ticket["ticketTs"])
            if m["ts"] == draft.response["ts"]
        )
        button = next(e for b in held["blocks"] if b.get("type") == "actions" for e in b["elements"])
        assert button["action_id"] == DRAFT_SEND_ACTION
        for _ in range(2):  # a second click sends nothing more
            payload = block_actions(HELPER_2, button, channel=TICKET_CHANNEL, message=held)
            assert (await d.deliver.action(payload)).status_code == 200
            await d.settle()
        sent = [p for p in d.posts(HELP_CHANNEL, thread_ts=asked["ts"]) if "August 31st" in p.args["text"]]
        assert len(sent) == 1
        row = await d.ticket(asked["ts"])
        # The helper's message: the ticket is theirs, in progress, waiting on the asker.
        assert await d.slack_id(row["assignedToId"]) == HELPER_2
        assert row["status"] == "IN_PROGRESS" and row["waitingOn"] == "ASKER"
        events = await d.fetch('SELECT kind FROM "TicketEvent" WHERE "ticketId" = $1 ORDER BY id', row["id"])
        assert [e["kind"] for e in events][-2:] == ["HELPER_MESSAGE", "ASSIGNED"]
        [update] = [
            c for c in d.slack.calls_to("chat.update", ok=True) if c.args["ts"] == draft.response["ts"]
        ][:1]
        assert "Sent to the asker by" in str(update.args["blocks"]) and DRAFT_SEND_ACTION not in str(
            update.args["blocks"]
        )


async def test_a_failing_endpoint_drafts_nothing_and_says_so_once(desk, team):
    from nephthys.testing.fake_ai import FakeAI
    from tests.slack.conftest import HEARTBEAT_CHANNEL
    from tests.support.server import running

    model = FakeAI(behaviour="error")
    async with (
        running(model.app) as model_url,
        desk(hack_club_ai_api_key="sk-test", ai_base_url=f"{model_url}/v1", ai_timeout_seconds=2) as d,
    ):
        await resolved(d, "Is the deadline for the summer program extended?", "Yes, to August 31st.")
        for asker in (STRANGER, HELPER):
            _, ticket = await d.ask("was the deadline extended?", user=asker)
            assert len(similar_posts(d, ticket["ticketTs"])) == 1  # the similar tickets, no draft
        alerts = [p for p in d.posts(HEARTBEAT_CHANNEL) if "No answer was drafted" in p.args["text"]]
        assert len(alerts) == 1
        # Nothing similar: nothing is asked of the model.
        before = len(model.requests)
        await d.ask("Where is the venue for the London meetup?", user=STRANGER)
        assert [r for r in model.requests[before:] if "Past answers" in str(r["body"])] == []
