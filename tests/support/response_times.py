"""/api/stats/response_times computed again, independently, from the tickets' logged events.

Nothing here reads the spans or the minutes the service stores: each ticket's events are
replayed by the issue's words (section 3), each interval is measured with the Python
``SupportCalendar.support_minutes``, and the figures are Python's (``statistics``):

- first response: the question to the first helper message;
- next response: an asker message that turns the ticket from waiting on the asker back to
  the helpers (or a reopen after a helper has answered) to the next helper message;
- resolution: the question to the last closure, less the time spent waiting on the asker
  and the time spent closed before a reopen (subtracted, where the service adds parts up);
- percentiles as PostgreSQL's ``percentile_cont``: ``statistics.quantiles(method="inclusive")``
  is the same linear interpolation at rank ``p·(n−1)``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nephthys.support_calendar import SupportCalendar
from tests.support import postgres

MEASURES = ("first_response", "next_response", "resolution")

EVENTS_SQL = """SELECT "ticketId", kind::text AS kind, at, "actorId" FROM "TicketEvent"
                ORDER BY "ticketId", at, id"""
TICKETS_SQL = """SELECT id, "createdAt", "closedById", "openedById", status::text AS status
                 FROM "Ticket" ORDER BY id"""
TAGS_SQL = """SELECT tt."ticketId", g.name FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId\""""
USERS_SQL = """SELECT id, "slackId", username FROM "User\""""


@dataclass
class TicketMeasures:
    created_at: datetime
    first_response: tuple[float, int | None] | None = None  # (minutes, the responder)
    next_responses: list[tuple[float, int | None]] = field(default_factory=list)
    resolution: float | None = None


def replay(events: Sequence[tuple[str, datetime, int | None]], calendar: SupportCalendar) -> TicketMeasures:
    """One ticket's measures from its events ``(kind, at, actor id)``, in the order they happened."""
    minutes = calendar.support_minutes
    created = next(at for kind, at, _ in events if kind == "OPENED")
    result = TicketMeasures(created)
    is_open, on_helpers = True, True
    asked_again: datetime | None = None  # a next response's start
    asker_since: datetime | None = None
    closed_since: datetime | None = None
    last_closed: datetime | None = None
    waiting_on_asker: list[tuple[datetime, datetime]] = []
    closed: list[tuple[datetime, datetime]] = []
    for kind, at, actor in events:
        if not is_open:
            if kind == "REOPENED":
                assert closed_since is not None
                closed.append((closed_since, at))
                is_open, on_helpers = True, True
                asked_again = at if result.first_response is not None else None
            continue
        if kind == "HELPER_MESSAGE":
            if result.first_response is None:
                result.first_response = (minutes(created, at), actor)
            elif asked_again is not None:
                result.next_responses.append((minutes(asked_again, at), actor))
            asked_again = None
            if on_helpers:
                on_helpers, asker_since = False, at
        elif kind == "ASKER_MESSAGE" and not on_helpers:
            assert asker_since is not None
            waiting_on_asker.append((asker_since, at))
            on_helpers = True
            asked_again = at if result.first_response is not None else None
        elif kind == "CLOSED":
            if not on_helpers:
                assert asker_since is not None
                waiting_on_asker.append((asker_since, at))
            is_open, closed_since, last_closed, asked_again = False, at, at, None
    if not is_open:
        assert last_closed is not None
        result.resolution = (
            minutes(created, last_closed)
            - sum(minutes(start, end) for start, end in waiting_on_asker)
            - sum(minutes(start, end) for start, end in closed)
        )
    return result


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")  # cut i at rank i/100·(n−1)
    return cuts[round(fraction * 100) - 1]


def figures(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "p95": None}
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        **{f"p{round(f * 100)}": percentile_cont(values, f) for f in (0.5, 0.9, 0.95)},
    }


def _in(instant: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or instant >= since) and (until is None or instant < until)


def _measures_of(
    tickets: Iterable[tuple[TicketMeasures, int | None]],
) -> dict[str, list[tuple[float, int | None]]]:
    """Every value of each measure with its person: (minutes, responder or closer)."""
    values: dict[str, list[tuple[float, int | None]]] = {measure: [] for measure in MEASURES}
    for measured, closer in tickets:
        if measured.first_response is not None:
            values["first_response"].append(measured.first_response)
        values["next_response"].extend(measured.next_responses)
        if measured.resolution is not None:
            values["resolution"].append((measured.resolution, closer))
    return values


async def expected_response_times(
    db_url: str,
    calendar: SupportCalendar,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str = "none",
) -> dict[str, Any]:
    """What /api/stats/response_times should answer (its figures, without since/until/by)."""
    logged: dict[int, list[tuple[str, datetime, int | None]]] = defaultdict(list)
    for row in await postgres.fetch(db_url, EVENTS_SQL):
        logged[row["ticketId"]].append((row["kind"], row["at"], row["actorId"]))
    tickets = {}
    for row in await postgres.fetch(db_url, TICKETS_SQL):
        if _in(row["createdAt"], since, until):
            # The credited closer; an asker who closed their own question is no helper.
            closer = row["closedById"] if row["closedById"] != row["openedById"] else None
            tickets[row["id"]] = (replay(logged[row["id"]], calendar), closer)
    everything = _measures_of(tickets.values())
    answer: dict[str, Any] = {
        measure: figures([minutes for minutes, _ in everything[measure]]) for measure in MEASURES
    }
    if by == "team_tag":
        tagged: dict[str, list[int]] = defaultdict(list)
        for row in await postgres.fetch(db_url, TAGS_SQL):
            if row["ticketId"] in tickets:
                tagged[row["name"]].append(row["ticketId"])
        answer["groups"] = [
            {
                "team_tag": name,
                **{
                    measure: figures([minutes for minutes, _ in values])
                    for measure, values in _measures_of(tickets[t] for t in tagged[name]).items()
                },
            }
            for name in sorted(tagged)
        ]
    elif by == "helper":
        users = {
            row["id"]: {"id": row["id"], "slack_id": row["slackId"], "username": row["username"]}
            for row in await postgres.fetch(db_url, USERS_SQL)
        }
        people = sorted(
            {person for values in everything.values() for _, person in values if person is not None}
        )
        answer["groups"] = [
            {
                "helper": users[person],
                **{
                    measure: figures([minutes for minutes, who in everything[measure] if who == person])
                    for measure in MEASURES
                },
            }
            for person in people
        ]
    return answer


def approximately(answer: Any, expected: Any) -> bool:
    """``answer`` equals ``expected`` but for float rounding (the sum and the mean's order of additions)."""
    if isinstance(expected, dict):
        return (
            isinstance(answer, dict)
            and answer.keys() == expected.keys()
            and all(approximately(answer[key], expected[key]) for key in expected)
        )
    if isinstance(expected, list):
        return (
            isinstance(answer, list)
            and len(answer) == len(expected)
            and all(approximately(a, e) for a, e in zip(answer, expected, strict=True))
        )
    if isinstance(expected, float) and not isinstance(answer, bool) and isinstance(answer, int | float):
        return abs(answer - expected) <= 1e-6 * max(1.0, abs(expected))
    return answer == expected and type(answer) is type(expected)
