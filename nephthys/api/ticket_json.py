"""The contract's Ticket object, written without building it row by row in Python.

PostgreSQL writes each ticket's own fields as JSON text (it escapes the strings,
formats the time), leaving the four users and the team tags as ids; Python
splices in each user's and tag's JSON from small per-request lookups. No join
or per-row object building happens on either side, so a million-ticket export
is split between the database and Python, which work at once while a stream is
written.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg
import orjson

# What every ticket query selects first, in this order (see ``TicketRenderer.encode``):
# the object's opening fields, the user ids, the tag ids, the object's closing fields.
# The JSON text comes as UTF-8 bytes (bytea), so Python neither decodes nor re-encodes it.
# created_at: ISO 8601 with milliseconds and the UTC offset, the API's one timestamp format.
TICKET_COLUMNS = """convert_to('{"id":' || t.id || ',"title":' || to_json(t.title)::text
        || ',"description":' || to_json(t.description)::text
        || ',"status":"' || lower(t.status::text) || '"', 'UTF8') AS head,
    t."openedById", t."closedById", t."assignedToId", t."reopenedById",
    ARRAY(SELECT link."tagId" FROM tags_on_tickets link WHERE link."ticketId" = t.id) AS tag_ids,
    convert_to(',"created_at":"' || to_char(t."createdAt" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')
        || '","message_ts":' || to_json(t."msgTs")::text || '}', 'UTF8') AS tail"""

_NULL = b"null"
_OPENED_BY, _CLOSED_BY, _ASSIGNED_TO = b',"opened_by":', b',"closed_by":', b',"assigned_to":'
_REOPENED_BY, _TAGS = b',"reopened_by":', b',"tags":'


class TicketRenderer:
    """Turns ticket rows into JSON, remembering the users and tags it has looked up (one request's worth)."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        self._connection = connection
        self._users: dict[int, bytes] = {}
        self._tags: dict[int, str] | None = None

    async def prepare(self, rows: Sequence[asyncpg.Record]) -> None:
        """Look up the users and tags of ``rows`` not seen yet (``encode`` needs them)."""
        if self._tags is None:
            self._tags = {
                row[0]: row[1] for row in await self._connection.fetch('SELECT id, name FROM "Tag"')
            }
        known = self._users
        missing = {
            user_id for row in rows for user_id in row[1:5] if user_id is not None and user_id not in known
        }
        if missing:
            found = await self._connection.fetch(
                'SELECT id, "slackId" FROM "User" WHERE id = ANY($1::int[])', list(missing)
            )
            known.update({row[0]: orjson.dumps({"id": row[0], "slack_id": row[1]}) for row in found})
            # A user deleted since the ticket was read (outside a snapshot) shows as null.
            known.update({user_id: _NULL for user_id in missing if user_id not in known})
        if any(tag_id not in self._tags for row in rows for tag_id in row[5]):
            self._tags = None  # a tag made since the lookup: look them all up again
            await self.prepare(rows)

    async def render(self, rows: Sequence[asyncpg.Record]) -> bytes:
        """The rows as JSON objects separated by commas (no brackets)."""
        await self.prepare(rows)
        return self.encode(rows)

    def encode(self, rows: Sequence[asyncpg.Record]) -> bytes:
        """Like ``render``, for rows already prepared; touches no connection."""
        users, tags = self._users, self._tags
        parts: list[bytes] = []
        add = parts.append
        for row in rows:
            head, opened_by, closed_by, assigned_to, reopened_by, tag_ids, tail = row[:7]
            add(head)
            add(_OPENED_BY)
            add(users[opened_by] if opened_by is not None else _NULL)
            add(_CLOSED_BY)
            add(users[closed_by] if closed_by is not None else _NULL)
            add(_ASSIGNED_TO)
            add(users[assigned_to] if assigned_to is not None else _NULL)
            add(_REOPENED_BY)
            add(users[reopened_by] if reopened_by is not None else _NULL)
            add(_TAGS)
            add(orjson.dumps(sorted(tags[tag_id] for tag_id in tag_ids)) if tag_ids else b"[]")
            add(tail)
            add(b",")
        return b"".join(parts)[:-1]  # no comma after the last object
