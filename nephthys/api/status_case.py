"""API_STATUS_CASE: a ticket's ``status`` as the contract writes it (``open``) or as the existing Nephthys did (``OPEN``).

The stored objects (migration 0011: "ActiveTicketJson", "ClosedTicketJson", the
export's "TicketJsonBlock") are always kept in lower case, so a restart with the
other setting needs no rewrite of the database. With ``upper``, each served piece
of those bytes has its status member rewritten on the way out.

Why a byte replacement is exact: the stored objects are compact JSON (no spaces,
``to_json`` and orjson agree) and inside a string value every ``"`` is written
``\\"``. So ``"status":"open"`` can only be a key ``"status"`` followed by its
value: the only such key in a Ticket object is its own status (users are
``{id, slack_id, username}``, tags are strings). A title containing
``"status":"open"`` is stored as ``\\"status\\":\\"open\\"``, which does not
contain the sequence. Upper case is the same length as lower case, so the
description offsets stored beside each object stay right.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

# The values of API_STATUS_CASE (nephthys/config.py).
LOWER, UPPER = "lower", "upper"

# Each status member as stored, and as served with API_STATUS_CASE=upper (same length).
_MEMBERS = {
    status: (f'"status":"{status}"'.encode(), f'"status":"{status.upper()}"'.encode())
    for status in ("open", "in_progress", "closed")
}
_LONGEST = max(len(lower) for lower, _ in _MEMBERS.values())


def upper_statuses(json: bytes | bytearray | memoryview, *, statuses: tuple[str, ...] | None = None) -> bytes:
    """``json`` (ticket objects, whole) with each status member in capitals.

    ``statuses`` names the statuses that can occur (all three when None): a copy
    known to hold one status scans once instead of three times.
    """
    result = bytes(json)
    for status in statuses or _MEMBERS:
        lower, upper = _MEMBERS[status]
        result = result.replace(lower, upper)
    return result


Put = Callable[[bytes | memoryview], Awaitable[None]]
# What nephthys.api.stored_tickets.stream_array streams: a function handing pieces to ``put``.
Produce = Callable[[Put], Awaitable[None]]


class UpperStatusStream:
    """Wraps a stream's ``put`` so the pieces it hands on carry upper-case statuses.

    Pieces may cut an object anywhere (an export block arrives in COPY chunks), so
    the last ``len('"status":"in_progress"') - 1`` bytes of each are held back and
    handed on with the next piece: a status member is always whole in the bytes
    replaced before any of it is handed on. ``finish`` hands on what is held.
    The cost is one copy and up to three scans of each piece, at memory speed.
    """

    def __init__(self, put: Put) -> None:
        self._put = put
        self._held = b""

    async def put(self, piece: bytes | memoryview) -> None:
        data = upper_statuses(self._held + piece if self._held else piece)
        keep = _LONGEST - 1
        self._held = data[-keep:]
        if len(data) > keep:
            await self._put(memoryview(data)[:-keep])  # a view: the bytes are not copied again

    async def finish(self) -> None:
        if self._held:
            await self._put(self._held)
            self._held = b""


def with_upper_statuses(produce: Produce) -> Produce:
    """``produce``, its pieces handed on with upper-case statuses."""

    async def produce_upper(put: Put) -> None:
        stream = UpperStatusStream(put)
        await produce(stream.put)
        await stream.finish()

    return produce_upper
