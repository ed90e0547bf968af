"""Fill a fresh database with a year of realistic Nephthys data, fast.

    python bench/generate.py --tickets 1000000 --users 20000 --helpers 200 --tags 20

The database (``--database``, default ``nephthys_bench``) is dropped and created
again on the server at ``--server-url``, migrated with Nephthys's own migrations
(so every trigger or derived table a migration defines is in place), and only
then filled: each table is one set-based ``INSERT … SELECT generate_series(…)``
with triggers on, so whatever the migrations maintain from rows is maintained
here too. Finally ``VACUUM ANALYZE`` leaves the tables as autovacuum would in
production (statistics gathered, visibility map set).

The data tells one story per ticket, consistent with its status:

- tickets are created uniformly over the last ``--days`` days; ids follow
  creation time, as a serial id does;
- ~3% are open (never assigned; their last message mostly from the author),
  ~5% in progress (assigned to a helper), the rest closed by a helper;
- hang time (``assignedAt − createdAt``) and time to resolution are log-normal
  (medians ~25 minutes and ~2 hours), capped at "now";
- ~2% were reopened: a first cycle (usually a helper's reply, then a close) ended
  and the ticket was reopened, mostly by its author; as in
  ``nephthys.tickets.lifecycle``, reopening keeps ``assignedAt``/``assignedToId``
  (the first reply) and clears the closure, and a reopened ticket that is closed
  now was closed again after ``reopenedAt``;
- an open or in-progress ticket waits on the asker ("waitingOn") when a helper spoke
  last, else on the helpers; a closed one waits on nobody;
- ~45% of tickets carry a team tag (~10% two), ~20% a question tag; helpers
  subscribe to tags; ``--bot-messages`` adds one BotMessage per ticket.
- every ticket has its timeline ("TicketEvent", issue 20; see PLAN_STORIES_SQL): its
  question, its first answer and assignment, on ~40% of answered tickets a question
  back and its answer, its last message, ~10% a bystander's message, its closures and
  reopening, and the asker follow-up's nudges (turned on four days before now, so
  nothing is due at ``now``); and what the lifecycle folds from it
  (nephthys/tickets/timeline.py): "TicketSpan" rows, "waitingOn"/"waitingSince",
  "nudgedAt", "firstResponseMinutes" and "resolutionMinutes", counted in the support
  calendar a service with default settings runs with (SUPPORT_HOURS, SUPPORT_HOLIDAYS,
  TIMEZONE unset: every minute, UTC), installed as the database's so such a service
  recounts nothing at start. tests/bench/test_generate.py refolds a sample through the
  lifecycle's own code and finds the same. Live data appends the log in time order.

Random choices are seeded (``--seed``), so two runs make the same statuses,
people and texts; only the instants move with the clock.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from sqlalchemy.ext.asyncio import async_sessionmaker

# Run as a script (python bench/generate.py) the repository root is not on sys.path.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nephthys.config import DEFAULTS  # noqa: E402
from nephthys.database import migrate  # noqa: E402
from nephthys.database.engine import create_engine  # noqa: E402
from nephthys.memory import reindex  # noqa: E402
from nephthys.support_calendar import SUPPORT_SECONDS_FUNCTION, SupportCalendar  # noqa: E402
from nephthys.tasks.asker_follow_up import NUDGE_LOOK_BACK  # noqa: E402

DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_DATABASE = "nephthys_bench"
HELP_CHANNEL = "C0HELP00001"
BACKEND_CHANNEL = "C0TICKETS01"

# Shares of the current status; the rest are closed.
OPEN_SHARE = 0.03
IN_PROGRESS_SHARE = 0.05
REOPENED_SHARE = 0.02

TEAM_TAG_NAMES = [
    "payouts", "hackatime", "shipping", "orders", "onboarding", "fraud", "shop",
    "verification", "github", "deployments", "events", "grants", "stickers",
    "accounts", "slack", "reviews", "projects", "devlogs", "api", "moderation",
]  # fmt: skip

QUESTION_LABELS = [
    "What's the payout range?", "How do I link Hackatime?", "When will my order ship?",
    "Why was my project rejected?", "How do I verify my identity?", "Where is my grant?",
    "How do I change my email?", "Can I ship a project twice?", "How are hours counted?",
    "Why is my shop order pending?", "How do I get stickers?", "What counts as a devlog?",
]  # fmt: skip

# The calendar a service started with default settings counts in (SUPPORT_HOURS, SUPPORT_HOLIDAYS
# and TIMEZONE unset: every minute counts, UTC), installed so such a service recounts nothing.
DEFAULT_CALENDAR = DEFAULTS.support_calendar
# The asker follow-up was turned on this long before `now` (see PLAN_STORIES_SQL).
FOLLOW_UP_ON_FOR = timedelta(days=4)

_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Shape:
    """How much data to make."""

    tickets: int = 1_000_000
    users: int = 20_000
    helpers: int = 200
    tags: int = 20
    question_tags: int = 30
    days: int = 365
    bot_messages: bool = False
    seed: float = 0.42
    # A live table's history (inserts, then updates, vacuumed as autovacuum would) and pasted text;
    # False: today's data (every row in its final state, then VACUUM ANALYZE).
    live: bool = True

    def check(self) -> None:
        if self.tickets < 0:
            raise ValueError("--tickets: expected 0 or more")
        if self.helpers < 1:
            raise ValueError("--helpers: expected at least 1 (closers are helpers)")
        if self.users <= self.helpers:
            raise ValueError("--users: expected more users than helpers (authors are the others)")
        if self.tags < 1 or self.question_tags < 1:
            raise ValueError("--tags/--question-tags: expected at least 1")
        if self.days < 1:
            raise ValueError("--days: expected at least 1")
        if not -1 <= self.seed <= 1:
            raise ValueError("--seed: expected a number from -1 to 1 (PostgreSQL's setseed)")


def database_url(server_url: str, database: str) -> str:
    """``server_url`` pointing at ``database`` instead."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{database}"))


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def recreate_database(server_url: str, database: str) -> str:
    """Drop ``database`` if it exists, create it empty; returns its URL."""
    if not _DATABASE_NAME.match(database):
        raise ValueError(f"--database: expected a lowercase SQL identifier, got {database!r}")
    connection = await asyncpg.connect(_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{database}"')
    finally:
        await connection.close()
    return database_url(server_url, database)


def _text_array(values: list[str]) -> str:
    """A SQL text[] literal of fixed vocabulary (no user input reaches it)."""
    quoted = ", ".join("'" + value.replace("'", "''") + "'" for value in values)
    return f"ARRAY[{quoted}]::text[]"


USERS_SQL = """
INSERT INTO "User" (id, "slackId", username, admin, helper, "createdAt")
SELECT i,
       'U' || lpad(upper(to_hex(i * 7919)), 10, '0'),
       (ARRAY['alex','sam','jo','kim','lee','max','ria','noor','eli','ava','zoe','ben'])[1 + i % 12]
           || '_' || i,
       i <= 5,
       i <= $2,
       $3::timestamptz - make_interval(days => $4 + 30) * random()
FROM generate_series(1, $1) AS i
"""

# One pass: draw every random number per ticket, order by creation time so ids
# follow it, then derive each column from the ticket's status and story.
# Titles and descriptions. Today's data: a small English vocabulary, ~150 characters.
TITLES = [
    "How do I link Hackatime to my account?", "When will my payout arrive?",
    "Why was my project rejected?", "My shop order is stuck on pending",
    "Verification keeps failing", "Hours not showing up on my dashboard",
    "Can I resubmit a project after review?", "Where do I find my API key?",
    "Devlog not saving", "Grant card declined at checkout", "How do I change my email?",
    "Is the deadline extended?", "Stickers never arrived", "GitHub repo not detected",
    "Deployment link returns 404", "Question about the payout range",
]  # fmt: skip
SENTENCES = [
    "Hi! I submitted my project last week and it still shows as pending.",
    "I followed the guide in the docs but the command fails with an error about permissions.",
    "My hours are not showing up even though the extension says it is connected.",
    "Could someone take a look when you have a moment? Thanks a lot!",
    "I tried logging out and back in, clearing the cache and using another browser.",
    "The page says something went wrong and asks me to contact support.",
    "Here is the link to my repository and a screenshot of what I see.",
    "Is this expected, or did I miss a step somewhere?",
]  # fmt: skip
# Live data adds what people paste: quotes, backslashes, JSON, tabs, emoji and other scripts.
LIVE_TITLES = TITLES + [
    'Payout "pending" for 3 weeks 😭', "Ошибка при входе в аккаунт", "C:\\Users path not found",
    "提交后项目消失了", "help 🙏", "Why does it say \"invalid_token\"?",
]  # fmt: skip
LIVE_SENTENCES = SENTENCES + [
    "help pls 🙏",
    'I ran `npm run build` and got: Error: Cannot find module "./config"',
    'The path is C:\\Users\\me\\projects\\hackatime\\config.json and it says "access denied".',
    'It answers {"error": "invalid_token", "detail": "expired"} when I log in.',
    "The regex I used is ^\\d{3}-\\w+$ \u2014 does that look right?",
    "My friend said \"just wait\" but it's been 3 weeks 😅",
    "🚀🔥 shipped it! but the payout page shows 0 🤔",
    "こんにちは、プロジェクトの審査状況を教えてください。",
    "Здравствуйте! Мой заказ всё ещё не отправлен.",
    "مرحبا، لم أتلقَّ المنحة بعد.",
    "नमस्ते, मेरे घंटे डैशबोर्ड पर नहीं दिख रहे हैं।",
    "你好，我的贴纸还没有到。",
    "Output:\tstatus=failed\tcode=137",
]  # fmt: skip


def _text_expressions(live: bool) -> tuple[str, str]:
    """The SQL for a ticket's title and description in the plan (columns of ``drawn``)."""
    if not live:
        title = f"({_text_array(TITLES)})[1 + text_draw % {len(TITLES)}]"
        description = f"""array_to_string(({_text_array(SENTENCES)})
            [1 + text_draw % {len(SENTENCES)} : 1 + text_draw % {len(SENTENCES)} + sentences], ' ')"""
        return title, description
    title = f"({_text_array(LIVE_TITLES)})[1 + (text_draw * 7) % {len(LIVE_TITLES)}]"
    # Sentences picked along the ticket's own stride; a paragraph break every few.
    description = f"""(SELECT string_agg(({_text_array(LIVE_SENTENCES)})
                                  [1 + (text_draw + k * (1 + text_draw % 7)) % {len(LIVE_SENTENCES)}],
                              CASE WHEN k % 5 = 0 THEN E'\\n\\n' ELSE ' ' END ORDER BY k)
            FROM generate_series(1, live_sentences) AS k)"""
    return title, description


PLAN_SQL = """
INSERT INTO planned_ticket (
    id, title, description, status, "msgTs", "ticketTs", "lastMsgAt", "lastMsgBy",
    "openedById", "reopenedById", "reopenedAt", "closedById", "closedAt",
    "assignedToId", "assignedAt", "questionTagId", "createdAt")
WITH drawn AS (
    SELECT $3::timestamptz - make_interval(days => $4) * random() AS created,
           random() AS status_draw,
           random() AS reopen_draw,
           random() AS assigned_draw,
           random() AS closer_draw,
           random() AS helper_draw,
           random() AS author_draw,
           random() AS last_by_draw,
           random() AS last_at_draw,
           random() AS question_draw,
           random() AS ticket_ts_draw,
           random() AS reopener_draw,
           floor(random() * 1000)::int AS text_draw,
           floor(random() * 4)::int AS sentences,
           -- live data: from a few words to a few paragraphs (1–29 sentences, most of them short)
           floor(exp(power(random(), 1.5) * ln(30)))::int AS live_sentences,
           -- log-normal minutes via Box–Muller (PostgreSQL 15 has no random_normal)
           exp(ln(25) + 1.3 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS hang_minutes,
           exp(ln(120) + 1.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS work_minutes,
           exp(ln(180) + 1.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS first_cycle_minutes
    FROM generate_series(1, $1)
),
numbered AS (
    SELECT row_number() OVER (ORDER BY created) AS id, *,
           CASE WHEN status_draw < $7 THEN 'OPEN'
                WHEN status_draw < $7 + $8 THEN 'IN_PROGRESS'
                ELSE 'CLOSED' END AS status,
           reopen_draw < $9 AS reopened
    FROM drawn
),
first_cycle AS (
    SELECT *,
           -- the first helper reply (assignedAt is never moved afterwards)
           CASE WHEN assigned_draw < 0.92 AND (status <> 'OPEN' OR reopened)
                THEN least(created + make_interval(mins => 1) * hang_minutes, $3)
           END AS first_assigned_at
    FROM numbered
),
told AS (
    SELECT *,
           -- a reopened ticket was closed once; its current cycle starts when it was reopened
           CASE WHEN reopened
                THEN least(coalesce(first_assigned_at, created) + make_interval(mins => 1) * first_cycle_minutes, $3)
           END AS reopened_at
    FROM first_cycle
),
cycled AS (
    SELECT *,
           coalesce(reopened_at, created) AS cycle_start,
           -- closers are helpers, the busiest far busier than the rest
           1 + floor($2 * closer_draw * closer_draw)::int AS closer_id,
           1 + floor($2 * helper_draw * helper_draw)::int AS other_helper_id,
           $2 + 1 + floor(($5 - $2) * power(author_draw, 1.5))::int AS author_id
    FROM told
),
assigned AS (
    SELECT *,
           CASE WHEN status = 'IN_PROGRESS'
                THEN coalesce(first_assigned_at, least(cycle_start + make_interval(mins => 1) * hang_minutes, $3))
                ELSE first_assigned_at
           END AS assigned_at
    FROM cycled
),
closed AS (
    SELECT *,
           -- when the current cycle's work began (greatest ignores a null assignedAt)
           greatest(assigned_at, cycle_start) AS work_start,
           CASE WHEN status = 'CLOSED'
                THEN least(greatest(assigned_at, cycle_start) + make_interval(mins => 1) * work_minutes, $3)
           END AS closed_at
    FROM assigned
)
SELECT id,
       {title} AS title,
       {description} AS description,
       status::"TicketStatus" AS status,
       -- Slack ts: the creation second and a per-ticket fraction, unique
       floor(extract(epoch FROM created))::bigint || '.' || lpad((id % 1000000)::text, 6, '0') AS "msgTs",
       CASE WHEN ticket_ts_draw >= 0.0005
            THEN floor(extract(epoch FROM created))::bigint + 1 || '.' || lpad((id % 1000000)::text, 6, '0')
       END AS "ticketTs",
       CASE status
           WHEN 'OPEN' THEN least(cycle_start + make_interval(mins => 30) * last_at_draw, $3)
           WHEN 'IN_PROGRESS' THEN work_start + (($3::timestamptz - work_start) * last_at_draw * 0.1)
           ELSE closed_at - ((closed_at - work_start) * last_at_draw * 0.5)
       END AS "lastMsgAt",
       -- A helper's message on a ticket not closed takes it (nephthys/tickets/replies.py): an open
       -- ticket's last message is never a helper's, nor that of a ticket no helper ever answered.
       (CASE
           WHEN status = 'OPEN' THEN CASE WHEN last_by_draw < 0.85 THEN 'AUTHOR' ELSE 'OTHER' END
           WHEN status = 'IN_PROGRESS' THEN CASE WHEN last_by_draw < 0.6 THEN 'HELPER' ELSE 'AUTHOR' END
           WHEN assigned_at IS NULL THEN 'AUTHOR'
           ELSE CASE WHEN last_by_draw < 0.8 THEN 'HELPER' ELSE 'AUTHOR' END
       END)::"UserType" AS "lastMsgBy",
       author_id AS "openedById",
       CASE WHEN reopened THEN CASE WHEN reopener_draw < 0.8 THEN author_id ELSE other_helper_id END END
           AS "reopenedById",
       reopened_at AS "reopenedAt",
       CASE WHEN status = 'CLOSED' THEN closer_id END AS "closedById",
       closed_at AS "closedAt",
       CASE WHEN assigned_at IS NOT NULL
            THEN CASE WHEN status = 'IN_PROGRESS' OR helper_draw < 0.85 THEN closer_id ELSE other_helper_id END
       END AS "assignedToId",
       assigned_at AS "assignedAt",
       CASE WHEN question_draw < 0.2 THEN 1 + floor(question_draw * 5 * $6)::int END AS "questionTagId",
       created AS "createdAt"
FROM closed
ORDER BY id
"""

PLAN_TAGS_SQL = """
CREATE TEMPORARY TABLE planned_tag AS
SELECT id AS "ticketId", tag_id AS "tagId", least("createdAt" + make_interval(mins => 10) * delay, $2) AS "assignedAt"
FROM (
    SELECT id, "createdAt", random() AS share, random() AS delay,
           floor(random() * $1::int)::int AS first_tag, 1 + floor(random() * ($1::int - 1))::int AS step
    FROM planned_ticket ORDER BY id
) AS drawn
CROSS JOIN LATERAL (VALUES (1, 1 + first_tag), (2, 1 + (first_tag + step) % $1::int)) AS pick(nth, tag_id)
WHERE (nth = 1 AND share < 0.45) OR (nth = 2 AND share < 0.10 AND $1::int > 1)
"""

SUBSCRIPTIONS_SQL = """
INSERT INTO user_tag_subscriptions ("userId", "tagId", "subscribedAt")
SELECT DISTINCT ON (helper_id, tag_id) helper_id, tag_id, $3::timestamptz - interval '200 days' * random()
FROM (
    SELECT h AS helper_id, 1 + floor(random() * $2)::int AS tag_id
    FROM generate_series(1, $1) AS h, generate_series(1, 3) AS pick
) AS picks
"""

BOT_MESSAGES_SQL = f"""
INSERT INTO "BotMessage" (ts, "channelId", "ticketId")
SELECT "ticketTs", '{BACKEND_CHANNEL}', id FROM "Ticket" WHERE "ticketTs" IS NOT NULL
UNION ALL
SELECT split_part("msgTs", '.', 1)::bigint + 2 || '.' || split_part("msgTs", '.', 2), '{HELP_CHANNEL}', id
FROM "Ticket"
"""


async def _timed(connection: asyncpg.Connection, label: str, sql: str, *args, log=print) -> None:
    started = time.perf_counter()
    status = await connection.execute(sql, *args)
    rows = status.rsplit(" ", 1)[-1]
    log(f"  {label:<24} {rows:>10} rows  {time.perf_counter() - started:7.1f} s")


TICKET_COLUMNS = [
    "id", "title", "description", "status", "msgTs", "ticketTs", "lastMsgAt", "lastMsgBy",
    "openedById", "reopenedById", "reopenedAt", "closedById", "closedAt",
    "assignedToId", "assignedAt", "questionTagId", "createdAt", "waitingOn", "waitingSince",
    "nudgedAt", "firstResponseMinutes", "resolutionMinutes",
]  # fmt: skip

# Each ticket's timeline, told from its planned columns (c created, a assignedAt, r reopenedAt,
# x closedAt, l lastMsgAt by lb), in the order it happened:
#   OPENED c; a reopened ticket's first cycle: [HELPER_MESSAGE + ASSIGNED a1 (a1 = a, when a <= r)],
#   CLOSED f (halfway to r), REOPENED r; the current cycle: the first helper message h (a, or for a
#   reopened ticket whose helper had answered before, halfway from r to l; never on an open
#   ticket), ASSIGNED with it when it is the first assignment; ~40% of answered tickets an asker
#   message m1 and a helper's answer m2 between h and l; the last message l (AUTHOR -> ASKER_,
#   HELPER -> HELPER_, OTHER -> OTHER_MESSAGE); ~10% a bystander's OTHER_MESSAGE o; a NUDGED n
#   (below); CLOSED x.
# The columns the lifecycle folds from it (nephthys/tickets/timeline.py) follow from that order:
# waiting on nobody once closed; else on the helpers since the (re)opening when no helper spoke
# in this cycle, since l when the asker spoke last, else on the asker since the helper's last
# answer to the asker (m2, else h).
# NUDGED: the asker follow-up (nephthys/tasks/asker_follow_up.py, ASKER_NUDGE_HOURS $2), turned on
# $3 (four days before now), nudged every wait on the asker when it came due, and at its first run
# the backlog of its look-back ($4); so at `now` nothing is due: no wait un-nudged within the
# look-back, no nudge ASKER_CLOSE_DAYS (5) old.
PLAN_STORIES_SQL = """
CREATE TEMPORARY TABLE planned_story AS
WITH drawn AS (
    SELECT p.id, p.status::text AS status, p."msgTs" AS msg_ts, p."createdAt" AS c, p."assignedAt" AS a,
           p."reopenedAt" AS r, p."closedAt" AS x, p."lastMsgAt" AS l, p."lastMsgBy"::text AS lb,
           p."openedById" AS asker, p."assignedToId" AS assignee, p."closedById" AS closer,
           p."reopenedById" AS reopener,
           random() AS middle_draw, random() AS other_draw, random() AS bystander_draw
    FROM planned_ticket p ORDER BY p.id
),
cycles AS (
    SELECT *, coalesce(r, c) AS cs,
           CASE WHEN r IS NOT NULL AND a <= r THEN a END AS a1,
           CASE WHEN status = 'OPEN' OR a IS NULL THEN NULL
                WHEN r IS NULL OR a > r THEN a
                ELSE (r + (l - r) * 0.5)::timestamptz(3) END AS h,
           -- someone neither the asker nor a helper (users after the helpers are askers)
           CASE WHEN $6::int > $5::int + 1 THEN
               $5::int + 1 + (asker - $5::int + floor(bystander_draw * ($6::int - $5::int - 1))::int) % ($6::int - $5::int)
           END AS bystander
    FROM drawn
),
talk AS (
    SELECT *,
           CASE WHEN r IS NOT NULL THEN (coalesce(a1, c) + (r - coalesce(a1, c)) * 0.5)::timestamptz(3) END AS f,
           h IS NOT NULL AND (r IS NULL OR a > r) AS h_assigns,
           CASE WHEN h IS NOT NULL AND l > h AND middle_draw < 0.4 THEN (h + (l - h) * 0.3)::timestamptz(3) END AS m1,
           CASE WHEN h IS NOT NULL AND l > h AND middle_draw < 0.4 THEN (h + (l - h) * 0.6)::timestamptz(3) END AS m2,
           CASE WHEN other_draw < 0.1 AND bystander IS NOT NULL
                THEN (c + (l - c) * (other_draw * 10))::timestamptz(3) END AS o
    FROM cycles
),
waits AS (
    SELECT *,
           CASE WHEN status = 'CLOSED' THEN NULL
                WHEN h IS NULL OR lb = 'AUTHOR' THEN 'HELPERS' ELSE 'ASKER' END AS waiting_on,
           CASE WHEN status = 'CLOSED' THEN NULL
                WHEN h IS NULL THEN cs WHEN lb = 'AUTHOR' THEN l ELSE coalesce(m2, h) END AS waiting_since
    FROM talk
)
SELECT *,
       CASE WHEN waiting_on = 'ASKER' AND waiting_since + $2::interval <= $1::timestamptz
                 AND waiting_since + $2::interval >= $3::timestamptz - $4::interval
            THEN greatest(waiting_since + $2::interval, $3::timestamptz) END AS n
FROM waits
"""

# The events of each story (see above), one row each; ``seq`` orders those at the same instant.
# A message carries a Slack ts of its second (ASSIGNED shares its reply's); buttons carry none.
_STORY_EVENTS = """
    SELECT s.id AS "ticketId", e.kind::"TicketEventKind" AS kind, e.at, e.actor AS "actorId",
           CASE WHEN e.kind = 'OPENED' THEN s.msg_ts
                WHEN e.ts_seq IS NOT NULL
                THEN floor(extract(epoch FROM e.at))::bigint || '.' || lpad(((s.id % 10000) * 100 + e.ts_seq)::text, 6, '0')
           END AS "msgTs", e.seq
    FROM planned_story s
    CROSS JOIN LATERAL (VALUES
        (1, 'OPENED', s.c, s.asker, NULL::int),
        (2, 'HELPER_MESSAGE', s.a1, s.assignee, 2),
        (3, 'ASSIGNED', s.a1, s.assignee, 2),
        (4, 'CLOSED', s.f, coalesce(s.assignee, 1), NULL),
        (5, 'REOPENED', s.r, s.reopener, NULL),
        (6, 'HELPER_MESSAGE', s.h, s.assignee, 6),
        (7, 'ASSIGNED', CASE WHEN s.h_assigns THEN s.h END, s.assignee, 6),
        (8, 'ASKER_MESSAGE', s.m1, s.asker, 8),
        (9, 'HELPER_MESSAGE', s.m2, s.assignee, 9),
        (10, CASE s.lb WHEN 'AUTHOR' THEN 'ASKER_MESSAGE' WHEN 'HELPER' THEN 'HELPER_MESSAGE' ELSE 'OTHER_MESSAGE' END,
             -- the last message is the question itself, or the helper's answer already told
             CASE WHEN NOT (s.lb = 'AUTHOR' AND s.l = s.c) AND NOT (s.lb = 'HELPER' AND s.l = coalesce(s.m2, s.h))
                  THEN s.l END,
             CASE s.lb WHEN 'AUTHOR' THEN s.asker WHEN 'HELPER' THEN s.assignee ELSE coalesce(s.bystander, s.asker) END,
             10),
        (11, 'OTHER_MESSAGE', s.o, s.bystander, 11),
        (12, 'NUDGED', s.n, NULL, 12),
        (13, 'CLOSED', s.x, s.closer, NULL)
    ) AS e(seq, kind, at, actor, ts_seq)
    WHERE e.at IS NOT NULL
"""
# Live: the log is appended as things happen (its heap in time order); today's data: by ticket.
EVENTS_SQL = {
    True: f"""INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
        SELECT "ticketId", kind, at, "actorId", "msgTs" FROM ({_STORY_EVENTS}) e ORDER BY at, "ticketId", seq""",
    False: f"""INSERT INTO "TicketEvent" ("ticketId", kind, at, "actorId", "msgTs")
        SELECT "ticketId", kind, at, "actorId", "msgTs" FROM ({_STORY_EVENTS}) e ORDER BY "ticketId", at, seq""",
}

# The spans the fold makes of each story, in the fold's order (first response, next responses,
# then resolution parts by time), with the support minutes the lifecycle writes (nephthys/tickets/
# timeline.py's _WRITE: the installed calendar's function; a running span has none).
PLAN_SPANS_SQL = f"""
CREATE TEMPORARY TABLE planned_span AS
SELECT s.id AS "ticketId", p.kind, p.start_at AS "startAt", p.end_at AS "endAt",
       CASE WHEN p.kind = 'RESOLUTION' THEN s.closer ELSE p.actor END AS "actorId",
       s.c AS "ticketCreatedAt",
       CASE WHEN p.end_at IS NOT NULL
            THEN CAST({SUPPORT_SECONDS_FUNCTION}(p.start_at, p.end_at) AS float8) / 60 END AS minutes,
       p.seq
FROM planned_story s
CROSS JOIN LATERAL (VALUES
    (1, 'FIRST_RESPONSE', s.c, coalesce(s.a1, s.h), CASE WHEN coalesce(s.a1, s.h) IS NOT NULL THEN s.assignee END,
        true),
    -- reopened after a helper's answer: waiting on the helpers again until the next one
    (2, 'NEXT_RESPONSE', s.r, s.h, CASE WHEN s.h IS NOT NULL THEN s.assignee END, s.a1 IS NOT NULL),
    (3, 'NEXT_RESPONSE', s.m1, s.m2, s.assignee, s.m1 IS NOT NULL),
    -- the asker spoke last after an answer: running, or dropped by the closure
    (4, 'NEXT_RESPONSE', s.l, NULL, NULL, s.h IS NOT NULL AND s.lb = 'AUTHOR' AND s.status <> 'CLOSED'),
    (5, 'RESOLUTION', s.c, coalesce(s.a1, s.f), NULL, s.r IS NOT NULL),
    (6, 'RESOLUTION', s.cs, coalesce(s.h, s.x), NULL, true),
    (7, 'RESOLUTION', s.m1, s.m2, NULL, s.m1 IS NOT NULL),
    (8, 'RESOLUTION', s.l, s.x, NULL, s.h IS NOT NULL AND s.lb = 'AUTHOR')
) AS p(seq, kind, start_at, end_at, actor, present)
WHERE p.present
"""
# The fold's columns on the plan: the wait, the nudge, and the totals summed as _WRITE sums them
# (first response; resolution once closed, its parts in the fold's order).
PLAN_FOLDED_SQL = """
UPDATE planned_ticket p SET
    "waitingOn" = s.waiting_on::"WaitingOn",
    "waitingSince" = s.waiting_since,
    "nudgedAt" = s.n,
    "firstResponseMinutes" = totals.first_response,
    "resolutionMinutes" = CASE WHEN p.status = 'CLOSED' THEN totals.resolution END
FROM planned_story s
JOIN (SELECT "ticketId",
             sum(minutes ORDER BY seq) FILTER (WHERE kind = 'FIRST_RESPONSE') AS first_response,
             sum(minutes ORDER BY seq) FILTER (WHERE kind = 'RESOLUTION') AS resolution
      FROM planned_span GROUP BY "ticketId") totals ON totals."ticketId" = s.id
WHERE p.id = s.id
"""
SPANS_SQL = """INSERT INTO "TicketSpan" ("ticketId", kind, "startAt", "endAt", "actorId", "ticketCreatedAt", minutes)
    SELECT "ticketId", kind::"TicketSpanKind", "startAt", "endAt", "actorId", "ticketCreatedAt", minutes
    FROM planned_span ORDER BY "ticketId", seq"""
_COLUMNS = ", ".join(f'"{column}"' for column in TICKET_COLUMNS)
# The stored ticket JSON (migration 0011) is written set by set during the load, not row by row.
JSON_TRIGGERS = {
    '"Ticket"': ["ticket_json_insert", "ticket_json_update", "ticket_json_delete"],
    "tags_on_tickets": ["ticket_json_tag_link"],
}

# Live history, one window of time after another: what happened in [$1, $2).
LIVE_EVENTS = {
    "created": f"""INSERT INTO "Ticket" ({_COLUMNS})
        SELECT id, title, description, 'OPEN', "msgTs", "ticketTs",
               CASE WHEN status = 'OPEN' AND "reopenedAt" IS NULL THEN "lastMsgAt" ELSE "createdAt" END,
               CASE WHEN status = 'OPEN' AND "reopenedAt" IS NULL THEN "lastMsgBy" ELSE 'AUTHOR' END,
               "openedById", NULL, NULL, NULL, NULL, NULL, NULL, "questionTagId", "createdAt",
               -- the wait is settled at the end, on the tickets not closed (a few percent); the
               -- minutes as the ticket is answered and closed
               NULL, NULL, NULL, NULL, NULL
        FROM planned_ticket WHERE "createdAt" >= $1 AND "createdAt" < $2 ORDER BY id
        RETURNING id""",
    "assigned": """UPDATE "Ticket" t SET status = 'IN_PROGRESS', "assignedToId" = p."assignedToId",
               "assignedAt" = p."assignedAt", "firstResponseMinutes" = p."firstResponseMinutes",
               "lastMsgAt" = CASE WHEN p.status = 'IN_PROGRESS' THEN p."lastMsgAt" ELSE p."assignedAt" END,
               "lastMsgBy" = CASE WHEN p.status = 'IN_PROGRESS' THEN p."lastMsgBy" ELSE 'HELPER' END
        FROM planned_ticket p
        WHERE p.id = t.id AND p."assignedAt" >= $1 AND p."assignedAt" < $2 RETURNING t.id""",
    # A reopened ticket was closed once, then reopened (as the lifecycle does it: closure cleared).
    "closed once": """UPDATE "Ticket" t SET status = 'CLOSED', "closedById" = coalesce(p."assignedToId", 1),
               "closedAt" = p."reopenedAt"
        FROM planned_ticket p
        WHERE p.id = t.id AND p."reopenedAt" >= $1 AND p."reopenedAt" < $2 RETURNING t.id""",
    "reopened": """UPDATE "Ticket" t SET status = 'OPEN', "closedById" = NULL, "closedAt" = NULL,
               "reopenedById" = p."reopenedById", "reopenedAt" = p."reopenedAt"
        FROM planned_ticket p
        WHERE p.id = t.id AND p."reopenedAt" >= $1 AND p."reopenedAt" < $2 RETURNING t.id""",
    "closed": """UPDATE "Ticket" t SET status = 'CLOSED', "closedById" = p."closedById", "closedAt" = p."closedAt",
               "resolutionMinutes" = p."resolutionMinutes",
               "lastMsgAt" = p."lastMsgAt", "lastMsgBy" = p."lastMsgBy"
        FROM planned_ticket p
        WHERE p.id = t.id AND p."closedAt" >= $1 AND p."closedAt" < $2 RETURNING t.id""",
    "tagged": """INSERT INTO tags_on_tickets ("ticketId", "tagId", "assignedAt")
        SELECT "ticketId", "tagId", "assignedAt" FROM planned_tag
        WHERE "assignedAt" >= $1 AND "assignedAt" < $2 ORDER BY "assignedAt"
        RETURNING "ticketId\"""",
}
# Whatever the windows' events left different from the plan (a reopened ticket's last cycle).
SETTLE_SQL = f"""UPDATE "Ticket" t SET ({_COLUMNS}) = (SELECT {", ".join(f'p."{c}"' for c in TICKET_COLUMNS)})
    FROM planned_ticket p
    WHERE p.id = t.id AND ({", ".join(f't."{c}"' for c in TICKET_COLUMNS)})
                          IS DISTINCT FROM ({", ".join(f'p."{c}"' for c in TICKET_COLUMNS)})
    RETURNING t.id"""


class _Autovacuum:
    """Vacuums a table when autovacuum would (PostgreSQL 15's default thresholds): the live steady state."""

    TABLES = ['"Ticket"', '"ActiveTicketJson"', '"ClosedTicketJson"', "tags_on_tickets"]

    def __init__(self) -> None:
        self.live = dict.fromkeys(self.TABLES, 0)
        self.dead = dict.fromkeys(self.TABLES, 0)
        self.inserted = dict.fromkeys(self.TABLES, 0)
        self.runs = 0

    def note(self, table: str, *, inserted: int = 0, updated: int = 0, deleted: int = 0) -> None:
        self.live[table] += inserted - deleted
        self.dead[table] += updated + deleted
        self.inserted[table] += inserted

    async def run_due(self, connection: asyncpg.Connection) -> None:
        for table in self.TABLES:
            # autovacuum_vacuum_threshold 50 + scale 0.2; insert threshold 1000 + scale 0.2
            if self.dead[table] > 50 + 0.2 * self.live[table] or (
                self.inserted[table] > 1000 + 0.2 * self.live[table]
            ):
                await connection.execute(f"VACUUM {table}")
                self.dead[table] = self.inserted[table] = 0
                self.runs += 1


async def _load_live(connection: asyncpg.Connection, shape: Shape, now: datetime, log) -> None:
    """Tickets arrive in creation order and change as they are assigned, reopened and closed, window
    by window, each window its own transaction, with vacuums where autovacuum would run them."""
    started = time.perf_counter()
    first = await connection.fetchval('SELECT min("createdAt") FROM planned_ticket')
    vacuum = _Autovacuum()
    counts: dict[str, int] = dict.fromkeys(LIVE_EVENTS, 0)
    window = timedelta(hours=LIVE_WINDOW_HOURS)
    low = first if first is not None else now
    while low <= now:
        high = low + window
        async with connection.transaction():
            touched: set[int] = set()
            for event, sql in LIVE_EVENTS.items():
                ids = [row[0] for row in await connection.fetch(sql, low, high)]
                counts[event] += len(ids)
                touched.update(ids)
                if event == "created":
                    vacuum.note('"Ticket"', inserted=len(ids))
                elif event == "tagged":
                    vacuum.note("tags_on_tickets", inserted=len(ids))
                else:
                    vacuum.note('"Ticket"', updated=len(ids))
            await _refresh_json(connection, touched, vacuum)
        await vacuum.run_due(connection)
        low = high
    async with connection.transaction():
        settled = [row[0] for row in await connection.fetch(SETTLE_SQL)]
        vacuum.note('"Ticket"', updated=len(settled))
        await _refresh_json(connection, set(settled), vacuum)
    await vacuum.run_due(connection)
    summary = ", ".join(f"{count:,} {event}" for event, count in counts.items())
    log(
        f"  {'live history':<24} {summary}, {len(settled):,} settled, {vacuum.runs} vacuums"
        f"  {time.perf_counter() - started:7.1f} s"
    )


async def _refresh_json(connection: asyncpg.Connection, ids: set[int], vacuum: _Autovacuum) -> None:
    """What the triggers would have written for these tickets, in one statement."""
    if not ids:
        return
    before = await connection.fetchrow(JSON_COUNTS_SQL, list(ids))
    await connection.execute('SELECT "ticket_json_refresh"($1::integer[])', sorted(ids))
    after = await connection.fetchrow(JSON_COUNTS_SQL, list(ids))
    for table, was, now_in in (
        ('"ActiveTicketJson"', before[0], after[0]),
        ('"ClosedTicketJson"', before[1], after[1]),
    ):
        # rows kept were updated; rows new were inserted; rows gone were deleted
        kept = min(was, now_in)
        vacuum.note(table, inserted=max(now_in - was, 0), updated=kept, deleted=max(was - now_in, 0))


JSON_COUNTS_SQL = """SELECT (SELECT count(*) FROM "ActiveTicketJson" WHERE "ticketId" = ANY($1::integer[])),
                            (SELECT count(*) FROM "ClosedTicketJson" WHERE "ticketId" = ANY($1::integer[]))"""
# Events are applied a few hours of history at a time.
LIVE_WINDOW_HOURS = 24


async def _set_json_triggers(connection: asyncpg.Connection, enabled: bool) -> None:
    for table, triggers in JSON_TRIGGERS.items():
        for trigger in triggers:
            await connection.execute(
                f'ALTER TABLE {table} {"ENABLE" if enabled else "DISABLE"} TRIGGER "{trigger}"'
            )


async def _append(connection: asyncpg.Connection, table: str, sql: str, *, log) -> None:
    """Fill a log table in one statement, its secondary indexes built afterwards and its foreign keys
    unchecked (every id comes from the plan; the tests check them): per row, the checks and the
    index entries in random order took 10 s for 110,000 events, an index built once takes a
    fraction. The migrations' own index definitions are built again as they were."""
    indexes = await connection.fetch(
        """SELECT c.relname AS name, pg_get_indexdef(x.indexrelid) AS definition
           FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
           WHERE x.indrelid = $1::regclass AND NOT x.indisprimary""",
        table,
    )
    for index in indexes:
        await connection.execute(f'DROP INDEX "{index["name"]}"')
    await connection.execute(f"ALTER TABLE {table} DISABLE TRIGGER ALL")
    await _timed(connection, table.strip('"'), sql, log=log)
    await connection.execute(f"ALTER TABLE {table} ENABLE TRIGGER ALL")
    started = time.perf_counter()
    for index in indexes:
        await connection.execute(index["definition"])
    log(f"  {'  its indexes':<24} {len(indexes):>10}       {time.perf_counter() - started:7.1f} s")


async def _count_response_times(connection: asyncpg.Connection, *, log) -> None:
    """The response-time counts (migration 0027) as their triggers would have kept them: the spans were
    appended with the triggers off, so without this the counts hold the resolutions alone."""
    if await connection.fetchval(
        "SELECT count(*) FROM pg_proc WHERE proname = 'response_time_counts_rebuild'"
    ):
        await _timed(connection, "response-time counts", 'SELECT "response_time_counts_rebuild"()', log=log)


async def fill_search_rows(url: str, *, log=print) -> None:
    """Every ticket's search row (nephthys/memory/reindex.py), as a live database has them.

    The tickets are loaded without them, and a service started on a database that lacks them fills
    them in the background (its ``memory-reindex`` job, every minute until none is missing): every
    figure measured meanwhile carries that job's CPU and the database's (8 Dec 2026: 100–200 ms of
    service CPU in single requests of bench/figures.py). When none is missing it only looks: 3.4 s
    at 1,000,000 tickets.
    """
    engine = create_engine(url, pool_size=2)
    started = time.perf_counter()
    try:
        done = await reindex.reindex_missing(async_sessionmaker(engine, expire_on_commit=False))
    finally:
        await engine.dispose()
    if done.filled:
        log(f"  {'search rows':<24} {done.filled:>10} rows  {time.perf_counter() - started:7.1f} s")


async def bring_reused_up_to_date(url: str, *, log=print) -> tuple[str | None, str]:
    """A reused database as a bench measures it: the migrations added since it was made, then every
    ticket's search row (``fill_search_rows``). The revisions before and after."""
    before, after = await migrate.upgrade(url)
    await fill_search_rows(url, log=log)
    return before, after


async def _install_calendar(connection: asyncpg.Connection, calendar: SupportCalendar) -> None:
    """Make ``calendar`` the database's, as a service starting with it would (nothing to recount yet)."""
    await connection.execute(calendar.function_definition())
    await connection.execute('UPDATE "SupportCalendarInUse" SET key = $1 WHERE id = 1', calendar.key)


async def fill(
    url: str, shape: Shape, *, now: datetime, log=print, calendar: SupportCalendar = DEFAULT_CALENDAR
) -> None:
    """Insert the data into the migrated database at ``url``.

    Today's data (``shape.live`` false): every row inserted in its final state in
    one transaction, then VACUUM ANALYZE. Live data: the same tickets, written as
    their history happened (see ``_load_live``), then ANALYZE.
    """
    # Sorts of a few million rows in memory, indexes built in one pass.
    connection = await asyncpg.connect(
        _dsn(url),
        server_settings={"timezone": "UTC", "work_mem": "256MB", "maintenance_work_mem": "512MB"},
    )
    try:
        await _set_json_triggers(connection, enabled=False)
        async with connection.transaction():
            await connection.execute("SELECT setseed($1)", shape.seed)
            await _timed(connection, "User", USERS_SQL, shape.users, shape.helpers, now, shape.days, log=log)
            await _timed(
                connection,
                "Tag",
                f"""INSERT INTO "Tag" (id, name, "createdAt")
                    SELECT i, coalesce(({_text_array(TEAM_TAG_NAMES)})[i], 'team-' || i),
                           $2::timestamptz - interval '400 days'
                    FROM generate_series(1, $1) AS i""",
                shape.tags,
                now,
                log=log,
            )
            await _timed(
                connection,
                "QuestionTag",
                f"""INSERT INTO "QuestionTag" (id, label, "createdAt")
                    SELECT i, coalesce(({_text_array(QUESTION_LABELS)})[i], 'Recurring question #' || i),
                           $2::timestamptz - interval '400 days'
                    FROM generate_series(1, $1) AS i""",
                shape.question_tags,
                now,
                log=log,
            )
            await _timed(
                connection,
                "user_tag_subscriptions",
                SUBSCRIPTIONS_SQL,
                shape.helpers,
                shape.tags,
                now,
                log=log,
            )
            # The plan has the table's own types (milliseconds, enums), so it compares equal to the rows.
            await connection.execute(
                'CREATE TEMPORARY TABLE planned_ticket (LIKE "Ticket" INCLUDING DEFAULTS)'
            )
            title, description = _text_expressions(shape.live)
            await _timed(
                connection,
                "planned tickets",
                PLAN_SQL.replace("{title}", title).replace("{description}", description),
                shape.tickets,
                shape.helpers,
                now,
                shape.days,
                shape.users,
                shape.question_tags,
                OPEN_SHARE,
                IN_PROGRESS_SHARE,
                REOPENED_SHARE,
                log=log,
            )
            await _install_calendar(connection, calendar)
            await _timed(
                connection,
                "planned timelines",
                PLAN_STORIES_SQL,
                now,
                timedelta(hours=DEFAULTS.asker_nudge_hours),
                now - FOLLOW_UP_ON_FOR,
                NUDGE_LOOK_BACK,
                shape.helpers,
                shape.users,
                log=log,
            )
            await _timed(connection, "planned spans", PLAN_SPANS_SQL, log=log)
            await _timed(connection, "planned folds", PLAN_FOLDED_SQL, log=log)
            await _timed(connection, "planned tags", PLAN_TAGS_SQL, shape.tags, now, log=log)
            for column in ["createdAt", "assignedAt", "reopenedAt", "closedAt"]:
                await connection.execute(f'CREATE INDEX ON planned_ticket ("{column}")')
            await connection.execute("CREATE INDEX ON planned_ticket (id)")
            await connection.execute('CREATE INDEX ON planned_tag ("assignedAt")')
            await connection.execute("ANALYZE planned_ticket")
            await connection.execute("ANALYZE planned_tag")
            if not shape.live:
                await _timed(
                    connection,
                    "Ticket",
                    f'INSERT INTO "Ticket" ({_COLUMNS}) SELECT {_COLUMNS} FROM planned_ticket ORDER BY id',
                    log=log,
                )
                await _timed(
                    connection,
                    "tags_on_tickets",
                    'INSERT INTO tags_on_tickets SELECT * FROM planned_tag ORDER BY "ticketId", "tagId"',
                    log=log,
                )
                await _timed(connection, "stored ticket JSON", 'SELECT "ticket_json_rebuild"()', log=log)
                await _append(connection, '"TicketEvent"', EVENTS_SQL[False], log=log)
                await _append(connection, '"TicketSpan"', SPANS_SQL, log=log)
                await _count_response_times(connection, log=log)
        if shape.live:
            await _load_live(connection, shape, now, log)
            async with connection.transaction():
                await _append(connection, '"TicketEvent"', EVENTS_SQL[True], log=log)
                await _append(connection, '"TicketSpan"', SPANS_SQL, log=log)
                await _count_response_times(connection, log=log)
            # Appended tables are vacuumed by autovacuum's insert threshold (the visibility map set).
            for table in ['"TicketEvent"', '"TicketSpan"']:
                await connection.execute(f"VACUUM {table}")
        async with connection.transaction():
            if shape.bot_messages:
                await _timed(connection, "BotMessage", BOT_MESSAGES_SQL, log=log)
            # Explicit ids were inserted: move each serial past them.
            for table in ["User", "Ticket", "Tag", "QuestionTag", "BotMessage"]:
                await connection.execute(
                    f"""SELECT setval(pg_get_serial_sequence('"{table}"', 'id'),
                                      coalesce((SELECT max(id) FROM "{table}"), 0) + 1, false)"""
                )
        await _set_json_triggers(connection, enabled=True)
        started = time.perf_counter()
        # Live: autovacuum's steady state (vacuumed as it went), with statistics; today's: all vacuumed.
        await connection.execute("ANALYZE" if shape.live else "VACUUM ANALYZE")
        label = "ANALYZE" if shape.live else "VACUUM ANALYZE"
        log(f"  {label:<24} {'':>10}       {time.perf_counter() - started:7.1f} s")
    finally:
        await connection.close()


async def generate(
    shape: Shape,
    *,
    server_url: str = DEFAULT_SERVER_URL,
    database: str = DEFAULT_DATABASE,
    now: datetime | None = None,
    log=print,
) -> str:
    """Create, migrate and fill the database; returns its URL."""
    shape.check()
    now = now or datetime.now(UTC)
    # Columns keep milliseconds; an instant capped at a finer `now` could round past it.
    now = now.replace(microsecond=now.microsecond // 1000 * 1000)
    started = time.perf_counter()
    url = await recreate_database(server_url, database)
    await migrate.upgrade(url)
    log(f"  {'create + migrate':<24} {'':>10}       {time.perf_counter() - started:7.1f} s")
    await fill(url, shape, now=now, log=log)
    await fill_search_rows(url, log=log)
    log(f"generated {shape.tickets:,} tickets in {time.perf_counter() - started:.1f} s into {database}")
    return url


def build_parser() -> argparse.ArgumentParser:
    defaults = Shape()
    parser = argparse.ArgumentParser(description="Fill a fresh database with realistic Nephthys data.")
    parser.add_argument("--tickets", type=int, default=defaults.tickets)
    parser.add_argument("--users", type=int, default=defaults.users)
    parser.add_argument("--helpers", type=int, default=defaults.helpers)
    parser.add_argument("--tags", type=int, default=defaults.tags, help="team tags")
    parser.add_argument("--question-tags", type=int, default=defaults.question_tags)
    parser.add_argument("--days", type=int, default=defaults.days, help="tickets spread over this many days")
    parser.add_argument("--bot-messages", action="store_true", help="also two BotMessage rows per ticket")
    parser.add_argument("--seed", type=float, default=defaults.seed, help="PostgreSQL setseed, -1..1")
    parser.add_argument(
        "--compact",
        action="store_true",
        help="today's data: rows in their final state, short English texts, VACUUM ANALYZE (default: live)",
    )
    parser.add_argument("--server-url", default=DEFAULT_SERVER_URL, help="any database on the server")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="dropped and created again")
    return parser


def shape_from_args(args: argparse.Namespace) -> Shape:
    return Shape(
        tickets=args.tickets,
        users=args.users,
        helpers=args.helpers,
        tags=args.tags,
        question_tags=args.question_tags,
        days=args.days,
        bot_messages=args.bot_messages,
        seed=args.seed,
        live=not args.compact,
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        shape = shape_from_args(args)
        asyncio.run(generate(shape, server_url=args.server_url, database=args.database))
    except ValueError as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
