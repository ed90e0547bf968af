"""Each ticket's SLA clocks: computed from its timeline when it changes, read with ``now`` when shown.

The clocks (issue 21, section 1), all in support minutes (the installed calendar):

- **first response** runs from the question until the first helper message (the
  FIRST_RESPONSE span); a ticket closed before any helper message stops it at the closure.
- **next response** runs while the ticket waits on the helpers after a helper has spoken, until
  the next helper message (each NEXT_RESPONSE span is one clock; the latest is the ticket's, and
  ``missedBefore`` keeps whether an earlier one was breached).
- **resolution** runs from the question (or the last reopen) to the closure and is paused while
  the ticket waits on its asker (the RESOLUTION parts of the current opening, summed). A reopen
  starts a new one; an asker's message after a helper's starts a next-response clock.

A clock with a target (nephthys/sla/policy.py: per clock, the strictest of the ticket's team
tags' targets, else the default) is stored in "TicketSlaClock" by :func:`refresh`, in the
transaction of every change that touches what it reads (the lifecycle's timeline refresh, a tag
added or removed, a tag's targets changed, a new calendar or default policy at start-up). What
is stored never depends on the time it is computed at: a running clock keeps its support minutes
before ``runningSince`` and the instants, found with ``nephthys_support_add`` (the calendar's
inverse), at which it will reach its warning share (``warnAt``) and its target (``dueAt``).

Shown at ``now`` (:func:`clock_view`), a RUNNING clock is *breached* from ``dueAt`` on and
*at risk* from ``warnAt``; a finished clock is *met* when it took at most its target, else
*breached*; a paused one is *breached* once its minutes reached the target.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from nephthys.database import raw
from nephthys.database.models import SlaState, TicketSpanKind
from nephthys.support_calendar import SUPPORT_ADD_FUNCTION, SUPPORT_SECONDS_FUNCTION, SupportCalendar

Executor = raw.Executor

# The API's names for the clocks, in the order a ticket's ``sla`` object lists them.
CLOCK_NAMES = {
    TicketSpanKind.FIRST_RESPONSE: "first_response",
    TicketSpanKind.NEXT_RESPONSE: "next_response",
    TicketSpanKind.RESOLUTION: "resolution",
}

# The clocks of the tickets :ids, as they stand (module docstring). Tickets with no spans (rows
# written by hand, never folded) have no clocks.
_COMPUTED = f"""
    t AS (
        SELECT t.id, t."createdAt", t.status = 'CLOSED' AS closed, t."closedAt",
               greatest(t."createdAt", (SELECT max(e.at) FROM "TicketEvent" e
                                        WHERE e."ticketId" = t.id AND e.kind = 'REOPENED')) AS opened_at
        FROM (SELECT DISTINCT unnest(CAST(:ids AS int[])) AS id) asked
        JOIN "Ticket" t ON t.id = asked.id
        -- A probe per ticket (a subplan, never turned into a join): as a semi-join, the planner
        -- hashed every ticket's spans for a batch of a thousand (8 s a batch at 20,000 tickets).
        WHERE (SELECT true FROM "TicketSpan" s WHERE s."ticketId" = t.id LIMIT 1)),
    policy AS (
        SELECT "firstResponseMinutes" AS fr, "nextResponseMinutes" AS nr, "resolutionMinutes" AS rs,
               "warnAt" AS warn
        FROM "SlaPolicyInUse" WHERE id = 1),
    targets AS (
        SELECT t.*, coalesce(own.fr, p.fr) AS fr, coalesce(own.nr, p.nr) AS nr, coalesce(own.rs, p.rs) AS rs,
               p.warn
        FROM t CROSS JOIN policy p
        CROSS JOIN LATERAL (
            SELECT min(g."slaFirstResponseMinutes") AS fr, min(g."slaNextResponseMinutes") AS nr,
                   min(g."slaResolutionMinutes") AS rs
            FROM tags_on_tickets tt JOIN "Tag" g ON g.id = tt."tagId" WHERE tt."ticketId" = t.id) own),
    clocks AS (
        SELECT t.id, t."createdAt", t.warn, CAST('FIRST_RESPONSE' AS "TicketSpanKind") AS kind, t.fr AS target,
               s."startAt" AS start_at,
               CAST(coalesce(s.minutes,
                        CASE WHEN s."endAt" IS NULL AND t.closed THEN
                            CAST({SUPPORT_SECONDS_FUNCTION}(s."startAt", greatest(s."startAt", t."closedAt"))
                                 AS float8) / 60 END,
                        0) AS float8) AS minutes,
               CASE WHEN s."endAt" IS NULL AND NOT t.closed THEN s."startAt" END AS running_since,
               false AS paused, false AS missed_before
        FROM targets t JOIN "TicketSpan" s ON s."ticketId" = t.id AND s.kind = 'FIRST_RESPONSE'
        WHERE t.fr IS NOT NULL
        UNION ALL
        SELECT * FROM (
            SELECT DISTINCT ON (t.id) t.id, t."createdAt", t.warn, CAST('NEXT_RESPONSE' AS "TicketSpanKind"),
                   t.nr, s."startAt", coalesce(s.minutes, 0),
                   CASE WHEN s."endAt" IS NULL AND NOT t.closed THEN s."startAt" END, false,
                   EXISTS (SELECT 1 FROM "TicketSpan" o
                           WHERE o."ticketId" = t.id AND o.kind = 'NEXT_RESPONSE' AND o."startAt" < s."startAt"
                             AND o.minutes > t.nr)
            FROM targets t JOIN "TicketSpan" s ON s."ticketId" = t.id AND s.kind = 'NEXT_RESPONSE'
            WHERE t.nr IS NOT NULL
            ORDER BY t.id, s."startAt" DESC, s.id DESC) latest_next
        UNION ALL
        SELECT t.id, t."createdAt", t.warn, CAST('RESOLUTION' AS "TicketSpanKind"), t.rs, t.opened_at,
               coalesce(r.done, 0), CASE WHEN NOT t.closed THEN r.running_since END,
               NOT t.closed AND r.running_since IS NULL, false
        FROM targets t
        CROSS JOIN LATERAL (
            SELECT sum(s.minutes) FILTER (WHERE s."endAt" IS NOT NULL) AS done,
                   max(s."startAt") FILTER (WHERE s."endAt" IS NULL) AS running_since
            FROM "TicketSpan" s
            WHERE s."ticketId" = t.id AND s.kind = 'RESOLUTION' AND s."startAt" >= t.opened_at) r
        WHERE t.rs IS NOT NULL),
    timed AS (
        SELECT c.*,
               CASE WHEN c.running_since IS NOT NULL THEN
                   {SUPPORT_ADD_FUNCTION}(c.running_since, CAST(c.target * 60 - c.minutes * 60 AS numeric)) END
                   AS due_at,
               CASE WHEN c.running_since IS NOT NULL THEN
                   {SUPPORT_ADD_FUNCTION}(c.running_since,
                                          CAST(c.target * 60 * c.warn - c.minutes * 60 AS numeric)) END
                   AS warn_at,
               EXISTS (SELECT 1 FROM "TicketEvent" e
                       WHERE e."ticketId" = c.id AND e.kind = 'SLA_WARNED' AND e."slaClock" = c.kind
                         AND e."clockStartAt" = c.start_at) AS warned,
               EXISTS (SELECT 1 FROM "TicketEvent" e
                       WHERE e."ticketId" = c.id AND e.kind = 'SLA_BREACHED' AND e."slaClock" = c.kind
                         AND e."clockStartAt" = c.start_at) AS breached
        FROM clocks c),
    computed AS (
        SELECT id, kind, "createdAt", target, start_at, minutes, running_since, due_at, warn_at, missed_before,
               CAST(CASE WHEN running_since IS NOT NULL THEN 'RUNNING'
                         WHEN paused AND minutes < target THEN 'PAUSED'
                         WHEN NOT paused AND minutes <= target THEN 'MET'
                         ELSE 'BREACHED' END AS "SlaState") AS state,
               CASE WHEN running_since IS NULL OR breached THEN NULL
                    WHEN NOT warned AND warn_at < due_at THEN warn_at
                    ELSE due_at END AS action_at
        FROM timed)"""

_REFRESH = text(
    f"""WITH {_COMPUTED},
        written AS (
            INSERT INTO "TicketSlaClock" AS c ("ticketId", kind, "ticketCreatedAt", "targetMinutes", "startAt",
                                               state, minutes, "runningSince", "dueAt", "warnAt", "actionAt",
                                               "missedBefore")
            SELECT id, kind, "createdAt", target, start_at, state, minutes, running_since, due_at, warn_at,
                   action_at, missed_before
            FROM computed
            ON CONFLICT ("ticketId", kind) DO UPDATE SET
                "ticketCreatedAt" = EXCLUDED."ticketCreatedAt", "targetMinutes" = EXCLUDED."targetMinutes",
                "startAt" = EXCLUDED."startAt", state = EXCLUDED.state, minutes = EXCLUDED.minutes,
                "runningSince" = EXCLUDED."runningSince", "dueAt" = EXCLUDED."dueAt",
                "warnAt" = EXCLUDED."warnAt", "actionAt" = EXCLUDED."actionAt",
                "missedBefore" = EXCLUDED."missedBefore"
            WHERE (c."ticketCreatedAt", c."targetMinutes", c."startAt", c.state, c.minutes, c."runningSince",
                   c."dueAt", c."warnAt", c."actionAt", c."missedBefore")
                  IS DISTINCT FROM
                  (EXCLUDED."ticketCreatedAt", EXCLUDED."targetMinutes", EXCLUDED."startAt", EXCLUDED.state,
                   EXCLUDED.minutes, EXCLUDED."runningSince", EXCLUDED."dueAt", EXCLUDED."warnAt",
                   EXCLUDED."actionAt", EXCLUDED."missedBefore")
            RETURNING 1)
        DELETE FROM "TicketSlaClock" c
        WHERE c."ticketId" = ANY(CAST(:ids AS int[]))
          AND NOT EXISTS (SELECT 1 FROM computed n WHERE n.id = c."ticketId" AND n.kind = c.kind)"""
)


async def refresh(executor: Executor, ticket_ids: Sequence[int]) -> None:
    """Recompute and store the tickets' clocks (call in the transaction that changed what they read)."""
    if ticket_ids:
        await executor.execute(_REFRESH, {"ids": list(ticket_ids)})


# --- shown at an instant -----------------------------------------------------------------------


@dataclass(frozen=True)
class StoredClock:
    """A "TicketSlaClock" row."""

    kind: TicketSpanKind
    target_minutes: int
    start_at: datetime
    state: SlaState
    minutes: float
    running_since: datetime | None
    due_at: datetime | None
    warn_at: datetime | None
    missed_before: bool = False


@dataclass(frozen=True)
class ClockView:
    """A clock as shown at an instant: the API's CLOCK object."""

    kind: TicketSpanKind
    target_minutes: int
    state: str  # running, paused, met, breached
    due_at: datetime | None
    minutes_left: float | None  # support minutes; negative once a running clock is past its target
    at_risk: bool  # running, past its warning point, not breached

    def as_json(self) -> dict:
        return {
            "target_minutes": self.target_minutes,
            "state": self.state,
            "due_at": None if self.due_at is None else _instant_text(self.due_at),
            "minutes_left": self.minutes_left,
        }


def _instant_text(instant: datetime) -> str:
    """ISO 8601 with the UTC offset and milliseconds, the API's one timestamp format."""
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")


def clock_view(clock: StoredClock, now: datetime, calendar: SupportCalendar) -> ClockView:
    """``clock`` at ``now`` (module docstring)."""
    if clock.state is SlaState.RUNNING and clock.due_at is not None:
        if now >= clock.due_at:
            overdue = calendar.support_minutes(clock.due_at, now)
            return ClockView(
                clock.kind, clock.target_minutes, "breached", clock.due_at, round(-overdue, 2), False
            )
        left = calendar.support_minutes(now, clock.due_at)
        at_risk = clock.warn_at is not None and now >= clock.warn_at
        return ClockView(clock.kind, clock.target_minutes, "running", clock.due_at, round(left, 2), at_risk)
    if clock.state is SlaState.PAUSED:
        return ClockView(
            clock.kind,
            clock.target_minutes,
            "paused",
            None,
            round(clock.target_minutes - clock.minutes, 2),
            False,
        )
    # Stopped (met, or breached: finished over its target, or paused at or past it).
    state = "met" if clock.state is SlaState.MET else "breached"
    return ClockView(clock.kind, clock.target_minutes, state, None, None, False)


def sla_json(clocks: Sequence[StoredClock], now: datetime, calendar: SupportCalendar) -> dict | None:
    """A ticket's ``sla`` object: null when no clock of it has a target."""
    if not clocks:
        return None
    by_kind = {clock.kind: clock_view(clock, now, calendar) for clock in clocks}
    return {
        name: (by_kind[kind].as_json() if kind in by_kind else None) for kind, name in CLOCK_NAMES.items()
    }


def tightest(views: Sequence[ClockView]) -> ClockView | None:
    """The running clock with the least time left (one past its target first); else a paused clock;
    None when no clock runs or is paused."""
    running = [view for view in views if view.state in {"running", "breached"} and view.due_at is not None]
    if running:
        return min(running, key=lambda view: (view.minutes_left or 0.0, view.due_at))
    return next((view for view in views if view.state == "paused"), None)


_READ = text(
    """SELECT "ticketId", kind, "targetMinutes", "startAt", state, minutes, "runningSince", "dueAt", "warnAt",
              "missedBefore"
       FROM "TicketSlaClock" WHERE "ticketId" = ANY(CAST(:ids AS int[]))"""
)


async def stored_clocks(executor: Executor, ticket_ids: Sequence[int]) -> dict[int, list[StoredClock]]:
    """The tickets' stored clocks, by ticket (a ticket without a target is absent)."""
    found: dict[int, list[StoredClock]] = {}
    if not ticket_ids:
        return found
    for row in await executor.execute(_READ, {"ids": list(ticket_ids)}):
        found.setdefault(row.ticketId, []).append(
            StoredClock(
                kind=TicketSpanKind(row.kind),
                target_minutes=row.targetMinutes,
                start_at=row.startAt,
                state=SlaState(row.state),
                minutes=row.minutes,
                running_since=row.runningSince,
                due_at=row.dueAt,
                warn_at=row.warnAt,
                missed_before=row.missedBefore,
            )
        )
    order = list(CLOCK_NAMES)
    for clocks in found.values():
        clocks.sort(key=lambda clock: order.index(clock.kind))
    return found
