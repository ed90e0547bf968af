"""Blocks of stored ticket objects for the full export: what is usable, what to read, how to build them.

A ``?since=…`` export of 1,000,000 tickets read one stored row per ticket, and the
service spent ~1.9 s of CPU per million just receiving rows (bench/README.md,
"Issue 14"). "TicketJsonBlock" (migration 0014) holds the objects of
consecutive tickets joined in one value, each preceded by a comma (and once more
without their descriptions, for a client that may not see them); the export
copies those values through as they are and reads single rows only where no
usable block covers the tickets (the last day's, and ranges changed since their
block was built).

A block is **usable** in a snapshot while no change note (``TicketJsonChange``)
that this snapshot sees falls in the block's range and is invisible to the
block's own snapshot, no note says everything changed since, and no note it
would need has been forgotten (``prunedBelow``). Then the block holds exactly
what the rows of its range hold in the reader's snapshot. The notes are checked
from their side: each recent note finds its one block through the primary key.

Blocks tile the key space (createdAt, ticketId): each runs from its start
(inclusive) to its end (exclusive), the next one's start. nephthys/tasks/ticket_json.py
drops blocks that are no longer usable and builds new ones, one statement each
(the block's content and its snapshot come from that statement).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from nephthys.api import sla_now, stored_tickets
from nephthys.api.stored_tickets import Put

Key = tuple[datetime, int]
# Ticket ids start at 1: (t, 0) is before every ticket created at t.
BEFORE_IDS = 0

# Recent notes and the block each falls in (if any), still invisible to that block's snapshot.
_STALE = """SELECT DISTINCT b."startAt", b."startId"
    FROM "TicketJsonChange" c
    CROSS JOIN LATERAL (
        SELECT * FROM "TicketJsonBlock" b
        WHERE (b."startAt", b."startId") <= (c."createdAt", c."ticketId")
        ORDER BY b."startAt" DESC, b."startId" DESC LIMIT 1) b
    WHERE c."ticketId" IS NOT NULL
      AND c.xid >= (SELECT min("snapshotXmin") FROM "TicketJsonBlock")
      AND (c."createdAt", c."ticketId") < (b."endAt", b."endId")
      AND c.xid >= b."snapshotXmin"
      AND NOT pg_visible_in_snapshot(c.xid::text::xid8, b.snapshot::pg_snapshot)"""

_USABLE = """b."snapshotXmin" >= (SELECT "prunedBelow" FROM "TicketJsonChangeHorizon" WHERE id = 1)
    AND (b."startAt", b."startId") NOT IN (SELECT "startAt", "startId" FROM stale)
    AND NOT EXISTS (
        SELECT 1 FROM "TicketJsonChange" c
        WHERE c."ticketId" IS NULL AND c.xid >= b."snapshotXmin"
          AND NOT pg_visible_in_snapshot(c.xid::text::xid8, b.snapshot::pg_snapshot))"""

USABLE_BLOCKS = f"""WITH stale AS ({_STALE})
    SELECT b."startAt", b."startId", b."endAt", b."endId" FROM "TicketJsonBlock" b
    WHERE {_USABLE} ORDER BY b."startAt", b."startId" """

DROP_UNUSABLE = f"""WITH stale AS ({_STALE})
    DELETE FROM "TicketJsonBlock" b WHERE NOT ({_USABLE})"""

# Every block still usable now takes this statement's snapshot: nothing in its range changed
# between the two, so it holds what the new snapshot shows (done before notes are forgotten).
RESTAMP = f"""WITH stale AS ({_STALE})
    UPDATE "TicketJsonBlock" b SET snapshot = pg_current_snapshot()::text,
        "snapshotXmin" = pg_snapshot_xmin(pg_current_snapshot())::text::bigint
    WHERE {_USABLE}"""

EVERY_KEY = """SELECT "createdAt", "ticketId" FROM "ActiveTicketJson"
    UNION ALL SELECT "createdAt", "ticketId" FROM "ClosedTicketJson" """

# Every block, in order: the holes between them are built again.
BLOCK_RANGES = (
    'SELECT "startAt", "startId", "endAt", "endId" FROM "TicketJsonBlock" ORDER BY "startAt", "startId"'
)


# One block: the objects in [$1/$2, $3/$4), with and without descriptions, each preceded by a
# comma and joined in creation order, and where the objects whose stored sla has a running clock
# end in each (a running total of the lengths: the octet after each object's closing brace), read
# in the statement that stores them with its snapshot. An object's sla member is its last, and
# starts at its one ``,"sla":`` (a string's quotes are escaped); ``"state":"running"`` after it is
# what sla_now.stored_running looks for.
_STORED_COLUMNS = '"createdAt", "ticketId", json, "descriptionAt", "descriptionLength"'
_RUNNING = """position('"state":"running"'::bytea IN substring(o.bytes FROM position(',"sla":'::bytea IN o.bytes))) > 0"""
_IN_ORDER = 'ORDER BY o."createdAt", o."ticketId"'
BUILD_BLOCK = f"""INSERT INTO "TicketJsonBlock"
        ("startAt", "startId", "endAt", "endId", tickets, json, "jsonWithoutDescriptions", snapshot, "snapshotXmin",
         "runningIds", "runningEnds", "runningEndsWithoutDescriptions")
    SELECT $1, $2, $3, $4, count(*),
        coalesce(string_agg(','::bytea || o.bytes, ''::bytea {_IN_ORDER}), ''),
        coalesce(string_agg(','::bytea || o.without, ''::bytea {_IN_ORDER}), ''),
        pg_current_snapshot()::text, pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
        coalesce(array_agg(o."ticketId" {_IN_ORDER}) FILTER (WHERE o.running), '{{}}'),
        coalesce(array_agg(o.ends {_IN_ORDER}) FILTER (WHERE o.running), '{{}}'),
        coalesce(array_agg(o.ends_without {_IN_ORDER}) FILTER (WHERE o.running), '{{}}')
    FROM (
        SELECT o.*, {_RUNNING} AS running,
            CAST(sum(1 + octet_length(o.bytes)) OVER ({_IN_ORDER}) AS integer) AS ends,
            CAST(sum(1 + octet_length(o.without)) OVER ({_IN_ORDER}) AS integer) AS ends_without
        FROM (
            SELECT j."createdAt", j."ticketId", {stored_tickets.json_bytes(descriptions=True)} AS bytes,
                {stored_tickets.json_bytes(descriptions=False)} AS without
            FROM (SELECT {_STORED_COLUMNS} FROM "ActiveTicketJson"
                  UNION ALL SELECT {_STORED_COLUMNS} FROM "ClosedTicketJson") j
            WHERE (j."createdAt", j."ticketId") >= ($1::timestamptz, $2::integer)
              AND (j."createdAt", j."ticketId") < ($3::timestamptz, $4::integer)
              -- Implied by the two above; without them the planner misjudges the range and scans whole tables.
              AND j."createdAt" >= $1::timestamptz AND j."createdAt" <= $3::timestamptz
            OFFSET 0) o) o"""

TICKETS_PER_BLOCK = 1000
# Tickets younger than this change often (assigned, closed): they are read row by row.
SETTLED_AFTER = timedelta(days=1)


@dataclass(frozen=True)
class Block:
    start: Key
    end: Key


@dataclass(frozen=True)
class Segment:
    """Part of an export: a run of consecutive usable blocks, or the single rows in [start, end)."""

    blocks: tuple[Block, ...] | None
    start: Key | None  # None: from the first ticket
    end: Key | None  # None: to the last


def plan(blocks: list[Block], since: datetime | None, until: datetime | None) -> list[Segment]:
    """The export of [since, until] (creation times, inclusive) as runs of usable blocks and rows between.

    A block is used only when all of it lies inside [since, until]; the rows
    segments carry the same bounds, so together they hold each ticket once, in order.
    """
    inside = [
        block
        for block in blocks
        if (since is None or block.start[0] >= since) and (until is None or block.end[0] <= until)
    ]
    segments: list[Segment] = []
    position: Key | None = None
    run: list[Block] = []
    for block in inside:
        if run and run[-1].end == block.start:
            run.append(block)
            continue
        if run:
            segments.append(Segment(tuple(run), run[0].start, run[-1].end))
            position = run[-1].end
        if position is None or position < block.start:
            segments.append(Segment(None, position, block.start))
        run = [block]
    if run:
        segments.append(Segment(tuple(run), run[0].start, run[-1].end))
        position = run[-1].end
    segments.append(Segment(None, position, None))
    return segments


def blocks_sql(segment: Segment, descriptions: bool) -> str:
    """A run's block values, in order, for a COPY (which takes no parameters: the keys are written in)."""
    assert segment.blocks is not None
    first, last = segment.blocks[0].start, segment.blocks[-1].start
    column = "json" if descriptions else '"jsonWithoutDescriptions"'
    return f"""SELECT {column} FROM "TicketJsonBlock"
        WHERE ("startAt", "startId") >= ({_literal(first)}) AND ("startAt", "startId") <= ({_literal(last)})
        ORDER BY "startAt", "startId" """


def _literal(key: Key) -> str:
    at, ticket_id = key
    # Both come from the database as a datetime and an int: no text of a client's reaches the SQL.
    assert isinstance(at, datetime) and isinstance(ticket_id, int)
    return f"'{at.isoformat()}'::timestamptz, {int(ticket_id)}"


async def put_blocks(driver: asyncpg.Connection, segment: Segment, put: Put, *, descriptions: bool) -> None:
    """Hand on a run's block values as they arrive: a binary COPY, its framing cut out without copying."""
    values = BinaryCopyValues()

    async def sink(chunk: bytes) -> None:
        for value in values.feed(chunk):
            await put(value)

    await driver.copy_from_query(blocks_sql(segment, descriptions), output=sink, format="binary")
    if not values.ended:
        raise ValueError("binary COPY: the stream ended early")


def _running_sql(segment: Segment, descriptions: bool) -> str:
    """Where the objects with a running SLA clock end in each of a run's blocks, in order (``blocks_sql``'s rows)."""
    assert segment.blocks is not None
    first, last = segment.blocks[0].start, segment.blocks[-1].start
    ends = '"runningEnds"' if descriptions else '"runningEndsWithoutDescriptions"'
    return f"""SELECT {ends} FROM "TicketJsonBlock"
        WHERE ("startAt", "startId") >= ({_literal(first)}) AND ("startAt", "startId") <= ({_literal(last)})
        ORDER BY "startAt", "startId" """


async def put_blocks_rewriting(
    driver: asyncpg.Connection, segment: Segment, put: Put, shown: sla_now.SlaShown, *, descriptions: bool
) -> None:
    """``put_blocks``, each block holding objects with a running SLA clock passed on as ``shown``'s
    instant shows them (nephthys/api/sla_now.py, ``SlaShown.spliced``).

    The run's blocks still arrive in one COPY, each block whole, and each is rewritten as it
    arrives, while PostgreSQL sends the next: nothing is read before the first block but where
    each block's running objects end (migration 0031), so the export's first byte does not wait
    for the running clocks. (Rewriting a few blocks per numpy pass saved ~20 µs of ~200 per
    block, and holding their results cost more in fresh memory than that.) Only those objects' ``sla`` members are read, their running clocks
    filled in from the bytes themselves; a block whose note does not match its bytes is searched
    instead.
    """
    assert segment.blocks is not None
    running = [row[0] for row in await driver.fetch(_running_sql(segment, descriptions))]
    if len(running) != len(segment.blocks):
        raise ValueError("the run's blocks changed under its snapshot")
    values = BinaryCopyValues()
    notes = iter(running)

    async def sink(chunk: bytes) -> None:
        for data, start, end in values.whole_values(chunk):
            ends = next(notes, None)
            if ends is None:
                raise ValueError("binary COPY: more blocks than asked for")
            if end > start:
                await put(shown.spliced(data, start, end, ends) if ends else memoryview(data)[start:end])

    await driver.copy_from_query(blocks_sql(segment, descriptions), output=sink, format="binary")
    if not values.ended or next(notes, None) is not None:
        raise ValueError("binary COPY: the stream ended early")


async def usable_blocks(driver: asyncpg.Connection) -> list[Block]:
    return [
        Block((row["startAt"], row["startId"]), (row["endAt"], row["endId"]))
        for row in await driver.fetch(USABLE_BLOCKS)
    ]


class BinaryCopyValues:
    """The values of a one-column binary COPY stream, as the bytes between its framing.

    PostgreSQL's binary COPY format: an 19-byte header, then per row a 16-bit
    field count and a 32-bit length before the value, and a field count of -1 at
    the end. The stream arrives in chunks that split anywhere. ``feed`` returns
    the value bytes of a chunk as views into it (nothing is copied), values'
    boundaries not kept (the blocks carry their own separators); ``whole_values``
    returns each value completed in a chunk, where it starts and ends (a value
    that arrived across chunks is joined: PostgreSQL sends each row as one message
    and asyncpg hands on whole messages, so that is rare).
    """

    _HEADER = 19

    def __init__(self) -> None:
        self._need = self._HEADER  # bytes of framing still to collect
        self._framing = bytearray()
        self._state = "header"  # header → count → length → value → count … → end
        self._value_left = 0
        self._partial: bytearray | None = None  # a value begun in an earlier chunk (whole_values)

    def feed(self, chunk: bytes | bytearray) -> list[memoryview]:
        view = memoryview(chunk)
        return [view[start:end] for start, end, _ in self._spans(chunk) if end > start]

    def whole_values(self, chunk: bytes | bytearray) -> list[tuple[bytes | bytearray, int, int]]:
        """Each value completed in ``chunk``, as (buffer, start, end): a span of ``chunk`` when it
        lies in it whole, else its bytes joined."""
        values: list[tuple[bytes | bytearray, int, int]] = []
        for start, end, completed in self._spans(chunk):
            if self._partial is None and completed:
                values.append((chunk, start, end))
                continue
            if self._partial is None:
                self._partial = bytearray()
            self._partial += memoryview(chunk)[start:end]
            if completed:
                values.append((bytes(self._partial), 0, len(self._partial)))
                self._partial = None
        return values

    def _spans(self, chunk: bytes | bytearray) -> Iterator[tuple[int, int, bool]]:
        """The value bytes in ``chunk``: (start, end, whether the value ends there), an empty value too."""
        at, size = 0, len(chunk)
        while at < size:
            if self._state == "value":
                taken = min(self._value_left, size - at)
                self._value_left -= taken
                yield at, at + taken, not self._value_left
                at += taken
                if not self._value_left:
                    self._expect("count", 2)
                continue
            if self._state == "end":
                raise ValueError("binary COPY: data after the end marker")
            wanted = min(self._need - len(self._framing), size - at)
            self._framing += chunk[at : at + wanted]
            at += wanted
            if len(self._framing) == self._need:
                if self._framing_done(bytes(self._framing)):
                    yield at, at, True  # an empty value

    @property
    def ended(self) -> bool:
        return self._state == "end"

    def _expect(self, state: str, size: int) -> None:
        self._state, self._need = state, size
        self._framing.clear()

    def _framing_done(self, framing: bytes) -> bool:
        """Move on past a piece of framing; True when it was the length of an empty value."""
        if self._state == "header":
            if not framing.startswith(b"PGCOPY\n\xff\r\n\x00"):
                raise ValueError("binary COPY: not a binary COPY header")
            self._expect("count", 2)
        elif self._state == "count":
            (fields,) = struct.unpack("!h", framing)
            if fields == -1:
                self._expect("end", 0)
            elif fields == 1:
                self._expect("length", 4)
            else:
                raise ValueError(f"binary COPY: expected one column, got {fields}")
        else:  # length
            (length,) = struct.unpack("!i", framing)
            if length < 0:
                raise ValueError("binary COPY: a NULL block")
            self._value_left = length
            if length:
                self._state = "value"
            else:
                self._expect("count", 2)
                return True
        return False
