"""API_STATUS_CASE=upper: every ticket object served says OPEN / IN_PROGRESS / CLOSED; lower stays the default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jsonschema
import pytest

from nephthys.api.status_case import UpperStatusStream, upper_statuses
from nephthys.database.engine import create_engine, session_factory
from nephthys.tasks.ticket_json import keep_blocks
from tests.api.data import add_tag, add_ticket, add_user, every_page
from tests.support import postgres

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
LOWER = {"open", "in_progress", "closed"}
UPPER = {"OPEN", "IN_PROGRESS", "CLOSED"}
# A title and description that spell a status member: they are the asker's words and stay as written.
TRICKY = '"status":"open" and {"status":"closed"}'


async def seed(db_url: str) -> dict[str, int]:
    """Two tickets of each status (one with tricky words), created an hour apart."""
    asker = await add_user(db_url, "UASKER", username='Asker "status":"open"')
    helper = await add_user(db_url, "UHELPER", helper=True)
    ids: dict[str, int] = {}
    for hour, status in enumerate(["OPEN", "IN_PROGRESS", "CLOSED"] * 2):
        closed = status == "CLOSED"
        ids[f"{status}{hour // 3}"] = await add_ticket(
            db_url, opened_by=asker, created_at=JAN + timedelta(hours=hour), status=status,
            assigned_to=helper if status != "OPEN" else None, assigned_at=JAN if status != "OPEN" else None,
            closed_by=helper if closed else None, closed_at=JAN + timedelta(days=1) if closed else None,
            title=TRICKY if hour < 3 else "A question", description=TRICKY,
        )  # fmt: skip
    await add_tag(db_url, '"status":"in_progress"', ids["OPEN0"])
    return ids


def statuses(tickets: list[dict]) -> set[str]:
    return {ticket["status"] for ticket in tickets}


def assert_words_kept(tickets: list[dict]) -> None:
    for ticket in tickets:
        assert ticket["description"] == TRICKY
        assert ticket["opened_by"]["username"] == 'Asker "status":"open"'


async def answers(client, ids: dict[str, int]) -> dict[str, list[dict]]:
    """Every way the API serves ticket objects."""
    served: dict[str, list[dict]] = {}
    for name, params in {
        "export": {"since": "2000-01-01"},
        "stream_closed": {"status": "closed", "since": "2000-01-01"},
        "active_open": {"status": "open"},
        "active_in_progress": {"status": "in_progress"},
        "active_in_any_case": {"status": "In_Progress"},
        "active_since": {"status": "OPEN", "since": "2000-01-01"},
    }.items():
        answer = await client.get("/api/tickets", params=params)
        assert answer.status_code == 200, (name, answer.text)
        served[name] = answer.json()
    served["pages"] = await every_page(client, limit=2, since="2000-01-01")
    served["pages_in_any_case"] = await every_page(client, limit=1, status="cLoSeD", since="2000-01-01")
    served["one"] = []
    for ticket_id in ids.values():
        one = await client.get("/api/ticket", params={"id": ticket_id})
        assert one.status_code == 200
        served["one"].append(one.json())
    return served


def assert_in_case(served: dict[str, list[dict]], case: set[str]) -> None:
    assert statuses(served["export"]) == statuses(served["pages"]) == statuses(served["one"]) == case
    assert len(served["export"]) == len(served["pages"]) == len(served["one"]) == 6
    open_, in_progress, closed = sorted(
        case, key=lambda s: ["open", "in_progress", "closed"].index(s.lower())
    )
    assert statuses(served["active_open"]) == {open_} and len(served["active_open"]) == 2
    assert statuses(served["active_in_progress"]) == statuses(served["active_in_any_case"]) == {in_progress}
    assert statuses(served["stream_closed"]) == statuses(served["pages_in_any_case"]) == {closed}
    assert statuses(served["active_since"]) == {open_}
    for tickets in served.values():
        assert_words_kept(tickets)
    tagged = next(t for t in served["export"] if t["tags"])
    assert tagged["tags"] == ['"status":"in_progress"']


async def test_statuses_are_lower_case_by_default(serve, db_url):
    ids = await seed(db_url)
    async with serve() as client:
        assert_in_case(await answers(client, ids), LOWER)


async def test_with_upper_every_ticket_object_says_its_status_in_capitals(serve, db_url):
    ids = await seed(db_url)
    async with serve(api_status_case="upper") as client:
        served = await answers(client, ids)
        assert_in_case(served, UPPER)
        # The copies of the active tickets, brought up to date after a change, stay in capitals.
        await postgres.execute(
            db_url, "UPDATE \"Ticket\" SET status = 'IN_PROGRESS' WHERE id = $1", ids["OPEN0"]
        )
        moved = (await client.get("/api/tickets", params={"status": "in_progress"})).json()
        assert statuses(moved) == {"IN_PROGRESS"} and len(moved) == 3
        assert statuses((await client.get("/api/tickets", params={"status": "open"})).json()) == {"OPEN"}
    # Hidden descriptions (cut out at stored offsets) leave the capitals in place.
    async with serve(api_status_case="upper", api_descriptions="keys") as hidden:
        for params in ({"status": "open"}, {"since": "2000-01-01"}, {"limit": 3, "since": "2000-01-01"}):
            tickets = (await hidden.get("/api/tickets", params=params)).json()
            assert tickets and statuses(tickets) <= UPPER and all("description" not in t for t in tickets)


async def test_with_upper_the_exports_blocks_say_capitals_too(serve, db_url):
    await seed(db_url)
    asker = await add_user(db_url, "UASKER2")
    for hour in range(6, 30):
        await add_ticket(db_url, opened_by=asker, created_at=JAN + timedelta(hours=hour),
                         status=("OPEN", "IN_PROGRESS", "CLOSED")[hour % 3], description=TRICKY)  # fmt: skip
    engine = create_engine(db_url)
    try:
        kept = await keep_blocks(session_factory(engine), per_block=4)
        assert kept.built >= 6
    finally:
        await engine.dispose()
    async with serve(api_status_case="upper") as upper, serve() as lower:
        export = (await upper.get("/api/tickets", params={"since": "2000-01-01"})).json()
        by_rows = await every_page(upper, limit=1000, since="2000-01-01")
        as_stored = (await lower.get("/api/tickets", params={"since": "2000-01-01"})).json()
    assert len(export) == 30 and export == by_rows
    assert statuses(export) == UPPER
    assert [{**t, "status": t["status"].lower()} for t in export] == as_stored


async def test_a_restart_with_the_other_setting_serves_only_the_other_case(serve, db_url):
    ids = await seed(db_url)
    async with serve() as lower:
        assert_in_case(await answers(lower, ids), LOWER)
    async with serve(api_status_case="upper") as upper:
        assert_in_case(await answers(upper, ids), UPPER)
    async with serve() as lower_again:
        assert_in_case(await answers(lower_again, ids), LOWER)


async def test_the_openapi_document_lists_the_case_the_service_serves(serve, db_url):
    ids = await seed(db_url)
    async with serve(api_status_case="upper") as upper, serve() as lower:
        upper_document = (await upper.get("/openapi.json")).json()
        lower_document = (await lower.get("/openapi.json")).json()
        ticket = (await upper.get("/api/ticket", params={"id": ids["CLOSED0"]})).json()
    upper_status = upper_document["components"]["schemas"]["Ticket"]["properties"]["status"]
    lower_status = lower_document["components"]["schemas"]["Ticket"]["properties"]["status"]
    assert set(upper_status["enum"]) == UPPER and "API_STATUS_CASE=upper" in upper_status["description"]
    assert set(lower_status["enum"]) == LOWER and "API_STATUS_CASE=upper" in lower_status["description"]
    schema = {"$ref": "#/components/schemas/Ticket", "components": upper_document["components"]}
    jsonschema.Draft202012Validator(schema).validate(ticket)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator({**schema, "components": lower_document["components"]}).validate(
            ticket
        )


ARRAY = (
    b',{"id":1,"title":"\\"status\\":\\"open\\"","status":"open","tags":[]}'
    b',{"id":2,"title":"x","status":"in_progress","tags":["\\"status\\":\\"closed\\""]}'
    b',{"id":3,"title":"y","status":"closed","tags":[]}'
)
EXPECTED = (
    ARRAY.replace(b'"status":"open"', b'"status":"OPEN"')
    .replace(b'"status":"in_progress"', b'"status":"IN_PROGRESS"')
    .replace(b'"status":"closed"', b'"status":"CLOSED"')
)


def test_the_status_members_alone_change():
    assert upper_statuses(ARRAY) == EXPECTED
    assert EXPECTED.count(b'\\"status\\":\\"open\\"') == 1  # the title's words are untouched
    assert upper_statuses(ARRAY, statuses=("open",)).count(b'"status":"OPEN"') == 1


@pytest.mark.parametrize("cut", range(1, len(ARRAY)))
async def test_a_stream_cut_anywhere_gets_every_status_in_capitals(cut):
    pieces: list[bytes] = []

    async def put(piece) -> None:
        pieces.append(bytes(piece))

    stream = UpperStatusStream(put)
    for piece in (ARRAY[:cut], memoryview(ARRAY)[cut : cut + 7], ARRAY[cut + 7 :]):
        await stream.put(piece)
    await stream.finish()
    assert b"".join(pieces) == EXPECTED
    assert pieces[0].startswith(b",")  # the array drops the first piece's comma
