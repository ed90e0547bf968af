"""The migrated database is the schema of record in prisma/schema.prisma."""

from nephthys.database import migrate
from tests.database import prisma_schema
from tests.database.schema_check import SCHEMA_PATH, differences


def test_the_schema_reader_sees_every_model_and_enum():
    schema = prisma_schema.parse(SCHEMA_PATH)
    assert schema.enums == {
        "TicketStatus": ["OPEN", "IN_PROGRESS", "CLOSED"],
        "UserType": ["AUTHOR", "HELPER", "OTHER"],
        "FeedbackRating": ["NOT_GOOD", "OKAY", "GREAT"],
        "TicketEventKind": [
            "OPENED", "ASKER_MESSAGE", "HELPER_MESSAGE", "OTHER_MESSAGE", "ASSIGNED", "CLOSED", "REOPENED",
            "TAG_ADDED", "TAG_REMOVED", "NUDGED", "SLA_WARNED", "SLA_BREACHED",
        ],
        "WaitingOn": ["HELPERS", "ASKER"],
        "TicketSpanKind": ["FIRST_RESPONSE", "NEXT_RESPONSE", "RESOLUTION"],
        "SlaState": ["RUNNING", "PAUSED", "MET", "BREACHED"],
    }  # fmt: skip
    assert {model.table for model in schema.models.values()} == {
        "User", "Ticket", "QuestionTag", "Tag", "tags_on_tickets",
        "user_tag_subscriptions", "BotMessage", "SlackEvent", "TicketTotals", "UserClosedCount",
        "TicketTotalsPending", "Feedback", "ApiKey", "JobRun", "ActiveTicketJson", "ClosedTicketJson",
        "TicketDurationCount", "TicketDurationPending", "DailyFigures", "DailyFiguresPending",
        "DailyFiguresZone", "DailyFiguresStore",
        "TicketJsonBlock", "TicketJsonChange", "TicketJsonChangeHorizon", "TicketEvent",
        "TicketSpan", "SupportCalendarInUse",
        "TicketHourFigures", "TicketClosedByPeriod", "TicketHourDurations", "TicketFiguresPending",
        "FeedbackByPeriod", "TicketSearch", "Surge", "SlaPolicyInUse", "TicketSlaClock",
        "ResponseTimeCounts", "ResponseTimeTagValues", "ResponseTimePending",
    }  # fmt: skip
    ticket = schema.models["Ticket"]
    assert [f.name for f in ticket.fields if f.unique] == ["msgTs", "ticketTs"]
    # Folded from the timeline: whom it waits on since when, and that wait's nudge (0019, 0022).
    assert {"waitingOn", "waitingSince", "nudgedAt"} <= {f.name for f in ticket.fields}
    # SLA targets (0023): a tag's own, and each ticket's clocks by kind.
    assert {"slaFirstResponseMinutes", "slaNextResponseMinutes", "slaResolutionMinutes"} <= {
        f.name for f in schema.models["Tag"].fields
    }
    assert schema.models["TicketSlaClock"].primary_key == ("ticketId", "kind")
    # A policy change's recompute, in the background (0032): what it brings in, its cursors, its progress.
    assert {
        "recomputeKey", "recomputeStartedAt", "recomputeActiveAfter", "recomputeActiveDoneAt", "recomputeAfter",
        "recomputedTickets",
    } <= {f.name for f in schema.models["SlaPolicyInUse"].fields}  # fmt: skip
    assert schema.models["TagsOnTickets"].primary_key == ("ticketId", "tagId")
    assert schema.models["BotMessage"].uniques == [("ts", "channelId")]
    assert schema.models["Feedback"].uniques == [("ticketId", "createdById")]
    # The team's memory (0024): a tsvector and a scalar list are columns, not relations.
    search = {f.name: f.type for f in schema.models["TicketSearch"].fields}
    assert search["document"] == 'Unsupported("tsvector")' and search["questionTerms"] == "String[]"
    assert schema.models["TicketSearch"].primary_key == ("ticketId",)
    # The AI-chosen question tag (0029): its claim and the "chosen automatically" mark.
    assert {"questionTagAskedAt", "autoQuestionTagId"} <= set(search)
    # The answers of tickets from before the memory, read back from Slack (0030): due, and claimed.
    assert search["answerFetch"] == "String" and search["answerFetchClaimedAt"] == "DateTime"
    # Where an export block's running SLA clocks sit (0031).
    blocks = {f.name: f.type for f in schema.models["TicketJsonBlock"].fields}
    assert (
        blocks["runningIds"] == blocks["runningEnds"] == blocks["runningEndsWithoutDescriptions"] == "Int[]"
    )


async def test_a_new_database_migrates_to_the_schema_of_record(empty_database):
    before, after = await migrate.upgrade(empty_database)
    assert (before, after) == (None, migrate.head_revision())
    assert await differences(empty_database) == []


async def test_upgrading_an_up_to_date_database_changes_nothing(empty_database):
    await migrate.upgrade(empty_database)
    assert await migrate.upgrade(empty_database) == (migrate.head_revision(), migrate.head_revision())
    assert await differences(empty_database) == []
    status = await migrate.status(empty_database)
    assert not status.behind and "up to date" in status.describe()


async def test_status_reports_an_empty_database_as_behind(empty_database):
    status = await migrate.status(empty_database)
    assert status.current is None and status.behind


async def test_the_schema_check_notices_a_departure(db_url):
    from tests.support import postgres

    await postgres.execute(db_url, 'ALTER TABLE "Ticket" ALTER COLUMN "title" DROP NOT NULL')
    try:
        assert differences_contains(await differences(db_url), '"Ticket"."title": expected NOT NULL')
    finally:
        await postgres.execute(db_url, 'ALTER TABLE "Ticket" ALTER COLUMN "title" SET NOT NULL')


def differences_contains(problems: list[str], text: str) -> bool:
    return any(text in problem for problem in problems)
