"""/api/unanswered: the tickets waiting on the helpers (issue 20), over real HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.api.data import add_ticket, add_user, database_now
from tests.support import postgres

HOUR = timedelta(hours=1)


async def seed(url: str) -> dict:
    now = await database_now(url)
    asker = await add_user(url, "UASKER")
    helper = await add_user(url, "UHELPER", helper=True)
    ids = {
        # last word at now - 5 h, though asked 2 days ago: waits less than "oldest"
        "replied": await add_ticket(url, opened_by=asker, created_at=now - 48 * HOUR, last_msg_at=now - 5 * HOUR,
                                    title="Replied by the asker", msg_ts="1700000000.000001"),
        "oldest": await add_ticket(url, opened_by=asker, created_at=now - 20 * HOUR, title="Oldest",
                                   description="first line", msg_ts="1700000000.000002"),
        "other": await add_ticket(url, opened_by=asker, created_at=now - 2 * HOUR, last_msg_by="OTHER",
                                  title="Someone else spoke", msg_ts="1700000000.000003"),
        "no_last_message": await add_ticket(url, opened_by=asker, created_at=now - 30 * HOUR,
                                            msg_ts="1700000000.000009"),
    }  # fmt: skip
    await add_ticket(
        url, opened_by=asker, created_at=now - 40 * HOUR, last_msg_by="HELPER", title="Helper spoke"
    )
    # In progress and the asker spoke last (after the helper's answer): it waits on the helpers.
    ids["in_progress"] = await add_ticket(
        url, opened_by=asker, created_at=now - 45 * HOUR, status="IN_PROGRESS", assigned_to=helper,
        assigned_at=now - 44 * HOUR, last_msg_at=now - 40 * HOUR, title="In progress, the asker spoke last",
        msg_ts="1700000000.000010",
    )  # fmt: skip
    # A helper answered with a macro (?hii): it waits on the asker, though the asker's word is the last
    # message and the ticket is still OPEN, which is all stats_v2's oldest unanswered ticket looks at.
    ids["macro_answered"] = await add_ticket(
        url, opened_by=asker, created_at=now - 50 * HOUR, waiting_on="ASKER", waiting_since=now - 49 * HOUR,
        title="Answered by a macro", msg_ts="1700000000.000011",
    )  # fmt: skip
    await add_ticket(url, opened_by=asker, created_at=now - 40 * HOUR, status="IN_PROGRESS", assigned_to=helper,
                     assigned_at=now - 39 * HOUR, last_msg_by="HELPER", title="In progress, answered")  # fmt: skip
    await add_ticket(url, opened_by=asker, created_at=now - 40 * HOUR, status="CLOSED", closed_by=helper,
                     closed_at=now - 30 * HOUR, title="Closed")  # fmt: skip
    await postgres.execute(
        url, 'UPDATE "Ticket" SET "lastMsgAt" = NULL WHERE id = $1', ids["no_last_message"]
    )
    return {"now": now, **ids}


async def test_the_queue_is_the_tickets_waiting_on_the_helpers_longest_wait_first(serve, db_url):
    ids = await seed(db_url)
    async with serve(slack_help_channel="C0HELP0001") as client:
        queue = (await client.get("/api/unanswered")).json()
        stats = (await client.get("/api/stats_v2")).json()
        first_two = (await client.get("/api/unanswered?limit=2")).json()
    assert queue["total"] == 5
    assert [ticket["id"] for ticket in queue["tickets"]] == [
        ids["in_progress"], ids["no_last_message"], ids["oldest"], ids["replied"], ids["other"]
    ]  # fmt: skip
    oldest = queue["tickets"][2]
    assert oldest["title"] == "Oldest"
    assert oldest["description"] == "first line"
    assert oldest["link"] == "https://hackclub.slack.com/archives/C0HELP0001/p1700000000000002"
    assert 20 * 60 - 5 < oldest["waiting_minutes"] < 20 * 60 + 5
    assert datetime.fromisoformat(oldest["last_message_at"]) == datetime.fromisoformat(oldest["created_at"])
    assert datetime.fromisoformat(oldest["waiting_since"]) == datetime.fromisoformat(oldest["created_at"])
    # The wait runs from when it began, not from the question: the asker spoke again 5 hours ago.
    replied = queue["tickets"][3]
    assert 5 * 60 - 5 < replied["waiting_minutes"] < 5 * 60 + 5
    assert replied["waiting_since"] == replied["last_message_at"] != replied["created_at"]
    # Without a last message known, the wait still counts from its start.
    unknown = queue["tickets"][1]
    assert unknown["last_message_at"] is None and 30 * 60 - 5 < unknown["waiting_minutes"] < 30 * 60 + 5
    assert 40 * 60 - 5 < queue["tickets"][0]["waiting_minutes"] < 40 * 60 + 5
    # stats_v2 keeps its own definition (OPEN, last message not a helper's): its oldest unanswered
    # ticket is the one a macro answered, which waits on the asker and is not in the queue.
    assert stats["all_time"]["oldest_unanswered_ticket"]["id"] == ids["macro_answered"]
    assert ids["macro_answered"] not in [ticket["id"] for ticket in queue["tickets"]]
    assert first_two["total"] == 5
    assert [ticket["id"] for ticket in first_two["tickets"]] == [ids["in_progress"], ids["no_last_message"]]


async def test_an_empty_queue(serve, db_url):
    async with serve() as client:
        response = await client.get("/api/unanswered")
    assert response.json() == {"total": 0, "tickets": []}


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1", "1.5"])
async def test_a_bad_limit_is_a_400_naming_it(serve, db_url, limit):
    async with serve() as client:
        response = await client.get("/api/unanswered", params={"limit": limit})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_limit"
    assert response.json()["detail"].startswith("limit:")


async def test_the_etag_holds_while_only_the_clock_moves_and_changes_with_the_queue(serve, db_url):
    ids = await seed(db_url)
    async with serve() as client:
        first = await client.get("/api/unanswered")
        etag = first.headers["etag"]
        again = await client.get("/api/unanswered", headers={"If-None-Match": etag})
        # waiting_minutes has grown meanwhile; the tag leaves it out.
        # A helper answered it: it waits on the asker now.
        await postgres.execute(
            db_url,
            'UPDATE "Ticket" SET "lastMsgBy" = \'HELPER\', "waitingOn" = \'ASKER\', "waitingSince" = now() WHERE id = $1',
            ids["other"],
        )
        changed = await client.get("/api/unanswered", headers={"If-None-Match": etag})
    assert etag.startswith('W/"')
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert ids["other"] not in [ticket["id"] for ticket in changed.json()["tickets"]]
