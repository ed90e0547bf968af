"""Tickets' API JSON as the database keeps it, rendered by triggers (migration 0011).

Every ticket's object is stored as text, up to date in the transaction that
changed it: the open and in-progress ones in "ActiveTicketJson" (small and
dense), the closed ones in "ClosedTicketJson". Reading tickets is reading those
bytes; nothing is built per request. Without descriptions (a client that may
not see them) the ``,"description":…`` member is cut out of those bytes in SQL
at the octet offsets stored beside the text (migration 0013); when the title is
the question's own words, the cut starts at the title's value and is replaced by
``null`` (migration 0016): ``"title":null`` and no description.

A long answer is streamed from a cursor in the binary protocol: each object
arrives as ``bytea`` (``textsend``, the text's UTF-8 bytes as stored), a batch
of rows at a time, and the server joins each batch with commas and passes it
on. PostgreSQL writes the bytes as they are. Measured against the first pass's
COPY in CSV (which makes PostgreSQL scan every byte for quoting), this costs
PostgreSQL ~30% less CPU and the service about as much more (asyncpg makes one
row object per ticket): CPU moves from the shared database to the service.
Aggregating batches in SQL (``string_agg``) would spare the service that but
cost PostgreSQL more than it saves. bench/README.md, "Issue 14, second pass",
has the measurements.

A stream is a JSON array of *pieces*, each one or more objects preceded by a
comma: a batch of rows here, or an export block (nephthys/api/ticket_blocks.py)
passed on as stored. The array drops the first piece's comma.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol

import asyncpg

# Plans for these statements are simple index scans; JIT compilation only cost time (~1 s per export).
READ_SETTINGS = ["SET LOCAL jit = off", "SET LOCAL enable_sort = off"]

ACTIVE, CLOSED = '"ActiveTicketJson"', '"ClosedTicketJson"'
# The stored text's bytes (a UTF-8 database: textsend is the text as stored), and the same without
# the description member, cut at the octet offsets stored beside it (migration 0013): a bytea
# overlay, which does not count characters as a text overlay would. A cut that starts at a comma
# is the description member alone and goes; one that starts at the title's value (a quote) runs to
# the end of the description member and becomes null (migration 0016).
_BYTES = "textsend(j.json)"
_CUT_STARTS_AT_A_MEMBER = """get_byte(textsend(j.json), j."descriptionAt") = 44"""  # 44: ","
_BYTES_WITHOUT_DESCRIPTION = f"""overlay(textsend(j.json)
    PLACING CASE WHEN {_CUT_STARTS_AT_A_MEMBER} THEN ''::bytea ELSE 'null'::bytea END
    FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
_MEMBER_START = ord(",")


def without_description(json: bytes, at: int, length: int) -> bytes:
    """A stored object's bytes without its description (and its title when that is the question's
    words), cut at its stored offsets: ``_BYTES_WITHOUT_DESCRIPTION`` in Python."""
    return json[:at] + (b"" if json[at] == _MEMBER_START else b"null") + json[at + length :]


# Rows fetched per round trip: ~800 kB of objects; with _PIECES_AHEAD, bounds the server's memory.
_BATCH_ROWS = 1000
_PIECES_AHEAD = 4


def json_bytes(descriptions: bool) -> str:
    """The stored object of row ``j`` as bytea (asyncpg hands it over as bytes), with or without its description."""
    return _BYTES if descriptions else _BYTES_WITHOUT_DESCRIPTION


def json_column(descriptions: bool) -> str:
    """The stored object of row ``j`` as text, with or without its description."""
    return "j.json" if descriptions else f"convert_from({_BYTES_WITHOUT_DESCRIPTION}, 'UTF8')"


def sources(status: str | None, *, waiting: bool = False) -> list[tuple[str, str | None]]:
    """Where tickets of ``status`` (None: every status) are kept: (table, status to filter it on).

    Each source is read in (createdAt, ticketId) order from an index, so the
    two tables are merged without a sort. ``waiting``: only tickets waiting on
    someone, all of them open or in progress (a closed ticket waits on nobody).
    """
    if status == "CLOSED":
        return [] if waiting else [(CLOSED, None)]
    if status is not None:
        if status not in ("OPEN", "IN_PROGRESS"):
            raise ValueError(f"not a ticket status: {status!r}")  # it is written into the SQL
        return [(ACTIVE, status)]
    return [(ACTIVE, None)] if waiting else [(ACTIVE, None), (CLOSED, None)]


def one_ticket_sql(descriptions: bool = True) -> str:
    """One ticket's stored object by id ($1)."""
    column = json_column(descriptions)
    return " UNION ALL ".join(
        f'SELECT {column} FROM {table} j WHERE j."ticketId" = $1' for table in (ACTIVE, CLOSED)
    )


# A piece of a streamed array: one or more objects, each preceded by a comma.
Piece = bytes | memoryview
Put = Callable[[Piece], Awaitable[None]]


class Splice(Protocol):
    """Joined objects as served at an answer's instant (nephthys/api/sla_now.py, ``SlaShown.spliced``)."""

    def spliced(self, data: bytes) -> bytes | memoryview: ...


async def put_rows(
    driver: asyncpg.Connection, select_json: str, args: list, put: Put, shown: Splice | None = None
) -> None:
    """Hand on the objects ``select_json`` returns, a batch of rows per piece (a cursor: in a transaction).

    ``shown``: the answer's instant, when objects with a running SLA clock may be among them (each
    batch is passed on with their ``sla`` members rewritten: nephthys/api/sla_now.py).
    """
    cursor = await driver.cursor(select_json, *args)
    while rows := await cursor.fetch(_BATCH_ROWS):
        batch = b",".join([b"", *[row[0] for row in rows]])
        await put(batch if shown is None else shown.spliced(batch))


def with_sla_value(json: bytes, value: bytes) -> bytes:
    """A stored object with its ``sla`` member's value (its last member) replaced by ``value``."""
    at = json.rfind(SLA_MEMBER)
    return json[: at + len(SLA_MEMBER)] + value + b"}"


SLA_MEMBER = b',"sla":'


async def stream_array(produce: Callable[[Put], Awaitable[None]]) -> AsyncGenerator[bytes | memoryview, None]:
    """The JSON array of the pieces ``produce`` hands on, streamed while it produces the next ones.

    Runs inside the caller's transaction. The first piece (or the error) is
    awaited before this returns, so a failing database still gets a JSON error
    rather than a broken stream. At most ``_PIECES_AHEAD`` pieces wait to be sent.
    """
    pieces: asyncio.Queue[Piece | Exception | None] = asyncio.Queue(_PIECES_AHEAD)

    async def fetch() -> None:
        try:
            await produce(pieces.put)
        except Exception as error:  # handed to the reader, which raises it
            await pieces.put(error)
            return
        await pieces.put(None)

    fetching = asyncio.ensure_future(fetch())
    try:
        first = await _next(pieces)
    except BaseException:
        await _stop(fetching)
        raise
    return _array(pieces, fetching, first)


async def _next(pieces: asyncio.Queue[Piece | Exception | None]) -> Piece | None:
    """The next piece; None once they have ended."""
    piece = await pieces.get()
    if isinstance(piece, Exception):
        raise piece
    return piece


async def _stop(fetching: asyncio.Future) -> None:
    if not fetching.done():
        fetching.cancel()
    with contextlib.suppress(BaseException):
        await fetching


async def _array(
    pieces: asyncio.Queue[Piece | Exception | None], fetching: asyncio.Future, first: Piece | None
) -> AsyncGenerator[bytes | memoryview, None]:
    try:
        yield b"["
        piece, leading_comma = first, True
        while piece is not None:
            if leading_comma and len(piece):
                # The array's first object: its comma goes (a view, nothing is copied).
                piece, leading_comma = memoryview(piece)[1:], False
            if len(piece):
                yield piece
            piece = await _next(pieces)
        yield b"]"
    finally:
        await _stop(fetching)
