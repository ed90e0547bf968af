"""Tickets' API JSON as the database keeps it, rendered by triggers (migration 0011).

Every ticket's object is stored as text, up to date in the transaction that
changed it: the open and in-progress ones in "ActiveTicketJson" (small and
dense), the closed ones in "ClosedTicketJson". Reading tickets is reading those
bytes; nothing is built per request. Without descriptions (a client that may
not see them) the ``,"description":…`` member is cut out in SQL at the offsets
stored beside the text.

A long answer is streamed with COPY: PostgreSQL writes each object as it is
stored, preceded by a comma and followed by a newline, and the server passes
the chunks on untouched (only the first loses its comma to ``[``). The array
is valid JSON (a newline between elements is whitespace) and no Python object
is made per ticket.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator

import asyncpg

# Plans for these statements are simple index scans; JIT compilation only cost time (~1 s per export).
READ_SETTINGS = ["SET LOCAL jit = off", "SET LOCAL enable_sort = off"]

ACTIVE, CLOSED = '"ActiveTicketJson"', '"ClosedTicketJson"'
_WITHOUT_DESCRIPTION = """overlay(j.json PLACING '' FROM j."descriptionAt" + 1 FOR j."descriptionLength")"""
# CSV with a delimiter and a quote that JSON text never holds (every control character is
# escaped in it): each value is written as it is, unquoted and unescaped.
_COPY_OPTIONS = {"format": "csv", "delimiter": "\x01", "quote": "\x02"}
# Blocks in flight between the database and the client: bounds the server's memory.
_CHUNKS_AHEAD = 4
_BLOCK = 256 * 1024


def json_column(descriptions: bool) -> str:
    """The stored object of row ``j``, with or without its description."""
    return "j.json" if descriptions else _WITHOUT_DESCRIPTION


def sources(status: str | None) -> list[tuple[str, str | None]]:
    """Where tickets of ``status`` (None: every status) are kept: (table, status to filter it on).

    Each source is read in (createdAt, ticketId) order from an index, so the
    two tables are merged without a sort.
    """
    if status == "CLOSED":
        return [(CLOSED, None)]
    if status is not None:
        if status not in ("OPEN", "IN_PROGRESS"):
            raise ValueError(f"not a ticket status: {status!r}")  # it is written into the SQL
        return [(ACTIVE, status)]
    return [(ACTIVE, None), (CLOSED, None)]


def one_ticket_sql(descriptions: bool = True) -> str:
    """One ticket's stored object by id ($1)."""
    column = json_column(descriptions)
    return " UNION ALL ".join(
        f'SELECT {column} FROM {table} j WHERE j."ticketId" = $1' for table in (ACTIVE, CLOSED)
    )


async def stream_copy(
    driver: asyncpg.Connection, select_json: str, args: list
) -> AsyncGenerator[bytes, None]:
    """The JSON array of the objects ``select_json`` returns (one text column ``json``, in order), streamed.

    The first chunk (or the query's error) is awaited before this returns, so a
    failing database still gets a JSON error rather than a broken stream.
    """
    chunks: asyncio.Queue[bytes | Exception | None] = asyncio.Queue(_CHUNKS_AHEAD)

    # asyncpg hands over what each socket read brought (~14 kB); every piece sent on costs a
    # trip through the queue, Starlette and uvicorn, so they are gathered into blocks first.
    gathered: list[bytes] = []
    size = 0

    async def gather(chunk: bytes) -> None:
        nonlocal size
        gathered.append(chunk)
        size += len(chunk)
        if size >= _BLOCK:
            await flush()

    async def flush() -> None:
        nonlocal size
        if gathered:
            block = b"".join(gathered)
            gathered.clear()
            size = 0
            await chunks.put(block)

    async def copy() -> None:
        try:
            await driver.copy_from_query(
                f"SELECT ',' || json FROM ({select_json}) copied", *args, output=gather, **_COPY_OPTIONS
            )
            await flush()
        except Exception as error:  # handed to the reader, which raises it
            await chunks.put(error)
            return
        await chunks.put(None)

    copying = asyncio.ensure_future(copy())
    try:
        first = await _next(chunks)
    except BaseException:
        await _stop(copying)
        raise
    return _array(chunks, copying, first)


async def _next(chunks: asyncio.Queue[bytes | Exception | None]) -> bytes | None:
    """The next chunk; None once the copy has ended."""
    chunk = await chunks.get()
    if isinstance(chunk, Exception):
        raise chunk
    return chunk


async def _stop(copying: asyncio.Future) -> None:
    if not copying.done():
        copying.cancel()
    with contextlib.suppress(BaseException):
        await copying


async def _array(
    chunks: asyncio.Queue[bytes | Exception | None], copying: asyncio.Future, first: bytes | None
) -> AsyncGenerator[bytes, None]:
    try:
        if first is None:
            yield b"[]"
            return
        yield b"[" + first[1:]  # the first object's leading comma
        while (chunk := await _next(chunks)) is not None:
            yield chunk
        yield b"]"
    finally:
        await _stop(copying)
