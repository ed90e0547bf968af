"""The contract's Ticket object, written from plain columns without joins or per-row lookups.

Users' Slack ids and team tag names come from small per-request lookups
(``TicketRenderer.prepare``); each ticket's own fields are written one of two
ways, which give the same JSON:

- ``Encoding.DATABASE``: PostgreSQL escapes the strings and formats the time,
  returning the object's opening and closing fields as UTF-8 bytes; Python
  splices in the users and tags. The work is split between the database and
  Python, which run at once while a stream is written: best for long exports,
  read in physical order.
- ``Encoding.PYTHON``: PostgreSQL returns plain columns and orjson writes the
  object. Best where reading the rows is the database's larger cost (open or
  in-progress tickets, scattered over the table): its per-row work halves.

Whom a ticket waits on and since when are null for a closed ticket (it waits on
nobody), whatever its columns say. The minutes are float8 written as PostgreSQL
writes them (``float8_json``), which is how the stored objects have them.
"""

from __future__ import annotations

import contextlib
import decimal
import enum
import gc
from collections.abc import Iterator, Sequence

import asyncpg
import orjson

_TAG_IDS = 'ARRAY(SELECT link."tagId" FROM tags_on_tickets link WHERE link."ticketId" = t.id) AS tag_ids'
_USER_IDS = 't."openedById", t."closedById", t."assignedToId", t."reopenedById"'


class Encoding(enum.Enum):
    DATABASE = "database"
    PYTHON = "python"

    def columns(
        self,
        *,
        descriptions: bool = True,
        question_titles: bool | None = None,
        waiting: bool = True,
        sla: bool | None = None,
    ) -> str:
        """What a ticket query selects first, in the order ``TicketRenderer.encode`` reads.

        ``descriptions=False`` leaves each ticket's ``description`` out (API_DESCRIPTIONS=keys,
        a request without a key); the renderer must be told the same. ``question_titles``
        (default: as ``descriptions``) shows a title made of the question's words; when False
        such a title is null (an AI-written one stays: "titleFromAi", migration 0016).
        ``waiting=False`` writes the wait and the minutes null without reading their columns
        (a database before migration 0020). ``sla`` (default: as ``waiting``) writes the ``sla``
        member last, as migration 0028 stores it; False leaves it out (a database before it).
        """
        title = _title_column(descriptions if question_titles is None else question_titles)
        wait = _WAITING if waiting else _NO_WAITING
        sla_value = (_SLA_VALUE if waiting else None) if sla is None else (_SLA_VALUE if sla else None)
        if self is Encoding.DATABASE:
            return _database_columns(descriptions, title, wait, sla_value)
        return _python_columns(descriptions, title, wait, sla_value)


# created_at and closed_at: ISO 8601 with milliseconds and the UTC offset, the API's one timestamp format.
def _iso(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"+00:00"')"""


_CREATED_AT = _iso('t."createdAt"')
_CLOSED_AT = _iso('t."closedAt"')  # null when not closed
# Whom the ticket waits on, since when, its first response and resolution minutes (migration 0019).
_WAITING = (
    't."waitingOn"::text',
    _iso('t."waitingSince"'),
    't."firstResponseMinutes"',
    't."resolutionMinutes"',
)
_NO_WAITING = ("NULL::text", "NULL::text", "NULL::float8", "NULL::float8")
_OPEN = "t.status <> 'CLOSED'"

# The ``sla`` member's value as stored (migration 0028): null without clocks; a running clock with
# its due instant and minutes_left null (the served object has it rewritten: nephthys/api/sla_now.py).
_CLOCK_OBJECT = f"""'{{"target_minutes":' || c."targetMinutes"
    || ',"state":"' || lower(c.state::text) || '"'
    || ',"due_at":' || CASE WHEN c.state = 'RUNNING' AND c."dueAt" IS NOT NULL
                            THEN '"' || {_iso('c."dueAt"')} || '"' ELSE 'null' END
    || ',"minutes_left":' || CASE WHEN c.state = 'PAUSED'
                                  THEN to_json(CAST(round(CAST(c."targetMinutes" - c.minutes AS numeric), 2) AS float8))::text
                                  ELSE 'null' END
    || '}}'"""
_SLA_VALUE = (
    "coalesce((SELECT '{\"first_response\":' || "
    + " || ".join(
        f"""{prefix}coalesce(max({_CLOCK_OBJECT}) FILTER (WHERE c.kind = '{kind}'), 'null')"""
        for prefix, kind in (
            ("", "FIRST_RESPONSE"),
            ("""',"next_response":' || """, "NEXT_RESPONSE"),
            ("""',"resolution":' || """, "RESOLUTION"),
        )
    )
    + """ || '}' FROM "TicketSlaClock" c WHERE c."ticketId" = t.id HAVING count(*) > 0), 'null')"""
)
_DESCRIPTION_JSON = """ || ',"description":' || to_json(t.description)::text"""


def _title_column(question_titles: bool) -> str:
    return "t.title" if question_titles else 'CASE WHEN t."titleFromAi" THEN t.title END'


def _database_columns(
    descriptions: bool, title: str, wait: tuple[str, str, str, str], sla_value: str | None
) -> str:
    description = _DESCRIPTION_JSON if descriptions else ""
    sla = "" if sla_value is None else f""" || ',"sla":' || {sla_value}"""
    waiting_on, waiting_since, first_response, resolution = wait
    return f"""convert_to('{{"id":' || t.id || ',"title":' || coalesce(to_json({title})::text, 'null'){description}
        || ',"status":"' || lower(t.status::text) || '"', 'UTF8') AS head,
    {_USER_IDS}, {_TAG_IDS},
    convert_to(',"created_at":"' || {_CREATED_AT}
        || '","closed_at":' || coalesce('"' || {_CLOSED_AT} || '"', 'null')
        || ',"message_ts":' || to_json(t."msgTs")::text
        || ',"waiting_on":' || coalesce('"' || lower(CASE WHEN {_OPEN} THEN {waiting_on} END) || '"', 'null')
        || ',"waiting_since":' || coalesce('"' || CASE WHEN {_OPEN} THEN {waiting_since} END || '"', 'null')
        || ',"first_response_minutes":' || coalesce(to_json({first_response})::text, 'null')
        || ',"resolution_minutes":' || coalesce(to_json({resolution})::text, 'null'){sla}
        || '}}', 'UTF8') AS tail"""


def _python_columns(
    descriptions: bool, title: str, wait: tuple[str, str, str, str], sla_value: str | None
) -> str:
    # Without descriptions the column stays (the row's layout is one), empty; so does sla without it.
    description = "t.description" if descriptions else "NULL::text AS description"
    sla = "NULL::text" if sla_value is None else f"{sla_value}"
    return f"""t.id, {title} AS title, {description}, lower(t.status::text) AS status,
    {_USER_IDS}, {_TAG_IDS}, {_CREATED_AT} AS created_at, {_CLOSED_AT} AS closed_at, t."msgTs",
    {", ".join(wait)}, {sla} AS sla"""


# Where the user ids and tag ids sit in the row, for each encoding.
_USERS_AT = {Encoding.DATABASE: slice(1, 5), Encoding.PYTHON: slice(4, 8)}
_TAGS_AT = {Encoding.DATABASE: 5, Encoding.PYTHON: 8}

_NULL = b"null"
_OPENED_BY, _CLOSED_BY, _ASSIGNED_TO = b',"opened_by":', b',"closed_by":', b',"assigned_to":'
_REOPENED_BY, _TAGS, _TEAM_TAGS = b',"reopened_by":', b',"tags":', b',"team_tags":'
_NO_TAGS = b"[]"


class TicketRenderer:
    """Turns ticket rows into JSON, remembering the users and tags it has looked up (one request's worth)."""

    def __init__(
        self,
        connection: asyncpg.Connection,
        encoding: Encoding = Encoding.DATABASE,
        *,
        descriptions: bool = True,
    ) -> None:
        self._connection = connection
        self.encoding = encoding
        # Must match the ``descriptions`` the rows were selected with (``Encoding.columns``).
        self.descriptions = descriptions
        self._users: dict[int, bytes] = {}
        self._user_fragments: dict[int, orjson.Fragment] = {}
        self._tags: dict[int, str | None] | None = None

    async def prepare(self, rows: Sequence[asyncpg.Record]) -> bool:
        """Look up the users and tags of ``rows`` not seen yet (``encode`` needs them); were there any?"""
        if self._tags is None:
            self._tags = await self._every_tag()
        known, users_at = self._users, _USERS_AT[self.encoding]
        missing = {user for row in rows for user in row[users_at] if user is not None and user not in known}
        if missing:
            found = await self._connection.fetch(
                'SELECT id, "slackId", username FROM "User" WHERE id = ANY($1::int[])', list(missing)
            )
            known.update(
                {
                    row[0]: orjson.dumps({"id": row[0], "slack_id": row[1], "username": row[2]})
                    for row in found
                }
            )
            # A user deleted since the ticket was read (outside a snapshot) shows as null.
            known.update({user_id: _NULL for user_id in missing if user_id not in known})
            self._user_fragments.update({user_id: orjson.Fragment(known[user_id]) for user_id in missing})
        tags_at = _TAGS_AT[self.encoding]
        unknown = {tag_id for row in rows for tag_id in row[tags_at] if tag_id not in self._tags}
        if unknown:  # a tag made since the lookup: look them all up again
            self._tags = await self._every_tag()
            # Deleted since the ticket was read (outside a snapshot): left out of its tags.
            self._tags.update({tag_id: None for tag_id in unknown if tag_id not in self._tags})
        return bool(missing or unknown)

    async def _every_tag(self) -> dict[int, str | None]:
        return {row[0]: row[1] for row in await self._connection.fetch('SELECT id, name FROM "Tag"')}

    async def render(self, rows: Sequence[asyncpg.Record]) -> bytes:
        """The rows as JSON objects separated by commas (no brackets)."""
        try:
            return self.encode(rows)
        except KeyError:
            await self.prepare(rows)
            return self.encode(rows)

    def encode(self, rows: Sequence[asyncpg.Record]) -> bytes:
        """Like ``render``, touching no connection: KeyError when a row names a user or tag not looked up.

        Once a stream has met most users, batches encode at the first try, with
        no pass over the rows to look for new ones.
        """
        if not rows:
            return b""
        with _without_cycle_collection():
            if self.encoding is Encoding.PYTHON:
                return self._encode_in_python(rows)
            return self._splice(rows)

    def _splice(self, rows: Sequence[asyncpg.Record]) -> bytes:
        users, tags = self._users, self._tags or {}
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
            names = orjson.dumps(_tag_names(tags, tag_ids)) if tag_ids else _NO_TAGS
            add(_TAGS)
            add(names)
            add(_TEAM_TAGS)  # the same list, under the name newer clients read
            add(names)
            add(tail)
            add(b",")
        return b"".join(parts)[:-1]  # no comma after the last object

    def _encode_in_python(self, rows: Sequence[asyncpg.Record]) -> bytes:
        users, tags = self._user_fragments, self._tags or {}
        tickets = [
            {
                "id": ticket_id,
                "title": title,
                "description": description,
                "status": status,
                "opened_by": users[opened_by] if opened_by is not None else None,
                "closed_by": users[closed_by] if closed_by is not None else None,
                "assigned_to": users[assigned_to] if assigned_to is not None else None,
                "reopened_by": users[reopened_by] if reopened_by is not None else None,
                "tags": (names := _tag_names(tags, tag_ids) if tag_ids else []),
                "team_tags": names,  # the same list, under the name newer clients read
                "created_at": created_at,
                "closed_at": closed_at,
                "message_ts": message_ts,
                # A closed ticket waits on nobody.
                "waiting_on": waiting_on.lower() if waiting_on is not None and status != "closed" else None,
                "waiting_since": waiting_since if status != "closed" else None,
                "first_response_minutes": _minutes(first_response),
                "resolution_minutes": _minutes(resolution),
                "sla": None if sla is None else orjson.Fragment(sla),
            }
            for (
                ticket_id, title, description, status, opened_by, closed_by, assigned_to, reopened_by,
                tag_ids, created_at, closed_at, message_ts, waiting_on, waiting_since, first_response,
                resolution, sla,
            ) in (row[:17] for row in rows)
        ]  # fmt: skip
        if not self.descriptions:
            for ticket in tickets:
                del ticket["description"]
        if rows and rows[0][16] is None:  # columns without the member (a database before migration 0028)
            for ticket in tickets:
                del ticket["sla"]
        return orjson.dumps(tickets)[1:-1]


def float8_json(value: float) -> str:
    """``value`` as PostgreSQL writes a float8 (``to_json``, extra_float_digits 1): finite, below 2**53.

    The digits are the shortest that read back as the same double (Python's ``repr`` finds the
    same ones); a whole number has no ``.0``; the exponent form (``e+15``, ``e-05``: a sign and at
    least two digits) is used below 1e-4 and from 1e15. Above 2**53 PostgreSQL writes some whole
    numbers with more digits than needed; minutes never come near (2**53 minutes: 17 billion years).
    """
    number = decimal.Decimal(repr(value)).normalize()
    sign, digits, exponent = number.as_tuple()
    assert isinstance(exponent, int), "not a finite number"
    text = "".join(map(str, digits))
    if digits == (0,):
        return "-0" if sign else "0"
    point = len(text) + exponent  # where the decimal point sits in ``text``
    if point - 1 < -4 or point - 1 >= 15:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        written = f"{mantissa}e{'-' if point - 1 < 0 else '+'}{abs(point - 1):02d}"
    elif exponent >= 0:
        written = text + "0" * exponent
    elif point > 0:
        written = f"{text[:point]}.{text[point:]}"
    else:
        written = f"0.{'0' * -point}{text}"
    return ("-" if sign else "") + written


def _minutes(value: float | None) -> orjson.Fragment | None:
    return None if value is None else orjson.Fragment(float8_json(value))


def _tag_names(tags: dict[int, str | None], tag_ids: Sequence[int]) -> list[str]:
    """The tags' names, alphabetically (KeyError for a tag not looked up)."""
    names = [tags[tag_id] for tag_id in tag_ids]
    if None in names:
        names = [name for name in names if name is not None]
    return sorted(names)  # type: ignore[arg-type]  # no None left


@contextlib.contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection while a batch is encoded (synchronous: no other task runs).

    The thousands of objects made here are freed by reference counting; the
    collections their allocation would trigger walk the whole server's heap
    for nothing (measured: a third of the encoding time of 30,000 open tickets).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
