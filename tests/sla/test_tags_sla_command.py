"""`nephthys tags sla NAME --first --next --resolution | --off` as an operator runs it: the tag's
own targets stored, every ticket carrying it re-evaluated at once, bad input refused."""

from __future__ import annotations

from tests.slack.conftest import HELPER
from tests.tasks.test_jobs_command import nephthys


async def test_tags_sla_sets_and_removes_a_tags_targets_and_re_evaluates_its_tickets(
    desk, team, db_url, tmp_path
):
    env = {"DATABASE_URL": db_url}
    async with desk(sla_first_response_minutes=30) as d:
        await d.fetch("""INSERT INTO "Tag" (name) VALUES ('Billing')""")
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?tag Billing")

        async def first_response_target() -> int:
            [row] = await d.fetch(
                """SELECT "targetMinutes" FROM "TicketSlaClock" WHERE "ticketId" = $1 AND kind = 'FIRST_RESPONSE'""",
                ticket["id"],
            )
            return row["targetMinutes"]

        assert await first_response_target() == 30
        code, out, err = await nephthys(
            "tags", "sla", "billing", "--first", "10", "--resolution", "480", env=env, cwd=tmp_path
        )
        assert code == 0, err
        assert out.splitlines()[-1] == (
            "billing: first response 10, resolution 480 support minutes; 1 tickets re-evaluated"
        )
        [tag] = await d.fetch("""SELECT * FROM "Tag" WHERE name = 'Billing'""")
        assert (
            tag["slaFirstResponseMinutes"],
            tag["slaNextResponseMinutes"],
            tag["slaResolutionMinutes"],
        ) == (
            10,
            None,
            480,
        )
        assert await first_response_target() == 10
        kinds = {
            r["kind"]
            for r in await d.fetch('SELECT kind FROM "TicketSlaClock" WHERE "ticketId" = $1', ticket["id"])
        }
        assert kinds == {"FIRST_RESPONSE", "RESOLUTION"}  # the tag's resolution target; no default one

        code, out, err = await nephthys("tags", "sla", "Billing", "--off", env=env, cwd=tmp_path)
        assert code == 0 and "no targets of its own" in out, err
        assert await first_response_target() == 30

        for args, expected_code, message in [
            (["Billing", "--first", "0"], 2, "expected support minutes from 1 to 525600"),
            (["Billing", "--next", "soon"], 2, "expected whole support minutes"),
            (["Billing"], 2, "give --first, --next and/or --resolution"),
            (["Billing", "--off", "--first", "5"], 2, "give --first, --next and/or --resolution"),
            (["nobody", "--first", "5"], 1, "no team tag called 'nobody'"),
        ]:
            code, out, err = await nephthys("tags", "sla", *args, env=env, cwd=tmp_path)
            assert (code, message in err) == (expected_code, True), (args, err)


async def test_deleting_a_tag_with_targets_re_evaluates_its_tickets(desk, team):
    from nephthys.tags import service

    async with desk(sla_first_response_minutes=30) as d:
        [billing] = await d.fetch(
            """INSERT INTO "Tag" (name, "slaFirstResponseMinutes") VALUES ('Billing', 10) RETURNING id"""
        )
        asked, ticket = await d.ask()
        await d.reply(asked, HELPER, "?tag Billing")
        query = """SELECT "targetMinutes" FROM "TicketSlaClock" WHERE "ticketId" = $1 AND kind = 'FIRST_RESPONSE'"""
        assert [r["targetMinutes"] for r in await d.fetch(query, ticket["id"])] == [10]
        async with d.service.ctx.sessions.begin() as session:
            assert await service.delete_tag(session, tag_id=billing["id"])
        assert [r["targetMinutes"] for r in await d.fetch(query, ticket["id"])] == [30]
