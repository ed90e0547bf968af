"""Finding past tickets: the ones most like a new question (closed after a helper answered), and
the ones a helper's search words find (every ticket).

Both read "TicketSearch" (nephthys/memory/index.py) through its GIN index, newest tickets first in
widening windows of ticket ids (``WINDOWS``). A question of three terms or more matches the
tickets sharing two of its first terms (a typo of one counts); in a window, only the newest
``RECENT_CAP`` matches are ranked (``ts_rank``), and ``CANDIDATES`` of them scored here. So a
question asked often is answered from its recent askers and stops there: its cost does not grow
with the years of tickets that say the same. A rare one finds few matches and widens to every
ticket cheaply. The wider windows, read through the GIN index, leave out the terms that more than
``COMMON_SHARE`` of tickets carry (PostgreSQL's own statistics of the column, ``pg_stats``): a GIN
scan walks every posting list its query names, and the newest window already covered them.

Similarity (:func:`similarity`) is then computed here on those few: the cosine of the question's
and the candidate question's term sets, where a term one typo away counts ``TYPO_CREDIT``. Only
candidates scoring ``MIN_SCORE`` or more are similar; the bench (bench/similar.py) tuned it on its
labelled set.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nephthys.database import raw
from nephthys.database.models import TicketStatus
from nephthys.memory import terms

Sessions = async_sessionmaker[AsyncSession]

# Windows of the newest ticket ids, widened while too few good matches were found.
WINDOWS = (1_000, 50_000, None)
# Terms (or variants) that more than this share of tickets carry are not looked up beyond the first
# window; what the statistics say is reused for COMMON_TTL_SECONDS (at most PostgreSQL's
# statistics target × 10 terms are kept).
COMMON_SHARE = 0.01
COMMON_TTL_SECONDS = 600.0
# The newest matches of a window that are ranked; a window that fills it is not widened.
RECENT_CAP = 200
CANDIDATES = 30
TYPO_CREDIT = 0.7
MIN_SCORE = 0.45
SIMILAR_LIMIT = 3
SEARCH_LIMIT_MAX = 50
# Search words are read up to this many characters (at most 16 terms of them are used).
SEARCH_WORDS_MAX_CHARS = 500


@dataclass(frozen=True)
class PastTicket:
    """A past ticket as the Slack side and the API show it."""

    id: int
    title: str
    msg_ts: str
    status: TicketStatus
    score: float
    closed_by_slack_id: str | None
    closed_at: datetime | None
    answer: str | None


@functools.lru_cache(maxsize=1024)
def _variants_of(candidate: frozenset[str]) -> frozenset[str]:
    """Every typo variant of a candidate's terms, remembered: in a burst each recent ticket is a
    candidate of the hundreds of questions after it (nephthys/memory/surges.py reads up to 200).
    Bound: 1,024 candidates (a few kB each)."""
    return frozenset().union(*map(terms.variant_set, candidate))


def similarity(query_terms: Sequence[str], candidate_terms: Sequence[str]) -> float:
    """Cosine of two term sets, in [0, 1]; a query term one typo from a candidate's counts TYPO_CREDIT."""
    query, candidate = set(query_terms), frozenset(candidate_terms)
    if not query or not candidate:
        return 0.0
    candidate_variants: frozenset[str] | None = None  # made only when a query term is not a candidate's
    matched = 0.0
    for term in query:
        if term in candidate:
            matched += 1
            continue
        if candidate_variants is None:
            candidate_variants = _variants_of(candidate)
        if terms.VARIANT_MARK + term in candidate_variants or not candidate_variants.isdisjoint(
            terms.variant_set(term)
        ):
            matched += TYPO_CREDIT
    return matched / math.sqrt(len(query) * len(candidate))


def first_line(answer: str | None, limit: int = 200) -> str | None:
    """The answer's first non-empty line, cut to ``limit`` characters."""
    if not answer:
        return None
    for line in answer.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return None


_NEWEST = text('SELECT max("ticketId") FROM "TicketSearch"')
_COMMON_TERMS = text(
    """SELECT e.term FROM pg_stats st,
              unnest(CAST(CAST(st.most_common_elems AS text) AS text[]), st.most_common_elem_freqs) AS e(term, share)
       WHERE st.schemaname = 'public' AND st.tablename = 'TicketSearch' AND st.attname = 'document'
         AND e.share > :share"""
)
_common: tuple[float, frozenset[str]] = (float("-inf"), frozenset())


async def _common_terms(session: raw.Executor) -> frozenset[str]:
    """The terms more than COMMON_SHARE of tickets carry, as ANALYZE last saw them (cached)."""
    global _common
    now = time.monotonic()
    if now - _common[0] > COMMON_TTL_SECONDS:
        rows = (await session.execute(_COMMON_TERMS, {"share": COMMON_SHARE})).scalars().all()
        _common = (now, frozenset(rows))
    return _common[1]


def _rare(query_terms: Sequence[str], common: frozenset[str]) -> list[str]:
    """The query's terms whose lexeme and typo variants are all uncommon."""
    return [
        term for term in query_terms if term not in common and not common.intersection(terms.variants(term))
    ]


_SIMILAR_CANDIDATES = """SELECT id, question_terms, count(*) OVER () AS matched
       FROM (SELECT "ticketId" AS id, "questionTerms" AS question_terms, document
             FROM "TicketSearch"
             WHERE {match} AND "resolvedAt" IS NOT NULL
               AND {order} >= :lowest AND "ticketId" <> :own
             ORDER BY {order} DESC
             LIMIT :cap) recent
       ORDER BY ts_rank('{{0, 0, 0.5, 1}}', document, CAST(:query AS tsquery), 1) DESC, id DESC
       LIMIT :candidates"""

_SEARCH_CANDIDATES = """SELECT id, count(*) OVER () AS matched,
              ts_rank('{{0.2, 0.4, 0.5, 1}}', document, CAST(:query AS tsquery), 1) AS rank
       FROM (SELECT "ticketId" AS id, document
             FROM "TicketSearch"
             WHERE {match} AND {order} >= :lowest
             ORDER BY {order} DESC
             LIMIT :cap) recent
       ORDER BY rank DESC, id DESC
       LIMIT :limit"""

# The first window is read newest first along the primary key, each row tested, until RECENT_CAP
# match (a question asked often stops after a few hundred rows; at worst the window's 1,000). The
# wider ones go through the GIN index alone: "IS TRUE" keeps the first from it, "+ 0" the others
# from the key (walking or ranging over it, the planner would test every row of a window).
_BY_KEY = {"match": "(document @@ CAST(:query AS tsquery)) IS TRUE", "order": '"ticketId"'}
_BY_INDEX = {"match": "document @@ CAST(:query AS tsquery)", "order": '"ticketId" + 0'}


def _statements(template: str):
    return text(template.format(**_BY_KEY)), text(template.format(**_BY_INDEX))


_SIMILAR_BY_KEY, _SIMILAR_BY_INDEX = _statements(_SIMILAR_CANDIDATES)
_SEARCH_BY_KEY, _SEARCH_BY_INDEX = _statements(_SEARCH_CANDIDATES)

_DETAILS = text(
    """SELECT t.id, t.title, t."msgTs" AS msg_ts, t.status, t."closedAt" AS closed_at,
              closer."slackId" AS closed_by, s.answer
       FROM "Ticket" t
       LEFT JOIN "User" closer ON closer.id = t."closedById"
       LEFT JOIN "TicketSearch" s ON s."ticketId" = t.id
       WHERE t.id = ANY(CAST(:ids AS int[]))"""
)


async def _windows(session: raw.Executor, newest: int | None = None):
    """(lowest ticket id, first window?) of each window, narrowest first; ``newest``: the newest
    ticket id when the caller knows it (read otherwise)."""
    if newest is None:
        newest = (await session.execute(_NEWEST)).scalar()
    if newest is None:
        return
    for n, size in enumerate(WINDOWS):
        lowest = 0 if size is None or newest - size <= 0 else newest - size
        yield lowest, n == 0
        if lowest == 0:
            return


async def similar_tickets(
    sessions: Sessions,
    *,
    question: str,
    own_ticket_id: int = 0,
    limit: int = SIMILAR_LIMIT,
    min_score: float = MIN_SCORE,
    own_is_newest: bool = False,
) -> list[PastTicket]:
    """The past tickets most like ``question`` among those closed after a helper answered, best
    first, at most ``limit``, each scoring at least ``min_score``; [] when none is similar enough.

    ``own_is_newest``: ``own_ticket_id`` was just opened, so the windows are counted down from it
    rather than from a read of the newest id (one round trip less on every new question; tickets
    opened since are newer still, and a window has no upper end, so they are in the first one)."""
    query_terms = terms.terms(question)
    query = terms.tsquery_two_of(query_terms)
    if query is None:
        return []
    scored: dict[int, float] = {}
    # Read-only and each read complete in itself: in autocommit, no BEGIN and COMMIT round trips
    # on every question (nephthys/database/raw.py).
    async with raw.autocommit(sessions) as session:
        async for lowest, first in _windows(
            session, own_ticket_id if own_is_newest and own_ticket_id else None
        ):
            if not first:
                query = terms.tsquery_two_of(_rare(query_terms, await _common_terms(session)))
                if query is None:
                    break  # every term is common: the newest window held their matches
            rows = (
                await session.execute(
                    _SIMILAR_BY_KEY if first else _SIMILAR_BY_INDEX,
                    {
                        "query": query,
                        "lowest": lowest,
                        "own": own_ticket_id,
                        "cap": RECENT_CAP,
                        "candidates": CANDIDATES,
                    },
                )
            ).all()
            for row in rows:
                score = similarity(query_terms, row.question_terms)
                if score >= min_score:
                    scored[row.id] = score
            if len(scored) >= limit or (rows and rows[0].matched >= RECENT_CAP):
                break
        best = sorted(scored.items(), key=lambda item: (-item[1], -item[0]))[:limit]
        return await _details(session, best)


def _all_terms_query(query_terms: Sequence[str]) -> str:
    """Every term (or a typo of it), in the question or the answer."""
    return " & ".join(
        f"( {terms.tsquery_literal([term], with_answers=True)} )" for term in dict.fromkeys(query_terms)
    )


async def search_tickets(sessions: Sessions, *, words: str, limit: int = 10) -> list[PastTicket]:
    """Every ticket the words find (question or answer), best first, at most ``limit``: those with
    all the words first, then those with some."""
    query_terms = terms.terms(words[:SEARCH_WORDS_MAX_CHARS])[:16]
    if not query_terms:
        return []
    found: dict[int, float] = {}
    async with sessions() as session:
        queries = [_all_terms_query(query_terms)]
        any_term = terms.tsquery_literal(query_terms, with_answers=True) if len(query_terms) > 1 else None
        if any_term is not None:
            queries.append(any_term)
        for tier, tier_query in enumerate(queries):
            async for lowest, first in _windows(session):
                query: str | None = tier_query
                if not first and tier == 1:
                    query = terms.tsquery_literal(
                        _rare(query_terms, await _common_terms(session)), with_answers=True
                    )
                    if query is None:
                        break  # only common words: the newest window held their matches
                rows = (
                    await session.execute(
                        _SEARCH_BY_KEY if first else _SEARCH_BY_INDEX,
                        {"query": query, "lowest": lowest, "cap": RECENT_CAP, "limit": limit},
                    )
                ).all()
                for row in rows:
                    # Tickets with every word rank above those with some.
                    found.setdefault(row.id, (1 - tier) + min(float(row.rank), 0.999))
                if len(found) >= limit or (rows and rows[0].matched >= RECENT_CAP):
                    break
            if len(found) >= limit:
                break
        best = sorted(found.items(), key=lambda item: (-item[1], -item[0]))[:limit]
        return await _details(session, best)


async def _details(session: raw.Executor, best: list[tuple[int, float]]) -> list[PastTicket]:
    if not best:
        return []
    rows = {
        row.id: row
        for row in (await session.execute(_DETAILS, {"ids": [ticket_id for ticket_id, _ in best]})).all()
    }
    return [
        PastTicket(
            id=ticket_id,
            title=rows[ticket_id].title,
            msg_ts=rows[ticket_id].msg_ts,
            status=TicketStatus(rows[ticket_id].status),
            score=score,
            closed_by_slack_id=rows[ticket_id].closed_by,
            closed_at=rows[ticket_id].closed_at,
            answer=rows[ticket_id].answer,
        )
        for ticket_id, score in best
        if ticket_id in rows
    ]
