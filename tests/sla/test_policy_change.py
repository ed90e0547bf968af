"""A changed SLA policy after start-up: the service answers at once, and every ticket's clocks are
brought to the new policy in the background (nephthys/sla/install.py, the ``sla-recompute`` job),
active tickets first, resumable, once across instances; sla-watch acts on no clock of the old
policy; afterwards every ticket's clocks are what a fresh computation gives.

The tickets are made over signed Slack requests under the old targets; the recompute is paused or
stopped between batches through its injected hook (never by timing)."""

from __future__ import annotations

import asyncio
import dataclasses

import httpx
import pytest
from sqlalchemy import text

from nephthys.database.engine import create_engine, session_factory
from nephthys.sla import clocks
from nephthys.sla.install import Batch, policy_key, recompute, recompute_batch, recompute_state
from nephthys.tasks.sla_recompute import SlaRecompute
from nephthys.tasks.sla_watch import SlaWatch
from nephthys.tickets.support_minutes import install_calendar
from nephthys.utils.starlette import create_app
from tests.conftest import make_settings
from tests.sla.test_clocks import CALENDAR, SLA, Clock, ask, london
from tests.slack.conftest import BTS_CHANNEL, HELPER, eventually
from tests.support.server import running

OLD = {**SLA, "sla_warn_at": 0.8}  # first response 30, next 60, resolution 240
NEW = {**OLD, "sla_first_response_minutes": 120, "sla_resolution_minutes": 480}
NEW_POLICY = make_settings(**NEW).sla_policy
NEW_KEY = policy_key(CALENDAR, NEW_POLICY)
OLD_KEY = policy_key(CALENDAR, make_settings(**OLD).sla_policy)

_CLOCK_ROWS = """SELECT "ticketId", kind::text, "ticketCreatedAt", "targetMinutes", "startAt", state::text, minutes,
                        "runningSince", "dueAt", "warnAt", "actionAt", "missedBefore"
                 FROM "TicketSlaClock" ORDER BY "ticketId", kind"""


async def make_tickets(desk) -> dict[str, list[int]]:
    """Five tickets under the old targets (Tuesday 27 May 2025, London support hours): three active
    (one unanswered, one answered, one unanswered) and two closed, their ids interleaved."""
    at = Clock()
    async with desk(**OLD) as d:
        ids = []
        for minute in (0, 5, 10, 15, 20):
            asked = await ask(d, at(2025, 5, 27, 9, minute))
            ids.append(((await d.ticket(asked["ts"]))["id"], asked))
        (_, second), (third_id, third), (_, _), (fifth_id, fifth) = ids[1], ids[2], ids[3], ids[4]
        await d.reply(second, HELPER, "Try this", ts=at(2025, 5, 27, 9, 25))
        await d.reply(third, HELPER, "Done", ts=at(2025, 5, 27, 9, 26))
        await d.click_resolve(third_id, HELPER, message=d.thread_reply_message(third))
        await d.click_resolve(fifth_id, HELPER, message=d.thread_reply_message(fifth))
    every = [ticket_id for ticket_id, _ in ids]
    return {"all": every, "active": [every[0], every[1], every[3]], "closed": [every[2], every[4]]}


async def clock_rows(sessions) -> list[tuple]:
    async with sessions() as session:
        return [tuple(row) for row in await session.execute(text(_CLOCK_ROWS))]


async def fresh_clock_rows(sessions) -> list[tuple]:
    """Every ticket's clocks computed from nothing (the stored ones deleted first), then rolled back."""
    async with sessions() as session:
        await session.execute(text('DELETE FROM "TicketSlaClock"'))
        ids = list((await session.execute(text('SELECT id FROM "Ticket" ORDER BY id'))).scalars())
        await clocks.refresh(session, ids)
        rows = [tuple(row) for row in await session.execute(text(_CLOCK_ROWS))]
        await session.rollback()
    return rows


def targets(rows: list[tuple], ticket_id: int) -> dict[str, int]:
    return {row[1]: row[3] for row in rows if row[0] == ticket_id}


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url, pool_size=4)
    yield session_factory(engine)
    await engine.dispose()


async def test_the_service_answers_at_once_while_the_clocks_are_recomputed_in_the_background(
    desk, team, db_url, sessions
):
    tickets = await make_tickets(desk)
    before = await clock_rows(sessions)
    assert targets(before, tickets["active"][0]) == {"FIRST_RESPONSE": 30, "RESOLUTION": 240}
    paused, go_on, seen = asyncio.Event(), asyncio.Event(), []

    async def between(batch: Batch) -> None:
        seen.append(batch)
        if len(seen) == 1:  # after the first batch (the active tickets), until the test lets it go on
            paused.set()
            await go_on.wait()

    # The new targets, Slack off (the API's jobs run: the recompute among them), the recompute held.
    app = create_app(
        make_settings(database_url=db_url, **NEW),
        database_url=db_url,
        run_jobs=True,
        between_sla_batches=between,
    )
    async with running(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.wait_for(paused.wait(), 30)
        # Mid-recompute: the service answers; the active tickets follow the new policy, the closed ones
        # not yet, and sla-watch still waits (the active phase is not marked done).
        health = await client.get("/health")
        assert (health.status_code, health.json()) == (
            200,
            {"healthy": True, "slack": False, "database": True},
        )
        listed = await client.get("/api/tickets", params={"status": "open"})
        assert listed.status_code == 200
        assert {ticket["sla"]["first_response"]["target_minutes"] for ticket in listed.json()} == {120}
        state = await recompute_state(sessions)
        assert (state.key, state.pending, state.active_done_at) == (OLD_KEY, NEW_KEY, None)
        assert "sla-watch waits" in await SlaRecompute(sessions).progress()
        middle = await clock_rows(sessions)
        assert all(targets(middle, ticket_id)["FIRST_RESPONSE"] == 120 for ticket_id in tickets["active"])
        assert all(targets(middle, ticket_id)["FIRST_RESPONSE"] == 30 for ticket_id in tickets["closed"])
        # No ticket is ever without its clocks.
        assert {row[0] for row in middle} == set(tickets["all"])
        go_on.set()

        async def installed() -> bool:
            return (await recompute_state(sessions)).pending is None

        await eventually(installed)
        health = await client.get("/health")
        assert health.status_code == 200
    assert seen[0] == Batch(NEW_KEY, "active", tuple(tickets["active"]), False)
    assert [batch.phase for batch in seen] == ["active", "active", "all", "all"]
    assert seen[2].ticket_ids == tuple(tickets["all"]) and seen[3].phase_done
    state = await recompute_state(sessions)
    assert (state.key, state.pending, state.recomputed) == (NEW_KEY, None, 3 + 5)
    after = await clock_rows(sessions)
    assert after == await fresh_clock_rows(sessions)
    assert after != before and targets(after, tickets["closed"][0])["RESOLUTION"] == 480


class Crash(Exception):
    pass


async def test_a_recompute_that_dies_halfway_goes_on_from_its_cursor(desk, team, sessions):
    tickets = await make_tickets(desk)
    await install_calendar(sessions, CALENDAR, NEW_POLICY)  # a start-up with the new settings
    done: list[Batch] = []

    async def dies_after_the_fourth(batch: Batch) -> None:
        done.append(batch)
        if len(done) == 4:
            raise Crash

    with pytest.raises(Crash):
        await recompute(sessions, batch=1, between_batches=dies_after_the_fourth)
    # Three active tickets, the active phase marked done, nothing of the rest.
    assert [(b.phase, b.ticket_ids) for b in done] == [
        *[("active", (ticket_id,)) for ticket_id in tickets["active"]],
        ("active", ()),
    ]
    state = await recompute_state(sessions)
    assert (state.key, state.pending, state.active_after, state.after, state.recomputed) == (
        OLD_KEY,
        NEW_KEY,
        tickets["active"][-1],
        0,
        3,
    )
    assert state.active_done_at is not None
    assert {row[0] for row in await clock_rows(sessions)} == set(tickets["all"])
    # A restart with the same settings keeps the cursor; the next run goes on from it.
    await install_calendar(sessions, CALENDAR, NEW_POLICY)
    assert (await recompute_state(sessions)).recomputed == 3
    resumed: list[Batch] = []

    async def note(batch: Batch) -> None:
        resumed.append(batch)

    result = await recompute(sessions, batch=2, between_batches=note)
    assert result.done and result.tickets == 5
    assert [b.ticket_ids for b in resumed] == [
        tuple(tickets["all"][:2]),
        tuple(tickets["all"][2:4]),
        tuple(tickets["all"][4:]),
        (),
    ]
    state = await recompute_state(sessions)
    assert (state.key, state.pending, state.recomputed) == (NEW_KEY, None, 8)
    assert await clock_rows(sessions) == await fresh_clock_rows(sessions)
    # Done: a start-up with the same settings asks for nothing more.
    await install_calendar(sessions, CALENDAR, NEW_POLICY)
    assert (await recompute_state(sessions)).pending is None
    assert (await recompute(sessions)).tickets == 0


async def test_two_instances_recompute_each_ticket_once(desk, team, db_url, sessions):
    tickets = await make_tickets(desk)
    engines = [create_engine(db_url, pool_size=3), create_engine(db_url, pool_size=3)]
    first, second = (session_factory(engine) for engine in engines)
    try:
        # Both start with the new settings: the second start-up leaves the first's recompute alone.
        await install_calendar(first, CALENDAR, NEW_POLICY)
        paused, go_on, batches = asyncio.Event(), asyncio.Event(), []

        async def held_after_the_second(batch: Batch) -> None:
            batches.append(("first", batch))
            if len(batches) == 2:
                paused.set()
                await go_on.wait()

        running_first = asyncio.create_task(recompute(first, batch=1, between_batches=held_after_the_second))
        await asyncio.wait_for(paused.wait(), 30)
        await install_calendar(second, CALENDAR, NEW_POLICY)
        assert (await recompute_state(second)).recomputed == 2
        # The second instance's job skips: the first holds the recompute.
        assert (await recompute(second, batch=1)).skipped
        # Even a batch run past the lock takes the next ticket from the shared cursor, never one done.
        step = await recompute_batch(second, batch=1)
        assert step is not None
        batches.append(("second", step))
        go_on.set()
        result = await asyncio.wait_for(running_first, 30)
        assert result.done
    finally:
        for engine in engines:
            await engine.dispose()
    for phase, expected in (("active", tickets["active"]), ("all", tickets["all"])):
        recomputed = [ticket_id for _, b in batches if b.phase == phase for ticket_id in b.ticket_ids]
        assert recomputed == expected  # each once, in order, across both instances
    assert [who for who, _ in batches].count("second") == 1
    assert (await recompute_state(sessions)).key == NEW_KEY
    assert await clock_rows(sessions) == await fresh_clock_rows(sessions)


async def test_sla_watch_acts_on_no_clock_of_the_old_policy(desk, team, sessions):
    at = Clock()
    async with desk(**OLD) as d:
        asked = await ask(d, at(2025, 5, 27, 9, 0))
        ticket = await d.ticket(asked["ts"])
    # Under the old targets the first response warns at 09:24 and breaches at 09:30.
    [old] = [row for row in await clock_rows(sessions) if row[1] == "FIRST_RESPONSE"]
    assert old[8] == london(2025, 5, 27, 9, 30)

    async with desk(**NEW) as d:  # a start-up with the new targets (120: warning at 96), jobs stopped
        watch = SlaWatch(d.service.ctx, clock=lambda: london(2025, 5, 27, 9, 31), interval_seconds=0)
        assert await watch.run() == "warned 0, posted 0 breaches"
        assert (await watch.run(dry_run=True)).startswith(
            "nothing acted on until the active tickets' clocks follow the new policy"
        )
        # The active ticket is recomputed, but the active phase is not marked done yet: still nothing.
        await recompute(sessions, max_batches=1)
        assert await watch.run() == "warned 0, posted 0 breaches"
        await recompute(sessions)
        assert await watch.run() == "warned 0, posted 0 breaches"  # the new target is far off
        assert await watch.run(dry_run=True) == "nothing due"
        at_warning = dataclasses.replace(watch, clock=lambda: london(2025, 5, 27, 10, 36))
        assert await at_warning.run() == "warned 1, posted 0 breaches"
        await d.settle()
        posts = [c.args["text"] for c in d.slack.calls_to("chat.postMessage", ok=True, channel=BTS_CHANNEL)]
        assert [p for p in posts if ":rotating_light:" in p] == []
        [warning] = [p for p in posts if ":alarm_clock:" in p]
        assert "due in 24m of support time (target 2h 00m)" in warning
        events = await d.fetch(
            """SELECT kind::text, at FROM "TicketEvent" WHERE "ticketId" = $1 AND kind::text LIKE 'SLA_%'""",
            ticket["id"],
        )
        assert [(e["kind"], e["at"]) for e in events] == [("SLA_WARNED", london(2025, 5, 27, 10, 36))]
