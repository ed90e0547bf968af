"""GET /api/tickets/search: the tickets some words find, best first, under /api/tickets' access rules."""

from __future__ import annotations

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.tickets import lifecycle

HELPER = "UHELPER001"
TOKEN = "search-token-0123456789"


@pytest.fixture
async def tickets(db_url):
    """Three tickets: two about the deadline (one answered and closed), one about payouts."""
    engine = create_engine(db_url)
    sessions = session_factory(engine)
    await lifecycle.set_helper(sessions, slack_id=HELPER, helper=True)
    ids = []
    for n, (text, answer) in enumerate(
        [
            ("Is the deadline extended?", "Yes, to August 31st."),
            ("My payout is pending", None),
            ("Deadline for the shop?", None),
        ]
    ):
        ts = f"{1_700_000_000 + n * 100}.000100"
        opened = await lifecycle.open_ticket(
            sessions, msg_ts=ts, asker_slack_id=f"UASKER{n}", description=text, title=text
        )
        if answer:
            await lifecycle.record_reply(
                sessions,
                thread_ts=ts,
                author_slack_id=HELPER,
                ts=f"{1_700_000_000 + n * 100 + 5}.000100",
                text=answer,
            )
            await lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id=HELPER)
        ids.append(opened.ticket.id)
    await engine.dispose()
    return ids


async def test_search_returns_ticket_objects_best_first(serve, tickets):
    async with serve() as client:
        response = await client.get("/api/tickets/search", params={"q": "dedline august"})
        assert response.status_code == 200
        found = response.json()
        assert [t["id"] for t in found] == [tickets[0], tickets[2]]  # every word first, then some
        assert found[0]["status"] == "closed" and found[0]["description"] == "Is the deadline extended?"
        one = (await client.get("/api/ticket", params={"id": tickets[0]})).json()
        assert found[0] == one  # the same object as /api/ticket's

        assert (await client.get("/api/tickets/search", params={"q": "deadline", "limit": 1})).json()[0][
            "id"
        ] in (
            tickets[0],
            tickets[2],
        )
        assert (await client.get("/api/tickets/search", params={"q": "venue"})).json() == []


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"q": " "},
        {"q": "x", "limit": "0"},
        {"q": "x", "limit": "51"},
        {"q": "x", "limit": "ten"},
        {"q": "x" * 201},
    ],
)
async def test_bad_parameters_are_a_json_400(serve, params):
    async with serve() as client:
        response = await client.get("/api/tickets/search", params=params)
        assert response.status_code == 400 and "error" in response.json()


async def test_with_descriptions_for_keys_a_search_needs_a_key(serve, tickets):
    async with serve(api_descriptions="keys", api_token=None) as client:
        response = await client.get("/api/tickets/search", params={"q": "deadline"})
        assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
        # /api/tickets itself stays readable without descriptions.
        assert (await client.get("/api/tickets", params={"status": "open"})).status_code == 200
    async with serve(api_descriptions="keys", api_token=TOKEN) as client:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = await client.get("/api/tickets/search", params={"q": "deadline"}, headers=headers)
        assert response.status_code == 200 and response.json()[0]["description"]


async def test_with_keys_required_a_search_without_one_is_refused(serve, tickets):
    async with serve(api_access="keys", api_token=TOKEN) as client:
        assert (await client.get("/api/tickets/search", params={"q": "deadline"})).status_code == 401
        response = await client.get(
            "/api/tickets/search", params={"q": "deadline"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert response.status_code == 200 and len(response.json()) == 2
