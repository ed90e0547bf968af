"""Keeping a ticket's memory row ("TicketSearch") in step with the ticket: called by the lifecycle
(nephthys/tickets/) inside the transaction that changes the ticket, never on its own.

- opening writes the row beside the ticket (``NEW_ROW_SQL``, a CTE of the opening statement);
- an edited question or an AI title rewrites the question's part of the document;
- a helper's message in the thread, while the ticket is not closed, becomes its answer
  (the last such message is the one that closed it);
- a close marks it resolved when it has an answer; a reopen unmarks it;
- a ticket from before the memory (its row written by the bulk reindex, nephthys/memory/reindex.py)
  has its thread to be read ("answerFetch": 'DUE' while closed, 'WAITING' while not): the
  ``memory-answers`` job claims a due one, reads its thread from Slack and records the answer that
  closed it here, as a live helper message would have (a live answer first makes it unneeded).

Bounds: the question and the answer each give at most ``terms.TERM_LIMIT`` terms from their first
``terms.TEXT_LIMIT`` characters; the answer is kept to ``ANSWER_LIMIT`` characters.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text

from nephthys.database import raw
from nephthys.memory import terms

Executor = raw.Executor

ANSWER_LIMIT = 2000


def question_text(title: str, description: str) -> str:
    """What the question part is made of: the title, then the question (the title is often its
    first words: the terms are kept once)."""
    return f"{title}\n{description}"


def question_document(title: str, description: str) -> tuple[str, list[str]]:
    """The question's tsvector literal and its terms."""
    question_terms = terms.terms(question_text(title, description))
    return terms.tsvector_literal(question_terms), question_terms


# A CTE for the opening statement (nephthys/tickets/opening.py): the row beside the new ticket.
NEW_ROW_SQL = """indexed AS (
           INSERT INTO "TicketSearch" ("ticketId", document, "questionTerms")
           SELECT id, CAST(:search_document AS tsvector), CAST(:search_terms AS text[]) FROM created)"""


def new_row_parameters(title: str, description: str) -> dict:
    document, question_terms = question_document(title, description)
    return {"search_document": document, "search_terms": question_terms}


# Whether a ticket from before the memory ("t") has its thread due to be read (closed) or waiting.
ANSWER_FETCH_FOR_STATUS = "CASE WHEN t.status = 'CLOSED' THEN 'DUE' ELSE 'WAITING' END"

# A row inserted here is a ticket's from before the memory (opening writes every new one): its
# helpers' answers were never stored, so the memory-answers job reads its thread (see below).
_QUESTION_CHANGED = text(
    f"""INSERT INTO "TicketSearch" ("ticketId", document, "questionTerms", "answerFetch")
       SELECT t.id, CAST(:document AS tsvector), CAST(:question_terms AS text[]), {ANSWER_FETCH_FOR_STATUS}
       FROM "Ticket" t WHERE t.id = :ticket_id
       ON CONFLICT ("ticketId") DO UPDATE
       SET document = EXCLUDED.document || ts_filter("TicketSearch".document, '{{c,d}}'),
           "questionTerms" = EXCLUDED."questionTerms\""""
)


async def question_changed(executor: Executor, *, ticket_id: int, title: str, description: str) -> None:
    """The question's text or title changed: its part of the document follows (the answer's stays)."""
    document, question_terms = question_document(title, description)
    await executor.execute(
        _QUESTION_CHANGED,
        {"ticket_id": ticket_id, "document": document, "question_terms": question_terms},
    )


_ANSWERED = text(
    """UPDATE "TicketSearch"
       SET answer = :answer, "answeredById" = :helper_id, "answerTs" = :ts, "answerFetch" = NULL,
           "answeredAt" = coalesce(CAST(:at AS timestamptz), clock_timestamp()),
           document = ts_filter(document, '{a,b}') || CAST(:answer_document AS tsvector)
       WHERE "ticketId" = :ticket_id
       RETURNING 1"""
)
_ANSWERED_NEW_ROW = text(
    """INSERT INTO "TicketSearch" ("ticketId", document, "questionTerms", answer, "answeredById",
                                  "answerTs", "answeredAt")
       SELECT t.id, CAST(:question_document AS tsvector) || CAST(:answer_document AS tsvector),
              CAST(:question_terms AS text[]), :answer, :helper_id, :ts,
              coalesce(CAST(:at AS timestamptz), clock_timestamp())
       FROM "Ticket" t WHERE t.id = :ticket_id
       ON CONFLICT ("ticketId") DO UPDATE
       SET answer = EXCLUDED.answer, "answeredById" = EXCLUDED."answeredById",
           "answerTs" = EXCLUDED."answerTs", "answeredAt" = EXCLUDED."answeredAt",
           document = ts_filter("TicketSearch".document, '{a,b}') || CAST(:answer_document AS tsvector)"""
)


async def answered(
    session: Executor,
    *,
    ticket_id: int,
    helper_id: int,
    answer: str,
    ts: str | None,
    at: datetime | None,
    title: str,
    description: str,
) -> None:
    """A helper wrote ``answer`` in the open ticket's thread: it is the ticket's answer now.

    ``title``/``description``: the ticket's, for a ticket opened before the memory existed (no row).
    A row the bulk reindex (nephthys/memory/reindex.py) inserts in between gets the answer too.
    """
    answer = answer[:ANSWER_LIMIT]
    answer_document = _answer_document(answer)
    parameters = {
        "ticket_id": ticket_id,
        "helper_id": helper_id,
        "answer": answer,
        "ts": ts,
        "at": at,
        "answer_document": answer_document,
    }
    if (await session.execute(_ANSWERED, parameters)).first() is None:
        question, question_terms = question_document(title, description)
        await session.execute(
            _ANSWERED_NEW_ROW,
            parameters | {"question_document": question, "question_terms": question_terms},
        )


def _answer_document(answer: str) -> str:
    # Weights C and D only: tsvector_literal's answer group. An empty literal is an empty tsvector.
    return terms.tsvector_literal([], terms.terms(answer))


_CLOSED_OR_REOPENED = text(
    f"""UPDATE "TicketSearch" s
       SET "resolvedAt" = CASE WHEN s.answer IS NOT NULL AND t.status = 'CLOSED' THEN t."closedAt" END,
           "answerFetch" = CASE WHEN s."answerFetch" IS NOT NULL THEN {ANSWER_FETCH_FOR_STATUS} END
       FROM "Ticket" t
       WHERE t.id = s."ticketId" AND s."ticketId" = :ticket_id"""
)


async def closed_or_reopened(executor: Executor, *, ticket_id: int) -> None:
    """The ticket closed (resolved when a helper had answered: its closedAt) or reopened (not); a
    ticket from before the memory whose thread is still to be read is due while closed."""
    await executor.execute(_CLOSED_OR_REOPENED, {"ticket_id": ticket_id})


_CLAIM_SIMILAR_POST = text(
    """UPDATE "TicketSearch" SET "similarPostedAt" = clock_timestamp()
       WHERE "ticketId" = :ticket_id AND "similarPostedAt" IS NULL
       RETURNING 1"""
)
_RELEASE_SIMILAR_POST = text(
    'UPDATE "TicketSearch" SET "similarPostedAt" = NULL WHERE "ticketId" = :ticket_id'
)


async def claim_similar_post(sessions, *, ticket_id: int) -> bool:
    """Claim the ticket's one similar-tickets post; False when it was claimed before."""
    async with raw.autocommit(sessions) as session:
        return (await session.execute(_CLAIM_SIMILAR_POST, {"ticket_id": ticket_id})).first() is not None


async def release_similar_post(sessions, *, ticket_id: int) -> None:
    """The claimed post failed: a later pass may post it."""
    async with raw.autocommit(sessions) as session:
        await session.execute(_RELEASE_SIMILAR_POST, {"ticket_id": ticket_id})


_CLAIM_DRAFT_SEND = text(
    """UPDATE "TicketSearch" SET "draftSentAt" = clock_timestamp()
       WHERE "ticketId" = :ticket_id AND "draftSentAt" IS NULL
       RETURNING 1"""
)
_RELEASE_DRAFT_SEND = text('UPDATE "TicketSearch" SET "draftSentAt" = NULL WHERE "ticketId" = :ticket_id')


async def claim_draft_send(sessions, *, ticket_id: int) -> bool:
    """Claim sending the ticket's drafted answer to the asker; False when it was sent before."""
    async with sessions.begin() as session:
        return (await session.execute(_CLAIM_DRAFT_SEND, {"ticket_id": ticket_id})).first() is not None


async def release_draft_send(sessions, *, ticket_id: int) -> None:
    """The claimed send failed: a later click may send it."""
    async with sessions.begin() as session:
        await session.execute(_RELEASE_DRAFT_SEND, {"ticket_id": ticket_id})


_CLAIM_QUESTION_TAG = text(
    """UPDATE "TicketSearch" s SET "questionTagAskedAt" = clock_timestamp()
       FROM "Ticket" t
       WHERE s."ticketId" = :ticket_id AND t.id = s."ticketId" AND s."questionTagAskedAt" IS NULL
         AND t."questionTagId" IS NULL AND t.status <> 'CLOSED'
       RETURNING 1"""
)


async def claim_question_tag(sessions, *, ticket_id: int) -> bool:
    """Claim asking the model for the ticket's question tag, once (a redelivered question, a retry
    or a second instance finds it claimed); False too when a helper already chose one or the
    ticket is closed. Not released on a failure: a ticket's question tag is asked for once."""
    async with sessions.begin() as session:
        return (await session.execute(_CLAIM_QUESTION_TAG, {"ticket_id": ticket_id})).first() is not None


# ---------------------------------------------------------------- answers read back from Slack
# The memory-answers job (nephthys/tasks/memory_answers.py): tickets from before the memory.

# Only closed tickets are 'DUE' (the close and reopen keep it): the status is checked again by a
# subquery, row by row, not a join, which let the planner walk "Ticket"'s primary key backwards
# (every closed ticket, probing the partial index for each: 6.7 s at 1,000,000 tickets once none
# is due) instead of the partial index, which is empty then.
_CLAIM_PAST_ANSWER = text(
    """WITH next AS (
           SELECT s."ticketId"
           FROM "TicketSearch" s
           WHERE s."answerFetch" = 'DUE' AND s.answer IS NULL
             AND (s."answerFetchClaimedAt" IS NULL OR s."answerFetchClaimedAt" < :stale_before)
             AND (SELECT t.status FROM "Ticket" t WHERE t.id = s."ticketId") = 'CLOSED'
           ORDER BY s."ticketId" DESC
           LIMIT 1
           FOR UPDATE OF s SKIP LOCKED)
       UPDATE "TicketSearch" s SET "answerFetchClaimedAt" = :now
       FROM next, "Ticket" t, "User" asker
       WHERE s."ticketId" = next."ticketId" AND t.id = s."ticketId" AND asker.id = t."openedById"
       RETURNING s."ticketId" AS id, t."msgTs" AS msg_ts, t."closedAt" AS closed_at,
                 asker."slackId" AS asker_slack_id, s."answerFetchClaimedAt" AS claimed_at"""
)
_PAST_ANSWERS_DUE = text(
    """SELECT s."ticketId" AS id
       FROM "TicketSearch" s
       WHERE s."answerFetch" = 'DUE' AND s.answer IS NULL
         AND (s."answerFetchClaimedAt" IS NULL OR s."answerFetchClaimedAt" < :stale_before)
         AND (SELECT t.status FROM "Ticket" t WHERE t.id = s."ticketId") = 'CLOSED'
       ORDER BY s."ticketId" DESC
       LIMIT :limit"""
)
_RELEASE_PAST_ANSWER = text(
    """UPDATE "TicketSearch" SET "answerFetchClaimedAt" = NULL
       WHERE "ticketId" = :ticket_id AND "answerFetchClaimedAt" = :claimed_at"""
)
_PAST_ANSWER_DONE = text('UPDATE "TicketSearch" SET "answerFetch" = NULL WHERE "ticketId" = :ticket_id')
_HELPERS = text(
    """SELECT "slackId", id FROM "User" WHERE helper AND "slackId" = ANY(CAST(:slack_ids AS text[]))"""
)
_LOCK_FOR_PAST_ANSWER = text(
    """SELECT t.title, t.description, s.answer
       FROM "Ticket" t JOIN "TicketSearch" s ON s."ticketId" = t.id
       WHERE t.id = :ticket_id
       FOR UPDATE OF t"""
)


async def claim_past_answer(sessions, *, now: datetime, stale_before: datetime):
    """Claim the newest closed ticket whose thread is due to be read (one look at the partial index
    "TicketSearch_answerFetch_idx"); a row (id, msg_ts, closed_at, asker_slack_id, claimed_at), or None when
    none is due. A claim made before ``stale_before`` is a run that died: it may be taken again."""
    async with sessions.begin() as session:
        return (await session.execute(_CLAIM_PAST_ANSWER, {"now": now, "stale_before": stale_before})).first()


async def past_answers_due(sessions, *, stale_before: datetime, limit: int) -> list:
    """The next ``limit`` tickets a run would claim, newest first (a dry run: nothing is claimed)."""
    async with sessions() as session:
        return list(
            (await session.execute(_PAST_ANSWERS_DUE, {"stale_before": stale_before, "limit": limit})).all()
        )


async def release_past_answer(sessions, *, ticket_id: int, claimed_at: datetime) -> None:
    """Reading the thread failed for a while (a 429, Slack down): a later run reads it again."""
    async with sessions.begin() as session:
        await session.execute(_RELEASE_PAST_ANSWER, {"ticket_id": ticket_id, "claimed_at": claimed_at})


async def past_answer_done(sessions, *, ticket_id: int) -> None:
    """The thread was read and has no helper's answer (or is gone): it is not read again."""
    async with sessions.begin() as session:
        await session.execute(_PAST_ANSWER_DONE, {"ticket_id": ticket_id})


async def helpers_among(sessions, slack_ids: list[str]) -> dict[str, int]:
    """The helpers among ``slack_ids``: their Slack id → user id (the lifecycle's rule: "User".helper)."""
    if not slack_ids:
        return {}
    async with sessions() as session:
        rows = await session.execute(_HELPERS, {"slack_ids": slack_ids})
        return {row.slackId: row.id for row in rows}


async def record_past_answer(
    sessions, *, ticket_id: int, helper_id: int, answer: str, ts: str, at: datetime | None
) -> bool:
    """Record the answer read back from the ticket's thread, as a live helper message would be
    (:func:`answered`, then :func:`closed_or_reopened`: resolved when the ticket is closed), and
    mark the row read. Under the ticket's row lock, which the lifecycle's reply takes too: an answer
    the lifecycle recorded meanwhile wins, and this one is dropped (False)."""
    async with sessions.begin() as session:
        row = (await session.execute(_LOCK_FOR_PAST_ANSWER, {"ticket_id": ticket_id})).first()
        if row is None:  # the ticket is gone
            return False
        recorded = row.answer is None
        if recorded:
            await answered(
                session,
                ticket_id=ticket_id,
                helper_id=helper_id,
                answer=answer,
                ts=ts,
                at=at,
                title=row.title,
                description=row.description,
            )
            await closed_or_reopened(session, ticket_id=ticket_id)
        await session.execute(_PAST_ANSWER_DONE, {"ticket_id": ticket_id})
        return recorded
