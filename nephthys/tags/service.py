"""Team tags and question tags: data access (keyword-only functions, caller's transaction).

Team tags name the people responsible for a kind of problem; helpers subscribe to
them and hear about open tickets that get tagged. Question tags name recurring
questions; a ticket has at most one. Names are trimmed, limited to what a Slack
option can show, and unique regardless of case. Nothing here talks to Slack.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from nephthys.database import raw
from nephthys.database.models import (
    QuestionTag,
    Tag,
    TagOnTicket,
    Ticket,
    TicketEventKind,
    TicketStatus,
    User,
    UserTagSubscription,
)
from nephthys.sla import clocks as sla_clocks
from nephthys.sla.policy import SlaTargets
from nephthys.tickets import events
from nephthys.tickets.events import Event

# Slack shows at most 75 characters of an option's text (select menus, multi-selects).
MAX_NAME_LENGTH = 75
# An external_select answers with at most 100 options.
MAX_OPTIONS = 100

# Serialises name checks so two helpers creating "Auth" and "auth" at once get one tag.
_TAG_NAMES_LOCK = 7_301_001
_QUESTION_TAG_LABELS_LOCK = 7_301_002


class NameProblem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    TAKEN = "taken"


@dataclass(frozen=True)
class NameRejected:
    """A tag or question-tag name that cannot be used, and why."""

    problem: NameProblem
    name: str
    max_length: int = MAX_NAME_LENGTH


@dataclass(frozen=True)
class TagView:
    id: int
    name: str


@dataclass(frozen=True)
class TagNotification:
    """Tell subscriber ``slack_id`` that ``tag`` was added to ticket ``ticket_id``."""

    slack_id: str
    tag: TagView
    ticket_id: int


@dataclass(frozen=True)
class TagsChanged:
    """What changed on a ticket's tags, and whom to tell."""

    ticket_id: int
    added: tuple[TagView, ...] = ()
    removed: tuple[TagView, ...] = ()
    notifications: tuple[TagNotification, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.added or self.removed)


def _fold_whitespace(text: str) -> str:
    """``text`` trimmed, with inner runs of whitespace made one space: names as stored and searched."""
    return re.sub(r"\s+", " ", text).strip()


def clean_name(raw: str | None) -> str | NameRejected:
    """``raw`` with its whitespace folded, or why it cannot be a name."""
    name = _fold_whitespace(raw or "")
    if not name:
        return NameRejected(NameProblem.EMPTY, name)
    if len(name) > MAX_NAME_LENGTH:
        return NameRejected(NameProblem.TOO_LONG, name)
    return name


def _view(tag: Tag) -> TagView:
    return TagView(id=tag.id, name=tag.name)


# --- team tags -------------------------------------------------------------------------------


async def create_tag(session: AsyncSession, *, name: str | None) -> TagView | NameRejected:
    """Create a team tag, unless its cleaned name is empty, too long or taken (any case)."""
    cleaned = clean_name(name)
    if isinstance(cleaned, NameRejected):
        return cleaned
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TAG_NAMES_LOCK})
    existing = await session.scalar(select(Tag).where(func.lower(Tag.name) == cleaned.lower()))
    if existing is not None:
        return NameRejected(NameProblem.TAKEN, existing.name)
    tag = Tag(name=cleaned)
    session.add(tag)
    await session.flush()
    return _view(tag)


async def list_tags(session: AsyncSession) -> list[TagView]:
    """Every team tag, by name (case-insensitively)."""
    tags = await session.scalars(select(Tag).order_by(func.lower(Tag.name), Tag.id))
    return [_view(tag) for tag in tags]


async def tag_options(session: AsyncSession, *, typed: str = "") -> list[TagView]:
    """Team tags whose name contains what the helper typed (any case), at most MAX_OPTIONS."""
    return await _options(session, Tag.id, Tag.name, typed)


async def _options(
    session: AsyncSession,
    id_column: InstrumentedAttribute[int],
    name_column: InstrumentedAttribute[str],
    typed: str,
) -> list[TagView]:
    """Rows whose name contains ``typed`` (whitespace folded, any case), by name, at most MAX_OPTIONS."""
    query = select(id_column, name_column).order_by(func.lower(name_column), id_column).limit(MAX_OPTIONS)
    typed = _fold_whitespace(typed or "")
    if typed:
        query = query.where(name_column.ilike(_like_pattern(typed), escape="\\"))
    return [TagView(id=row_id, name=name) for row_id, name in await session.execute(query)]


def _like_pattern(typed: str) -> str:
    escaped = typed.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def tags_named(session: AsyncSession, *, names: Iterable[str]) -> tuple[list[TagView], list[str]]:
    """The tags called ``names`` (any case), and the names no tag has."""
    wanted = {clean: clean for clean in (_fold_whitespace(n) for n in names) if clean}
    if not wanted:
        return [], []
    found = await session.scalars(
        select(Tag).where(func.lower(Tag.name).in_([n.lower() for n in wanted])).order_by(Tag.id)
    )
    tags = [_view(tag) for tag in found]
    known = {tag.name.lower() for tag in tags}
    unknown = [name for name in wanted if name.lower() not in known]
    return tags, unknown


_TAGS_ON_TICKET = text(
    """SELECT g.id, g.name FROM tags_on_tickets o JOIN "Tag" g ON g.id = o."tagId"
       WHERE o."ticketId" = :ticket_id ORDER BY o."assignedAt", g.id"""
)


async def tags_on_ticket(session: raw.Executor, *, ticket_id: int) -> list[TagView]:
    """The team tags on a ticket, in the order they were added (a text statement: the backend
    message reads it on the hot path's raw connection too)."""
    rows = await session.execute(_TAGS_ON_TICKET, {"ticket_id": ticket_id})
    return [TagView(id=row.id, name=row.name) for row in rows]


async def add_tags_to_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    tag_ids: Iterable[int],
    added_by_slack_id: str | None,
    at: datetime | None = None,
) -> TagsChanged:
    """Put tags on a ticket; subscribers of the newly added ones hear of it while the ticket is open.

    A tag already on the ticket is not added again and notifies no one (the
    insert skips it, so this holds when two helpers add it at once). Each added tag is a
    TAG_ADDED event on the ticket's timeline, by the tagger, at ``at`` (the click's
    ``action_ts`` or the macro's ts; None: the database's clock).
    """
    ids = sorted(set(tag_ids))
    if not ids:
        return TagsChanged(ticket_id=ticket_id)
    inserted = await session.scalars(
        insert(TagOnTicket)
        .values([{"ticket_id": ticket_id, "tag_id": tag_id} for tag_id in ids])
        .on_conflict_do_nothing(index_elements=["ticketId", "tagId"])
        .returning(TagOnTicket.tag_id)
    )
    added_ids = sorted(inserted)
    if not added_ids:
        return TagsChanged(ticket_id=ticket_id)
    await _log_tag_events(
        session, ticket_id, TicketEventKind.TAG_ADDED, len(added_ids), by_slack_id=added_by_slack_id, at=at
    )
    await sla_clocks.refresh(session, [ticket_id])  # its targets may be stricter now
    added = [
        _view(tag) for tag in await session.scalars(select(Tag).where(Tag.id.in_(added_ids)).order_by(Tag.id))
    ]
    status = await session.scalar(select(Ticket.status).where(Ticket.id == ticket_id))
    notifications: list[TagNotification] = []
    if status is not None and status != TicketStatus.CLOSED:
        notifications = await _subscribers_to_notify(
            session, ticket_id=ticket_id, tags=added, except_slack_id=added_by_slack_id
        )
    return TagsChanged(ticket_id=ticket_id, added=tuple(added), notifications=tuple(notifications))


async def _subscribers_to_notify(
    session: AsyncSession, *, ticket_id: int, tags: Sequence[TagView], except_slack_id: str | None
) -> list[TagNotification]:
    by_id = {tag.id: tag for tag in tags}
    query = (
        select(UserTagSubscription.tag_id, User.slack_id)
        .join(User, User.id == UserTagSubscription.user_id)
        .where(UserTagSubscription.tag_id.in_(list(by_id)))
        .order_by(UserTagSubscription.tag_id, User.slack_id)
    )
    if except_slack_id is not None:
        query = query.where(User.slack_id != except_slack_id)
    rows = await session.execute(query)
    return [
        TagNotification(slack_id=slack_id, tag=by_id[tag_id], ticket_id=ticket_id)
        for tag_id, slack_id in rows
    ]


async def remove_tags_from_ticket(
    session: AsyncSession,
    *,
    ticket_id: int,
    tag_ids: Iterable[int],
    removed_by_slack_id: str | None = None,
    at: datetime | None = None,
) -> TagsChanged:
    """Take tags off a ticket; returns the ones that were on it.

    Each one taken off is a TAG_REMOVED event, by ``removed_by_slack_id`` at ``at`` (as adding).
    """
    ids = sorted(set(tag_ids))
    if not ids:
        return TagsChanged(ticket_id=ticket_id)
    deleted = await session.scalars(
        delete(TagOnTicket)
        .where(TagOnTicket.ticket_id == ticket_id, TagOnTicket.tag_id.in_(ids))
        .returning(TagOnTicket.tag_id)
    )
    removed_ids = sorted(deleted)
    if not removed_ids:
        return TagsChanged(ticket_id=ticket_id)
    await _log_tag_events(
        session,
        ticket_id,
        TicketEventKind.TAG_REMOVED,
        len(removed_ids),
        by_slack_id=removed_by_slack_id,
        at=at,
    )
    await sla_clocks.refresh(session, [ticket_id])  # its targets may be looser now
    removed = await session.scalars(select(Tag).where(Tag.id.in_(removed_ids)).order_by(Tag.id))
    return TagsChanged(ticket_id=ticket_id, removed=tuple(_view(tag) for tag in removed))


async def set_ticket_tags(
    session: AsyncSession,
    *,
    ticket_id: int,
    tag_ids: Iterable[int],
    set_by_slack_id: str | None,
    at: datetime | None = None,
) -> TagsChanged:
    """Make the ticket's tags exactly ``tag_ids`` (a multi-select's whole selection)."""
    wanted = set(tag_ids)
    current = {tag.id for tag in await tags_on_ticket(session, ticket_id=ticket_id)}
    removed = await remove_tags_from_ticket(
        session, ticket_id=ticket_id, tag_ids=current - wanted, removed_by_slack_id=set_by_slack_id, at=at
    )
    existing = set(await session.scalars(select(Tag.id).where(Tag.id.in_(wanted - current))))
    added = await add_tags_to_ticket(
        session, ticket_id=ticket_id, tag_ids=existing, added_by_slack_id=set_by_slack_id, at=at
    )
    return TagsChanged(
        ticket_id=ticket_id, added=added.added, removed=removed.removed, notifications=added.notifications
    )


async def _log_tag_events(
    session: AsyncSession,
    ticket_id: int,
    kind: TicketEventKind,
    count: int,
    *,
    by_slack_id: str | None,
    at: datetime | None,
) -> None:
    """``count`` tag events on the ticket's timeline, by the user ``by_slack_id`` (None: the bot)."""
    actor_id = None
    if by_slack_id is not None:
        actor_id = await session.scalar(select(User.id).where(User.slack_id == by_slack_id))
    await events.record_events(session, ticket_id=ticket_id, at=at, events=[Event(kind, actor_id)] * count)


# --- subscriptions ---------------------------------------------------------------------------


async def subscribe(session: AsyncSession, *, user_id: int, tag_id: int) -> bool:
    """Subscribe a user to a tag; False when already subscribed or the tag is gone."""
    if await session.scalar(select(Tag.id).where(Tag.id == tag_id)) is None:
        return False
    inserted = await session.scalar(
        insert(UserTagSubscription)
        .values(user_id=user_id, tag_id=tag_id)
        .on_conflict_do_nothing(index_elements=["userId", "tagId"])
        .returning(UserTagSubscription.tag_id)
    )
    return inserted is not None


async def unsubscribe(session: AsyncSession, *, user_id: int, tag_id: int) -> bool:
    """Unsubscribe a user from a tag; False when they were not subscribed."""
    deleted = await session.scalar(
        delete(UserTagSubscription)
        .where(UserTagSubscription.user_id == user_id, UserTagSubscription.tag_id == tag_id)
        .returning(UserTagSubscription.tag_id)
    )
    return deleted is not None


async def subscribed_tag_ids(session: AsyncSession, *, user_id: int) -> set[int]:
    """The ids of the tags a user is subscribed to."""
    return set(
        await session.scalars(
            select(UserTagSubscription.tag_id).where(UserTagSubscription.user_id == user_id)
        )
    )


async def tagged_open_tickets_for_subscriber(session: AsyncSession, *, user_id: int) -> list[int]:
    """Ids of the not-closed tickets carrying a tag the user subscribes to (their team's work)."""
    rows = await session.scalars(
        select(Ticket.id)
        .join(TagOnTicket, TagOnTicket.ticket_id == Ticket.id)
        .join(UserTagSubscription, UserTagSubscription.tag_id == TagOnTicket.tag_id)
        .where(UserTagSubscription.user_id == user_id, Ticket.status != TicketStatus.CLOSED)
        .group_by(Ticket.id)
        .order_by(Ticket.id)
    )
    return list(rows)


# --- question tags ---------------------------------------------------------------------------


async def create_question_tag(session: AsyncSession, *, label: str | None) -> TagView | NameRejected:
    """Create a question tag, unless its cleaned label is empty, too long or taken (any case)."""
    cleaned = clean_name(label)
    if isinstance(cleaned, NameRejected):
        return cleaned
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _QUESTION_TAG_LABELS_LOCK})
    existing = await session.scalar(
        select(QuestionTag).where(func.lower(QuestionTag.label) == cleaned.lower())
    )
    if existing is not None:
        return NameRejected(NameProblem.TAKEN, existing.label)
    question_tag = QuestionTag(label=cleaned)
    session.add(question_tag)
    await session.flush()
    return TagView(id=question_tag.id, name=question_tag.label)


async def question_tag_options(session: AsyncSession, *, typed: str = "") -> list[TagView]:
    """Question tags whose label contains what the helper typed (any case), at most MAX_OPTIONS."""
    return await _options(session, QuestionTag.id, QuestionTag.label, typed)


_CLEAR_AUTOMATIC_MARK = text(
    """UPDATE "TicketSearch" SET "autoQuestionTagId" = NULL
       WHERE "ticketId" = :ticket_id AND "autoQuestionTagId" IS NOT NULL
       RETURNING 1"""
)


async def set_question_tag(session: AsyncSession, *, ticket_id: int, question_tag_id: int | None) -> bool:
    """A helper sets (or clears, with None) the ticket's one question tag; True when it changed,
    or when it was the model's choice (issue 22 §4): a helper's choice, even of the same tag,
    clears the "chosen automatically" mark.

    False too when the ticket or the question tag does not exist.
    """
    if question_tag_id is not None:
        exists = await session.scalar(select(QuestionTag.id).where(QuestionTag.id == question_tag_id))
        if exists is None:
            return False
    changed = await session.scalar(
        update(Ticket)
        .where(Ticket.id == ticket_id, Ticket.question_tag_id.is_distinct_from(question_tag_id))
        .values(question_tag_id=question_tag_id)
        .returning(Ticket.id)
    )
    unmarked = (await session.execute(_CLEAR_AUTOMATIC_MARK, {"ticket_id": ticket_id})).first()
    return changed is not None or unmarked is not None


_SET_AUTOMATIC_QUESTION_TAG = text(
    """WITH chosen AS (
           UPDATE "Ticket" t SET "questionTagId" = :question_tag_id
           WHERE t.id = :ticket_id AND t."questionTagId" IS NULL AND t.status <> 'CLOSED'
             AND EXISTS (SELECT 1 FROM "QuestionTag" q WHERE q.id = :question_tag_id)
           RETURNING t.id),
       marked AS (
           UPDATE "TicketSearch" s SET "autoQuestionTagId" = :question_tag_id
           FROM chosen WHERE s."ticketId" = chosen.id
           RETURNING 1)
       SELECT id FROM chosen"""
)


async def set_automatic_question_tag(session: AsyncSession, *, ticket_id: int, question_tag_id: int) -> bool:
    """The model's choice (issue 22 §4): set only on an open ticket with no question tag yet (a
    helper who chose one first wins, even while the model was answering: the update waits for
    their row lock and then sees their tag), and marked as chosen automatically. True when set."""
    chosen = await session.execute(
        _SET_AUTOMATIC_QUESTION_TAG, {"ticket_id": ticket_id, "question_tag_id": question_tag_id}
    )
    return chosen.first() is not None


async def question_tag_of_ticket(session: AsyncSession, *, ticket_id: int) -> TagView | None:
    """The ticket's question tag, if it has one."""
    row = await session.scalar(
        select(QuestionTag)
        .join(Ticket, Ticket.question_tag_id == QuestionTag.id)
        .where(Ticket.id == ticket_id)
    )
    return None if row is None else TagView(id=row.id, name=row.label)


_QUESTION_TAG_AND_MARK = text(
    """SELECT q.id, q.label, s."autoQuestionTagId" IS NOT DISTINCT FROM q.id AS automatic
       FROM "Ticket" t
       JOIN "QuestionTag" q ON q.id = t."questionTagId"
       LEFT JOIN "TicketSearch" s ON s."ticketId" = t.id
       WHERE t.id = :ticket_id"""
)


async def question_tag_and_mark(session: raw.Executor, *, ticket_id: int) -> tuple[TagView | None, bool]:
    """The ticket's question tag (None: none) and whether it is the one the model chose (no
    helper changed it since), in one read."""
    row = (await session.execute(_QUESTION_TAG_AND_MARK, {"ticket_id": ticket_id})).first()
    if row is None:
        return None, False
    return TagView(id=row.id, name=row.label), bool(row.automatic)


# --- the App Home's tag administration (admins) -----------------------------------------------


@dataclass(frozen=True)
class TagWithSubscribers:
    tag: TagView
    subscriber_slack_ids: tuple[str, ...]
    sla: SlaTargets = SlaTargets()  # the tag's own SLA targets (none by default)


async def tags_with_subscribers(session: AsyncSession) -> list[TagWithSubscribers]:
    """Every team tag by name, each with its subscribers' Slack ids (in the order they subscribed)."""
    rows = await session.execute(
        select(
            Tag.id,
            Tag.name,
            User.slack_id,
            Tag.sla_first_response_minutes,
            Tag.sla_next_response_minutes,
            Tag.sla_resolution_minutes,
        )
        .outerjoin(UserTagSubscription, UserTagSubscription.tag_id == Tag.id)
        .outerjoin(User, User.id == UserTagSubscription.user_id)
        .order_by(func.lower(Tag.name), Tag.id, UserTagSubscription.subscribed_at, User.id)
    )
    found: dict[int, tuple[TagView, list[str], SlaTargets]] = {}
    for tag_id, name, slack_id, *targets in rows:
        _, subscribers, _ = found.setdefault(
            tag_id, (TagView(id=tag_id, name=name), [], SlaTargets(*targets))
        )
        if slack_id is not None:
            subscribers.append(slack_id)
    return [
        TagWithSubscribers(tag=tag, subscriber_slack_ids=tuple(ids), sla=sla)
        for tag, ids, sla in found.values()
    ]


async def rename_tag(
    session: AsyncSession, *, tag_id: int, name: str | None
) -> TagView | NameRejected | None:
    """Rename a team tag (the same name rules as creating one); None when the tag is gone."""
    cleaned = clean_name(name)
    if isinstance(cleaned, NameRejected):
        return cleaned
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _TAG_NAMES_LOCK})
    clash = await session.scalar(select(Tag).where(func.lower(Tag.name) == cleaned.lower(), Tag.id != tag_id))
    if clash is not None:
        return NameRejected(NameProblem.TAKEN, clash.name)
    renamed = await session.scalar(update(Tag).where(Tag.id == tag_id).values(name=cleaned).returning(Tag.id))
    return None if renamed is None else TagView(id=tag_id, name=cleaned)


async def delete_tag(session: AsyncSession, *, tag_id: int) -> bool:
    """Delete a team tag (its ticket links and subscriptions go with it); False when already gone.

    Its tickets' SLA clocks are re-evaluated when it had targets of its own (they no longer apply)."""
    targets = await tag_sla_targets(session, tag_id=tag_id)
    ticket_ids: list[int] = []
    if targets is not None and targets.any:
        ticket_ids = list(
            await session.scalars(select(TagOnTicket.ticket_id).where(TagOnTicket.tag_id == tag_id))
        )
    deleted = await session.scalar(delete(Tag).where(Tag.id == tag_id).returning(Tag.id)) is not None
    for start in range(0, len(ticket_ids), _SLA_REFRESH_BATCH):
        await sla_clocks.refresh(session, ticket_ids[start : start + _SLA_REFRESH_BATCH])
    return deleted


async def delete_question_tag(session: AsyncSession, *, question_tag_id: int) -> bool:
    """Delete a question tag (its tickets keep no question tag); False when already gone."""
    deleted = await session.scalar(
        delete(QuestionTag).where(QuestionTag.id == question_tag_id).returning(QuestionTag.id)
    )
    return deleted is not None


async def merge_question_tags(session: AsyncSession, *, source_id: int, target_id: int) -> bool:
    """Fold question tag ``source_id`` into ``target_id``: its tickets move over, then it goes.

    False (and nothing changes) when the two are the same or either is gone.
    """
    if source_id == target_id:
        return False
    found = set(
        await session.scalars(
            select(QuestionTag.id).where(QuestionTag.id.in_([source_id, target_id])).with_for_update()
        )
    )
    if found != {source_id, target_id}:
        return False
    await session.execute(
        update(Ticket).where(Ticket.question_tag_id == source_id).values(question_tag_id=target_id)
    )
    await session.execute(delete(QuestionTag).where(QuestionTag.id == source_id))
    return True


async def question_tag_label(session: AsyncSession, *, question_tag_id: int) -> str | None:
    return await session.scalar(select(QuestionTag.label).where(QuestionTag.id == question_tag_id))


async def tag_name(session: AsyncSession, *, tag_id: int) -> str | None:
    return await session.scalar(select(Tag.name).where(Tag.id == tag_id))


# --- SLA targets -------------------------------------------------------------------------------

# Tickets re-evaluated per statement when a tag's targets change (a tag may carry many tickets).
_SLA_REFRESH_BATCH = 5000


async def tag_sla_targets(session: AsyncSession, *, tag_id: int) -> SlaTargets | None:
    """A team tag's own SLA targets (all None: it has none); None when the tag is gone."""
    row = (
        await session.execute(
            select(
                Tag.sla_first_response_minutes, Tag.sla_next_response_minutes, Tag.sla_resolution_minutes
            ).where(Tag.id == tag_id)
        )
    ).one_or_none()
    return None if row is None else SlaTargets(*row)


async def set_tag_sla(session: AsyncSession, *, tag_id: int, targets: SlaTargets) -> int | None:
    """Give a team tag its own SLA targets (all None: remove them) and re-evaluate the clocks of
    every ticket carrying it; returns how many tickets that was (None when the tag is gone)."""
    found = await session.scalar(
        update(Tag)
        .where(Tag.id == tag_id)
        .values(
            sla_first_response_minutes=targets.first_response,
            sla_next_response_minutes=targets.next_response,
            sla_resolution_minutes=targets.resolution,
        )
        .returning(Tag.id)
    )
    if found is None:
        return None
    ticket_ids = list(
        await session.scalars(
            select(TagOnTicket.ticket_id).where(TagOnTicket.tag_id == tag_id).order_by(TagOnTicket.ticket_id)
        )
    )
    for start in range(0, len(ticket_ids), _SLA_REFRESH_BATCH):
        await sla_clocks.refresh(session, ticket_ids[start : start + _SLA_REFRESH_BATCH])
    return len(ticket_ids)


async def tag_id_named(session: AsyncSession, *, name: str) -> int | None:
    """The team tag called ``name`` (ignoring case), if any."""
    return await session.scalar(select(Tag.id).where(func.lower(Tag.name) == name.strip().lower()))
