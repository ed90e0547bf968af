"""One status's copy in one JSON array (nephthys/api/active_tickets.py, issue 23 "Memory"): every
answer it gives, after any sequence of reads, changes, removals and moves to the other status, is
byte for byte the stored objects of its tickets, in (createdAt, id) order, cut and rewritten by the
functions the rest of the API uses (``stored_tickets.without_description``, ``with_sla_value``)."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nephthys.api import sla_now, stored_tickets
from nephthys.api.active_tickets import ActiveCopy, _Rows, as_stored, merged_body
from nephthys.api.status_case import upper_statuses
from nephthys.sla.clocks import SlaState, TicketSpanKind
from tests.sla.test_clocks import CALENDAR, london, stored

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
WAITS = (None, "HELPERS", "ASKER")
METER = sla_now.odometer(CALENDAR)
RUNNING = sla_now.template(
    [
        stored(),
        stored(kind=TicketSpanKind.NEXT_RESPONSE, state=SlaState.PAUSED, minutes=12.5, due_at=None),
        stored(kind=TicketSpanKind.RESOLUTION, target_minutes=240, due_at=london(2025, 5, 28, 9, 0)),
    ],
    METER,
)


@dataclass(frozen=True)
class Ticket:
    """A ticket's stored row, as "ActiveTicketJson" gives it (descriptionAt/Length: the cut)."""

    id: int
    created: datetime
    status: str
    title: str
    description: str
    question_title: bool  # the title is the question's words: the cut starts at its value
    wait: str | None
    running: bool  # its sla member is rewritten when served
    clocks: int = 0  # which template its running sla member has (template_of)

    def json(self) -> tuple[bytes, int, int]:
        head = b'{"id":%d,"title":' % self.id
        title = orjson.dumps(self.title)
        member = b',"description":' + orjson.dumps(self.description)
        status = b',"status":"%s","waiting_on":%s' % (self.status.lower().encode(), orjson.dumps(self.wait))
        sla = b',"sla":' + (b'{"first_response":{"state":"running"}}' if self.running else b"null") + b"}"
        if self.question_title:
            at, length = len(head), len(title) + len(member)
        else:
            at, length = len(head) + len(title), len(member)
        return head + title + member + status + sla, at, length

    def row(self) -> dict:
        json, at, length = self.json()
        return {
            "ticketId": self.id,
            "createdAt": self.created,
            "json": json,
            "descriptionAt": at,
            "descriptionLength": length,
            "waitingOn": self.wait,
        }


def served_for(status: str, upper: bool):
    return functools.partial(upper_statuses, statuses=(status.lower(),)) if upper else as_stored


def rows_of(tickets: list[Ticket], served) -> _Rows:
    return _Rows.of([ticket.row() for ticket in tickets], served)  # type: ignore[arg-type]


@functools.cache
def template_of(ticket_id: int, clocks: int) -> sla_now.Template:
    """Templates that differ from ticket to ticket (a copy keeps each one's apart): two running
    clocks, one falling due at a minute of its own, or none left to fill in (due instant unknown)."""
    if clocks == 0:
        return RUNNING
    if clocks == 1:
        return sla_now.template(
            [stored(due_at=london(2025, 5, 27, 9, ticket_id % 31), target_minutes=ticket_id)], METER
        )
    if clocks == 2:
        return sla_now.template(
            [stored(due_at=None), stored(kind=TicketSpanKind.RESOLUTION, state=SlaState.MET)], METER
        )
    return sla_now.template(
        [
            stored(kind=TicketSpanKind.NEXT_RESPONSE, due_at=london(2025, 5, 27, 9, 29 - ticket_id % 29)),
            stored(
                kind=TicketSpanKind.RESOLUTION, target_minutes=600, due_at=london(2025, 5, 27, 10, ticket_id)
            ),
        ],
        METER,
    )


def slas_of(tickets: list[Ticket]) -> dict[int, sla_now.Template]:
    return {ticket.id: template_of(ticket.id, ticket.clocks) for ticket in tickets if ticket.running}


def expected(
    tickets: list[Ticket],
    *,
    descriptions: bool,
    since: datetime | None,
    until: datetime | None,
    waiting_on: str | None,
    shown: sla_now.SlaShown,
    upper: bool,
) -> bytes:
    """The answer made the way a page is: each stored object cut and rewritten on its own."""
    objects = []
    for ticket in sorted(tickets, key=lambda t: (t.created, t.id)):
        if since is not None and ticket.created < since or until is not None and ticket.created > until:
            continue
        if waiting_on is not None and ticket.wait != waiting_on:
            continue
        json, at, length = ticket.json()
        if upper:
            json = upper_statuses(json)
        if not descriptions:
            json = stored_tickets.without_description(json, at, length)
        if ticket.running:
            json = stored_tickets.with_sla_value(json, shown.fill(template_of(ticket.id, ticket.clocks)))
        objects.append(json)
    return b"[" + b",".join(objects) + b"]"


def instants(minutes: int) -> st.SearchStrategy[datetime]:
    return st.integers(0, minutes).map(lambda m: BASE + timedelta(minutes=m))


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


@st.composite
def tickets(draw, ids: st.SearchStrategy[int]) -> Ticket:
    return Ticket(
        id=draw(ids),
        created=draw(instants(20)),  # few minutes: many tickets share a creation instant
        status=draw(st.sampled_from(("OPEN", "IN_PROGRESS"))),
        title=draw(texts),
        description=draw(texts),
        question_title=draw(st.booleans()),
        wait=draw(st.sampled_from(WAITS)),
        running=draw(st.booleans()),
        clocks=draw(st.integers(0, 3)),
    )


# Each change: a ticket (new or existing, by its id) stored anew, or deleted (None).
changes = st.lists(st.tuples(st.integers(1, 40), st.none() | tickets(st.just(0))), max_size=8)


def check(copies: dict[str, ActiveCopy], state: dict[int, Ticket], upper: bool, shown: sla_now.SlaShown):
    for since, until in ((None, None), (BASE + timedelta(minutes=5), None), (None, BASE + timedelta(minutes=12)),
                         (BASE + timedelta(minutes=7), BASE + timedelta(minutes=7))):  # fmt: skip
        for descriptions in (True, False):
            for waiting_on in WAITS:
                want = functools.partial(
                    expected, descriptions=descriptions, since=since, until=until, waiting_on=waiting_on,
                    shown=shown, upper=upper,
                )  # fmt: skip
                for status, copy in copies.items():
                    got = copy.body(descriptions, since, until, waiting_on, shown)
                    assert got == want([t for t in state.values() if t.status == status]), (
                        status,
                        since,
                        until,
                    )
                    orjson.loads(got)
                both = merged_body(list(copies.values()), descriptions, since, until, waiting_on, shown)
                assert both == want(list(state.values()))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    start=st.lists(tickets(st.integers(1, 40)), max_size=25, unique_by=lambda t: t.id),
    rounds=st.lists(changes, max_size=5),
    upper=st.booleans(),
    minutes=st.lists(st.integers(0, 30), min_size=1, max_size=6),
)
def test_every_answer_is_the_stored_objects_after_any_changes(start, rounds, upper, minutes):
    # Each check at one of these instants (a weekday's support hours: each minute is another support
    # second; the first response falls due at 09:15, so its state and length change too).
    instants = [sla_now.SlaShown(london(2025, 5, 27, 9, minute), CALENDAR) for minute in minutes]
    shown = instants[0]
    state = {ticket.id: ticket for ticket in start}
    start = sorted(start, key=lambda t: (t.created, t.id))  # as EVERY_TICKET reads them
    copies = {
        status: ActiveCopy.read(
            "snapshot", 1, [rows_of([t for t in start if t.status == status], served_for(status, upper))],
            slas_of([t for t in start if t.status == status]),
        )
        for status in ("OPEN", "IN_PROGRESS")
    }  # fmt: skip
    check(copies, state, upper, shown)
    for number, round_ in enumerate(rounds, 2):
        changed = sorted({ticket_id for ticket_id, _ in round_})
        for ticket_id, ticket in round_:
            if ticket is None:
                state.pop(ticket_id, None)
            else:
                state[ticket_id] = replace(ticket, id=ticket_id)
        for status, copy in copies.items():
            # What SOME_TICKETS reads: the changed tickets that have this status now.
            now = [state[i] for i in changed if i in state and state[i].status == status]
            copy.patch("snapshot", number, changed, rows_of(now, served_for(status, upper)), slas_of(now))
        check(copies, state, upper, instants[number % len(instants)])
        check(copies, state, upper, instants[(number + 1) % len(instants)])  # another second, no change
        assert sorted(int(i) for copy in copies.values() for i in copy.ids) == sorted(state)


def test_an_empty_copy_and_one_emptied_answer_an_empty_array():
    shown = sla_now.SlaShown(london(2025, 5, 27, 9, 20), CALENDAR)  # past the first response's due instant
    empty = ActiveCopy.read("snapshot", 1, [])
    assert empty.body(True, None, None) == empty.body(False, None, None, "HELPERS") == b"[]"
    one = Ticket(7, BASE, "OPEN", "t", "d", False, "ASKER", running=True)
    copy = ActiveCopy.read("snapshot", 1, [rows_of([one], as_stored)], slas_of([one]))
    assert (
        orjson.loads(copy.body(False, None, None, None, shown))[0]["sla"]["first_response"]["state"]
        == "breached"
    )
    copy.patch("snapshot", 2, [7], rows_of([], as_stored), {})
    assert copy.body(True, None, None) == copy.body(False, BASE, BASE, "ASKER") == b"[]"
    assert not copy.slas and copy.count == 0


def test_a_whole_answer_with_descriptions_is_the_copy_itself_and_a_change_replaces_it():
    """No second copy of the bytes: the whole answer is the array the copy keeps."""
    first, second = (
        Ticket(i, BASE + timedelta(minutes=i), "OPEN", "t", "d" * 50, False, None, False) for i in (1, 2)
    )
    copy = ActiveCopy.read("snapshot", 1, [rows_of([first], as_stored), rows_of([second], as_stored)])
    assert copy.body(True, None, None) is copy.array.data
    edited = replace(second, description="changed")
    copy.patch("snapshot", 2, [2], rows_of([edited], as_stored), {})
    assert copy.body(True, None, None) is copy.array.data
    assert copy.array.data == b"[" + first.json()[0] + b"," + edited.json()[0] + b"]"
