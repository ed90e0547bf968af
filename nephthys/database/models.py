"""SQLAlchemy models for the schema of record in prisma/schema.prisma.

Python attributes are snake_case; the database names (``name=``) are the ones
existing Nephthys databases use, so a database created by Prisma is adopted as is.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, TIMESTAMP, TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Prisma's constraint names, so migrations and adopted databases agree.
NAMING = {
    "pk": "%(table_name)s_pkey",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class TicketStatus(enum.StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    CLOSED = "CLOSED"


class UserType(enum.StrEnum):
    AUTHOR = "AUTHOR"
    HELPER = "HELPER"
    OTHER = "OTHER"


class FeedbackRating(enum.StrEnum):
    NOT_GOOD = "NOT_GOOD"
    OKAY = "OKAY"
    GREAT = "GREAT"


class TicketEventKind(enum.StrEnum):
    """What happened to a ticket (a TicketEvent's kind); prisma/schema.prisma says the same."""

    OPENED = "OPENED"
    ASKER_MESSAGE = "ASKER_MESSAGE"
    HELPER_MESSAGE = "HELPER_MESSAGE"
    OTHER_MESSAGE = "OTHER_MESSAGE"
    ASSIGNED = "ASSIGNED"
    CLOSED = "CLOSED"
    REOPENED = "REOPENED"
    TAG_ADDED = "TAG_ADDED"
    TAG_REMOVED = "TAG_REMOVED"
    NUDGED = "NUDGED"
    SLA_WARNED = "SLA_WARNED"
    SLA_BREACHED = "SLA_BREACHED"


class WaitingOn(enum.StrEnum):
    """Whom an open or in-progress ticket waits on (Ticket.waitingOn; null when closed)."""

    HELPERS = "HELPERS"
    ASKER = "ASKER"


class TicketSpanKind(enum.StrEnum):
    """What a TicketSpan measures (migration 0019)."""

    FIRST_RESPONSE = "FIRST_RESPONSE"
    NEXT_RESPONSE = "NEXT_RESPONSE"
    RESOLUTION = "RESOLUTION"


class SlaState(enum.StrEnum):
    """A stored SLA clock's state as of the ticket's last change (migration 0023); a RUNNING clock
    past its "dueAt" is breached without a write (nephthys/sla/clocks.py)."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    MET = "MET"
    BREACHED = "BREACHED"


# Timestamps are UTC instants, millisecond precision as Prisma declares them.
TIMESTAMPTZ = TIMESTAMP(timezone=True, precision=3)

ticket_status_enum = Enum(TicketStatus, name="TicketStatus", create_type=False)
user_type_enum = Enum(UserType, name="UserType", create_type=False)
feedback_rating_enum = Enum(FeedbackRating, name="FeedbackRating", create_type=False)
ticket_event_kind_enum = Enum(TicketEventKind, name="TicketEventKind", create_type=False)
waiting_on_enum = Enum(WaitingOn, name="WaitingOn", create_type=False)
ticket_span_kind_enum = Enum(TicketSpanKind, name="TicketSpanKind", create_type=False)
sla_state_enum = Enum(SlaState, name="SlaState", create_type=False)


def _timestamp(**kwargs) -> Mapped:
    return mapped_column(TIMESTAMPTZ, **kwargs)


def _created_at() -> Mapped[datetime]:
    return mapped_column("createdAt", TIMESTAMPTZ, nullable=False, server_default=func.now())


# The response-time indexes' rows (migration 0021): ended first and next responses, closed tickets.
_ENDED_RESPONSES = text("\"endAt\" IS NOT NULL AND kind <> 'RESOLUTION'")
_RESOLVED = text('"resolutionMinutes" IS NOT NULL')


class User(Base):
    __tablename__ = "User"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    slack_id: Mapped[str] = mapped_column("slackId", Text, nullable=False, unique=True)
    username: Mapped[str | None] = mapped_column(Text)
    admin: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    helper: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    created_at: Mapped[datetime] = _created_at()
    # The App Home view this person last chose (nephthys/slack/home); NULL: their default.
    app_home_last_view: Mapped[str | None] = mapped_column("appHomeLastView", Text)


class Ticket(Base):
    __tablename__ = "Ticket"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    # True once an AI-written title replaced the question's first words; false: the title is the
    # question's own words, hidden from clients that may not see descriptions (migration 0016).
    title_from_ai: Mapped[bool] = mapped_column(
        "titleFromAi", Boolean, nullable=False, server_default=text("false")
    )
    description: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[TicketStatus] = mapped_column(
        ticket_status_enum, nullable=False, server_default=TicketStatus.OPEN.value
    )
    msg_ts: Mapped[str] = mapped_column("msgTs", Text, nullable=False, unique=True)
    ticket_ts: Mapped[str | None] = mapped_column("ticketTs", Text, unique=True)
    last_msg_at: Mapped[datetime | None] = _timestamp(name="lastMsgAt", server_default=func.now())
    last_msg_by: Mapped[UserType | None] = mapped_column(
        "lastMsgBy", user_type_enum, server_default=UserType.AUTHOR.value
    )
    opened_by_id: Mapped[int] = mapped_column(
        "openedById",
        ForeignKey("User.id", ondelete="RESTRICT", onupdate="CASCADE"),
        nullable=False,
    )
    reopened_by_id: Mapped[int | None] = mapped_column(
        "reopenedById", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    reopened_at: Mapped[datetime | None] = _timestamp(name="reopenedAt")
    closed_by_id: Mapped[int | None] = mapped_column(
        "closedById", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    closed_at: Mapped[datetime | None] = _timestamp(name="closedAt")
    assigned_to_id: Mapped[int | None] = mapped_column(
        "assignedToId", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    assigned_at: Mapped[datetime | None] = _timestamp(name="assignedAt")
    question_tag_id: Mapped[int | None] = mapped_column(
        "questionTagId", ForeignKey("QuestionTag.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    # The asker deleted the question but the ticket was kept (someone else had written; migration 0007).
    question_deleted_at: Mapped[datetime | None] = _timestamp(name="questionDeletedAt")
    created_at: Mapped[datetime] = _created_at()
    # Folded from the timeline by the lifecycle (migration 0019); null when closed.
    waiting_on: Mapped[WaitingOn | None] = mapped_column("waitingOn", waiting_on_enum)
    waiting_since: Mapped[datetime | None] = _timestamp(name="waitingSince")
    # The current wait on the asker's nudge (the asker follow-up), folded from the timeline too;
    # null when that wait has none (migration 0022).
    nudged_at: Mapped[datetime | None] = _timestamp(name="nudgedAt")
    # Support minutes under "SupportCalendarInUse"; null until known.
    first_response_minutes: Mapped[float | None] = mapped_column("firstResponseMinutes", Double)
    resolution_minutes: Mapped[float | None] = mapped_column("resolutionMinutes", Double)

    opened_by: Mapped[User] = relationship(foreign_keys=[opened_by_id], lazy="raise")
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id], lazy="raise")
    assigned_to: Mapped[User | None] = relationship(foreign_keys=[assigned_to_id], lazy="raise")
    reopened_by: Mapped[User | None] = relationship(foreign_keys=[reopened_by_id], lazy="raise")

    __table_args__ = (
        # /api/tickets ordered by creation (date bounds, keyset cursor) and
        # every stats window on createdAt; with the two instants the daily series'
        # cut hours read their tickets' durations from the index alone (0036).
        Index("Ticket_createdAt_id_idx", "createdAt", "id", postgresql_include=["assignedAt", "closedAt"]),
        # /api/tickets?status=… in creation order; counts by status.
        Index("Ticket_status_createdAt_id_idx", "status", "createdAt", "id"),
        # closed_today windows and the windowed helper leaderboard.
        Index("Ticket_closedAt_closedById_idx", "closedAt", "closedById"),
        # assigned_today_in_progress windows.
        Index("Ticket_assignedAt_idx", "assignedAt"),
        # /api/user tickets_opened; "tickets opened before" on the backend message.
        Index("Ticket_openedById_idx", "openedById"),
        # all-time leaderboard and /api/user tickets_closed.
        Index("Ticket_closedById_idx", "closedById"),
        # App Home: tickets assigned to a helper.
        Index("Ticket_assignedToId_idx", "assignedToId"),
        # ?waiting_on= and the asker follow-up (migration 0019).
        Index("Ticket_waitingOn_waitingSince_idx", "waitingOn", "waitingSince"),
        # The asker follow-up: waits due a nudge, nudges due a close (migration 0022).
        Index(
            "Ticket_asker_unnudged_idx",
            "waitingSince",
            postgresql_where=text(""""waitingOn" = 'ASKER' AND "nudgedAt" IS NULL"""),
        ),
        Index("Ticket_nudgedAt_idx", "nudgedAt", postgresql_where=text('"nudgedAt" IS NOT NULL')),
        # App Home "Assigned to me": a helper's unclosed tickets, oldest first (migration 0010).
        Index(
            "Ticket_assigned_unclosed_idx",
            "assignedToId",
            "createdAt",
            "id",
            postgresql_where=text("status <> 'CLOSED'"),
        ),
        # /api/stats/question_tags counts per question tag.
        Index("Ticket_questionTagId_idx", "questionTagId"),
        # oldest unanswered ticket: open tickets whose last word was not a helper's.
        Index(
            "Ticket_unanswered_lastMsgAt_idx",
            "lastMsgAt",
            postgresql_where=text("status = 'OPEN' AND \"lastMsgBy\" IS DISTINCT FROM 'HELPER'"),
        ),
        # closed_today: tickets now closed, by closedAt (index-only counts; migration 0004).
        Index("Ticket_closed_closedAt_idx", "closedAt", postgresql_where=text("status = 'CLOSED'")),
        # assigned_today_in_progress: tickets now in progress, by assignedAt (migration 0004).
        Index(
            "Ticket_in_progress_assignedAt_idx", "assignedAt", postgresql_where=text("status = 'IN_PROGRESS'")
        ),
        # the repair job: tickets whose backend message was never posted.
        Index(
            "Ticket_missing_ticketTs_idx",
            "createdAt",
            postgresql_where=text('"ticketTs" IS NULL'),
        ),
        # /api/stats/distribution over all time: the hang time at a rank, an index-only
        # read from the start of its bin in "TicketDurationCount" (migration 0012).
        Index(
            "Ticket_hang_ms_idx",
            text("""(round(date_part('epoch', "assignedAt" - "createdAt") * 1000)::bigint)"""),
            postgresql_include=["assignedAt", "createdAt"],
            postgresql_where=text('"assignedAt" IS NOT NULL'),
        ),
        # /api/stats/distribution over all time: the resolution time at a rank (migration 0012).
        Index(
            "Ticket_resolution_ms_idx",
            text("""(round(date_part('epoch', "closedAt" - "createdAt") * 1000)::bigint)"""),
            postgresql_include=["closedAt", "createdAt"],
            postgresql_where=text('"closedAt" IS NOT NULL'),
        ),
        # /api/stats/response_times (migration 0021): closed tickets' resolutions, read from the
        # index alone, by creation time, by minutes and by closer and minutes (as the spans').
        Index(
            "Ticket_resolved_createdAt_idx",
            "createdAt",
            postgresql_include=["resolutionMinutes", "closedById", "openedById", "id"],
            postgresql_where=_RESOLVED,
        ),
        Index(
            "Ticket_resolved_minutes_idx",
            "resolutionMinutes",
            postgresql_include=["createdAt"],
            postgresql_where=_RESOLVED,
        ),
        Index(
            "Ticket_resolved_closer_idx",
            "closedById",
            "resolutionMinutes",
            postgresql_include=["createdAt", "openedById"],
            postgresql_where=_RESOLVED,
        ),
    )


class QuestionTag(Base):
    __tablename__ = "QuestionTag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    label: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = _created_at()


class Tag(Base):
    __tablename__ = "Tag"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = _created_at()
    # The tag's digest to its subscribers (migration 0008): local "HH:MM" and days like "mon-fri".
    digest_time: Mapped[str | None] = mapped_column("digestTime", Text)
    digest_days: Mapped[str | None] = mapped_column("digestDays", Text)
    # The tag's own SLA targets in support minutes (migration 0023); null: none for that clock.
    sla_first_response_minutes: Mapped[int | None] = mapped_column("slaFirstResponseMinutes", Integer)
    sla_next_response_minutes: Mapped[int | None] = mapped_column("slaNextResponseMinutes", Integer)
    sla_resolution_minutes: Mapped[int | None] = mapped_column("slaResolutionMinutes", Integer)


class TagOnTicket(Base):
    __tablename__ = "tags_on_tickets"

    ticket_id: Mapped[int] = mapped_column(
        "ticketId", ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    tag_id: Mapped[int] = mapped_column("tagId", ForeignKey("Tag.id", ondelete="CASCADE", onupdate="CASCADE"))
    assigned_at: Mapped[datetime] = mapped_column(
        "assignedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )

    __table_args__ = (
        PrimaryKeyConstraint("ticketId", "tagId", name="tags_on_tickets_pkey"),
        # tickets carrying a tag (a team's work).
        Index("tags_on_tickets_tagId_idx", "tagId"),
    )


class UserTagSubscription(Base):
    __tablename__ = "user_tag_subscriptions"

    user_id: Mapped[int] = mapped_column(
        "userId", ForeignKey("User.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    tag_id: Mapped[int] = mapped_column("tagId", ForeignKey("Tag.id", ondelete="CASCADE", onupdate="CASCADE"))
    subscribed_at: Mapped[datetime] = mapped_column(
        "subscribedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )

    __table_args__ = (
        PrimaryKeyConstraint("userId", "tagId", name="user_tag_subscriptions_pkey"),
        # a tag's subscribers, to notify them.
        Index("user_tag_subscriptions_tagId_idx", "tagId"),
    )


class BotMessage(Base):
    __tablename__ = "BotMessage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ts: Mapped[str] = mapped_column(Text, nullable=False)
    channel_id: Mapped[str] = mapped_column("channelId", Text, nullable=False)
    ticket_id: Mapped[int] = mapped_column(
        "ticketId",
        ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE"),
        nullable=False,
    )

    __table_args__ = (
        UniqueConstraint("ts", "channelId", name="BotMessage_ts_channelId_key"),
        # a ticket's bot messages, to remove them with it.
        Index("BotMessage_ticketId_idx", "ticketId"),
    )


class TicketSearch(Base):
    """The team's memory of a ticket: its terms, its closing answer, its similar-tickets post
    (nephthys/memory; migration 0024)."""

    __tablename__ = "TicketSearch"

    ticket_id: Mapped[int] = mapped_column(
        "ticketId",
        ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    # nephthys/memory/terms.py: question A, its variants B, answer C, its variants D.
    document: Mapped[str] = mapped_column(TSVECTOR, nullable=False)
    question_terms: Mapped[list[str]] = mapped_column("questionTerms", ARRAY(Text), nullable=False)
    # The last helper message before the ticket closed (at most ANSWER_LIMIT characters).
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(
        "answeredById", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    answer_ts: Mapped[str | None] = mapped_column("answerTs", Text)
    answered_at: Mapped[datetime | None] = _timestamp(name="answeredAt")
    # Closed after a helper answered (the closedAt); null while open or closed without an answer.
    resolved_at: Mapped[datetime | None] = _timestamp(name="resolvedAt")
    # Its similar past tickets were posted in its backend thread (claimed once, before posting).
    similar_posted_at: Mapped[datetime | None] = _timestamp(name="similarPostedAt")
    # The AI-drafted answer was sent to the asker (claimed once, by the first click).
    draft_sent_at: Mapped[datetime | None] = _timestamp(name="draftSentAt")
    # The model was asked to choose the question tag (claimed once, before asking; migration 0029).
    question_tag_asked_at: Mapped[datetime | None] = _timestamp(name="questionTagAskedAt")
    # The question tag the model chose: "chosen automatically" while the ticket's is still this one.
    auto_question_tag_id: Mapped[int | None] = mapped_column(
        "autoQuestionTagId", ForeignKey("QuestionTag.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    # Its helpers' messages may never have been stored (a ticket from before the memory): its thread
    # is read once by the memory-answers job: "DUE" while the ticket is closed, "WAITING" while it
    # is not; None once read, or never needed (migration 0030).
    answer_fetch: Mapped[str | None] = mapped_column("answerFetch", Text)
    # That job's claim on the thread (a claim older than its lease is a run that died).
    answer_fetch_claimed_at: Mapped[datetime | None] = _timestamp(name="answerFetchClaimedAt")

    __table_args__ = (
        Index("TicketSearch_document_idx", "document", postgresql_using="gin"),
        Index(
            "TicketSearch_answerFetch_idx",
            "ticketId",
            postgresql_where=text("\"answerFetch\" = 'DUE' AND answer IS NULL"),
        ),
    )


class Surge(Base):
    """Similar tickets opened close together, told in the team channel (nephthys/memory/surges.py)."""

    __tablename__ = "Surge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    ticket_ids: Mapped[list[int]] = mapped_column("ticketIds", ARRAY(Integer), nullable=False)
    tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    started_at: Mapped[datetime] = mapped_column("startedAt", TIMESTAMPTZ, nullable=False)
    last_at: Mapped[datetime] = mapped_column("lastAt", TIMESTAMPTZ, nullable=False)
    channel_id: Mapped[str | None] = mapped_column("channelId", Text)
    ts: Mapped[str | None] = mapped_column(Text)
    post_claimed_at: Mapped[datetime | None] = _timestamp(name="postClaimedAt")

    __table_args__ = (Index("Surge_lastAt_idx", "lastAt"),)


class TicketEvent(Base):
    """One thing that happened to a ticket, at the instant Slack says it happened (migration 0018)."""

    __tablename__ = "TicketEvent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(
        "ticketId", ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE"), nullable=False
    )
    kind: Mapped[TicketEventKind] = mapped_column(ticket_event_kind_enum, nullable=False)
    at: Mapped[datetime] = mapped_column(TIMESTAMPTZ, nullable=False)
    # Who did it; null for the bot (a scheduled job).
    actor_id: Mapped[int | None] = mapped_column(
        "actorId", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    # The Slack message, when there is one (a question, a reply, a macro).
    msg_ts: Mapped[str | None] = mapped_column("msgTs", Text)
    # SLA_WARNED / SLA_BREACHED: the clock (its kind and start) it is about (migration 0023).
    sla_clock: Mapped[TicketSpanKind | None] = mapped_column("slaClock", ticket_span_kind_enum)
    clock_start_at: Mapped[datetime | None] = mapped_column("clockStartAt", TIMESTAMPTZ)

    __table_args__ = (
        # A ticket's timeline, in order.
        Index("TicketEvent_ticketId_at_id_idx", "ticketId", "at", "id"),
        Index("TicketEvent_actorId_idx", "actorId"),
        # A redelivered message is not logged twice.
        Index(
            "TicketEvent_ticketId_kind_msgTs_key",
            "ticketId",
            "kind",
            "msgTs",
            unique=True,
            postgresql_where=text('"msgTs" IS NOT NULL'),
        ),
        # Each SLA clock warns and breaches once.
        Index(
            "TicketEvent_sla_clock_key",
            "ticketId",
            "kind",
            "slaClock",
            "clockStartAt",
            unique=True,
            postgresql_where=text('"slaClock" IS NOT NULL'),
        ),
    )


class TicketSpan(Base):
    """One interval of a ticket's response measures, folded from its timeline (migration 0019)."""

    __tablename__ = "TicketSpan"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(
        "ticketId", ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE"), nullable=False
    )
    kind: Mapped[TicketSpanKind] = mapped_column(ticket_span_kind_enum, nullable=False)
    start_at: Mapped[datetime] = mapped_column("startAt", TIMESTAMPTZ, nullable=False)
    end_at: Mapped[datetime | None] = mapped_column("endAt", TIMESTAMPTZ)  # null while it runs
    # The responder (first and next response) or the closer (resolution).
    actor_id: Mapped[int | None] = mapped_column(
        "actorId", ForeignKey("User.id", ondelete="SET NULL", onupdate="CASCADE")
    )
    ticket_created_at: Mapped[datetime] = mapped_column("ticketCreatedAt", TIMESTAMPTZ, nullable=False)
    # Support minutes under "SupportCalendarInUse"; null while running.
    minutes: Mapped[float | None] = mapped_column("minutes", Double)

    __table_args__ = (
        Index("TicketSpan_ticketId_idx", "ticketId"),
        # The response-time aggregates (migration 0021): ended first and next responses, read from
        # the index alone, by creation time (short periods), by minutes (long periods, in the
        # order percentile_cont wants) and by person and minutes (long periods per helper).
        Index(
            "TicketSpan_ended_response_idx",
            "kind",
            "ticketCreatedAt",
            postgresql_include=["minutes", "actorId", "ticketId"],
            postgresql_where=_ENDED_RESPONSES,
        ),
        Index(
            "TicketSpan_ended_response_minutes_idx",
            "kind",
            "minutes",
            postgresql_include=["ticketCreatedAt"],
            postgresql_where=_ENDED_RESPONSES,
        ),
        Index(
            "TicketSpan_ended_response_actor_idx",
            "kind",
            "actorId",
            "minutes",
            postgresql_include=["ticketCreatedAt"],
            postgresql_where=_ENDED_RESPONSES,
        ),
        Index("TicketSpan_actorId_idx", "actorId"),
    )


class SupportCalendarInUse(Base):
    """The support calendar the stored minutes were counted with (one row, id 1; migration 0019)."""

    __tablename__ = "SupportCalendarInUse"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    installed_at: Mapped[datetime] = mapped_column(
        "installedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )


class SlaPolicyInUse(Base):
    """The default SLA targets, warning share and calendar the stored clocks were computed with
    (one row, id 1; migration 0023)."""

    __tablename__ = "SlaPolicyInUse"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(Text, nullable=False)
    first_response_minutes: Mapped[int | None] = mapped_column("firstResponseMinutes", Integer)
    next_response_minutes: Mapped[int | None] = mapped_column("nextResponseMinutes", Integer)
    resolution_minutes: Mapped[int | None] = mapped_column("resolutionMinutes", Integer)
    warn_at: Mapped[float] = mapped_column("warnAt", Double, nullable=False, server_default=text("0.75"))
    installed_at: Mapped[datetime] = mapped_column(
        "installedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )
    # A policy change's recompute, in the background (migration 0032; nephthys/sla/install.py): the
    # policy it brings the clocks to (None: none pending), its cursors (active tickets first) and progress.
    recompute_key: Mapped[str | None] = mapped_column("recomputeKey", Text)
    recompute_started_at: Mapped[datetime | None] = mapped_column("recomputeStartedAt", TIMESTAMPTZ)
    recompute_active_after: Mapped[int] = mapped_column(
        "recomputeActiveAfter", Integer, nullable=False, server_default=text("0")
    )
    recompute_active_done_at: Mapped[datetime | None] = mapped_column("recomputeActiveDoneAt", TIMESTAMPTZ)
    recompute_after: Mapped[int] = mapped_column(
        "recomputeAfter", Integer, nullable=False, server_default=text("0")
    )
    recomputed_tickets: Mapped[int] = mapped_column(
        "recomputedTickets", Integer, nullable=False, server_default=text("0")
    )


class TicketSlaClock(Base):
    """A ticket's latest SLA clock of one kind, as its last change left it (migration 0023)."""

    __tablename__ = "TicketSlaClock"

    ticket_id: Mapped[int] = mapped_column(
        "ticketId", ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE")
    )
    kind: Mapped[TicketSpanKind] = mapped_column(ticket_span_kind_enum, nullable=False)
    ticket_created_at: Mapped[datetime] = mapped_column("ticketCreatedAt", TIMESTAMPTZ, nullable=False)
    target_minutes: Mapped[int] = mapped_column("targetMinutes", Integer, nullable=False)
    start_at: Mapped[datetime] = mapped_column("startAt", TIMESTAMPTZ, nullable=False)  # the clock's identity
    state: Mapped[SlaState] = mapped_column(sla_state_enum, nullable=False)
    # Support minutes taken: in all (met, breached, paused), or before "runningSince" (running).
    minutes: Mapped[float] = mapped_column(Double, nullable=False)
    running_since: Mapped[datetime | None] = mapped_column("runningSince", TIMESTAMPTZ)
    due_at: Mapped[datetime | None] = mapped_column("dueAt", TIMESTAMPTZ)
    warn_at: Mapped[datetime | None] = mapped_column("warnAt", TIMESTAMPTZ)
    # The watcher's next work on it: the warning until logged, then the breach until logged.
    action_at: Mapped[datetime | None] = mapped_column("actionAt", TIMESTAMPTZ)
    # An earlier clock of this kind (a next response) was breached.
    missed_before: Mapped[bool] = mapped_column(
        "missedBefore", Boolean, nullable=False, server_default=text("false")
    )

    __table_args__ = (
        PrimaryKeyConstraint("ticketId", "kind", name="TicketSlaClock_pkey"),
        Index("TicketSlaClock_actionAt_idx", "actionAt", postgresql_where=text('"actionAt" IS NOT NULL')),
        Index("TicketSlaClock_running_dueAt_idx", "dueAt", postgresql_where=text("state = 'RUNNING'")),
        # The tickets with a running clock in a creation range: their objects' sla is rewritten as served.
        Index(
            "TicketSlaClock_running_ticket_idx",
            "ticketCreatedAt",
            "ticketId",
            postgresql_where=text("state = 'RUNNING'"),
        ),
        # /api/stats/sla reads one kind's range of it alone.
        Index(
            "TicketSlaClock_kind_ticketCreatedAt_idx",
            "kind",
            "ticketCreatedAt",
            postgresql_include=["state", "minutes", "dueAt", "missedBefore"],
        ),
    )


class Feedback(Base):
    """The asker's rating of a resolved ticket (migration 0007); one row per ticket and asker."""

    __tablename__ = "Feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(
        "ticketId", ForeignKey("Ticket.id", ondelete="CASCADE", onupdate="CASCADE"), nullable=False
    )
    created_by_id: Mapped[int] = mapped_column(
        "createdById", ForeignKey("User.id", ondelete="CASCADE", onupdate="CASCADE"), nullable=False
    )
    rating: Mapped[FeedbackRating] = mapped_column(feedback_rating_enum, nullable=False)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()

    __table_args__ = (
        UniqueConstraint("ticketId", "createdById", name="Feedback_ticketId_createdById_key"),
        # /api/stats/feedback: feedback created in a range.
        Index("Feedback_createdAt_idx", "createdAt"),
    )


class SlackEvent(Base):
    __tablename__ = "SlackEvent"

    event_id: Mapped[str] = mapped_column("eventId", Text, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(
        "receivedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )
    processed_at: Mapped[datetime | None] = _timestamp(name="processedAt")
    payload: Mapped[dict | None] = mapped_column(JSONB)

    __table_args__ = (
        # pruning old de-duplication records.
        Index("SlackEvent_receivedAt_idx", "receivedAt"),
        # replaying unfinished deliveries, oldest first.
        Index(
            "SlackEvent_unfinished_receivedAt_idx",
            "receivedAt",
            postgresql_where=text('"processedAt" IS NULL'),
        ),
    )


class JobRun(Base):
    """One period of a scheduled job (nephthys/tasks/runner.py): claimed, then finished with its outcome."""

    __tablename__ = "JobRun"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(Text, nullable=False)
    period: Mapped[str] = mapped_column(Text, nullable=False)
    started_at: Mapped[datetime] = mapped_column(
        "startedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )
    finished_at: Mapped[datetime | None] = _timestamp(name="finishedAt")
    # done, failed or skipped; NULL while running (or when the run died halfway).
    outcome: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("job", "period", name="JobRun_job_period_key"),
        # `nephthys jobs list`: a job's last run.
        Index("JobRun_job_startedAt_idx", "job", "startedAt"),
    )


def _counter(name: str | None = None) -> Mapped[int]:
    return mapped_column(name, BigInteger, nullable=False, server_default=text("0"))


class TicketCounters:
    """The counters of the totals: tickets by status, and counts and millisecond sums of durations.

    TicketTotals holds them; each TicketTotalsPending row holds a change to add to them.
    """

    open: Mapped[int] = _counter()
    in_progress: Mapped[int] = _counter("inProgress")
    closed: Mapped[int] = _counter()
    hang_count: Mapped[int] = _counter("hangCount")
    hang_sum_ms: Mapped[int] = _counter("hangSumMs")
    hang_unresolved_count: Mapped[int] = _counter("hangUnresolvedCount")
    hang_unresolved_sum_ms: Mapped[int] = _counter("hangUnresolvedSumMs")
    resolution_count: Mapped[int] = _counter("resolutionCount")
    resolution_sum_ms: Mapped[int] = _counter("resolutionSumMs")


class TicketTotals(TicketCounters, Base):
    """Running totals over every ticket (one row), kept by triggers on "Ticket" (migration 0003).

    ``version`` takes a new value in every transaction that changes a ticket or a
    user; sums are milliseconds. Read by nephthys.stats; never written by the app.
    """

    __tablename__ = "TicketTotals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("1"))
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))

    __table_args__ = (CheckConstraint("id = 1", name="TicketTotals_one_row"),)


class TicketTotalsPending(TicketCounters, Base):
    """A statement's change to the totals, added to them when its transaction commits (migration 0005)."""

    __tablename__ = "TicketTotalsPending"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    # After the counters, as the table has it (mixin columns otherwise come last).
    closed_by_user: Mapped[dict] = mapped_column(
        "closedByUser", JSONB, nullable=False, server_default=text("'{}'::jsonb"), sort_order=1
    )


class UserClosedCount(Base):
    """Tickets closed per user (``closedById``), kept by triggers on "Ticket" (migration 0003)."""

    __tablename__ = "UserClosedCount"

    user_id: Mapped[int] = mapped_column("userId", Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class ActiveTicketJson(Base):
    """An open or in-progress ticket's API JSON, kept by triggers (migration 0011)."""

    __tablename__ = "ActiveTicketJson"
    __table_args__ = (
        Index(None, "createdAt", "ticketId"),
        Index(None, "waitingOn", "createdAt", "ticketId"),
        *(
            Index(
                f"ActiveTicketJson_{status.lower()}_createdAt_ticketId_idx",
                "createdAt",
                "ticketId",
                postgresql_where=text(f"status = '{status}'"),
            )
            for status in ("OPEN", "IN_PROGRESS")
        ),
    )

    ticket_id: Mapped[int] = mapped_column("ticketId", Integer, primary_key=True, autoincrement=False)
    status: Mapped[TicketStatus] = mapped_column(ticket_status_enum, nullable=False)
    created_at: Mapped[datetime] = mapped_column("createdAt", TIMESTAMPTZ, nullable=False)
    json: Mapped[str] = mapped_column(Text, nullable=False)
    description_at: Mapped[int] = mapped_column("descriptionAt", Integer, nullable=False)
    description_length: Mapped[int] = mapped_column("descriptionLength", Integer, nullable=False)
    # The ticket's, for ?waiting_on= in creation order (migration 0020).
    waiting_on: Mapped[WaitingOn | None] = mapped_column("waitingOn", waiting_on_enum)


class ClosedTicketJson(Base):
    """A closed ticket's API JSON, kept by triggers (migration 0011)."""

    __tablename__ = "ClosedTicketJson"
    __table_args__ = (Index(None, "createdAt", "ticketId"),)

    ticket_id: Mapped[int] = mapped_column("ticketId", Integer, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column("createdAt", TIMESTAMPTZ, nullable=False)
    json: Mapped[str] = mapped_column(Text, nullable=False)
    description_at: Mapped[int] = mapped_column("descriptionAt", Integer, nullable=False)
    description_length: Mapped[int] = mapped_column("descriptionLength", Integer, nullable=False)


class TicketJsonChange(Base):
    """A change of a stored ticket object, noted by triggers in its transaction (migration 0014).

    ``xid`` is the transaction's id (xid8 as a bigint); no ticket: everything changed (a TRUNCATE).
    """

    __tablename__ = "TicketJsonChange"
    __table_args__ = (Index(None, "xid"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    xid: Mapped[int] = mapped_column(BigInteger, nullable=False)
    ticket_id: Mapped[int | None] = mapped_column("ticketId", Integer)
    created_at: Mapped[datetime | None] = mapped_column("createdAt", TIMESTAMPTZ)


class TicketJsonBlock(Base):
    """The stored objects of the tickets in [start, end) of (createdAt, ticketId), joined (migration 0014).

    Each object is preceded by a comma (``jsonWithoutDescriptions``: the same objects without
    their descriptions); ``snapshot`` (a pg_snapshot) is the one the
    block was read in, ``snapshotXmin`` its xmin. Blocks tile the key space. Built by
    nephthys.tasks.ticket_json.
    """

    __tablename__ = "TicketJsonBlock"

    start_at: Mapped[datetime] = mapped_column("startAt", TIMESTAMPTZ, primary_key=True)
    start_id: Mapped[int] = mapped_column("startId", Integer, primary_key=True, autoincrement=False)
    end_at: Mapped[datetime] = mapped_column("endAt", TIMESTAMPTZ, nullable=False)
    end_id: Mapped[int] = mapped_column("endId", Integer, nullable=False)
    tickets: Mapped[int] = mapped_column(Integer, nullable=False)
    json: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    json_without_descriptions: Mapped[bytes] = mapped_column(
        "jsonWithoutDescriptions", LargeBinary, nullable=False
    )
    snapshot: Mapped[str] = mapped_column(Text, nullable=False)
    snapshot_xmin: Mapped[int] = mapped_column("snapshotXmin", BigInteger, nullable=False)
    # The tickets whose stored sla has a running clock, in order, and where each of their objects
    # ends (octets from the block's start) in json and in jsonWithoutDescriptions (migration 0031).
    running_ids: Mapped[list[int]] = mapped_column("runningIds", ARRAY(Integer), nullable=False)
    running_ends: Mapped[list[int]] = mapped_column("runningEnds", ARRAY(Integer), nullable=False)
    running_ends_without_descriptions: Mapped[list[int]] = mapped_column(
        "runningEndsWithoutDescriptions", ARRAY(Integer), nullable=False
    )


class TicketJsonChangeHorizon(Base):
    """Notes below ``prunedBelow`` may be gone; the next prune (a period after ``prunedAt``) forgets those below ``pruneNextBelow``."""

    __tablename__ = "TicketJsonChangeHorizon"
    __table_args__ = (CheckConstraint("id = 1", name="TicketJsonChangeHorizon_one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, server_default=text("1"))
    pruned_below: Mapped[int] = mapped_column(
        "prunedBelow", BigInteger, nullable=False, server_default=text("0")
    )
    prune_next_below: Mapped[int] = mapped_column(
        "pruneNextBelow", BigInteger, nullable=False, server_default=text("0")
    )
    pruned_at: Mapped[datetime] = mapped_column(
        "prunedAt", TIMESTAMPTZ, nullable=False, server_default=func.now()
    )


class TicketDurationCount(Base):
    """Tickets per duration bin of each metric, kept by triggers on "Ticket" (migration 0012).

    ``metric`` is ``hang`` or ``resolution``; bin 0 holds durations <= 0 ms, bin m
    (1..10080) durations in ((m - 1)·60000, m·60000] ms, bin 10080 + h those in
    (604800000 + (h - 1)·3600000, 604800000 + h·3600000] ms. Read by nephthys.stats.distribution.
    """

    __tablename__ = "TicketDurationCount"

    metric: Mapped[str] = mapped_column(Text, primary_key=True)
    bin: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class TicketDurationPending(Base):
    """A statement's change to "TicketDurationCount", added to it when its transaction commits (migration 0012).

    ``bins``: ``{"<metric>:<bin>": <change in tickets>}``.
    """

    __tablename__ = "TicketDurationPending"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    bins: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default=text("'{}'::jsonb"))


class DailyFigures(Base):
    """One day of /api/stats/daily as computed, kept until a ticket change touches it (migration 0012).

    The day is ``[dayStart, dayEnd)`` (a local day in some zone); the percentiles are
    milliseconds (p50, p90, p95), NULL when no ticket qualified. Written and read by
    nephthys.stats.daily; rows are deleted by triggers on "Ticket" at commit.
    """

    __tablename__ = "DailyFigures"

    day_start: Mapped[datetime] = mapped_column(
        "dayStart", TIMESTAMP(timezone=True, precision=3), primary_key=True
    )
    day_end: Mapped[datetime] = mapped_column(
        "dayEnd", TIMESTAMP(timezone=True, precision=3), primary_key=True
    )
    new_tickets: Mapped[int] = mapped_column("newTickets", BigInteger, nullable=False)
    closed_tickets: Mapped[int] = mapped_column("closedTickets", BigInteger, nullable=False)
    unresolved_at_end: Mapped[int] = mapped_column("unresolvedAtEnd", BigInteger, nullable=False)
    hang_p50_ms: Mapped[float | None] = mapped_column("hangP50Ms", Double)
    hang_p90_ms: Mapped[float | None] = mapped_column("hangP90Ms", Double)
    hang_p95_ms: Mapped[float | None] = mapped_column("hangP95Ms", Double)
    resolution_p50_ms: Mapped[float | None] = mapped_column("resolutionP50Ms", Double)
    resolution_p90_ms: Mapped[float | None] = mapped_column("resolutionP90Ms", Double)
    resolution_p95_ms: Mapped[float | None] = mapped_column("resolutionP95Ms", Double)
    # The zone whose request stored the day, forgotten with it (migration 0017).
    zone: Mapped[str] = mapped_column(Text, nullable=False)

    __table_args__ = (
        # the triggers' deletions: the days ending after a changed ticket's instant.
        Index("DailyFigures_dayEnd_idx", "dayEnd"),
        # forgetting a zone's days
        Index("DailyFigures_zone_idx", "zone"),
    )


class DailyFiguresZone(Base):
    """Per zone with kept days, when a request last read or stored them (migration 0017).

    Written at most once a minute per zone; the least recently used zone goes first at the cap.
    """

    __tablename__ = "DailyFiguresZone"

    zone: Mapped[str] = mapped_column(Text, primary_key=True)
    last_used_at: Mapped[datetime] = mapped_column(
        "lastUsedAt", TIMESTAMP(timezone=True, precision=3), nullable=False
    )


class DailyFiguresStore(Base):
    """One row (id 1) that every request storing days updates first, so storers count the kept days exactly."""

    __tablename__ = "DailyFiguresStore"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    stored_at: Mapped[datetime | None] = mapped_column("storedAt", TIMESTAMP(timezone=True, precision=3))


class DailyFiguresPending(Base):
    """A statement's days to forget, deleted from "DailyFigures" when its transaction commits (migration 0012).

    ``points``: the days holding these instants (a JSON list); ``ranges``: ``[after, until]``
    pairs, the days ending after ``after`` and starting at or before ``until`` (null: every later day).
    """

    __tablename__ = "DailyFiguresPending"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    points: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    ranges: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))


class TicketHourFigures(Base):
    """Ticket figures per UTC hour ``[hour, hour + 1 h)``, kept exact by triggers on "Ticket" (migration 0025).

    Of the tickets created in the hour: how many are open, in progress, closed (and closed
    with a ``closedAt``) now, and the counts and sums (exact milliseconds) of their hang
    and resolution times; ``closedAny``: tickets whose ``closedAt`` is in the hour,
    ``closedNowClosed`` those of them closed now; ``assignedInProgress``: tickets now in
    progress whose ``assignedAt`` is in the hour. Read by nephthys.stats.hourly.
    """

    __tablename__ = "TicketHourFigures"

    hour: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True, precision=3), primary_key=True)
    created_open: Mapped[int] = mapped_column(
        "createdOpen", BigInteger, nullable=False, server_default=text("0")
    )
    created_in_progress: Mapped[int] = mapped_column(
        "createdInProgress", BigInteger, nullable=False, server_default=text("0")
    )
    created_closed: Mapped[int] = mapped_column(
        "createdClosed", BigInteger, nullable=False, server_default=text("0")
    )
    created_closed_dated: Mapped[int] = mapped_column(
        "createdClosedDated", BigInteger, nullable=False, server_default=text("0")
    )
    hang_count: Mapped[int] = mapped_column("hangCount", BigInteger, nullable=False, server_default=text("0"))
    hang_sum_ms: Mapped[int] = mapped_column(
        "hangSumMs", BigInteger, nullable=False, server_default=text("0")
    )
    hang_unresolved_count: Mapped[int] = mapped_column(
        "hangUnresolvedCount", BigInteger, nullable=False, server_default=text("0")
    )
    hang_unresolved_sum_ms: Mapped[int] = mapped_column(
        "hangUnresolvedSumMs", BigInteger, nullable=False, server_default=text("0")
    )
    resolution_count: Mapped[int] = mapped_column(
        "resolutionCount", BigInteger, nullable=False, server_default=text("0")
    )
    resolution_sum_ms: Mapped[int] = mapped_column(
        "resolutionSumMs", BigInteger, nullable=False, server_default=text("0")
    )
    closed_any: Mapped[int] = mapped_column("closedAny", BigInteger, nullable=False, server_default=text("0"))
    closed_now_closed: Mapped[int] = mapped_column(
        "closedNowClosed", BigInteger, nullable=False, server_default=text("0")
    )
    closed_now_closed_rated: Mapped[int] = mapped_column(
        "closedNowClosedRated", BigInteger, nullable=False, server_default=text("0")
    )
    assigned_in_progress: Mapped[int] = mapped_column(
        "assignedInProgress", BigInteger, nullable=False, server_default=text("0")
    )


class TicketClosedByPeriod(Base):
    """Tickets closed per helper by ``closedAt`` in epoch-aligned periods of an hour, a day, 32 days (migration 0025)."""

    __tablename__ = "TicketClosedByPeriod"

    period_seconds: Mapped[int] = mapped_column(
        "periodSeconds", Integer, primary_key=True, autoincrement=False
    )
    period_start: Mapped[datetime] = mapped_column(
        "periodStart", TIMESTAMP(timezone=True, precision=3), primary_key=True
    )
    user_id: Mapped[int] = mapped_column("userId", Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))


class TicketHourDurations(Base):
    """The hang and resolution times of the tickets created in each UTC hour (migration 0025): ascending
    milliseconds, each a big-endian 8-byte integer."""

    __tablename__ = "TicketHourDurations"

    hour: Mapped[datetime] = mapped_column(TIMESTAMP(timezone=True, precision=3), primary_key=True)
    hang_ms: Mapped[bytes] = mapped_column("hangMs", LargeBinary, nullable=False, server_default=text("''"))
    resolution_ms: Mapped[bytes] = mapped_column(
        "resolutionMs", LargeBinary, nullable=False, server_default=text("''")
    )


class TicketFiguresPending(Base):
    """A statement's change to the hourly figures, added to them when its transaction commits (migration 0025)."""

    __tablename__ = "TicketFiguresPending"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    hours: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    closers: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    durations: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    feedback: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))


class FeedbackByPeriod(Base):
    """Feedback per rating and credited user (the ticket's closer while closed, else 0) by ``createdAt``,
    in epoch-aligned periods of an hour, a day, 32 days; kept by triggers (migration 0025)."""

    __tablename__ = "FeedbackByPeriod"

    period_seconds: Mapped[int] = mapped_column(
        "periodSeconds", Integer, primary_key=True, autoincrement=False
    )
    period_start: Mapped[datetime] = mapped_column(
        "periodStart", TIMESTAMP(timezone=True, precision=3), primary_key=True
    )
    user_id: Mapped[int] = mapped_column("userId", Integer, primary_key=True, autoincrement=False)
    rating: Mapped[FeedbackRating] = mapped_column(feedback_rating_enum, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))

    __table_args__ = (Index("FeedbackByPeriod_userId_idx", "userId", "periodSeconds", "periodStart"),)


__all__ = [
    "ActiveTicketJson",
    "ClosedTicketJson",
    "TicketJsonBlock",
    "TicketJsonChange",
    "TicketJsonChangeHorizon",
    "ApiKey",
    "Base",
    "BotMessage",
    "DailyFigures",
    "DailyFiguresPending",
    "DailyFiguresStore",
    "DailyFiguresZone",
    "Feedback",
    "FeedbackByPeriod",
    "FeedbackRating",
    "JobRun",
    "QuestionTag",
    "SlackEvent",
    "Tag",
    "TagOnTicket",
    "Ticket",
    "TicketDurationCount",
    "TicketDurationPending",
    "TicketClosedByPeriod",
    "TicketFiguresPending",
    "TicketHourDurations",
    "TicketHourFigures",
    "TicketStatus",
    "TicketTotals",
    "TicketTotalsPending",
    "User",
    "UserClosedCount",
    "UserTagSubscription",
    "UserType",
]


class ApiKey(Base):
    """A key for /api/*; only its SHA-256 hash is stored (nephthys.api.keys)."""

    __tablename__ = "ApiKey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    key_hash: Mapped[str] = mapped_column("keyHash", Text, nullable=False, unique=True)
    created_at: Mapped[datetime] = _created_at()
    last_used_at: Mapped[datetime | None] = _timestamp(name="lastUsedAt")


class ResponseTimeCounts(Base):
    """Response-time values per measure, group and epoch-aligned period of 1, 8 or 64 UTC days of the
    ticket's creation, counted per value bucket; kept by triggers (migration 0027)."""

    __tablename__ = "ResponseTimeCounts"

    # 0: all (groupId 0), 1: a team tag, 2: a helper.
    group_kind: Mapped[int] = mapped_column("groupKind", Integer, primary_key=True, autoincrement=False)
    period_days: Mapped[int] = mapped_column("periodDays", Integer, primary_key=True, autoincrement=False)
    # Days since 1970-01-01 (UTC), a multiple of periodDays.
    period_start: Mapped[int] = mapped_column("periodStart", Integer, primary_key=True, autoincrement=False)
    group_id: Mapped[int] = mapped_column("groupId", Integer, primary_key=True, autoincrement=False)
    # 0: first response, 1: next response, 2: resolution.
    measure: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sum: Mapped[float] = mapped_column(Numeric, nullable=False)
    # Values per bucket (response_time_bucket): big-endian 4-byte integers, the first for bucket ``low``.
    low: Mapped[int] = mapped_column(Integer, nullable=False)
    counts: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ResponseTimeTagValues(Base):
    """A team tag's response-time values with their multiplicity, in order (migration 0027)."""

    __tablename__ = "ResponseTimeTagValues"

    tag_id: Mapped[int] = mapped_column("tagId", Integer, primary_key=True, autoincrement=False)
    measure: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    minutes: Mapped[float] = mapped_column(Double, primary_key=True)
    created_at: Mapped[datetime] = mapped_column("createdAt", TIMESTAMPTZ, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False)


class ResponseTimePending(Base):
    """A statement's change to the response-time counts, applied when its transaction commits (migration 0027)."""

    __tablename__ = "ResponseTimePending"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    changes: Mapped[list] = mapped_column(JSONB, nullable=False, server_default=text("'[]'::jsonb"))
    rebuild: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
