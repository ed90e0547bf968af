"""``sla`` on every ticket object (issue 21, section 3): /api/ticket, every /api/tickets answer (the
active copies, pages, the export's rows and its blocks), each equal to the ticket's clocks shown at
the answer's instant; and the served member's arithmetic (nephthys/api/sla_now.py) equal to
``nephthys.sla.clocks.sla_json`` at injected instants across weekends, a bank holiday and DST."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import asyncpg
import orjson
import pytest

from nephthys.api import sla_now, stored_tickets, ticket_blocks, tickets
from nephthys.api.ticket_json import float8_json
from nephthys.database.engine import create_engine, session_factory
from nephthys.sla import clocks
from nephthys.sla.clocks import SlaState, TicketSpanKind
from nephthys.tasks.ticket_json import keep_blocks
from tests.sla.test_clocks import CALENDAR, SLA, london, stored
from tests.sla.test_stats import tell_five_stories


def _expected(found: dict[int, list[clocks.StoredClock]], now: datetime) -> dict[int, dict | None]:
    return {
        ticket_id: clocks.sla_json(ticket_clocks, now, CALENDAR) for ticket_id, ticket_clocks in found.items()
    }


def _same(got: dict | None, expected: dict | None) -> bool:
    """Equal, the minutes left within a minute (the answers are made a few seconds apart)."""
    if got is None or expected is None:
        return got == expected
    for name in ("first_response", "next_response", "resolution"):
        mine, theirs = got[name], expected[name]
        if mine is None or theirs is None:
            if mine != theirs:
                return False
            continue
        if {k: v for k, v in mine.items() if k != "minutes_left"} != {
            k: v for k, v in theirs.items() if k != "minutes_left"
        }:
            return False
        if (mine["minutes_left"] is None) != (theirs["minutes_left"] is None):
            return False
        if mine["minutes_left"] is not None and abs(mine["minutes_left"] - theirs["minutes_left"]) > 1:
            return False
    return True


async def test_every_ticket_object_carries_its_clocks_as_they_stand(desk, team):
    async with desk(**SLA) as d:
        await tell_five_stories(d)
        ids = [row["id"] for row in await d.fetch('SELECT id FROM "Ticket" ORDER BY id')]
        rows = await d.fetch(
            """SELECT "ticketId", kind, "targetMinutes", "startAt", state, minutes, "runningSince", "dueAt",
                      "warnAt", "missedBefore" FROM "TicketSlaClock" """
        )
        found = sla_now.clocks_by_ticket(rows)
        assert set(found) == set(ids)  # the default policy gives every ticket clocks
        states = {clock.state for ticket_clocks in found.values() for clock in ticket_clocks}
        assert {SlaState.RUNNING, SlaState.PAUSED, SlaState.MET, SlaState.BREACHED} <= states

        async def answers() -> dict[str, list[dict]]:
            got: dict[str, list[dict]] = {}
            for name, params in {
                "open copy": {"status": "open"},
                "in-progress copy": {"status": "in_progress"},
                "both copies": {"waiting_on": "asker"},
                "helpers": {"waiting_on": "helpers"},
                "page": {"since": "2025-01-01", "limit": 2},
                "export": {"since": "2025-01-01"},
                "breached": {"sla": "breached"},
            }.items():
                response = await d.client.get("/api/tickets", params=params)
                assert response.status_code == 200, (name, response.text)
                got[name] = response.json()
            got["ticket"] = [await d.api_ticket(ticket_id) for ticket_id in ids]
            return got

        engine = create_engine(d.db_url)
        try:
            for blocks in (False, True):
                if blocks:  # the export's blocks hold every ticket: those with a running clock are rewritten
                    kept = await keep_blocks(session_factory(engine), per_block=2, settled_after=timedelta(0))
                    assert kept.built >= 2
                got = await answers()
                expected = _expected(found, datetime.now(UTC))
                seen = set()
                for name, objects in got.items():
                    for ticket in objects:
                        assert list(ticket)[-1] == "sla", name
                        assert _same(ticket["sla"], expected[ticket["id"]]), (
                            name,
                            ticket["sla"],
                            expected[ticket["id"]],
                        )
                        seen.add(ticket["id"])
                assert seen == set(ids)
                assert len(got["export"]) == len(ids)
                running = {
                    ticket_id
                    for ticket_id, ticket_clocks in found.items()
                    if any(clock.state is SlaState.RUNNING for clock in ticket_clocks)
                }
                assert running and running < set(ids)  # some are rewritten as served, some served as stored
        finally:
            await engine.dispose()


@pytest.mark.parametrize(
    "now",
    [
        london(2025, 5, 23, 18, 0),  # Friday after hours
        london(2025, 5, 26, 12, 0),  # the bank holiday
        london(2025, 5, 27, 9, 7, 30),  # at the warning point
        london(2025, 5, 27, 9, 20),  # past the target
        london(2025, 5, 27, 9, 20, 0, 1234),
        london(2026, 3, 30, 10, 0),  # after the clocks went forward
        london(2026, 11, 2, 17, 59),  # after they went back, long overdue
    ],
)
def test_the_served_member_equals_the_clocks_shown_at_the_instant(now):
    ticket_clocks = [
        stored(),
        stored(
            kind=TicketSpanKind.NEXT_RESPONSE,
            state=SlaState.PAUSED,
            minutes=12.5,
            running_since=None,
            due_at=None,
        ),
        stored(
            kind=TicketSpanKind.RESOLUTION,
            target_minutes=240,
            minutes=100.25,
            running_since=london(2025, 5, 23, 17, 0),
            due_at=CALENDAR.add_support_minutes(london(2025, 5, 23, 17, 0), 139.75),
        ),
    ]
    shown = sla_now.SlaShown(now, CALENDAR)
    assert orjson.loads(shown.value(ticket_clocks)) == clocks.sla_json(ticket_clocks, now, CALENDAR)
    # Met and breached clocks, and none at all, are as migration 0028 stores them.
    done = [stored(state=SlaState.MET, minutes=25.0, running_since=None, due_at=None)]
    assert orjson.loads(shown.value(done)) == clocks.sla_json(done, now, CALENDAR)
    assert shown.value([]) == b"null"


def _stored_member(ticket_clocks: list[clocks.StoredClock]) -> bytes:
    """A ticket's ``sla`` value as migration 0028 stores it (its _CLOCK_OBJECT, in Python)."""
    if not ticket_clocks:
        return b"null"
    by_kind = {clock.kind: clock for clock in ticket_clocks}
    parts = []
    for kind, name in clocks.CLOCK_NAMES.items():
        clock = by_kind.get(kind)
        if clock is None:
            parts.append(f'"{name}":null')
            continue
        due = "null"
        if clock.state is SlaState.RUNNING and clock.due_at is not None:
            due = f'"{clocks._instant_text(clock.due_at)}"'
        left = "null"
        if clock.state is SlaState.PAUSED:
            left = float8_json(round(clock.target_minutes - clock.minutes, 2))  # PostgreSQL's to_json
        parts.append(
            f'"{name}":{{"target_minutes":{clock.target_minutes},"state":"{clock.state.value.lower()}",'
            f'"due_at":{due},"minutes_left":{left}}}'
        )
    return ("{" + ",".join(parts) + "}").encode()


# Text that looks like the members the splice looks for, as a string holds it (its quotes escaped).
_TRICKY = '\\"state\\":\\"running\\",\\"due_at\\":null ,{\\"id\\":3,\\"title\\": ,\\"sla\\": é 😀'


def _random_tickets(
    chooser: random.Random, now: datetime, count: int
) -> list[tuple[int, list[clocks.StoredClock]]]:
    """Tickets with random clocks: running (due in the past or the future, to the millisecond as
    "dueAt" holds it, or without a due instant), paused, met, breached, or none at all."""
    tickets_made = []
    for ticket_id in range(1, count + 1):
        ticket_clocks = []
        for kind in chooser.sample(list(TicketSpanKind), chooser.randrange(0, 4)):
            state = chooser.choice(list(SlaState))
            due = None
            if state is SlaState.RUNNING and chooser.random() > 0.1:
                due = now + timedelta(milliseconds=chooser.randrange(-40 * 86400_000, 40 * 86400_000))
                due = due.replace(microsecond=due.microsecond // 1000 * 1000)
            ticket_clocks.append(
                stored(
                    kind=kind,
                    target_minutes=chooser.choice([10, 30, 60, 480, 12345]),
                    state=state,
                    minutes=chooser.choice([0.0, 12.5, 0.125, 29.999, 100.25, chooser.random() * 500]),
                    due_at=due,
                )
            )
        tickets_made.append((ticket_id, ticket_clocks))
    return tickets_made


def _object(ticket_id: int, sla: bytes) -> bytes:
    return b'{"id":%d,"title":"%s","opened_by":{"id":%d,"slack_id":"U1","username":null},"sla":%s}' % (
        ticket_id,
        _TRICKY.encode(),
        ticket_id + 1,
        sla,
    )


@pytest.mark.parametrize("seed", range(12))
def test_a_spliced_block_is_each_object_rewritten_alone_byte_for_byte(seed):
    """``SlaShown.spliced`` (an export block's running clocks filled in from the block's own bytes)
    gives what each stored object rewritten alone from its clocks gives (``SlaShown.value``): running
    clocks before, at and past their due instant, due-less running clocks, paused, met and breached
    ones, at instants in and out of support hours (a weekday's hours, a night, a weekend, the bank
    holiday, across DST); with the block's note of where its running objects end, without it, and
    with a wrong one; and cut out of a larger buffer."""
    chooser = random.Random(seed)
    now = london(2025, 5, 22, 9, 0) + timedelta(seconds=chooser.randrange(0, 200 * 86400), microseconds=1234)
    if seed % 3 == 0:  # inside support hours (a weekday 09:00-17:30): the clocks move
        now = london(2025, 6, 4, 9, 0) + timedelta(
            seconds=chooser.randrange(0, 8 * 3600), microseconds=chooser.randrange(10**6)
        )
    shown = sla_now.SlaShown(now, CALENDAR)
    made = _random_tickets(chooser, now, 300)
    if seed == 1:  # one clock due exactly now, to the millisecond
        exact = now.replace(microsecond=now.microsecond // 1000 * 1000)
        made[0] = (1, [stored(due_at=exact)])
        shown = sla_now.SlaShown(exact, CALENDAR)
    stored_objects = [(ticket_id, _object(ticket_id, _stored_member(c))) for ticket_id, c in made]
    block = b"".join(b"," + json for _, json in stored_objects)
    expected = b"".join(
        b"," + stored_tickets.with_sla_value(json, shown.value(c))
        for (_, json), (_, c) in zip(stored_objects, made, strict=True)
    )
    assert expected != block  # some clocks run
    ends, end = [], 0
    for _, json in stored_objects:
        end += 1 + len(json)
        if sla_now.stored_running(json):
            ends.append(end)
    assert bytes(shown.spliced(block, 0, len(block), ends)) == expected  # from the note
    assert bytes(shown.spliced(block)) == expected  # searched
    assert bytes(shown.spliced(block, 0, len(block), [1] * len(ends))) == expected  # a wrong note: searched
    assert bytes(shown.spliced(block, 0, len(block), ends[:-1] + [ends[-1] - 1])) == expected
    before, after = b',{"id":0,"title":"x","sla":null}', b',{"id":9999,"title":"y","sla":null}'
    chunk = bytearray(before + block + after)  # the block as a span of the COPY's chunk
    got = shown.spliced(chunk, len(before), len(before) + len(block), ends)
    assert bytes(got) == expected
    assert orjson.loads(b"[" + expected[1:] + b"]")[0]["title"] == orjson.loads(f'"{_TRICKY}"')


def test_a_block_without_running_clocks_passes_as_stored():
    shown = sla_now.SlaShown(london(2025, 6, 4, 10, 0), CALENDAR)
    block = b"".join(
        b"," + _object(ticket_id, _stored_member([stored(state=SlaState.MET, due_at=None)]))
        for ticket_id in range(5)
    )
    got = shown.spliced(block, 0, len(block), [])
    assert isinstance(got, memoryview) and bytes(got) == block


def test_a_running_clock_not_stored_as_expected_is_refused():
    shown = sla_now.SlaShown(london(2025, 6, 4, 10, 0), CALENDAR)
    broken = (
        b',{"id":1,"title":"t","sla":{"first_response":{"target_minutes":30,"state":"running","due_at":7}}}'
    )
    with pytest.raises(ValueError, match="migration 0028"):
        shown.spliced(broken)


@pytest.mark.parametrize(
    "now",
    [
        london(2025, 6, 3, 17, 40),  # the unanswered ticket's first response running, not yet due
        london(2025, 6, 4, 9, 30, 15, 250_000),  # some running, some past their due instant
        london(2025, 6, 7, 12, 0),  # a Saturday
        london(2025, 12, 1, 10, 0),  # every running clock long overdue
    ],
)
async def test_the_exports_spliced_blocks_equal_the_objects_rendered_one_by_one(desk, team, now):
    """The export splices the running tickets' ``sla`` into its blocks as they stream past (one COPY
    of the run of blocks), each member found from where its block says the object ends: byte for
    byte what each stored object rewritten alone gives at the same instant, with and without
    descriptions; and the same when a block's note of where its running objects end is wrong (it is
    searched for them instead), and for the rows of a block that is gone."""
    async with desk(**SLA) as d:
        await tell_five_stories(d)
        engine = create_engine(d.db_url)
        try:
            kept = await keep_blocks(session_factory(engine), per_block=2, settled_after=timedelta(0))
            assert kept.built >= 2
        finally:
            await engine.dispose()
        pieces: list[bytes] = []

        async def put(piece) -> None:
            pieces.append(bytes(piece))

        driver = await asyncpg.connect(d.db_url)
        try:
            for notes in ("as built", "ends off by one", "ids lost", "a running block dropped"):
                if notes == "a running block dropped":  # its tickets are read as rows, spliced per batch
                    dropped = await driver.execute(
                        """DELETE FROM "TicketJsonBlock" WHERE ("startAt", "startId") =
                               (SELECT "startAt", "startId" FROM "TicketJsonBlock"
                                WHERE cardinality("runningEnds") > 0 ORDER BY "startAt" LIMIT 1)"""
                    )
                    assert dropped == "DELETE 1"
                if notes == "ids lost":
                    await driver.execute("""UPDATE "TicketJsonBlock" SET "runningIds" = '{}'""")
                elif notes == "ends off by one":
                    await driver.execute(
                        """UPDATE "TicketJsonBlock" SET "runningIds" = b.ids, "runningEnds" = b.ends,
                               "runningEndsWithoutDescriptions" = b.ends
                           FROM (SELECT "startAt", "startId",
                                        array_agg(id ORDER BY position) AS ids, array_agg(1) AS ends
                                 FROM "TicketJsonBlock", unnest("runningIds") WITH ORDINALITY AS i(id, position)
                                 GROUP BY 1, 2) b
                           WHERE (b."startAt", b."startId") = ("TicketJsonBlock"."startAt", "TicketJsonBlock"."startId")"""
                    )
                async with driver.transaction(isolation="repeatable_read", readonly=True):
                    blocks = await ticket_blocks.usable_blocks(driver)
                    for descriptions in (True, False):
                        query = tickets.TicketFilter(
                            since=datetime(2000, 1, 1, tzinfo=UTC), descriptions=descriptions
                        )
                        segments = ticket_blocks.plan(blocks, query.since, query.until)
                        shown = await tickets.sla_shown(driver, query, CALENDAR, now)
                        assert shown is not None
                        noted = await driver.fetch(
                            """SELECT "runningEnds", "runningEndsWithoutDescriptions" FROM "TicketJsonBlock" """
                        )
                        assert (
                            any(row[0] for row in noted) or notes == "a running block dropped"
                        )  # blocks are spliced
                        pieces.clear()
                        await tickets.put_segments(driver, query, segments, shown, put)
                        columns = '"ticketId", "createdAt", json, "descriptionAt", "descriptionLength"'
                        rows = await driver.fetch(
                            f"""SELECT j."ticketId", {stored_tickets.json_bytes(descriptions)} AS json
                                FROM (SELECT {columns} FROM "ActiveTicketJson"
                                      UNION ALL SELECT {columns} FROM "ClosedTicketJson") j
                                ORDER BY j."createdAt", j."ticketId" """
                        )
                        one_by_one = await sla_now.rewrite_objects(
                            driver, [(row["ticketId"], row["json"]) for row in rows], CALENDAR, now
                        )
                        assert len(one_by_one) == len(rows) >= 5
                        assert b"".join(pieces) == b"".join(b"," + json for json in one_by_one), notes
        finally:
            await driver.close()
