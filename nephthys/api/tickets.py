"""GET /api/tickets: tickets by status and creation time, oldest first.

Each ticket's object is stored, rendered, in the database (migration 0011;
nephthys/api/stored_tickets.py). The open or in-progress tickets without ``limit``
come from the service's copy of them, brought up to date with every request
(nephthys/api/active_tickets.py). Otherwise, without ``limit`` the body is one JSON array,
streamed from a cursor inside one read-only REPEATABLE READ transaction: one
consistent snapshot, constant memory however many tickets match. With
``limit`` (1–1000) it is one page, and an RFC 8288 ``Link: <…>; rel="next"``
header carries an opaque cursor (keyset on createdAt and id) to the next page.
With API_STATUS_CASE=upper every answer's statuses are rewritten on the way out
(nephthys/api/status_case.py); what is stored stays lower case.

``sla`` (breached or at_risk) narrows to the tickets whose SLA clocks are so now; its answer is
always paged (MAX_PAGE unless ``limit`` says fewer). Every answer's objects end with the ticket's
``sla`` member (migration 0028), rewritten at the answer's instant for the tickets with a running
clock (nephthys/api/sla_now.py): in a page and a stream, at the database's clock in the answer's
snapshot; in the active copies, at the clock of the snapshot that brought them up to date.

``waiting_on`` (helpers or asker) narrows to the open and in-progress tickets waiting
on them (a closed ticket waits on nobody): without ``limit`` or ``cursor`` from the
copy too, with them from "ActiveTicketJson" through its ("waitingOn", "createdAt",
"ticketId") index (migration 0020).

A stream holds an API database connection while it runs, so streams are capped
(API_MAX_STREAMS overall, API_MAX_STREAMS_PER_CLIENT per key or address; beyond: 429
``too_many_streams`` with Retry-After), and one whose client takes nothing for
CLIENT_STALL_SECONDS is dropped, its transaction ended (nephthys/utils/stalled_clients.py).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import functools
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from nephthys.api import active_tickets, sla_now, stored_tickets, stream_slots, ticket_blocks, ticket_sla
from nephthys.api.access import shows_descriptions
from nephthys.api.params import BadParameter, first, instant, shown, whole_number
from nephthys.api.responses import JSON, error_response, too_many_requests
from nephthys.api.status_case import UPPER, Produce, upper_statuses, with_upper_statuses
from nephthys.api.ticket_blocks import Key
from nephthys.support_calendar import SupportCalendar

STATUSES = {"open": "OPEN", "in_progress": "IN_PROGRESS", "closed": "CLOSED"}
WAITING_ON = {"helpers": "HELPERS", "asker": "ASKER"}
MAX_PAGE = 1000
TOO_BROAD = {
    "error": "Provided filters are too broad",
    "tip": "Filter by ?status=open or ?status=in_progress (or ?waiting_on=), give a date range with ?since= "
    "and ?until=, or page through with ?limit=",
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TicketFilter:
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    # keyset: tickets strictly after (created_at, id)
    after: tuple[datetime, int] | None = None
    limit: int | None = None
    # False: leave each ticket's description out (API_DESCRIPTIONS=keys and no key given).
    descriptions: bool = True
    # One of WAITING_ON's values: only the open and in-progress tickets waiting on them.
    waiting_on: str | None = None
    # One of ticket_sla.SLA_FILTERS: only the tickets breached, or at risk, now (always paged).
    sla: str | None = None

    def too_broad(self) -> bool:
        """No status narrower than closed, no wait, no date bound, no page size: the whole table."""
        return (
            self.status in (None, "CLOSED")
            and self.waiting_on is None
            and self.sla is None
            and self.since is None
            and self.until is None
            and self.limit is None
        )

    def nothing(self) -> bool:
        """Closed tickets waiting on someone: there are none (a closed ticket waits on nobody)."""
        return self.status == "CLOSED" and self.waiting_on is not None

    def sql(self, start: Key | None = None, end: Key | None = None) -> tuple[str, list]:
        """The stored objects (``json``) with their keyset position, oldest first.

        ``start`` and ``end`` narrow it to the keys in [start, end) (an export's rows between blocks).
        """
        assert not self.nothing(), "answered without a query"
        conditions, args = [], []

        def arg(value) -> str:
            args.append(value)
            return f"${len(args)}"

        # On the merged rows, not in each source: only so does the planner merge the sources' index order.
        if self.since is not None:
            conditions.append(f"keyset_at >= {arg(self.since)}::timestamptz")
        if self.until is not None:
            conditions.append(f"keyset_at <= {arg(self.until)}::timestamptz")
        for key, compare in ((self.after, ">"), (start, ">="), (end, "<")):
            if key is not None:
                at, ticket_id = key
                instant = arg(at)
                conditions.append(
                    f"(keyset_at, keyset_id) {compare} ({instant}::timestamptz, {arg(ticket_id)}::integer)"
                )
                # Implied by the row comparison; it tells the planner how narrow the range is.
                conditions.append(f"keyset_at {compare[0]}= {instant}::timestamptz")
        arms = []
        # A closed ticket waits on nobody and runs no clock: waits and at-risk clocks are the active table's.
        active_only = self.waiting_on is not None or self.sla == "at_risk"
        for table, status in stored_tickets.sources(self.status, waiting=active_only):
            # Literals (STATUSES' and WAITING_ON's values), so the planner picks the partial or waiting index.
            filters = [f"j.status = '{status}'"] if status else []
            if self.waiting_on is not None:
                assert self.waiting_on in WAITING_ON.values()  # it is written into the SQL
                filters.append(f"""j."waitingOn" = '{self.waiting_on}'""")
            if self.sla is not None:
                filters.append(
                    ticket_sla.FILTER_SQL[self.sla]
                )  # a key of a fixed table, never the client's text
            where = f"WHERE {' AND '.join(filters)}" if filters else ""
            arms.append(
                f"""SELECT {stored_tickets.json_bytes(self.descriptions)} AS json,
                    j."createdAt" AS keyset_at, j."ticketId" AS keyset_id
                FROM {table} j {where}"""
            )
        limit = f"LIMIT {arg(self.limit + 1)}" if self.limit is not None else ""
        # Every source is read in index order and merged (no sort): see READ_SETTINGS.
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"""SELECT json, keyset_at, keyset_id FROM ({" UNION ALL ".join(arms)}) tickets {where}
            ORDER BY keyset_at, keyset_id {limit}"""
        return sql, args


# ---------------------------------------------------------------- cursors


def encode_cursor(created_at: datetime, ticket_id: int) -> str:
    micros = (created_at - _EPOCH) // timedelta(microseconds=1)
    return base64.urlsafe_b64encode(orjson.dumps([micros, ticket_id])).decode().rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, int]:
    try:
        micros, ticket_id = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if not (isinstance(micros, int) and isinstance(ticket_id, int)) or not 0 <= ticket_id < 2**31:
            raise ValueError
        return _EPOCH + timedelta(microseconds=micros), ticket_id
    except (ValueError, TypeError, binascii.Error, OverflowError, orjson.JSONDecodeError):
        raise BadParameter(f"cursor: not a cursor this API gave out, got {shown(token)}") from None


# ---------------------------------------------------------------- the route


def read_filter(request: Request) -> TicketFilter:
    status = None
    found = first(request, "status")
    if found is not None:
        status = STATUSES.get(found[1].lower())
        if status is None:
            raise BadParameter(f"status: expected open, closed or in_progress, got {shown(found[1])}")
    waiting_on = None
    found = first(request, "waiting_on")
    if found is not None:
        waiting_on = WAITING_ON.get(found[1].lower())
        if waiting_on is None:
            raise BadParameter(f"waiting_on: expected helpers or asker, got {shown(found[1])}")
    sla = None
    found = first(request, "sla")
    if found is not None:
        sla = found[1].lower()
        if sla not in ticket_sla.SLA_FILTERS:
            raise BadParameter(f"sla: expected breached or at_risk, got {shown(found[1])}")
    cursor = first(request, "cursor")
    return TicketFilter(
        sla=sla,
        descriptions=shows_descriptions(request),
        status=status,
        waiting_on=waiting_on,
        since=instant(request, "since", "after"),
        until=instant(request, "until", "before"),
        after=decode_cursor(cursor[1]) if cursor else None,
        limit=whole_number(request, "limit", low=1, high=MAX_PAGE),
    )


async def tickets(request: Request) -> Response:
    try:
        query = read_filter(request)
    except BadParameter as error:
        return error_response(400, str(error))
    if query.too_broad():
        return Response(orjson.dumps(TOO_BROAD), status_code=400, media_type=JSON)
    if query.nothing():
        return Response(b"[]", media_type=JSON)
    if query.sla is not None and query.limit is None:
        # An SLA filter is answered a page at a time (MAX_PAGE unless ?limit= says fewer).
        query = dataclasses.replace(query, limit=MAX_PAGE)
    if query.limit is not None:
        return await _page(request, query, query.limit)
    if query.after is None and (
        query.status in active_tickets.ACTIVE_STATUSES
        or (query.status is None and query.waiting_on is not None)
    ):
        return await _active(request, query)
    return await _stream(request, query)


async def _active(request: Request, query: TicketFilter) -> Response:
    """Open or in-progress tickets (both, when only a wait is asked for): from the service's copy,
    brought up to date (active_tickets.py)."""
    async with request.app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        body = await request.app.state.active_tickets.answer(
            driver,
            query.status,
            descriptions=query.descriptions,
            since=query.since,
            until=query.until,
            waiting_on=query.waiting_on,
        )
    return Response(body, media_type=JSON)


async def _page(request: Request, query: TicketFilter, limit: int) -> Response:
    sql, args = query.sql()
    async with request.app.state.engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        async with driver.transaction(isolation="repeatable_read", readonly=True):
            for setting in stored_tickets.READ_SETTINGS:
                await driver.execute(setting)
            rows = await driver.fetch(sql, *args)
            page = rows[:limit]
            # The objects with a running SLA clock rewritten at the database's clock, in the same snapshot.
            objects = await sla_now.rewrite_objects(
                driver,
                [(row["keyset_id"], row["json"]) for row in page],
                request.app.state.settings.support_calendar,
            )
    body = b"[" + b",".join(objects) + b"]"
    if _upper(request):
        body = upper_statuses(body)
    headers = {}
    if len(rows) > limit:
        last = page[-1]
        cursor = encode_cursor(last["keyset_at"], last["keyset_id"])
        headers["Link"] = f'<{next_page_url(request, cursor)}>; rel="next"'
    return Response(body, media_type=JSON, headers=headers)


def next_page_url(request: Request, cursor: str) -> str:
    """This request's URL with ``cursor``: under BASE_URL when set, else a relative reference.

    Never from the request's Host header, which the client chooses (a forged one
    would put someone else's host in the link a dashboard follows).
    """
    url = request.url.include_query_params(cursor=cursor)
    relative = f"{url.path}?{url.query}"
    base_url = request.app.state.settings.base_url
    return f"{base_url.rstrip('/')}{relative}" if base_url else relative


class _ClosingStreamingResponse(StreamingResponse):
    """Releases the database connection however the response ends (done, failed, client gone)."""

    def __init__(
        self, content: AsyncGenerator[bytes | memoryview, None], close: Callable[[], Awaitable[None]]
    ) -> None:
        super().__init__(content, media_type=JSON)
        self._content = content
        self._close = close

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with contextlib.suppress(Exception):
                await self._content.aclose()
            await self._close()


async def _stream(request: Request, query: TicketFilter) -> Response:
    # Each stream holds a connection while it runs: capped overall and per client (stream_slots.py).
    give_back = stream_slots.slots_of(request).take(stream_slots.client_of(request))
    if give_back is None:
        return too_many_requests(
            "too_many_streams",
            stream_slots.RETRY_AFTER_SECONDS,
            "too many streamed answers are running (for this client, or in all); try again later, "
            "or page through with ?limit=",
        )
    resources = contextlib.AsyncExitStack()
    resources.callback(give_back)
    try:
        connection = await resources.enter_async_context(request.app.state.engine.connect())
        driver = (await connection.get_raw_connection()).driver_connection
        transaction = driver.transaction(isolation="repeatable_read", readonly=True)
        await transaction.start()
        resources.push_async_callback(_quietly, transaction.rollback)
        for setting in stored_tickets.READ_SETTINGS:
            await driver.execute(setting)
        if query.status is None and query.waiting_on is None:
            # An export: blocks where they are usable (they hold every status, with and without descriptions).
            segments = ticket_blocks.plan(await ticket_blocks.usable_blocks(driver), query.since, query.until)
        else:
            segments = [ticket_blocks.Segment(None, None, None)]
        sla_at = await sla_shown(driver, query, request.app.state.settings.support_calendar)
        produce: Produce = functools.partial(put_segments, driver, query, segments, sla_at)
        if _upper(request):
            produce = with_upper_statuses(produce)
        body = await stored_tickets.stream_array(produce)
    except BaseException:
        await resources.aclose()
        raise
    return _ClosingStreamingResponse(body, resources.aclose)


def _upper(request: Request) -> bool:
    return request.app.state.settings.api_status_case == UPPER


async def sla_shown(
    driver, query: TicketFilter, calendar: SupportCalendar, now: datetime | None = None
) -> sla_now.SlaShown | None:
    """The instant a stream's tickets with a running SLA clock are shown at (default: the database's
    clock in the stream's snapshot); None when it holds none (closed tickets run no clock). Nothing
    else is read up front: each block or batch is rewritten from its own bytes as it streams."""
    if query.status == "CLOSED":
        return None
    return sla_now.SlaShown(now or await sla_now.database_now(driver), calendar)


async def put_segments(
    driver,
    query: TicketFilter,
    segments: list[ticket_blocks.Segment],
    shown: sla_now.SlaShown | None,
    put: stored_tickets.Put,
) -> None:
    """Every ticket of an export in order: usable blocks as stored, the rows between them one by one;
    the tickets with a running SLA clock rewritten at ``shown``'s instant as they stream past."""
    for segment in segments:
        if segment.blocks is not None:
            if shown is None:
                await ticket_blocks.put_blocks(driver, segment, put, descriptions=query.descriptions)
            else:
                await ticket_blocks.put_blocks_rewriting(
                    driver, segment, put, shown, descriptions=query.descriptions
                )
        else:
            sql, args = query.sql(segment.start, segment.end)
            await stored_tickets.put_rows(driver, sql, args, put, shown)


async def _quietly(close: Callable[[], Awaitable[None]]) -> None:
    with contextlib.suppress(Exception):
        await close()


route = Route("/api/tickets", tickets, methods=["GET"])
