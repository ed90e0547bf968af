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


def test_a_block_is_rewritten_in_one_pass_only_where_clocks_run():
    tricky = 'a title with ,{\\"id\\":3,\\"title\\": and ,\\"sla\\": in it'
    objects = [
        b',{"id":%d,"title":"%s","opened_by":{"id":%d,"slack_id":"U1","username":null},"sla":%s}'
        % (
            ticket_id,
            tricky.encode(),
            ticket_id + 1,
            b'{"first_response":null}' if ticket_id % 2 else b"null",
        )
        for ticket_id in range(1, 9)
    ]
    block = b"".join(objects)
    values = {3: b'{"three":3}', 4: b'{"four":4}', 8: b"null"}  # in the block's order
    rewritten = b"".join(bytes(piece) for piece in sla_now.rewrite_joined(block, values))
    shown = orjson.loads(b"[" + rewritten[1:] + b"]")
    assert [ticket["sla"] for ticket in shown] == [
        {"first_response": None}, None, {"three": 3}, {"four": 4}, {"first_response": None}, None,
        {"first_response": None}, None,
    ]  # fmt: skip
    assert [ticket["title"] for ticket in shown] == [orjson.loads(f'"{tricky}"')] * 8


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
    descriptions; and the same when a block's note of its running tickets is lost or wrong (it is
    scanned for them instead)."""
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
            for notes in ("as built", "ends off by one", "ids lost"):
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
                        rewrites = await tickets.sla_rewrites(driver, query, CALENDAR, now)
                        in_blocks = [
                            list(rewrites.within(block.start, block.end))
                            for segment in segments
                            if segment.blocks
                            for block in segment.blocks
                        ]
                        assert any(in_blocks)  # blocks holding a running clock are spliced
                        if notes == "as built":
                            noted = await driver.fetch(
                                """SELECT "runningIds" FROM "TicketJsonBlock" ORDER BY "startAt", "startId" """
                            )
                            assert [row[0] for row in noted] == in_blocks
                        pieces.clear()
                        await tickets.put_segments(driver, query, segments, rewrites, put)
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


def test_a_block_among_others_is_spliced_within_its_own_bounds():
    """A block handed over as its span of a larger buffer (the COPY's chunk) is cut only inside it."""
    objects = [
        b',{"id":%d,"title":"t%d","sla":{"first_response":null}}' % (ticket_id, ticket_id)
        for ticket_id in range(1, 7)
    ]
    before, block, after = b"".join(objects[:2]), b"".join(objects[2:4]), b"".join(objects[4:])
    chunk = bytearray(before + block + after)
    values = {3: b'{"three":3}', 4: b"null", 5: b'{"five":5}'}  # 5 is not in the block: left alone
    spliced = b"".join(sla_now.rewrite_joined(chunk, values, len(before), len(before) + len(block)))
    assert spliced == b',{"id":3,"title":"t3","sla":{"three":3}},{"id":4,"title":"t4","sla":null}'


@pytest.mark.parametrize("seed", range(8))
def test_an_exports_values_are_each_tickets_value_byte_for_byte(seed):
    """``SlaShown.values`` (every running ticket of an export at once, from its clock rows) gives the
    bytes ``SlaShown.value`` gives for each ticket alone: running, due, past due, paused, met,
    breached and due-less running clocks, at instants in and out of support hours."""
    chooser = random.Random(seed)
    now = london(2025, 5, 27, 9, 0) + timedelta(seconds=chooser.randrange(0, 14 * 86400), microseconds=1234)
    shown = sla_now.SlaShown(now, CALENDAR)
    rows, by_ticket = [], {}
    for ticket_id in range(1, 400):
        kinds = chooser.sample(list(TicketSpanKind), chooser.randrange(1, 4))
        for kind in kinds:
            state = chooser.choice(list(SlaState))
            target = chooser.choice([10, 30, 60, 480])
            minutes = chooser.choice([0.0, 12.5, 0.125, 29.999, 100.25, chooser.random() * 500])
            due = None
            if state is SlaState.RUNNING and chooser.random() > 0.1:
                due = now + timedelta(
                    seconds=chooser.randrange(-30 * 86400, 30 * 86400), microseconds=chooser.randrange(10**6)
                )
            clock = stored(kind=kind, target_minutes=target, state=state, minutes=minutes, due_at=due)
            by_ticket.setdefault(ticket_id, []).append(clock)
            due_text = None if due is None else clocks._instant_text(due)  # as PostgreSQL writes it (0028)
            rows.append((ticket_id, kind.value, target, state.value, minutes, due, due_text, now))
    chooser.shuffle(rows)
    expected = {ticket_id: shown.value(ticket_clocks) for ticket_id, ticket_clocks in by_ticket.items()}
    assert shown.values(rows) == expected
