"""The export reads blocks of stored objects while they are exact, and rows wherever they are not."""

from __future__ import annotations

import random
import struct
from datetime import UTC, datetime, timedelta

import pytest

from nephthys.api.ticket_blocks import USABLE_BLOCKS, BinaryCopyValues, Block, Segment, plan
from nephthys.database.engine import create_engine, session_factory
from nephthys.tasks.ticket_json import keep_blocks, prune_ticket_json_changes
from tests.api.data import add_tag, add_ticket, add_user, every_page
from tests.support import postgres

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)


def binary_copy(values: list[bytes]) -> bytes:
    header = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
    rows = b"".join(struct.pack("!hi", 1, len(value)) + value for value in values)
    return header + rows + struct.pack("!h", -1)


@pytest.mark.parametrize("seed", range(20))
def test_binary_copy_values_are_found_however_the_stream_is_cut(seed):
    chooser = random.Random(seed)
    values = [bytes(chooser.randrange(256) for _ in range(chooser.choice([0, 1, 5, 300]))) for _ in range(12)]
    stream = binary_copy(values)
    cuts = sorted(chooser.sample(range(1, len(stream)), chooser.randrange(1, min(40, len(stream) - 1))))
    parser = BinaryCopyValues()
    found = b"".join(
        bytes(view) for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True)
        for view in parser.feed(stream[start:end])
    )  # fmt: skip
    assert found == b"".join(values) and parser.ended


def test_binary_copy_refuses_what_is_not_one_column():
    with pytest.raises(ValueError, match="one column"):
        BinaryCopyValues().feed(b"PGCOPY\n\xff\r\n\x00" + struct.pack("!iih", 0, 0, 2))
    with pytest.raises(ValueError, match="header"):
        BinaryCopyValues().feed(b"not a copy stream at all")


def key(hour: int, ticket_id: int) -> tuple[datetime, int]:
    return (JAN + timedelta(hours=hour), ticket_id)


def test_a_plan_uses_whole_blocks_inside_the_range_and_rows_around_them():
    a, b, c = Block(key(1, 1), key(2, 5)), Block(key(2, 5), key(3, 9)), Block(key(5, 0), key(6, 0))
    assert plan([a, b, c], None, None) == [
        Segment(None, None, key(1, 1)),
        Segment((a, b), key(1, 1), key(3, 9)),
        Segment(None, key(3, 9), key(5, 0)),
        Segment((c,), key(5, 0), key(6, 0)),
        Segment(None, key(6, 0), None),
    ]
    # A block reaching past the range is read as rows; so is the one starting before it.
    assert plan([a, b, c], JAN + timedelta(hours=2), JAN + timedelta(hours=5)) == [
        Segment(None, None, key(2, 5)),
        Segment((b,), key(2, 5), key(3, 9)),
        Segment(None, key(3, 9), None),
    ]
    assert plan([], None, None) == [Segment(None, None, None)]


async def every_ticket_by_rows(client, **params) -> list[dict]:
    """The export read by keyset pages: straight from the stored rows, no block involved."""
    return await every_page(client, limit=1000, **{"since": "2000-01-01", **params})


async def usable(db_url: str) -> int:
    return len(await postgres.fetch(db_url, USABLE_BLOCKS))


class Both:
    """Two clients, one with descriptions shown and one without: every check is made with each."""

    def __init__(self, *clients) -> None:
        self.clients = clients


async def assert_exports_are_exact(client) -> None:
    if isinstance(client, Both):
        for one in client.clients:
            await assert_exports_are_exact(one)
        return
    for params in (
        {"since": "2000-01-01"},
        {"since": "2026-01-10T14:00:00Z"},
        {"since": "2000-01-01", "until": "2026-01-10T20:00:00Z"},
    ):
        export = await client.get("/api/tickets", params=params)
        assert export.status_code == 200
        assert export.json() == await every_ticket_by_rows(client, **params), params


async def test_the_export_is_exact_through_blocks_changes_rebuilds_and_prunes(serve, db_url):
    asker = await add_user(db_url, "UASKER", username="Asker")
    helper = await add_user(db_url, "UHELPER", helper=True)
    tickets = [
        await add_ticket(
            db_url, opened_by=asker, created_at=JAN + timedelta(hours=hour // 2),  # pairs share an instant
            status="CLOSED" if hour % 3 else "OPEN", closed_at=JAN + timedelta(days=1), closed_by=helper,
            description=f'ticket {hour}: "quoted" \\ ✓',
        )
        for hour in range(30)
    ]  # fmt: skip
    tag = await add_tag(db_url, "billing", tickets[4], tickets[20])
    engine = create_engine(db_url)
    sessions = session_factory(engine)

    def change(sql: str, *args):
        return lambda: postgres.execute(db_url, sql, *args)

    changes = [
        change('UPDATE "Ticket" SET status = \'IN_PROGRESS\', "assignedToId" = $1 WHERE id = $2', helper, tickets[0]),
        change('UPDATE "User" SET username = \'Asker "renamed"\' WHERE id = $1', asker),
        change('UPDATE "Tag" SET name = \'payments\' WHERE id = $1', tag),
        change('DELETE FROM "Ticket" WHERE id = $1', tickets[10]),
        # A ticket created inside a block's range after the block was built.
        lambda: add_ticket(db_url, opened_by=asker, created_at=JAN + timedelta(hours=3, minutes=1)),
        lambda: add_ticket(db_url, opened_by=asker, created_at=JAN - timedelta(days=3), title="Before all"),
    ]  # fmt: skip
    try:
        # The second service hides descriptions from requests without a key: its own blocks' column.
        async with serve() as public, serve(api_descriptions="keys") as hidden:
            client = Both(public, hidden)
            await assert_exports_are_exact(client)  # no blocks yet: every row
            kept = await keep_blocks(sessions, per_block=4)
            assert kept.built == 7 and kept.dropped == 0  # 28 whole blocks' worth; 2 tickets wait for more
            assert await usable(db_url) == 7
            await assert_exports_are_exact(client)
            for make_change in changes:
                before = await usable(db_url)
                await make_change()
                in_a_block = make_change is not changes[-1]  # the last is before the first block
                assert (await usable(db_url) < before) == in_a_block  # a changed block is read as rows
                await assert_exports_are_exact(client)
                kept = await keep_blocks(sessions, per_block=4)  # dropped and built again
                assert (kept.dropped >= 1) == in_a_block and await usable(db_url) >= before
                await assert_exports_are_exact(client)
                await prune_ticket_json_changes(sessions, period_seconds=0)  # blocks take a new snapshot
                await assert_exports_are_exact(client)
            blocks = await postgres.fetch(
                db_url,
                """SELECT tickets, pg_column_compression(json) AS compression,
                          (SELECT attstorage::text FROM pg_attribute WHERE attrelid = '"TicketJsonBlock"'::regclass
                           AND attname = 'json') AS storage
                   FROM "TicketJsonBlock" """,
            )
            assert sum(row["tickets"] for row in blocks) >= 28
            # lz4 where the server has it, else stored as it is (blocks this small stay inline either way).
            assert {(row["compression"], row["storage"]) for row in blocks} <= {
                ("lz4", "x"),
                (None, "x"),
                (None, "e"),
            }
            # Everything gone (a TRUNCATE deletes the blocks too).
            await postgres.truncate_all(db_url)
            assert await postgres.fetch(db_url, 'SELECT 1 FROM "TicketJsonBlock"') == []
            assert (await public.get("/api/tickets", params={"since": "2000-01-01"})).json() == []
    finally:
        await engine.dispose()


async def test_hidden_descriptions_come_from_the_blocks_own_column(serve, db_url):
    asker = await add_user(db_url, "UASKER")
    for hour in range(6):
        await add_ticket(
            db_url, opened_by=asker, created_at=JAN + timedelta(hours=hour), description="secret ✓"
        )
    engine = create_engine(db_url)
    try:
        assert (await keep_blocks(session_factory(engine), per_block=2)).built == 3
    finally:
        await engine.dispose()
    async with serve(api_descriptions="keys") as client:
        hidden = (await client.get("/api/tickets", params={"since": "2000-01-01"})).json()
        assert len(hidden) == 6 and all("description" not in t for t in hidden)
        assert hidden == await every_ticket_by_rows(client)
        assert "secret" not in (await client.get("/api/tickets", params={"since": "2000-01-01"})).text


@pytest.mark.parametrize("seed", range(20))
def test_binary_copy_whole_values_keep_each_value_however_the_stream_is_cut(seed):
    """The export's splicing needs each block whole and in order, an empty one too."""
    chooser = random.Random(seed)
    values = [bytes(chooser.randrange(256) for _ in range(chooser.choice([0, 1, 5, 300]))) for _ in range(12)]
    stream = binary_copy(values)
    cuts = sorted(chooser.sample(range(1, len(stream)), chooser.randrange(0, min(40, len(stream) - 1))))
    parser = BinaryCopyValues()
    found = [
        bytes(buffer[start:end])
        for begin, finish in zip([0, *cuts], [*cuts, len(stream)], strict=True)
        for buffer, start, end in parser.whole_values(bytearray(stream[begin:finish]))
    ]
    assert found == values and parser.ended
